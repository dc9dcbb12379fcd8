// nat_test.cpp — NAT through the whole graph (ip4-input -> nat-pre -> ip4-lookup -> ... ->
// ip4-forward -> nat-post -> ip4-rewrite/ip4-fragment), byte for byte: masquerade (TCP, UDP,
// ICMP echo), port forwarding, hairpinning, ICMP errors about translated packets and the
// router's own errors about them, filtering, the counters and session list, fragments, and
// transparency without rules. Every expected frame is built with the frame builder, its
// checksums computed from scratch; nothing here calls nat/ code to predict an output. The
// frames of the translation cases are also written to a pcap for tshark to verify.
//
// The NAT topology on the harness's: p0 (10.1.0.0/24) is inside, masqueraded out of p1
// (10.2.0.1, the outside address). Inside: h0 10.1.0.2 (also the server tcp:8080 forwards to)
// and h3 10.1.0.3. Outside: h1 10.2.0.2 on the link, the remote 10.20.1.1 behind g1.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/packet/harness.h"

namespace sluice::pkt {
namespace {

constexpr const char* kInside = "10.1.0.2";   // h0
constexpr const char* kInside3 = "10.1.0.3";  // h3
constexpr MacAddr kH3({0x02, 0x00, 0x00, 0x00, 0x01, 0x03});
constexpr const char* kOutside = kR1;  // the masquerade address
constexpr const char* kRemote = "10.20.1.1";
constexpr const char* kG1Addr = "10.2.0.254";

nat::Rules masquerade_rules() {
  nat::Rules r;
  r.masquerade.push_back({.prefix = parse_ip("10.1.0.0"), .len = 24, .out_port = kP1});
  return r;
}

// Masquerade plus tcp:8080 -> h0:80 (any router address, any ingress port).
nat::Rules forward_rules(const char* to = kInside) {
  nat::Rules r = masquerade_rules();
  r.forward.push_back({.proto = nat::Proto::kTcp,
                       .port = 8080,
                       .addr = 0,
                       .in_port = nat::kAnyPort,
                       .to_addr = parse_ip(to),
                       .to_port = 80});
  return r;
}

// Byte offsets in an untagged Ethernet frame with a 20-byte IP header.
constexpr size_t kUdpSum = 14 + 20 + 6;

std::string dotted(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 0xff) + "." +
         std::to_string(a >> 8 & 0xff) + "." + std::to_string(a & 0xff);
}

std::string str(const nat::FlowKey& k) {
  return dotted(k.src) + ":" + std::to_string(k.sport) + " -> " + dotted(k.dst) + ":" +
         std::to_string(k.dport) + " proto " + std::to_string(static_cast<int>(k.proto));
}

nat::FlowKey key(nat::Proto p, const char* src, uint16_t sport, const char* dst, uint16_t dport) {
  return {parse_ip(src), parse_ip(dst), sport, dport, p};
}

// RFC 791 fragments of a datagram: `header` gives every field but the payload (no L4 builder),
// `l4` is the whole IP payload (transport header included), cut in `chunk` bytes (a multiple
// of 8) except the last.
std::vector<Frame> cut(const Frame& header, uint8_t proto, const Bytes& l4, size_t chunk) {
  std::vector<Frame> out;
  for (size_t off = 0; off < l4.size(); off += chunk) {
    const size_t n = std::min(chunk, l4.size() - off);
    out.push_back(Frame(header)
                      .protocol(proto)
                      .offset(static_cast<unsigned>(off))
                      .mf(off + n < l4.size())
                      .payload(Bytes(l4.begin() + static_cast<ptrdiff_t>(off),
                                     l4.begin() + static_cast<ptrdiff_t>(off + n))));
  }
  return out;
}

// ---- pcap and tshark ----

void write_pcap(const std::string& path, const std::vector<Bytes>& frames) {
  std::ofstream f(path, std::ios::binary);
  auto u32 = [&f](uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&f](uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  u32(0xa1b2c3d4);  // microsecond timestamps, this host's byte order
  u16(2);
  u16(4);
  u32(0);      // thiszone
  u32(0);      // sigfigs
  u32(65535);  // snaplen
  u32(1);      // LINKTYPE_ETHERNET
  uint32_t usec = 0;
  for (const Bytes& b : frames) {
    u32(1700000000);
    u32(usec++);
    u32(static_cast<uint32_t>(b.size()));
    u32(static_cast<uint32_t>(b.size()));
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
}

bool have_tshark() {
  return std::system("command -v tshark >/dev/null 2>&1") == 0;
}

// Runs a shell command; its standard output (stderr is tshark's "running as root" note).
std::string run(const std::string& cmd, int* status) {
  std::string out;
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) {
    *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  *status = pclose(p);
  return out;
}

// Checksum status in tshark 4.0: 0 Bad, 1 Good, 2 Unverified, 3 Not present, 4 Illegal.
std::string tshark_cmd(const std::string& file, const std::string& rest) {
  return "tshark -n -r " + file +
         " -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE " + rest;
}
const char* const kBadFilter =
    "-Y 'ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0 || "
    "icmp.checksum.status==0 || udp.checksum.status==4 || tcp.checksum.status==4'";

// ---- the fixture ----

class NatTest : public PacketTest {
 protected:
  void SetUp() override {
    PacketTest::SetUp();
    prepare();
  }
  void rebuild_router(const RouterOptions& o = {}) {
    rebuild(o);
    prepare();
  }
  void prepare() { r().dp().neighbours().add_static(kP0, addr(kInside3), kH3); }

  void set_rules(nat::Rules rules) { r().dp().set_nat_rules(std::move(rules)); }

  // Sends `in` on `port`, runs, checks that exactly `out` left and exactly `drops` rose; every
  // frame sent is kept for the pcap.
  void pass(uint16_t port, const Frame& in, const std::vector<std::pair<uint16_t, Frame>>& out,
            const std::map<std::string, uint64_t>& drops = {}) {
    r().send(port, in);
    r().run();
    check_sent(out);
    expect_drops(drops);
  }
  // expect_sent(), keeping every frame for the pcap.
  void check_sent(const std::vector<std::pair<uint16_t, Frame>>& out) {
    for (const std::vector<Bytes>& port : expect_sent(out))
      captured_.insert(captured_.end(), port.begin(), port.end());
  }

  // The session whose orig tuple is `orig`; fails the test (and returns nullopt) if none.
  std::optional<nat::SessionView> session(const nat::FlowKey& orig) {
    const std::vector<nat::SessionView> all = r().dp().nat_sessions();
    for (const nat::SessionView& s : all)
      if (s.orig == orig) return s;
    std::string have;
    for (const nat::SessionView& s : all) have += "\n  " + str(s.orig) + " / " + str(s.reply);
    ADD_FAILURE() << "no session " << str(orig) << "; the sessions:" << have;
    return std::nullopt;
  }

  // ---- the scenarios (each a test below, and all of them again for tshark) ----
 public:  // the tshark case takes their addresses
  void masquerade_tcp();
  void masquerade_udp();
  void masquerade_udp_without_checksum();
  void masquerade_echo();
  void port_forward();
  void hairpin();
  void icmp_error_about_masqueraded();
  void big_datagram_leaves_fragmented();
  void fragments_from_inside();
  void fragmented_reply_from_outside();

  std::vector<Bytes> captured_;
};

// 1. A TCP connection from inside: SYN out with the outside address and the source port kept,
// SYN+ACK back to the inside host, then data both ways.
void NatTest::masquerade_tcp() {
  set_rules(masquerade_rules());
  const Frame syn =
      Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).id(0x1111).df().tcp(40000, 80, 1000);
  pass(kP0, syn,
       {{kP1, Frame()
                  .eth(kRouterMac[1], kG1)
                  .ip4(kOutside, kRemote)
                  .id(0x1111)
                  .df()
                  .ttl(63)
                  .tcp(40000, 80, 1000)}});
  const Frame syn_ack = Frame()
                            .eth(kG1, kRouterMac[1])
                            .ip4(kRemote, kOutside)
                            .id(0x2222)
                            .df()
                            .ttl(50)
                            .tcp(80, 40000, 7000, 1001, 0x12, 29200);
  pass(kP1, syn_ack,
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH0)
                  .ip4(kRemote, kInside)
                  .id(0x2222)
                  .df()
                  .ttl(49)
                  .tcp(80, 40000, 7000, 1001, 0x12, 29200)}});
  const Frame data = Frame()
                         .eth(kH0, kRouterMac[0])
                         .ip4(kInside, kRemote)
                         .id(0x1112)
                         .df()
                         .tcp(40000, 80, 1001, 7001, 0x18)
                         .payload(333);
  pass(kP0, data,
       {{kP1, Frame()
                  .eth(kRouterMac[1], kG1)
                  .ip4(kOutside, kRemote)
                  .id(0x1112)
                  .df()
                  .ttl(63)
                  .tcp(40000, 80, 1001, 7001, 0x18)
                  .payload(333)}});
  const Frame answer = Frame()
                           .eth(kG1, kRouterMac[1])
                           .ip4(kRemote, kOutside)
                           .id(0x2223)
                           .tcp(80, 40000, 7001, 1334, 0x18)
                           .payload(1000);
  pass(kP1, answer,
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH0)
                  .ip4(kRemote, kInside)
                  .id(0x2223)
                  .ttl(63)
                  .tcp(80, 40000, 7001, 1334, 0x18)
                  .payload(1000)}});
}

