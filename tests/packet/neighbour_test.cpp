// neighbour_test.cpp — ARP resolution end to end: a packet to an unknown neighbour is held
// while the router asks (broadcast request from its address on that subnet), released by the
// reply, dropped when the queue is full or nobody answers; neighbours learned from requests,
// re-probed with unicast requests when they age, forgotten when those go unanswered.
#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

Frame from_h0(const char* dst, uint16_t id = 1) {
  return Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", dst).id(id).udp(4000, 4001).payload(24);
}

Frame reply_to_router(uint16_t port, const char* ip, MacAddr mac = kStranger) {
  const char* router[] = {kR0, kR1, kR2};
  return Frame().eth(mac, kRouterMac[port]).arp_reply(mac, ip, kRouterMac[port], router[port]);
}

TEST_F(PacketTest, UnknownNeighbourIsResolvedAndThePacketReleased) {
  const Frame in = from_h0("10.2.0.77");
  expect(kP0, in, {{kP1, arp_request_from_router(kP1, kR1, "10.2.0.77")}});
  EXPECT_EQ(r().neighbour().requests_sent, 1u);
  EXPECT_EQ(r().neighbour().held, 1u);
  EXPECT_EQ(r().pool_available(), r().pool_size() - 1) << "the held packet";

  expect(kP1, reply_to_router(kP1, "10.2.0.77"), {{kP1, forwarded(in, kRouterMac[1], kStranger)}});
  EXPECT_EQ(r().neighbour().released, 1u);
  EXPECT_EQ(r().neighbour().replies_learned, 1u);
  EXPECT_EQ(r().counter("arp-consumed"), 1u);

  // Learned: the next packet goes straight out, without another request.
  const Frame next = from_h0("10.2.0.77", 2);
  expect(kP0, next, {{kP1, forwarded(next, kRouterMac[1], kStranger)}});
  EXPECT_EQ(r().neighbour().requests_sent, 1u);
}

TEST_F(PacketTest, UnsolicitedReplyTeachesNothing) {
  // As Linux with arp_accept=0: a reply nobody asked for creates no neighbour, so a later
  // packet to that host still waits for a request of the router's own.
  expect(kP1, reply_to_router(kP1, "10.2.0.88"), {});
  EXPECT_EQ(r().neighbour().replies_learned, 0u);
  EXPECT_EQ(r().counter("arp-consumed"), 1u);
  const Frame in = from_h0("10.2.0.88");
  expect(kP0, in, {{kP1, arp_request_from_router(kP1, kR1, "10.2.0.88")}});
  expect(kP1, reply_to_router(kP1, "10.2.0.88"), {{kP1, forwarded(in, kRouterMac[1], kStranger)}});
}

TEST_F(PacketTest, UnresolvedGatewayIsAskedForNotTheDestination) {
  RouteTarget t;
  t.gateway = addr("10.2.0.200");
  ASSERT_EQ(r().dp().state().replace_route(pfx("10.40.0.0", 16), t), "");
  const Frame in = from_h0("10.40.1.1");
  expect(kP0, in, {{kP1, arp_request_from_router(kP1, kR1, "10.2.0.200")}});
  expect(kP1, reply_to_router(kP1, "10.2.0.200"), {{kP1, forwarded(in, kRouterMac[1], kStranger)}});
  // Another destination behind the same gateway uses the now resolved next hop.
  const Frame other = from_h0("10.40.9.9");
  expect(kP0, other, {{kP1, forwarded(other, kRouterMac[1], kStranger)}});
}

TEST_F(PacketTest, AtMostFourPacketsWaitForANeighbour) {
  std::vector<Frame> in;
  for (uint16_t i = 0; i < 6; ++i) {
    in.push_back(from_h0("10.2.0.77", i));
    r().send(kP0, in.back());
  }
  r().run();
  expect_sent({{kP1, arp_request_from_router(kP1, kR1, "10.2.0.77")}});
  EXPECT_EQ(r().neighbour().held, 4u);
  EXPECT_EQ(r().neighbour().dropped_queue_full, 2u);
  // The snapshot the telemetry reads catches up at the control thread's next tick.
  r().advance(0.125);
  EXPECT_EQ(r().dp().neighbour_counters().dropped_queue_full, 2u);
  // The reply releases the first four, in order.
  r().send(kP1, reply_to_router(kP1, "10.2.0.77"));
  r().run();
  std::vector<std::pair<uint16_t, Frame>> out;
  for (int i = 0; i < 4; ++i) out.emplace_back(kP1, forwarded(in[i], kRouterMac[1], kStranger));
  expect_sent(out);
  expect_drops({});
  EXPECT_EQ(r().neighbour().released, 4u);
}

