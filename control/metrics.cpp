// metrics.cpp — collecting sluiced's figures on the control thread, naming them as Prometheus
// metric families, and the two text formats (Prometheus 0.0.4, OpenMetrics 1.0.0).
#include "control/metrics.h"

#include <rte_mempool.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "control/version.h"

namespace sluice {

namespace {
std::atomic<double> g_start_time{0};
}  // namespace

void set_start_time(double unix_seconds) {
  g_start_time.store(unix_seconds);
}
double start_time() {
  return g_start_time.load();
}
double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

BridgeFigures collect_bridges(Dataplane& dp) {
  const Bridges& br = dp.bridges();
  BridgeFigures b;
  for (const Bridges::View& v : br.list())
    b.bridges.push_back({v.config.name, v.members.size(), v.fdb_entries});
  b.fdb_entries = br.fdb_size();
  b.fdb_capacity = br.fdb_capacity();
  b.fdb_bytes = br.fdb_bytes();
  b.control = br.counters();
  b.notes_sent = dp.worker_sum(&WorkerCounters::bridge_notes);
  b.notes_lost = dp.worker_sum(&WorkerCounters::bridge_notes_lost);
  b.flooded = dp.worker_sum(&WorkerCounters::bridge_flooded);
  b.flood_copies = dp.worker_sum(&WorkerCounters::bridge_flood_copies);
  b.copy_failed = dp.worker_sum(&WorkerCounters::bridge_copy_failed);
  b.own_src = dp.worker_sum(&WorkerCounters::bridge_own_src);
  return b;
}

StatsSnapshot collect_stats(Dataplane& dp, const KernelMirror* mirror,
                            const nat::EngineConfig& nat_cfg) {
  StatsSnapshot s;
  s.unix_time = unix_now();
  const ForwardingState& fs = dp.state();
  const std::vector<PortCounters> pc = dp.port_counters();
  for (size_t i = 0; i < pc.size(); ++i) {
    const auto port = static_cast<uint16_t>(i);
    const PortState& p = fs.port(port);
    s.ports.push_back({pc[i], p.up.load(), dp.attached(port), p.mtu.load()});
  }
  s.nodes = dp.node_counters();
  s.forwarded = dp.forwarded();
  s.fragments_made = dp.worker_sum(&WorkerCounters::fragments_made);
  s.arp_notes_lost = dp.worker_sum(&WorkerCounters::arp_notes_lost);
  s.fib = fs.routes().stats();
  s.neighbours = dp.neighbours().counters();
  s.neighbour_entries = dp.neighbours().size();
  s.neighbour_held_now = dp.neighbours().held_now();
  s.nat = dp.nat_totals();
  s.nat_ports = nat_cfg.port_last >= nat_cfg.port_first
                    ? uint64_t{nat_cfg.port_last} - nat_cfg.port_first + 1
                    : 0;
  const nat::Rules rules = dp.nat_rules();
  s.nat_masquerade_rules = rules.masquerade.size();
  s.nat_forward_rules = rules.forward.size();
  s.bridge = collect_bridges(dp);
  // A leak shows as in_use creeping up while the traffic is the same (idle, the pool holds
  // what the ports' receive rings keep posted). Free mbufs in the lcores' caches count as
  // available, as rte_mempool_avail_count counts them.
  const rte_mempool* pool = dp.pool();
  s.mempool = {pool->name, pool->size, rte_mempool_avail_count(pool), pool->cache_size};
  if (mirror) s.mirror = MirrorFigures{mirror->counters(), mirror->not_mirrored()};
  return s;
}

// ---- metric families ----

namespace {

class Families {
 public:
  explicit Families(std::vector<MetricFamily>& out) : out_(out) {}
  void group(const char* g) { group_ = g; }
  // A family with one unlabelled sample.
  void one(const char* name, MetricType t, const char* help, double v) {
    add(name, t, help).samples.push_back({{}, v});
  }
  MetricFamily& add(const char* name, MetricType t, const char* help) {
    out_.push_back({group_, name, t, help, {}});
    return out_.back();
  }

