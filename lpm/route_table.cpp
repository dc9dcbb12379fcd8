// route_table.cpp — the writer side of RouteTable: RIB maintenance, chunk rebuilds, publication
// and grace-period recycling of FIB blocks. Nothing here runs on the packet path.
#include "lpm/route_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace sluice::lpm {

std::string_view to_string(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::exists: return "route already exists";
    case Status::not_found: return "no such route";
    case Status::bad_next_hop: return "next hop id out of range";
    case Status::no_memory: return "route table memory exhausted";
  }
  return "unknown status";
}

namespace {

// Reserves `*count` elements of address space, halving on refusal (strict overcommit).
// MAP_NORESERVE: untouched pages cost nothing, so the bounds can be generous. THP is requested
// because the lookup path jumps around a few MiB; 2 MiB pages keep that within the TLB.
void* reserve(size_t* count, size_t elem) {
  // Whole 2 MiB units, so that even the 1 MiB direct array can sit in one huge page.
  constexpr size_t kHuge = size_t(2) << 20;
  *count = (*count * elem + kHuge - 1) / kHuge * kHuge / elem;
  while (*count >= 1024) {
    void* p = mmap(nullptr, *count * elem, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) {
      madvise(p, *count * elem, MADV_HUGEPAGE);
      return p;
    }
    *count /= 2;
  }
  throw std::bad_alloc();
}

inline unsigned slot_of(uint32_t addr, unsigned off) {
  return unsigned((uint64_t(addr) << 32) >> (58 - off)) & 63;
}

bool route_less(uint32_t a1, uint8_t l1, uint32_t a2, uint8_t l2) {
  return a1 != a2 ? a1 < a2 : l1 < l2;
}

}  // namespace

RouteTable::RouteTable() : RouteTable(Config{}) {}

RouteTable::RouteTable(const Config& cfg) : cfg_(cfg) {
  cfg_.max_nodes = std::min(cfg_.max_nodes, size_t(kNodeFlag) - 1);
  cfg_.max_leaves = std::min(cfg_.max_leaves, size_t(kNodeFlag) - 1);
  direct_count_ = kChunks;
  direct_ = static_cast<std::atomic<uint32_t>*>(reserve(&direct_count_, sizeof(uint32_t)));
  for (size_t i = 0; i < kChunks; ++i) {
    new (&direct_[i]) std::atomic<uint32_t>(kNoRoute);
  }
  nodes_ = static_cast<Node*>(reserve(&cfg_.max_nodes, sizeof(Node)));
  leaves_ = static_cast<NextHop*>(reserve(&cfg_.max_leaves, sizeof(NextHop)));
  // Leaf index 0 is a sentinel so that the branch-free bulk walk may always compute
  // leaf_base + rank - 1 and load it, even for slots that turn out to be children.
  leaves_[0] = kNoRoute;
  leaves_bump_ = 1;
  chunks_ = std::make_unique<Chunk[]>(kChunks);
  nonempty_ = std::make_unique<uint64_t[]>(kChunks / 64);  // zeroed
}

void RouteTable::chunk_resized(size_t c, size_t capacity_before) {
  const std::vector<LongRoute>& v = chunks_[c].routes;
  long_capacity_ += v.capacity();
  long_capacity_ -= capacity_before;
  const uint64_t bit = uint64_t(1) << (c % 64);
  if (v.empty()) {
    nonempty_[c / 64] &= ~bit;
  } else {
    nonempty_[c / 64] |= bit;
  }
}

RouteTable::~RouteTable() {
  munmap(direct_, direct_count_ * sizeof(uint32_t));
  munmap(nodes_, cfg_.max_nodes * sizeof(Node));
  munmap(leaves_, cfg_.max_leaves * sizeof(NextHop));
}

// ---- allocation and recycling ---------------------------------------------------------------

