// kernel_mirror.cpp — rtnetlink into ForwardingState: the kernel's view per prefix, the
// lowest-metric choice, mark-and-sweep resyncs, and kernel-owned neighbour resolution.
#include "control/kernel_mirror.h"

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/netconf.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <tuple>

#include "xdp/xdp_loader.h"

namespace sluice {
namespace {

using Targets = boost::container::small_vector<RouteTarget, 1>;

bool same_targets(const Targets& a, const Targets& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].kind != b[i].kind || a[i].port != b[i].port || a[i].gateway != b[i].gateway ||
        a[i].weight != b[i].weight)
      return false;
  return true;
}

NextHopKind kind_of_type(uint8_t type) {
  switch (type) {
    case RTN_BLACKHOLE: return NextHopKind::kBlackhole;
    case RTN_UNREACHABLE: return NextHopKind::kUnreachable;
    case RTN_PROHIBIT: return NextHopKind::kProhibit;
    default: return NextHopKind::kForward;
  }
}

bool usable_type(uint8_t type) {
  return type == RTN_UNICAST || type == RTN_BLACKHOLE || type == RTN_UNREACHABLE ||
         type == RTN_PROHIBIT;
}

constexpr uint16_t kNudUsable =
    NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

}  // namespace

KernelMirror::KernelMirror(Dataplane& dp, const MirrorConfig& cfg)
    : dp_(dp), fs_(dp.state()), cfg_(cfg) {
  ifindex_of_port_.assign(fs_.port_count(), 0);
  for (uint16_t i = 0; i < dp.ports().size(); ++i) {
    const OpenedPort& p = dp.ports()[i];
    if (!p.kernel_twin) continue;
    port_of_ifindex_[p.ifindex] = i;
    ifindex_of_port_[i] = p.ifindex;
  }
}

KernelMirror::~KernelMirror() {
  dp_.neighbours().set_request_hook(nullptr);
}

int KernelMirror::fd() const {
  return events_ ? events_->fd() : -1;
}

const uint16_t* KernelMirror::port_of(int ifindex) const {
  auto it = port_of_ifindex_.find(ifindex);
  return it == port_of_ifindex_.end() ? nullptr : &it->second;
}

bool KernelMirror::wanted_table(uint32_t table) const {
  return table_rank(table) >= 0;
}

int KernelMirror::table_rank(uint32_t table) const {
  for (size_t i = 0; i < cfg_.tables.size(); ++i)
    if (cfg_.tables[i] == table) return static_cast<int>(i);
  return -1;
}

void KernelMirror::start(double now) {
  // Room for a full Internet table up front: rehashing a million entries mid-stream stalls.
  routes_.reserve(1 << 20);
  events_ = std::make_unique<netlink::Socket>(
      std::vector<unsigned>{RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_NEIGH,
                            RTNLGRP_NEXTHOP, RTNLGRP_IPV4_NETCONF, netlink::kBridgeVlanGroup},
      cfg_.rcvbuf);
  requests_ = std::make_unique<netlink::Socket>(std::vector<unsigned>{}, 0);
  // The kernel owns ARP for mirrored ports: it answers for its addresses, and resolves what
  // the fast path asks for; its neighbour table comes back to us as events.
  dp_.set_xdp_arp_to_kernel(true);
  dp_.neighbours().set_request_hook(
      [this](uint16_t port, Ipv4Addr ip) { ask_kernel_to_resolve(port, ip); });
  full_sync(now);
  counters_.resyncs = 0;  // the first dump is not a resync
  log::info(
      "kernel mirror: %zu links, %zu addresses, %zu prefixes, %zu neighbours from the first dump",
      links_.size(), addresses_.size(), routes_.size(), neighbours_.size());
  summarised_ = counters_;
  summary_at_ = now;
}

namespace {

void vwrite_limited(log::Level level, log::RateLimit& limit, const char* fmt, va_list ap) {
  if (!log::enabled(level) || !limit.allow()) return;
  char text[log::kMaxLine];
  vsnprintf(text, sizeof text, fmt, ap);
  log::write(level, "%s%s", text, limit.note().c_str());
}

}  // namespace

void KernelMirror::report_apply_error(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwrite_limited(log::Level::kWarning, apply_error_log_, fmt, ap);
  va_end(ap);
}

void KernelMirror::debug_change(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vwrite_limited(log::Level::kDebug, change_log_, fmt, ap);
  va_end(ap);
}

