// route_table_concurrency_test.cpp — lock-free readers against one writer: a reader thread runs
// lookup_bulk() continuously while the writer churns routes, and every answer must be one the
// table could legitimately give at some instant. Also checks that RouteTable honours its
// GracePeriod hook: retired FIB blocks wait for the hook, and are reclaimed once it allows.
//
// The GracePeriod here is a small QSBR written for the test (the dataplane plugs in DPDK's
// rte_rcu_qsbr, which has the same semantics): a global epoch, and one slot per reader holding
// the epoch the reader last saw at a quiescent state (between bursts).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lpm/grace_period.h"
#include "lpm/route_table.h"
#include "tests/unit/reference_lpm.h"
#include "tests/unit/test_util.h"

namespace sluice::lpm {
namespace {

using test::P;

// Fixed seeds: the same routes, watched addresses and writer operations on every run (thread
// interleavings differ, of course).
constexpr uint64_t kLayoutSeed = 0xc0c0'0000'0001ull;
constexpr uint64_t kWriterSeed = 0xc0c0'0000'0002ull;

// Writer operations in the plain build; a quarter of them under sanitizers.
constexpr size_t kWriterOps = 200'000;

class TestQsbr final : public GracePeriod {
 public:
  static constexpr size_t kMaxReaders = 4;

  // Called before the reader thread starts: the slot is online from the current epoch.
  size_t register_reader() {
    const size_t i = readers_++;
    slots_.at(i).seen.store(epoch_.load());
    return i;
  }
  // Reader side, between bursts: "I hold no pointer into the FIB now".
  void quiescent(size_t slot) { slots_[slot].seen.store(epoch_.load()); }
  // Reader side, when it stops reading for good.
  void offline(size_t slot) { slots_[slot].seen.store(kOffline); }

  uint64_t start() override {
    starts_.fetch_add(1, std::memory_order_relaxed);
    return epoch_.fetch_add(1) + 1;
  }

