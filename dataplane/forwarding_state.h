// forwarding_state.h — the tables workers read and the control thread writes: routes (lpm/),
// next hops, ports, and the router's own addresses.
//
// One writer, many readers. Workers only read, without locks: route changes are published by
// lpm/ with RCU (the GracePeriod given at construction), a next hop is one atomic word. The
// write side is the API every configuration source calls — static options and the CLI today,
// the netlink mirror next — so they cannot disagree about what an address or a route means.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dataplane/mac_addr.h"
#include "dataplane/next_hop.h"
#include "lpm/ipv4.h"
#include "lpm/route_table.h"

namespace sluice {

inline constexpr unsigned kMaxPorts = 64;  // port indexes fit the next-hop word's 8 bits

// Per port, what the fast path needs. Written by the control thread only.
struct PortState {
  std::string name;
  uint16_t dpdk_port = 0;
  MacAddr mac;
  std::atomic<uint16_t> mtu{1500};
  std::atomic<uint32_t> primary_be{0};  // source address of ICMP errors sent from this port
  std::atomic<bool> up{true};
  // The DPDK device behind the port is open. False while an AF_XDP port's interface is gone
  // (deleted, or re-created and not yet re-opened: Dataplane::detach_port/reattach_port): the
  // workers then neither poll nor transmit on it, since its ethdev is closed or being
  // replaced. Set with release after dpdk_port and mac are current; read with acquire before
  // them.
  std::atomic<bool> attached{true};
  // net.ipv4.conf.PORT.forwarding: off, packets arriving here that are not for one of the
  // router's addresses are dropped without an ICMP error, as Linux does (ip_error()).
  std::atomic<bool> forwarding{true};
  bool kernel_twin = false;  // an AF_XDP port: the host stack owns what the fast path does not
  // A bridge's routed interface (BVI): the bridge's number (bridge_state.h), else 0xff. What
  // the IPv4 path sends out of it, port-tx hands to bridge-output, which picks the member.
  std::atomic<uint8_t> bvi_of{0xff};
};

struct InterfaceAddress {
  uint16_t port;
  Ipv4Addr addr;
  unsigned len;
};

// What a route points at, as configured.
struct RouteTarget {
  NextHopKind kind = NextHopKind::kForward;
  std::optional<uint16_t> port;  // "dev PORT"; derived from the gateway when absent
  Ipv4Addr gateway;              // 0.0.0.0: on-link (the destination is the neighbour)
  uint8_t weight = 1;            // 1..255, a multipath member's share (the kernel's weight)
};

// What the CLI and `sluice route check` see of a route (writer thread only).
struct PathView {
  NextHopKind kind;
  uint16_t port;
  Ipv4Addr gateway;  // 0.0.0.0: on-link
  uint8_t weight;
  bool resolved;  // kForward: the gateway's (or on-link) MAC is known
  MacAddr mac;
};
struct RouteView {
  Prefix prefix;
  enum class Origin : uint8_t { kUser, kConnected, kLocal, kNeighbour } origin;
  std::vector<PathView> paths;  // one, or the members of a multipath route in slot order
};
struct NeighbourView {
  uint16_t port;
  Ipv4Addr ip;
  MacAddr mac;
};

// lpm/'s grace-period hook as ForwardingState hands it on: outside a batch it passes start()
// and check() through; inside one, every start() returns the same deferred token, which gets
// its real grace period (one rte_rcu_qsbr_start) when the batch ends. That is safe because a
// block retired during the batch was unpublished before the batch ended, so a grace period
// that starts at the end covers it. A reader is never waited for while the token is pending
// unless a caller insists (check with wait), which then starts the grace period early.
class BatchedGrace final : public lpm::GracePeriod {
 public:
  explicit BatchedGrace(lpm::GracePeriod* inner) : inner_(inner) {}
  uint64_t start() override;
  bool check(uint64_t token, bool wait) override;
  void begin() { batching_ = true; }
  void end();
  uint64_t inner_starts() const { return inner_starts_; }

 private:
  static constexpr uint64_t kPending = ~uint64_t{0};
  lpm::GracePeriod* inner_;
  // Our tokens are consecutive numbers; real_[t - base_] is token t's inner token. Inner
  // tokens grow, so once one has ended all before it have too, and they are dropped.
  std::deque<uint64_t> real_;
  uint64_t base_ = 1;
  bool batching_ = false;
  bool open_ = false;  // real_.back() is the current batch's pending token
  uint64_t inner_starts_ = 0;
};

class ForwardingState {
 public:
  struct Config {
    uint32_t max_next_hops = 1u << 16;
    uint32_t max_groups = 4096;  // multipath next-hop groups (64 slots, 256 bytes each)
    lpm::GracePeriod* grace = nullptr;
    uint64_t multipath_seed = 0;  // flow hash seed (Dataplane picks a random one)
  };
  explicit ForwardingState(const Config& cfg);
  ForwardingState(const ForwardingState&) = delete;
  ForwardingState& operator=(const ForwardingState&) = delete;