 private:
  std::vector<MetricFamily>& out_;
  std::string group_;
};

constexpr MetricType kC = MetricType::kCounter;
constexpr MetricType kG = MetricType::kGauge;

double d(uint64_t v) {
  return static_cast<double>(v);
}

}  // namespace

std::vector<MetricFamily> metric_families(const StatsSnapshot& s) {
  std::vector<MetricFamily> out;
  Families f(out);

  f.group("process");
  f.add("sluice_build", MetricType::kInfo, "sluiced's version")
      .samples.push_back({{{"version", SLUICE_VERSION}}, 1});
  f.one("sluice_start_time_seconds", kG, "When sluiced started, in seconds since the Unix epoch",
        start_time());

  f.group("ports");
  struct PortFigure {
    const char* name;
    MetricType type;
    const char* help;
    double (*get)(const PortFigures&);
  };
  static const PortFigure port_figures[] = {
      {"sluice_port_rx_packets", kC, "Packets received by the port (ethdev ipackets)",
       [](const PortFigures& p) { return d(p.counters.rx_packets); }},
      {"sluice_port_rx_bytes", kC, "Bytes received by the port (ethdev ibytes)",
       [](const PortFigures& p) { return d(p.counters.rx_bytes); }},
      {"sluice_port_rx_errors", kC, "Erroneous packets received (ethdev ierrors)",
       [](const PortFigures& p) { return d(p.counters.rx_errors); }},
      {"sluice_port_rx_missed_packets", kC,
       "Packets the port dropped for want of room in its receive queue (ethdev imissed)",
       [](const PortFigures& p) { return d(p.counters.rx_missed); }},
      {"sluice_port_rx_nombuf", kC, "Receive failures for want of an mbuf (ethdev rx_nombuf)",
       [](const PortFigures& p) { return d(p.counters.rx_nombuf); }},
      {"sluice_port_tx_packets", kC, "Packets sent by the port (ethdev opackets)",
       [](const PortFigures& p) { return d(p.counters.tx_packets); }},
      {"sluice_port_tx_bytes", kC, "Bytes sent by the port (ethdev obytes)",
       [](const PortFigures& p) { return d(p.counters.tx_bytes); }},
      {"sluice_port_tx_errors", kC, "Packets the port failed to send (ethdev oerrors)",
       [](const PortFigures& p) { return d(p.counters.tx_errors); }},
      {"sluice_port_up", kG, "1 if the port's link is up (operstate UP), else 0",
       [](const PortFigures& p) { return p.up ? 1.0 : 0.0; }},
      {"sluice_port_attached", kG,
       "1 if the port's DPDK device is open, 0 while its interface is gone",
       [](const PortFigures& p) { return p.attached ? 1.0 : 0.0; }},
      {"sluice_port_mtu_bytes", kG, "The port's MTU",
       [](const PortFigures& p) { return d(p.mtu); }},
  };
  for (const PortFigure& pf : port_figures) {
    MetricFamily& m = f.add(pf.name, pf.type, pf.help);
    for (const PortFigures& p : s.ports)
      m.samples.push_back({{{"port", p.counters.name}}, pf.get(p)});
  }

  f.group("nodes");
  MetricFamily& np = f.add("sluice_node_packets", kC,
                           "Packets a graph node processed (rte_graph objs), all workers");
  MetricFamily& nc = f.add("sluice_node_calls", kC, "Times a graph node ran, all workers");
  MetricFamily& ny =
      f.add("sluice_node_cycles", kC, "TSC cycles spent in a graph node, all workers");
  for (const NodeCounters& n : s.nodes) {
    np.samples.push_back({{{"node", n.name}}, d(n.objs)});
    nc.samples.push_back({{{"node", n.name}}, d(n.calls)});
    ny.samples.push_back({{{"node", n.name}}, d(n.cycles)});
  }

  f.group("drops");
  MetricFamily& dr =
      f.add("sluice_dropped_packets", kC,
            "Packets dropped by reason (the drop-REASON nodes; every reason listed)");
  for (const NodeCounters& n : s.nodes)
    if (n.name.rfind("drop-", 0) == 0)
      dr.samples.push_back({{{"reason", n.name.substr(5)}}, d(n.objs)});
  f.one("sluice_forwarded_packets", kC, "Packets forwarded (routed out of a port)", d(s.forwarded));
  f.one("sluice_fragments_created", kC, "IPv4 fragments made for a smaller egress MTU",
        d(s.fragments_made));
  f.one("sluice_arp_notes_lost", kC,
        "ARP notes from the workers lost on a full ring (the control thread saw less)",
        d(s.arp_notes_lost));

  f.group("fib");
  f.one("sluice_fib_routes", kG, "Routes in the fast path's table", d(s.fib.routes));
  f.one("sluice_fib_memory_bytes", kG,
        "Memory the lookup path touches (direct array, nodes, leaves)", d(s.fib.fib_bytes));
  f.one("sluice_rib_memory_bytes", kG, "Memory of the route store (estimated)", d(s.fib.rib_bytes));
  if (s.mirror) {
    const KernelMirror::Counters& m = s.mirror->counters;
    f.one("sluice_mirror_events", kC, "Netlink events from the kernel taken in", d(m.events));
    f.one("sluice_mirror_route_changes", kC, "Routes changed by kernel events",
          d(m.routes_changed));
    f.one("sluice_mirror_resyncs", kC, "Mark-and-sweep resyncs with the kernel", d(m.resyncs));
    f.one("sluice_mirror_overruns", kC, "Netlink socket overruns (ENOBUFS), each resynced",
          d(m.overruns));
    f.one("sluice_mirror_apply_errors", kC, "Kernel changes the fast path could not apply",
          d(m.apply_errors));
    f.one("sluice_mirror_dump_retries", kC, "Kernel dumps retried (interrupted)",
          d(m.dump_retries));
    f.one("sluice_mirror_neighbour_requests", kC, "Neighbour resolutions asked of the kernel",
          d(m.neighbour_requests));
    f.one("sluice_mirror_request_errors", kC, "Requests to the kernel that failed",
          d(m.request_errors));
    f.one("sluice_mirror_not_mirrored_routes", kG,
          "Kernel routes sluice cannot use (other interfaces, tos, ...)",
          d(s.mirror->not_mirrored));
    f.one("sluice_route_checks", kC, "Route checks run (sluice route check)", d(m.route_checks));
    f.one("sluice_route_check_differences", kG,
          "Differences the last route check found (0: the fast path matches the kernel)",
          d(m.last_check_differences));
  }

  f.group("neighbours");
  const NeighbourResolver::Counters& n = s.neighbours;
  f.one("sluice_neighbour_entries", kG, "Neighbour (ARP) entries, every state and origin",
        d(s.neighbour_entries));
  f.one("sluice_neighbour_held_packets", kG, "Packets waiting for a neighbour to resolve now",
        d(s.neighbour_held_now));
  f.one("sluice_neighbour_requests_sent", kC, "ARP requests sent", d(n.requests_sent));
  f.one("sluice_neighbour_learned", kC, "Neighbours learned or resolved", d(n.replies_learned));
  f.one("sluice_neighbour_held", kC, "Packets held for an unresolved neighbour", d(n.held));
  f.one("sluice_neighbour_released", kC, "Held packets sent once their neighbour resolved",
        d(n.released));
  f.one("sluice_neighbour_expired", kC, "Neighbour entries aged out", d(n.expired));
  f.one("sluice_neighbour_learn_table_full", kC,
        "ARP requests for the router not learned: the table was full", d(n.learn_table_full));
  MetricFamily& nd = f.add("sluice_neighbour_dropped_packets", kC,
                           "Packets dropped while waiting for a neighbour, by reason");
  const std::pair<const char*, uint64_t> neigh_drops[] = {
      {"queue-full", n.dropped_queue_full},   {"unresolved", n.dropped_unresolved},
      {"table-full", n.dropped_table_full},   {"held-limit", n.dropped_held_limit},
      {"no-next-hop", n.dropped_no_next_hop}, {"no-mbuf", n.dropped_no_mbuf},
      {"inject-full", n.dropped_inject_full},
  };
  for (const auto& [reason, v] : neigh_drops) nd.samples.push_back({{{"reason", reason}}, d(v)});

  f.group("nat");
  const NatTotals& t = s.nat;
  f.one("sluice_nat_sessions", kG, "NAT sessions in use, all workers", d(t.sessions));
  f.one("sluice_nat_sessions_capacity", kG, "NAT sessions the tables hold, all workers",
        d(t.capacity));
  f.one("sluice_nat_memory_bytes", kG, "Memory of the NAT session tables", d(t.bytes));
  f.one("sluice_nat_ports", kG, "Outside ports masquerade allocates from (--nat-ports)",
        d(s.nat_ports));
  MetricFamily& rules = f.add("sluice_nat_rules", kG, "NAT rules by kind");
  rules.samples.push_back({{{"kind", "masquerade"}}, d(s.nat_masquerade_rules)});
  rules.samples.push_back({{{"kind", "forward"}}, d(s.nat_forward_rules)});
  f.one("sluice_nat_translated_packets", kC, "Packets NAT translated", d(t.translated));
  f.one("sluice_nat_sessions_created", kC, "NAT sessions created", d(t.created));
  f.one("sluice_nat_sessions_expired", kC, "NAT sessions expired (idle)", d(t.expired));
  f.one("sluice_nat_sessions_flushed", kC, "NAT sessions removed with their rule or address",
        d(t.flushed));
  f.one("sluice_nat_table_full", kC, "New flows refused: the session table was full",
        d(t.table_full));
  f.one("sluice_nat_ports_exhausted", kC, "New flows refused: no outside port was free",
        d(t.ports_exhausted));
  f.one("sluice_nat_filtered_packets", kC,
        "Packets to a NAT address with no session or forward rule", d(t.filtered));
  f.one("sluice_nat_icmp_errors", kC, "ICMP errors translated for a session", d(t.icmp_errors));
  f.one("sluice_nat_hairpin_packets", kC, "Packets NATed both ways (inside to a published port)",
        d(t.hairpin));
  f.one("sluice_nat_fragments", kC, "Fragments translated", d(t.fragments));
  f.one("sluice_nat_fragments_untracked", kC, "Fragments without a session",
        d(t.fragments_untracked));
  f.one("sluice_nat_handoffs", kC, "Packets handed to the worker owning their session",
        d(t.handoffs));
  f.one("sluice_nat_handoff_full", kC, "Hand-offs lost on a full ring", d(t.handoff_full));

  f.group("bridges");
  const BridgeFigures& b = s.bridge;
  f.one("sluice_bridges", kG, "Bridges", d(b.bridges.size()));
  MetricFamily& fe = f.add("sluice_bridge_fdb_entries", kG, "FDB entries of a bridge");
  MetricFamily& mem = f.add("sluice_bridge_members", kG, "Member ports of a bridge");
  for (const BridgeFigures::One& one : b.bridges) {
    fe.samples.push_back({{{"bridge", one.name}}, d(one.fdb_entries)});
    mem.samples.push_back({{{"bridge", one.name}}, d(one.members)});
  }
  f.one("sluice_fdb_entries", kG, "FDB entries, all bridges", d(b.fdb_entries));
  f.one("sluice_fdb_capacity", kG, "FDB entries the table holds (--fdb-size)", d(b.fdb_capacity));
  f.one("sluice_fdb_memory_bytes", kG, "Memory of the FDB", d(b.fdb_bytes));
  f.one("sluice_bridge_learned", kC, "MAC addresses learned", d(b.control.learned));
  f.one("sluice_bridge_moves", kC, "Learned MAC addresses seen on another port",
        d(b.control.moves));
  f.one("sluice_bridge_fdb_full", kC, "MAC addresses not learned: the FDB was full",
        d(b.control.full));
  f.one("sluice_bridge_aged", kC, "FDB entries aged out", d(b.control.aged));
  f.one("sluice_bridge_static_kept", kC, "Learning notes that would have moved a static entry",
        d(b.control.static_kept));
  f.one("sluice_bridge_notes_sent", kC, "Learning notes the workers sent", d(b.notes_sent));
  f.one("sluice_bridge_notes_received", kC, "Learning notes the control thread took in",
        d(b.control.notes));
  f.one("sluice_bridge_notes_lost", kC, "Learning notes lost on a full ring", d(b.notes_lost));
  f.one("sluice_bridge_flooded_packets", kC, "Frames flooded (unknown unicast, broadcast)",
        d(b.flooded));
  f.one("sluice_bridge_flood_copies", kC, "Copies made to flood frames", d(b.flood_copies));
  f.one("sluice_bridge_copy_failed", kC, "Flood copies that failed (no mbuf)", d(b.copy_failed));
  f.one("sluice_bridge_own_src", kC, "Frames received with the bridge's own source MAC",
        d(b.own_src));

  f.group("mempool");
  MetricFamily& ms = f.add("sluice_mempool_mbufs", kG, "Mbufs in the pool");
  ms.samples.push_back({{{"pool", s.mempool.name}}, d(s.mempool.size)});
  MetricFamily& mu = f.add("sluice_mempool_mbufs_in_use", kG,
                           "Mbufs in use (in rings, held, in flight); the rest are available");
  mu.samples.push_back({{{"pool", s.mempool.name}}, d(s.mempool.size - s.mempool.available)});
  return out;
}

std::vector<std::string> metric_groups(const std::vector<MetricFamily>& families) {
  std::vector<std::string> g;
  for (const MetricFamily& f : families)
    if (std::find(g.begin(), g.end(), f.group) == g.end()) g.push_back(f.group);
  return g;
}

// ---- the text formats ----

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return {};
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

// Label values: backslash, double quote and newline escaped (both formats). HELP: backslash and
// newline in 0.0.4, which shows a double quote as it is; OpenMetrics escapes that too.
void escape(std::string& out, const std::string& s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void value(std::string& out, double v) {
  char buf[40];
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    out += buf;
  } else {
    snprintf(buf, sizeof buf, "%.17g", v);
    out += buf;
  }
}

}  // namespace

