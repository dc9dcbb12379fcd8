// concurrency_test.cpp — the dataplane under real concurrency. Two workers walk their graphs on
// their own threads (Dataplane::poll(w) in a loop, as worker_main does on an lcore), a control
// thread churns the forwarding state and runs service(), and the test thread plays every host
// around the router:
//   - control: thousands of /24 routes added, removed and repointed (gateway, on-link host,
//     a gateway that comes and goes, blackhole), some in batches; the gateways' MACs changed;
//     a gateway lost and found again (its packets punted, held, then injected); the NAT rules
//     republished (an RCU pointer swap and grace period each time).
//   - traffic: transit frames over the churned prefixes in both directions (each crossing from
//     one worker's port to the other's, so through a TX hand-off ring), and masqueraded TCP
//     connections (SYN out, SYN-ACK back, RST out) to remotes spread over both workers, so
//     sessions are created on both, packets handed to the session's owner both ways, and the
//     closed sessions expire while others are being opened.
// At the end: every frame sent came out exactly once, byte for byte as one legal state of the
// tables makes it, or is counted where it was dropped (a blackhole, the neighbour queue); every
// reply was translated back; the NAT tables are empty and every session expired; the mbuf pool
// is full. The random choices use fixed seeds (kSeed); the thread interleaving differs per run.
//
// How it would fail: a route table block recycled before the workers' grace period ended, or a
// next-hop word torn, shows as a frame with a MAC no legal state gives (the static prefixes
// have a next hop of their own) or a lost frame; a reply handled by a worker that is not its
// session's owner finds no session and is dropped as drop-nat-filtered (tried: nat-pre without
// the hand-off fails this test on the replies); and under ThreadSanitizer (scripts/test's tsan
// suite) any unsynchronized access between the threads is reported (tried: a grace period that
// ends at once is reported as a race between the route table's writer and ip4-lookup).
//
// ThreadSanitizer. EAL starts and runs under TSan (--no-huge, --no-shconf as here), but DPDK's
// libraries are not instrumented: TSan sees neither their memory accesses nor their
// synchronization. Three ways mbufs pass between threads go through them, and without help
// TSan would take every packet for a race between the thread that wrote it and the next one:
//   1. the mempool (freed on one thread, allocated on another, through librte_mempool_ring):
//      the tsan build gives the pool mempool ops compiled into this file (an rte_ring used
//      inline, so instrumented);
//   2. the ring ports' RX and TX bursts (librte_net_ring): their burst functions are wrapped
//      with an acquire after RX and a release before TX, on the ring's producer tail, which is
//      what the test thread's inline enqueue and dequeue release and acquire;
//   3. rte_ring's inline code in sluice's own objects: tests/tsan_ring_order.h (force-included
//      in the tsan build) selects DPDK's C11 ring and orders its multi-producer tail wait.
// tests/tsan.supp holds the one DPDK pattern left (rte_ring_count's plain reads). These add only
// orderings DPDK really provides; everything sluice's code does itself is checked as it is.
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/packet/harness.h"

#if defined(__SANITIZE_THREAD__)
#define SLUICE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SLUICE_TSAN 1
#endif
#endif
#ifndef SLUICE_TSAN
#define SLUICE_TSAN 0
#endif

#if SLUICE_TSAN || defined(__SANITIZE_ADDRESS__)
#define SLUICE_CONCURRENCY_SANITIZED 1
#else
#define SLUICE_CONCURRENCY_SANITIZED 0
#endif

