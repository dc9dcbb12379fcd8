// The stream tracker on hand-made sequences with reordering, duplication and loss.
#include <gtest/gtest.h>

#include <stdexcept>

#include "perf/linerate/stream_tracker.h"

namespace sluice::linerate {
namespace {

using Rx = StreamTracker::Rx;

TEST(StreamTracker, ClassifiesPerFlow) {
  StreamTracker t(3);
  // flow 0: 0 1 3 2 3 4 (2 comes late, 3 comes twice)
  EXPECT_EQ(t.on_rx(0, 0), Rx::kInOrder);
  EXPECT_EQ(t.on_rx(0, 1), Rx::kInOrder);
  EXPECT_EQ(t.on_rx(0, 3), Rx::kInOrder);  // a gap is not a reorder (2 may be lost or late)
  EXPECT_EQ(t.on_rx(0, 2), Rx::kReordered);
  EXPECT_EQ(t.on_rx(0, 3), Rx::kDuplicate);
  EXPECT_EQ(t.on_rx(0, 4), Rx::kInOrder);
  // flow 1 is independent: its 0 is in order although flow 0 is at 4.
  EXPECT_EQ(t.on_rx(1, 0), Rx::kInOrder);
  EXPECT_EQ(t.on_rx(1, 0), Rx::kDuplicate);
  EXPECT_EQ(t.on_rx(1, 5), Rx::kInOrder);
  EXPECT_EQ(t.on_rx(1, 1), Rx::kReordered);
  EXPECT_EQ(t.on_rx(1, 1), Rx::kReordered);  // a duplicate of an older frame looks reordered
  // out of range
  EXPECT_EQ(t.on_rx(3, 0), Rx::kUnknownFlow);

  const auto& s = t.totals();
  EXPECT_EQ(s.received, 11u);
  EXPECT_EQ(s.in_order, 6u);
  EXPECT_EQ(s.reordered, 3u);
  EXPECT_EQ(s.duplicates, 2u);
  EXPECT_EQ(s.unknown_flow, 1u);
  EXPECT_EQ(s.unique(), 9u);
  // sent: flow 0 frames 0-4 (5), flow 1 frames 0-5 (6), flow 2 frame 0 (1) = 12; flow 1's 2, 3
  // and 4 and flow 2's 0 never came, but flow 1's second late 1 counts as received.
  EXPECT_EQ(t.lost(12), 3u);
  EXPECT_FALSE(t.excess(12));
  // Fewer sent than received: never negative, flagged.
  EXPECT_EQ(t.lost(5), 0u);
  EXPECT_TRUE(t.excess(5));
}

TEST(StreamTracker, ResetStartsOver) {
  StreamTracker t(2);
  t.on_rx(0, 7);
  t.reset();
  EXPECT_EQ(t.totals().received, 0u);
  EXPECT_EQ(t.on_rx(0, 0), Rx::kInOrder);
}

TEST(StreamTracker, FlowLimits) {
  EXPECT_THROW(StreamTracker(0), std::invalid_argument);
  EXPECT_THROW(StreamTracker(StreamTracker::kMaxFlows + 1), std::invalid_argument);
  StreamTracker big(StreamTracker::kMaxFlows);
  EXPECT_EQ(big.flows(), StreamTracker::kMaxFlows);
  EXPECT_EQ(big.on_rx(StreamTracker::kMaxFlows - 1, 0), Rx::kInOrder);
}

}  // namespace
}  // namespace sluice::linerate
