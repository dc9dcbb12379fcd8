// eth_arp_test.cpp — eth-input (EtherType dispatch, whose frames these are) and arp-input
// (answering for the router's addresses, what it refuses to learn).
#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

Frame udp_from_h0() {
  return Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2").udp(1024, 9).payload(18);
}

// What the router answers to an ARP request for its address `ip` on `port` from (mac, sip).
Frame arp_reply_from_router(uint16_t port, const char* ip, MacAddr mac, const char* sip) {
  return Frame().eth(kRouterMac[port], mac).arp_reply(kRouterMac[port], ip, mac, sip);
}

std::vector<Case> eth_cases() {
  const Frame udp = udp_from_h0();
  const Frame arp_req = Frame().eth(kH0, kBroadcast).arp_request(kH0, "10.1.0.2", kR0);
  return {
      {.name = "runt of 10 bytes", .in = Frame(udp).truncate(10), .drops = {{"drop-eth-runt", 1}}},
      {.name = "runt of 13 bytes", .in = Frame(udp).truncate(13), .drops = {{"drop-eth-runt", 1}}},
      {.name = "header only is an IPv4 packet too short",
       .in = Frame(udp).truncate(14),
       .drops = {{"drop-ip4-truncated", 1}}},
      {.name = "unicast to another host",
       .in = Frame(udp).eth(kH0, kStranger),
       .drops = {{"drop-eth-other-host", 1}}},
      {.name = "unicast to the MAC of another router port",
       .in = Frame(udp).eth(kH0, kRouterMac[1]),
       .drops = {{"drop-eth-other-host", 1}}},
      {.name = "ARP unicast to another host",
       .in = Frame(arp_req).eth(kH0, kStranger),
       .drops = {{"drop-eth-other-host", 1}}},
      {.name = "IPv4 to the broadcast MAC",
       .in = Frame(udp).eth(kH0, kBroadcast),
       .drops = {{"drop-ip4-l2-broadcast", 1}}},
      {.name = "IPv4 to a multicast MAC",
       .in = Frame(udp).eth(kH0, MacAddr({0x01, 0x00, 0x5e, 0x00, 0x00, 0x05})),
       .drops = {{"drop-ip4-l2-broadcast", 1}}},
      {.name = "802.1Q tagged", .in = Frame(udp).vlan(100), .drops = {{"drop-eth-vlan", 1}}},
      {.name = "802.1ad tagged",
       .in = Frame(udp).vlan(100, 0x88a8),
       .drops = {{"drop-eth-vlan", 1}}},
      {.name = "IPv6 EtherType",
       .in = Frame(udp).eth(kH0, kRouterMac[0], 0x86dd),
       .drops = {{"drop-eth-unknown-type", 1}}},
      {.name = "LLDP to its multicast MAC",
       .in = Frame(udp).eth(kH0, MacAddr({0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}), 0x88cc),
       .drops = {{"drop-eth-unknown-type", 1}}},
  };
}

INSTANTIATE_TEST_SUITE_P(EthInput, CaseTest, ::testing::ValuesIn(eth_cases()), case_name);

std::vector<Case> arp_cases() {
  const Frame req = Frame().eth(kH0, kBroadcast).arp_request(kH0, "10.1.0.2", kR0);
  const Frame reply = arp_reply_from_router(kP0, kR0, kH0, "10.1.0.2");
  return {
      {.name = "request for the port address is answered",
       .in = req,
       .out = {{kP0, reply}},
       .counters = {{"arp-consumed", 0}}},
      {.name = "padded request gets an unpadded reply",
       .in = Frame(req).pad_to(60),
       .out = {{kP0, reply}}},
      {.name = "unicast request is answered",
       .in = Frame(req).eth(kH0, kRouterMac[0]),
       .out = {{kP0, reply}}},
      {.name = "request on p1 for its address",
       .port = kP1,
       .in = Frame().eth(kH1, kBroadcast).arp_request(kH1, "10.2.0.2", kR1),
       .out = {{kP1, arp_reply_from_router(kP1, kR1, kH1, "10.2.0.2")}}},
      {.name = "request from an unknown host is answered",
       .in = Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "10.1.0.9", kR0),
       .out = {{kP0, arp_reply_from_router(kP0, kR0, kStranger, "10.1.0.9")}}},
      {.name = "request from an off link sender is answered",
       .in = Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "192.168.7.7", kR0),
       .out = {{kP0, arp_reply_from_router(kP0, kR0, kStranger, "192.168.7.7")}}},
      {.name = "RFC 5227 probe is answered",
       .in = Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "0.0.0.0", kR0),
       .out = {{kP0, arp_reply_from_router(kP0, kR0, kStranger, "0.0.0.0")}}},
      // sluice answers only for addresses of the port the request came in on (Linux, with
      // arp_ignore=0, answers for any of its addresses).
      {.name = "request for the address of another port",
       .in = Frame(req).arp_request(kH0, "10.1.0.2", kR1),
       .drops = {{"drop-arp-not-for-us", 1}}},
      {.name = "request for another host",
       .in = Frame(req).arp_request(kH0, "10.1.0.2", "10.1.0.77"),
       .drops = {{"drop-arp-not-for-us", 1}}},
      {.name = "request for the subnet broadcast address",
       .in = Frame(req).arp_request(kH0, "10.1.0.2", "10.1.0.255"),
       .drops = {{"drop-arp-not-for-us", 1}}},
      {.name = "gratuitous request from an unknown host",
       .in = Frame().eth(kStranger, kBroadcast).arp_request(kStranger, "10.1.0.9", "10.1.0.9"),
       .drops = {{"drop-arp-not-for-us", 1}}},
      {.name = "reply to the router is consumed",
       .in = Frame()
                 .eth(kStranger, kRouterMac[0])
                 .arp_reply(kStranger, "10.1.0.9", kRouterMac[0], kR0),
       .counters = {{"arp-consumed", 1}}},
      {.name = "gratuitous reply is consumed",
       .in = Frame()
                 .eth(kStranger, kBroadcast)
                 .arp_reply(kStranger, "10.1.0.9", kBroadcast, "10.1.0.9"),
       .counters = {{"arp-consumed", 1}}},
      {.name = "hardware type 6",
       .in = Frame(req).poke(15, 6),
       .drops = {{"drop-arp-malformed", 1}}},
      {.name = "protocol IPv6",
       .in = Frame(req).poke(16, 0x86).poke(17, 0xdd),
       .drops = {{"drop-arp-malformed", 1}}},
      {.name = "hardware length 8",
       .in = Frame(req).poke(18, 8),
       .drops = {{"drop-arp-malformed", 1}}},
      {.name = "protocol length 16",
       .in = Frame(req).poke(19, 16),
       .drops = {{"drop-arp-malformed", 1}}},
      {.name = "opcode 3 RARP", .in = Frame(req).poke(21, 3), .drops = {{"drop-arp-malformed", 1}}},
      {.name = "opcode 0", .in = Frame(req).poke(21, 0), .drops = {{"drop-arp-malformed", 1}}},
      {.name = "multicast sender MAC",
       .in = Frame(req).poke(22, 0x01),
       .drops = {{"drop-arp-malformed", 1}}},
      {.name = "truncated to 27 bytes",
       .in = Frame(req).truncate(14 + 27),
       .drops = {{"drop-arp-malformed", 1}}},
      {.name = "sender claims the port address",
       .in = Frame().eth(kStranger, kBroadcast).arp_request(kStranger, kR0, "10.1.0.2"),
       .drops = {{"drop-arp-spoofed-sender", 1}}},
      {.name = "sender claims another port address",
       .in = Frame().eth(kStranger, kBroadcast).arp_request(kStranger, kR2, kR0),
       .drops = {{"drop-arp-spoofed-sender", 1}}},
      {.name = "gratuitous reply claiming the port address",
       .in = Frame().eth(kStranger, kBroadcast).arp_reply(kStranger, kR0, kBroadcast, kR0),
       .drops = {{"drop-arp-spoofed-sender", 1}}},
  };
}

