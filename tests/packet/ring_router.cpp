// ring_router.cpp — EAL for the whole process, and the ring-port router the packet tests and the
// packet-graph fuzz target drive.
#include "tests/packet/ring_router.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string_view>

#include "dataplane/packet_graph.h"

namespace sluice::pkt {
namespace {

// The topology is fixed: a refusal is a bug in this file or in the dataplane, not in a test.
void check(const std::string& err, const char* what) {
  if (!err.empty()) throw std::runtime_error(std::string(what) + ": " + err);
}

Bytes copy_out(const rte_mbuf* m) {
  Bytes b(rte_pktmbuf_pkt_len(m));
  size_t at = 0;
  for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
    std::copy_n(rte_pktmbuf_mtod(s, const uint8_t*), s->data_len, b.begin() + at);
    at += s->data_len;
  }
  return b;
}

// "0@(CPUS)": the one lcore, allowed on every CPU this process may use. `-l 0` would pin it to
// CPU 0, where it competes with whatever else runs there while the other CPUs sit idle.
std::string lcore_cpus() {
  // Appended piece by piece: operator+ on a literal trips GCC 12 -Wrestrict (PR 105329).
  cpu_set_t set;
  std::string cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (!CPU_ISSET(c, &set)) continue;
      if (!cpus.empty()) cpus += ',';
      cpus += std::to_string(c);
    }
  if (cpus.empty()) return "0";
  std::string arg = "0@(";
  arg += cpus;
  arg += ')';
  return arg;
}

}  // namespace

void init_eal() {
  static bool initialised = false;
  if (initialised) return;
  // The arguments outlive the call: EAL keeps pointers into argv.
  static std::string prefix = "sluice-pkt-" + std::to_string(getpid());
  static std::vector<std::string> args = {
      "sluice-packet-test", "--no-huge",     "-m",   "512",           "--no-pci",
      "--no-shconf",        "--file-prefix", prefix, "--log-level=4", "--lcores",
      lcore_cpus()};
  static std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0)
    throw std::runtime_error(std::string("rte_eal_init: ") + rte_strerror(rte_errno));
  initialised = true;
}

