// multipath_test.cpp — ECMP routes end to end: flows spread over the paths in proportion to
// their weights, one flow (and every fragment of one datagram) always takes one path, an
// unresolved member is asked for by its own gateway, a member behind a down port gives way,
// and replacing or deleting multipath routes gives back every next hop and group.
#include <algorithm>
#include <random>
#include <set>

#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

RouteTarget via(const char* gw, uint8_t weight = 1) {
  RouteTarget t;
  t.gateway = addr(gw);
  t.weight = weight;
  return t;
}

// A flow from behind h0 to 10.60.0.0/16: its source port (and address) make it unique.
Frame flow(uint32_t n, uint16_t sport, uint16_t dport) {
  const std::string src = "10.1.0." + std::to_string(2 + n % 200);
  return Frame().eth(kH0, kRouterMac[0]).ip4(src, "10.60.1.1").udp(sport, dport).payload(16);
}

uint16_t src_port_of(const Bytes& b) {
  return static_cast<uint16_t>(b[34] << 8 | b[35]);
}
uint16_t ip_id_of(const Bytes& b) {
  return static_cast<uint16_t>(b[18] << 8 | b[19]);
}
MacAddr dst_mac_of(const Bytes& b) {
  return MacAddr::from_bytes(b.data());
}

// Where each frame went, by (egress port, neighbour MAC); `key` names the frame.
using Path = std::pair<uint16_t, uint64_t>;
template <class Key>
std::map<uint32_t, Path> paths_taken(Router& r, Key key) {
  std::map<uint32_t, Path> out;
  const auto all = r.received_all();
  for (uint16_t p = 0; p < all.size(); ++p)
    for (const Bytes& b : all[p]) out[key(b)] = {p, dst_mac_of(b).packed()};
  return out;
}

struct Spread {
  std::string name;
  std::vector<RouteTarget> paths;
  std::vector<std::pair<Path, double>> shares;  // expected share of the flows per path
};

class MultipathSpread : public PacketTest, public ::testing::WithParamInterface<Spread> {};

// 3000 flows with random ports (fixed seed): each path's share must be within 4 points of its
// weight's share (the binomial standard deviation here is under 1 point).
TEST_P(MultipathSpread, FlowsFollowTheWeights) {
  const Spread& s = GetParam();
  ASSERT_EQ(r().dp().state().replace_route(pfx("10.60.0.0", 16), s.paths), "");
  std::mt19937 rng(20240611);
  constexpr unsigned kFlows = 3000;
  std::map<Path, unsigned> count;
  std::set<uint16_t> sports;
  for (unsigned sent = 0; sent < kFlows;) {
    for (unsigned k = 0; k < 500; ++k, ++sent) {
      uint16_t sport;
      do sport = static_cast<uint16_t>(1024 + rng() % 60000);
      while (!sports.insert(sport).second);
      r().send(kP0, flow(sent, sport, static_cast<uint16_t>(rng())));
    }
    r().run();
    for (const auto& [port, path] : paths_taken(r(), src_port_of)) ++count[path];
  }
  unsigned total = 0;
  for (const auto& [path, n] : count) total += n;
  EXPECT_EQ(total, kFlows);
  EXPECT_EQ(count.size(), s.shares.size()) << "paths used";
  for (const auto& [path, share] : s.shares) {
    const double got = static_cast<double>(count[path]) / kFlows;
    EXPECT_NEAR(got, share, 0.04) << "port " << path.first << " MAC "
                                  << MacAddr::from_packed(path.second).str();
  }
  expect_drops({});
}

const Path kViaG1{kP1, kG1.packed()}, kViaG2{kP2, kG2.packed()}, kViaH1{kP1, kH1.packed()};

