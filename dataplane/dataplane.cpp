// dataplane.cpp — assembly of the fast path and the control thread's share of it.
#include "dataplane/dataplane.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "dataplane/log.h"
#include "dataplane/mbuf_pool.h"
#include "dataplane/packet_graph.h"
#include "dataplane/packet_meta.h"
#include "dataplane/tx_coalesce.h"
#include "xdp/xdp_loader.h"

namespace sluice {

// lpm/'s grace-period hook, backed by the workers' QSBR domain.
struct Dataplane::Grace final : lpm::GracePeriod {
  explicit Grace(rte_rcu_qsbr* q) : qsbr(q) {}
  uint64_t start() override { return rte_rcu_qsbr_start(qsbr); }
  bool check(uint64_t token, bool wait) override {
    return rte_rcu_qsbr_check(qsbr, token, wait) == 1;
  }
  rte_rcu_qsbr* qsbr;
};

namespace {

std::atomic<bool>* g_running = nullptr;
rte_rcu_qsbr* g_qsbr = nullptr;

int worker_main(void* arg) {
  auto* w = static_cast<WorkerContext*>(arg);
  rte_rcu_qsbr_thread_register(g_qsbr, w->index);
  rte_rcu_qsbr_thread_online(g_qsbr, w->index);
  while (g_running->load(std::memory_order_relaxed)) {
    nat_worker_turn(*w);  // first: the NAT clock is set before the first walk files anything
    rte_graph_walk(w->graph);
    rte_rcu_qsbr_quiescent(g_qsbr, w->index);
  }
  if (w->tx_hold) tx_hold_release(*w, /*send=*/true);
  rte_rcu_qsbr_thread_offline(g_qsbr, w->index);
  rte_rcu_qsbr_thread_unregister(g_qsbr, w->index);
  return 0;
}

std::string unique(const std::string& base) {
  static std::atomic<unsigned> n{0};
  return base + std::to_string(n++);
}

}  // namespace

double Dataplane::monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Dataplane::Dataplane(const DataplaneConfig& cfg) : cfg_(cfg) {
  if (cfg_.workers == 0) throw std::invalid_argument("--workers must be at least 1");
  if (cfg_.ports.empty()) throw std::invalid_argument("no --port given");
  const unsigned nw = cfg_.workers;
  if (cfg_.launch_workers) {
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) {
      if (lcores_.size() < nw) lcores_.push_back(lc);
    }
    if (lcores_.size() < nw)
      throw std::runtime_error(std::to_string(nw) + " workers need " + std::to_string(nw + 1) +
                               " lcores (one for control); EAL has " +
                               std::to_string(rte_lcore_count()));
  }
  unsigned mbufs = cfg_.mbufs;
  if (mbufs == 0)
    mbufs = std::max<unsigned>(
        8192, static_cast<unsigned>(cfg_.ports.size()) * nw * (cfg_.rx_desc + cfg_.tx_desc + 512) +
                  nw * 4096);
  // Room to re-open a few AF_XDP queues (a port's interface deleted and re-created), each of
  // which the af_xdp driver charges kAfXdpFillMbufs for good (ports.h).
  if (cfg_.mbufs == 0 && std::any_of(cfg_.ports.begin(), cfg_.ports.end(), [](const PortSpec& s) {
        return s.kind == PortSpec::Kind::kKernel;
      }))
    mbufs += 2 * kAfXdpFillMbufs;
  const bool any_pci = std::any_of(cfg_.ports.begin(), cfg_.ports.end(), [](const PortSpec& s) {
    return s.kind == PortSpec::Kind::kPci;
  });
  pool_ = create_mbuf_pool(unique("sluice-mbufs"), mbufs,
                           /*packed=*/!any_pci || rte_eal_iova_mode() == RTE_IOVA_VA);
  if (pool_ == nullptr)
    throw std::runtime_error(std::string("cannot create the mbuf pool (") + std::to_string(mbufs) +
                             " mbufs): " + rte_strerror(rte_errno) +
                             "; give EAL more memory (-m) or hugepages");

