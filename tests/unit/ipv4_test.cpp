// ipv4_test.cpp — unit tests of Ipv4Addr and Prefix (lpm/ipv4.h): parsing, printing, byte
// order, canonical prefixes, containment and the order `sluice route show` relies on.
#include "lpm/ipv4.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/test_util.h"

namespace sluice {
namespace {

using test::A;
using test::P;

// Fixed seed so that a failing random case is the same on every run.
constexpr uint64_t kIpv4Seed = 0x1b4a'dd12'0001ull;

TEST(Ipv4Addr, ParsesDottedQuad) {
  auto a = Ipv4Addr::parse("10.1.2.3");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->host(), 0x0a010203u);
  EXPECT_EQ(*a, Ipv4Addr::from_octets(10, 1, 2, 3));
  EXPECT_EQ(Ipv4Addr::parse("0.0.0.0")->host(), 0u);
  EXPECT_EQ(Ipv4Addr::parse("255.255.255.255")->host(), 0xffffffffu);
  EXPECT_EQ(Ipv4Addr::parse("192.168.100.254")->host(), 0xc0a864feu);
  // A single 0 octet is not a "leading zero".
  EXPECT_EQ(Ipv4Addr::parse("10.0.0.1")->host(), 0x0a000001u);
}

TEST(Ipv4Addr, RejectsMalformed) {
  for (const char* s :
       {"1.2.3",      "256.1.1.1", "01.2.3.4",   "1.2.3.4 ",   "",         "1.2.3.4.5",
        " 1.2.3.4",   "1..2.3",    "1.2.3.",     ".1.2.3",     "a.b.c.d",  "1.2.3.256",
        "1.2.3.-4",   "1.2.3.+4",  "1.2.3.0x1",  "1234.1.1.1", "00.1.1.1", "1.2.3.00",
        "1.2.3.4/32", "1.2.3.4\n", "4294967295", "1.2.3.1000"}) {
    EXPECT_FALSE(Ipv4Addr::parse(s).has_value()) << "accepted '" << s << "'";
  }
  // An embedded NUL must not end the string early.
  EXPECT_FALSE(Ipv4Addr::parse(std::string_view("1.2.3.4\0junk", 12)).has_value());
}

TEST(Ipv4Addr, StrFormatsDottedQuad) {
  EXPECT_EQ(Ipv4Addr::from_host(0).str(), "0.0.0.0");
  EXPECT_EQ(Ipv4Addr::from_host(0xffffffffu).str(), "255.255.255.255");
  EXPECT_EQ(Ipv4Addr::from_octets(10, 0, 20, 1).str(), "10.0.20.1");
  EXPECT_EQ(Ipv4Addr::from_octets(1, 2, 3, 4).str(), "1.2.3.4");
}

TEST(Ipv4Addr, StrParseRoundTripRandom) {
  std::mt19937_64 rng(kIpv4Seed);
  for (int i = 0; i < 100000; ++i) {
    const Ipv4Addr a = Ipv4Addr::from_host(uint32_t(rng()));
    const std::string s = a.str();
    auto b = Ipv4Addr::parse(s);
    ASSERT_TRUE(b.has_value()) << s;
    ASSERT_EQ(*b, a) << s;
    ASSERT_EQ(b->str(), s);
  }
}

TEST(Ipv4Addr, ByteOrder) {
  const Ipv4Addr a = Ipv4Addr::from_octets(192, 0, 2, 1);
  EXPECT_EQ(a.host(), 0xc0000201u);
  // be() is what goes on the wire: the same as htonl() of the host value.
  EXPECT_EQ(a.be(), htonl(a.host()));
  EXPECT_EQ(Ipv4Addr::from_be(a.be()), a);
  EXPECT_EQ(Ipv4Addr::from_be(htonl(0x0a000001u)), A("10.0.0.1"));
}

TEST(Ipv4Addr, OrdersNumerically) {
  // Host-order comparison: a byte-wise comparison of the little-endian value would get these
  // wrong.
  EXPECT_LT(A("1.0.0.255"), A("1.0.1.0"));
  EXPECT_LT(A("9.255.255.255"), A("10.0.0.0"));
  EXPECT_LT(A("127.255.255.255"), A("128.0.0.0"));
  EXPECT_GT(A("255.255.255.255"), A("0.0.0.0"));
  EXPECT_EQ(A("10.0.0.1"), Ipv4Addr::from_host(0x0a000001u));
  EXPECT_NE(A("10.0.0.1"), A("1.0.0.10"));
}

TEST(Prefix, ParsesCidr) {
  auto p = Prefix::parse("10.0.0.0/8");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->addr(), A("10.0.0.0"));
  EXPECT_EQ(p->len(), 8u);
  EXPECT_EQ(p->mask(), 0xff000000u);
  EXPECT_EQ(p->str(), "10.0.0.0/8");

