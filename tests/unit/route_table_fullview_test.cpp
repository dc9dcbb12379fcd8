// route_table_fullview_test.cpp — RouteTable loaded with the real Internet table
// (../shared/data/fullview-prefixes.txt.gz, ~900k IPv4 prefixes), checked against the reference
// at over ten million addresses, then emptied route by route in random order.
//
// The file comes from $SLUICE_FULLVIEW (meson test sets it), else default_fullview_path(); the
// tests skip when it is missing. Expected answers come from IntervalLpm (reference_lpm.h), a
// snapshot of the naive ReferenceLpm that answers in O(log n), since 10M lookups of 33 hash
// probes each would dominate the run time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "lpm/route_file.h"
#include "lpm/route_table.h"
#include "tests/unit/reference_lpm.h"
#include "tests/unit/test_util.h"

namespace sluice::lpm {
namespace {

using test::IntervalLpm;
using test::ReferenceLpm;

// Fixed seeds: the same addresses and the same removal order on every run.
constexpr uint64_t kProbeSeed = 0xf011'0000'0001ull;
constexpr uint64_t kRemoveSeed = 0xf011'0000'0002ull;

constexpr unsigned kNextHops = 64;  // the benchmark convention (route_file.h)

// Plain build: 4M uniform + 4M inside prefixes + 4 x ~900k at prefix boundaries = ~11.6M
// addresses, each looked up with lookup() and with lookup_bulk().
constexpr size_t kUniformProbes = 4'000'000;
constexpr size_t kInPrefixProbes = 4'000'000;

class RouteTableFullview : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = test::fullview_path();
    if (!test::file_readable(path)) {
      GTEST_SKIP() << "real route table not found at '" << path
                   << "': set SLUICE_FULLVIEW to fullview-prefixes.txt.gz to run this test";
    }
    ASSERT_NO_FATAL_FAILURE(load(path));
    // The table and the reference get the same routes; duplicates in the file are folded by
    // replace(), which is how the demo and benchmarks load it too.
    for (Prefix p : prefixes()) {
      const NextHop nh = synthetic_next_hop(p, kNextHops);
      ASSERT_LT(nh, kNextHops);
      ASSERT_EQ(table_.replace(p, nh), Status::ok) << p.str();
      ref_.replace(p, nh);
    }
    ASSERT_EQ(table_.size(), ref_.size());
  }

  // The file is parsed once per process and shared by the tests of this suite.
  static const std::vector<Prefix>& prefixes() { return *cache(); }

  RouteTable table_;
  ReferenceLpm ref_;

 private:
  static std::unique_ptr<std::vector<Prefix>>& cache() {
    static std::unique_ptr<std::vector<Prefix>> c;
    return c;
  }
  static void load(const std::string& path) {
    if (cache()) return;
    try {
      cache() = std::make_unique<std::vector<Prefix>>(read_prefix_file(path));
    } catch (const std::exception& e) {
      FAIL() << "read_prefix_file: " << e.what();
    }
    // A truncated or wrong file would make the rest of the test meaningless.
    ASSERT_GT(cache()->size(), 800'000u) << path << " does not look like a full table";
  }
};

// Compares lookup() and lookup_bulk() (bursts of `burst`) with the expected answers; reports
// the first few mismatches and how many there were in total.
void expect_lookups(const RouteTable& t, const IntervalLpm& want, const std::vector<Ipv4Addr>& a,
                    size_t burst, const char* what) {
  std::vector<NextHop> out(a.size(), 0xdeadbeefu);
  for (size_t i = 0; i < a.size(); i += burst) {
    t.lookup_bulk(a.data() + i, out.data() + i, std::min(burst, a.size() - i));
  }
  size_t bad_single = 0, bad_bulk = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const NextHop w = want.lookup(a[i]);
    const NextHop single = t.lookup(a[i]);
    if (single != w && ++bad_single <= 5) {
      ADD_FAILURE() << what << ": lookup(" << a[i].str() << ") = " << single << ", want " << w;
    }
    if (out[i] != w && ++bad_bulk <= 5) {
      ADD_FAILURE() << what << ": lookup_bulk(" << a[i].str() << ") = " << out[i] << ", want " << w;
    }
  }
  EXPECT_EQ(bad_single, 0u) << what << ": wrong lookup() answers out of " << a.size();
  EXPECT_EQ(bad_bulk, 0u) << what << ": wrong lookup_bulk() answers out of " << a.size();
}

