// options.cpp — Boost.Program_options for sluiced.
#include "control/options.h"

#include <boost/program_options.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "control/version.h"

namespace po = boost::program_options;

namespace sluice {
namespace {

std::invalid_argument bad(const std::string& opt, const std::string& value,
                          const std::string& why) {
  return std::invalid_argument("--" + opt + " " + value + ": " + why);
}

std::pair<std::string, std::string> split_eq(const std::string& opt, const std::string& s,
                                             const char* form) {
  const size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
    throw bad(opt, s, std::string("expected ") + form);
  return {s.substr(0, eq), s.substr(eq + 1)};
}

// Boost 1.74 builds an error's message by replacing each placeholder ("%value%", "%option%",
// ...) until none is left, so an option or value that contains its own placeholder
// (`--workers %value%`, `--%canonical_option%`) makes what() loop forever, growing the message
// without bound (found by fuzzing, tests/fuzz/regressions/options/). The user's text is shown
// with its '%' signs as '?' before the message is built.
std::string error_message(po::error& e) {
  if (auto* named = dynamic_cast<po::error_with_option_name*>(&e)) {
    // m_substitutions is protected: read through a derived class's pointer to member.
    struct Substitutions : po::error_with_option_name {
      static std::map<std::string, std::string> of(const po::error_with_option_name& x) {
        return x.*(&Substitutions::m_substitutions);
      }
    };
    for (auto [name, value] : Substitutions::of(*named)) {
      if (value.find('%') == std::string::npos) continue;
      for (char& c : value)
        if (c == '%') c = '?';
      named->set_substitute(name, value);
    }
  }
  return e.what();
}

constexpr int64_t kMaxNatSessions = nat::SessionTable::kMaxCapacity;  // 2^24 - 1
constexpr int64_t kMaxNatTimeout = 30 * 24 * 3600;                    // 30 days
constexpr int64_t kMaxFdbSize = (1 << 24) - 1;

uint32_t timeout(const char* opt, int64_t v, int64_t min) {
  if (v >= min && v <= kMaxNatTimeout) return static_cast<uint32_t>(v);
  std::string why =
      "use " + std::to_string(min) + "-" + std::to_string(kMaxNatTimeout) + " seconds";
  if (min == 120) why += " (RFC 4787 REQ-5: a UDP mapping must not expire in less than 2 minutes)";
  throw std::invalid_argument("--" + std::string(opt) + " " + std::to_string(v) + ": " + why);
}

// A name --addr, --route dev, --neigh, --masquerade out= and --forward in= may use: a --port,
// or a --bridge (its routed interface is a port of that name).
bool is_port_or_bridge(const SluicedOptions& o, const std::string& name) {
  for (const PortSpec& p : o.ports)
    if (p.name == name) return true;
  for (const BridgeOption& b : o.bridges)
    if (b.name == name) return true;
  return false;
}

const BridgeOption* bridge_with_member(const SluicedOptions& o, const std::string& port) {
  for (const BridgeOption& b : o.bridges)
    for (const std::string& p : b.ports)
      if (p == port) return &b;
  return nullptr;
}

void parse_bridge_options(SluicedOptions& o, const std::vector<std::string>& specs) {
  for (const std::string& s : specs) {
    BridgeOption b = parse_bridge(s);
    for (const PortSpec& p : o.ports)
      if (p.name == b.name) throw bad("bridge", s, "'" + b.name + "' is already a port's name");
    for (const BridgeOption& x : o.bridges)
      if (x.name == b.name) throw bad("bridge", s, "bridge " + b.name + " is given twice");
    for (const std::string& port : b.ports) {
      bool found = false;
      for (const PortSpec& p : o.ports) found |= p.name == port;
      if (!found) {
        for (const BridgeOption& x : o.bridges)
          if (x.name == port)
            throw bad("bridge", s, "'" + port + "' is a bridge; a member is a --port");
        throw bad("bridge", s, "unknown port '" + port + "' (not given with --port)");
      }
      if (const BridgeOption* other = bridge_with_member(o, port))
        throw bad("bridge", s, "port " + port + " is already in bridge " + other->name);
    }
    o.bridges.push_back(std::move(b));
  }
  if (o.bridges.size() > kMaxBridges)
    throw std::invalid_argument("--bridge: at most " + std::to_string(kMaxBridges) + " bridges");
}

void parse_nat_options(SluicedOptions& o, const std::vector<std::string>& masqs,
                       const std::vector<std::string>& fwds, const std::string& ports) {
  auto known = [&](const std::string& opt, const std::string& spec, const std::string& name) {
    if (is_port_or_bridge(o, name)) return;
    throw bad(opt, spec, "unknown port '" + name + "' (not given with --port or --bridge)");
  };
  std::string err;
  const auto range = nat::parse_port_range(ports, &err);
  if (!range) throw bad("nat-ports", ports, err);
  o.nat.port_first = range->first;
  o.nat.port_last = range->second;
  for (const std::string& m : masqs) {
    const auto spec = nat::parse_masquerade(m, &err);
    if (!spec) throw bad("masquerade", m, err);
    known("masquerade", m, spec->out);
    for (const nat::MasqueradeSpec& x : o.masquerade)
      if (x.prefix == spec->prefix && x.len == spec->len && x.out == spec->out)
        throw bad("masquerade", m, "given twice");
    o.masquerade.push_back(*spec);
  }
  for (const std::string& f : fwds) {
    const auto spec = nat::parse_forward(f, &err);
    if (!spec) throw bad("forward", f, err);
    if (!spec->in.empty()) known("forward", f, spec->in);
    for (const nat::ForwardSpec& x : o.forward)
      if (x.rule.same_match(spec->rule) && x.in == spec->in)
        throw bad("forward", f, "matches what --forward " + nat::format(x) + " matches");
    o.forward.push_back(*spec);
  }
}

std::vector<std::string> words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> w;
  for (std::string x; in >> x;) w.push_back(x);
  return w;
}

}  // namespace

