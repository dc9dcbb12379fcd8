// tester_ports.cpp — opening, stats and the AF_XDP link bounce.
#include "perf/linerate/tester_ports.h"

#include <rte_dev.h>
#include <rte_ethdev.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace sluice::linerate {
namespace {

std::runtime_error port_error(const std::string& spec, const std::string& what) {
  return std::runtime_error("port " + spec + ": " + what);
}

std::string sysfs(const std::string& ifname, const std::string& file) {
  std::ifstream in("/sys/class/net/" + ifname + "/" + file);
  std::string v;
  std::getline(in, v);
  return v;
}

}  // namespace

EthStats TesterPort::stats() const {
  rte_eth_stats s{};
  rte_eth_stats_get(ethdev, &s);
  EthStats e{s.ipackets, s.opackets, s.imissed, s.ierrors, s.oerrors, s.rx_nombuf, 0, 0};
  if (af_xdp) {
    auto counter = [&](const char* name) -> uint64_t {
      const std::string v = sysfs(ifname, std::string("statistics/") + name);
      return v.empty() ? 0 : std::strtoull(v.c_str(), nullptr, 10);
    };
    e.kernel_rx_dropped = counter("rx_dropped");
    e.kernel_tx_dropped = counter("tx_dropped");
  }
  return e;
}

bool TesterPort::bounce_link(double wait_s) const {
  if (!af_xdp) return false;
  const std::string cmd =
      "ip link set dev " + ifname + " down && ip link set dev " + ifname + " up";
  if (std::system(cmd.c_str()) != 0) return false;
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  while (std::chrono::steady_clock::now() < until) {
    // "up" once the peer is up too; veth reports carrier through operstate.
    if (sysfs(ifname, "operstate") == "up") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TesterPort open_tester_port(const std::string& spec, const PortSpec& ps, rte_mempool* pool) {
  TesterPort p;
  p.spec = spec;
  p.port_spec = ps;
  PortSpec eth = ps;
  if (ps.kind == PortSpec::Kind::kKernel) {
    // Not open_port's AF_XDP path: it attaches sluice's XDP program, which passes ARP and
    // anything not routed to the kernel. The driver's default program redirects every frame of
    // queue 0 to the socket, so there must be no other queue for frames to arrive on.
    p.ifname = ps.device;
    if (!std::filesystem::exists("/sys/class/net/" + p.ifname))
      throw port_error(spec, "no such interface in this network namespace");
    const unsigned q = kernel_rx_queues(p.ifname);
    if (q > 1)
      throw port_error(spec, "has " + std::to_string(q) +
                                 " RX queues; the tester binds queue 0 only: use a single-queue "
                                 "veth (numrxqueues 1) or `ethtool -L " +
                                 p.ifname + " combined 1`");
    const std::string name = "net_af_xdp_" + p.ifname;
    const std::string args = "iface=" + p.ifname + ",start_queue=0,queue_count=1";
    if (rte_dev_probe((name + "," + args).c_str()) != 0)
      throw port_error(spec, "cannot open AF_XDP on it (" + args + "); if `ip link show " +
                                 p.ifname + "` shows an XDP program (xsk_def_prog: left by a " +
                                 "killed tester), remove it: ip link set dev " + p.ifname +
                                 " xdp off");
    uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0)
      throw port_error(spec, "the AF_XDP device did not appear");
    eth.kind = PortSpec::Kind::kEthdev;
    eth.ethdev = id;
    p.af_xdp = true;
    p.created = true;
  }
  OpenedPort o;
  try {
    // One queue pair; 1024 descriptors each (the driver may adjust).
    o = open_port(eth, 1, pool, 1024, 1024, "");
  } catch (const std::exception& e) {
    if (p.created) {
      rte_eth_dev_info info{};
      rte_eth_dev_info_get(eth.ethdev, &info);
      rte_eth_dev_close(eth.ethdev);
      if (info.device != nullptr) rte_dev_remove(info.device);
    }
    throw port_error(spec, e.what());
  }
  p.ethdev = o.ethdev;
  p.created = p.created || o.created;
  std::memcpy(p.mac.data(), o.mac.data(), 6);
  p.mtu = o.mtu;
  p.open = true;
  if (rte_eth_promiscuous_enable(p.ethdev) != 0 && !p.af_xdp)
    fprintf(stderr, "sluice-tester: port %s: cannot turn promiscuous mode on\n", spec.c_str());
  if (p.af_xdp) {
    // The driver reports a fixed 10G; the interface knows better (-1 or absent: unknown).
    const std::string mtu = sysfs(p.ifname, "mtu");
    if (!mtu.empty()) p.mtu = static_cast<uint16_t>(std::stoul(mtu));
    const std::string speed = sysfs(p.ifname, "speed");
    long s = 0;
    try {
      s = speed.empty() ? 0 : std::stol(speed);
    } catch (const std::exception&) {
      s = 0;
    }
    p.link_speed_mbps = s > 0 ? static_cast<uint32_t>(s) : 0;
  } else {
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(p.ethdev, &link) == 0 &&
        link.link_speed != RTE_ETH_SPEED_NUM_NONE && link.link_speed != RTE_ETH_SPEED_NUM_UNKNOWN)
      p.link_speed_mbps = link.link_speed;
  }
  return p;
}

void close_tester_port(TesterPort& p) {
  if (!p.open) return;
  p.open = false;
  rte_eth_dev_info info{};
  rte_eth_dev_info_get(p.ethdev, &info);
  rte_eth_dev_stop(p.ethdev);
  rte_eth_dev_close(p.ethdev);
  // Removing the device makes the af_xdp driver close its socket and detach the default XDP
  // program, so that the interface is left as it was found.
  if (p.created && info.device != nullptr) rte_dev_remove(info.device);
}

}  // namespace sluice::linerate
