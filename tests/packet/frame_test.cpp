// frame_test.cpp — the test frames themselves: known checksum vectors and field layout, so a
// failure elsewhere points at the router and not at the builder.
#include "tests/packet/frame.h"

#include <gtest/gtest.h>

#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

TEST(FrameBuilder, ChecksumMatchesRfc1071Example) {
  // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is ~ddf2.
  const Bytes b = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internet_checksum(b), 0x220d);
}

TEST(FrameBuilder, ChecksumOfOddLengthPadsWithZero) {
  EXPECT_EQ(internet_checksum(Bytes{0x12, 0x34, 0x56}), static_cast<uint16_t>(~(0x1234 + 0x5600)));
}

TEST(FrameBuilder, Ipv4HeaderMatchesAKnownHeader) {
  // A header often used as the worked example: 192.168.0.1 -> 192.168.0.199, UDP, TTL 64,
  // DF, total length 0x73, checksum b861.
  const Bytes ip =
      Frame().ip4("192.168.0.1", "192.168.0.199").df().protocol(17).payload(0x73 - 20).ip_packet();
  const Bytes want = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                      0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_TRUE(SameFrame(want, Bytes(ip.begin(), ip.begin() + 20)));
}

TEST(FrameBuilder, LayersAreLaidOutAndChecksummed) {
  const Frame f = Frame()
                      .eth(kH0, kRouterMac[0])
                      .ip4("10.1.0.2", "10.2.0.2")
                      .ttl(9)
                      .id(7)
                      .udp(1024, 9)
                      .payload(11);
  const Bytes b = f.bytes();
  ASSERT_EQ(b.size(), 14u + 20 + 8 + 11);
  EXPECT_EQ(b[12], 0x08);
  EXPECT_EQ(b[13], 0x00);
  EXPECT_EQ(b[14 + 8], 9);  // TTL
  EXPECT_TRUE(checksum_ok(b.data() + 14, 20));
  // UDP: pseudo-header (src, dst, 17, length) plus the datagram verifies.
  const uint32_t pseudo = 0x0a01 + 0x0002 + 0x0a02 + 0x0002 + 17 + (8 + 11);
  EXPECT_TRUE(checksum_ok(b.data() + 34, 8 + 11, pseudo));
  EXPECT_FALSE(checksum_ok(Frame(f).bad_l4_checksum().bytes().data() + 34, 8 + 11, pseudo));
  EXPECT_FALSE(checksum_ok(Frame(f).bad_ip_checksum().bytes().data() + 14, 20));
}

TEST(FrameBuilder, FixersBreakOnlyWhatTheyName) {
  const Frame f = Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2").udp(1, 2).payload(4);
  const Bytes v6 = Frame(f).version(6).bytes();
  EXPECT_EQ(v6[14], 0x65);
  EXPECT_TRUE(checksum_ok(v6.data() + 14, 20));
  const Bytes ihl6 = Frame(f).ihl(6).bytes();
  EXPECT_EQ(ihl6[14], 0x46);
  EXPECT_TRUE(checksum_ok(ihl6.data() + 14, 24));  // the checksum covers what IHL claims
  const Bytes len = Frame(f).total_length(99).bytes();
  EXPECT_EQ(len[16], 0);
  EXPECT_EQ(len[17], 99);
  EXPECT_TRUE(checksum_ok(len.data() + 14, 20));
  EXPECT_EQ(Frame(f).truncate(20).bytes().size(), 20u);
  EXPECT_EQ(Frame(f).pad_to(60).bytes().size(), 60u);
  EXPECT_EQ(Frame(f).pad_to(60).ip_packet().size(), 46u);
}

TEST(FrameBuilder, IcmpErrorQuotesAtMost548Bytes) {
  const Bytes big = Frame().ip4("10.1.0.2", "10.2.0.2").udp(1, 2).payload(1000).ip_packet();
  const Frame e = Frame().ip4("10.1.0.1", "10.1.0.2").icmp_error(11, 0, big);
  const Bytes ip = e.ip_packet();
  EXPECT_EQ(ip.size(), kIcmpErrorMax);
  EXPECT_TRUE(checksum_ok(ip.data() + 20, ip.size() - 20));
  EXPECT_TRUE(std::equal(ip.begin() + 28, ip.end(), big.begin()));
  const Bytes fn = Frame().ip4("10.1.0.1", "10.1.0.2").icmp_error(3, 4, big, 1400).ip_packet();
  EXPECT_EQ(fn[20 + 4], 0);
  EXPECT_EQ(fn[20 + 5], 0);
  EXPECT_EQ(fn[20 + 6], 1400 >> 8);
  EXPECT_EQ(fn[20 + 7], 1400 & 0xff);
}

TEST(FrameBuilder, ArpLayout) {
  const Bytes b = Frame().eth(kH0, kBroadcast).arp_request(kH0, "10.1.0.2", "10.1.0.1").bytes();
  const Bytes want = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x01,
                      0x02, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
                      0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 10,   1,    0,    2,    0,
                      0,    0,    0,    0,    0,    10,   1,    0,    1};
  EXPECT_TRUE(SameFrame(want, b));
}

}  // namespace
}  // namespace sluice::pkt