  const size_t qsz = rte_rcu_qsbr_get_memsize(nw);
  qsbr_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("sluice-qsbr", qsz, RTE_CACHE_LINE_SIZE));
  if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, nw) != 0)
    throw std::runtime_error("cannot set up the RCU domain");
  grace_ = std::make_unique<Grace>(qsbr_);
  ForwardingState::Config fc;
  fc.max_next_hops = cfg_.max_next_hops;
  fc.max_groups = cfg_.max_next_hop_groups;
  fc.grace = grace_.get();
  if (cfg_.multipath_seed != 0) {
    fc.multipath_seed = cfg_.multipath_seed;
  } else {
    std::random_device rd;
    fc.multipath_seed = uint64_t{rd()} << 32 | rd();
  }
  fs_ = std::make_unique<ForwardingState>(fc);
  bridges_ = std::make_unique<Bridges>(*fs_, cfg_.fdb_size, grace_.get());

  const std::string xdp_object = cfg_.xdp_object.empty() ? xdp::object_path() : cfg_.xdp_object;
  try {
    for (const PortSpec& spec : cfg_.ports) {
      ports_.push_back(open_port(spec, static_cast<uint16_t>(nw), pool_, cfg_.rx_desc, cfg_.tx_desc,
                                 xdp_object));
      const OpenedPort& p = ports_.back();
      fs_->add_port(p.name, p.ethdev, p.mac, p.mtu, p.kernel_twin);
    }
  } catch (...) {
    for (const OpenedPort& p : ports_) close_port(p);
    throw;
  }

  punt_ = rte_ring_create(unique("sluice-punt").c_str(), 4096, SOCKET_ID_ANY, RING_F_SC_DEQ);
  notes_ = rte_ring_create_elem(unique("sluice-notes").c_str(), sizeof(ArpNote), 4096,
                                SOCKET_ID_ANY, RING_F_SC_DEQ);
  bridge_notes_ = rte_ring_create_elem(unique("sluice-learn").c_str(), sizeof(LearnNote), 4096,
                                       SOCKET_ID_ANY, RING_F_SC_DEQ);
  if (punt_ == nullptr || notes_ == nullptr || bridge_notes_ == nullptr)
    throw std::runtime_error("cannot create rings");

  for (unsigned i = 0; i < nw; ++i) {
    auto w = std::make_unique<WorkerContext>();
    w->index = i;
    w->fs = fs_.get();
    w->punt = punt_;
    w->notes = notes_;
    w->pool = pool_;
    w->bridges = &bridges_->topology();
    w->fdb = &bridges_->fdb();
    w->bridge_clock = &bridges_->clock();
    w->bridge_notes = bridge_notes_;
    w->icmp.per_second = cfg_.icmp_errors_per_second;
    w->icmp.burst = cfg_.icmp_error_burst;
    w->inject = rte_ring_create(unique("sluice-inject").c_str(), 1024, SOCKET_ID_ANY,
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (w->inject == nullptr) throw std::runtime_error("cannot create rings");
    nat::EngineConfig nc = cfg_.nat;
    nc.workers = nw;
    nc.worker = i;
    nc.ports = kMaxPorts;
    w->nat = std::make_unique<nat::Engine>(nc);
    w->nat_rules = &nat_published_;
    w->nat_inbox =
        rte_ring_create(unique("sluice-nat-inbox").c_str(), 2048, SOCKET_ID_ANY, RING_F_SC_DEQ);
    if (w->nat_inbox == nullptr) throw std::runtime_error("cannot create rings");
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_)
    for (auto& peer : workers_) w->nat_peers.push_back(peer->nat_inbox);
  // AF_XDP ports: the XDP program passes a router address's traffic to the kernel unless NAT
  // claimed its port; every engine claims in every port's bitmap (a reply may come back
  // through any port).
  nat_map_of_port_.assign(ports_.size(), -1);
  retired_.resize(ports_.size());
  for (const OpenedPort& p : ports_) {
    if (!p.kernel_twin) continue;
    nat_map_of_port_[&p - ports_.data()] = static_cast<int>(nat_maps_.size());
    nat_maps_.push_back(xdp::AttachedProgram(p.ifindex).nat_ports());
    for (auto& w : workers_) w->nat->add_claim_bitmap(nat_maps_.back().words());
  }
  for (auto& w : workers_) w->nat_port_gen = nat_port_gen_.data();
  // RX: the (port, queue) pairs are dealt to the workers in turn. TX: a worker sends on a
  // queue of the port it polls itself; for a port where it polls none (the port has fewer
  // queues than there are workers: veth under AF_XDP has one) it hands its packets to the
  // queue's owner through a ring. So each queue, and each AF_XDP socket, is used by exactly
  // one thread, which is what DPDK's drivers assume.
  std::vector<std::vector<unsigned>> owner(ports_.size());
  unsigned pair = 0;
  for (uint16_t p = 0; p < ports_.size(); ++p)
    for (uint16_t q = 0; q < ports_[p].queues; ++q) {
      const unsigned w = pair++ % nw;
      workers_[w]->rx.push_back({ports_[p].ethdev, p, q});
      owner[p].push_back(w);
    }
  for (uint16_t p = 0; p < ports_.size(); ++p) {
    const uint16_t nq = ports_[p].queues;
    std::vector<rte_ring*> rings(nq, nullptr);
    for (unsigned i = 0; i < nw; ++i) {
      WorkerContext& w = *workers_[i];
      bool owns = false;
      for (uint16_t q = 0; q < nq && !owns; ++q)
        if (owner[p][q] == i) {
          w.tx_queue[p] = q;
          owns = true;
        }
      if (owns) continue;
      const uint16_t q = static_cast<uint16_t>(i % nq);
      rte_ring*& r = rings[q];
      if (r == nullptr) {
        r = rte_ring_create(unique("sluice-handoff").c_str(), 2048, SOCKET_ID_ANY, RING_F_SC_DEQ);
        if (r == nullptr) throw std::runtime_error("cannot create rings");
        handoffs_.push_back(r);
        workers_[owner[p][q]]->drains.push_back({ports_[p].ethdev, p, q, r});
      }
      w.tx_queue[p] = q;
      w.tx_handoff[p] = r;
    }
  }
  if (cfg_.tx_coalesce_us < 0 || cfg_.tx_coalesce_us > 10000)
    throw std::invalid_argument("TX coalescing of " + std::to_string(cfg_.tx_coalesce_us) +
                                " us: use 0-10000");
  for (auto& w : workers_) {
    if (cfg_.tx_coalesce_us > 0) {
      w->tx_hold_cycles =
          std::max<uint64_t>(1, static_cast<uint64_t>(cfg_.tx_coalesce_us * 1e-6 *
                                                      static_cast<double>(rte_get_tsc_hz())));
      w->tx_hold = std::make_unique<std::array<TxHold, kMaxPorts>>();
    }
    graph_names_.push_back(unique("sluice-w"));
    PacketGraph::create(*w, graph_names_.back());
  }
  // poll() mode: the callers' threads are registered here, once, rather than by each at its
  // first poll(): a vector<bool> of "registered" flags written from two workers' threads was a
  // data race (ThreadSanitizer, tests/packet/concurrency_test.cpp). A registered thread that is
  // offline between two poll() calls holds no grace period up.
  if (!cfg_.launch_workers)
    for (unsigned i = 0; i < nw; ++i) rte_rcu_qsbr_thread_register(qsbr_, i);
  resolver_ = std::make_unique<NeighbourResolver>(
      *fs_, pool_, cfg_.neighbours,
      [this](rte_mbuf* m) { return rte_ring_sp_enqueue(workers_[0]->inject, m) == 0; });
}