void KernelMirror::log_summary(double now) {
  if (counters_.events == summarised_.events || now - summary_at_ < 10) return;
  const Counters& c = counters_;
  const Counters& was = summarised_;
  log::info(
      "kernel mirror, last %.0f s: events %llu, route changes %llu, resyncs %llu, overruns %llu, "
      "errors %llu",
      now - summary_at_, static_cast<unsigned long long>(c.events - was.events),
      static_cast<unsigned long long>(c.routes_changed - was.routes_changed),
      static_cast<unsigned long long>(c.resyncs - was.resyncs),
      static_cast<unsigned long long>(c.overruns - was.overruns),
      static_cast<unsigned long long>(c.apply_errors - was.apply_errors));
  summarised_ = counters_;
  summary_at_ = now;
}

void KernelMirror::full_sync(double now) {
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    ++gen_;
    syncing_ = true;
    // Whatever is queued predates the dump that follows and is superseded by it.
    events_->discard();
    const auto each = [&](const nlmsghdr* h) { apply(h, now); };
    bool interrupted = false;
    fs_.begin_batch();
    try {
      requests_->dump(RTM_GETLINK, AF_UNSPEC, each);
      // Bridge ports' VLANs (AF_BRIDGE links, RTEXT_FILTER_BRVLAN) and the bridges' static
      // and local FDB entries. Kernels without them answer with an error: no bridges then.
      vlans_.clear();
      try {
        requests_->dump(netlink::bridge_link_dump_request(), each);
        requests_->dump(netlink::bridge_fdb_dump_request(), each);
      } catch (const netlink::DumpInterrupted&) {
        throw;
      } catch (const std::runtime_error& e) {
        report_apply_error("kernel mirror: bridge dump: %s", e.what());
      }
      requests_->dump(RTM_GETNETCONF, AF_INET, each);
      requests_->dump(RTM_GETADDR, AF_INET, each);
      requests_->dump(RTM_GETNEXTHOP, AF_UNSPEC, each);
      requests_->dump(RTM_GETROUTE, AF_INET, each);
      requests_->dump(RTM_GETNEIGH, AF_INET, each);
    } catch (const netlink::DumpInterrupted&) {
      interrupted = true;
    } catch (...) {
      fs_.end_batch();
      syncing_ = false;
      throw;
    }
    if (!interrupted || attempt + 1 == kAttempts) {
      // A last interrupted dump is still the newest view there is; events fix the rest.
      sweep(now);
      for (auto it = kfdb_.begin(); it != kfdb_.end();)
        it = it->second.gen < gen_ ? kfdb_.erase(it) : std::next(it);
      reconcile_bridges();
      fs_.end_batch();
      syncing_ = false;
      ++counters_.resyncs;
      resync_pending_ = false;
      if (bridge_ports_changed_) {  // read the new ports' routes and neighbours
        bridge_ports_changed_ = false;
        resync_pending_ = true;
      }
      return;
    }
    fs_.end_batch();
    ++counters_.dump_retries;
  }
}

size_t KernelMirror::service(double now) {
  if (!events_) return 0;
  uint64_t errors = 0;
  bool overrun = false;
  requests_->drain([](const nlmsghdr*) {}, 16, &overrun, &errors);
  counters_.request_errors += errors;
  overrun = false;
  fs_.begin_batch();
  const size_t seen =
      events_->drain([&](const nlmsghdr* h) { apply(h, now); }, cfg_.budget, &overrun, &errors);
  if (bridges_dirty_) reconcile_bridges();
  fs_.end_batch();
  if (bridge_ports_changed_) {
    bridge_ports_changed_ = false;
    resync_pending_ = true;
  }
  counters_.events += seen;
  if (overrun) {
    ++counters_.overruns;
    resync_pending_ = true;
  }
  if (!reattach_due_.empty()) reattach_ports();
  if (resync_pending_) {
    if (overrun)
      log::warning("kernel mirror: netlink overrun, events were lost: resyncing with the kernel");
    else
      log::info("kernel mirror: resyncing with the kernel");
    const uint64_t changed = counters_.routes_changed;
    full_sync(now);
    log::info(
        "kernel mirror: resynced: %zu links, %zu addresses, %zu prefixes (%llu route changes)",
        links_.size(), addresses_.size(), routes_.size(),
        static_cast<unsigned long long>(counters_.routes_changed - changed));
  }
  log_summary(now);
  return seen;
}

void KernelMirror::apply(const nlmsghdr* h, double now) {
  std::optional<netlink::Message> m = netlink::decode(h);
  if (!m) return;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, netlink::Link>) apply_link(v);
        if constexpr (std::is_same_v<T, netlink::Address>) apply_address(v);
        if constexpr (std::is_same_v<T, netlink::Route>) apply_route(v);
        if constexpr (std::is_same_v<T, netlink::Neighbour>) apply_neighbour(v, now);
        if constexpr (std::is_same_v<T, netlink::Nexthop>) apply_nexthop(v);
        if constexpr (std::is_same_v<T, netlink::Netconf>) apply_netconf(v);
        if constexpr (std::is_same_v<T, netlink::BridgeLink>) apply_bridge_link(v);
        if constexpr (std::is_same_v<T, netlink::Vlan>) apply_vlan(v);
        if constexpr (std::is_same_v<T, netlink::BridgeFdb>) apply_bridge_fdb(v);
      },
      *m);
}

