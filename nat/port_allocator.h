// port_allocator.h — outside ports for NAT mappings, one allocator per (outside address,
// protocol) and worker share. The inside source port is kept when it is free (what users expect
// from Linux's masquerade; RFC 4787 REQ-3 allows it); otherwise the next free port after a
// rotating cursor. Exhaustion is reported, never solved by reusing a live mapping's port.
//
// With N workers the range is dealt out by stride: share w owns the ports p of [first, last]
// with (p - first) % N == w, so a reply's destination port names the worker owning its session.
// A bitmap over the share's ports: 8 KiB at most, O(1) keep-if-free, a word scan otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace sluice::nat {

class PortAllocator {
 public:
  struct Config {
    uint16_t first = 1024;  // the range, both ends included
    uint16_t last = 65535;
    unsigned shares = 1;  // workers the range is dealt to
    unsigned share = 0;   // which of them this allocator serves
  };
  // Throws std::invalid_argument for an empty range or share >= shares.
  explicit PortAllocator(const Config& cfg);

  // `wanted` when it is free and this share's, else the next free port of the share; nullopt
  // when the share has none left.
  std::optional<uint16_t> allocate(uint16_t wanted);
  // Exactly `port` (a forward rule's): false when it is taken or not this share's.
  bool take(uint16_t port);
  // Gives a port back; releasing a free or foreign port is a no-op.
  void release(uint16_t port);

  bool owns(uint16_t port) const;  // in this share's part of the range
  bool in_use(uint16_t port) const;
  size_t capacity() const { return count_; }
  size_t used() const { return used_; }

 private:
  size_t index_of(uint16_t port) const { return (port - cfg_.first) / cfg_.shares; }
  uint16_t port_of(size_t index) const {
    return static_cast<uint16_t>(cfg_.first + index * cfg_.shares + cfg_.share);
  }
  bool test(size_t i) const { return (bits_[i / 64] >> (i % 64)) & 1; }
  void set(size_t i) { bits_[i / 64] |= uint64_t{1} << (i % 64); }
  void clear(size_t i) { bits_[i / 64] &= ~(uint64_t{1} << (i % 64)); }

  Config cfg_;
  size_t count_ = 0;  // ports in this share
  size_t used_ = 0;
  size_t cursor_ = 0;  // where the search for a free port starts next
  std::vector<uint64_t> bits_;
};

}  // namespace sluice::nat
