// nat_engine_test.cpp — nat::Engine (conntrack, masquerade, port forwarding, hairpin, ICMP
// errors, fragments, worker ownership) on IPv4 packets built byte by byte, checked against the
// RFCs it follows (4787 mapping and filtering, 5382 TCP timeouts, 5508 ICMP, 791 fragments)
// and, at random, against a std::map reference model. Every checksum of every packet the
// engine emits is recomputed from scratch here (an independent full sum, not RFC 1624): IP,
// TCP/UDP with their pseudo-header, ICMP, and the quoted packet's inside an ICMP error.
#include "nat/nat_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <tuple>
#include <type_traits>
#include <vector>

namespace sluice::nat {

// Verdicts by name in failure messages (found by gtest through ADL, so not in the anonymous
// namespace).
std::ostream& operator<<(std::ostream& os, Verdict v) {
  static const char* const names[] = {"kPass",       "kTranslated",     "kFiltered",
                                      "kTableFull",  "kPortsExhausted", "kFragmentUntracked",
                                      "kTruncated",  "kBadDirection",   "kNoAddress",
                                      "kUnsupported"};
  const auto i = static_cast<size_t>(v);
  return os << (i < std::size(names) ? names[i] : "?");
}

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1;
constexpr uint8_t kEchoReply = 0, kUnreachable = 3, kEchoRequest = 8, kTimeExceeded = 11;

constexpr uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return a << 24 | b << 16 | c << 8 | d;
}

// The network: lan (10.0.2.0/24, masqueraded) -- router -- wan (203.0.113.1 and .2), a second
// uplink wan2 and an unmasqueraded dmz.
constexpr uint16_t kLan = 0, kWan = 1, kWan2 = 2, kDmz = 3;
constexpr uint32_t kInsideNet = ip4(10, 0, 2, 0), kRouterIn = ip4(10, 0, 2, 1),
                   kServer = ip4(10, 0, 2, 2), kH1 = ip4(10, 0, 2, 10), kH2 = ip4(10, 0, 2, 11);
constexpr uint32_t kOut = ip4(203, 0, 113, 1), kOut2 = ip4(203, 0, 113, 2),
                   kWan2Addr = ip4(100, 64, 0, 1), kDmzAddr = ip4(10, 9, 0, 1),
                   kDmzHost = ip4(10, 9, 0, 5);
constexpr uint32_t kR1 = ip4(198, 51, 100, 10), kR2 = ip4(198, 51, 100, 20),
                   kR3 = ip4(198, 51, 100, 30), kHop = ip4(192, 0, 2, 254);

// ---- bytes and checksums ----------------------------------------------------------------------

uint16_t rd16(const Bytes& b, size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}
uint32_t rd32(const Bytes& b, size_t at) {
  return uint32_t{rd16(b, at)} << 16 | rd16(b, at + 2);
}
void wr16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
void wr32(Bytes& b, size_t at, uint32_t v) {
  wr16(b, at, static_cast<uint16_t>(v >> 16));
  wr16(b, at + 2, static_cast<uint16_t>(v));
}

uint32_t add_words(const uint8_t* p, size_t n, uint32_t acc = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) acc += uint32_t{p[i]} << 8 | p[i + 1];
  if (n % 2) acc += uint32_t{p[n - 1]} << 8;
  return acc;
}
uint16_t fold_not(uint32_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(~acc);
}

// Full checksums of the packet at `off` in `b` (its checksum field counted as zero).
uint16_t ip_sum_exact(const Bytes& b, size_t off = 0) {
  const size_t hlen = size_t{b[off] & 0xfu} * 4;
  Bytes h(b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + hlen));
  h[10] = h[11] = 0;
  return fold_not(add_words(h.data(), hlen));
}
// The L4 checksum of the packet at `off` whose L4 part is `l4len` bytes (all present in b).
uint16_t l4_sum(const Bytes& b, size_t off, size_t l4len) {
  const size_t hlen = size_t{b[off] & 0xfu} * 4;
  const uint8_t proto = b[off + 9];
  const size_t sum_at = proto == kTcp ? 16 : proto == kUdp ? 6 : 2;
  Bytes l4(b.begin() + static_cast<long>(off + hlen),
           b.begin() + static_cast<long>(off + hlen + l4len));
  if (l4.size() < sum_at + 2) {  // (also keeps GCC's -O3 stringop-overflow check quiet)
    ADD_FAILURE() << "L4 part too short for its checksum";
    return 0;
  }
  l4[sum_at] = 0;
  l4[sum_at + 1] = 0;
  uint32_t acc = 0;
  if (proto != kIcmp) {
    acc = add_words(b.data() + off + 12, 8) + proto + static_cast<uint32_t>(l4len);
  }
  uint16_t s = fold_not(add_words(l4.data(), l4.size(), acc));
  if (proto == kUdp && s == 0) s = 0xffff;
  return s;
}
void set_ip_sum(Bytes& b, size_t off = 0) {
  wr16(b, off + 10, ip_sum_exact(b, off));
}
void set_l4_sum(Bytes& b, size_t off = 0) {
  const size_t hlen = size_t{b[off] & 0xfu} * 4;
  const size_t l4len = rd16(b, off + 2) - hlen;
  const uint8_t proto = b[off + 9];
  const size_t sum_at = proto == kTcp ? 16 : proto == kUdp ? 6 : 2;
  wr16(b, off + hlen + sum_at, l4_sum(b, off, l4len));
}

// ---- packets ----------------------------------------------------------------------------------

Bytes ip_header(uint8_t proto, uint32_t src, uint32_t dst, size_t l4len, uint16_t id) {
  Bytes b(20 + l4len);
  b[0] = 0x45;
  wr16(b, 2, static_cast<uint16_t>(b.size()));
  wr16(b, 4, id);
  b[8] = 64;
  b[9] = proto;
  wr32(b, 12, src);
  wr32(b, 16, dst);
  return b;
}
void fill(Bytes& b, size_t from, uint8_t seed) {
  for (size_t i = from; i < b.size(); ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
}

Bytes tcp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags,
          size_t payload = 0, uint16_t id = 0x1111) {
  Bytes b = ip_header(kTcp, src, dst, 20 + payload, id);
  wr16(b, 20, sport);
  wr16(b, 22, dport);
  wr32(b, 24, 0x01020304);
  wr32(b, 28, (flags & kAck) ? 0x0a0b0c0d : 0);
  b[32] = 0x50;
  b[33] = flags;
  wr16(b, 34, 0xffff);
  fill(b, 40, 0x31);
  set_l4_sum(b);
  set_ip_sum(b);
  return b;
}

Bytes udp(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, size_t payload = 16,
          bool zero_checksum = false, uint16_t id = 0x2222) {
  Bytes b = ip_header(kUdp, src, dst, 8 + payload, id);
  wr16(b, 20, sport);
  wr16(b, 22, dport);
  wr16(b, 24, static_cast<uint16_t>(8 + payload));
  fill(b, 28, 0x55);
  if (!zero_checksum) set_l4_sum(b);
  set_ip_sum(b);
  return b;
}

Bytes echo(uint32_t src, uint32_t dst, uint8_t type, uint16_t ident, uint16_t seq = 1,
           size_t payload = 24) {
  Bytes b = ip_header(kIcmp, src, dst, 8 + payload, 0x3333);
  b[20] = type;
  wr16(b, 24, ident);
  wr16(b, 26, seq);
  fill(b, 28, 0x77);
  set_l4_sum(b);
  set_ip_sum(b);
  return b;
}

// An ICMP error from `src` to `dst` quoting `quoted` (its first `quote_len` bytes; 0: all of
// it), the quote's TTL as the reporting router saw it. `rest`: the 4 bytes after the checksum
// (frag-needed's next-hop MTU in the low half).
Bytes icmp_error(uint32_t src, uint32_t dst, uint8_t type, uint8_t code, Bytes quoted,
                 size_t quote_len = 0, uint16_t mtu = 0) {
  quoted[8] = 1;  // the TTL it arrived with at the router that gave up on it
  set_ip_sum(quoted);
  const size_t n = quote_len == 0 ? quoted.size() : std::min(quote_len, quoted.size());
  Bytes b = ip_header(kIcmp, src, dst, 8 + n, 0x4444);
  b[20] = type;
  b[21] = code;
  wr16(b, 26, mtu);
  std::copy(quoted.begin(), quoted.begin() + static_cast<long>(n), b.begin() + 28);
  set_l4_sum(b);
  set_ip_sum(b);
  return b;
}

// Cuts a datagram into fragments at L4 offsets `cuts` (multiples of 8).
std::vector<Bytes> fragment(const Bytes& whole, std::vector<size_t> cuts) {
  const size_t l4len = whole.size() - 20;
  cuts.insert(cuts.begin(), 0);
  cuts.push_back(l4len);
  std::vector<Bytes> out;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    Bytes f(whole.begin(), whole.begin() + 20);
    f.insert(f.end(), whole.begin() + static_cast<long>(20 + cuts[i]),
             whole.begin() + static_cast<long>(20 + cuts[i + 1]));
    wr16(f, 2, static_cast<uint16_t>(f.size()));
    wr16(f, 6, static_cast<uint16_t>((i + 2 < cuts.size() ? 0x2000 : 0) | cuts[i] / 8));
    set_ip_sum(f);
    out.push_back(f);
  }
  return out;
}

// Puts fragments (in order) back together, as the receiving host would.
Bytes reassemble(const std::vector<Bytes>& frags) {
  Bytes whole(frags[0].begin(), frags[0].begin() + 20);
  for (const Bytes& f : frags) {
    EXPECT_EQ(rd32(f, 12), rd32(frags[0], 12)) << "every fragment has the same source";
    EXPECT_EQ(rd32(f, 16), rd32(frags[0], 16)) << "every fragment has the same destination";
    EXPECT_EQ(size_t{rd16(f, 6) & 0x1fffu} * 8, whole.size() - 20);
    whole.insert(whole.end(), f.begin() + 20, f.end());
  }
  wr16(whole, 2, static_cast<uint16_t>(whole.size()));
  wr16(whole, 6, 0);
  set_ip_sum(whole);
  return whole;
}

bool is_fragment(const Bytes& b, size_t off = 0) {
  return (rd16(b, off + 6) & 0x3fff) != 0;
}

