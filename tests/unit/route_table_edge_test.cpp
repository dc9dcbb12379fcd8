// route_table_edge_test.cpp — hand-built corner cases of RouteTable: the default route, host
// routes, a chain of nested routes on one address, removals that must hand addresses back to a
// covering route, replace/remove/insert statuses, next-hop id limits, clear() and stats().
//
// Expected answers are written out where they are easy to state; where a case has many
// boundaries, every boundary is also compared with ReferenceLpm (reference_lpm.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <random>
#include <vector>

#include "lpm/route_table.h"
#include "tests/unit/reference_lpm.h"
#include "tests/unit/test_util.h"

namespace sluice::lpm {
namespace {

using test::A;
using test::addr_plus;
using test::P;
using test::ReferenceLpm;

// Fixed seed for the random probes inside prefixes: reproducible.
constexpr uint64_t kEdgeSeed = 0xed9e'0000'0001ull;

Prefix pfx(Ipv4Addr a, unsigned len) {
  return *Prefix::make(Ipv4Addr::from_host(a.host() & Prefix::mask_of(len)), len);
}

// lookup() and lookup_bulk() of one address, which must agree.
NextHop both(const RouteTable& t, Ipv4Addr a) {
  NextHop bulk = 0xdeadbeefu;
  t.lookup_bulk(&a, &bulk, 1);
  const NextHop single = t.lookup(a);
  EXPECT_EQ(single, bulk) << "lookup and lookup_bulk disagree at " << a.str();
  return single;
}

// A RouteTable and a ReferenceLpm changed in lockstep; every status is checked.
class Checked {
 public:
  Checked() : rng_(kEdgeSeed) {}
  explicit Checked(const RouteTable::Config& cfg) : table(cfg), rng_(kEdgeSeed) {}

  void insert(Prefix p, NextHop nh) {
    const bool added = ref.insert(p, nh);
    ASSERT_EQ(table.insert(p, nh), added ? Status::ok : Status::exists) << p.str();
  }
  void replace(Prefix p, NextHop nh) {
    ref.replace(p, nh);
    ASSERT_EQ(table.replace(p, nh), Status::ok) << p.str();
  }
  void remove(Prefix p) {
    const bool was = ref.remove(p);
    ASSERT_EQ(table.remove(p), was ? Status::ok : Status::not_found) << p.str();
  }

  // Compares the table with the reference at the boundaries of every prefix given (and just
  // outside them), at random addresses inside, and at the /18-aligned edges next to them;
  // with lookup(), a single lookup_bulk() over all those addresses, match() and get().
  void check(std::initializer_list<Prefix> prefixes, unsigned random_per_prefix = 8) {
    check(std::vector<Prefix>(prefixes), random_per_prefix);
  }
  void check(const std::vector<Prefix>& prefixes, unsigned random_per_prefix = 8) {
    ASSERT_EQ(table.size(), ref.size());
    std::vector<Ipv4Addr> probes = {A("0.0.0.0"), A("255.255.255.255")};
    for (Prefix p : prefixes) {
      ASSERT_EQ(table.get(p), ref.get(p)) << p.str();
      for (Ipv4Addr a : {p.first(), p.last(), addr_plus(p.first(), -1), addr_plus(p.last(), 1)}) {
        probes.push_back(a);
        probes.push_back(Ipv4Addr::from_host(a.host() & ~0x3fffu));  // its /18 start
        probes.push_back(Ipv4Addr::from_host(a.host() | 0x3fffu));   // its /18 end
      }
      for (unsigned i = 0; i < random_per_prefix; ++i) probes.push_back(test::random_in(p, rng_));
    }
    std::vector<NextHop> out(probes.size(), 0xdeadbeefu);
    table.lookup_bulk(probes.data(), out.data(), probes.size());
    for (size_t i = 0; i < probes.size(); ++i) {
      const NextHop want = ref.lookup(probes[i]);
      ASSERT_EQ(table.lookup(probes[i]), want) << "lookup " << probes[i].str();
      ASSERT_EQ(out[i], want) << "lookup_bulk " << probes[i].str();
      ASSERT_EQ(table.match(probes[i]), ref.match(probes[i])) << "match " << probes[i].str();
    }
  }

