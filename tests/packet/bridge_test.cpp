// bridge_test.cpp — bridging through the whole graph (eth-input -> bridge-input ->
// port-tx | bridge-flood | the routed interface; ip4-rewrite -> port-tx -> bridge-output):
// learning, flooding without echo, aging on the injected clock, MAC moves, static entries,
// 802.1Q access and trunk ports, the routed interface (ARP, ping, routing and masquerade
// through it), and a full table. Frames are compared byte for byte; every drop by its node.
//
// The topology, on the harness's p0-p2: three more ring ports p3, p4, p5 are the members of
// bridge br0, whose routed interface (a port of its own, index 6) holds 192.168.15.1/24. Hosts
// A, B, C sit behind p3, p4, p5.
#include <algorithm>

#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

constexpr uint16_t kP3 = 3, kP4 = 4, kP5 = 5;
constexpr MacAddr kA({0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a});
constexpr MacAddr kB({0x02, 0xaa, 0x00, 0x00, 0x00, 0x0b});
constexpr MacAddr kC({0x02, 0xaa, 0x00, 0x00, 0x00, 0x0c});
constexpr MacAddr kBridgeMac({0x02, 0xbb, 0x00, 0x00, 0x00, 0x01});
constexpr MacAddr kMcast({0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb});
constexpr const char* kBvi = "192.168.15.1";
constexpr const char* kAddrA = "192.168.15.2";

Frame udp(MacAddr src, MacAddr dst, uint16_t sport = 1000) {
  return Frame().eth(src, dst).ip4("192.168.15.20", "192.168.15.30").udp(sport, 2000).payload(20);
}

class BridgeTest : public PacketTest {
 protected:
  // Builds the router with p3-p5 and br0 on them. vlan: p3 access VLAN 10, p4 access VLAN 20,
  // p5 a trunk of 10 and 20 (tagged, no PVID).
  void make(bool vlan = false, uint32_t fdb_size = 65535) {
    RouterOptions opt;
    opt.extra_ports = 3;
    opt.fdb_size = fdb_size;
    rebuild(opt);
    Bridges::Config c;
    c.name = "br0";
    c.mac = kBridgeMac;
    c.vlan_filtering = vlan;
    c.bvi_pvid = 10;
    std::vector<Bridges::Member> m(3);
    m[0].port = kP3;
    m[1].port = kP4;
    m[2].port = kP5;
    if (vlan) {
      m[0].pvid = 10;
      m[0].vlans = {{10, true}};
      m[1].pvid = 20;
      m[1].vlans = {{20, true}};
      m[2].pvid = 0;
      m[2].vlans = {{10, false}, {20, false}};
    }
    ASSERT_EQ(br().add(c, m, &bvi_), "");
    ASSERT_EQ(r().dp().state().add_address(bvi_, addr(kBvi), 24), "");
    r().run();
  }
  Bridges& br() { return r().dp().bridges(); }
  // Where the FDB has `mac` (any VLAN), or -1.
  int where(MacAddr mac) {
    for (const Bridges::FdbView& e : br().fdb_entries())
      if (e.mac == mac) return e.port;
    return -1;
  }
  // A sends something so the bridge learns it on p3 (it floods to p4, p5 the first time).
  void learn(MacAddr host, uint16_t port, uint16_t tci = 0) {
    Frame f = Frame().eth(host, kBroadcast);
    if (tci != 0) f.vlan(tci);
    f.ip4("192.168.15.99", "192.168.15.255").udp(9, 9);
    r().send(port, f);
    r().run();
    r().received_all();
    ASSERT_EQ(where(host), port);
  }
  uint16_t bvi_ = 0;
};