// ---- links and forwarding ------------------------------------------------------------------

void KernelMirror::update_port(uint16_t port) {
  PortState& ps = fs_.mutable_port(port);
  const int ifindex = ifindex_of_port_[port];
  auto it = links_.find(ifindex);
  if (it == links_.end()) {
    ps.up.store(false);
    return;
  }
  const netlink::Link& l = it->second.link;
  ps.up.store(l.admin_up && l.carrier);
  if (l.mtu >= 68 && l.mtu <= 65535) ps.mtu.store(static_cast<uint16_t>(l.mtu));
  bool fwd = true;
  if (auto f = forwarding_.find(ifindex); f != forwarding_.end())
    fwd = f->second;
  else if (auto all = forwarding_.find(NETCONFA_IFINDEX_ALL); all != forwarding_.end())
    fwd = all->second;
  ps.forwarding.store(fwd);
  const auto now_state = std::make_tuple(ps.up.load(), ps.mtu.load(), fwd);
  if (auto r = reported_.find(port); r == reported_.end() || r->second != now_state) {
    reported_[port] = now_state;
    log::info("port %s: link %s%s, mtu %u, forwarding %s", ps.name.c_str(),
              std::get<0>(now_state) ? "up" : "down",
              std::get<0>(now_state) ? ""
              : !l.admin_up          ? " (administratively down)"
                                     : " (no carrier)",
              std::get<1>(now_state), fwd ? "on" : "off");
  }
}

void KernelMirror::apply_link(const netlink::Link& l) {
  const uint16_t* port = port_of(l.ifindex);
  if (l.deleted) {
    if (auto it = links_.find(l.ifindex); it != links_.end())
      if (it->second.link.kind == "bridge" || it->second.link.master != 0) bridges_dirty_ = true;
    links_.erase(l.ifindex);
    if (port) lose_port(*port, l.ifindex);
    return;
  }
  if (!port && !detached_.empty()) {
    // An interface with a lost port's name: the port's new interface.
    if (const std::optional<uint16_t> p = fs_.port_by_name(l.name); p && detached_.count(*p))
      reattach_due_.insert(*p);
  }
  LinkState& s = links_[l.ifindex];
  if (l.bridge_port) brport_[l.ifindex] = *l.bridge_port;
  if (l.kind == "bridge" || l.master != 0 || s.link.master != 0 || s.link.kind == "bridge")
    bridges_dirty_ = true;
  const bool was_up = s.gen != 0 && s.link.admin_up;
  s.link = l;
  s.gen = gen_;
  if (!port) return;
  update_port(*port);
  // Taken down, the kernel flushes the routes through the interface and tells no one
  // (fib_sync_down_dev): ask it again what is left.
  if (was_up && !l.admin_up && !syncing_) resync_pending_ = true;
}

void KernelMirror::lose_port(uint16_t port, int ifindex) {
  const std::string& name = fs_.port(port).name;
  // Its neighbours and addresses went with it (the kernel's DELADDRs may come after the
  // DELLINK, or not at all after an overrun). Its routes are flushed by the kernel without a
  // word: the resync reads what is left.
  dp_.neighbours().forget_port(port);
  std::erase_if(neighbours_, [&](const auto& n) { return n.first.first == ifindex; });
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    if (it->first.ifindex == ifindex) {
      fs_.del_address(port, Ipv4Addr::from_host(it->first.addr), it->first.len);
      it = addresses_.erase(it);
    } else {
      ++it;
    }
  }
  links_.erase(ifindex);
  forwarding_.erase(ifindex);
  released_.erase(port);  // lost now, not merely released
  port_of_ifindex_.erase(ifindex);
  ifindex_of_port_[port] = 0;
  dp_.detach_port(port);
  detached_[port] = "interface " + name + " was deleted (ifindex " + std::to_string(ifindex) +
                    "); the port is re-opened when an interface named " + name + " appears";
  reported_.erase(port);
  log::warning("port %s: %s", name.c_str(), detached_[port].c_str());
  if (!syncing_) resync_pending_ = true;
}

