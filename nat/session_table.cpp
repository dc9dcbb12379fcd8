// session_table.cpp — the two indexes (linear probing with backward-shift deletion, after Knuth
// 6.4 Algorithm R) and the wheel's intrusive lists.
#include "nat/session_table.h"

#include <stdexcept>
#include <string>

namespace sluice::nat {

SessionTable::SessionTable(const Config& cfg) : cfg_(cfg) {
  if (cfg.capacity == 0 || cfg.capacity > kMaxCapacity)
    throw std::invalid_argument("session table capacity must be 1-" + std::to_string(kMaxCapacity));
  if (cfg.wheel_slots == 0 || (cfg.wheel_slots & (cfg.wheel_slots - 1)) != 0)
    throw std::invalid_argument("timing wheel slots must be a power of two");
  sessions_ = std::make_unique<Session[]>(cfg.capacity);
  free_.reserve(cfg.capacity);
  for (uint32_t i = cfg.capacity; i-- > 0;) free_.push_back(i);
  uint64_t slots = 2;
  while (slots < uint64_t{cfg.capacity} * 2) slots <<= 1;
  in_index_.assign(slots, kNone);
  out_index_.assign(slots, kNone);
  index_mask_ = slots - 1;
  wheel_.assign(cfg.wheel_slots + 1, kNone);  // the last list: overdue when filed
}

size_t SessionTable::bytes() const {
  return sizeof(Session) * cfg_.capacity + sizeof(uint32_t) * (free_.capacity() + in_index_.size() +
                                                               out_index_.size() + wheel_.size());
}

uint32_t SessionTable::find(const std::vector<uint32_t>& index, const FlowKey& k, uint64_t h,
                            bool inside) const {
  const uint32_t tag = tag_of(h);
  for (uint64_t i = h & index_mask_;; i = (i + 1) & index_mask_) {
    const uint32_t e = index[i];
    if (e == kNone) return kNone;
    // The tag settles most mismatches without reading the session (a cache miss each).
    if ((e & kTagMask) == tag && key_of(e & kIdMask, inside) == k) return e & kIdMask;
  }
}

void SessionTable::index_insert(std::vector<uint32_t>& index, const FlowKey& k, uint32_t id) {
  const uint64_t h = hash(k);
  uint64_t i = h & index_mask_;
  while (index[i] != kNone) i = (i + 1) & index_mask_;
  index[i] = id | tag_of(h);
}

void SessionTable::index_erase(std::vector<uint32_t>& index, const FlowKey& k, bool inside) {
  uint64_t i = hash(k) & index_mask_;
  while (index[i] != kNone && !(key_of(index[i] & kIdMask, inside) == k)) i = (i + 1) & index_mask_;
  if (index[i] == kNone) return;
  // Backward shift: pull later entries of the probe run into the hole when their home slot
  // does not lie cyclically in (hole, their position].
  uint64_t hole = i;
  for (uint64_t j = (i + 1) & index_mask_; index[j] != kNone; j = (j + 1) & index_mask_) {
    const uint64_t home = hash(key_of(index[j] & kIdMask, inside)) & index_mask_;
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    index[hole] = index[j];
    hole = j;
  }
  index[hole] = kNone;
}

void SessionTable::wheel_link(uint32_t id) {
  Session& s = sessions_[id];
  // A deadline whose second the wheel has passed goes to the overdue list, which the next
  // expire() empties first.
  const uint32_t slot = wheel_started_ && s.deadline < wheel_now_
                            ? cfg_.wheel_slots
                            : s.deadline & (cfg_.wheel_slots - 1);
  s.wheel_prev = kNone;
  s.wheel_slot = slot;
  s.wheel_next = wheel_[slot];
  if (s.wheel_next != kNone) sessions_[s.wheel_next].wheel_prev = id;
  wheel_[slot] = id;
}

void SessionTable::wheel_unlink(uint32_t id) {
  Session& s = sessions_[id];
  if (s.wheel_slot == kNone) return;  // in no list (expire() took it off)
  if (s.wheel_prev != kNone)
    sessions_[s.wheel_prev].wheel_next = s.wheel_next;
  else
    wheel_[s.wheel_slot] = s.wheel_next;
  if (s.wheel_next != kNone) sessions_[s.wheel_next].wheel_prev = s.wheel_prev;
  s.wheel_next = s.wheel_prev = kNone;
  s.wheel_slot = kNone;
}

uint32_t SessionTable::insert(const FlowKey& inside, const FlowKey& outside, uint32_t deadline) {
  if (free_.empty()) return kNone;
  if (find_inside(inside) != kNone || find_outside(outside) != kNone) return kNone;
  const uint32_t id = free_.back();
  free_.pop_back();
  Session& s = sessions_[id];
  s = Session{};
  s.inside = inside;
  s.outside = outside;
  s.deadline = deadline;
  index_insert(in_index_, inside, id);
  index_insert(out_index_, outside, id);
  wheel_link(id);
  size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return id;
}

void SessionTable::erase(uint32_t id) {
  Session& s = sessions_[id];
  index_erase(in_index_, s.inside, true);
  index_erase(out_index_, s.outside, false);
  wheel_unlink(id);
  free_.push_back(id);
  size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

}  // namespace sluice::nat
