// forwarding_state.cpp — the write side of the forwarding tables: addresses become local,
// connected and broadcast routes; routes get shared, reference-counted next hops; neighbours
// resolve next hops in place.
#include "dataplane/forwarding_state.h"

#include <algorithm>
#include <stdexcept>

namespace sluice {

uint64_t BatchedGrace::start() {
  if (open_) return base_ + real_.size() - 1;
  real_.push_back(batching_ ? kPending : inner_->start());
  if (batching_)
    open_ = true;
  else
    ++inner_starts_;
  return base_ + real_.size() - 1;
}

bool BatchedGrace::check(uint64_t token, bool wait) {
  if (token < base_) return true;  // ended, and forgotten
  const size_t i = static_cast<size_t>(token - base_);
  if (i >= real_.size()) return true;  // never handed out; nothing can wait on it
  if (real_[i] == kPending) {
    if (!wait) return false;
    // Someone must wait now: this token's grace period starts here, and later updates of the
    // batch get a new one (what they retire is unpublished after this point).
    real_[i] = inner_->start();
    ++inner_starts_;
    open_ = false;
  }
  if (!inner_->check(real_[i], wait)) return false;
  real_.erase(real_.begin(), real_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  base_ = token + 1;
  return true;
}

void BatchedGrace::end() {
  batching_ = false;
  if (!open_) return;
  real_.back() = inner_->start();
  ++inner_starts_;
  open_ = false;
}

ForwardingState::ForwardingState(const Config& cfg)
    : batched_grace_(cfg.grace),
      grace_(cfg.grace ? &batched_grace_ : nullptr),
      routes_([&] {
        lpm::RouteTable::Config rc;
        rc.grace = grace_;
        return rc;
      }()),
      next_hops_(cfg.max_next_hops),
      groups_(cfg.max_groups),
      seed_(cfg.multipath_seed) {
  if (cfg.max_next_hops == 0 || cfg.max_next_hops > lpm::kMaxNextHop)
    throw std::invalid_argument("max_next_hops out of range");
}

void ForwardingState::begin_batch() {
  if (batch_depth_++ == 0 && grace_) batched_grace_.begin();
}

void ForwardingState::end_batch() {
  if (batch_depth_ == 0 || --batch_depth_ != 0) return;
  if (grace_) batched_grace_.end();
}

uint16_t ForwardingState::add_port(const std::string& name, uint16_t dpdk_port, MacAddr mac,
                                   uint16_t mtu, bool kernel_twin) {
  if (port_count_ == kMaxPorts) throw std::runtime_error("too many ports (at most 64)");
  if (port_by_name(name)) throw std::runtime_error("port " + name + " given twice");
  PortState& p = ports_[port_count_];
  p.name = name;
  p.dpdk_port = dpdk_port;
  p.mac = mac;
  p.mtu.store(mtu);
  p.kernel_twin = kernel_twin;
  return port_count_++;
}

std::optional<uint16_t> ForwardingState::port_by_name(const std::string& name) const {
  for (uint16_t i = 0; i < port_count_; ++i)
    if (ports_[i].name == name) return i;
  return std::nullopt;
}

uint32_t ForwardingState::acquire_next_hop(NextHopKind kind, uint16_t port, Ipv4Addr gw) {
  const NextHopKey key{static_cast<uint8_t>(kind), port, gw.host()};
  if (auto it = nh_by_key_.find(key); it != nh_by_key_.end()) {
    ++nh_info_[it->second].refs;
    return it->second;
  }
  const uint32_t id = new_next_hop_id();
  nh_info_[id] = NextHopInfo{kind, port, gw, 1};
  nh_by_key_[key] = id;
  bool resolved = false;
  MacAddr mac;
  if (kind == NextHopKind::kForward && gw.host() != 0) {
    if (auto n = neighbours_.find({port, gw.host()}); n != neighbours_.end()) {
      resolved = true;
      mac = n->second;
    }
  }
  next_hops_.set(id, NextHopWord::make(kind, port, resolved, mac));
  return id;
}

uint32_t ForwardingState::new_next_hop_id() {
  if (!nh_free_.empty()) {
    const uint32_t id = nh_free_.back();
    nh_free_.pop_back();
    return id;
  }
  if (nh_info_.size() >= next_hops_.capacity())
    throw std::runtime_error("next-hop table full (" + std::to_string(next_hops_.capacity()) +
                             " entries)");
  nh_info_.push_back({});
  return static_cast<uint32_t>(nh_info_.size() - 1);
}

size_t ForwardingState::MembersHash::operator()(const Members& m) const {
  uint64_t h = m.size();
  for (const auto& [id, w] : m) h = h * 0x100000001b3ULL ^ (uint64_t{id} << 8 | w);
  return static_cast<size_t>(h);
}

// Takes over the members' references (and empties `members`): they become the group's if it
// is new, and are given back if an identical group exists (which gains a reference instead)
// or on failure.
uint32_t ForwardingState::acquire_group(Members& members) {
  Members sorted;
  sorted.swap(members);
  std::sort(sorted.begin(), sorted.end());
  // The same path given twice counts once, with the weights added (capped at 255).
  Members merged;
  for (const auto& [id, w] : sorted) {
    if (!merged.empty() && merged.back().first == id) {
      merged.back().second =
          static_cast<uint8_t>(std::min(255u, unsigned{merged.back().second} + w));
      release_next_hop(id);
    } else {
      merged.emplace_back(id, w);
    }
  }
  if (auto it = group_by_members_.find(merged); it != group_by_members_.end()) {
    for (const auto& m : merged) release_next_hop(m.first);
    ++nh_info_[group_info_[it->second].nh].refs;
    return group_info_[it->second].nh;
  }
  reclaim_groups(false);
  if (group_free_.empty() && group_info_.size() >= groups_.capacity() && !group_retired_.empty())
    reclaim_groups(true);  // full: wait for readers to let go of a released group
  uint32_t g;
  if (!group_free_.empty()) {
    g = group_free_.back();
    group_free_.pop_back();
  } else if (group_info_.size() < groups_.capacity()) {
    g = static_cast<uint32_t>(group_info_.size());
    group_info_.push_back({});
  } else {
    for (const auto& m : merged) release_next_hop(m.first);
    throw std::runtime_error("next-hop group table full (" + std::to_string(groups_.capacity()) +
                             " multipath groups)");
  }
  uint32_t nh;
  try {
    nh = new_next_hop_id();
  } catch (...) {
    group_free_.push_back(g);
    for (const auto& m : merged) release_next_hop(m.first);
    throw;
  }
  // Slots in proportion to the weights: all of them when they fit in 64 slots (exact shares),
  // else 64 shared by largest remainder, with at least one slot each.
  unsigned total = 0;
  for (const auto& m : merged) total += m.second;
  std::vector<unsigned> share(merged.size());
  const unsigned nslots = std::min(total, kMaxGroupSlots);
  unsigned given = 0;
  std::vector<std::pair<unsigned, size_t>> rest;  // (remainder, member)
  for (size_t i = 0; i < merged.size(); ++i) {
    const unsigned scaled = merged[i].second * nslots;
    share[i] = std::max(1u, scaled / total);
    given += share[i];
    rest.emplace_back(scaled % total, i);
  }
  std::stable_sort(rest.begin(), rest.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; given < nslots; ++k, ++given) ++share[rest[k % rest.size()].second];
  while (given > nslots) {  // the minimum of one slot overdrew: take from the largest
    --*std::max_element(share.begin(), share.end());
    --given;
  }
  // Interleaved rather than in runs, so a group's slot order does not matter to anyone
  // reading it; the pick is uniform over slots either way.
  unsigned at = 0;
  std::vector<unsigned> left = share;
  while (at < nslots)
    for (size_t i = 0; i < merged.size() && at < nslots; ++i)
      if (left[i] != 0) {
        --left[i];
        groups_.set_slot(g, at++, merged[i].first);
      }
  group_info_[g] = GroupInfo{merged, nh, nslots};
  group_by_members_.emplace(std::move(merged), g);
  nh_info_[nh] = NextHopInfo{NextHopKind::kMultipath, 0, Ipv4Addr(), 1, g};
  // The slots are written; the release store of the word publishes them to any reader that
  // finds the word (through a route published after this, in turn).
  next_hops_.set(nh, NextHopWord::make_multipath(g, nslots));
  return nh;
}

void ForwardingState::release_next_hop(uint32_t id) {
  NextHopInfo& info = nh_info_[id];
  if (--info.refs != 0) return;
  if (info.kind != NextHopKind::kMultipath)
    nh_by_key_.erase(NextHopKey{static_cast<uint8_t>(info.kind), info.port, info.gateway.host()});
  // Workers may still hold the id from a lookup made before the route went; the word stays
  // valid (unresolved, so such a packet is punted and dropped) until the id is reused, and a
  // reused id only ever appears in routes published after this point.
  next_hops_.set(id, NextHopWord::make(NextHopKind::kBlackhole, 0));
  nh_free_.push_back(id);
  if (info.kind == NextHopKind::kMultipath) release_group(info.group);
}

void ForwardingState::release_group(uint32_t g) {
  GroupInfo& gi = group_info_[g];
  group_by_members_.erase(gi.members);
  for (const auto& m : gi.members) release_next_hop(m.first);
  gi.members.clear();
  // A worker that read the group's word before the route went may still be about to read
  // its slots: unlike a next-hop word (one atomic value, any of which is safe to act on), a
  // half-rewritten slot array would send the flow somewhere arbitrary. So the group waits
  // for a grace period before it is filled again.
  if (grace_ == nullptr) {
    group_free_.push_back(g);
    return;
  }
  group_retired_.emplace_back(grace_->start(), g);
}

void ForwardingState::reclaim_groups(bool wait) {
  while (!group_retired_.empty()) {
    const uint64_t token = group_retired_.front().first;
    if (!grace_->check(token, wait)) return;
    while (!group_retired_.empty() && group_retired_.front().first == token) {
      group_free_.push_back(group_retired_.front().second);
      group_retired_.pop_front();
    }
  }
}

std::string ForwardingState::install(Prefix p, uint32_t nh, Owned::By by) {
  const lpm::Status st = routes_.replace(p, nh);
  if (st != lpm::Status::ok) {
    release_next_hop(nh);
    return "route " + p.str() + ": " + std::string(lpm::to_string(st));
  }
  auto [it, added] = owned_.try_emplace(p, Owned{nh, by});
  if (!added) {
    if (it->second.by == Owned::By::kNeighbour) --neighbour_routes_;
    const uint32_t old = it->second.nh;
    it->second = Owned{nh, by};
    release_next_hop(old);
  }
  if (by == Owned::By::kNeighbour) ++neighbour_routes_;
  return {};
}

void ForwardingState::uninstall(Prefix p) {
  auto it = owned_.find(p);
  if (it == owned_.end()) return;
  routes_.remove(p);
  if (it->second.by == Owned::By::kNeighbour) --neighbour_routes_;
  const uint32_t nh = it->second.nh;
  owned_.erase(it);
  release_next_hop(nh);
}

std::string ForwardingState::add_address(uint16_t port, Ipv4Addr addr, unsigned len,
                                         bool prefix_route) {
  if (port >= port_count_) return "no such port";
  if (len > 32) return "prefix length " + std::to_string(len) + " is longer than 32";
  const Prefix host = *Prefix::make(addr, 32);
  const Prefix subnet = *Prefix::make(Ipv4Addr::from_host(addr.host() & Prefix::mask_of(len)), len);
  if (addr.host() == 0 || (addr.host() >> 24) == 127 || (addr.host() >> 28) >= 14)
    return addr.str() + " cannot be an interface address";
  if (locals_.count(addr.host())) return addr.str() + " is already an address of this router";
  if (len < 31 && (addr == subnet.first() || addr == subnet.last()))
    return addr.str() + " is the network or broadcast address of " + subnet.str();
  locals_[addr.host()] = {port, subnet, prefix_route};
  std::string err =
      install(host, acquire_next_hop(NextHopKind::kLocal, port, Ipv4Addr()), Owned::By::kLocal);
  if (err.empty() && len < 31) {
    for (Ipv4Addr b : {subnet.first(), subnet.last()}) {
      const Prefix bp = *Prefix::make(b, 32);
      if (auto it = owned_.find(bp); it == owned_.end() || it->second.by != Owned::By::kLocal)
        err = install(bp, acquire_next_hop(NextHopKind::kBroadcast, port, Ipv4Addr()),
                      Owned::By::kLocal);
    }
  }
  if (err.empty() && len < 32 && prefix_route) {
    auto it = owned_.find(subnet);
    if (it == owned_.end() || it->second.by != Owned::By::kConnected)
      err = install(subnet, acquire_next_hop(NextHopKind::kForward, port, Ipv4Addr()),
                    Owned::By::kConnected);
  }
  if (ports_[port].primary_be.load() == 0) ports_[port].primary_be.store(addr.be());
  return err;
}

std::string ForwardingState::del_address(uint16_t port, Ipv4Addr addr, unsigned len) {
  auto it = locals_.find(addr.host());
  if (it == locals_.end() || it->second.port != port || it->second.subnet.len() != len)
    return addr.str() + "/" + std::to_string(len) + " is not an address of this port";
  const Prefix subnet = it->second.subnet;
  locals_.erase(it);
  uninstall(*Prefix::make(addr, 32));
  if (host_locals_.count(addr.host()))  // still the host's, on another interface
    install(*Prefix::make(addr, 32), acquire_next_hop(NextHopKind::kLocal, 0, Ipv4Addr()),
            Owned::By::kLocal);
  bool subnet_still_used = false, connected_still_wanted = false;
  for (const auto& [a, la] : locals_)
    if (la.port == port && la.subnet == subnet) {
      subnet_still_used = true;
      connected_still_wanted |= la.prefix_route;
    }
  // The connected route goes with the last address that asked for it; a user route on the
  // subnet (a noprefixroute address's kernel route, say) is never ours to remove.
  if (!connected_still_wanted)
    if (auto c = owned_.find(subnet); c != owned_.end() && c->second.by == Owned::By::kConnected)
      uninstall(subnet);
  if (!subnet_still_used) {
    if (len < 31) {
      uninstall(*Prefix::make(subnet.first(), 32));
      uninstall(*Prefix::make(subnet.last(), 32));
    }
    // Neighbours learned on the subnet leave with it.
    for (auto n = neighbours_.begin(); n != neighbours_.end();) {
      auto cur = n++;
      if (cur->first.first == port && subnet.contains(Ipv4Addr::from_host(cur->first.second)))
        neighbour_lost(port, Ipv4Addr::from_host(cur->first.second));
    }
  }
  if (ports_[port].primary_be.load() == addr.be()) {
    uint32_t next = 0;
    for (const auto& [a, la] : locals_)
      if (la.port == port) {
        next = Ipv4Addr::from_host(a).be();
        break;
      }
    ports_[port].primary_be.store(next);
  }
  return {};
}

std::string ForwardingState::add_host_address(Ipv4Addr a) {
  if (a.host() == 0 || (a.host() >> 24) == 127 || (a.host() >> 28) >= 14)
    return a.str() + " cannot be a host address the fast path answers for";
  if (host_locals_[a.host()]++ != 0 || locals_.count(a.host())) return {};
  const Prefix host = *Prefix::make(a, 32);
  return install(host, acquire_next_hop(NextHopKind::kLocal, 0, Ipv4Addr()), Owned::By::kLocal);
}

void ForwardingState::del_host_address(Ipv4Addr a) {
  auto it = host_locals_.find(a.host());
  if (it == host_locals_.end() || --it->second != 0) return;
  host_locals_.erase(it);
  // A port address of the same value keeps its own /32.
  if (!locals_.count(a.host())) uninstall(*Prefix::make(a, 32));
}

std::vector<Ipv4Addr> ForwardingState::host_addresses() const {
  std::vector<Ipv4Addr> out;
  for (const auto& [a, n] : host_locals_) out.push_back(Ipv4Addr::from_host(a));
  return out;
}

std::vector<InterfaceAddress> ForwardingState::addresses() const {
  std::vector<InterfaceAddress> out;
  for (const auto& [a, la] : locals_)
    out.push_back({la.port, Ipv4Addr::from_host(a), la.subnet.len()});
  return out;
}

std::optional<uint16_t> ForwardingState::port_for_gateway(Ipv4Addr gw) const {
  std::optional<uint16_t> best;
  unsigned best_len = 0;
  for (const auto& [a, la] : locals_) {
    if (la.subnet.contains(gw) && (!best || la.subnet.len() > best_len)) {
      best = la.port;
      best_len = la.subnet.len();
    }
  }
  return best;
}

Ipv4Addr ForwardingState::source_for(uint16_t port, Ipv4Addr toward) const {
  for (const auto& [a, la] : locals_)
    if (la.port == port && la.subnet.contains(toward)) return Ipv4Addr::from_host(a);
  return Ipv4Addr::from_be(ports_[port].primary_be.load());
}

bool ForwardingState::on_link(uint16_t port, Ipv4Addr ip) const {
  for (const auto& [a, la] : locals_)
    if (la.port == port && la.subnet.contains(ip)) return true;
  return false;
}

std::string ForwardingState::check_target(Prefix p, const RouteTarget& t, uint16_t* port) const {
  *port = 0;
  if (t.kind == NextHopKind::kMultipath) return "route " + p.str() + ": bad route kind";
  if (t.kind != NextHopKind::kForward) return {};
  if (t.port) {
    if (*t.port >= port_count_) return "no such port";
    *port = *t.port;
  } else if (t.gateway.host() == 0) {
    return "route " + p.str() + " needs a gateway or a port";
  } else if (auto gp = port_for_gateway(t.gateway)) {
    *port = *gp;
  } else {
    return "gateway " + t.gateway.str() + " of route " + p.str() + " is not on any port's subnet";
  }
  if (is_local(t.gateway)) return "gateway " + t.gateway.str() + " is this router's address";
  return {};
}

std::string ForwardingState::replace_route(Prefix p, const RouteTarget& t) {
  uint16_t port;
  if (std::string err = check_target(p, t, &port); !err.empty()) return err;
  try {
    const uint32_t nh =
        acquire_next_hop(t.kind, port, t.kind == NextHopKind::kForward ? t.gateway : Ipv4Addr());
    return install(p, nh, Owned::By::kUser);
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::string ForwardingState::replace_route(Prefix p, const std::vector<RouteTarget>& paths) {
  if (paths.empty()) return "route " + p.str() + " has no next hop";
  if (paths.size() == 1) return replace_route(p, paths[0]);
  std::vector<uint16_t> ports(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    const RouteTarget& t = paths[i];
    if (t.kind != NextHopKind::kForward)
      return "route " + p.str() + ": a multipath route's next hops must all forward";
    if (t.weight == 0) return "route " + p.str() + ": next-hop weight must be 1..255";
    if (i == kMaxGroupSlots)
      return "route " + p.str() + ": at most " + std::to_string(kMaxGroupSlots) + " next hops";
    if (std::string err = check_target(p, t, &ports[i]); !err.empty()) return err;
  }
  Members members;
  try {
    for (size_t i = 0; i < paths.size(); ++i)
      members.emplace_back(acquire_next_hop(NextHopKind::kForward, ports[i], paths[i].gateway),
                           paths[i].weight);
    const uint32_t nh = acquire_group(members);
    return install(p, nh, Owned::By::kUser);
  } catch (const std::exception& e) {
    for (const auto& m : members) release_next_hop(m.first);
    return e.what();
  }
}

std::string ForwardingState::del_route(Prefix p) {
  auto it = owned_.find(p);
  if (it == owned_.end() || it->second.by != Owned::By::kUser) return "no route " + p.str();
  uninstall(p);
  return {};
}

void ForwardingState::neighbour_resolved(uint16_t port, Ipv4Addr ip, MacAddr mac) {
  neighbours_[{port, ip.host()}] = mac;
  const NextHopKey key{static_cast<uint8_t>(NextHopKind::kForward), port, ip.host()};
  if (auto it = nh_by_key_.find(key); it != nh_by_key_.end())
    next_hops_.set(it->second, NextHopWord::make(NextHopKind::kForward, port, true, mac));
  const Prefix host = *Prefix::make(ip, 32);
  if (on_link(port, ip) && !is_local(ip) && !owned_.count(host))
    install(host, acquire_next_hop(NextHopKind::kForward, port, ip), Owned::By::kNeighbour);
}

void ForwardingState::neighbour_lost(uint16_t port, Ipv4Addr ip) {
  if (!neighbours_.erase({port, ip.host()})) return;
  const Prefix host = *Prefix::make(ip, 32);
  if (auto it = owned_.find(host); it != owned_.end() && it->second.by == Owned::By::kNeighbour)
    uninstall(host);
  const NextHopKey key{static_cast<uint8_t>(NextHopKind::kForward), port, ip.host()};
  if (auto it = nh_by_key_.find(key); it != nh_by_key_.end())
    next_hops_.set(it->second, NextHopWord::make(NextHopKind::kForward, port, false));
}

std::optional<std::pair<uint16_t, Ipv4Addr>> ForwardingState::neighbour_for(uint32_t id,
                                                                            Ipv4Addr dst) const {
  if (id >= nh_info_.size()) return std::nullopt;
  const NextHopInfo& info = nh_info_[id];
  if (info.refs == 0 || info.kind != NextHopKind::kForward) return std::nullopt;
  return std::make_pair(info.port, info.gateway.host() != 0 ? info.gateway : dst);
}

ForwardingState::Counters ForwardingState::counters() const {
  Counters c;
  c.next_hops = nh_info_.size() - nh_free_.size();
  c.neighbour_routes = neighbour_routes_;
  c.groups_retired = group_retired_.size();
  c.groups = group_info_.size() - group_free_.size() - group_retired_.size();
  return c;
}

PathView ForwardingState::path_view(uint32_t nh, uint8_t weight) const {
  const NextHopInfo& info = nh_info_[nh];
  const NextHopWord w = next_hops_.get(nh);
  return PathView{info.kind, info.port, info.gateway, weight, w.resolved(), w.mac()};
}

RouteView ForwardingState::view(Prefix p, const Owned& o) const {
  RouteView v{p, static_cast<RouteView::Origin>(o.by), {}};
  const NextHopInfo& info = nh_info_[o.nh];
  if (info.kind == NextHopKind::kMultipath) {
    for (const auto& [id, w] : group_info_[info.group].members) v.paths.push_back(path_view(id, w));
  } else {
    v.paths.push_back(path_view(o.nh, 1));
  }
  return v;
}

void ForwardingState::for_each_route(const std::function<void(const RouteView&)>& f) const {
  routes_.for_each([&](const lpm::Route& r) {
    if (auto it = owned_.find(r.prefix); it != owned_.end()) f(view(r.prefix, it->second));
  });
}

std::optional<RouteView> ForwardingState::route(Prefix p) const {
  auto it = owned_.find(p);
  if (it == owned_.end()) return std::nullopt;
  return view(p, it->second);
}

std::optional<RouteView> ForwardingState::lookup_route(Ipv4Addr a) const {
  const std::optional<lpm::Route> r = routes_.match(a);
  if (!r) return std::nullopt;
  return route(r->prefix);
}

std::vector<NeighbourView> ForwardingState::neighbours() const {
  std::vector<NeighbourView> out;
  for (const auto& [k, mac] : neighbours_)
    out.push_back({k.first, Ipv4Addr::from_host(k.second), mac});
  return out;
}

size_t ForwardingState::fib_mismatches(size_t limit, std::vector<std::string>* report) const {
  size_t bad = 0;
  auto note = [&](std::string what) {
    if (report && bad < limit) report->push_back(std::move(what));
    ++bad;
  };
  size_t seen = 0;
  routes_.for_each([&](const lpm::Route& r) {
    ++seen;
    auto it = owned_.find(r.prefix);
    if (it == owned_.end()) {
      note(r.prefix.str() + ": in the RIB but installed by no one");
    } else if (it->second.nh != r.nh) {
      note(r.prefix.str() + ": RIB next hop " + std::to_string(r.nh) + ", installed " +
           std::to_string(it->second.nh));
    }
    for (Ipv4Addr a : {r.prefix.first(), r.prefix.last()}) {
      const lpm::NextHop fib = routes_.lookup(a);
      const std::optional<lpm::Route> rib = routes_.match(a);
      const lpm::NextHop want = rib ? rib->nh : lpm::kNoRoute;
      if (fib != want)
        note(r.prefix.str() + ": FIB gives " + a.str() + " next hop " + std::to_string(fib) +
             ", RIB " + std::to_string(want));
    }
  });
  if (seen != owned_.size())
    note("the RIB holds " + std::to_string(seen) + " routes, " + std::to_string(owned_.size()) +
         " were installed");
  return bad;
}

}  // namespace sluice