// Every checksum the packet carries, recomputed: the IP header's; the L4 checksum unless the
// packet is a fragment (it covers the whole datagram: reassemble first); inside an ICMP error
// the quote's IP header checksum and its L4 checksum when the quote holds the whole L4 part.
void verify(const Bytes& b) {
  ASSERT_GE(b.size(), 20u);
  EXPECT_EQ(rd16(b, 10), ip_sum_exact(b)) << "IP header checksum";
  ASSERT_EQ(rd16(b, 2), b.size());
  if (is_fragment(b)) return;
  const uint8_t proto = b[9];
  const size_t l4len = b.size() - 20;
  if (proto == kTcp) {
    EXPECT_EQ(rd16(b, 36), l4_sum(b, 0, l4len)) << "TCP checksum";
  }
  if (proto == kUdp && rd16(b, 26) != 0) {
    EXPECT_EQ(rd16(b, 26), l4_sum(b, 0, l4len)) << "UDP checksum";
  }
  if (proto != kIcmp) return;
  EXPECT_EQ(rd16(b, 22), l4_sum(b, 0, l4len)) << "ICMP checksum";
  const uint8_t type = b[20];
  if (type != kUnreachable && type != kTimeExceeded && type != 12) return;
  // The quote: an IPv4 header and as much of the original as the router kept.
  const size_t q = 28, have = b.size() - q;
  ASSERT_GE(have, 20u);
  EXPECT_EQ(rd16(b, q + 10), ip_sum_exact(b, q)) << "quoted IP header checksum";
  const size_t qtotal = rd16(b, q + 2);
  if (qtotal > have || is_fragment(b, q)) return;  // truncated: its L4 checksum is not there
  const uint8_t qproto = b[q + 9];
  const size_t ql4 = qtotal - 20;
  if (qproto == kTcp) {
    EXPECT_EQ(rd16(b, q + 36), l4_sum(b, q, ql4)) << "quoted TCP checksum";
  } else if (qproto == kUdp && rd16(b, q + 26) != 0) {
    EXPECT_EQ(rd16(b, q + 26), l4_sum(b, q, ql4)) << "quoted UDP checksum";
  } else if (qproto == kIcmp) {
    EXPECT_EQ(rd16(b, q + 22), l4_sum(b, q, ql4)) << "quoted ICMP checksum";
  }
}

struct Tuple {
  uint32_t src, dst;
  uint16_t sport, dport;
  friend bool operator==(const Tuple&, const Tuple&) = default;
};
std::ostream& operator<<(std::ostream& os, const Tuple& t) {
  auto a = [&](uint32_t x) {
    os << (x >> 24) << '.' << (x >> 16 & 255) << '.' << (x >> 8 & 255) << '.' << (x & 255);
  };
  a(t.src);
  os << ':' << t.sport << " -> ";
  a(t.dst);
  return os << ':' << t.dport;
}
// The packet's (or, at off = 28, an ICMP error's quote's) addresses and ports; ICMP echo: the
// identifier on both sides.
Tuple tuple(const Bytes& b, size_t off = 0) {
  const size_t l4 = off + 20;
  if (b[off + 9] == kIcmp)
    return {rd32(b, off + 12), rd32(b, off + 16), rd16(b, l4 + 4), rd16(b, l4 + 4)};
  return {rd32(b, off + 12), rd32(b, off + 16), rd16(b, l4), rd16(b, l4 + 2)};
}
Tuple T(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport) {
  return {src, dst, sport, dport};
}

// ---- the router around the engine ------------------------------------------------------------

Rules default_rules() {
  Rules r;
  r.masquerade.push_back({kInsideNet, 24, kWan});
  r.forward.push_back({Proto::kTcp, 8080, 0, kAnyPort, kServer, 80});
  r.router_addresses = {kRouterIn, kDmzAddr, kWan2Addr, kOut, kOut2};
  std::sort(r.router_addresses.begin(), r.router_addresses.end());
  return r;
}

// The route lookup and the egress port's address, as the dataplane has them.
uint16_t egress(uint32_t dst) {
  if ((dst >> 8) == (kInsideNet >> 8)) return kLan;
  if ((dst >> 8) == (kDmzAddr >> 8)) return kDmz;
  return kWan;
}
uint32_t address_of(uint16_t port) {
  switch (port) {
    case kLan: return kRouterIn;
    case kWan: return kOut;
    case kWan2: return kWan2Addr;
    default: return kDmzAddr;
  }
}

// What the dataplane does with a packet: pre() before the lookup, post() when it is forwarded
// (not for the router itself). The verdict is the dropping one, else post()'s translation.
Verdict route(Engine& e, const Rules& rules, Bytes& b, uint16_t rx, uint32_t now,
              Match* match = nullptr, std::optional<uint16_t> out = std::nullopt) {
  Match m;
  const Verdict v = e.pre(b.data(), b.size(), rx, now, &m);
  if (match) *match = m;
  if (v != Verdict::kPass && v != Verdict::kTranslated) return v;
  const uint32_t dst = rd32(b, 16);
  if (rules.is_router_address(dst)) return v;  // delivered to the router's own stack
  const uint16_t port = out ? *out : egress(dst);
  const Verdict pv = e.post(b.data(), b.size(), port, address_of(port), now, m);
  return pv == Verdict::kPass ? v : pv;
}

struct Router {
  explicit Router(EngineConfig cfg = {}, Rules r = default_rules())
      : rules(std::move(r)), e(std::make_unique<Engine>(cfg)) {
    e->set_rules(&rules);
    e->expire(now);  // the wheel starts with the clock, as the worker's once-a-second call does
  }
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  Verdict send(Bytes& b, uint16_t rx, Match* m = nullptr,
               std::optional<uint16_t> out = std::nullopt) {
    return route(*e, rules, b, rx, now, m, out);
  }
  // Sends and expects a translation to `want`, every checksum right.
  void expect_translated(Bytes& b, uint16_t rx, const Tuple& want,
                         std::optional<uint16_t> out = std::nullopt) {
    EXPECT_EQ(send(b, rx, nullptr, out), Verdict::kTranslated);
    EXPECT_EQ(tuple(b), want);
    verify(b);
  }
  void advance(uint32_t seconds) {
    now += seconds;
    e->expire(now);
  }
  std::vector<SessionView> sessions() const {
    std::vector<SessionView> v;
    e->sessions(v, now);
    return v;
  }

  Rules rules;
  std::unique_ptr<Engine> e;
  uint32_t now = 1000;
};

// The outside port an outbound packet left with.
uint16_t sport_of(const Bytes& b) {
  return tuple(b).sport;
}

bool claimed(const std::array<uint64_t, 3072>& words, unsigned block, uint16_t port) {
  return (words[block * 1024 + port / 64] >> (port % 64)) & 1;
}
size_t claims(const std::array<uint64_t, 3072>& words) {
  size_t n = 0;
  for (uint64_t w : words) n += static_cast<size_t>(std::popcount(w));
  return n;
}

// ---- masquerade (RFC 4787) -------------------------------------------------------------------

TEST(NatEngine, MasqueradeRewritesSourceKeepsAFreePortAndTranslatesTheReply) {
  Router r;
  Bytes syn = tcp(kH1, 40000, kR1, 80, kSyn, 10);
  const Bytes sent = syn;
  // pre() leaves a new outbound connection alone; post() opens it once the egress is known.
  Match m;
  EXPECT_EQ(r.e->pre(syn.data(), syn.size(), kLan, r.now, &m), Verdict::kPass);
  EXPECT_EQ(syn, sent);
  EXPECT_EQ(r.e->post(syn.data(), syn.size(), kWan, kOut, r.now, m), Verdict::kTranslated);
  EXPECT_EQ(tuple(syn), T(kOut, 40000, kR1, 80)) << "REQ-3: the inside port, free, is kept";
  verify(syn);
  // Sequence numbers, flags and payload untouched (the checksum aside).
  EXPECT_TRUE(std::equal(syn.begin() + 24, syn.begin() + 36, sent.begin() + 24));
  EXPECT_TRUE(std::equal(syn.begin() + 38, syn.end(), sent.begin() + 38));

  Bytes synack = tcp(kR1, 80, kOut, 40000, kSyn | kAck, 10);
  r.expect_translated(synack, kWan, T(kR1, 80, kH1, 40000));
  Bytes ack = tcp(kH1, 40000, kR1, 80, kAck, 100);
  r.expect_translated(ack, kLan, T(kOut, 40000, kR1, 80));

  const auto s = r.sessions();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].proto, Proto::kTcp);
  EXPECT_EQ(s[0].orig, (FlowKey{kH1, kR1, 40000, 80, Proto::kTcp}));
  EXPECT_EQ(s[0].reply, (FlowKey{kR1, kOut, 80, 40000, Proto::kTcp}));
  EXPECT_EQ(s[0].kind, kKindSnat);
  EXPECT_EQ(s[0].port, kWan);
  EXPECT_EQ(s[0].state, TcpState::kEstablished);
  EXPECT_EQ(r.e->counters().created.load(), 1u);
  EXPECT_EQ(r.e->counters().translated.load(), 3u);
}

TEST(NatEngine, SecondInsideHostWithTheSameSourcePortGetsAnotherOutsidePort) {
  Router r;
  Bytes a = tcp(kH1, 40000, kR1, 80, kSyn);
  r.expect_translated(a, kLan, T(kOut, 40000, kR1, 80));
  Bytes b = tcp(kH2, 40000, kR1, 80, kSyn);
  EXPECT_EQ(r.send(b, kLan), Verdict::kTranslated);
  verify(b);
  const uint16_t p2 = sport_of(b);
  EXPECT_NE(p2, 40000);
  EXPECT_GE(p2, r.e->config().port_first);
  EXPECT_EQ(tuple(b), T(kOut, p2, kR1, 80));
  // Each reply finds its own host.
  Bytes ra = tcp(kR1, 80, kOut, 40000, kSyn | kAck);
  r.expect_translated(ra, kWan, T(kR1, 80, kH1, 40000));
  Bytes rb = tcp(kR1, 80, kOut, p2, kSyn | kAck);
  r.expect_translated(rb, kWan, T(kR1, 80, kH2, 40000));
}

TEST(NatEngine, MappingIsEndpointIndependent) {
  Router r;
  Bytes a = udp(kH1, 5000, kR1, 53);
  EXPECT_EQ(r.send(a, kLan), Verdict::kTranslated);
  Bytes b = udp(kH1, 5000, kR2, 123);
  EXPECT_EQ(r.send(b, kLan), Verdict::kTranslated);
  EXPECT_EQ(sport_of(a), sport_of(b)) << "RFC 4787 REQ-1: one outside port per inside endpoint";
  // With the inside port taken by another host first, the shared port is not the inside one.
  Bytes c = tcp(kH2, 6000, kR1, 80, kSyn);
  r.expect_translated(c, kLan, T(kOut, 6000, kR1, 80));
  Bytes d = tcp(kH1, 6000, kR1, 80, kSyn);
  ASSERT_EQ(r.send(d, kLan), Verdict::kTranslated);
  Bytes e = tcp(kH1, 6000, kR2, 443, kSyn);
  ASSERT_EQ(r.send(e, kLan), Verdict::kTranslated);
  EXPECT_NE(sport_of(d), 6000);
  EXPECT_EQ(sport_of(d), sport_of(e));
  EXPECT_EQ(r.e->size(), 5u);
}

