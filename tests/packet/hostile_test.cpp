// hostile_test.cpp — the hostile-packet corpus (issue 8): one malformed or malicious frame per
// row, each with the drop counter it must raise (or the exact frames it must cause), and, as
// every packet case does, the pool full again afterwards (TearDown): nothing crashes, nothing
// leaks, nothing is held. Truncation at every header boundary, bad lengths and checksums,
// fragments, TTL 0 and 1, martian and broadcast addresses, ARP spoofing, VLAN stacks, frames
// too big for one mbuf, TCP flag combinations, ICMP errors about ICMP errors, and the same
// through masquerade. The multi-frame attacks (overlapping fragments, a NAT port-exhaustion
// flood) are TEST_Fs at the end.
#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

constexpr MacAddr kOther({0x02, 0x00, 0x00, 0x00, 0x07, 0x07});

Frame udp_h0(const char* src = "10.1.0.2", const char* dst = "10.2.0.2") {
  return Frame().eth(kH0, kRouterMac[0]).ip4(src, dst).udp(1024, 9).payload(18);
}
Frame tcp_h0(uint8_t flags) {
  return Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2").tcp(33000, 80, 7, 0, flags);
}
Frame echo_to_router() {
  return Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", kR0).icmp_echo(7, 1).payload(24);
}

Case drop(std::string name, Frame in, const char* node) {
  return {.name = std::move(name), .in = std::move(in), .drops = {{node, 1}}};
}
Case passes(std::string name, Frame in) {  // transit, forwarded unchanged but for the hop
  Frame out = forwarded(in, kRouterMac[1], kH1);
  return {.name = std::move(name), .in = std::move(in), .out = {{kP1, std::move(out)}}};
}

void masquerade(Router& r) {
  nat::Rules rules;
  rules.masquerade.push_back({.prefix = parse_ip("10.1.0.0"), .len = 24, .out_port = kP1});
  r.dp().set_nat_rules(std::move(rules));
}