bool RouteTable::alloc(bool is_node, unsigned size, uint32_t* start) {
  std::vector<uint32_t>& fl = is_node ? free_nodes_[size] : free_leaves_[size];
  size_t& bump = is_node ? nodes_bump_ : leaves_bump_;
  const size_t max = is_node ? cfg_.max_nodes : cfg_.max_leaves;
  if (!fl.empty()) {
    *start = fl.back();
    fl.pop_back();
  } else {
    if (bump + size > max) return false;
    *start = uint32_t(bump);
    bump += size;
  }
  (is_node ? nodes_live_ : leaves_live_) += size;
  return true;
}

void RouteTable::release(const Block& b) {
  (b.is_node ? free_nodes_[b.size] : free_leaves_[b.size]).push_back(b.start);
  (b.is_node ? nodes_live_ : leaves_live_) -= b.size;
}

void RouteTable::retire_subtree(uint32_t entry) {
  if (!(entry & kNodeFlag)) return;
  scratch_.clear();
  collect_blocks(entry & ~kNodeFlag, 1, scratch_);
  if (!cfg_.grace) {
    for (const Block& b : scratch_) release(b);
    return;
  }
  const uint64_t token = cfg_.grace->start();
  for (const Block& b : scratch_) retired_.push_back(Retired{token, b});
}

void RouteTable::reclaim(bool wait) {
  while (!retired_.empty()) {
    const uint64_t token = retired_.front().token;
    if (!cfg_.grace->check(token, wait)) return;
    while (!retired_.empty() && retired_.front().token == token) {
      release(retired_.front().block);
      retired_.pop_front();
    }
  }
}

void RouteTable::collect_blocks(uint32_t start, unsigned count, std::vector<Block>& out) const {
  out.push_back(Block{start, uint8_t(count), true});
  for (unsigned i = 0; i < count; ++i) {
    const Node& n = nodes_[start + i];
    if (unsigned nl = __builtin_popcountll(n.leafstart)) {
      out.push_back(Block{n.leaf_base, uint8_t(nl), false});
    }
    if (n.children) collect_blocks(n.child_base, __builtin_popcountll(n.children), out);
  }
}

// ---- building a chunk -----------------------------------------------------------------------

// Builds the subtree for routes [b, e), all longer than `off` and inside one prefix of length
// `off`, under the inherited next hop `dflt`. A subtree that would hold a single next hop and no
// children collapses into a leaf (`*leaf` set, returns true with no node). Routes arrive sorted
// by (address, length), so a covering route is always painted before what it covers: painting
// in order yields the longest match per slot without a separate sort by length.
bool RouteTable::build(const LongRoute* b, const LongRoute* e, unsigned off, NextHop dflt,
                       Node* node, NextHop* leaf, std::vector<Block>& made) {
  NextHop slot[64];
  std::fill_n(slot, 64, dflt);
  Node child[64];
  uint64_t children = 0;
  const unsigned end = off + 6;
  for (const LongRoute* p = b; p < e;) {
    const unsigned s = slot_of(p->addr, off);
    if (p->len <= end) {
      std::fill_n(slot + s, size_t(1) << (end - p->len), p->nh);
      ++p;
      continue;
    }
    const LongRoute* q = p;
    while (q < e && slot_of(q->addr, off) == s) ++q;
    NextHop sub_leaf;
    if (!build(p, q, end, slot[s], &child[s], &sub_leaf, made)) return false;
    if (child[s].children == 0 && child[s].leafstart == 0) {
      slot[s] = sub_leaf;  // collapsed
    } else {
      children |= uint64_t(1) << s;
    }
    p = q;
  }

  // Run-length compress the leaf slots; child slots do not break a run. The common case (no
  // children) finds run starts with a branch-free compare of neighbours: this loop was 60% of
  // an update's instructions when written as a branchy scan.
  NextHop runs[64];
  unsigned nruns = 0;
  uint64_t leafstart = 1;
  if (children == 0) {
    for (unsigned s = 1; s < 64; ++s) leafstart |= uint64_t(slot[s] != slot[s - 1]) << s;
    for (uint64_t m = leafstart; m; m &= m - 1) runs[nruns++] = slot[__builtin_ctzll(m)];
  } else {
    leafstart = 0;
    for (unsigned s = 0; s < 64; ++s) {
      if (children >> s & 1) continue;
      if (nruns == 0 || runs[nruns - 1] != slot[s]) {
        runs[nruns++] = slot[s];
        leafstart |= uint64_t(1) << s;
      }
    }
  }
  if (children == 0 && nruns == 1) {
    *node = Node{0, 0, 1, 0};
    *leaf = runs[0];
    return true;
  }
  Node n{children, leafstart, 1, 0};
  if (nruns) {
    if (!alloc(false, nruns, &n.leaf_base)) return false;
    made.push_back(Block{n.leaf_base, uint8_t(nruns), false});
    std::copy_n(runs, nruns, leaves_ + n.leaf_base);
  }
  if (children) {
    const unsigned nc = __builtin_popcountll(children);
    if (!alloc(true, nc, &n.child_base)) return false;
    made.push_back(Block{n.child_base, uint8_t(nc), true});
    Node* dst = nodes_ + n.child_base;
    for (uint64_t m = children; m; m &= m - 1) *dst++ = child[__builtin_ctzll(m)];
  }
  *node = n;
  return true;
}

