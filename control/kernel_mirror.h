// kernel_mirror.h — the kernel as sluice's source of truth. The links, IPv4 addresses, routes
// (of the tables chosen), nexthop objects, neighbours and forwarding sysctls of the netns
// sluiced runs in are dumped at start, then followed through rtnetlink events, and written
// into the fast path's ForwardingState. Only the AF_XDP ports' interfaces are mirrored.
//
// It keeps the kernel's own view (every route of a prefix, with its metric) and installs, per
// prefix, what the kernel would use: the lowest metric wins. A lost event (ENOBUFS) or a link
// going down (the kernel flushes routes then without telling anyone) triggers a resync: a new
// dump marks what exists, what was not seen is swept, and only the differences touch the fast
// path, which forwards throughout. Runs on the control thread; the only writer.
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "control/netlink_messages.h"
#include "control/netlink_socket.h"
#include "dataplane/dataplane.h"
#include "dataplane/log.h"

namespace sluice {

struct MirrorConfig {
  std::vector<uint32_t> tables{254};  // RT_TABLE_MAIN; earlier tables win metric ties
  int rcvbuf = 64 << 20;              // event socket receive buffer, bytes
  size_t budget = 1024;               // datagrams per service() call
};

class KernelMirror {
 public:
  KernelMirror(Dataplane& dp, const MirrorConfig& cfg);
  ~KernelMirror();

  // Subscribes, dumps everything and applies it. Throws if the kernel cannot be read.
  void start(double now);
  int fd() const;
  // Events queued since the last call (bounded work), and a pending resync. Returns the number
  // of events applied.
  size_t service(double now);
  void request_resync() { resync_pending_ = true; }

  struct Counters {
    uint64_t events = 0, routes_changed = 0, resyncs = 0, overruns = 0, apply_errors = 0;
    uint64_t dump_retries = 0, neighbour_requests = 0, request_errors = 0;
    uint64_t route_checks = 0, last_check_differences = 0;
  };
  const Counters& counters() const { return counters_; }

  // `sluice route check`: a fresh dump of the kernel's routes and addresses on a socket of its
  // own, compared with what the fast path holds (and the FIB with its RIB).
  struct CheckResult {
    size_t kernel_routes = 0;  // routes the kernel uses that sluice should have
    size_t sluice_routes = 0;  // routes the fast path holds from the kernel
    size_t not_mirrored = 0;   // kernel routes sluice cannot use (other interfaces, tos, ...)
    std::vector<std::string> differences;
  };
  CheckResult check();

  // What the mirror knows, for `sluice link`.
  struct LinkView {
    uint16_t port;
    int ifindex;  // 0 while the port's interface is gone
    std::string name;
    bool admin_up, carrier, forwarding;
    uint32_t mtu;
    std::string detached;  // why the port has no interface, and what happens next; "" if it has
  };
  std::vector<LinkView> links() const;
  // Routes the kernel has and sluice does not install, with the reason (for `sluice route`).
  size_t not_mirrored() const { return not_mirrored_; }
  // The metric of the kernel route sluice installed for p (for `sluice route show`).
  std::optional<uint32_t> metric(Prefix p) const;
  // The kernel's NUD state name of a mirrored neighbour ("STALE", ...); empty if unknown.
  std::string kernel_neighbour_state(uint16_t port, Ipv4Addr ip) const;
  // Linux bridges the mirror knows of, for `sluice bridge show`: mirrored ones are sluice
  // bridges (Bridges::Config::kernel), the others say why not.
  struct KernelBridgeView {
    std::string name;
    int ifindex;
    bool mirrored;
    std::string reason;  // when not mirrored
  };
  std::vector<KernelBridgeView> kernel_bridges() const;
  // Prefixes `sluice route add` / the config set: the mirror leaves them alone.
  void set_static(Prefix p, bool on);
  bool is_static(Prefix p) const { return static_.count(p) != 0; }

 private:
  struct KRoute {
    uint32_t table, priority, nh_id;
    uint8_t tos, type;
    uint32_t flags;
    uint64_t gen;
    std::vector<netlink::Path> paths;
  };
  struct PrefixState {
    boost::container::small_vector<KRoute, 1> routes;
    boost::container::small_vector<RouteTarget, 1> installed;  // empty: nothing installed
    bool ignored = false;  // the kernel's best route is not one sluice can use
  };
  struct NexthopState {
    netlink::Nexthop nh;
    uint64_t gen;
  };
  struct AddrKey {
    int ifindex;
    uint32_t addr;
    unsigned len;
    friend auto operator<=>(const AddrKey&, const AddrKey&) = default;
  };
  struct LinkState {
    netlink::Link link;
    uint64_t gen = 0;
  };

  static uint64_t key(Prefix p) { return uint64_t{p.addr().host()} << 8 | p.len(); }
  static Prefix prefix_of(uint64_t k) {
    return *Prefix::make(Ipv4Addr::from_host(static_cast<uint32_t>(k >> 8)), k & 0xff);
  }