  RouteTable table;
  ReferenceLpm ref;

 private:
  std::mt19937_64 rng_;
};

TEST(RouteTableEdge, EmptyTable) {
  RouteTable t;
  std::mt19937_64 rng(kEdgeSeed);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_TRUE(t.routes().empty());
  for (Ipv4Addr a : {A("0.0.0.0"), A("255.255.255.255"), A("10.0.0.1"), A("128.0.0.0")}) {
    EXPECT_EQ(both(t, a), kNoRoute) << a.str();
    EXPECT_FALSE(t.match(a).has_value());
  }
  std::vector<Ipv4Addr> addrs(64);
  for (auto& a : addrs) a = Ipv4Addr::from_host(uint32_t(rng()));
  std::vector<NextHop> out(64, 0);
  t.lookup_bulk(addrs.data(), out.data(), out.size());
  for (NextHop nh : out) EXPECT_EQ(nh, kNoRoute);
  EXPECT_FALSE(t.get(P("default")).has_value());
  EXPECT_FALSE(t.get(P("10.0.0.0/8")).has_value());
  int visits = 0;
  t.for_each([&](const Route&) { ++visits; });
  EXPECT_EQ(visits, 0);
  const RouteTable::Stats st = t.stats();
  EXPECT_EQ(st.routes, 0u);
  EXPECT_EQ(st.nodes_used, 0u);
  EXPECT_EQ(st.leaves_used, 0u);
  EXPECT_GT(st.fib_bytes, 0u) << "the direct array is part of the lookup path";
  EXPECT_EQ(st.retired_blocks, 0u);
}

TEST(RouteTableEdge, DefaultRouteAlone) {
  RouteTable t;
  ASSERT_EQ(t.insert(P("default"), 5), Status::ok);
  EXPECT_EQ(t.size(), 1u);
  // The first, last and a random address of every /18 chunk (the lookup path's first level):
  // all take the default route. Fixed seed.
  std::mt19937_64 rng(kEdgeSeed);
  std::vector<Ipv4Addr> addrs;
  for (uint64_t c = 0; c < (uint64_t(1) << 18); ++c) {
    addrs.push_back(Ipv4Addr::from_host(uint32_t(c << 14)));
    addrs.push_back(Ipv4Addr::from_host(uint32_t(c << 14 | 0x3fff)));
    addrs.push_back(Ipv4Addr::from_host(uint32_t(c << 14) | (uint32_t(rng()) & 0x3fff)));
  }
  std::vector<NextHop> out(addrs.size(), 0);
  t.lookup_bulk(addrs.data(), out.data(), addrs.size());
  for (size_t i = 0; i < addrs.size(); ++i) {
    ASSERT_EQ(out[i], 5u) << addrs[i].str();
    ASSERT_EQ(t.lookup(addrs[i]), 5u) << addrs[i].str();
  }
  EXPECT_EQ(t.match(A("203.0.113.9")), (Route{P("default"), 5}));
  EXPECT_EQ(t.get(P("default")), 5u);
  EXPECT_EQ(t.routes(), (std::vector<Route>{{P("default"), 5}}));

  ASSERT_EQ(t.remove(P("default")), Status::ok);
  t.lookup_bulk(addrs.data(), out.data(), addrs.size());
  for (size_t i = 0; i < addrs.size(); ++i) ASSERT_EQ(out[i], kNoRoute) << addrs[i].str();
  EXPECT_EQ(t.size(), 0u);
}

TEST(RouteTableEdge, HostRouteAlone) {
  for (const char* host :
       {"10.1.2.3", "0.0.0.0", "255.255.255.255", "10.1.192.0", "10.1.191.255"}) {
    SCOPED_TRACE(host);
    RouteTable t;
    const Ipv4Addr h = A(host);
    ASSERT_EQ(t.insert(pfx(h, 32), 77), Status::ok);
    EXPECT_EQ(both(t, h), 77u);
    EXPECT_EQ(t.match(h), (Route{pfx(h, 32), 77}));
    for (int64_t d : std::initializer_list<int64_t>{-1, 1, -64, 64, -16384, 16384, 1ll << 31}) {
      EXPECT_EQ(both(t, addr_plus(h, d)), kNoRoute) << addr_plus(h, d).str();
      EXPECT_FALSE(t.match(addr_plus(h, d)).has_value());
    }
    ASSERT_EQ(t.remove(pfx(h, 32)), Status::ok);
    EXPECT_EQ(both(t, h), kNoRoute);
  }
}

TEST(RouteTableEdge, DefaultPlusHost) {
  RouteTable t;
  ASSERT_EQ(t.insert(P("default"), 1), Status::ok);
  ASSERT_EQ(t.insert(P("198.51.100.17/32"), 2), Status::ok);
  EXPECT_EQ(both(t, A("198.51.100.17")), 2u);
  EXPECT_EQ(both(t, A("198.51.100.16")), 1u);
  EXPECT_EQ(both(t, A("198.51.100.18")), 1u);
  EXPECT_EQ(both(t, A("198.51.64.0")), 1u);
  EXPECT_EQ(both(t, A("0.0.0.0")), 1u);
  EXPECT_EQ(both(t, A("255.255.255.255")), 1u);
  EXPECT_EQ(t.match(A("198.51.100.17")), (Route{P("198.51.100.17/32"), 2}));
  EXPECT_EQ(t.match(A("198.51.100.18")), (Route{P("default"), 1}));
  EXPECT_EQ(t.routes(), (std::vector<Route>{{P("default"), 1}, {P("198.51.100.17/32"), 2}}));

  // Removing the default leaves the host route alone, and the other way round.
  ASSERT_EQ(t.remove(P("default")), Status::ok);
  EXPECT_EQ(both(t, A("198.51.100.17")), 2u);
  EXPECT_EQ(both(t, A("198.51.100.18")), kNoRoute);
  ASSERT_EQ(t.insert(P("default"), 3), Status::ok);
  EXPECT_EQ(both(t, A("198.51.100.18")), 3u);
  ASSERT_EQ(t.remove(P("198.51.100.17/32")), Status::ok);
  EXPECT_EQ(both(t, A("198.51.100.17")), 3u);
}

// /0 /8 /16 /18 /19 /24 /25 /30 /31 /32 all containing one address: short routes in the
// direct array and long ones in the trie below the same /18 entry.
std::vector<Prefix> nested_chain(Ipv4Addr x) {
  std::vector<Prefix> chain;
  for (unsigned len : {0u, 8u, 16u, 18u, 19u, 24u, 25u, 30u, 31u, 32u})
    chain.push_back(pfx(x, len));
  return chain;
}

TEST(RouteTableEdge, NestedChainLookupsAtEveryBoundary) {
  const Ipv4Addr x = A("10.20.48.77");
  const std::vector<Prefix> chain = nested_chain(x);
  // Three insertion orders: short to long, long to short, shuffled (fixed seed); short routes
  // inserted after long ones in the same chunk are the interesting case.
  std::vector<std::vector<Prefix>> orders = {chain, {chain.rbegin(), chain.rend()}, chain};
  std::mt19937_64 rng(kEdgeSeed);
  std::shuffle(orders[2].begin(), orders[2].end(), rng);
  for (const auto& order : orders) {
    Checked c;
    for (Prefix p : order) {
      c.insert(p, 100 + p.len());
      c.check(chain);
      if (HasFatalFailure()) return;
    }
    // Explicit answers once all are in: the longest prefix holding each probe wins.
    EXPECT_EQ(both(c.table, x), 132u);
    EXPECT_EQ(both(c.table, addr_plus(x, -1)), 131u);   // 10.20.48.76: the /31
    EXPECT_EQ(both(c.table, addr_plus(x, 1)), 130u);    // 10.20.48.78: the /30
    EXPECT_EQ(both(c.table, A("10.20.48.80")), 125u);   // the /25
    EXPECT_EQ(both(c.table, A("10.20.48.128")), 124u);  // the /24
    EXPECT_EQ(both(c.table, A("10.20.49.0")), 119u);    // the /19
    EXPECT_EQ(both(c.table, A("10.20.31.255")), 118u);  // the /18 below the /19
    EXPECT_EQ(both(c.table, A("10.20.64.0")), 116u);    // the /16
    EXPECT_EQ(both(c.table, A("10.21.0.0")), 108u);     // the /8
    EXPECT_EQ(both(c.table, A("11.0.0.0")), 100u);      // the /0
    EXPECT_EQ(c.table.routes().size(), chain.size());

    // Remove in the same order, checking every boundary after each step.
    for (Prefix p : order) {
      c.remove(p);
      c.check(chain);
      if (HasFatalFailure()) return;
    }
    EXPECT_EQ(c.table.stats().nodes_used, 0u);
  }
}

TEST(RouteTableEdge, RemoveRestoresCoveringRouteAtEveryLength) {
  // For every pair outer < inner of lengths on one address: removing the inner route hands its
  // addresses back to the outer one; removing the outer one leaves the inner one in place.
  // Background routes in the same /18 chunk (not containing x) must be unaffected throughout.
  const Ipv4Addr x = A("172.20.77.133");
  const std::vector<Prefix> background = {P("172.20.100.0/24"), P("172.20.100.128/25"),
                                          P("172.20.65.1/32"), P("172.20.77.0/29")};
  Checked c;
  for (size_t i = 0; i < background.size(); ++i) c.insert(background[i], 900 + NextHop(i));
  for (unsigned outer = 0; outer < 32; ++outer) {
    for (unsigned inner = outer + 1; inner <= 32; ++inner) {
      SCOPED_TRACE(testing::Message() << "outer /" << outer << " inner /" << inner);
      const Prefix po = pfx(x, outer), pi = pfx(x, inner);
      std::vector<Prefix> all = background;
      all.push_back(po);
      all.push_back(pi);
      c.insert(po, 100 + outer);
      c.insert(pi, 200 + inner);
      ASSERT_EQ(both(c.table, x), 200 + inner);
      c.remove(pi);
      ASSERT_EQ(both(c.table, x), 100 + outer) << "covering route did not take over";
      c.check(all, 4);
      c.insert(pi, 300 + inner);
      ASSERT_EQ(both(c.table, x), 300 + inner);
      c.remove(po);
      ASSERT_EQ(both(c.table, x), 300 + inner);
      c.check(all, 4);
      c.remove(pi);
      ASSERT_EQ(both(c.table, x), kNoRoute);
      ASSERT_EQ(c.table.size(), background.size());
      if (HasFatalFailure()) return;
    }
  }
  c.check(background);
}

TEST(RouteTableEdge, RemoveShortRouteCoveringChunksFullOfLongRoutes) {
  // Short routes over chunks full of longer routes: a /12 (100.64-100.79, 64 chunks), a /16 and
  // a /18 (exactly one chunk), all under a /8. Removing and restoring them must switch every
  // other address of those chunks between the short routes, while the long routes keep theirs.
  Checked c;
  std::vector<Prefix> watched = {P("100.0.0.0/8"), P("100.64.0.0/12"), P("100.80.0.0/16"),
                                 P("100.96.192.0/18")};
  c.insert(P("100.0.0.0/8"), 8);
  std::mt19937_64 rng(kEdgeSeed);  // fixed seed: where the long routes go
  for (uint32_t chunk : {0x6440'0000u, 0x6440'4000u, 0x644f'c000u, 0x6450'0000u, 0x6450'c000u,
                         0x6460'c000u, 0x647f'c000u}) {
    for (int i = 0; i < 60; ++i) {
      const unsigned len = 19 + unsigned(rng() % 14);
      const Prefix p = pfx(Ipv4Addr::from_host(chunk | (uint32_t(rng()) & 0x3fff)), len);
      c.insert(p, 1000 + NextHop(c.ref.size()));
      watched.push_back(p);
    }
  }
  c.check(watched);
  for (int round = 0; round < 3; ++round) {
    for (Prefix s : {P("100.64.0.0/12"), P("100.80.0.0/16"), P("100.96.192.0/18")}) {
      c.insert(s, 12 + s.len() + NextHop(round));
      c.check(watched);
      EXPECT_EQ(both(c.table, s.last()), c.ref.lookup(s.last()));
    }
    // Remove in an order where each removal uncovers a route that is itself short.
    for (Prefix s : {P("100.96.192.0/18"), P("100.64.0.0/12"), P("100.80.0.0/16")}) {
      c.remove(s);
      c.check(watched);
      if (HasFatalFailure()) return;
    }
    EXPECT_EQ(both(c.table, A("100.64.0.1")), c.ref.lookup(A("100.64.0.1")));
  }
  // And a long route removed so the short one takes over.
  c.insert(P("100.64.0.0/12"), 55);
  for (size_t i = 4; i < watched.size(); ++i) {
    c.remove(watched[i]);
    if (i % 16 == 0) c.check(watched, 2);
    if (HasFatalFailure()) return;
  }
  c.check(watched);
  EXPECT_EQ(both(c.table, A("100.64.64.1")), 55u);
  EXPECT_EQ(both(c.table, A("100.79.255.255")), 55u);
  EXPECT_EQ(both(c.table, A("100.80.0.0")), 8u);
  EXPECT_EQ(both(c.table, A("100.63.255.255")), 8u);
}

TEST(RouteTableEdge, ReplaceChangesNextHop) {
  RouteTable t;
  ASSERT_EQ(t.insert(P("192.0.2.0/24"), 1), Status::ok);
  ASSERT_EQ(t.insert(P("192.0.0.0/16"), 2), Status::ok);
  ASSERT_EQ(t.insert(P("default"), 3), Status::ok);
  EXPECT_EQ(both(t, A("192.0.2.9")), 1u);
  ASSERT_EQ(t.replace(P("192.0.2.0/24"), 11), Status::ok);
  EXPECT_EQ(both(t, A("192.0.2.9")), 11u);
  EXPECT_EQ(t.get(P("192.0.2.0/24")), 11u);
  ASSERT_EQ(t.replace(P("192.0.0.0/16"), 12), Status::ok);
  EXPECT_EQ(both(t, A("192.0.3.0")), 12u);
  EXPECT_EQ(both(t, A("192.0.2.0")), 11u);
  ASSERT_EQ(t.replace(P("default"), 13), Status::ok);
  EXPECT_EQ(both(t, A("8.8.8.8")), 13u);
  EXPECT_EQ(t.size(), 3u);
  // Replacing with the same next hop is fine and changes nothing.
  ASSERT_EQ(t.replace(P("192.0.2.0/24"), 11), Status::ok);
  EXPECT_EQ(both(t, A("192.0.2.255")), 11u);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.routes(), (std::vector<Route>{
                            {P("default"), 13}, {P("192.0.0.0/16"), 12}, {P("192.0.2.0/24"), 11}}));
}

TEST(RouteTableEdge, ReplaceOfAbsentInserts) {
  RouteTable t;
  ASSERT_EQ(t.replace(P("203.0.113.0/24"), 4), Status::ok);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.get(P("203.0.113.0/24")), 4u);
  EXPECT_EQ(both(t, A("203.0.113.200")), 4u);
  ASSERT_EQ(t.replace(P("203.0.0.0/8"), 5), Status::ok);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(both(t, A("203.1.0.0")), 5u);
  ASSERT_EQ(t.replace(P("default"), 6), Status::ok);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(both(t, A("1.1.1.1")), 6u);
  // Now present: insert refuses.
  EXPECT_EQ(t.insert(P("203.0.113.0/24"), 9), Status::exists);
}

