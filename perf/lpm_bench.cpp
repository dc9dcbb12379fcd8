// lpm_bench.cpp — lpm-bench: sluice's lpm::RouteTable against DPDK's rte_lpm and rte_fib.
//
// One binary, one table (the real Internet table, next hops from synthetic_next_hop) and one set
// of keys for all three structures, so every figure compares like with like:
//   bulk-random/<impl>/<burst>   bulk lookups of uniformly random 32-bit keys
//   bulk-intable/<impl>/<burst>  bulk lookups of random addresses inside random table prefixes
//   chain-<keys>/<impl>          dependent lookups (each key depends on the previous result):
//                                latency, not throughput
//   build/<impl>                 inserting the whole table into an empty structure
//   update/<impl>                removing and re-inserting random table prefixes, one at a time
//   memory/<impl>                bytes, as counters (the "time" of these entries means nothing)
// Results are ordinary Google Benchmark output; scripts/bench runs this with JSON output and
// turns the medians into ratios. Our own options come before Google Benchmark's (--help).
#include <benchmark/benchmark.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_lcore.h>
#include <rte_lpm.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_vect.h>
#include <rte_version.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lpm/ipv4.h"
#include "lpm/route_file.h"
#include "lpm/route_table.h"
#include "perf/splitmix.h"

namespace {

using sluice::Ipv4Addr;
using sluice::Prefix;
namespace lpm = sluice::lpm;
using Clock = std::chrono::steady_clock;

// Every structure reports a miss as lpm's kNoRoute, so results can be compared value for value.
constexpr uint32_t kMiss = lpm::kNoRoute;
constexpr size_t kMaxBurst = 64;
constexpr size_t kChainBlock = 256;  // dependent lookups per benchmark iteration

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

using sluice::perf::Rng;  // perf/splitmix.h

struct Options {
  std::string table;
  enum class Huge { automatic, require, never } huge = Huge::automatic;
  size_t keys = size_t(1) << 20;
  unsigned next_hops = 64;
  uint32_t max_rules = uint32_t(1) << 20;
  uint32_t tbl8s = uint32_t(1) << 16;
  std::string fib_lookup = "auto";
  bool with_rte_lpm = true;
  uint64_t seed = 20240611;
};

void usage() {
  std::fprintf(stderr,
               "usage: lpm-bench [our options] [Google Benchmark options]\n"
               "  --table PATH         prefix file (default: %s)\n"
               "  --hugepages          require hugepages for DPDK (fail if too few are free)\n"
               "  --no-huge            never use hugepages (DPDK memory from 4 KiB pages)\n"
               "                       default: hugepages if enough are free, else --no-huge\n"
               "  --keys N             lookup keys per key set (default 1048576)\n"
               "  --next-hops N        synthetic next hops (default 64)\n"
               "  --max-rules N        rte_lpm max_rules and rte_fib max_routes (default 1048576)\n"
               "  --tbl8s N            rte_lpm/rte_fib tbl8 groups (default 65536)\n"
               "  --fib-lookup F       rte_fib lookup: auto (AVX-512 if usable, else scalar\n"
               "                       macro), avx512, scalar, default (DPDK's choice)\n"
               "  --no-rte-lpm         skip rte_lpm (its full build takes minutes)\n"
               "  --seed N             seed of keys, insert order and update order\n",
               lpm::default_fullview_path().c_str());
}

// Consumes our options from argv, leaving Google Benchmark's (and unknown ones) for it.
Options parse_options(int* argc, char** argv) {
  Options o;
  o.table = lpm::default_fullview_path();
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&](std::string_view name) -> const char* {
      if (a == name) {
        if (i + 1 >= *argc) throw std::runtime_error(std::string(name) + " needs a value");
        return argv[++i];
      }
      if (a.size() > name.size() && a.substr(0, name.size()) == name && a[name.size()] == '=') {
        return argv[i] + name.size() + 1;
      }
      return nullptr;
    };
    auto number = [](const char* s) { return std::strtoull(s, nullptr, 0); };
    if (const char* v = value("--table")) {
      o.table = v;
    } else if (a == "--hugepages") {
      o.huge = Options::Huge::require;
    } else if (a == "--no-huge") {
      o.huge = Options::Huge::never;
    } else if (const char* v = value("--keys")) {
      o.keys = number(v);
    } else if (const char* v = value("--next-hops")) {
      o.next_hops = unsigned(number(v));
    } else if (const char* v = value("--max-rules")) {
      o.max_rules = uint32_t(number(v));
    } else if (const char* v = value("--tbl8s")) {
      o.tbl8s = uint32_t(number(v));
    } else if (const char* v = value("--fib-lookup")) {
      o.fib_lookup = v;
    } else if (a == "--no-rte-lpm") {
      o.with_rte_lpm = false;
    } else if (const char* v = value("--seed")) {
      o.seed = number(v);
    } else {
      if (a == "--help" || a == "-h") usage();
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  argv[out] = nullptr;
  // Whole bursts and whole chain blocks only, so no benchmark loop needs a remainder case.
  o.keys = std::max<size_t>(kChainBlock, o.keys / kChainBlock * kChainBlock);
  if (o.next_hops == 0 || o.next_hops > (1u << 24)) {
    throw std::runtime_error("--next-hops must be 1..2^24 (rte_lpm stores 24-bit next hops)");
  }
  return o;
}

// ---- the shared state every benchmark reads ----------------------------------------------

// A key set in both representations: DPDK takes host-order uint32_t, lpm takes Ipv4Addr. Two
// arrays with the same values rather than a cast, which would break strict aliasing.
struct Keys {
  std::string name;
  std::vector<uint32_t> raw;
  std::vector<Ipv4Addr> addrs;
};

struct Memory {
  double total = 0;  // everything the structure holds, as allocated
  double fib = 0;    // what the lookup path can touch
  double rib = 0;    // the writer's side (total - fib for DPDK)
  std::string how;
};

struct State {
  Options opt;
  std::vector<Prefix> prefixes;  // unique, in the (fixed, shuffled) insertion order
  std::vector<uint32_t> nhs;     // synthetic next hop of prefixes[i]
  Keys random_keys, intable_keys;
  std::vector<uint32_t> update_order;  // indices into prefixes