  // ---- reader side (workers) ----
  const lpm::RouteTable& routes() const { return routes_; }
  NextHopWord next_hop(uint32_t id) const { return next_hops_.get(id); }
  const PortState& port(uint16_t index) const { return ports_[index]; }
  uint16_t port_count() const { return port_count_; }
  uint64_t multipath_seed() const { return seed_; }
  // The member of multipath word `w` that a flow with hash `hash` takes: its id and word. A
  // member whose port is down gives way to the next live one in the group (Linux skips dead
  // next hops the same way); if none is up the first choice stands and ip4-forward drops it.
  std::pair<uint32_t, NextHopWord> multipath_member(NextHopWord w, uint32_t hash) const {
    const unsigned n = w.group_slots();
    const unsigned first = static_cast<unsigned>((uint64_t{hash} * n) >> 32);
    const uint32_t id = groups_.slot(w.group(), first);
    const NextHopWord m = next_hop(id);
    if (ports_[m.port()].up.load(std::memory_order_relaxed)) [[likely]]
      return {id, m};
    for (unsigned k = 1; k < n; ++k) {
      const uint32_t other = groups_.slot(w.group(), (first + k) % n);
      const NextHopWord o = next_hop(other);
      if (ports_[o.port()].up.load(std::memory_order_relaxed)) return {other, o};
    }
    return {id, m};
  }

  // ---- writer side (the control thread) ----
  // Ports are added before the workers start and never removed (a port can go down).
  uint16_t add_port(const std::string& name, uint16_t dpdk_port, MacAddr mac, uint16_t mtu,
                    bool kernel_twin);
  std::optional<uint16_t> port_by_name(const std::string& name) const;
  PortState& mutable_port(uint16_t index) { return ports_[index]; }

  // An address on a port, as `ip addr add A/LEN dev PORT`: A becomes local, A/LEN a connected
  // route, and the subnet's network and broadcast addresses (for LEN < 31) are never forwarded.
  // With prefix_route false (`noprefixroute`) there is no connected route: whoever configures
  // the address installs the subnet route it wants (the mirror: the kernel's) as a user route.
  // Errors are returned as a message naming what was wrong; empty means done.
  std::string add_address(uint16_t port, Ipv4Addr addr, unsigned len, bool prefix_route = true);
  std::string del_address(uint16_t port, Ipv4Addr addr, unsigned len);
  std::vector<InterfaceAddress> addresses() const;
  bool is_local(Ipv4Addr a) const {
    return locals_.count(a.host()) != 0 || host_locals_.count(a.host()) != 0;
  }
  // An address the host holds on an interface that is not a sluice port (a loopback address,
  // say): local to the fast path too. Echo requests are answered; the rest is the kernel's,
  // which the XDP program hands it. Reference-counted: several interfaces may hold it.
  std::string add_host_address(Ipv4Addr a);
  void del_host_address(Ipv4Addr a);
  std::vector<Ipv4Addr> host_addresses() const;

  // A route, as `ip route replace PREFIX [via GW] [dev PORT]` (or blackhole/unreachable/...).
  std::string replace_route(Prefix p, const RouteTarget& t);
  // As `ip route replace PREFIX nexthop via A [dev X] weight W nexthop ...`: one path is the
  // call above; two or more (all kForward, weight 1..255) make a multipath route, whose flows
  // are spread over the paths in proportion to the weights (see flow_hash.h). Routes with the
  // same paths and weights share one next-hop group.
  std::string replace_route(Prefix p, const std::vector<RouteTarget>& paths);
  std::string del_route(Prefix p);

  // Batches: between begin_batch() and end_batch() every route change still takes effect at
  // once, but they all share one RCU grace period (started by end_batch) instead of one each,
  // and what they retire is recycled after it. Nestable; Batch is the scoped form.
  void begin_batch();
  void end_batch();
  class Batch {
   public:
    explicit Batch(ForwardingState& fs) : fs_(fs) { fs_.begin_batch(); }
    ~Batch() { fs_.end_batch(); }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    ForwardingState& fs_;
  };
  // How many real grace periods (rte_rcu_qsbr_start) updates have asked for so far.
  uint64_t grace_periods_started() const { return batched_grace_.inner_starts(); }