TEST(RouteTableEdge, RemoveMissingPrefix) {
  RouteTable t;
  EXPECT_EQ(t.remove(P("10.0.0.0/8")), Status::not_found);
  EXPECT_EQ(t.remove(P("default")), Status::not_found);
  ASSERT_EQ(t.insert(P("10.0.0.0/8"), 1), Status::ok);
  ASSERT_EQ(t.insert(P("10.1.1.0/24"), 2), Status::ok);
  // Same address, other lengths; covering and covered prefixes; neighbours.
  for (const char* s :
       {"10.0.0.0/7", "10.0.0.0/9", "10.0.0.0/16", "10.0.0.0/32", "default", "10.1.0.0/23",
        "10.1.1.0/25", "10.1.1.128/25", "10.1.2.0/24", "11.0.0.0/8", "10.1.1.1/32"}) {
    EXPECT_EQ(t.remove(P(s)), Status::not_found) << s;
  }
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(both(t, A("10.1.1.1")), 2u);
  EXPECT_EQ(both(t, A("10.1.2.1")), 1u);
  ASSERT_EQ(t.remove(P("10.1.1.0/24")), Status::ok);
  EXPECT_EQ(t.remove(P("10.1.1.0/24")), Status::not_found) << "removed twice";
  EXPECT_EQ(t.size(), 1u);
}

