// bridge_fdb_test.cpp — the FDB (dataplane/bridge_fdb.h) on its own: add, lookup, moves, static
// precedence, removal, refusal at capacity, positions reused only after a grace period (a fake
// GracePeriod the test ends by hand), tombstones turning back into empty slots, aging with its
// budget, for_each and remove_if, a reader thread racing the writer, and 200,000 random
// operations checked against a std::map. Here rather than in tests/unit because the table
// lives in DPDK memory (rte_malloc), and this binary initialises EAL.
#include "dataplane/bridge_fdb.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace sluice {
namespace {

constexpr uint64_t kSeed = 0x5eed;  // the hash multiplier's seed: the same layout every run

uint64_t key(uint64_t mac, uint16_t fid) {
  return fdb_key(mac & 0xffffffffffffull, fid);
}

// Grace periods that end when the test says so (or at once when asked to wait).
class FakeGrace final : public lpm::GracePeriod {
 public:
  uint64_t start() override { return ++started_; }
  bool check(uint64_t token, bool wait) override {
    if (wait) ended_ = std::max(ended_, token);
    return token <= ended_;
  }
  void end_all() { ended_ = started_; }
  uint64_t started() const { return started_; }

 private:
  uint64_t started_ = 0, ended_ = 0;
};

uint64_t word_of(const Fdb& f, uint64_t k) {
  const int32_t pos = f.lookup(k);
  return pos < 0 ? 0 : f.slot(pos).word.load() & kFdbValueBits;
}

// Every slot that is neither a live entry nor empty: the tombstones.
uint32_t tombstones(const Fdb& f) {
  uint32_t n = 0;
  for (uint32_t p = 0; p < f.slot_count(); ++p) {
    const uint64_t w = f.slot(static_cast<int32_t>(p)).word.load();
    n += w != 0 && !(w & kFdbValid);
  }
  return n;
}

TEST(BridgeFdb, AddLookupMoveRemove) {
  Fdb f(100, nullptr, kSeed);
  const uint64_t a = key(0x0a0000aa0002, 1);
  EXPECT_EQ(f.lookup(a), -1);
  EXPECT_EQ(f.learn(a, 3, 100), Fdb::Learned::kAdded);
  const int32_t pos = f.lookup(a);
  ASSERT_GE(pos, 0);
  ASSERT_LT(static_cast<uint32_t>(pos), f.slot_count());
  EXPECT_EQ(f.slot(pos).word.load() & kFdbValueBits, kFdbValid | 3);
  EXPECT_EQ(f.slot(pos).seen.load(), 100u);
  EXPECT_EQ(f.size(), 1u);

  EXPECT_EQ(f.learn(a, 3, 105), Fdb::Learned::kRefreshed);
  EXPECT_EQ(f.slot(pos).seen.load(), 105u);
  EXPECT_EQ(f.learn(a, 7, 106), Fdb::Learned::kMoved);
  EXPECT_EQ(f.lookup(a), pos);  // a move is the same position, a new word
  EXPECT_EQ(f.slot(pos).word.load() & kFdbValueBits, kFdbValid | 7);
  EXPECT_EQ(f.size(), 1u);

  // The key is kept in two halves: keys sharing either half, or differing only in the FID,
  // are other keys. So is the all-zero key.
  const uint64_t same_high = a ^ 0x1, same_low = a ^ (uint64_t{1} << 40), other_fid = key(a, 2);
  for (uint64_t k : {same_high, same_low, other_fid, uint64_t{0}}) EXPECT_EQ(f.lookup(k), -1) << k;
  for (uint64_t k : {same_high, same_low, other_fid, uint64_t{0}})
    EXPECT_EQ(f.learn(k, 9, 0), Fdb::Learned::kAdded) << k;
  EXPECT_EQ(f.size(), 5u);
  EXPECT_EQ(word_of(f, a), kFdbValid | 7);
  for (uint64_t k : {same_high, same_low, other_fid, uint64_t{0}})
    EXPECT_EQ(word_of(f, k), kFdbValid | 9) << k;

  // The bulk form agrees with the single one, misses included, over more than one chunk.
  std::vector<uint64_t> keys;
  for (unsigned i = 0; i < 150; ++i) keys.push_back(i % 3 ? key(0x020000000000 + i, 1) : a);
  std::vector<const uint64_t*> ptrs;
  for (const uint64_t& k : keys) ptrs.push_back(&k);
  std::vector<int32_t> got(keys.size(), 12345);
  f.lookup(ptrs.data(), static_cast<unsigned>(keys.size()), got.data());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(got[i], f.lookup(keys[i])) << i;
  EXPECT_EQ(got[0], pos);
  EXPECT_EQ(got[1], -1);

  EXPECT_TRUE(f.remove(a));
  EXPECT_EQ(f.lookup(a), -1);
  EXPECT_FALSE(f.slot(pos).word.load() & kFdbValid);  // a reader still holding it: a miss
  EXPECT_FALSE(f.remove(a));
  EXPECT_EQ(f.size(), 4u);
  EXPECT_EQ(word_of(f, same_high), kFdbValid | 9);
}

TEST(BridgeFdb, StaticAndLocalTakePrecedence) {
  Fdb f(100, nullptr, kSeed);
  const uint64_t s = key(0x020000000001, 1), l = key(0x020000000002, 1);
  const uint64_t learned = key(0x020000000003, 1);
  ASSERT_TRUE(f.add_static(s, 4, kFdbStatic, 10));
  ASSERT_TRUE(f.add_static(l, 6, kFdbLocal, 10));
  EXPECT_EQ(f.learn(s, 5, 20), Fdb::Learned::kStaticKept);
  EXPECT_EQ(f.learn(l, 5, 20), Fdb::Learned::kStaticKept);
  EXPECT_EQ(word_of(f, s), kFdbValid | kFdbStatic | 4);
  EXPECT_EQ(word_of(f, l), kFdbValid | kFdbLocal | 6);
  EXPECT_EQ(f.slot(f.lookup(s)).seen.load(), 10u);  // not refreshed by a refused learn

  // A configured entry replaces a learned one in place.
  ASSERT_EQ(f.learn(learned, 1, 0), Fdb::Learned::kAdded);
  const int32_t pos = f.lookup(learned);
  ASSERT_TRUE(f.add_static(learned, 2, kFdbStatic, 30));
  EXPECT_EQ(f.lookup(learned), pos);
  EXPECT_EQ(word_of(f, learned), kFdbValid | kFdbStatic | 2);
  EXPECT_EQ(f.learn(learned, 1, 40), Fdb::Learned::kStaticKept);
  EXPECT_EQ(f.size(), 3u);
  // Only the public flags are taken: bits of the table's own cannot be smuggled in.
  ASSERT_TRUE(f.add_static(s, 4, kFdbStatic | 0xffffffff00000000ull | (1u << 30), 10));
  EXPECT_EQ(word_of(f, s), kFdbValid | kFdbStatic | 4);
  EXPECT_GE(f.lookup(s), 0);
}

TEST(BridgeFdb, RefusesAtCapacity) {
  constexpr uint32_t kCap = 1000;
  Fdb f(kCap, nullptr, kSeed);
  EXPECT_GE(f.slot_count(), kCap + kCap / 2);
  for (uint32_t i = 0; i < kCap; ++i)
    ASSERT_EQ(f.learn(key(0x020000000000 + i * 7919, 1), 1, 0), Fdb::Learned::kAdded) << i;
  EXPECT_EQ(f.size(), kCap);
  const uint64_t extra = key(0x02ffffffffff, 1);
  EXPECT_EQ(f.learn(extra, 1, 0), Fdb::Learned::kFull);
  EXPECT_FALSE(f.add_static(extra, 1, kFdbStatic, 0));
  EXPECT_EQ(f.size(), kCap);
  EXPECT_EQ(f.lookup(extra), -1);
  // Entries already held still refresh, move and turn static.
  EXPECT_EQ(f.learn(key(0x020000000000, 1), 1, 5), Fdb::Learned::kRefreshed);
  EXPECT_EQ(f.learn(key(0x020000000000, 1), 2, 5), Fdb::Learned::kMoved);
  EXPECT_TRUE(f.add_static(key(0x020000000000, 1), 2, kFdbStatic, 5));
  // Without readers (no grace period) a removal frees room at once.
  EXPECT_TRUE(f.remove(key(0x020000000000 + 7919, 1)));
  EXPECT_EQ(f.learn(extra, 1, 0), Fdb::Learned::kAdded);
  EXPECT_EQ(f.learn(key(0x02fffffffffe, 1), 1, 0), Fdb::Learned::kFull);
  EXPECT_EQ(f.size(), kCap);
  for (uint32_t i = 2; i < kCap; ++i) EXPECT_GE(f.lookup(key(0x020000000000 + i * 7919, 1)), 0);
}

TEST(BridgeFdb, PositionsReusedOnlyAfterGrace) {
  FakeGrace grace;
  Fdb f(8, &grace, kSeed);  // 12 slots in 3 buckets: every key may use every slot
  ASSERT_EQ(f.slot_count(), 12u);
  std::vector<uint64_t> first;
  std::set<int32_t> retired;
  for (uint64_t i = 0; i < 8; ++i) {
    first.push_back(key(0x020000000100 + i, 1));
    ASSERT_EQ(f.learn(first.back(), 1, 0), Fdb::Learned::kAdded);
  }
  for (uint64_t k : first) {
    retired.insert(f.lookup(k));
    ASSERT_TRUE(f.remove(k));
  }
  EXPECT_EQ(f.size(), 0u);
  EXPECT_EQ(f.waiting(), 8u);
  f.reclaim();  // starts the grace period; it has not ended
  EXPECT_EQ(grace.started(), 1u);
  EXPECT_EQ(f.waiting(), 8u);

  // Four free slots remain; the eight retired ones stay tombstones, a miss for any reader.
  std::vector<uint64_t> second;
  for (uint64_t i = 0; i < 4; ++i) {
    second.push_back(key(0x020000000200 + i, 1));
    ASSERT_EQ(f.learn(second.back(), 2, 0), Fdb::Learned::kAdded);
    EXPECT_EQ(retired.count(f.lookup(second.back())), 0u);
  }
  EXPECT_EQ(f.learn(key(0x020000000300, 1), 2, 0), Fdb::Learned::kFull);  // room, but waiting
  for (int32_t p : retired) EXPECT_FALSE(f.slot(p).word.load() & kFdbValid) << p;
  f.reclaim();
  EXPECT_EQ(f.learn(key(0x020000000300, 1), 2, 0), Fdb::Learned::kFull);

  grace.end_all();
  f.reclaim();
  EXPECT_EQ(f.waiting(), 0u);
  std::set<int32_t> reused;
  for (uint64_t i = 0; i < 4; ++i) {
    const uint64_t k = key(0x020000000300 + i, 1);
    ASSERT_EQ(f.learn(k, 3, 0), Fdb::Learned::kAdded) << i;
    reused.insert(f.lookup(k));
  }
  EXPECT_EQ(f.size(), 8u);
  for (int32_t p : reused) EXPECT_EQ(retired.count(p), 1u) << p;  // the only free slots left
  for (uint64_t k : first) EXPECT_EQ(f.lookup(k), -1);
  for (uint64_t k : second) EXPECT_EQ(word_of(f, k), kFdbValid | 2);

  // reclaim(true) waits for the grace period instead of leaving the positions for later.
  ASSERT_TRUE(f.remove(second[0]));
  f.reclaim(true);
  EXPECT_EQ(f.waiting(), 0u);
}

TEST(BridgeFdb, TombstonesBecomeEmptyAgain) {
  constexpr uint32_t kCap = 4000;
  FakeGrace grace;
  Fdb f(kCap, &grace, kSeed);
  std::mt19937_64 rng(11);  // fixed seed
  // Full, emptied, filled again with other keys, over and over: once the grace periods end,
  // nothing of the earlier rounds is left behind.
  for (int round = 0; round < 5; ++round) {
    std::vector<uint64_t> keys;
    while (f.size() < kCap) {
      keys.push_back(key(rng(), 1));
      ASSERT_NE(f.learn(keys.back(), 1, 0), Fdb::Learned::kFull) << round;
    }
    for (uint64_t k : keys) ASSERT_TRUE(f.remove(k));
    f.reclaim();  // starts the grace period of the removals
    EXPECT_EQ(tombstones(f), kCap);
    grace.end_all();
    f.reclaim();
    EXPECT_EQ(f.waiting(), 0u);
    EXPECT_EQ(tombstones(f), 0u) << round;
  }
  // Churn at half load: the tombstones a live cluster still needs stay few.
  std::vector<uint64_t> live;
  for (int step = 0; step < 200000; ++step) {
    if (live.size() < kCap / 2 || rng() % 2) {
      const uint64_t k = key(rng(), 1);
      if (f.learn(k, 1, 0) == Fdb::Learned::kAdded) live.push_back(k);
    } else {
      const size_t i = rng() % live.size();
      ASSERT_TRUE(f.remove(live[i]));
      live[i] = live.back();
      live.pop_back();
    }
    if (step % 64 == 0) {
      f.reclaim();
      grace.end_all();
      f.reclaim();
    }
  }
  f.reclaim();
  grace.end_all();
  f.reclaim();
  EXPECT_LT(tombstones(f), f.slot_count() / 10) << "live " << live.size();
  for (uint64_t k : live) ASSERT_GE(f.lookup(k), 0);
  for (uint64_t k : live) ASSERT_TRUE(f.remove(k));
  f.reclaim();
  grace.end_all();
  f.reclaim();
  EXPECT_EQ(tombstones(f), 0u);
}

TEST(BridgeFdb, AgesLearnedEntriesWithinBudget) {
  constexpr uint32_t kCap = 400;
  Fdb f(kCap, nullptr, kSeed);
  // FID 1 ages after 10 s, FID 2 never.
  auto ageing_of = [](uint16_t fid) -> uint32_t { return fid == 1 ? 10 : 0; };
  std::vector<uint64_t> old1, fresh1, never;
  for (uint64_t i = 0; i < 100; ++i) {
    old1.push_back(key(0x020000001000 + i, 1));
    fresh1.push_back(key(0x020000002000 + i, 1));
    never.push_back(key(0x020000003000 + i, 2));
    ASSERT_EQ(f.learn(old1.back(), 1, 100), Fdb::Learned::kAdded);
    ASSERT_EQ(f.learn(fresh1.back(), 1, 100), Fdb::Learned::kAdded);
    ASSERT_EQ(f.learn(never.back(), 1, 100), Fdb::Learned::kAdded);
  }
  const uint64_t st = key(0x020000004000, 1), local = key(0x020000004001, 1);
  ASSERT_TRUE(f.add_static(st, 1, kFdbStatic, 100));
  ASSERT_TRUE(f.add_static(local, 1, kFdbLocal, 100));

  EXPECT_EQ(f.age(109, kCap, ageing_of), 0u);                     // 9 s: nothing yet
  for (uint64_t k : fresh1) f.slot(f.lookup(k)).seen.store(105);  // as a worker refreshes
  // A sweep of the whole table takes capacity / budget calls; the first removes only some.
  constexpr uint32_t kBudget = kCap / 4;
  size_t removed = f.age(110, kBudget, ageing_of);
  EXPECT_GT(removed, 0u);
  EXPECT_LT(removed, old1.size());
  for (int call = 1; call < 4; ++call) removed += f.age(110, kBudget, ageing_of);
  EXPECT_EQ(removed, old1.size());
  for (uint64_t k : old1) EXPECT_EQ(f.lookup(k), -1);
  for (uint64_t k : fresh1) EXPECT_GE(f.lookup(k), 0);
  for (uint64_t k : never) EXPECT_GE(f.lookup(k), 0);
  EXPECT_GE(f.lookup(st), 0);
  EXPECT_GE(f.lookup(local), 0);
  EXPECT_EQ(f.size(), 202u);

  EXPECT_EQ(f.age(115, kCap, ageing_of), fresh1.size());
  EXPECT_EQ(f.age(100000, kCap, ageing_of), 0u);  // statics, locals, FID 2: never
  EXPECT_EQ(f.size(), 102u);
  // A clock that went backwards (seen in the future) does not age an entry.
  ASSERT_EQ(f.learn(old1[0], 1, 200), Fdb::Learned::kAdded);
  EXPECT_EQ(f.age(150, kCap, ageing_of), 0u);
}

TEST(BridgeFdb, ForEachAndRemoveIf) {
  Fdb f(64, nullptr, kSeed);
  std::map<uint64_t, std::pair<uint64_t, uint32_t>> want;  // key -> (word, seen)
  for (uint64_t i = 0; i < 20; ++i) {
    const uint64_t k = key(0x0a0000000000 + (i << 24) + i, static_cast<uint16_t>(i % 3));
    ASSERT_EQ(f.learn(k, static_cast<uint8_t>(i), static_cast<uint32_t>(i * 10)),
              Fdb::Learned::kAdded);
    want[k] = {kFdbValid | i, static_cast<uint32_t>(i * 10)};
  }
  const uint64_t st = key(0x0b0000000000, 7);
  ASSERT_TRUE(f.add_static(st, 9, kFdbLocal, 5));
  want[st] = {kFdbValid | kFdbLocal | 9, 5};
  const uint64_t gone = key(0x0a0000000000 + (3 << 24) + 3, 0);
  ASSERT_TRUE(f.remove(gone));
  want.erase(gone);

  std::map<uint64_t, std::pair<uint64_t, uint32_t>> got;
  f.for_each([&](const Fdb::Entry& e) {
    EXPECT_TRUE(got.emplace(e.key, std::make_pair(e.word, e.seen)).second) << "twice: " << e.key;
  });
  EXPECT_EQ(got, want);

  const size_t fid0 = std::count_if(want.begin(), want.end(),
                                    [](const auto& kv) { return fdb_key_fid(kv.first) == 0; });
  EXPECT_EQ(f.remove_if([](uint64_t k, uint64_t w) {
    EXPECT_EQ(w & ~kFdbValueBits, 0u);
    return fdb_key_fid(k) == 0;
  }),
            fid0);
  EXPECT_EQ(f.size(), want.size() - fid0);
  for (const auto& [k, v] : want) EXPECT_EQ(f.lookup(k) >= 0, fdb_key_fid(k) != 0) << k;
  EXPECT_EQ(f.remove_if([](uint64_t, uint64_t w) { return (w & kFdbLocal) != 0; }), 1u);
  EXPECT_EQ(f.lookup(st), -1);
}

// A reader thread looks keys up and reads their words while the writer adds, moves, removes
// and reclaims; each key's port is a function of the key, so a word of another key shows. The
// grace period is a small QSBR: the reader reports the writer's counter between lookups.
TEST(BridgeFdb, ReaderNeverSeesAnotherKeysWord) {
  class Qsbr final : public lpm::GracePeriod {
   public:
    uint64_t start() override { return ++gen; }
    bool check(uint64_t token, bool wait) override {
      while (reader.load(std::memory_order_acquire) < token && !stop.load())
        if (!wait) return false;
      return true;
    }
    std::atomic<uint64_t> gen{0}, reader{0};
    std::atomic<bool> stop{false};
  } qsbr;
  constexpr uint32_t kCap = 256;
  Fdb f(kCap, &qsbr, kSeed);
  std::vector<uint64_t> universe;
  std::mt19937_64 rng(3);  // fixed seed
  for (int i = 0; i < 600; ++i) universe.push_back(key(rng(), static_cast<uint16_t>(i % 4)));
  auto port_of = [](uint64_t k, bool moved) {
    return static_cast<uint8_t>(((k * 0x9e3779b97f4a7c15ull) >> 57) * 2 + moved);
  };
  std::atomic<uint64_t> wrong{0}, hits{0};
  std::thread reader([&] {
    std::mt19937 r(4);
    uint64_t keys[64];
    const uint64_t* ptrs[64];
    int32_t pos[64];
    for (int i = 0; i < 64; ++i) ptrs[i] = &keys[i];
    while (!qsbr.stop.load(std::memory_order_relaxed)) {
      const uint64_t seen_gen = qsbr.gen.load(std::memory_order_acquire);
      // As bridge-input does: a bulk lookup, then (a burst's work later) the words.
      for (uint64_t& k : keys) k = universe[r() % universe.size()];
      f.lookup(ptrs, 64, pos);
      for (int spin = 0; spin < 500; ++spin) asm volatile("" ::: "memory");
      for (int i = 0; i < 64; ++i) {
        if (pos[i] < 0) continue;
        const uint64_t w = f.slot(pos[i]).word.load(std::memory_order_acquire);
        if (!(w & kFdbValid)) continue;
        hits.fetch_add(1, std::memory_order_relaxed);
        if ((w & 0xfe) != (port_of(keys[i], false) & 0xfe)) wrong.fetch_add(1);
      }
      qsbr.reader.store(seen_gen, std::memory_order_release);  // quiescent
    }
  });
  // At least 300,000 writes, and on until the reader has had 20,000 hits (on a loaded machine
  // it may start late: the writer then yields now and then).
  for (long step = 0; step < 300000 || (hits.load() < 20000 && step < 100000000); ++step) {
    if (step % 1024 == 0 && hits.load() < 20000) std::this_thread::yield();
    const uint64_t k = universe[rng() % universe.size()];
    switch (rng() % 4) {
      case 0:
      case 1: f.learn(k, port_of(k, rng() % 2), 0); break;
      case 2: f.remove(k); break;
      default: f.reclaim(); break;
    }
  }
  qsbr.stop = true;
  reader.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_GE(hits.load(), 20000u);
}

// 200,000 random operations (fixed seed 20240611) against a std::map, keys drawn from a
// universe twice the capacity so the table is often full; lookups checked after every step,
// and a position is never handed to a new key before the grace period of its removal ended.
TEST(BridgeFdb, RandomOperationsMatchAMap) {
  constexpr uint32_t kCap = 500;
  FakeGrace grace;
  Fdb f(kCap, &grace, kSeed);
  std::mt19937_64 rng(20240611);
  std::vector<uint64_t> universe;
  for (int i = 0; i < 1000; ++i) {
    // Keys sharing halves with others, and FIDs that age (1, 2) or not (0).
    const uint64_t mac = i % 4 == 0 && i > 0 ? fdb_key_mac(universe[rng() % universe.size()]) ^
                                                   (uint64_t{1} << (rng() % 48))
                                             : rng();
    universe.push_back(key(mac, static_cast<uint16_t>(rng() % 3)));
  }
  std::sort(universe.begin(), universe.end());
  universe.erase(std::unique(universe.begin(), universe.end()), universe.end());
  auto ageing_of = [](uint16_t fid) -> uint32_t { return fid == 0 ? 0 : 30 * fid; };

  struct Model {
    uint64_t word;
    uint32_t seen;
  };
  std::map<uint64_t, Model> model;
  std::map<uint64_t, int32_t> where;  // key -> its position while it lives
  std::set<int32_t> unsafe;           // removed since the last ended grace period
  uint32_t now = 0;
  unsigned full_with_room = 0;

  auto removed = [&](uint64_t k) {
    unsafe.insert(where.at(k));
    where.erase(k);
    model.erase(k);
  };
  auto placed = [&](uint64_t k) {
    const int32_t pos = f.lookup(k);
    ASSERT_GE(pos, 0);
    ASSERT_EQ(unsafe.count(pos), 0u) << "position reused before its grace period ended";
    where[k] = pos;
  };

  for (int step = 0; step < 200000; ++step) {
    if (step % 100 == 0) ++now;
    const uint64_t k = universe[rng() % universe.size()];
    const unsigned op = static_cast<unsigned>(rng() % 100);
    if (op < 55) {
      const uint8_t port = static_cast<uint8_t>(rng() % 4);
      const Fdb::Learned r = f.learn(k, port, now);
      auto it = model.find(k);
      if (it != model.end()) {
        ASSERT_EQ(f.lookup(k), where[k]) << step;
        if (it->second.word & (kFdbStatic | kFdbLocal)) {
          ASSERT_EQ(r, Fdb::Learned::kStaticKept) << step;
        } else {
          ASSERT_EQ(
              r, (it->second.word & 0xff) == port ? Fdb::Learned::kRefreshed : Fdb::Learned::kMoved)
              << step;
          it->second = {kFdbValid | port, now};
        }
      } else if (model.size() == kCap) {
        ASSERT_EQ(r, Fdb::Learned::kFull) << step;
      } else if (r == Fdb::Learned::kFull) {
        // Refused with room left: only while removed positions wait for their grace period.
        ASSERT_GT(f.waiting(), 0u) << step;
        ++full_with_room;
      } else {
        ASSERT_EQ(r, Fdb::Learned::kAdded) << step;
        model[k] = {kFdbValid | port, now};
        placed(k);
      }
    } else if (op < 60) {
      const uint64_t flags = rng() % 2 ? kFdbStatic : kFdbLocal;
      const uint8_t port = static_cast<uint8_t>(rng() % 4);
      const bool ok = f.add_static(k, port, flags, now);
      if (model.count(k)) {
        ASSERT_TRUE(ok) << step;
        model[k] = {kFdbValid | flags | port, now};
      } else if (ok) {
        ASSERT_LT(model.size(), kCap) << step;
        model[k] = {kFdbValid | flags | port, now};
        placed(k);
      } else {
        ASSERT_TRUE(model.size() == kCap || f.waiting() > 0) << step;
      }
    } else if (op < 85) {
      ASSERT_EQ(f.remove(k), model.count(k) == 1) << step;
      if (model.count(k)) removed(k);
    } else if (op < 87) {
      // Everything of one FID on one port (as when a port leaves a bridge).
      const uint16_t fid = fdb_key_fid(k);
      const uint8_t port = static_cast<uint8_t>(rng() % 4);
      std::vector<uint64_t> doomed;
      for (const auto& [mk, m] : model)
        if (fdb_key_fid(mk) == fid && (m.word & 0xff) == port) doomed.push_back(mk);
      ASSERT_EQ(f.remove_if([&](uint64_t rk, uint64_t w) {
        return fdb_key_fid(rk) == fid && (w & 0xff) == port;
      }),
                doomed.size())
          << step;
      for (uint64_t d : doomed) removed(d);
    } else if (op < 90) {
      // A whole sweep: every learned entry of an ageing FID not seen for its ageing time goes.
      std::vector<uint64_t> doomed;
      for (const auto& [mk, m] : model) {
        const uint32_t ageing = ageing_of(fdb_key_fid(mk));
        if (!(m.word & (kFdbStatic | kFdbLocal)) && ageing != 0 && now - m.seen >= ageing)
          doomed.push_back(mk);
      }
      ASSERT_EQ(f.age(now, kCap, ageing_of), doomed.size()) << step;
      for (uint64_t d : doomed) removed(d);
    } else if (op < 99 || rng() % 2 != 0) {
      f.reclaim();  // starts a grace period for what was removed; ends none
    } else {
      f.reclaim();
      grace.end_all();  // every reader moved on: what was removed may be reused
      f.reclaim();
      ASSERT_EQ(f.waiting(), 0u);
      unsafe.clear();
    }

    // After every step: the size, the touched key, and a bulk lookup of 64 random keys.
    ASSERT_EQ(f.size(), model.size()) << step;
    ASSERT_LE(f.size(), f.capacity());
    ASSERT_EQ(word_of(f, k), model.count(k) ? model[k].word : 0) << step;
    uint64_t keys[64];
    const uint64_t* ptrs[64];
    int32_t pos[64];
    for (int i = 0; i < 64; ++i) {
      keys[i] = universe[rng() % universe.size()];
      ptrs[i] = &keys[i];
    }
    f.lookup(ptrs, 64, pos);
    for (int i = 0; i < 64; ++i) {
      auto it = model.find(keys[i]);
      if (it == model.end()) {
        ASSERT_EQ(pos[i], -1) << step;
      } else {
        ASSERT_EQ(pos[i], where[keys[i]]) << step;
        ASSERT_EQ(f.slot(pos[i]).word.load() & kFdbValueBits, it->second.word) << step;
        ASSERT_EQ(f.slot(pos[i]).seen.load(), it->second.seen) << step;
      }
    }
    if (step % 5000 == 0) {
      size_t n = 0;
      f.for_each([&](const Fdb::Entry& e) {
        ++n;
        auto it = model.find(e.key);
        ASSERT_NE(it, model.end());
        EXPECT_EQ(e.word, it->second.word);
      });
      ASSERT_EQ(n, model.size());
      for (uint64_t u : universe) ASSERT_EQ(f.lookup(u) >= 0, model.count(u) == 1) << step;
    }
  }
  // Both branches of the model were taken: the table filled up, and refused while waiting.
  EXPECT_GT(full_with_room, 0u);
}

}  // namespace
}  // namespace sluice
