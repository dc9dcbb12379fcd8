// fragment_test.cpp — the egress MTU: DF packets that do not fit get "fragmentation needed"
// with the next-hop MTU (RFC 1191); others are split (RFC 791, RFC 1812 4.2.2.7) into
// fragments that are checked byte for byte against a model written here, and reassembled.
#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

constexpr const char* kSrc = "10.1.0.2";
constexpr const char* kDst = "10.2.0.2";

Frame udp(size_t total, size_t options_len = 0) {
  Frame f = Frame().eth(kH0, kRouterMac[0]).ip4(kSrc, kDst).id(0x7a7a).tos(0x20).udp(5001, 5002);
  return f.payload(total - 20 - options_len - 8);
}

// The model: how RFC 791 cuts `payload` (the IP payload, UDP header included) for `mtu`.
struct FragModel {
  Bytes payload = {};
  Bytes first_options = {}, later_options = {};
  unsigned mtu = 1500;
  unsigned base_offset = 0;  // the input's own fragment offset, in bytes
  bool more_after = false;   // the input's MF
  uint8_t ttl_out = 63;
};

std::vector<Frame> model_fragments(const FragModel& m) {
  std::vector<Frame> out;
  for (size_t off = 0; off < m.payload.size();) {
    const Bytes& opts = off == 0 ? m.first_options : m.later_options;
    size_t chunk = (m.mtu - 20 - opts.size()) / 8 * 8;
    const bool last = off + chunk >= m.payload.size();
    if (last) chunk = m.payload.size() - off;
    Frame f = Frame()
                  .eth(kRouterMac[1], kH1)
                  .ip4(kSrc, kDst)
                  .id(0x7a7a)
                  .tos(0x20)
                  .ttl(m.ttl_out)
                  .protocol(17)
                  .offset(static_cast<unsigned>(m.base_offset + off))
                  .mf(!last || m.more_after)
                  .payload(Bytes(m.payload.begin() + static_cast<ptrdiff_t>(off),
                                 m.payload.begin() + static_cast<ptrdiff_t>(off + chunk)));
    if (!opts.empty()) f.options(opts);
    out.push_back(f);
    off += chunk;
  }
  return out;
}

// Puts the received fragments' payloads back together by their offsets (relative to the
// first one's, as the input may itself be a fragment).
Bytes reassemble(const std::vector<Bytes>& frames) {
  Bytes whole;
  auto offset_of = [](const Bytes& f) { return ((f[20] & 0x1f) << 8 | f[21]) * 8u; };
  size_t base = SIZE_MAX;
  for (const Bytes& f : frames) base = std::min<size_t>(base, offset_of(f));
  for (const Bytes& f : frames) {
    const size_t hlen = (f[14] & 0xf) * 4u;
    const size_t total = f[16] << 8 | f[17];
    const size_t off = offset_of(f) - base;
    if (whole.size() < off + total - hlen) whole.resize(off + total - hlen);
    std::copy(f.begin() + 14 + static_cast<ptrdiff_t>(hlen),
              f.begin() + 14 + static_cast<ptrdiff_t>(total),
              whole.begin() + static_cast<ptrdiff_t>(off));
  }
  return whole;
}

class FragmentTest : public PacketTest {
 protected:
  // Sends `in` to p1 at `mtu`, expects the model's fragments (and only them) on p1.
  void expect_fragments(const Frame& in, FragModel m, size_t expected_count) {
    r().set_mtu(kP1, static_cast<uint16_t>(m.mtu));
    m.payload = in.l4_payload();
    const std::vector<Frame> want = model_fragments(m);
    EXPECT_EQ(want.size(), expected_count) << "the model disagrees with the test";
    r().send(kP0, in);
    r().run();
    const std::vector<Bytes> got = r().received(kP1);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(SameFrame(want[i].bytes(), got[i])) << "fragment " << i;
      EXPECT_LE(got[i].size() - 14, m.mtu);
      EXPECT_TRUE(checksum_ok(got[i].data() + 14, (got[i][14] & 0xf) * 4u));
    }
    EXPECT_EQ(reassemble(got), m.payload);
    expect_sent({});
    expect_drops({});
    EXPECT_EQ(r().counter("ip4-fragmented-original"), 1u);
  }
};

TEST_F(FragmentTest, DfTooBigGetsFragmentationNeededWithTheMtu) {
  r().set_mtu(kP1, 1000);
  const Frame in = udp(1200).df();
  expect(kP0, in, {{kP0, icmp_error_about(in, kRouterMac[0], kH0, kR0, kSrc, 3, 4, 1000)}});
}

TEST_F(FragmentTest, DfToAGatewayUsesTheEgressPortMtu) {
  r().set_mtu(kP1, 1400);
  r().set_mtu(kP2, 1280);
  const Frame in = udp(1300).df().dst("10.20.30.9");  // via g2 on p2
  expect(kP0, in, {{kP0, icmp_error_about(in, kRouterMac[0], kH0, kR0, kSrc, 3, 4, 1280)}});
}

TEST_F(FragmentTest, DfExactlyTheMtuIsForwarded) {
  r().set_mtu(kP1, 1000);
  const Frame in = udp(1000).df();
  expect(kP0, in, {{kP1, forwarded(in, kRouterMac[1], kH1)}});
}

