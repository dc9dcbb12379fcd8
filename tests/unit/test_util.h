// test_util.h — helpers shared by the lpm/ unit tests: sanitizer-aware iteration counts, the
// path of the real route table, random addresses, and gtest printers for sluice's value types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <random>
#include <string>

#include "lpm/ipv4.h"
#include "lpm/route_file.h"
#include "lpm/route_table.h"

// ASan and UBSan slow the tests by 3-10x. The iteration counts the issue asks for are met in
// the plain build; a sanitizer build runs fewer iterations of the same code paths, because
// there the point is finding memory and UB errors, not statistical coverage.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLUICE_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(undefined_behavior_sanitizer)
#define SLUICE_TEST_SANITIZED 1
#endif
#endif
#ifndef SLUICE_TEST_SANITIZED
#define SLUICE_TEST_SANITIZED 0
#endif

namespace sluice::test {

inline constexpr bool kSanitized = SLUICE_TEST_SANITIZED != 0;

// `full` in the plain build, full / divisor (at least 1) under a sanitizer.
constexpr size_t scaled(size_t full, size_t divisor) {
  if (!kSanitized) return full;
  return full / divisor ? full / divisor : 1;
}

// The real table: $SLUICE_FULLVIEW (set by meson test), else the path configured at build time.
inline std::string fullview_path() {
  if (const char* env = std::getenv("SLUICE_FULLVIEW"); env && *env) return env;
  return lpm::default_fullview_path();
}

inline bool file_readable(const std::string& path) {
  return std::ifstream(path).good();
}

// A uniformly random address inside p.
inline Ipv4Addr random_in(Prefix p, std::mt19937_64& rng) {
  const uint32_t host_bits = ~p.mask();
  return Ipv4Addr::from_host(p.addr().host() | (uint32_t(rng()) & host_bits));
}

inline Ipv4Addr addr_plus(Ipv4Addr a, int64_t delta) {
  // Wraps modulo 2^32 on purpose: 0.0.0.0 - 1 is 255.255.255.255, still a valid probe.
  return Ipv4Addr::from_host(uint32_t(int64_t(a.host()) + delta));
}

inline Prefix P(const char* s) {
  auto p = Prefix::parse(s);
  if (!p) {
    // A typo in a test's literal must not silently become 0.0.0.0/0.
    std::fprintf(stderr, "test bug: '%s' is not a canonical prefix\n", s);
    std::abort();
  }
  return *p;
}

inline Ipv4Addr A(const char* s) {
  auto a = Ipv4Addr::parse(s);
  if (!a) {
    std::fprintf(stderr, "test bug: '%s' is not an address\n", s);
    std::abort();
  }
  return *a;
}

}  // namespace sluice::test

// Readable failure messages: without these gtest prints the objects as raw bytes.
namespace sluice {
inline void PrintTo(Ipv4Addr a, std::ostream* os) {
  *os << a.str();
}
inline void PrintTo(Prefix p, std::ostream* os) {
  *os << p.str();
}
}  // namespace sluice

namespace sluice::lpm {
inline void PrintTo(Status s, std::ostream* os) {
  *os << to_string(s);
}
inline void PrintTo(const Route& r, std::ostream* os) {
  *os << r.prefix.str() << " nh " << r.nh;
}
}  // namespace sluice::lpm
