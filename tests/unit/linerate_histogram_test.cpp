// The latency histogram against the exact order statistics of a sorted vector.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "perf/linerate/latency_histogram.h"

namespace sluice::linerate {
namespace {

// Bucket geometry: contiguous, every value in its own bucket, widths within 1/128 of values.
TEST(LatencyHistogram, BucketsCoverTheRangeContiguously) {
  EXPECT_EQ(LatencyHistogram::lowest_of(0), 0u);
  for (unsigned i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
    ASSERT_EQ(LatencyHistogram::highest_of(i) + 1, LatencyHistogram::lowest_of(i + 1)) << i;
    ASSERT_EQ(LatencyHistogram::index_of(LatencyHistogram::lowest_of(i)), i);
    ASSERT_EQ(LatencyHistogram::index_of(LatencyHistogram::highest_of(i)), i);
    const double lo = static_cast<double>(LatencyHistogram::lowest_of(i));
    const double width = static_cast<double>(LatencyHistogram::highest_of(i)) - lo + 1;
    if (i >= 256) {
      ASSERT_LE(width / lo, 1.0 / 128 + 1e-12) << i;
    }
  }
  EXPECT_EQ(LatencyHistogram::index_of(LatencyHistogram::kMaxTrackable),
            LatencyHistogram::kBuckets - 1);
  // 60 s fits; beyond the top it saturates into the last bucket.
  EXPECT_LT(LatencyHistogram::index_of(60'000'000'000ull), LatencyHistogram::kBuckets - 1);
  EXPECT_EQ(LatencyHistogram::index_of(~0ull), LatencyHistogram::kBuckets - 1);
}

TEST(LatencyHistogram, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.percentile(0.5), 0u);
  EXPECT_TRUE(h.buckets().empty());
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v : {1, 2, 2, 3, 200}) h.record(v);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_EQ(h.max(), 200u);
  EXPECT_DOUBLE_EQ(h.mean(), 208.0 / 5);
  EXPECT_EQ(h.percentile(0.5), 2u);  // rank 3 of 1 2 2 3 200
  EXPECT_EQ(h.percentile(0.8), 3u);
  EXPECT_EQ(h.percentile(1.0), 200u);
  EXPECT_EQ(h.percentile(0.0), 1u);
  const auto b = h.buckets();
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b[1], std::make_pair(uint64_t{2}, uint64_t{2}));
}

// Random samples over six decades (log-uniform 50 ns .. 50 ms, plus a heavy tail to 60 s):
// every percentile is within the bucket error (half a bucket width, <= 1/256 of the value,
// plus rounding) of the true order statistic of the same rank.
TEST(LatencyHistogram, PercentilesMatchSortedSamples) {
  std::mt19937_64 rng(20261127);  // fixed seed
  std::uniform_real_distribution<double> exp10(std::log10(50.0), std::log10(5e7));
  for (int round = 0; round < 5; ++round) {
    LatencyHistogram h;
    std::vector<uint64_t> v;
    const int n = 20000 + round * 7919;
    for (int i = 0; i < n; ++i) {
      uint64_t x = static_cast<uint64_t>(std::pow(10.0, exp10(rng)));
      if (i % 1000 == 0) x = 60'000'000'000ull - static_cast<uint64_t>(i);  // the tail
      v.push_back(x);
      h.record(x);
    }
    std::sort(v.begin(), v.end());
    EXPECT_EQ(h.count(), v.size());
    EXPECT_EQ(h.min(), v.front());
    EXPECT_EQ(h.max(), v.back());
    double sum = 0;
    for (uint64_t x : v) sum += static_cast<double>(x);
    EXPECT_NEAR(h.mean(), sum / static_cast<double>(v.size()), 1e-9 * sum);
    for (double q : {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999}) {
      const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
      const double truth = static_cast<double>(v[rank - 1]);
      const double got = static_cast<double>(h.percentile(q));
      EXPECT_LE(std::abs(got - truth), truth / 256 + 1) << "q " << q << " round " << round;
    }
  }
}

TEST(LatencyHistogram, MergeEqualsRecordingEverything) {
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> d(1 / 20000.0);
  LatencyHistogram a, b, all;
  for (int i = 0; i < 5000; ++i) {
    const uint64_t x = static_cast<uint64_t>(d(rng)) + 1;
    (i % 3 ? a : b).record(x);
    all.record(x);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_NEAR(a.mean(), all.mean(), 1e-6);
  EXPECT_EQ(a.buckets(), all.buckets());
  for (double q : {0.5, 0.9, 0.99}) EXPECT_EQ(a.percentile(q), all.percentile(q));
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_TRUE(a.buckets().empty());
}

}  // namespace
}  // namespace sluice::linerate