#if SLUICE_TSAN
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace sluice::pkt {
namespace {

constexpr uint64_t kSeed = 0xc0ffee'5eed;

// The amounts: a few seconds in the plain build, fewer under a sanitizer (the same paths).
constexpr bool kSanitized = SLUICE_CONCURRENCY_SANITIZED != 0;
constexpr unsigned kChurnOps = kSanitized ? 3000 : 12000;  // route changes
constexpr unsigned kMinTransit = kSanitized ? 4000 : 30000;
constexpr unsigned kNatFlows = kSanitized ? 400 : 2000;
constexpr auto kDeadline = std::chrono::seconds(120);  // a hang fails instead of timing out
constexpr auto kStall = std::chrono::seconds(20);      // no connection closing for this long

// ---- ThreadSanitizer: happens-before edges through uninstrumented DPDK code ----
#if SLUICE_TSAN
int tsan_pool_alloc(rte_mempool* mp) {
  char name[RTE_RING_NAMESIZE];
  snprintf(name, sizeof name, "tsan-%.20s", mp->name);  // sluice's pool names are shorter
  rte_ring* r = rte_ring_create(name, rte_align32pow2(mp->size + 1), mp->socket_id, 0);
  if (r == nullptr) return -rte_errno;
  mp->pool_data = r;
  return 0;
}
void tsan_pool_free(rte_mempool* mp) {
  rte_ring_free(static_cast<rte_ring*>(mp->pool_data));
}
int tsan_pool_enqueue(rte_mempool* mp, void* const* objs, unsigned n) {
  auto* r = static_cast<rte_ring*>(mp->pool_data);
  return rte_ring_mp_enqueue_bulk(r, objs, n, nullptr) == n ? 0 : -ENOBUFS;
}
int tsan_pool_dequeue(rte_mempool* mp, void** objs, unsigned n) {
  auto* r = static_cast<rte_ring*>(mp->pool_data);
  return rte_ring_mc_dequeue_bulk(r, objs, n, nullptr) == n ? 0 : -ENOBUFS;
}
unsigned tsan_pool_count(const rte_mempool* mp) {
  return rte_ring_count(static_cast<const rte_ring*>(mp->pool_data));
}
rte_mempool_ops g_tsan_pool_ops = {.name = "sluice_tsan_ring",
                                   .alloc = tsan_pool_alloc,
                                   .free = tsan_pool_free,
                                   .enqueue = tsan_pool_enqueue,
                                   .dequeue = tsan_pool_dequeue,
                                   .get_count = tsan_pool_count,
                                   .calc_mem_size = nullptr,
                                   .populate = nullptr,
                                   .get_info = nullptr,
                                   .dequeue_contig_blocks = nullptr};
RTE_MEMPOOL_REGISTER_OPS(g_tsan_pool_ops);

// A ring port's queue (net_ring's struct ring_queue) starts with its rte_ring. The test thread
// enqueues on the RX rings and dequeues from the TX rings with the inline (instrumented, C11)
// ring code, which releases and acquires the ring's producer tail; the driver's side, in
// librte_net_ring, is not seen, so the wrappers do the same on the same address.
eth_rx_burst_t g_ring_rx = nullptr;
eth_tx_burst_t g_ring_tx = nullptr;
rte_ring* ring_of(void* queue) {
  return *static_cast<rte_ring**>(queue);
}
uint16_t rx_annotated(void* q, rte_mbuf** pkts, uint16_t n) {
  const uint16_t got = g_ring_rx(q, pkts, n);
  if (got != 0) __tsan_acquire(const_cast<uint32_t*>(&ring_of(q)->prod.tail));
  return got;
}
uint16_t tx_annotated(void* q, rte_mbuf** pkts, uint16_t n) {
  __tsan_release(const_cast<uint32_t*>(&ring_of(q)->prod.tail));
  return g_ring_tx(q, pkts, n);
}
void annotate_ports(Dataplane& dp) {
  for (const OpenedPort& p : dp.ports()) {
    struct rte_eth_fp_ops& ops = rte_eth_fp_ops[p.ethdev];  // (the array hides the type)
    ASSERT_EQ(std::string(ring_of(ops.rxq.data[0])->name).rfind("pkt-rx-", 0), 0u)
        << "net_ring's queue no longer starts with its ring";
    ASSERT_EQ(std::string(ring_of(ops.txq.data[0])->name).rfind("pkt-tx-", 0), 0u);
    if (ops.rx_pkt_burst != rx_annotated) {
      ASSERT_TRUE(g_ring_rx == nullptr || g_ring_rx == ops.rx_pkt_burst);
      g_ring_rx = ops.rx_pkt_burst;
      ops.rx_pkt_burst = rx_annotated;
    }
    if (ops.tx_pkt_burst != tx_annotated) {
      ASSERT_TRUE(g_ring_tx == nullptr || g_ring_tx == ops.tx_pkt_burst);
      g_ring_tx = ops.tx_pkt_burst;
      ops.tx_pkt_burst = tx_annotated;
    }
  }
}
#endif

// ---- addresses ----

std::string dotted(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 0xff) + "." +
         std::to_string(a >> 8 & 0xff) + "." + std::to_string(a & 0xff);
}
uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d;
}
MacAddr mac(uint8_t a, uint8_t b) {
  return MacAddr({0x02, 0x00, 0x00, 0x00, a, b});
}