  bool check(uint64_t token, bool wait) override {
    checks_.fetch_add(1, std::memory_order_relaxed);
    if (token == 0 || token > epoch_.load()) bad_tokens_.fetch_add(1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (size_t i = 0; i < readers_; ++i) {
      while (slots_[i].seen.load() < token) {
        if (!wait) return false;
        if (std::chrono::steady_clock::now() > deadline) {
          // Better a clear abort than a test that hangs until meson's timeout.
          std::fprintf(stderr, "TestQsbr: reader %zu stuck before epoch %llu\n", i,
                       static_cast<unsigned long long>(token));
          std::abort();
        }
        std::this_thread::yield();
      }
    }
    return true;
  }

  uint64_t starts() const { return starts_.load(); }
  uint64_t checks() const { return checks_.load(); }
  uint64_t bad_tokens() const { return bad_tokens_.load(); }

 private:
  static constexpr uint64_t kOffline = UINT64_MAX;
  struct alignas(64) Slot {
    std::atomic<uint64_t> seen{kOffline};
  };
  std::atomic<uint64_t> epoch_{0};
  std::array<Slot, kMaxReaders> slots_;
  size_t readers_ = 0;  // only changed before the readers start
  std::atomic<uint64_t> starts_{0}, checks_{0}, bad_tokens_{0};
};

// A route in the churn test: static (never changes), toggled between two next hops with
// replace() ("AB"), or toggled between present with next hop X and absent ("XY", where Y is
// whatever covers it).
struct ChurnRoute {
  enum Kind { kStatic, kAB, kXY } kind;
  Prefix prefix;
  NextHop a, b;  // static: a; AB: a or b; XY: a when present
  bool present;  // XY only, the writer's view
  bool use_a;    // AB only, the writer's view
};

// All answers lookup(addr) may give at any instant while the routes churn: walk the routes
// covering addr from the longest; an XY route may be absent so the next one also counts, an AB
// or static route is always present and hides everything shorter. Nothing left: kNoRoute.
std::vector<NextHop> allowed_answers(const std::vector<ChurnRoute>& routes, Ipv4Addr addr) {
  std::vector<const ChurnRoute*> covering;
  for (const ChurnRoute& r : routes) {
    if (r.prefix.contains(addr)) covering.push_back(&r);
  }
  std::sort(covering.begin(), covering.end(), [](const ChurnRoute* x, const ChurnRoute* y) {
    return x->prefix.len() > y->prefix.len();
  });
  std::vector<NextHop> ok;
  for (const ChurnRoute* r : covering) {
    ok.push_back(r->a);
    if (r->kind == ChurnRoute::kAB) ok.push_back(r->b);
    if (r->kind != ChurnRoute::kXY) return ok;
  }
  ok.push_back(kNoRoute);
  return ok;
}

Prefix pfx(uint32_t addr, unsigned len) {
  return *Prefix::make(Ipv4Addr::from_host(addr & Prefix::mask_of(len)), len);
}

// The layout: 10.0.0.0/8 static underneath; short toggles (<= /18) over chunks full of static
// long routes; long toggles (/19../32) among static long routes and inside short toggles; a /0
// toggle for everything outside 10/8. Next hops are unique per route so a wrong answer can't
// hide behind a coincidence.
std::vector<ChurnRoute> make_layout() {
  std::mt19937_64 rng(kLayoutSeed);
  std::vector<ChurnRoute> routes;
  std::set<Prefix> used;
  NextHop next_nh = 100;
  auto add = [&](ChurnRoute::Kind kind, Prefix p, bool present) {
    if (!used.insert(p).second) return;  // each prefix has one role
    routes.push_back(ChurnRoute{kind, p, next_nh, next_nh + 1, present, true});
    next_nh += 2;
  };
  add(ChurnRoute::kStatic, P("10.0.0.0/8"), true);
  add(ChurnRoute::kXY, P("default"), false);
  // Short toggles: a /12 (64 chunks), a /16 and an /11 replaced between two next hops, a /18
  // that is exactly one chunk, a /14.
  add(ChurnRoute::kXY, P("10.128.0.0/12"), true);
  add(ChurnRoute::kAB, P("10.96.0.0/16"), true);
  add(ChurnRoute::kAB, P("10.32.0.0/11"), true);
  add(ChurnRoute::kXY, P("10.64.0.0/18"), false);
  add(ChurnRoute::kXY, P("10.200.0.0/14"), true);
  // Chunks full of static long routes, under those short toggles and under plain 10/8.
  const uint32_t chunks[] = {0x0a800000u, 0x0a80c000u, 0x0a8fc000u, 0x0a604000u, 0x0a200000u,
                             0x0a3fc000u, 0x0a400000u, 0x0ac84000u, 0x0a010000u};
  for (uint32_t c : chunks) {
    for (int i = 0; i < 24; ++i) {
      const unsigned len = 19 + unsigned(rng() % 14);
      add(ChurnRoute::kStatic, pfx(c | (uint32_t(rng()) & 0x3fff), len), true);
    }
  }
  // Long toggles in the same chunks (so a rebuild of the chunk must carry the static routes
  // over), some nested in each other.
  for (int i = 0; i < 96; ++i) {
    const uint32_t c = chunks[rng() % std::size(chunks)];
    const unsigned len = 19 + unsigned(rng() % 14);
    const Prefix p = pfx(c | (uint32_t(rng()) & 0x3fff), len);
    add(i % 3 == 0 ? ChurnRoute::kAB : ChurnRoute::kXY, p, rng() % 2 == 0);
  }
  return routes;
}

struct Watch {
  Ipv4Addr addr;
  std::vector<NextHop> ok;
};

std::vector<Watch> make_watch(const std::vector<ChurnRoute>& routes) {
  std::mt19937_64 rng(kLayoutSeed + 1);
  std::vector<Ipv4Addr> addrs;
  for (const ChurnRoute& r : routes) {
    const Prefix p = r.prefix;
    for (Ipv4Addr a :
         {p.first(), p.last(), test::addr_plus(p.first(), -1), test::addr_plus(p.last(), 1),
          test::random_in(p, rng), test::random_in(p, rng)}) {
      addrs.push_back(a);
    }
  }
  for (int i = 0; i < 256; ++i) addrs.push_back(Ipv4Addr::from_host(uint32_t(rng())));
  std::vector<Watch> w;
  for (Ipv4Addr a : addrs) w.push_back(Watch{a, allowed_answers(routes, a)});
  return w;
}

class Reader {
 public:
  Reader(const RouteTable& t, TestQsbr& q, const std::vector<Watch>& w)
      : table_(t), qsbr_(q), watch_(w), slot_(q.register_reader()) {}