void KernelMirror::reattach_ports() {
  const std::set<uint16_t> due = std::move(reattach_due_);
  reattach_due_.clear();
  for (const uint16_t port : due) {
    const std::string& name = fs_.port(port).name;
    const std::string err = dp_.reattach_port(port);
    if (!err.empty()) {
      detached_[port] = "interface " + name + " is back but cannot be opened: " + err +
                        "; every port is released to the kernel until it can be (retried at " +
                        name + "'s next change), or restart sluiced";
      log::warning("port %s: %s", name.c_str(), detached_[port].c_str());
      release_all(name);
      continue;
    }
    const int ifindex = dp_.ports()[port].ifindex;
    // Addresses the kernel gave the new interface before it was a port again were taken for
    // host addresses (apply_address found no port), and the resync below would not add them
    // again: forget them, so that it adds them to the port. Without this a masquerade out of
    // the port found no address (drop-nat-no-address) until sluiced restarted.
    for (auto it = addresses_.begin(); it != addresses_.end();) {
      if (it->first.ifindex == ifindex) {
        if ((it->first.addr >> 24) != 127)
          fs_.del_host_address(Ipv4Addr::from_host(it->first.addr));
        it = addresses_.erase(it);
      } else {
        ++it;
      }
    }
    port_of_ifindex_[ifindex] = port;
    ifindex_of_port_[port] = ifindex;
    detached_.erase(port);
    log::warning("port %s: re-opened on the new interface %s (ifindex %d)", name.c_str(),
                 name.c_str(), ifindex);
    // Its link, addresses, routes and neighbours were skipped while it was no port.
    resync_pending_ = true;
  }
  // The ports released for a port that could not be re-opened come back once none is left.
  bool lost = false;
  for (const auto& [p, why] : detached_) lost = lost || !released_.count(p);
  if (lost || released_.empty()) return;
  for (const uint16_t p : std::set<uint16_t>(std::move(released_))) {
    try {
      dp_.take_back_port(p);
      detached_.erase(p);
      log::warning("port %s: taken back from the kernel", fs_.port(p).name.c_str());
    } catch (const std::exception& e) {
      detached_[p] =
          std::string("cannot be taken back from the kernel: ") + e.what() + "; restart sluiced";
      log::error("port %s: %s", fs_.port(p).name.c_str(), detached_[p].c_str());
    }
  }
  released_.clear();
  resync_pending_ = true;
}

void KernelMirror::release_all(const std::string& why_port) {
  // The fast path cannot reach the interface, but routes through it exist in the kernel: the
  // traffic for them would get net-unreachable from sluice. With sluice's XDP programs taken
  // off every other interface (the ports stay open: closing one costs mbufs, ports.h), the
  // kernel, which holds the same state, forwards everything (fail-open), as if sluiced had
  // stopped.
  for (uint16_t p = 0; p < ifindex_of_port_.size(); ++p) {
    if (!ifindex_of_port_[p] || !dp_.attached(p) || dp_.released(p)) continue;
    try {
      dp_.release_port(p);
    } catch (const std::exception& e) {
      log::error("port %s: cannot hand its traffic to the kernel: %s", fs_.port(p).name.c_str(),
                 e.what());
      continue;
    }
    released_.insert(p);
    detached_[p] = "released to the kernel (it forwards this port's traffic) while port " +
                   why_port + " cannot be opened";
    log::warning("port %s: %s", fs_.port(p).name.c_str(), detached_[p].c_str());
  }
}

void KernelMirror::apply_netconf(const netlink::Netconf& c) {
  if (!c.forwarding) return;
  forwarding_[c.ifindex] = *c.forwarding;
  if (c.ifindex == NETCONFA_IFINDEX_ALL) {
    for (uint16_t p = 0; p < ifindex_of_port_.size(); ++p)
      if (ifindex_of_port_[p]) update_port(p);
  } else if (const uint16_t* port = port_of(c.ifindex)) {
    update_port(*port);
  }
}

// ---- addresses -----------------------------------------------------------------------------

void KernelMirror::apply_address(const netlink::Address& a) {
  const uint16_t* port = port_of(a.ifindex);
  const AddrKey k{a.ifindex, a.addr.host(), a.len};
  if (a.deleted) {
    if (!addresses_.erase(k)) return;
    if (port)
      fs_.del_address(*port, a.addr, a.len);
    else
      fs_.del_host_address(a.addr);
    debug_change("address %s/%u deleted (%s)", a.addr.str().c_str(), a.len,
                 port ? fs_.port(*port).name.c_str() : "a host address");
    return;
  }
  auto [it, created] = addresses_.try_emplace(k, gen_);
  it->second = gen_;
  if (!created) return;
  // The kernel's prefix route for the address arrives as a route of its own. An address on
  // another interface (lo, a dummy) is the host's all the same: local to the fast path.
  std::string err;
  if (port)
    err = fs_.add_address(*port, a.addr, a.len, /*prefix_route=*/false);
  else if ((a.addr.host() >> 24) != 127)
    err = fs_.add_host_address(a.addr);
  if (!err.empty()) {
    ++counters_.apply_errors;
    report_apply_error("address %s/%u: %s", a.addr.str().c_str(), a.len, err.c_str());
    return;
  }
  debug_change("address %s/%u added (%s)", a.addr.str().c_str(), a.len,
               port ? fs_.port(*port).name.c_str() : "a host address");
}

