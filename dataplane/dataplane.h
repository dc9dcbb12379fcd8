// dataplane.h — the assembled fast path: the mbuf pool, the ports, one rte_graph per worker,
// the RCU domain (rte_rcu_qsbr) between the control thread and the workers, the rings between
// them, and the control thread's periodic work (ARP). EAL must be initialised first.
#pragma once

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dataplane/bridge_state.h"
#include "dataplane/forwarding_state.h"
#include "dataplane/neighbours.h"
#include "dataplane/ports.h"
#include "dataplane/worker_context.h"
#include "nat/nat_engine.h"
#include "xdp/xdp_loader.h"

namespace sluice {

struct DataplaneConfig {
  std::vector<PortSpec> ports;
  unsigned workers = 1;
  bool launch_workers = true;  // false: the caller drives the graphs with poll() (tests)
  unsigned mbufs = 0;          // 0: sized from ports, queues and descriptors
  uint16_t rx_desc = 1024, tx_desc = 1024;
  double tx_coalesce_us = 0;  // 0: send every run at once (worker_context.h, TxHold)
  uint32_t max_next_hops = 1u << 16;
  uint32_t max_next_hop_groups = 4096;  // multipath routes with distinct next-hop sets
  uint64_t multipath_seed = 0;          // flow hash seed; 0: a random one per start
  NeighbourResolver::Config neighbours;
  uint64_t icmp_errors_per_second = 1000, icmp_error_burst = 50;
  std::string xdp_object;     // the AF_XDP ports' program; empty: xdp::object_path()
  nat::EngineConfig nat;      // sessions per worker, port range, timeouts (workers set here)
  uint32_t fdb_size = 65535;  // FDB entries, all bridges together (bridge_fdb.h)
};

// NAT figures summed over the workers (`sluice stats`, `sluice nat show`).
struct NatTotals {
  uint64_t sessions = 0, capacity = 0, bytes = 0;
  uint64_t translated = 0, created = 0, expired = 0, table_full = 0, ports_exhausted = 0,
           filtered = 0, icmp_errors = 0, hairpin = 0, fragments = 0, fragments_untracked = 0,
           flushed = 0, handoffs = 0, handoff_full = 0;
};

struct NodeCounters {
  std::string name;
  uint64_t objs = 0, calls = 0, cycles = 0;
};

struct PortCounters {
  std::string name;
  uint64_t rx_packets = 0, rx_bytes = 0, rx_missed = 0, rx_errors = 0, rx_nombuf = 0;
  uint64_t tx_packets = 0, tx_bytes = 0, tx_errors = 0;
};

class Dataplane {
 public:
  explicit Dataplane(const DataplaneConfig& cfg);
  ~Dataplane();
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  ForwardingState& state() { return *fs_; }
  NeighbourResolver& neighbours() { return *resolver_; }
  Bridges& bridges() { return *bridges_; }
  rte_mempool* pool() { return pool_; }
  const std::vector<OpenedPort>& ports() const { return ports_; }
  unsigned workers() const { return static_cast<unsigned>(workers_.size()); }

  // An AF_XDP port whose kernel interface was deleted: the workers stop polling and sending
  // on it (PortState::attached), then, after a grace period, its DPDK device is closed (its
  // AF_XDP sockets and XDP program went with the interface). Its frames in flight are counted
  // as drop-port-tx-link-down. Nothing happens for a port already detached.
  void detach_port(uint16_t port);
  // Opens a detached port again on the interface that now has its name (a new ifindex), with
  // the queue count it had, gives the new XDP program the addresses, bridge flags and NAT
  // claims of the old one, and lets the workers use it again. Returns an error message (the
  // port stays detached), empty on success or when the port was attached anyway.
  std::string reattach_port(uint16_t port);
  bool attached(uint16_t port) const;
  // Hands an AF_XDP port's traffic to the kernel without closing it: sluice's XDP program is
  // taken off the interface and kept (xdp::set_aside), the AF_XDP sockets stay open. Throws
  // if the program cannot be detached. take_back_port puts it back (and the maps' contents).
  void release_port(uint16_t port);
  void take_back_port(uint16_t port);
  bool released(uint16_t port) const { return set_aside_.count(port) != 0; }

  void start();  // launches each worker on its own lcore
  void stop();
  // One graph walk of worker `w` on the calling thread (launch_workers = false).
  void poll(unsigned w = 0);
  // The control thread's periodic work: ARP notes and punted packets, ARP timers, the XDP
  // programs' view of the local addresses. `now` in seconds (tests inject their own clock).
  void service(double now);
  static double monotonic_seconds();

  // Counters, summed over workers: relaxed reads of what the workers count, safe from any
  // thread (sluiced reads them on its control thread: control/metrics.h).
  std::vector<NodeCounters> node_counters() const;
  std::vector<PortCounters> port_counters() const;
  uint64_t forwarded() const;
  uint64_t worker_sum(std::atomic<uint64_t> WorkerCounters::*c) const;
  NeighbourResolver::Counters neighbour_counters() const;
  std::string summary() const;  // human-readable counters, as printed at exit