TEST(NatEngine, FilteringIsAddressAndPortDependent) {
  Router r;
  Bytes a = udp(kH1, 5000, kR1, 53);
  ASSERT_EQ(r.send(a, kLan), Verdict::kTranslated);
  Bytes b = udp(kH1, 5000, kR2, 123);
  ASSERT_EQ(r.send(b, kLan), Verdict::kTranslated);
  const uint16_t x = sport_of(a);
  // RFC 4787 REQ-8, address-and-port-dependent: only the endpoints the inside host talked to.
  Bytes third = udp(kR3, 53, kOut, x);
  const Bytes third_sent = third;
  EXPECT_EQ(r.send(third, kWan), Verdict::kFiltered);
  EXPECT_EQ(third, third_sent) << "a filtered packet is not rewritten";
  Bytes other_port = udp(kR1, 54, kOut, x);
  EXPECT_EQ(r.send(other_port, kWan), Verdict::kFiltered);
  Bytes tcp_same_port = tcp(kR1, 53, kOut, x, kSyn);
  EXPECT_EQ(r.send(tcp_same_port, kWan), Verdict::kFiltered) << "another protocol";
  Bytes direct = udp(kR1, 53, kH1, 5000);
  EXPECT_EQ(r.send(direct, kWan), Verdict::kFiltered) << "an inside address from outside";
  EXPECT_EQ(r.e->counters().filtered.load(), 4u);
  EXPECT_EQ(r.e->size(), 2u) << "filtering opens nothing";
  // Both sessions still work.
  Bytes ra = udp(kR1, 53, kOut, x);
  r.expect_translated(ra, kWan, T(kR1, 53, kH1, 5000));
  Bytes rb = udp(kR2, 123, kOut, x);
  r.expect_translated(rb, kWan, T(kR2, 123, kH1, 5000));
  // The router's own ports (below the NAT range) are not NAT's to filter.
  Bytes ssh = tcp(kR3, 50000, kOut, 22, kSyn);
  const Bytes ssh_sent = ssh;
  EXPECT_EQ(r.send(ssh, kWan), Verdict::kPass);
  EXPECT_EQ(ssh, ssh_sent);
}

TEST(NatEngine, TrafficOutsideTheMasqueradeRulesPassesUntouched) {
  Router r;
  // Another prefix leaving the masquerade port.
  Bytes dmz = udp(kDmzHost, 5000, kR1, 53);
  const Bytes dmz_sent = dmz;
  EXPECT_EQ(r.send(dmz, kDmz), Verdict::kPass);
  EXPECT_EQ(dmz, dmz_sent);
  // The masqueraded prefix leaving another port.
  Bytes lan_to_dmz = tcp(kH1, 40000, kDmzHost, 80, kSyn);
  const Bytes lan_sent = lan_to_dmz;
  EXPECT_EQ(r.send(lan_to_dmz, kLan), Verdict::kPass);
  EXPECT_EQ(lan_to_dmz, lan_sent);
  Bytes lan_to_wan2 = tcp(kH1, 40000, kR1, 80, kSyn);
  const Bytes wan2_sent = lan_to_wan2;
  EXPECT_EQ(r.send(lan_to_wan2, kLan, nullptr, kWan2), Verdict::kPass);
  EXPECT_EQ(lan_to_wan2, wan2_sent);
  // Other IP protocols, and no rules at all.
  Bytes gre = ip_header(47, kDmzHost, kR1, 8, 1);
  set_ip_sum(gre);
  const Bytes gre_sent = gre;
  EXPECT_EQ(r.send(gre, kDmz), Verdict::kPass);
  EXPECT_EQ(gre, gre_sent);
  EXPECT_EQ(r.e->size(), 0u);
  r.e->set_rules(nullptr);
  Bytes inside = udp(kH1, 5000, kR1, 53);
  const Bytes inside_sent = inside;
  Match m;
  EXPECT_EQ(r.e->pre(inside.data(), inside.size(), kLan, r.now, &m), Verdict::kPass);
  EXPECT_EQ(r.e->post(inside.data(), inside.size(), kWan, kOut, r.now, m), Verdict::kPass);
  EXPECT_EQ(inside, inside_sent);
}

// ---- UDP ------------------------------------------------------------------------------------

TEST(NatEngine, UdpZeroChecksumStaysZero) {
  Router r;
  Bytes out = udp(kH1, 5000, kR1, 53, 20, /*zero_checksum=*/true);
  r.expect_translated(out, kLan, T(kOut, 5000, kR1, 53));
  EXPECT_EQ(rd16(out, 26), 0) << "no checksum stays no checksum";
  Bytes back = udp(kR1, 53, kOut, 5000, 20, true);
  r.expect_translated(back, kWan, T(kR1, 53, kH1, 5000));
  EXPECT_EQ(rd16(back, 26), 0);
}

TEST(NatEngine, UdpSessionLastsItsTimeoutThenFreesItsPort) {
  Router r;
  const Timeouts& t = r.e->config().timeouts;
  EXPECT_GE(t.udp, 120u) << "RFC 4787 REQ-5";
  EXPECT_EQ(t.udp, 300u);
  Bytes out = udp(kH1, 5000, kR1, 53);
  r.expect_translated(out, kLan, T(kOut, 5000, kR1, 53));
  r.advance(299);
  Bytes reply = udp(kR1, 53, kOut, 5000);
  r.expect_translated(reply, kWan, T(kR1, 53, kH1, 5000));  // 299 s idle: still there
  r.advance(299);
  EXPECT_EQ(r.e->size(), 1u) << "the reply refreshed it";
  r.advance(2);  // 301 s after the reply
  EXPECT_EQ(r.e->size(), 0u);
  EXPECT_EQ(r.e->counters().expired.load(), 1u);
  Bytes late = udp(kR1, 53, kOut, 5000);
  EXPECT_EQ(r.send(late, kWan), Verdict::kFiltered);
  // The outside port is free again: another host's new session takes it.
  Bytes other = udp(kH2, 5000, kR2, 53);
  r.expect_translated(other, kLan, T(kOut, 5000, kR2, 53));
}

// ---- TCP (RFC 5382) -------------------------------------------------------------------------

TEST(NatEngine, TcpStateMachineFollowsTheTable) {
  using S = TcpState;
  struct Row {
    S from;
    uint8_t flags;
    bool orig;
    S to;
  } rows[] = {
      {S::kNone, kSyn, true, S::kSynSent},
      {S::kSynSent, kSyn, true, S::kSynSent},  // a retransmitted SYN
      {S::kSynSent, kSyn | kAck, false, S::kSynRecv},
      {S::kSynSent, kSyn | kAck, true, S::kSynSent},  // SYN+ACK from the opener: not an answer
      {S::kSynSent, kSyn, false, S::kSynSent},        // simultaneous open: kept
      {S::kSynSent, kAck, true, S::kSynSent},         // no answer yet
      {S::kSynRecv, kAck, false, S::kSynRecv},
      {S::kSynRecv, kAck, true, S::kEstablished},
      {S::kEstablished, kAck, true, S::kEstablished},
      {S::kEstablished, kAck, false, S::kEstablished},
      {S::kEstablished, kFin | kAck, true, S::kFinWait},
      {S::kEstablished, kFin | kAck, false, S::kFinWait},
      {S::kFinWait, kAck, false, S::kFinWait},
      {S::kFinWait, kFin | kAck, false, S::kTimeWait},
      {S::kTimeWait, kAck, true, S::kTimeWait},
      {S::kTimeWait, kSyn, true, S::kSynSent},  // port reuse
      {S::kClosed, kSyn, true, S::kSynSent},
      {S::kClosed, kAck, true, S::kClosed},
      {S::kClosed, kFin, true, S::kClosed},
      {S::kNone, kAck, true, S::kEstablished},  // picked up mid-stream
      {S::kSynSent, kRst, false, S::kClosed},
      {S::kEstablished, kRst | kAck, true, S::kClosed},
      {S::kFinWait, kRst, false, S::kClosed},
      {S::kTimeWait, kRst, true, S::kClosed},
  };
  for (const Row& row : rows)
    EXPECT_EQ(tcp_advance(row.from, row.flags, row.orig), row.to)
        << tcp_state_name(row.from) << " + flags " << int{row.flags}
        << (row.orig ? " from orig" : " from reply");
}

TEST(NatEngine, TcpTimeoutsMeetRfc5382) {
  const Timeouts t;
  EXPECT_GE(t.tcp_established, 2u * 3600 + 4 * 60) << "REQ-5: at least 2 h 4 min";
  EXPECT_EQ(t.tcp_established, 7440u);
  EXPECT_GE(t.tcp_transitory, 240u) << "REQ-5: 4 min for partially open or closing";
  EXPECT_LT(t.tcp_closed, t.tcp_transitory);
  EXPECT_EQ(tcp_timeout(TcpState::kEstablished, t), t.tcp_established);
  for (TcpState s :
       {TcpState::kSynSent, TcpState::kSynRecv, TcpState::kFinWait, TcpState::kTimeWait})
    EXPECT_EQ(tcp_timeout(s, t), t.tcp_transitory) << tcp_state_name(s);
  EXPECT_EQ(tcp_timeout(TcpState::kClosed, t), t.tcp_closed);
}

// An established connection, opened by kH1:40000 to kR1:80 at r.now.
void open_tcp(Router& r, uint16_t port = 40000) {
  Bytes syn = tcp(kH1, port, kR1, 80, kSyn);
  r.expect_translated(syn, kLan, T(kOut, port, kR1, 80));
  Bytes synack = tcp(kR1, 80, kOut, port, kSyn | kAck);
  r.expect_translated(synack, kWan, T(kR1, 80, kH1, port));
  Bytes ack = tcp(kH1, port, kR1, 80, kAck);
  r.expect_translated(ack, kLan, T(kOut, port, kR1, 80));
}

TEST(NatEngine, EstablishedTcpSurvivesTwoHoursFourMinutesIdle) {
  Router r;
  open_tcp(r);
  ASSERT_EQ(r.sessions().at(0).state, TcpState::kEstablished);
  r.advance(7439);
  EXPECT_EQ(r.e->size(), 1u);
  EXPECT_EQ(r.sessions().at(0).idle, 7439u);
  r.advance(2);
  EXPECT_EQ(r.e->size(), 0u);
  Bytes data = tcp(kR1, 80, kOut, 40000, kAck, 10);
  EXPECT_EQ(r.send(data, kWan), Verdict::kFiltered);
}

TEST(NatEngine, HalfOpenTcpExpiresAfterTheTransitoryTimeout) {
  Router r;
  Bytes syn = tcp(kH1, 40000, kR1, 80, kSyn);
  r.expect_translated(syn, kLan, T(kOut, 40000, kR1, 80));
  EXPECT_EQ(r.sessions().at(0).state, TcpState::kSynSent);
  r.advance(239);
  EXPECT_EQ(r.e->size(), 1u);
  r.advance(2);
  EXPECT_EQ(r.e->size(), 0u);
}

TEST(NatEngine, TcpCloseAndResetShortenTheTimeout) {
  Router r;
  open_tcp(r, 40000);
  Bytes fin1 = tcp(kH1, 40000, kR1, 80, kFin | kAck);
  r.expect_translated(fin1, kLan, T(kOut, 40000, kR1, 80));
  Bytes fin2 = tcp(kR1, 80, kOut, 40000, kFin | kAck);
  r.expect_translated(fin2, kWan, T(kR1, 80, kH1, 40000));
  EXPECT_EQ(r.sessions().at(0).state, TcpState::kTimeWait);
  r.advance(r.e->config().timeouts.tcp_transitory - 1);
  EXPECT_EQ(r.e->size(), 1u);
  r.advance(1);
  EXPECT_EQ(r.e->size(), 0u);

  open_tcp(r, 41000);
  Bytes rst = tcp(kR1, 80, kOut, 41000, kRst);
  r.expect_translated(rst, kWan, T(kR1, 80, kH1, 41000));  // the RST itself reaches the host
  EXPECT_EQ(r.sessions().at(0).state, TcpState::kClosed);
  r.advance(r.e->config().timeouts.tcp_closed - 1);
  EXPECT_EQ(r.e->size(), 1u);
  r.advance(1);
  EXPECT_EQ(r.e->size(), 0u) << "closed after an RST: the short timer, not 2 h";
  // An RST with no connection opens nothing and does not leak the inside address.
  Bytes stray = tcp(kH1, 42000, kR1, 80, kRst);
  EXPECT_EQ(r.send(stray, kLan), Verdict::kFiltered);
  EXPECT_EQ(r.e->size(), 0u);
}

