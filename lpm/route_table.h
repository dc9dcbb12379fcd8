// route_table.h — sluice's IPv4 route table: a RIB for the writer and a poptrie-style
// compressed multiway trie (the FIB) that worker threads read without locks.
//
// Why this shape (numbers and reasoning in lpm/README.md):
//  * Lookups: the top 18 bits index a 1 MiB direct array; below it, 64-ary nodes whose
//    children and leaves are found by popcount over 64-bit bitmaps, leaves run-length
//    compressed. The whole Internet table fits in a few MiB, i.e. in cache, where DIR-24-8
//    (rte_lpm, rte_fib) needs 64 MiB and mostly misses.
//  * Updates: the RIB keeps routes longer than /18 per /18 "chunk"; a change rebuilds only the
//    chunk it falls in, off to the side, and publishes it with one atomic 32-bit store. Readers
//    therefore see the old chunk or the new one, never a mix, and the old blocks are recycled
//    after a grace period (grace_period.h).
//
// Threading: exactly one writer thread calls the non-const members; any number of reader
// threads call lookup()/lookup_bulk() concurrently with it. Everything else that is const
// (get, match, for_each, stats) is for the writer's thread too: it reads the RIB.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lpm/grace_period.h"
#include "lpm/ipv4.h"

namespace sluice::lpm {

// Next hops are compact ids into the dataplane's next-hop table; 2^31 - 1 of them.
using NextHop = uint32_t;
inline constexpr NextHop kNoRoute = 0x7fffffffu;  // lookup result when nothing matches
inline constexpr NextHop kMaxNextHop = kNoRoute - 1;

enum class Status : uint8_t {
  ok,
  exists,        // insert() of a prefix already present (use replace())
  not_found,     // remove() of a prefix not present
  bad_next_hop,  // next hop id > kMaxNextHop
  no_memory,     // the FIB's reserved node or leaf space is exhausted
};
std::string_view to_string(Status s);

struct Route {
  Prefix prefix;
  NextHop nh;
  friend bool operator==(const Route&, const Route&) = default;
};

class RouteTable {
 public:
  struct Config {
    // Upper bounds of the FIB's arrays. They are reserved as virtual memory and only touched
    // pages cost RAM, so the defaults are generous: the full Internet table uses ~1/10 of them.
    size_t max_nodes = size_t(1) << 22;   // 24 bytes each
    size_t max_leaves = size_t(1) << 24;  // 4 bytes each
    // Where replaced FIB blocks wait for readers. nullptr: no concurrent readers, recycle at once.
    GracePeriod* grace = nullptr;
  };

  struct Stats {
    size_t routes = 0;
    size_t nodes_used = 0, leaves_used = 0;  // live FIB entries
    size_t fib_bytes = 0;       // memory the lookup path touches: direct array + nodes + leaves
    size_t rib_bytes = 0;       // the writer's route store, estimated from its containers
    size_t retired_blocks = 0;  // waiting for a grace period
  };

  RouteTable();
  explicit RouteTable(const Config& cfg);
  ~RouteTable();
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  // Writer side. Each call leaves the FIB consistent and published when it returns.
  Status insert(Prefix p, NextHop nh);   // fails with `exists` if present
  Status replace(Prefix p, NextHop nh);  // insert or overwrite (`ip route replace`)
  Status remove(Prefix p);               // the covering route, if any, takes over again
  void clear();
  // Recycles retired blocks whose grace period has ended (also done by every update).
  void reclaim(bool wait = false);

  // Reader side: lock-free, allocation-free, safe concurrently with one writer.
  NextHop lookup(Ipv4Addr a) const noexcept;
  // The dataplane's form: a burst of addresses at once, walked level by level so the memory
  // accesses of different packets overlap and no branch depends on the packet.
  void lookup_bulk(const Ipv4Addr* addrs, NextHop* out, size_t n) const noexcept;

  // Writer-thread queries of the RIB.
  std::optional<NextHop> get(Prefix p) const;    // exact match
  std::optional<Route> match(Ipv4Addr a) const;  // the route `ip route get` would show
  size_t size() const { return routes_; }
  Stats stats() const;
  // Every route in (address, length) order, as `ip route show` lists them.
  template <class F>
  void for_each(F&& f) const;
  std::vector<Route> routes() const;

 private:
  // Poptrie node: bit i of `children` says slot i (the next 6 address bits) continues in a
  // child node; `leafstart` marks the first slot of each run of equal leaves among the other
  // slots. Children of a node are contiguous from `child_base`, its leaves from `leaf_base`.
  struct Node {
    uint64_t children;
    uint64_t leafstart;
    uint32_t leaf_base;
    uint32_t child_base;
  };
  static_assert(sizeof(Node) == 24);

  static constexpr unsigned kDirectBits = 18;
  static constexpr unsigned kChunkShift = 32 - kDirectBits;  // 14
  static constexpr size_t kChunks = size_t(1) << kDirectBits;
  static constexpr uint32_t kNodeFlag = 0x80000000u;  // direct entry holds a node index
  static constexpr uint8_t kNoLen = 0xff;             // chunk covered by no short route