  // Publishes the addresses the host owns to the AF_XDP ports' XDP programs.
  void sync_xdp_local_addresses();
  // The AF_XDP ports' program flags: ARP to the kernel (mirror mode), and for bridge members
  // BRIDGED (+ BRIDGE_KERNEL for a mirrored Linux bridge) with the bridge's local MACs. Done
  // at every service tick; callers that just changed a bridge call it at once, so that the
  // XDP split follows the fast path's topology within one control-loop turn.
  void set_xdp_arp_to_kernel(bool on);
  void sync_xdp_bridges();
  // Ports that are members of a Linux bridge sluice does not mirror, each with that bridge's
  // local MACs: their XDP programs leave unicast to any other MAC to the kernel's bridge.
  void set_kernel_bridge_ports(std::map<uint16_t, std::vector<uint64_t>> local_macs_by_port);

  // NAT (nat/). The control thread publishes rules; every worker's engine matches them from
  // its next burst, and the old rules are freed after a grace period. The router's addresses
  // (Rules::router_addresses) are filled in here from the forwarding state, and kept current.
  void set_nat_rules(nat::Rules rules);
  nat::Rules nat_rules() const;  // as published
  // Every worker's sessions: each worker copies its own between two graph walks (the
  // tables are theirs alone); with launch_workers = false, copied here.
  // `missing` (if given): how many workers did not answer within 3 s (the list lacks theirs).
  std::vector<nat::SessionView> nat_sessions(unsigned* missing = nullptr);
  NatTotals nat_totals() const;

 private:
  struct Grace;
  void take_snapshot(double now);

  DataplaneConfig cfg_;
  rte_mempool* pool_ = nullptr;
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::unique_ptr<Grace> grace_;
  std::unique_ptr<ForwardingState> fs_;
  std::unique_ptr<Bridges> bridges_;
  rte_ring* bridge_notes_ = nullptr;  // LearnNote elements, workers -> control
  std::vector<OpenedPort> ports_;
  // Held while a port's device is closed or opened, and by port_counters(), which the
  // telemetry thread calls too. retired_: what closed devices had counted, per port, so that a
  // re-opened port's counters go on from where they were.
  mutable std::mutex ports_mu_;
  std::vector<PortCounters> retired_;
  std::vector<std::unique_ptr<WorkerContext>> workers_;
  std::vector<std::string> graph_names_;
  std::vector<unsigned> lcores_;
  rte_ring* punt_ = nullptr;
  rte_ring* notes_ = nullptr;
  std::vector<rte_ring*> handoffs_;  // TX hand-off rings (ports with fewer queues than workers)
  std::unique_ptr<NeighbourResolver> resolver_;
  std::atomic<bool> running_{false};
  double last_tick_ = 0;
  std::vector<uint32_t> xdp_locals_;             // what the XDP maps hold now
  bool xdp_locals_stale_ = false;                // a port's program is new: write them all again
  std::map<uint16_t, xdp::SetAside> set_aside_;  // released ports' programs
  bool xdp_arp_to_kernel_ = false;
  struct XdpBridgeApplied {
    uint32_t flags = 0;
    std::vector<uint64_t> macs;
    bool done = false;
  };
  std::vector<XdpBridgeApplied> xdp_bridge_applied_;  // per opened port
  std::map<uint16_t, std::vector<uint64_t>> kernel_bridge_ports_;
  uint64_t xdp_bridge_gen_ = ~uint64_t{0};  // Bridges::generation() last applied; ~0: redo
  bool xdp_nat_ = false;                    // ... and whether they are NAT addresses

  // NAT: the rules the workers read (published RCU-style), the control thread's copy.
  std::atomic<const nat::Rules*> nat_published_{nullptr};
  std::unique_ptr<nat::Rules> nat_rules_;
  std::vector<uint32_t> nat_router_addresses() const;
  std::vector<xdp::NatPortsMap> nat_maps_;  // AF_XDP ports' claim bitmaps (workers write)
  std::vector<int> nat_map_of_port_;        // index into nat_maps_ by port, -1 for none
  std::array<std::atomic<uint32_t>, kMaxPorts> nat_port_gen_{};  // bumped: address changed
  std::vector<std::vector<uint32_t>> nat_port_addrs_;            // what the bump compares
  void nat_follow_addresses();
  void nat_claim_forward_ports(const nat::Rules* old_rules, const nat::Rules& now);
  void publish_nat_rules(std::unique_ptr<nat::Rules> r);

  mutable std::mutex snapshot_mu_;  // the control thread publishes, telemetry reads
  NeighbourResolver::Counters snapshot_neigh_;
};

}  // namespace sluice