TEST_F(FragmentTest, ExactlyTheMtuIsNotFragmented) {
  r().set_mtu(kP1, 1000);
  const Frame in = udp(1000);
  expect(kP0, in, {{kP1, forwarded(in, kRouterMac[1], kH1)}});
  EXPECT_EQ(r().counter("ip4-fragmented-original"), 0u);
}

TEST_F(FragmentTest, OneByteOverTheMtu) {
  expect_fragments(udp(1001), {.mtu = 1000}, 2);
}

TEST_F(FragmentTest, TwoFragments) {
  expect_fragments(udp(1200), {.mtu = 1000}, 2);
}

TEST_F(FragmentTest, ThreeFragmentsAt576) {
  expect_fragments(udp(1500), {.mtu = 576}, 3);
}

TEST_F(FragmentTest, OddMtuRoundsTheChunkDownToEightBytes) {
  expect_fragments(udp(1500), {.mtu = 1006}, 2);
}

TEST_F(FragmentTest, LargerThanThePortMtuOnTheWayIn) {
  expect_fragments(udp(2000), {.mtu = 1500}, 2);
}

TEST_F(FragmentTest, FragmentOfAFirstFragmentKeepsMf) {
  expect_fragments(udp(1200).mf(), {.mtu = 1000, .more_after = true}, 2);
}

TEST_F(FragmentTest, FragmentOfAMiddleFragmentAddsItsOffset) {
  expect_fragments(udp(1200).offset(800).mf(),
                   {.mtu = 1000, .base_offset = 800, .more_after = true}, 2);
}

TEST_F(FragmentTest, FragmentOfALastFragmentEndsWithoutMf) {
  expect_fragments(udp(1200).offset(2960), {.mtu = 600, .base_offset = 2960}, 3);
}

TEST_F(FragmentTest, TtlTwoLeavesAsOne) {
  expect_fragments(udp(1200).ttl(2), {.mtu = 1000, .ttl_out = 1}, 2);
}

TEST_F(FragmentTest, OnlyCopiedOptionsAreRepeated) {
  // NOP (not copied), router alert (copied), record route (not copied): 12 bytes in the first
  // fragment, only router alert in the others.
  const Bytes opts = {0x01, 0x94, 0x04, 0x00, 0x00, 0x07, 0x07, 0x04, 0, 0, 0, 0};
  FragModel m{.first_options = opts, .later_options = {0x94, 0x04, 0x00, 0x00}, .mtu = 1000};
  expect_fragments(udp(1200, 12).options(opts), m, 2);
}

TEST_F(FragmentTest, SixtyFourFragmentsAreTheMost) {
  // Ten router alerts (40 bytes, copied) and MTU 68 leave 8 bytes of payload per fragment.
  Bytes opts;
  for (int i = 0; i < 10; ++i) opts.insert(opts.end(), {0x94, 0x04, 0x00, 0x00});
  FragModel m{.first_options = opts, .later_options = opts, .mtu = 68};
  expect_fragments(udp(60 + 64 * 8, 40).options(opts), m, 64);
}

TEST_F(FragmentTest, SixtyFiveFragmentsAreRefused) {
  Bytes opts;
  for (int i = 0; i < 10; ++i) opts.insert(opts.end(), {0x94, 0x04, 0x00, 0x00});
  r().set_mtu(kP1, 68);
  expect(kP0, udp(60 + 64 * 8 + 1, 40).options(opts), {}, {{"drop-ip4-fragment-failed", 1}});
}

TEST_F(FragmentTest, TtlOneTooBigIsTimeExceededFirst) {
  r().set_mtu(kP1, 1000);
  const Frame in = udp(1200).ttl(1).df();
  expect(kP0, in, {{kP0, icmp_error_about(in, kRouterMac[0], kH0, kR0, kSrc, 11, 0)}});
}

TEST_F(FragmentTest, MtuBelow68CannotFragment) {
  r().set_mtu(kP1, 60);
  expect(kP0, udp(200), {}, {{"drop-ip4-fragment-failed", 1}});
}

TEST_F(FragmentTest, NoMbufForTheSecondFragment) {
  r().set_mtu(kP1, 1000);
  r().send(kP0, udp(1200));
  // Take every free mbuf but one: the first fragment gets it, the second finds none.
  std::vector<rte_mbuf*> taken;
  while (rte_mbuf* m = rte_pktmbuf_alloc(r().pool())) taken.push_back(m);
  ASSERT_FALSE(taken.empty());
  rte_pktmbuf_free(taken.back());
  taken.pop_back();
  r().run();
  for (rte_mbuf* m : taken) rte_pktmbuf_free(m);
  expect_sent({});
  expect_drops({{"drop-ip4-fragment-no-mbuf", 1}});
}

TEST_F(FragmentTest, NoMbufAtAll) {
  r().set_mtu(kP1, 1000);
  r().send(kP0, udp(1200));
  std::vector<rte_mbuf*> taken;
  while (rte_mbuf* m = rte_pktmbuf_alloc(r().pool())) taken.push_back(m);
  r().run();
  for (rte_mbuf* m : taken) rte_pktmbuf_free(m);
  expect_sent({});
  expect_drops({{"drop-ip4-fragment-no-mbuf", 1}});
}

TEST_F(FragmentTest, ForwardedCountsTheOriginalOnce) {
  r().set_mtu(kP1, 576);
  r().send(kP0, udp(1500));
  r().run();
  EXPECT_EQ(r().received(kP1).size(), 3u);
  EXPECT_EQ(r().dp().forwarded(), 1u);
}

}  // namespace
}  // namespace sluice::pkt
