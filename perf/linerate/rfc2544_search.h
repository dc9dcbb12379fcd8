// rfc2544_search.h — the throughput search of RFC 2544 section 26.1: the highest rate at which
// the DUT forwards every frame offered (or all but a tolerated fraction), found by binary
// search over trials that the caller runs (a callback: the search knows nothing of ports).
// DPDK-free, so that it is tested against a simulated DUT.
//
// What it adds to the RFC's plain binary search, because a software generator on a shared
// machine is not an ideal one:
//  - a trial whose achieved offered rate is below 0.98 x the requested one is "generator-
//    limited": the rate was not offered, so the trial says something about the rate that was
//    (the achieved one), which becomes the new upper bound; a pass there ends the search with
//    generator_limited set (the DUT may do more than the tester can offer);
//  - a trial the caller marks invalid (the TX stalled, the run was interrupted) says nothing
//    about the DUT: it is run again at the same rate, up to `retries` times, then the search
//    fails with the trial's reason.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "perf/linerate/latency_histogram.h"

namespace sluice::linerate {

struct LatencySummary {
  uint64_t count = 0;
  uint64_t min_ns = 0;
  double mean_ns = 0;
  uint64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, p999_ns = 0;
  uint64_t max_ns = 0;
  static LatencySummary of(const LatencyHistogram& h);
};

struct TrialResult {
  // Filled by the caller's trial function.
  uint32_t trial_id = 0;   // the caller's handle on its own records of the trial
  double offered_pps = 0;  // what was achieved: frames sent / seconds
  double seconds = 0;
  uint64_t sent = 0;
  uint64_t received = 0;  // unique frames of this trial
  uint64_t lost = 0;      // sent - received, >= 0
  uint64_t reordered = 0;
  uint64_t duplicates = 0;
  LatencySummary latency;
  bool valid = true;   // false: says nothing about the DUT; `why` tells what happened
  bool abort = false;  // with !valid: end the search now, no retry (the run was interrupted)
  std::string why;
  // Filled by the search.
  double requested_pps = 0;
  double loss = 0;  // lost / sent
  bool generator_limited = false;
  bool passed = false;
};

struct SearchConfig {
  double max_rate = 0;        // pps; the first trial
  double min_rate = 0;        // pps; the lowest rate tried (0: none; the search halves down to it)
  double precision = 0.01;    // stop when (lowest failing - highest passing) / lowest failing <= it
  double loss_tolerance = 0;  // fraction of frames that may be lost in a passing trial
  unsigned max_trials = 20;   // valid trials; reaching it before `precision` fails the search
  double trial_seconds = 2;
  unsigned retries = 2;  // runs again of an invalid trial before failing
  double generator_margin = 0.98;
};

struct SearchResult {
  bool ok = false;  // completed: converged, passed at max rate, or nothing passed
  std::string why;  // ok: a note (nothing passed, generator-limited); not ok: the failure
  double rate = 0;  // highest passing rate (its achieved offered rate), 0 if none passed
  std::optional<TrialResult> best;  // the trial that passed at `rate`
  bool generator_limited = false;   // `rate` is bounded by the generator, not by the DUT
  std::vector<TrialResult> trials;  // every trial, invalid ones included, in order
};

using TrialFunction = std::function<TrialResult(double rate_pps, double seconds)>;

// Throws std::invalid_argument for a config that cannot work (max_rate <= 0, min > max,
// precision outside (0, 1), tolerance outside [0, 1)).
SearchResult rfc2544_search(const SearchConfig& cfg, const TrialFunction& trial);

// "1.235 Mpps", "850.0 kpps", "120 pps": for messages.
std::string format_pps(double pps);

}  // namespace sluice::linerate