AddressOption parse_address(const std::string& s) {
  auto [port, a] = split_eq("addr", s, "PORT=A.B.C.D/LEN");
  const size_t slash = a.find('/');
  if (slash == std::string::npos) throw bad("addr", s, "missing /LEN (e.g. 10.1.0.1/24)");
  const auto addr = Ipv4Addr::parse(a.substr(0, slash));
  if (!addr) throw bad("addr", s, "'" + a.substr(0, slash) + "' is not an IPv4 address");
  const std::string l = a.substr(slash + 1);
  if (l.empty() || l.size() > 2 || l.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(l) > 32)
    throw bad("addr", s, "prefix length must be 0-32");
  return {port, *addr, static_cast<unsigned>(std::stoul(l))};
}

BridgeOption parse_bridge(const std::string& s) {
  auto [name, rest] =
      split_eq("bridge", s, "NAME=PORT[@VLANS],PORT,...[,mac=MAC][,ageing=S][,vlan-filtering]");
  BridgeOption b;
  b.spec = s;
  b.name = name;
  if (name.size() > 15 || name.find_first_of(",/ \t") != std::string::npos)
    throw bad("bridge", s,
              "'" + name + "' is not a bridge name (1-15 characters, no , / or space)");
  bool mac_given = false, ageing_given = false;
  std::istringstream in(rest);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) throw bad("bridge", s, "an empty item between commas");
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const std::string value = eq == std::string::npos ? std::string() : item.substr(eq + 1);
    if (key == "mac") {
      if (mac_given) throw bad("bridge", s, "mac= given twice");
      const auto mac = MacAddr::parse(value);
      if (!mac) throw bad("bridge", s, "mac='" + value + "' is not a MAC (xx:xx:xx:xx:xx:xx)");
      if (mac->is_zero() || mac->is_multicast())
        throw bad("bridge", s, "mac=" + value + " is not a unicast MAC");
      b.mac = *mac;
      mac_given = true;
    } else if (key == "ageing" || key == "ageing_time") {
      if (ageing_given) throw bad("bridge", s, "ageing= given twice");
      if (value.empty() || value.size() > 7 ||
          value.find_first_not_of("0123456789") != std::string::npos ||
          std::stoul(value) > kMaxBridgeAgeing)
        throw bad("bridge", s,
                  "ageing='" + value + "': use 0-" + std::to_string(kMaxBridgeAgeing) +
                      " seconds (0: learn nothing, flood everything)");
      b.ageing = static_cast<uint32_t>(std::stoul(value));
      ageing_given = true;
    } else if (item == "vlan-filtering") {
      b.vlan_filtering = true;
    } else if (eq != std::string::npos) {
      throw bad("bridge", s,
                "unknown setting '" + item + "' (mac=MAC, ageing=S or vlan-filtering)");
    } else {
      const size_t at = item.find('@');
      const std::string port = item.substr(0, at);
      BridgeOption::PortVlans pv;
      if (at != std::string::npos) {
        std::istringstream vl(item.substr(at + 1));
        for (std::string v; std::getline(vl, v, '+');) {
          const bool tagged = !v.empty() && v.back() == 't';
          if (tagged) v.pop_back();
          if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos ||
              std::stoul(v) < 1 || std::stoul(v) > 4094)
            throw bad("bridge", s,
                      "'" + item + "': VLANs are VID (untagged, the first is the PVID) or VIDt " +
                          "(tagged), 1-4094, joined by +");
          const auto vid = static_cast<uint16_t>(std::stoul(v));
          if (pv.vlans.count(vid)) throw bad("bridge", s, "'" + item + "': VLAN " + v + " twice");
          pv.vlans[vid] = !tagged;
          if (!tagged && pv.pvid == 0) pv.pvid = vid;
        }
        if (pv.vlans.empty()) throw bad("bridge", s, "'" + item + "': no VLAN after @");
      }
      for (const std::string& p : b.ports)
        if (p == port) throw bad("bridge", s, "port " + port + " is listed twice");
      b.ports.push_back(port);
      b.port_vlans.push_back(pv);
    }
  }
  if (!b.vlan_filtering)
    for (size_t i = 0; i < b.ports.size(); ++i)
      if (!b.port_vlans[i].vlans.empty()) throw bad("bridge", s, "PORT@VLANS needs vlan-filtering");
  if (!rest.empty() && rest.back() == ',') throw bad("bridge", s, "an empty item between commas");
  if (b.ports.empty()) throw bad("bridge", s, "no member port (NAME=PORT,PORT,...)");
  return b;
}