// ---- ICMP echo ------------------------------------------------------------------------------

TEST(NatEngine, IcmpEchoIdentifierIsMappedAndTheReplyTranslatedBack) {
  Router r;
  Bytes req = echo(kH1, kR1, kEchoRequest, 0x1234, 7);
  r.expect_translated(req, kLan, T(kOut, 0x1234, kR1, 0x1234));
  Bytes req2 = echo(kH2, kR1, kEchoRequest, 0x1234, 9);
  ASSERT_EQ(r.send(req2, kLan), Verdict::kTranslated);
  verify(req2);
  const uint16_t id2 = tuple(req2).sport;
  EXPECT_NE(id2, 0x1234);
  EXPECT_EQ(rd16(req2, 26), 9) << "the sequence number stays";
  Bytes rep = echo(kR1, kOut, kEchoReply, 0x1234, 7);
  r.expect_translated(rep, kWan, T(kR1, 0x1234, kH1, 0x1234));
  Bytes rep2 = echo(kR1, kOut, kEchoReply, id2, 9);
  r.expect_translated(rep2, kWan, T(kR1, 0x1234, kH2, 0x1234));
  EXPECT_EQ(r.sessions().size(), 2u);
}

TEST(NatEngine, EchoRequestToAMappingsReplySideIsRefused) {
  Router r;
  Bytes req = echo(kH1, kR1, kEchoRequest, 0x1234);
  ASSERT_EQ(r.send(req, kLan), Verdict::kTranslated);
  Bytes in = echo(kR1, kOut, kEchoRequest, 0x1234);
  const Bytes in_sent = in;
  EXPECT_EQ(r.send(in, kWan), Verdict::kBadDirection);
  EXPECT_EQ(in, in_sent);
  // A ping of the router from anyone else is the router's to answer.
  Bytes ping = echo(kR3, kOut, kEchoRequest, 0x1234);
  const Bytes ping_sent = ping;
  EXPECT_EQ(r.send(ping, kWan), Verdict::kPass);
  EXPECT_EQ(ping, ping_sent);
  // An unsolicited echo reply is filtered.
  Bytes stray = echo(kR3, kOut, kEchoReply, 0x1234);
  EXPECT_EQ(r.send(stray, kWan), Verdict::kFiltered);
}

// ---- port forwarding (DNAT) ------------------------------------------------------------------

TEST(NatEngine, PortForwardOpensOnlyOnSynAndRewritesDestinationInPreSourceInPost) {
  Router r;
  for (uint8_t flags : {kAck, uint8_t(kFin | kAck), kRst, uint8_t(kSyn | kAck)}) {
    Bytes scan = tcp(kR1, 33000, kOut, 8080, flags);
    EXPECT_EQ(r.send(scan, kWan), Verdict::kFiltered) << "flags " << int{flags};
  }
  EXPECT_EQ(r.e->size(), 0u);

  Bytes syn = tcp(kR1, 33000, kOut, 8080, kSyn, 12);
  Match m;
  ASSERT_EQ(r.e->pre(syn.data(), syn.size(), kWan, r.now, &m), Verdict::kTranslated);
  EXPECT_EQ(tuple(syn), T(kR1, 33000, kServer, 80)) << "pre(): the destination, source kept";
  EXPECT_TRUE(m.dest_rewritten);
  EXPECT_FALSE(m.source_pending);
  verify(syn);
  const Bytes after_pre = syn;
  EXPECT_EQ(r.e->post(syn.data(), syn.size(), kLan, kRouterIn, r.now, m), Verdict::kTranslated);
  EXPECT_EQ(syn, after_pre) << "post() has nothing left to do";

  Bytes synack = tcp(kServer, 80, kR1, 33000, kSyn | kAck, 12);
  const Bytes synack_sent = synack;
  ASSERT_EQ(r.e->pre(synack.data(), synack.size(), kLan, r.now, &m), Verdict::kTranslated);
  EXPECT_EQ(synack, synack_sent) << "pre(): a reply's source waits for post()";
  EXPECT_TRUE(m.source_pending);
  EXPECT_FALSE(m.dest_rewritten);
  EXPECT_EQ(r.e->post(synack.data(), synack.size(), kWan, kOut, r.now, m), Verdict::kTranslated);
  EXPECT_EQ(tuple(synack), T(kOut, 8080, kR1, 33000));
  verify(synack);

  Bytes ack = tcp(kR1, 33000, kOut, 8080, kAck);
  r.expect_translated(ack, kWan, T(kR1, 33000, kServer, 80));
  Bytes scan = tcp(kR2, 33000, kOut, 8080, kAck);
  EXPECT_EQ(r.send(scan, kWan), Verdict::kFiltered) << "another remote still needs a SYN";
  const auto s = r.sessions();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind, kKindDnat);
  EXPECT_EQ(s[0].state, TcpState::kEstablished);
}

TEST(NatEngine, ForwardRuleWithAnInPortMatchesOnlyThatPort) {
  Rules rules = default_rules();
  rules.forward = {{Proto::kTcp, 2222, 0, kWan, kServer, 22}};
  Router r({}, rules);
  Bytes other = tcp(kR1, 33000, kOut, 2222, kSyn);
  const Bytes other_sent = other;
  EXPECT_EQ(r.send(other, kDmz), Verdict::kPass) << "arrived elsewhere: the router's own";
  EXPECT_EQ(other, other_sent);
  EXPECT_EQ(r.e->size(), 0u);
  Bytes syn = tcp(kR1, 33000, kOut, 2222, kSyn);
  r.expect_translated(syn, kWan, T(kR1, 33000, kServer, 22));
}

TEST(NatEngine, ForwardRuleWithAnAddressMatchesOnlyThatAddress) {
  Rules rules = default_rules();
  rules.forward = {{Proto::kUdp, 2222, kOut2, kAnyPort, kServer, 22}};
  Router r({}, rules);
  Bytes other = udp(kR1, 33000, kOut, 2222);
  const Bytes other_sent = other;
  EXPECT_NE(r.send(other, kWan), Verdict::kTranslated);
  EXPECT_EQ(other, other_sent);
  EXPECT_EQ(r.e->size(), 0u);
  Bytes dg = udp(kR1, 33000, kOut2, 2222);
  r.expect_translated(dg, kWan, T(kR1, 33000, kServer, 22));
  Bytes back = udp(kServer, 22, kR1, 33000);
  r.expect_translated(back, kLan, T(kOut2, 2222, kR1, 33000));
}

// ---- hairpin (RFC 4787 REQ-9) ---------------------------------------------------------------

TEST(NatEngine, HairpinReachesTheInsideServerThroughTheOutsideAddress) {
  Router r;
  Bytes syn = tcp(kH1, 50000, kOut, 8080, kSyn, 5);
  Match m;
  ASSERT_EQ(r.send(syn, kLan, &m), Verdict::kTranslated);
  EXPECT_TRUE(m.dest_rewritten);
  EXPECT_TRUE(m.source_pending);
  verify(syn);
  const Tuple t = tuple(syn);
  EXPECT_EQ(t.dst, kServer);
  EXPECT_EQ(t.dport, 80);
  EXPECT_EQ(t.src, kOut) << "the server must answer through the router";
  EXPECT_GE(t.sport, r.e->config().port_first);
  EXPECT_NE(t.sport, 8080);
  EXPECT_EQ(r.e->counters().hairpin.load(), 1u);

  Bytes synack = tcp(kServer, 80, kOut, t.sport, kSyn | kAck, 5);
  r.expect_translated(synack, kLan, T(kOut, 8080, kH1, 50000));
  Bytes ack = tcp(kH1, 50000, kOut, 8080, kAck, 5);
  r.expect_translated(ack, kLan, T(kOut, t.sport, kServer, 80));
  const auto s = r.sessions();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].kind, kKindDnat | kKindSnat);
  EXPECT_EQ(s[0].state, TcpState::kEstablished);
}

// ---- ICMP errors (RFC 5508) -----------------------------------------------------------------

// The quote of a translated error: the original as the inside host sent it, except for the TTL
// (the reporting router's) and so the IP checksum.
void expect_quote_is(const Bytes& err, const Bytes& orig, size_t quote_len) {
  const size_t n = quote_len ? quote_len : orig.size();
  ASSERT_EQ(err.size(), 28 + n);
  for (size_t i = 0; i < n; ++i) {
    if (i == 8 || i == 10 || i == 11) continue;
    EXPECT_EQ(err[28 + i], orig[i]) << "quote byte " << i;
  }
}

TEST(NatEngine, TimeExceededAboutMasqueradedPacketsIsTranslatedBack) {
  for (uint8_t proto : {kUdp, kTcp, kIcmp}) {
    for (size_t quote_l4 : {size_t{8}, size_t{0}}) {  // RFC 792's 8 bytes, or all of it
      SCOPED_TRACE(::testing::Message() << "proto " << int{proto} << " quote " << quote_l4);
      Router r;
      // kH2 takes port 6000 first, so kH1's is translated to another one.
      Bytes first = proto == kIcmp  ? echo(kH2, kR2, kEchoRequest, 6000)
                    : proto == kTcp ? tcp(kH2, 6000, kR2, 80, kSyn)
                                    : udp(kH2, 6000, kR2, 53);
      ASSERT_EQ(r.send(first, kLan), Verdict::kTranslated);
      const Bytes orig = proto == kIcmp  ? echo(kH1, kR1, kEchoRequest, 6000, 3, 40)
                         : proto == kTcp ? tcp(kH1, 6000, kR1, 80, kSyn, 40)
                                         : udp(kH1, 6000, kR1, 53, 40);
      Bytes out = orig;
      ASSERT_EQ(r.send(out, kLan), Verdict::kTranslated);
      const uint16_t x = tuple(out).sport;
      ASSERT_NE(x, 6000);
      const size_t qlen = quote_l4 ? 20 + quote_l4 : 0;
      Bytes err = icmp_error(kHop, kOut, kTimeExceeded, 0, out, qlen);
      EXPECT_EQ(r.send(err, kWan), Verdict::kTranslated);
      EXPECT_EQ(rd32(err, 12), kHop) << "the reporting router stays the source";
      EXPECT_EQ(rd32(err, 16), kH1);
      EXPECT_EQ(err[20], kTimeExceeded);
      EXPECT_EQ(tuple(err, 28), proto == kIcmp ? T(kH1, 6000, kR1, 6000)
                                               : T(kH1, 6000, kR1, proto == kTcp ? 80 : 53));
      expect_quote_is(err, orig, qlen);
      verify(err);
      EXPECT_EQ(r.e->counters().icmp_errors.load(), 1u);
    }
  }
}

