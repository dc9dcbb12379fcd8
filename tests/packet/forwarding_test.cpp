// forwarding_test.cpp — ip4-lookup, ip4-forward and ip4-rewrite on the common path: TTL and
// the incremental checksum, static neighbours and gateways, longest prefix match, the default
// route, the route kinds that do not forward, and what happens when a port cannot send.
#include <set>

#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

Frame from_h0(const char* dst) {
  return Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", dst).udp(40000, 53).payload(32);
}

// The ICMP destination unreachable the router sends h0 about `in`.
Frame unreachable_to_h0(const Frame& in, uint8_t code) {
  return icmp_error_about(in, kRouterMac[0], kH0, kR0, "10.1.0.2", 3, code);
}

Case fwd(std::string name, uint16_t in_port, Frame in, uint16_t out_port, MacAddr next_hop,
         std::function<void(Router&)> setup = nullptr) {
  const Frame out = forwarded(in, kRouterMac[out_port], next_hop);
  return {.name = std::move(name),
          .port = in_port,
          .in = std::move(in),
          .out = {{out_port, out}},
          .setup = std::move(setup)};
}

void add_default_via_g2(Router& r) {
  RouteTarget t;
  t.gateway = addr("10.3.0.254");
  ASSERT_EQ(r.dp().state().replace_route(pfx("0.0.0.0", 0), t), "");
}

std::vector<Case> cases() {
  const Frame u = from_h0("10.2.0.2");
  const Frame from_h1 =
      Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", "10.1.0.2").udp(53, 40000).payload(100);
  return {
      fwd("UDP to a static neighbour", kP0, u, kP1, kH1),
      fwd("UDP back the other way", kP1, from_h1, kP0, kH0),
      fwd("TCP to the third port", kP0,
          Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.3.0.2").tcp(33000, 80, 7, 0, 0x02),
          kP2, kH2),
      fwd("ICMP echo through the router", kP0,
          Frame().eth(kH0, kRouterMac[0]).ip4("10.1.0.2", "10.2.0.2").icmp_echo(9, 1).payload(56),
          kP1, kH1),
      fwd("other IP protocol", kP0, Frame(u).protocol(47), kP1, kH1),
      fwd("TOS, ID and DF are kept", kP0, Frame(u).tos(0xb8).id(0xbeef).df(), kP1, kH1),
      fwd("IP options are kept", kP0,
          Frame(u).options({0x07, 0x07, 0x04, 0, 0, 0, 0, 0x94, 0x04, 0, 0}), kP1, kH1),
      fwd("TTL 2 leaves with 1", kP0, Frame(u).ttl(2), kP1, kH1),
      fwd("TTL 255 leaves with 254", kP0, Frame(u).ttl(255), kP1, kH1),
      fwd("full 1500 byte packet", kP0, Frame(u).payload(1500 - 28), kP1, kH1),
      fwd("a fragment is forwarded as is", kP0, Frame(u).mf().offset(1480).id(5), kP1, kH1),
      fwd("to a host behind a gateway", kP0, from_h0("10.20.1.1"), kP1, kG1),
      fwd("longest prefix wins", kP0, from_h0("10.20.30.5"), kP2, kG2),
      fwd("just outside the longer prefix", kP0, from_h0("10.20.31.5"), kP1, kG1),
      fwd("the gateway itself", kP0, from_h0("10.2.0.254"), kP1, kG1),
      fwd("default route", kP0, from_h0("8.8.8.8"), kP2, kG2, add_default_via_g2),
      fwd("default route does not override a connected subnet", kP0, u, kP1, kH1,
          add_default_via_g2),
      fwd("replaced route", kP0, from_h0("10.20.1.1"), kP2, kG2,
          [](Router& r) {
            RouteTarget t;
            t.gateway = addr("10.3.0.254");
            ASSERT_EQ(r.dp().state().replace_route(pfx("10.20.0.0", 16), t), "");
          }),
      fwd("route with an explicit port", kP0, from_h0("10.50.0.1"), kP2, kG2,
          [](Router& r) {
            RouteTarget t;
            t.port = kP2;
            t.gateway = addr("10.3.0.254");
            ASSERT_EQ(r.dp().state().replace_route(pfx("10.50.0.0", 16), t), "");
          }),
      {.name = "no route is network unreachable",
       .in = from_h0("8.8.8.8"),
       .out = {{kP0, unreachable_to_h0(from_h0("8.8.8.8"), 0)}}},
      {.name = "deleted route is network unreachable",
       .in = from_h0("10.20.1.1"),
       .out = {{kP0, unreachable_to_h0(from_h0("10.20.1.1"), 0)}},
       .setup = [](Router& r) { ASSERT_EQ(r.dp().state().del_route(pfx("10.20.0.0", 16)), ""); }},
      {.name = "unreachable route is host unreachable",
       .in = from_h0("10.31.1.1"),
       .out = {{kP0, unreachable_to_h0(from_h0("10.31.1.1"), 1)}}},
      {.name = "prohibit route is administratively prohibited",
       .in = from_h0("10.32.1.1"),
       .out = {{kP0, unreachable_to_h0(from_h0("10.32.1.1"), 13)}}},
      {.name = "blackhole route drops silently",
       .in = from_h0("10.30.1.1"),
       .drops = {{"drop-ip4-blackhole", 1}}},
      {.name = "directed broadcast to another subnet",
       .in = from_h0("10.2.0.255"),
       .drops = {{"drop-ip4-subnet-broadcast", 1}}},
      {.name = "network address of another subnet",
       .in = from_h0("10.2.0.0"),
       .drops = {{"drop-ip4-subnet-broadcast", 1}}},
      {.name = "broadcast of the ingress subnet",
       .in = from_h0("10.1.0.255"),
       .drops = {{"drop-ip4-subnet-broadcast", 1}}},
      {.name = "egress port down",
       .in = u,
       .drops = {{"drop-ip4-port-down", 1}},
       .setup = [](Router& r) { r.dp().state().mutable_port(kP1).up.store(false); }},
  };
}

