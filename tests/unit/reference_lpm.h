// reference_lpm.h — the oracles RouteTable is tested against.
//
// ReferenceLpm is deliberately naive so that it is correct by inspection: one hash map per
// prefix length, and a lookup that tries lengths 32, 31, ..., 0 and takes the first hit. It
// shares no code or idea with the poptrie in lpm/.
//
// IntervalLpm is a frozen snapshot of a ReferenceLpm for tests that need millions of lookups
// (the full Internet table). It splits the address space at every prefix's first address and
// one past its last; between two consecutive split points no prefix starts or ends, so the set
// of covering prefixes, and hence the answer, is the same for every address in the interval.
// It asks the ReferenceLpm for that answer once per interval and binary-searches at lookup.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "lpm/ipv4.h"
#include "lpm/route_table.h"

namespace sluice::test {

class ReferenceLpm {
 public:
  // Same contract as RouteTable::insert: false (nothing changed) when the prefix is present.
  bool insert(Prefix p, lpm::NextHop nh) { return by_len_[p.len()].emplace(key(p), nh).second; }
  // Returns whether the prefix was present before.
  bool replace(Prefix p, lpm::NextHop nh) {
    return !by_len_[p.len()].insert_or_assign(key(p), nh).second;
  }
  bool remove(Prefix p) { return by_len_[p.len()].erase(key(p)) == 1; }
  void clear() {
    for (auto& m : by_len_) m.clear();
  }

  std::optional<lpm::NextHop> get(Prefix p) const {
    const auto& m = by_len_[p.len()];
    auto it = m.find(key(p));
    if (it == m.end()) return std::nullopt;
    return it->second;
  }

  std::optional<lpm::Route> match(Ipv4Addr a) const {
    for (int len = 32; len >= 0; --len) {
      const auto& m = by_len_[len];
      if (m.empty()) continue;  // only a shortcut: an empty map cannot contain a match
      auto it = m.find(a.host() & Prefix::mask_of(unsigned(len)));
      if (it != m.end()) {
        return lpm::Route{*Prefix::make(Ipv4Addr::from_host(it->first), unsigned(len)), it->second};
      }
    }
    return std::nullopt;
  }

  lpm::NextHop lookup(Ipv4Addr a) const {
    auto r = match(a);
    return r ? r->nh : lpm::kNoRoute;
  }

  size_t size() const {
    size_t n = 0;
    for (const auto& m : by_len_) n += m.size();
    return n;
  }

  // All routes sorted by Prefix order (address, then shorter first).
  std::vector<lpm::Route> routes() const {
    std::vector<lpm::Route> out;
    for (unsigned len = 0; len <= 32; ++len) {
      for (const auto& [addr, nh] : by_len_[len]) {
        out.push_back(lpm::Route{*Prefix::make(Ipv4Addr::from_host(addr), len), nh});
      }
    }
    std::sort(out.begin(), out.end(),
              [](const lpm::Route& x, const lpm::Route& y) { return x.prefix < y.prefix; });
    return out;
  }

 private:
  static uint32_t key(Prefix p) { return p.addr().host(); }

  std::array<std::unordered_map<uint32_t, lpm::NextHop>, 33> by_len_;
};

class IntervalLpm {
 public:
  explicit IntervalLpm(const ReferenceLpm& ref) {
    std::vector<uint32_t> cuts{0};
    for (const lpm::Route& r : ref.routes()) {
      cuts.push_back(r.prefix.first().host());
      // One past the last address, unless that would wrap past 255.255.255.255.
      if (r.prefix.last().host() != UINT32_MAX) cuts.push_back(r.prefix.last().host() + 1);
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    starts_ = std::move(cuts);
    answers_.reserve(starts_.size());
    for (uint32_t s : starts_) answers_.push_back(ref.lookup(Ipv4Addr::from_host(s)));
  }

  lpm::NextHop lookup(Ipv4Addr a) const {
    // The interval holding `a` starts at the last split point <= a; starts_[0] == 0 exists.
    auto it = std::upper_bound(starts_.begin(), starts_.end(), a.host());
    return answers_[size_t(it - starts_.begin()) - 1];
  }

  size_t intervals() const { return starts_.size(); }

 private:
  std::vector<uint32_t> starts_;
  std::vector<lpm::NextHop> answers_;
};

}  // namespace sluice::test
