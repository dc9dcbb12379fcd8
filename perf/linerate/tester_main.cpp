// tester_main.cpp — sluice-tester: the RFC 2544 harness's generator and sink. Options, EAL,
// the ports, then per frame size a warm-up and either one fixed-rate trial or the throughput
// search (and a latency trial at the rate found); one JSON document at the end (also when
// interrupted), one line per trial on stderr.
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane/mbuf_pool.h"
#include "perf/linerate/rfc2544_search.h"
#include "perf/linerate/tester_options.h"
#include "perf/linerate/tester_ports.h"
#include "perf/linerate/traffic.h"

namespace {

using json = nlohmann::ordered_json;
using namespace sluice::linerate;

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop.store(true);
}

constexpr double kEthernetOverhead = 20;  // preamble + SFD (8) and inter-frame gap (12), bytes

json latency_json(const LatencySummary& s) {
  return {
      {"count", s.count},     {"min_ns", s.min_ns}, {"mean_ns", std::round(s.mean_ns * 10) / 10},
      {"p50_ns", s.p50_ns},   {"p90_ns", s.p90_ns}, {"p99_ns", s.p99_ns},
      {"p999_ns", s.p999_ns}, {"max_ns", s.max_ns}};
}

json latency_json(const LatencyHistogram& h) {
  json j = latency_json(LatencySummary::of(h));
  json buckets = json::array();
  for (const auto& [upper, count] : h.buckets()) buckets.push_back({upper, count});
  j["histogram"] = std::move(buckets);
  return j;
}

json stats_json(const EthStats& s) {
  return {{"ipackets", s.ipackets},
          {"opackets", s.opackets},
          {"imissed", s.imissed},
          {"ierrors", s.ierrors},
          {"oerrors", s.oerrors},
          {"rx_nombuf", s.rx_nombuf},
          {"kernel_rx_dropped", s.kernel_rx_dropped},
          {"kernel_tx_dropped", s.kernel_tx_dropped}};
}

std::string pps_str(double v) {
  return format_pps(v);
}

// One trial as the search (or the fixed-rate mode) sees it, plus the outcome the JSON needs.
struct TrialRecord {
  TrialOutcome outcome;
  TrialResult result;
};

json trial_json(unsigned n, const TrialRecord& r) {
  const TrialOutcome& o = r.outcome;
  const TrialResult& t = r.result;
  return {
      {"n", n},
      {"trial_id", t.trial_id},
      {"requested_pps", std::round(t.requested_pps)},
      {"offered_pps", std::round(t.offered_pps * 10) / 10},
      {"seconds", std::round(t.seconds * 1e6) / 1e6},
      {"sent", t.sent},
      {"received", t.received},
      {"lost", t.lost},
      {"loss", t.loss},
      {"reordered", t.reordered},
      {"duplicates", t.duplicates},
      {"stale", o.stale},
      {"not_ours",
       {{"arp", o.not_ours.arp}, {"other", o.not_ours.other}, {"other_run", o.not_ours.other_run}}},
      {"latency", latency_json(t.latency)},
      {"tx_port", stats_json(o.tx_stats)},
      {"rx_port", stats_json(o.rx_stats)},
      {"passed", t.passed},
      {"valid", t.valid},
      {"why", t.why},
      {"generator_limited", t.generator_limited},
      {"unsent", o.unsent},
      {"alloc_failures", o.alloc_failures},
      {"tx_bursts", o.tx_bursts},
      {"tx_short_bursts", o.tx_short_bursts},
      {"unknown_flow", o.rx.unknown_flow},
      {"received_more_than_sent", o.excess},
      {"stalled", o.stalled},
      {"link_bounced", o.link_bounced}};
}

class Runner {
 public:
  Runner(const TesterOptions& o, Engine& e, const FlowTable& flows, const TesterPort& tx,
         const TesterPort& rx, const Mac& dst_mac)
      : o_(o), e_(e), flows_(flows), tx_(tx), rx_(rx), dst_mac_(dst_mac) {}

  // The highest rate the search starts from: --max-rate, or the line rate of the size at the
  // slower port's link speed. 0 if neither.
  double max_rate(const FrameSizes& s) const {
    if (o_.max_rate > 0) return o_.max_rate;
    uint32_t mbps = 0;
    if (tx_.link_speed_mbps && rx_.link_speed_mbps)
      mbps = std::min(tx_.link_speed_mbps, rx_.link_speed_mbps);
    else
      mbps = std::max(tx_.link_speed_mbps, rx_.link_speed_mbps);
    return mbps ? mbps * 1e6 / ((s.mean() + kEthernetOverhead) * 8) : 0;
  }