// 2. UDP: h0's port is kept; h3 with the same source port to the same remote gets another
// (endpoint-independent mappings cannot share one), and each answer finds its host.
void NatTest::masquerade_udp() {
  set_rules(masquerade_rules());
  auto out = [](const char* src, uint16_t sport, size_t n) {
    return Frame()
        .eth(kRouterMac[1], kG1)
        .ip4(src, kRemote)
        .id(7)
        .ttl(63)
        .udp(sport, 53)
        .payload(n);
  };
  pass(kP0, Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).id(7).udp(5000, 53).payload(40),
       {{kP1, out(kOutside, 5000, 40)}});
  pass(kP1, Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).id(8).udp(53, 5000).payload(90),
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH0)
                  .ip4(kRemote, kInside)
                  .id(8)
                  .ttl(63)
                  .udp(53, 5000)
                  .payload(90)}});
  // h3, same source port: the session tells which port it got; the frame must carry it.
  r().send(kP0,
           Frame().eth(kH3, kRouterMac[0]).ip4(kInside3, kRemote).id(7).udp(5000, 53).payload(41));
  r().run();
  const auto s = session(key(nat::Proto::kUdp, kInside3, 5000, kRemote, 53));
  ASSERT_TRUE(s);
  const uint16_t xp = s->reply.dport;
  EXPECT_NE(xp, 5000) << "two inside hosts share one outside port";
  EXPECT_GE(xp, 1024);
  EXPECT_EQ(s->reply, key(nat::Proto::kUdp, kRemote, 53, kOutside, xp));
  check_sent({{kP1, out(kOutside, xp, 41)}});
  pass(kP1, Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).id(9).udp(53, xp).payload(91),
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH3)
                  .ip4(kRemote, kInside3)
                  .id(9)
                  .ttl(63)
                  .udp(53, 5000)
                  .payload(91)}});
  expect_drops({});
}

