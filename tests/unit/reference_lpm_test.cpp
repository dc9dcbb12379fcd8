// reference_lpm_test.cpp — tests of the test oracles themselves (reference_lpm.h). If an oracle
// were wrong, the differential tests would compare RouteTable with the wrong thing; these pin
// the oracles to hand-worked answers and to each other.
#include "tests/unit/reference_lpm.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/unit/test_util.h"

namespace sluice::test {
namespace {

using lpm::kNoRoute;
using lpm::Route;

// Fixed seed: reproducible random routes and probes.
constexpr uint64_t kOracleSeed = 0x0ac1e'0001ull;

TEST(ReferenceLpm, HandWorkedAnswers) {
  ReferenceLpm ref;
  EXPECT_EQ(ref.lookup(A("1.2.3.4")), kNoRoute);
  EXPECT_TRUE(ref.insert(P("10.0.0.0/8"), 1));
  EXPECT_FALSE(ref.insert(P("10.0.0.0/8"), 9));
  EXPECT_EQ(ref.get(P("10.0.0.0/8")), 1u);
  EXPECT_TRUE(ref.insert(P("10.1.0.0/16"), 2));
  EXPECT_TRUE(ref.insert(P("10.1.2.3/32"), 3));
  EXPECT_TRUE(ref.insert(P("default"), 0));
  EXPECT_EQ(ref.lookup(A("10.1.2.3")), 3u);
  EXPECT_EQ(ref.lookup(A("10.1.2.4")), 2u);
  EXPECT_EQ(ref.lookup(A("10.2.0.0")), 1u);
  EXPECT_EQ(ref.lookup(A("11.0.0.0")), 0u);
  EXPECT_EQ(ref.match(A("10.1.255.255")), (Route{P("10.1.0.0/16"), 2}));
  EXPECT_TRUE(ref.replace(P("10.1.0.0/16"), 7));
  EXPECT_FALSE(ref.replace(P("10.2.0.0/16"), 8));
  EXPECT_EQ(ref.lookup(A("10.1.0.0")), 7u);
  EXPECT_EQ(ref.size(), 5u);
  EXPECT_TRUE(ref.remove(P("10.1.0.0/16")));
  EXPECT_FALSE(ref.remove(P("10.1.0.0/16")));
  EXPECT_EQ(ref.lookup(A("10.1.0.0")), 1u);
  const std::vector<Route> want = {
      {P("default"), 0}, {P("10.0.0.0/8"), 1}, {P("10.1.2.3/32"), 3}, {P("10.2.0.0/16"), 8}};
  EXPECT_EQ(ref.routes(), want);
  ref.clear();
  EXPECT_EQ(ref.size(), 0u);
  EXPECT_EQ(ref.lookup(A("10.1.2.3")), kNoRoute);
}

TEST(IntervalLpm, AgreesWithReference) {
  std::mt19937_64 rng(kOracleSeed);
  ReferenceLpm ref;
  // Nested and adjacent routes near a few bases, including both ends of the address space.
  const uint32_t bases[] = {0, 0xffffffffu, 0x0a000000u, 0xc0a80180u};
  for (int i = 0; i < 3000; ++i) {
    const unsigned len = unsigned(rng() % 33);
    const uint32_t a = bases[rng() % 4] + uint32_t(rng() % 65536) - 32768;
    ref.replace(*Prefix::make(Ipv4Addr::from_host(a & Prefix::mask_of(len)), len),
                lpm::NextHop(rng() % 16));
  }
  const IntervalLpm iv(ref);
  EXPECT_GT(iv.intervals(), 100u);
  for (const Route& r : ref.routes()) {
    for (Ipv4Addr a : {r.prefix.first(), r.prefix.last(), addr_plus(r.prefix.first(), -1),
                       addr_plus(r.prefix.last(), 1), random_in(r.prefix, rng)}) {
      ASSERT_EQ(iv.lookup(a), ref.lookup(a)) << a.str();
    }
  }
  for (int i = 0; i < 100000; ++i) {
    const Ipv4Addr a = Ipv4Addr::from_host(uint32_t(rng()));
    ASSERT_EQ(iv.lookup(a), ref.lookup(a)) << a.str();
  }
}

}  // namespace
}  // namespace sluice::test