TEST_F(BridgeTest, UnknownFloodsThenLearnedIsUnicast) {
  make();
  const Frame ab = udp(kA, kB);
  expect(kP3, ab, {{kP4, ab}, {kP5, ab}});  // B unknown: every other member, not p3
  EXPECT_EQ(where(kA), kP3);
  const Frame ba = udp(kB, kA);
  expect(kP4, ba, {{kP3, ba}});  // A known: p3 only
  EXPECT_EQ(where(kB), kP4);
  expect(kP3, ab, {{kP4, ab}});  // B known now
  EXPECT_EQ(br().counters().learned, 2u);
  EXPECT_EQ(r().counter("bridge-flood"), 1u);
}

TEST_F(BridgeTest, KnownDestinationOnTheIngressPortIsNotEchoed) {
  make();
  learn(kA, kP3);
  learn(kB, kP3);  // two hosts behind one port (a switch further on)
  expect(kP3, udp(kA, kB), {}, {{"drop-bridge-same-port", 1}});
}

TEST_F(BridgeTest, BroadcastAndMulticastFloodToEveryOtherMember) {
  make();
  const Frame bc = Frame().eth(kA, kBroadcast).ip4("192.168.15.2", "255.255.255.255").udp(68, 67);
  expect(kP3, bc, {{kP4, bc}, {kP5, bc}});
  const Frame mc = Frame().eth(kB, kMcast).ip4("192.168.15.3", "224.0.0.251").udp(5353, 5353);
  expect(kP4, mc, {{kP3, mc}, {kP5, mc}});
  // The group destination itself is never learned.
  EXPECT_EQ(where(kMcast), -1);
}

TEST_F(BridgeTest, LinkLocalGroupBadSourceAndRuntAreDropped) {
  make();
  const MacAddr stp({0x01, 0x80, 0xc2, 0x00, 0x00, 0x00});
  expect(kP3, Frame().eth(kA, stp, 0x0027).payload(40), {}, {{"drop-bridge-link-local", 1}});
  expect(kP3, udp(kMcast, kB), {}, {{"drop-bridge-bad-src-mac", 1}});
  expect(kP3, udp(kZeroMac, kB), {}, {{"drop-bridge-bad-src-mac", 1}});
  r().send_bytes(kP3, Bytes(10, 0x02));
  r().run();
  expect_drops({{"drop-bridge-runt", 1}});
}

TEST_F(BridgeTest, EntriesAgeOutOnTheClockAndStaticOnesDoNot) {
  make();
  learn(kA, kP3);
  ASSERT_EQ(br().add_static("br0", kC, kP5), "");
  r().advance(200);
  EXPECT_EQ(where(kA), kP3) << "aged before its 300 s";
  r().advance(102);  // 302 s since A's last frame: gone (aging visits every slot each second)
  EXPECT_EQ(where(kA), -1);
  EXPECT_EQ(where(kC), kP5) << "a static entry aged";
  EXPECT_GE(br().counters().aged, 1u);
  const Frame ba = udp(kB, kA);
  expect(kP4, ba, {{kP3, ba}, {kP5, ba}});  // A unknown again: flooded
  const Frame bc = udp(kB, kC);
  expect(kP4, bc, {{kP5, bc}});
}

TEST_F(BridgeTest, TrafficKeepsAnEntryAlive) {
  make();
  learn(kA, kP3);
  for (int i = 0; i < 4; ++i) {
    r().advance(100);
    r().send(kP3, udp(kA, kB));
    r().run();
    r().received_all();
  }
  EXPECT_EQ(where(kA), kP3) << "refreshed by its frames, it must not age";
}

TEST_F(BridgeTest, AgeingZeroLearnsNothing) {
  make();
  ASSERT_EQ(br().set_ageing("br0", 0), "");
  const Frame ab = udp(kA, kB);
  expect(kP3, ab, {{kP4, ab}, {kP5, ab}});
  const Frame ba = udp(kB, kA);
  expect(kP4, ba, {{kP3, ba}, {kP5, ba}});
  EXPECT_EQ(where(kA), -1);
}