// 2b. A UDP checksum of zero means "none" (RFC 768): it stays zero both ways.
void NatTest::masquerade_udp_without_checksum() {
  set_rules(masquerade_rules());
  auto nosum = [](Frame f) { return f.poke(kUdpSum, 0).poke(kUdpSum + 1, 0); };
  pass(kP0,
       nosum(Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).id(3).udp(5001, 69).payload(21)),
       {{kP1, nosum(Frame()
                        .eth(kRouterMac[1], kG1)
                        .ip4(kOutside, kRemote)
                        .id(3)
                        .ttl(63)
                        .udp(5001, 69)
                        .payload(21))}});
  pass(kP1,
       nosum(
           Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).id(4).udp(69, 5001).payload(516)),
       {{kP0, nosum(Frame()
                        .eth(kRouterMac[0], kH0)
                        .ip4(kRemote, kInside)
                        .id(4)
                        .ttl(63)
                        .udp(69, 5001)
                        .payload(516))}});
}

// 2c. ICMP echo: the identifier is the "port". h0's is kept, h3's (the same one) translated,
// and each echo reply comes back to its host with its own identifier.
void NatTest::masquerade_echo() {
  set_rules(masquerade_rules());
  auto echo = [](MacAddr from, const char* src, uint16_t ident) {
    return Frame()
        .eth(from, kRouterMac[0])
        .ip4(src, kRemote)
        .id(ident)
        .icmp_echo(ident, 1)
        .payload(56);
  };
  auto echo_out = [](uint16_t ident) {
    return Frame()
        .eth(kRouterMac[1], kG1)
        .ip4(kOutside, kRemote)
        .id(0x1234)
        .ttl(63)
        .icmp_echo(ident, 1)
        .payload(56);
  };
  auto reply_in = [](uint16_t ident) {
    return Frame()
        .eth(kG1, kRouterMac[1])
        .ip4(kRemote, kOutside)
        .id(99)
        .icmp_echo_reply(ident, 1)
        .payload(56);
  };
  auto reply_out = [](MacAddr to, const char* dst, uint16_t ident) {
    return Frame()
        .eth(kRouterMac[0], to)
        .ip4(kRemote, dst)
        .id(99)
        .ttl(63)
        .icmp_echo_reply(ident, 1)
        .payload(56);
  };
  pass(kP0, echo(kH0, kInside, 0x1234), {{kP1, echo_out(0x1234)}});
  pass(kP1, reply_in(0x1234), {{kP0, reply_out(kH0, kInside, 0x1234)}});
  r().send(kP0, echo(kH3, kInside3, 0x1234));
  r().run();
  const auto s = session(key(nat::Proto::kIcmp, kInside3, 0x1234, kRemote, 0x1234));
  ASSERT_TRUE(s);
  const uint16_t xid = s->reply.dport;
  EXPECT_NE(xid, 0x1234);
  EXPECT_EQ(s->reply, key(nat::Proto::kIcmp, kRemote, xid, kOutside, xid));
  check_sent({{kP1, echo_out(xid)}});
  pass(kP1, reply_in(xid), {{kP0, reply_out(kH3, kInside3, 0x1234)}});
}

// 3. tcp:8080 -> h0:80 from outside, the client's address kept; the answer leaves as 8080.
void NatTest::port_forward() {
  set_rules(forward_rules());
  pass(kP1,
       Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).id(0x55).df().tcp(50000, 8080, 9000),
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH0)
                  .ip4(kRemote, kInside)
                  .id(0x55)
                  .df()
                  .ttl(63)
                  .tcp(50000, 80, 9000)}});
  pass(kP0,
       Frame()
           .eth(kH0, kRouterMac[0])
           .ip4(kInside, kRemote)
           .id(0x66)
           .df()
           .tcp(80, 50000, 3000, 9001, 0x12, 65160),
       {{kP1, Frame()
                  .eth(kRouterMac[1], kG1)
                  .ip4(kOutside, kRemote)
                  .id(0x66)
                  .df()
                  .ttl(63)
                  .tcp(8080, 50000, 3000, 9001, 0x12, 65160)}});
  pass(kP1,
       Frame()
           .eth(kG1, kRouterMac[1])
           .ip4(kRemote, kOutside)
           .id(0x56)
           .df()
           .tcp(50000, 8080, 9001, 3001, 0x18)
           .payload(77),
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH0)
                  .ip4(kRemote, kInside)
                  .id(0x56)
                  .df()
                  .ttl(63)
                  .tcp(50000, 80, 9001, 3001, 0x18)
                  .payload(77)}});
}

