// tx_coalesce_test.cpp — TX coalescing (--tx-coalesce-us, dataplane/tx_coalesce.h): frames are
// held per port and leave, in order and unchanged, when a burst of 32 is waiting, when the
// worker's receive comes up empty, or when the oldest has waited the limit; held frames for a
// port that went down are dropped and counted; nothing is lost or leaked.
#include <rte_cycles.h>
#include <rte_ring.h>

#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

Frame to_h1(uint16_t id) {
  return Frame()
      .eth(kH0, kRouterMac[0])
      .ip4("10.1.0.2", "10.2.0.2")
      .udp(40000, 53)
      .id(id)
      .payload(32);
}

class TxCoalesceTest : public PacketTest {
 protected:
  void coalesce(double us) {
    RouterOptions o;
    o.tx_coalesce_us = us;
    rebuild(o);
  }
  void expect_in_order(uint16_t first, uint16_t count) {
    std::vector<std::pair<uint16_t, Frame>> out;
    for (uint16_t i = first; i < first + count; ++i)
      out.emplace_back(kP1, forwarded(to_h1(i), kRouterMac[1], kH1));
    expect_sent(out);
  }
};

TEST_F(TxCoalesceTest, HeldUntilTheReceiveComesUpEmpty) {
  coalesce(10000);  // 10 ms: the limit plays no part
  for (uint16_t i = 0; i < 5; ++i) r().send(kP0, to_h1(i));
  r().poll(1);  // received, forwarded, held
  EXPECT_TRUE(r().received(kP1).empty());
  r().poll(1);  // nothing more came in: the worker is idle, so the hold goes
  expect_in_order(0, 5);
  expect_drops({});
}

TEST_F(TxCoalesceTest, AFullBurstLeavesAtOnce) {
  coalesce(10000);
  for (uint16_t i = 0; i < 40; ++i) r().send(kP0, to_h1(i));
  r().poll(1);  // port-rx takes 32 per queue: a full burst, sent without waiting
  expect_in_order(0, 32);
  r().poll(1);  // the other 8, held
  EXPECT_TRUE(r().received(kP1).empty());
  r().poll(1);
  expect_in_order(32, 8);
  expect_drops({});
}

TEST_F(TxCoalesceTest, TheLimitSendsWhileTrafficKeepsComing) {
  coalesce(50);
  r().send(kP0, to_h1(0));
  r().poll(1);  // held
  rte_delay_us_block(200);
  r().send(kP0, to_h1(1));
  r().poll(1);  // the receive is not empty, but frame 0 waited past the limit
  expect_in_order(0, 1);
  r().poll(1);  // idle: frame 1 goes
  expect_in_order(1, 1);
  expect_drops({});
}

TEST_F(TxCoalesceTest, HeldFramesForAPortThatWentDownAreDropped) {
  coalesce(10000);
  for (uint16_t i = 0; i < 3; ++i) r().send(kP0, to_h1(i));
  r().poll(1);
  r().dp().state().mutable_port(kP1).up.store(false);
  r().poll(1);
  EXPECT_TRUE(r().received(kP1).empty());
  expect_drops({{"drop-port-tx-link-down", 3}});
}

TEST_F(TxCoalesceTest, AFullTxRingIsCountedAsTxFull) {
  RouterOptions o;
  o.tx_coalesce_us = 10000;
  o.ring_size = 64;
  rebuild(o);
  rte_ring* tx = r().tx_ring(kP1);
  std::vector<rte_mbuf*> filler;
  while (rte_ring_free_count(tx) > 2) {
    rte_mbuf* m = rte_pktmbuf_alloc(r().pool());
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(rte_ring_sp_enqueue(tx, m), 0);
    filler.push_back(m);
  }
  for (uint16_t i = 0; i < 5; ++i) r().send(kP0, to_h1(i));
  r().run();
  auto got = r().received(kP1);
  ASSERT_EQ(got.size(), filler.size() + 2);  // the filler, then two of the five
  EXPECT_EQ(got[filler.size()], forwarded(to_h1(0), kRouterMac[1], kH1).bytes());
  EXPECT_EQ(got[filler.size() + 1], forwarded(to_h1(1), kRouterMac[1], kH1).bytes());
  expect_drops({{"drop-port-tx-full", 3}});
}

TEST_F(TxCoalesceTest, FramesStillHeldWhenTheDataplaneGoesAwayAreReleased) {
  // The release path of ~Dataplane (tx_hold_release): run under ASan/UBSan in scripts/test,
  // where a double free or a use of a freed mbuf fails the case.
  coalesce(10000);
  for (uint16_t i = 0; i < 7; ++i) r().send(kP0, to_h1(i));
  r().poll(1);
  EXPECT_TRUE(r().received(kP1).empty());
  EXPECT_EQ(r().pool_available() + 7, r().pool_size());  // the seven, held
  destroy_router();                                      // with the seven still held
}

TEST_F(TxCoalesceTest, OffByDefaultEveryRunLeavesInItsWalk) {
  for (uint16_t i = 0; i < 3; ++i) r().send(kP0, to_h1(i));
  r().poll(1);
  expect_in_order(0, 3);
  expect_drops({});
}

}  // namespace
}  // namespace sluice::pkt