// Rebuilds chunk `c` from the RIB next to the live one, publishes it with one atomic store and
// retires the old blocks. On allocation failure nothing is published and nothing leaks.
Status RouteTable::publish_chunk(size_t c) {
  const uint32_t old = direct_[c].load(std::memory_order_relaxed);
  const std::vector<LongRoute>* v = &chunks_[c].routes;
  uint32_t entry = chunks_[c].dflt;
  if (!v->empty()) {
    made_.clear();
    Node root;
    NextHop leaf;
    uint32_t idx = 0;
    bool ok =
        build(v->data(), v->data() + v->size(), kDirectBits, chunks_[c].dflt, &root, &leaf, made_);
    if (ok && (root.children || root.leafstart)) {
      ok = alloc(true, 1, &idx);
      if (ok) {
        made_.push_back(Block{idx, 1, true});
        nodes_[idx] = root;
        entry = idx | kNodeFlag;
      }
    } else if (ok) {
      entry = leaf;
    }
    if (!ok) {
      for (const Block& b : made_) release(b);
      return Status::no_memory;
    }
  }
  if (entry == old) return Status::ok;
  direct_[c].store(entry, std::memory_order_release);
  retire_subtree(old);
  return Status::ok;
}

// ---- the RIB --------------------------------------------------------------------------------

NextHop RouteTable::covering_short(uint32_t addr, int max_len, unsigned* len_out) const {
  for (int l = std::min(max_len, int(kDirectBits)); l >= 0; --l) {
    auto it = short_.find(short_key(addr & Prefix::mask_of(l), l));
    if (it != short_.end()) {
      *len_out = unsigned(l);
      return it->second;
    }
  }
  *len_out = kNoLen;
  return kNoRoute;
}

// A short route (len <= 18) became `nh` (insert or replace): every chunk it covers whose best
// short route is no longer than it takes the new next hop.
Status RouteTable::short_changed(Prefix p, NextHop nh) {
  const size_t first = p.addr().host() >> kChunkShift;
  const size_t count = size_t(1) << (kDirectBits - p.len());
  Status st = Status::ok;
  for (size_t c = first; c < first + count; ++c) {
    const uint8_t cur = chunks_[c].dflt_len;
    if (cur != kNoLen && cur > p.len()) continue;  // a more specific short route wins here
    if (chunks_[c].dflt == nh && cur == p.len()) continue;
    chunks_[c].dflt = nh;
    chunks_[c].dflt_len = uint8_t(p.len());
    if (publish_chunk(c) != Status::ok) st = Status::no_memory;
  }
  return st;
}

// A short route was removed: the chunks it won go to the route that covers it.
Status RouteTable::short_removed(Prefix p) {
  unsigned cover_len;
  const NextHop cover = covering_short(p.addr().host(), int(p.len()) - 1, &cover_len);
  const size_t first = p.addr().host() >> kChunkShift;
  const size_t count = size_t(1) << (kDirectBits - p.len());
  Status st = Status::ok;
  for (size_t c = first; c < first + count; ++c) {
    if (chunks_[c].dflt_len != p.len()) continue;
    chunks_[c].dflt = cover;
    chunks_[c].dflt_len = uint8_t(cover_len);
    if (publish_chunk(c) != Status::ok) st = Status::no_memory;
  }
  return st;
}