INSTANTIATE_TEST_SUITE_P(ArpInput, CaseTest, ::testing::ValuesIn(arp_cases()), case_name);

TEST_F(PacketTest, MultiSegmentFrameIsDropped) {
  r().send_segmented(kP0, udp_from_h0().bytes(), 20);
  r().run();
  expect_sent({});
  expect_drops({{"drop-eth-multi-segment", 1}});
}

TEST_F(PacketTest, ArpSpoofingDoesNotMoveTheRouterAddress) {
  // After a spoofed claim of 10.1.0.1, pings to it are still answered by the router.
  r().send(kP0, Frame().eth(kStranger, kBroadcast).arp_reply(kStranger, kR0, kBroadcast, kR0));
  const Frame ping =
      Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", kR0).icmp_echo(1, 1).payload(8);
  expect(kP0, ping,
         {{kP0,
           Frame().eth(kRouterMac[0], kH0).ip4(kR0, "10.1.0.2").icmp_echo_reply(1, 1).payload(8)}},
         {{"drop-arp-spoofed-sender", 1}});
}

TEST_F(PacketTest, RingPortsOpenWithAStandardMtu) {
  // net_ring reports an MTU of 0; a port must not come up unable to send anything.
  for (const OpenedPort& p : r().dp().ports()) EXPECT_EQ(p.mtu, 1500) << p.name;
}

TEST_F(PacketTest, EveryDropNodeIsCounted) {
  // The graph names its drops; the tests in this directory expect these to exist.
  for (const char* n : {"drop-eth-runt",
                        "drop-eth-multi-segment",
                        "drop-eth-other-host",
                        "drop-ip4-l2-broadcast",
                        "drop-eth-vlan",
                        "drop-eth-unknown-type",
                        "drop-arp-malformed",
                        "drop-arp-not-for-us",
                        "drop-arp-spoofed-sender",
                        "drop-ip4-truncated",
                        "drop-ip4-bad-version",
                        "drop-ip4-bad-ihl",
                        "drop-ip4-bad-checksum",
                        "drop-ip4-bad-length",
                        "drop-ip4-martian-source",
                        "drop-ip4-martian-destination",
                        "drop-ip4-limited-broadcast",
                        "drop-ip4-multicast",
                        "drop-ip4-subnet-broadcast",
                        "drop-ip4-blackhole",
                        "drop-ip4-local-no-host",
                        "drop-ip4-local-fragment",
                        "drop-icmp-truncated",
                        "drop-icmp-bad-checksum",
                        "drop-ip4-local-no-return-route",
                        "drop-ip4-port-down",
                        "drop-ip4-fragment-no-mbuf",
                        "drop-ip4-fragment-failed",
                        "drop-icmp-error-suppressed",
                        "drop-icmp-error-rate-limited",
                        "drop-icmp-error-no-source-address",
                        "drop-icmp-error-no-return-route",
                        "drop-ip4-no-headroom",
                        "drop-neigh-punt-ring-full",
                        "drop-port-tx-full"})
    EXPECT_EQ(r().counter(n), 0u) << n;
}

}  // namespace
}  // namespace sluice::pkt