  void run() {
    std::vector<Ipv4Addr> addrs(watch_.size());
    for (size_t i = 0; i < watch_.size(); ++i) addrs[i] = watch_[i].addr;
    NextHop out[64];
    size_t single = 0;
    while (!stop_.load(std::memory_order_relaxed)) {
      for (size_t i = 0; i < addrs.size(); i += 64) {
        const size_t n = std::min<size_t>(64, addrs.size() - i);
        table_.lookup_bulk(&addrs[i], out, n);
        for (size_t k = 0; k < n; ++k) verify(watch_[i + k], out[k], "lookup_bulk");
        // And one plain lookup() per burst, walking through the watched addresses.
        single = (single + 7) % addrs.size();
        verify(watch_[single], table_.lookup(addrs[single]), "lookup");
        lookups_.fetch_add(n + 1, std::memory_order_relaxed);
        qsbr_.quiescent(slot_);
      }
      passes_.fetch_add(1, std::memory_order_release);
    }
    qsbr_.offline(slot_);
  }

  void stop() { stop_.store(true); }
  uint64_t lookups() const { return lookups_.load(std::memory_order_relaxed); }
  uint64_t passes() const { return passes_.load(std::memory_order_acquire); }
  uint64_t garbage() const { return garbage_.load(); }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }

 private:
  void verify(const Watch& w, NextHop got, const char* how) {
    if (std::find(w.ok.begin(), w.ok.end(), got) != w.ok.end()) return;
    if (garbage_.fetch_add(1) < 10) {
      // ostringstream, not string operator+: g++ 12 has a false -Wrestrict on the latter.
      std::ostringstream m;
      m << how << "(" << w.addr.str() << ") = " << got << ", allowed:";
      for (NextHop nh : w.ok) m << " " << nh;
      std::lock_guard<std::mutex> lock(mu_);
      messages_.push_back(m.str());
    }
  }

