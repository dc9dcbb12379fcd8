// ip4_input_test.cpp — ip4-input: RFC 1812 5.2.2 header validation and the martian rules,
// one broken field per row, and the trimming of link-layer padding.
#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

Frame udp(const char* src = "10.1.0.2", const char* dst = "10.2.0.2") {
  return Frame().eth(kH0, kRouterMac[0]).ip4(src, dst).udp(1024, 9).payload(18);
}

Case drop(std::string name, Frame in, const char* node) {
  return {.name = std::move(name), .in = std::move(in), .drops = {{node, 1}}};
}

std::vector<Case> cases() {
  const Frame u = udp();
  const Frame bare = Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2");  // 20 bytes
  const Frame small = Frame(u).payload(2);  // IP total 30: a 44-byte frame, padded to 60
  std::vector<Case> c = {
      drop("19 bytes of header", Frame(u).truncate(14 + 19), "drop-ip4-truncated"),
      drop("IHL beyond the frame", Frame(bare).ihl(6), "drop-ip4-truncated"),
      drop("IHL 15 in a 40 byte packet", Frame(bare).payload(20).ihl(15), "drop-ip4-truncated"),
      drop("version 6", Frame(u).version(6), "drop-ip4-bad-version"),
      drop("version 0", Frame(u).version(0), "drop-ip4-bad-version"),
      drop("IHL 4", Frame(u).ihl(4), "drop-ip4-bad-ihl"),
      drop("IHL 0", Frame(u).ihl(0), "drop-ip4-bad-ihl"),
      drop("bad header checksum", Frame(u).bad_ip_checksum(), "drop-ip4-bad-checksum"),
      drop("zero header checksum", Frame(u).ip_checksum(0), "drop-ip4-bad-checksum"),
      drop("bad checksum beats a martian source", Frame(u).src("127.0.0.1").bad_ip_checksum(),
           "drop-ip4-bad-checksum"),
      drop("total length one beyond the frame", Frame(u).total_length(20 + 8 + 18 + 1),
           "drop-ip4-bad-length"),
      drop("total length 19", Frame(u).total_length(19), "drop-ip4-bad-length"),
      drop("total length 0", Frame(u).total_length(0), "drop-ip4-bad-length"),
      drop("total length shorter than the options",
           Frame(u).options({0x94, 0x04, 0x00, 0x00}).total_length(20), "drop-ip4-bad-length"),
      {.name = "ethernet padding is trimmed",
       .in = Frame(small).pad_to(60),
       .out = {{kP1, forwarded(small, kRouterMac[1], kH1)}}},
      {.name = "trailing bytes past the total length are trimmed",
       .in = Frame(small).pad_to(70).poke(60, 0xaa).poke(69, 0x55),
       .out = {{kP1, forwarded(small, kRouterMac[1], kH1)}}},
      {.name = "class E source is forwarded as Linux does",
       .in = udp("240.0.0.1"),
       .out = {{kP1, forwarded(udp("240.0.0.1"), kRouterMac[1], kH1)}}},
      drop("limited broadcast destination", udp("10.1.0.2", "255.255.255.255"),
           "drop-ip4-limited-broadcast"),
      drop("multicast destination 224.0.0.5", udp("10.1.0.2", "224.0.0.5"), "drop-ip4-multicast"),
      drop("multicast destination 239.1.2.3", udp("10.1.0.2", "239.1.2.3"), "drop-ip4-multicast"),
  };
  for (const char* src : {"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254", "224.0.0.1",
                          "239.255.255.255", "255.255.255.255"})
    c.push_back(drop(std::string("martian source ") + src, udp(src), "drop-ip4-martian-source"));
  for (const char* dst : {"0.0.0.0", "0.9.9.9", "127.0.0.1"})
    c.push_back(drop(std::string("martian destination ") + dst, udp("10.1.0.2", dst),
                     "drop-ip4-martian-destination"));
  return c;
}

INSTANTIATE_TEST_SUITE_P(Ip4Input, CaseTest, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace sluice::pkt
