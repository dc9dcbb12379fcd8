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
#include <map>
#include <optional>
#include <string>
#include <tuple>
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
  bool kernel_twin = false;  // an AF_XDP port: the host stack owns what the fast path does not
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
};

class ForwardingState {
 public:
  struct Config {
    uint32_t max_next_hops = 1u << 16;
    lpm::GracePeriod* grace = nullptr;
  };
  explicit ForwardingState(const Config& cfg);

  // ---- reader side (workers) ----
  const lpm::RouteTable& routes() const { return routes_; }
  NextHopWord next_hop(uint32_t id) const { return next_hops_.get(id); }
  const PortState& port(uint16_t index) const { return ports_[index]; }
  uint16_t port_count() const { return port_count_; }

  // ---- writer side (the control thread) ----
  // Ports are added before the workers start and never removed (a port can go down).
  uint16_t add_port(const std::string& name, uint16_t dpdk_port, MacAddr mac, uint16_t mtu,
                    bool kernel_twin);
  std::optional<uint16_t> port_by_name(const std::string& name) const;
  PortState& mutable_port(uint16_t index) { return ports_[index]; }

  // An address on a port, as `ip addr add A/LEN dev PORT`: A becomes local, A/LEN a connected
  // route, and the subnet's network and broadcast addresses (for LEN < 31) are never forwarded.
  // Errors are returned as a message naming what was wrong; empty means done.
  std::string add_address(uint16_t port, Ipv4Addr addr, unsigned len);
  std::string del_address(uint16_t port, Ipv4Addr addr, unsigned len);
  std::vector<InterfaceAddress> addresses() const;
  bool is_local(Ipv4Addr a) const { return locals_.count(a.host()) != 0; }

  // A route, as `ip route replace PREFIX [via GW] [dev PORT]` (or blackhole/unreachable/...).
  std::string replace_route(Prefix p, const RouteTarget& t);
  std::string del_route(Prefix p);

  // Neighbours (from ARP, or from the kernel's table in mirror mode). A resolved neighbour on a
  // connected subnet also gets a /32 host route, so packets to it need no further lookup.
  void neighbour_resolved(uint16_t port, Ipv4Addr ip, MacAddr mac);
  void neighbour_lost(uint16_t port, Ipv4Addr ip);
  // The neighbour a packet that hit next hop `id` waits for: its gateway, or (on-link) `dst`.
  std::optional<std::pair<uint16_t, Ipv4Addr>> neighbour_for(uint32_t id, Ipv4Addr dst) const;
  // Whether `ip` is inside one of the port's connected subnets (ARP only answers/learns there).
  bool on_link(uint16_t port, Ipv4Addr ip) const;

  struct Counters {
    uint64_t next_hops = 0, neighbour_routes = 0;
  };
  Counters counters() const;

 private:
  struct NextHopInfo {
    NextHopKind kind;
    uint16_t port;
    Ipv4Addr gateway;
    uint32_t refs = 0;
  };
  using NextHopKey = std::tuple<uint8_t, uint16_t, uint32_t>;
  struct Owned {  // what installed a route: its next hop, and whether it is automatic
    uint32_t nh;
    enum class By : uint8_t { kUser, kConnected, kLocal, kNeighbour } by;
  };

  uint32_t acquire_next_hop(NextHopKind kind, uint16_t port, Ipv4Addr gw);
  void release_next_hop(uint32_t id);
  std::string install(Prefix p, uint32_t nh, Owned::By by);
  void uninstall(Prefix p);
  std::optional<uint16_t> port_for_gateway(Ipv4Addr gw) const;

  lpm::RouteTable routes_;
  NextHopTable next_hops_;
  std::array<PortState, kMaxPorts> ports_;
  uint16_t port_count_ = 0;

  std::vector<NextHopInfo> nh_info_;  // indexed by id
  std::vector<uint32_t> nh_free_;
  std::map<NextHopKey, uint32_t> nh_by_key_;
  std::map<Prefix, Owned> owned_;                           // every installed route and its owner
  std::map<uint32_t, std::pair<uint16_t, Prefix>> locals_;  // address -> (port, A/LEN)
  std::map<std::pair<uint16_t, uint32_t>, MacAddr> neighbours_;
};

}  // namespace sluice