TEST(RouteTableEdge, InsertExistingIsRefused) {
  RouteTable t;
  for (const char* s : {"default", "10.0.0.0/8", "10.0.0.0/24", "10.0.0.7/32"}) {
    ASSERT_EQ(t.insert(P(s), 1), Status::ok) << s;
    EXPECT_EQ(t.insert(P(s), 2), Status::exists) << s;
    EXPECT_EQ(t.insert(P(s), 1), Status::exists) << s << " (same next hop)";
    EXPECT_EQ(t.get(P(s)), 1u) << s << ": a refused insert must not overwrite";
  }
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(both(t, A("10.0.0.7")), 1u);
  EXPECT_EQ(both(t, A("10.0.0.8")), 1u);
}

TEST(RouteTableEdge, BadNextHopIsRefused) {
  RouteTable t;
  ASSERT_EQ(t.insert(P("10.0.0.0/24"), 7), Status::ok);
  for (NextHop bad :
       {kNoRoute, kNoRoute + 1, NextHop(0x80000000u), NextHop(0xfffffffeu), NextHop(0xffffffffu)}) {
    for (const char* s : {"default", "10.0.0.0/8", "10.9.0.0/24", "10.0.0.9/32"}) {
      EXPECT_EQ(t.insert(P(s), bad), Status::bad_next_hop) << s << " nh " << bad;
      EXPECT_EQ(t.replace(P(s), bad), Status::bad_next_hop) << s << " nh " << bad;
      EXPECT_FALSE(t.get(P(s)).has_value()) << s;
    }
    // Replacing a present route with a bad id keeps the old one.
    EXPECT_EQ(t.replace(P("10.0.0.0/24"), bad), Status::bad_next_hop);
    EXPECT_EQ(t.get(P("10.0.0.0/24")), 7u);
  }
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(both(t, A("10.0.0.9")), 7u);
  EXPECT_EQ(both(t, A("10.9.0.1")), kNoRoute);
  EXPECT_EQ(both(t, A("1.2.3.4")), kNoRoute);
}

