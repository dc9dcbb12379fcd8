// bridge_fdb.h — the bridges' forwarding database: which port each MAC was seen on, per FID
// (a bridge, or one VLAN of a VLAN-aware bridge). One table for every bridge, written by the
// control thread only and read lock-free by the workers. Workers never insert: they send a
// LearnNote, and the control thread adds, moves or refuses (docs/bridging.md, "The FDB").
//
// The table is sluice's own, not rte_hash (whose lock-free bulk lookup cost 30-44 cycles a key
// even on a hot 1,000-entry table, ~11 here): open addressing over 64-byte buckets of four
// 16-byte FdbSlots, linear probing bucket by bucket from the key's home bucket. A slot holds the
// whole entry — key, port and flags, last-seen second — so a lookup touches one cache line
// in the common case and the worker's later read of the word hits that same line. A position
// is a slot's index and stays the key's until the key is deleted.
//
// Deleting leaves a tombstone (a probe goes on past it) that becomes reusable only after an
// RCU grace period (the workers' rte_rcu_qsbr domain, through lpm::GracePeriod), so a reader
// that found a position reads either that key's word or a word without kFdbValid (a miss),
// never another key's. A reusable tombstone turns back into an empty slot (which ends probes)
// as soon as no live key's probe sequence crosses its bucket, so deletions do not lengthen
// lookups for good.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "lpm/grace_period.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

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

// The slot word: bits 0-7 the port, then the flags. Bits 32-63 are the table's (the key's high
// half, so that a slot is 16 bytes): readers test the port and flags only, never the whole word.
inline constexpr uint64_t kFdbValid = 1u << 8;
inline constexpr uint64_t kFdbStatic = 1u << 9;         // configured: never ages, never moves
inline constexpr uint64_t kFdbLocal = 1u << 10;         // the bridge's own: deliver to its BVI
inline constexpr uint64_t kFdbValueBits = 0xffffffffu;  // port and flags (Fdb::Entry::word)

struct FdbSlot {
  // 0: never used (ends a probe). Without kFdbValid: a miss (a deleted entry, a tombstone).
  std::atomic<uint64_t> word{0};
  std::atomic<uint32_t> seen{0};     // bridge clock seconds of the last frame from this MAC
  std::atomic<uint32_t> key_low{0};  // the table's: the key's low half
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
  static constexpr unsigned kBucketSlots = 4;  // 4 x 16 bytes: one cache line
  // A key lives at most this many buckets past its home: a lookup never reads more lines, even
  // if crafted MACs were to pile up in one place (learn() refuses past it, as a full table).
  static constexpr unsigned kMaxProbe = 64;

  // capacity: entries held at most (the table has 50% more slots, so probes stay short).
  // `grace` may be null when nothing reads concurrently (then positions are freed at once).
  // `hash_seed` picks the hash's multiplier; 0 takes a random one (MACs chosen to collide
  // cannot be prepared in advance); tests give one to be reproducible.
  Fdb(uint32_t capacity, lpm::GracePeriod* grace, uint64_t hash_seed = 0);
  ~Fdb();
  Fdb(const Fdb&) = delete;
  Fdb& operator=(const Fdb&) = delete;

  // ---- readers (workers) ----
  // Positions for `n` keys (any n; bridge-input passes up to 64); -1 for a miss. All the keys'
  // home buckets are prefetched before any is compared, so that in a table larger than the
  // caches the misses overlap.
  void lookup(const uint64_t* const* keys, unsigned n, int32_t* positions) const {
    constexpr unsigned kBulk = 64;
    const Table t = table();  // in registers: the stores to `positions` could alias members
    uint32_t home[kBulk];
    for (unsigned base = 0; base < n; base += kBulk) {
      const unsigned c = std::min(n - base, kBulk);
      for (unsigned i = 0; i < c; ++i) {
        home[i] = t.bucket_of(*keys[base + i]);
        __builtin_prefetch(&t.slots[size_t{home[i]} * kBucketSlots], 0, 3);
      }
      for (unsigned i = 0; i < c; ++i) positions[base + i] = t.probe(*keys[base + i], home[i]);
    }
  }
  int32_t lookup(uint64_t key) const {
    const Table t = table();
    return t.probe(key, t.bucket_of(key));
  }
  FdbSlot& slot(int32_t position) const { return slots_[position]; }