// 4. h3 reaches h0's forwarded port through the outside address: h0 sees the outside address
// (and h3's port, which is free there) as the source, so its answer comes back through the
// router, which gives it to h3 as coming from outside:8080.
void NatTest::hairpin() {
  set_rules(forward_rules());
  pass(kP0, Frame().eth(kH3, kRouterMac[0]).ip4(kInside3, kOutside).id(0x77).tcp(41000, 8080, 11),
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH0)
                  .ip4(kOutside, kInside)
                  .id(0x77)
                  .ttl(63)
                  .tcp(41000, 80, 11)}});
  pass(kP0,
       Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kOutside).id(0x88).tcp(80, 41000, 22, 12, 0x12),
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH3)
                  .ip4(kOutside, kInside3)
                  .id(0x88)
                  .ttl(63)
                  .tcp(8080, 41000, 22, 12, 0x12)}});
}

// 5. A time exceeded from g1 about a masqueraded datagram (as g1 saw it: from the outside
// address) reaches h0 about h0's own datagram; and a port unreachable from the remote itself,
// quoting only 8 bytes past the IP header (RFC 792), likewise.
void NatTest::icmp_error_about_masqueraded() {
  set_rules(masquerade_rules());
  const Frame probe = Frame()
                          .eth(kH0, kRouterMac[0])
                          .ip4(kInside, kRemote)
                          .id(0x4321)
                          .ttl(2)
                          .udp(33434, 33435)
                          .payload(32);
  pass(kP0, probe, {{kP1, Frame(probe).eth(kRouterMac[1], kG1).src(kOutside).ttl(1)}});
  // What g1 quotes: the datagram as it arrived there, TTL 1 (it expired at g1).
  const Frame as_sent = Frame(probe).no_eth().src(kOutside).ttl(1);
  const Frame as_h0_sent = Frame(probe).no_eth().ttl(1);
  pass(kP1,
       Frame()
           .eth(kG1, kRouterMac[1])
           .ip4(kG1Addr, kOutside)
           .tos(0xc0)
           .id(0x99)
           .icmp_error(11, 0, as_sent.ip_packet()),
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH0)
                  .ip4(kG1Addr, kInside)
                  .tos(0xc0)
                  .id(0x99)
                  .ttl(63)
                  .icmp_error(11, 0, as_h0_sent.ip_packet())}});
  // The remote's port unreachable about a later datagram of the same flow, 28 bytes quoted.
  const Frame again = Frame(probe).ttl(64).id(0x4322);
  pass(kP0, again, {{kP1, Frame(again).eth(kRouterMac[1], kG1).src(kOutside).ttl(63)}});
  Bytes quoted = Frame(again).no_eth().src(kOutside).ttl(62).ip_packet();
  quoted.resize(28);
  Bytes quoted_inside = Frame(again).no_eth().ttl(62).ip_packet();
  quoted_inside.resize(28);
  pass(kP1,
       Frame()
           .eth(kG1, kRouterMac[1])
           .ip4(kRemote, kOutside)
           .id(0x9a)
           .ttl(62)
           .icmp_error(3, 3, quoted),
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH0)
                  .ip4(kRemote, kInside)
                  .id(0x9a)
                  .ttl(61)
                  .icmp_error(3, 3, quoted_inside)}});
}

// 9a. A datagram larger than the outside MTU, without DF, leaves in fragments that all carry
// the outside address (nat-post runs before ip4-fragment); the first has the UDP header, its
// checksum covering the whole translated datagram.
void NatTest::big_datagram_leaves_fragmented() {
  set_rules(masquerade_rules());
  r().set_mtu(kP1, 1000);
  const Frame in =
      Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).id(0xabc).udp(6000, 6001).payload(1400);
  const Frame translated = Frame(in).src(kOutside);
  const Frame header = Frame().eth(kRouterMac[1], kG1).ip4(kOutside, kRemote).id(0xabc).ttl(63);
  std::vector<std::pair<uint16_t, Frame>> out;
  for (const Frame& f : cut(header, 17, translated.l4_payload(), 976)) out.emplace_back(kP1, f);
  ASSERT_EQ(out.size(), 2u);
  pass(kP0, in, out);
  EXPECT_EQ(r().counter("ip4-fragmented-original"), 1u);
  r().set_mtu(kP1, 1500);
}