  // Returns the result object; sets *ok false if the size did not produce a result.
  json run_size(const FrameSizes& size, bool* ok) {
    json res;
    res["size"] = size.name;
    res["frame_bytes_mean"] = size.mean();
    res["mode"] = o_.search ? "search" : "rate";
    if (size.name == "imix") res["frame_pattern"] = size.pattern;
    const double maxr = o_.search ? max_rate(size) : o_.rate;
    res["max_rate_pps"] = std::round(maxr);
    records_.clear();
    order_.clear();

    if (o_.warmup_seconds > 0 && !g_stop) {
      // Every flow at least once, slowly (at most 10 % of the top rate), then drained: the
      // DUT's ARP entries and NAT sessions exist before anything is counted (RFC 2544 section
      // 23 and RFC 2889's learning phase).
      // A quarter more frames than flows: the pacing rounds down, and every flow must go.
      const double n = 1.25 * flows_.size() + 1;
      double rate = std::max(n / o_.warmup_seconds, std::min(1000.0, 0.1 * maxr));
      rate = std::min(rate, 0.1 * maxr);
      const double secs = std::max(o_.warmup_seconds, n / rate);
      if (o_.learning) learn();
      TrialRecord w;
      w.outcome = e_.run_trial({next_id_++, rate, secs, &size, dst_mac_, o_.drain_ms});
      w.result = to_result(w.outcome);
      json wj = trial_json(0, w);
      res["warmup"] = wj;
      if (!o_.quiet)
        fprintf(stderr,
                "sluice-tester: %s warm-up: %llu flows, %llu frames at %s, %llu came back%s\n",
                size.name.c_str(), static_cast<unsigned long long>(flows_.size()),
                static_cast<unsigned long long>(w.outcome.sent), pps_str(rate).c_str(),
                static_cast<unsigned long long>(w.outcome.rx.unique()),
                w.outcome.rx.unique() == 0 && w.outcome.sent > 0
                    ? " (none: check --dst-mac/--gateway and the DUT's routes)"
                    : "");
    }

    SearchResult sr;
    if (o_.search) {
      SearchConfig c;
      c.max_rate = maxr;
      c.min_rate = std::min(o_.min_rate, maxr);
      c.precision = o_.precision;
      c.loss_tolerance = o_.loss_tolerance;
      c.max_trials = o_.max_trials;
      c.trial_seconds = o_.trial_seconds;
      c.retries = o_.retries;
      sr = rfc2544_search(c, [&](double rate, double secs) { return trial(size, rate, secs); });
    } else {
      // One trial, run again while invalid (a TX stall), as the search would.
      for (unsigned attempt = 0;; ++attempt) {
        TrialResult t = trial(size, o_.rate, o_.trial_seconds);
        t.requested_pps = o_.rate;
        t.loss = t.sent ? static_cast<double>(t.lost) / static_cast<double>(t.sent) : 0;
        t.generator_limited = t.offered_pps < 0.98 * o_.rate;
        t.passed = t.valid && static_cast<double>(t.lost) <= o_.loss_tolerance * t.sent;
        if (t.valid && !t.passed) t.why = "loss " + std::to_string(t.loss * 100) + " %";
        if (t.valid && t.generator_limited)
          t.why += std::string(t.why.empty() ? "" : "; ") + "generator-limited: offered " +
                   pps_str(t.offered_pps);
        sr.trials.push_back(t);
        if (t.valid) {
          sr.ok = true;
          sr.best = t;
          // The delivered rate: what a DUT forwards at this offered load.
          sr.rate = t.seconds > 0 ? static_cast<double>(t.received) / t.seconds : 0;
          sr.generator_limited = t.generator_limited;
          break;
        }
        if (attempt >= o_.retries || g_stop) {
          sr.ok = false;
          sr.why =
              "the trial was invalid " + std::to_string(attempt + 1) + " times (" + t.why + ")";
          break;
        }
      }
    }
    // The search copies results; the outcomes are found again by trial id.
    for (TrialResult& t : sr.trials) records_[t.trial_id].result = t;
    if (g_stop) {
      sr.ok = false;
      sr.why = "interrupted";
    }

    res["throughput_pps"] = std::round(sr.rate * 10) / 10;
    res["throughput_bps_l1"] = std::round(sr.rate * (size.mean() + kEthernetOverhead) * 8);
    res["throughput_bps_l2"] = std::round(sr.rate * size.mean() * 8);
    res["generator_limited"] = sr.generator_limited;
    res["search_ok"] = sr.ok;
    res["why"] = sr.why;

    // Latency: a trial of its own at the rate found (RFC 2544 section 26.2), or the passing
    // trial's.
    json lat = nullptr, lat_trial = nullptr;
    if (sr.ok && sr.best && sr.rate > 0 && !g_stop) {
      const TrialRecord* rec = find(sr.best->trial_id);
      if (o_.search && o_.latency_seconds > 0) {
        TrialResult t = trial(size, sr.rate, o_.latency_seconds);
        t.requested_pps = sr.rate;
        t.loss = t.sent ? static_cast<double>(t.lost) / static_cast<double>(t.sent) : 0;
        t.generator_limited = t.offered_pps < 0.98 * sr.rate;
        t.passed = t.valid && static_cast<double>(t.lost) <= o_.loss_tolerance * t.sent;
        if (!t.valid) {
        } else if (!t.passed) {
          t.why = "loss " + std::to_string(t.loss * 100) + " % in the latency trial";
        }
        records_[t.trial_id].result = t;
        rec = find(t.trial_id);
      }
      if (rec) {
        lat = latency_json(rec->outcome.latency);
        lat_trial = trial_json(0, *rec);
      }
    }
    res["latency"] = lat;
    res["latency_trial"] = lat_trial;
    json trials = json::array();
    unsigned n = 0;
    for (const TrialResult& t : sr.trials) {
      TrialRecord r = records_[t.trial_id];
      r.result = t;
      trials.push_back(trial_json(++n, r));
    }
    res["trials"] = std::move(trials);
    *ok = sr.ok;
    return res;
  }