  std::unique_ptr<lpm::RouteTable> ours;
  rte_lpm* lpm4 = nullptr;
  rte_fib* fib = nullptr;
  std::string fib_lookup_used;

  double rte_lpm_build_s = 0;
  std::vector<std::pair<size_t, double>> rte_lpm_checkpoints;
  Memory mem_ours, mem_rte_lpm, mem_rte_fib;
  size_t tbl8_groups_needed = 0;
};

State g;

// Loaded once per benchmark run; the compiler cannot know it is zero, so `prev & g_zero` keeps a
// true data dependency from one lookup's result to the next lookup's key at the cost of one AND.
volatile uint32_t g_zero = 0;

size_t heap_allocated() {
  size_t sum = 0;
  for (unsigned i = 0; i < rte_socket_count(); ++i) {
    rte_malloc_socket_stats s{};
    if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &s) == 0) {
      sum += s.heap_allocsz_bytes;
    }
  }
  return sum;
}

size_t rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0)
      return size_t(std::strtoull(line.c_str() + 6, nullptr, 10)) * 1024;
  }
  return 0;
}

// ---- setup ---------------------------------------------------------------------------------

void load_table() {
  std::vector<Prefix> all = lpm::read_prefix_file(g.opt.table);
  const size_t read = all.size();
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  // Insertion order: shuffled with a fixed seed, the same for all three structures. A sorted
  // feed would favour whichever structure likes locality; random order is the neutral case.
  Rng rng(g.opt.seed ^ 0x1111);
  for (size_t i = all.size(); i > 1; --i) std::swap(all[i - 1], all[rng.below(uint32_t(i))]);
  g.prefixes = std::move(all);
  g.nhs.reserve(g.prefixes.size());
  for (const Prefix& p : g.prefixes) g.nhs.push_back(lpm::synthetic_next_hop(p, g.opt.next_hops));

  std::vector<uint32_t> slash24;
  for (const Prefix& p : g.prefixes) {
    if (p.len() > 24) slash24.push_back(p.addr().host() >> 8);
  }
  std::sort(slash24.begin(), slash24.end());
  g.tbl8_groups_needed = size_t(std::unique(slash24.begin(), slash24.end()) - slash24.begin());
  std::fprintf(stderr, "table: %s: %zu IPv4 prefixes read, %zu unique, %u next hops\n",
               g.opt.table.c_str(), read, g.prefixes.size(), g.opt.next_hops);
  benchmark::AddCustomContext("table", g.opt.table);
  benchmark::AddCustomContext("table_prefixes", std::to_string(g.prefixes.size()));
  benchmark::AddCustomContext("next_hops",
                              std::to_string(g.opt.next_hops) + " via lpm::synthetic_next_hop");
  benchmark::AddCustomContext("insert_order",
                              "shuffled, splitmix64 seed " + std::to_string(g.opt.seed));
}