// Besides the harness's topology: a second MAC for g1 and g2 (the control thread switches
// between them), a gateway g3 on p1 that is lost and found again, and the on-link hosts the
// static prefixes go to (a next hop nothing else uses, so a wrong answer shows).
const MacAddr kG1b = mac(0x02, 0xfd), kG2b = mac(0x03, 0xfd), kG3 = mac(0x02, 0xfc);
const MacAddr kH1s = mac(0x02, 0x03), kH2s = mac(0x03, 0x03);
constexpr const char* kG1Ip = "10.2.0.254";
constexpr const char* kG2Ip = "10.3.0.254";
constexpr const char* kG3Ip = "10.2.0.253";
constexpr const char* kH1sIp = "10.2.0.3";
constexpr const char* kH2sIp = "10.3.0.3";

// Transit: direction A enters p2 from h2 toward 10.112.0.0/12 (out p1), direction B enters p1
// from h1 toward 10.128.0.0/12 (out p2). Each /12 is 4096 /24 slots; every fourth is static.
constexpr unsigned kSlots = 4096;
constexpr uint32_t kBaseA = 10u << 24 | 112u << 16, kBaseB = 10u << 24 | 128u << 16;
bool is_static(unsigned slot) {
  return slot % 4 == 0;
}
Prefix slot_prefix(unsigned dir, unsigned slot) {
  return *Prefix::make(Ipv4Addr::from_host((dir == 0 ? kBaseA : kBaseB) + slot * 256), 24);
}

// Masquerade: 16 inside hosts on p0, out of p1 (address 10.2.0.1), remotes in 10.20.1-28.x
// (10.20.0.0/16 via g1; 10.20.30.0/24 goes elsewhere, so it is avoided).
constexpr unsigned kInsideHosts = 16;
uint32_t inside_ip(unsigned i) {
  return ip(10, 1, 0, static_cast<uint8_t>(10 + i));
}
MacAddr inside_mac(unsigned i) {
  return mac(0x01, static_cast<uint8_t>(0x10 + i));
}

struct NatFlow {
  unsigned host;
  uint16_t sport;
  uint32_t remote;
};
NatFlow nat_flow(unsigned f) {
  return {
      f % kInsideHosts, static_cast<uint16_t>(10000 + f / kInsideHosts),
      ip(10, 20, static_cast<uint8_t>(1 + (f * 7) % 28), static_cast<uint8_t>(1 + (f * 13) % 250))};
}

uint32_t be32(const Bytes& b, size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 | b[at + 3];
}
uint16_t be16(const Bytes& b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}
MacAddr dst_mac(const Bytes& b) {
  return MacAddr({b[0], b[1], b[2], b[3], b[4], b[5]});
}

// ---- the control thread ----

// Route states of a churned slot. A: absent (the /12 via g1), via h1, via g3, blackhole.
// B: absent (the /12 via g2), via h2, blackhole.
enum : uint8_t { kAbsent, kViaHost, kViaG3, kBlackhole };

class Control {
 public:
  explicit Control(Router& r) : r_(r), rng_(kSeed + 1) {}

  // Before the threads start: the extra neighbours, the /12s, every static slot, the churned
  // ones in random states, the NAT rules.
  void setup() {
    NeighbourResolver& nr = r_.dp().neighbours();
    nr.add_static(kP1, addr(kH1sIp), kH1s);
    nr.add_static(kP2, addr(kH2sIp), kH2s);
    for (unsigned i = 0; i < kInsideHosts; ++i)
      nr.add_static(kP0, Ipv4Addr::from_host(inside_ip(i)), inside_mac(i));
    // g3 is the kernel's (mirror mode): lost, it is asked for through the hook, not by ARP.
    nr.set_request_hook([this](uint16_t port, Ipv4Addr a) {
      if (port == kP1 && a == addr(kG3Ip)) g3_asked_ = true;
    });
    nr.kernel_resolved(kP1, addr(kG3Ip), kG3, now_);
    ForwardingState& fs = r_.dp().state();
    ForwardingState::Batch batch(fs);
    expect_ok(fs.replace_route(pfx("10.112.0.0", 12), via(kG1Ip)));
    expect_ok(fs.replace_route(pfx("10.128.0.0", 12), via(kG2Ip)));
    for (unsigned dir = 0; dir < 2; ++dir)
      for (unsigned s = 0; s < kSlots; ++s) {
        if (is_static(s)) {
          expect_ok(fs.replace_route(slot_prefix(dir, s), via(dir == 0 ? kH1sIp : kH2sIp)));
        } else {
          set_slot(dir, s, other_state(dir, 0xff));  // any state, absent too
        }
      }
    r_.dp().set_nat_rules(rules());
  }