TEST_F(BridgeTest, MacMovesToThePortItIsSeenOn) {
  make();
  learn(kA, kP3);
  learn(kA, kP4);  // A moved behind p4
  EXPECT_EQ(br().counters().moves, 1u);
  const Frame ca = udp(kC, kA);
  expect(kP5, ca, {{kP4, ca}});
}

TEST_F(BridgeTest, StaticEntryNeitherMovesNorAges) {
  make();
  ASSERT_EQ(br().add_static("br0", kA, kP5), "");
  const Frame ba = udp(kB, kA);
  expect(kP4, ba, {{kP5, ba}});
  // A shows up on p3: the static entry stays (Linux keeps it too); frames still go to p5.
  const Frame ab = udp(kA, kB);
  expect(kP3, ab, {{kP4, ab}});  // B was learned on p4
  EXPECT_EQ(where(kA), kP5);
  EXPECT_EQ(br().del_static("br0", kA), "");
  EXPECT_EQ(where(kA), -1);
  EXPECT_NE(br().add_static("br0", kA, kP0), "") << "p0 is not a member";
  EXPECT_NE(br().del_static("br0", kB), "") << "B was learned, not static";
}

TEST_F(BridgeTest, AccessAndTrunkPortsTagAndIsolateVlans) {
  make(/*vlan=*/true);
  // Untagged from the VLAN 10 access port: to the trunk tagged 10, never to VLAN 20's p4.
  const Frame a = Frame().eth(kA, kBroadcast).ip4("10.10.0.2", "10.10.0.255").udp(9, 9);
  expect(kP3, a, {{kP5, Frame(a).vlan(10)}});
  // Tagged 20 from the trunk: untagged to p4 only.
  const Frame c20 = Frame().eth(kC, kBroadcast).vlan(20).ip4("10.20.0.3", "10.20.0.255").udp(9, 9);
  expect(kP5, udp(kC, kBroadcast).vlan(20), {{kP4, udp(kC, kBroadcast)}});
  (void)c20;
  // Learned per VLAN: C is known in VLAN 20 only; unicast to C from VLAN 10 floods VLAN 10.
  const Frame ac = udp(kA, kC);
  expect(kP3, ac, {{kP5, Frame(ac).vlan(10)}});
  const Frame bc = udp(kB, kC);
  expect(kP4, bc, {{kP5, Frame(bc).vlan(20)}});  // known in 20: unicast to the trunk, tagged
  // A priority-tagged frame (VID 0) on an access port is its PVID's, PCP kept on the trunk.
  const Frame prio = udp(kA, kC).vlan(0xa000);
  expect(kP3, prio, {{kP5, udp(kA, kC).vlan(0xa000 | 10)}});
  // VLAN 30 is nobody's; untagged on the trunk has no PVID; 802.1ad is not bridged.
  expect(kP5, udp(kC, kA).vlan(30), {}, {{"drop-bridge-vlan-filtered", 1}});
  expect(kP5, udp(kC, kA), {}, {{"drop-bridge-vlan-filtered", 1}});
  expect(kP5, udp(kC, kA).vlan(10, 0x88a8), {}, {{"drop-bridge-vlan-unsupported", 1}});
  expect(kP3, udp(kA, kC).vlan(10).vlan(20), {}, {{"drop-bridge-vlan-unsupported", 1}});
  // A tagged frame on an access port for another VLAN.
  expect(kP3, udp(kA, kC).vlan(20), {}, {{"drop-bridge-vlan-filtered", 1}});
}

