// bridge_fdb.h — the bridges' forwarding database: which port each MAC was seen on, per FID
// (a bridge, or one VLAN of a VLAN-aware bridge). One table for every bridge: a DPDK rte_hash
// in lock-free read mode (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF) whose only writer is the
// control thread, and beside it an array of slots indexed by the hash's key position, holding
// the entry's port and flags in one 64-bit word (a MAC move is one store) and the second the
// MAC was last seen (workers refresh it). Workers never insert: they send a LearnNote, and the
// control thread adds, moves or refuses (docs/bridging.md, "The FDB", explains the choice).
//
// Deleting under RW_CONCURRENCY_LF does not free the key's position: a worker between two
// quiescent points may still hold it. The position is freed after an RCU grace period (the
// workers' rte_rcu_qsbr domain, through lpm::GracePeriod), so a reader that found a position
// reads either the entry's word or zero (a miss), never another key's.
#pragma once

#include <rte_hash.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "lpm/grace_period.h"

namespace sluice {

// The key: the MAC in bits 0-47 (memory order, MacAddr::packed) and the FID in 48-63.
inline uint64_t fdb_key(uint64_t mac_packed, uint16_t fid) {
  return mac_packed | uint64_t{fid} << 48;
}
inline uint64_t fdb_key_mac(uint64_t key) {
  return key & 0xffffffffffffull;
}
inline uint16_t fdb_key_fid(uint64_t key) {
  return static_cast<uint16_t>(key >> 48);
}

// The slot word: bits 0-7 the port, then the flags.
inline constexpr uint64_t kFdbValid = 1u << 8;
inline constexpr uint64_t kFdbStatic = 1u << 9;  // configured: never ages, never moves
inline constexpr uint64_t kFdbLocal = 1u << 10;  // the bridge's own: deliver to its BVI

struct FdbSlot {
  std::atomic<uint64_t> word{0};  // 0: empty (a reader treats it as a miss)
  std::atomic<uint32_t> seen{0};  // bridge clock seconds of the last frame from this MAC
  uint32_t reserved = 0;
};
static_assert(sizeof(FdbSlot) == 16);

// What a worker tells the control thread (16 bytes, on an rte_ring of elements).
struct LearnNote {
  uint64_t key;
  uint8_t port;
  uint8_t reserved[7];
};
static_assert(sizeof(LearnNote) == 16);

class Fdb {
 public:
  // capacity: entries (the hash may refuse a little before it is full: cuckoo). `grace` may be
  // null when nothing reads concurrently (then positions are freed at once).
  Fdb(uint32_t capacity, lpm::GracePeriod* grace);
  ~Fdb();
  Fdb(const Fdb&) = delete;
  Fdb& operator=(const Fdb&) = delete;

  // ---- readers (workers) ----
  // Positions for `n` keys (at most RTE_HASH_LOOKUP_BULK_MAX); -1 for a miss.
  void lookup(const uint64_t* const* keys, unsigned n, int32_t* positions) const {
    // rte_hash takes `const void**`; the pointers themselves are not written.
    const void** k = reinterpret_cast<const void**>(const_cast<const uint64_t**>(keys));
    rte_hash_lookup_bulk(hash_, k, n, positions);
  }
  int32_t lookup(uint64_t key) const { return rte_hash_lookup(hash_, &key); }
  FdbSlot& slot(int32_t position) const { return slots_[position]; }

  // ---- the writer (control thread) ----
  enum class Learned : uint8_t { kAdded, kMoved, kRefreshed, kStaticKept, kFull };
  Learned learn(uint64_t key, uint8_t port, uint32_t now);
  // A configured entry (static, or local with kFdbLocal in flags); replaces a learned one.
  // False if the table is full.
  bool add_static(uint64_t key, uint8_t port, uint64_t flags, uint32_t now);
  bool remove(uint64_t key);  // false if absent
  // Removes every entry the predicate (key, word) selects; returns how many.
  size_t remove_if(const std::function<bool(uint64_t, uint64_t)>& pred);
  // Ages learned entries: visits up to `budget` slots from where the last call stopped and
  // removes those `ageing_of(fid)` seconds or more older than `now` (ageing_of returning 0
  // means the FID does not age). A full sweep takes capacity / budget calls.
  size_t age(uint32_t now, uint32_t budget, const std::function<uint32_t(uint16_t)>& ageing_of);
  // Frees positions whose grace period has ended; with `wait`, waits for it.
  void reclaim(bool wait = false);

  struct Entry {
    uint64_t key;
    uint64_t word;
    uint32_t seen;
  };
  void for_each(const std::function<void(const Entry&)>& f) const;

  uint32_t capacity() const { return capacity_; }
  uint32_t size() const { return size_; }
  size_t bytes() const;  // the hash's memory (estimated from its layout) plus the slots

 private:
  void retire(int32_t pos);

  rte_hash* hash_ = nullptr;
  FdbSlot* slots_ = nullptr;
  uint32_t capacity_;
  uint32_t size_ = 0;
  uint32_t cursor_ = 0;
  lpm::GracePeriod* grace_;
  std::vector<int32_t> retiring_;                                  // since the last grace start
  std::deque<std::pair<uint64_t, std::vector<int32_t>>> pending_;  // (token, positions)
};

}  // namespace sluice
