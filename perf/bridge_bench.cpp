// bridge_bench.cpp — bridged forwarding through the whole packet graph on DPDK ring ports, and
// the FDB's memory per entry.
//
//   bridge-bench [--packets N] [--rounds R] [--macs M ...] [--fdb-bytes-at N]
//
// Two ring ports p0 and p1 are the members of bridge br0. For each table size M (default 1,000
// and 1,000,000), M MACs are learned (half behind p0, half behind p1, through the control
// thread's learning path, as a frame from each would make them), 64-byte frames from a random
// p0-side MAC to a random p1-side MAC (fixed seed 6) enter p0 and leave p1, and rte_graph's
// per-node counters give cycles per packet. The sizes take turns round by round in one table
// whose FIDs differ per size (two bridges would share one FDB anyway), so that the machine's
// drifts hit them alike. The bridged path is eth-input + bridge-input (port-rx and port-tx
// are the transport, reported apart as in the forwarding figures).
//
// Memory: a standalone FDB of --fdb-bytes-at entries (default 2^20 - 1) is created and filled to
// 95%; the DPDK heap's allocated bytes before and after, divided by the entries held, is the
// cost per entry (the hash's key store, buckets, extendable buckets, free-slot rings, and
// sluice's 16-byte slots).
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "dataplane/bridge_fdb.h"
#include "dataplane/dataplane.h"
#include "perf/ring_ports.h"

using namespace sluice;

