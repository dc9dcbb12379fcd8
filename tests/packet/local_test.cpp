// local_test.cpp — ip4-local: packets for the router's own addresses. Echo requests are
// answered in the fast path; everything else has no host stack behind a ring port.
#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

Frame ping(const char* dst, size_t len = 56) {
  return Frame()
      .eth(kH0, kRouterMac[0])
      .ip4("10.1.0.2", dst)
      .id(0x4242)
      .icmp_echo(0x1234, 7)
      .payload(len);
}

// The router's answer to `ping(dst, len)`: addresses swapped, TTL 64, type 0, the rest kept.
Frame pong(const char* from, size_t len = 56) {
  return Frame()
      .eth(kRouterMac[0], kH0)
      .ip4(from, "10.1.0.2")
      .id(0x4242)
      .icmp_echo_reply(0x1234, 7)
      .payload(len);
}

Case drop(std::string name, Frame in, const char* node) {
  return {.name = std::move(name), .in = std::move(in), .drops = {{node, 1}}};
}

std::vector<Case> cases() {
  return {
      {.name = "echo to the ingress port address", .in = ping(kR0), .out = {{kP0, pong(kR0)}}},
      {.name = "echo to the address of another port", .in = ping(kR1), .out = {{kP0, pong(kR1)}}},
      {.name = "echo to the third port address", .in = ping(kR2), .out = {{kP0, pong(kR2)}}},
      {.name = "echo arriving on p1",
       .port = kP1,
       .in = Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", kR2).icmp_echo(1, 2).payload(10),
       .out = {{kP1, Frame()
                         .eth(kRouterMac[1], kH1)
                         .ip4(kR2, "10.2.0.2")
                         .icmp_echo_reply(1, 2)
                         .payload(10)}}},
      {.name = "echo with an odd length", .in = ping(kR0, 57), .out = {{kP0, pong(kR0, 57)}}},
      {.name = "echo without data", .in = ping(kR0, 0), .out = {{kP0, pong(kR0, 0)}}},
      {.name = "echo of 1500 bytes", .in = ping(kR0, 1472), .out = {{kP0, pong(kR0, 1472)}}},
      {.name = "echo keeps TOS, ID and DF",
       .in = ping(kR0).tos(0x10).id(0x9999).df(),
       .out = {{kP0, pong(kR0).tos(0x10).id(0x9999).df()}}},
      {.name = "echo with TTL 1 is answered", .in = ping(kR0).ttl(1), .out = {{kP0, pong(kR0)}}},
      {.name = "padded echo is answered unpadded",
       .in = ping(kR0, 4).pad_to(60),
       .out = {{kP0, pong(kR0, 4)}}},
      {.name = "echo from behind a gateway",
       .port = kP1,
       .in = Frame().eth(kG1, kRouterMac[1]).ip4("10.20.1.1", kR1).icmp_echo(3, 4).payload(20),
       .out = {{kP1, Frame()
                         .eth(kRouterMac[1], kG1)
                         .ip4(kR1, "10.20.1.1")
                         .icmp_echo_reply(3, 4)
                         .payload(20)}}},
      drop("echo with a bad ICMP checksum", ping(kR0).bad_l4_checksum(), "drop-icmp-bad-checksum"),
      drop("ICMP of 4 bytes",
           Frame()
               .eth(kH0, kRouterMac[0])
               .ip4("10.1.0.2", kR0)
               .protocol(1)
               .payload(Bytes{8, 0, 0xf7, 0xff}),
           "drop-icmp-truncated"),
      drop("echo request with code 1",
           Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", kR0).icmp(8, 1, 0x00010001).payload(8),
           "drop-ip4-local-no-host"),
      drop("echo reply to the router",
           Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", kR0).icmp_echo_reply(1, 1).payload(8),
           "drop-ip4-local-no-host"),
      drop("timestamp request",
           Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", kR0).icmp(13, 0, 0x00010001).payload(12),
           "drop-ip4-local-no-host"),
      drop("UDP to the router",
           Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", kR0).udp(5000, 53).payload(20),
           "drop-ip4-local-no-host"),
      drop("TCP SYN to the router",
           Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", kR1).tcp(5000, 22),
           "drop-ip4-local-no-host"),
      drop("first fragment of an echo", ping(kR0).mf(), "drop-ip4-local-fragment"),
      drop(
          "later fragment of an echo",
          Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", kR0).protocol(1).offset(1480).payload(40),
          "drop-ip4-local-fragment"),
      drop("echo from a source without a route", ping(kR0).src("172.16.0.9"),
           "drop-ip4-local-no-return-route"),
      drop("echo from a blackholed source", ping(kR0).src("10.30.0.9"),
           "drop-ip4-local-no-return-route"),
      drop("echo claiming to come from the router", ping(kR0).src(kR1),
           "drop-ip4-local-no-return-route"),
  };
}

