// fuzz_router.cpp — the fuzz targets' router configuration (fuzz_router.h).
#include "tests/fuzz/fuzz_router.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::fuzz {
namespace {

using pkt::addr;
using pkt::pfx;

void check(const std::string& err, const char* what) {
  if (!err.empty()) throw std::runtime_error(std::string("fuzz router: ") + what + ": " + err);
}

}  // namespace

std::unique_ptr<pkt::Router> make_router() {
  pkt::init_eal();
  pkt::RouterOptions opt;
  opt.extra_ports = kRingPorts - pkt::kPorts;
  opt.mbufs = 4096;
  opt.fdb_size = 1024;  // small: a flood of source MACs fills it
  opt.nat.max_sessions = 256;
  opt.nat.port_first = 20000;
  opt.nat.port_last = 20127;  // 128 ports per address: exhaustion is within reach
  auto r = std::make_unique<pkt::Router>(opt);
  Dataplane& dp = r->dp();
  ForwardingState& fs = dp.state();
  NeighbourResolver& nr = dp.neighbours();

  r->set_mtu(pkt::kP2, 1000);
  nr.add_static(pkt::kP0, addr("10.1.0.3"), MacAddr({0x02, 0x00, 0x00, 0x00, 0x01, 0x03}));

  // br0: VLAN-aware, p3 access 10, p4 access 20, p5 trunk of both; routed interface on 10.
  Bridges::Config b0;
  b0.name = "br0";
  b0.mac = kBr0Mac;
  b0.vlan_filtering = true;
  b0.bvi_pvid = 10;
  std::vector<Bridges::Member> m0(3);
  m0[0].port = 3;
  m0[0].pvid = 10;
  m0[0].vlans = {{10, true}};
  m0[1].port = 4;
  m0[1].pvid = 20;
  m0[1].vlans = {{20, true}};
  m0[2].port = 5;
  m0[2].pvid = 0;
  m0[2].vlans = {{10, false}, {20, false}};
  uint16_t bvi0 = 0;
  check(dp.bridges().add(b0, m0, &bvi0), "bridge br0");
  r->set_mtu(bvi0, 1500);
  check(fs.add_address(bvi0, addr("192.168.15.1"), 24), "address br0");
  nr.add_static(bvi0, addr("192.168.15.2"), kBridgeHost);
  check(dp.bridges().add_static("br0", kBridgeHost, uint16_t{3}, 10), "static fdb entry");

  // br1: a plain learning bridge whose routed interface has no address.
  Bridges::Config b1;
  b1.name = "br1";
  b1.mac = kBr1Mac;
  b1.ageing = 30;
  std::vector<Bridges::Member> m1(2);
  m1[0].port = 6;
  m1[1].port = 7;
  uint16_t bvi1 = 0;
  check(dp.bridges().add(b1, m1, &bvi1), "bridge br1");
  r->set_mtu(bvi1, 1500);

  RouteTarget t;
  t.gateway = addr("10.3.0.254");
  check(fs.replace_route(pfx("0.0.0.0", 0), t), "default route");
  RouteTarget via_g1, via_g2;
  via_g1.gateway = addr("10.2.0.254");
  via_g2.gateway = addr("10.3.0.254");
  via_g2.weight = 3;
  check(fs.replace_route(pfx("10.40.0.0", 16), std::vector<RouteTarget>{via_g1, via_g2}),
        "multipath route");
  RouteTarget unresolved;  // nobody answers for it: packets wait for ARP, then fail
  unresolved.gateway = addr("192.168.15.254");
  check(fs.replace_route(pfx("10.50.0.0", 16), unresolved), "route via the bridge");

  nat::Rules rules;
  rules.masquerade.push_back({.prefix = pkt::parse_ip("10.1.0.0"), .len = 24, .out_port = 1});
  rules.masquerade.push_back({.prefix = pkt::parse_ip("192.168.15.0"), .len = 24, .out_port = 1});
  rules.forward.push_back({.proto = nat::Proto::kTcp,
                           .port = 8080,
                           .addr = 0,
                           .in_port = nat::kAnyPort,
                           .to_addr = pkt::parse_ip("10.1.0.2"),
                           .to_port = 80});
  rules.forward.push_back({.proto = nat::Proto::kUdp,
                           .port = 5353,
                           .addr = 0,
                           .in_port = 1,
                           .to_addr = pkt::parse_ip("192.168.15.2"),
                           .to_port = 53});
  rules.forward.push_back({.proto = nat::Proto::kTcp,
                           .port = 2222,
                           .addr = pkt::parse_ip("10.3.0.1"),
                           .in_port = nat::kAnyPort,
                           .to_addr = pkt::parse_ip("10.1.0.3"),
                           .to_port = 22});
  dp.set_nat_rules(std::move(rules));
  r->run();
  return r;
}

}  // namespace sluice::fuzz