Router::Router(const RouterOptions& opt) {
  static unsigned instance = 0;
  const std::string tag = std::to_string(instance++);
  DataplaneConfig cfg;
  for (unsigned i = 0; i < kPorts + opt.extra_ports; ++i) {
    const std::string n = tag + "-" + std::to_string(i);
    rte_ring* rx = rte_ring_create(("pkt-rx-" + n).c_str(), opt.ring_size, SOCKET_ID_ANY,
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
    rte_ring* tx = rte_ring_create(("pkt-tx-" + n).c_str(), opt.ring_size, SOCKET_ID_ANY,
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rx == nullptr || tx == nullptr)
      throw std::runtime_error("rte_ring_create: " + std::string(rte_strerror(rte_errno)));
    rx_.push_back(rx);
    tx_.push_back(tx);
    const int id = rte_eth_from_rings(("pkt-port-" + n).c_str(), &rx, 1, &tx, 1, 0);
    if (id < 0)
      throw std::runtime_error("rte_eth_from_rings: " + std::string(rte_strerror(rte_errno)));
    // net_ring ports start with 00:00:00:00:00:00 and have no "set default MAC" operation;
    // adding an address fills the empty slot 0, which is the default address.
    rte_ether_addr mac;
    port_mac(static_cast<uint16_t>(i)).copy_to(mac.addr_bytes);
    if (rte_eth_dev_mac_addr_add(static_cast<uint16_t>(id), &mac, 0) != 0)
      throw std::runtime_error("cannot give ring port " + n + " its MAC address");
    PortSpec spec;
    spec.kind = PortSpec::Kind::kEthdev;
    spec.name = "p";  // (operator+ on a literal trips GCC 12 -Wrestrict, PR 105329)
    spec.name += std::to_string(i);
    spec.ethdev = static_cast<uint16_t>(id);
    cfg.ports.push_back(spec);
  }
  cfg.workers = opt.workers;
  cfg.launch_workers = false;
  cfg.rx_desc = 256;
  cfg.tx_desc = 256;
  cfg.mbufs = opt.mbufs;
  cfg.icmp_errors_per_second = opt.icmp_errors_per_second;
  cfg.icmp_error_burst = opt.icmp_error_burst;
  cfg.multipath_seed = opt.multipath_seed;
  cfg.fdb_size = opt.fdb_size;
  cfg.tx_coalesce_us = opt.tx_coalesce_us;
  cfg.nat = opt.nat;
  cfg.neighbours = opt.neighbours;
  dp_ = std::make_unique<Dataplane>(cfg);
  pool_size_ = dp_->pool()->size;
  // This dataplane's graphs are the process's "sluice-w*" ones (one dataplane at a time).
  for (rte_graph_t id = 0; id < rte_graph_max_count(); ++id) {
    const char* g = rte_graph_id_to_name(id);
    if (g == nullptr || std::string_view(g).rfind("sluice-w", 0) != 0) continue;
    for (const std::string& name : PacketGraph::node_names())
      if (const rte_node* node = rte_graph_node_get_by_name(g, name.c_str()))
        nodes_.push_back(node);
  }

  ForwardingState& fs = dp_->state();
  for (uint16_t p = 0; p < ports(); ++p) set_mtu(p, 1500);
  check(fs.add_address(kP0, addr(kR0), 24), "address p0");
  check(fs.add_address(kP1, addr(kR1), 24), "address p1");
  check(fs.add_address(kP2, addr(kR2), 24), "address p2");
  NeighbourResolver& nr = dp_->neighbours();
  nr.add_static(kP0, addr("10.1.0.2"), kH0);
  nr.add_static(kP1, addr("10.2.0.2"), kH1);
  nr.add_static(kP1, addr("10.2.0.254"), kG1);
  nr.add_static(kP2, addr("10.3.0.2"), kH2);
  nr.add_static(kP2, addr("10.3.0.254"), kG2);
  RouteTarget via_g1;
  via_g1.gateway = addr("10.2.0.254");
  check(fs.replace_route(pfx("10.20.0.0", 16), via_g1), "route 10.20/16");
  RouteTarget via_g2;
  via_g2.gateway = addr("10.3.0.254");
  check(fs.replace_route(pfx("10.20.30.0", 24), via_g2), "route 10.20.30/24");
  RouteTarget t;
  t.kind = NextHopKind::kBlackhole;
  check(fs.replace_route(pfx("10.30.0.0", 16), t), "blackhole route");
  t.kind = NextHopKind::kUnreachable;
  check(fs.replace_route(pfx("10.31.0.0", 16), t), "unreachable route");
  t.kind = NextHopKind::kProhibit;
  check(fs.replace_route(pfx("10.32.0.0", 16), t), "prohibit route");
}

Router::~Router() {
  for (rte_ring* r : rx_) drain(r);
  for (rte_ring* r : tx_) drain(r);
  dp_.reset();  // closes the ports; the rings are ours to free
  for (rte_ring* r : rx_) rte_ring_free(r);
  for (rte_ring* r : tx_) rte_ring_free(r);
}

void Router::drain(rte_ring* r) {
  void* m;
  while (rte_ring_sc_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
}

void Router::send_bytes(uint16_t port, const Bytes& b, uint16_t headroom) {
  rte_mbuf* m = rte_pktmbuf_alloc(dp_->pool());
  if (m == nullptr) throw std::runtime_error("mbuf pool empty");
  if (headroom + b.size() > m->buf_len) {
    rte_pktmbuf_free(m);
    throw std::invalid_argument("frame too long for one mbuf");
  }
  m->data_off = headroom;
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(b.size())));
  std::copy(b.begin(), b.end(), p);
  send_mbuf(port, m);
}

void Router::send_segmented(uint16_t port, const Bytes& b, size_t first_segment_len) {
  rte_mbuf* head = rte_pktmbuf_alloc(dp_->pool());
  rte_mbuf* tail = rte_pktmbuf_alloc(dp_->pool());
  if (head == nullptr || tail == nullptr) {
    rte_pktmbuf_free(head);
    rte_pktmbuf_free(tail);
    throw std::runtime_error("mbuf pool empty");
  }
  const size_t n1 = std::min(first_segment_len, b.size());
  if (n1 > rte_pktmbuf_tailroom(head) || b.size() - n1 > rte_pktmbuf_tailroom(tail)) {
    rte_pktmbuf_free(head);
    rte_pktmbuf_free(tail);
    throw std::invalid_argument("segment too long for one mbuf");
  }
  auto* p1 = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(head, static_cast<uint16_t>(n1)));
  std::copy_n(b.begin(), n1, p1);
  auto* p2 =
      reinterpret_cast<uint8_t*>(rte_pktmbuf_append(tail, static_cast<uint16_t>(b.size() - n1)));
  std::copy(b.begin() + static_cast<ptrdiff_t>(n1), b.end(), p2);
  rte_pktmbuf_chain(head, tail);  // two segments: cannot exceed the chain limit
  send_mbuf(port, head);
}