void make_keys() {
  const size_t n = g.opt.keys;
  auto fill = [](Keys& k, const std::string& name) {
    k.name = name;
    k.addrs.reserve(k.raw.size());
    for (uint32_t v : k.raw) k.addrs.push_back(Ipv4Addr::from_host(v));
  };
  Rng r1(g.opt.seed ^ 0x2222);
  g.random_keys.raw.resize(n);
  for (uint32_t& v : g.random_keys.raw) v = uint32_t(r1.next() >> 32);
  fill(g.random_keys, "random");

  // A uniformly chosen table prefix, then a uniform address inside it.
  Rng r2(g.opt.seed ^ 0x3333);
  g.intable_keys.raw.resize(n);
  for (uint32_t& v : g.intable_keys.raw) {
    const Prefix& p = g.prefixes[r2.below(uint32_t(g.prefixes.size()))];
    v = p.addr().host() | (uint32_t(r2.next()) & ~p.mask());
  }
  fill(g.intable_keys, "intable");

  Rng r3(g.opt.seed ^ 0x4444);
  g.update_order.resize(size_t(1) << 20);
  for (uint32_t& v : g.update_order) v = r3.below(uint32_t(g.prefixes.size()));
  benchmark::AddCustomContext("keys_per_set", std::to_string(n));
}

std::string init_eal(const char* argv0) {
  // Hugepages are used when enough are free: a DPDK application runs on them, and 4 KiB pages
  // put a TLB miss on nearly every tbl24 access, which is a handicap DPDK never has in production.
  unsigned long free_pages = 0, page_kb = 0;
  {
    std::ifstream f("/proc/meminfo");
    std::string key;
    unsigned long v;
    while (f >> key >> v) {
      if (key == "HugePages_Free:") free_pages = v;
      if (key == "Hugepagesize:") page_kb = v;
      f.ignore(256, '\n');
    }
  }
  // Two rte_fib (the loaded one and one being built) of ~0.55 GiB, rte_lpm, EAL's own.
  const unsigned long need_mb = 1536;
  const unsigned long free_mb = free_pages * page_kb / 1024;
  bool huge = false;
  if (g.opt.huge == Options::Huge::require) {
    if (free_mb < need_mb) {
      throw std::runtime_error("--hugepages: " + std::to_string(free_mb) +
                               " MiB of hugepages free, " + std::to_string(need_mb) +
                               " MiB needed (echo N > /proc/sys/vm/nr_hugepages)");
    }
    huge = true;
  } else if (g.opt.huge == Options::Huge::automatic) {
    huge = free_mb >= need_mb;
  }

  std::vector<std::string> args = {argv0, "--no-pci", "-l", "0", "--log-level=lib.eal:error",
                                   "--no-telemetry",
                                   // Permits rte_fib's AVX-512 lookup; the default cap is 256.
                                   "--force-max-simd-bitwidth=512"};
  std::string mode;
  if (huge) {
    args.insert(args.end(), {"--in-memory"});
    mode = "hugepages (" + std::to_string(page_kb) + " kB pages, " + std::to_string(free_mb) +
           " MiB free)";
  } else {
    // --in-memory is refused together with --no-huge (EAL turns on legacy memory for it);
    // --no-shconf keeps the run from leaving files in /var/run/dpdk instead.
    args.insert(args.end(), {"--no-huge", "-m", "2048", "--no-shconf"});
    mode = "no-huge (4 KiB pages, -m 2048; " + std::to_string(free_mb) + " MiB hugepages free)";
  }
  std::vector<char*> cargs;
  for (std::string& s : args) cargs.push_back(s.data());
  cargs.push_back(nullptr);
  if (rte_eal_init(int(cargs.size() - 1), cargs.data()) < 0) {
    throw std::runtime_error(std::string("rte_eal_init: ") + rte_strerror(rte_errno));
  }
  return mode;
}

void build_ours() {
  const size_t rss0 = rss_bytes();
  g.ours = std::make_unique<lpm::RouteTable>();
  const auto t0 = Clock::now();
  for (size_t i = 0; i < g.prefixes.size(); ++i) {
    const lpm::Status s = g.ours->insert(g.prefixes[i], g.nhs[i]);
    if (s != lpm::Status::ok) {
      throw std::runtime_error("lpm insert " + g.prefixes[i].str() + ": " +
                               std::string(lpm::to_string(s)));
    }
  }
  const double secs = seconds_since(t0);
  const lpm::RouteTable::Stats st = g.ours->stats();
  g.mem_ours.fib = double(st.fib_bytes);
  g.mem_ours.rib = double(st.rib_bytes);
  g.mem_ours.total = double(st.fib_bytes + st.rib_bytes);
  g.mem_ours.how =
      "RouteTable::stats() after the setup build: fib_bytes + rib_bytes; process RSS "
      "grew by " +
      std::to_string((rss_bytes() - rss0) >> 10) + " KiB";
  std::fprintf(stderr, "lpm: %zu routes in %.2f s; fib %.1f MiB, rib %.1f MiB\n", st.routes, secs,
               g.mem_ours.fib / 1048576, g.mem_ours.rib / 1048576);
}