TEST(NatEngine, PortUnreachableFromTheRemoteEndIsTranslatedBack) {
  Router r;
  Bytes first = udp(kH2, 5000, kR2, 53);
  ASSERT_EQ(r.send(first, kLan), Verdict::kTranslated);
  const Bytes orig = udp(kH1, 5000, kR1, 53, 30);
  Bytes out = orig;
  ASSERT_EQ(r.send(out, kLan), Verdict::kTranslated);
  Bytes err = icmp_error(kR1, kOut, kUnreachable, 3, out);
  EXPECT_EQ(r.send(err, kWan), Verdict::kTranslated);
  EXPECT_EQ(rd32(err, 12), kR1);
  EXPECT_EQ(rd32(err, 16), kH1);
  EXPECT_EQ(tuple(err, 28), T(kH1, 5000, kR1, 53));
  expect_quote_is(err, orig, 0);
  verify(err);
}

// The other way: an inside host refuses a reply; the remote must see the error from the
// outside address, about the packet as the remote sent it.
TEST(NatEngine, ErrorFromAnInsideHostAboutAReplyIsTranslatedOutward) {
  Router r;
  Bytes first = udp(kH2, 5000, kR2, 53);
  ASSERT_EQ(r.send(first, kLan), Verdict::kTranslated);
  Bytes out = udp(kH1, 5000, kR1, 53);
  ASSERT_EQ(r.send(out, kLan), Verdict::kTranslated);
  const uint16_t x = sport_of(out);
  ASSERT_NE(x, 5000);
  const Bytes reply_sent = udp(kR1, 53, kOut, x, 30);
  Bytes reply = reply_sent;
  r.expect_translated(reply, kWan, T(kR1, 53, kH1, 5000));
  Bytes err = icmp_error(kH1, kR1, kUnreachable, 3, reply);
  EXPECT_EQ(r.send(err, kLan), Verdict::kTranslated);
  EXPECT_EQ(rd32(err, 12), kOut) << "the inside address must not leak";
  EXPECT_EQ(rd32(err, 16), kR1);
  EXPECT_EQ(tuple(err, 28), T(kR1, 53, kOut, x));
  expect_quote_is(err, reply_sent, 0);
  verify(err);
}

TEST(NatEngine, ErrorsAboutPortForwardedTrafficAreTranslatedBothWays) {
  Router r;
  const Bytes syn_sent = tcp(kR1, 33000, kOut, 8080, kSyn, 20);
  Bytes syn = syn_sent;
  r.expect_translated(syn, kWan, T(kR1, 33000, kServer, 80));
  // The inside server refuses what the router forwarded to it: the remote must see the error
  // come from the address it connected to, about the packet it sent.
  Bytes err = icmp_error(kServer, kR1, kUnreachable, 3, syn);
  EXPECT_EQ(r.send(err, kLan), Verdict::kTranslated);
  EXPECT_EQ(rd32(err, 12), kOut);
  EXPECT_EQ(rd32(err, 16), kR1);
  EXPECT_EQ(tuple(err, 28), T(kR1, 33000, kOut, 8080));
  expect_quote_is(err, syn_sent, 0);
  verify(err);

  // The remote end refuses the server's reply: the server must see its own packet.
  const Bytes reply_sent = tcp(kServer, 80, kR1, 33000, kSyn | kAck, 20);
  Bytes reply = reply_sent;
  r.expect_translated(reply, kLan, T(kOut, 8080, kR1, 33000));
  Bytes err2 = icmp_error(kR1, kOut, kUnreachable, 3, reply, 28);
  EXPECT_EQ(r.send(err2, kWan), Verdict::kTranslated);
  EXPECT_EQ(rd32(err2, 12), kR1);
  EXPECT_EQ(rd32(err2, 16), kServer);
  EXPECT_EQ(tuple(err2, 28), T(kServer, 80, kR1, 33000));
  expect_quote_is(err2, reply_sent, 28);
  verify(err2);
  EXPECT_EQ(r.e->counters().icmp_errors.load(), 2u);
}

TEST(NatEngine, FragNeededKeepsItsMtu) {
  Router r;
  Bytes first = tcp(kH2, 40000, kR2, 80, kSyn);
  ASSERT_EQ(r.send(first, kLan), Verdict::kTranslated);
  const Bytes orig = tcp(kH1, 40000, kR1, 80, kAck, 1400);
  Bytes out = orig;
  // (An established connection; the data segment is what did not fit.)
  ASSERT_EQ(r.send(out, kLan), Verdict::kTranslated);
  const uint16_t x = tuple(out).sport;
  Bytes err = icmp_error(kHop, kOut, kUnreachable, 4, out, 20 + 8, 1280);
  const Bytes rest(err.begin() + 24, err.begin() + 28);
  ASSERT_EQ(rd16(err, 26), 1280);
  EXPECT_EQ(r.send(err, kWan), Verdict::kTranslated);
  EXPECT_EQ(rd32(err, 16), kH1);
  EXPECT_EQ(tuple(err, 28), T(kH1, 40000, kR1, 80));
  EXPECT_NE(x, 40000);
  EXPECT_EQ(err[21], 4);
  EXPECT_EQ(Bytes(err.begin() + 24, err.begin() + 28), rest) << "the next-hop MTU";
  verify(err);
}

TEST(NatEngine, ErrorQuotingAPacketWithNoSessionPassesUntouched) {
  Router r;
  Bytes live = udp(kH1, 5000, kR1, 53);
  ASSERT_EQ(r.send(live, kLan), Verdict::kTranslated);
  for (const Bytes& q : {udp(kOut, 5001, kR1, 53), udp(kOut, 5000, kR2, 53),
                         tcp(kOut, 5000, kR1, 53, kSyn), echo(kOut, kR1, kEchoRequest, 77)}) {
    Bytes err = icmp_error(kHop, kOut, kTimeExceeded, 0, q);
    const Bytes sent = err;
    EXPECT_EQ(r.send(err, kWan), Verdict::kPass);
    EXPECT_EQ(err, sent);
  }
  EXPECT_EQ(r.e->counters().icmp_errors.load(), 0u);
}

// ---- fragments ------------------------------------------------------------------------------

TEST(NatEngine, LaterFragmentsFollowTheFirstOnesSession) {
  Router r;
  Bytes whole = udp(kH1, 5000, kR1, 53, 1000, false, 0x4242);
  auto frags = fragment(whole, {400, 800});
  ASSERT_EQ(frags.size(), 3u);
  for (size_t i = 0; i < frags.size(); ++i) {
    SCOPED_TRACE(i);
    Bytes before = frags[i];
    EXPECT_EQ(r.send(frags[i], kLan), Verdict::kTranslated);
    EXPECT_EQ(rd32(frags[i], 12), kOut);
    EXPECT_EQ(rd32(frags[i], 16), kR1);
    verify(frags[i]);
    if (i > 0) {
      EXPECT_TRUE(std::equal(frags[i].begin() + 20, frags[i].end(), before.begin() + 20));
    }
  }
  const Bytes out = reassemble(frags);
  EXPECT_EQ(tuple(out), T(kOut, 5000, kR1, 53));
  verify(out);
  EXPECT_EQ(r.e->size(), 1u);

  // A fragmented reply: pre() rewrites every fragment's destination.
  Bytes reply = udp(kR1, 53, kOut, 5000, 1200, false, 0x5151);
  auto rf = fragment(reply, {600});
  for (Bytes& f : rf) {
    EXPECT_EQ(r.send(f, kWan), Verdict::kTranslated);
    EXPECT_EQ(rd32(f, 16), kH1);
    verify(f);
  }
  const Bytes in = reassemble(rf);
  EXPECT_EQ(tuple(in), T(kR1, 53, kH1, 5000));
  verify(in);
  EXPECT_EQ(r.e->counters().fragments.load(), 3u);

  // A port-forwarded datagram in fragments.
  Rules rules = default_rules();
  rules.forward.push_back({Proto::kUdp, 5353, 0, kAnyPort, kServer, 53});
  Router f2({}, rules);
  Bytes dg = udp(kR2, 7000, kOut, 5353, 500, false, 0x6161);
  auto df = fragment(dg, {256});
  for (Bytes& f : df) {
    EXPECT_EQ(f2.send(f, kWan), Verdict::kTranslated);
    EXPECT_EQ(rd32(f, 16), kServer);
  }
  const Bytes dnat = reassemble(df);
  EXPECT_EQ(tuple(dnat), T(kR2, 7000, kServer, 53));
  verify(dnat);
}

TEST(NatEngine, LaterFragmentWithoutItsFirstIsDropped) {
  Router r;
  Bytes live = udp(kH1, 5000, kR1, 53);
  ASSERT_EQ(r.send(live, kLan), Verdict::kTranslated);
  // To the NAT address, of a datagram whose first fragment was not seen (out of order).
  auto in = fragment(udp(kR1, 53, kOut, 5000, 800, false, 0x7777), {400});
  EXPECT_EQ(r.send(in[1], kWan), Verdict::kFragmentUntracked);
  // Leaving masqueraded from an inside source: pre() cannot tell, post() must not let the
  // inside address out.
  auto out = fragment(udp(kH1, 5000, kR1, 53, 800, false, 0x8888), {400});
  Match m;
  EXPECT_EQ(r.e->pre(out[1].data(), out[1].size(), kLan, r.now, &m), Verdict::kPass);
  EXPECT_EQ(r.e->post(out[1].data(), out[1].size(), kWan, kOut, r.now, m),
            Verdict::kFragmentUntracked);
  EXPECT_EQ(r.e->counters().fragments_untracked.load(), 2u);
  // Plain forwarding of someone else's fragments is not NAT's business.
  auto dmz = fragment(udp(kDmzHost, 5000, kR1, 53, 800, false, 0x9999), {400});
  const Bytes dmz_sent = dmz[1];
  EXPECT_EQ(r.send(dmz[1], kDmz), Verdict::kPass);
  EXPECT_EQ(dmz[1], dmz_sent);
}

// A fragment record outlives nothing: once its session is gone (flushed here; a closed TCP
// session's 10 s also fit in a fragment's 30 s), a later fragment must not follow whatever
// session took the freed slot.
TEST(NatEngine, LaterFragmentOfAFlushedSessionIsNotTranslatedByItsSuccessor) {
  Router r;
  Bytes out = udp(kH1, 5000, kR1, 53);
  ASSERT_EQ(r.send(out, kLan), Verdict::kTranslated);
  auto frags = fragment(udp(kR1, 53, kOut, 5000, 800, false, 0x2468), {400});
  ASSERT_EQ(r.send(frags[0], kWan), Verdict::kTranslated);
  EXPECT_EQ(r.e->flush_port(kWan), 1u);
  Bytes other = udp(kH2, 6000, kR2, 53);  // takes the freed session slot
  ASSERT_EQ(r.send(other, kLan), Verdict::kTranslated);
  const Bytes later_sent = frags[1];
  EXPECT_EQ(r.send(frags[1], kWan), Verdict::kFragmentUntracked);
  EXPECT_EQ(frags[1], later_sent) << "not sent to another host";
  // And the outbound way: the first fragment opened a session that is flushed.
  auto of = fragment(udp(kH1, 7000, kR1, 53, 800, false, 0x1357), {400});
  ASSERT_EQ(r.send(of[0], kLan), Verdict::kTranslated);
  EXPECT_EQ(r.e->flush_port(kWan), 2u);
  Bytes third = udp(kH2, 8000, kR3, 53, 10, false, 0x1111);
  ASSERT_EQ(r.send(third, kLan), Verdict::kTranslated);
  Bytes fourth = udp(kH2, 8001, kR3, 53, 10, false, 0x1112);
  ASSERT_EQ(r.send(fourth, kLan), Verdict::kTranslated);
  EXPECT_EQ(r.send(of[1], kLan), Verdict::kFragmentUntracked)
      << "leaves with its inside source: dropped, not given another session's address";
}