INSTANTIATE_TEST_SUITE_P(
    Multipath, MultipathSpread,
    ::testing::Values(
        Spread{"two_equal", {via("10.2.0.254"), via("10.3.0.254")}, {{kViaG1, 0.5}, {kViaG2, 0.5}}},
        Spread{"weights_1_2",
               {via("10.2.0.254", 1), via("10.3.0.254", 2)},
               {{kViaG1, 1.0 / 3}, {kViaG2, 2.0 / 3}}},
        Spread{"three_equal",
               {via("10.2.0.254"), via("10.3.0.254"), via("10.2.0.2")},
               {{kViaG1, 1.0 / 3}, {kViaG2, 1.0 / 3}, {kViaH1, 1.0 / 3}}},
        Spread{"three_weighted_1_2_5",
               {via("10.2.0.254", 1), via("10.3.0.254", 2), via("10.2.0.2", 5)},
               {{kViaG1, 1.0 / 8}, {kViaG2, 2.0 / 8}, {kViaH1, 5.0 / 8}}},
        // 300 in all: more than 64 slots, so the shares are rounded (4, 21, 39 of 64).
        Spread{"weights_beyond_the_slots",
               {via("10.2.0.254", 20), via("10.3.0.254", 100), via("10.2.0.2", 180)},
               {{kViaG1, 4.0 / 64}, {kViaG2, 21.0 / 64}, {kViaH1, 39.0 / 64}}}),
    [](const ::testing::TestParamInfo<Spread>& i) { return i.param.name; });

TEST_F(PacketTest, MultipathFlowAlwaysTakesTheSamePath) {
  ASSERT_EQ(r().dp().state().replace_route(pfx("10.60.0.0", 16),
                                           {via("10.2.0.254"), via("10.3.0.254"), via("10.2.0.2")}),
            "");
  // 200 flows, each sent three times with other IDs, TTLs and lengths, in three rounds.
  std::map<uint32_t, Path> first;
  for (unsigned round = 0; round < 3; ++round) {
    for (uint16_t f = 0; f < 200; ++f)
      r().send(kP0, flow(f, static_cast<uint16_t>(2000 + f), 443)
                        .id(static_cast<uint16_t>(round * 1000 + f))
                        .ttl(static_cast<uint8_t>(64 - round))
                        .payload(16 + 100 * round));
    r().run();
    const auto got = paths_taken(r(), src_port_of);
    ASSERT_EQ(got.size(), 200u);
    if (round == 0) {
      first = got;
      std::set<Path> used;
      for (const auto& [f, p] : got) used.insert(p);
      EXPECT_EQ(used.size(), 3u) << "200 flows should use every path";
    } else {
      EXPECT_EQ(got, first) << "round " << round;
    }
  }
  expect_drops({});
}

TEST_F(PacketTest, MultipathFragmentsOfADatagramStayOnOnePath) {
  ASSERT_EQ(
      r().dp().state().replace_route(pfx("10.60.0.0", 16), {via("10.2.0.254"), via("10.3.0.254")}),
      "");
  // Datagram n: to 10.60.n/256.n%256, ID n. The first fragment carries the UDP ports, the
  // second does not; both must leave the same way, and different datagrams must spread.
  std::map<uint32_t, Path> firsts, seconds;
  for (unsigned base = 0; base < 400; base += 200) {
    for (unsigned n = base; n < base + 200; ++n) {
      const std::string dst = "10.60." + std::to_string(n / 256) + "." + std::to_string(n % 256);
      const Frame whole = Frame()
                              .eth(kH0, kRouterMac[0])
                              .ip4("10.1.0.2", dst)
                              .id(static_cast<uint16_t>(n))
                              .udp(static_cast<uint16_t>(5000 + n), 53);
      r().send(kP0, Frame(whole).mf().payload(1000));
      // No UDP header in a later fragment: whatever sits where ports would be is payload.
      r().send(kP0, Frame()
                        .eth(kH0, kRouterMac[0])
                        .ip4("10.1.0.2", dst)
                        .id(static_cast<uint16_t>(n))
                        .protocol(17)
                        .offset(1008)
                        .payload(200));
    }
    r().run();
    const auto all = r().received_all();
    for (uint16_t p = 0; p < all.size(); ++p)
      for (const Bytes& b : all[p]) {
        const bool more = (b[20] & 0x20) != 0;
        (more ? firsts : seconds)[ip_id_of(b)] = {p, dst_mac_of(b).packed()};
      }
  }
  ASSERT_EQ(firsts.size(), 400u);
  ASSERT_EQ(seconds.size(), 400u);
  EXPECT_EQ(firsts, seconds);
  std::set<Path> used;
  for (const auto& [id, p] : firsts) used.insert(p);
  EXPECT_EQ(used.size(), 2u);
  expect_drops({});
}