TEST_F(BridgeTest, RoutedInterfaceAnswersArpAndPing) {
  make();
  learn(kA, kP3);
  // ARP for the bridge's address: flooded to the other members, answered from the bridge.
  const Frame ask = Frame().eth(kA, kBroadcast).arp_request(kA, kAddrA, kBvi);
  const Frame answer = Frame().eth(kBridgeMac, kA).arp_reply(kBridgeMac, kBvi, kA, kAddrA);
  expect(kP3, ask, {{kP3, answer}, {kP4, ask}, {kP5, ask}});
  // Ping the bridge: the reply goes back through bridge-output to p3 only.
  const Frame ping = Frame().eth(kA, kBridgeMac).ip4(kAddrA, kBvi).icmp_echo(7, 1).payload(16);
  const Frame pong =
      Frame().eth(kBridgeMac, kA).ip4(kBvi, kAddrA).icmp_echo_reply(7, 1).payload(16);
  expect(kP3, ping, {{kP3, pong}});
}

TEST_F(BridgeTest, TheBridgedLanIsRoutedBothWays) {
  make();
  learn(kA, kP3);
  r().dp().neighbours().add_static(bvi_, addr(kAddrA), kA);
  r().run();
  // A -> h1 (10.2.0.2 on p1) through the bridge's MAC: routed out of p1.
  const Frame out = Frame().eth(kA, kBridgeMac).ip4(kAddrA, "10.2.0.2").udp(1000, 53).payload(8);
  expect(kP3, out, {{kP1, forwarded(out, kRouterMac[kP1], kH1)}});
  // h1 -> A: routed to the BVI, bridge-output finds A on p3.
  const Frame back = Frame().eth(kH1, kRouterMac[kP1]).ip4("10.2.0.2", kAddrA).udp(53, 1000);
  expect(kP1, back, {{kP3, forwarded(back, kBridgeMac, kA)}});
  // Unknown destination MAC behind the bridge (the neighbour moved, the entry aged): flooded.
  ASSERT_EQ(br().set_ageing("br0", 0), "");  // flushes what was learned
  expect(kP1, back,
         {{kP3, forwarded(back, kBridgeMac, kA)},
          {kP4, forwarded(back, kBridgeMac, kA)},
          {kP5, forwarded(back, kBridgeMac, kA)}});
}

TEST_F(BridgeTest, TheBridgedLanIsMasqueradedOutOfAPort) {
  make();
  learn(kA, kP3);
  r().dp().neighbours().add_static(bvi_, addr(kAddrA), kA);
  nat::Rules rules;
  rules.masquerade.push_back({.prefix = parse_ip("192.168.15.0"), .len = 24, .out_port = kP1});
  r().dp().set_nat_rules(rules);
  r().run();
  const Frame out = Frame().eth(kA, kBridgeMac).ip4(kAddrA, "10.2.0.2").udp(40000, 53).payload(8);
  r().send(kP3, out);
  r().run();
  auto got = r().received_all();
  ASSERT_EQ(got[kP1].size(), 1u);
  const Bytes& f = got[kP1][0];
  EXPECT_EQ(f[26], 10);  // the source is the router's p1 address, 10.2.0.1
  EXPECT_EQ(f[27], 2);
  EXPECT_EQ(f[28], 0);
  EXPECT_EQ(f[29], 1);
  const uint16_t sport = static_cast<uint16_t>(f[34] << 8 | f[35]);
  // The reply comes back to the BVI and is bridged to A.
  const Frame reply =
      Frame().eth(kH1, kRouterMac[kP1]).ip4("10.2.0.2", kR1).udp(53, sport).payload(8);
  r().send(kP1, reply);
  r().run();
  got = r().received_all();
  ASSERT_EQ(got[kP3].size(), 1u);
  const Frame want =
      Frame().eth(kBridgeMac, kA).ip4("10.2.0.2", kAddrA).ttl(63).udp(53, 40000).payload(8);
  EXPECT_TRUE(SameFrame(want.bytes(), got[kP3][0]));
}