// ---- routes and nexthop objects ------------------------------------------------------------

void KernelMirror::apply_route(const netlink::Route& r) {
  if (!wanted_table(r.table) || r.type == RTN_LOCAL || r.type == RTN_BROADCAST) return;
  const uint64_t k = key(r.dst);
  auto it = routes_.find(k);
  if (r.deleted) {
    if (it == routes_.end()) return;
    auto& rs = it->second.routes;
    for (auto x = rs.begin(); x != rs.end(); ++x) {
      if (x->table == r.table && x->tos == r.tos && x->priority == r.priority) {
        rs.erase(x);
        break;
      }
    }
  } else {
    if (it == routes_.end()) it = routes_.try_emplace(k).first;
    auto& rs = it->second.routes;
    KRoute* kr = nullptr;
    for (KRoute& x : rs)
      if (x.table == r.table && x.tos == r.tos && x.priority == r.priority) kr = &x;
    if (!kr) kr = &rs.emplace_back();
    kr->table = r.table;
    kr->priority = r.priority;
    kr->nh_id = r.nh_id;
    kr->tos = r.tos;
    kr->type = r.foreign_gateway ? uint8_t{RTN_UNSPEC} : r.type;  // IPv6 gateways: not usable
    kr->flags = r.flags;
    kr->gen = gen_;
    kr->paths.assign(r.paths.begin(), r.paths.end());
    if (r.nh_id) nh_prefixes_.insert(k);
  }
  reconcile(k, it->second);
  if (it->second.routes.empty() && it->second.installed.empty() && !it->second.ignored)
    routes_.erase(it);
}

bool KernelMirror::resolve_nexthop(const NexthopMap& nhs, uint32_t id, Targets& out, uint8_t weight,
                                   unsigned depth) const {
  auto it = nhs.find(id);
  if (it == nhs.end() || depth > 1) return false;
  const netlink::Nexthop& nh = it->second.nh;
  if (nh.blackhole) {
    out.push_back(RouteTarget{NextHopKind::kBlackhole, std::nullopt, Ipv4Addr(), 1});
    return true;
  }
  if (!nh.group.empty()) {
    for (const auto& [member, w] : nh.group)
      if (!resolve_nexthop(nhs, member, out, w, depth + 1)) return false;
    return true;
  }
  if (!nh.ipv4 && nh.gateway.host() != 0) return false;
  const uint16_t* port = port_of(nh.ifindex);
  if (!port) return false;
  out.push_back(RouteTarget{NextHopKind::kForward, *port, nh.gateway, weight});
  return true;
}

Targets KernelMirror::targets_of(const PrefixState& ps, const NexthopMap& nhs,
                                 bool* ignored) const {
  *ignored = false;
  const KRoute* best = nullptr;
  bool any = false;
  for (const KRoute& r : ps.routes) {
    any = true;
    if (r.tos != 0 || !usable_type(r.type) || (r.flags & RTNH_F_DEAD)) continue;
    if (!best || r.priority < best->priority ||
        (r.priority == best->priority && table_rank(r.table) < table_rank(best->table)))
      best = &r;
  }
  Targets out;
  if (!best) {
    *ignored = any;
    return out;
  }
  if (best->type != RTN_UNICAST) {
    out.push_back(RouteTarget{kind_of_type(best->type), std::nullopt, Ipv4Addr(), 1});
    return out;
  }
  if (best->nh_id) {
    if (!resolve_nexthop(nhs, best->nh_id, out, 1, 0)) {
      out.clear();
      *ignored = true;
    }
    // A group holding a blackhole is the kernel's error; only a lone blackhole is valid.
    if (out.size() > 1)
      for (const RouteTarget& t : out)
        if (t.kind != NextHopKind::kForward) {
          out.clear();
          *ignored = true;
          break;
        }
    return out;
  }
  for (const netlink::Path& p : best->paths) {
    if (p.flags & RTNH_F_DEAD) continue;
    const uint16_t* port = port_of(p.ifindex);
    if (!port) {  // through an interface that is not a sluice port: the kernel's business
      out.clear();
      *ignored = true;
      return out;
    }
    out.push_back(RouteTarget{NextHopKind::kForward, *port, p.gateway, p.weight});
  }
  if (out.empty()) *ignored = true;
  if (out.size() == 1) out[0].weight = 1;
  return out;
}