// ---- limits ---------------------------------------------------------------------------------

TEST(NatEngine, FullTableRefusesNewSessionsAndKeepsTheOthers) {
  EngineConfig cfg;
  cfg.max_sessions = 4;
  Router r(cfg);
  std::array<uint64_t, 3072> words{};
  r.e->add_claim_bitmap(words.data());
  for (unsigned i = 0; i < 4; ++i) {
    Bytes b = udp(kH1 + i, static_cast<uint16_t>(6000 + i), kR1, 53);
    ASSERT_EQ(r.send(b, kLan), Verdict::kTranslated);
  }
  Bytes more = udp(kH1 + 9, 7000, kR1, 53);
  const Bytes more_sent = more;
  EXPECT_EQ(r.send(more, kLan), Verdict::kTableFull);
  EXPECT_EQ(more, more_sent);
  // An inside endpoint with a mapping, to a new remote: a new session, refused too, and its
  // mapping keeps one reference.
  Bytes eim = udp(kH1, 6000, kR2, 53);
  EXPECT_EQ(r.send(eim, kLan), Verdict::kTableFull);
  Bytes dnat = tcp(kR3, 1234, kOut, 8080, kSyn);
  EXPECT_EQ(r.send(dnat, kWan), Verdict::kTableFull);
  Bytes hairpin = tcp(kH2 + 20, 1234, kOut, 8080, kSyn);
  EXPECT_EQ(r.send(hairpin, kLan), Verdict::kTableFull);
  EXPECT_EQ(r.e->counters().table_full.load(), 4u);
  EXPECT_EQ(r.e->size(), 4u);
  EXPECT_FALSE(claimed(words, 1, 7000)) << "the refused session's port went back";
  EXPECT_FALSE(claimed(words, 0, 1234)) << "the refused hairpin's port went back";
  EXPECT_EQ(claims(words), 4u);
  for (unsigned i = 0; i < 4; ++i) {
    Bytes back = udp(kR1, 53, kOut, static_cast<uint16_t>(6000 + i));
    r.expect_translated(back, kWan, T(kR1, 53, kH1 + i, static_cast<uint16_t>(6000 + i)));
  }
  r.advance(r.e->config().timeouts.udp);
  EXPECT_EQ(r.e->size(), 0u);
  EXPECT_EQ(claims(words), 0u) << "no mapping kept alive by the refused sessions";
  Bytes now_fits = udp(kH1 + 9, 7000, kR1, 53);
  r.expect_translated(now_fits, kLan, T(kOut, 7000, kR1, 53));
}

TEST(NatEngine, ExhaustedPortsRefuseNewMappingsAndKeepTheOthers) {
  EngineConfig cfg;
  cfg.port_first = 20000;
  cfg.port_last = 20003;
  Router r(cfg);
  std::set<uint16_t> used;
  for (unsigned i = 0; i < 4; ++i) {
    Bytes b = udp(kH1 + i, 20000, kR1, 53);
    ASSERT_EQ(r.send(b, kLan), Verdict::kTranslated);
    used.insert(sport_of(b));
    verify(b);
  }
  EXPECT_EQ(used, (std::set<uint16_t>{20000, 20001, 20002, 20003}));
  Bytes more = udp(kH1 + 9, 20000, kR1, 53);
  EXPECT_EQ(r.send(more, kLan), Verdict::kPortsExhausted);
  EXPECT_EQ(r.e->counters().ports_exhausted.load(), 1u);
  EXPECT_EQ(r.e->size(), 4u);
  // An existing mapping needs no new port: endpoint-independent, it still works.
  Bytes eim = udp(kH1, 20000, kR2, 53);
  r.expect_translated(eim, kLan, T(kOut, 20000, kR2, 53));
  // TCP has its own ports.
  Bytes t = tcp(kH1 + 9, 20000, kR1, 80, kSyn);
  r.expect_translated(t, kLan, T(kOut, 20000, kR1, 80));
  for (unsigned i = 0; i < 4; ++i) {
    Bytes back = udp(kR1, 53, kOut, static_cast<uint16_t>(20000 + i));
    EXPECT_EQ(r.send(back, kWan), Verdict::kTranslated);
  }
}

TEST(NatEngine, MasqueradeRefusesWhatItCannotTranslate) {
  Router r;
  Match none;
  Bytes no_addr = udp(kH1, 5000, kR1, 53);
  EXPECT_EQ(r.e->post(no_addr.data(), no_addr.size(), kWan, 0, r.now, none), Verdict::kNoAddress);
  Bytes gre = ip_header(47, kH1, kR1, 8, 1);
  set_ip_sum(gre);
  EXPECT_EQ(r.send(gre, kLan), Verdict::kUnsupported) << "the inside address must not leak";
  Bytes timestamp = echo(kH1, kR1, 13, 0x1234);
  EXPECT_EQ(r.send(timestamp, kLan), Verdict::kUnsupported);
  Bytes reply = echo(kH1, kR1, kEchoReply, 0x1234);
  EXPECT_EQ(r.send(reply, kLan), Verdict::kUnsupported) << "an echo reply opens nothing";
  Bytes short_udp = udp(kH1, 5000, kR1, 53, 0);
  short_udp.resize(24);
  wr16(short_udp, 2, 24);
  set_ip_sum(short_udp);
  EXPECT_EQ(r.send(short_udp, kLan), Verdict::kTruncated);
  Bytes lying = udp(kH1, 5000, kR1, 53);
  wr16(lying, 2, static_cast<uint16_t>(lying.size() + 10));  // longer than what arrived
  Match m;
  EXPECT_EQ(r.e->pre(lying.data(), lying.size(), kLan, r.now, &m), Verdict::kTruncated);
  EXPECT_EQ(r.e->size(), 0u);
}

// ---- flush, restore ------------------------------------------------------------------------

TEST(NatEngine, FlushPortRemovesOnlyThatPortsMasqueradeSessions) {
  Rules rules = default_rules();
  rules.masquerade.push_back({kInsideNet, 24, kWan2});
  Router r({}, rules);
  std::array<uint64_t, 3072> words{};
  r.e->add_claim_bitmap(words.data());
  Bytes a = udp(kH1, 5000, kR1, 53);
  r.expect_translated(a, kLan, T(kOut, 5000, kR1, 53));
  Bytes b = tcp(kH1, 5001, kR2, 80, kSyn);
  r.expect_translated(b, kLan, T(kOut, 5001, kR2, 80));
  Bytes c = udp(kH2, 5002, kR1, 53);
  r.expect_translated(c, kLan, T(kWan2Addr, 5002, kR1, 53), kWan2);
  Bytes d = tcp(kR3, 33000, kOut, 8080, kSyn);
  r.expect_translated(d, kWan, T(kR3, 33000, kServer, 80));
  EXPECT_EQ(r.e->flush_port(kWan), 2u);
  EXPECT_EQ(r.e->size(), 2u);
  EXPECT_EQ(r.e->counters().flushed.load(), 2u);
  EXPECT_FALSE(claimed(words, 1, 5000));
  EXPECT_FALSE(claimed(words, 0, 5001));
  EXPECT_TRUE(claimed(words, 1, 5002));
  Bytes ra = udp(kR1, 53, kOut, 5000);
  EXPECT_EQ(r.send(ra, kWan), Verdict::kFiltered);
  Bytes rc = udp(kR1, 53, kWan2Addr, 5002);
  r.expect_translated(rc, kWan2, T(kR1, 53, kH2, 5002));
  Bytes rd = tcp(kServer, 80, kR3, 33000, kSyn | kAck);
  r.expect_translated(rd, kLan, T(kOut, 8080, kR3, 33000));
  // The ports are free: another host's new session takes 5001 as it is.
  Bytes e = tcp(kH2, 5001, kR2, 80, kSyn);
  r.expect_translated(e, kLan, T(kOut, 5001, kR2, 80));
  EXPECT_EQ(r.e->flush_port(kLan), 0u);
  EXPECT_EQ(r.e->flush_all(), 3u);
  EXPECT_EQ(r.e->size(), 0u);
  EXPECT_EQ(claims(words), 0u);
}

TEST(NatEngine, RestoreDestinationUndoesPre) {
  Router r;
  // A port-forwarded SYN.
  const Bytes syn_sent = tcp(kR1, 33000, kOut, 8080, kSyn, 9);
  Bytes syn = syn_sent;
  Match m;
  ASSERT_EQ(r.e->pre(syn.data(), syn.size(), kWan, r.now, &m), Verdict::kTranslated);
  ASSERT_NE(syn, syn_sent);
  r.e->restore_destination(syn.data(), syn.size(), m);
  EXPECT_EQ(syn, syn_sent);
  // A reply to a masqueraded connection, whole and in fragments.
  Bytes out = udp(kH1, 5000, kR1, 53);
  ASSERT_EQ(r.send(out, kLan), Verdict::kTranslated);
  const Bytes reply_sent = udp(kR1, 53, kOut, 5000, 40);
  Bytes reply = reply_sent;
  ASSERT_EQ(r.e->pre(reply.data(), reply.size(), kWan, r.now, &m), Verdict::kTranslated);
  ASSERT_NE(reply, reply_sent);
  r.e->restore_destination(reply.data(), reply.size(), m);
  EXPECT_EQ(reply, reply_sent);
  auto frags = fragment(udp(kR1, 53, kOut, 5000, 800, false, 0x1357), {400});
  ASSERT_EQ(r.send(frags[0], kWan), Verdict::kTranslated);
  const Bytes later_sent = frags[1];
  ASSERT_EQ(r.e->pre(frags[1].data(), frags[1].size(), kWan, r.now, &m), Verdict::kTranslated);
  ASSERT_TRUE(m.dest_rewritten);
  r.e->restore_destination(frags[1].data(), frags[1].size(), m);
  EXPECT_EQ(frags[1], later_sent);
  // Nothing rewritten, nothing restored.
  Bytes again = udp(kH1, 5000, kR1, 53);
  const Bytes again_sent = again;
  ASSERT_EQ(r.e->pre(again.data(), again.size(), kLan, r.now, &m), Verdict::kTranslated);
  EXPECT_FALSE(m.dest_rewritten);
  r.e->restore_destination(again.data(), again.size(), m);
  EXPECT_EQ(again, again_sent);
}

// ---- workers --------------------------------------------------------------------------------