  void full_sync(double now);
  void apply(const nlmsghdr* h, double now);
  void apply_link(const netlink::Link& l);
  void apply_address(const netlink::Address& a);
  void apply_route(const netlink::Route& r);
  void apply_neighbour(const netlink::Neighbour& n, double now);
  void apply_nexthop(const netlink::Nexthop& n);
  void apply_netconf(const netlink::Netconf& c);
  using NexthopMap = std::unordered_map<uint32_t, NexthopState>;
  void reconcile(uint64_t k, PrefixState& ps);
  void reconcile_nexthop_users();
  void sweep(double now);
  bool wanted_table(uint32_t table) const;
  int table_rank(uint32_t table) const;
  // The best usable route of a prefix as fast-path targets. Empty with *ignored set when the
  // kernel's choice is something sluice cannot do.
  boost::container::small_vector<RouteTarget, 1> targets_of(const PrefixState& ps,
                                                            const NexthopMap& nhs,
                                                            bool* ignored) const;
  bool resolve_nexthop(const NexthopMap& nhs, uint32_t id,
                       boost::container::small_vector<RouteTarget, 1>& out, uint8_t weight,
                       unsigned depth) const;
  const uint16_t* port_of(int ifindex) const;
  // A port's interface is gone (deleted, or missing from a resync's dump): what the mirror
  // held through it is dropped, the dataplane closes the port's device, and the port waits
  // for an interface of the same name (reattach_due_), which service() opens.
  void lose_port(uint16_t port, int ifindex);
  void reattach_ports();
  // A lost port's new interface cannot be opened: every other port is closed too
  // (released_), handing all traffic to the kernel, until it can.
  void release_all(const std::string& why_port);
  std::map<uint16_t, std::string> detached_;  // port -> LinkView::detached
  std::set<uint16_t> reattach_due_;
  std::set<uint16_t> released_;
  void ask_kernel_to_resolve(uint16_t port, Ipv4Addr ip);
  void update_port(uint16_t port);

  // Linux bridges (kernel_mirror_bridges.cpp). A bridge whose members are all sluice AF_XDP
  // ports becomes a sluice bridge; its device maps to the bridge's routed-interface port.
  void apply_bridge_link(const netlink::BridgeLink& b);
  void apply_vlan(const netlink::Vlan& v);
  void apply_bridge_fdb(const netlink::BridgeFdb& f);
  void reconcile_bridges();
  std::string bridge_unmirrorable(int ifindex, const std::vector<int>& members) const;
  void mirror_bridge(int ifindex);
  void unmirror_bridge(int ifindex);
  void map_port(int ifindex, uint16_t port);
  struct KFdb {
    int port_ifindex;
    bool local;
    uint64_t gen;
  };
  using FdbKey = std::tuple<int, uint64_t, uint16_t>;  // (bridge ifindex, MAC, VID)
  struct MirroredBridge {
    std::string name;
    uint16_t bvi;
    Bridges::Config config;
    std::vector<Bridges::Member> members;
    std::map<std::pair<uint64_t, uint16_t>, std::optional<uint16_t>> statics;  // installed
  };
  std::map<int, std::vector<netlink::BridgeVlan>> vlans_;  // by ifindex (ports and bridges)
  // A member's port settings, the latest of the link's slave data and the AF_BRIDGE link
  // messages (STP state changes come only as the latter).
  std::map<int, netlink::BridgePortInfo> brport_;
  std::map<FdbKey, KFdb> kfdb_;             // static and local entries
  std::map<int, MirroredBridge> mirrored_;  // by bridge ifindex
  std::map<int, std::string> unmirrored_;   // bridge ifindex -> reason
  bool bridges_dirty_ = false;
  // A bridge device became a port or stopped being one: what was dumped about it before (its
  // routes, neighbours, forwarding) is read again.
  bool bridge_ports_changed_ = false;

  Dataplane& dp_;
  ForwardingState& fs_;
  MirrorConfig cfg_;
  std::unique_ptr<netlink::Socket> events_;
  std::unique_ptr<netlink::Socket> requests_;
  std::unordered_map<int, uint16_t> port_of_ifindex_;
  std::vector<int> ifindex_of_port_;  // by port index; 0 for ports without a kernel twin

  uint64_t gen_ = 0;
  bool syncing_ = false;
  bool resync_pending_ = false;
  std::map<int, LinkState> links_;
  std::map<AddrKey, uint64_t> addresses_;
  NexthopMap nexthops_;
  std::unordered_map<uint64_t, PrefixState> routes_;
  std::set<uint64_t> nh_prefixes_;  // prefixes with a route through a nexthop object
  struct NeighState {
    uint64_t gen;
    uint16_t nud;
  };
  std::map<std::pair<int, uint32_t>, NeighState> neighbours_;  // by (ifindex, ip)
  std::map<int, bool> forwarding_;                             // netconf, by ifindex
  std::set<Prefix> static_;
  size_t not_mirrored_ = 0;
  Counters counters_;

  // The log. Errors applying the kernel's state, and (debug) each change, are bounded (a full
  // table gives one per route); what events changed is summed up at most every 10 s; a port's
  // link, MTU and forwarding get a line when they change (reported_: the last one written).
  log::RateLimit apply_error_log_{20, 10.0};
  log::RateLimit change_log_{100, 10.0};
  double summary_at_ = 0;
  Counters summarised_;
  std::map<uint16_t, std::tuple<bool, uint16_t, bool>> reported_;
  void report_apply_error(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void debug_change(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void log_summary(double now);
};

}  // namespace sluice