TEST_F(BridgeTest, AFullTableFloodsAndCounts) {
  make(false, /*fdb_size=*/15);
  // The three members' own MACs are local entries; the rest is for learning.
  unsigned learned = 0;
  for (uint8_t i = 1; i <= 20; ++i) {
    const MacAddr h({0x02, 0xcc, 0, 0, 0, i});
    r().send(kP3, udp(h, kBroadcast));
    r().run();
    r().received_all();
    if (where(h) == kP3) ++learned;
  }
  EXPECT_GT(br().counters().full, 0u);
  EXPECT_EQ(learned + 3, br().fdb_size());
  EXPECT_LE(br().fdb_size(), 15u);
  // The last host was not learned: frames to it flood (and nothing crashes or leaks).
  const MacAddr last({0x02, 0xcc, 0, 0, 0, 20});
  ASSERT_EQ(where(last), -1);
  const Frame to_last = udp(kB, last);
  expect(kP4, to_last, {{kP3, to_last}, {kP5, to_last}});
}

TEST_F(BridgeTest, MembershipChangesTakeEffect) {
  make();
  learn(kA, kP3);
  std::vector<Bridges::Member> m(2);
  m[0].port = kP4;
  m[1].port = kP5;
  ASSERT_EQ(br().set_members("br0", m), "");
  EXPECT_EQ(where(kA), -1) << "p3's entries go with it";
  // p3 is no longer bridged: a frame to another host is not for the router.
  expect(kP3, udp(kA, kB), {}, {{"drop-eth-other-host", 1}});
  const Frame bc = udp(kB, kBroadcast);
  expect(kP4, bc, {{kP5, bc}});
  std::vector<Bridges::Member> twice(2);
  twice[0].port = twice[1].port = kP4;
  EXPECT_NE(br().set_members("br0", twice), "");
  ASSERT_EQ(br().del("br0"), "");
  expect(kP4, bc, {}, {{"drop-ip4-l2-broadcast", 1}});
}

TEST_F(BridgeTest, PortsNotForwardingNeitherSendNorReceive) {
  make();
  learn(kA, kP3);
  learn(kB, kP4);
  // p4 leaves the forwarding state (the kernel's STP state, say): nothing in, nothing out.
  std::vector<Bridges::Member> m(3);
  m[0].port = kP3;
  m[1].port = kP4;
  m[1].forwarding = false;
  m[2].port = kP5;
  ASSERT_EQ(br().set_members("br0", m), "");
  expect(kP3, udp(kA, kB), {}, {{"drop-bridge-port-blocked", 1}});
  expect(kP4, udp(kB, kA), {}, {{"drop-bridge-port-blocked", 1}});
  const Frame bc = udp(kA, kBroadcast);
  expect(kP3, bc, {{kP5, bc}});  // flooding skips it
  // A member whose link is down: the same for known unicast.
  m[1].forwarding = true;
  ASSERT_EQ(br().set_members("br0", m), "");
  r().dp().state().mutable_port(kP5).up.store(false);
  learn(kC, kP4);  // C behind p4 now
  r().dp().state().mutable_port(kP5).up.store(true);
  learn(kC, kP5);
  r().dp().state().mutable_port(kP5).up.store(false);
  expect(kP3, udp(kA, kC), {}, {{"drop-bridge-port-blocked", 1}});
  r().dp().state().mutable_port(kP5).up.store(true);
}

TEST_F(BridgeTest, ConfigurationErrorsAreNamed) {
  make();
  Bridges::Config c;
  c.name = "br0";
  EXPECT_NE(br().add(c, {}), "");  // exists
  c.name = "p1";
  EXPECT_NE(br().add(c, {}), "");  // a port's name
  c.name = "br1";
  std::vector<Bridges::Member> p3(1);
  p3[0].port = kP3;
  EXPECT_NE(br().add(c, p3), "");  // p3 is in br0
  EXPECT_NE(br().add(c, {}), "");  // no member, no MAC
  c.mac = kBridgeMac;
  EXPECT_EQ(br().add(c, {}), "");
  EXPECT_EQ(br().del("br1"), "");
  EXPECT_NE(br().del("br1"), "");
}

}  // namespace
}  // namespace sluice::pkt
