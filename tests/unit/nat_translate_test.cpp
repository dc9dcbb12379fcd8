// nat_translate_test.cpp — nat::rewrite and rewrite_icmp_error_quote on packets built byte by
// byte. Every checksum the incremental rewrite leaves is compared with one computed from
// scratch over the rewritten bytes (an independent full sum, not RFC 1624), over random
// packets from a fixed seed (1624) and each protocol's special cases.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "nat/translate.h"

namespace sluice::nat {
namespace {

using Bytes = std::vector<uint8_t>;

uint16_t sum_words(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += uint32_t{p[i]} << 8 | p[i + 1];
  if (n % 2) acc += uint32_t{p[n - 1]} << 8;
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

// Full checksums (host order), as a receiver computes them.
uint16_t ip_sum(const Bytes& b, size_t off = 0) {
  Bytes h(b.begin() + off, b.begin() + off + 20);
  h[10] = h[11] = 0;
  return static_cast<uint16_t>(~sum_words(h.data(), 20));
}
uint16_t l4_sum(const Bytes& b, size_t off, size_t l4len, uint8_t proto, size_t sum_at) {
  Bytes l4(b.begin() + off + 20, b.begin() + off + 20 + l4len);
  l4[sum_at] = l4[sum_at + 1] = 0;
  uint32_t acc = 0;
  if (proto != 1) {  // TCP and UDP: the pseudo-header
    acc += sum_words(b.data() + off + 12, 8);
    acc += proto;
    acc += static_cast<uint32_t>(l4len);
  }
  uint16_t s = static_cast<uint16_t>(~sum_words(l4.data(), l4.size(), acc));
  if (proto == 17 && s == 0) s = 0xffff;
  return s;
}
uint16_t read16(const Bytes& b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}
void write16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

// An IPv4 packet with a 20-byte header, correct checksums.
Bytes packet(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
             size_t payload, std::mt19937& rng, bool udp_zero = false) {
  const size_t l4h = proto == 6 ? 20 : 8;
  Bytes b(20 + l4h + payload);
  for (size_t i = 20 + l4h; i < b.size(); ++i) b[i] = static_cast<uint8_t>(rng());
  b[0] = 0x45;
  write16(b, 2, static_cast<uint16_t>(b.size()));
  write16(b, 4, static_cast<uint16_t>(rng()));
  b[8] = 64;
  b[9] = proto;
  for (int i = 0; i < 4; ++i) {
    b[12 + i] = static_cast<uint8_t>(src >> (24 - 8 * i));
    b[16 + i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
  }
  if (proto == 1) {
    b[20] = 8;  // echo request
    write16(b, 24, sport);
    write16(b, 26, static_cast<uint16_t>(rng()));
    write16(b, 22, l4_sum(b, 0, b.size() - 20, 1, 2));
  } else {
    write16(b, 20, sport);
    write16(b, 22, dport);
    if (proto == 17) {
      write16(b, 24, static_cast<uint16_t>(b.size() - 20));
      write16(b, 26, udp_zero ? 0 : l4_sum(b, 0, b.size() - 20, 17, 6));
    } else {
      for (size_t i = 24; i < 36; ++i) b[i] = static_cast<uint8_t>(rng());
      b[32] = 0x50;
      write16(b, 36, l4_sum(b, 0, b.size() - 20, 6, 16));
    }
  }
  write16(b, 10, ip_sum(b));
  return b;
}

void expect_valid(const Bytes& b, const char* what) {
  EXPECT_EQ(read16(b, 10), ip_sum(b)) << what << ": IP checksum";
  const uint8_t proto = b[9];
  const size_t l4len = b.size() - 20;
  if (proto == 6) {
    EXPECT_EQ(read16(b, 36), l4_sum(b, 0, l4len, 6, 16)) << what << ": TCP";
  }
  if (proto == 17 && read16(b, 26) != 0) {
    EXPECT_EQ(read16(b, 26), l4_sum(b, 0, l4len, 17, 6)) << what << ": UDP";
  }
  if (proto == 1) {
    EXPECT_EQ(read16(b, 22), l4_sum(b, 0, l4len, 1, 2)) << what << ": ICMP";
  }
}

TEST(Translate, SourceAndDestinationOfEachProtocol) {
  std::mt19937 rng(1624);
  for (uint8_t proto : {uint8_t{6}, uint8_t{17}, uint8_t{1}}) {
    for (Side side : {Side::kSource, Side::kDestination}) {
      Bytes b = packet(proto, 0xc0a80f02, 0x08080808, 40000, 53, 33, rng);
      ASSERT_TRUE(rewrite(b.data(), b.size(), side, htonl(0x0a000001), htons(1024)));
      const size_t a = side == Side::kSource ? 12 : 16;
      EXPECT_EQ(read16(b, a) << 16 | read16(b, a + 2), 0x0a000001u);
      const size_t port_at = proto == 1 ? 24 : side == Side::kSource ? 20 : 22;
      EXPECT_EQ(read16(b, port_at), 1024) << "the port (ICMP: the echo identifier)";
      expect_valid(b, proto == 6 ? "tcp" : proto == 17 ? "udp" : "icmp");
    }
  }
}

TEST(Translate, UdpZeroChecksumStaysZero) {
  std::mt19937 rng(1);
  Bytes b = packet(17, 0xc0a80f02, 0x08080808, 5000, 53, 10, rng, /*udp_zero=*/true);
  ASSERT_TRUE(rewrite(b.data(), b.size(), Side::kSource, htonl(0x0a000001), htons(6000)));
  EXPECT_EQ(read16(b, 26), 0);
  expect_valid(b, "udp zero");
}

TEST(Translate, NonFirstFragmentChangesOnlyTheAddress) {
  std::mt19937 rng(2);
  Bytes b = packet(17, 0xc0a80f02, 0x08080808, 5000, 53, 40, rng);
  write16(b, 6, 0x0003);  // offset 24 bytes: the "ports" are payload here
  write16(b, 10, ip_sum(b));
  const Bytes before = b;
  ASSERT_TRUE(rewrite(b.data(), b.size(), Side::kSource, htonl(0x0a000001), htons(6000)));
  EXPECT_EQ(read16(b, 12) << 16 | read16(b, 14), 0x0a000001u);
  EXPECT_TRUE(std::equal(b.begin() + 20, b.end(), before.begin() + 20)) << "payload untouched";
  EXPECT_EQ(read16(b, 10), ip_sum(b));
}

TEST(Translate, TruncatedPacketsAreRefusedUntouched) {
  std::mt19937 rng(3);
  Bytes b = packet(6, 1, 2, 3, 4, 0, rng);
  for (size_t len : {size_t{0}, size_t{19}, size_t{39}}) {
    Bytes c = b;
    EXPECT_FALSE(rewrite(c.data(), len, Side::kSource, 5, 6)) << len;
    EXPECT_EQ(c, b);
  }
}

// RFC 5508: an ICMP error from outside quotes the packet as it left (source = the NAT's
// outside endpoint); the quote's source goes back to the inside endpoint, every checksum right.
TEST(Translate, IcmpErrorQuoteIsTranslatedBack) {
  std::mt19937 rng(5508);
  for (uint8_t proto : {uint8_t{6}, uint8_t{17}, uint8_t{1}}) {
    for (size_t quoted_l4 : {size_t{8}, size_t{0}}) {  // 0: the whole original
      Bytes orig = packet(proto, 0x0a000001, 0x08080808, 1024, 53, 24, rng);
      const size_t keep = quoted_l4 ? 20 + quoted_l4 : orig.size();
      Bytes err(20 + 8 + keep);
      err[0] = 0x45;
      write16(err, 2, static_cast<uint16_t>(err.size()));
      err[8] = 64;
      err[9] = 1;
      write16(err, 12, 0xc633);  // from a router out there
      write16(err, 14, 0x6401);
      write16(err, 16, 0x0a00);  // to the NAT's outside address
      write16(err, 18, 0x0001);
      err[20] = 11;  // time exceeded
      std::copy(orig.begin(), orig.begin() + static_cast<long>(keep), err.begin() + 28);
      write16(err, 22, l4_sum(err, 0, err.size() - 20, 1, 2));
      write16(err, 10, ip_sum(err));
      ASSERT_TRUE(is_icmp_error(err.data(), err.size()));
      ASSERT_TRUE(rewrite_icmp_error_quote(err.data(), err.size(), Side::kSource, htonl(0xc0a80f02),
                                           htons(40000)));
      ASSERT_TRUE(rewrite(err.data(), err.size(), Side::kDestination, htonl(0xc0a80f02), 0));
      EXPECT_EQ(read16(err, 16) << 16 | read16(err, 18), 0xc0a80f02u);
      EXPECT_EQ(read16(err, 28 + 12) << 16 | read16(err, 28 + 14), 0xc0a80f02u);
      EXPECT_EQ(read16(err, proto == 1 ? 28 + 24 : 28 + 20), 40000);
      EXPECT_EQ(read16(err, 10), ip_sum(err)) << "outer IP";
      EXPECT_EQ(read16(err, 22), l4_sum(err, 0, err.size() - 20, 1, 2)) << "outer ICMP";
      EXPECT_EQ(read16(err, 28 + 10), ip_sum(err, 28)) << "quoted IP";
      if (!quoted_l4) {  // the whole original is there: its L4 checksum must verify too
        Bytes inner(err.begin() + 28, err.end());
        expect_valid(inner, "quoted packet");
      }
    }
  }
}

// Random packets, random rewrites, checked against full sums (seed 1624).
TEST(Translate, RandomRewritesKeepEveryChecksumRight) {
  std::mt19937 rng(1624);
  const uint8_t protos[] = {6, 17, 1};
  for (int i = 0; i < 20000; ++i) {
    const uint8_t proto = protos[rng() % 3];
    Bytes b = packet(proto, static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()),
                     static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng()), rng() % 64, rng,
                     proto == 17 && rng() % 4 == 0);
    const Side side = rng() % 2 ? Side::kSource : Side::kDestination;
    ASSERT_TRUE(rewrite(b.data(), b.size(), side, static_cast<uint32_t>(rng()),
                        static_cast<uint16_t>(rng())));
    expect_valid(b, "random");
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace sluice::nat
