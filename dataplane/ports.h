// ports.h — the three kinds of port behind `--port SPEC`, opened as DPDK ethdevs so that the
// whole graph runs the same code on each:
//   IFNAME        a kernel netdev through DPDK's af_xdp driver, with sluice's XDP program
//   pci:ADDR      a NIC bound to vfio-pci (EAL allow-listed by the caller)
//   vdev:STRING   any DPDK virtual device (net_tap, net_memif, net_ring, net_null, net_pcap)
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>

#include "dataplane/mac_addr.h"

namespace sluice {

struct PortSpec {
  enum class Kind : uint8_t { kKernel, kPci, kVdev, kEthdev };
  Kind kind = Kind::kKernel;
  std::string name;     // what `--addr NAME=...` and the CLI call the port
  std::string device;   // vdev string, PCI address or interface name
  uint16_t ethdev = 0;  // kEthdev: an ethdev the caller created (tests: rte_eth_from_rings)

  // Throws std::invalid_argument with a message naming what is wrong.
  static PortSpec parse(const std::string& spec);
};

// Mbufs DPDK 22.11's af_xdp driver posts to each queue's fill ring when the queue is set up
// (ETH_AF_XDP_DFLT_NUM_DESCS, whatever the ring size) and does not give back to the pool when
// the port is closed: re-opening a port (Dataplane::reattach_port) costs this many per queue.
inline constexpr unsigned kAfXdpFillMbufs = 2048;

struct OpenedPort {
  std::string name;
  uint16_t ethdev;
  MacAddr mac;
  uint16_t mtu;
  bool kernel_twin;  // AF_XDP: there is a kernel interface behind it
  int ifindex;       // kernel_twin only
  bool created;      // sluice created the DPDK device (AF_XDP, vdev) and removes it on close
  uint16_t queues;   // RX and TX queues configured: min(workers, what the device offers)
};

// Creates (for vdev and AF_XDP), configures up to `queues` RX and TX queues (fewer if the
// device has fewer; an AF_XDP port gets one per channel of the interface, so that no queue is
// left without a socket) and starts the port.
// Throws std::runtime_error naming the port and the reason.
OpenedPort open_port(const PortSpec& spec, uint16_t queues, rte_mempool* pool, uint16_t rx_desc,
                     uint16_t tx_desc, const std::string& xdp_object);
void close_port(const OpenedPort& p);

// RX queues the kernel created for an interface (/sys/class/net/IF/queues/rx-*): each needs an
// AF_XDP socket, or what is hashed to it goes to the kernel. 0 if there is no such interface.
unsigned kernel_rx_queues(const std::string& ifname);

}  // namespace sluice