// 9b. A datagram that arrives in fragments from inside: the first opens the session, the
// later ones follow it, and every one leaves with the outside address.
void NatTest::fragments_from_inside() {
  set_rules(masquerade_rules());
  const Frame whole =
      Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).id(0xdef).udp(6002, 6003).payload(1200);
  const std::vector<Frame> in = cut(Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).id(0xdef),
                                    17, whole.l4_payload(), 800);
  const std::vector<Frame> want =
      cut(Frame().eth(kRouterMac[1], kG1).ip4(kOutside, kRemote).id(0xdef).ttl(63), 17,
          Frame(whole).src(kOutside).l4_payload(), 800);
  ASSERT_EQ(in.size(), 2u);
  pass(kP0, in[0], {{kP1, want[0]}});
  pass(kP0, in[1], {{kP1, want[1]}});
}

// 9c. The answer to 9b arrives in fragments from outside: every one goes to h0.
void NatTest::fragmented_reply_from_outside() {
  fragments_from_inside();
  const Frame whole = Frame()
                          .eth(kG1, kRouterMac[1])
                          .ip4(kRemote, kOutside)
                          .id(0x3d3)
                          .udp(6003, 6002)
                          .payload(1100);
  const std::vector<Frame> in =
      cut(Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).id(0x3d3), 17, whole.l4_payload(),
          600);
  const std::vector<Frame> want =
      cut(Frame().eth(kRouterMac[0], kH0).ip4(kRemote, kInside).id(0x3d3).ttl(63), 17,
          Frame(whole).dst(kInside).l4_payload(), 600);
  ASSERT_EQ(in.size(), 2u);
  pass(kP1, in[0], {{kP0, want[0]}});
  pass(kP1, in[1], {{kP0, want[1]}});
}

TEST_F(NatTest, MasqueradeTcp) {
  masquerade_tcp();
}
TEST_F(NatTest, MasqueradeUdp) {
  masquerade_udp();
}
TEST_F(NatTest, MasqueradeUdpWithoutChecksum) {
  masquerade_udp_without_checksum();
}
TEST_F(NatTest, MasqueradeIcmpEcho) {
  masquerade_echo();
}
TEST_F(NatTest, PortForward) {
  port_forward();
}
TEST_F(NatTest, Hairpin) {
  hairpin();
}
TEST_F(NatTest, IcmpErrorAboutAMasqueradedDatagram) {
  icmp_error_about_masqueraded();
}
TEST_F(NatTest, BigDatagramLeavesFragmentedWithTheOutsideAddress) {
  big_datagram_leaves_fragmented();
}
TEST_F(NatTest, FragmentsFromInsideAreAllTranslated) {
  fragments_from_inside();
}
TEST_F(NatTest, FragmentedReplyFromOutsideIsAllTranslated) {
  fragmented_reply_from_outside();
}

// A fragmented datagram to a forwarded UDP port: every fragment goes to the inside server.
TEST_F(NatTest, FragmentsToAForwardedPortAreAllTranslated) {
  nat::Rules rules = masquerade_rules();
  rules.forward.push_back({.proto = nat::Proto::kUdp,
                           .port = 5353,
                           .addr = 0,
                           .in_port = nat::kAnyPort,
                           .to_addr = parse_ip(kInside),
                           .to_port = 53});
  set_rules(rules);
  const Frame whole = Frame()
                          .eth(kG1, kRouterMac[1])
                          .ip4(kRemote, kOutside)
                          .id(0x515)
                          .udp(7000, 5353)
                          .payload(1000);
  const std::vector<Frame> in =
      cut(Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).id(0x515), 17, whole.l4_payload(),
          512);
  const std::vector<Frame> want =
      cut(Frame().eth(kRouterMac[0], kH0).ip4(kRemote, kInside).id(0x515).ttl(63), 17,
          Frame(whole).dst(kInside).udp(7000, 53).l4_payload(), 512);
  ASSERT_EQ(in.size(), 2u);
  pass(kP1, in[0], {{kP0, want[0]}});
  pass(kP1, in[1], {{kP0, want[1]}});
}

// A UDP checksum that comes out as zero after the rewrite must be sent as 0xffff (RFC 768:
// zero means "no checksum"). The payload's last word is chosen so that it does.
// DISABLED: nat/translate.cpp's incremental update leaves 0x0000 there (the datagram then
// goes out unprotected); enable once rewrite_in() maps a computed zero to 0xffff.
TEST_F(NatTest, UdpChecksumThatBecomesZeroIsSentAsAllOnes) {
  set_rules(masquerade_rules());
  std::optional<Frame> in;
  for (uint32_t w = 0; w < 0x10000 && !in; ++w) {
    Bytes pl(20, 0x5a);
    pl[18] = static_cast<uint8_t>(w >> 8);
    pl[19] = static_cast<uint8_t>(w);
    const Frame f =
        Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).id(1).udp(5005, 53).payload(pl);
    const Bytes out = Frame(f).src(kOutside).bytes();
    if (out[kUdpSum] == 0xff && out[kUdpSum + 1] == 0xff) in = f;
  }
  ASSERT_TRUE(in);
  pass(kP0, *in, {{kP1, Frame(*in).eth(kRouterMac[1], kG1).src(kOutside).ttl(63)}});
}