 private:
  void learn() {
    e_.send_learning_frames();
    e_.service(0.1);
  }

  TrialResult to_result(const TrialOutcome& o) const {
    TrialResult t;
    t.trial_id = o.trial_id;
    t.offered_pps = o.offered_pps;
    t.seconds = o.tx_seconds;
    t.sent = o.sent;
    t.received = o.rx.unique();
    t.lost = o.lost;
    t.reordered = o.rx.reordered;
    t.duplicates = o.rx.duplicates;
    t.latency = LatencySummary::of(o.latency);
    t.requested_pps = o.requested_pps;
    t.loss = o.sent ? static_cast<double>(o.lost) / static_cast<double>(o.sent) : 0;
    if (o.interrupted) {
      t.valid = false;
      t.abort = true;
      t.why = "interrupted";
    } else if (o.stalled) {
      t.valid = false;
      t.why = "tx stalled";
      if (o.link_bounced) t.why += " (link set down and up)";
    }
    if (o.excess) t.why += std::string(t.why.empty() ? "" : "; ") + "received more than sent";
    return t;
  }

  TrialResult trial(const FrameSizes& size, double rate, double secs) {
    if (o_.learning) learn();
    TrialRecord r;
    r.outcome = e_.run_trial({next_id_++, rate, secs, &size, dst_mac_, o_.drain_ms});
    r.result = to_result(r.outcome);
    const TrialOutcome& o = r.outcome;
    // Frames the tester's own receive side lost: not the DUT's doing.
    const uint64_t own_drops =
        o.rx_stats.imissed + o.rx_stats.rx_nombuf + o.rx_stats.kernel_rx_dropped;
    const std::string own =
        own_drops ? " (tester RX dropped " + std::to_string(own_drops) + ")" : std::string();
    if (!o_.quiet)
      fprintf(stderr,
              "sluice-tester: %s trial %u: requested %s, offered %s, received %llu of %llu "
              "(loss %.4f %%)%s, p99 %.1f us%s%s\n",
              size.name.c_str(), o.trial_id, pps_str(rate).c_str(), pps_str(o.offered_pps).c_str(),
              static_cast<unsigned long long>(o.rx.unique()),
              static_cast<unsigned long long>(o.sent), r.result.loss * 100, own.c_str(),
              r.result.latency.p99_ns / 1e3, r.result.valid ? "" : ": invalid, ",
              r.result.valid ? "" : r.result.why.c_str());
    const uint32_t id = o.trial_id;
    records_[id] = std::move(r);
    order_.push_back(id);
    return records_[id].result;
  }

  const TrialRecord* find(uint32_t id) const {
    const auto it = records_.find(id);
    return it == records_.end() ? nullptr : &it->second;
  }

  const TesterOptions& o_;
  Engine& e_;
  const FlowTable& flows_;
  const TesterPort& tx_;
  const TesterPort& rx_;
  Mac dst_mac_;
  uint32_t next_id_ = 1;
  std::map<uint32_t, TrialRecord> records_;
  std::vector<uint32_t> order_;
};

