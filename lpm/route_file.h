// route_file.h — reading prefix lists such as ../shared/data/fullview-prefixes.txt.gz.
//
// Used by the demo, the tests and the benchmarks; not by the router itself (the kernel feeds it).
#pragma once

#include <string>
#include <vector>

#include "lpm/ipv4.h"
#include "lpm/route_table.h"

namespace sluice::lpm {

// One CIDR per line, plain or gzip-compressed (zlib reads both). IPv6 lines (with ':'), blank
// lines and '#' comments are skipped; duplicate prefixes are kept as they appear. Throws
// std::runtime_error naming the file and line on anything else.
std::vector<Prefix> read_prefix_file(const std::string& path);

// The benchmark convention for inventing next hops: `count` next hops (64 by default in the
// benchmarks), chosen by a fixed hash of the prefix so every run and every table under
// comparison gets the same assignment.
NextHop synthetic_next_hop(Prefix p, unsigned count);

// Where the shared real table lives, as configured at build time (meson option `fullview`).
std::string default_fullview_path();

}  // namespace sluice::lpm