rte_fib* create_fib(const char* name) {
  rte_fib_conf c{};
  c.type = RTE_FIB_DIR24_8;
  c.default_nh = kMiss;  // 2^31 - 1 is the largest value a 4-byte DIR24_8 entry can hold
  c.max_routes = int(g.opt.max_rules);
  c.rib_ext_sz = 0;
  c.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
  c.dir24_8.num_tbl8 = g.opt.tbl8s;
  rte_fib* f = rte_fib_create(name, int(rte_socket_id()), &c);
  if (!f) throw std::runtime_error(std::string("rte_fib_create: ") + rte_strerror(rte_errno));
  return f;
}

rte_lpm* create_lpm(const char* name) {
  rte_lpm_config c{};
  c.max_rules = g.opt.max_rules;
  c.number_tbl8s = g.opt.tbl8s;
  c.flags = 0;
  rte_lpm* l = rte_lpm_create(name, int(rte_socket_id()), &c);
  if (!l) throw std::runtime_error(std::string("rte_lpm_create: ") + rte_strerror(rte_errno));
  return l;
}

constexpr double kTbl24Bytes = double(size_t(1) << 24) * 4;
constexpr double kTbl8GroupBytes = 256.0 * 4;

void build_fib() {
  const size_t h0 = heap_allocated();
  g.fib = create_fib("bench-fib");
  const auto t0 = Clock::now();
  for (size_t i = 0; i < g.prefixes.size(); ++i) {
    if (rte_fib_add(g.fib, g.prefixes[i].addr().host(), uint8_t(g.prefixes[i].len()), g.nhs[i])) {
      throw std::runtime_error("rte_fib_add " + g.prefixes[i].str() + " failed");
    }
  }
  const double secs = seconds_since(t0);
  g.mem_rte_fib.total = double(heap_allocated() - h0);
  // rte_fib's dataplane struct is private; DIR24_8 uses exactly one tbl8 group per /24 that
  // holds a longer prefix (cross-checked against rte_lpm's tbl8 array, which is public).
  g.mem_rte_fib.fib = kTbl24Bytes + double(g.tbl8_groups_needed) * kTbl8GroupBytes;
  g.mem_rte_fib.rib = g.mem_rte_fib.total - kTbl24Bytes - double(g.opt.tbl8s) * kTbl8GroupBytes;
  g.mem_rte_fib.how =
      "total: rte_malloc heap growth over rte_fib_create + all rte_fib_add "
      "(max_routes " +
      std::to_string(g.opt.max_rules) + ", num_tbl8 " + std::to_string(g.opt.tbl8s) +
      ", 4-byte next hops); fib: tbl24 + tbl8 "
      "groups in use (" +
      std::to_string(g.tbl8_groups_needed) + ")";

  struct Choice {
    const char* opt;
    rte_fib_lookup_type type;
    const char* name;
  };
  const Choice choices[] = {
      {"avx512", RTE_FIB_LOOKUP_DIR24_8_VECTOR_AVX512, "RTE_FIB_LOOKUP_DIR24_8_VECTOR_AVX512"},
      {"scalar", RTE_FIB_LOOKUP_DIR24_8_SCALAR_MACRO, "RTE_FIB_LOOKUP_DIR24_8_SCALAR_MACRO"},
      {"default", RTE_FIB_LOOKUP_DEFAULT, "RTE_FIB_LOOKUP_DEFAULT"},
  };
  g.fib_lookup_used.clear();
  for (const Choice& c : choices) {
    const bool wanted = g.opt.fib_lookup == c.opt ||
                        (g.opt.fib_lookup == "auto" && std::string_view(c.opt) != "default");
    if (!wanted) continue;
    if (rte_fib_select_lookup(g.fib, c.type) == 0) {
      g.fib_lookup_used = c.name;
      break;
    }
    std::fprintf(stderr, "rte_fib: %s not available\n", c.name);
  }
  if (g.fib_lookup_used.empty()) {
    throw std::runtime_error("rte_fib: no usable lookup function for --fib-lookup " +
                             g.opt.fib_lookup);
  }
  std::fprintf(stderr, "rte_fib: %zu routes in %.2f s; lookup %s; heap %.1f MiB\n",
               g.prefixes.size(), secs, g.fib_lookup_used.c_str(), g.mem_rte_fib.total / 1048576);
}