void KernelMirror::reconcile(uint64_t k, PrefixState& ps) {
  const Prefix p = prefix_of(k);
  if (static_.count(p)) return;
  bool ignored = false;
  Targets t = targets_of(ps, nexthops_, &ignored);
  if (ignored != ps.ignored) {
    ps.ignored = ignored;
    if (ignored)
      ++not_mirrored_;
    else
      --not_mirrored_;
  }
  if (same_targets(t, ps.installed)) return;
  ++counters_.routes_changed;
  if (t.empty()) {
    fs_.del_route(p);
    ps.installed.clear();
    debug_change("route %s removed", p.str().c_str());
    return;
  }
  const std::string err = fs_.replace_route(p, std::vector<RouteTarget>(t.begin(), t.end()));
  if (err.empty()) {
    ps.installed = t;
    debug_change("route %s installed (%zu path%s)", p.str().c_str(), t.size(),
                 t.size() == 1 ? "" : "s");
    return;
  }
  ++counters_.apply_errors;
  report_apply_error("route %s: %s", p.str().c_str(), err.c_str());
  if (!ps.installed.empty()) fs_.del_route(p);
  ps.installed.clear();
}

void KernelMirror::reconcile_nexthop_users() {
  for (auto it = nh_prefixes_.begin(); it != nh_prefixes_.end();) {
    auto r = routes_.find(*it);
    if (r == routes_.end()) {
      it = nh_prefixes_.erase(it);
      continue;
    }
    reconcile(*it, r->second);
    ++it;
  }
}

void KernelMirror::apply_nexthop(const netlink::Nexthop& n) {
  if (n.deleted) {
    nexthops_.erase(n.id);
  } else {
    NexthopState& s = nexthops_[n.id];
    s.nh = n;
    s.gen = gen_;
  }
  // During a dump the routes follow the nexthops; reconcile once they are all known.
  if (!syncing_) reconcile_nexthop_users();
}

// ---- neighbours ----------------------------------------------------------------------------

void KernelMirror::apply_neighbour(const netlink::Neighbour& n, double now) {
  const uint16_t* port = port_of(n.ifindex);
  if (!port) return;
  const std::pair<int, uint32_t> k{n.ifindex, n.ip.host()};
  NeighbourResolver& res = dp_.neighbours();
  if (n.deleted) {
    if (neighbours_.erase(k)) res.kernel_failed(*port, n.ip, now);
    return;
  }
  if ((n.state & kNudUsable) && n.mac && !n.mac->is_zero()) {
    neighbours_[k] = NeighState{gen_, n.state};
    res.kernel_resolved(*port, n.ip, *n.mac, now);
  } else if (n.state & NUD_FAILED) {
    neighbours_.erase(k);
    res.kernel_failed(*port, n.ip, now);
  }
  // INCOMPLETE and NONE: the kernel is still asking; its answer comes as another event.
}

void KernelMirror::ask_kernel_to_resolve(uint16_t port, Ipv4Addr ip) {
  if (port >= ifindex_of_port_.size() || ifindex_of_port_[port] == 0) return;
  // RTM_NEWNEIGH with NTF_USE: the kernel creates the entry if needed and starts resolving
  // it (neigh_event_send), exactly as if it had a packet for that neighbour.
  char buf[256];
  nlmsghdr* h = mnl_nlmsg_put_header(buf);
  h->nlmsg_type = RTM_NEWNEIGH;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE;
  h->nlmsg_seq = requests_->next_seq();
  auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ndmsg)));
  nd->ndm_family = AF_INET;
  nd->ndm_ifindex = ifindex_of_port_[port];
  nd->ndm_state = NUD_NONE;
  nd->ndm_flags = NTF_USE;
  const uint32_t be = ip.be();
  mnl_attr_put(h, NDA_DST, 4, &be);
  try {
    requests_->send(h);
    ++counters_.neighbour_requests;
  } catch (const std::exception&) {
    ++counters_.request_errors;
  }
}

// ---- resync --------------------------------------------------------------------------------

void KernelMirror::sweep(double now) {
  for (auto it = links_.begin(); it != links_.end();) {
    if (it->second.gen < gen_) {
      const int ifindex = it->first;
      it = links_.erase(it);
      if (const uint16_t* port = port_of(ifindex)) lose_port(*port, ifindex);
    } else {
      ++it;
    }
  }
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    if (it->second < gen_) {
      const Ipv4Addr addr = Ipv4Addr::from_host(it->first.addr);
      if (const uint16_t* port = port_of(it->first.ifindex))
        fs_.del_address(*port, addr, it->first.len);
      else
        fs_.del_host_address(addr);
      it = addresses_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = nexthops_.begin(); it != nexthops_.end();)
    it = it->second.gen < gen_ ? nexthops_.erase(it) : std::next(it);
  for (auto it = routes_.begin(); it != routes_.end();) {
    auto& rs = it->second.routes;
    const size_t before = rs.size();
    rs.erase(std::remove_if(rs.begin(), rs.end(), [&](const KRoute& r) { return r.gen < gen_; }),
             rs.end());
    // Every prefix with a nexthop route is reconciled below anyway.
    if (rs.size() != before && !nh_prefixes_.count(it->first)) reconcile(it->first, it->second);
    if (rs.empty() && it->second.installed.empty() && !it->second.ignored)
      it = routes_.erase(it);
    else
      ++it;
  }
  reconcile_nexthop_users();
  for (auto it = neighbours_.begin(); it != neighbours_.end();) {
    if (it->second.gen < gen_) {
      if (const uint16_t* port = port_of(it->first.first))
        dp_.neighbours().kernel_failed(*port, Ipv4Addr::from_host(it->first.second), now);
      it = neighbours_.erase(it);
    } else {
      ++it;
    }
  }
}

