// sluiced_main.cpp — the sluice daemon: options, EAL, the dataplane, the configuration (the
// kernel mirror, or static options), then the control loop until SIGTERM/SIGINT: one thread
// polls kernel events, the control socket and the dataplane's punted packets and timers, so
// every table has a single writer and needs no lock.
#include <poll.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <sched.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/commands.h"
#include "control/control_server.h"
#include "control/kernel_mirror.h"
#include "control/metrics_exchange.h"
#include "control/metrics_http.h"
#include "control/metrics_telemetry.h"
#include "control/options.h"
#include "control/sd_notify.h"
#include "dataplane/dataplane.h"
#include "dataplane/dpdk_log.h"
#include "dataplane/log.h"
#include "dataplane/packet_capture.h"
#include "lpm/route_file.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

std::vector<std::string> eal_args(const sluice::SluicedOptions& o, const char* argv0) {
  std::vector<std::string> a{argv0, "--file-prefix", o.file_prefix};
  if (!o.lcores.empty()) {
    a.push_back("--lcores=" + o.lcores);
  } else {
    // Control on the first CPU we may run on, workers on the following ones (wrapping).
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
      for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set)) cpus.push_back(c);
    if (cpus.empty()) cpus.push_back(0);
    std::string map;
    for (unsigned i = 0; i <= o.workers; ++i) {
      if (i) map.push_back(',');
      map.append(std::to_string(i)).push_back('@');
      map.append(std::to_string(cpus[i % cpus.size()]));
    }
    a.push_back("--lcores=" + map);
  }
  if (o.no_huge) a.push_back("--no-huge");
  if (o.memory_mb) a.push_back("-m" + std::to_string(o.memory_mb));
  bool pci = false;
  for (const sluice::PortSpec& p : o.ports) {
    if (p.kind == sluice::PortSpec::Kind::kPci) {
      a.push_back("-a");
      a.push_back(p.device);
      pci = true;
    }
  }
  if (!pci) a.push_back("--no-pci");
  a.push_back("--log-level=" + std::to_string(sluice::dpdk_log_level(sluice::log::level())));
  for (const std::string& e : o.eal_extra) a.push_back(e);
  return a;
}

// The --bridge bridges, before anything names their routed interfaces (addresses, routes,
// neighbours, NAT rules): each is a port once added.
void add_bridges(sluice::Dataplane& dp, const sluice::SluicedOptions& o) {
  sluice::ForwardingState& fs = dp.state();
  for (const sluice::BridgeOption& b : o.bridges) {
    sluice::Bridges::Config c;
    c.name = b.name;
    c.mac = b.mac;
    c.ageing = b.ageing;
    c.vlan_filtering = b.vlan_filtering;
    std::vector<sluice::Bridges::Member> members;
    for (size_t i = 0; i < b.ports.size(); ++i) {
      sluice::Bridges::Member m;
      m.port = *fs.port_by_name(b.ports[i]);
      if (i < b.port_vlans.size() && !b.port_vlans[i].vlans.empty()) {
        m.pvid = b.port_vlans[i].pvid;  // 0: a trunk without untagged VLAN drops untagged frames
        m.vlans = b.port_vlans[i].vlans;
      }
      members.push_back(m);
    }
    const std::string err = dp.bridges().add(c, members);
    if (!err.empty()) throw std::invalid_argument("--bridge " + b.spec + ": " + err);
  }
}