json settings_json(const TesterOptions& o, const Mac& dst_mac, unsigned rx_lcore) {
  json s;
  s["tx_port"] = o.tx_port;
  s["rx_port"] = o.rx_port;
  s["one_armed"] = o.one_armed;
  s["dst_mac"] = o.dst_mac_rx ? "rx" : o.gateway ? "" : o.dst_mac_arg;
  s["dst_mac_used"] = mac_str(dst_mac);
  s["gateway"] = o.gateway ? json(o.gateway->str()) : json(nullptr);
  s["tx_ip"] = o.tx_ip ? json(o.tx_ip->str()) : json(nullptr);
  s["rx_ip"] = o.rx_ip.count ? json(o.rx_ip.base.str() + "+" + std::to_string(o.rx_ip.count))
                             : json(nullptr);
  s["src"] = o.src_arg;
  s["dst"] = o.dst_file.empty() ? json(o.dst_arg) : json(nullptr);
  s["dst_file"] = o.dst_file.empty() ? json(nullptr) : json(o.dst_file);
  s["sport"] = o.sport_arg;
  s["dport"] = o.dport_arg;
  s["flows"] = o.flow_spec.flows;
  s["vlan"] = o.vlan;
  s["sizes"] = o.sizes_arg;
  s["mode"] = o.search ? "search" : "rate";
  s["rate"] = o.search ? json(nullptr) : json(o.rate);
  s["max_rate"] = o.max_rate > 0 ? json(o.max_rate) : json("line rate");
  s["min_rate"] = o.min_rate;
  s["precision"] = o.precision;
  s["loss_tolerance"] = o.loss_tolerance;
  s["max_trials"] = o.max_trials;
  s["trial_seconds"] = o.trial_seconds;
  s["drain_ms"] = o.drain_ms;
  s["retries"] = o.retries;
  s["latency_seconds"] = o.latency_seconds;
  s["warmup_seconds"] = o.warmup_seconds;
  s["learning"] = o.learning;
  s["burst"] = o.burst;
  s["run_id"] = o.run_id;
  s["json"] = o.json_path.empty() ? "-" : o.json_path;
  s["quiet"] = o.quiet;
  s["rx_lcore"] = rx_lcore == RTE_MAX_LCORE ? json("main (with TX)") : json(rx_lcore);
  return s;
}

json port_json(const TesterPort& p) {
  return {{"spec", p.spec},
          {"mac", mac_str(p.mac)},
          {"link_speed_mbps", p.link_speed_mbps ? json(p.link_speed_mbps) : json(nullptr)},
          {"mtu", p.mtu},
          {"af_xdp", p.af_xdp}};
}