  // The thread: kChurnOps route changes with the rest of the churn mixed in, then only
  // service() (and g3's answers) until told to stop.
  void run(const std::atomic<bool>& stop) {
    NeighbourResolver& nr = r_.dp().neighbours();
    ForwardingState& fs = r_.dp().state();
    bool g1_alt = false, g3_up = true;
    while (!stop.load(std::memory_order_acquire)) {
      if (ops_.load(std::memory_order_relaxed) < kChurnOps) {
        const unsigned round = ops_.load(std::memory_order_relaxed) / 16;
        {
          // Every other round of 16 changes shares one grace period.
          std::optional<ForwardingState::Batch> batch;
          if (round % 2 == 1) batch.emplace(fs);
          for (unsigned i = 0; i < 16; ++i) {
            const unsigned dir = rng_() % 2;
            unsigned s = rng_() % kSlots;
            if (is_static(s)) ++s;
            set_slot(dir, s, other_state(dir, state_[dir][s]));
          }
        }
        ops_.fetch_add(16, std::memory_order_relaxed);
        if (round % 8 == 0) {  // the gateways' MACs
          g1_alt = !g1_alt;
          nr.add_static(kP1, addr(kG1Ip), g1_alt ? kG1b : kG1);
          nr.add_static(kP2, addr(kG2Ip), g1_alt ? kG2b : kG2);
        }
        if (round % 16 == 5 && g3_up) {  // g3 goes away; its packets wait for it (punt)
          nr.kernel_failed(kP1, addr(kG3Ip), now_);
          g3_up = false;
        }
        if (round % 32 == 17) {
          r_.dp().set_nat_rules(rules());
          republished_.fetch_add(1, std::memory_order_relaxed);
        }
      }
      if (!g3_up && g3_asked_) {  // the kernel answers the next time round
        nr.kernel_resolved(kP1, addr(kG3Ip), kG3, now_);
        g3_up = true;
        g3_asked_ = false;
        g3_cycles_.fetch_add(1, std::memory_order_relaxed);
      }
      r_.dp().service(now_);
      now_ += 1.0 / 64;  // exact binary steps; service ticks every 0.1 s
      std::this_thread::yield();
    }
    // Nothing stays held for g3 (it can be waiting for its answer when the churn ends).
    if (!g3_up) nr.kernel_resolved(kP1, addr(kG3Ip), kG3, now_);
    r_.dp().service(now_);
  }

  unsigned ops() const { return ops_.load(std::memory_order_relaxed); }
  unsigned republished() const { return republished_.load(std::memory_order_relaxed); }
  unsigned g3_cycles() const { return g3_cycles_.load(std::memory_order_relaxed); }
  double now() const { return now_; }

  static nat::Rules rules() {
    nat::Rules r;
    r.masquerade.push_back({.prefix = parse_ip("10.1.0.0"), .len = 24, .out_port = kP1});
    return r;
  }

 private:
  static RouteTarget via(const char* gw) {
    RouteTarget t;
    t.gateway = addr(gw);
    return t;
  }
  static void expect_ok(const std::string& err) { EXPECT_EQ(err, ""); }

  // A random state for a churned slot of direction `dir`, other than `now`.
  uint8_t other_state(unsigned dir, uint8_t now) {
    static constexpr uint8_t kA[] = {kAbsent, kViaHost, kViaG3, kBlackhole};
    static constexpr uint8_t kB[] = {kAbsent, kViaHost, kBlackhole};
    for (;;) {
      const uint8_t st = dir == 0 ? kA[rng_() % 4] : kB[rng_() % 3];
      if (st != now) return st;
    }
  }

  void set_slot(unsigned dir, unsigned s, uint8_t st) {
    ForwardingState& fs = r_.dp().state();
    const Prefix p = slot_prefix(dir, s);
    switch (st) {
      case kAbsent:
        if (installed_[dir][s]) expect_ok(fs.del_route(p));
        break;
      case kViaHost: expect_ok(fs.replace_route(p, via(dir == 0 ? "10.2.0.2" : "10.3.0.2"))); break;
      case kViaG3: expect_ok(fs.replace_route(p, via(kG3Ip))); break;
      case kBlackhole: {
        RouteTarget t;
        t.kind = NextHopKind::kBlackhole;
        expect_ok(fs.replace_route(p, t));
        break;
      }
    }
    installed_[dir][s] = st != kAbsent;
    state_[dir][s] = st;
  }