TEST_F(PacketTest, MultipathUnresolvedMemberAsksForItsOwnGateway) {
  ASSERT_EQ(
      r().dp().state().replace_route(pfx("10.60.0.0", 16), {via("10.2.0.254"), via("10.2.0.77")}),
      "");
  // Flows one at a time until one is held for 10.2.0.77: the router asks for the member's
  // gateway (not the destination, not the other member), and the others go out via g1.
  std::vector<Frame> held;
  unsigned via_g1 = 0;
  for (uint16_t f = 0; f < 40 && held.empty(); ++f) {
    const Frame in = flow(f, static_cast<uint16_t>(3000 + f), 80);
    r().send(kP0, in);
    r().run();
    const std::vector<Bytes> out = r().received(kP1);
    ASSERT_EQ(out.size(), 1u);
    if (SameFrame(forwarded(in, kRouterMac[1], kG1).bytes(), out[0])) {
      ++via_g1;
    } else {
      EXPECT_TRUE(SameFrame(arp_request_from_router(kP1, kR1, "10.2.0.77").bytes(), out[0]));
      held.push_back(in);
    }
  }
  ASSERT_EQ(held.size(), 1u) << "no flow took the unresolved member in 40";
  EXPECT_EQ(r().neighbour().held, 1u);
  const Frame reply =
      Frame().eth(kStranger, kRouterMac[1]).arp_reply(kStranger, "10.2.0.77", kRouterMac[1], kR1);
  expect(kP1, reply, {{kP1, forwarded(held[0], kRouterMac[1], kStranger)}});
  // Resolved: the same flow now goes straight to the member.
  const Frame again = Frame(held[0]).id(77);
  expect(kP0, again, {{kP1, forwarded(again, kRouterMac[1], kStranger)}});
}

TEST_F(PacketTest, MultipathMemberBehindADownPortGivesWay) {
  ASSERT_EQ(
      r().dp().state().replace_route(pfx("10.60.0.0", 16), {via("10.2.0.254"), via("10.3.0.254")}),
      "");
  r().dp().state().mutable_port(kP1).up.store(false);
  for (uint16_t f = 0; f < 100; ++f) r().send(kP0, flow(f, static_cast<uint16_t>(7000 + f), 80));
  r().run();
  const auto all = r().received_all();
  EXPECT_EQ(all[kP1].size(), 0u);
  EXPECT_EQ(all[kP2].size(), 100u);
  expect_drops({});
  // Both down: the flow's own choice stands, and ip4-forward drops it.
  r().dp().state().mutable_port(kP2).up.store(false);
  expect(kP0, flow(1, 7001, 80), {}, {{"drop-ip4-port-down", 1}});
}

TEST_F(PacketTest, MultipathReplacedBySinglePathAndBackAndDeleted) {
  ForwardingState& fs = r().dp().state();
  const ForwardingState::Counters start = fs.counters();
  const Prefix p = pfx("10.60.0.0", 16);
  const Frame in = flow(0, 4242, 80);  // from h0, so the ICMP error below has a way back
  auto path_of = [&]() {
    r().send(kP0, in);
    r().run();
    const auto got = paths_taken(r(), src_port_of);
    return got.empty() ? Path{} : got.begin()->second;
  };
  ASSERT_EQ(fs.replace_route(p, {via("10.2.0.254"), via("10.3.0.254")}), "");
  const Path multi = path_of();
  EXPECT_TRUE(multi == kViaG1 || multi == kViaG2);
  EXPECT_EQ(fs.counters().groups, start.groups + 1);

  ASSERT_EQ(fs.replace_route(p, {via("10.2.0.2")}), "");  // one path: an ordinary route
  EXPECT_EQ(path_of(), kViaH1);
  EXPECT_EQ(fs.counters().groups, start.groups);
  EXPECT_EQ(fs.route(p)->paths.size(), 1u);

  ASSERT_EQ(fs.replace_route(p, {via("10.2.0.254"), via("10.3.0.254")}), "");
  EXPECT_EQ(path_of(), multi) << "the same group again, the same choice";

  ASSERT_EQ(fs.del_route(p), "");
  expect(kP0, in, {{kP0, icmp_error_about(in, kRouterMac[0], kH0, kR0, "10.1.0.2", 3, 0)}});
  EXPECT_EQ(fs.counters().next_hops, start.next_hops);
  EXPECT_EQ(fs.counters().groups, start.groups);
}