std::pair<std::string, uint16_t> parse_metrics_address(const std::string& s) {
  const size_t colon = s.rfind(':');
  std::string host = colon == std::string::npos ? std::string() : s.substr(0, colon);
  const std::string port = colon == std::string::npos ? s : s.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) < 1 ||
      std::stoul(port) > 65535)
    throw bad("metrics", s, "expected PORT, :PORT or ADDR:PORT with PORT 1-65535");
  if (host.empty()) host = "127.0.0.1";  // loopback unless asked: the figures describe the network
  const auto addr = Ipv4Addr::parse(host);
  if (!addr) throw bad("metrics", s, "'" + host + "' is not an IPv4 address");
  return {addr->str(), static_cast<uint16_t>(std::stoul(port))};
}

RouteOption parse_route(const std::string& s) {
  auto [p, rest] = split_eq("route", s, "PREFIX=GATEWAY, PREFIX=dev PORT or PREFIX=blackhole");
  RouteOption r;
  const auto prefix = Prefix::parse(p);
  if (!prefix)
    throw bad("route", s,
              "'" + p + "' is not a prefix (A.B.C.D/LEN with no host bits, or default)");
  r.prefix = *prefix;
  const std::vector<std::string> w = words(rest);
  size_t i = 0;
  if (w.empty()) throw bad("route", s, "nothing after '='");
  if (w[0] == "blackhole" || w[0] == "unreachable" || w[0] == "prohibit") {
    if (w.size() != 1) throw bad("route", s, "nothing may follow " + w[0]);
    r.kind = w[0] == "blackhole"     ? NextHopKind::kBlackhole
             : w[0] == "unreachable" ? NextHopKind::kUnreachable
                                     : NextHopKind::kProhibit;
    return r;
  }
  if (w[0] == "via") ++i;
  if (i < w.size() && w[i] != "dev") {
    const auto gw = Ipv4Addr::parse(w[i]);
    if (!gw) throw bad("route", s, "'" + w[i] + "' is not a gateway address");
    r.gateway = *gw;
    ++i;
  }
  if (i < w.size()) {
    if (w[i] != "dev" || i + 2 != w.size()) throw bad("route", s, "expected 'dev PORT' at the end");
    r.port = w[i + 1];
    i += 2;
  }
  if (r.gateway.host() == 0 && r.port.empty()) throw bad("route", s, "needs a gateway or dev PORT");
  return r;
}

