// route_views_test.cpp — the write side's read views (what `sluice route`, `sluice neigh` and
// `sluice route check` show), addresses without a prefix route, and update batches: one
// grace period per batch, and nothing retired during a batch recycled before it has passed.
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "lpm/route_file.h"
#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

using Origin = RouteView::Origin;

RouteTarget via(const char* gw, uint8_t weight = 1) {
  RouteTarget t;
  t.gateway = addr(gw);
  t.weight = weight;
  return t;
}

TEST_F(PacketTest, RouteViewsShowWhatIsInstalled) {
  ForwardingState& fs = r().dp().state();
  ASSERT_EQ(fs.replace_route(pfx("10.60.0.0", 16), {via("10.2.0.254", 1), via("10.3.0.254", 2)}),
            "");
  std::vector<RouteView> all;
  fs.for_each_route([&](const RouteView& v) { all.push_back(v); });
  ASSERT_FALSE(all.empty());
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].prefix, all[i].prefix) << i;
  EXPECT_EQ(all.size(), fs.routes().size());

  const auto connected = fs.route(pfx("10.2.0.0", 24));
  ASSERT_TRUE(connected);
  EXPECT_EQ(connected->origin, Origin::kConnected);
  ASSERT_EQ(connected->paths.size(), 1u);
  EXPECT_EQ(connected->paths[0].port, kP1);
  EXPECT_EQ(connected->paths[0].gateway, Ipv4Addr());

  const auto local = fs.route(pfx(kR1, 32));
  ASSERT_TRUE(local);
  EXPECT_EQ(local->origin, Origin::kLocal);
  EXPECT_EQ(local->paths[0].kind, NextHopKind::kLocal);

  const auto neighbour = fs.route(pfx("10.2.0.2", 32));  // a static neighbour's host route
  ASSERT_TRUE(neighbour);
  EXPECT_EQ(neighbour->origin, Origin::kNeighbour);
  EXPECT_TRUE(neighbour->paths[0].resolved);
  EXPECT_EQ(neighbour->paths[0].mac, kH1);

  const auto user = fs.route(pfx("10.20.0.0", 16));
  ASSERT_TRUE(user);
  EXPECT_EQ(user->origin, Origin::kUser);
  EXPECT_EQ(user->paths[0].gateway, addr("10.2.0.254"));
  EXPECT_EQ(user->paths[0].mac, kG1);

  const auto hole = fs.route(pfx("10.30.0.0", 16));
  ASSERT_TRUE(hole);
  EXPECT_EQ(hole->paths[0].kind, NextHopKind::kBlackhole);

  const auto multi = fs.route(pfx("10.60.0.0", 16));
  ASSERT_TRUE(multi);
  ASSERT_EQ(multi->paths.size(), 2u);
  std::map<uint32_t, uint8_t> weights;
  for (const PathView& p : multi->paths) {
    EXPECT_EQ(p.kind, NextHopKind::kForward);
    EXPECT_TRUE(p.resolved);
    weights[p.gateway.host()] = p.weight;
  }
  EXPECT_EQ(weights[addr("10.2.0.254").host()], 1);
  EXPECT_EQ(weights[addr("10.3.0.254").host()], 2);

  EXPECT_FALSE(fs.route(pfx("10.20.0.0", 17)));
  const auto got = fs.lookup_route(addr("10.20.30.9"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->prefix, pfx("10.20.30.0", 24));
  EXPECT_EQ(fs.lookup_route(addr("10.20.31.9"))->prefix, pfx("10.20.0.0", 16));
  EXPECT_FALSE(fs.lookup_route(addr("8.8.8.8")));

  const std::vector<NeighbourView> n = fs.neighbours();
  ASSERT_EQ(n.size(), 5u);
  EXPECT_EQ(n[0].port, kP0);
  EXPECT_EQ(n[0].ip, addr("10.1.0.2"));
  EXPECT_EQ(n[0].mac, kH0);

  std::vector<std::string> report;
  EXPECT_EQ(fs.fib_mismatches(10, &report), 0u) << (report.empty() ? "" : report[0]);
}