  // Neighbours (from ARP, or from the kernel's table in mirror mode). A resolved neighbour on a
  // connected subnet also gets a /32 host route, so packets to it need no further lookup.
  void neighbour_resolved(uint16_t port, Ipv4Addr ip, MacAddr mac);
  void neighbour_lost(uint16_t port, Ipv4Addr ip);
  // The neighbour a packet that hit next hop `id` waits for: its gateway, or (on-link) `dst`.
  std::optional<std::pair<uint16_t, Ipv4Addr>> neighbour_for(uint32_t id, Ipv4Addr dst) const;
  // The port whose connected subnet holds `gw` (the longest such subnet), if any.
  std::optional<uint16_t> port_for_gateway(Ipv4Addr gw) const;
  // The source a packet sent out of `port` toward `toward` carries, as Linux picks it: the
  // port's address on the subnet holding `toward`, else the port's primary (0 when none).
  Ipv4Addr source_for(uint16_t port, Ipv4Addr toward) const;
  // Whether `ip` is inside one of the port's connected subnets (ARP only answers/learns there).
  bool on_link(uint16_t port, Ipv4Addr ip) const;

  // ---- read views (the writer's thread: the CLI, `sluice route check`) ----
  // Every installed route, in (address, length) order.
  void for_each_route(const std::function<void(const RouteView&)>& f) const;
  std::optional<RouteView> route(Prefix p) const;           // exact match
  std::optional<RouteView> lookup_route(Ipv4Addr a) const;  // longest match, as `ip route get`
  std::vector<NeighbourView> neighbours() const;            // resolved ones, by (port, address)
  // Proves the tables agree: for every route, the lock-free FIB lookup of its first and last
  // address gives the RIB's longest match, and the RIB holds the next hop this class installed.
  // Returns the number of disagreements; describes up to `limit` of them in `report`.
  size_t fib_mismatches(size_t limit, std::vector<std::string>* report) const;

  struct Counters {
    uint64_t next_hops = 0, neighbour_routes = 0, groups = 0, groups_retired = 0;
  };
  Counters counters() const;

 private:
  struct NextHopInfo {
    NextHopKind kind;
    uint16_t port;
    Ipv4Addr gateway;
    uint32_t refs = 0;
    uint32_t group = 0;  // kMultipath: its group
  };
  using NextHopKey = std::tuple<uint8_t, uint16_t, uint32_t>;
  struct Owned {  // what installed a route: its next hop, and whether it is automatic
    uint32_t nh;
    enum class By : uint8_t { kUser, kConnected, kLocal, kNeighbour } by;
  };
  // A group's members, sorted by id: the key that makes identical routes share a group.
  using Members = std::vector<std::pair<uint32_t, uint8_t>>;  // (next-hop id, weight)
  struct GroupInfo {
    Members members;
    uint32_t nh = 0;  // the kMultipath next hop naming it
    unsigned slots = 0;
  };
  struct MembersHash {
    size_t operator()(const Members& m) const;
  };
  struct PrefixHash {
    size_t operator()(Prefix p) const {
      return std::hash<uint64_t>()(uint64_t{p.addr().host()} << 8 | p.len());
    }
  };
  struct LocalAddress {
    uint16_t port;
    Prefix subnet;
    bool prefix_route;
  };

  uint32_t acquire_next_hop(NextHopKind kind, uint16_t port, Ipv4Addr gw);
  uint32_t new_next_hop_id();
  uint32_t acquire_group(Members& members);
  void release_next_hop(uint32_t id);
  void release_group(uint32_t group);
  void reclaim_groups(bool wait);
  std::string install(Prefix p, uint32_t nh, Owned::By by);
  void uninstall(Prefix p);
  std::string check_target(Prefix p, const RouteTarget& t, uint16_t* port) const;
  RouteView view(Prefix p, const Owned& o) const;
  PathView path_view(uint32_t nh, uint8_t weight) const;

  BatchedGrace batched_grace_;
  lpm::GracePeriod* grace_;  // &batched_grace_, or nullptr when there are no readers to wait for
  unsigned batch_depth_ = 0;
  lpm::RouteTable routes_;
  NextHopTable next_hops_;
  NextHopGroupTable groups_;
  std::array<PortState, kMaxPorts> ports_;
  uint16_t port_count_ = 0;
  uint64_t seed_ = 0;

  std::vector<NextHopInfo> nh_info_;  // indexed by id
  std::vector<uint32_t> nh_free_;
  std::map<NextHopKey, uint32_t> nh_by_key_;
  std::vector<GroupInfo> group_info_;                        // indexed by group
  std::vector<uint32_t> group_free_;                         // ready for reuse
  std::deque<std::pair<uint64_t, uint32_t>> group_retired_;  // (grace token, group)
  std::unordered_map<Members, uint32_t, MembersHash> group_by_members_;
  // Every installed route and its owner. Unordered: a full table is ~900k routes, and ordered
  // views come from the RIB (RouteTable::for_each) instead.
  std::unordered_map<Prefix, Owned, PrefixHash> owned_;
  uint64_t neighbour_routes_ = 0;
  std::map<uint32_t, LocalAddress> locals_;   // address -> where it is
  std::map<uint32_t, unsigned> host_locals_;  // add_host_address(): address -> holders
  std::map<std::pair<uint16_t, uint32_t>, MacAddr> neighbours_;
};

}  // namespace sluice