  // RIB: routes up to /18 in a hash by (len, addr); longer ones in per-chunk sorted vectors.
  struct LongRoute {
    uint32_t addr;
    uint8_t len;
    NextHop nh;
  };
  struct Block {
    uint32_t start;
    uint8_t size;  // 1..64 entries
    bool is_node;
  };
  struct Retired {
    uint64_t token;
    Block block;
  };

  static uint64_t short_key(uint32_t addr, unsigned len) { return uint64_t(len) << 32 | addr; }
  NextHop covering_short(uint32_t addr, int max_len, unsigned* len_out) const;
  Status upsert(Prefix p, NextHop nh, bool may_exist);
  Status short_changed(Prefix p, NextHop nh);
  Status short_removed(Prefix p);
  template <class V>
  static auto find_long(V& v, Prefix p);
  // The walk below the direct array, shared by lookup() and lookup_bulk().
  NextHop walk(uint32_t node, uint32_t key) const noexcept;
  Status publish_chunk(size_t chunk);
  void prefetch_chunk(size_t chunk) const;
  bool build(const LongRoute* b, const LongRoute* e, unsigned off, NextHop dflt, Node* node,
             NextHop* leaf, std::vector<Block>& made);
  void collect_blocks(uint32_t start, unsigned count, std::vector<Block>& out) const;
  bool alloc(bool is_node, unsigned size, uint32_t* start);
  void release(const Block& b);
  void retire_subtree(uint32_t direct_entry);

  Config cfg_;
  // FIB: three arrays reserved with mmap so they never move under a reader.
  std::atomic<uint32_t>* direct_ = nullptr;  // 2^18 entries: leaf next hop or kNodeFlag|node
  size_t direct_count_ = 0;                  // as reserved (rounded up to 2 MiB)
  Node* nodes_ = nullptr;
  NextHop* leaves_ = nullptr;
  size_t nodes_bump_ = 0, leaves_bump_ = 0;  // high-water marks of the reserved arrays
  size_t nodes_live_ = 0, leaves_live_ = 0;
  std::vector<uint32_t> free_nodes_[65], free_leaves_[65];  // recycled blocks by size
  std::deque<Retired> retired_;                             // waiting for a grace period
  std::vector<Block> scratch_, made_;

  std::unordered_map<uint64_t, NextHop> short_;
  // Per chunk, everything an update of it reads, together so it costs one cache miss: the
  // routes longer than /18 inside it, sorted by (address, length), and its best short route.
  struct Chunk {
    std::vector<LongRoute> routes;
    NextHop dflt = kNoRoute;
    uint8_t dflt_len = kNoLen;
  };
  std::unique_ptr<Chunk[]> chunks_;
  // Which chunks hold long routes (bit c of word c / 64), and the routes' vectors' capacity
  // summed: `route show` and `stats` then cost O(routes), not a walk of 2^18 chunks each
  // (which made a `sluice stats` on a small table cost as much as on a full one).
  std::unique_ptr<uint64_t[]> nonempty_;
  size_t long_capacity_ = 0;
  void chunk_resized(size_t c, size_t capacity_before);
  size_t routes_ = 0;
};

// ---- inline reader path ---------------------------------------------------------------------

inline NextHop RouteTable::walk(uint32_t node, uint32_t key) const noexcept {
  const Node* n = &nodes_[node];
  // Offsets 18, 24, 30: the last level sees 2 real bits and 4 zero bits of padding.
  const uint64_t k = uint64_t(key) << 32;
  for (unsigned off = kDirectBits;; off += 6) {
    const unsigned idx = unsigned(k >> (58 - off)) & 63;
    const uint64_t upto = ~uint64_t(0) >> (63 - idx);  // slots 0..idx
    if (n->children >> idx & 1) {
      n = &nodes_[n->child_base + __builtin_popcountll(n->children & upto) - 1];
    } else {
      return leaves_[n->leaf_base + __builtin_popcountll(n->leafstart & upto) - 1];
    }
  }
}

inline NextHop RouteTable::lookup(Ipv4Addr a) const noexcept {
  const uint32_t e = direct_[a.host() >> kChunkShift].load(std::memory_order_acquire);
  return (e & kNodeFlag) ? walk(e & ~kNodeFlag, a.host()) : e;
}

template <class F>
void RouteTable::for_each(F&& f) const {
  std::vector<Route> shorts;
  shorts.reserve(short_.size());
  for (const auto& [key, nh] : short_) {
    shorts.push_back(
        Route{*Prefix::make(Ipv4Addr::from_host(uint32_t(key)), unsigned(key >> 32)), nh});
  }
  std::sort(shorts.begin(), shorts.end(),
            [](const Route& x, const Route& y) { return x.prefix < y.prefix; });
  size_t s = 0;
  for (size_t w = 0; w < kChunks / 64; ++w) {
    for (uint64_t bits = nonempty_[w]; bits != 0; bits &= bits - 1) {
      const size_t c = w * 64 + size_t(__builtin_ctzll(bits));
      const uint32_t base = uint32_t(c) << kChunkShift;
      while (s < shorts.size() && shorts[s].prefix.addr().host() <= base) f(shorts[s++]);
      for (const LongRoute& r : chunks_[c].routes) {
        f(Route{*Prefix::make(Ipv4Addr::from_host(r.addr), r.len), r.nh});
      }
    }
  }
  while (s < shorts.size()) f(shorts[s++]);
}

}  // namespace sluice::lpm