TEST(RouteTableEdge, LargeNextHopIds) {
  // Ids of 2^20 and beyond, up to kMaxNextHop, on short and long routes, side by side in one
  // chunk (where leaves of different values sit next to each other).
  Checked c;
  const NextHop ids[] = {1u << 20,    (1u << 20) + 1,  1u << 24, (1u << 30) + 5,
                         kMaxNextHop, kMaxNextHop - 1, 0,        (1u << 31) - 100};
  const char* prefixes[] = {"default",       "10.0.0.0/8",    "10.64.0.0/18", "10.64.1.0/24",
                            "10.64.1.64/26", "10.64.1.65/32", "10.64.2.0/23", "10.64.1.0/31"};
  static_assert(std::size(ids) == std::size(prefixes));
  std::vector<Prefix> ps;
  for (size_t i = 0; i < std::size(ids); ++i) {
    ps.push_back(P(prefixes[i]));
    c.insert(ps.back(), ids[i]);
  }
  c.check(ps);
  EXPECT_EQ(both(c.table, A("10.64.1.65")), kMaxNextHop - 1);  // the /32
  EXPECT_EQ(both(c.table, A("10.64.1.66")), kMaxNextHop);      // the /26
  EXPECT_EQ(both(c.table, A("10.64.1.1")), (1u << 31) - 100);  // the /31
  EXPECT_EQ(both(c.table, A("10.64.1.2")), (1u << 30) + 5);    // the /24
  EXPECT_EQ(both(c.table, A("10.64.3.255")), 0u);              // the /23
  EXPECT_EQ(both(c.table, A("10.64.4.0")), 1u << 24);          // the /18
  EXPECT_EQ(both(c.table, A("10.128.0.0")), (1u << 20) + 1);   // the /8
  EXPECT_EQ(both(c.table, A("11.0.0.0")), 1u << 20);           // the default
  EXPECT_EQ(c.table.match(A("10.64.1.65")), (Route{P("10.64.1.65/32"), kMaxNextHop - 1}));
  // Swap them all around with replace.
  for (size_t i = 0; i < ps.size(); ++i) c.replace(ps[i], ids[(i + 3) % std::size(ids)]);
  c.check(ps);
}

