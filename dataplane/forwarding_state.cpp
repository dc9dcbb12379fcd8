// forwarding_state.cpp — the write side of the forwarding tables: addresses become local,
// connected and broadcast routes; routes get shared, reference-counted next hops; neighbours
// resolve next hops in place.
#include "dataplane/forwarding_state.h"

#include <stdexcept>

namespace sluice {

ForwardingState::ForwardingState(const Config& cfg)
    : routes_([&] {
        lpm::RouteTable::Config rc;
        rc.grace = cfg.grace;
        return rc;
      }()),
      next_hops_(cfg.max_next_hops) {
  if (cfg.max_next_hops == 0 || cfg.max_next_hops > lpm::kMaxNextHop)
    throw std::invalid_argument("max_next_hops out of range");
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
  uint32_t id;
  if (!nh_free_.empty()) {
    id = nh_free_.back();
    nh_free_.pop_back();
  } else {
    if (nh_info_.size() >= next_hops_.capacity())
      throw std::runtime_error("next-hop table full (" + std::to_string(next_hops_.capacity()) +
                               " entries)");
    id = static_cast<uint32_t>(nh_info_.size());
    nh_info_.push_back({});
  }
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

void ForwardingState::release_next_hop(uint32_t id) {
  NextHopInfo& info = nh_info_[id];
  if (--info.refs != 0) return;
  nh_by_key_.erase(NextHopKey{static_cast<uint8_t>(info.kind), info.port, info.gateway.host()});
  // Workers may still hold the id from a lookup made before the route went; the word stays
  // valid (unresolved, so such a packet is punted and dropped) until the id is reused, and a
  // reused id only ever appears in routes published after this point.
  next_hops_.set(id, NextHopWord::make(NextHopKind::kBlackhole, 0));
  nh_free_.push_back(id);
}

std::string ForwardingState::install(Prefix p, uint32_t nh, Owned::By by) {
  const lpm::Status st = routes_.replace(p, nh);
  if (st != lpm::Status::ok) {
    release_next_hop(nh);
    return "route " + p.str() + ": " + std::string(lpm::to_string(st));
  }
  if (auto it = owned_.find(p); it != owned_.end()) release_next_hop(it->second.nh);
  owned_[p] = Owned{nh, by};
  return {};
}

void ForwardingState::uninstall(Prefix p) {
  auto it = owned_.find(p);
  if (it == owned_.end()) return;
  routes_.remove(p);
  release_next_hop(it->second.nh);
  owned_.erase(it);
}

std::string ForwardingState::add_address(uint16_t port, Ipv4Addr addr, unsigned len) {
  if (port >= port_count_) return "no such port";
  if (len > 32) return "prefix length " + std::to_string(len) + " is longer than 32";
  const Prefix host = *Prefix::make(addr, 32);
  const Prefix subnet = *Prefix::make(Ipv4Addr::from_host(addr.host() & Prefix::mask_of(len)), len);
  if (addr.host() == 0 || (addr.host() >> 24) == 127 || (addr.host() >> 28) >= 14)
    return addr.str() + " cannot be an interface address";
  if (locals_.count(addr.host())) return addr.str() + " is already an address of this router";
  if (len < 31 && (addr == subnet.first() || addr == subnet.last()))
    return addr.str() + " is the network or broadcast address of " + subnet.str();
  locals_[addr.host()] = {port, subnet};
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
  if (err.empty() && len < 32) {
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
  if (it == locals_.end() || it->second.first != port || it->second.second.len() != len)
    return addr.str() + "/" + std::to_string(len) + " is not an address of this port";
  const Prefix subnet = it->second.second;
  locals_.erase(it);
  uninstall(*Prefix::make(addr, 32));
  bool subnet_still_used = false;
  for (const auto& [a, ps] : locals_)
    if (ps.first == port && ps.second == subnet) subnet_still_used = true;
  if (!subnet_still_used) {
    if (len < 31) {
      uninstall(*Prefix::make(subnet.first(), 32));
      uninstall(*Prefix::make(subnet.last(), 32));
    }
    if (auto c = owned_.find(subnet); c != owned_.end() && c->second.by == Owned::By::kConnected)
      uninstall(subnet);
    // Neighbours learned on the subnet leave with it.
    for (auto n = neighbours_.begin(); n != neighbours_.end();) {
      auto cur = n++;
      if (cur->first.first == port && subnet.contains(Ipv4Addr::from_host(cur->first.second)))
        neighbour_lost(port, Ipv4Addr::from_host(cur->first.second));
    }
  }
  if (ports_[port].primary_be.load() == addr.be()) {
    uint32_t next = 0;
    for (const auto& [a, ps] : locals_)
      if (ps.first == port) {
        next = Ipv4Addr::from_host(a).be();
        break;
      }
    ports_[port].primary_be.store(next);
  }
  return {};
}

std::vector<InterfaceAddress> ForwardingState::addresses() const {
  std::vector<InterfaceAddress> out;
  for (const auto& [a, ps] : locals_)
    out.push_back({ps.first, Ipv4Addr::from_host(a), ps.second.len()});
  return out;
}

std::optional<uint16_t> ForwardingState::port_for_gateway(Ipv4Addr gw) const {
  std::optional<uint16_t> best;
  unsigned best_len = 0;
  for (const auto& [a, ps] : locals_) {
    if (ps.second.contains(gw) && (!best || ps.second.len() > best_len)) {
      best = ps.first;
      best_len = ps.second.len();
    }
  }
  return best;
}

bool ForwardingState::on_link(uint16_t port, Ipv4Addr ip) const {
  for (const auto& [a, ps] : locals_)
    if (ps.first == port && ps.second.contains(ip)) return true;
  return false;
}

std::string ForwardingState::replace_route(Prefix p, const RouteTarget& t) {
  uint16_t port = 0;
  if (t.kind == NextHopKind::kForward) {
    if (t.port) {
      if (*t.port >= port_count_) return "no such port";
      port = *t.port;
    } else if (t.gateway.host() == 0) {
      return "route " + p.str() + " needs a gateway or a port";
    } else if (auto gp = port_for_gateway(t.gateway)) {
      port = *gp;
    } else {
      return "gateway " + t.gateway.str() + " of route " + p.str() + " is not on any port's subnet";
    }
    if (is_local(t.gateway)) return "gateway " + t.gateway.str() + " is this router's address";
  }
  try {
    const uint32_t nh =
        acquire_next_hop(t.kind, port, t.kind == NextHopKind::kForward ? t.gateway : Ipv4Addr());
    return install(p, nh, Owned::By::kUser);
  } catch (const std::exception& e) {
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
  for (const auto& [p, o] : owned_)
    if (o.by == Owned::By::kNeighbour) ++c.neighbour_routes;
  return c;
}

}  // namespace sluice
