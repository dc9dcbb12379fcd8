// stream_tracker.cpp — allocation and reset of the per-flow state.
#include "perf/linerate/stream_tracker.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace sluice::linerate {

StreamTracker::StreamTracker(uint32_t flows) {
  if (flows == 0 || flows > kMaxFlows)
    throw std::invalid_argument("stream tracker: " + std::to_string(flows) + " flows (use 1-" +
                                std::to_string(kMaxFlows) + ")");
  next_.assign(flows, 0);
}

void StreamTracker::reset() {
  std::fill(next_.begin(), next_.end(), 0);
  t_ = Totals{};
}

}  // namespace sluice::linerate