void Router::send_exact(uint16_t port, const uint8_t* frame, size_t len) {
  constexpr uint16_t kHeadroom = RTE_PKTMBUF_HEADROOM;
  if (kHeadroom + len > UINT16_MAX) throw std::invalid_argument("frame too long for an mbuf");
  rte_mbuf* m = rte_pktmbuf_alloc(dp_->pool());
  if (m == nullptr) throw std::runtime_error("mbuf pool empty");
  // The shared info (reference count, free callback) goes before the buffer, not after the
  // frame, where it would hide an overread.
  auto* block = static_cast<uint8_t*>(malloc(sizeof(rte_mbuf_ext_shared_info) + kHeadroom + len));
  if (block == nullptr) {
    rte_pktmbuf_free(m);
    throw std::bad_alloc();
  }
  auto* shinfo = new (block) rte_mbuf_ext_shared_info{};
  shinfo->free_cb = [](void*, void* opaque) { free(opaque); };
  shinfo->fcb_opaque = block;
  rte_mbuf_ext_refcnt_set(shinfo, 1);
  uint8_t* buf = block + sizeof(rte_mbuf_ext_shared_info);
  rte_pktmbuf_attach_extbuf(m, buf, RTE_BAD_IOVA, static_cast<uint16_t>(kHeadroom + len), shinfo);
  m->data_off = kHeadroom;
  if (len != 0) memcpy(buf + kHeadroom, frame, len);
  m->data_len = static_cast<uint16_t>(len);
  m->pkt_len = static_cast<uint32_t>(len);
  send_mbuf(port, m);
}

void Router::send_mbuf(uint16_t port, rte_mbuf* m) {
  if (rte_ring_sp_enqueue(rx_[port], m) != 0) {
    rte_pktmbuf_free(m);
    throw std::runtime_error("RX ring of p" + std::to_string(port) + " full");
  }
}

uint64_t Router::total_objs() const {
  // Summed from the nodes themselves: Dataplane::node_counters() looks every node up by name,
  // which run() would do eight times per frame (most of a fuzz target's time).
  uint64_t n = 0;
  for (const rte_node* node : nodes_) n += node->total_objs;
  return n;
}

void Router::run() {
  // Quiet = three rounds in which no node moved a packet, no TX ring grew (hand-off rings are
  // sent from port-rx without a node counting them) and no RX ring holds a frame: the control
  // thread's answers (ARP requests, released packets) re-enter at the next poll.
  auto tx_count = [this] {
    unsigned n = 0;
    for (rte_ring* r : tx_) n += rte_ring_count(r);
    return n;
  };
  unsigned quiet = 0;
  for (unsigned round = 0; round < 100000 && quiet < 3; ++round) {
    const uint64_t before = total_objs();
    const unsigned tx_before = tx_count();
    for (unsigned w = 0; w < dp_->workers(); ++w) dp_->poll(w);
    dp_->service(now_);
    bool pending = false;
    for (rte_ring* r : rx_) pending |= rte_ring_count(r) != 0;
    quiet = total_objs() == before && tx_count() == tx_before && !pending ? quiet + 1 : 0;
  }
  if (quiet < 3) throw std::runtime_error("the router never went quiet");
}

void Router::advance(double seconds, double step) {
  const auto steps = static_cast<unsigned>(std::ceil(seconds / step - 1e-9));
  for (unsigned i = 0; i < steps; ++i) {
    now_ += step;
    run();
  }
}

std::vector<Bytes> Router::received(uint16_t port) {
  std::vector<Bytes> out;
  void* m;
  while (rte_ring_sc_dequeue(tx_[port], &m) == 0) {
    out.push_back(copy_out(static_cast<rte_mbuf*>(m)));
    rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  }
  return out;
}

std::vector<std::vector<Bytes>> Router::received_all() {
  std::vector<std::vector<Bytes>> out;
  for (uint16_t p = 0; p < ports(); ++p) out.push_back(received(p));
  return out;
}

uint64_t Router::counter(const std::string& node) const {
  for (const NodeCounters& c : dp_->node_counters())
    if (c.name == node) return c.objs;
  throw std::invalid_argument("the graph has no node named " + node);
}

std::map<std::string, uint64_t> Router::drops() const {
  std::map<std::string, uint64_t> out;
  for (const NodeCounters& c : dp_->node_counters())
    if (c.name.rfind("drop-", 0) == 0 && c.objs != 0) out[c.name] = c.objs;
  return out;
}

unsigned Router::pool_available() const {
  return rte_mempool_avail_count(dp_->pool());
}

}  // namespace sluice::pkt
