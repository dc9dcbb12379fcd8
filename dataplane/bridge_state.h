// bridge_state.h — the bridges: their configuration (the control thread's), the immutable
// topology the workers read (published RCU-style: a pointer swap, the old one freed after a
// grace period), the FDB, and the routed interface (BVI) each bridge has as a sluice port.
//
// A FID names one learning and flooding domain: bridge << 12 | VID for a VLAN-aware bridge,
// bridge << 12 for one that is not. It is the high 16 bits of every FDB key, so two bridges, or
// two VLANs of one bridge, never share an entry: isolation by construction.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/bridge_fdb.h"
#include "dataplane/forwarding_state.h"
#include "dataplane/mac_addr.h"

namespace sluice {

inline constexpr uint8_t kNoBridge = 0xff;
inline constexpr unsigned kMaxBridges = 16;  // the FID's high 4 bits
inline constexpr uint16_t kNoPort = 0xffff;

inline uint16_t fid_of(uint8_t bridge, uint16_t vid) {
  return static_cast<uint16_t>(bridge << 12 | (vid & 0xfff));
}
inline uint8_t bridge_of_fid(uint16_t fid) {
  return static_cast<uint8_t>(fid >> 12);
}

// A member's VLANs on a VLAN-aware bridge: one byte per VID.
inline constexpr uint8_t kVlanMember = 1;
inline constexpr uint8_t kVlanUntagged = 2;  // egress untagged (an access port's VLAN)
struct VlanTable {
  std::array<uint8_t, 4096> vid{};
};

// BridgePort::flags
inline constexpr uint8_t kBrLearning = 1;
inline constexpr uint8_t kBrFloodUnicast = 2;    // unknown unicast is flooded to this port
inline constexpr uint8_t kBrFloodBroadcast = 4;  // ... broadcast
inline constexpr uint8_t kBrFloodMulticast = 8;  // ... multicast
inline constexpr uint8_t kBrForwarding = 16;     // STP state forwarding (the kernel's), admin up

// What the workers read. Immutable once published.
struct BridgeTopology {
  struct Port {
    uint8_t bridge = kNoBridge;
    uint8_t flags = 0;
    uint16_t pvid = 0;                 // VLAN-aware: the VID of untagged frames (0: dropped)
    const VlanTable* vlans = nullptr;  // VLAN-aware bridges only
  };
  struct Bridge {
    bool present = false;
    bool vlan_filtering = false;
    bool learning = false;   // ageing 0: nothing is learned, everything floods
    uint16_t bvi = kNoPort;  // its routed interface's port index
    uint16_t bvi_pvid = 1;   // VLAN-aware: the VLAN the routed interface is on
    uint64_t mac = 0;        // packed: frames to it are the routed interface's
    uint8_t n_members = 0;
    std::array<uint8_t, kMaxPorts> members{};
  };
  std::array<Port, kMaxPorts> ports{};
  std::array<Bridge, kMaxBridges> bridges{};
  std::vector<std::unique_ptr<VlanTable>> owned;

  // The FID of a frame on `vid` in bridge b (vid ignored unless VLAN-aware).
  uint16_t fid(uint8_t b, uint16_t vid) const {
    return bridges[b].vlan_filtering ? fid_of(b, vid) : fid_of(b, 0);
  }
};

class Bridges {
 public:
  struct Config {
    std::string name;
    MacAddr mac;            // zero: the first member's MAC
    uint32_t ageing = 300;  // seconds; 0: no learning
    bool vlan_filtering = false;
    uint16_t default_pvid = 1;
    uint16_t bvi_pvid = 1;
    bool kernel = false;  // mirrored from a Linux bridge (the kernel owns its configuration)
    int ifindex = 0;      // kernel: the bridge device
  };
  struct Member {
    uint16_t port = 0;
    bool learning = true, flood_unicast = true, flood_broadcast = true, flood_multicast = true;
    bool forwarding = true;
    uint16_t pvid = 1;               // VLAN-aware only; 0: untagged frames dropped
    std::map<uint16_t, bool> vlans;  // VLAN-aware only: VID -> egress untagged; empty: {pvid}
  };
  struct Counters {
    uint64_t learned = 0, moves = 0, full = 0, aged = 0, notes = 0, static_kept = 0;
  };

