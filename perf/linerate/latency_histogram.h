// latency_histogram.h — the tester's latency record: a log-linear histogram of nanoseconds in
// the manner of HdrHistogram, so that recording a packet is an index computation and one
// increment (no allocation, no sorting), and percentiles stay within a fixed relative error
// over 1 ns .. ~68 s whatever the sample count. DPDK-free.
//
// Layout: values below 2^kSubBits (256 ns) have a bucket each (exact). Above, every power-of-two
// range [2^e, 2^(e+1)) is split into 128 linear sub-buckets of width 2^(e-7), so a bucket is at
// most 1/128 (0.78 %) of its values wide; a percentile reports the bucket's midpoint, within
// 0.4 % of any value in it. Values past the top (2^36 ns, ~68.7 s) land in the last bucket; min
// and max stay exact.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace sluice::linerate {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 8;  // 2^8 exact buckets, then 128 per octave
  static constexpr unsigned kHalf = 1u << (kSubBits - 1);
  static constexpr unsigned kTopBits = 36;  // 2^36 ns = 68.7 s
  static constexpr unsigned kBuckets = (kTopBits - kSubBits + 1) * kHalf + kHalf;
  static constexpr uint64_t kMaxTrackable = (uint64_t{1} << kTopBits) - 1;

  LatencyHistogram() : counts_(kBuckets, 0) {}

  void record(uint64_t ns) {
    counts_[index_of(ns)]++;
    ++count_;
    sum_ += static_cast<double>(ns);
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }
  void merge(const LatencyHistogram& o);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  // The value of rank ceil(q x count) (q in [0, 1]; q = 0 gives min, 1 gives max), as the
  // midpoint of its bucket clamped to [min, max]; 0 when empty.
  uint64_t percentile(double q) const;
  // The non-empty buckets, in increasing order, as (highest value in the bucket, count).
  std::vector<std::pair<uint64_t, uint64_t>> buckets() const;

  static unsigned index_of(uint64_t ns) {
    if (ns > kMaxTrackable) ns = kMaxTrackable;
    if (ns < (uint64_t{1} << kSubBits)) return static_cast<unsigned>(ns);
    // e = position of the top bit (>= kSubBits); keep the top kSubBits bits of the value.
    const unsigned e = 63u - static_cast<unsigned>(__builtin_clzll(ns));
    const unsigned shift = e - (kSubBits - 1);
    return shift * kHalf + static_cast<unsigned>(ns >> shift);
  }
  static uint64_t lowest_of(unsigned index);
  static uint64_t highest_of(unsigned index);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;  // a double: 60 s samples x 10^9 packets would overflow 64 bits
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace sluice::linerate
