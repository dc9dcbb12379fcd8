// bridge_fdb.cpp — the FDB's writer side: placing keys, tombstones, grace periods, aging.
//
// The invariant readers rely on: a key stored in bucket c with home bucket h is found because
// no bucket from h to c-1 holds an empty slot (word 0), and c is at most kMaxProbe - 1 buckets
// past h. A new key takes the first empty or reusable slot from its home on, which keeps it;
// a reusable tombstone becomes empty only when no live key lies past its bucket with a home at
// or before it, which keeps it too.
#include "dataplane/bridge_fdb.h"

#include <rte_common.h>
#include <rte_malloc.h>

#include <memory>
#include <random>
#include <stdexcept>
#include <string>

namespace sluice {

Fdb::Fdb(uint32_t capacity, lpm::GracePeriod* grace, uint64_t hash_seed)
    : capacity_(capacity == 0 ? 1 : capacity), grace_(grace) {
  // Load at most 2/3. With four slots a bucket and linear probing, a full table then has 91% of
  // its keys in their home bucket and a miss reads 1.8 buckets on average (at 80% load: 84%,
  // 3.8, and clusters that outgrow kMaxProbe in tables of a million). 24 bytes an entry.
  const uint64_t slots = uint64_t{capacity_} + (uint64_t{capacity_} + 1) / 2;
  const uint64_t buckets = (slots + kBucketSlots - 1) / kBucketSlots;
  if (buckets * kBucketSlots > uint64_t{INT32_MAX})
    throw std::runtime_error("FDB capacity too large (" + std::to_string(capacity) + ")");
  buckets_ = static_cast<uint32_t>(buckets);
  probe_limit_ = std::min<uint32_t>(kMaxProbe, buckets_);
  uint64_t seed = hash_seed;
  if (seed == 0) seed = uint64_t{std::random_device{}()} << 32 | std::random_device{}();
  // splitmix64's finaliser: any seed, even 1, gives a multiplier with well-mixed bits.
  seed += 0x9e3779b97f4a7c15ull;
  seed = (seed ^ (seed >> 30)) * 0xbf58476d1ce4e5b9ull;
  seed = (seed ^ (seed >> 27)) * 0x94d049bb133111ebull;
  mult_ = (seed ^ (seed >> 31)) | 1;
  slots_ = static_cast<FdbSlot*>(rte_malloc("sluice-fdb", bytes(), RTE_CACHE_LINE_SIZE));
  if (slots_ == nullptr)
    throw std::runtime_error("cannot allocate the FDB (" + std::to_string(capacity_) +
                             " entries, " + std::to_string(bytes()) + " bytes)");
  std::uninitialized_default_construct_n(slots_, slot_count());
}

Fdb::~Fdb() {
  std::destroy_n(slots_, slot_count());
  rte_free(slots_);
}

uint64_t Fdb::key_at(uint32_t pos) const {
  return (slots_[pos].word.load(std::memory_order_relaxed) & kKeyHigh) |
         slots_[pos].key_low.load(std::memory_order_relaxed);
}

int32_t Fdb::place(uint64_t key) const {
  uint32_t b = bucket_of(key);
  for (uint32_t d = 0; d < probe_limit_; ++d) {
    for (uint32_t i = 0; i < kBucketSlots; ++i) {
      const uint64_t w = slots_[b * kBucketSlots + i].word.load(std::memory_order_relaxed);
      if (w == 0 || w == kReusable) return static_cast<int32_t>(b * kBucketSlots + i);
    }
    b = b + 1 == buckets_ ? 0 : b + 1;
  }
  return -1;
}

void Fdb::fill(uint32_t pos, uint64_t key, uint64_t value, uint32_t now) {
  FdbSlot& s = slots_[pos];
  // A reader that sees the new word (acquire) sees this key_low; one that reads key_low first
  // and then an old word misses, as it would have a moment earlier.
  s.key_low.store(static_cast<uint32_t>(key), std::memory_order_relaxed);
  s.seen.store(now, std::memory_order_relaxed);
  s.word.store((key & kKeyHigh) | kFdbValid | value, std::memory_order_release);
}

Fdb::Learned Fdb::learn(uint64_t key, uint8_t port, uint32_t now) {
  const int32_t found = lookup(key);
  if (found >= 0) {
    FdbSlot& s = slots_[found];
    const uint64_t w = s.word.load(std::memory_order_relaxed);
    if (w & (kFdbStatic | kFdbLocal)) return Learned::kStaticKept;
    s.seen.store(now, std::memory_order_relaxed);
    if ((w & 0xff) == port) return Learned::kRefreshed;
    s.word.store((key & kKeyHigh) | kFdbValid | port, std::memory_order_release);  // one store
    return Learned::kMoved;
  }
  if (size_ >= capacity_) return Learned::kFull;
  const int32_t pos = place(key);
  if (pos < 0) return Learned::kFull;
  fill(static_cast<uint32_t>(pos), key, port, now);
  ++size_;
  return Learned::kAdded;
}

bool Fdb::add_static(uint64_t key, uint8_t port, uint64_t flags, uint32_t now) {
  // Only the public flags: the tombstone marks are the table's.
  const uint64_t value = (flags & (kFdbStatic | kFdbLocal)) | port;
  const int32_t found = lookup(key);
  if (found >= 0) {
    slots_[found].seen.store(now, std::memory_order_relaxed);
    slots_[found].word.store((key & kKeyHigh) | kFdbValid | value, std::memory_order_release);
    return true;
  }
  if (size_ >= capacity_) return false;
  const int32_t pos = place(key);
  if (pos < 0) return false;
  fill(static_cast<uint32_t>(pos), key, value, now);
  ++size_;
  return true;
}

bool Fdb::remove(uint64_t key) {
  const int32_t pos = lookup(key);
  if (pos < 0) return false;
  remove_at(static_cast<uint32_t>(pos));
  return true;
}

void Fdb::remove_at(uint32_t pos) {
  const uint64_t key = key_at(pos);
  const uint32_t home = bucket_of(key), b = pos / kBucketSlots;
  // From here a reader that holds the position reads a word without kFdbValid: a miss.
  slots_[pos].word.store(kRetired, std::memory_order_release);
  --size_;
  // The buckets this key's probe crossed may have kept reusable tombstones only for its sake.
  for (uint32_t a = home; a != b; a = a + 1 == buckets_ ? 0 : a + 1) clear_bucket(a);
  if (grace_ == nullptr) {
    make_reusable(pos);
    return;
  }
  ++waiting_;
  retiring_.push_back(pos);
}

void Fdb::make_reusable(uint32_t pos) {
  slots_[pos].word.store(kReusable, std::memory_order_relaxed);
  clear_bucket(pos / kBucketSlots);
}

// Turns bucket b's reusable tombstones into empty slots unless a live key's probe crosses b,
// i.e. a key stored d buckets further on whose home is d or more buckets before its own.
void Fdb::clear_bucket(uint32_t b) {
  const FdbSlot* s = &slots_[b * kBucketSlots];
  bool reusable = false, empty = false;
  for (uint32_t i = 0; i < kBucketSlots; ++i) {
    const uint64_t w = s[i].word.load(std::memory_order_relaxed);
    reusable |= w == kReusable;
    empty |= w == 0;
  }
  if (!reusable) return;
  // Already holding an empty slot, b ends every probe that reaches it: nothing crosses it.
  for (uint32_t d = 1, c = b; !empty && d < probe_limit_; ++d) {
    c = c + 1 == buckets_ ? 0 : c + 1;
    for (uint32_t i = 0; i < kBucketSlots; ++i) {
      const uint32_t pos = c * kBucketSlots + i;
      const uint64_t w = slots_[pos].word.load(std::memory_order_relaxed);
      if (w & kFdbValid) {
        if (distance(bucket_of(key_at(pos)), c) >= d) return;
      } else if (w == 0) {
        empty = true;  // probes end at c: keys further on do not cross b (c itself checked)
      }
    }
  }
  for (uint32_t i = 0; i < kBucketSlots; ++i)
    if (slots_[b * kBucketSlots + i].word.load(std::memory_order_relaxed) == kReusable)
      slots_[b * kBucketSlots + i].word.store(0, std::memory_order_relaxed);
}

size_t Fdb::remove_if(const std::function<bool(uint64_t, uint64_t)>& pred) {
  size_t removed = 0;
  for (uint32_t pos = 0; pos < slot_count(); ++pos) {
    const uint64_t w = slots_[pos].word.load(std::memory_order_relaxed);
    if (!(w & kFdbValid) || !pred(key_at(pos), w & kFdbValueBits)) continue;
    remove_at(pos);
    ++removed;
  }
  return removed;
}

size_t Fdb::age(uint32_t now, uint32_t budget, const std::function<uint32_t(uint16_t)>& ageing_of) {
  // `budget` is in entries of capacity; the table has more slots than that.
  const uint64_t visits = std::min<uint64_t>(
      (uint64_t{budget} * slot_count() + capacity_ - 1) / capacity_, slot_count());
  size_t removed = 0;
  for (uint64_t i = 0; i < visits; ++i) {
    const uint32_t pos = cursor_;
    cursor_ = cursor_ + 1 == slot_count() ? 0 : cursor_ + 1;
    const uint64_t w = slots_[pos].word.load(std::memory_order_relaxed);
    if (!(w & kFdbValid) || (w & (kFdbStatic | kFdbLocal))) continue;
    const uint32_t ageing = ageing_of(fdb_key_fid(key_at(pos)));
    if (ageing == 0) continue;
    const uint32_t seen = slots_[pos].seen.load(std::memory_order_relaxed);
    if (now - seen < ageing || static_cast<int32_t>(now - seen) < 0) continue;
    remove_at(pos);
    ++removed;
  }
  return removed;
}

void Fdb::reclaim(bool wait) {
  if (grace_ == nullptr) return;
  if (!retiring_.empty()) {
    pending_.emplace_back(grace_->start(), std::move(retiring_));
    retiring_.clear();
  }
  while (!pending_.empty() && grace_->check(pending_.front().first, wait)) {
    std::vector<uint32_t>& done = pending_.front().second;
    // From the end of the table back: a cleared bucket ends the scans of the ones before it.
    std::sort(done.begin(), done.end(), std::greater<>());
    for (uint32_t pos : done) make_reusable(pos);
    waiting_ -= static_cast<uint32_t>(done.size());
    pending_.pop_front();
  }
}

void Fdb::for_each(const std::function<void(const Entry&)>& f) const {
  for (uint32_t pos = 0; pos < slot_count(); ++pos) {
    const uint64_t w = slots_[pos].word.load(std::memory_order_relaxed);
    if (!(w & kFdbValid)) continue;
    f(Entry{key_at(pos), w & kFdbValueBits, slots_[pos].seen.load(std::memory_order_relaxed)});
  }
}

}  // namespace sluice
