// bridge_fdb.cpp — the FDB's writer side, over rte_hash.
#include "dataplane/bridge_fdb.h"

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include <stdexcept>
#include <string>

namespace sluice {

Fdb::Fdb(uint32_t capacity, lpm::GracePeriod* grace) : capacity_(capacity), grace_(grace) {
  if (capacity < 8) capacity_ = capacity = 8;
  static std::atomic<unsigned> instance{0};
  const std::string name = "sluice-fdb" + std::to_string(instance++);
  rte_hash_parameters p{};
  p.name = name.c_str();
  p.entries = capacity;
  p.key_len = sizeof(uint64_t);
  p.hash_func = rte_hash_crc;  // SSE4.2 crc32 of the 8-byte key: one instruction
  p.hash_func_init_val = 0;
  p.socket_id = SOCKET_ID_ANY;
  // Readers never lock; the control thread is the only writer. The extendable buckets let
  // the table hold its full capacity instead of refusing when a cuckoo path is not found.
  p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
  hash_ = rte_hash_create(&p);
  if (hash_ == nullptr)
    throw std::runtime_error("cannot create the FDB (" + std::to_string(capacity) +
                             " entries): " + rte_strerror(rte_errno));
  slots_ = static_cast<FdbSlot*>(
      rte_zmalloc("sluice-fdb-slots", sizeof(FdbSlot) * capacity, RTE_CACHE_LINE_SIZE));
  if (slots_ == nullptr) {
    rte_hash_free(hash_);
    throw std::runtime_error("cannot allocate the FDB's slots (" + std::to_string(capacity) +
                             " entries)");
  }
}

Fdb::~Fdb() {
  rte_hash_free(hash_);
  rte_free(slots_);
}

Fdb::Learned Fdb::learn(uint64_t key, uint8_t port, uint32_t now) {
  const int32_t pos = rte_hash_lookup(hash_, &key);
  if (pos >= 0) {
    FdbSlot& s = slots_[pos];
    const uint64_t w = s.word.load(std::memory_order_relaxed);
    if (w & (kFdbStatic | kFdbLocal)) return Learned::kStaticKept;
    s.seen.store(now, std::memory_order_relaxed);
    if ((w & 0xff) == port) return Learned::kRefreshed;
    s.word.store(kFdbValid | port, std::memory_order_release);
    return Learned::kMoved;
  }
  const int32_t added = rte_hash_add_key(hash_, &key);
  if (added < 0) return Learned::kFull;
  FdbSlot& s = slots_[added];
  s.seen.store(now, std::memory_order_relaxed);
  s.word.store(kFdbValid | port, std::memory_order_release);
  ++size_;
  return Learned::kAdded;
}

bool Fdb::add_static(uint64_t key, uint8_t port, uint64_t flags, uint32_t now) {
  int32_t pos = rte_hash_lookup(hash_, &key);
  if (pos < 0) {
    pos = rte_hash_add_key(hash_, &key);
    if (pos < 0) return false;
    ++size_;
  }
  slots_[pos].seen.store(now, std::memory_order_relaxed);
  slots_[pos].word.store(kFdbValid | flags | port, std::memory_order_release);
  return true;
}

bool Fdb::remove(uint64_t key) {
  const int32_t pos = rte_hash_lookup(hash_, &key);
  if (pos < 0) return false;
  slots_[pos].word.store(0, std::memory_order_release);
  rte_hash_del_key(hash_, &key);
  retire(pos);
  return true;
}

void Fdb::retire(int32_t pos) {
  --size_;
  if (grace_ == nullptr) {
    rte_hash_free_key_with_position(hash_, pos);
    return;
  }
  retiring_.push_back(pos);
}

size_t Fdb::remove_if(const std::function<bool(uint64_t, uint64_t)>& pred) {
  std::vector<uint64_t> doomed;
  for_each([&](const Entry& e) {
    if (pred(e.key, e.word)) doomed.push_back(e.key);
  });
  for (uint64_t k : doomed) remove(k);
  return doomed.size();
}

size_t Fdb::age(uint32_t now, uint32_t budget, const std::function<uint32_t(uint16_t)>& ageing_of) {
  size_t removed = 0;
  for (uint32_t i = 0; i < budget && i < capacity_; ++i) {
    const uint32_t pos = cursor_;
    cursor_ = cursor_ + 1 == capacity_ ? 0 : cursor_ + 1;
    FdbSlot& s = slots_[pos];
    const uint64_t w = s.word.load(std::memory_order_relaxed);
    if (!(w & kFdbValid) || (w & (kFdbStatic | kFdbLocal))) continue;
    void* kp = nullptr;
    if (rte_hash_get_key_with_position(hash_, static_cast<int32_t>(pos), &kp) != 0) continue;
    uint64_t key;
    __builtin_memcpy(&key, kp, sizeof key);
    const uint32_t ageing = ageing_of(fdb_key_fid(key));
    if (ageing == 0) continue;
    const uint32_t seen = s.seen.load(std::memory_order_relaxed);
    if (now - seen < ageing || static_cast<int32_t>(now - seen) < 0) continue;
    s.word.store(0, std::memory_order_release);
    rte_hash_del_key(hash_, &key);
    retire(static_cast<int32_t>(pos));
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
    for (int32_t pos : pending_.front().second) rte_hash_free_key_with_position(hash_, pos);
    pending_.pop_front();
  }
}

void Fdb::for_each(const std::function<void(const Entry&)>& f) const {
  const void* key;
  void* data;
  uint32_t next = 0;
  int32_t pos;
  while ((pos = rte_hash_iterate(hash_, &key, &data, &next)) >= 0) {
    const uint64_t w = slots_[pos].word.load(std::memory_order_relaxed);
    if (!(w & kFdbValid)) continue;
    Entry e;
    __builtin_memcpy(&e.key, key, sizeof e.key);
    e.word = w;
    e.seen = slots_[pos].seen.load(std::memory_order_relaxed);
    f(e);
  }
}

size_t Fdb::bytes() const {
  // rte_cuckoo_hash.c's layout for LF without per-lcore caches: key store of capacity + 1
  // entries, each RTE_ALIGN(sizeof(rte_hash_key) + key_len, 16) = 16 bytes; buckets of 8
  // entries (64 bytes), rte_align32pow2(capacity) / 8 of them, as many again for the
  // extendable table; the free-slot rings (4 bytes per entry, power of two) for keys and
  // extendable buckets; then our 16-byte slots.
  const size_t entries = capacity_;
  size_t pow2 = 1;
  while (pow2 < entries) pow2 <<= 1;
  const size_t buckets = pow2 / 8;
  size_t ring = 1;
  while (ring < entries + 1) ring <<= 1;
  return (entries + 1) * 16 + 2 * buckets * 64 + ring * 8 + 2 * buckets * 4 +
         entries * sizeof(FdbSlot);
}

}  // namespace sluice
