// lpm_demo.cpp — loads a route file into lpm/ and answers like `ip route get` (scripts/demo).
//
// The table has no next hops of its own, so each prefix gets one of 64 invented gateways
// (synthetic_next_hop: a fixed hash of the prefix), 198.51.100.1-64 spread over four ports.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "lpm/route_file.h"
#include "lpm/route_table.h"

using namespace sluice;
using namespace sluice::lpm;

namespace {

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::string describe(NextHop nh) {
  return "via " + Ipv4Addr::from_host(Ipv4Addr::from_octets(198, 51, 100, 1).host() + nh).str() +
         " dev port" + std::to_string(nh % 4);
}

}  // namespace

int main(int argc, char** argv) {
  std::string path = default_fullview_path();
  std::vector<std::string> queries;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--table") && i + 1 < argc) {
      path = argv[++i];
    } else if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      std::printf("usage: lpm-demo [--table FILE] [ADDRESS...]\n");
      return 0;
    } else {
      queries.push_back(argv[i]);
    }
  }
  if (queries.empty()) {
    queries = {"8.8.8.8",     "1.1.1.1",  "193.0.14.129",    "151.101.1.69",
               "203.0.113.7", "10.1.2.3", "185.199.108.153", "31.13.64.35"};
  }

  std::vector<Prefix> prefixes;
  try {
    prefixes = read_prefix_file(path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lpm-demo: %s\n", e.what());
    return 1;
  }

  const long rss_before = rss_kib();
  RouteTable table;
  const auto t0 = std::chrono::steady_clock::now();
  size_t dup = 0;
  for (Prefix p : prefixes) {
    if (table.insert(p, synthetic_next_hop(p, 64)) == Status::exists) ++dup;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long rss_after = rss_kib();
  const RouteTable::Stats st = table.stats();

  std::printf("loaded %zu routes from %s (%zu duplicate lines) in %.3f s (%.2f M routes/s)\n",
              table.size(), path.c_str(), dup, secs, double(table.size()) / secs / 1e6);
  std::printf("memory: lookup structure %.2f MiB, RIB %.2f MiB, process RSS grew %.2f MiB\n\n",
              double(st.fib_bytes) / (1 << 20), double(st.rib_bytes) / (1 << 20),
              double(rss_after - rss_before) / 1024);

  int rc = 0;
  for (const std::string& q : queries) {
    auto a = Ipv4Addr::parse(q);
    if (!a) {
      std::fprintf(stderr, "lpm-demo: not an IPv4 address: '%s'\n", q.c_str());
      rc = 1;
      continue;
    }
    const NextHop nh = table.lookup(*a);
    auto r = table.match(*a);
    if (nh == kNoRoute || !r) {
      std::printf("%-16s unreachable (no route)\n", a->str().c_str());
      continue;
    }
    if (r->nh != nh) {  // the FIB and the RIB must agree; say so loudly if they ever do not
      std::fprintf(stderr, "lpm-demo: FIB/RIB mismatch for %s\n", a->str().c_str());
      rc = 2;
    }
    std::printf("%-16s %s   # route %s, next hop id %u\n", a->str().c_str(), describe(nh).c_str(),
                r->prefix.str().c_str(), nh);
  }
  return rc;
}