std::vector<Case> cases() {
  const Frame u = udp_h0();
  const Frame bare = Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2");
  const Frame arp = Frame().eth(kH0, kBroadcast).arp_request(kH0, "10.1.0.2", kR0);
  std::vector<Case> c = {
      // Ethernet
      drop("one byte", Frame(u).truncate(1), "drop-eth-runt"),
      drop("13 bytes: the EtherType cut", Frame(u).truncate(13), "drop-eth-runt"),
      drop("an IPv4 EtherType and nothing after it", Frame(u).truncate(14), "drop-ip4-truncated"),
      drop("EtherType 0x88b5 (local experimental)",
           Frame().eth(kH0, kRouterMac[0], 0x88b5).payload(46), "drop-eth-unknown-type"),
      drop("802.1Q tag on a routed port", Frame(u).vlan(100), "drop-eth-vlan"),
      drop("two 802.1Q tags", Frame(u).vlan(100).vlan(200), "drop-eth-vlan"),
      drop("802.1ad outer tag", Frame(u).vlan(100).vlan(200, 0x88a8), "drop-eth-vlan"),
      drop("a tag and nothing after it", Frame(u).vlan(100).truncate(16), "drop-eth-vlan"),
      drop("unicast to another host's MAC", Frame(u).eth(kH0, kOther), "drop-eth-other-host"),
      drop("IPv4 to the Ethernet broadcast address", Frame(u).eth(kH0, kBroadcast),
           "drop-ip4-l2-broadcast"),
      // ARP
      drop("ARP cut after 10 bytes", Frame(arp).truncate(14 + 10), "drop-arp-malformed"),
      drop("ARP with a hardware length of 8", Frame(arp).poke(14 + 4, 8), "drop-arp-malformed"),
      drop("ARP for IPv6 (protocol type 0x86dd)", Frame(arp).poke(14 + 2, 0x86).poke(14 + 3, 0xdd),
           "drop-arp-malformed"),
      drop("ARP claiming the router's own address",
           Frame().eth(kH0, kBroadcast).arp_request(kH0, kR0, "10.1.0.9"),
           "drop-arp-spoofed-sender"),
      drop("ARP request for an address not the router's",
           Frame().eth(kH0, kBroadcast).arp_request(kH0, "10.1.0.2", "10.1.0.77"),
           "drop-arp-not-for-us"),
      // IPv4 header: every boundary and field
      drop("IPv4 header cut at 1 byte", Frame(u).truncate(14 + 1), "drop-ip4-truncated"),
      drop("IPv4 header cut at 10 bytes", Frame(u).truncate(14 + 10), "drop-ip4-truncated"),
      drop("IPv4 header cut at 19 bytes", Frame(u).truncate(14 + 19), "drop-ip4-truncated"),
      drop("IHL 6 but 20 bytes of header", Frame(bare).ihl(6), "drop-ip4-truncated"),
      drop("IHL 3", Frame(u).ihl(3), "drop-ip4-bad-ihl"),
      drop("version 5", Frame(u).version(5), "drop-ip4-bad-version"),
      drop("version 15", Frame(u).version(15), "drop-ip4-bad-version"),
      drop("total length 65535 in a 60-byte frame", Frame(u).total_length(65535),
           "drop-ip4-bad-length"),
      drop("total length smaller than the header", Frame(u).total_length(12),
           "drop-ip4-bad-length"),
      drop("header checksum off by one bit", Frame(u).bad_ip_checksum(), "drop-ip4-bad-checksum"),
      drop("header checksum 0xffff", Frame(u).ip_checksum(0xffff), "drop-ip4-bad-checksum"),
      passes("40 bytes of unknown options are carried", Frame(u).options(Bytes(40, 0x99))),
      passes("UDP header cut (the router does not read transit L4)",
             Frame(bare).protocol(17).payload(4)),
      passes("bad UDP checksum is not the router's business", Frame(u).bad_l4_checksum()),
      // TTL
      {.name = "TTL 1 in transit: time exceeded",
       .in = Frame(u).ttl(1),
       .out = {{kP0,
                icmp_error_about(Frame(u).ttl(1), kRouterMac[0], kH0, kR0, "10.1.0.2", 11, 0)}}},
      {.name = "TTL 0 in transit: time exceeded",
       .in = Frame(u).ttl(0),
       .out = {{kP0,
                icmp_error_about(Frame(u).ttl(0), kRouterMac[0], kH0, kR0, "10.1.0.2", 11, 0)}}},
      drop("TTL 1 on an ICMP error: no error about an error",
           Frame()
               .eth(kH0, kRouterMac[0])
               .ip4("10.1.0.2", "10.2.0.2")
               .ttl(1)
               .icmp_error(3, 3, Frame(u).no_eth().bytes()),
           "drop-icmp-error-suppressed"),
      // addresses
      drop("source 127.0.0.1", udp_h0("127.0.0.1"), "drop-ip4-martian-source"),
      drop("source 0.0.0.0 to a remote host", udp_h0("0.0.0.0"), "drop-ip4-martian-source"),
      drop("source 255.255.255.255", udp_h0("255.255.255.255"), "drop-ip4-martian-source"),
      drop("source multicast 224.0.0.1", udp_h0("224.0.0.1"), "drop-ip4-martian-source"),
      drop("destination 0.0.0.0", udp_h0("10.1.0.2", "0.0.0.0"), "drop-ip4-martian-destination"),
      drop("destination 127.0.0.1", udp_h0("10.1.0.2", "127.0.0.1"),
           "drop-ip4-martian-destination"),
      drop("destination 255.255.255.255", udp_h0("10.1.0.2", "255.255.255.255"),
           "drop-ip4-limited-broadcast"),
      drop("destination multicast 239.1.1.1", udp_h0("10.1.0.2", "239.1.1.1"),
           "drop-ip4-multicast"),
      // fragments
      drop("a fragment of an echo request to the router", Frame(echo_to_router()).mf().id(3),
           "drop-ip4-local-fragment"),
      drop("a last fragment to the router", Frame(echo_to_router()).offset(8).id(3),
           "drop-ip4-local-fragment"),
      passes("a tiny first fragment in transit (8 bytes)",
             Frame(bare).protocol(6).payload(8).mf().id(9)),
      passes("a fragment at the highest offset in transit",
             Frame(bare).protocol(17).payload(8).offset(65528).id(9)),
      // ICMP to the router
      drop("echo request with its ICMP header cut",
           Frame(echo_to_router()).total_length(20 + 4).truncate(14 + 24), "drop-icmp-truncated"),
      drop("echo request with a bad ICMP checksum", Frame(echo_to_router()).bad_l4_checksum(),
           "drop-icmp-bad-checksum"),
      // TCP flags in transit (a router forwards them; filtering is NAT's or a firewall's)
      passes("TCP SYN+FIN", tcp_h0(0x03)),
      passes("TCP with no flags (null scan)", tcp_h0(0x00)),
      passes("TCP with every flag (Xmas)", tcp_h0(0xff)),
      // through masquerade
      {.name = "NAT: TCP header cut",
       .in = Frame(bare).protocol(6).payload(10),
       .drops = {{"drop-nat-truncated", 1}},
       .setup = masquerade},
      {.name = "NAT: RST for no connection",
       .in = tcp_h0(0x04),
       .drops = {{"drop-nat-rst-without-session", 1}},
       .setup = masquerade},
      {.name = "NAT: unsolicited UDP to the outside address",
       .port = kP1,
       .in = Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", kR1).udp(53, 40000).payload(8),
       .drops = {{"drop-nat-filtered", 1}},
       .setup = masquerade},
  };
  return c;
}

