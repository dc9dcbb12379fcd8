// ring_router.h — a sluice router on DPDK ring ports, driven by the calling thread: frames go
// in by enqueuing mbufs on a port's RX ring, the graph runs with Dataplane::poll(), the control
// thread's work with Dataplane::service() on an injected clock, and what the router sent is
// read back from each port's TX ring. Free of GoogleTest (errors are exceptions), so that the
// packet tests (harness.h) and the packet-graph fuzz target (tests/fuzz/) share it.
//
// The topology every router starts from:
//   p0 10.1.0.1/24  host h0 10.1.0.2 (static neighbour)
//   p1 10.2.0.1/24  host h1 10.2.0.2, gateway g1 10.2.0.254 (static neighbours)
//   p2 10.3.0.1/24  host h2 10.3.0.2, gateway g2 10.3.0.254 (static neighbours)
//   10.20.0.0/16 via g1, 10.20.30.0/24 via g2 (longest prefix wins),
//   10.30.0.0/16 blackhole, 10.31.0.0/16 unreachable, 10.32.0.0/16 prohibit, no default route.
// Every port's MTU is 1500.
#pragma once

#include <rte_graph.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/dataplane.h"
#include "tests/packet/frame.h"

namespace sluice::pkt {

// EAL for the whole process, once (later calls do nothing): no hugepages, no PCI scan, no
// shared files, one lcore (the calling thread drives the graph itself). Throws if it fails.
void init_eal();

inline constexpr uint16_t kP0 = 0, kP1 = 1, kP2 = 2;
inline constexpr unsigned kPorts = 3;

// Locally administered addresses, distinct per role so a wrong MAC is obvious in a dump.
inline constexpr MacAddr kRouterMac[kPorts] = {
    MacAddr({0x02, 0x00, 0x00, 0x00, 0x00, 0x10}),
    MacAddr({0x02, 0x00, 0x00, 0x00, 0x00, 0x11}),
    MacAddr({0x02, 0x00, 0x00, 0x00, 0x00, 0x12}),
};
inline constexpr MacAddr kH0({0x02, 0x00, 0x00, 0x00, 0x01, 0x02});
inline constexpr MacAddr kH1({0x02, 0x00, 0x00, 0x00, 0x02, 0x02});
inline constexpr MacAddr kH2({0x02, 0x00, 0x00, 0x00, 0x03, 0x02});
inline constexpr MacAddr kG1({0x02, 0x00, 0x00, 0x00, 0x02, 0xfe});
inline constexpr MacAddr kG2({0x02, 0x00, 0x00, 0x00, 0x03, 0xfe});
inline constexpr MacAddr kStranger({0x02, 0x00, 0x00, 0x00, 0x09, 0x09});  // ARP-learned hosts
inline constexpr MacAddr kBroadcast({0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
inline constexpr MacAddr kZeroMac{};

inline constexpr const char* kR0 = "10.1.0.1";
inline constexpr const char* kR1 = "10.2.0.1";
inline constexpr const char* kR2 = "10.3.0.1";

inline Ipv4Addr addr(const char* s) {
  return Ipv4Addr::from_host(parse_ip(s));
}
inline Prefix pfx(const char* s, unsigned len) {
  return *Prefix::make(addr(s), len);
}

struct RouterOptions {
  uint64_t icmp_errors_per_second = 1000, icmp_error_burst = 50;
  unsigned mbufs = 8192;
  unsigned ring_size = 1024;  // each port's RX and TX ring
  unsigned workers = 1;       // ring ports have one queue: more workers share it (TX hand-off)
  uint64_t multipath_seed = 0x5eed;  // fixed, so that which flow takes which path repeats
  // Ports p3, p4, ... after the three above: no address, MAC 02:00:00:00:00:13, :14, ...
  // (the bridging cases make them bridge members).
  unsigned extra_ports = 0;
  uint32_t fdb_size = 65535;
  double tx_coalesce_us = 0;                  // --tx-coalesce-us
  nat::EngineConfig nat = {};                 // --nat-ports, --nat-sessions, timeouts
  NeighbourResolver::Config neighbours = {};  // ARP retries and holds
};

// The MAC of ring port p (kRouterMac for the first three).
inline MacAddr port_mac(uint16_t p) {
  return MacAddr({0x02, 0x00, 0x00, 0x00, 0x00, static_cast<uint8_t>(0x10 + p)});
}

// One router and its three ring ports.
class Router {
 public:
  explicit Router(const RouterOptions& opt = {});
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  Dataplane& dp() { return *dp_; }
  uint16_t ports() const { return static_cast<uint16_t>(tx_.size()); }
  double now() const { return now_; }

  // Frames in. `headroom` (bytes before the frame in the mbuf) defaults to DPDK's.
  void send(uint16_t port, const Frame& f) { send_bytes(port, f.bytes()); }
  void send_bytes(uint16_t port, const Bytes& b, uint16_t headroom = RTE_PKTMBUF_HEADROOM);
  void send_segmented(uint16_t port, const Bytes& b, size_t first_segment_len);
  // The frame in a heap buffer exactly as long as it (after DPDK's headroom), attached to a
  // pool mbuf as an external buffer, so that AddressSanitizer reports any read past the frame's
  // end; in a pool mbuf such a read lands, unseen, in the rest of the buffer.
  void send_exact(uint16_t port, const uint8_t* frame, size_t len);
  void send_exact(uint16_t port, const Bytes& b) { send_exact(port, b.data(), b.size()); }
  // Walks worker `w`'s graph `times` times without the control thread (its rings fill up).
  void poll(unsigned times, unsigned w = 0) {
    for (unsigned i = 0; i < times; ++i) dp_->poll(w);
  }
  // An mbuf the caller built, onto port's RX ring (the caller's until it is enqueued). Throws,
  // after freeing it, if the ring is full.
  void send_mbuf(uint16_t port, rte_mbuf* m);
  // Polls the graph and runs the control thread (at the current clock) until nothing moves.
  // Throws if it never does.
  void run();
  // Moves the injected clock forward in steps of `step`, running at each one. Steps are binary
  // fractions so that the clock adds up exactly (ten steps of 0.1 do not make 1.0) and each
  // one reaches service()'s 0.1 s tick.
  void advance(double seconds, double step = 0.125);
  // Frames out: everything the port sent since the last call (drained, mbufs freed).
  std::vector<Bytes> received(uint16_t port);
  // Drains every TX ring; the frames per port.
  std::vector<std::vector<Bytes>> received_all();

  // Node counters since construction (counter() throws for a name no node has). drops(): every
  // "drop-*" node that rose, and by how much.
  uint64_t counter(const std::string& node) const;
  std::map<std::string, uint64_t> drops() const;
  NeighbourResolver::Counters neighbour() { return dp_->neighbours().counters(); }

  // Mbufs: what the pool holds now, and its size (equal when nothing is in flight or held).
  unsigned pool_available() const;
  unsigned pool_size() const { return pool_size_; }
  rte_mempool* pool() { return dp_->pool(); }
  rte_ring* tx_ring(uint16_t port) { return tx_[port]; }

  void set_mtu(uint16_t port, uint16_t mtu) { dp_->state().mutable_port(port).mtu.store(mtu); }

 private:
  uint64_t total_objs() const;
  void drain(rte_ring* r);

  std::vector<rte_ring*> rx_, tx_;
  std::vector<const rte_node*> nodes_;  // every node of every worker's graph
  std::unique_ptr<Dataplane> dp_;
  unsigned pool_size_ = 0;
  double now_ = 1000.0;
};

}  // namespace sluice::pkt
