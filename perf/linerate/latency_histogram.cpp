// latency_histogram.cpp — the histogram's cold paths: merging, percentiles, export.
#include "perf/linerate/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace sluice::linerate {

uint64_t LatencyHistogram::lowest_of(unsigned index) {
  if (index < (1u << kSubBits)) return index;
  // index = shift x kHalf + sub with sub in [kHalf, 2 kHalf): shift = index / kHalf - 1.
  const unsigned shift = index / kHalf - 1;
  const uint64_t sub = index - uint64_t{shift} * kHalf;
  return sub << shift;
}

uint64_t LatencyHistogram::highest_of(unsigned index) {
  if (index + 1 >= kBuckets) return kMaxTrackable;
  return lowest_of(index + 1) - 1;
}

void LatencyHistogram::merge(const LatencyHistogram& o) {
  for (unsigned i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void LatencyHistogram::reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  sum_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
}

uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  if (!(q > 0)) return min();
  if (q >= 1) return max_;
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (unsigned i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t lo = lowest_of(i), hi = highest_of(i);
      return std::clamp<uint64_t>(lo + (hi - lo) / 2, min(), max_);
    }
  }
  return max_;
}

std::vector<std::pair<uint64_t, uint64_t>> LatencyHistogram::buckets() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (unsigned i = 0; i < kBuckets; ++i)
    if (counts_[i] != 0) out.emplace_back(highest_of(i), counts_[i]);
  return out;
}

}  // namespace sluice::linerate