void KernelMirror::set_static(Prefix p, bool on) {
  if (on) {
    static_.insert(p);
    return;
  }
  static_.erase(p);
  if (auto it = routes_.find(key(p)); it != routes_.end()) {
    it->second.installed.clear();  // the static route was removed underneath
    reconcile(it->first, it->second);
  }
}

// ---- views ---------------------------------------------------------------------------------

std::string KernelMirror::kernel_neighbour_state(uint16_t port, Ipv4Addr ip) const {
  if (port >= ifindex_of_port_.size()) return {};
  auto it = neighbours_.find({ifindex_of_port_[port], ip.host()});
  if (it == neighbours_.end()) return {};
  const uint16_t s = it->second.nud;
  if (s & NUD_PERMANENT) return "PERMANENT";
  if (s & NUD_NOARP) return "NOARP";
  if (s & NUD_REACHABLE) return "REACHABLE";
  if (s & NUD_STALE) return "STALE";
  if (s & NUD_DELAY) return "DELAY";
  if (s & NUD_PROBE) return "PROBE";
  return {};
}

std::optional<uint32_t> KernelMirror::metric(Prefix p) const {
  auto it = routes_.find(key(p));
  if (it == routes_.end() || it->second.installed.empty()) return std::nullopt;
  std::optional<uint32_t> best;
  for (const KRoute& r : it->second.routes)
    if (r.tos == 0 && usable_type(r.type) && !(r.flags & RTNH_F_DEAD) &&
        (!best || r.priority < *best))
      best = r.priority;
  return best;
}

std::vector<KernelMirror::LinkView> KernelMirror::links() const {
  std::vector<LinkView> out;
  for (uint16_t p = 0; p < ifindex_of_port_.size(); ++p) {
    const int ifindex = ifindex_of_port_[p];
    const auto lost = detached_.find(p);
    if (!ifindex && lost == detached_.end()) continue;  // no kernel twin
    LinkView v{p,
               ifindex,
               fs_.port(p).name,
               false,
               false,
               fs_.port(p).forwarding.load(),
               0,
               lost == detached_.end() ? std::string() : lost->second};
    if (auto it = links_.find(ifindex); it != links_.end()) {
      v.name = it->second.link.name;
      v.admin_up = it->second.link.admin_up;
      v.carrier = it->second.link.carrier;
      v.mtu = it->second.link.mtu;
    }
    out.push_back(v);
  }
  return out;
}

// ---- route check ---------------------------------------------------------------------------

namespace {

std::string describe_targets(const Targets& t, const ForwardingState& fs) {
  std::string s;
  for (const RouteTarget& x : t) {
    if (!s.empty()) s.append(" +");
    switch (x.kind) {
      case NextHopKind::kBlackhole: s.append(" blackhole"); continue;
      case NextHopKind::kUnreachable: s.append(" unreachable"); continue;
      case NextHopKind::kProhibit: s.append(" prohibit"); continue;
      default: break;
    }
    if (x.gateway.host() != 0) s.append(" via ").append(x.gateway.str());
    if (x.port) s.append(" dev ").append(fs.port(*x.port).name);
    if (t.size() > 1) s.append(" weight ").append(std::to_string(x.weight));
  }
  return s;
}

using PathKey = std::tuple<uint8_t, uint16_t, uint32_t, uint8_t>;

}  // namespace

