// traffic.cpp — the TX pacing loop, the RX accounting and the host duties.
#include "perf/linerate/traffic.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_mbuf.h>
#include <rte_pause.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "perf/linerate/host_frames.h"

namespace sluice::linerate {

// ---- the receiver -------------------------------------------------------------------------
// Owns the trial's accounting. Runs on the RX lcore or inline; control requests (begin/end a
// trial, resolve a MAC) are applied at the top of its loop, so the accounting is only ever
// touched by one thread at a time: the RX lcore while a trial runs, the main lcore once the
// end request is acknowledged.
class RxSide {
 public:
  static constexpr unsigned kBurst = 64;

  RxSide(const EngineConfig& cfg, rte_ring* replies, uint64_t hz)
      : cfg_(cfg),
        replies_(replies),
        tracker_(cfg.flows->size()),
        ns_per_cycle_(1e9 / static_cast<double>(hz)) {
    ports_[0] = {cfg.tx->ethdev, true, cfg.rx == cfg.tx};
    n_ports_ = 1;
    if (cfg.rx != cfg.tx) ports_[n_ports_++] = {cfg.rx->ethdev, false, true};
  }

  // ---- requests from the main lcore ----
  std::atomic<uint64_t> req{0}, ack{0};
  uint32_t req_trial = 0;  // written before req is released
  bool req_counting = false;
  std::atomic<uint32_t> want_ip{0};   // host order; 0: resolving nothing
  std::atomic<uint64_t> resolved{0};  // bit 63 set: bits 0-47 are the MAC of want_ip
  std::atomic<bool> quit{false};

  void apply_requests() {
    const uint64_t r = req.load(std::memory_order_acquire);
    if (r == applied_) return;
    if (req_counting) {
      tracker_.reset();
      hist_.reset();
      stale_ = 0;
      not_ours_ = {};
    }
    trial_ = req_trial;
    counting_ = req_counting;
    applied_ = r;
    ack.store(r, std::memory_order_release);
  }

  void poll() {
    for (unsigned i = 0; i < n_ports_; ++i) {
      rte_mbuf* m[kBurst];
      const uint16_t n = rte_eth_rx_burst(ports_[i].ethdev, 0, m, kBurst);
      if (n == 0) continue;
      const uint64_t now = rte_rdtsc();  // right after the burst: the frames' arrival time
      for (uint16_t j = 0; j < n; ++j) handle(m[j], ports_[i], now);
    }
  }

  // ---- results, valid after an end request is acknowledged ----
  const StreamTracker& tracker() const { return tracker_; }
  const LatencyHistogram& histogram() const { return hist_; }
  uint64_t stale() const { return stale_; }
  const NotOurs& not_ours() const { return not_ours_; }

 private:
  struct Port {
    uint16_t ethdev;
    bool is_tx, is_rx;
  };

  bool mine(const Port& p, Ipv4Addr a) const {
    if (p.is_tx && cfg_.tx_ip && a == *cfg_.tx_ip) return true;
    return p.is_rx && cfg_.rx_ip.count != 0 && a.host() >= cfg_.rx_ip.base.host() &&
           a.host() - cfg_.rx_ip.base.host() < cfg_.rx_ip.count;
  }

  void handle(rte_mbuf* m, const Port& port, uint64_t now) {
    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
    const size_t len = rte_pktmbuf_data_len(m);
    Stamp s;
    const ParseContext ctx{cfg_.run_id, trial_, tracker_.flows(), now};
    switch (parse_frame(d, len, ctx, &s)) {
      case ParseResult::kOurs:
        if (counting_) {
          if (s.trial == trial_) {
            tracker_.on_rx(s.flow, s.seq);
            const uint64_t cycles = now > s.tx_tsc ? now - s.tx_tsc : 0;
            hist_.record(static_cast<uint64_t>(static_cast<double>(cycles) * ns_per_cycle_));
          } else {
            ++stale_;
          }
        }
        rte_pktmbuf_free(m);
        return;
      case ParseResult::kForeignRun:
        if (counting_) {
          ++not_ours_.other;
          ++not_ours_.other_run;
        }
        rte_pktmbuf_free(m);
        return;
      case ParseResult::kNotOurs: break;
    }
    ArpInfo arp;
    if (parse_arp(d, len, &arp)) {
      if (counting_) ++not_ours_.arp;
      const uint32_t want = want_ip.load(std::memory_order_relaxed);
      if (want != 0 && arp.sender_ip.host() == want) {
        uint64_t mac = 0;
        std::memcpy(&mac, arp.sender_mac.data(), 6);
        resolved.store(mac | uint64_t{1} << 63, std::memory_order_release);
      }
      // A request for one of our addresses, not an announcement (sender == target).
      if (arp.op == 1 && arp.sender_ip != arp.target_ip && mine(port, arp.target_ip)) {
        arp_request_to_reply(d, arp, port_mac(port));
        reply(m, port);
        return;
      }
      rte_pktmbuf_free(m);
      return;
    }
    if (counting_) ++not_ours_.other;
    if (icmp_echo_to_reply(d, len, [&](Ipv4Addr a) { return mine(port, a); })) {
      reply(m, port);
      return;
    }
    rte_pktmbuf_free(m);
  }