bool write_json(const TesterOptions& o, const json& doc) {
  const std::string text = doc.dump(1) + "\n";
  if (o.json_path.empty() || o.json_path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return true;
  }
  std::ofstream f(o.json_path);
  f << text;
  f.close();
  if (!f) {
    fprintf(stderr, "sluice-tester: --json %s: cannot write it\n", o.json_path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // EAL's arguments before "--", the tester's after (as testpmd); without "--", all are ours.
  std::vector<char*> eal{argv[0]};
  std::vector<const char*> app{argv[0]};
  int dashes = -1;
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--") {
      dashes = i;
      break;
    }
  for (int i = 1; i < argc; ++i) {
    if (dashes < 0 || i > dashes)
      app.push_back(argv[i]);
    else if (i < dashes)
      eal.push_back(argv[i]);
  }
  std::optional<TesterOptions> opts;
  try {
    opts = parse_tester_options(static_cast<int>(app.size()), app.data());
  } catch (const std::exception& e) {
    fprintf(stderr, "sluice-tester: %s\n", e.what());
    return 1;
  }
  if (!opts) return 0;
  const TesterOptions& o = *opts;
  const FlowTable flows(o.flow_spec);

  if (rte_eal_init(static_cast<int>(eal.size()), eal.data()) < 0) {
    fprintf(stderr,
            "sluice-tester: DPDK EAL initialisation failed (EAL options go before `--`; try "
            "--no-huge -m 1024)\n");
    return 1;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);

  int status = 0;
  rte_mempool* pool = nullptr;
  TesterPort tx, rx;
  {
    std::unique_ptr<Engine> engine;
    try {
      uint16_t largest = 0;
      for (const FrameSizes& s : o.sizes) largest = std::max(largest, s.largest());
      const unsigned room =
          std::max<unsigned>(RTE_MBUF_DEFAULT_BUF_SIZE, RTE_PKTMBUF_HEADROOM + largest - kFcs);
      const bool pci = o.tx_spec.kind == sluice::PortSpec::Kind::kPci ||
                       o.rx_spec.kind == sluice::PortSpec::Kind::kPci;
      // 2 x (1024 RX + 1024 TX descriptors) + a burst in hand + replies + per-lcore caches.
      pool =
          sluice::create_mbuf_pool("lrt-mbufs", 16383, !pci || rte_eal_iova_mode() == RTE_IOVA_VA,
                                   static_cast<uint16_t>(room));
      if (pool == nullptr)
        throw std::runtime_error(
            "cannot create the mbuf pool (16383 mbufs): give EAL more memory (-m)");
      tx = open_tester_port(o.tx_port, o.tx_spec, pool);
      if (o.one_armed)
        rx = tx;
      else
        rx = open_tester_port(o.rx_port, o.rx_spec, pool);
      // Frames must fit the ports' MTU (the IP datagram: frame - FCS - Ethernet - tag).
      const unsigned l2 = kEthHeader + (o.vlan >= 0 ? kVlanTag : 0) + kFcs;
      for (const TesterPort* p : {&tx, &rx})
        if (largest - l2 > p->mtu)
          throw std::invalid_argument("--sizes: " + std::to_string(largest) +
                                      "-byte frames need an MTU of " +
                                      std::to_string(largest - l2) + "; port " + p->spec + " has " +
                                      std::to_string(p->mtu));
      if (o.search && o.max_rate <= 0 && !tx.link_speed_mbps && !rx.link_speed_mbps)
        throw std::invalid_argument("--max-rate is required: the ports report no link speed");

      EngineConfig ec;
      ec.tx = &tx;
      ec.rx = o.one_armed ? &tx : &rx;
      ec.tx_ip = o.tx_ip;
      ec.rx_ip = o.rx_ip;
      ec.vlan = o.vlan;
      ec.burst = o.burst;
      ec.run_id = o.run_id;
      ec.flows = &flows;
      ec.pool = pool;
      ec.rx_lcore = rte_get_next_lcore(-1, 1, 0);
      ec.stop = &g_stop;
      engine = std::make_unique<Engine>(ec);

      Mac dst{};
      if (o.dst_mac) {
        dst = *o.dst_mac;
      } else if (o.dst_mac_rx) {
        dst = rx.mac;
      } else {
        const auto m = engine->resolve(*o.gateway, 5, 1.0);
        if (!m)
          throw std::runtime_error("--gateway " + o.gateway->str() + ": no ARP reply on port " +
                                   tx.spec + " after 5 requests 1 s apart (from " + o.tx_ip->str() +
                                   ", " + mac_str(tx.mac) + ")");
        dst = *m;
        if (!o.quiet)
          fprintf(stderr, "sluice-tester: %s is at %s\n", o.gateway->str().c_str(),
                  mac_str(dst).c_str());
      }

      json doc;
      doc["tool"] = "sluice-tester";
      doc["version"] = 1;
      doc["run_id"] = o.run_id;
      doc["tsc_hz"] = engine->tsc_hz();
      doc["ports"] = {{"tx", port_json(tx)}, {"rx", port_json(o.one_armed ? tx : rx)}};
      doc["settings"] = settings_json(o, dst, ec.rx_lcore);
      doc["flows"] = flows.size();
      doc["signature"] =
          "full 32 bytes where the frame has room (78+ bytes, 82+ tagged), else compact 14 "
          "bytes (perf/linerate/frame_format.h)";
      doc["results"] = json::array();
      Runner runner(o, *engine, flows, tx, o.one_armed ? tx : rx, dst);
      for (const FrameSizes& s : o.sizes) {
        if (g_stop) break;
        bool ok = false;
        doc["results"].push_back(runner.run_size(s, &ok));
        if (!ok) status = 2;
      }
      doc["interrupted"] = g_stop.load();
      if (g_stop) status = 2;
      if (!write_json(o, doc)) status = 1;
    } catch (const std::invalid_argument& e) {
      fprintf(stderr, "sluice-tester: %s\n", e.what());
      status = 1;
    } catch (const std::exception& e) {
      fprintf(stderr, "sluice-tester: %s\n", e.what());
      status = 1;
    }
    engine.reset();
  }
  close_tester_port(tx);
  if (!o.one_armed) close_tester_port(rx);
  if (pool) rte_mempool_free(pool);
  rte_eal_cleanup();
  return status;
}
