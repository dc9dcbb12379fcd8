// port_flags_test.cpp — the per-port switches the kernel mirror sets: the forwarding flag
// (net.ipv4.conf.PORT.forwarding, checked on the ingress port, as Linux does) and the link
// state (nothing leaves a port that is down, whether forwarded or made by the router itself).
#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

Frame from_h0(const char* dst) {
  return Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", dst).udp(40000, 53).payload(32);
}
Frame from_h1(const char* dst) {
  return Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", dst).udp(53, 40000).payload(32);
}
Frame ping_from_h0(const char* dst) {
  return Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", dst).id(9).icmp_echo(0x77, 1).payload(8);
}
Frame pong_to_h0(const char* from) {
  return Frame()
      .eth(kRouterMac[0], kH0)
      .ip4(from, "10.1.0.2")
      .id(9)
      .icmp_echo_reply(0x77, 1)
      .payload(8);
}

void forwarding_off(Router& r, uint16_t port) {
  r.dp().state().mutable_port(port).forwarding.store(false);
}
void link_down(Router& r, uint16_t port) {
  r.dp().state().mutable_port(port).up.store(false);
}

std::vector<Case> cases() {
  const auto p0_no_forwarding = [](Router& r) { forwarding_off(r, kP0); };
  const auto p0_down = [](Router& r) { link_down(r, kP0); };
  return {
      // ---- forwarding flag off on p0 ----
      {.name = "forwarding off: transit from that port is dropped silently",
       .in = from_h0("10.2.0.2"),
       .drops = {{"drop-ip4-forwarding-disabled", 1}},
       .setup = p0_no_forwarding},
      {.name = "forwarding off: transit via a gateway too",
       .in = from_h0("10.20.1.1"),
       .drops = {{"drop-ip4-forwarding-disabled", 1}},
       .setup = p0_no_forwarding},
      {.name = "forwarding off: no route is silent as well, no ICMP",
       .in = from_h0("8.8.8.8"),
       .drops = {{"drop-ip4-forwarding-disabled", 1}},
       .setup = p0_no_forwarding},
      {.name = "forwarding off: unreachable route is silent",
       .in = from_h0("10.31.1.1"),
       .drops = {{"drop-ip4-forwarding-disabled", 1}},
       .setup = p0_no_forwarding},
      {.name = "forwarding off: TTL 1 transit is silent, not time exceeded",
       .in = Frame(from_h0("10.2.0.2")).ttl(1),
       .drops = {{"drop-ip4-forwarding-disabled", 1}},
       .setup = p0_no_forwarding},
      {.name = "forwarding off: ping to the ingress address is answered",
       .in = ping_from_h0(kR0),
       .out = {{kP0, pong_to_h0(kR0)}},
       .setup = p0_no_forwarding},
      {.name = "forwarding off: ping to another port's address is answered",
       .in = ping_from_h0(kR2),
       .out = {{kP0, pong_to_h0(kR2)}},
       .setup = p0_no_forwarding},
      {.name = "forwarding off: subnet broadcast keeps its own counter",
       .in = from_h0("10.1.0.255"),
       .drops = {{"drop-ip4-subnet-broadcast", 1}},
       .setup = p0_no_forwarding},
      {.name = "forwarding off on p0: p1 still forwards, into p0 too",
       .port = kP1,
       .in = from_h1("10.1.0.2"),
       .out = {{kP0, forwarded(from_h1("10.1.0.2"), kRouterMac[0], kH0)}},
       .setup = p0_no_forwarding},
      {.name = "forwarding off on p1 (egress only): p0's transit passes",
       .in = from_h0("10.2.0.2"),
       .out = {{kP1, forwarded(from_h0("10.2.0.2"), kRouterMac[1], kH1)}},
       .setup = [](Router& r) { forwarding_off(r, kP1); }},
      {.name = "forwarding off on p1: its transit is dropped",
       .port = kP1,
       .in = from_h1("10.3.0.2"),
       .drops = {{"drop-ip4-forwarding-disabled", 1}},
       .setup = [](Router& r) { forwarding_off(r, kP1); }},

      // ---- link down ----
      {.name = "link down: ICMP error back to a down ingress port is not sent",
       .in = from_h0("8.8.8.8"),
       .drops = {{"drop-port-tx-link-down", 1}},
       .setup = p0_down},
      {.name = "link down: echo reply out of a down port is not sent",
       .in = ping_from_h0(kR0),
       .drops = {{"drop-port-tx-link-down", 1}},
       .setup = p0_down},
      {.name = "link down: ARP reply out of a down port is not sent",
       .in = Frame().eth(kH0, kBroadcast).arp_request(kH0, "10.1.0.2", kR0),
       .drops = {{"drop-port-tx-link-down", 1}},
       .counters = {{"arp-consumed", 0}},
       .setup = p0_down},
      {.name = "link down: transit into the down port is dropped at ip4-forward",
       .port = kP1,
       .in = from_h1("10.1.0.2"),
       .drops = {{"drop-ip4-port-down", 1}},
       .setup = p0_down},
      {.name = "link down on p2: p0 to p1 unaffected",
       .in = from_h0("10.2.0.2"),
       .out = {{kP1, forwarded(from_h0("10.2.0.2"), kRouterMac[1], kH1)}},
       .setup = [](Router& r) { link_down(r, kP2); }},
      {.name = "link up again: forwarded",
       .port = kP1,
       .in = from_h1("10.1.0.2"),
       .out = {{kP0, forwarded(from_h1("10.1.0.2"), kRouterMac[0], kH0)}},
       .setup =
           [](Router& r) {
             link_down(r, kP0);
             r.dp().state().mutable_port(kP0).up.store(true);
           }},
  };
}

INSTANTIATE_TEST_SUITE_P(PortFlags, CaseTest, ::testing::ValuesIn(cases()), case_name);

// An unresolved neighbour behind a down port: the ARP request the control thread makes is
// not sent either (it goes through inject and port-tx like every frame the router makes).
TEST_F(PacketTest, LinkDownArpRequestIsNotSent) {
  link_down(r(), kP1);
  // Transit to p1 stops at ip4-forward; the router's own packet (an echo reply to a host on
  // p1 it has never heard of) gets as far as neigh-punt, then ARP, which port-tx drops.
  ASSERT_EQ(r().dp().state().replace_route(pfx("10.99.0.0", 16),
                                           [] {
                                             RouteTarget t;
                                             t.gateway = addr("10.2.0.99");
                                             return t;
                                           }()),
            "");
  const Frame ping =
      Frame().eth(kH1, kRouterMac[1]).ip4("10.99.0.5", kR1).icmp_echo(1, 1).payload(8);
  expect(kP1, ping, {}, {{"drop-port-tx-link-down", 1}});
  EXPECT_EQ(r().neighbour().requests_sent, 1u);
  EXPECT_EQ(r().neighbour().held, 1u);
  // Nobody answers (the link is down): the retries are not sent either, and in the end the
  // held reply is dropped.
  r().advance(10);
  expect_sent({});
  expect_drops({{"drop-port-tx-link-down", 2}});  // the two retries
  EXPECT_EQ(r().neighbour().requests_sent, 3u);
  EXPECT_EQ(r().neighbour().dropped_unresolved, 1u);
}

}  // namespace
}  // namespace sluice::pkt
