// packet_graph_seeds.cpp — writes the packet-graph target's seed corpus (corpus/packet-graph/):
// one real frame of each kind the router handles under fuzz_router.h's configuration, built with
// the packet tests' frame builder and prefixed with packet_graph_fuzz.cpp's three header bytes.
// Run by hand when the seeds change: fuzz-seeds-packet-graph DIR.
#include <cstdio>
#include <fstream>
#include <string>

#include "tests/fuzz/fuzz_router.h"
#include "tests/packet/frame.h"

namespace {

using sluice::MacAddr;
using sluice::pkt::Bytes;
using sluice::pkt::Frame;

const MacAddr kH0({0x02, 0x00, 0x00, 0x00, 0x01, 0x02});
const MacAddr kH1({0x02, 0x00, 0x00, 0x00, 0x02, 0x02});
const MacAddr kG1({0x02, 0x00, 0x00, 0x00, 0x02, 0xfe});
const MacAddr kH3({0x02, 0x00, 0x00, 0x00, 0x01, 0x03});
const MacAddr kStranger({0x02, 0x00, 0x00, 0x00, 0x09, 0x09});
const MacAddr kB({0x02, 0xaa, 0x00, 0x00, 0x00, 0x0b});
const MacAddr kC({0x02, 0xaa, 0x00, 0x00, 0x00, 0x0c});
const MacAddr kBcast({0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
const MacAddr kR[3] = {sluice::pkt::port_mac(0), sluice::pkt::port_mac(1),
                       sluice::pkt::port_mac(2)};
const MacAddr kA = sluice::fuzz::kBridgeHost;
const MacAddr kBr0 = sluice::fuzz::kBr0Mac;

std::string g_dir;
unsigned g_count = 0;

// mode: 0 pool mbuf, 1 exact heap buffer, 2 two segments split at `split`, 3 no headroom.
void seed(const char* name, unsigned port, const Frame& f, unsigned mode = 0, uint8_t clock = 0,
          uint8_t split = 0) {
  const Bytes b = f.bytes();
  std::ofstream out(g_dir + "/" + name, std::ios::binary);
  const char header[3] = {static_cast<char>(port | mode << 3), static_cast<char>(clock),
                          static_cast<char>(split)};
  out.write(header, 3);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  ++g_count;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  g_dir = argv[1];
  // ARP
  seed("arp-request-for-router", 0,
       Frame().eth(kH0, kBcast).arp_request(kH0, "10.1.0.2", "10.1.0.1"));
  seed("arp-request-from-stranger", 1,
       Frame().eth(kStranger, kBcast).arp_request(kStranger, "10.2.0.77", "10.2.0.1"));
  seed("arp-reply-unsolicited", 1,
       Frame().eth(kStranger, kR[1]).arp_reply(kStranger, "10.2.0.78", kR[1], "10.2.0.1"));
  seed("arp-spoof-router-address", 0,
       Frame().eth(kStranger, kBcast).arp_request(kStranger, "10.1.0.1", "10.1.0.2"));
  // ICMP to the router and through it
  seed("icmp-echo-to-router", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.1.0.1").icmp_echo(7, 1).payload(56));
  seed("icmp-echo-to-other-port-address", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.3.0.1").icmp_echo(7, 2).payload(56));
  seed("icmp-echo-masqueraded", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").icmp_echo(9, 1).payload(32));
  seed("icmp-echo-reply-to-masquerade", 1,
       Frame().eth(kG1, kR[1]).ip4("10.20.1.1", "10.2.0.1").icmp_echo_reply(20000, 1).payload(32));
  // UDP and TCP, masqueraded out of p1, and their answers
  seed("udp-masqueraded", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").udp(40000, 53).payload(30));
  seed("udp-reply-to-masquerade", 1,
       Frame().eth(kG1, kR[1]).ip4("10.20.1.1", "10.2.0.1").udp(53, 20000).payload(30));
  seed("tcp-syn-masqueraded", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").tcp(40001, 443, 100, 0, 0x02));
  seed("tcp-synack-to-masquerade", 1,
       Frame().eth(kG1, kR[1]).ip4("10.20.1.1", "10.2.0.1").tcp(443, 20001, 500, 101, 0x12));
  seed("tcp-rst-to-masquerade", 1,
       Frame().eth(kG1, kR[1]).ip4("10.20.1.1", "10.2.0.1").tcp(443, 20001, 501, 0, 0x04));
  seed("tcp-fin-ack-inside", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").tcp(40001, 443, 101, 501, 0x11));
  // Port forwarding: tcp:8080 -> 10.1.0.2:80, udp:5353 -> 192.168.15.2:53 (in p1),
  // tcp 10.3.0.1:2222 -> 10.1.0.3:22; the inside answer; a hairpin from inside.
  seed("tcp-syn-to-forwarded-port", 1,
       Frame().eth(kG1, kR[1]).ip4("10.20.1.1", "10.2.0.1").tcp(5555, 8080, 1, 0, 0x02));
  seed("tcp-synack-from-forwarded-server", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").tcp(80, 5555, 9, 2, 0x12));
  seed("udp-to-forwarded-port-bridge-host", 1,
       Frame().eth(kH1, kR[1]).ip4("10.2.0.2", "10.2.0.1").udp(6000, 5353).payload(20));
  seed("tcp-syn-to-address-specific-forward", 2,
       Frame().eth(kStranger, kR[2]).ip4("10.3.0.9", "10.3.0.1").tcp(7000, 2222, 1, 0, 0x02));
  seed("tcp-hairpin", 0,
       Frame().eth(kH3, kR[0]).ip4("10.1.0.3", "10.2.0.1").tcp(41000, 8080, 1, 0, 0x02));
  seed("icmp-unreachable-about-masqueraded-udp", 1,
       Frame()
           .eth(kG1, kR[1])
           .ip4("10.20.1.1", "10.2.0.1")
           .icmp_error(
               3, 3,
               Frame().no_eth().ip4("10.2.0.1", "10.20.1.1").udp(20000, 53).payload(8).bytes()));
  // Routing: longest prefix, multipath, default, rejects, unresolved gateway, TTL, MTU
  seed("udp-longest-prefix-via-g2", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.30.5").udp(1000, 9).payload(10));
  seed("udp-multipath", 1,
       Frame().eth(kH1, kR[1]).ip4("10.2.0.2", "10.40.7.7").udp(1001, 9).payload(10));
  seed("udp-default-route", 1,
       Frame().eth(kH1, kR[1]).ip4("10.2.0.2", "8.8.8.8").udp(1002, 53).payload(10));
  seed("udp-blackhole", 0, Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.30.0.1").udp(1, 2));
  seed("udp-unreachable", 0, Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.31.0.1").udp(1, 2));
  seed("udp-prohibit", 0, Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.32.0.1").udp(1, 2));
  seed("udp-unresolved-gateway", 2,
       Frame().eth(kStranger, kR[2]).ip4("10.3.0.9", "10.50.1.1").udp(1003, 9).payload(10));
  seed("udp-unresolved-on-link", 2,
       Frame().eth(kStranger, kR[2]).ip4("10.3.0.9", "10.1.0.99").udp(1004, 9).payload(10));
  seed("udp-ttl-1", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").ttl(1).udp(1005, 33434));
  seed("udp-big-fragmented-to-p2", 1,
       Frame().eth(kH1, kR[1]).ip4("10.2.0.2", "10.3.0.2").udp(1006, 9).payload(1300));
  seed("udp-big-df-to-p2", 1,
       Frame().eth(kH1, kR[1]).ip4("10.2.0.2", "10.3.0.2").df().udp(1007, 9).payload(1300));
  seed("ip-options", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").options({0x07, 0x07, 0x04}).udp(1, 2));
  seed("ip-bad-checksum", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").bad_ip_checksum().udp(1, 2));
  seed("ip-broadcast-dst", 0, Frame().eth(kH0, kBcast).ip4("10.1.0.2", "10.1.0.255").udp(137, 137));
  // Fragments: masqueraded (first, middle), and to the router
  seed("udp-fragment-first-masqueraded", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").id(77).mf().udp(40002, 53).payload(64));
  seed("udp-fragment-next-masqueraded", 0,
       Frame()
           .eth(kH0, kR[0])
           .ip4("10.1.0.2", "10.20.1.1")
           .id(77)
           .offset(72)
           .protocol(17)
           .payload(40));
  seed("icmp-fragment-to-router", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.1.0.1").id(78).mf().icmp_echo(1, 1).payload(48));
  // Bridges: br0 (p3 access 10, p4 access 20, p5 trunk 10+20), br1 (p6, p7)
  seed("br0-broadcast-access-10", 3,
       Frame().eth(kA, kBcast).ip4("192.168.15.2", "192.168.15.255").udp(9, 9).payload(8));
  seed("br0-unknown-unicast-access-20", 4,
       Frame().eth(kB, kC).ip4("192.168.20.2", "192.168.20.3").udp(9, 9).payload(8));
  seed("br0-trunk-vlan-10-to-a", 5,
       Frame().eth(kC, kA).vlan(10).ip4("192.168.15.3", "192.168.15.2").udp(9, 9).payload(8));
  seed("br0-trunk-vlan-20-broadcast", 5,
       Frame().eth(kC, kBcast).vlan(20).arp_request(kC, "192.168.20.3", "192.168.20.2"));
  seed("br0-trunk-vlan-30-not-member", 5,
       Frame().eth(kC, kBcast).vlan(30).ip4("192.168.30.3", "192.168.30.255").udp(9, 9));
  seed("br0-arp-for-bvi", 3,
       Frame().eth(kA, kBcast).arp_request(kA, "192.168.15.2", "192.168.15.1"));
  seed("br0-ping-bvi", 3,
       Frame().eth(kA, kBr0).ip4("192.168.15.2", "192.168.15.1").icmp_echo(3, 1).payload(16));
  seed("br0-trunk-ping-bvi", 5,
       Frame()
           .eth(kC, kBr0)
           .vlan(10)
           .ip4("192.168.15.3", "192.168.15.1")
           .icmp_echo(4, 1)
           .payload(16));
  seed("br0-routed-and-masqueraded", 3,
       Frame().eth(kA, kBr0).ip4("192.168.15.2", "10.20.1.1").tcp(42000, 80, 1, 0, 0x02));
  seed(
      "br0-qinq", 5,
      Frame().eth(kC, kA).vlan(100, 0x88a8).vlan(10).ip4("192.168.15.3", "192.168.15.2").udp(9, 9));
  seed("br0-link-local-group", 3,
       Frame().eth(kA, MacAddr({0x01, 0x80, 0xc2, 0, 0, 0}), 0x0027).payload(40));
  seed("br1-unknown-unicast", 6,
       Frame().eth(kB, kC).ip4("172.16.0.2", "172.16.0.3").udp(9, 9).payload(8));
  seed("br1-broadcast", 7, Frame().eth(kC, kBcast).arp_request(kC, "172.16.0.3", "172.16.0.2"));
  seed("routed-to-bridge-host", 0,
       Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "192.168.15.2").udp(1008, 9).payload(10));
  // The same transit frame held in each kind of mbuf, and with clock jumps
  const Frame transit =
      Frame().eth(kH1, kR[1]).ip4("10.2.0.2", "10.3.0.2").udp(1009, 9).payload(100);
  seed("mbuf-exact-heap-buffer", 1, transit, 1);
  seed("mbuf-two-segments", 1, transit, 2, 0, 20);
  seed("mbuf-no-headroom", 1, transit, 3);
  seed("mbuf-exact-bridged-vlan-push", 3,
       Frame().eth(kA, kC).ip4("192.168.15.2", "192.168.15.3").udp(9, 9).payload(8), 1);
  seed("clock-jump-301s", 0, Frame().eth(kH0, kR[0]).ip4("10.1.0.2", "10.20.1.1").udp(40000, 53), 0,
       5);
  seed("clock-jump-7441s", 1, Frame().eth(kH1, kR[1]).ip4("10.2.0.2", "10.1.0.2").udp(1, 2), 0, 6);
  printf("%u seeds written to %s\n", g_count, g_dir.c_str());
  return 0;
}