TEST_F(RouteTableFullview, LookupsMatchReference) {
  const std::vector<Route> routes = ref_.routes();
  // The RIB lists exactly the reference's routes, in order.
  {
    const std::vector<Route> got = table_.routes();
    ASSERT_EQ(got.size(), routes.size());
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (!(got[i] == routes[i]) && ++bad <= 5) {
        ADD_FAILURE() << "routes()[" << i << "] = " << got[i].prefix.str() << " nh " << got[i].nh
                      << ", want " << routes[i].prefix.str() << " nh " << routes[i].nh;
      }
    }
    ASSERT_EQ(bad, 0u);
    EXPECT_EQ(table_.stats().routes, routes.size());
  }

  const IntervalLpm want(ref_);
  std::mt19937_64 rng(kProbeSeed);
  // The snapshot agrees with the reference it was built from (cheap insurance on the oracle).
  for (int i = 0; i < 20000; ++i) {
    const Ipv4Addr a = Ipv4Addr::from_host(uint32_t(rng()));
    ASSERT_EQ(want.lookup(a), ref_.lookup(a)) << a.str();
  }

  size_t checked = 0;
  {
    std::vector<Ipv4Addr> a(test::scaled(kUniformProbes, 10));
    for (auto& x : a) x = Ipv4Addr::from_host(uint32_t(rng()));
    expect_lookups(table_, want, a, 64, "uniform random addresses");
    checked += a.size();
  }
  {
    std::vector<Ipv4Addr> a(test::scaled(kInPrefixProbes, 10));
    for (auto& x : a) x = test::random_in(routes[rng() % routes.size()].prefix, rng);
    expect_lookups(table_, want, a, 32, "addresses inside table prefixes");
    checked += a.size();
  }
  {
    std::vector<Ipv4Addr> a;
    a.reserve(routes.size() * 4);
    for (const Route& r : routes) {
      a.push_back(r.prefix.first());
      a.push_back(r.prefix.last());
      a.push_back(test::addr_plus(r.prefix.first(), -1));
      a.push_back(test::addr_plus(r.prefix.last(), 1));
    }
    expect_lookups(table_, want, a, 64, "first/last address of every prefix and just outside");
    checked += a.size();
  }
  if (!test::kSanitized) {
    EXPECT_GE(checked, 10'000'000u);
  }

  // match(): the route `ip route get` would show, on a sample (fixed seed).
  for (size_t i = 0; i < test::scaled(50'000, 10); ++i) {
    const Ipv4Addr a = i % 2 ? Ipv4Addr::from_host(uint32_t(rng()))
                             : test::random_in(routes[rng() % routes.size()].prefix, rng);
    ASSERT_EQ(table_.match(a), ref_.match(a)) << a.str();
  }
}

TEST_F(RouteTableFullview, RemoveAllInRandomOrder) {
  std::vector<Prefix> order;
  order.reserve(ref_.size());
  for (const Route& r : ref_.routes()) order.push_back(r.prefix);
  std::mt19937_64 rng(kRemoveSeed);
  std::shuffle(order.begin(), order.end(), rng);

  // A removed prefix's own first address is checked after every removal (every 2nd under
  // sanitizers); every 1000 removals, a sample of random addresses and remaining prefixes.
  const size_t own_every = test::kSanitized ? 2 : 1;
  const size_t sample_every = 1000;
  for (size_t i = 0; i < order.size(); ++i) {
    const Prefix p = order[i];
    ASSERT_EQ(table_.remove(p), Status::ok) << "#" << i << " " << p.str();
    ASSERT_TRUE(ref_.remove(p));
    if (i % own_every == 0) {
      ASSERT_EQ(table_.lookup(p.first()), ref_.lookup(p.first())) << "after removing " << p.str();
    }
    if (i % sample_every == 0) {
      ASSERT_EQ(table_.size(), ref_.size());
      std::vector<Ipv4Addr> a;
      for (int k = 0; k < 64; ++k) a.push_back(Ipv4Addr::from_host(uint32_t(rng())));
      for (size_t k = 0; k < 64 && i + 1 + k < order.size(); ++k) {
        const Prefix q = order[i + 1 + rng() % (order.size() - i - 1)];
        a.push_back(test::random_in(q, rng));
      }
      a.push_back(p.last());
      std::vector<NextHop> out(a.size(), 0xdeadbeefu);
      table_.lookup_bulk(a.data(), out.data(), a.size());
      for (size_t k = 0; k < a.size(); ++k) {
        const NextHop w = ref_.lookup(a[k]);
        ASSERT_EQ(out[k], w) << "lookup_bulk " << a[k].str() << " after " << i + 1 << " removals";
        ASSERT_EQ(table_.lookup(a[k]), w) << a[k].str() << " after " << i + 1 << " removals";
      }
    }
  }
  ASSERT_EQ(table_.size(), 0u);
  EXPECT_TRUE(table_.routes().empty());
  EXPECT_EQ(table_.remove(order.front()), Status::not_found);
  const RouteTable::Stats st = table_.stats();
  EXPECT_EQ(st.routes, 0u);
  EXPECT_EQ(st.nodes_used, 0u) << "FIB nodes leaked";
  EXPECT_EQ(st.leaves_used, 0u) << "FIB leaves leaked";

  // Nothing routes any more: every prefix boundary from the file, and the first, last and a
  // random address of every /18 of the address space.
  std::vector<Ipv4Addr> a;
  a.reserve(order.size() * 2 + (size_t(3) << 18));
  for (Prefix p : order) {
    a.push_back(p.first());
    a.push_back(p.last());
  }
  for (uint32_t c = 0; c < (1u << 18); ++c) {
    a.push_back(Ipv4Addr::from_host(c << 14));
    a.push_back(Ipv4Addr::from_host(c << 14 | 0x3fff));
    a.push_back(Ipv4Addr::from_host(c << 14 | (uint32_t(rng()) & 0x3fff)));
  }
  std::vector<NextHop> out(a.size(), 0);
  for (size_t i = 0; i < a.size(); i += 64) {
    table_.lookup_bulk(a.data() + i, out.data() + i, std::min<size_t>(64, a.size() - i));
  }
  size_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((out[i] != kNoRoute || table_.lookup(a[i]) != kNoRoute) && ++bad <= 5) {
      ADD_FAILURE() << a[i].str() << " still routes to " << out[i] << " in an empty table";
    }
  }
  EXPECT_EQ(bad, 0u);
}

}  // namespace
}  // namespace sluice::lpm