  // ---- the writer (control thread) ----
  // kFull: `capacity` entries are held, or (rarely) every slot a key may use near its home
  // is taken or still waits for its grace period (reclaim() frees those).
  enum class Learned : uint8_t { kAdded, kMoved, kRefreshed, kStaticKept, kFull };
  Learned learn(uint64_t key, uint8_t port, uint32_t now);
  // A configured entry (static, or local with kFdbLocal in flags); replaces a learned one.
  // False if the table is full.
  bool add_static(uint64_t key, uint8_t port, uint64_t flags, uint32_t now);
  bool remove(uint64_t key);  // false if absent
  // Removes every entry the predicate (key, word) selects; returns how many.
  size_t remove_if(const std::function<bool(uint64_t, uint64_t)>& pred);
  // Ages learned entries: visits the slots of `budget` entries' worth of the table (scaled by
  // slots / capacity) from where the last call stopped, and removes those `ageing_of(fid)`
  // seconds or more older than `now` (ageing_of returning 0 means the FID does not age). A
  // full sweep takes capacity / budget calls.
  size_t age(uint32_t now, uint32_t budget, const std::function<uint32_t(uint16_t)>& ageing_of);
  // Frees positions whose grace period has ended; with `wait`, waits for it.
  void reclaim(bool wait = false);

  struct Entry {
    uint64_t key;
    uint64_t word;  // port and flags (kFdbValueBits of the slot's word)
    uint32_t seen;
  };
  void for_each(const std::function<void(const Entry&)>& f) const;

  uint32_t capacity() const { return capacity_; }
  uint32_t size() const { return size_; }
  size_t bytes() const { return size_t{slot_count()} * sizeof(FdbSlot); }  // the table
  uint32_t slot_count() const { return buckets_ * kBucketSlots; }
  uint32_t waiting() const { return waiting_; }  // deleted positions not yet reusable

 private:
  static constexpr uint64_t kKeyHigh = 0xffffffff00000000ull;
  // Tombstones (no kFdbValid: a reader's miss; nonzero: a probe goes on). Retired: readers may
  // still hold the position. Reusable: its grace period ended, a new key may take it.
  static constexpr uint64_t kRetired = 1u << 30;
  static constexpr uint64_t kReusable = 1u << 31;

  // What a reader needs, copied out of the object.
  struct Table {
    const FdbSlot* slots;
    uint64_t mult;
    uint32_t buckets;
    uint32_t probe_limit;

    // Multiply-shift (odd multiplier), then a multiply-high onto the bucket count (which need
    // not be a power of two).
    uint32_t bucket_of(uint64_t key) const {
      return static_cast<uint32_t>((((key * mult) >> 32) * buckets) >> 32);
    }
    int32_t probe(uint64_t key, uint32_t b) const;
  };
  Table table() const { return Table{slots_, mult_, buckets_, probe_limit_}; }
  uint32_t bucket_of(uint64_t key) const { return table().bucket_of(key); }

  uint64_t key_at(uint32_t pos) const;
  uint32_t distance(uint32_t from, uint32_t to) const {
    return to >= from ? to - from : to + buckets_ - from;
  }
  int32_t place(uint64_t key) const;
  void fill(uint32_t pos, uint64_t key, uint64_t value, uint32_t now);
  void remove_at(uint32_t pos);
  void make_reusable(uint32_t pos);
  void clear_bucket(uint32_t b);

  FdbSlot* slots_ = nullptr;
  uint32_t buckets_ = 0;
  uint32_t probe_limit_ = 0;
  uint64_t mult_ = 0;
  uint32_t capacity_;
  uint32_t size_ = 0;
  uint32_t waiting_ = 0;
  uint32_t cursor_ = 0;
  lpm::GracePeriod* grace_;
  std::vector<uint32_t> retiring_;                                  // since the last grace start
  std::deque<std::pair<uint64_t, std::vector<uint32_t>>> pending_;  // (token, positions)
};