  Router& r_;
  std::mt19937_64 rng_;
  double now_ = 1000.0;
  std::array<std::array<uint8_t, kSlots>, 2> state_{};
  std::array<std::array<bool, kSlots>, 2> installed_{};
  bool g3_asked_ = false;  // set by the resolver's hook, on this thread
  std::atomic<unsigned> ops_{0}, republished_{0}, g3_cycles_{0};
};

// ---- the hosts (the test thread) ----

class Hosts {
 public:
  explicit Hosts(Router& r) : r_(r), rng_(kSeed) {}

  // Direction and slot of transit frame `id`: alternating directions, random slots.
  Frame transit(uint32_t id) {
    const unsigned dir = id % 2;
    while (slot_of_.size() <= id) slot_of_.push_back(static_cast<uint16_t>(rng_() % kSlots));
    const uint32_t dst = (dir == 0 ? kBaseA : kBaseB) + slot_of_[id] * 256u + 1 + id % 250;
    const Bytes tag = {static_cast<uint8_t>(id >> 24),
                       static_cast<uint8_t>(id >> 16),
                       static_cast<uint8_t>(id >> 8),
                       static_cast<uint8_t>(id),
                       0x5e,
                       0xed};
    return dir == 0 ? Frame()
                          .eth(kH2, kRouterMac[2])
                          .ip4("10.3.0.2", dotted(dst))
                          .udp(7000, 9)
                          .payload(tag)
                    : Frame()
                          .eth(kH1, kRouterMac[1])
                          .ip4("10.2.0.2", dotted(dst))
                          .udp(7000, 9)
                          .payload(tag);
  }

  // Frames onto the RX rings while there is room: at most 192 waiting per port (so that the
  // replies do not wait long), and mbufs left in the pool.
  bool send(uint16_t port, const Bytes& b) {
    if (sent_[port] - taken_[port] >= 192 || rte_mempool_avail_count(r_.pool()) < 64) return false;
    r_.send_bytes(port, b);
    ++sent_[port];
    return true;
  }

  // One round of offering traffic: queued answers first, then new flows and transit.
  void offer(bool more_transit, bool more_flows) {
    for (uint16_t p = 0; p < kPorts; ++p) taken_[p] = rx_taken(p);
    while (!answers_.empty() && send(answers_.front().first, answers_.front().second))
      answers_.pop_front();
    for (unsigned i = 0; i < 8 && more_flows && flows_started_ < kNatFlows; ++i) {
      const NatFlow f = nat_flow(flows_started_);
      const Frame syn = Frame()
                            .eth(inside_mac(f.host), kRouterMac[0])
                            .ip4(dotted(inside_ip(f.host)), dotted(f.remote))
                            .tcp(f.sport, 80, flows_started_, 0, 0x02);
      if (!send(kP0, syn.bytes())) break;
      ++flows_started_;
    }
    for (unsigned i = 0; i < 32 && more_transit; ++i) {
      const uint32_t id = static_cast<uint32_t>(transit_sent_);
      if (!send(id % 2 == 0 ? kP2 : kP1, transit(id).bytes())) break;
      ++transit_sent_;
    }
  }

  // Everything the router sent so far, checked and answered.
  void drain() {
    for (uint16_t p = 0; p < kPorts; ++p) {
      void* objs[64];
      unsigned n;
      while ((n = rte_ring_sc_dequeue_burst(r_.tx_ring(p), objs, 64, nullptr)) > 0)
        for (unsigned i = 0; i < n; ++i) {
          auto* m = static_cast<rte_mbuf*>(objs[i]);
          Bytes b(rte_pktmbuf_pkt_len(m));
          ASSERT_EQ(m->nb_segs, 1);
          std::copy_n(rte_pktmbuf_mtod(m, const uint8_t*), b.size(), b.begin());
          rte_pktmbuf_free(m);
          got(p, b);
        }
    }
  }

  unsigned flows_started() const { return flows_started_; }
  unsigned flows_closed() const { return rst_seen_; }
  uint64_t transit_sent() const { return transit_sent_; }
  uint64_t transit_seen() const { return transit_seen_; }
  unsigned unexpected() const { return unexpected_; }
  const std::vector<uint8_t>& transit_copies() const { return transit_copies_; }
  bool answers_pending() const { return !answers_.empty(); }
  // The first connections that did not finish, and how far they got.
  std::string stuck() const {
    std::string out;
    unsigned n = 0;
    for (unsigned f = 0; f < flows_started_ && n < 5; ++f) {
      if (rst_done_[f]) continue;
      ++n;
      out += " #" + std::to_string(f) + (xport_[f] ? " SYN out" : " no SYN") +
             (synack_seen_[f] ? ", reply back" : "");
    }
    return out;
  }