MetricsFormat negotiate_format(const std::string& accept) {
  double q_open = 0, q_text = 0;
  std::istringstream in(accept);
  for (std::string range; std::getline(in, range, ',');) {
    std::istringstream parts(range);
    std::string type;
    std::getline(parts, type, ';');
    type = lower(trim(type));
    double q = 1;
    std::string version;
    for (std::string p; std::getline(parts, p, ';');) {
      const size_t eq = p.find('=');
      if (eq == std::string::npos) continue;
      const std::string k = lower(trim(p.substr(0, eq))), v = trim(p.substr(eq + 1));
      if (k == "q") {
        char* end = nullptr;
        q = std::strtod(v.c_str(), &end);
        if (end == v.c_str() || !(q >= 0 && q <= 1)) q = 0;
      } else if (k == "version") {
        version = v;
      }
    }
    if (type == "application/openmetrics-text") {
      // 0.0.1 is the draft Prometheus also asks for; 1.0.0 reads the same to its parser.
      if (version.empty() || version == "1.0.0" || version == "0.0.1") q_open = std::max(q_open, q);
    } else if (type == "text/plain" || type == "text/*" || type == "*/*") {
      q_text = std::max(q_text, q);
    }
  }
  return q_open > 0 && q_open >= q_text ? MetricsFormat::kOpenMetrics100
                                        : MetricsFormat::kPrometheus004;
}

