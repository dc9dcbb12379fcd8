// tester_ports.h — the tester's ports: opened from `sluiced --port` specs with one RX and one TX
// queue, promiscuous. An interface name becomes a DPDK af_xdp port with the driver's own
// default XDP program (everything the queue receives goes to the socket: the tester answers ARP
// itself), not sluice's program, which would hand ARP and unknown traffic to the kernel.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>

#include "dataplane/ports.h"
#include "perf/linerate/frame_format.h"

namespace sluice::linerate {

struct EthStats {
  uint64_t ipackets = 0, opackets = 0, imissed = 0, ierrors = 0, oerrors = 0, rx_nombuf = 0;
  // AF_XDP ports: the kernel interface's own drop counters. DPDK's af_xdp driver does not
  // count the frames the kernel could not put in the socket's RX ring (ring full, fill ring
  // empty): veth counts them as RX drops of the interface, so the tester's own receive
  // losses show there and not as DUT loss.
  uint64_t kernel_rx_dropped = 0, kernel_tx_dropped = 0;
  EthStats operator-(const EthStats& o) const {
    return {ipackets - o.ipackets,
            opackets - o.opackets,
            imissed - o.imissed,
            ierrors - o.ierrors,
            oerrors - o.oerrors,
            rx_nombuf - o.rx_nombuf,
            kernel_rx_dropped - o.kernel_rx_dropped,
            kernel_tx_dropped - o.kernel_tx_dropped};
  }
};

struct TesterPort {
  std::string spec;  // as given
  PortSpec port_spec;
  uint16_t ethdev = 0;
  Mac mac{};
  uint32_t link_speed_mbps = 0;  // 0: unknown
  uint16_t mtu = 1500;
  std::string ifname;  // AF_XDP: the kernel interface
  bool af_xdp = false;
  bool created = false;  // a device this process made (AF_XDP, vdev): removed on close
  bool open = false;

  EthStats stats() const;
  // AF_XDP only: the interface's queue may stop for good on veth (see traffic.cpp); a down/up
  // restarts it. Runs `ip link set IF down && ip link set IF up` in the tester's own network
  // namespace and waits up to `wait_s` for the link to be up again. False if it is not.
  bool bounce_link(double wait_s) const;
};

// Opens the port (throws std::runtime_error naming the port and the reason).
TesterPort open_tester_port(const std::string& spec, const PortSpec& ps, rte_mempool* pool);
void close_tester_port(TesterPort& p);

}  // namespace sluice::linerate