INSTANTIATE_TEST_SUITE_P(Hostile, CaseTest, ::testing::ValuesIn(cases()), case_name);

// Fragments in transit, out of order and overlapping (a teardrop-style set): a router forwards
// each as it is, in the order it came, and reassembles nothing.
TEST_F(PacketTest, HostileOverlappingFragmentsInTransitAreForwardedAsTheyCame) {
  const Frame bare = Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2").protocol(17);
  const std::vector<Frame> in = {
      Frame(bare).payload(16).offset(24).id(77),      // the last fragment first
      Frame(bare).payload(32).offset(8).mf().id(77),  // overlaps the last
      Frame(bare).payload(16).offset(0).mf().id(77),  // overlaps the second
      Frame(bare).payload(8).offset(8).mf().id(77),   // a duplicate inside the second
  };
  for (const Frame& f : in) r().send(kP0, f);
  r().run();
  std::vector<std::pair<uint16_t, Frame>> out;
  for (const Frame& f : in) out.emplace_back(kP1, forwarded(f, kRouterMac[1], kH1));
  expect_sent(out);
  expect_drops({});
}

// A flood of new flows from many inside hosts against a masquerade with four outside ports:
// four hosts get a mapping (endpoint-independent: one port each), every other flow is dropped
// and counted, and the established four keep working.
TEST_F(PacketTest, HostileNatPortExhaustionFloodLeavesEstablishedFlowsWorking) {
  RouterOptions o;
  o.nat.port_first = 40000;
  o.nat.port_last = 40003;
  rebuild(o);
  masquerade(r());
  auto from = [](unsigned host, uint16_t sport) {
    const std::string src = "10.1.0." + std::to_string(10 + host);
    return Frame().eth(kH0, kRouterMac[0]).ip4(src, "10.2.0.2").udp(sport, 53).payload(8);
  };
  for (unsigned h = 0; h < 4; ++h) r().send(kP0, from(h, 5000));
  r().run();
  EXPECT_EQ(r().received(kP1).size(), 4u);
  for (unsigned h = 4; h < 54; ++h) r().send(kP0, from(h, 5000));
  r().run();
  EXPECT_TRUE(r().received(kP1).empty());
  expect_drops({{"drop-nat-ports-exhausted", 50}});
  for (unsigned h = 0; h < 4; ++h) r().send(kP0, from(h, 5000));
  r().run();
  EXPECT_EQ(r().received(kP1).size(), 4u) << "an established flow lost its mapping";
  expect_drops({});
}