  auto host = Prefix::parse("1.2.3.4");
  ASSERT_TRUE(host.has_value());
  EXPECT_EQ(host->addr(), A("1.2.3.4"));
  EXPECT_EQ(host->len(), 32u);
  EXPECT_EQ(host->str(), "1.2.3.4/32");

  auto dflt = Prefix::parse("default");
  ASSERT_TRUE(dflt.has_value());
  EXPECT_EQ(dflt->addr(), A("0.0.0.0"));
  EXPECT_EQ(dflt->len(), 0u);
  EXPECT_EQ(Prefix::parse("0.0.0.0/0"), dflt);

  EXPECT_EQ(Prefix::parse("192.168.1.128/25")->len(), 25u);
  EXPECT_EQ(Prefix::parse("255.255.255.255/32")->addr(), A("255.255.255.255"));
  EXPECT_EQ(Prefix::parse("128.0.0.0/1")->mask(), 0x80000000u);
}

TEST(Prefix, RejectsMalformedAndNonCanonical) {
  for (const char* s : {"10.0.0.1/8",  "/33",         "10.0.0.0/",   "10.0.0.0/33",
                        "10.0.0.0/99", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8",
                        "10.0.0.0/8 ", "10.0.0.0 /8", "10.0.0.0/ 8", "/8",
                        "10.0.0/8",    "256.0.0.0/8", "01.0.0.0/8",  "",
                        "default ",    "0.0.0.1/0",   "10.0.0.0/a",  "1.2.3.5/31",
                        "1.2.3.4 "}) {
    EXPECT_FALSE(Prefix::parse(s).has_value()) << "accepted '" << s << "'";
  }
}

TEST(Prefix, MakeChecksLengthAndHostBits) {
  EXPECT_FALSE(Prefix::make(A("10.0.0.0"), 33).has_value());
  EXPECT_FALSE(Prefix::make(A("0.0.0.0"), 200).has_value());
  EXPECT_FALSE(Prefix::make(A("10.0.0.1"), 8).has_value());
  EXPECT_FALSE(Prefix::make(A("10.0.0.1"), 31).has_value());
  EXPECT_FALSE(Prefix::make(A("0.0.0.1"), 0).has_value());
  EXPECT_FALSE(Prefix::make(A("128.0.0.0"), 0).has_value());
  ASSERT_TRUE(Prefix::make(A("10.0.0.1"), 32).has_value());
  EXPECT_EQ(*Prefix::make(A("10.0.0.1"), 32), P("10.0.0.1/32"));
  ASSERT_TRUE(Prefix::make(A("0.0.0.0"), 0).has_value());
  EXPECT_EQ(*Prefix::make(A("0.0.0.0"), 0), P("default"));
  ASSERT_TRUE(Prefix::make(A("10.128.0.0"), 9).has_value());
  EXPECT_EQ(Prefix::make(A("10.128.0.0"), 9)->str(), "10.128.0.0/9");

  // Every length, for an address with only the top bit of the host part set at each length.
  for (unsigned len = 0; len <= 32; ++len) {
    ASSERT_TRUE(Prefix::make(A("0.0.0.0"), len).has_value()) << len;
    EXPECT_EQ(Prefix::make(A("0.0.0.0"), len)->len(), len);
    if (len < 32) {
      const Ipv4Addr host_bit = Ipv4Addr::from_host(uint32_t(1) << (31 - len));
      EXPECT_FALSE(Prefix::make(host_bit, len).has_value()) << len;
      EXPECT_TRUE(Prefix::make(host_bit, len + 1).has_value()) << len;
    }
  }
}

TEST(Prefix, MaskOf) {
  EXPECT_EQ(Prefix::mask_of(0), 0u);
  EXPECT_EQ(Prefix::mask_of(1), 0x80000000u);
  EXPECT_EQ(Prefix::mask_of(8), 0xff000000u);
  EXPECT_EQ(Prefix::mask_of(18), 0xffffc000u);
  EXPECT_EQ(Prefix::mask_of(31), 0xfffffffeu);
  EXPECT_EQ(Prefix::mask_of(32), 0xffffffffu);
  for (unsigned len = 0; len <= 32; ++len) {
    EXPECT_EQ(unsigned(__builtin_popcount(Prefix::mask_of(len))), len);
  }
}