void configure(sluice::Dataplane& dp, const sluice::SluicedOptions& o, sluice::Commands& commands) {
  sluice::ForwardingState& fs = dp.state();
  auto port_of = [&](const std::string& name) { return *fs.port_by_name(name); };
  for (const sluice::AddressOption& a : o.addresses) {
    const std::string err = fs.add_address(port_of(a.port), a.addr, a.len);
    if (!err.empty())
      throw std::invalid_argument("--addr " + a.port + "=" + a.addr.str() + "/" +
                                  std::to_string(a.len) + ": " + err);
  }
  for (const sluice::NeighOption& n : o.neighbours)
    dp.neighbours().add_static(port_of(n.port), n.addr, n.mac);
  for (const sluice::RouteOption& r : o.routes) {
    sluice::RouteTarget t;
    t.kind = r.kind;
    t.gateway = r.gateway;
    if (!r.port.empty()) t.port = port_of(r.port);
    const std::string err = commands.add_static_route(r.prefix, t);
    if (!err.empty()) throw std::invalid_argument("--route " + r.prefix.str() + ": " + err);
  }
  for (const sluice::RouteFileOption& f : o.route_files) {
    const std::vector<sluice::Prefix> prefixes = sluice::lpm::read_prefix_file(f.path);
    for (const sluice::Prefix& p : prefixes) {
      sluice::RouteTarget t;
      t.gateway =
          f.gateways[sluice::lpm::synthetic_next_hop(p, static_cast<uint32_t>(f.gateways.size()))];
      const std::string err = commands.add_static_route(p, t);
      if (!err.empty()) throw std::invalid_argument("--route-file " + f.path + ": " + err);
    }
    sluice::log::info("%zu routes from %s", prefixes.size(), f.path.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  sluice::log::init(sluice::log::Level::kWarning);
  sluice::set_start_time(sluice::unix_now());
  std::optional<sluice::SluicedOptions> opts;
  try {
    opts = sluice::parse_sluiced_options(argc, argv);
  } catch (const std::exception& e) {
    sluice::log::fatal("%s", e.what());
    return 2;
  }
  if (!opts) return 0;
  const sluice::SluicedOptions& o = *opts;
  sluice::log::set_level(
      sluice::log::parse_level(o.log_level).value_or(sluice::log::Level::kWarning));
  sluice::route_dpdk_log();

  // Bound before EAL, so that a port in use is one line on stderr and costs nothing.
  std::unique_ptr<sluice::MetricsHttpServer> metrics;
  try {
    if (o.metrics_port != 0)
      metrics = std::make_unique<sluice::MetricsHttpServer>(o.metrics_host, o.metrics_port,
                                                            sluice::MetricsExchange::process());
  } catch (const std::exception& e) {
    sluice::log::fatal("%s", e.what());
    return 1;
  }
  std::vector<std::string> args = eal_args(o, argv[0]);
  std::vector<char*> cargs;
  for (std::string& s : args) cargs.push_back(s.data());
  if (rte_eal_init(static_cast<int>(cargs.size()), cargs.data()) < 0) {
    sluice::log::fatal(
        "DPDK EAL initialisation failed (try --no-huge, or reserve "
        "hugepages: echo 512 > /proc/sys/vm/nr_hugepages)");
    return 1;
  }
  int rc = 0;
  try {
    // dpdk-dumpcap's server (docs/capture.md); outlives the dataplane, whose ports it taps.
    const sluice::PacketCapture capture;
    // Scrapes before the control loop runs get 503 (the exchange is not open yet).
    if (metrics) metrics->start();
    sluice::DataplaneConfig dc;
    dc.ports = o.ports;
    dc.workers = o.workers;
    dc.rx_desc = static_cast<uint16_t>(o.rx_desc);
    dc.tx_desc = static_cast<uint16_t>(o.tx_desc);
    dc.tx_coalesce_us = o.tx_coalesce_us;
    dc.neighbours.reachable_time = o.arp_reachable;
    dc.icmp_errors_per_second = o.icmp_rate;
    dc.nat = o.nat;
    dc.fdb_size = o.fdb_size;
    sluice::Dataplane dp(dc);
    add_bridges(dp, o);
    std::unique_ptr<sluice::KernelMirror> mirror;
    sluice::MirrorConfig mc;
    if (o.mirror_on) {
      mc.tables = o.kernel_tables;
      mc.rcvbuf = o.netlink_rcvbuf;
      mirror = std::make_unique<sluice::KernelMirror>(dp, mc);
    }
    sluice::Commands commands(dp, mirror.get(), o.nat);
    configure(dp, o, commands);
    if (mirror) mirror->start(sluice::Dataplane::monotonic_seconds());
    // After the addresses are in (options or the mirror): the rules' router addresses are
    // filled in from them.
    if (!o.masquerade.empty() || !o.forward.empty()) {
      sluice::nat::Rules rules;
      for (const sluice::nat::MasqueradeSpec& m : o.masquerade)
        rules.masquerade.push_back(commands.masquerade_rule(m));
      for (const sluice::nat::ForwardSpec& f : o.forward)
        rules.forward.push_back(commands.forward_rule(f));
      dp.set_nat_rules(std::move(rules));
    }
    dp.sync_xdp_local_addresses();
    sluice::register_telemetry();
    sluice::ControlServer server(
        o.control_socket, [&](const std::vector<std::string>& args) { return commands.run(args); });
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    dp.start();
    // The metrics endpoint and telemetry are served by this loop (metrics_exchange.h); closed
    // on the way out, even by an exception, so that no reader waits for a loop that is gone.
    sluice::MetricsExchange& exchange = sluice::MetricsExchange::process();
    exchange.open();
    const std::unique_ptr<sluice::MetricsExchange, void (*)(sluice::MetricsExchange*)>
        exchange_open(&exchange, [](sluice::MetricsExchange* x) { x->close(); });
    if (metrics)
      printf("sluiced: metrics on http://%s:%u/metrics\n", o.metrics_host.c_str(),
             unsigned{o.metrics_port});
    printf(
        "sluiced: ready: %zu port(s), %u worker(s), %zu routes, %s; control socket %s; "
        "counters: sluice stats\n",
        dp.ports().size(), dp.workers(), dp.state().routes().size(),
        mirror ? "mirroring the kernel" : "static configuration", o.control_socket.c_str());
    fflush(stdout);
    sluice::notify_systemd("READY=1");  // Type=notify (sluiced.service)
    const double started = sluice::Dataplane::monotonic_seconds();
    std::vector<pollfd> fds;
    while (!g_stop) {
      fds.clear();
      server.poll_fds(fds);
      if (mirror) fds.push_back(pollfd{mirror->fd(), POLLIN, 0});
      // A short timeout: punted packets and ARP timers are served from this loop too.
      poll(fds.data(), fds.size(), 1);
      const double now = sluice::Dataplane::monotonic_seconds();
      dp.service(now);
      const size_t events = mirror ? mirror->service(now) : 0;
      server.service(now);
      exchange.serve([&] { return sluice::collect_stats(dp, mirror.get(), o.nat); });
      // While the kernel trickles route changes in, take them in batches of a millisecond
      // rather than waking for each one: on a small machine every wakeup is CPU the kernel
      // (and whatever is adding the routes) does not get. A full budget means a backlog: go on.
      if (events > 0 && events < mc.budget) usleep(1000);
      if (o.exit_after > 0 && now - started >= o.exit_after) break;
    }
    sluice::notify_systemd("STOPPING=1");
    dp.stop();
    dp.service(sluice::Dataplane::monotonic_seconds() + 1);
    printf("sluiced: stopping\n%s", dp.summary().c_str());
    fflush(stdout);
  } catch (const std::exception& e) {
    sluice::log::fatal("%s", e.what());
    rc = 1;
  }
  rte_eal_cleanup();
  return rc;
}