// A flood of new flows once the session table is full (8 sessions per worker): every new flow
// is refused and counted, and the 8 established flows keep working both ways.
TEST_F(PacketTest, HostileNatTableFullLeavesEstablishedFlowsWorking) {
  RouterOptions o;
  o.nat.max_sessions = 8;
  rebuild(o);
  masquerade(r());
  auto out = [](uint16_t sport) {
    return Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2").udp(sport, 53).payload(8);
  };
  for (uint16_t s = 0; s < 8; ++s) r().send(kP0, out(static_cast<uint16_t>(5000 + s)));
  r().run();
  const std::vector<Bytes> mapped = r().received(kP1);
  ASSERT_EQ(mapped.size(), 8u);
  for (uint16_t s = 0; s < 200; ++s) r().send(kP0, out(static_cast<uint16_t>(6000 + s)));
  r().run();
  EXPECT_TRUE(r().received(kP1).empty());
  expect_drops({{"drop-nat-table-full", 200}});
  // The established flows: out again, and the remote's answers to each mapped port back in.
  for (uint16_t s = 0; s < 8; ++s) r().send(kP0, out(static_cast<uint16_t>(5000 + s)));
  r().run();
  EXPECT_EQ(r().received(kP1).size(), 8u) << "an established flow lost its session";
  for (const Bytes& m : mapped) {
    const uint16_t port = static_cast<uint16_t>(m[14 + 20] << 8 | m[14 + 20 + 1]);
    r().send(kP1, Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", kR1).udp(53, port).payload(8));
  }
  r().run();
  EXPECT_EQ(r().received(kP0).size(), 8u) << "a reply to an established flow was refused";
  expect_drops({});
}

// Spoofing from outside: a frame arriving on the masquerade's outside port with an inside
// source, addressed to the attacker itself, would be routed back out the same port and
// masqueraded, and the mapping it made would carry the attacker's answer to the inside host.
// It must be dropped before it makes a session; the attacker's "answer" is filtered.
TEST_F(PacketTest, HostileSpoofedInsideSourceFromOutsideMakesNoMapping) {
  masquerade(r());
  const char* attacker = "10.20.0.9";  // behind g1, on p1's side
  const Frame spoofed =
      Frame().eth(kG1, kRouterMac[1]).ip4("10.1.0.2", attacker).udp(1234, 80).payload(8);
  r().send(kP1, spoofed);
  r().run();
  EXPECT_TRUE(r().received(kP1).empty()) << "the spoofed frame was forwarded";
  expect_drops({{"drop-nat-spoofed-source", 1}});
  EXPECT_EQ(r().dp().nat_sessions().size(), 0u);
  // Whatever port the attacker guesses, nothing reaches the inside.
  for (uint16_t port : {1024, 1234, 40000, 65535}) {
    r().send(kP1, Frame().eth(kG1, kRouterMac[1]).ip4(attacker, kR1).udp(80, port).payload(8));
  }
  r().send(kP1, Frame(spoofed).tcp(1234, 80, 1, 0, 0x02));  // a spoofed SYN the same way
  r().run();
  EXPECT_TRUE(r().received(kP0).empty()) << "an outside host reached the inside";
  EXPECT_TRUE(r().received(kP1).empty());
  expect_drops({{"drop-nat-filtered", 4}, {"drop-nat-spoofed-source", 1}});
  EXPECT_EQ(r().dp().nat_sessions().size(), 0u);
}

// From outside, nothing without a session reaches an inside host, whatever its protocol. The
// kernel with a FORWARD filter of ESTABLISHED,RELATED does the same; nmap's protocol scan and
// timestamp ping would otherwise find inside hosts (an outside host with a route to them).
TEST_F(PacketTest, HostileOutsideReachesNoInsideHostWithAnyProtocol) {
  masquerade(r());
  const Frame base = Frame().eth(kG1, kRouterMac[1]).ip4("10.20.0.9", "10.1.0.2");
  const Frame quoted = Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.20.0.9").udp(7, 9);
  const std::vector<std::pair<std::string, Frame>> in = {
      {"GRE", Frame(base).protocol(47).payload(24)},
      {"SCTP", Frame(base).protocol(132).payload(32)},
      {"ICMP timestamp request", Frame(base).icmp(13, 0, 0x00070001).payload(12)},
      {"ICMP information request", Frame(base).icmp(15, 0, 0x00070001)},
      {"ICMP unreachable about no session", Frame(base).icmp_error(3, 3, quoted.ip_packet())},
      {"a later UDP fragment", Frame(base).protocol(17).offset(64).payload(16).id(9)},
      {"a UDP datagram", Frame(base).udp(53, 1024).payload(8)},
      {"a TCP SYN", Frame(base).tcp(4000, 22, 1, 0, 0x02)},
      {"an ICMP echo request", Frame(base).icmp_echo(7, 1).payload(8)},
  };
  for (const auto& [what, f] : in) {
    SCOPED_TRACE(what);
    r().send(kP1, f);
    r().run();
    EXPECT_TRUE(r().received(kP0).empty()) << what << " reached the inside host";
    expect_drops({{"drop-nat-filtered", 1}});
  }
}

// A scan of a large connected subnet (a /16 on p1): every destination is a neighbour to ask
// for. The control thread keeps at most max_entries of them and holds at most max_held_total
// packets, so the mbuf pool never runs dry and a known host is still reached during the scan;
// spoofed ARP requests from every address of the subnet learn no more than the cap either.
TEST_F(PacketTest, HostileNeighbourScanIsBoundedAndTheRouterKeepsForwarding) {
  ASSERT_EQ(r().dp().state().add_address(kP1, addr("10.40.0.1"), 16), "");
  const NeighbourResolver::Config cfg;  // the defaults sluiced runs with
  const unsigned scan = cfg.max_entries + 4000;
  auto host = [](unsigned i) {
    return std::to_string(10) + ".40." + std::to_string(1 + i / 250) + "." +
           std::to_string(1 + i % 250);
  };
  const Frame known = udp_h0();
  unsigned known_out = 0;
  for (unsigned i = 0; i < scan; ++i) {
    r().send(kP0, Frame(udp_h0("10.1.0.2", host(i).c_str())).id(static_cast<uint16_t>(i)));
    if (i % 500 == 499) {
      r().send(kP0, known);
      r().run();
      for (const Bytes& b : r().received(kP1))
        known_out += b.size() > 14 && b[12] == 0x08 && b[13] == 0x00;  // IPv4, not ARP
      ASSERT_GE(r().pool_available(), r().pool_size() - cfg.max_held_total - 64)
          << "unresolved neighbours hold the pool";
    }
  }
  r().run();
  r().received_all();
  EXPECT_EQ(known_out, scan / 500) << "the known host was not reached during the scan";
  const NeighbourResolver::Counters c = r().neighbour();
  EXPECT_LE(r().dp().neighbours().entries(r().now()).size(), cfg.max_entries + 3u);
  EXPECT_GT(c.dropped_table_full, 0u);
  EXPECT_GT(c.dropped_held_limit, 0u);
  EXPECT_LE(c.held - c.released - c.dropped_unresolved, cfg.max_held_total);

  // Spoofed ARP requests for the router's address from 20,000 senders on the subnet.
  for (unsigned i = 0; i < 20000; ++i) {
    r().send(kP1, Frame()
                      .eth(kStranger, kBroadcast)
                      .arp_request(kStranger, host(i + 30000).c_str(), "10.40.0.1"));
    if (i % 500 == 499) {
      r().run();
      r().received_all();
    }
  }
  r().run();
  r().received_all();
  EXPECT_LE(r().dp().neighbours().entries(r().now()).size(), cfg.max_entries + 3u);
  EXPECT_GT(r().neighbour().learn_table_full, 0u);
  // Everything pending fails and is forgotten; the held packets go back to the pool.
  r().advance(8.0, 0.5);
  r().received_all();
  r().dp().neighbours().forget_port(kP1);
  EXPECT_EQ(r().pool_available(), r().pool_size());
}

}  // namespace
}  // namespace sluice::pkt