template <class V>
auto RouteTable::find_long(V& v, Prefix p) {
  const uint32_t a = p.addr().host();
  const uint8_t l = uint8_t(p.len());
  return std::lower_bound(v.begin(), v.end(), 0,
                          [&](const LongRoute& r, int) { return route_less(r.addr, r.len, a, l); });
}

// The cache lines an update of a long route will need, requested together: the chunk's RIB
// entry, its direct entry and (once that arrives) its live root, instead of one miss after the
// other. Most of an update's time on a loaded table is these misses.
void RouteTable::prefetch_chunk(size_t c) const {
  __builtin_prefetch(chunks_[c].routes.data());  // loads the chunk entry, prefetches its routes
  const uint32_t e = direct_[c].load(std::memory_order_relaxed);
  if (e & kNodeFlag) __builtin_prefetch(&nodes_[e & ~kNodeFlag]);
}

Status RouteTable::upsert(Prefix p, NextHop nh, bool may_exist) {
  if (nh > kMaxNextHop) return Status::bad_next_hop;
  if (p.len() > kDirectBits) prefetch_chunk(p.addr().host() >> kChunkShift);
  if (cfg_.grace) reclaim(false);
  if (p.len() <= kDirectBits) {
    auto [it, added] = short_.try_emplace(short_key(p.addr().host(), p.len()), nh);
    if (!added) {
      if (!may_exist) return Status::exists;
      if (it->second == nh) return Status::ok;
      it->second = nh;
    } else {
      ++routes_;
    }
    return short_changed(p, nh);
  }
  const size_t c = p.addr().host() >> kChunkShift;
  std::vector<LongRoute>& v = chunks_[c].routes;
  auto it = find_long(v, p);
  const bool present = it != v.end() && it->addr == p.addr().host() && it->len == p.len();
  if (present) {
    if (!may_exist) return Status::exists;
    if (it->nh == nh) return Status::ok;
    const NextHop before = it->nh;
    it->nh = nh;
    if (publish_chunk(c) != Status::ok) {
      it->nh = before;
      return Status::no_memory;
    }
    return Status::ok;
  }
  const size_t capacity = v.capacity();
  it = v.insert(it, LongRoute{p.addr().host(), uint8_t(p.len()), nh});
  if (publish_chunk(c) != Status::ok) {
    v.erase(it);
    chunk_resized(c, capacity);
    return Status::no_memory;
  }
  chunk_resized(c, capacity);
  ++routes_;
  return Status::ok;
}

Status RouteTable::insert(Prefix p, NextHop nh) {
  return upsert(p, nh, false);
}
Status RouteTable::replace(Prefix p, NextHop nh) {
  return upsert(p, nh, true);
}

Status RouteTable::remove(Prefix p) {
  if (p.len() > kDirectBits) prefetch_chunk(p.addr().host() >> kChunkShift);
  if (cfg_.grace) reclaim(false);
  if (p.len() <= kDirectBits) {
    if (short_.erase(short_key(p.addr().host(), p.len())) == 0) return Status::not_found;
    --routes_;
    return short_removed(p);
  }
  const size_t c = p.addr().host() >> kChunkShift;
  std::vector<LongRoute>& v = chunks_[c].routes;
  auto it = find_long(v, p);
  if (it == v.end() || it->addr != p.addr().host() || it->len != p.len()) {
    return Status::not_found;
  }
  const LongRoute gone = *it;
  const size_t capacity = v.capacity();
  v.erase(it);
  if (publish_chunk(c) != Status::ok) {
    v.insert(find_long(v, p), gone);
    chunk_resized(c, capacity);
    return Status::no_memory;
  }
  if (v.empty()) v.shrink_to_fit();
  chunk_resized(c, capacity);
  --routes_;
  return Status::ok;
}