TEST(Prefix, ContainsFirstLast) {
  const Prefix p = P("10.0.0.0/8");
  EXPECT_EQ(p.first(), A("10.0.0.0"));
  EXPECT_EQ(p.last(), A("10.255.255.255"));
  EXPECT_TRUE(p.contains(A("10.0.0.0")));
  EXPECT_TRUE(p.contains(A("10.255.255.255")));
  EXPECT_TRUE(p.contains(A("10.1.2.3")));
  EXPECT_FALSE(p.contains(A("9.255.255.255")));
  EXPECT_FALSE(p.contains(A("11.0.0.0")));

  const Prefix all = P("default");
  EXPECT_EQ(all.first(), A("0.0.0.0"));
  EXPECT_EQ(all.last(), A("255.255.255.255"));
  EXPECT_TRUE(all.contains(A("0.0.0.0")));
  EXPECT_TRUE(all.contains(A("255.255.255.255")));
  EXPECT_TRUE(all.contains(A("172.16.5.4")));

  const Prefix host = P("192.0.2.7/32");
  EXPECT_EQ(host.first(), host.last());
  EXPECT_TRUE(host.contains(A("192.0.2.7")));
  EXPECT_FALSE(host.contains(A("192.0.2.6")));
  EXPECT_FALSE(host.contains(A("192.0.2.8")));

  const Prefix p31 = P("192.0.2.6/31");
  EXPECT_EQ(p31.last(), A("192.0.2.7"));
  EXPECT_TRUE(p31.contains(A("192.0.2.6")));
  EXPECT_TRUE(p31.contains(A("192.0.2.7")));
  EXPECT_FALSE(p31.contains(A("192.0.2.8")));

  const Prefix top = P("255.255.255.0/24");
  EXPECT_EQ(top.last(), A("255.255.255.255"));
}

TEST(Prefix, ContainsMatchesRangeRandom) {
  // contains(a) must be exactly first() <= a <= last(), for random prefixes and probes near
  // and far from them. Fixed seed.
  std::mt19937_64 rng(kIpv4Seed + 1);
  for (int i = 0; i < 20000; ++i) {
    const unsigned len = unsigned(rng() % 33);
    const Prefix p =
        *Prefix::make(Ipv4Addr::from_host(uint32_t(rng()) & Prefix::mask_of(len)), len);
    ASSERT_EQ(uint64_t(p.last().host()) - p.first().host() + 1, uint64_t(1) << (32 - len));
    ASSERT_EQ(Prefix::parse(p.str()), p) << p.str();
    const Ipv4Addr probes[] = {p.first(),
                               p.last(),
                               test::addr_plus(p.first(), -1),
                               test::addr_plus(p.last(), 1),
                               test::random_in(p, rng),
                               Ipv4Addr::from_host(uint32_t(rng()))};
    for (Ipv4Addr a : probes) {
      ASSERT_EQ(p.contains(a), p.first() <= a && a <= p.last()) << p.str() << " " << a.str();
    }
  }
}

TEST(Prefix, OrderIsAddressThenShorterFirst) {
  const std::vector<Prefix> expected = {
      P("default"),          P("0.0.0.0/8"),          P("0.0.0.0/32"),  P("9.255.255.255/32"),
      P("10.0.0.0/8"),       P("10.0.0.0/16"),        P("10.0.0.0/24"), P("10.0.0.1/32"),
      P("10.0.1.0/24"),      P("10.1.0.0/16"),        P("11.0.0.0/8"),  P("128.0.0.0/1"),
      P("255.255.255.0/24"), P("255.255.255.255/32"),
  };
  ASSERT_TRUE(std::is_sorted(expected.begin(), expected.end()));
  for (size_t i = 0; i + 1 < expected.size(); ++i) {
    EXPECT_LT(expected[i], expected[i + 1]) << expected[i].str() << " vs " << expected[i + 1].str();
    EXPECT_FALSE(expected[i + 1] < expected[i]);
    EXPECT_NE(expected[i], expected[i + 1]);
  }
  // Sorting a shuffled copy must give the order above back. Fixed seed.
  std::vector<Prefix> shuffled = expected;
  std::mt19937_64 rng(kIpv4Seed + 2);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(shuffled.begin(), shuffled.end(), rng);
    std::sort(shuffled.begin(), shuffled.end());
    ASSERT_EQ(shuffled, expected);
  }
  EXPECT_EQ(P("10.0.0.0/8"), P("10.0.0.0/8"));
  EXPECT_NE(P("10.0.0.0/8"), P("10.0.0.0/9"));
}

}  // namespace
}  // namespace sluice
