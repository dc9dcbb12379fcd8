// nat_rules_test.cpp — the rules' text forms (what --masquerade, --forward, --nat-ports and
// `sluice nat ... add/del` accept, what they refuse and why, and the canonical form they print
// back) and the matching Rules does for the engine.
#include <gtest/gtest.h>

#include <string>

#include "nat/rules.h"

namespace sluice::nat {
namespace {

constexpr uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d;
}

TEST(ParseMasquerade, Good) {
  std::string err;
  const auto s = parse_masquerade("192.168.15.0/24,out=eth0", &err);
  ASSERT_TRUE(s) << err;
  EXPECT_EQ(s->prefix, ip(192, 168, 15, 0));
  EXPECT_EQ(s->len, 24);
  EXPECT_EQ(s->out, "eth0");

  const auto all = parse_masquerade("0.0.0.0/0,out=wan", &err);
  ASSERT_TRUE(all) << err;
  EXPECT_EQ(all->prefix, 0u);
  EXPECT_EQ(all->len, 0);

  const auto host = parse_masquerade("10.0.0.5,out=vdev0", &err);  // a bare address: a /32
  ASSERT_TRUE(host) << err;
  EXPECT_EQ(host->len, 32);
  EXPECT_EQ(format(*host), "10.0.0.5/32,out=vdev0");
}

// Each bad input and a piece of the message that must name what is wrong.
struct Bad {
  const char* text;
  const char* says;
};

TEST(ParseMasquerade, BadInputsSayWhatIsWrong) {
  const Bad cases[] = {
      {"192.168.15.0/24", "no out=PORT"},
      {"192.168.15.1/24,out=eth0", "host bits set (did you mean 192.168.15.0/24?)"},
      {"192.168.15.0/33,out=eth0", "length must be 0-32"},
      {"192.168.15.0/,out=eth0", "length must be 0-32"},
      {"192.168.15.0/024,out=eth0", "length must be 0-32"},
      {"192.168.300.0/24,out=eth0", "'192.168.300.0' is not an IPv4 address"},
      {"lan,out=eth0", "'lan' is not an IPv4 address"},
      {"192.168.15.0/24,", "missing out=PORT"},
      {"192.168.15.0/24,out=", "out= needs a port name"},
      {"192.168.15.0/24,in=eth0", "unknown option 'in=eth0'"},
      {"192.168.15.0/24,out=eth0,out=eth1", "out= given twice"},
      {"192.168.15.0/24,out=eth0,", "empty option"},
      {"", "no out=PORT"},
  };
  for (const Bad& c : cases) {
    std::string err;
    EXPECT_FALSE(parse_masquerade(c.text, &err)) << c.text;
    EXPECT_NE(err.find(c.says), std::string::npos) << c.text << " -> " << err;
  }
  EXPECT_FALSE(parse_masquerade("x", nullptr));  // no error string wanted: no crash
}

TEST(ParseForward, Good) {
  std::string err;
  const auto a = parse_forward("tcp:8080=192.168.15.2:80", &err);
  ASSERT_TRUE(a) << err;
  EXPECT_EQ(a->rule.proto, Proto::kTcp);
  EXPECT_EQ(a->rule.port, 8080);
  EXPECT_EQ(a->rule.addr, 0u);
  EXPECT_EQ(a->rule.in_port, kAnyPort);
  EXPECT_EQ(a->rule.to_addr, ip(192, 168, 15, 2));
  EXPECT_EQ(a->rule.to_port, 80);
  EXPECT_EQ(a->in, "");

  const auto b = parse_forward("udp:203.0.113.1:53=10.0.0.2:5353,in=wan", &err);
  ASSERT_TRUE(b) << err;
  EXPECT_EQ(b->rule.proto, Proto::kUdp);
  EXPECT_EQ(b->rule.addr, ip(203, 0, 113, 1));
  EXPECT_EQ(b->rule.port, 53);
  EXPECT_EQ(b->rule.to_addr, ip(10, 0, 0, 2));
  EXPECT_EQ(b->rule.to_port, 5353);
  EXPECT_EQ(b->in, "wan");

  const auto edges = parse_forward("tcp:1=10.0.0.2:65535", &err);
  ASSERT_TRUE(edges) << err;
  EXPECT_EQ(edges->rule.port, 1);
  EXPECT_EQ(edges->rule.to_port, 65535);
}

TEST(ParseForward, BadInputsSayWhatIsWrong) {
  const Bad cases[] = {
      {"tcp:8080", "one '='"},
      {"tcp:8080=10.0.0.2:80=x", "one '='"},
      {"8080=10.0.0.2:80", "missing PROTO:"},
      {"icmp:8080=10.0.0.2:80", "protocol 'icmp' is not tcp or udp"},
      {"TCP:8080=10.0.0.2:80", "protocol 'TCP' is not tcp or udp"},
      {"tcp:0=10.0.0.2:80", "port '0' is not a port number (1-65535)"},
      {"tcp:65536=10.0.0.2:80", "port '65536' is not a port number"},
      {"tcp:http=10.0.0.2:80", "port 'http' is not a port number"},
      {"tcp:=10.0.0.2:80", "port '' is not a port number"},
      {"tcp:-1=10.0.0.2:80", "port '-1' is not a port number"},
      {"tcp:8080=10.0.0.2", "destination '10.0.0.2' is not ADDR:PORT"},
      {"tcp:8080=10.0.0.2:0", "destination port '0' is not a port number"},
      {"tcp:8080=10.0.0.2:99999", "destination port '99999' is not a port number"},
      {"tcp:8080=server:80", "destination address 'server' is not an IPv4 address"},
      {"tcp:8080=0.0.0.0:80", "destination address '0.0.0.0' is not a unicast address"},
      {"tcp:8080=224.0.0.1:80", "destination address '224.0.0.1' is not a unicast address"},
      {"tcp:8080=255.255.255.255:80", "is not a unicast address"},
      {"tcp:8080=127.0.0.1:80", "is not a unicast address"},
      {"tcp:1.2.3:8080=10.0.0.2:80", "address '1.2.3' is not an IPv4 address"},
      {"tcp:0.0.0.0:8080=10.0.0.2:80", "address '0.0.0.0' is not a unicast address"},
      {"tcp:8080=10.0.0.2:80,in=", "in= needs a port name"},
      {"tcp:8080=10.0.0.2:80,out=wan", "unknown option 'out=wan'"},
      {"tcp:8080=10.0.0.2:80,in=a,in=b", "in= given twice"},
      {"", "one '='"},
  };
  for (const Bad& c : cases) {
    std::string err;
    EXPECT_FALSE(parse_forward(c.text, &err)) << c.text;
    EXPECT_NE(err.find(c.says), std::string::npos) << c.text << " -> " << err;
  }
}

TEST(ParsePortRange, GoodAndBad) {
  std::string err;
  EXPECT_EQ(parse_port_range("1024-65535", &err), std::make_pair(uint16_t{1024}, uint16_t{65535}));
  EXPECT_EQ(parse_port_range("1-1", &err), std::make_pair(uint16_t{1}, uint16_t{1}));
  const Bad cases[] = {
      {"1024", "not a port range FIRST-LAST"},
      {"0-100", "first '0' is not a port number"},
      {"100-65536", "last '65536' is not a port number"},
      {"2000-1000", "first port is above the last"},
      {"a-b", "first 'a'"},
      {"-", "first ''"},
      {"10-20-30", "last '20-30'"},
  };
  for (const Bad& c : cases) {
    err.clear();
    EXPECT_FALSE(parse_port_range(c.text, &err)) << c.text;
    EXPECT_NE(err.find(c.says), std::string::npos) << c.text << " -> " << err;
  }
}

TEST(Format, RoundTrips) {
  for (const char* t : {"192.168.15.0/24,out=eth0", "0.0.0.0/0,out=wan", "10.1.2.3/32,out=x",
                        "128.0.0.0/1,out=vdev:net_null0"}) {
    std::string err;
    const auto s = parse_masquerade(t, &err);
    ASSERT_TRUE(s) << t << ": " << err;
    EXPECT_EQ(format(*s), t);
  }
  for (const char* t : {"tcp:8080=192.168.15.2:80", "udp:203.0.113.1:53=10.0.0.2:53,in=wan",
                        "udp:1=10.0.0.2:65535", "tcp:443=10.0.0.9:8443,in=r1"}) {
    std::string err;
    const auto s = parse_forward(t, &err);
    ASSERT_TRUE(s) << t << ": " << err;
    EXPECT_EQ(format(*s), t);
    const auto again = parse_forward(format(*s), &err);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->rule, s->rule);
    EXPECT_EQ(again->in, s->in);
  }
  // Non-canonical spellings come back canonical.
  EXPECT_EQ(format(*parse_masquerade("default,out=wan", nullptr)), "0.0.0.0/0,out=wan");
}