TEST_F(PacketTest, MultipathRoutesWithTheSamePathsShareAGroup) {
  ForwardingState& fs = r().dp().state();
  const ForwardingState::Counters start = fs.counters();
  // The order of the paths does not matter; weights do.
  ASSERT_EQ(fs.replace_route(pfx("10.60.0.0", 16), {via("10.2.0.254"), via("10.3.0.254")}), "");
  ASSERT_EQ(fs.replace_route(pfx("10.61.0.0", 16), {via("10.3.0.254"), via("10.2.0.254")}), "");
  EXPECT_EQ(fs.counters().groups, start.groups + 1);
  EXPECT_EQ(fs.counters().next_hops, start.next_hops + 1);  // the group's own next hop
  ASSERT_EQ(fs.replace_route(pfx("10.62.0.0", 16), {via("10.3.0.254", 2), via("10.2.0.254")}), "");
  EXPECT_EQ(fs.counters().groups, start.groups + 2);
  for (const char* a : {"10.60.0.0", "10.61.0.0", "10.62.0.0"})
    ASSERT_EQ(fs.del_route(pfx(a, 16)), "");
  EXPECT_EQ(fs.counters().next_hops, start.next_hops);
}

TEST_F(PacketTest, MultipathRouteErrors) {
  ForwardingState& fs = r().dp().state();
  const ForwardingState::Counters start = fs.counters();
  const Prefix p = pfx("10.60.0.0", 16);
  RouteTarget hole;
  hole.kind = NextHopKind::kBlackhole;
  EXPECT_NE(fs.replace_route(p, std::vector<RouteTarget>{}), "");
  EXPECT_NE(fs.replace_route(p, {via("10.2.0.254"), hole}), "");
  EXPECT_NE(fs.replace_route(p, {via("10.2.0.254"), via("10.3.0.254", 0)}), "");
  EXPECT_NE(fs.replace_route(p, {via("10.2.0.254"), via("10.99.0.1")}), "");  // not on link
  EXPECT_NE(fs.replace_route(p, {via("10.2.0.254"), via(kR2)}), "");          // our address
  EXPECT_FALSE(fs.route(p));
  EXPECT_EQ(fs.counters().next_hops, start.next_hops);
  EXPECT_EQ(fs.counters().groups, start.groups);
}

// Many multipath routes with distinct paths, added and removed, more than the group table
// holds in all: every next hop and group comes back, and released groups are reused.
TEST_F(PacketTest, MultipathChurnLeaksNothing) {
  ForwardingState& fs = r().dp().state();
  const ForwardingState::Counters start = fs.counters();
  auto paths = [](unsigned i) {
    const std::string a = "10.2.0." + std::to_string(10 + i % 200);
    const std::string b = "10.3.0." + std::to_string(10 + i / 200 % 200);
    return std::vector<RouteTarget>{via(a.c_str()),
                                    via(b.c_str(), static_cast<uint8_t>(1 + i % 3))};
  };
  auto prefix = [](unsigned i) {
    return *Prefix::make(Ipv4Addr::from_host((100u << 24) + (i << 8)), 24);
  };
  for (unsigned round = 0; round < 3; ++round) {
    for (unsigned i = 0; i < 4096; ++i)
      ASSERT_EQ(fs.replace_route(prefix(i), paths(i + round * 4096)), "") << i;
    EXPECT_EQ(fs.counters().groups, start.groups + 4096);
    EXPECT_NE(fs.replace_route(pfx("10.60.0.0", 16), {via("10.2.0.5"), via("10.3.0.5")}), "")
        << "the group table holds 4096";
    std::vector<std::string> report;
    EXPECT_EQ(fs.fib_mismatches(5, &report), 0u) << (report.empty() ? "" : report[0]);
    for (unsigned i = 0; i < 4096; ++i) ASSERT_EQ(fs.del_route(prefix(i)), "");
    EXPECT_EQ(fs.counters().next_hops, start.next_hops);
    EXPECT_EQ(fs.counters().groups, start.groups);
  }
  // Replacing one multipath route by another, many times over.
  for (unsigned i = 0; i < 10000; ++i) ASSERT_EQ(fs.replace_route(prefix(0), paths(i)), "");
  ASSERT_EQ(fs.del_route(prefix(0)), "");
  EXPECT_EQ(fs.counters().next_hops, start.next_hops);
  EXPECT_EQ(fs.counters().groups, start.groups);
}

}  // namespace
}  // namespace sluice::pkt
