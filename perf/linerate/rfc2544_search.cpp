// rfc2544_search.cpp — the binary search and its bookkeeping.
#include "perf/linerate/rfc2544_search.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace sluice::linerate {
namespace {

std::string percent(double f) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g %%", f * 100);
  return b;
}

}  // namespace

LatencySummary LatencySummary::of(const LatencyHistogram& h) {
  LatencySummary s;
  s.count = h.count();
  if (s.count == 0) return s;
  s.min_ns = h.min();
  s.mean_ns = h.mean();
  s.p50_ns = h.percentile(0.5);
  s.p90_ns = h.percentile(0.9);
  s.p99_ns = h.percentile(0.99);
  s.p999_ns = h.percentile(0.999);
  s.max_ns = h.max();
  return s;
}

std::string format_pps(double pps) {
  char b[48];
  if (pps >= 1e6)
    std::snprintf(b, sizeof b, "%.3f Mpps", pps / 1e6);
  else if (pps >= 1e3)
    std::snprintf(b, sizeof b, "%.1f kpps", pps / 1e3);
  else
    std::snprintf(b, sizeof b, "%.0f pps", pps);
  return b;
}

SearchResult rfc2544_search(const SearchConfig& cfg, const TrialFunction& trial) {
  if (!(cfg.max_rate > 0)) throw std::invalid_argument("the maximum rate must be above 0");
  if (cfg.min_rate < 0 || cfg.min_rate > cfg.max_rate)
    throw std::invalid_argument("the minimum rate must be 0 to the maximum rate");
  if (!(cfg.precision > 0 && cfg.precision < 1))
    throw std::invalid_argument("the precision must be above 0 and below 1");
  if (!(cfg.loss_tolerance >= 0 && cfg.loss_tolerance < 1))
    throw std::invalid_argument("the loss tolerance must be 0 or more and below 1");
  if (cfg.max_trials == 0) throw std::invalid_argument("at least one trial");

  SearchResult r;
  double lo = 0;             // the highest passing rate so far (0: none)
  double hi = cfg.max_rate;  // the lowest failing rate so far (max_rate while untested)
  double rate = cfg.max_rate;
  unsigned valid = 0;
  while (true) {
    if (valid >= cfg.max_trials) {
      r.ok = false;
      r.why = "reached " + std::to_string(cfg.max_trials) + " trials before the precision (" +
              percent(cfg.precision) + "): passing " + format_pps(lo) + ", failing " +
              format_pps(hi);
      break;
    }
    TrialResult t;
    for (unsigned attempt = 0;; ++attempt) {
      t = trial(rate, cfg.trial_seconds);
      t.requested_pps = rate;
      t.loss = t.sent ? static_cast<double>(t.lost) / static_cast<double>(t.sent) : 0;
      if (t.valid && t.sent == 0) {
        t.valid = false;
        t.why = "nothing was sent";
      }
      if (t.valid) break;
      t.passed = false;
      r.trials.push_back(t);
      if (t.abort) {
        r.ok = false;
        r.why = t.why;
        return r;
      }
      if (attempt >= cfg.retries) {
        r.ok = false;
        r.why = "the trial at " + format_pps(rate) + " was invalid " + std::to_string(attempt + 1) +
                " times in a row (last: " + t.why + ")";
        return r;
      }
    }
    ++valid;
    t.generator_limited = t.offered_pps < cfg.generator_margin * rate;
    const double eff = t.generator_limited ? std::min(t.offered_pps, rate) : rate;
    t.passed = static_cast<double>(t.lost) <= cfg.loss_tolerance * static_cast<double>(t.sent);
    if (!t.passed) t.why = "loss " + percent(t.loss) + " > " + percent(cfg.loss_tolerance);
    if (t.generator_limited)
      t.why += std::string(t.why.empty() ? "" : "; ") + "generator-limited: offered " +
               format_pps(t.offered_pps) + " of " + format_pps(rate);
    r.trials.push_back(t);

    if (t.passed) {
      if (eff > lo || !r.best) {
        lo = std::max(lo, eff);
        r.best = t;
        r.rate = std::min(t.offered_pps, rate);
      }
      if (t.generator_limited) {
        // It cannot offer more than this: whatever the DUT could do above is unknown.
        r.ok = true;
        r.generator_limited = true;
        r.why = "generator-limited: the tester offered at most " + format_pps(t.offered_pps) +
                " of the " + format_pps(rate) + " asked";
        break;
      }
      if (rate >= cfg.max_rate) {
        r.ok = true;
        break;
      }
    } else {
      hi = std::min(hi, eff);
    }
    if (lo > 0 && (hi - lo) <= cfg.precision * hi) {
      r.ok = true;
      break;
    }
    if (lo == 0 && rate <= cfg.min_rate) {
      r.ok = true;
      r.why = "no rate passed: the lowest tried, " + format_pps(rate) + ", lost " + percent(t.loss);
      break;
    }
    if (lo > 0) {
      rate = (lo + hi) / 2;
    } else {
      // Nothing passed yet: halve towards min_rate, and try min_rate itself last.
      rate = (hi - cfg.min_rate) <= cfg.precision * hi ? cfg.min_rate : (cfg.min_rate + hi) / 2;
      if (rate <= 0) {
        r.ok = true;
        r.why = "no rate passed";
        break;
      }
    }
  }
  return r;
}

}  // namespace sluice::linerate