// 6. The router's own errors about a DNATed packet quote it as it arrived: to the outside
// address and port 8080, not to the inside server.
TEST_F(NatTest, NoRouteForTheForwardTargetQuotesThePacketAsItArrived) {
  set_rules(forward_rules("172.16.0.5"));  // no route to it
  const Frame syn =
      Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).id(0x31).tcp(50001, 8080);
  pass(kP1, syn, {{kP1, icmp_error_about(syn, kRouterMac[1], kG1, kR1, kRemote, 3, 0)}});
  captured_.clear();
}

TEST_F(NatTest, FragmentationNeededForAForwardedPacketQuotesItAsItArrived) {
  set_rules(forward_rules());
  r().set_mtu(kP0, 1000);
  const Frame syn =
      Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).id(0x32).df().tcp(50002, 8080, 5);
  pass(kP1, syn,
       {{kP0, Frame()
                  .eth(kRouterMac[0], kH0)
                  .ip4(kRemote, kInside)
                  .id(0x32)
                  .df()
                  .ttl(63)
                  .tcp(50002, 80, 5)}});
  const Frame big = Frame()
                        .eth(kG1, kRouterMac[1])
                        .ip4(kRemote, kOutside)
                        .id(0x33)
                        .df()
                        .tcp(50002, 8080, 6, 900, 0x18)
                        .payload(1200);
  pass(kP1, big, {{kP1, icmp_error_about(big, kRouterMac[1], kG1, kR1, kRemote, 3, 4, 1000)}});
}

// 7. Filtering.
TEST_F(NatTest, UnsolicitedSynToAnInsideHostIsFiltered) {
  set_rules(masquerade_rules());
  // h1 routes 10.1.0.0/24 via the router.
  pass(kP1, Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", kInside).tcp(5555, 22), {},
       {{"drop-nat-filtered", 1}});
  EXPECT_EQ(r().counter("drop-nat-filtered"), 1u);
  EXPECT_EQ(r().dp().nat_totals().filtered, 1u);
  EXPECT_TRUE(r().dp().nat_sessions().empty());
}

TEST_F(NatTest, UnclaimedNatPortOnTheOutsideAddressIsFiltered) {
  set_rules(masquerade_rules());
  pass(kP1, Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", kOutside).udp(53, 5000).payload(8), {},
       {{"drop-nat-filtered", 1}});
  pass(kP1, Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", kOutside).tcp(53, 40000, 1, 1, 0x12),
       {}, {{"drop-nat-filtered", 1}});
  // An echo reply with no session is a reply to nothing.
  pass(kP1, Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", kOutside).icmp_echo_reply(7, 7), {},
       {{"drop-nat-filtered", 1}});
  // Below the NAT range the port is the router's own (no host behind a ring port).
  pass(kP1, Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", kOutside).tcp(5555, 22), {},
       {{"drop-ip4-local-no-host", 1}});
  EXPECT_EQ(r().counter("drop-nat-filtered"), 3u);
}

TEST_F(NatTest, AckToAForwardedPortOpensNothing) {
  set_rules(forward_rules());
  pass(kP1, Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).tcp(50003, 8080, 1, 1, 0x10), {},
       {{"drop-nat-filtered", 1}});
  EXPECT_TRUE(r().dp().nat_sessions().empty());
}

TEST_F(NatTest, EchoToTheOutsideAddressIsStillAnswered) {
  set_rules(forward_rules());
  pass(kP1,
       Frame()
           .eth(kH1, kRouterMac[1])
           .ip4("10.2.0.2", kOutside)
           .id(5)
           .icmp_echo(0x4000, 3)
           .payload(24),
       {{kP1, Frame()
                  .eth(kRouterMac[1], kH1)
                  .ip4(kOutside, "10.2.0.2")
                  .id(5)
                  .icmp_echo_reply(0x4000, 3)
                  .payload(24)}});
  EXPECT_TRUE(r().dp().nat_sessions().empty());
}

// 8. Counters and the session list.
TEST_F(NatTest, TotalsAndSessions) {
  EXPECT_EQ(r().dp().nat_totals().created, 0u);
  masquerade_tcp();  // 4 packets, 1 session
  NatTotals t = r().dp().nat_totals();
  EXPECT_EQ(t.created, 1u);
  EXPECT_EQ(t.translated, 4u);
  EXPECT_EQ(t.sessions, 1u);
  auto tcp = session(key(nat::Proto::kTcp, kInside, 40000, kRemote, 80));
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->proto, nat::Proto::kTcp);
  EXPECT_EQ(tcp->reply, key(nat::Proto::kTcp, kRemote, 80, kOutside, 40000));
  EXPECT_EQ(tcp->kind, nat::kKindSnat);
  EXPECT_EQ(tcp->state, nat::TcpState::kEstablished);
  EXPECT_EQ(tcp->port, kP1);
  EXPECT_LE(tcp->idle, 2u);

  set_rules(forward_rules());
  port_forward();  // 3 packets, 1 session
  hairpin();       // 2 packets, 1 session
  t = r().dp().nat_totals();
  EXPECT_EQ(t.created, 3u);
  EXPECT_EQ(t.translated, 9u);
  EXPECT_EQ(t.hairpin, 1u);
  EXPECT_EQ(t.sessions, 3u);
  auto dnat = session(key(nat::Proto::kTcp, kRemote, 50000, kOutside, 8080));
  ASSERT_TRUE(dnat);
  EXPECT_EQ(dnat->reply, key(nat::Proto::kTcp, kInside, 80, kRemote, 50000));
  EXPECT_EQ(dnat->kind, nat::kKindDnat);
  EXPECT_EQ(dnat->state, nat::TcpState::kEstablished);
  EXPECT_EQ(dnat->port, nat::kAnyPort);
  auto hp = session(key(nat::Proto::kTcp, kInside3, 41000, kOutside, 8080));
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->reply, key(nat::Proto::kTcp, kInside, 80, kOutside, 41000));
  EXPECT_EQ(hp->kind, nat::kKindSnat | nat::kKindDnat);
  EXPECT_EQ(hp->state, nat::TcpState::kSynRecv);

  masquerade_echo();  // 4 packets, 2 sessions
  t = r().dp().nat_totals();
  EXPECT_EQ(t.created, 5u);
  EXPECT_EQ(t.translated, 13u);
  auto echo = session(key(nat::Proto::kIcmp, kInside, 0x1234, kRemote, 0x1234));
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->reply, key(nat::Proto::kIcmp, kRemote, 0x1234, kOutside, 0x1234));
  EXPECT_EQ(echo->kind, nat::kKindSnat);
  EXPECT_EQ(echo->state, nat::TcpState::kNone);
  EXPECT_EQ(r().dp().nat_sessions().size(), 5u);
  EXPECT_EQ(t.filtered, 0u);
  EXPECT_EQ(t.expired, 0u);
}

