// graph_bench.cpp — the whole packet graph on DPDK ring ports with the real Internet table:
// 64-byte IPv4 frames to destinations spread over the table enter port p0 and leave p1, and
// rte_graph's own per-node counters give cycles per packet for each node and in total.
//
//   graph-bench [--table PATH] [--packets N] [--rounds R] [--flows F]
//
// Next hops: 64 gateways 10.2.0.2-10.2.0.65 on p1, each prefix mapped to one by
// lpm::synthetic_next_hop (a hash of the prefix), neighbours static. Destinations: for each
// flow a random table prefix (fixed seed 42) and a random host inside it. Frames are refilled
// between rounds outside the measured graph walk.
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_ring.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "dataplane/checksum.h"
#include "dataplane/dataplane.h"
#include "lpm/route_file.h"

using namespace sluice;

namespace {

std::vector<uint8_t> frame(const MacAddr& dst, uint32_t dst_ip_host) {
  std::vector<uint8_t> f(60, 0);
  dst.copy_to(f.data());
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 0x99};
  std::memcpy(f.data() + 6, src, 6);
  f[12] = 0x08;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.data() + 14);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(46);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(0x0a010002);
  ip->dst_addr = rte_cpu_to_be_32(dst_ip_host);
  ip->hdr_checksum = csum(ip, 20);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::string table = lpm::default_fullview_path();
  unsigned packets = 8192, rounds = 200, flows = 4096;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--table")
      table = argv[i + 1];
    else if (a == "--packets")
      packets = std::stoul(argv[i + 1]);
    else if (a == "--rounds")
      rounds = std::stoul(argv[i + 1]);
    else if (a == "--flows")
      flows = std::stoul(argv[i + 1]);
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

  rte_ring* rings[4];
  for (int i = 0; i < 4; ++i)
    rings[i] = rte_ring_create(("gb" + std::to_string(i)).c_str(), 16384, 0,
                               RING_F_SP_ENQ | RING_F_SC_DEQ);
  const int p0 = rte_eth_from_rings("gb-p0", &rings[0], 1, &rings[1], 1, 0);
  const int p1 = rte_eth_from_rings("gb-p1", &rings[2], 1, &rings[3], 1, 0);
  DataplaneConfig dc;
  PortSpec s0, s1;
  s0.kind = s1.kind = PortSpec::Kind::kEthdev;
  s0.name = "p0";
  s0.ethdev = static_cast<uint16_t>(p0);
  s1.name = "p1";
  s1.ethdev = static_cast<uint16_t>(p1);
  dc.ports = {s0, s1};
  dc.launch_workers = false;
  dc.mbufs = packets * 2 + 8192;
  Dataplane dp(dc);
  ForwardingState& fs = dp.state();
  fs.add_address(0, *Ipv4Addr::parse("10.1.0.1"), 24);
  fs.add_address(1, *Ipv4Addr::parse("10.2.0.1"), 24);
  std::vector<Ipv4Addr> gws;
  for (uint32_t g = 0; g < 64; ++g) {
    gws.push_back(Ipv4Addr::from_host(0x0a020002 + g));
    dp.neighbours().add_static(1, gws.back(), MacAddr({0x02, 0, 0, 0, 1, uint8_t(g)}));
  }
  const std::vector<Prefix> prefixes = lpm::read_prefix_file(table);
  for (const Prefix& p : prefixes) {
    RouteTarget t;
    t.gateway = gws[lpm::synthetic_next_hop(p, 64)];
    fs.replace_route(p, t);
  }
  std::mt19937_64 rng(42);
  std::vector<std::vector<uint8_t>> templates;
  for (unsigned f = 0; f < flows; ++f) {
    const Prefix p = prefixes[rng() % prefixes.size()];
    const uint32_t host = p.addr().host() | (static_cast<uint32_t>(rng()) & ~p.mask());
    templates.push_back(frame(fs.port(0).mac, host));
  }
  std::vector<rte_mbuf*> mbufs(packets);
  if (rte_pktmbuf_alloc_bulk(dp.pool(), mbufs.data(), packets) != 0) return 1;
  uint64_t walk_cycles = 0, sent = 0;
  for (unsigned r = 0; r < rounds; ++r) {
    for (unsigned i = 0; i < packets; ++i) {
      rte_mbuf* m = mbufs[i];
      const auto& t = templates[(r * packets + i) % flows];
      rte_pktmbuf_reset(m);
      std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(t.size())), t.data(), t.size());
    }
    rte_ring_enqueue_bulk(rings[0], reinterpret_cast<void**>(mbufs.data()), packets, nullptr);
    const uint64_t t0 = rte_rdtsc();
    while (rte_ring_count(rings[0]) != 0) dp.poll(0);
    walk_cycles += rte_rdtsc() - t0;
    const unsigned got =
        rte_ring_dequeue_bulk(rings[3], reinterpret_cast<void**>(mbufs.data()), packets, nullptr);
    if (got != packets) {
      fprintf(stderr, "graph-bench: %u of %u packets forwarded; counters:\n%s", got, packets,
              dp.summary().c_str());
      return 1;
    }
    sent += packets;
  }
  uint64_t total = 0;
  printf("graph-bench: %zu routes, %u flows, %lu packets of 64 bytes\n", fs.routes().size(), flows,
         static_cast<unsigned long>(sent));
  printf("%-16s %14s %10s\n", "node", "packets", "cycles/pkt");
  for (const NodeCounters& c : dp.node_counters()) {
    if (c.objs == 0) continue;
    printf("%-16s %14lu %10.1f\n", c.name.c_str(), static_cast<unsigned long>(c.objs),
           double(c.cycles) / double(c.objs));
    total += c.cycles;
  }
  printf("total-node-cycles-per-packet %.1f\n", double(total) / double(sent));
  printf("walk-cycles-per-packet %.1f\n", double(walk_cycles) / double(sent));
  rte_pktmbuf_free_bulk(mbufs.data(), packets);
  return 0;
}