  const RouteTable& table_;
  TestQsbr& qsbr_;
  const std::vector<Watch>& watch_;
  const size_t slot_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> lookups_{0}, passes_{0}, garbage_{0};
  std::mutex mu_;
  std::vector<std::string> messages_;
};

TEST(RouteTableConcurrency, ReaderSeesOnlyLegalAnswersWhileWriterChurns) {
  std::vector<ChurnRoute> routes = make_layout();
  const std::vector<Watch> watch = make_watch(routes);
  size_t n_short = 0, n_long = 0;
  for (const ChurnRoute& r : routes) {
    if (r.kind == ChurnRoute::kStatic) continue;
    (r.prefix.len() <= 18 ? n_short : n_long)++;
  }
  ASSERT_GE(n_short, 5u);
  ASSERT_GE(n_long, 60u);

  TestQsbr qsbr;
  RouteTable::Config cfg;
  cfg.grace = &qsbr;
  RouteTable table(cfg);
  test::ReferenceLpm ref;  // the writer's expectation of the final state
  for (const ChurnRoute& r : routes) {
    const bool in = r.kind != ChurnRoute::kXY || r.present;
    if (!in) continue;
    ASSERT_EQ(table.insert(r.prefix, r.a), Status::ok) << r.prefix.str();
    ref.insert(r.prefix, r.a);
  }
  // Before any churn the answers are the static ones: a sanity check of the allowed sets.
  for (const Watch& w : watch) {
    ASSERT_NE(std::find(w.ok.begin(), w.ok.end(), table.lookup(w.addr)), w.ok.end())
        << w.addr.str();
  }

  Reader reader(table, qsbr, watch);
  std::thread th([&] { reader.run(); });
  // Start writing only once the reader is demonstrably reading.
  while (reader.passes() == 0) std::this_thread::yield();
  const uint64_t lookups_before = reader.lookups();

  std::mt19937_64 rng(kWriterSeed);
  const size_t ops = test::scaled(kWriterOps, 4);
  size_t retired_max = 0, failures = 0;
  std::vector<size_t> toggles;  // indices of the non-static routes; routes[1] is the /0
  for (size_t i = 0; i < routes.size(); ++i) {
    if (routes[i].kind != ChurnRoute::kStatic) toggles.push_back(i);
  }
  ASSERT_EQ(routes[toggles[0]].prefix, P("default"));
  for (size_t op = 0; op < ops && failures == 0; ++op) {
    // The /0 toggle rewrites the whole direct array: only every 256th op, not at random.
    ChurnRoute& r =
        routes[op % 256 == 255 ? toggles[0] : toggles[1 + rng() % (toggles.size() - 1)]];
    Status st;
    if (r.kind == ChurnRoute::kAB) {
      r.use_a = !r.use_a;
      st = table.replace(r.prefix, r.use_a ? r.a : r.b);
      ref.replace(r.prefix, r.use_a ? r.a : r.b);
    } else if (r.present) {
      st = table.remove(r.prefix);
      ref.remove(r.prefix);
      r.present = false;
    } else {
      st = table.insert(r.prefix, r.a);
      ref.insert(r.prefix, r.a);
      r.present = true;
    }
    if (st != Status::ok) {
      ADD_FAILURE() << "op " << op << " on " << r.prefix.str() << ": " << to_string(st);
      ++failures;
    }
    if (op % 1024 == 0) retired_max = std::max(retired_max, table.stats().retired_blocks);
  }
  const uint64_t lookups_during = reader.lookups() - lookups_before;
  reader.stop();
  th.join();

  for (const std::string& m : reader.messages()) ADD_FAILURE() << "reader saw " << m;
  EXPECT_EQ(reader.garbage(), 0u) << "answers outside the allowed set";
  EXPECT_GT(lookups_during, 0u) << "the reader never ran while the writer did";
  std::printf("[          ] %zu writer ops, %llu lookups during them, %zu retired blocks at most\n",
              ops, static_cast<unsigned long long>(lookups_during), retired_max);
  EXPECT_GT(qsbr.starts(), 0u) << "updates never asked the GracePeriod for a token";
  EXPECT_GT(qsbr.checks(), 0u) << "retired blocks were never checked against the GracePeriod";
  EXPECT_EQ(qsbr.bad_tokens(), 0u) << "check() called with a token start() never gave";

  // The reader is offline now: every grace period can end, so everything retired is recycled.
  table.reclaim(true);
  EXPECT_EQ(table.stats().retired_blocks, 0u);
  // And the final state is exactly what the writer left.
  EXPECT_EQ(table.size(), ref.size());
  for (const Watch& w : watch) ASSERT_EQ(table.lookup(w.addr), ref.lookup(w.addr)) << w.addr.str();
  EXPECT_EQ(table.routes(), ref.routes());
}

// A GracePeriod that never ends until opened: nothing retired may be recycled before then.
class Gate final : public GracePeriod {
 public:
  uint64_t start() override { return ++epoch_; }
  bool check(uint64_t token, bool wait) override {
    ++checks_;
    if (token == 0 || token > epoch_) ++bad_tokens_;
    if (open_) return true;
    if (wait) ++waits_while_closed_;  // would block forever; the test reports it instead
    return false;
  }
  bool open_ = false;
  uint64_t epoch_ = 0, checks_ = 0, bad_tokens_ = 0, waits_while_closed_ = 0;
};

TEST(RouteTableConcurrency, RetiredBlocksWaitForTheGracePeriod) {
  Gate gate;
  RouteTable::Config cfg;
  cfg.grace = &gate;
  RouteTable table(cfg);
  // One chunk with a few long routes, so every change rebuilds trie nodes.
  for (const char* s : {"192.0.2.0/24", "192.0.2.64/26", "192.0.2.7/32", "192.0.3.0/25"}) {
    ASSERT_EQ(table.insert(P(s), 1), Status::ok);
  }
  ASSERT_GT(table.stats().nodes_used, 0u);
  ASSERT_EQ(table.replace(P("192.0.2.64/26"), 11), Status::ok);
  size_t prev = table.stats().retired_blocks;
  const size_t first = prev;
  for (NextHop i = 0; i < 200; ++i) {
    ASSERT_EQ(table.replace(P("192.0.2.64/26"), 10 + i % 2), Status::ok);
    ASSERT_EQ(table.lookup(test::A("192.0.2.65")), 10 + i % 2);
    const size_t now = table.stats().retired_blocks;
    ASSERT_GE(now, prev) << "update " << i << ": retired blocks recycled although check() said no";
    prev = now;
  }
  // Every update replaced at least one block of the chunk, and none of them came back.
  EXPECT_GE(prev - first, 200u);
  // A short route over the chunk changes its default leaves too.
  ASSERT_EQ(table.insert(P("192.0.0.0/16"), 2), Status::ok);
  prev = table.stats().retired_blocks;
  table.reclaim(false);
  EXPECT_EQ(table.stats().retired_blocks, prev) << "reclaimed although check() said no";
  EXPECT_GT(gate.checks_, 0u);
  EXPECT_EQ(gate.waits_while_closed_, 0u) << "an update blocked waiting for the grace period";

  gate.open_ = true;
  table.reclaim(false);
  EXPECT_EQ(table.stats().retired_blocks, 0u) << "grace period over, blocks not recycled";
  // With the grace period ending at once, retired blocks no longer pile up.
  for (NextHop i = 0; i < 200; ++i) {
    ASSERT_EQ(table.replace(P("192.0.2.64/26"), 20 + i % 2), Status::ok);
  }
  EXPECT_LT(table.stats().retired_blocks, 50u);
  table.reclaim(true);
  EXPECT_EQ(table.stats().retired_blocks, 0u);
  EXPECT_EQ(gate.bad_tokens_, 0u) << "check() called with a token start() never gave";
  EXPECT_EQ(table.lookup(test::A("192.0.2.65")), 21u);
  EXPECT_EQ(table.lookup(test::A("192.0.2.7")), 1u);
  EXPECT_EQ(table.lookup(test::A("192.0.9.9")), 2u);
  // Once recycled, the FIB is as small as a fresh table holding the same routes: the retired
  // blocks really went back (they may count as used while they wait, that is fine).
  RouteTable fresh;
  for (const Route& r : table.routes()) ASSERT_EQ(fresh.insert(r.prefix, r.nh), Status::ok);
  EXPECT_EQ(table.stats().nodes_used, fresh.stats().nodes_used);
  EXPECT_EQ(table.stats().leaves_used, fresh.stats().leaves_used);
}

TEST(RouteTableConcurrency, WithoutGracePeriodBlocksAreRecycledAtOnce) {
  RouteTable table;  // Config::grace == nullptr: no concurrent readers
  for (const char* s : {"192.0.2.0/24", "192.0.2.64/26", "192.0.2.7/32"}) {
    ASSERT_EQ(table.insert(P(s), 1), Status::ok);
  }
  // Next hops 10 and 11 give the chunk the same shape (unlike 1, which merges with the /24).
  ASSERT_EQ(table.replace(P("192.0.2.64/26"), 11), Status::ok);
  const size_t nodes = table.stats().nodes_used;
  const size_t leaves = table.stats().leaves_used;
  for (NextHop i = 0; i < 1000; ++i) {
    ASSERT_EQ(table.replace(P("192.0.2.64/26"), 10 + i % 2), Status::ok);
    ASSERT_EQ(table.stats().retired_blocks, 0u);
  }
  // Same shape, same usage: rebuilding does not leak blocks.
  EXPECT_EQ(table.stats().nodes_used, nodes);
  EXPECT_EQ(table.stats().leaves_used, leaves);
}

}  // namespace
}  // namespace sluice::lpm
