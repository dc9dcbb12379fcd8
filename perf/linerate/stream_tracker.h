// stream_tracker.h — per-flow sequence accounting for one trial: every flow's frames carry a
// sequence number counting up from 0, so a frame older than the newest one seen on its flow was
// reordered, one equal to it was duplicated, and the frames that never came are the sent ones
// minus the unique ones received. The per-flow state is one array preallocated for the flow
// count (up to 16 M flows, 8 bytes each) so that on_rx neither allocates nor hashes. DPDK-free.
#pragma once

#include <cstdint>
#include <vector>

namespace sluice::linerate {

class StreamTracker {
 public:
  static constexpr uint32_t kMaxFlows = 1u << 24;

  enum class Rx : uint8_t { kInOrder, kReordered, kDuplicate, kUnknownFlow };

  struct Totals {
    uint64_t received = 0;      // frames of known flows, duplicates included
    uint64_t in_order = 0;      // seq above the flow's highest so far (gaps allowed)
    uint64_t reordered = 0;     // seq below the flow's highest so far
    uint64_t duplicates = 0;    // seq equal to the flow's highest so far
    uint64_t unknown_flow = 0;  // flow index out of range: not counted as received
    uint64_t unique() const { return received - duplicates; }
  };

  // Throws std::invalid_argument if flows is 0 or above kMaxFlows.
  explicit StreamTracker(uint32_t flows);

  // A new trial: every flow back to "nothing seen".
  void reset();

  Rx on_rx(uint32_t flow, uint64_t seq) {
    if (flow >= next_.size()) {
      ++t_.unknown_flow;
      return Rx::kUnknownFlow;
    }
    ++t_.received;
    // next_ holds highest seen + 1, so that 0 means "nothing yet" without a second array.
    uint64_t& next = next_[flow];
    if (seq >= next) {
      ++t_.in_order;
      next = seq + 1;
      return Rx::kInOrder;
    }
    if (seq + 1 == next) {
      ++t_.duplicates;
      return Rx::kDuplicate;
    }
    ++t_.reordered;
    return Rx::kReordered;
  }

  const Totals& totals() const { return t_; }
  uint32_t flows() const { return static_cast<uint32_t>(next_.size()); }
  // sent - unique received, never negative.
  uint64_t lost(uint64_t sent) const { return sent > t_.unique() ? sent - t_.unique() : 0; }
  // More unique frames came back than were sent: something else sends frames that look like
  // ours (another tester with the same run id, or a DUT that multiplies frames with new
  // sequence numbers); the loss figure is then meaningless and the caller should say so.
  bool excess(uint64_t sent) const { return t_.unique() > sent; }

 private:
  std::vector<uint64_t> next_;
  Totals t_;
};

}  // namespace sluice::linerate
