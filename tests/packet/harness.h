// harness.h — a sluice router on DPDK ring ports, driven by the test thread: frames go in by
// enqueuing mbufs on a port's RX ring, the graph runs with Dataplane::poll(), the control
// thread's work with Dataplane::service() on an injected clock, and what the router sent is
// read back from each port's TX ring. EAL is initialised once per process (--no-huge).
//
// The topology every case starts from:
//   p0 10.1.0.1/24  host h0 10.1.0.2 (static neighbour)
//   p1 10.2.0.1/24  host h1 10.2.0.2, gateway g1 10.2.0.254 (static neighbours)
//   p2 10.3.0.1/24  host h2 10.3.0.2, gateway g2 10.3.0.254 (static neighbours)
//   10.20.0.0/16 via g1, 10.20.30.0/24 via g2 (longest prefix wins),
//   10.30.0.0/16 blackhole, 10.31.0.0/16 unreachable, 10.32.0.0/16 prohibit, no default route.
// Every port's MTU is 1500.
#pragma once

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/dataplane.h"
#include "tests/packet/frame.h"

namespace sluice::pkt {

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
  double tx_coalesce_us = 0;   // --tx-coalesce-us
  nat::EngineConfig nat = {};  // --nat-ports, --nat-sessions, timeouts
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
  // Walks worker `w`'s graph `times` times without the control thread (its rings fill up).
  void poll(unsigned times, unsigned w = 0) {
    for (unsigned i = 0; i < times; ++i) dp_->poll(w);
  }
  // Polls the graph and runs the control thread (at the current clock) until nothing moves.
  void run();
  // Moves the injected clock forward in steps of `step`, running at each one. Steps are binary
  // fractions so that the clock adds up exactly (ten steps of 0.1 do not make 1.0) and each
  // one reaches service()'s 0.1 s tick.
  void advance(double seconds, double step = 0.125);
  // Frames out: everything the port sent since the last call (drained, mbufs freed).
  std::vector<Bytes> received(uint16_t port);
  // Drains every TX ring; the frames per port.
  std::vector<std::vector<Bytes>> received_all();

  // Node counters since construction. drops(): every "drop-*" node that rose, and by how much.
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
  std::unique_ptr<Dataplane> dp_;
  unsigned pool_size_ = 0;
  double now_ = 1000.0;
};

// The fixture: a fresh router per case, and on the way out a check that every frame it sent
// was looked at and that every mbuf is back in the pool (no leak, nothing left held).
class PacketTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Rebuilds the router with other options (counters and clock start over).
  void rebuild(const RouterOptions& opt);

  Router& r() { return *router_; }
  // Destroys the router as it is, without TearDown's run and checks (cases about shutdown).
  void destroy_router() { router_.reset(); }

  // Sends `in` on `port`, runs, and checks that exactly `out` left (per port, in order) and
  // that exactly the drop counters `drops` rose. Returns false (with failures recorded) if not.
  void expect(uint16_t port, const Frame& in, const std::vector<std::pair<uint16_t, Frame>>& out,
              const std::map<std::string, uint64_t>& drops = {});
  // Checks what the router sent since the last check against `out` (per port, in order), and
  // returns it (per port).
  std::vector<std::vector<Bytes>> expect_sent(const std::vector<std::pair<uint16_t, Frame>>& out);
  void expect_drops(const std::map<std::string, uint64_t>& drops);

 private:
  std::unique_ptr<Router> router_;
  std::map<std::string, uint64_t> drops_seen_;
};

// One table row: a frame in on a port, the configuration change it needs (if any), the frames
// expected out (port, frame, in order per port), the drop counters expected to rise (exactly
// these, by exactly this much) and any other node counters expected (absolute values).
struct Case {
  std::string name = {};
  uint16_t port = kP0;
  Frame in = {};
  std::vector<std::pair<uint16_t, Frame>> out = {};
  std::map<std::string, uint64_t> drops = {};
  std::map<std::string, uint64_t> counters = {};
  std::function<void(Router&)> setup = {};
};

// The table-driven test: each file instantiates it with its own rows.
class CaseTest : public PacketTest, public ::testing::WithParamInterface<Case> {};
std::string case_name(const ::testing::TestParamInfo<Case>& info);

// Byte-for-byte comparison with a hex dump of both sides and the first difference.
::testing::AssertionResult SameFrame(const Bytes& expected, const Bytes& actual);

// The frames the router sends, built from the frames it was given.
// `in` forwarded one hop: new Ethernet header, TTL one less, no padding, the header checksum
// computed from scratch.
Frame forwarded(const Frame& in, MacAddr src, MacAddr dst);
// The ICMP error the router sends about `in` (as received), from `from` to `to`.
Frame icmp_error_about(const Frame& in, MacAddr src, MacAddr dst, const char* from, const char* to,
                       uint8_t type, uint8_t code, uint16_t mtu = 0);
// A broadcast ARP request from the router's port `port` for `target`, from `sender_ip`.
Frame arp_request_from_router(uint16_t port, const char* sender_ip, const char* target);

}  // namespace sluice::pkt