 private:
  uint64_t rx_taken(uint16_t port) {
    rte_eth_stats st{};
    rte_eth_stats_get(r_.dp().ports()[port].ethdev, &st);
    return st.ipackets;
  }

  void fail(uint16_t port, const Bytes& b, const std::string& why) {
    if (++unexpected_ <= 5) ADD_FAILURE() << why << " on p" << port << ":\n" << hex_dump(b);
  }

  void got(uint16_t port, const Bytes& b) {
    if (b.size() < 14 + 20 + 8 || be16(b, 12) != 0x0800) return fail(port, b, "not IPv4");
    const uint8_t proto = b[23];
    const uint32_t src = be32(b, 26);
    if (proto == 17 && (port == kP1 || port == kP2)) return got_transit(port, b);
    if (proto == 6 && port == kP1 && src == parse_ip(kR1)) return got_nat_out(b);
    if (proto == 6 && port == kP0) return got_nat_back(b);
    fail(port, b, "a frame no traffic here explains");
  }

  void got_transit(uint16_t port, const Bytes& b) {
    if (b.size() < 14 + 20 + 8 + 6) return fail(port, b, "short transit frame");
    const uint32_t id = be32(b, 42);
    if (id >= transit_sent_) return fail(port, b, "transit frame never sent");
    const unsigned dir = id % 2;
    if (port != (dir == 0 ? kP1 : kP2)) return fail(port, b, "transit frame out of the wrong port");
    const MacAddr m = dst_mac(b);
    std::vector<MacAddr> legal;
    if (is_static(slot_of_[id]))
      legal = {dir == 0 ? kH1s : kH2s};
    else if (dir == 0)
      legal = {kG1, kG1b, kH1, kG3};
    else
      legal = {kG2, kG2b, kH2};
    if (std::find(legal.begin(), legal.end(), m) == legal.end())
      return fail(port, b, "transit frame to a MAC no state of its route gives");
    if (b != forwarded(transit(id), kRouterMac[port], m).bytes())
      return fail(port, b, "transit frame not forwarded as it should be");
    if (transit_copies_.size() <= id) transit_copies_.resize(id + 1);
    if (transit_copies_[id]++ != 0) return fail(port, b, "transit frame came out twice");
    ++transit_seen_;
  }

  // SYN or RST leaving p1, masqueraded.
  void got_nat_out(const Bytes& b) {
    const uint8_t flags = b[47];
    const uint32_t f = flags == 0x02 ? be32(b, 38) : be32(b, 38) - 1;
    if (f >= flows_started_ || (flags != 0x02 && flags != 0x04))
      return fail(kP1, b, "masqueraded frame of no flow");
    const NatFlow fl = nat_flow(f);
    const MacAddr m = dst_mac(b);
    if (m != kG1 && m != kG1b) return fail(kP1, b, "masqueraded frame not to g1");
    const uint16_t xport = be16(b, 34);
    if (flags == 0x02) {
      if (xport_[f] != 0) return fail(kP1, b, "SYN came out twice");
      xport_[f] = xport;
    } else if (xport != xport_[f] || !synack_seen_[f]) {
      return fail(kP1, b, "RST with another outside port, or before the SYN-ACK");
    }
    const Frame want = Frame()
                           .eth(kRouterMac[1], m)
                           .ip4(kR1, dotted(fl.remote))
                           .ttl(63)
                           .tcp(xport, 80, flags == 0x02 ? f : f + 1, 0, flags);
    if (b != want.bytes()) return fail(kP1, b, "masqueraded frame not translated as it should be");
    if (flags == 0x02) {
      // The remote answers (to the outside address and port).
      answers_.emplace_back(kP1, Frame()
                                     .eth(kG1, kRouterMac[1])
                                     .ip4(dotted(fl.remote), kR1)
                                     .tcp(80, xport, 7, f + 1, 0x12)
                                     .bytes());
    } else {
      if (rst_done_[f]) return fail(kP1, b, "RST came out twice");
      rst_done_[f] = true;
      ++rst_seen_;
    }
  }

