// fuzz_regression_test.cpp — the packet-graph fuzz target's findings (tests/fuzz/), each as a
// packet case: the frame that exposed the bug, held as the fuzzer held it, the counter it must
// raise, and every mbuf back in the pool. Frames go in through Router::send_exact (a heap buffer
// as long as the frame), so that under AddressSanitizer a read past the frame's end fails the
// case; in a pool mbuf such a read goes unseen.
#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

class FuzzRegression : public PacketTest {};

// arp-input read the opcode before checking that the ARP header was all there (fixed in
// dataplane/arp_input.cpp): a frame of an Ethernet header and 1-7 bytes of ARP.
TEST_F(FuzzRegression, ArpCutBeforeItsOpcodeIsMalformed) {
  const Frame arp = Frame().eth(kH0, kBroadcast).arp_request(kH0, "10.1.0.2", "10.1.0.1");
  for (size_t cut = 1; cut <= 7; ++cut) {
    r().send_exact(kP0, Frame(arp).truncate(14 + cut).bytes());
    r().run();
    expect_sent({});
    expect_drops({{"drop-arp-malformed", 1}});
  }
  // The fuzzer's frame (tests/fuzz/regressions/packet-graph/arp-cut-before-opcode): a group
  // destination, and one byte of ARP.
  r().send_exact(kP2, Bytes{0xff, 0xff, 0xff, 0xfd, 0xff, 0xff, 0x02, 0xaa, 0x00, 0x40, 0x00, 0x0a,
                            0x08, 0x06, 0x01});
  r().run();
  expect_sent({});
  expect_drops({{"drop-arp-malformed", 1}});
}

}  // namespace
}  // namespace sluice::pkt
