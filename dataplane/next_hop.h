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
};

// The word: bits 0-47 neighbour MAC, 48-55 port index, 56-59 kind, 63 resolved.
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
  uint64_t raw() const { return raw_; }
  NextHopKind kind() const { return static_cast<NextHopKind>((raw_ >> 56) & 0xf); }
  uint16_t port() const { return static_cast<uint16_t>((raw_ >> 48) & 0xff); }
  bool resolved() const { return (raw_ >> 63) != 0; }
  bool forwardable() const { return (raw_ >> 56) == 0x80; }  // kForward and resolved
  uint64_t mac_packed() const { return raw_ & 0xffffffffffffULL; }
  MacAddr mac() const { return MacAddr::from_packed(mac_packed()); }

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

}  // namespace sluice