  // SYN-ACK back to the inside host, the destination translated back.
  void got_nat_back(const Bytes& b) {
    const uint32_t f = be32(b, 42) - 1;
    if (f >= flows_started_ || xport_[f] == 0) return fail(kP0, b, "reply of no flow");
    const NatFlow fl = nat_flow(f);
    const Frame want = Frame()
                           .eth(kRouterMac[0], inside_mac(fl.host))
                           .ip4(dotted(fl.remote), dotted(inside_ip(fl.host)))
                           .ttl(63)
                           .tcp(80, fl.sport, 7, f + 1, 0x12);
    if (b != want.bytes()) return fail(kP0, b, "reply not translated back as it should be");
    if (synack_seen_[f]) return fail(kP0, b, "reply came out twice");
    synack_seen_[f] = true;
    // The inside host closes the connection.
    answers_.emplace_back(kP0, Frame()
                                   .eth(inside_mac(fl.host), kRouterMac[0])
                                   .ip4(dotted(inside_ip(fl.host)), dotted(fl.remote))
                                   .tcp(fl.sport, 80, f + 1, 0, 0x04)
                                   .bytes());
  }

  Router& r_;
  std::mt19937_64 rng_;
  std::vector<uint16_t> slot_of_;
  std::array<uint64_t, kPorts> sent_{}, taken_{};  // per RX ring: put on it, taken by a worker
  std::deque<std::pair<uint16_t, Bytes>> answers_;
  unsigned flows_started_ = 0, rst_seen_ = 0, unexpected_ = 0;
  uint64_t transit_sent_ = 0, transit_seen_ = 0;
  std::vector<uint8_t> transit_copies_;
  std::vector<uint16_t> xport_ = std::vector<uint16_t>(kNatFlows);  // 0: no SYN out yet
  std::vector<bool> synack_seen_ = std::vector<bool>(kNatFlows), rst_done_ = synack_seen_;
};

bool drained_quiet(Router& r, Hosts& hosts, double now) {
  // Single-threaded now: polls both graphs and the control side until nothing moves.
  uint64_t last = ~uint64_t{0};
  unsigned quiet = 0;
  for (unsigned round = 0; round < 100000 && quiet < 3; ++round) {
    r.dp().poll(0);
    r.dp().poll(1);
    r.dp().service(now);
    hosts.drain();
    uint64_t objs = 0;
    for (const NodeCounters& c : r.dp().node_counters()) objs += c.objs;
    quiet = objs == last ? quiet + 1 : 0;
    last = objs;
  }
  return quiet >= 3;
}

