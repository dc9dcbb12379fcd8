// fuzz_router.h — the router the packet-graph and control-protocol fuzz targets drive: the
// packet tests' ring-port router (tests/packet/ring_router.h) with everything sluice can be
// configured with switched on at once, so that a frame or a command can reach every node and
// table: LPM routes of each kind (unicast, ECMP, default, blackhole, unreachable, prohibit, one
// through an unresolved gateway), static neighbours, NAT masquerade and port forwarding with a
// small port range and session table (exhaustion is reachable), a VLAN-aware bridge with
// access and trunk members and a routed interface, a plain bridge, and a small MTU.
//
// Ring ports (frames go in on these):
//   p0 10.1.0.1/24   inside, masqueraded out of p1
//   p1 10.2.0.1/24   outside; tcp:8080 -> 10.1.0.2:80, udp:5353 -> 192.168.15.2:53 (in p1),
//                    tcp 10.3.0.1:2222 -> 10.1.0.3:22
//   p2 10.3.0.1/24   MTU 1000; the default route's way out (via 10.3.0.254)
//   p3, p4, p5       br0, VLAN-aware: p3 access VLAN 10, p4 access VLAN 20, p5 trunk 10+20;
//                    its routed interface br0 holds 192.168.15.1/24 on VLAN 10, masqueraded
//   p6, p7           br1, no VLAN filtering, short ageing; its routed interface has no address
#pragma once

#include <cstdint>
#include <memory>

#include "tests/packet/ring_router.h"

namespace sluice::fuzz {

inline constexpr uint16_t kRingPorts = 8;
inline constexpr MacAddr kBr0Mac({0x02, 0xbb, 0x00, 0x00, 0x00, 0x01});
inline constexpr MacAddr kBr1Mac({0x02, 0xbb, 0x00, 0x00, 0x00, 0x02});
inline constexpr MacAddr kBridgeHost({0x02, 0xaa, 0x00, 0x00, 0x00, 0x0a});  // 192.168.15.2

// EAL (once) and a router configured as above. Throws if any step is refused.
std::unique_ptr<pkt::Router> make_router();

}  // namespace sluice::fuzz