void build_rte_lpm() {
  std::fprintf(stderr,
               "rte_lpm: building the full table once; rte_lpm_add scans every rule of "
               "the same length, so this takes minutes...\n");
  const size_t h0 = heap_allocated();
  g.lpm4 = create_lpm("bench-lpm");
  const auto t0 = Clock::now();
  for (size_t i = 0; i < g.prefixes.size(); ++i) {
    if (rte_lpm_add(g.lpm4, g.prefixes[i].addr().host(), uint8_t(g.prefixes[i].len()), g.nhs[i])) {
      throw std::runtime_error("rte_lpm_add " + g.prefixes[i].str() + " failed");
    }
    if ((i + 1) % 100000 == 0) {
      g.rte_lpm_checkpoints.emplace_back(i + 1, seconds_since(t0));
      std::fprintf(stderr, "rte_lpm: %zu routes after %.1f s\n", i + 1, seconds_since(t0));
    }
  }
  g.rte_lpm_build_s = seconds_since(t0);
  g.rte_lpm_checkpoints.emplace_back(g.prefixes.size(), g.rte_lpm_build_s);

  size_t groups = 0;
  for (size_t grp = 0; grp < g.opt.tbl8s; ++grp) {
    groups += g.lpm4->tbl8[grp * RTE_LPM_TBL8_GROUP_NUM_ENTRIES].valid_group;
  }
  if (groups != g.tbl8_groups_needed) {
    std::fprintf(stderr, "warning: rte_lpm uses %zu tbl8 groups, expected %zu\n", groups,
                 g.tbl8_groups_needed);
  }
  g.mem_rte_lpm.total = double(heap_allocated() - h0);
  g.mem_rte_lpm.fib = kTbl24Bytes + double(groups) * kTbl8GroupBytes;
  g.mem_rte_lpm.rib = double(g.opt.max_rules) * sizeof(uint64_t);  // rules_tbl: ip + next hop
  g.mem_rte_lpm.how =
      "total: rte_malloc heap growth over rte_lpm_create + all rte_lpm_add "
      "(max_rules " +
      std::to_string(g.opt.max_rules) + ", number_tbl8s " + std::to_string(g.opt.tbl8s) +
      "); fib: tbl24 + tbl8 groups in use (" + std::to_string(groups) +
      ", counted in lpm->tbl8); rib: rules table";

  std::string cps;
  for (auto [n, s] : g.rte_lpm_checkpoints) {
    if (!cps.empty()) cps += ", ";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%zu:%.2fs", n, s);
    cps += buf;
  }
  benchmark::AddCustomContext("rte_lpm_build_checkpoints", cps);
  std::fprintf(stderr, "rte_lpm: %zu routes in %.1f s (%s); heap %.1f MiB\n", g.prefixes.size(),
               g.rte_lpm_build_s, cps.c_str(), g.mem_rte_lpm.total / 1048576);
}

// ---- lookups in each structure's own bulk form, normalised to lpm's result values ----------

void lookup_ours(const Keys& k, size_t pos, uint32_t* out, size_t n) {
  g.ours->lookup_bulk(&k.addrs[pos], out, n);
}

void lookup_ours_scalar(const Keys& k, size_t pos, uint32_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = g.ours->lookup(k.addrs[pos + i]);
}

// rte_lpm_lookup_bulk leaves the raw table entry, flags included; a dataplane must still turn
// it into a next hop or a miss, so that step is part of the measured work.
template <size_t B>
void lookup_rte_lpm(const Keys& k, size_t pos, uint32_t* out) {
  rte_lpm_lookup_bulk(g.lpm4, &k.raw[pos], out, B);
  for (size_t i = 0; i < B; ++i) {
    out[i] = (out[i] & RTE_LPM_LOOKUP_SUCCESS) ? (out[i] & 0x00ffffff) : kMiss;
  }
}

template <size_t B>
void lookup_rte_lpm_x4(const Keys& k, size_t pos, uint32_t* out) {
  for (size_t i = 0; i < B; i += 4) {
    const xmm_t ip = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&k.raw[pos + i]));
    rte_lpm_lookupx4(g.lpm4, ip, out + i, kMiss);
  }
}

// rte_fib wants non-const keys (it never writes them) and returns 64-bit next hops.
void lookup_fib(Keys& k, size_t pos, uint64_t* out, size_t n) {
  rte_fib_lookup_bulk(g.fib, &k.raw[pos], out, int(n));
}

// ---- correctness before speed ----------------------------------------------------------------

