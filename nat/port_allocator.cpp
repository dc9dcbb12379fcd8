// port_allocator.cpp — the bitmap search: whole 64-bit words at a time from the cursor, so a
// nearly full share costs a scan of at most 1,024 words, and a fresh one a single word.
#include "nat/port_allocator.h"

#include <stdexcept>

namespace sluice::nat {

PortAllocator::PortAllocator(const Config& cfg) : cfg_(cfg) {
  if (cfg.first > cfg.last) throw std::invalid_argument("empty port range");
  if (cfg.shares == 0 || cfg.share >= cfg.shares)
    throw std::invalid_argument("port share out of range");
  const size_t span = size_t{cfg.last} - cfg.first + 1;
  count_ = span > cfg.share ? (span - cfg.share + cfg.shares - 1) / cfg.shares : 0;
  if (count_ == 0) throw std::invalid_argument("no port of the range falls in this share");
  bits_.assign((count_ + 63) / 64, 0);
  // Bits past the end are marked used once, so the word scan never returns them.
  for (size_t i = count_; i < bits_.size() * 64; ++i) set(i);
}

bool PortAllocator::owns(uint16_t port) const {
  return port >= cfg_.first && port <= cfg_.last && (port - cfg_.first) % cfg_.shares == cfg_.share;
}

bool PortAllocator::in_use(uint16_t port) const {
  return owns(port) && test(index_of(port));
}

bool PortAllocator::take(uint16_t port) {
  if (!owns(port) || test(index_of(port))) return false;
  set(index_of(port));
  ++used_;
  return true;
}

std::optional<uint16_t> PortAllocator::allocate(uint16_t wanted) {
  if (take(wanted)) return wanted;
  if (used_ == count_) return std::nullopt;
  const size_t words = bits_.size();
  size_t w = cursor_ / 64;
  // The cursor's own word: only the bits at or after the cursor on the first pass.
  uint64_t free = ~bits_[w] & (~uint64_t{0} << (cursor_ % 64));
  for (size_t n = 0; n <= words; ++n) {
    if (free != 0) {
      const size_t i = w * 64 + static_cast<size_t>(__builtin_ctzll(free));
      set(i);
      ++used_;
      cursor_ = i + 1 == count_ ? 0 : i + 1;
      return port_of(i);
    }
    w = w + 1 == words ? 0 : w + 1;
    free = ~bits_[w];
  }
  return std::nullopt;  // unreachable while used_ < count_
}

void PortAllocator::release(uint16_t port) {
  if (!owns(port) || !test(index_of(port))) return;
  clear(index_of(port));
  --used_;
}

}  // namespace sluice::nat