Dataplane::~Dataplane() {
  stop();
  resolver_.reset();
  void* m;
  while (rte_ring_dequeue(punt_, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  for (auto& w : workers_) {
    if (w->tx_hold) tx_hold_release(*w, /*send=*/false);  // poll() mode leaves holds behind
    while (rte_ring_dequeue(w->inject, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(w->inject);
    while (rte_ring_dequeue(w->nat_inbox, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(w->nat_inbox);
  }
  for (rte_ring* r : handoffs_) {
    while (rte_ring_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(r);
  }
  for (const std::string& g : graph_names_) rte_graph_destroy(rte_graph_from_name(g.c_str()));
  for (const OpenedPort& p : ports_)
    if (fs_->port(static_cast<uint16_t>(&p - ports_.data())).attached.load()) close_port(p);
  rte_ring_free(punt_);
  rte_ring_free(notes_);
  rte_ring_free(bridge_notes_);
  bridges_.reset();
  fs_.reset();
  grace_.reset();
  rte_free(qsbr_);
  rte_mempool_free(pool_);
}

void Dataplane::start() {
  if (!cfg_.launch_workers || running_) return;
  running_ = true;
  g_running = &running_;
  g_qsbr = qsbr_;
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (rte_eal_remote_launch(worker_main, workers_[i].get(), lcores_[i]) != 0)
      throw std::runtime_error("cannot launch worker on lcore " + std::to_string(lcores_[i]));
    if (log::enabled(log::Level::kInfo)) {
      std::string queues;
      for (const RxQueue& q : workers_[i]->rx)
        queues += " " + fs_->port(q.port).name + "/" + std::to_string(q.queue);
      log::info("worker %zu started on lcore %u (CPU %d), polling%s", i, lcores_[i],
                rte_lcore_to_cpu_id(static_cast<int>(lcores_[i])), queues.c_str());
    }
  }
}

void Dataplane::stop() {
  if (!running_) return;
  running_ = false;
  for (unsigned lc : lcores_) rte_eal_wait_lcore(lc);
}

bool Dataplane::attached(uint16_t port) const {
  return port < ports_.size() && fs_->port(port).attached.load();
}

namespace {
// A port's counters are its current ethdev's plus those of the devices it had before a detach.
void add_ethdev_stats(PortCounters& c, const rte_eth_stats& st) {
  c.rx_packets += st.ipackets;
  c.rx_bytes += st.ibytes;
  c.rx_missed += st.imissed;
  c.rx_errors += st.ierrors;
  c.rx_nombuf += st.rx_nombuf;
  c.tx_packets += st.opackets;
  c.tx_bytes += st.obytes;
  c.tx_errors += st.oerrors;
}
}  // namespace

void Dataplane::detach_port(uint16_t port) {
  if (port >= ports_.size()) return;
  PortState& ps = fs_->mutable_port(port);
  if (!ps.attached.load()) return;
  set_aside_.erase(port);  // a released port's program went with its interface
  ps.up.store(false);
  ps.attached.store(false, std::memory_order_release);
  // After this no worker is inside an RX or TX burst of the device (each checks `attached`
  // within the walk it reports quiescence after), so it can be closed under them.
  rte_rcu_qsbr_synchronize(qsbr_, RTE_QSBR_THRID_INVALID);
  std::lock_guard<std::mutex> lk(ports_mu_);
  rte_eth_stats st{};
  if (rte_eth_stats_get(ports_[port].ethdev, &st) == 0) {
    add_ethdev_stats(retired_[port], st);
  }
  close_port(ports_[port]);
}

std::string Dataplane::reattach_port(uint16_t port) {
  if (port >= ports_.size()) return "no such port";
  PortState& ps = fs_->mutable_port(port);
  if (ps.attached.load()) return {};
  const OpenedPort old = ports_[port];
  // Without enough free mbufs the driver's queue setup would fail half-way, or leave the
  // workers short of mbufs to receive into.
  const unsigned need = old.queues * kAfXdpFillMbufs + 1024;
  if (const unsigned avail = rte_mempool_avail_count(pool_); avail < need)
    return "only " + std::to_string(avail) + " free mbufs, re-opening needs " +
           std::to_string(need) + " (DPDK's af_xdp driver keeps the " +
           std::to_string(kAfXdpFillMbufs) + " mbufs of each queue it closes); restart sluiced";
  const std::string xdp_object = cfg_.xdp_object.empty() ? xdp::object_path() : cfg_.xdp_object;
  OpenedPort fresh{};
  try {
    std::lock_guard<std::mutex> lk(ports_mu_);
    fresh = open_port(cfg_.ports[port], static_cast<uint16_t>(workers_.size()), pool_, cfg_.rx_desc,
                      cfg_.tx_desc, xdp_object);
    if (fresh.queues != old.queues) {
      // The workers' queue assignment was dealt at start for the old count.
      close_port(fresh);
      return "the new interface gives " + std::to_string(fresh.queues) +
             " queue(s), the port had " + std::to_string(old.queues) +
             "; restart sluiced to use it";
    }
    ports_[port] = fresh;
  } catch (const std::exception& e) {
    return e.what();
  }
  // The workers read these only after seeing `attached` (acquire), set last. The MAC is the
  // new interface's: ip4-rewrite may read it meanwhile for a frame port-tx then drops (the port
  // is detached), so a torn value never leaves.
  ps.dpdk_port = fresh.ethdev;
  ps.mac = fresh.mac;
  ps.mtu.store(fresh.mtu);
  for (auto& w : workers_) {
    for (RxQueue& q : w->rx)
      if (q.port == port) q.dpdk_port = fresh.ethdev;
    for (TxDrain& d : w->drains)
      if (d.port == port) d.dpdk_port = fresh.ethdev;
  }
  if (const int m = nat_map_of_port_[port]; m >= 0) {
    try {
      nat_maps_[static_cast<size_t>(m)].take_over(xdp::AttachedProgram(fresh.ifindex).nat_ports(),
                                                  "port " + fresh.name);
    } catch (const std::exception& e) {
      // Forwarding works without it; only NAT replies on this port go to the kernel.
      log::warning("port %s: NAT port claims not carried over: %s", fresh.name.c_str(), e.what());
    }
  }
  // The new program starts with empty maps: addresses, ARP and bridge flags again, now.
  xdp_locals_stale_ = true;
  if (xdp_bridge_applied_.size() > port) xdp_bridge_applied_[port].done = false;
  xdp_bridge_gen_ = ~uint64_t{0};
  ps.attached.store(true, std::memory_order_release);
  sync_xdp_local_addresses();
  sync_xdp_bridges();
  return {};
}

void Dataplane::release_port(uint16_t port) {
  if (port >= ports_.size() || !ports_[port].kernel_twin || released(port)) return;
  set_aside_.emplace(port, xdp::set_aside(ports_[port].ifindex));
}

void Dataplane::take_back_port(uint16_t port) {
  auto it = set_aside_.find(port);
  if (it == set_aside_.end()) return;
  xdp::put_back(it->second);
  set_aside_.erase(it);
  // Its maps kept their contents; written again all the same, as after a re-open.
  xdp_locals_stale_ = true;
  if (xdp_bridge_applied_.size() > port) xdp_bridge_applied_[port].done = false;
  xdp_bridge_gen_ = ~uint64_t{0};
  sync_xdp_local_addresses();
  sync_xdp_bridges();
}

void Dataplane::poll(unsigned w) {
  rte_rcu_qsbr_thread_online(qsbr_, w);
  nat_worker_turn(*workers_[w]);
  rte_graph_walk(workers_[w]->graph);
  rte_rcu_qsbr_quiescent(qsbr_, w);
  rte_rcu_qsbr_thread_offline(qsbr_, w);
}

void Dataplane::service(double now) {
  ArpNote notes[64];
  unsigned n;
  while ((n = rte_ring_sc_dequeue_burst_elem(notes_, notes, sizeof(ArpNote), 64, nullptr)) > 0)
    for (unsigned i = 0; i < n; ++i) resolver_->on_note(notes[i], now);
  void* punted[64];
  while ((n = rte_ring_sc_dequeue_burst(punt_, punted, 64, nullptr)) > 0)
    for (unsigned i = 0; i < n; ++i) resolver_->on_punted(static_cast<rte_mbuf*>(punted[i]), now);
  bridges_->set_clock(now);
  LearnNote learn[64];
  while ((n = rte_ring_sc_dequeue_burst_elem(bridge_notes_, learn, sizeof(LearnNote), 64,
                                             nullptr)) > 0)
    for (unsigned i = 0; i < n; ++i) bridges_->on_note(learn[i]);
  if (now - last_tick_ >= 0.1 || now < last_tick_) {
    last_tick_ = now;
    resolver_->tick(now);
    bridges_->tick();
    sync_xdp_local_addresses();
    sync_xdp_bridges();
    nat_follow_addresses();
    take_snapshot(now);
  }
}

void Dataplane::take_snapshot(double) {
  std::lock_guard<std::mutex> lk(snapshot_mu_);
  snapshot_neigh_ = resolver_->counters();
}

NeighbourResolver::Counters Dataplane::neighbour_counters() const {
  std::lock_guard<std::mutex> lk(snapshot_mu_);
  return snapshot_neigh_;
}

void Dataplane::sync_xdp_local_addresses() {
  std::vector<uint32_t> locals;
  for (const InterfaceAddress& a : fs_->addresses()) {
    locals.push_back(a.addr.be());
    if (a.len < 31) {
      const uint32_t mask = Prefix::mask_of(a.len);
      locals.push_back(Ipv4Addr::from_host((a.addr.host() & mask) | ~mask).be());
    }
  }
  for (const Ipv4Addr a : fs_->host_addresses()) locals.push_back(a.be());
  std::sort(locals.begin(), locals.end());
  // With NAT rules, every router address is a NAT address for the XDP programs: traffic to
  // the ports NAT claimed comes to the fast path, the rest stays the kernel's.
  const bool nat = nat_rules_ && !nat_rules_->empty();
  if (locals == xdp_locals_ && nat == xdp_nat_ && !xdp_locals_stale_) return;
  const std::vector<uint32_t> none;
  const std::vector<uint32_t>& nat_locals = nat ? locals : none;
  for (const OpenedPort& p : ports_) {
    // A detached port has no program; it gets the whole set when it is re-opened.
    const auto i = static_cast<uint16_t>(&p - ports_.data());
    if (!p.kernel_twin || !fs_->port(i).attached.load() || released(i)) continue;
    try {
      xdp::AttachedProgram(p.ifindex).set_local_addresses(locals, nat_locals);
    } catch (const std::exception& e) {
      // Retried at every tick until it works: the same failure would fill the log.
      static log::RateLimit limit(5, 60.0);
      if (limit.allow())
        log::warning("port %s: %s%s", p.name.c_str(), e.what(), limit.note().c_str());
      return;  // retried at the next tick
    }
  }
  xdp_locals_ = locals;
  xdp_nat_ = nat;
  xdp_locals_stale_ = false;
}

void Dataplane::set_xdp_arp_to_kernel(bool on) {
  xdp_arp_to_kernel_ = on;
  xdp_bridge_gen_ = ~uint64_t{0};
  sync_xdp_bridges();
}

void Dataplane::set_kernel_bridge_ports(std::map<uint16_t, std::vector<uint64_t>> ports) {
  if (ports == kernel_bridge_ports_) return;
  kernel_bridge_ports_ = std::move(ports);
  xdp_bridge_gen_ = ~uint64_t{0};
  sync_xdp_bridges();
}

void Dataplane::sync_xdp_bridges() {
  // Every service tick calls this; Bridges::list() walks the whole FDB, so only a change of
  // the topology (or of this function's other inputs, which reset the generation) redoes it.
  if (xdp_bridge_gen_ == bridges_->generation()) return;
  xdp_bridge_gen_ = bridges_->generation();
  xdp_bridge_applied_.resize(ports_.size());
  const std::vector<Bridges::View> bridges = bridges_->list();
  for (uint16_t i = 0; i < ports_.size(); ++i) {
    const OpenedPort& p = ports_[i];
    if (!p.kernel_twin || !fs_->port(i).attached.load() || released(i))
      continue;  // done when re-opened or taken back
    uint32_t flags = xdp_arp_to_kernel_ ? SLUICE_XDP_CONFIG_ARP_TO_KERNEL : 0;
    std::vector<uint64_t> macs;
    for (const Bridges::View& b : bridges) {
      const bool member = std::any_of(b.members.begin(), b.members.end(),
                                      [&](const Bridges::Member& m) { return m.port == i; });
      if (!member) continue;
      flags |= SLUICE_XDP_CONFIG_BRIDGED;
      if (b.config.kernel) flags |= SLUICE_XDP_CONFIG_BRIDGE_KERNEL;
      // The bridge's own MAC and its members': frames to them are the host's (the router's
      // rules apply); any other unicast is bridged traffic.
      macs.push_back(b.config.mac.packed());
      for (const Bridges::Member& m : b.members) macs.push_back(fs_->port(m.port).mac.packed());
    }
    if (!(flags & SLUICE_XDP_CONFIG_BRIDGED))
      if (auto k = kernel_bridge_ports_.find(i); k != kernel_bridge_ports_.end()) {
        flags |= SLUICE_XDP_CONFIG_KERNEL_BRIDGE_PORT;
        macs = k->second;
      }
    std::sort(macs.begin(), macs.end());
    macs.erase(std::unique(macs.begin(), macs.end()), macs.end());
    XdpBridgeApplied& a = xdp_bridge_applied_[i];
    if (a.done && a.flags == flags && a.macs == macs) continue;
    try {
      xdp::AttachedProgram prog(p.ifindex);
      // Joining: the local MACs first, then the flag; leaving: the flag first.
      const uint32_t bridge_flags =
          SLUICE_XDP_CONFIG_BRIDGED | SLUICE_XDP_CONFIG_KERNEL_BRIDGE_PORT;
      if (flags & bridge_flags) prog.set_bridge_local(macs);
      prog.set_config(flags);
      if (!(flags & bridge_flags)) prog.set_bridge_local(macs);
    } catch (const std::exception& e) {
      static log::RateLimit limit(5, 60.0);  // retried at every tick, as above
      if (limit.allow())
        log::warning("port %s: %s%s", p.name.c_str(), e.what(), limit.note().c_str());
      xdp_bridge_gen_ = ~uint64_t{0};  // retried at the next tick
      continue;
    }
    a = {flags, std::move(macs), true};
  }
}

std::vector<NodeCounters> Dataplane::node_counters() const {
  std::vector<NodeCounters> out;
  for (const std::string& name : PacketGraph::node_names()) {
    NodeCounters c{name};
    for (const std::string& g : graph_names_) {
      const rte_node* node = rte_graph_node_get_by_name(g.c_str(), name.c_str());
      if (node == nullptr) continue;
      c.objs += node->total_objs;
      c.calls += node->total_calls;
      c.cycles += node->total_cycles;
    }
    out.push_back(c);
  }
  return out;
}

std::vector<PortCounters> Dataplane::port_counters() const {
  std::vector<PortCounters> out;
  std::lock_guard<std::mutex> lk(ports_mu_);
  for (uint16_t i = 0; i < ports_.size(); ++i) {
    const OpenedPort& p = ports_[i];
    PortCounters c = retired_.empty() ? PortCounters{} : retired_[i];
    c.name = p.name;
    rte_eth_stats st{};
    if (fs_->port(i).attached.load() && rte_eth_stats_get(p.ethdev, &st) == 0) {
      add_ethdev_stats(c, st);
    }
    out.push_back(c);
  }
  return out;
}

uint64_t Dataplane::worker_sum(std::atomic<uint64_t> WorkerCounters::*c) const {
  uint64_t n = 0;
  for (const auto& w : workers_) n += (w->counters.*c).load(std::memory_order_relaxed);
  return n;
}

uint64_t Dataplane::forwarded() const {
  return worker_sum(&WorkerCounters::forwarded);
}

std::string Dataplane::summary() const {
  std::ostringstream s;
  s << "ports:\n";
  for (const PortCounters& p : port_counters())
    s << "  " << p.name << ": rx " << p.rx_packets << " tx " << p.tx_packets << " rx-missed "
      << p.rx_missed << " rx-errors " << p.rx_errors << " tx-errors " << p.tx_errors << "\n";
  s << "forwarded: " << forwarded()
    << " fragments-made: " << worker_sum(&WorkerCounters::fragments_made)
    << " arp-notes-lost: " << worker_sum(&WorkerCounters::arp_notes_lost) << "\n";
  s << "nodes (packets, cycles/packet):\n";
  for (const NodeCounters& c : node_counters())
    if (c.objs != 0) s << "  " << c.name << ": " << c.objs << ", " << (c.cycles / c.objs) << "\n";
  const NeighbourResolver::Counters nc = neighbour_counters();
  s << "arp: requests " << nc.requests_sent << " learned " << nc.replies_learned << " held "
    << nc.held << " released " << nc.released << " dropped(queue-full " << nc.dropped_queue_full
    << " unresolved " << nc.dropped_unresolved << " table-full " << nc.dropped_table_full
    << " held-limit " << nc.dropped_held_limit << ") not-learned(table-full " << nc.learn_table_full
    << ")\n";
  return s.str();
}

}  // namespace sluice