// Every structure must give every key the same answer, or the comparison means nothing.
std::string verify(Keys& k) {
  const size_t n = k.raw.size();
  std::vector<uint32_t> ours(n), ours_scalar(n), l(n), lx4(n);
  std::vector<uint64_t> f(n);
  for (size_t pos = 0; pos < n; pos += kMaxBurst) {
    lookup_ours(k, pos, &ours[pos], kMaxBurst);
    lookup_ours_scalar(k, pos, &ours_scalar[pos], kMaxBurst);
    lookup_fib(k, pos, &f[pos], kMaxBurst);
    if (g.lpm4) {
      lookup_rte_lpm<kMaxBurst>(k, pos, &l[pos]);
      lookup_rte_lpm_x4<kMaxBurst>(k, pos, &lx4[pos]);
    }
  }
  size_t bad = 0, shown = 0, hits = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t want = uint32_t(f[i]);
    hits += want != kMiss;
    const bool ok =
        ours[i] == want && ours_scalar[i] == want && (!g.lpm4 || (l[i] == want && lx4[i] == want));
    if (ok) continue;
    if (++bad, shown++ < 5) {
      auto m = g.ours->match(k.addrs[i]);
      std::fprintf(stderr,
                   "MISMATCH %s key %s: lpm bulk %u, lpm lookup %u, rte_lpm %u/%u (x4), rte_fib "
                   "%u; RIB match %s\n",
                   k.name.c_str(), k.addrs[i].str().c_str(), ours[i], ours_scalar[i], l[i], lx4[i],
                   want, m ? (m->prefix.str() + " nh " + std::to_string(m->nh)).c_str() : "none");
    }
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s: %zu keys, %.1f%% routed, %zu mismatches", bad ? "FAIL" : "ok",
                n, 100.0 * double(hits) / double(n), bad);
  std::fprintf(stderr, "verify %s keys: %s\n", k.name.c_str(), buf);
  return buf;
}

// ---- benchmark bodies ------------------------------------------------------------------------

// ns_per_lookup is timed here rather than derived by the library, whose console output would
// print an inverted rate with a misleading "s" unit. The clock starts a few instructions before
// the library's own timer does, which is noise at these run lengths.
void finish_lookups(benchmark::State& st, size_t per_iteration, Clock::time_point t0) {
  const double secs = seconds_since(t0);
  const double n = double(st.iterations()) * double(per_iteration);
  st.SetItemsProcessed(int64_t(n));
  st.counters["ns_per_lookup"] = secs * 1e9 / n;
}

// One burst per iteration, walking the key array cyclically: the keys stream in as packets
// would, and each structure's output buffer stays in L1 as a dataplane's burst array does.
template <size_t B, class F>
void bulk_loop(benchmark::State& st, Keys& k, F&& one_burst) {
  const size_t n = k.raw.size();
  size_t pos = 0;
  const auto t0 = Clock::now();
  for (auto _ : st) {
    one_burst(pos);
    benchmark::ClobberMemory();
    pos += B;
    if (pos == n) pos = 0;
  }
  finish_lookups(st, B, t0);
}

template <size_t B>
void register_bulk(const char* figure, Keys& k) {
  const std::string prefix = std::string(figure) + "/";
  const std::string suffix = "/" + std::to_string(B);
  auto reg = [&](const std::string& impl, auto&& fn) {
    benchmark::RegisterBenchmark((prefix + impl + suffix).c_str(), fn)->UseRealTime();
  };
  reg("lpm", [&k](benchmark::State& st) {
    std::vector<uint32_t> out(B);
    bulk_loop<B>(st, k, [&](size_t pos) {
      lookup_ours(k, pos, out.data(), B);
      benchmark::DoNotOptimize(out.data());
    });
  });
  reg("lpm_scalar", [&k](benchmark::State& st) {
    std::vector<uint32_t> out(B);
    bulk_loop<B>(st, k, [&](size_t pos) {
      lookup_ours_scalar(k, pos, out.data(), B);
      benchmark::DoNotOptimize(out.data());
    });
  });
  if (g.lpm4) {
    reg("rte_lpm", [&k](benchmark::State& st) {
      std::vector<uint32_t> out(B);
      bulk_loop<B>(st, k, [&](size_t pos) {
        lookup_rte_lpm<B>(k, pos, out.data());
        benchmark::DoNotOptimize(out.data());
      });
    });
    reg("rte_lpm_x4", [&k](benchmark::State& st) {
      std::vector<uint32_t> out(B);
      bulk_loop<B>(st, k, [&](size_t pos) {
        lookup_rte_lpm_x4<B>(k, pos, out.data());
        benchmark::DoNotOptimize(out.data());
      });
    });
  }
  reg("rte_fib", [&k](benchmark::State& st) {
    std::vector<uint64_t> out(B);
    bulk_loop<B>(st, k, [&](size_t pos) {
      lookup_fib(k, pos, out.data(), B);
      benchmark::DoNotOptimize(out.data());
    });
  });
}

// Each key is XORed with (previous result & 0): the value never changes, but the CPU cannot
// start a lookup before the previous one has finished, so the time per lookup is its latency.
template <class F>
void chain_loop(benchmark::State& st, const Keys& k, F&& lookup_one) {
  const uint32_t zero = g_zero;
  const size_t n = k.raw.size();
  size_t pos = 0;
  uint32_t prev = 0;
  const auto t0 = Clock::now();
  for (auto _ : st) {
    for (size_t i = 0; i < kChainBlock; ++i) prev = lookup_one(k.raw[pos + i] ^ (prev & zero));
    pos += kChainBlock;
    if (pos == n) pos = 0;
  }
  benchmark::DoNotOptimize(prev);
  finish_lookups(st, kChainBlock, t0);
}