namespace {

std::vector<uint8_t> frame(uint64_t src, uint64_t dst) {
  std::vector<uint8_t> f(60, 0);
  std::memcpy(f.data(), &dst, 6);
  std::memcpy(f.data() + 6, &src, 6);
  f[12] = 0x08;
  f[14] = 0x45;
  return f;
}

uint64_t mac_of(uint32_t i, uint8_t side, uint8_t size_tag) {
  // Locally administered unicast: 02:tag:side:i (24 bits of i).
  const uint8_t b[6] = {0x02, size_tag, side, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
  uint64_t v = 0;
  std::memcpy(&v, b, 6);
  return v;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

size_t heap_allocated() {
  size_t total = 0;
  for (unsigned s = 0; s < RTE_MAX_NUMA_NODES; ++s) {
    rte_malloc_socket_stats st;
    if (rte_malloc_get_socket_stats(static_cast<int>(s), &st) == 0) total += st.heap_allocsz_bytes;
  }
  return total;
}

struct Size {
  uint32_t macs;
  uint8_t tag;
  std::vector<std::vector<uint8_t>> frames;
  std::vector<double> round_bridge, round_total;
  std::map<std::string, std::pair<uint64_t, uint64_t>> nodes;
  uint64_t next = 0;
};

}  // namespace

int main(int argc, char** argv) {
  unsigned packets = 4096, rounds = 20;
  uint32_t fdb_bytes_at = (1u << 20) - 1;
  std::vector<uint32_t> sizes;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      fprintf(stderr, "bridge-bench: %s needs a value\n", a.c_str());
      return 2;
    }
    if (a == "--packets")
      packets = static_cast<unsigned>(std::stoul(argv[++i]));
    else if (a == "--rounds")
      rounds = static_cast<unsigned>(std::stoul(argv[++i]));
    else if (a == "--macs")
      sizes.push_back(static_cast<uint32_t>(std::stoul(argv[++i])));
    else if (a == "--fdb-bytes-at")
      fdb_bytes_at = static_cast<uint32_t>(std::stoul(argv[++i]));
    else {
      fprintf(stderr, "bridge-bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (sizes.empty()) sizes = {1000, 1000000};
  std::string prefix = "sluice-bridge-bench-" + std::to_string(getpid());
  const char* eal[] = {
      "bridge-bench", "--no-huge",     "-m", "2048", "--no-pci", "--no-shconf", "--file-prefix",
      prefix.c_str(), "--log-level=4", "-l", "0"};
  if (rte_eal_init(static_cast<int>(std::size(eal)), const_cast<char**>(eal)) < 0) return 1;

  // Memory per entry, on a table of its own.
  {
    const size_t before = heap_allocated();
    Fdb fdb(fdb_bytes_at, nullptr);
    const uint32_t want = static_cast<uint32_t>(fdb_bytes_at * 0.95);
    uint32_t held = 0;
    for (uint32_t i = 0; i < want; ++i)
      if (fdb.learn(fdb_key(mac_of(i, 0, 0xee), 1), 0, 0) == Fdb::Learned::kAdded) ++held;
    const size_t after = heap_allocated();
    printf(
        "fdb-memory capacity %u entries %u heap-bytes %zu bytes-per-entry %.1f "
        "bytes-per-capacity-slot %.1f estimate-bytes %zu\n",
        fdb_bytes_at, held, after - before, double(after - before) / held,
        double(after - before) / fdb_bytes_at, fdb.bytes());
  }

  uint32_t total_macs = 0;
  for (uint32_t m : sizes) total_macs += m;
  bench::RingPorts ring_ports = bench::make_ring_ports("bb", packets);
  rte_ring** rings = ring_ports.rings;
  DataplaneConfig dc = ring_ports.config;
  uint32_t cap = 1;
  while (cap < total_macs + total_macs / 8 + 16) cap <<= 1;
  dc.fdb_size = cap - 1;
  Dataplane dp(dc);
  Bridges::Config bc;
  bc.name = "br0";
  bc.mac = MacAddr({0x02, 0xbb, 0, 0, 0, 1});
  std::vector<Bridges::Member> members(2);
  members[0].port = 0;
  members[1].port = 1;
  if (std::string err = dp.bridges().add(bc, members); !err.empty()) {
    fprintf(stderr, "bridge-bench: %s\n", err.c_str());
    return 1;
  }
  dp.service(1.0);

  // Learning through the control path (on_note, as the workers' notes arrive).
  std::mt19937_64 rng(6);
  std::vector<Size> runs;
  uint8_t tag = 1;
  for (uint32_t m : sizes) {
    Size s{m, tag++, {}, {}, {}, {}, 0};
    const uint32_t half = std::max<uint32_t>(1, m / 2);
    for (uint32_t i = 0; i < half; ++i)
      for (uint8_t side = 0; side < 2; ++side) {
        LearnNote n{};
        n.key = fdb_key(mac_of(i, side, s.tag), fid_of(0, 0));
        n.port = side;
        dp.bridges().on_note(n);
      }
    for (unsigned f = 0; f < std::min<uint32_t>(half, 65536); ++f)
      s.frames.push_back(frame(mac_of(static_cast<uint32_t>(rng() % half), 0, s.tag),
                               mac_of(static_cast<uint32_t>(rng() % half), 1, s.tag)));
    runs.push_back(std::move(s));
  }
  const Bridges::Counters bcount = dp.bridges().counters();
  printf("bridge-bench: %u FDB entries (capacity %u), learned %lu, full %lu\n",
         dp.bridges().fdb_size(), dp.bridges().fdb_capacity(),
         static_cast<unsigned long>(bcount.learned), static_cast<unsigned long>(bcount.full));

  std::vector<rte_mbuf*> mbufs(packets);
  if (rte_pktmbuf_alloc_bulk(dp.pool(), mbufs.data(), packets) != 0) return 1;
  for (unsigned r = 0; r < rounds * runs.size(); ++r) {
    Size& s = runs[r % runs.size()];
    for (unsigned i = 0; i < packets; ++i) {
      rte_mbuf* m = mbufs[i];
      const auto& t = s.frames[(s.next + i) % s.frames.size()];
      rte_pktmbuf_reset(m);
      std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(t.size())), t.data(), t.size());
    }
    s.next += packets;
    std::map<std::string, std::pair<uint64_t, uint64_t>> before;
    for (const NodeCounters& c : dp.node_counters()) before[c.name] = {c.objs, c.cycles};
    rte_ring_enqueue_bulk(rings[0], reinterpret_cast<void**>(mbufs.data()), packets, nullptr);
    while (rte_ring_count(rings[0]) != 0) dp.poll(0);
    const unsigned got =
        rte_ring_dequeue_bulk(rings[3], reinterpret_cast<void**>(mbufs.data()), packets, nullptr);
    if (got != packets) {
      fprintf(stderr, "bridge-bench: %u of %u frames bridged to p1; counters:\n%s", got, packets,
              dp.summary().c_str());
      return 1;
    }
    uint64_t bridged = 0, total = 0;
    for (const NodeCounters& c : dp.node_counters()) {
      const auto& b = before[c.name];
      const uint64_t objs = c.objs - b.first, cyc = c.cycles - b.second;
      if (objs == 0) continue;
      s.nodes[c.name].first += objs;
      s.nodes[c.name].second += cyc;
      total += cyc;
      if (c.name == "eth-input" || c.name == "bridge-input") bridged += cyc;
    }
    s.round_bridge.push_back(double(bridged) / packets);
    s.round_total.push_back(double(total) / packets);
  }
  for (const Size& s : runs) {
    printf("\n[%u MACs]\n%-16s %14s %10s\n", s.macs, "node", "packets", "cycles/pkt");
    for (const auto& [name, v] : s.nodes)
      printf("%-16s %14lu %10.1f\n", name.c_str(), static_cast<unsigned long>(v.first),
             double(v.second) / double(v.first));
    printf(
        "bridged-path-cycles-per-packet macs %u %.1f (eth-input + bridge-input, median of %zu "
        "rounds)\n",
        s.macs, median(s.round_bridge), s.round_bridge.size());
    printf("total-node-cycles-per-packet macs %u %.1f (median)\n", s.macs, median(s.round_total));
  }
  rte_pktmbuf_free_bulk(mbufs.data(), packets);
  return 0;
}