// Several workers, each with its engine, every packet routed to owner() as nat-pre does.
struct Workers {
  explicit Workers(unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      EngineConfig cfg;
      cfg.workers = n;
      cfg.worker = i;
      cfg.max_sessions = 1024;
      es.push_back(std::make_unique<Engine>(cfg));
      es.back()->set_rules(&rules);
      es.back()->expire(now);
    }
  }
  Verdict send(Bytes& b, uint16_t rx, unsigned* w) {
    *w = es[0]->owner(b.data(), b.size(), static_cast<unsigned>(es.size()));
    for (auto& e : es)  // every worker computes the same owner
      EXPECT_EQ(e->owner(b.data(), b.size(), static_cast<unsigned>(es.size())), *w);
    EXPECT_LT(*w, es.size());
    return route(*es[*w % es.size()], rules, b, rx, now);
  }
  Rules rules = default_rules();
  std::vector<std::unique_ptr<Engine>> es;
  uint32_t now = 1000;
};

TEST(NatEngine, OwnerSendsBothDirectionsOfEverySessionToOneWorker) {
  for (unsigned n : {2u, 3u, 4u}) {
    SCOPED_TRACE(::testing::Message() << n << " workers");
    Workers ws(n);
    std::set<unsigned> used;
    size_t sessions = 0;
    for (unsigned i = 0; i < 24; ++i) {
      SCOPED_TRACE(i);
      unsigned w1, w2, w3;
      // Masquerade: TCP, UDP, ICMP echo in turn, and an error from a router on the way.
      const uint32_t host = kH1 + i % 8, remote = kR1 + i;
      const uint16_t port = static_cast<uint16_t>(30000 + i);
      const int kind = i % 3;
      Bytes out = kind == 0   ? tcp(host, port, remote, 443, kSyn)
                  : kind == 1 ? udp(host, port, remote, 53)
                              : echo(host, remote, kEchoRequest, port);
      ASSERT_EQ(ws.send(out, kLan, &w1), Verdict::kTranslated);
      const uint16_t x = tuple(out).sport;
      EXPECT_EQ((x - 1024u) % n, w1) << "the outside port is from the owner's share";
      used.insert(w1);
      Bytes back = kind == 0   ? tcp(remote, 443, kOut, x, kSyn | kAck)
                   : kind == 1 ? udp(remote, 53, kOut, x)
                               : echo(remote, kOut, kEchoReply, x);
      ASSERT_EQ(ws.send(back, kWan, &w2), Verdict::kTranslated);
      EXPECT_EQ(w2, w1);
      EXPECT_EQ(tuple(back).dst, host);
      Bytes err = icmp_error(kHop, kOut, kTimeExceeded, 0, out, 28);
      ASSERT_EQ(ws.send(err, kWan, &w3), Verdict::kTranslated);
      EXPECT_EQ(w3, w1);
      EXPECT_EQ(rd32(err, 16), host);
      verify(err);
      // Port forwarding: the SYN, the server's answer, errors about either.
      const uint32_t client = kR1 + 100 + i;
      Bytes syn = tcp(client, port, kOut, 8080, kSyn);
      ASSERT_EQ(ws.send(syn, kWan, &w1), Verdict::kTranslated);
      used.insert(w1);
      Bytes refused = icmp_error(kServer, client, kUnreachable, 3, syn);
      Bytes synack = tcp(kServer, 80, client, port, kSyn | kAck);
      ASSERT_EQ(ws.send(synack, kLan, &w2), Verdict::kTranslated);
      EXPECT_EQ(w2, w1);
      EXPECT_EQ(tuple(synack), T(kOut, 8080, client, port));
      ASSERT_EQ(ws.send(refused, kLan, &w3), Verdict::kTranslated);
      EXPECT_EQ(w3, w1);
      EXPECT_EQ(tuple(refused, 28), T(client, port, kOut, 8080));
      Bytes err2 = icmp_error(kHop, kOut, kUnreachable, 1, synack, 28);
      ASSERT_EQ(ws.send(err2, kWan, &w3), Verdict::kTranslated);
      EXPECT_EQ(w3, w1);
      EXPECT_EQ(rd32(err2, 16), kServer);
      // Hairpin: an inside client through the outside address.
      const uint32_t inner = ip4(10, 0, 2, 100 + i);
      Bytes hp = tcp(inner, port, kOut, 8080, kSyn);
      ASSERT_EQ(ws.send(hp, kLan, &w1), Verdict::kTranslated);
      const uint16_t hx = tuple(hp).sport;
      EXPECT_EQ(tuple(hp), T(kOut, hx, kServer, 80));
      Bytes hback = tcp(kServer, 80, kOut, hx, kSyn | kAck);
      ASSERT_EQ(ws.send(hback, kLan, &w2), Verdict::kTranslated);
      EXPECT_EQ(w2, w1);
      EXPECT_EQ(tuple(hback), T(kOut, 8080, inner, port));
      Bytes herr = icmp_error(kServer, kOut, kUnreachable, 3, hp, 28);
      ASSERT_EQ(ws.send(herr, kLan, &w3), Verdict::kTranslated);
      EXPECT_EQ(w3, w1);
      EXPECT_EQ(rd32(herr, 16), inner);
      sessions += 3;
    }
    EXPECT_GE(used.size(), 2u) << "owner() spreads sessions over the workers";
    size_t total = 0;
    for (auto& e : ws.es) total += e->size();
    EXPECT_EQ(total, sessions) << "no session was created twice";
  }
}

// With N workers the owner of a masquerade session is the remote's hash, so a mapping is
// endpoint-independent among the remotes of one worker (nat/README.md, "Workers"); and the
// fragments of a datagram, which carry no ports after the first, reach the first's worker.
TEST(NatEngine, WorkersKeepMappingsPerWorkerAndFragmentsTogether) {
  for (unsigned n : {2u, 3u, 4u}) {
    SCOPED_TRACE(::testing::Message() << n << " workers");
    Workers ws(n);
    std::map<unsigned, std::set<uint16_t>> ports;  // worker -> outside ports of kH1:60000
    for (unsigned i = 0; i < 16; ++i) {
      unsigned w;
      Bytes b = udp(kH1, 60000, kR1 + 200 + i, 53);
      ASSERT_EQ(ws.send(b, kLan, &w), Verdict::kTranslated);
      ports[w].insert(sport_of(b));
    }
    EXPECT_GE(ports.size(), 2u);
    for (const auto& [w, p] : ports) EXPECT_EQ(p.size(), 1u) << "worker " << w;

    for (unsigned i = 0; i < 8; ++i) {
      SCOPED_TRACE(i);
      const uint32_t remote = kR1 + 100 + i;
      auto out = fragment(udp(kH2, static_cast<uint16_t>(61000 + i), remote, 53, 900, false,
                              static_cast<uint16_t>(0x100 + i)),
                          {304, 608});
      std::set<unsigned> on;
      for (Bytes& f : out) {
        unsigned w;
        EXPECT_EQ(ws.send(f, kLan, &w), Verdict::kTranslated);
        on.insert(w);
      }
      EXPECT_EQ(on.size(), 1u);
      const Bytes sent = reassemble(out);
      verify(sent);
      const uint16_t x = sport_of(sent);
      auto back = fragment(udp(remote, 53, kOut, x, 900, false, static_cast<uint16_t>(0x200 + i)),
                           {304, 608});
      for (Bytes& f : back) {
        unsigned w;
        EXPECT_EQ(ws.send(f, kWan, &w), Verdict::kTranslated);
        on.insert(w);
      }
      EXPECT_EQ(on.size(), 1u) << "the reply's fragments on the session's worker";
      const Bytes got = reassemble(back);
      EXPECT_EQ(tuple(got), T(remote, 53, kH2, static_cast<uint16_t>(61000 + i)));
      verify(got);
    }
  }
}

// ---- the claim bitmap ----------------------------------------------------------------------

TEST(NatEngine, ClaimBitmapFollowsOutsidePorts) {
  Router r;
  std::array<uint64_t, 3072> words{}, second{};
  r.e->add_claim_bitmap(words.data());
  r.e->add_claim_bitmap(second.data());
  Bytes t = tcp(kH1, 40000, kR1, 80, kSyn);
  ASSERT_EQ(r.send(t, kLan), Verdict::kTranslated);
  Bytes u = udp(kH1, 5000, kR1, 53);
  ASSERT_EQ(r.send(u, kLan), Verdict::kTranslated);
  Bytes i = echo(kH1, kR1, kEchoRequest, 0x1234);
  ASSERT_EQ(r.send(i, kLan), Verdict::kTranslated);
  EXPECT_TRUE(claimed(words, 0, 40000));
  EXPECT_TRUE(claimed(words, 1, 5000));
  EXPECT_TRUE(claimed(words, 2, 0x1234));
  EXPECT_FALSE(claimed(words, 1, 40000)) << "TCP's port is TCP's";
  EXPECT_FALSE(claimed(words, 0, 5000));
  EXPECT_EQ(claims(words), 3u);
  EXPECT_EQ(words, second) << "every bitmap gets every claim";
  // The ICMP session expires first (60 s); then a second session on the UDP mapping, which
  // outlives the first one and the half-open TCP one (240 s).
  const Timeouts& t0 = r.e->config().timeouts;
  r.advance(t0.icmp);
  EXPECT_FALSE(claimed(words, 2, 0x1234));
  EXPECT_TRUE(claimed(words, 1, 5000));
  EXPECT_EQ(claims(words), 2u);
  Bytes u2 = udp(kH1, 5000, kR2, 53);
  ASSERT_EQ(r.send(u2, kLan), Verdict::kTranslated);
  r.advance(t0.udp - t0.icmp);
  EXPECT_EQ(r.e->size(), 1u);
  EXPECT_EQ(claims(words), 1u);
  EXPECT_TRUE(claimed(words, 1, 5000)) << "the UDP mapping has a live session";
  r.advance(t0.icmp);
  EXPECT_EQ(claims(words), 0u);
  EXPECT_EQ(words, second);
}

// ---- against a reference model -------------------------------------------------------------