void register_chain(Keys& k) {
  const std::string prefix = "chain-" + k.name + "/";
  auto reg = [&](const char* impl, auto&& fn) {
    benchmark::RegisterBenchmark((prefix + impl).c_str(), fn)->UseRealTime();
  };
  reg("lpm", [&k](benchmark::State& st) {
    chain_loop(st, k, [](uint32_t key) { return g.ours->lookup(Ipv4Addr::from_host(key)); });
  });
  if (g.lpm4) {
    reg("rte_lpm", [&k](benchmark::State& st) {
      chain_loop(st, k, [](uint32_t key) {
        uint32_t nh;
        return rte_lpm_lookup(g.lpm4, key, &nh) == 0 ? nh : kMiss;
      });
    });
  }
  // rte_fib has no single-key lookup: a burst of one through its bulk function is the API.
  reg("rte_fib", [&k](benchmark::State& st) {
    chain_loop(st, k, [](uint32_t key) {
      uint64_t nh;
      rte_fib_lookup_bulk(g.fib, &key, &nh, 1);
      return uint32_t(nh);
    });
  });
}

// Builds are timed by hand (UseManualTime) so that creating and freeing the empty structure,
// which for DPDK means zeroing 64 MiB of tbl24, stays outside the figure: only the inserts count.
void build_counters(benchmark::State& st, double total_s) {
  const double n = double(g.prefixes.size());
  st.SetItemsProcessed(int64_t(n * double(st.iterations())));
  st.counters["seconds"] = total_s / double(st.iterations());
  st.counters["routes_per_second"] = n * double(st.iterations()) / total_s;
}

void register_build() {
  benchmark::RegisterBenchmark("build/lpm",
                               [](benchmark::State& st) {
                                 double total = 0;
                                 for (auto _ : st) {
                                   auto t = std::make_unique<lpm::RouteTable>();
                                   const auto t0 = Clock::now();
                                   for (size_t i = 0; i < g.prefixes.size(); ++i) {
                                     if (t->insert(g.prefixes[i], g.nhs[i]) != lpm::Status::ok) {
                                       st.SkipWithError("lpm insert failed");
                                       break;
                                     }
                                   }
                                   const double s = seconds_since(t0);
                                   total += s;
                                   st.SetIterationTime(s);
                                 }
                                 build_counters(st, total);
                               })
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);

  benchmark::RegisterBenchmark("build/rte_fib",
                               [](benchmark::State& st) {
                                 double total = 0;
                                 static int serial = 0;
                                 for (auto _ : st) {
                                   const std::string name = "build-fib-" + std::to_string(serial++);
                                   rte_fib* f = create_fib(name.c_str());
                                   const auto t0 = Clock::now();
                                   for (size_t i = 0; i < g.prefixes.size(); ++i) {
                                     if (rte_fib_add(f, g.prefixes[i].addr().host(),
                                                     uint8_t(g.prefixes[i].len()), g.nhs[i])) {
                                       st.SkipWithError("rte_fib_add failed");
                                       break;
                                     }
                                   }
                                   const double s = seconds_since(t0);
                                   total += s;
                                   st.SetIterationTime(s);
                                   rte_fib_free(f);
                                 }
                                 build_counters(st, total);
                               })
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);

  if (g.lpm4) {
    // The one full rte_lpm build done at setup, reported here: at ~7k routes/s a repetition
    // would cost over two minutes. Measured once, on the same prefixes in the same order.
    benchmark::RegisterBenchmark("build/rte_lpm",
                                 [](benchmark::State& st) {
                                   for (auto _ : st) st.SetIterationTime(g.rte_lpm_build_s);
                                   build_counters(st, g.rte_lpm_build_s);
                                   // The rate over the first 100k routes, to show that a subset
                                   // would overstate it badly.
                                   const auto& [n0, s0] = g.rte_lpm_checkpoints.front();
                                   st.counters["routes_per_second_first_100k"] = double(n0) / s0;
                                   st.SetLabel("measured once at setup");
                                 })
        ->UseManualTime()
        ->Iterations(1)
        ->Repetitions(1)
        ->Unit(benchmark::kMillisecond);
  }
}

// Removes and re-inserts one random table prefix per iteration (two updates), on the loaded
// table, which therefore ends as it began. The position persists across runs so that later
// runs do not replay prefixes whose memory is still warm from the previous one.
template <class F>
void update_loop(benchmark::State& st, size_t* pos, F&& remove_insert) {
  for (auto _ : st) {
    const uint32_t i = g.update_order[*pos];
    if (++*pos == g.update_order.size()) *pos = 0;
    if (!remove_insert(g.prefixes[i], g.nhs[i])) {
      st.SkipWithError(("update of " + g.prefixes[i].str() + " failed").c_str());
      break;
    }
  }
  st.SetItemsProcessed(2 * st.iterations());
  st.counters["updates_per_second"] =
      benchmark::Counter(2.0 * double(st.iterations()), benchmark::Counter::kIsRate);
}

