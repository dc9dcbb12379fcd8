// ports.cpp — opening ports. AF_XDP ports go through DPDK's own af_xdp driver (xdp_prog=
// devarg): it loads sluice's program, creates one AF_XDP socket per queue over the mbuf pool's
// memory and fills the program's xsks_map, so sluice keeps a single ethdev code path for every
// kind of port. A program left behind by a killed sluiced is detached first.
#include "dataplane/ports.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "dataplane/log.h"
#include "xdp/xdp_loader.h"

namespace sluice {
namespace {

std::runtime_error port_error(const std::string& name, const std::string& what) {
  return std::runtime_error("port " + name + ": " + what);
}

// The queues DPDK's af_xdp driver (22.11) will accept: it counts ethtool's *combined*
// channels and assumes one queue when there are none, which is what veth reports (veth has
// separate rx/tx channels only), so a multi-queue veth still gives one AF_XDP queue.
unsigned af_xdp_queue_limit(const std::string& ifname) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return 1;
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  ifr.ifr_data = reinterpret_cast<char*>(&ch);
  const int rc = ioctl(fd, SIOCETHTOOL, &ifr);
  close(fd);
  if (rc != 0 || ch.max_combined == 0) return 1;
  return ch.combined_count == 0 ? 1 : ch.combined_count;
}

// The kernel interface's MTU: DPDK's af_xdp driver reports its own default instead.
int kernel_mtu(const std::string& ifname) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  const int rc = ioctl(fd, SIOCGIFMTU, &ifr);
  close(fd);
  return rc == 0 ? ifr.ifr_mtu : -1;
}

}  // namespace

unsigned kernel_rx_queues(const std::string& ifname) {
  unsigned n = 0;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/sys/class/net/" + ifname + "/queues", ec))
    if (e.path().filename().string().rfind("rx-", 0) == 0) ++n;
  return n;
}

PortSpec PortSpec::parse(const std::string& spec) {
  PortSpec p;
  if (spec.empty()) throw std::invalid_argument("empty --port");
  if (spec.rfind("pci:", 0) == 0) {
    p.kind = Kind::kPci;
    p.device = spec.substr(4);
    p.name = p.device;
    if (p.device.empty())
      throw std::invalid_argument("--port pci: needs an address (pci:0000:03:00.0)");
  } else if (spec.rfind("vdev:", 0) == 0) {
    p.kind = Kind::kVdev;
    p.device = spec.substr(5);
    p.name = p.device.substr(0, p.device.find(','));
    if (p.name.empty()) throw std::invalid_argument("--port vdev: needs a device (vdev:net_ring0)");
  } else {
    if (spec.size() >= IFNAMSIZ || spec.find_first_of("/: ,=") != std::string::npos)
      throw std::invalid_argument("--port " + spec + ": not an interface name");
    p.kind = Kind::kKernel;
    p.device = spec;
    p.name = spec;
  }
  return p;
}