std::optional<SluicedOptions> parse_sluiced_options(int argc, const char* const* argv) {
  SluicedOptions o;
  std::vector<std::string> ports, addrs, routes, route_files, neighs, tables, masqs, fwds, bridges;
  std::string config, nat_ports, metrics;
  // Signed, so that "-1" is refused rather than wrapped around.
  int64_t nat_sessions = 0, t_established = 0, t_transitory = 0, t_udp = 0, t_icmp = 0;
  int64_t fdb_size = 0;
  // The command line takes every option; a --config file only those of desc (a 'help' or
  // 'config' line there is an error, not a surprise). etc/sluice.conf documents desc's, and
  // tests/unit/sluiced_options_test.cpp checks that it documents every one.
  po::options_description all;
  po::options_description command_line("Options");
  po::options_description desc("Options (also as 'key = value' lines in the --config file)");
  // clang-format off
  command_line.add_options()
    ("help,h", "print this help and exit")
    ("version", "print the version and exit")
    ("config", po::value(&config), "read options from FILE (same keys, one 'key = value' per line)");
  desc.add_options()
    ("port", po::value(&ports)->composing(),
     "a port (repeatable): IFNAME (a kernel interface through AF_XDP), pci:DOMAIN:BUS:DEV.FN "
     "(a NIC bound to vfio-pci) or vdev:STRING (a DPDK virtual device, e.g. vdev:net_tap0,iface=t0)")
    ("addr", po::value(&addrs)->composing(), "PORT=A.B.C.D/LEN: an address of a port (repeatable)")
    ("route", po::value(&routes)->composing(),
     "PREFIX=GATEWAY, PREFIX=dev PORT, PREFIX=GATEWAY dev PORT, or PREFIX=blackhole|unreachable|"
     "prohibit; PREFIX may be 'default' (repeatable)")
    ("route-file", po::value(&route_files)->composing(),
     "FILE=GW[,GW...]: load the prefixes of FILE (one per line, .gz allowed), each via one of "
     "the gateways (chosen by a hash of the prefix)")
    ("neigh", po::value(&neighs)->composing(), "PORT=A.B.C.D,MAC: a static ARP entry (repeatable)")
    ("workers", po::value(&o.workers)->default_value(1), "worker threads; each polls one queue of every port")
    ("rx-desc", po::value(&o.rx_desc)->default_value(1024),
     "receive descriptors per queue (AF_XDP: the socket's RX and fill ring entries), a power of "
     "two 64-16384; deeper rings ride out longer pauses of a worker without dropping")
    ("tx-desc", po::value(&o.tx_desc)->default_value(1024),
     "transmit descriptors per queue (AF_XDP: TX and completion ring entries), a power of two "
     "64-16384")
    ("tx-coalesce-us", po::value(&o.tx_coalesce_us)->default_value(0),
     "hold frames for a port up to this many microseconds (0-10000) to send fuller bursts: "
     "held frames go when 32 are waiting, when the worker's receive comes up empty, or at the "
     "limit. On AF_XDP each burst costs a system call, so at moderate rates this frees most of "
     "the CPU a frame costs; 0 (default) sends every run at once")
    ("lcores", po::value(&o.lcores), "EAL --lcores map (default: control on the first CPU, workers on the next)")
    ("no-huge", po::bool_switch(&o.no_huge), "use ordinary memory instead of hugepages")
    ("memory", po::value(&o.memory_mb), "MB of memory for DPDK (default 1024 with --no-huge)")
    ("file-prefix", po::value(&o.file_prefix)->default_value("sluice"),
     "DPDK runtime directory name (/var/run/dpdk/NAME); dpdk-telemetry.py -f NAME reads the counters")
    ("log-level", po::value(&o.log_level)->default_value("warning"), "error, warning, info or debug")
    ("eal", po::value(&o.eal_extra)->composing(), "extra EAL argument, passed as is (repeatable)")
    ("arp-reachable", po::value(&o.arp_reachable)->default_value(300), "seconds before a neighbour is re-confirmed")
    ("icmp-rate", po::value(&o.icmp_rate)->default_value(1000), "ICMP errors per second per worker")
    ("exit-after", po::value(&o.exit_after)->default_value(0), "stop after this many seconds (0: run until signalled)")
    ("mirror", po::value(&o.mirror)->default_value("auto"),
     "on, off or auto: mirror the kernel's links, addresses, routes, neighbours and forwarding "
     "sysctl for the AF_XDP ports (auto: on when there is an AF_XDP port)")
    ("kernel-table", po::value(&tables)->composing(),
     "a kernel routing table to mirror, by number or main (repeatable; default main; on equal "
     "metrics the table given first wins)")
    ("netlink-rcvbuf", po::value(&o.netlink_rcvbuf)->default_value(64 << 20),
     "bytes of receive buffer for kernel events (an overrun costs a resync, never a route)")
    ("control-socket", po::value(&o.control_socket)->default_value("/run/sluice/sluice.sock"),
     "the UNIX socket the sluice CLI talks to (mode 0600)")
    ("masquerade", po::value(&masqs)->composing(),
     "PREFIX,out=PORT: traffic from PREFIX leaving PORT gets PORT's address as its source "
     "(repeatable; e.g. 192.168.15.0/24,out=eth0; 0.0.0.0/0 for everything)")
    ("forward", po::value(&fwds)->composing(),
     "PROTO:[ADDR:]PORT=ADDR:PORT[,in=PORT]: connections to the router's PORT (or ADDR:PORT, "
     "ADDR one of its addresses) go to the inside ADDR:PORT; PROTO tcp or udp; in=: only "
     "arriving on that port (repeatable; e.g. tcp:8080=192.168.15.2:80)")
    ("nat-ports", po::value(&nat_ports)->default_value("1024-65535"),
     "FIRST-LAST: the outside ports masquerade allocates from")
    ("nat-sessions", po::value(&nat_sessions)->default_value(65536),
     "NAT sessions per worker (1-16777215; the table is allocated at start, about 115 bytes each)")
    ("nat-timeout-tcp-established", po::value(&t_established)->default_value(7440),
     "seconds an idle established TCP session lives (RFC 5382 REQ-5: 2 h 4 min)")
    ("nat-timeout-tcp-transitory", po::value(&t_transitory)->default_value(240),
     "seconds for a TCP session opening or closing (RFC 5382 REQ-5: 4 min)")
    ("nat-timeout-udp", po::value(&t_udp)->default_value(300),
     "seconds an idle UDP session lives (at least 120, RFC 4787 REQ-5)")
    ("nat-timeout-icmp", po::value(&t_icmp)->default_value(60),
     "seconds an idle ICMP echo session lives")
    ("bridge", po::value(&bridges)->composing(),
     "NAME=PORT[@VLANS],PORT,...[,mac=MAC][,ageing=S][,vlan-filtering]: a learning bridge "
     "over those ports (repeatable); its routed interface is a port named NAME (--addr "
     "NAME=A.B.C.D/LEN); mac: the first port's by default; ageing: seconds a learned MAC "
     "lives (default 300, 0: no learning); with vlan-filtering, PORT@VLANS gives a port its "
     "VLANs, a +-list of VID (untagged, the first is the PVID) and VIDt (tagged): p1@10 is "
     "an access port of VLAN 10, p2@10t+20t a trunk (default: PVID 1 untagged)")
    ("fdb-size", po::value(&fdb_size)->default_value(65535),
     "FDB entries, all bridges together (8-16777215; allocated at start, 16 bytes each plus "
     "the hash's)")
    ("metrics", po::value(&metrics),
     "[ADDR:]PORT: serve Prometheus metrics at http://ADDR:PORT/metrics (ADDR defaults to "
     "127.0.0.1; 0.0.0.0 for every address); off by default (docs/metrics.md)");
  // clang-format on
  po::variables_map vm;
  try {
    all.add(command_line).add(desc);
    po::store(po::parse_command_line(argc, argv, all), vm);
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw std::invalid_argument("--config " + path + ": cannot open");
      po::store(po::parse_config_file(in, desc), vm);
    }
    po::notify(vm);
  } catch (po::error& e) {
    throw std::invalid_argument(error_message(e));
  }
  if (vm.count("help")) {
    std::cout << "sluiced — the sluice router daemon\n\n"
                 "Usage: sluiced --port SPEC [--port SPEC...] [options]\n\n"
              << all << "\n";
    return std::nullopt;
  }
  if (vm.count("version")) {
    std::cout << "sluiced " SLUICE_VERSION "\n";
    return std::nullopt;
  }
  if (ports.empty()) throw std::invalid_argument("no --port given (sluiced --help)");
  if (vm.count("metrics"))
    std::tie(o.metrics_host, o.metrics_port) = parse_metrics_address(metrics);
  for (const std::string& p : ports) o.ports.push_back(PortSpec::parse(p));
  parse_bridge_options(o, bridges);
  if (fdb_size < 8 || fdb_size > kMaxFdbSize)
    throw std::invalid_argument("--fdb-size " + std::to_string(fdb_size) + ": use 8-" +
                                std::to_string(kMaxFdbSize) + " (entries, all bridges together)");
  o.fdb_size = static_cast<uint32_t>(fdb_size);
  auto known = [&](const std::string& opt, const std::string& name) {
    if (is_port_or_bridge(o, name)) return;
    throw std::invalid_argument("--" + opt + ": unknown port '" + name +
                                "' (not given with --port or --bridge)");
  };
  for (const std::string& a : addrs) {
    o.addresses.push_back(parse_address(a));
    known("addr", o.addresses.back().port);
    if (const BridgeOption* b = bridge_with_member(o, o.addresses.back().port))
      throw bad("addr", a,
                "port " + o.addresses.back().port + " is a member of bridge " + b->name +
                    ": a member has no address of its own; give it to the bridge (--addr " +
                    b->name + "=...)");
  }
  for (const std::string& r : routes) {
    o.routes.push_back(parse_route(r));
    if (!o.routes.back().port.empty()) known("route", o.routes.back().port);
  }
  for (const std::string& f : route_files) {
    auto [path, gws] = split_eq("route-file", f, "FILE=GW[,GW...]");
    RouteFileOption rf{path, {}};
    std::istringstream in(gws);
    for (std::string g; std::getline(in, g, ',');) {
      const auto a = Ipv4Addr::parse(g);
      if (!a) throw bad("route-file", f, "'" + g + "' is not a gateway address");
      rf.gateways.push_back(*a);
    }
    o.route_files.push_back(rf);
  }
  for (const std::string& n : neighs) {
    auto [port, rest] = split_eq("neigh", n, "PORT=A.B.C.D,MAC");
    known("neigh", port);
    const size_t comma = rest.find(',');
    const auto a = Ipv4Addr::parse(rest.substr(0, comma));
    const auto mac =
        comma == std::string::npos ? std::nullopt : MacAddr::parse(rest.substr(comma + 1));
    if (!a || !mac) throw bad("neigh", n, "expected PORT=A.B.C.D,xx:xx:xx:xx:xx:xx");
    o.neighbours.push_back({port, *a, *mac});
  }
  if (o.workers == 0 || o.workers > 64) throw std::invalid_argument("--workers must be 1-64");
  if (!(o.tx_coalesce_us >= 0 && o.tx_coalesce_us <= 10000))
    throw std::invalid_argument("--tx-coalesce-us " + std::to_string(o.tx_coalesce_us) +
                                ": use 0-10000 microseconds");
  for (const auto& [name, v] :
       {std::pair{"--rx-desc", o.rx_desc}, std::pair{"--tx-desc", o.tx_desc}})
    if (v < 64 || v > 16384 || (v & (v - 1)) != 0)
      throw std::invalid_argument(std::string(name) + " " + std::to_string(v) +
                                  ": use a power of two from 64 to 16384");
  parse_nat_options(o, masqs, fwds, nat_ports);
  if (nat_sessions < 1 || nat_sessions > kMaxNatSessions)
    throw std::invalid_argument("--nat-sessions " + std::to_string(nat_sessions) + ": use 1-" +
                                std::to_string(kMaxNatSessions) + " (sessions per worker)");
  o.nat.max_sessions = static_cast<uint32_t>(nat_sessions);
  o.nat.timeouts.tcp_established = timeout("nat-timeout-tcp-established", t_established, 1);
  o.nat.timeouts.tcp_transitory = timeout("nat-timeout-tcp-transitory", t_transitory, 1);
  o.nat.timeouts.udp = timeout("nat-timeout-udp", t_udp, 120);
  o.nat.timeouts.icmp = timeout("nat-timeout-icmp", t_icmp, 1);
  if (o.nat.port_last - o.nat.port_first + 1u < o.workers)
    throw std::invalid_argument("--nat-ports " + nat_ports + ": fewer ports than workers (" +
                                std::to_string(o.workers) + "); each worker needs a share");
  static const char* levels[] = {"error", "warning", "info", "debug"};
  bool level_ok = false;
  for (const char* l : levels) level_ok |= o.log_level == l;
  if (!level_ok)
    throw std::invalid_argument("--log-level " + o.log_level +
                                ": use error, warning, info or debug");
  if (o.no_huge && o.memory_mb == 0) o.memory_mb = 1024;
  bool any_kernel_port = false;
  for (const PortSpec& p : o.ports) any_kernel_port |= p.kind == PortSpec::Kind::kKernel;
  if (o.mirror == "on" || o.mirror == "off" || o.mirror == "auto")
    o.mirror_on = o.mirror == "on" || (o.mirror == "auto" && any_kernel_port);
  else
    throw std::invalid_argument("--mirror " + o.mirror + ": use on, off or auto");
  if (o.mirror_on && !any_kernel_port)
    throw std::invalid_argument("--mirror on: no AF_XDP port (IFNAME) to mirror");
  for (const std::string& t : tables) {
    if (t == "main") {
      o.kernel_tables.push_back(254);
      continue;
    }
    if (t.empty() || t.size() > 10 || t.find_first_not_of("0123456789") != std::string::npos ||
        std::stoull(t) == 0 || std::stoull(t) > 0xffffffffULL)
      throw std::invalid_argument("--kernel-table " + t +
                                  ": use main or a table number 1-4294967295");
    o.kernel_tables.push_back(static_cast<uint32_t>(std::stoull(t)));
  }
  if (o.kernel_tables.empty()) o.kernel_tables.push_back(254);
  if (o.netlink_rcvbuf < 4096 && o.netlink_rcvbuf != 0)
    throw std::invalid_argument("--netlink-rcvbuf must be at least 4096 bytes");
  if (o.mirror_on) {
    // The kernel is the configuration of its own interfaces: two sources would disagree.
    auto mirrored = [&](const std::string& name) {
      for (const PortSpec& p : o.ports)
        if (p.name == name) return p.kind == PortSpec::Kind::kKernel;
      return false;
    };
    for (const AddressOption& a : o.addresses)
      if (mirrored(a.port))
        throw std::invalid_argument("--addr " + a.port + "=...: port " + a.port +
                                    " is mirrored from the kernel; use ip addr add ... dev " +
                                    a.port + " (or --mirror off)");
    for (const NeighOption& n : o.neighbours)
      if (mirrored(n.port))
        throw std::invalid_argument(
            "--neigh " + n.port + "=...: port " + n.port +
            " is mirrored from the kernel; use ip neigh add (or --mirror off)");
  }
  return o;
}

}  // namespace sluice