INSTANTIATE_TEST_SUITE_P(Ip4Local, CaseTest, ::testing::ValuesIn(cases()), case_name);

TEST_F(PacketTest, EchoReplyChecksumIsRightForEveryIdentifier) {
  // The reply's ICMP checksum is updated incrementally (type 8 -> 0); sweep the identifier so
  // the request's checksum takes every value, and compare each reply with a fresh checksum.
  unsigned mismatches = 0;
  for (unsigned start = 0; start < 65536; start += 512) {
    for (unsigned ident = start; ident < start + 512; ++ident)
      r().send(kP0, Frame(ping(kR0, 0)).icmp_echo(static_cast<uint16_t>(ident), 1));
    r().run();
    const std::vector<Bytes> got = r().received(kP0);
    ASSERT_EQ(got.size(), 512u);
    for (unsigned i = 0; i < 512; ++i) {
      const Bytes want =
          Frame(pong(kR0, 0)).icmp_echo_reply(static_cast<uint16_t>(start + i), 1).bytes();
      if (want != got[i] && ++mismatches <= 3) {
        EXPECT_TRUE(SameFrame(want, got[i]));
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
  expect_drops({});
}

}  // namespace
}  // namespace sluice::pkt

namespace sluice::pkt {
namespace {

// Known gap (reported, not yet fixed): locally originated packets (echo replies, ICMP errors)
// go from ip4-local / icmp-error straight to ip4-rewrite, past ip4-forward's MTU check, so a
// reply routed out of a port with a smaller MTU leaves oversized. Linux fragments the reply.
// Remove the skip when the local output path checks the egress MTU.
TEST_F(PacketTest, EchoReplyRespectsTheEgressMtu) {
  r().set_mtu(kP1, 1000);
  // Asymmetric: the request comes in on p0, the reply is routed to 10.2.0.2 out of p1.
  r().send(kP0, Frame().eth(kH0, kRouterMac[0]).ip4("10.2.0.2", kR0).icmp_echo(1, 1).payload(1400));
  r().run();
  const std::vector<Bytes> got = r().received(kP1);
  EXPECT_FALSE(got.empty());
  for (const Bytes& f : got) EXPECT_LE(f.size() - 14, 1000u);
}

}  // namespace
}  // namespace sluice::pkt

namespace sluice::pkt {
namespace {

// An address the host holds on an interface that is not a port (a loopback address in mirror
// mode): the fast path answers echo for it, and forgets it once every holder let go.
TEST_F(PacketTest, HostAddressIsLocalWhileHeld) {
  ForwardingState& fs = r().dp().state();
  ASSERT_EQ(fs.add_host_address(addr("10.255.0.1")), "");
  ASSERT_EQ(fs.add_host_address(addr("10.255.0.1")), "");  // a second holder
  EXPECT_TRUE(fs.is_local(addr("10.255.0.1")));
  r().send(kP0, ping("10.255.0.1"));
  r().run();
  EXPECT_TRUE(SameFrame(pong("10.255.0.1").bytes(), r().received(kP0).at(0)));
  fs.del_host_address(addr("10.255.0.1"));
  EXPECT_TRUE(fs.is_local(addr("10.255.0.1"))) << "one holder is left";
  fs.del_host_address(addr("10.255.0.1"));
  EXPECT_FALSE(fs.is_local(addr("10.255.0.1")));
  EXPECT_FALSE(fs.route(pfx("10.255.0.1", 32)));
  // A port address of the same value keeps its /32 when the host address goes, and back.
  ASSERT_EQ(fs.add_host_address(addr(kR0)), "");
  fs.del_host_address(addr(kR0));
  EXPECT_TRUE(fs.is_local(addr(kR0)));
  EXPECT_TRUE(fs.route(pfx(kR0, 32)));
  EXPECT_NE(fs.add_host_address(addr("127.0.0.1")), "");
}

}  // namespace
}  // namespace sluice::pkt
