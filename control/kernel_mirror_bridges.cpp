// kernel_mirror_bridges.cpp — Linux bridges, mirrored. A bridge device (IFLA_INFO_KIND
// "bridge") whose members are all sluice AF_XDP ports becomes a sluice bridge: the same name
// and MAC, its ageing time, VLAN filtering and default PVID, each member's learning and flood
// flags, STP state and VLANs, and the static and local FDB entries the kernel holds. The
// bridge device itself becomes the bridge's routed interface: from then on the addresses,
// routes, neighbours and forwarding sysctl of the device are mirrored onto that port like any
// other. docs/bridging.md ("Mirroring Linux bridges") has the why of each rule.
//
// What is not mirrored, and stays the kernel's (with the reason in `sluice bridge show`): a
// bridge with no member, with a member that is not a sluice AF_XDP port, with 802.1ad, or with a
// member flag sluice does not implement (isolated, locked, neigh_suppress, hairpin).
#include <linux/if_bridge.h>

#include <algorithm>
#include <cstdio>

#include "control/kernel_mirror.h"

namespace sluice {

void KernelMirror::apply_bridge_link(const netlink::BridgeLink& b) {
  bridges_dirty_ = true;
  if (b.deleted) {
    vlans_.erase(b.ifindex);
    brport_.erase(b.ifindex);
    return;
  }
  vlans_[b.ifindex] = b.vlans;
  if (b.port && b.ifindex != b.master) brport_[b.ifindex] = *b.port;
}

void KernelMirror::apply_vlan(const netlink::Vlan& v) {
  bridges_dirty_ = true;
  std::vector<netlink::BridgeVlan>& have = vlans_[v.ifindex];
  for (const netlink::BridgeVlan& x : v.vlans) {
    have.erase(std::remove_if(have.begin(), have.end(),
                              [&](const netlink::BridgeVlan& h) { return h.vid == x.vid; }),
               have.end());
    if (!v.deleted) have.push_back(x);
  }
  if (have.empty()) vlans_.erase(v.ifindex);
}

void KernelMirror::apply_bridge_fdb(const netlink::BridgeFdb& f) {
  // NTF_SELF entries are a device's own address lists, not the bridge's FDB; learned entries
  // are the kernel's view of the frames it saw (sluice learns its own).
  if (f.self()) return;
  const int bridge = f.master != 0 ? f.master : f.ifindex;
  const FdbKey k{bridge, f.mac.packed(), f.vlan};
  if (f.deleted) {
    if (kfdb_.erase(k)) bridges_dirty_ = true;
    return;
  }
  if (!f.is_static() && !f.is_local()) return;
  kfdb_[k] = KFdb{f.ifindex, f.is_local(), gen_};
  bridges_dirty_ = true;
}

std::string KernelMirror::bridge_unmirrorable(int ifindex, const std::vector<int>& members) const {
  const netlink::Link& l = links_.at(ifindex).link;
  if (members.empty()) return "no members";
  if (l.bridge && l.bridge->vlan_protocol != 0x8100) return "802.1ad VLAN protocol";
  for (int m : members) {
    const netlink::Link& ml = links_.at(m).link;
    const uint16_t* port = port_of(m);
    if (port == nullptr || fs_.port(*port).bvi_of.load() != kNoBridge)
      return "member " + ml.name + " is not a sluice AF_XDP port";
    if (auto it = brport_.find(m); it != brport_.end()) {
      const netlink::BridgePortInfo& bp = it->second;
      if (bp.isolated) return "member " + ml.name + " is isolated";
      if (bp.locked) return "member " + ml.name + " is locked";
      if (bp.neigh_suppress) return "member " + ml.name + " has neigh_suppress";
      if (bp.hairpin) return "member " + ml.name + " has hairpin mode";
    }
  }
  return {};
}

void KernelMirror::map_port(int ifindex, uint16_t port) {
  port_of_ifindex_[ifindex] = port;
  if (ifindex_of_port_.size() <= port) ifindex_of_port_.resize(port + 1, 0);
  ifindex_of_port_[port] = ifindex;
}

void KernelMirror::mirror_bridge(int ifindex) {
  const netlink::Link& l = links_.at(ifindex).link;
  MirroredBridge mb;
  mb.name = l.name;
  uint16_t bvi = 0;
  Bridges::Config c;
  c.name = l.name;
  c.mac = l.mac.value_or(MacAddr());
  c.kernel = true;
  c.ifindex = ifindex;
  const std::string err = dp_.bridges().add(c, {}, &bvi);
  if (!err.empty()) {
    ++counters_.apply_errors;
    unmirrored_[ifindex] = err;
    report_apply_error("bridge %s: %s", l.name.c_str(), err.c_str());
    return;
  }
  mb.bvi = bvi;
  mb.config = c;
  mirrored_[ifindex] = std::move(mb);
  unmirrored_.erase(ifindex);
  map_port(ifindex, bvi);
  // The device's addresses were host addresses while it was not a port; now they are the
  // routed interface's. Its routes and neighbours come with the resync below.
  for (const auto& [k, gen] : addresses_) {
    if (k.ifindex != ifindex) continue;
    const Ipv4Addr a = Ipv4Addr::from_host(k.addr);
    fs_.del_host_address(a);
    if (std::string e = fs_.add_address(bvi, a, k.len, /*prefix_route=*/false); !e.empty())
      report_apply_error("address %s/%u: %s", a.str().c_str(), k.len, e.c_str());
  }
  update_port(bvi);
  log::info("bridge %s mirrored (routed interface port %u)", l.name.c_str(), bvi);
  bridge_ports_changed_ = true;
}

void KernelMirror::unmirror_bridge(int ifindex) {
  auto it = mirrored_.find(ifindex);
  if (it == mirrored_.end()) return;
  const MirroredBridge& mb = it->second;
  dp_.bridges().del(mb.name);  // also removes the routed interface's addresses
  port_of_ifindex_.erase(ifindex);
  if (mb.bvi < ifindex_of_port_.size()) ifindex_of_port_[mb.bvi] = 0;
  for (const auto& [k, gen] : addresses_)
    if (k.ifindex == ifindex && (k.addr >> 24) != 127)
      fs_.add_host_address(Ipv4Addr::from_host(k.addr));
  log::info("bridge %s no longer mirrored", mb.name.c_str());
  mirrored_.erase(it);
  bridge_ports_changed_ = true;
}

void KernelMirror::reconcile_bridges() {
  bridges_dirty_ = false;
  bool changed = false;
  std::set<int> seen;
  for (const auto& [ifindex, ls] : links_) {
    const netlink::Link& l = ls.link;
    if (l.kind != "bridge") continue;
    seen.insert(ifindex);
    std::vector<int> members;
    for (const auto& [mi, ms] : links_)
      if (ms.link.master == ifindex && mi != ifindex) members.push_back(mi);
    const std::string reason = bridge_unmirrorable(ifindex, members);
    if (!reason.empty()) {
      if (mirrored_.count(ifindex)) {
        unmirror_bridge(ifindex);
        changed = true;
      }
      unmirrored_[ifindex] = reason;
      continue;
    }
    if (!mirrored_.count(ifindex)) {
      mirror_bridge(ifindex);
      if (!mirrored_.count(ifindex)) continue;
      changed = true;
    }
    MirroredBridge& mb = mirrored_.at(ifindex);
    Bridges& br = dp_.bridges();

    // The bridge's settings.
    Bridges::Config c = mb.config;
    c.mac = l.mac.value_or(c.mac);
    const netlink::BridgeInfo info = l.bridge.value_or(netlink::BridgeInfo{});
    c.ageing = info.ageing_time_cs / 100;
    c.vlan_filtering = info.vlan_filtering;
    c.default_pvid = info.default_pvid >= 1 && info.default_pvid <= 4094 ? info.default_pvid : 1;
    c.bvi_pvid = c.default_pvid;
    if (auto v = vlans_.find(ifindex); v != vlans_.end())
      for (const netlink::BridgeVlan& x : v->second)
        if (x.pvid) c.bvi_pvid = x.vid;
    auto report = [&](const std::string& what, const std::string& e) {
      if (e.empty()) return;
      ++counters_.apply_errors;
      report_apply_error("bridge %s: %s: %s", mb.name.c_str(), what.c_str(), e.c_str());
    };
    if (c.mac != mb.config.mac && !c.mac.is_zero()) report("mac", br.set_mac(mb.name, c.mac));
    if (c.ageing != mb.config.ageing) report("ageing", br.set_ageing(mb.name, c.ageing));
    if (c.vlan_filtering != mb.config.vlan_filtering || c.bvi_pvid != mb.config.bvi_pvid)
      report("vlan_filtering", br.set_vlan_filtering(mb.name, c.vlan_filtering, c.bvi_pvid));

    // The members.
    std::vector<Bridges::Member> want;
    for (int mi : members) {
      auto bpi = brport_.find(mi);
      const netlink::BridgePortInfo bp =
          bpi != brport_.end() ? bpi->second : netlink::BridgePortInfo{};
      Bridges::Member m;
      m.port = *port_of(mi);
      m.learning = bp.learning;
      m.flood_unicast = bp.unicast_flood;
      m.flood_broadcast = bp.bcast_flood;
      m.flood_multicast = bp.mcast_flood;
      m.forwarding = bp.state == BR_STATE_FORWARDING;
      m.pvid = 0;
      if (auto v = vlans_.find(mi); v != vlans_.end()) {
        for (const netlink::BridgeVlan& x : v->second) {
          m.vlans[x.vid] = x.untagged;
          if (x.pvid) m.pvid = x.vid;
        }
      }
      if (m.vlans.empty()) m.pvid = c.default_pvid;  // no VLAN information: the default
      want.push_back(m);
    }
    const auto same = [](const Bridges::Member& a, const Bridges::Member& b) {
      return a.port == b.port && a.learning == b.learning && a.flood_unicast == b.flood_unicast &&
             a.flood_broadcast == b.flood_broadcast && a.flood_multicast == b.flood_multicast &&
             a.forwarding == b.forwarding && a.pvid == b.pvid && a.vlans == b.vlans;
    };
    if (!std::equal(want.begin(), want.end(), mb.members.begin(), mb.members.end(), same)) {
      report("members", br.set_members(mb.name, want));
      mb.members = want;
      changed = true;
    }
    mb.config = c;
    update_port(mb.bvi);

    // Static and local entries.
    std::map<std::pair<uint64_t, uint16_t>, std::optional<uint16_t>> statics;
    for (const auto& [k, e] : kfdb_) {
      if (std::get<0>(k) != ifindex) continue;
      std::optional<uint16_t> port;
      if (!e.local) {
        const uint16_t* p = port_of(e.port_ifindex);
        if (p == nullptr || e.port_ifindex == ifindex) continue;
        port = *p;
      }
      statics[{std::get<1>(k), std::get<2>(k)}] = port;
    }
    for (const auto& [k, port] : mb.statics)
      if (!statics.count(k) || statics.at(k) != port)
        br.del_static(mb.name, MacAddr::from_packed(k.first), k.second);
    for (const auto& [k, port] : statics)
      if (!mb.statics.count(k) || mb.statics.at(k) != port)
        report("fdb " + MacAddr::from_packed(k.first).str(),
               br.add_static(mb.name, MacAddr::from_packed(k.first), port, k.second));
    mb.statics = std::move(statics);
  }
  for (auto it = mirrored_.begin(); it != mirrored_.end();) {
    const int ifindex = (it++)->first;
    if (!seen.count(ifindex)) {
      unmirror_bridge(ifindex);
      changed = true;
    }
  }
  for (auto it = unmirrored_.begin(); it != unmirrored_.end();)
    it = seen.count(it->first) ? std::next(it) : unmirrored_.erase(it);
  // The sluice ports in bridges left to the kernel: their XDP programs must leave the kernel
  // bridge its unicast, or the router rules would take (and drop) transit IPv4 between hosts.
  std::map<uint16_t, std::vector<uint64_t>> kernel_ports;
  for (const auto& [bridge, reason] : unmirrored_) {
    std::vector<uint64_t> macs;
    std::vector<uint16_t> ports;
    if (auto b = links_.find(bridge); b != links_.end() && b->second.link.mac)
      macs.push_back(b->second.link.mac->packed());
    for (const auto& [mi, ms] : links_) {
      if (ms.link.master != bridge || mi == bridge) continue;
      if (ms.link.mac) macs.push_back(ms.link.mac->packed());
      if (const uint16_t* p = port_of(mi)) ports.push_back(*p);
    }
    for (uint16_t p : ports) kernel_ports[p] = macs;
  }
  dp_.set_kernel_bridge_ports(std::move(kernel_ports));
  if (changed) dp_.sync_xdp_bridges();
}

std::vector<KernelMirror::KernelBridgeView> KernelMirror::kernel_bridges() const {
  std::vector<KernelBridgeView> out;
  for (const auto& [ifindex, mb] : mirrored_) out.push_back({mb.name, ifindex, true, {}});
  for (const auto& [ifindex, reason] : unmirrored_) {
    auto l = links_.find(ifindex);
    out.push_back(
        {l == links_.end() ? std::string() : l->second.link.name, ifindex, false, reason});
  }
  return out;
}

}  // namespace sluice