TEST(RouteTableEdge, ClearEmptiesTheTable) {
  Checked c;
  std::vector<Prefix> ps;
  for (const char* s : {"default", "10.0.0.0/8", "10.64.0.0/18", "10.64.1.0/24", "10.64.1.65/32",
                        "192.168.0.0/16", "192.168.77.0/24"}) {
    ps.push_back(P(s));
    c.insert(ps.back(), NextHop(ps.size()));
  }
  c.check(ps);
  c.table.clear();
  c.ref.clear();
  EXPECT_EQ(c.table.size(), 0u);
  EXPECT_TRUE(c.table.routes().empty());
  c.check(ps);
  for (Prefix p : ps) EXPECT_EQ(both(c.table, p.first()), kNoRoute) << p.str();
  c.table.reclaim(true);
  EXPECT_EQ(c.table.stats().routes, 0u);
  EXPECT_EQ(c.table.stats().nodes_used, 0u);
  EXPECT_EQ(c.table.stats().leaves_used, 0u);
  // Still usable afterwards, and the old routes are really gone (insert is not `exists`).
  for (Prefix p : ps) c.insert(p, 40 + p.len());
  c.check(ps);
  c.table.clear();
  c.table.clear();  // twice is harmless
  c.ref.clear();
  c.check(ps);
}

