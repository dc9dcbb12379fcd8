// icmp_error_test.cpp — the errors the router sends (RFC 792, RFC 1812 4.3.2): time exceeded
// from the ingress port's address, quoting the packet as received (up to 576 bytes in all),
// never about ICMP errors or later fragments, and rate limited.
#include <chrono>
#include <thread>

#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

Frame udp_from_h0(uint8_t ttl, size_t len = 32) {
  return Frame()
      .eth(kH0, kRouterMac[0])
      .ip4("10.1.0.2", "10.2.0.2")
      .ttl(ttl)
      .id(77)
      .udp(33434, 33435)
      .payload(len);
}

Frame exceeded_to_h0(const Frame& in) {
  return icmp_error_about(in, kRouterMac[0], kH0, kR0, "10.1.0.2", 11, 0);
}

Case exceeded(std::string name, Frame in) {
  const Frame out = exceeded_to_h0(in);
  return {.name = std::move(name), .in = std::move(in), .out = {{kP0, out}}};
}

Case suppressed(std::string name, Frame in) {
  return {
      .name = std::move(name), .in = std::move(in), .drops = {{"drop-icmp-error-suppressed", 1}}};
}

// An ICMP error of `type` from h0 (as if h0 were a router), itself expiring here.
Frame error_from_h0(uint8_t type, uint8_t code) {
  const Bytes quoted = udp_from_h0(5).no_eth().ip4("10.2.0.2", "10.9.9.9").ip_packet();
  return Frame()
      .eth(kH0, kRouterMac[0])
      .ip4("10.1.0.2", "10.2.0.2")
      .ttl(1)
      .icmp_error(type, code, quoted);
}