void register_update() {
  benchmark::RegisterBenchmark("update/lpm", [](benchmark::State& st) {
    static size_t pos = 0;
    update_loop(st, &pos, [](Prefix p, uint32_t nh) {
      return g.ours->remove(p) == lpm::Status::ok && g.ours->insert(p, nh) == lpm::Status::ok;
    });
  })->UseRealTime();
  if (g.lpm4) {
    benchmark::RegisterBenchmark("update/rte_lpm", [](benchmark::State& st) {
      static size_t pos = 0;
      update_loop(st, &pos, [](Prefix p, uint32_t nh) {
        const uint32_t a = p.addr().host();
        const auto len = uint8_t(p.len());
        return rte_lpm_delete(g.lpm4, a, len) == 0 && rte_lpm_add(g.lpm4, a, len, nh) == 0;
      });
    })->UseRealTime();
  }
  benchmark::RegisterBenchmark("update/rte_fib", [](benchmark::State& st) {
    static size_t pos = 0;
    update_loop(st, &pos, [](Prefix p, uint32_t nh) {
      const uint32_t a = p.addr().host();
      const auto len = uint8_t(p.len());
      return rte_fib_delete(g.fib, a, len) == 0 && rte_fib_add(g.fib, a, len, nh) == 0;
    });
  })->UseRealTime();
}

void register_memory() {
  auto reg = [](const char* name, const Memory* m) {
    benchmark::RegisterBenchmark(name,
                                 [m](benchmark::State& st) {
                                   for (auto _ : st) benchmark::DoNotOptimize(m);
                                   st.counters["bytes"] = m->total;
                                   st.counters["fib_bytes"] = m->fib;
                                   st.counters["rib_bytes"] = m->rib;
                                   st.SetLabel(m->how);
                                 })
        ->Iterations(1)
        ->Repetitions(1);
  };
  reg("memory/lpm", &g.mem_ours);
  if (g.lpm4) reg("memory/rte_lpm", &g.mem_rte_lpm);
  reg("memory/rte_fib", &g.mem_rte_fib);
}

int run(int argc, char** argv) {
  g.opt = parse_options(&argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const std::string mode = init_eal(argv[0]);
  std::fprintf(stderr, "DPDK %s, memory: %s\n", rte_version(), mode.c_str());
  benchmark::AddCustomContext("dpdk_version", rte_version());
  benchmark::AddCustomContext("dpdk_memory", mode);

  load_table();
  make_keys();
  build_ours();
  build_fib();
  if (g.opt.with_rte_lpm) build_rte_lpm();
  benchmark::AddCustomContext("rte_fib_lookup", g.fib_lookup_used);
  benchmark::AddCustomContext("rte_lpm_config", "max_rules " + std::to_string(g.opt.max_rules) +
                                                    ", number_tbl8s " +
                                                    std::to_string(g.opt.tbl8s));
  benchmark::AddCustomContext("memory_lpm", g.mem_ours.how);
  benchmark::AddCustomContext("memory_rte_fib", g.mem_rte_fib.how);
  if (g.lpm4) benchmark::AddCustomContext("memory_rte_lpm", g.mem_rte_lpm.how);
  const std::string v1 = verify(g.random_keys), v2 = verify(g.intable_keys);
  benchmark::AddCustomContext("verify_random", v1);
  benchmark::AddCustomContext("verify_intable", v2);
  const bool verified = v1.rfind("ok", 0) == 0 && v2.rfind("ok", 0) == 0;

  // Registration order is run order: lookups first, then the figures that modify or allocate.
  register_bulk<32>("bulk-random", g.random_keys);
  register_bulk<64>("bulk-random", g.random_keys);
  register_bulk<32>("bulk-intable", g.intable_keys);
  register_bulk<64>("bulk-intable", g.intable_keys);
  register_chain(g.random_keys);
  register_chain(g.intable_keys);
  register_build();
  register_update();
  register_memory();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  g.ours.reset();
  rte_lpm_free(g.lpm4);
  rte_fib_free(g.fib);
  rte_eal_cleanup();
  // Numbers from structures that disagree are still printed (they help find the bug), but the
  // run fails so that no script mistakes them for a valid comparison.
  if (!verified) std::fprintf(stderr, "lpm-bench: lookup results differ, see MISMATCH above\n");
  return verified ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lpm-bench: %s\n", e.what());
    return 1;
  }
}