TEST(RouteTableEdge, StatsSanity) {
  RouteTable t;
  const RouteTable::Stats empty = t.stats();
  EXPECT_EQ(empty.routes, 0u);
  EXPECT_GT(empty.fib_bytes, 0u);
  EXPECT_EQ(empty.nodes_used, 0u);
  EXPECT_EQ(empty.leaves_used, 0u);

  // 1000 /24s in 16 chunks, 100 short routes. Fixed layout, no randomness.
  std::vector<Prefix> ps;
  for (uint32_t i = 0; i < 1000; ++i) {
    ps.push_back(
        *Prefix::make(Ipv4Addr::from_host(0x0a000000u | (i % 16) << 14 | (i / 16) << 8), 24));
  }
  for (uint32_t i = 0; i < 100; ++i) {
    ps.push_back(*Prefix::make(Ipv4Addr::from_host(0x14000000u | i << 16), 16));
  }
  for (size_t i = 0; i < ps.size(); ++i) ASSERT_EQ(t.insert(ps[i], NextHop(i)), Status::ok);
  const RouteTable::Stats full = t.stats();
  EXPECT_EQ(full.routes, ps.size());
  EXPECT_EQ(t.size(), ps.size());
  EXPECT_GT(full.nodes_used, 0u) << "routes longer than /18 live in trie nodes";
  EXPECT_GT(full.leaves_used, 0u);
  EXPECT_GE(full.fib_bytes, empty.fib_bytes);
  EXPECT_GT(full.rib_bytes, empty.rib_bytes);
  // The listing walks only the chunks that hold long routes (a bitmap kept with the RIB):
  // every route, in (address, length) order, the short ones merged in between.
  std::vector<Prefix> sorted = ps, listed;
  std::sort(sorted.begin(), sorted.end());
  for (const Route& r : t.routes()) listed.push_back(r.prefix);
  EXPECT_EQ(listed, sorted);

  std::vector<Prefix> order = ps;
  std::mt19937_64 rng(kEdgeSeed);  // fixed seed: removal order
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i = 0; i < order.size(); ++i) {
    ASSERT_EQ(t.remove(order[i]), Status::ok) << order[i].str();
    ASSERT_EQ(t.stats().routes, order.size() - i - 1);
  }
  t.reclaim(true);
  const RouteTable::Stats after = t.stats();
  EXPECT_EQ(after.routes, 0u);
  EXPECT_TRUE(t.routes().empty());
  EXPECT_LT(after.rib_bytes, full.rib_bytes) << "the long routes' vectors are given back";
  EXPECT_EQ(after.nodes_used, 0u) << "FIB nodes leaked";
  EXPECT_EQ(after.leaves_used, 0u) << "FIB leaves leaked";
  EXPECT_EQ(after.retired_blocks, 0u) << "without a GracePeriod blocks are recycled at once";
  EXPECT_GT(after.fib_bytes, 0u);
  for (Prefix p : ps) ASSERT_EQ(both(t, p.first()), kNoRoute) << p.str();
}

