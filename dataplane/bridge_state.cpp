// bridge_state.cpp — the bridges' control side: configuration, the topology the workers read,
// learning from the workers' notes, aging.
#include "dataplane/bridge_state.h"

#include <algorithm>
#include <set>

namespace sluice {
namespace {

// Aging visits a slice of the FDB per service tick, so that every slot is seen about once a
// second: an entry then lives between `ageing` and `ageing` + 1 seconds after its last frame.
constexpr unsigned kTicksPerSweep = 10;

bool valid_vid(uint16_t v) {
  return v >= 1 && v <= 4094;
}

}  // namespace

Bridges::Bridges(ForwardingState& fs, uint32_t fdb_capacity, lpm::GracePeriod* grace)
    : fs_(fs), fdb_(fdb_capacity, grace), grace_(grace) {
  publish();
}

Bridges::~Bridges() {
  delete published_.load();
  retired_.clear();
}

std::optional<uint8_t> Bridges::find(const std::string& name) const {
  for (uint8_t i = 0; i < kMaxBridges; ++i)
    if (bridges_[i].present && bridges_[i].config.name == name) return i;
  return std::nullopt;
}

std::optional<uint8_t> Bridges::bridge_of_port(uint16_t port) const {
  for (uint8_t i = 0; i < kMaxBridges; ++i)
    if (bridges_[i].present)
      for (const Member& m : bridges_[i].members)
        if (m.port == port) return i;
  return std::nullopt;
}

std::string Bridges::check_members(uint8_t id, const std::vector<Member>& members) const {
  std::set<uint16_t> seen;
  for (const Member& m : members) {
    if (m.port >= fs_.port_count()) return "no such port (index " + std::to_string(m.port) + ")";
    const std::string& pn = fs_.port(m.port).name;
    if (fs_.port(m.port).bvi_of != kNoBridge) return pn + " is a bridge's routed interface";
    if (!seen.insert(m.port).second) return pn + " is listed twice";
    const std::optional<uint8_t> other = bridge_of_port(m.port);
    if (other && *other != id) return pn + " is already in bridge " + bridges_[*other].config.name;
    if (m.pvid != 0 && !valid_vid(m.pvid)) return pn + ": PVID " + std::to_string(m.pvid);
    for (const auto& [vid, untagged] : m.vlans)
      if (!valid_vid(vid)) return pn + ": VLAN " + std::to_string(vid) + " (1-4094)";
  }
  return {};
}

std::string Bridges::add(const Config& c, const std::vector<Member>& members, uint16_t* bvi) {
  if (c.name.empty() || c.name.size() > 15) return "a bridge name has 1 to 15 characters";
  if (find(c.name)) return "bridge " + c.name + " exists";
  if (fs_.port_by_name(c.name)) return c.name + " is already a port's name";
  if (!valid_vid(c.default_pvid) || !valid_vid(c.bvi_pvid)) return "PVID must be 1-4094";
  uint8_t id = kNoBridge;
  for (uint8_t i = 0; i < kMaxBridges; ++i)
    if (!bridges_[i].present) {
      id = i;
      break;
    }
  if (id == kNoBridge) return "too many bridges (at most " + std::to_string(kMaxBridges) + ")";
  if (std::string err = check_members(id, members); !err.empty()) return err;
  MacAddr mac = c.mac;
  if (mac.is_zero() && !members.empty()) mac = fs_.port(members.front().port).mac;
  if (mac.is_zero() || mac.is_multicast()) return "bridge " + c.name + " needs a unicast MAC";
  // The routed interface: a port of its own, so that addresses, routes, neighbours, ICMP
  // sources and NAT rules name it like any other port.
  uint16_t port;
  if (!free_bvis_.empty()) {
    port = free_bvis_.back();
    free_bvis_.pop_back();
    PortState& p = fs_.mutable_port(port);
    p.name = c.name;
    p.mac = mac;
  } else {
    try {
      port = fs_.add_port(c.name, 0, mac, 1500, false);
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  PortState& p = fs_.mutable_port(port);
  uint16_t mtu = 0;
  for (const Member& m : members) {
    const uint16_t pm = fs_.port(m.port).mtu.load();
    mtu = mtu == 0 ? pm : std::min(mtu, pm);
  }
  p.mtu.store(mtu == 0 ? 1500 : mtu);
  p.forwarding.store(true);
  p.up.store(true);
  p.bvi_of.store(id);
  // A mirrored bridge's device is the kernel's: it answers ARP and owns what sluice does not.
  p.kernel_twin = c.kernel;
  State& s = bridges_[id];
  s.present = true;
  s.config = c;
  s.config.mac = mac;
  s.bvi = port;
  s.members = members;
  publish();
  // The members' own MACs are the bridge's (Linux installs them as local entries): frames to
  // them reach the routed interface.
  for (const Member& m : members)
    fdb_.add_static(
        fdb_key(fs_.port(m.port).mac.packed(), fid_of(id, c.vlan_filtering ? c.bvi_pvid : 0)),
        static_cast<uint8_t>(port), kFdbLocal, clock_.load());
  if (bvi) *bvi = port;
  return {};
}

void Bridges::flush_fid_range(uint8_t bridge, std::optional<uint16_t> port) {
  fdb_.remove_if([&](uint64_t key, uint64_t word) {
    if (bridge_of_fid(fdb_key_fid(key)) != bridge) return false;
    return !port || (word & 0xff) == *port;
  });
}

std::string Bridges::del(const std::string& name) {
  const std::optional<uint8_t> id = find(name);
  if (!id) return "no bridge " + name;
  State& s = bridges_[*id];
  s.present = false;
  s.members.clear();
  publish();
  flush_fid_range(*id, std::nullopt);
  PortState& p = fs_.mutable_port(s.bvi);
  p.up.store(false);
  p.bvi_of.store(kNoBridge);
  // The routed interface keeps its slot (ports are never removed); its addresses go.
  for (const InterfaceAddress& a : fs_.addresses())
    if (a.port == s.bvi) fs_.del_address(a.port, a.addr, a.len);
  p.name = "(deleted " + name + ")";
  free_bvis_.push_back(s.bvi);
  s.bvi = kNoPort;
  return {};
}

std::string Bridges::set_members(const std::string& name, const std::vector<Member>& members) {
  const std::optional<uint8_t> id = find(name);
  if (!id) return "no bridge " + name;
  if (std::string err = check_members(*id, members); !err.empty()) return err;
  State& s = bridges_[*id];
  std::set<uint16_t> kept;
  for (const Member& m : members) kept.insert(m.port);
  std::vector<uint16_t> gone;
  for (const Member& m : s.members)
    if (!kept.count(m.port)) gone.push_back(m.port);
  std::set<uint16_t> before;
  for (const Member& m : s.members) before.insert(m.port);
  s.members = members;
  publish();
  // A port that left takes its learned entries with it; a new one brings its own MAC.
  for (uint16_t port : gone) {
    flush_fid_range(*id, port);
    const uint64_t mac = fs_.port(port).mac.packed();
    fdb_.remove_if([&](uint64_t key, uint64_t word) {
      return bridge_of_fid(fdb_key_fid(key)) == *id && (word & kFdbLocal) &&
             fdb_key_mac(key) == mac;
    });
  }
  for (const Member& m : members)
    if (!before.count(m.port))
      fdb_.add_static(fdb_key(fs_.port(m.port).mac.packed(),
                              fid_of(*id, s.config.vlan_filtering ? s.config.bvi_pvid : 0)),
                      static_cast<uint8_t>(s.bvi), kFdbLocal, clock_.load());
  return {};
}

std::string Bridges::set_ageing(const std::string& name, uint32_t seconds) {
  const std::optional<uint8_t> id = find(name);
  if (!id) return "no bridge " + name;
  if (seconds > 1000000) return "ageing at most 1000000 s";
  bridges_[*id].config.ageing = seconds;
  publish();
  if (seconds == 0)  // nothing learned stays: as Linux, which then expires entries at once
    fdb_.remove_if([&](uint64_t key, uint64_t word) {
      return bridge_of_fid(fdb_key_fid(key)) == *id && !(word & (kFdbStatic | kFdbLocal));
    });
  return {};
}

std::string Bridges::set_vlan_filtering(const std::string& name, bool on, uint16_t bvi_pvid) {
  const std::optional<uint8_t> id = find(name);
  if (!id) return "no bridge " + name;
  if (!valid_vid(bvi_pvid)) return "PVID must be 1-4094";
  State& s = bridges_[*id];
  if (s.config.vlan_filtering == on && s.config.bvi_pvid == bvi_pvid) return {};
  s.config.vlan_filtering = on;
  s.config.bvi_pvid = bvi_pvid;
  publish();
  // Every FID of the bridge changes meaning: start learning over, keep the static entries'
  // intent by re-adding the members' local ones.
  flush_fid_range(*id, std::nullopt);
  for (const Member& m : s.members)
    fdb_.add_static(fdb_key(fs_.port(m.port).mac.packed(), fid_of(*id, on ? bvi_pvid : 0)),
                    static_cast<uint8_t>(s.bvi), kFdbLocal, clock_.load());
  return {};
}

std::string Bridges::set_mac(const std::string& name, MacAddr mac) {
  const std::optional<uint8_t> id = find(name);
  if (!id) return "no bridge " + name;
  if (mac.is_zero() || mac.is_multicast()) return "a bridge needs a unicast MAC";
  State& s = bridges_[*id];
  s.config.mac = mac;
  fs_.mutable_port(s.bvi).mac = mac;
  publish();
  return {};
}

std::string Bridges::add_static(const std::string& name, MacAddr mac, std::optional<uint16_t> port,
                                uint16_t vid) {
  const std::optional<uint8_t> id = find(name);
  if (!id) return "no bridge " + name;
  const State& s = bridges_[*id];
  if (mac.is_multicast() || mac.is_zero()) return "a static entry needs a unicast MAC";
  if (port) {
    const bool member = std::any_of(s.members.begin(), s.members.end(),
                                    [&](const Member& m) { return m.port == *port; });
    if (!member) return "port is not a member of " + name;
  }
  if (s.config.vlan_filtering) {
    if (vid == 0) vid = s.config.default_pvid;
    if (!valid_vid(vid)) return "VLAN must be 1-4094";
  } else {
    vid = 0;
  }
  const uint64_t key = fdb_key(mac.packed(), fid_of(*id, vid));
  if (!fdb_.add_static(key, static_cast<uint8_t>(port ? *port : s.bvi),
                       port ? kFdbStatic : kFdbLocal, clock_.load()))
    return "the FDB is full";
  return {};
}

std::string Bridges::del_static(const std::string& name, MacAddr mac, uint16_t vid) {
  const std::optional<uint8_t> id = find(name);
  if (!id) return "no bridge " + name;
  const State& s = bridges_[*id];
  if (s.config.vlan_filtering) {
    if (vid == 0) vid = s.config.default_pvid;
  } else {
    vid = 0;
  }
  const uint64_t key = fdb_key(mac.packed(), fid_of(*id, vid));
  const int32_t pos = fdb_.lookup(key);
  if (pos < 0) return "no such entry";
  const uint64_t w = fdb_.slot(pos).word.load();
  if (!(w & (kFdbStatic | kFdbLocal))) return "the entry is learned, not static";
  fdb_.remove(key);
  return {};
}

void Bridges::on_note(const LearnNote& n) {
  ++counters_.notes;
  const uint8_t b = bridge_of_fid(fdb_key_fid(n.key));
  if (b >= kMaxBridges || !bridges_[b].present || bridges_[b].config.ageing == 0) return;
  // A note written before the port left the bridge must not put it back.
  const bool member = std::any_of(bridges_[b].members.begin(), bridges_[b].members.end(),
                                  [&](const Member& m) { return m.port == n.port; });
  if (!member) return;
  switch (fdb_.learn(n.key, n.port, clock_.load())) {
    case Fdb::Learned::kAdded: ++counters_.learned; break;
    case Fdb::Learned::kMoved: ++counters_.moves; break;
    case Fdb::Learned::kFull: ++counters_.full; break;
    case Fdb::Learned::kStaticKept: ++counters_.static_kept; break;
    case Fdb::Learned::kRefreshed: break;
  }
}

void Bridges::set_clock(double now) {
  clock_.store(now <= 0 ? 0 : static_cast<uint32_t>(now), std::memory_order_relaxed);
}

void Bridges::tick() {
  const uint32_t secs = clock_.load(std::memory_order_relaxed);
  const uint32_t budget = fdb_.capacity() / kTicksPerSweep + 1;
  counters_.aged += fdb_.age(secs, budget, [&](uint16_t fid) -> uint32_t {
    const uint8_t b = bridge_of_fid(fid);
    return b < kMaxBridges && bridges_[b].present ? bridges_[b].config.ageing : 0;
  });
  fdb_.reclaim();
  while (!retired_.empty() && grace_ != nullptr && grace_->check(retired_.front().first, false))
    retired_.pop_front();
}

void Bridges::publish() {
  ++generation_;
  auto t = std::make_unique<BridgeTopology>();
  for (uint8_t b = 0; b < kMaxBridges; ++b) {
    const State& s = bridges_[b];
    if (!s.present) continue;
    BridgeTopology::Bridge& tb = t->bridges[b];
    tb.present = true;
    tb.vlan_filtering = s.config.vlan_filtering;
    tb.learning = s.config.ageing != 0;
    tb.bvi = s.bvi;
    tb.bvi_pvid = s.config.bvi_pvid;
    tb.mac = s.config.mac.packed();
    for (const Member& m : s.members) {
      tb.members[tb.n_members++] = static_cast<uint8_t>(m.port);
      BridgeTopology::Port& tp = t->ports[m.port];
      tp.bridge = b;
      tp.flags = static_cast<uint8_t>(
          (m.learning ? kBrLearning : 0) | (m.flood_unicast ? kBrFloodUnicast : 0) |
          (m.flood_broadcast ? kBrFloodBroadcast : 0) |
          (m.flood_multicast ? kBrFloodMulticast : 0) | (m.forwarding ? kBrForwarding : 0));
      if (s.config.vlan_filtering) {
        auto v = std::make_unique<VlanTable>();
        tp.pvid = m.pvid;
        if (m.vlans.empty() && m.pvid != 0) v->vid[m.pvid] = kVlanMember | kVlanUntagged;
        for (const auto& [vid, untagged] : m.vlans)
          v->vid[vid] = static_cast<uint8_t>(kVlanMember | (untagged ? kVlanUntagged : 0));
        tp.vlans = v.get();
        t->owned.push_back(std::move(v));
      }
    }
  }
  const BridgeTopology* old = published_.exchange(t.release(), std::memory_order_acq_rel);
  if (old == nullptr) return;
  if (grace_ == nullptr) {
    delete old;
    return;
  }
  retired_.emplace_back(grace_->start(), std::unique_ptr<const BridgeTopology>(old));
}

std::vector<Bridges::View> Bridges::list() const {
  std::vector<View> out;
  std::array<size_t, kMaxBridges> entries{};
  fdb_.for_each([&](const Fdb::Entry& e) {
    const uint8_t b = bridge_of_fid(fdb_key_fid(e.key));
    if (b < kMaxBridges) ++entries[b];
  });
  for (uint8_t b = 0; b < kMaxBridges; ++b) {
    const State& s = bridges_[b];
    if (!s.present) continue;
    out.push_back({b, s.config, s.bvi, s.members, entries[b]});
  }
  return out;
}

std::vector<Bridges::FdbView> Bridges::fdb_entries(const std::string& bridge) const {
  std::vector<FdbView> out;
  const uint32_t now = clock_.load();
  fdb_.for_each([&](const Fdb::Entry& e) {
    const uint16_t fid = fdb_key_fid(e.key);
    const uint8_t b = bridge_of_fid(fid);
    if (b >= kMaxBridges || !bridges_[b].present) return;
    if (!bridge.empty() && bridges_[b].config.name != bridge) return;
    FdbView v;
    v.bridge = bridges_[b].config.name;
    v.mac = MacAddr::from_packed(fdb_key_mac(e.key));
    v.vid = static_cast<uint16_t>(fid & 0xfff);
    v.port = static_cast<uint16_t>(e.word & 0xff);
    v.is_static = (e.word & kFdbStatic) != 0;
    v.local = (e.word & kFdbLocal) != 0;
    v.age = now >= e.seen ? now - e.seen : 0;
    out.push_back(v);
  });
  std::sort(out.begin(), out.end(), [](const FdbView& a, const FdbView& b) {
    return std::tie(a.bridge, a.vid, a.port) < std::tie(b.bridge, b.vid, b.port) ||
           (std::tie(a.bridge, a.vid, a.port) == std::tie(b.bridge, b.vid, b.port) &&
            a.mac.packed() < b.mac.packed());
  });
  return out;
}

}  // namespace sluice
