// metrics.h — sluiced's figures, collected once and rendered three ways: `sluice stats`
// (text and --json, commands.cpp), the Prometheus / OpenMetrics endpoint (--metrics,
// metrics_http.h) and DPDK telemetry (/sluice/..., metrics_telemetry.h). collect_stats() is the
// one place that reads the tables, on the control thread (their single writer);
// metric_families() names its figures by Prometheus conventions, so the three outputs cannot
// disagree. docs/metrics.md lists every metric.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control/kernel_mirror.h"
#include "dataplane/dataplane.h"

namespace sluice {

// ---- the figures (plain data: copied to the HTTP and telemetry threads) ----

struct PortFigures {
  PortCounters counters;  // name, rx/tx packets, bytes, errors, missed, no-mbuf
  bool up = false;        // operstate, as `sluice link` shows it
  bool attached = false;  // the DPDK device is open (false while an AF_XDP interface is gone)
  uint16_t mtu = 0;
};

// What `sluice stats` and `sluice bridge show` print about the bridges.
struct BridgeFigures {
  struct One {
    std::string name;
    size_t members = 0;
    size_t fdb_entries = 0;
  };
  std::vector<One> bridges;
  uint64_t fdb_entries = 0, fdb_capacity = 0, fdb_bytes = 0;
  Bridges::Counters control;  // learned, moves, full, aged, notes, static_kept
  uint64_t notes_sent = 0, notes_lost = 0, flooded = 0, flood_copies = 0, copy_failed = 0,
           own_src = 0;
};

struct MempoolFigures {
  std::string name;
  uint64_t size = 0, available = 0, cache_size = 0;
};

struct MirrorFigures {
  KernelMirror::Counters counters;
  uint64_t not_mirrored = 0;
};

struct StatsSnapshot {
  double unix_time = 0;  // when collected (seconds since the epoch)
  std::vector<PortFigures> ports;
  std::vector<NodeCounters> nodes;  // every node, drop-* included, in registration order
  uint64_t forwarded = 0, fragments_made = 0, arp_notes_lost = 0;
  lpm::RouteTable::Stats fib;
  NeighbourResolver::Counters neighbours;
  uint64_t neighbour_entries = 0, neighbour_held_now = 0;
  NatTotals nat;
  uint64_t nat_ports = 0;  // outside ports masquerade allocates from (--nat-ports)
  uint64_t nat_masquerade_rules = 0, nat_forward_rules = 0;
  BridgeFigures bridge;
  MempoolFigures mempool;
  std::optional<MirrorFigures> mirror;  // mirror mode only
};

// Reads everything on the calling thread, which must be the control thread (or a test's
// thread that drives the router). mirror may be null (static mode).
StatsSnapshot collect_stats(Dataplane& dp, const KernelMirror* mirror,
                            const nat::EngineConfig& nat_cfg);
BridgeFigures collect_bridges(Dataplane& dp);

// Unix time sluiced started at (set once by main; 0 until then): sluice_start_time_seconds.
void set_start_time(double unix_seconds);
double start_time();
double unix_now();

// ---- the figures as Prometheus metric families ----

enum class MetricType : uint8_t { kCounter, kGauge, kInfo };

struct MetricSample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct MetricFamily {
  // Which telemetry command shows it (/sluice/metrics,GROUP): ports, nodes, drops, fib,
  // neighbours, nat, bridges, mempool, process.
  std::string group;
  // Counters without their _total (the OpenMetrics family name; samples add it in both
  // formats); an info family without its _info.
  std::string name;
  MetricType type = MetricType::kGauge;
  std::string help;
  std::vector<MetricSample> samples;
};

std::vector<MetricFamily> metric_families(const StatsSnapshot& s);
// The telemetry groups, in the order metric_families() first uses them.
std::vector<std::string> metric_groups(const std::vector<MetricFamily>& families);

enum class MetricsFormat : uint8_t { kPrometheus004, kOpenMetrics100 };

// From an HTTP Accept header, as Prometheus sends it ("application/openmetrics-text;
// version=1.0.0,...;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"): OpenMetrics when the
// client prefers it (highest q, ties to OpenMetrics), else the 0.0.4 text format.
MetricsFormat negotiate_format(const std::string& accept);
const char* content_type(MetricsFormat f);
std::string render_metrics(const std::vector<MetricFamily>& families, MetricsFormat f);

// A sample's name as exposed: counters end in _total, info families in _info.
std::string sample_name(const MetricFamily& f);

}  // namespace sluice
