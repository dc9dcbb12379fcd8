// traffic.h — the tester's traffic engine: paced transmission of the flow table's frames for a
// trial, reception and accounting of what comes back (sequence, latency, what is not ours), and
// the host duties in between (answering ARP and ping for the tester's addresses, resolving the
// gateway, gratuitous ARP for bridges).
//
// Threads: TX always runs on the calling (main) lcore. RX runs in the same loop by default (one
// CPU for the tester), or on a worker lcore if EAL has one: it then polls all the time, trials
// or not, and trial boundaries reach it through a request/acknowledge pair of atomics. Every
// transmission happens on the main lcore (a TX queue has one user): frames the receiver turns
// into replies (ARP, ICMP echo) reach it through an rte_ring.
#pragma once

#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "perf/linerate/flows.h"
#include "perf/linerate/frame_format.h"
#include "perf/linerate/latency_histogram.h"
#include "perf/linerate/stream_tracker.h"
#include "perf/linerate/tester_ports.h"

namespace sluice::linerate {

struct EngineConfig {
  TesterPort* tx = nullptr;
  TesterPort* rx = nullptr;  // == tx when one-armed
  std::optional<Ipv4Addr> tx_ip;
  AddrRange rx_ip{Ipv4Addr(), 0};
  int vlan = -1;
  unsigned burst = 32;
  uint32_t run_id = 0;
  const FlowTable* flows = nullptr;
  rte_mempool* pool = nullptr;
  unsigned rx_lcore = RTE_MAX_LCORE;        // a worker lcore for RX; RTE_MAX_LCORE: inline
  const std::atomic<bool>* stop = nullptr;  // set by SIGINT/SIGTERM
};

struct NotOurs {
  uint64_t arp = 0;
  uint64_t other = 0;
  uint64_t other_run = 0;  // signatures of another run id (within `other` too)
};

struct TrialRequest {
  uint32_t trial_id = 0;
  double rate = 0;  // pps
  double seconds = 0;
  const FrameSizes* sizes = nullptr;
  Mac dst_mac{};
  unsigned drain_ms = 500;
};

struct TrialOutcome {
  uint32_t trial_id = 0;
  double requested_pps = 0;
  double tx_seconds = 0;   // from the first TX opportunity to the last
  double offered_pps = 0;  // sent / tx_seconds
  uint64_t sent = 0;
  uint64_t unsent = 0;          // built but never accepted by the ethdev before the end
  uint64_t alloc_failures = 0;  // loop turns with frames due and no mbuf to build them in
  // TX bursts offered, and those the ethdev took only part of: a port (or, on veth, a DUT
  // pushing back through the sender's socket buffer) refusing frames, rather than the
  // tester's CPU, is what held the offered rate down when most bursts are short.
  uint64_t tx_bursts = 0;
  uint64_t tx_short_bursts = 0;
  StreamTracker::Totals rx;
  uint64_t lost = 0;
  bool excess = false;  // more unique frames received than sent
  uint64_t stale = 0;   // our run, another trial
  NotOurs not_ours;
  LatencyHistogram latency;
  EthStats tx_stats, rx_stats;  // deltas over the trial and its drain
  bool stalled = false;         // nothing could be sent for 1 s while frames were due
  bool link_bounced = false;    // ... and the AF_XDP interface was set down and up
  bool interrupted = false;     // SIGINT/SIGTERM
};

class RxSide;

class Engine {
 public:
  explicit Engine(const EngineConfig& cfg);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  TrialOutcome run_trial(const TrialRequest& req);
  // Answers ARP and ping for `seconds` (the RX lcore does anyway; inline, this polls).
  void service(double seconds);
  // ARP for `target` on the tx port: `tries` requests, `timeout_s` apart. A request from the
  // target (the DUT resolving us) answers too.
  std::optional<Mac> resolve(Ipv4Addr target, unsigned tries, double timeout_s);
  // 4 gratuitous ARPs from each port (from the rx port first), so that a bridge learns where
  // the tester's MACs are before frames are sent to them.
  void send_learning_frames();

  uint64_t tsc_hz() const { return hz_; }
  bool rx_on_own_lcore() const { return cfg_.rx_lcore != RTE_MAX_LCORE; }

 private:
  void rx_request(bool counting, uint32_t trial);
  void poll_once();  // inline RX (if so) and replies out
  void flush_replies();
  bool send_frame(uint16_t ethdev, const uint8_t* frame, size_t len);
  bool stopping() const { return cfg_.stop && cfg_.stop->load(std::memory_order_relaxed); }

  EngineConfig cfg_;
  uint64_t hz_;
  rte_ring* replies_ = nullptr;
  std::unique_ptr<RxSide> rx_;
  bool launched_ = false;
};

}  // namespace sluice::linerate
