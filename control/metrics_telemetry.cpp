// metrics_telemetry.cpp — /sluice/* DPDK telemetry commands, rendered from a snapshot the
// control loop collected (metrics_telemetry.h).
#include "control/metrics_telemetry.h"

#include <rte_telemetry.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <string>

#include "control/metrics_exchange.h"

namespace sluice {
namespace {

constexpr std::chrono::milliseconds kTimeout{3000};

// DPDK 22.11 telemetry accepts only [A-Za-z0-9_/] in dictionary keys and silently drops any
// other entry, so node names (ip4-lookup) and PCI port names (0000:03:00.0) are spelled with
// '_' there: ip4_lookup, 0000_03_00_0.
std::string tel_key(std::string s) {
  for (char& c : s)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '/') c = '_';
  return s;
}

std::shared_ptr<const StatsSnapshot> snapshot() {
  return MetricsExchange::process().request(kTimeout);
}

uint64_t u64(double v) {
  return v > 0 && std::isfinite(v) ? static_cast<uint64_t>(v) : 0;
}

int tel_stats(const char*, const char*, rte_tel_data* d) {
  const auto s = snapshot();
  if (!s) return -1;
  rte_tel_data_start_dict(d);
  uint64_t rx = 0, tx = 0, dropped = 0;
  for (const PortFigures& p : s->ports) {
    rx += p.counters.rx_packets;
    tx += p.counters.tx_packets;
  }
  rte_tel_data* drops = rte_tel_data_alloc();
  rte_tel_data_start_dict(drops);
  for (const NodeCounters& c : s->nodes) {
    if (c.name.rfind("drop-", 0) != 0) continue;
    dropped += c.objs;
    rte_tel_data_add_dict_u64(drops, tel_key(c.name.substr(5)).c_str(), c.objs);
  }
  rte_tel_data_add_dict_u64(d, "rx", rx);
  rte_tel_data_add_dict_u64(d, "tx", tx);
  rte_tel_data_add_dict_u64(d, "forwarded", s->forwarded);
  rte_tel_data_add_dict_u64(d, "dropped", dropped);
  rte_tel_data_add_dict_u64(d, "fragments_made", s->fragments_made);
  rte_tel_data_add_dict_u64(d, "arp_notes_lost", s->arp_notes_lost);
  rte_tel_data_add_dict_container(d, "drops", drops, 0);
  const NeighbourResolver::Counters& nc = s->neighbours;
  rte_tel_data_add_dict_u64(d, "arp_requests_sent", nc.requests_sent);
  rte_tel_data_add_dict_u64(d, "arp_learned", nc.replies_learned);
  rte_tel_data_add_dict_u64(d, "arp_dropped_queue_full", nc.dropped_queue_full);
  rte_tel_data_add_dict_u64(d, "arp_dropped_unresolved", nc.dropped_unresolved);
  rte_tel_data_add_dict_u64(d, "arp_dropped_table_full", nc.dropped_table_full);
  rte_tel_data_add_dict_u64(d, "arp_dropped_held_limit", nc.dropped_held_limit);
  rte_tel_data_add_dict_u64(d, "arp_learn_table_full", nc.learn_table_full);
  return 0;
}

int tel_nodes(const char*, const char*, rte_tel_data* d) {
  const auto s = snapshot();
  if (!s) return -1;
  rte_tel_data_start_dict(d);
  for (const NodeCounters& c : s->nodes) {
    rte_tel_data* n = rte_tel_data_alloc();
    rte_tel_data_start_dict(n);
    rte_tel_data_add_dict_u64(n, "packets", c.objs);
    rte_tel_data_add_dict_u64(n, "calls", c.calls);
    rte_tel_data_add_dict_u64(n, "cycles", c.cycles);
    rte_tel_data_add_dict_u64(n, "cycles_per_packet", c.objs ? c.cycles / c.objs : 0);
    rte_tel_data_add_dict_container(d, tel_key(c.name).c_str(), n, 0);
  }
  return 0;
}

int tel_ports(const char*, const char*, rte_tel_data* d) {
  const auto s = snapshot();
  if (!s) return -1;
  rte_tel_data_start_dict(d);
  for (const PortFigures& f : s->ports) {
    const PortCounters& p = f.counters;
    rte_tel_data* n = rte_tel_data_alloc();
    rte_tel_data_start_dict(n);
    rte_tel_data_add_dict_u64(n, "rx_packets", p.rx_packets);
    rte_tel_data_add_dict_u64(n, "rx_bytes", p.rx_bytes);
    rte_tel_data_add_dict_u64(n, "rx_missed", p.rx_missed);
    rte_tel_data_add_dict_u64(n, "rx_errors", p.rx_errors);
    rte_tel_data_add_dict_u64(n, "rx_nombuf", p.rx_nombuf);
    rte_tel_data_add_dict_u64(n, "tx_packets", p.tx_packets);
    rte_tel_data_add_dict_u64(n, "tx_bytes", p.tx_bytes);
    rte_tel_data_add_dict_u64(n, "tx_errors", p.tx_errors);
    rte_tel_data_add_dict_u64(n, "up", f.up);
    rte_tel_data_add_dict_u64(n, "mtu", f.mtu);
    rte_tel_data_add_dict_container(d, tel_key(p.name).c_str(), n, 0);
  }
  return 0;
}

// One group of the --metrics families: {sample name: value} for a family without labels,
// {sample name: {label value: value}} for one label, info families as {label: "value"}.
int render_group(const std::string& group, rte_tel_data* d) {
  const auto s = snapshot();
  if (!s) return -1;
  const std::vector<MetricFamily> families = metric_families(*s);
  bool known = false;
  rte_tel_data_start_dict(d);
  for (const MetricFamily& f : families) {
    if (f.group != group) continue;
    known = true;
    const std::string name = sample_name(f);
    if (f.type == MetricType::kInfo) {
      rte_tel_data* c = rte_tel_data_alloc();
      rte_tel_data_start_dict(c);
      for (const MetricSample& m : f.samples)
        for (const auto& [k, v] : m.labels)
          rte_tel_data_add_dict_string(c, tel_key(k).c_str(), v.c_str());
      rte_tel_data_add_dict_container(d, name.c_str(), c, 0);
    } else if (f.samples.size() == 1 && f.samples[0].labels.empty()) {
      rte_tel_data_add_dict_u64(d, name.c_str(), u64(f.samples[0].value));
    } else {
      rte_tel_data* c = rte_tel_data_alloc();
      rte_tel_data_start_dict(c);
      for (const MetricSample& m : f.samples) {
        std::string key;
        for (const auto& l : m.labels) {
          if (!key.empty()) key += '/';
          key += tel_key(l.second);
        }
        rte_tel_data_add_dict_u64(c, key.c_str(), u64(m.value));
      }
      rte_tel_data_add_dict_container(d, name.c_str(), c, 0);
    }
  }
  return known ? 0 : -1;
}

int tel_metrics(const char*, const char* params, rte_tel_data* d) {
  if (params != nullptr && *params != '\0') return render_group(params, d);
  const auto s = snapshot();
  if (!s) return -1;
  rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
  for (const std::string& g : metric_groups(metric_families(*s)))
    rte_tel_data_add_array_string(d, g.c_str());
  return 0;
}

int tel_group(const char* cmd, const char*, rte_tel_data* d) {
  const std::string c = cmd;
  return render_group(c.substr(c.rfind('/') + 1), d);
}

}  // namespace

void register_telemetry() {
  static bool done = false;
  if (done) return;
  done = true;
  rte_telemetry_register_cmd("/sluice/stats", tel_stats,
                             "sluice totals: rx, tx, forwarded, dropped and drops by reason");
  rte_telemetry_register_cmd("/sluice/nodes", tel_nodes,
                             "sluice graph nodes: packets, calls, cycles per packet");
  rte_telemetry_register_cmd("/sluice/ports", tel_ports, "sluice per-port counters");
  rte_telemetry_register_cmd("/sluice/metrics", tel_metrics,
                             "sluice metrics: the groups; with ,GROUP the metrics of one group, "
                             "named as on the --metrics endpoint");
  for (const char* g : {"/sluice/fib", "/sluice/neighbours", "/sluice/nat", "/sluice/bridges",
                        "/sluice/mempool", "/sluice/process"})
    rte_telemetry_register_cmd(g, tel_group, "sluice metrics of one group (/sluice/metrics,GROUP)");
}

}  // namespace sluice