void RouteTable::clear() {
  for (size_t c = 0; c < kChunks; ++c) {
    const uint32_t old = direct_[c].load(std::memory_order_relaxed);
    if (old == kNoRoute) continue;
    direct_[c].store(kNoRoute, std::memory_order_release);
    retire_subtree(old);
  }
  for (size_t c = 0; c < kChunks; ++c) chunks_[c] = Chunk{};
  std::fill_n(nonempty_.get(), kChunks / 64, 0);
  long_capacity_ = 0;
  short_.clear();
  routes_ = 0;
}

std::optional<NextHop> RouteTable::get(Prefix p) const {
  if (p.len() <= kDirectBits) {
    auto it = short_.find(short_key(p.addr().host(), p.len()));
    if (it == short_.end()) return std::nullopt;
    return it->second;
  }
  const std::vector<LongRoute>& v = chunks_[p.addr().host() >> kChunkShift].routes;
  const auto it = find_long(v, p);
  if (it == v.end() || it->addr != p.addr().host() || it->len != p.len()) return std::nullopt;
  return it->nh;
}

std::optional<Route> RouteTable::match(Ipv4Addr a) const {
  const uint32_t key = a.host();
  {
    const LongRoute* best = nullptr;
    for (const LongRoute& r : chunks_[key >> kChunkShift].routes) {
      if (r.addr > key) break;
      if ((key & Prefix::mask_of(r.len)) == r.addr && (!best || r.len > best->len)) best = &r;
    }
    if (best) return Route{*Prefix::make(Ipv4Addr::from_host(best->addr), best->len), best->nh};
  }
  unsigned len;
  const NextHop nh = covering_short(key, kDirectBits, &len);
  if (len == kNoLen) return std::nullopt;
  return Route{*Prefix::make(Ipv4Addr::from_host(key & Prefix::mask_of(len)), len), nh};
}

std::vector<Route> RouteTable::routes() const {
  std::vector<Route> out;
  out.reserve(routes_);
  for_each([&](const Route& r) { out.push_back(r); });
  return out;
}

RouteTable::Stats RouteTable::stats() const {
  Stats s;
  s.routes = routes_;
  s.nodes_used = nodes_live_;
  s.leaves_used = leaves_live_;
  s.fib_bytes =
      kChunks * sizeof(uint32_t) + nodes_bump_ * sizeof(Node) + leaves_bump_ * sizeof(NextHop);
  // The RIB: hash nodes of short routes (node + key/value + bucket pointer), the chunk vectors
  // and the per-chunk arrays.
  s.rib_bytes = short_.size() * (sizeof(void*) * 2 + sizeof(uint64_t) + sizeof(NextHop)) +
                short_.bucket_count() * sizeof(void*) + kChunks * sizeof(Chunk) +
                long_capacity_ * sizeof(LongRoute) + kChunks / 8;
  s.retired_blocks = retired_.size();
  return s;
}

// ---- bulk lookup ----------------------------------------------------------------------------

void RouteTable::lookup_bulk(const Ipv4Addr* addrs, NextHop* out, size_t n) const noexcept {
  // Two passes per sub-burst. The first issues every direct-array load at once (independent,
  // so their cache misses overlap); the second walks the nodes. Measured against a level-by-
  // level walk with branch-free compaction and against explicit prefetching (lpm/README.md),
  // this simplest form won: the walk's branches predict well once the direct loads landed.
  uint32_t e[64];
  for (size_t base = 0; base < n; base += 64) {
    const size_t m = std::min<size_t>(64, n - base);
    const Ipv4Addr* a = addrs + base;
    NextHop* o = out + base;
    for (size_t i = 0; i < m; ++i) {
      e[i] = direct_[a[i].host() >> kChunkShift].load(std::memory_order_acquire);
    }
    for (size_t i = 0; i < m; ++i) {
      o[i] = (e[i] & kNodeFlag) ? walk(e[i] & ~kNodeFlag, a[i].host()) : e[i];
    }
  }
}

}  // namespace sluice::lpm