// The engines' clock is read from the TSC between graph walks: a session opened in a worker's
// very first walk must not be born with a deadline from the epoch (already overdue).
TEST_F(NatTest, SessionFromTheFirstWalkIsNotBornExpired) {
  set_rules(masquerade_rules());
  pass(kP0, Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).udp(5000, 53).payload(8),
       {{kP1,
         Frame().eth(kRouterMac[1], kG1).ip4(kOutside, kRemote).ttl(63).udp(5000, 53).payload(8)}});
  const auto s = session(key(nat::Proto::kUdp, kInside, 5000, kRemote, 53));
  ASSERT_TRUE(s);
  EXPECT_LE(s->idle, 2u) << "a new session looks " << s->idle << " s idle";
}

// 10. Without rules (never set, or set and taken away) nat-pre and nat-post change nothing.
TEST_F(NatTest, WithoutRulesForwardingIsUnchanged) {
  const std::vector<std::pair<uint16_t, Frame>> flows = {
      {kP0, Frame().eth(kH0, kRouterMac[0]).ip4(kInside, "10.2.0.2").udp(40000, 53).payload(32)},
      {kP1, Frame().eth(kH1, kRouterMac[1]).ip4("10.2.0.2", kInside).udp(53, 40000).payload(100)},
      {kP0, Frame().eth(kH0, kRouterMac[0]).ip4(kInside, "10.3.0.2").tcp(33000, 80, 7, 0, 0x02)},
      {kP0, Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).icmp_echo(9, 1).payload(56)},
      {kP1, Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kInside).tcp(80, 1234, 1, 1, 0x12)},
  };
  auto check = [&] {
    pass(kP0, flows[0].second, {{kP1, forwarded(flows[0].second, kRouterMac[1], kH1)}});
    pass(kP1, flows[1].second, {{kP0, forwarded(flows[1].second, kRouterMac[0], kH0)}});
    pass(kP0, flows[2].second, {{kP2, forwarded(flows[2].second, kRouterMac[2], kH2)}});
    pass(kP0, flows[3].second, {{kP1, forwarded(flows[3].second, kRouterMac[1], kG1)}});
    pass(kP1, flows[4].second, {{kP0, forwarded(flows[4].second, kRouterMac[0], kH0)}});
  };
  check();
  set_rules(masquerade_rules());
  set_rules(nat::Rules{});
  check();
  const NatTotals t = r().dp().nat_totals();
  EXPECT_EQ(t.translated, 0u);
  EXPECT_EQ(t.created, 0u);
  EXPECT_TRUE(r().dp().nat_sessions().empty());
}

// With rules, traffic NAT has no business with (inside to inside port, outside to outside)
// passes unchanged too.
TEST_F(NatTest, TrafficNotCrossingTheMasqueradePortIsUnchanged) {
  set_rules(masquerade_rules());
  const Frame to_p2 = Frame().eth(kH0, kRouterMac[0]).ip4(kInside, "10.3.0.2").udp(1, 2).payload(9);
  pass(kP0, to_p2, {{kP2, forwarded(to_p2, kRouterMac[2], kH2)}});
  const Frame p2_to_p1 =
      Frame().eth(kH2, kRouterMac[2]).ip4("10.3.0.2", "10.2.0.2").udp(1, 2).payload(9);
  pass(kP2, p2_to_p1, {{kP1, forwarded(p2_to_p1, kRouterMac[1], kH1)}});
  EXPECT_TRUE(r().dp().nat_sessions().empty());
}