INSTANTIATE_TEST_SUITE_P(Forwarding, CaseTest, ::testing::ValuesIn(cases()), case_name);

// Every value the header checksum can take on the way in (the ID sweeps it through all 65535
// a from-scratch sum can give, and 0xffff is sent as the other form of 0x0000), each compared
// with a checksum computed from scratch on the way out: RFC 1624's -0/+0 corner cases included.
TEST_F(PacketTest, IncrementalChecksumMatchesFromScratchForEveryChecksum) {
  const Frame base = from_h0("10.2.0.2").payload(0);
  std::set<uint16_t> in_sums;
  constexpr unsigned kBatch = 512;
  unsigned mismatches = 0;
  for (unsigned start = 0; start < 65536; start += kBatch) {
    std::vector<Frame> sent;
    for (unsigned id = start; id < start + kBatch; ++id) {
      sent.push_back(Frame(base).id(static_cast<uint16_t>(id)));
      const Bytes b = sent.back().bytes();
      const auto sum = static_cast<uint16_t>(b[24] << 8 | b[25]);
      in_sums.insert(sum);
      r().send(kP0, sent.back());
      // 0x0000 has a second form, 0xffff (-0), that verifies too: the output must not care.
      if (sum == 0) {
        sent.push_back(Frame(base).id(static_cast<uint16_t>(id)).ip_checksum(0xffff));
        in_sums.insert(0xffff);
        r().send(kP0, sent.back());
      }
    }
    r().run();
    const std::vector<Bytes> got = r().received(kP1);
    ASSERT_EQ(got.size(), sent.size());
    for (size_t i = 0; i < got.size(); ++i) {
      const Bytes want = forwarded(sent[i], kRouterMac[1], kH1).bytes();
      if (want != got[i] && ++mismatches <= 3) {
        EXPECT_TRUE(SameFrame(want, got[i]));
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(in_sums.size(), 65536u) << "the sweep did not cover every checksum";
  expect_drops({});
}

TEST_F(PacketTest, ForwardedCounterCountsForwardedPackets) {
  for (int i = 0; i < 5; ++i) r().send(kP0, from_h0("10.2.0.2").id(static_cast<uint16_t>(i)));
  r().send(kP0, from_h0("10.30.0.1"));  // blackholed: not forwarded
  r().run();
  EXPECT_EQ(r().received(kP1).size(), 5u);
  EXPECT_EQ(r().dp().forwarded(), 5u);
  expect_drops({{"drop-ip4-blackhole", 1}});
}

TEST_F(PacketTest, ZeroHeadroomFrameIsStillForwarded) {
  // eth-input strips the Ethernet header in place, so ip4-rewrite always finds room for one.
  const Frame in = from_h0("10.2.0.2");
  r().send_bytes(kP0, in.bytes(), 0);
  r().run();
  expect_sent({{kP1, forwarded(in, kRouterMac[1], kH1)}});
  expect_drops({});
}

TEST_F(PacketTest, FullTxRingIsCountedAsTxFull) {
  // Fill p1's TX ring as a stalled NIC would, then forward one packet to p1.
  rte_ring* tx = r().tx_ring(kP1);
  std::vector<rte_mbuf*> filler;
  while (rte_ring_free_count(tx) > 0) {
    rte_mbuf* m = rte_pktmbuf_alloc(r().pool());
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(rte_ring_sp_enqueue(tx, m), 0);
    filler.push_back(m);
  }
  r().send(kP0, from_h0("10.2.0.2"));
  r().send(kP0, from_h0("10.3.0.2"));  // p2 is not affected
  r().run();
  EXPECT_EQ(r().received(kP1).size(), filler.size());  // only the filler
  expect_sent({{kP2, forwarded(from_h0("10.3.0.2"), kRouterMac[2], kH2)}});
  expect_drops({{"drop-port-tx-full", 1}});
}

TEST_F(PacketTest, BurstLargerThanOnePollIsForwardedInOrder) {
  std::vector<Frame> in;
  for (unsigned i = 0; i < 300; ++i) {
    in.push_back(from_h0(i % 2 ? "10.2.0.2" : "10.3.0.2").id(static_cast<uint16_t>(i)));
    r().send(kP0, in.back());
  }
  r().run();
  std::vector<std::pair<uint16_t, Frame>> out;
  for (unsigned i = 0; i < in.size(); ++i)
    out.emplace_back(i % 2 ? kP1 : kP2,
                     forwarded(in[i], kRouterMac[i % 2 ? 1 : 2], i % 2 ? kH1 : kH2));
  expect_sent(out);
  expect_drops({});
}

}  // namespace
}  // namespace sluice::pkt

namespace sluice::pkt {
namespace {

// Ring ports have one queue, used only by the worker that polls it: with two workers, worker 0
// polls p0 and p2, worker 1 polls p1, and each hands what it sends on the other's ports to
// that worker through a ring (both directions below cross workers).
class TwoWorkerTest : public PacketTest {
 protected:
  void SetUp() override {
    PacketTest::SetUp();
    RouterOptions o;
    o.workers = 2;
    o.ring_size = 4096;
    rebuild(o);
  }
  static Frame from_h1(uint16_t id) {
    return Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", "10.1.0.2").id(id).udp(7, 8).payload(30);
  }
};

TEST_F(TwoWorkerTest, BothDirectionsAreForwarded) {
  const Frame a = from_h0("10.2.0.2");
  const Frame b = from_h1(1);
  r().send(kP0, a);
  r().send(kP1, b);
  r().run();
  expect_sent({{kP1, forwarded(a, kRouterMac[1], kH1)}, {kP0, forwarded(b, kRouterMac[0], kH0)}});
  expect_drops({});
}

TEST_F(TwoWorkerTest, FullHandOffRingIsCounted) {
  // Worker 0 does not run, so worker 1's hand-off ring for p0 (2048 slots, 2047 usable) fills.
  constexpr unsigned kSent = 2100;
  std::vector<Frame> in;
  for (unsigned sent = 0; sent < kSent;) {
    for (unsigned i = 0; i < 500 && sent < kSent; ++i, ++sent) {
      in.push_back(from_h1(static_cast<uint16_t>(sent)));
      r().send(kP1, in.back());
    }
    r().poll(20, 1);
  }
  expect_drops({{"drop-port-tx-handoff-full", kSent - 2047}});
  r().run();  // worker 0 sends what was handed over, in order
  std::vector<std::pair<uint16_t, Frame>> out;
  for (unsigned i = 0; i < 2047; ++i) out.emplace_back(kP0, forwarded(in[i], kRouterMac[0], kH0));
  expect_sent(out);
  expect_drops({});
}

TEST_F(TwoWorkerTest, HandedOffPacketsTheQueueRefusesAreCounted) {
  // p0's TX ring is full (a stalled NIC): what worker 0 drains from the hand-off ring for it
  // cannot be sent and must be dropped with a counter, not lost or leaked.
  rte_ring* tx = r().tx_ring(kP0);
  unsigned filler = 0;
  while (rte_ring_free_count(tx) > 0) {
    rte_mbuf* m = rte_pktmbuf_alloc(r().pool());
    ASSERT_NE(m, nullptr);
    ASSERT_EQ(rte_ring_sp_enqueue(tx, m), 0);
    ++filler;
  }
  r().send(kP1, from_h1(1));
  r().run();
  EXPECT_EQ(r().received(kP0).size(), filler);
  expect_drops({{"drop-port-tx-full", 1}});
}

}  // namespace
}  // namespace sluice::pkt