  Bridges(ForwardingState& fs, uint32_t fdb_capacity, lpm::GracePeriod* grace);
  ~Bridges();
  Bridges(const Bridges&) = delete;
  Bridges& operator=(const Bridges&) = delete;

  // ---- readers (workers) ----
  const std::atomic<const BridgeTopology*>& topology() const { return published_; }
  const Fdb& fdb() const { return fdb_; }
  const std::atomic<uint32_t>& clock() const { return clock_; }

  // ---- the writer (control thread) ----
  // A new bridge and its routed interface, a port named after it (returned in *bvi). Errors
  // are a message naming what is wrong; empty means done.
  std::string add(const Config& c, const std::vector<Member>& members, uint16_t* bvi = nullptr);
  std::string del(const std::string& name);
  std::string set_members(const std::string& name, const std::vector<Member>& members);
  std::string set_ageing(const std::string& name, uint32_t seconds);
  std::string set_vlan_filtering(const std::string& name, bool on, uint16_t bvi_pvid);
  std::string set_mac(const std::string& name, MacAddr mac);
  // A static entry on a member port (`port` set) or a local one (the BVI's, `port` empty).
  std::string add_static(const std::string& name, MacAddr mac, std::optional<uint16_t> port,
                         uint16_t vid = 0);
  std::string del_static(const std::string& name, MacAddr mac, uint16_t vid = 0);

  // The control thread's work: the clock (seconds; each service call), learning notes, and
  // about ten times a second a slice of aging and freeing after grace periods.
  void set_clock(double now);
  void on_note(const LearnNote& n);
  void tick();

  // ---- views (control thread) ----
  struct View {
    uint8_t id;
    Config config;
    uint16_t bvi;
    std::vector<Member> members;
    size_t fdb_entries = 0;
  };
  std::vector<View> list() const;  // counts each bridge's FDB entries: a walk of the table
  // Bumped by every change of the topology (members, MACs, settings): what depends on it
  // (the XDP programs' bridge flags) is redone only when this moves.
  uint64_t generation() const { return generation_; }
  std::optional<uint8_t> find(const std::string& name) const;
  std::optional<uint8_t> bridge_of_port(uint16_t port) const;
  struct FdbView {
    std::string bridge;
    MacAddr mac;
    uint16_t vid;   // 0 on a bridge without VLAN filtering
    uint16_t port;  // the BVI's for local entries
    bool is_static, local;
    uint32_t age;  // seconds since last seen (learned entries)
  };
  std::vector<FdbView> fdb_entries(const std::string& bridge = {}) const;
  Counters counters() const { return counters_; }
  uint32_t fdb_size() const { return fdb_.size(); }
  uint32_t fdb_capacity() const { return fdb_.capacity(); }
  size_t fdb_bytes() const { return fdb_.bytes(); }

 private:
  struct State {
    bool present = false;
    Config config;
    uint16_t bvi = kNoPort;
    std::vector<Member> members;
  };
  std::string check_members(uint8_t id, const std::vector<Member>& members) const;
  void publish();
  void flush_fid_range(uint8_t bridge, std::optional<uint16_t> port);

  ForwardingState& fs_;
  Fdb fdb_;
  lpm::GracePeriod* grace_;
  std::array<State, kMaxBridges> bridges_;
  std::vector<uint16_t> free_bvis_;  // routed interfaces of deleted bridges, for reuse
  std::atomic<const BridgeTopology*> published_{nullptr};
  std::deque<std::pair<uint64_t, std::unique_ptr<const BridgeTopology>>> retired_;
  std::atomic<uint32_t> clock_{0};
  Counters counters_;
  uint64_t generation_ = 0;
};

}  // namespace sluice