TEST_F(PacketTest, AddressWithoutPrefixRoute) {
  ForwardingState& fs = r().dp().state();
  ASSERT_EQ(fs.add_address(kP2, addr("10.9.0.1"), 24, false), "");
  EXPECT_TRUE(fs.is_local(addr("10.9.0.1")));
  EXPECT_FALSE(fs.route(pfx("10.9.0.0", 24))) << "no connected route";
  EXPECT_TRUE(fs.route(pfx("10.9.0.255", 32))) << "its broadcast address is still not forwarded";
  // Nothing routes to the subnet yet: network unreachable.
  const Frame in = Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.9.0.7").udp(1, 2).payload(8);
  expect(kP0, in, {{kP0, icmp_error_about(in, kRouterMac[0], kH0, kR0, "10.1.0.2", 3, 0)}});
  // The mirror installs the kernel's own route for it, as a user route; deleting the address
  // leaves that route alone.
  RouteTarget dev;
  dev.port = kP2;
  ASSERT_EQ(fs.replace_route(pfx("10.9.0.0", 24), dev), "");
  const Frame ping =
      Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.9.0.1").icmp_echo(1, 1).payload(8);
  expect(kP0, ping,
         {{kP0, Frame()
                    .eth(kRouterMac[0], kH0)
                    .ip4("10.9.0.1", "10.1.0.2")
                    .icmp_echo_reply(1, 1)
                    .payload(8)}});
  ASSERT_EQ(fs.del_address(kP2, addr("10.9.0.1"), 24), "");
  const auto kept = fs.route(pfx("10.9.0.0", 24));
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->origin, Origin::kUser);
  EXPECT_FALSE(fs.route(pfx("10.9.0.255", 32)));
  EXPECT_FALSE(fs.is_local(addr("10.9.0.1")));
  ASSERT_EQ(fs.del_route(pfx("10.9.0.0", 24)), "");

  // The default still installs the connected route, and removes it with the address.
  ASSERT_EQ(fs.add_address(kP2, addr("10.9.0.1"), 24), "");
  EXPECT_EQ(fs.route(pfx("10.9.0.0", 24))->origin, Origin::kConnected);
  // A second, noprefixroute address on the subnet: the connected route stays while the
  // address that wanted it is there, and goes with it.
  ASSERT_EQ(fs.add_address(kP2, addr("10.9.0.2"), 24, false), "");
  ASSERT_EQ(fs.del_address(kP2, addr("10.9.0.1"), 24), "");
  EXPECT_FALSE(fs.route(pfx("10.9.0.0", 24)));
  EXPECT_TRUE(fs.route(pfx("10.9.0.255", 32))) << "10.9.0.2 is still on the subnet";
  ASSERT_EQ(fs.del_address(kP2, addr("10.9.0.2"), 24), "");
  EXPECT_FALSE(fs.route(pfx("10.9.0.255", 32)));
}

// A grace period whose end the test decides: token t has ended once t <= ended.
class ManualGrace final : public lpm::GracePeriod {
 public:
  uint64_t start() override { return ++last; }
  bool check(uint64_t token, bool) override { return token <= ended; }
  uint64_t last = 0, ended = 0;
};

std::unique_ptr<ForwardingState> bare_state(lpm::GracePeriod* grace) {
  ForwardingState::Config cfg;
  cfg.grace = grace;
  auto fs = std::make_unique<ForwardingState>(cfg);
  fs->add_port("a", 0, MacAddr(), 1500, false);
  fs->add_port("b", 1, MacAddr(), 1500, false);
  EXPECT_EQ(fs->add_address(0, addr("10.1.0.1"), 24), "");
  EXPECT_EQ(fs->add_address(1, addr("10.2.0.1"), 24), "");
  return fs;
}

