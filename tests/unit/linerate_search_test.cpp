// The RFC 2544 throughput search against the simulated DUT of linerate_sim.h.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

#include "perf/linerate/rfc2544_search.h"
#include "tests/unit/linerate_sim.h"

namespace sluice::linerate {
namespace {

using test::SimDut;

SearchConfig config(double max = 2e6) {
  SearchConfig c;
  c.max_rate = max;
  c.min_rate = 1000;
  c.precision = 0.01;
  c.loss_tolerance = 0;
  c.max_trials = 30;
  c.trial_seconds = 1;
  c.retries = 2;
  return c;
}

// Zero loss, capacity C: the answer is below C and within the precision of it, for many C.
TEST(Rfc2544Search, FindsTheCapacity) {
  std::mt19937_64 rng(1);  // fixed seed
  std::uniform_real_distribution<double> log_c(std::log(2000.0), std::log(1.99e6));
  for (int i = 0; i < 200; ++i) {
    SimDut dut;
    dut.capacity = std::exp(log_c(rng));
    const SearchConfig c = config();
    const SearchResult r = rfc2544_search(c, std::ref(dut));
    ASSERT_TRUE(r.ok) << r.why;
    ASSERT_TRUE(r.best.has_value());
    EXPECT_FALSE(r.generator_limited);
    // Passing means at most C x 1 s whole frames were offered.
    EXPECT_LE(r.rate, dut.capacity + 1) << "C " << dut.capacity;
    EXPECT_GE(r.rate, dut.capacity * (1 - c.precision * 1.01)) << "C " << dut.capacity;
    EXPECT_TRUE(r.best->passed);
    EXPECT_EQ(r.best->lost, 0u);
    // log2(1 / 0.01) ~ 7 halvings from the bracket, plus the first trial and the way down.
    EXPECT_LE(r.trials.size(), 20u);
    EXPECT_EQ(r.trials.front().requested_pps, c.max_rate);
    // Every trial's verdict agrees with the simulation.
    for (const TrialResult& t : r.trials) EXPECT_EQ(t.passed, t.lost == 0);
  }
}

// Random loss p under a tolerance above it: the search finds where capacity loss plus p reach
// the tolerance, R* = C / (1 - (tol - p)), not C.
TEST(Rfc2544Search, LossToleranceAboveRandomLoss) {
  for (double cap : {50e3, 300e3, 1.2e6}) {
    SimDut dut;
    dut.capacity = cap;
    dut.random_loss = 0.01;
    dut.seed = 99;
    SearchConfig c = config();
    c.loss_tolerance = 0.05;
    const SearchResult r = rfc2544_search(c, std::ref(dut));
    ASSERT_TRUE(r.ok) << r.why;
    const double expected = cap / (1 - (c.loss_tolerance - dut.random_loss));
    EXPECT_NEAR(r.rate, expected, expected * 0.015) << "C " << cap;
    EXPECT_GT(r.rate, cap * 1.02);  // it did tolerate loss
    EXPECT_GT(r.best->lost, 0u);
    EXPECT_LE(r.best->loss, c.loss_tolerance);
  }
  // The same DUT under zero tolerance: random loss fails every trial, nothing passes.
  SimDut dut;
  dut.capacity = 300e3;
  dut.random_loss = 0.01;
  const SearchResult r = rfc2544_search(config(), std::ref(dut));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.rate, 0);
  EXPECT_FALSE(r.best.has_value());
  EXPECT_NE(r.why.find("no rate passed"), std::string::npos) << r.why;
  EXPECT_EQ(r.trials.back().requested_pps, 1000);  // ended on min_rate
}

TEST(Rfc2544Search, PassingAtMaxEndsAtOnce) {
  SimDut dut;
  dut.capacity = 5e6;
  const SearchResult r = rfc2544_search(config(2e6), std::ref(dut));
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.trials.size(), 1u);
  EXPECT_EQ(r.rate, 2e6);
  EXPECT_FALSE(r.generator_limited);
}

