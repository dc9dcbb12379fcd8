// session_table.h — NAT sessions of one worker: a fixed-capacity table allocated once, found by
// either side's 5-tuple, and expired by a timing wheel so that nothing ever scans the table.
//
// Each session has two keys: the flow as the inside sees it (inside host -> remote) and the
// reply as it arrives from outside (remote -> outside address and port). Two open-addressing
// indexes (linear probing, backward-shift deletion: no tombstones to clean up) map each key to
// the session's slot. Capacity is fixed at construction; the indexes hold twice as many slots,
// so probes stay short. Memory: about 72 bytes per session (nat/README.md).
//
// Expiry: a session sits in the wheel slot of the second its deadline was when it was filed.
// A packet only moves the deadline (touch), which costs no list work; when the wheel reaches
// the slot, a session whose deadline moved on is filed again, one whose deadline passed is
// removed and reported. One owner thread, no locks, no allocation after construction.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace sluice::nat {

enum class Proto : uint8_t { kIcmp = 1, kTcp = 6, kUdp = 17 };

// Addresses in host order; for ICMP echo, both ports carry the identifier.
struct FlowKey {
  uint32_t src = 0, dst = 0;
  uint16_t sport = 0, dport = 0;
  Proto proto = Proto::kUdp;
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

inline uint64_t hash(const FlowKey& k) {
  // Two multiply-xorshift rounds: cheap, and every input bit reaches the index bits.
  uint64_t h = (uint64_t{k.src} << 32 | k.dst) * 0x9E3779B97F4A7C15ULL;
  h ^= (uint64_t{k.sport} << 24 | uint64_t{k.dport} << 8 | static_cast<uint8_t>(k.proto));
  h *= 0xC2B2AE3D27D4EB4FULL;
  return h ^ (h >> 29);
}

class SessionTable {
 public:
  static constexpr uint32_t kNone = ~uint32_t{0};
  // An index entry is a session id (24 bits) and 8 bits of its key's hash, so a probe that
  // meets another key rarely reads that session. Hence at most 2^24 - 1 sessions: an entry
  // never equals kNone.
  static constexpr uint32_t kIdMask = 0x00ffffff, kTagMask = 0xff000000;
  static constexpr uint32_t kMaxCapacity = kIdMask;
  struct Config {
    uint32_t capacity = 1u << 16;  // sessions; the table never grows
    uint32_t wheel_slots = 8192;   // seconds the wheel spans (a power of two); longer timeouts
                                   // go around it and are filed again
  };
  struct Session {
    FlowKey inside, outside;
    uint32_t deadline = 0;  // seconds: expires when now >= deadline
    uint8_t state = 0;      // the caller's (TCP state, ...)
    uint8_t kind = 0;       // the caller's (what kind of translation)
    uint16_t port = 0;      // the caller's (the egress port of a masquerade session)
    uint32_t wheel_next = kNone, wheel_prev = kNone;
    uint32_t wheel_slot = kNone;  // the slot whose list holds it (kNone: in none)
  };

  // Throws std::invalid_argument for a zero capacity or a wheel that is not a power of two.
  explicit SessionTable(const Config& cfg);

  // A new session expiring at `deadline`. kNone when the table is full or either key is
  // already a session's (the caller counts which).
  uint32_t insert(const FlowKey& inside, const FlowKey& outside, uint32_t deadline);
  uint32_t find_inside(const FlowKey& k) const { return find(in_index_, k, hash(k), true); }
  uint32_t find_outside(const FlowKey& k) const { return find(out_index_, k, hash(k), false); }
  // The same with hash(k) computed once by the caller, who looks in both.
  uint32_t find_inside(const FlowKey& k, uint64_t h) const { return find(in_index_, k, h, true); }
  uint32_t find_outside(const FlowKey& k, uint64_t h) const {
    return find(out_index_, k, h, false);
  }
  Session& at(uint32_t id) { return sessions_[id]; }
  const Session& at(uint32_t id) const { return sessions_[id]; }
  // A packet of the session moves its deadline. Later (the usual case) costs a store: the wheel
  // catches up lazily. Earlier (a TCP RST, a FIN) files the session again at once.
  void touch(uint32_t id, uint32_t deadline) {
    Session& s = sessions_[id];
    const bool sooner = deadline < s.deadline;
    s.deadline = deadline;
    if (sooner) {
      wheel_unlink(id);
      wheel_link(id);
    }
  }
  void erase(uint32_t id);
  // Prefetches for a burst (the dataplane looks a burst's keys up after prefetching them all):
  // the first index slot of `h` (hash(key)) in both indexes, then the sessions they name.
  void prefetch_slots(uint64_t h) const {
    __builtin_prefetch(&in_index_[h & index_mask_]);
    __builtin_prefetch(&out_index_[h & index_mask_]);
  }
  void prefetch_sessions(uint64_t h) const {
    const uint32_t a = in_index_[h & index_mask_], b = out_index_[h & index_mask_];
    if (a != kNone && (a & kTagMask) == tag_of(h)) __builtin_prefetch(&sessions_[a & kIdMask]);
    if (b != kNone && (b & kTagMask) == tag_of(h)) __builtin_prefetch(&sessions_[b & kIdMask]);
  }
  // Whether slot `id` holds a session (every live session is on the wheel).
  bool live(uint32_t id) const { return sessions_[id].wheel_slot != kNone; }