const char* content_type(MetricsFormat f) {
  return f == MetricsFormat::kOpenMetrics100
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

std::string sample_name(const MetricFamily& f) {
  switch (f.type) {
    case MetricType::kCounter: return f.name + "_total";
    case MetricType::kInfo: return f.name + "_info";
    default: return f.name;
  }
}

std::string render_metrics(const std::vector<MetricFamily>& families, MetricsFormat fmt) {
  const bool om = fmt == MetricsFormat::kOpenMetrics100;
  std::string out;
  out.reserve(families.size() * 256);
  for (const MetricFamily& f : families) {
    const std::string sample = sample_name(f);
    // 0.0.4 has no info type and names a family as its samples; OpenMetrics names it without
    // the _total / _info suffix its samples carry.
    const std::string& family = om ? f.name : sample;
    const char* type = f.type == MetricType::kCounter      ? "counter"
                       : f.type == MetricType::kInfo && om ? "info"
                                                           : "gauge";
    out += "# HELP " + family + " ";
    escape(out, f.help, om);
    out += "\n# TYPE " + family + " " + type + "\n";
    for (const MetricSample& s : f.samples) {
      out += sample;
      if (!s.labels.empty()) {
        out += '{';
        for (size_t i = 0; i < s.labels.size(); ++i) {
          if (i) out += ',';
          out += s.labels[i].first + "=\"";
          escape(out, s.labels[i].second, true);
          out += '"';
        }
        out += '}';
      }
      out += ' ';
      value(out, s.value);
      out += '\n';
    }
  }
  if (om) out += "# EOF\n";
  return out;
}

}  // namespace sluice
