// graph_bench.cpp — the whole packet graph on DPDK ring ports with the real Internet table:
// 64-byte IPv4/UDP frames to destinations spread over the table enter port p0 and leave p1, and
// rte_graph's own per-node counters give cycles per packet for each node and in total.
//
//   graph-bench [--table PATH] [--packets N] [--rounds R] [--flows F] [--nat]
//
// Next hops: 64 gateways 10.2.0.2-10.2.0.65 on p1, each prefix mapped to one by
// lpm::synthetic_next_hop (a hash of the prefix), neighbours static. Destinations: for each
// flow a random table prefix (fixed seed 42) and a random host inside it; sources: 200 inside
// hosts 10.1.0.2-10.1.0.201 on p0, a UDP source port per flow. Frames are refilled between
// rounds outside the measured graph walk.
//
// --nat: NAT's extra cycles per packet through the whole graph, side by side in one run. Four
// modes take turns round by round (so that the machine's drifts hit them alike):
//   plain-orig   inside -> outside, no NAT rules (the nat nodes let packets through untouched)
//   nat-orig     the same frames with `--masquerade 10.1.0.0/24,out=p1`: every packet matches
//                an established session (nat-pre) and gets its source rewritten (nat-post)
//   plain-reply  outside -> inside: replies from the remote hosts to the inside hosts directly
//   nat-reply    the replies as they really come back, to p1's address 10.2.0.1 and the
//                flow's outside port: nat-pre rewrites the destination
// The sessions (one per flow) are made by a warm-up pass of the orig frames with the rule set,
// before any measured round; the rule is then published or withdrawn between rounds
// (set_nat_rules, outside the measured walk), which leaves the sessions in place. Both the
// walk (rdtsc around the polls, expiry turn included) and the nodes (rte_graph's counters)
// are reported per mode, as the mean over all rounds and the median of the per-round figures,
// and the differences nat - plain are NAT's extra cycles per packet. walk-cpu is the walk's
// thread CPU time (CLOCK_THREAD_CPUTIME_ID) at the TSC rate: time descheduled left out.
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "dataplane/checksum.h"
#include "dataplane/dataplane.h"
#include "lpm/route_file.h"
#include "perf/ring_ports.h"

using namespace sluice;

namespace {

struct FrameSpec {
  uint32_t src, dst;  // host order
  uint16_t sport, dport;
};

// A 60-byte frame (64 on the wire): IPv4 + UDP with its checksum (so that NAT's incremental
// update runs, as it does on real traffic) and 18 bytes of payload.
std::vector<uint8_t> frame(const MacAddr& dst_mac, const FrameSpec& fs) {
  std::vector<uint8_t> f(60, 0);
  dst_mac.copy_to(f.data());
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x99};
  std::memcpy(f.data() + 6, src, 6);
  f[12] = 0x08;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.data() + 14);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(46);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(fs.src);
  ip->dst_addr = rte_cpu_to_be_32(fs.dst);
  ip->hdr_checksum = csum(ip, 20);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  udp->src_port = rte_cpu_to_be_16(fs.sport);
  udp->dst_port = rte_cpu_to_be_16(fs.dport);
  udp->dgram_len = rte_cpu_to_be_16(26);
  uint8_t* payload = reinterpret_cast<uint8_t*>(udp + 1);
  for (int i = 0; i < 18; ++i) payload[i] = static_cast<uint8_t>(i);
  udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
  return f;
}

struct Mode {
  Mode(const char* n, bool with_nat, bool replies) : name(n), nat(with_nat), reply(replies) {}
  const char* name;
  bool nat, reply;
  uint64_t walk_cycles = 0, packets = 0, next = 0;
  std::vector<double> round_walk, round_nodes;  // cycles per packet of each round
  std::vector<double> round_cpu;  // the walk's thread CPU time per packet, in TSC cycles
  std::map<std::string, std::pair<uint64_t, uint64_t>> nodes;  // packets, cycles
};

std::map<std::string, std::pair<uint64_t, uint64_t>> node_totals(const Dataplane& dp) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> out;
  for (const NodeCounters& c : dp.node_counters()) out[c.name] = {c.objs, c.cycles};
  return out;
}