// Masquerade (UDP, ICMP echo) and a UDP port forward with short timeouts, a small port range
// and a small table, so that port preservation, exhaustion, a full table, filtering and expiry
// all happen often. The model is plain maps; every step compares the verdict and the rewritten
// tuple, the session count, and now and then the whole session list and the claim bitmap.
// Fixed seed 4787 (RFC 4787), so a failure replays.
TEST(NatEngine, MatchesAReferenceModel) {
  constexpr uint16_t kFirst = 2000, kLast = 2015, kFwd = 2010;
  constexpr uint32_t kMax = 24;
  EngineConfig cfg;
  cfg.port_first = kFirst;
  cfg.port_last = kLast;
  cfg.max_sessions = kMax;
  cfg.timeouts.udp = 30;
  cfg.timeouts.icmp = 10;
  Rules rules = default_rules();
  rules.forward = {{Proto::kUdp, kFwd, 0, kAnyPort, kServer, 53}};
  Router r(cfg, rules);
  std::array<uint64_t, 3072> words{};
  r.e->add_claim_bitmap(words.data());

  // SNAT session: (proto, inside addr, inside port or ident, remote, remote port or ident).
  using Key = std::tuple<uint8_t, uint32_t, uint16_t, uint32_t, uint16_t>;
  struct Snat {
    uint16_t x;
    uint32_t deadline;
  };
  std::map<Key, Snat> snat;
  using MapKey = std::tuple<uint8_t, uint32_t, uint16_t>;
  struct Mapping {
    uint16_t x;
    int refs;
  };
  std::map<MapKey, Mapping> maps;
  std::map<std::pair<uint32_t, uint16_t>, uint32_t> dnat;  // remote endpoint -> deadline
  auto timeout = [&](uint8_t p) { return p == kIcmp ? cfg.timeouts.icmp : cfg.timeouts.udp; };
  auto size = [&] { return snat.size() + dnat.size(); };
  auto port_used = [&](uint8_t p, uint16_t x) {
    for (const auto& [k, m] : maps)
      if (std::get<0>(k) == p && m.x == x) return true;
    return false;
  };
  auto free_ports = [&](uint8_t p) {
    size_t n = 0;
    for (unsigned x = kFirst; x <= kLast; ++x)
      if (!port_used(p, static_cast<uint16_t>(x)) && !(p == kUdp && x == kFwd)) ++n;
    return n;
  };
  auto release = [&](const Key& k) {
    auto m = maps.find({std::get<0>(k), std::get<1>(k), std::get<2>(k)});
    ASSERT_NE(m, maps.end());
    if (--m->second.refs == 0) maps.erase(m);
  };

  std::mt19937 rng(4787);
  auto pick = [&](auto... v) {
    const std::array<std::common_type_t<decltype(v)...>, sizeof...(v)> a{v...};
    return a[rng() % a.size()];
  };
  const uint32_t hosts[] = {kH1, kH1 + 1, kH1 + 2, kH1 + 3, kH1 + 4, kH1 + 5, kH1 + 6, kServer};
  const uint32_t remotes[] = {kR1, kR2, kR3, kR3 + 1};
  size_t translated = 0, filtered = 0, refused = 0;

  for (int step = 0; step < 20000; ++step) {
    SCOPED_TRACE(::testing::Message() << "step " << step);
    const unsigned what = rng() % 20;
    if (what < 7) {  // from inside, out through wan
      const uint8_t p = rng() % 5 == 0 ? kIcmp : kUdp;
      const uint32_t h = hosts[rng() % 8];
      const uint16_t hp = h == kServer && p == kUdp
                              ? uint16_t{53}
                              : pick(uint16_t{2000}, uint16_t{2001}, uint16_t{2010}, uint16_t{2015},
                                     uint16_t{5000}, uint16_t{7});
      const uint32_t rem = remotes[rng() % 4];
      const uint16_t rp = p == kIcmp ? hp : pick(uint16_t{53}, uint16_t{123});
      Bytes b = p == kIcmp ? echo(h, rem, kEchoRequest, hp) : udp(h, hp, rem, rp);
      const Verdict v = r.send(b, kLan);
      const Key k{p, h, hp, rem, rp};
      Tuple want{};
      Verdict expect = Verdict::kTranslated;
      if (auto it = snat.find(k); it != snat.end()) {
        it->second.deadline = r.now + timeout(p);
        want = {kOut, rem, it->second.x, p == kIcmp ? it->second.x : rp};
      } else if (p == kUdp && h == kServer && hp == 53 && dnat.count({rem, rp})) {
        dnat[{rem, rp}] = r.now + timeout(p);
        want = {kOut, rem, kFwd, rp};
      } else {
        auto m = maps.find({p, h, hp});
        uint16_t x = 0;
        if (m == maps.end() && free_ports(p) == 0) {
          expect = Verdict::kPortsExhausted;
        } else if (size() == kMax) {
          expect = Verdict::kTableFull;
        } else if (m != maps.end()) {
          x = m->second.x;
          ++m->second.refs;
        } else {
          const bool keep =
              hp >= kFirst && hp <= kLast && !port_used(p, hp) && !(p == kUdp && hp == kFwd);
          if (v == Verdict::kTranslated) x = tuple(b).sport;
          if (keep) {
            EXPECT_EQ(x, hp) << "the inside port is kept when free";
          }
          EXPECT_TRUE(x >= kFirst && x <= kLast && !port_used(p, x) && !(p == kUdp && x == kFwd))
              << "a free port of the range: " << x;
          maps[{p, h, hp}] = {x, 1};
        }
        if (expect == Verdict::kTranslated) {
          snat[k] = {x, r.now + timeout(p)};
          want = {kOut, rem, x, p == kIcmp ? x : rp};
        }
      }
      ASSERT_EQ(v, expect);
      if (v == Verdict::kTranslated) {
        EXPECT_EQ(tuple(b), want);
        verify(b);
        ++translated;
      } else {
        ++refused;
      }
    } else if (what < 12) {  // a reply to a live (or recently expired) session
      if (snat.empty()) continue;
      auto it = snat.begin();
      std::advance(it, static_cast<long>(rng() % snat.size()));
      const auto [p, h, hp, rem, rp] = it->first;
      const uint16_t x = it->second.x;
      Bytes b = p == kIcmp ? echo(rem, kOut, kEchoReply, x) : udp(rem, rp, kOut, x);
      ASSERT_EQ(r.send(b, kWan), Verdict::kTranslated);
      EXPECT_EQ(tuple(b), (Tuple{rem, h, p == kIcmp ? hp : rp, hp}));
      verify(b);
      it->second.deadline = r.now + timeout(p);
      ++translated;
    } else if (what < 15) {  // from outside to the outside address, maybe unsolicited
      const uint8_t p = rng() % 4 == 0 ? kIcmp : kUdp;
      const uint32_t rem = remotes[rng() % 4];
      const uint16_t x = rng() % 8 == 0
                             ? pick(uint16_t{22}, uint16_t{1999}, uint16_t{2016})
                             : static_cast<uint16_t>(kFirst + rng() % (kLast - kFirst + 1));
      const uint16_t rp = p == kIcmp ? x : pick(uint16_t{53}, uint16_t{123}, uint16_t{9});
      const bool request = p == kIcmp && rng() % 2;
      Bytes b = p == kIcmp ? echo(rem, kOut, request ? kEchoRequest : kEchoReply, x)
                           : udp(rem, rp, kOut, x);
      const Bytes sent = b;
      const Verdict v = r.send(b, kWan);
      // The session whose reply side this is.
      const std::pair<const Key, Snat>* hit = nullptr;
      for (const auto& e : snat) {
        const auto& [sp, sh, shp, srem, srp] = e.first;
        if (sp == p && srem == rem && e.second.x == x && (p == kIcmp || srp == rp)) hit = &e;
      }
      if (hit && request) {
        EXPECT_EQ(v, Verdict::kBadDirection);
      } else if (hit) {
        EXPECT_EQ(v, Verdict::kTranslated);
        const auto& [sp, sh, shp, srem, srp] = hit->first;
        EXPECT_EQ(tuple(b), (Tuple{rem, sh, p == kIcmp ? shp : rp, shp}));
        verify(b);
        snat[hit->first].deadline = r.now + timeout(p);
      } else if (p == kUdp && x == kFwd) {
        const bool existing = dnat.count({rem, rp}) != 0;
        if (!existing && size() == kMax) {
          EXPECT_EQ(v, Verdict::kTableFull);
        } else {
          EXPECT_EQ(v, Verdict::kTranslated);
          EXPECT_EQ(tuple(b), (Tuple{rem, kServer, rp, 53}));
          verify(b);
          dnat[{rem, rp}] = r.now + timeout(p);
        }
      } else if (request || (p == kUdp && (x < kFirst || x > kLast))) {
        EXPECT_EQ(v, Verdict::kPass) << "the router's own";
        EXPECT_EQ(b, sent);
      } else {
        EXPECT_EQ(v, Verdict::kFiltered);
        EXPECT_EQ(b, sent);
        ++filtered;
      }
      if (::testing::Test::HasFailure()) FAIL() << "proto " << int{p} << " " << tuple(sent);
    } else if (what < 16) {  // the server answers a forwarded datagram
      if (dnat.empty()) continue;
      auto it = dnat.begin();
      std::advance(it, static_cast<long>(rng() % dnat.size()));
      const auto [rem, rp] = it->first;
      if (snat.count({kUdp, kServer, 53, rem, rp})) continue;  // the masquerade one wins
      Bytes b = udp(kServer, 53, rem, rp);
      ASSERT_EQ(r.send(b, kLan), Verdict::kTranslated);
      EXPECT_EQ(tuple(b), (Tuple{kOut, rem, kFwd, rp}));
      verify(b);
      it->second = r.now + timeout(kUdp);
    } else {  // time passes
      r.advance(rng() % 6);
      for (auto it = snat.begin(); it != snat.end();) {
        if (it->second.deadline <= r.now) {
          release(it->first);
          it = snat.erase(it);
        } else {
          ++it;
        }
      }
      std::erase_if(dnat, [&](const auto& e) { return e.second <= r.now; });
    }
    ASSERT_EQ(r.e->size(), size());
    if (step % 250 == 0 || step == 19999) {
      // The whole session list and the announced ports.
      std::vector<std::pair<FlowKey, FlowKey>> got, want;
      for (const SessionView& s : r.sessions()) got.push_back({s.orig, s.reply});
      for (const auto& [k, s] : snat) {
        const auto [p, h, hp, rem, rp] = k;
        const Proto pr = static_cast<Proto>(p);
        want.push_back(
            {FlowKey{h, rem, hp, rp, pr}, FlowKey{rem, kOut, p == kIcmp ? s.x : rp, s.x, pr}});
      }
      for (const auto& [e, d] : dnat)
        want.push_back({FlowKey{e.first, kOut, e.second, kFwd, Proto::kUdp},
                        FlowKey{kServer, e.first, 53, e.second, Proto::kUdp}});
      auto less = [](const auto& a, const auto& b) {
        auto t = [](const FlowKey& k) {
          return std::tuple(k.src, k.dst, k.sport, k.dport, static_cast<uint8_t>(k.proto));
        };
        return std::pair(t(a.first), t(a.second)) < std::pair(t(b.first), t(b.second));
      };
      std::sort(got.begin(), got.end(), less);
      std::sort(want.begin(), want.end(), less);
      ASSERT_TRUE(got == want);
      for (uint8_t p : {kUdp, kIcmp})
        for (unsigned x = kFirst; x <= kLast; ++x)
          ASSERT_EQ(claimed(words, p == kUdp ? 1 : 2, static_cast<uint16_t>(x)),
                    port_used(p, static_cast<uint16_t>(x)))
              << int{p} << " port " << x;
    }
  }
  // The run covered what it is for.
  EXPECT_GT(translated, 5000u);
  EXPECT_GT(filtered, 200u);
  EXPECT_GT(refused, 50u);
  EXPECT_GT(r.e->counters().table_full.load(), 0u);
  EXPECT_GT(r.e->counters().ports_exhausted.load(), 0u);
  EXPECT_GT(r.e->counters().expired.load(), 500u);
  RecordProperty("translated", static_cast<int>(translated));
  RecordProperty("table_full", static_cast<int>(r.e->counters().table_full.load()));
  RecordProperty("ports_exhausted", static_cast<int>(r.e->counters().ports_exhausted.load()));
}

}  // namespace
}  // namespace sluice::nat