namespace {

// open_port's work; `devname` is set as soon as the DPDK device exists, so that the caller
// can remove a half-opened one.
OpenedPort open_port_steps(const PortSpec& spec, uint16_t queues, rte_mempool* pool,
                           uint16_t rx_desc, uint16_t tx_desc, const std::string& xdp_object,
                           std::string& devname) {
  OpenedPort out{spec.name, 0, {}, 1500, false, 0, false, 0};
  switch (spec.kind) {
    case PortSpec::Kind::kKernel: {
      out.ifindex = static_cast<int>(if_nametoindex(spec.device.c_str()));
      if (out.ifindex == 0)
        throw port_error(spec.name, "no such interface in this network namespace");
      {
        // Every RX queue of the interface needs a socket: traffic hashed to a queue without
        // one would go to the kernel, which cannot resolve ARP while sluice owns it.
        const unsigned limit = af_xdp_queue_limit(spec.device);
        const unsigned kernel_rx = kernel_rx_queues(spec.device);
        if (kernel_rx > limit)
          throw port_error(spec.name,
                           "has " + std::to_string(kernel_rx) +
                               " RX queues but DPDK's af_xdp driver can bind only " +
                               std::to_string(limit) +
                               " (it counts ethtool's combined channels; veth has none): use a "
                               "single-queue veth, or a NIC with ethtool -L combined N");
        queues = static_cast<uint16_t>(limit);
      }
      if (::access(xdp_object.c_str(), R_OK) != 0)
        throw port_error(spec.name, "cannot read the XDP program " + xdp_object + " (" +
                                        std::strerror(errno) +
                                        "); is sluice fully installed? ($SLUICE_XDP_OBJECT "
                                        "overrides the path)");
      if (xdp::detach_stale(out.ifindex))
        log::warning("port %s: removed the XDP program a previous sluiced left", spec.name.c_str());
      devname = "net_af_xdp_" + spec.device;
      const std::string args = "iface=" + spec.device +
                               ",start_queue=0,queue_count=" + std::to_string(queues) +
                               ",xdp_prog=" + xdp_object;
      if (rte_dev_probe((devname + "," + args).c_str()) != 0)
        throw port_error(
            spec.name, "cannot open AF_XDP on it (" + args + "); is another XDP program attached?");
      out.kernel_twin = true;
      out.created = true;
      break;
    }
    case PortSpec::Kind::kVdev: {
      devname = spec.name;
      if (rte_dev_probe(spec.device.c_str()) != 0)
        throw port_error(spec.name, "cannot create DPDK vdev '" + spec.device + "'");
      out.created = true;
      break;
    }
    case PortSpec::Kind::kPci: devname = spec.device; break;
    case PortSpec::Kind::kEthdev: break;
  }
  uint16_t port = spec.ethdev;
  if (spec.kind != PortSpec::Kind::kEthdev &&
      rte_eth_dev_get_port_by_name(devname.c_str(), &port) != 0) {
    if (spec.kind == PortSpec::Kind::kPci)
      throw port_error(spec.name,
                       "no DPDK device at this PCI address; bind the NIC to vfio-pci "
                       "(dpdk-devbind.py -b vfio-pci " +
                           spec.device + ")");
    throw port_error(spec.name, "device did not appear");
  }
  out.ethdev = port;

  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port, &info) != 0) throw port_error(spec.name, "no device info");
  // Fewer queues than workers is fine: the workers share the port's queues (see Dataplane).
  queues = std::min({queues, info.max_rx_queues, info.max_tx_queues});
  if (queues == 0) throw port_error(spec.name, "has no queues");
  out.queues = queues;
  rte_eth_conf conf{};
  if (queues > 1 && info.flow_type_rss_offloads != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
  }
  int rc = rte_eth_dev_configure(port, queues, queues, &conf);
  if (rc != 0) throw port_error(spec.name, std::string("configure: ") + rte_strerror(-rc));
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc);
  const int socket = rte_eth_dev_socket_id(port) < 0 ? 0 : rte_eth_dev_socket_id(port);
  for (uint16_t q = 0; q < queues; ++q) {
    rc = rte_eth_rx_queue_setup(port, q, rx_desc, socket, nullptr, pool);
    if (rc != 0)
      throw port_error(spec.name, "RX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
    rc = rte_eth_tx_queue_setup(port, q, tx_desc, socket, nullptr);
    if (rc != 0)
      throw port_error(spec.name, "TX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
  }
  rc = rte_eth_dev_start(port);
  if (rc != 0) throw port_error(spec.name, std::string("start: ") + rte_strerror(-rc));
  rte_ether_addr mac{};
  rte_eth_macaddr_get(port, &mac);
  out.mac = MacAddr::from_bytes(mac.addr_bytes);
  uint16_t mtu = 1500;
  if (rte_eth_dev_get_mtu(port, &mtu) == 0) out.mtu = mtu;
  if (out.kernel_twin) {
    const int km = kernel_mtu(spec.device);
    if (km > 0) out.mtu = static_cast<uint16_t>(km);
  }
  log::info("port %s: opened (%s, DPDK port %u, %u queue(s), %u/%u RX/TX descriptors, mac %s)",
            spec.name.c_str(), devname.empty() ? "ethdev" : devname.c_str(), port, queues, rx_desc,
            tx_desc, out.mac.str().c_str());
  return out;
}

}  // namespace

OpenedPort open_port(const PortSpec& spec, uint16_t queues, rte_mempool* pool, uint16_t rx_desc,
                     uint16_t tx_desc, const std::string& xdp_object) {
  std::string devname;
  try {
    return open_port_steps(spec, queues, pool, rx_desc, tx_desc, xdp_object, devname);
  } catch (...) {
    // A device sluice created and failed to set up is removed, so that opening the port again
    // (a re-created interface: Dataplane::reattach_port) is not refused as a duplicate, and
    // the XDP program the driver attached goes with it (the interface fails open).
    uint16_t port = 0;
    const bool created = spec.kind == PortSpec::Kind::kKernel || spec.kind == PortSpec::Kind::kVdev;
    if (created && !devname.empty() && rte_eth_dev_get_port_by_name(devname.c_str(), &port) == 0)
      close_port(OpenedPort{spec.name, port, {}, 0, false, 0, true, 0});
    throw;
  }
}

void close_port(const OpenedPort& p) {
  rte_eth_dev_info info{};
  rte_eth_dev_info_get(p.ethdev, &info);
  rte_eth_dev_stop(p.ethdev);
  rte_eth_dev_close(p.ethdev);
  // Devices sluice created (AF_XDP, vdev) are removed, so the same name can be opened again.
  if (p.created && info.device != nullptr) rte_dev_remove(info.device);
}

}  // namespace sluice