Prefix nth_long(unsigned i) {  // /24s in one /18 chunk: each change rebuilds and retires it
  return *Prefix::make(Ipv4Addr::from_host((100u << 24) + (i % 64 << 8)), 24);
}

TEST(Batching, OneGracePeriodPerBatchAndNoEarlyRecycling) {
  ManualGrace grace;
  auto fs = bare_state(&grace);
  const uint64_t before = grace.last;
  // Each visit of a prefix flips its gateway, so every update changes the FIB.
  auto gw = [](unsigned i) { return (i / 64 + i) % 2 ? "10.1.0.9" : "10.2.0.9"; };
  for (unsigned i = 0; i < 100; ++i) ASSERT_EQ(fs->replace_route(nth_long(i), via(gw(i))), "");
  EXPECT_GE(grace.last - before, 90u) << "unbatched: a grace period per update";

  grace.ended = grace.last;  // everything so far is free to recycle
  const uint64_t at_batch = grace.last;
  {
    ForwardingState::Batch batch(*fs);
    for (unsigned i = 0; i < 1000; ++i)
      ASSERT_EQ(fs->replace_route(nth_long(i), via(gw(i + 1))), "");
    EXPECT_EQ(grace.last, at_batch) << "no grace period is started inside a batch";
    // Nothing retired in the batch is recycled during it, even though every earlier token
    // has ended: its grace period has not even started.
    EXPECT_GE(fs->routes().stats().retired_blocks, 900u);
  }
  EXPECT_EQ(grace.last, at_batch + 1) << "one grace period for the whole batch";
  const size_t retired = fs->routes().stats().retired_blocks;
  // The batch's token has not ended: an update outside the batch still cannot recycle them.
  ASSERT_EQ(fs->replace_route(pfx("100.1.0.0", 24), via("10.1.0.9")), "");
  EXPECT_GE(fs->routes().stats().retired_blocks, retired);
  // Once it has, they are.
  grace.ended = at_batch + 1;
  ASSERT_EQ(fs->replace_route(pfx("100.1.0.0", 24), via("10.2.0.9")), "");
  EXPECT_LT(fs->routes().stats().retired_blocks, 10u);
  std::vector<std::string> report;
  EXPECT_EQ(fs->fib_mismatches(5, &report), 0u) << (report.empty() ? "" : report[0]);
}

TEST(Batching, MultipathGroupsWaitForTheBatchGracePeriod) {
  ManualGrace grace;
  auto fs = bare_state(&grace);
  const uint64_t before = grace.last;
  {
    ForwardingState::Batch batch(*fs);
    for (unsigned i = 0; i < 50; ++i) {
      const std::string a = "10.1.0." + std::to_string(10 + i),
                        b = "10.2.0." + std::to_string(10 + i);
      ASSERT_EQ(fs->replace_route(nth_long(0), {via(a.c_str()), via(b.c_str())}), "");
    }
    ASSERT_EQ(fs->del_route(nth_long(0)), "");
  }
  EXPECT_EQ(grace.last, before + 1);
  EXPECT_EQ(fs->counters().groups, 0u);
  EXPECT_EQ(fs->counters().groups_retired, 50u) << "released, waiting for the grace period";
  ASSERT_EQ(fs->replace_route(nth_long(1), {via("10.1.0.5"), via("10.2.0.5")}), "");
  EXPECT_EQ(fs->counters().groups_retired, 50u) << "the grace period has not ended";
  grace.ended = grace.last;
  ASSERT_EQ(fs->replace_route(nth_long(2), {via("10.1.0.6"), via("10.2.0.6")}), "");
  EXPECT_EQ(fs->counters().groups_retired, 0u);
  EXPECT_EQ(fs->counters().groups, 2u);
}

