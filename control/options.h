// options.h — sluiced's options, from the command line and the config file (the same keys),
// parsed and validated into typed values before DPDK starts, so bad input gets one clear
// line and a non-zero exit without touching any port.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/dataplane.h"
#include "dataplane/mac_addr.h"
#include "dataplane/next_hop.h"
#include "lpm/ipv4.h"
#include "nat/rules.h"

namespace sluice {

struct AddressOption {
  std::string port;
  Ipv4Addr addr;
  unsigned len;
};

struct RouteOption {
  Prefix prefix;
  NextHopKind kind = NextHopKind::kForward;
  Ipv4Addr gateway;  // 0.0.0.0: on-link
  std::string port;  // "dev PORT", may be empty
};

struct RouteFileOption {
  std::string path;
  std::vector<Ipv4Addr> gateways;  // prefix i goes to gateways[hash(prefix) % n]
};

struct NeighOption {
  std::string port;
  Ipv4Addr addr;
  MacAddr mac;
};

// --bridge NAME=PORT,PORT,...[,mac=MAC][,ageing=S][,vlan-filtering]: a static bridge over
// --port ports. Its routed interface is a port named NAME (--addr NAME=..., --route ... dev
// NAME, --masquerade ...,out=NAME).
struct BridgeOption {
  std::string spec;  // as given, for messages
  std::string name;
  std::vector<std::string> ports;
  // Per port (same order), on a VLAN-aware bridge: PORT@VLANS, VLANS a +-list of VID
  // (untagged; the first is the PVID) and VIDt (tagged). Empty: PVID 1 untagged, as Linux.
  struct PortVlans {
    uint16_t pvid = 0;
    std::map<uint16_t, bool> vlans;  // VID -> egress untagged
  };
  std::vector<PortVlans> port_vlans;
  MacAddr mac;  // zero: the first member's
  uint32_t ageing = 300;
  bool vlan_filtering = false;
};

struct SluicedOptions {
  std::vector<PortSpec> ports;
  std::vector<AddressOption> addresses;
  std::vector<RouteOption> routes;
  std::vector<RouteFileOption> route_files;
  std::vector<NeighOption> neighbours;
  unsigned workers = 1;
  unsigned rx_desc = 1024, tx_desc = 1024;  // descriptors (AF_XDP: ring entries) per queue
  double tx_coalesce_us = 0;                // hold TX up to this long for a fuller burst (0: off)
  std::string lcores;  // EAL --lcores; empty: control on the first CPU, workers on the next
  bool no_huge = false;
  unsigned memory_mb = 0;  // EAL -m; default 1024 with --no-huge
  std::string file_prefix = "sluice";
  std::string log_level = "warning";
  std::vector<std::string> eal_extra;
  double arp_reachable = 300;
  uint64_t icmp_rate = 1000;
  double exit_after = 0;  // seconds; 0 = run until SIGTERM/SIGINT (tests and benchmarks use it)
  // Mirror mode: the kernel's links, addresses, routes, neighbours and forwarding sysctl of the
  // AF_XDP ports are the configuration. "auto": on when there is an AF_XDP port.
  std::string mirror = "auto";
  bool mirror_on = false;               // the decision, after parsing
  std::vector<uint32_t> kernel_tables;  // routing tables mirrored (default: main, 254)
  int netlink_rcvbuf = 64 << 20;        // bytes
  std::string control_socket = "/run/sluice/sluice.sock";
  // NAT: the rules with their port names (resolved once the ports are open), and the engines'
  // configuration (port range, sessions per worker, timeouts) for DataplaneConfig::nat.
  std::vector<nat::MasqueradeSpec> masquerade;
  std::vector<nat::ForwardSpec> forward;
  nat::EngineConfig nat;
  std::vector<BridgeOption> bridges;
  uint32_t fdb_size = 65535;  // FDB entries, all bridges together (DataplaneConfig::fdb_size)
  // --metrics [ADDR:]PORT: the Prometheus endpoint (control/metrics_http.h); port 0: none.
  std::string metrics_host = "127.0.0.1";
  uint16_t metrics_port = 0;
};

// Parses argv (and --config FILE). Returns nullopt after printing --help or --version.
// Throws std::invalid_argument with a one-line message on bad input.
std::optional<SluicedOptions> parse_sluiced_options(int argc, const char* const* argv);

// Parsers for the option values (also used by the CLI later).
RouteOption parse_route(const std::string& s);
AddressOption parse_address(const std::string& s);
// The syntax of one --bridge value (whether its ports exist is checked against --port later).
BridgeOption parse_bridge(const std::string& s);
// --metrics: PORT, :PORT (both on 127.0.0.1) or ADDR:PORT, ADDR an IPv4 address (0.0.0.0: all).
std::pair<std::string, uint16_t> parse_metrics_address(const std::string& s);
inline constexpr uint32_t kMaxBridgeAgeing = 1000000;  // seconds, as Bridges::set_ageing

}  // namespace sluice