  // Advances the wheel to `now`, removing every session whose deadline has passed and calling
  // expired(id, session) for each before its slot is reused. Returns how many expired.
  template <class F>
  size_t expire(uint32_t now, F&& expired);

  // Safe from any thread (`sluice stats` reads it while the owning worker runs).
  size_t size() const { return size_.load(std::memory_order_relaxed); }
  uint32_t capacity() const { return cfg_.capacity; }
  size_t bytes() const;  // memory held: sessions, indexes, wheel

 private:
  uint32_t find(const std::vector<uint32_t>& index, const FlowKey& k, uint64_t h,
                bool inside) const;
  void index_insert(std::vector<uint32_t>& index, const FlowKey& k, uint32_t id);
  void index_erase(std::vector<uint32_t>& index, const FlowKey& k, bool inside);
  static uint32_t tag_of(uint64_t h) { return static_cast<uint32_t>(h >> 56) << 24; }
  const FlowKey& key_of(uint32_t id, bool inside) const {
    return inside ? sessions_[id].inside : sessions_[id].outside;
  }
  void wheel_link(uint32_t id);
  void wheel_unlink(uint32_t id);

  Config cfg_;
  std::unique_ptr<Session[]> sessions_;
  std::vector<uint32_t> free_;  // free session slots (a stack)
  std::vector<uint32_t> in_index_, out_index_;
  uint64_t index_mask_ = 0;
  std::vector<uint32_t> wheel_;  // head of each slot's list
  uint32_t wheel_now_ = 0;       // every slot before this second has been processed
  bool wheel_started_ = false;
  // Written by the owning worker only, read by others: relaxed, like the engine's counters (a
  // plain size_t read by the control thread was a data race; ThreadSanitizer).
  std::atomic<size_t> size_{0};
};

template <class F>
size_t SessionTable::expire(uint32_t now, F&& expired) {
  if (!wheel_started_) {
    wheel_now_ = now;
    wheel_started_ = true;
  }
  size_t n = 0;
  // The overdue list first (filed with a deadline already behind the wheel), then every second
  // from where the wheel stopped, at most one turn: after a long pause each slot once.
  uint32_t steps = now - wheel_now_ + 1;
  if (now < wheel_now_) steps = 0;
  if (steps > cfg_.wheel_slots) steps = cfg_.wheel_slots;
  for (uint32_t s = 0; s <= steps; ++s) {
    const uint32_t slot = s == 0 ? cfg_.wheel_slots : (wheel_now_ + s - 1) & (cfg_.wheel_slots - 1);
    uint32_t id = wheel_[slot];
    wheel_[slot] = kNone;
    while (id != kNone) {
      const uint32_t next = sessions_[id].wheel_next;
      sessions_[id].wheel_next = sessions_[id].wheel_prev = kNone;
      sessions_[id].wheel_slot = kNone;
      if (sessions_[id].deadline <= now) {
        expired(id, static_cast<const Session&>(sessions_[id]));
        erase(id);
        ++n;
      } else {
        wheel_link(id);  // touched since it was filed: its new second's slot
      }
      id = next;
    }
  }
  if (now >= wheel_now_) wheel_now_ = now + 1;
  return n;
}

}  // namespace sluice::nat