TEST(ProtoName, Names) {
  EXPECT_STREQ(proto_name(Proto::kTcp), "tcp");
  EXPECT_STREQ(proto_name(Proto::kUdp), "udp");
  EXPECT_STREQ(proto_name(Proto::kIcmp), "icmp");
}

ForwardRule fwd(Proto p, uint16_t port, uint32_t addr, uint16_t in, uint32_t to, uint16_t tp) {
  ForwardRule r;
  r.proto = p;
  r.port = port;
  r.addr = addr;
  r.in_port = in;
  r.to_addr = to;
  r.to_port = tp;
  return r;
}

TEST(Rules, FindForward) {
  Rules r;
  r.router_addresses = {ip(192, 168, 15, 1), ip(203, 0, 113, 1)};  // sorted
  r.forward.push_back(fwd(Proto::kTcp, 8080, 0, kAnyPort, ip(192, 168, 15, 2), 80));
  r.forward.push_back(fwd(Proto::kUdp, 53, ip(203, 0, 113, 1), 1, ip(10, 0, 0, 2), 53));
  // Any router address, any ingress port.
  const ForwardRule* f = r.find_forward(Proto::kTcp, ip(203, 0, 113, 1), 8080, 0);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->to_port, 80);
  EXPECT_NE(r.find_forward(Proto::kTcp, ip(192, 168, 15, 1), 8080, 3), nullptr);
  // Not a router address, another protocol, another port.
  EXPECT_EQ(r.find_forward(Proto::kTcp, ip(198, 51, 100, 1), 8080, 0), nullptr);
  EXPECT_EQ(r.find_forward(Proto::kUdp, ip(203, 0, 113, 1), 8080, 0), nullptr);
  EXPECT_EQ(r.find_forward(Proto::kTcp, ip(203, 0, 113, 1), 8081, 0), nullptr);
  // An address and an ingress port: both must match.
  EXPECT_NE(r.find_forward(Proto::kUdp, ip(203, 0, 113, 1), 53, 1), nullptr);
  EXPECT_EQ(r.find_forward(Proto::kUdp, ip(203, 0, 113, 1), 53, 2), nullptr);
  EXPECT_EQ(r.find_forward(Proto::kUdp, ip(192, 168, 15, 1), 53, 1), nullptr);
  // A rule with an address matches it even when it is not (yet) a router address.
  r.forward.push_back(fwd(Proto::kTcp, 22, ip(198, 51, 100, 7), kAnyPort, ip(10, 0, 0, 3), 22));
  EXPECT_NE(r.find_forward(Proto::kTcp, ip(198, 51, 100, 7), 22, 5), nullptr);
  // The first matching rule wins.
  r.forward.push_back(fwd(Proto::kTcp, 8080, 0, kAnyPort, ip(192, 168, 15, 9), 80));
  EXPECT_EQ(r.find_forward(Proto::kTcp, ip(203, 0, 113, 1), 8080, 0)->to_addr, ip(192, 168, 15, 2));
}

