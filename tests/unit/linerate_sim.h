// linerate_sim.h — a simulated DUT and generator for the RFC 2544 search's tests: the trial
// function the search calls, with known answers.
//  - the DUT forwards up to C pps: at an offered rate R it loses max(0, R - C) / R of the
//    frames (capacity loss);
//  - plus, optionally, each frame independently with probability p (random loss; drawn as a
//    binomial count from a std::mt19937_64 with a fixed seed, so a test sees the same draws on
//    every run with the same standard library);
//  - latency: a base (10 us) plus a queueing term that grows as the load nears C, and a queue
//    that fills (1 ms) above C; 1,000 samples a trial, exponential around that mean;
//  - the generator offers at most G pps: asking more gives G;
//  - the first `invalid_first` trials are marked invalid ("tx stalled"), the next valid.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "perf/linerate/latency_histogram.h"
#include "perf/linerate/rfc2544_search.h"

namespace sluice::linerate::test {

struct SimDut {
  double capacity = 1e6;                                       // C, pps
  double random_loss = 0;                                      // p
  double generator = std::numeric_limits<double>::infinity();  // G, pps
  unsigned invalid_first = 0;
  uint64_t seed = 42;

  unsigned calls = 0;
  std::mt19937_64 rng{seed};

  TrialResult operator()(double rate, double seconds) {
    TrialResult t;
    t.trial_id = ++calls;
    t.seconds = seconds;
    if (calls <= invalid_first) {
      t.valid = false;
      t.why = "tx stalled";
      return t;
    }
    const double offered = std::min(rate, generator);
    t.offered_pps = offered;
    t.sent = static_cast<uint64_t>(std::llround(offered * seconds));
    const uint64_t cap = static_cast<uint64_t>(std::floor(capacity * seconds));
    uint64_t through = std::min(t.sent, cap);
    if (random_loss > 0 && through > 0) {
      std::binomial_distribution<uint64_t> lost(through, random_loss);
      through -= lost(rng);
    }
    t.received = through;
    t.lost = t.sent - through;
    LatencyHistogram h;
    const double load = offered / capacity;
    const double mean = 10'000 + (load < 1 ? 2'000 * load / (1 - load + 0.01) : 1'000'000);
    std::exponential_distribution<double> lat(1 / mean);
    for (int i = 0; i < 1000 && through > 0; ++i) h.record(static_cast<uint64_t>(lat(rng)) + 1);
    t.latency = LatencySummary::of(h);
    return t;
  }
};

}  // namespace sluice::linerate::test