TEST_F(PacketTest, NoReplyAfterThreeRequestsDropsTheHeldPackets) {
  const Frame request = arp_request_from_router(kP1, kR1, "10.2.0.77");
  r().send(kP0, from_h0("10.2.0.77", 1));
  r().send(kP0, from_h0("10.2.0.77", 2));
  r().run();
  expect_sent({{kP1, request}});
  r().advance(0.875);
  expect_sent({});  // nothing before the retry interval (1 s)
  r().advance(0.125);
  expect_sent({{kP1, request}});
  r().advance(1.0);
  expect_sent({{kP1, request}});
  EXPECT_EQ(r().neighbour().requests_sent, 3u);
  EXPECT_EQ(r().neighbour().dropped_unresolved, 0u);
  r().advance(1.0);
  expect_sent({});  // no fourth request: given up
  EXPECT_EQ(r().neighbour().dropped_unresolved, 2u);
  EXPECT_EQ(r().pool_available(), r().pool_size());
  r().advance(0.125);
  EXPECT_EQ(r().dp().neighbour_counters().dropped_unresolved, 2u);

  // While the failure is remembered, packets are dropped at once and nobody is asked.
  r().send(kP0, from_h0("10.2.0.77", 3));
  r().run();
  expect_sent({});
  EXPECT_EQ(r().neighbour().dropped_unresolved, 3u);
  // Then the router tries again.
  r().advance(3.0);
  r().send(kP0, from_h0("10.2.0.77", 4));
  r().run();
  expect_sent({{kP1, request}});
  r().advance(4.0);  // and gives up again, so nothing is left held
  EXPECT_EQ(r().received(kP1).size(), 2u);
  EXPECT_EQ(r().neighbour().dropped_unresolved, 4u);
  expect_drops({});
}

TEST_F(PacketTest, RequestForTheRouterTeachesTheAsker) {
  expect(kP0, Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "10.1.0.9", kR0),
         {{kP0, Frame()
                    .eth(kRouterMac[0], kStranger)
                    .arp_reply(kRouterMac[0], kR0, kStranger, "10.1.0.9")}});
  const Frame in = Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", "10.1.0.9").udp(1, 2).payload(4);
  expect(kP1, in, {{kP0, forwarded(in, kRouterMac[0], kStranger)}});
  EXPECT_EQ(r().neighbour().requests_sent, 0u);
  EXPECT_EQ(r().neighbour().replies_learned, 1u);
}

TEST_F(PacketTest, OffLinkAskerIsAnsweredButNotLearned) {
  r().send(kP0, Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "192.168.7.7", kR0));
  r().run();
  EXPECT_EQ(r().received(kP0).size(), 1u);
  for (const auto& e : r().dp().neighbours().entries(r().now()))
    EXPECT_NE(e.ip, addr("192.168.7.7"));
  EXPECT_EQ(r().neighbour().replies_learned, 0u);
}

TEST_F(PacketTest, GratuitousArpMovesALearnedNeighbour) {
  const MacAddr moved({0x02, 0x00, 0x00, 0x00, 0x09, 0x0a});
  r().send(kP0, Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "10.1.0.9", kR0));
  r().run();
  EXPECT_EQ(r().received(kP0).size(), 1u);
  // A gratuitous request is not for the router (and counted so), but updates what it knows.
  expect(kP0, Frame().eth(moved, kBroadcast).arp_request(moved, "10.1.0.9", "10.1.0.9"), {},
         {{"drop-arp-not-for-us", 1}});
  const Frame in = Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", "10.1.0.9").udp(1, 2).payload(4);
  expect(kP1, in, {{kP0, forwarded(in, kRouterMac[0], moved)}});
}

TEST_F(PacketTest, StaticNeighbourIsNotOverriddenByArp) {
  expect(kP1, reply_to_router(kP1, "10.2.0.2", kStranger), {});
  const Frame in = from_h0("10.2.0.2");
  expect(kP0, in, {{kP1, forwarded(in, kRouterMac[1], kH1)}});
}

TEST_F(PacketTest, AgedNeighbourIsProbedByUnicastAndKeptWhenItAnswers) {
  r().send(kP0, Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "10.1.0.9", kR0));
  r().run();
  EXPECT_EQ(r().received(kP0).size(), 1u);
  r().advance(299.0, 1.0);
  expect_sent({});
  r().advance(1.0);
  const Frame probe =
      Frame().eth(kRouterMac[0], kStranger).arp_request(kRouterMac[0], kR0, "10.1.0.9");
  expect_sent({{kP0, probe}});
  expect(kP0, reply_to_router(kP0, "10.1.0.9"), {});
  r().advance(10.0, 1.0);
  expect_sent({});  // confirmed: no more probes
  const Frame in = Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", "10.1.0.9").udp(1, 2).payload(4);
  expect(kP1, in, {{kP0, forwarded(in, kRouterMac[0], kStranger)}});
}

