// ring_ports.h — the benchmarks' two ring ports: p0 and p1 as DPDK net_ring ethdevs, each an
// RX and a TX ring the benchmark fills and drains itself, and a DataplaneConfig holding them
// (graphs driven by the caller, enough mbufs for `packets` in flight). EAL must be up.
#pragma once

#include <rte_eth_ring.h>
#include <rte_ring.h>

#include <string>

#include "dataplane/dataplane.h"

namespace sluice::bench {

struct RingPorts {
  // rings[0] p0 RX (frames in), rings[1] p0 TX, rings[2] p1 RX, rings[3] p1 TX (frames out).
  rte_ring* rings[4];
  DataplaneConfig config;
};

inline RingPorts make_ring_ports(const std::string& tag, unsigned packets) {
  RingPorts r;
  // Names are appended to, not built with operator+ on a literal: GCC 12 -Wrestrict (PR 105329).
  for (int i = 0; i < 4; ++i) {
    std::string name = tag;
    name += std::to_string(i);
    r.rings[i] = rte_ring_create(name.c_str(), 16384, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  }
  for (int p = 0; p < 2; ++p) {
    std::string name = tag;
    name += "-p";
    name += std::to_string(p);
    PortSpec s;
    s.kind = PortSpec::Kind::kEthdev;
    s.name = "p";
    s.name += std::to_string(p);
    s.ethdev = static_cast<uint16_t>(
        rte_eth_from_rings(name.c_str(), &r.rings[2 * p], 1, &r.rings[2 * p + 1], 1, 0));
    r.config.ports.push_back(s);
  }
  r.config.launch_workers = false;
  r.config.mbufs = packets * 2 + 8192;
  return r;
}

}  // namespace sluice::bench