// Bucket by bucket from the home one: the four slots are compared at once, without a branch
// per slot (which slot holds the key is random: that branch would be mispredicted about once
// a lookup). A bucket with an empty slot ends the probe.
inline int32_t Fdb::Table::probe(uint64_t key, uint32_t b) const {
  const uint64_t want = (key & kKeyHigh) | kFdbValid;
  const uint32_t low = static_cast<uint32_t>(key);
  // A slot as two 64-bit lanes: the word (compared on the key's high half and kFdbValid), then
  // seen and key_low (compared on key_low).
  constexpr uint64_t kWordMask = kKeyHigh | kFdbValid;
  [[maybe_unused]] constexpr uint64_t kLowMask = 0xffffffff00000000ull;
#if defined(__AVX512F__)
  const __m512i mask = _mm512_set4_epi64(int64_t(kLowMask), int64_t(kWordMask), int64_t(kLowMask),
                                         int64_t(kWordMask));
  const __m512i wanted = _mm512_set4_epi64(int64_t(uint64_t{low} << 32), int64_t(want),
                                           int64_t(uint64_t{low} << 32), int64_t(want));
#elif defined(__AVX2__)
  const __m256i mask = _mm256_set_epi64x(int64_t(kLowMask), int64_t(kWordMask), int64_t(kLowMask),
                                         int64_t(kWordMask));
  const __m256i wanted = _mm256_set_epi64x(int64_t(uint64_t{low} << 32), int64_t(want),
                                           int64_t(uint64_t{low} << 32), int64_t(want));
  const __m256i zero = _mm256_setzero_si256();
#endif
  for (unsigned d = 0; d < probe_limit; ++d) {
    const FdbSlot* s = &slots[size_t{b} * kBucketSlots];
    unsigned hit = 0, empty = 0;  // bit 2i (SIMD) or i (scalar): slot i
#if defined(__AVX512F__)
    const __m512i v = _mm512_load_si512(s);
    const unsigned lanes = _mm512_cmpeq_epi64_mask(_mm512_and_si512(v, mask), wanted);
    hit = lanes & (lanes >> 1) & 0x55;
    empty = _mm512_testn_epi64_mask(v, v) & 0x55;
    constexpr unsigned kShift = 1;
#elif defined(__AVX2__)
    auto lanes_of = [](__m256i eq) {
      return static_cast<unsigned>(_mm256_movemask_pd(_mm256_castsi256_pd(eq)));
    };
    const __m256i v0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(s));
    const __m256i v1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(s + 2));
    const unsigned lanes = lanes_of(_mm256_cmpeq_epi64(_mm256_and_si256(v0, mask), wanted)) |
                           lanes_of(_mm256_cmpeq_epi64(_mm256_and_si256(v1, mask), wanted)) << 4;
    hit = lanes & (lanes >> 1) & 0x55;
    empty = (lanes_of(_mm256_cmpeq_epi64(v0, zero)) | lanes_of(_mm256_cmpeq_epi64(v1, zero)) << 4) &
            0x55;
    constexpr unsigned kShift = 1;
#else
    for (unsigned i = 0; i < kBucketSlots; ++i) {
      const uint64_t w = s[i].word.load(std::memory_order_relaxed);
      const uint32_t l = s[i].key_low.load(std::memory_order_relaxed);
      hit |= static_cast<unsigned>(((w & kWordMask) == want) & (l == low)) << i;
      empty |= static_cast<unsigned>(w == 0) << i;
    }
    constexpr unsigned kShift = 0;
#endif
    if (hit) {
      // Confirmed in order, the word (acquire) then key_low: a valid word orders the key_low
      // written before it, which a wide load does not promise.
      const unsigned i = static_cast<unsigned>(__builtin_ctz(hit)) >> kShift;
      const uint64_t w = s[i].word.load(std::memory_order_acquire);
      const uint32_t l = s[i].key_low.load(std::memory_order_relaxed);
      const bool same = ((w & kWordMask) == want) & (l == low);
      return same ? static_cast<int32_t>(b * kBucketSlots + i) : -1;
    }
    if (empty) return -1;
    b = b + 1 == buckets ? 0 : b + 1;
  }
  return -1;
}

}  // namespace sluice
