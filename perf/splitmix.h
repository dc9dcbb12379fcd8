// splitmix.h — the benchmarks' random numbers: splitmix64, a tiny generator whose output is
// fixed by its definition (unlike the standard library's distributions), so keys and flows are
// identical on every machine and compiler.
#pragma once

#include <cstdint>

namespace sluice::perf {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t below(uint32_t n) { return uint32_t(((next() >> 32) * n) >> 32); }

 private:
  uint64_t s_;
};

}  // namespace sluice::perf