// The generator tops out at G below C: the first trial offers G, passes, and the result is G
// with generator_limited.
TEST(Rfc2544Search, GeneratorLimited) {
  SimDut dut;
  dut.capacity = 1.5e6;
  dut.generator = 900e3;
  const SearchResult r = rfc2544_search(config(2e6), std::ref(dut));
  ASSERT_TRUE(r.ok) << r.why;
  EXPECT_TRUE(r.generator_limited);
  EXPECT_EQ(r.rate, 900e3);
  EXPECT_TRUE(r.trials.front().generator_limited);
  EXPECT_NE(r.why.find("generator-limited"), std::string::npos) << r.why;

  // G above C but below max: the failing limited trial bounds the search at G; the answer is
  // the DUT's, not limited.
  SimDut d2;
  d2.capacity = 700e3;
  d2.generator = 900e3;
  const SearchResult r2 = rfc2544_search(config(2e6), std::ref(d2));
  ASSERT_TRUE(r2.ok) << r2.why;
  EXPECT_FALSE(r2.generator_limited);
  EXPECT_LE(r2.rate, 700e3 + 1);
  EXPECT_GE(r2.rate, 700e3 * 0.99);
  EXPECT_TRUE(r2.trials.front().generator_limited);
  EXPECT_FALSE(r2.trials.front().passed);
  // The second trial is halfway between min and G, not min and max.
  EXPECT_NEAR(r2.trials[1].requested_pps, (1000 + 900e3) / 2, 1);
}

TEST(Rfc2544Search, InvalidTrialsAreRetried) {
  SimDut dut;
  dut.capacity = 400e3;
  dut.invalid_first = 2;
  const SearchResult r = rfc2544_search(config(), std::ref(dut));
  ASSERT_TRUE(r.ok) << r.why;
  EXPECT_FALSE(r.trials[0].valid);
  EXPECT_FALSE(r.trials[1].valid);
  EXPECT_EQ(r.trials[1].why, "tx stalled");
  EXPECT_TRUE(r.trials[2].valid);
  EXPECT_EQ(r.trials[2].requested_pps, 2e6);  // the same rate again
  EXPECT_LE(r.rate, 400e3 + 1);
  EXPECT_GE(r.rate, 400e3 * 0.99);

  SimDut stuck;
  stuck.invalid_first = 3;
  const SearchResult f = rfc2544_search(config(), std::ref(stuck));
  EXPECT_FALSE(f.ok);
  EXPECT_EQ(f.trials.size(), 3u);
  EXPECT_NE(f.why.find("invalid 3 times"), std::string::npos) << f.why;
  EXPECT_NE(f.why.find("tx stalled"), std::string::npos) << f.why;
}

TEST(Rfc2544Search, AbortEndsAtOnce) {
  SimDut dut;
  dut.capacity = 1.5e6;  // fails at 2 M, passes at ~1 M, then the run is interrupted
  int calls = 0;
  const SearchResult r = rfc2544_search(config(), [&](double rate, double s) {
    if (++calls < 3) return dut(rate, s);
    TrialResult t;
    t.valid = false;
    t.abort = true;
    t.why = "interrupted";
    return t;
  });
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r.trials.size(), 3u);
  EXPECT_EQ(r.why, "interrupted");
  EXPECT_GT(r.rate, 0);  // what passed before stays
}

TEST(Rfc2544Search, NothingSentIsInvalid) {
  int calls = 0;
  const SearchResult r = rfc2544_search(config(), [&](double, double s) {
    ++calls;
    TrialResult t;
    t.seconds = s;
    return t;  // valid, but nothing sent
  });
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r.trials[0].why, "nothing was sent");
}

TEST(Rfc2544Search, MaxTrialsFailsTheSearch) {
  SimDut dut;
  dut.capacity = 654321;
  SearchConfig c = config();
  c.max_trials = 4;
  const SearchResult r = rfc2544_search(c, std::ref(dut));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.trials.size(), 4u);
  EXPECT_NE(r.why.find("reached 4 trials"), std::string::npos) << r.why;
  // The best so far is still reported.
  EXPECT_GT(r.rate, 0);
}

TEST(Rfc2544Search, BadConfig) {
  SimDut dut;
  SearchConfig c = config();
  c.max_rate = 0;
  EXPECT_THROW(rfc2544_search(c, std::ref(dut)), std::invalid_argument);
  c = config();
  c.min_rate = 3e6;
  EXPECT_THROW(rfc2544_search(c, std::ref(dut)), std::invalid_argument);
  c = config();
  c.precision = 0;
  EXPECT_THROW(rfc2544_search(c, std::ref(dut)), std::invalid_argument);
  c = config();
  c.loss_tolerance = 1;
  EXPECT_THROW(rfc2544_search(c, std::ref(dut)), std::invalid_argument);
}

TEST(Rfc2544Search, FormatPps) {
  EXPECT_EQ(format_pps(1234567), "1.235 Mpps");
  EXPECT_EQ(format_pps(850000), "850.0 kpps");
  EXPECT_EQ(format_pps(120), "120 pps");
}

}  // namespace
}  // namespace sluice::linerate