KernelMirror::CheckResult KernelMirror::check() {
  CheckResult res;
  netlink::Socket s({}, 0);
  // The kernel's state, read afresh: nexthop objects, then routes.
  NexthopMap nhs;
  std::unordered_map<uint64_t, PrefixState> kroutes;
  std::set<AddrKey> kaddrs;
  // Sized for what the mirror holds now: rehashing a million entries is most of a check.
  kroutes.reserve(routes_.size() + 1024);
  for (int attempt = 0;; ++attempt) {
    nhs.clear();
    kroutes.clear();
    kaddrs.clear();
    try {
      s.dump(RTM_GETNEXTHOP, AF_UNSPEC, [&](const nlmsghdr* h) {
        auto m = netlink::decode(h);
        if (m)
          if (auto* n = std::get_if<netlink::Nexthop>(&*m)) nhs[n->id] = NexthopState{*n, 0};
      });
      s.dump(RTM_GETADDR, AF_INET, [&](const nlmsghdr* h) {
        auto m = netlink::decode(h);
        if (m)
          if (auto* a = std::get_if<netlink::Address>(&*m); a && port_of(a->ifindex))
            kaddrs.insert(AddrKey{a->ifindex, a->addr.host(), a->len});
      });
      s.dump(RTM_GETROUTE, AF_INET, [&](const nlmsghdr* h) {
        auto m = netlink::decode(h);
        if (!m) return;
        auto* r = std::get_if<netlink::Route>(&*m);
        if (!r || !wanted_table(r->table) || r->type == RTN_LOCAL || r->type == RTN_BROADCAST)
          return;
        KRoute kr{r->table,
                  r->priority,
                  r->nh_id,
                  r->tos,
                  r->foreign_gateway ? uint8_t{RTN_UNSPEC} : r->type,
                  r->flags,
                  0,
                  {}};
        kr.paths.assign(r->paths.begin(), r->paths.end());
        kroutes[key(r->dst)].routes.push_back(std::move(kr));
      });
      break;
    } catch (const netlink::DumpInterrupted&) {
      if (attempt == 4)
        throw std::runtime_error("the kernel's tables kept changing during 5 dumps");
    }
  }

  std::vector<std::string>& diffs = res.differences;
  size_t total = 0;
  constexpr size_t kListed = 200;
  auto note = [&](std::string line) {
    if (++total <= kListed) diffs.push_back(std::move(line));
  };

  // What sluice holds from the kernel: its user-origin routes, static ones excepted.
  std::unordered_map<uint64_t, boost::container::small_vector<PathKey, 1>> held;
  held.reserve(routes_.size() + 1024);
  fs_.for_each_route([&](const RouteView& v) {
    if (v.origin != RouteView::Origin::kUser || static_.count(v.prefix)) return;
    auto& paths = held[key(v.prefix)];
    for (const PathView& p : v.paths)
      paths.emplace_back(static_cast<uint8_t>(p.kind), p.kind == NextHopKind::kForward ? p.port : 0,
                         p.gateway.host(), v.paths.size() > 1 ? p.weight : 1);
  });
  res.sluice_routes = held.size();

  for (auto& [k, ps] : kroutes) {
    const Prefix p = prefix_of(k);
    if (static_.count(p)) continue;
    bool ignored = false;
    const Targets want = targets_of(ps, nhs, &ignored);
    if (want.empty()) {
      if (ignored) ++res.not_mirrored;
      continue;
    }
    ++res.kernel_routes;
    auto h = held.find(k);
    if (h == held.end()) {
      note("missing: " + p.str() + describe_targets(want, fs_));
      continue;
    }
    boost::container::small_vector<PathKey, 1> w;
    for (const RouteTarget& t : want)
      w.emplace_back(static_cast<uint8_t>(t.kind), t.kind == NextHopKind::kForward ? *t.port : 0,
                     t.gateway.host(), want.size() > 1 ? t.weight : 1);
    auto& got = h->second;
    // Members in any order: the fast path keeps a multipath route's members its own way.
    if (w.size() > 1) {
      std::sort(w.begin(), w.end());
      std::sort(got.begin(), got.end());
    }
    if (w != got) note("differs: " + p.str() + ": kernel" + describe_targets(want, fs_));
    held.erase(h);
  }
  for (const auto& [k, paths] : held) note("extra: " + prefix_of(k).str() + " (not in the kernel)");

  // Addresses of the mirrored ports.
  std::set<AddrKey> ours;
  for (const InterfaceAddress& a : fs_.addresses())
    if (a.port < ifindex_of_port_.size() && ifindex_of_port_[a.port])
      ours.insert(AddrKey{ifindex_of_port_[a.port], a.addr.host(), a.len});
  for (const AddrKey& a : kaddrs)
    if (!ours.count(a))
      note("missing address: " + Ipv4Addr::from_host(a.addr).str() + "/" + std::to_string(a.len));
  for (const AddrKey& a : ours)
    if (!kaddrs.count(a))
      note("extra address: " + Ipv4Addr::from_host(a.addr).str() + "/" + std::to_string(a.len));

  // The lock-free FIB against the RIB it was built from.
  std::vector<std::string> fib;
  const size_t fib_bad = fs_.fib_mismatches(kListed, &fib);
  for (std::string& f : fib) note("fib: " + f);
  total += fib_bad - fib.size();

  if (total > kListed) diffs.push_back("... and " + std::to_string(total - kListed) + " more");
  ++counters_.route_checks;
  counters_.last_check_differences = total;
  return res;
}

}  // namespace sluice