TEST(Rules, IsForwardPort) {
  Rules r;
  r.forward.push_back(fwd(Proto::kTcp, 8080, 0, 1, ip(192, 168, 15, 2), 80));
  r.forward.push_back(fwd(Proto::kUdp, 53, ip(203, 0, 113, 1), kAnyPort, ip(10, 0, 0, 2), 53));
  // Whatever the ingress port, and for a rule without an address whatever the address.
  EXPECT_TRUE(r.is_forward_port(Proto::kTcp, ip(1, 2, 3, 4), 8080));
  EXPECT_FALSE(r.is_forward_port(Proto::kUdp, ip(1, 2, 3, 4), 8080));
  EXPECT_TRUE(r.is_forward_port(Proto::kUdp, ip(203, 0, 113, 1), 53));
  EXPECT_FALSE(r.is_forward_port(Proto::kUdp, ip(203, 0, 113, 2), 53));
  EXPECT_FALSE(r.is_forward_port(Proto::kTcp, ip(203, 0, 113, 1), 53));
}

TEST(Rules, FindMasqueradeAndIsInside) {
  Rules r;
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.is_inside(ip(192, 168, 15, 2)));
  r.masquerade.push_back({ip(192, 168, 15, 0), 24, 1});
  r.masquerade.push_back({ip(192, 168, 16, 0), 24, 1});
  r.masquerade.push_back({ip(10, 0, 0, 0), 8, 2});
  EXPECT_FALSE(r.empty());
  const MasqueradeRule* m = r.find_masquerade(ip(192, 168, 15, 77), 1);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->prefix, ip(192, 168, 15, 0));
  EXPECT_EQ(r.find_masquerade(ip(192, 168, 16, 255), 1)->prefix, ip(192, 168, 16, 0));
  EXPECT_EQ(r.find_masquerade(ip(192, 168, 15, 77), 2), nullptr);  // another egress port
  EXPECT_EQ(r.find_masquerade(ip(192, 168, 17, 1), 1), nullptr);
  EXPECT_NE(r.find_masquerade(ip(10, 200, 0, 1), 2), nullptr);
  // Inside is about the source alone, whatever the port.
  EXPECT_TRUE(r.is_inside(ip(10, 200, 0, 1)));
  EXPECT_TRUE(r.is_inside(ip(192, 168, 16, 0)));
  EXPECT_FALSE(r.is_inside(ip(11, 0, 0, 1)));
  EXPECT_FALSE(r.is_inside(ip(192, 168, 14, 255)));
  // 0.0.0.0/0: everything, on its port.
  Rules all;
  all.masquerade.push_back({0, 0, 3});
  EXPECT_NE(all.find_masquerade(ip(8, 8, 8, 8), 3), nullptr);
  EXPECT_EQ(all.find_masquerade(ip(8, 8, 8, 8), 4), nullptr);
  EXPECT_TRUE(all.is_inside(ip(255, 255, 255, 255)));
  // A /32 is one host.
  Rules one;
  one.masquerade.push_back({ip(10, 0, 0, 5), 32, 0});
  EXPECT_NE(one.find_masquerade(ip(10, 0, 0, 5), 0), nullptr);
  EXPECT_EQ(one.find_masquerade(ip(10, 0, 0, 4), 0), nullptr);
}

TEST(Rules, ForwardSameMatchIgnoresTheTarget) {
  ForwardRule a = fwd(Proto::kTcp, 8080, 0, kAnyPort, ip(192, 168, 15, 2), 80);
  ForwardRule b = a;
  b.to_addr = ip(192, 168, 15, 3);
  b.to_port = 8080;
  EXPECT_TRUE(a.same_match(b));
  EXPECT_FALSE(a == b);
  b.in_port = 1;
  EXPECT_FALSE(a.same_match(b));
  b = a;
  b.addr = ip(203, 0, 113, 1);
  EXPECT_FALSE(a.same_match(b));
  b = a;
  b.proto = Proto::kUdp;
  EXPECT_FALSE(a.same_match(b));
}

}  // namespace
}  // namespace sluice::nat