TEST(RouteTableEdge, MillionDistinctNextHopIds) {
  // 2^20 /24s (0.0.0.0/24 .. 15.255.255.0/24), each with its own next hop id: first ids
  // 0 .. 2^20-1, then replaced by kMaxNextHop - i. Under sanitizers 2^18 of them.
  const uint32_t n = uint32_t(test::scaled(size_t(1) << 20, 4));
  RouteTable t;
  auto prefix = [](uint32_t i) { return *Prefix::make(Ipv4Addr::from_host(i << 8), 24); };
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(t.insert(prefix(i), NextHop(i)), Status::ok) << i;
  ASSERT_EQ(t.size(), n);

  std::mt19937_64 rng(kEdgeSeed);  // fixed seed: the address inside each /24
  auto verify = [&](auto nh_of) {
    std::vector<Ipv4Addr> addrs;
    std::vector<NextHop> want;
    addrs.reserve(size_t(n) * 3);
    want.reserve(size_t(n) * 3);
    for (uint32_t i = 0; i < n; ++i) {
      for (Ipv4Addr a : {prefix(i).first(), prefix(i).last(), test::random_in(prefix(i), rng)}) {
        addrs.push_back(a);
        want.push_back(nh_of(i));
      }
    }
    std::vector<NextHop> out(addrs.size(), 0xdeadbeefu);
    t.lookup_bulk(addrs.data(), out.data(), addrs.size());
    for (size_t k = 0; k < addrs.size(); ++k) {
      ASSERT_EQ(out[k], want[k]) << "lookup_bulk " << addrs[k].str();
      ASSERT_EQ(t.lookup(addrs[k]), want[k]) << "lookup " << addrs[k].str();
    }
    ASSERT_EQ(t.lookup(Ipv4Addr::from_host(n << 8)), kNoRoute);
  };
  verify([](uint32_t i) { return NextHop(i); });
  if (HasFatalFailure()) return;
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(t.replace(prefix(i), kMaxNextHop - i), Status::ok);
  ASSERT_EQ(t.size(), n);
  verify([](uint32_t i) { return kMaxNextHop - i; });
  if (HasFatalFailure()) return;
  // The RIB hands the same ids back.
  size_t k = 0;
  bool in_order = true;
  t.for_each([&](const Route& r) {
    in_order = in_order && r.prefix == prefix(uint32_t(k)) && r.nh == kMaxNextHop - k;
    ++k;
  });
  EXPECT_EQ(k, n);
  EXPECT_TRUE(in_order);
}

}  // namespace
}  // namespace sluice::lpm