std::vector<Case> cases() {
  const Frame from_h1 =
      Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", "10.1.0.2").ttl(1).udp(1, 2).payload(8);
  const Frame from_far =
      Frame().eth(kG1, kRouterMac[1]).ip4("10.20.1.1", "10.1.0.2").ttl(1).udp(1, 2).payload(8);
  const Frame asymmetric =
      Frame().eth(kG1, kRouterMac[1]).ip4("10.1.0.2", "10.3.0.2").ttl(1).udp(1, 2).payload(8);
  std::vector<Case> c = {
      exceeded("TTL 1 expires", udp_from_h0(1)),
      exceeded("TTL 0 expires", udp_from_h0(0)),
      exceeded("TTL 1 TCP",
               Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2").ttl(1).tcp(5, 80)),
      exceeded("an echo request is not an error", Frame()
                                                      .eth(kH0, kRouterMac[0])
                                                      .ip4("10.1.0.2", "10.2.0.2")
                                                      .ttl(1)
                                                      .icmp_echo(5, 5)
                                                      .payload(20)),
      exceeded("an echo reply is not an error", Frame()
                                                    .eth(kH0, kRouterMac[0])
                                                    .ip4("10.1.0.2", "10.2.0.2")
                                                    .ttl(1)
                                                    .icmp_echo_reply(5, 5)
                                                    .payload(20)),
      exceeded("the quote keeps IP options",
               udp_from_h0(1).options({0x07, 0x07, 0x04, 0, 0, 0, 0})),
      exceeded("the quote leaves out ethernet padding", udp_from_h0(1, 2).pad_to(60)),
      exceeded("a packet of 548 bytes is quoted whole", udp_from_h0(1, 548 - 28)),
      exceeded("a packet of 549 bytes is cut to 548", udp_from_h0(1, 549 - 28)),
      exceeded("a 1500 byte packet is cut to 548", udp_from_h0(1, 1500 - 28)),
      exceeded("the first fragment gets an error", udp_from_h0(1).mf()),
      exceeded("TOS and DF of the original do not matter", udp_from_h0(1).tos(0x28).df()),
      {.name = "from the address of the port it arrived on",
       .port = kP1,
       .in = from_h1,
       .out = {{kP1, icmp_error_about(from_h1, kRouterMac[1], kH1, kR1, "10.2.0.2", 11, 0)}}},
      {.name = "to a source behind a gateway",
       .port = kP1,
       .in = from_far,
       .out = {{kP1, icmp_error_about(from_far, kRouterMac[1], kG1, kR1, "10.20.1.1", 11, 0)}}},
      {.name = "routed back by source not by ingress port",
       .port = kP1,
       .in = asymmetric,
       .out = {{kP0, icmp_error_about(asymmetric, kRouterMac[0], kH0, kR1, "10.1.0.2", 11, 0)}}},
      suppressed("not about a later fragment", udp_from_h0(1).offset(8)),
      suppressed("not about the last fragment", udp_from_h0(1).offset(1480).mf(false)),
      suppressed("no route for a later fragment", Frame()
                                                      .eth(kH0, kRouterMac[0])
                                                      .ip4("10.1.0.2", "8.8.8.8")
                                                      .offset(64)
                                                      .protocol(17)
                                                      .payload(30)),
      suppressed("no route for a time exceeded", Frame(error_from_h0(11, 0)).ttl(9).dst("8.8.8.8")),
      {.name = "no return route",
       .in = udp_from_h0(1).src("172.16.0.9"),
       .drops = {{"drop-icmp-error-no-return-route", 1}}},
      {.name = "source in a blackholed prefix",
       .in = udp_from_h0(1).src("10.30.0.9"),
       .drops = {{"drop-icmp-error-no-return-route", 1}}},
      {.name = "source is the subnet broadcast",
       .in = udp_from_h0(1).src("10.1.0.255"),
       .drops = {{"drop-icmp-error-no-return-route", 1}}},
      {.name = "ingress port without an address",
       .port = kP2,
       .in = Frame().eth(kH2, kRouterMac[2]).ip4("10.3.0.2", "10.1.0.2").ttl(1).udp(1, 2),
       .drops = {{"drop-icmp-error-no-source-address", 1}},
       .setup =
           [](Router& r) {
             ASSERT_EQ(r.dp().state().del_address(kP2, addr(kR2), 24), "");
             // h2 is still reachable by a route through p2, so only the source address is missing.
             RouteTarget t;
             t.port = kP2;
             ASSERT_EQ(r.dp().state().replace_route(pfx("10.3.0.0", 24), t), "");
           }},
  };
  for (auto [type, code] : std::vector<std::pair<uint8_t, uint8_t>>{
           {3, 1}, {3, 4}, {4, 0}, {5, 1}, {11, 0}, {11, 1}, {12, 0}})
    c.push_back(
        suppressed("not about ICMP type " + std::to_string(type) + " code " + std::to_string(code),
                   error_from_h0(type, code)));
  return c;
}

INSTANTIATE_TEST_SUITE_P(IcmpError, CaseTest, ::testing::ValuesIn(cases()), case_name);

// RFC 1812 4.3.2.8: a token bucket per worker, 50 errors of burst by default.
TEST_F(PacketTest, IcmpErrorsAreRateLimited) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Frame> in;
  for (uint16_t i = 0; i < 80; ++i) {
    in.push_back(udp_from_h0(1).id(i));
    r().send(kP0, in.back());
  }
  r().run();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<Bytes> got = r().received(kP0);
  // 1000 tokens a second refill while the burst is processed: allow for that, no more.
  EXPECT_GE(got.size(), 50u);
  EXPECT_LE(got.size(), 50u + static_cast<size_t>(elapsed * 1000) + 1);
  for (size_t i = 0; i < std::min<size_t>(got.size(), 50); ++i)
    EXPECT_TRUE(SameFrame(exceeded_to_h0(in[i]).bytes(), got[i])) << i;
  expect_drops({{"drop-icmp-error-rate-limited", 80 - got.size()}});
}

TEST_F(PacketTest, IcmpRateLimitRefillsOverTime) {
  RouterOptions o;
  o.icmp_errors_per_second = 10;
  o.icmp_error_burst = 5;
  rebuild(o);
  for (uint16_t i = 0; i < 8; ++i) r().send(kP0, udp_from_h0(1).id(i));
  const auto t0 = std::chrono::steady_clock::now();
  r().run();
  EXPECT_EQ(r().received(kP0).size(), 5u);
  expect_drops({{"drop-icmp-error-rate-limited", 3}});
  // 10 a second: after 0.35 s at least 3 tokens are back (and at most what the time allows).
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  for (uint16_t i = 0; i < 8; ++i) r().send(kP0, udp_from_h0(1).id(i));
  r().run();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const size_t n = r().received(kP0).size();
  EXPECT_GE(n, 3u);
  EXPECT_LE(n, std::min<size_t>(5, static_cast<size_t>(elapsed * 10) + 1));
  expect_drops({{"drop-icmp-error-rate-limited", 8 - n}});
}

TEST_F(PacketTest, IcmpErrorWithoutHeadroomIsDroppedNotCorrupted) {
  // With no headroom in the mbuf, only the 14 bytes of the stripped Ethernet header are in
  // front of the packet: too little for the 28 bytes of IP and ICMP header of an error.
  r().send_bytes(kP0, udp_from_h0(1).bytes(), 0);
  r().run();
  expect_sent({});
  expect_drops({{"drop-icmp-error-suppressed", 1}});
}

}  // namespace
}  // namespace sluice::pkt
