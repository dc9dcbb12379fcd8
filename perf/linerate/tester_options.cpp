// tester_options.cpp — Boost.Program_options for sluice-tester, as control/options.cpp does
// for sluiced.
#include "perf/linerate/tester_options.h"

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <random>
#include <stdexcept>

namespace po = boost::program_options;

namespace sluice::linerate {
namespace {

std::invalid_argument bad(const std::string& opt, const std::string& value,
                          const std::string& why) {
  return std::invalid_argument("--" + opt + " " + value + ": " + why);
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

}  // namespace

std::optional<Mac> parse_mac(const std::string& s) {
  Mac m{};
  unsigned v[6];
  char tail;
  if (s.size() != 17 || std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2],
                                    &v[3], &v[4], &v[5], &tail) != 6)
    return std::nullopt;
  for (int i = 0; i < 6; ++i) {
    if (s[i * 3] == ' ' || s[i * 3 + 1] == ' ') return std::nullopt;
    m[i] = static_cast<uint8_t>(v[i]);
  }
  return m;
}

std::string mac_str(const Mac& m) {
  char b[18];
  std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}

std::optional<TesterOptions> parse_tester_options(int argc, const char* const* argv) {
  TesterOptions o;
  std::string tx_ip, rx_ip, gateway, run_id;
  // Signed, so that "-1" is refused rather than wrapped around.
  int64_t flows = 0, vlan = -1, max_trials = 0, drain_ms = 0, retries = 0, burst = 0;
  po::options_description desc(
      "sluice-tester — RFC 2544 traffic generator and sink on DPDK ports\n\n"
      "Usage: sluice-tester [EAL options] -- --tx-port SPEC --rx-port SPEC (--dst-mac MAC|rx | "
      "--gateway IP) (--rate PPS | --search [--max-rate PPS]) [options]\n\n"
      "Ports are what `sluiced --port` takes: IFNAME (AF_XDP, with DPDK's default XDP program: "
      "everything the interface receives comes to the tester), pci:ADDR or vdev:STRING. The same "
      "spec for both is a one-armed test. A+N means N consecutive values from A.\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("tx-port", po::value(&o.tx_port), "the port frames are sent from")
    ("rx-port", po::value(&o.rx_port), "the port they come back on (may be the tx port)")
    ("dst-mac", po::value(&o.dst_mac_arg),
     "destination MAC of the frames (the DUT's), or 'rx': the rx port's own (a bridge or a loop)")
    ("gateway", po::value(&gateway), "resolve the destination MAC by ARP for this address on the "
     "tx port (needs --tx-ip)")
    ("tx-ip", po::value(&tx_ip), "the tester's address on the tx port (ARP source; answered)")
    ("rx-ip", po::value(&rx_ip), "IP[+N]: addresses the tester answers ARP and ping for on the "
     "rx port (the DUT's next hops)")
    ("src", po::value(&o.src_arg)->default_value("10.1.0.2"), "IP[+N]: source addresses")
    ("dst", po::value(&o.dst_arg)->default_value("16.0.0.1"), "IP[+N]: destination addresses")
    ("dst-file", po::value(&o.dst_file), "destination addresses, one per line (instead of --dst)")
    ("sport", po::value(&o.sport_arg)->default_value("1024"), "P[+N]: UDP source ports")
    ("dport", po::value(&o.dport_arg)->default_value("1024"), "P[+N]: UDP destination ports")
    ("flows", po::value(&flows)->default_value(0),
     "flows (default 0: every combination; flow i is the i-th, sources varying fastest, then "
     "destinations, source ports, destination ports)")
    ("vlan", po::value(&vlan)->default_value(-1), "802.1Q VLAN id of every frame (-1: untagged)")
    ("sizes", po::value(&o.sizes_arg)->default_value("64"),
     "frame sizes with FCS, 64-9018, and 'imix' (7 x 64, 4 x 570, 1 x 1518), comma-separated")
    ("rate", po::value(&o.rate), "one trial per size at this rate (pps)")
    ("search", po::bool_switch(&o.search), "RFC 2544 throughput search per size")
    ("max-rate", po::value(&o.max_rate), "search: first and highest rate (pps; default: line "
     "rate of the size at the ports' link speed, if they report one)")
    ("min-rate", po::value(&o.min_rate)->default_value(1000), "search: lowest rate tried (pps)")
    ("precision", po::value(&o.precision)->default_value(0.01),
     "search: stop when (failing - passing) / failing <= this")
    ("loss-tolerance", po::value(&o.loss_tolerance)->default_value(0),
     "fraction of frames a passing trial may lose")
    ("max-trials", po::value(&max_trials)->default_value(20), "search: valid trials at most")
    ("trial-seconds", po::value(&o.trial_seconds)->default_value(2), "seconds of traffic a trial")
    ("drain-ms", po::value(&drain_ms)->default_value(500),
     "ms the receiver keeps counting after the last frame sent")
    ("retries", po::value(&retries)->default_value(2), "runs again of an invalid trial (TX stall)")
    ("latency-seconds", po::value(&o.latency_seconds)->default_value(-1, "trial seconds"),
     "search: a last trial this long at the found rate gives the latency (0: the passing "
     "search trial's)")
    ("warmup-seconds", po::value(&o.warmup_seconds)->default_value(1),
     "before each size: every flow sent at least once at a low rate, then drained (0: none)")
    ("learning", po::bool_switch(&o.learning),
     "before every trial: 4 gratuitous ARPs from each port, then 100 ms (a bridge DUT learns)")
    ("burst", po::value(&burst)->default_value(32), "most frames per TX burst (1-512)")
    ("run-id", po::value(&run_id), "run id in every frame's signature (default: random)")
    ("json", po::value(&o.json_path), "write the result JSON here (default: stdout)")
    ("quiet", po::bool_switch(&o.quiet), "no trial lines on stderr");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw std::invalid_argument(e.what());
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return std::nullopt;
  }

  // Ports.
  if (o.tx_port.empty())
    throw std::invalid_argument("--tx-port is required (sluice-tester --help)");
  if (o.rx_port.empty())
    throw std::invalid_argument("--rx-port is required (sluice-tester --help)");
  try {
    o.tx_spec = PortSpec::parse(o.tx_port);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("--tx-port: ") + e.what());
  }
  try {
    o.rx_spec = PortSpec::parse(o.rx_port);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("--rx-port: ") + e.what());
  }
  o.one_armed = o.tx_port == o.rx_port;
  if (!o.one_armed && o.tx_spec.kind == o.rx_spec.kind && o.tx_spec.name == o.rx_spec.name)
    throw std::invalid_argument("--tx-port " + o.tx_port + " and --rx-port " + o.rx_port +
                                " name the same device differently: give the same spec twice "
                                "for a one-armed test");

  // Addresses.
  if (!tx_ip.empty()) {
    const auto a = Ipv4Addr::parse(tx_ip);
    if (!a) throw bad("tx-ip", tx_ip, "not an IPv4 address");
    o.tx_ip = *a;
  }
  if (!rx_ip.empty()) o.rx_ip = parse_addr_range("--rx-ip", rx_ip);
  if (!gateway.empty()) {
    const auto a = Ipv4Addr::parse(gateway);
    if (!a) throw bad("gateway", gateway, "not an IPv4 address");
    if (!o.tx_ip) throw bad("gateway", gateway, "needs --tx-ip (the ARP request's source)");
    o.gateway = *a;
  }
  if (vm.count("dst-mac") && o.gateway)
    throw std::invalid_argument("--dst-mac and --gateway: give one of them");
  if (vm.count("dst-mac")) {
    if (o.dst_mac_arg == "rx") {
      o.dst_mac_rx = true;
    } else {
      o.dst_mac = parse_mac(o.dst_mac_arg);
      if (!o.dst_mac) throw bad("dst-mac", o.dst_mac_arg, "not a MAC (aa:bb:cc:dd:ee:ff) or 'rx'");
    }
  } else if (!o.gateway) {
    throw std::invalid_argument("--dst-mac MAC|rx or --gateway IP is required: where to send");
  }

  // Flows.
  const AddrRange src = parse_addr_range("--src", o.src_arg);
  o.flow_spec.src = src.base;
  o.flow_spec.src_count = src.count;
  if (!o.dst_file.empty()) {
    if (!vm["dst"].defaulted())
      throw std::invalid_argument("--dst and --dst-file: give one of them");
    o.flow_spec.dst_list = read_address_file(o.dst_file);
  } else {
    const AddrRange dst = parse_addr_range("--dst", o.dst_arg);
    o.flow_spec.dst = dst.base;
    o.flow_spec.dst_count = dst.count;
  }
  const PortRange sp = parse_port_range("--sport", o.sport_arg);
  o.flow_spec.sport = sp.base;
  o.flow_spec.sport_count = sp.count;
  const PortRange dp = parse_port_range("--dport", o.dport_arg);
  o.flow_spec.dport = dp.base;
  o.flow_spec.dport_count = dp.count;
  if (flows < 0) throw bad("flows", std::to_string(flows), "not a count");
  o.flow_spec.flows = static_cast<uint64_t>(flows);
  try {
    FlowTable check(o.flow_spec);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("flows (--src/--dst/--sport/--dport/--flows): ") +
                                e.what());
  }
  if (vlan < -1 || vlan > 4095) throw bad("vlan", std::to_string(vlan), "use 0-4095");
  o.vlan = static_cast<int>(vlan);
  o.sizes = parse_sizes(o.sizes_arg);

  // Mode and search.
  const bool rate_given = vm.count("rate") != 0;
  if (rate_given == o.search)
    throw std::invalid_argument("give one of --rate PPS (a trial per size) and --search");
  if (rate_given && !(o.rate > 0)) throw bad("rate", num(o.rate), "must be above 0 pps");
  if (vm.count("max-rate") && !(o.max_rate > 0))
    throw bad("max-rate", num(o.max_rate), "must be above 0 pps");
  if (o.min_rate < 0) throw bad("min-rate", num(o.min_rate), "must be 0 or more");
  if (o.search && o.max_rate > 0 && o.min_rate > o.max_rate)
    throw bad("min-rate", num(o.min_rate), "is above --max-rate " + num(o.max_rate));
  if (!(o.precision > 0 && o.precision < 1))
    throw bad("precision", num(o.precision), "use a fraction above 0 and below 1");
  if (!(o.loss_tolerance >= 0 && o.loss_tolerance < 1))
    throw bad("loss-tolerance", num(o.loss_tolerance), "use a fraction, 0 or more, below 1");
  if (max_trials < 1 || max_trials > 1000)
    throw bad("max-trials", std::to_string(max_trials), "use 1-1000");
  o.max_trials = static_cast<unsigned>(max_trials);
  if (!(o.trial_seconds > 0 && o.trial_seconds <= 3600))
    throw bad("trial-seconds", num(o.trial_seconds), "use more than 0, at most 3600");
  if (drain_ms < 0 || drain_ms > 60000)
    throw bad("drain-ms", std::to_string(drain_ms), "use 0-60000");
  o.drain_ms = static_cast<unsigned>(drain_ms);
  if (retries < 0 || retries > 100) throw bad("retries", std::to_string(retries), "use 0-100");
  o.retries = static_cast<unsigned>(retries);
  if (o.latency_seconds < 0) o.latency_seconds = o.trial_seconds;
  if (o.latency_seconds > 3600)
    throw bad("latency-seconds", num(o.latency_seconds), "at most 3600");
  if (!(o.warmup_seconds >= 0 && o.warmup_seconds <= 600))
    throw bad("warmup-seconds", num(o.warmup_seconds), "use 0-600");
  if (burst < 1 || burst > 512) throw bad("burst", std::to_string(burst), "use 1-512");
  o.burst = static_cast<unsigned>(burst);
  if (!run_id.empty()) {
    size_t used = 0;
    unsigned long long v = 0;
    try {
      v = std::stoull(run_id, &used, 0);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != run_id.size() || run_id[0] == '-' || v > UINT32_MAX)
      throw bad("run-id", run_id, "use 0-4294967295");
    o.run_id = static_cast<uint32_t>(v);
    o.run_id_given = true;
  } else {
    o.run_id = static_cast<uint32_t>(std::random_device{}());
  }
  return o;
}

}  // namespace sluice::linerate