// This thread's CPU time: unlike the TSC, it stops while the thread is descheduled, which on a
// shared machine (other builds on both CPUs) is what separates the walk from its neighbours.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string table = lpm::default_fullview_path();
  unsigned packets = 8192, rounds = 200, flows = 4096;
  bool nat = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nat") {
      nat = true;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "graph-bench: %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "--table")
      table = argv[++i];
    else if (a == "--packets")
      packets = std::stoul(argv[++i]);
    else if (a == "--rounds")
      rounds = std::stoul(argv[++i]);
    else if (a == "--flows")
      flows = std::stoul(argv[++i]);
    else {
      fprintf(stderr, "graph-bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::string prefix = "sluice-graph-bench-" + std::to_string(getpid());
  const char* eal[] = {
      "graph-bench",  "--no-huge",     "-m", "1024", "--no-pci", "--no-shconf", "--file-prefix",
      prefix.c_str(), "--log-level=4", "-l", "0"};
  if (rte_eal_init(static_cast<int>(std::size(eal)), const_cast<char**>(eal)) < 0) return 1;

  bench::RingPorts ring_ports = bench::make_ring_ports("gb", packets);
  rte_ring** rings = ring_ports.rings;
  DataplaneConfig dc = ring_ports.config;
  dc.nat.max_sessions = std::max(65536u, flows * 2);
  Dataplane dp(dc);
  ForwardingState& fs = dp.state();
  fs.add_address(0, *Ipv4Addr::parse("10.1.0.1"), 24);
  fs.add_address(1, *Ipv4Addr::parse("10.2.0.1"), 24);
  std::vector<Ipv4Addr> gws;
  for (uint32_t g = 0; g < 64; ++g) {
    gws.push_back(Ipv4Addr::from_host(0x0a020002 + g));
    dp.neighbours().add_static(1, gws.back(), MacAddr({0x02, 0, 0, 0, 1, uint8_t(g)}));
  }
  constexpr uint32_t kInsideHosts = 200;
  for (uint32_t h = 0; h < kInsideHosts; ++h)
    dp.neighbours().add_static(0, Ipv4Addr::from_host(0x0a010002 + h),
                               MacAddr({0x02, 0, 0, 0, 2, uint8_t(h)}));
  const std::vector<Prefix> prefixes = lpm::read_prefix_file(table);
  for (const Prefix& p : prefixes) {
    RouteTarget t;
    t.gateway = gws[lpm::synthetic_next_hop(p, 64)];
    fs.replace_route(p, t);
  }
  std::mt19937_64 rng(42);
  std::vector<FrameSpec> specs;
  std::vector<std::vector<uint8_t>> orig, plain_reply, nat_reply;
  for (unsigned f = 0; f < flows; ++f) {
    const Prefix p = prefixes[rng() % prefixes.size()];
    const uint32_t host = p.addr().host() | (static_cast<uint32_t>(rng()) & ~p.mask());
    const FrameSpec sp{0x0a010002 + f % kInsideHosts, host,
                       static_cast<uint16_t>(20000 + f / kInsideHosts), 443};
    specs.push_back(sp);
    orig.push_back(frame(fs.port(0).mac, sp));
    plain_reply.push_back(frame(fs.port(1).mac, {sp.dst, sp.src, sp.dport, sp.sport}));
  }
  std::vector<rte_mbuf*> mbufs(packets);
  if (rte_pktmbuf_alloc_bulk(dp.pool(), mbufs.data(), packets) != 0) return 1;

  // One round: `packets` frames of the mode's list into its port, the graph polled until they
  // are through, the walk timed; returns false when not all came out where they should.
  const auto round = [&](const std::vector<std::vector<uint8_t>>& frames, uint64_t first,
                         bool reply, uint64_t* cycles, double* cpu) {
    for (unsigned i = 0; i < packets; ++i) {
      rte_mbuf* m = mbufs[i];
      const auto& t = frames[(first + i) % frames.size()];
      rte_pktmbuf_reset(m);
      std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(t.size())), t.data(), t.size());
    }
    rte_ring* in = rings[reply ? 2 : 0];
    rte_ring* out = rings[reply ? 1 : 3];
    rte_ring_enqueue_bulk(in, reinterpret_cast<void**>(mbufs.data()), packets, nullptr);
    const double c0 = thread_cpu_seconds();
    const uint64_t t0 = rte_rdtsc();
    while (rte_ring_count(in) != 0) dp.poll(0);
    *cycles = rte_rdtsc() - t0;
    *cpu = thread_cpu_seconds() - c0;
    const unsigned got =
        rte_ring_dequeue_bulk(out, reinterpret_cast<void**>(mbufs.data()), packets, nullptr);
    if (got != packets) {
      fprintf(stderr, "graph-bench: %u of %u packets forwarded; counters:\n%s", got, packets,
              dp.summary().c_str());
      return false;
    }
    return true;
  };

  nat::Rules rules;
  rules.masquerade.push_back(nat::MasqueradeRule{0x0a010000, 24, 1});
  if (nat) {
    // Warm-up: one pass of every flow's first packet creates its session; the replies are then
    // built to the outside port each flow was given.
    dp.set_nat_rules(rules);
    uint64_t ignored;
    double ignored_cpu;
    for (uint64_t first = 0; first < flows; first += packets)
      if (!round(orig, first, false, &ignored, &ignored_cpu)) return 1;
    std::map<std::pair<uint32_t, uint16_t>, uint16_t> xport;
    for (const nat::SessionView& v : dp.nat_sessions())
      xport[{v.orig.src, v.orig.sport}] = v.reply.dport;
    if (xport.size() != flows) {
      fprintf(stderr, "graph-bench: %zu NAT sessions after the warm-up, %u flows\n", xport.size(),
              flows);
      return 1;
    }
    for (const FrameSpec& sp : specs)
      nat_reply.push_back(
          frame(fs.port(1).mac, {sp.dst, 0x0a020001, sp.dport, xport[{sp.src, sp.sport}]}));
  }
  std::vector<Mode> modes;
  modes.emplace_back("plain-orig", false, false);
  if (nat) {
    modes.emplace_back("nat-orig", true, false);
    modes.emplace_back("plain-reply", false, true);
    modes.emplace_back("nat-reply", true, true);
  }
  const double tsc_hz = double(rte_get_tsc_hz());
  bool rules_on = nat;
  for (unsigned r = 0; r < rounds * modes.size(); ++r) {
    Mode& m = modes[r % modes.size()];
    if (m.nat != rules_on) {
      dp.set_nat_rules(m.nat ? rules : nat::Rules{});
      rules_on = m.nat;
    }
    const auto& frames = m.reply ? (m.nat ? nat_reply : plain_reply) : orig;
    const auto before = node_totals(dp);
    uint64_t cycles = 0;
    double cpu = 0;
    if (!round(frames, m.next, m.reply, &cycles, &cpu)) return 1;
    const auto after = node_totals(dp);
    m.next += packets;
    m.walk_cycles += cycles;
    m.packets += packets;
    m.round_walk.push_back(double(cycles) / packets);
    m.round_cpu.push_back(cpu * tsc_hz / packets);
    uint64_t node_cycles = 0;
    for (const auto& [name, v] : after) {
      const auto it = before.find(name);
      const uint64_t objs = v.first - (it == before.end() ? 0 : it->second.first);
      const uint64_t cyc = v.second - (it == before.end() ? 0 : it->second.second);
      if (objs == 0) continue;
      m.nodes[name].first += objs;
      m.nodes[name].second += cyc;
      node_cycles += cyc;
    }
    m.round_nodes.push_back(double(node_cycles) / packets);
  }

  printf("graph-bench: %zu routes, %u flows, %u rounds of %u packets of 64 bytes per mode%s\n",
         fs.routes().size(), flows, rounds, packets,
         nat ? " (modes interleaved round by round)" : "");
  if (nat) {
    const NatTotals t = dp.nat_totals();
    printf("nat: %lu sessions, %lu translated, %lu created, %lu expired, %lu table-full\n",
           static_cast<unsigned long>(t.sessions), static_cast<unsigned long>(t.translated),
           static_cast<unsigned long>(t.created), static_cast<unsigned long>(t.expired),
           static_cast<unsigned long>(t.table_full));
  }
  for (const Mode& m : modes) {
    printf("\n[%s]\n%-16s %14s %10s\n", m.name, "node", "packets", "cycles/pkt");
    uint64_t total = 0;
    for (const auto& [name, v] : m.nodes) {
      printf("%-16s %14lu %10.1f\n", name.c_str(), static_cast<unsigned long>(v.first),
             double(v.second) / double(v.first));
      total += v.second;
    }
    printf("%s total-node-cycles-per-packet %.1f (median of rounds %.1f)\n", m.name,
           double(total) / double(m.packets), median(m.round_nodes));
    printf("%s walk-cycles-per-packet %.1f (median of rounds %.1f)\n", m.name,
           double(m.walk_cycles) / double(m.packets), median(m.round_walk));
    printf("%s walk-cpu-cycles-per-packet (median of rounds) %.1f\n", m.name, median(m.round_cpu));
  }
  if (nat) {
    printf("\n");
    for (const char* dir : {"orig", "reply"}) {
      const Mode* plain = nullptr;
      const Mode* with = nullptr;
      for (const Mode& m : modes)
        if (std::string(m.name).ends_with(dir)) (m.nat ? with : plain) = &m;
      double diff[3];
      for (int i = 0; i < 3; ++i) {
        std::vector<double> d;  // round-by-round pairs: each NAT round minus the plain one before
        const auto& a = i == 0 ? with->round_nodes : i == 1 ? with->round_walk : with->round_cpu;
        const auto& b = i == 0 ? plain->round_nodes : i == 1 ? plain->round_walk : plain->round_cpu;
        for (size_t k = 0; k < a.size() && k < b.size(); ++k) d.push_back(a[k] - b[k]);
        diff[i] = median(d);
      }
      printf(
          "nat-extra-cycles-per-packet %s nodes %.1f walk %.1f walk-cpu %.1f (median of paired "
          "rounds)\n",
          dir, diff[0], diff[1], diff[2]);
      for (const auto& [name, v] : with->nodes)
        if (name.starts_with("nat-"))
          printf("nat-node %s %s %.1f\n", dir, name.c_str(), double(v.second) / double(v.first));
    }
  }
  rte_pktmbuf_free_bulk(mbufs.data(), packets);
  return 0;
}
