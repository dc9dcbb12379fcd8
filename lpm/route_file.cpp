// route_file.cpp — reading prefix lists (plain or gzip) for the demo, tests and benchmarks.
#include "lpm/route_file.h"

#include <zlib.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>

#ifndef SLUICE_FULLVIEW
#define SLUICE_FULLVIEW "../shared/data/fullview-prefixes.txt.gz"
#endif

namespace sluice::lpm {

std::vector<Prefix> read_prefix_file(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw std::runtime_error(path + ": cannot open");
  gzbuffer(f.get(), 1 << 17);
  std::vector<Prefix> out;
  char line[256];
  size_t lineno = 0;
  while (gzgets(f.get(), line, sizeof line)) {
    ++lineno;
    std::string_view s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
      s.remove_suffix(1);
    }
    if (s.empty() || s[0] == '#' || s.find(':') != std::string_view::npos) continue;
    auto p = Prefix::parse(s);
    if (!p) {
      throw std::runtime_error(path + ":" + std::to_string(lineno) + ": not an IPv4 prefix: '" +
                               std::string(s) + "'");
    }
    out.push_back(*p);
  }
  int err = 0;
  const char* msg = gzerror(f.get(), &err);
  if (err != Z_OK && err != Z_STREAM_END) throw std::runtime_error(path + ": " + msg);
  return out;
}

NextHop synthetic_next_hop(Prefix p, unsigned count) {
  // A fixed multiplicative hash (Knuth's constant) of address and length: stable across runs,
  // machines and compilers, and spreads neighbouring prefixes over different next hops.
  uint64_t h = (uint64_t(p.addr().host()) << 6 | p.len()) * 0x9E3779B97F4A7C15ull;
  return NextHop((h >> 32) % (count ? count : 1));
}

std::string default_fullview_path() {
  if (const char* env = std::getenv("SLUICE_FULLVIEW"); env && *env) return env;
  return SLUICE_FULLVIEW;
}

}  // namespace sluice::lpm
