// nat_port_allocator_test.cpp — nat::PortAllocator against a std::set reference, plus the
// RFC 4787-driven rules it exists for: the inside port kept when free, a live mapping's port
// never handed out twice, exhaustion reported, shares disjoint and covering the range.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <stdexcept>

#include "nat/port_allocator.h"

namespace sluice::nat {
namespace {

TEST(PortAllocator, KeepsTheWantedPortWhenFree) {
  PortAllocator a({});
  EXPECT_EQ(a.allocate(40000), 40000);
  EXPECT_TRUE(a.in_use(40000));
  // Taken: another one, never 40000 again while it lives.
  const auto other = a.allocate(40000);
  ASSERT_TRUE(other);
  EXPECT_NE(*other, 40000);
  a.release(40000);
  EXPECT_EQ(a.allocate(40000), 40000);
}

TEST(PortAllocator, WantedOutsideTheRangeGetsOneInside) {
  PortAllocator a({.first = 20000, .last = 20009});
  const auto p = a.allocate(80);
  ASSERT_TRUE(p);
  EXPECT_GE(*p, 20000);
  EXPECT_LE(*p, 20009);
}

TEST(PortAllocator, ExhaustionIsReportedAndReleaseRecovers) {
  PortAllocator a({.first = 5000, .last = 5099});
  std::set<uint16_t> got;
  for (int i = 0; i < 100; ++i) {
    const auto p = a.allocate(5000);
    ASSERT_TRUE(p) << "at " << i;
    EXPECT_TRUE(got.insert(*p).second) << "port " << *p << " handed out twice";
  }
  EXPECT_EQ(a.used(), 100u);
  EXPECT_FALSE(a.allocate(5000));
  EXPECT_FALSE(a.allocate(7000));
  a.release(5042);
  EXPECT_EQ(a.allocate(1), 5042);
  EXPECT_FALSE(a.allocate(1));
}

TEST(PortAllocator, TakeIsExact) {
  PortAllocator a({});
  EXPECT_TRUE(a.take(8080));
  EXPECT_FALSE(a.take(8080));
  EXPECT_FALSE(a.take(80)) << "below the range";
  a.release(8080);
  EXPECT_TRUE(a.take(8080));
}

TEST(PortAllocator, SharesAreDisjointAndCoverTheRange) {
  constexpr unsigned kShares = 3;
  std::vector<PortAllocator> shares;
  for (unsigned s = 0; s < kShares; ++s)
    shares.emplace_back(
        PortAllocator::Config{.first = 1000, .last = 1999, .shares = kShares, .share = s});
  size_t total = 0;
  for (unsigned p = 1000; p <= 1999; ++p) {
    unsigned owners = 0;
    for (const PortAllocator& a : shares) owners += a.owns(static_cast<uint16_t>(p));
    EXPECT_EQ(owners, 1u) << "port " << p;
  }
  for (PortAllocator& a : shares) {
    total += a.capacity();
    // Everything a share hands out is its own.
    while (const auto p = a.allocate(1000)) EXPECT_TRUE(a.owns(*p));
    EXPECT_EQ(a.used(), a.capacity());
  }
  EXPECT_EQ(total, 1000u);
  EXPECT_FALSE(shares[1].take(1000)) << "1000 belongs to share 0";
}

TEST(PortAllocator, BadConfigurationsAreRefused) {
  EXPECT_THROW(PortAllocator({.first = 10, .last = 9}), std::invalid_argument);
  EXPECT_THROW(PortAllocator({.shares = 0}), std::invalid_argument);
  EXPECT_THROW(PortAllocator({.shares = 2, .share = 2}), std::invalid_argument);
  EXPECT_THROW(PortAllocator({.first = 100, .last = 100, .shares = 2, .share = 1}),
               std::invalid_argument);
}

// Random allocate/take/release against a std::set of live ports (fixed seed 4787).
TEST(PortAllocator, MatchesAReferenceModel) {
  std::mt19937 rng(4787);
  const PortAllocator::Config cfg{.first = 30000, .last = 30999, .shares = 2, .share = 1};
  PortAllocator a(cfg);
  std::set<uint16_t> live;
  auto owns = [&](uint16_t p) {
    return p >= cfg.first && p <= cfg.last && (p - cfg.first) % cfg.shares == cfg.share;
  };
  for (int step = 0; step < 200000; ++step) {
    const uint16_t p = static_cast<uint16_t>(29990 + rng() % 1020);
    switch (rng() % 3) {
      case 0: {
        const bool wanted_free = owns(p) && !live.count(p);
        const auto got = a.allocate(p);
        if (live.size() == a.capacity()) {
          ASSERT_FALSE(got);
          break;
        }
        ASSERT_TRUE(got);
        ASSERT_TRUE(owns(*got));
        if (wanted_free) {
          ASSERT_EQ(*got, p) << "the wanted port was free but not kept";
        }
        ASSERT_TRUE(live.insert(*got).second) << "handed out twice: " << *got;
        break;
      }
      case 1: {
        const bool expect = owns(p) && !live.count(p);
        ASSERT_EQ(a.take(p), expect);
        if (expect) live.insert(p);
        break;
      }
      default:
        a.release(p);
        live.erase(p);
        break;
    }
    ASSERT_EQ(a.used(), live.size());
  }
}

}  // namespace
}  // namespace sluice::nat