// ---- update rate: ForwardingState with a real QSBR domain and one reader online ----
// Run with --gtest_also_run_disabled_tests --gtest_filter='*UpdateRate*' (needs the full
// view, ../shared/data/fullview-prefixes.txt.gz, or SLUICE_FULLVIEW=path).
struct QsbrGrace final : lpm::GracePeriod {
  explicit QsbrGrace(rte_rcu_qsbr* q) : qsbr(q) {}
  uint64_t start() override { return rte_rcu_qsbr_start(qsbr); }
  bool check(uint64_t t, bool wait) override { return rte_rcu_qsbr_check(qsbr, t, wait) == 1; }
  rte_rcu_qsbr* qsbr;
};

double update_rate(const std::vector<Prefix>& prefixes, unsigned batch) {
  const size_t qsz = rte_rcu_qsbr_get_memsize(1);
  auto* qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc("bench-qsbr", qsz, RTE_CACHE_LINE_SIZE));
  EXPECT_NE(qsbr, nullptr);
  rte_rcu_qsbr_init(qsbr, 1);
  QsbrGrace grace(qsbr);
  ForwardingState::Config cfg;
  cfg.grace = &grace;
  ForwardingState fs(cfg);
  fs.add_port("a", 0, MacAddr(), 1500, false);
  fs.add_port("b", 1, MacAddr(), 1500, false);
  fs.add_address(0, addr("192.168.0.1"), 24);
  fs.add_address(1, addr("192.168.1.1"), 24);
  std::vector<RouteTarget> gws(64);
  for (unsigned g = 0; g < 64; ++g)
    gws[g].gateway = Ipv4Addr::from_host((192u << 24 | 168u << 16 | (g % 2) << 8) + 10 + g);

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0};
  std::thread reader([&] {
    rte_rcu_qsbr_thread_register(qsbr, 0);
    rte_rcu_qsbr_thread_online(qsbr, 0);
    uint32_t x = 12345;
    uint64_t n = 0, sink = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64; ++i) {
        x = x * 1664525 + 1013904223;
        sink += fs.routes().lookup(Ipv4Addr::from_host(x));
      }
      n += 64;
      rte_rcu_qsbr_quiescent(qsbr, 0);
    }
    rte_rcu_qsbr_thread_offline(qsbr, 0);
    rte_rcu_qsbr_thread_unregister(qsbr, 0);
    lookups = n + (sink & 1);
  });
  const auto t0 = std::chrono::steady_clock::now();
  size_t i = 0;
  while (i < prefixes.size()) {
    if (batch > 1) fs.begin_batch();
    for (size_t end = std::min(prefixes.size(), i + std::max(batch, 1u)); i < end; ++i)
      fs.replace_route(prefixes[i], gws[lpm::synthetic_next_hop(prefixes[i], 64)]);
    if (batch > 1) fs.end_batch();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  reader.join();
  std::vector<std::string> report;
  EXPECT_EQ(fs.fib_mismatches(5, &report), 0u) << (report.empty() ? "" : report[0]);
  printf(
      "batch %5u: %zu updates in %.3f s = %.0f routes/s, %llu grace periods, reader %.1f M "
      "lookups\n",
      batch, prefixes.size(), s, prefixes.size() / s,
      static_cast<unsigned long long>(fs.grace_periods_started()), lookups.load() / 1e6);
  rte_free(qsbr);
  return prefixes.size() / s;
}

TEST(Batching, DISABLED_UpdateRate) {
  const char* env = getenv("SLUICE_FULLVIEW");
  const std::vector<Prefix> prefixes =
      lpm::read_prefix_file(env ? env : lpm::default_fullview_path());
  ASSERT_GT(prefixes.size(), 800000u);
  const double one = update_rate(prefixes, 1);
  const double batched = update_rate(prefixes, 1000);
  printf("batched / unbatched: %.2f\n", batched / one);
}

}  // namespace
}  // namespace sluice::pkt