TEST(DataplaneConcurrency, TwoWorkersForwardAndTranslateWhileControlChurns) {
  RouterOptions o;
  o.workers = 2;  // w0 polls p0 and p2, w1 polls p1; each hands the other's TX to it
  // Fewer mbufs than any ring holds (TX rings: 1023, hand-off rings and inboxes: 2047): however
  // the threads are scheduled, no ring can overflow, so every drop is one the tables decide.
  o.mbufs = 1000;
  o.nat.timeouts.tcp_transitory = 600;  // nothing expires before it is closed...
  o.nat.timeouts.tcp_closed = 1;        // ...and a closed session soon after
#if SLUICE_TSAN
  ASSERT_EQ(rte_mbuf_set_user_mempool_ops("sluice_tsan_ring"), 0);
#endif
  auto router = std::make_unique<Router>(o);
  Router& r = *router;
#if SLUICE_TSAN
  annotate_ports(r.dp());
#endif
  Control control(r);
  control.setup();
  Hosts hosts(r);

  std::atomic<bool> stop_workers{false}, stop_control{false};
  std::array<std::atomic<uint64_t>, 2> walks{};
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < 2; ++w)
    workers.emplace_back([&, w] {
      while (!stop_workers.load(std::memory_order_acquire)) {
        r.dp().poll(w);
        walks[w].fetch_add(1, std::memory_order_relaxed);
        std::this_thread::yield();  // two cores are shared by four busy threads
      }
    });
  std::thread control_thread([&] { control.run(stop_control); });

  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  auto in_time = [&] { return std::chrono::steady_clock::now() < deadline; };
  // Traffic for as long as the churn lasts (and at least kMinTransit frames and every flow).
  unsigned ops_before = control.ops();
  while (in_time() && !::testing::Test::HasFatalFailure()) {
    const bool churning = control.ops() < kChurnOps;
    const bool more_transit = churning || hosts.transit_sent() < kMinTransit;
    const bool more_flows = hosts.flows_started() < kNatFlows;
    if (!more_transit && !more_flows) break;
    hosts.offer(more_transit, more_flows);
    hosts.drain();
    std::this_thread::yield();
  }
  const unsigned churn_during_traffic = control.ops() - ops_before;
  // Every connection answered and closed (given up when none closes for kStall: a lost packet
  // is not sent again); then every session expires (tcp_closed: 1 s).
  auto last_progress = std::chrono::steady_clock::now();
  for (unsigned closed = hosts.flows_closed();
       in_time() && !::testing::Test::HasFatalFailure() &&
       (hosts.flows_closed() < kNatFlows || hosts.answers_pending()) &&
       std::chrono::steady_clock::now() - last_progress < kStall;) {
    hosts.offer(false, false);
    hosts.drain();
    if (hosts.flows_closed() != closed) {
      closed = hosts.flows_closed();
      last_progress = std::chrono::steady_clock::now();
    }
    std::this_thread::yield();
  }
  EXPECT_EQ(hosts.flows_closed(), kNatFlows) << "connections never closed: " << hosts.stuck();
  while (in_time() && r.dp().nat_totals().sessions != 0) {
    hosts.drain();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const NatTotals during = r.dp().nat_totals();
  EXPECT_EQ(during.sessions, 0u) << "sessions never expired";

  stop_control.store(true, std::memory_order_release);
  control_thread.join();
  stop_workers.store(true, std::memory_order_release);
  for (std::thread& t : workers) t.join();
  EXPECT_TRUE(drained_quiet(r, hosts, control.now() + 1)) << "the router never went quiet";

  // The threads really overlapped.
  // (A walk takes at most 32 frames per queue: thousands of frames need far more than 10.)
  EXPECT_GT(walks[0].load(), 10u);
  EXPECT_GT(walks[1].load(), 10u);
  EXPECT_GE(control.ops(), kChurnOps);
  EXPECT_GT(churn_during_traffic, kChurnOps / 2) << "the churn hardly overlapped the traffic";
  EXPECT_GT(control.republished(), 0u);
  EXPECT_GT(control.g3_cycles(), 0u);

  // Every transit frame came out once, or was dropped where a legal state drops it.
  EXPECT_EQ(hosts.unexpected(), 0u);
  std::map<std::string, uint64_t> drops = r.drops();
  const uint64_t blackholed = drops["drop-ip4-blackhole"];
  drops.erase("drop-ip4-blackhole");
  for (const auto& [node, n] : drops) ADD_FAILURE() << n << " frames dropped by " << node;
  const NeighbourResolver::Counters nc = r.dp().neighbours().counters();
  const uint64_t held_dropped = nc.dropped_queue_full + nc.dropped_unresolved;
  EXPECT_EQ(nc.dropped_inject_full + nc.dropped_no_mbuf + nc.dropped_no_next_hop, 0u);
  EXPECT_GT(nc.released, 0u) << "no packet ever waited for g3";
  EXPECT_EQ(hosts.transit_seen() + blackholed + held_dropped, hosts.transit_sent())
      << hosts.transit_seen() << " transit frames out, " << blackholed << " blackholed, "
      << held_dropped << " dropped waiting for g3, of " << hosts.transit_sent();
  EXPECT_GT(blackholed, 0u);

  // Every connection: SYN out, reply back, RST out (checked frame by frame above); every session
  // created on its owner and expired there.
  const NatTotals t = r.dp().nat_totals();
  EXPECT_EQ(t.created, kNatFlows);
  EXPECT_EQ(t.expired, kNatFlows);
  EXPECT_EQ(t.sessions, 0u);
  EXPECT_EQ(t.translated, 3u * kNatFlows);
  EXPECT_EQ(t.filtered + t.table_full + t.ports_exhausted + t.flushed + t.handoff_full, 0u);
  EXPECT_GT(t.handoffs, 0u);
  EXPECT_EQ(r.pool_available(), r.pool_size()) << "mbufs leaked or still held";

  std::printf(
      "[          ] seed %#llx: %llu transit frames (%llu blackholed, %llu dropped held), %u "
      "connections, %u route changes (%u during traffic), %u rule swaps, %u g3 losses, %llu "
      "hand-offs, walks %llu/%llu\n",
      static_cast<unsigned long long>(kSeed), static_cast<unsigned long long>(hosts.transit_sent()),
      static_cast<unsigned long long>(blackholed), static_cast<unsigned long long>(held_dropped),
      kNatFlows, control.ops(), churn_during_traffic, control.republished(), control.g3_cycles(),
      static_cast<unsigned long long>(t.handoffs), static_cast<unsigned long long>(walks[0].load()),
      static_cast<unsigned long long>(walks[1].load()));
  router.reset();
#if SLUICE_TSAN
  rte_mbuf_set_user_mempool_ops(RTE_MBUF_DEFAULT_MEMPOOL_OPS);
#endif
}

}  // namespace
}  // namespace sluice::pkt
