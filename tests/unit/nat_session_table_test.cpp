// nat_session_table_test.cpp — nat::SessionTable against a plain reference (a vector of live
// sessions searched linearly): lookups by either key, duplicates and a full table refused,
// erase with backward shifts, touch, and expiry by the timing wheel (never early, never more
// than a second late), with random operations from a fixed seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <stdexcept>
#include <vector>

#include "nat/session_table.h"

namespace sluice::nat {
namespace {

FlowKey key(uint32_t src, uint16_t sport, uint32_t dst = 0x08080808, uint16_t dport = 53,
            Proto p = Proto::kUdp) {
  return FlowKey{src, dst, sport, dport, p};
}

TEST(SessionTable, InsertFindEraseByEitherKey) {
  SessionTable t({.capacity = 8});
  const FlowKey in = key(0xc0a80f02, 40000), out = key(0x08080808, 53, 0x0a000001, 40000);
  const uint32_t id = t.insert(in, out, 100);
  ASSERT_NE(id, SessionTable::kNone);
  EXPECT_EQ(t.find_inside(in), id);
  EXPECT_EQ(t.find_outside(out), id);
  EXPECT_EQ(t.find_inside(out), SessionTable::kNone) << "the indexes are separate";
  EXPECT_EQ(t.insert(in, key(1, 2), 100), SessionTable::kNone) << "inside key taken";
  EXPECT_EQ(t.insert(key(1, 2), out, 100), SessionTable::kNone) << "outside key taken";
  t.erase(id);
  EXPECT_EQ(t.find_inside(in), SessionTable::kNone);
  EXPECT_EQ(t.find_outside(out), SessionTable::kNone);
  EXPECT_EQ(t.size(), 0u);
}

TEST(SessionTable, FullTableRefusesAndKeepsWhatItHas) {
  SessionTable t({.capacity = 4});
  for (uint16_t i = 0; i < 4; ++i)
    ASSERT_NE(t.insert(key(1, i), key(2, i), 100), SessionTable::kNone);
  EXPECT_EQ(t.insert(key(1, 99), key(2, 99), 100), SessionTable::kNone);
  for (uint16_t i = 0; i < 4; ++i) EXPECT_NE(t.find_inside(key(1, i)), SessionTable::kNone);
}

TEST(SessionTable, ExpiresOnTimeWithoutScanning) {
  SessionTable t({.capacity = 16, .wheel_slots = 8});
  t.expire(1000, [](uint32_t, const SessionTable::Session&) {});
  const uint32_t a = t.insert(key(1, 1), key(2, 1), 1005);
  const uint32_t b = t.insert(key(1, 2), key(2, 2), 1030);  // beyond one turn of the wheel
  std::vector<uint32_t> gone;
  auto collect = [&](uint32_t id, const SessionTable::Session&) { gone.push_back(id); };
  t.expire(1004, collect);
  EXPECT_TRUE(gone.empty()) << "nothing before its deadline";
  t.expire(1005, collect);
  EXPECT_EQ(gone, std::vector<uint32_t>{a});
  t.touch(b, 1040);  // a later deadline: no list work now, filed again when reached
  t.expire(1035, collect);
  EXPECT_EQ(gone.size(), 1u);
  t.touch(b, 1036);  // sooner (a RST): filed again at once
  t.expire(1036, collect);
  EXPECT_EQ(gone, (std::vector<uint32_t>{a, b}));
  EXPECT_EQ(t.size(), 0u);
}

TEST(SessionTable, BadConfigurationsAreRefused) {
  EXPECT_THROW(SessionTable({.capacity = 0}), std::invalid_argument);
  EXPECT_THROW(SessionTable({.capacity = 4, .wheel_slots = 6}), std::invalid_argument);
}

TEST(SessionTable, StaysSmall) {
  SessionTable t({.capacity = 1u << 20});
  const double per_session = static_cast<double>(t.bytes()) / t.capacity();
  EXPECT_LE(per_session, 128.0) << "the issue's goal: <= 128 bytes per session";
  RecordProperty("bytes_per_session", std::to_string(per_session));
}

// Random inserts, erases, touches and clock steps against the reference (seed 5382). Keys come
// from a small space so that duplicates, probe runs and a full table all happen often.
TEST(SessionTable, MatchesAReferenceModel) {
  std::mt19937 rng(5382);
  SessionTable t({.capacity = 48, .wheel_slots = 16});
  struct Ref {
    FlowKey in, out;
    uint32_t deadline;
    uint32_t id;
  };
  std::vector<Ref> live;
  uint32_t now = 50;
  t.expire(now, [](uint32_t, const SessionTable::Session&) {});
  auto rnd_key = [&](uint32_t side) {
    return key(side, static_cast<uint16_t>(rng() % 80), 7, static_cast<uint16_t>(rng() % 3));
  };
  for (int step = 0; step < 300000; ++step) {
    switch (rng() % 8) {
      case 0:
      case 1:
      case 2: {  // insert
        const FlowKey in = rnd_key(1), out = rnd_key(2);
        const uint32_t deadline = now + rng() % 40;
        const bool dup = std::any_of(live.begin(), live.end(),
                                     [&](const Ref& r) { return r.in == in || r.out == out; });
        const uint32_t id = t.insert(in, out, deadline);
        if (dup || live.size() == t.capacity()) {
          ASSERT_EQ(id, SessionTable::kNone);
        } else {
          ASSERT_NE(id, SessionTable::kNone);
          live.push_back({in, out, deadline, id});
        }
        break;
      }
      case 3: {  // erase
        if (live.empty()) break;
        const size_t i = rng() % live.size();
        t.erase(live[i].id);
        live.erase(live.begin() + static_cast<long>(i));
        break;
      }
      case 4:
      case 5: {  // touch
        if (live.empty()) break;
        Ref& r = live[rng() % live.size()];
        r.deadline = now + rng() % 40;
        t.touch(r.id, r.deadline);
        break;
      }
      default: {  // the clock moves on
        now += rng() % 4;
        std::vector<uint32_t> gone;
        t.expire(now, [&](uint32_t id, const SessionTable::Session& s) {
          ASSERT_LE(s.deadline, now) << "expired early";
          gone.push_back(id);
        });
        for (uint32_t id : gone) {
          auto it =
              std::find_if(live.begin(), live.end(), [&](const Ref& r) { return r.id == id; });
          ASSERT_NE(it, live.end()) << "expired a session that was not live";
          live.erase(it);
        }
        for (const Ref& r : live) ASSERT_GT(r.deadline, now) << "a due session was kept";
        break;
      }
    }
    ASSERT_EQ(t.size(), live.size());
    if (step % 97 == 0) {
      for (const Ref& r : live) {
        ASSERT_EQ(t.find_inside(r.in), r.id);
        ASSERT_EQ(t.find_outside(r.out), r.id);
      }
      // Absent keys stay absent.
      const FlowKey probe = rnd_key(1);
      const bool present =
          std::any_of(live.begin(), live.end(), [&](const Ref& r) { return r.in == probe; });
      ASSERT_EQ(t.find_inside(probe) != SessionTable::kNone, present);
    }
  }
}

}  // namespace
}  // namespace sluice::nat
