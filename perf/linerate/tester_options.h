// tester_options.h — sluice-tester's options (after EAL's, behind `--`), parsed and checked
// before DPDK starts so that bad input gets one line naming the option and exit status 1
// without touching a port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/ports.h"
#include "lpm/ipv4.h"
#include "perf/linerate/flows.h"
#include "perf/linerate/frame_format.h"

namespace sluice::linerate {

struct TesterOptions {
  std::string tx_port, rx_port;  // as given (any `sluiced --port` spec)
  PortSpec tx_spec, rx_spec;
  bool one_armed = false;  // the same spec for both

  // Where the frames go: a MAC, the rx port's own MAC, or the gateway's (resolved by ARP).
  std::string dst_mac_arg;  // as given ("" when --gateway)
  std::optional<Mac> dst_mac;
  bool dst_mac_rx = false;
  std::optional<Ipv4Addr> gateway;

  std::optional<Ipv4Addr> tx_ip;
  AddrRange rx_ip{Ipv4Addr(), 0};  // count 0: none

  FlowSpec flow_spec;
  std::string src_arg, dst_arg, dst_file, sport_arg, dport_arg;
  int vlan = -1;

  std::string sizes_arg;
  std::vector<FrameSizes> sizes;

  bool search = false;
  double rate = 0;      // --rate
  double max_rate = 0;  // 0: line rate from the link speed (search), see resolve_max_rate
  double min_rate = 0;
  double precision = 0.01;
  double loss_tolerance = 0;
  unsigned max_trials = 20;
  double trial_seconds = 2;
  unsigned drain_ms = 500;
  unsigned retries = 2;
  double latency_seconds = -1;  // -1: = trial_seconds
  double warmup_seconds = 1;
  bool learning = false;
  unsigned burst = 32;
  uint32_t run_id = 0;
  bool run_id_given = false;
  std::string json_path;  // "" or "-": stdout
  bool quiet = false;
};

// argv holds the tester's own arguments only (argv[0] is the program name). Returns nothing
// after printing --help; throws std::invalid_argument with a message naming the option.
std::optional<TesterOptions> parse_tester_options(int argc, const char* const* argv);

// "02:00:00:00:00:01" -> the MAC; nothing if malformed.
std::optional<Mac> parse_mac(const std::string& s);
std::string mac_str(const Mac& m);

}  // namespace sluice::linerate