TEST_F(PacketTest, AgedNeighbourThatStaysSilentIsForgotten) {
  r().send(kP0, Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "10.1.0.9", kR0));
  r().run();
  EXPECT_EQ(r().received(kP0).size(), 1u);
  r().advance(300.0, 1.0);
  const Frame probe =
      Frame().eth(kRouterMac[0], kStranger).arp_request(kRouterMac[0], kR0, "10.1.0.9");
  expect_sent({{kP0, probe}});
  r().advance(1.0);
  expect_sent({{kP0, probe}});
  r().advance(1.0);
  expect_sent({{kP0, probe}});
  r().advance(1.0);
  expect_sent({});
  EXPECT_EQ(r().neighbour().expired, 1u);
  // Forgotten: the next packet to it starts a broadcast resolution.
  const Frame in = Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", "10.1.0.9").udp(1, 2).payload(4);
  expect(kP1, in, {{kP0, arp_request_from_router(kP0, kR0, "10.1.0.9")}});
  expect(kP0, reply_to_router(kP0, "10.1.0.9"), {{kP0, forwarded(in, kRouterMac[0], kStranger)}});
}

TEST_F(PacketTest, EchoReplyToAnUnresolvedAskerWaitsForArp) {
  const Frame ping =
      Frame().eth(kStranger, kRouterMac[0]).ip4("10.1.0.50", kR0).icmp_echo(8, 9).payload(16);
  expect(kP0, ping, {{kP0, arp_request_from_router(kP0, kR0, "10.1.0.50")}});
  expect(kP0, reply_to_router(kP0, "10.1.0.50"),
         {{kP0, Frame()
                    .eth(kRouterMac[0], kStranger)
                    .ip4(kR0, "10.1.0.50")
                    .icmp_echo_reply(8, 9)
                    .payload(16)}});
}

TEST_F(PacketTest, IcmpErrorToAnUnresolvedSourceWaitsForArp) {
  const Frame in = Frame()
                       .eth(kStranger, kRouterMac[0])
                       .ip4("10.1.0.50", "10.2.0.2")
                       .ttl(1)
                       .udp(7, 8)
                       .payload(4);
  expect(kP0, in, {{kP0, arp_request_from_router(kP0, kR0, "10.1.0.50")}});
  expect(kP0, reply_to_router(kP0, "10.1.0.50"),
         {{kP0, icmp_error_about(in, kRouterMac[0], kStranger, kR0, "10.1.0.50", 11, 0)}});
}

TEST_F(PacketTest, RequestsComeFromTheAddressOnTheTargetsSubnet) {
  ASSERT_EQ(r().dp().state().add_address(kP0, addr("10.1.1.1"), 24), "");
  const Frame in =
      Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", "10.1.1.50").udp(1, 2).payload(4);
  expect(kP1, in, {{kP0, arp_request_from_router(kP0, "10.1.1.1", "10.1.1.50")}});
  // The secondary address is answered for too, and the answer teaches the router.
  expect(kP0, Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "10.1.1.50", "10.1.1.1"),
         {{kP0, Frame()
                    .eth(kRouterMac[0], kStranger)
                    .arp_reply(kRouterMac[0], "10.1.1.1", kStranger, "10.1.1.50")},
          {kP0, forwarded(in, kRouterMac[0], kStranger)}});
}

TEST_F(PacketTest, ReplyOnAnotherPortDoesNotResolve) {
  r().send(kP0, from_h0("10.2.0.77"));
  r().run();
  expect_sent({{kP1, arp_request_from_router(kP1, kR1, "10.2.0.77")}});
  // The answer comes in on p0, aimed at p1's address: not a neighbour of p1 for that.
  expect(
      kP0,
      Frame().eth(kStranger, kRouterMac[0]).arp_reply(kStranger, "10.2.0.77", kRouterMac[0], kR1),
      {});
  EXPECT_EQ(r().counter("arp-consumed"), 1u);
  EXPECT_EQ(r().neighbour().released, 0u);
  r().advance(3.0);
  EXPECT_EQ(r().received(kP1).size(), 2u);  // the retries
  EXPECT_EQ(r().neighbour().dropped_unresolved, 1u);
}

TEST_F(PacketTest, FullPuntRingIsCounted) {
  // Without the control thread running, packets for an unknown neighbour pile up in the punt
  // ring (4096 slots, 4095 usable); the rest are dropped by neigh-punt.
  constexpr unsigned kSent = 4200;
  for (unsigned sent = 0; sent < kSent;) {
    for (unsigned i = 0; i < 500 && sent < kSent; ++i, ++sent)
      r().send(kP0, from_h0("10.2.0.77", static_cast<uint16_t>(sent)));
    r().poll(20);
  }
  expect_drops({{"drop-neigh-punt-ring-full", kSent - 4095}});
  r().run();
  expect_sent({{kP1, arp_request_from_router(kP1, kR1, "10.2.0.77")}});
  EXPECT_EQ(r().neighbour().held, 4u);
  EXPECT_EQ(r().neighbour().dropped_queue_full, 4095u - 4);
  r().advance(3.0);  // two more requests, then the four held packets are dropped
  EXPECT_EQ(r().received(kP1).size(), 2u);
  EXPECT_EQ(r().neighbour().dropped_unresolved, 4u);
}

}  // namespace
}  // namespace sluice::pkt