// Two workers: worker 0 polls p0 and p2, worker 1 p1; a session lives on one of them and the
// other hands its packets over. Both directions still come out translated.
TEST_F(NatTest, TwoWorkersHandOverToTheSessionOwner) {
  RouterOptions o;
  o.workers = 2;
  rebuild_router(o);
  set_rules(masquerade_rules());
  for (uint16_t sport = 40000; sport < 40008; ++sport) {
    const Frame syn = Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).tcp(sport, 443, 1);
    r().send(kP0, syn);
    r().run();
    const auto s = session(key(nat::Proto::kTcp, kInside, sport, kRemote, 443));
    ASSERT_TRUE(s);
    const uint16_t xp = s->reply.dport;
    check_sent(
        {{kP1, Frame().eth(kRouterMac[1], kG1).ip4(kOutside, kRemote).ttl(63).tcp(xp, 443, 1)}});
    pass(kP1, Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).tcp(443, xp, 9, 2, 0x12),
         {{kP0, Frame()
                    .eth(kRouterMac[0], kH0)
                    .ip4(kRemote, kInside)
                    .ttl(63)
                    .tcp(443, sport, 9, 2, 0x12)}});
  }
  EXPECT_GT(r().dp().nat_totals().handoffs, 0u);
  EXPECT_EQ(r().dp().nat_totals().handoff_full, 0u);
}

// The outside port's addresses change (the kernel's address was replaced, a DHCP renewal):
// its masquerade sessions are flushed, as Linux's masquerade does, and their ports freed; the
// next packet of the connection opens a new session.
TEST_F(NatTest, AddressChangeFlushesThePortsMasqueradeSessions) {
  set_rules(forward_rules());
  const Frame syn = Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).tcp(40000, 80, 1000);
  r().send(kP0, syn);
  r().run();
  r().received_all();
  ASSERT_TRUE(session(key(nat::Proto::kTcp, kInside, 40000, kRemote, 80)));
  // A DNAT session (no masquerade port): not flushed.
  r().send(kP1, Frame().eth(kG1, kRouterMac[1]).ip4(kRemote, kOutside).tcp(5555, 8080, 1));
  r().run();
  r().received_all();
  ASSERT_EQ(r().dp().nat_sessions().size(), 2u);

  ASSERT_EQ(r().dp().state().add_address(kP1, addr("10.2.0.9"), 24), "");
  r().advance(0.25);  // the control thread sees the change and bumps the port's generation
  // The worker flushes at its next NAT tick (a quarter second of TSC time).
  for (int i = 0; i < 100 && r().dp().nat_totals().flushed == 0; ++i) {
    usleep(10000);
    r().poll(1);
  }
  EXPECT_EQ(r().dp().nat_totals().flushed, 1u);
  const auto left = r().dp().nat_sessions();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].kind, nat::kKindDnat);
}

// 11. tshark checks the checksums of every frame the translation scenarios sent.
TEST_F(NatTest, TsharkFindsEveryChecksumRight) {
  if (!have_tshark()) GTEST_SKIP() << "tshark is not installed";
  std::vector<Bytes> all;
  const std::vector<void (NatTest::*)()> scenarios = {
      &NatTest::masquerade_tcp,
      &NatTest::masquerade_udp,
      &NatTest::masquerade_udp_without_checksum,
      &NatTest::masquerade_echo,
      &NatTest::port_forward,
      &NatTest::hairpin,
      &NatTest::icmp_error_about_masqueraded,
      &NatTest::big_datagram_leaves_fragmented,
      &NatTest::fragmented_reply_from_outside,
  };
  for (auto s : scenarios) {
    rebuild_router();
    captured_.clear();
    (this->*s)();
    all.insert(all.end(), captured_.begin(), captured_.end());
  }
  ASSERT_EQ(all.size(), 29u);  // as the scenarios expect them
  char tmpl[] = "/tmp/sluice-nat-pcap-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string good = dir + "/nat.pcap", bad = dir + "/control.pcap";
  write_pcap(good, all);
  // A control: one frame per checksum kind broken, so a filter that sees nothing is caught.
  write_pcap(
      bad,
      {Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).bad_ip_checksum().udp(1, 2).bytes(),
       Frame()
           .eth(kH0, kRouterMac[0])
           .ip4(kInside, kRemote)
           .udp(1, 2)
           .payload(4)
           .bad_l4_checksum()
           .bytes(),
       Frame().eth(kH0, kRouterMac[0]).ip4(kInside, kRemote).tcp(1, 2).bad_l4_checksum().bytes(),
       Frame()
           .eth(kH0, kRouterMac[0])
           .ip4(kInside, kRemote)
           .icmp_echo(1, 2)
           .bad_l4_checksum()
           .bytes()});
  int status = 0;
  const std::string flagged = run(tshark_cmd(good, kBadFilter), &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(flagged, "") << "tshark finds bad checksums in " << good;
  const std::string control = run(tshark_cmd(bad, kBadFilter) + " | wc -l", &status);
  EXPECT_EQ(std::atoi(control.c_str()), 4) << "tshark did not flag the control's checksums";
  // Every frame had its IP header checksum verified, not just left unverified.
  const std::string verified =
      run(tshark_cmd(good, "-Y 'ip.checksum.status==1'") + " | wc -l", &status);
  EXPECT_EQ(static_cast<size_t>(std::atoi(verified.c_str())), all.size());
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::pkt