  const Mac& port_mac(const Port& p) const { return p.is_tx ? cfg_.tx->mac : cfg_.rx->mac; }

  void reply(rte_mbuf* m, const Port& p) {
    m->port = p.ethdev;  // where the main lcore sends it
    if (rte_ring_sp_enqueue(replies_, m) != 0) rte_pktmbuf_free(m);
  }

  const EngineConfig& cfg_;
  rte_ring* replies_;
  Port ports_[2];
  unsigned n_ports_ = 0;
  StreamTracker tracker_;
  LatencyHistogram hist_;
  uint64_t stale_ = 0;
  NotOurs not_ours_;
  uint32_t trial_ = 0;
  bool counting_ = false;
  uint64_t applied_ = 0;
  double ns_per_cycle_;
};

namespace {

int rx_lcore_main(void* arg) {
  auto* rx = static_cast<RxSide*>(arg);
  while (!rx->quit.load(std::memory_order_relaxed)) {
    rx->apply_requests();
    rx->poll();
  }
  return 0;
}

double seconds_since(uint64_t t0, uint64_t hz) {
  return static_cast<double>(rte_rdtsc() - t0) / static_cast<double>(hz);
}

}  // namespace

// ---- the engine ---------------------------------------------------------------------------
Engine::Engine(const EngineConfig& cfg) : cfg_(cfg), hz_(rte_get_tsc_hz()) {
  static std::atomic<unsigned> n{0};
  const std::string name = "lrt-replies" + std::to_string(n++);
  replies_ = rte_ring_create(name.c_str(), 1024, static_cast<int>(rte_socket_id()),
                             RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (replies_ == nullptr)
    throw std::runtime_error(std::string("cannot create the replies ring: ") +
                             rte_strerror(rte_errno));
  rx_ = std::make_unique<RxSide>(cfg_, replies_, hz_);
  if (rx_on_own_lcore()) {
    if (rte_eal_remote_launch(rx_lcore_main, rx_.get(), cfg_.rx_lcore) != 0)
      throw std::runtime_error("cannot start the receiver on lcore " +
                               std::to_string(cfg_.rx_lcore));
    launched_ = true;
  }
}

Engine::~Engine() {
  if (launched_) {
    rx_->quit.store(true);
    rte_eal_wait_lcore(cfg_.rx_lcore);
  }
  void* m;
  while (rte_ring_dequeue(replies_, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  rte_ring_free(replies_);
}

void Engine::rx_request(bool counting, uint32_t trial) {
  rx_->req_trial = trial;
  rx_->req_counting = counting;
  const uint64_t r = rx_->req.load(std::memory_order_relaxed) + 1;
  rx_->req.store(r, std::memory_order_release);
  if (!rx_on_own_lcore()) {
    rx_->apply_requests();
    return;
  }
  while (rx_->ack.load(std::memory_order_acquire) != r) {
    flush_replies();
    rte_pause();
  }
}

void Engine::flush_replies() {
  void* m[32];
  const unsigned n = rte_ring_dequeue_burst(replies_, m, 32, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    auto* mb = static_cast<rte_mbuf*>(m[i]);
    if (rte_eth_tx_burst(mb->port, 0, &mb, 1) == 0) rte_pktmbuf_free(mb);
  }
}

void Engine::poll_once() {
  if (!rx_on_own_lcore()) rx_->poll();
  flush_replies();
}

void Engine::service(double seconds) {
  const uint64_t t0 = rte_rdtsc();
  while (seconds_since(t0, hz_) < seconds && !stopping()) poll_once();
}

bool Engine::send_frame(uint16_t ethdev, const uint8_t* frame, size_t len) {
  rte_mbuf* m = rte_pktmbuf_alloc(cfg_.pool);
  if (m == nullptr) return false;
  char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(len));
  if (d == nullptr) {
    rte_pktmbuf_free(m);
    return false;
  }
  std::memcpy(d, frame, len);
  for (int i = 0; i < 100; ++i) {
    if (rte_eth_tx_burst(ethdev, 0, &m, 1) == 1) return true;
    poll_once();
  }
  rte_pktmbuf_free(m);
  return false;
}

std::optional<Mac> Engine::resolve(Ipv4Addr target, unsigned tries, double timeout_s) {
  rx_->resolved.store(0);
  rx_->want_ip.store(target.host());
  uint8_t f[kArpFrame];
  build_arp_request(f, cfg_.vlan, cfg_.tx->mac, cfg_.tx_ip.value_or(Ipv4Addr()), target);
  std::optional<Mac> out;
  for (unsigned t = 0; t < tries && !out && !stopping(); ++t) {
    send_frame(cfg_.tx->ethdev, f, sizeof f);
    const uint64_t t0 = rte_rdtsc();
    while (seconds_since(t0, hz_) < timeout_s && !stopping()) {
      poll_once();
      const uint64_t r = rx_->resolved.load(std::memory_order_acquire);
      if (r >> 63) {
        Mac m;
        std::memcpy(m.data(), &r, 6);
        out = m;
        break;
      }
    }
  }
  rx_->want_ip.store(0);
  return out;
}

void Engine::send_learning_frames() {
  uint8_t f[kArpFrame];
  const Ipv4Addr rx_ip = cfg_.rx_ip.count ? cfg_.rx_ip.base : cfg_.tx_ip.value_or(Ipv4Addr());
  const Ipv4Addr tx_ip = cfg_.tx_ip.value_or(rx_ip);
  build_gratuitous_arp(f, cfg_.vlan, cfg_.rx->mac, rx_ip);
  for (int i = 0; i < 4; ++i) send_frame(cfg_.rx->ethdev, f, sizeof f);
  if (cfg_.rx == cfg_.tx) return;
  build_gratuitous_arp(f, cfg_.vlan, cfg_.tx->mac, tx_ip);
  for (int i = 0; i < 4; ++i) send_frame(cfg_.tx->ethdev, f, sizeof f);
}

// The TX loop. Pacing by TSC tokens: by time t the trial owes floor(t x rate) frames; each turn
// builds what is owed, at most a burst, and offers it. Frames the ethdev does not take stay
// queued here and are offered again (with a new timestamp: latency should not include the
// tester's own wait), so a port that cannot keep up shows as an offered rate below the
// request, never as frames silently skipped. After an interruption (the CPU taken away) the
// owed frames go out in bursts until the count is caught up.
TrialOutcome Engine::run_trial(const TrialRequest& req) {
  TrialOutcome out;
  out.trial_id = req.trial_id;
  out.requested_pps = req.rate;
  const unsigned burst = std::min<unsigned>(cfg_.burst, 512);

  // One template per entry of the size pattern (12 for IMIX), with this trial's id in it.
  const L2Params l2{req.dst_mac, cfg_.tx->mac, cfg_.vlan};
  std::vector<FrameTemplate> tmpl;
  for (uint16_t size : req.sizes->pattern) tmpl.emplace_back(l2, size, cfg_.run_id, req.trial_id);
  const size_t pattern = tmpl.size();

  rx_request(true, req.trial_id);
  const EthStats tx0 = cfg_.tx->stats();
  const EthStats rx0 = cfg_.rx->stats();

  FlowTable::Cursor cur(*cfg_.flows);
  size_t pi = 0;       // position in the size pattern
  uint64_t built = 0;  // frames built: the trial's packet index of the next one
  rte_mbuf* pend[512];
  uint8_t pend_t[512];  // each pending frame's template (its place in the pattern)
  unsigned npend = 0;
  const double per_cycle = req.rate / static_cast<double>(hz_);
  const uint64_t t0 = rte_rdtsc();
  const uint64_t end = t0 + static_cast<uint64_t>(req.seconds * static_cast<double>(hz_));
  uint64_t last_ok = t0;
  uint64_t now = t0;
  while (true) {
    now = rte_rdtsc();
    if (now >= end) break;
    if (stopping()) {
      out.interrupted = true;
      break;
    }
    const uint64_t owed = static_cast<uint64_t>(static_cast<double>(now - t0) * per_cycle);
    const uint64_t due = owed > out.sent ? owed - out.sent : 0;
    if (npend > 0) {
      // Left over from the last turn: they go out now, so they are stamped now.
      const uint64_t ts = rte_rdtsc();
      for (unsigned i = 0; i < npend; ++i)
        tmpl[pend_t[i]].restamp(rte_pktmbuf_mtod(pend[i], uint8_t*), ts);
    }
    const unsigned want = static_cast<unsigned>(std::min<uint64_t>(due, burst));
    if (want > npend) {
      const unsigned n = want - npend;
      if (rte_pktmbuf_alloc_bulk(cfg_.pool, pend + npend, n) == 0) {
        for (unsigned i = npend; i < want; ++i) {
          rte_mbuf* m = pend[i];
          const FrameTemplate& t = tmpl[pi];
          t.write(rte_pktmbuf_mtod(m, uint8_t*), cur.flow(), cur.index(), cur.round(), built,
                  rte_rdtsc());
          m->data_len = t.length();
          m->pkt_len = t.length();
          pend_t[i] = static_cast<uint8_t>(pi);
          ++built;
          cur.next();
          if (++pi == pattern) pi = 0;
        }
        npend = want;
      } else {
        ++out.alloc_failures;
      }
    }
    if (npend > 0) {
      const uint16_t sent =
          rte_eth_tx_burst(cfg_.tx->ethdev, 0, pend, static_cast<uint16_t>(npend));
      ++out.tx_bursts;
      if (sent < npend) ++out.tx_short_bursts;
      if (sent > 0) {
        out.sent += sent;
        npend -= sent;
        if (npend > 0) {
          std::memmove(pend, pend + sent, npend * sizeof(rte_mbuf*));
          std::memmove(pend_t, pend_t + sent, npend);
        }
        last_ok = now;
      }
    }
    if (due == 0) last_ok = now;
    if (now - last_ok > hz_) {
      // Nothing at all for a second while frames were owed: the port is stuck, not slow.
      out.stalled = true;
      break;
    }
    poll_once();
  }
  out.tx_seconds = static_cast<double>(now - t0) / static_cast<double>(hz_);
  out.unsent = npend;
  if (npend > 0) rte_pktmbuf_free_bulk(pend, npend);

  // The drain: the receiver keeps counting what is still in flight.
  const uint64_t d0 = rte_rdtsc();
  while (seconds_since(d0, hz_) * 1000 < req.drain_ms && !stopping()) poll_once();
  if (stopping()) out.interrupted = true;
  rx_request(false, req.trial_id);

  out.tx_stats = cfg_.tx->stats() - tx0;
  out.rx_stats = cfg_.rx->stats() - rx0;
  out.offered_pps = out.tx_seconds > 0 ? static_cast<double>(out.sent) / out.tx_seconds : 0;
  out.rx = rx_->tracker().totals();
  out.lost = rx_->tracker().lost(out.sent);
  out.excess = rx_->tracker().excess(out.sent);
  out.stale = rx_->stale();
  out.not_ours = rx_->not_ours();
  out.latency = rx_->histogram();

  if (out.stalled && cfg_.tx->af_xdp) {
    // On kernel 6.18 an AF_XDP sender on veth whose peer runs XDP can have its queue stopped
    // for good: veth stops the TX queue when the peer's ring is full and the wake-up never
    // comes (perf/forward/README.md, "Stalls"). Setting the interface down and up restarts the
    // queue; the caller runs the trial again.
    out.link_bounced = cfg_.tx->bounce_link(5.0);
    service(0.2);
  }
  return out;
}

}  // namespace sluice::linerate
