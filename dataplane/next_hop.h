// next_hop.h — what a route points at. Routes hold compact next-hop ids (lpm/ values); the
// next hop itself (kind, egress port, neighbour MAC) is one 64-bit word here, so a neighbour
// change is one atomic store that every route through that next hop sees at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "dataplane/mac_addr.h"

namespace sluice {

enum class NextHopKind : uint8_t {
  kForward = 0,      // out of a port to a neighbour (resolved or not)
  kLocal = 1,        // one of the router's own addresses
  kBroadcast = 2,    // a subnet's network or broadcast address: never forwarded
  kBlackhole = 3,    // dropped silently
  kUnreachable = 4,  // dropped with ICMP destination unreachable (host)
  kProhibit = 5,     // dropped with ICMP destination unreachable (administratively prohibited)
  kMultipath = 6,    // an ECMP route: the word names a next-hop group; ip4-lookup picks a member
};

// The word: bits 0-47 neighbour MAC, 48-55 port index, 56-59 kind, 63 resolved.
// A kMultipath word instead holds the group index in bits 0-31 and its slot count in 32-39: the
// reader needs both to pick a member, and one atomic word gives it a consistent pair.
class NextHopWord {
 public:
  constexpr NextHopWord() = default;
  constexpr explicit NextHopWord(uint64_t raw) : raw_(raw) {}
  static NextHopWord make(NextHopKind kind, uint16_t port, bool resolved = false,
                          MacAddr mac = MacAddr()) {
    return NextHopWord(mac.packed() | uint64_t{port & 0xffu} << 48 |
                       uint64_t{static_cast<uint8_t>(kind)} << 56 |
                       (resolved ? uint64_t{1} << 63 : 0));
  }
  static NextHopWord make_multipath(uint32_t group, unsigned slots) {
    return NextHopWord(uint64_t{group} | uint64_t{slots & 0xffu} << 32 |
                       uint64_t{static_cast<uint8_t>(NextHopKind::kMultipath)} << 56);
  }
  uint64_t raw() const { return raw_; }
  NextHopKind kind() const { return static_cast<NextHopKind>((raw_ >> 56) & 0xf); }
  uint16_t port() const { return static_cast<uint16_t>((raw_ >> 48) & 0xff); }
  bool resolved() const { return (raw_ >> 63) != 0; }
  bool forwardable() const { return (raw_ >> 56) == 0x80; }  // kForward and resolved
  uint64_t mac_packed() const { return raw_ & 0xffffffffffffULL; }
  MacAddr mac() const { return MacAddr::from_packed(mac_packed()); }
  uint32_t group() const { return static_cast<uint32_t>(raw_); }  // kMultipath only
  unsigned group_slots() const { return static_cast<unsigned>((raw_ >> 32) & 0xff); }

 private:
  uint64_t raw_ = 0;
};

// Fixed capacity, allocated once: workers index it with the id the route table returns.
class NextHopTable {
 public:
  explicit NextHopTable(uint32_t capacity)
      : capacity_(capacity), words_(new std::atomic<uint64_t>[capacity]) {
    for (uint32_t i = 0; i < capacity; ++i) words_[i].store(0, std::memory_order_relaxed);
  }
  uint32_t capacity() const { return capacity_; }
  NextHopWord get(uint32_t id) const {
    return NextHopWord(words_[id].load(std::memory_order_acquire));
  }
  void set(uint32_t id, NextHopWord w) { words_[id].store(w.raw(), std::memory_order_release); }

 private:
  uint32_t capacity_;
  std::unique_ptr<std::atomic<uint64_t>[]> words_;
};

// Next-hop groups (multipath routes), fixed capacity, allocated once. A group is an array of
// member next-hop ids, each member repeated in proportion to its weight, so a reader picks a
// member with one multiply and one load, whatever the weights. The writer fills a group's slots
// before any next-hop word names it, and never rewrites the slots of a group a reader may still
// hold (released groups wait a grace period before reuse; see ForwardingState).
inline constexpr unsigned kMaxGroupSlots = 64;

class NextHopGroupTable {
 public:
  explicit NextHopGroupTable(uint32_t capacity)
      : capacity_(capacity), groups_(new Group[capacity]) {
    for (uint32_t g = 0; g < capacity; ++g)
      for (auto& s : groups_[g].slots) s.store(0, std::memory_order_relaxed);
  }
  uint32_t capacity() const { return capacity_; }
  // The member for a flow hash: multiply-shift maps the 32-bit hash onto [0, slots) without a
  // division (slots is 1..64, so the product's top bits are uniform when the hash is).
  uint32_t pick(uint32_t group, unsigned slots, uint32_t hash) const {
    const unsigned i = static_cast<unsigned>((uint64_t{hash} * slots) >> 32);
    return groups_[group].slots[i & (kMaxGroupSlots - 1)].load(std::memory_order_relaxed);
  }
  uint32_t slot(uint32_t group, unsigned i) const {
    return groups_[group].slots[i & (kMaxGroupSlots - 1)].load(std::memory_order_relaxed);
  }
  void set_slot(uint32_t group, unsigned i, uint32_t nh) {
    groups_[group].slots[i].store(nh, std::memory_order_relaxed);
  }

 private:
  struct alignas(64) Group {
    std::atomic<uint32_t> slots[kMaxGroupSlots];
  };
  uint32_t capacity_;
  std::unique_ptr<Group[]> groups_;
};

}  // namespace sluice
