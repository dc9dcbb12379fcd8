// commands.cpp — the CLI's commands: parsing their words, reading the tables on the control
// thread, and printing them as iproute2 would (or as JSON with stable keys).
#include "control/commands.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <tuple>

#include "control/metrics.h"
#include "dataplane/log.h"
#include "dataplane/packet_graph.h"

namespace sluice {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kUsage =
    "commands:\n"
    "  route show [PREFIX] [-n] [--all]   routes (-n: the classic route -n table)\n"
    "  route get ADDR                     the route, gateway, port and neighbour for ADDR\n"
    "  route add PREFIX via GW [dev PORT] | PREFIX dev PORT | blackhole|unreachable|prohibit "
    "PREFIX\n"
    "  route del PREFIX                   static routes (ports without a kernel twin)\n"
    "  route check                        compare the fast path with the kernel (exit 1: differ)\n"
    "  neigh | link | addr                neighbours, ports, addresses\n"
    "  stats                              per port and per node counters, drops by reason\n"
    "  graph                              the packet graph as Graphviz dot\n"
    "  nat show                           NAT rules, port range, timeouts, sessions, counters\n"
    "  nat sessions [--limit N]           the sessions (default at most 1000; 0: all)\n"
    "  nat masquerade add|del PREFIX,out=PORT\n"
    "  nat forward add PROTO:[ADDR:]PORT=ADDR:PORT[,in=PORT]\n"
    "  nat forward del PROTO:[ADDR:]PORT[=ADDR:PORT][,in=PORT]\n"
    "  bridge [show] [NAME]               bridges: members, routed interface, FDB, counters\n"
    "  bridge fdb [show] [NAME]           the FDB: MAC, bridge, port, VLAN, age, flags\n"
    "  bridge add NAME PORT [PORT...] [mac MAC] [ageing S] [vlan-filtering]\n"
    "  bridge del NAME | bridge set NAME ageing S\n"
    "  bridge fdb add|del MAC dev PORT|BRIDGE [vlan V]   static entry (PORT) or local (BRIDGE)\n"
    "  --json on every show command\n";

[[noreturn]] void usage_error(const std::string& what) {
  throw std::invalid_argument(what + " (sluice --help lists the commands)");
}

CommandReply ok(std::string body) {
  return CommandReply{0, std::move(body)};
}

CommandReply ok(const json& j) {
  return CommandReply{0, j.dump(2) + "\n"};
}

const char* kind_name(NextHopKind k) {
  switch (k) {
    case NextHopKind::kForward: return "unicast";
    case NextHopKind::kLocal: return "local";
    case NextHopKind::kBroadcast: return "broadcast";
    case NextHopKind::kBlackhole: return "blackhole";
    case NextHopKind::kUnreachable: return "unreachable";
    case NextHopKind::kProhibit: return "prohibit";
    default: return "multipath";
  }
}

const char* origin_name(RouteView::Origin o) {
  switch (o) {
    case RouteView::Origin::kUser: return "user";
    case RouteView::Origin::kConnected: return "connected";
    case RouteView::Origin::kLocal: return "local";
    case RouteView::Origin::kNeighbour: return "neighbour";
  }
  return "?";
}

std::string dst_str(Prefix p) {
  return p.len() == 0 ? "default" : p.str();
}

bool is_reject(NextHopKind k) {
  return k == NextHopKind::kBlackhole || k == NextHopKind::kUnreachable ||
         k == NextHopKind::kProhibit;
}

bool has_flag(const std::vector<std::string>& a, const char* f) {
  return std::find(a.begin(), a.end(), f) != a.end();
}

constexpr size_t kDefaultSessionLimit = 1000;

size_t parse_limit(const std::string& v) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
    usage_error("--limit: expected a number of sessions (0: all), got '" + v + "'");
  return std::stoul(v);
}

json nat_totals_json(const NatTotals& t) {
  return json{{"sessions", t.sessions},
              {"capacity", t.capacity},
              {"bytes", t.bytes},
              {"translated", t.translated},
              {"created", t.created},
              {"expired", t.expired},
              {"table_full", t.table_full},
              {"ports_exhausted", t.ports_exhausted},
              {"filtered", t.filtered},
              {"icmp_errors", t.icmp_errors},
              {"hairpin", t.hairpin},
              {"fragments", t.fragments},
              {"fragments_untracked", t.fragments_untracked},
              {"flushed", t.flushed},
              {"handoffs", t.handoffs},
              {"handoff_full", t.handoff_full}};
}

std::string nat_totals_text(const NatTotals& t) {
  char line[512];
  snprintf(line, sizeof line,
           "nat: sessions %" PRIu64 " of %" PRIu64 " (%" PRIu64 " bytes), translated %" PRIu64
           ", created %" PRIu64 ", expired %" PRIu64 ", flushed %" PRIu64
           "\n"
           "     filtered %" PRIu64 ", hairpin %" PRIu64 ", icmp errors %" PRIu64
           ", fragments %" PRIu64 " (untracked %" PRIu64 "), table full %" PRIu64
           ", ports exhausted %" PRIu64 ", handoffs %" PRIu64 " (ring full %" PRIu64 ")\n",
           t.sessions, t.capacity, t.bytes, t.translated, t.created, t.expired, t.flushed,
           t.filtered, t.hairpin, t.icmp_errors, t.fragments, t.fragments_untracked, t.table_full,
           t.ports_exhausted, t.handoffs, t.handoff_full);
  return line;
}

std::string endpoint(uint32_t addr, uint16_t port) {
  return Ipv4Addr::from_host(addr).str() + ":" + std::to_string(port);
}

const char* session_kind(uint8_t k) {
  const bool snat = k & nat::kKindSnat, dnat = k & nat::kKindDnat;
  return snat && dnat ? "hairpin" : snat ? "snat" : dnat ? "dnat" : "none";
}

std::vector<std::string> without_flags(const std::vector<std::string>& a) {
  std::vector<std::string> out;
  for (const std::string& s : a)
    if (s.empty() || s[0] != '-') out.push_back(s);
  return out;
}

// Bridges: the totals shown by `bridge show` and `stats` (the FDB, the control thread's
// learning counters, the workers' flooding counters), as collected for the metrics too.
json bridge_totals_json(const BridgeFigures& b) {
  return json{{"bridges", b.bridges.size()},
              {"fdb_entries", b.fdb_entries},
              {"fdb_capacity", b.fdb_capacity},
              {"fdb_bytes", b.fdb_bytes},
              {"learned", b.control.learned},
              {"moves", b.control.moves},
              {"full", b.control.full},
              {"aged", b.control.aged},
              {"static_kept", b.control.static_kept},
              {"notes_received", b.control.notes},
              {"notes_sent", b.notes_sent},
              {"notes_lost", b.notes_lost},
              {"flooded", b.flooded},
              {"flood_copies", b.flood_copies},
              {"copy_failed", b.copy_failed},
              {"own_src", b.own_src}};
}

std::string bridge_totals_text(const BridgeFigures& b) {
  const json t = bridge_totals_json(b);
  auto n = [&](const char* k) { return t[k].get<uint64_t>(); };
  char line[512];
  snprintf(line, sizeof line,
           "bridge: %" PRIu64 " bridge(s), fdb %" PRIu64 " of %" PRIu64 " entries (%" PRIu64
           " bytes); learned %" PRIu64 ", moves %" PRIu64 ", full %" PRIu64 ", aged %" PRIu64
           ", static kept %" PRIu64
           "\n"
           "        notes sent %" PRIu64 ", received %" PRIu64 ", lost %" PRIu64
           "; flooded %" PRIu64 " (copies %" PRIu64 ", copy failed %" PRIu64
           "), own source %" PRIu64 "\n",
           n("bridges"), n("fdb_entries"), n("fdb_capacity"), n("fdb_bytes"), n("learned"),
           n("moves"), n("full"), n("aged"), n("static_kept"), n("notes_sent"), n("notes_received"),
           n("notes_lost"), n("flooded"), n("flood_copies"), n("copy_failed"), n("own_src"));
  return line;
}

// A member's VLANs as the workers see them (an empty list means {PVID, untagged}).
std::map<uint16_t, bool> member_vlans(const Bridges::Member& m) {
  if (m.vlans.empty() && m.pvid != 0) return {{m.pvid, true}};
  return m.vlans;
}

const char* fdb_flag(const Bridges::FdbView& e) {
  return e.local ? "local" : e.is_static ? "static" : "learned";
}

std::optional<uint16_t> parse_vid(const std::string& v) {
  if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const unsigned long n = std::stoul(v);
  if (n < 1 || n > 4094) return std::nullopt;
  return static_cast<uint16_t>(n);
}

// A change made through the control socket is an operational event: one info line, in the
// command's own words, once it has succeeded.
void log_change(const std::string& command, const std::vector<std::string>& words) {
  if (!log::enabled(log::Level::kInfo)) return;
  std::string line = command;
  for (const std::string& w : words) line += " " + w;
  log::info("control: %s", line.c_str());
}

std::optional<uint32_t> parse_ageing(const std::string& v) {
  if (v.empty() || v.size() > 7 || v.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const unsigned long n = std::stoul(v);
  if (n > 1000000) return std::nullopt;
  return static_cast<uint32_t>(n);
}

}  // namespace

CommandReply Commands::run(const std::vector<std::string>& all_args) {
  // `--limit N` (nat sessions) is the one option with a value: taken out first.
  std::vector<std::string> args;
  std::optional<size_t> limit;
  for (size_t i = 0; i < all_args.size(); ++i) {
    const std::string& a = all_args[i];
    if (a == "--limit") {
      if (i + 1 >= all_args.size()) usage_error("--limit needs a number");
      limit = parse_limit(all_args[++i]);
    } else if (a.rfind("--limit=", 0) == 0) {
      limit = parse_limit(a.substr(8));
    } else {
      args.push_back(a);
    }
  }
  const bool json_out = has_flag(args, "--json") || has_flag(args, "-j");
  for (const std::string& a : args)
    if (!a.empty() && a[0] == '-' && a != "--json" && a != "-j" && a != "-n" && a != "--all")
      usage_error("unknown option '" + a + "'");
  const std::vector<std::string> w = without_flags(args);
  if (w.empty() || w[0] == "help") return ok(std::string(kUsage));
  const std::string& cmd = w[0];
  if (limit && !(cmd == "nat" && w.size() > 1 && w[1] == "sessions"))
    usage_error("--limit is for nat sessions only");
  auto only = [&](size_t n) {
    if (w.size() > n) usage_error("unexpected '" + w[n] + "' after '" + cmd + "'");
  };
  if (cmd == "route" || cmd == "r" || cmd == "ro") return route(args, json_out);
  if (cmd == "neigh" || cmd == "neighbour" || cmd == "neighbor" || cmd == "n") {
    if (w.size() > 1 && w[1] != "show") usage_error("neigh: only 'show' is supported");
    only(w.size() > 1 ? 2 : 1);
    return neigh(json_out);
  }
  if (cmd == "link" || cmd == "l") {
    if (w.size() > 1 && w[1] != "show") usage_error("link: only 'show' is supported");
    only(w.size() > 1 ? 2 : 1);
    return link(json_out);
  }
  if (cmd == "addr" || cmd == "address" || cmd == "a") {
    if (w.size() > 1 && w[1] != "show") usage_error("addr: only 'show' is supported");
    only(w.size() > 1 ? 2 : 1);
    return addr(json_out);
  }
  if (cmd == "stats") {
    only(1);
    return stats(json_out);
  }
  if (cmd == "graph") {
    only(1);
    return graph();
  }
  if (cmd == "nat") return nat(w, json_out, limit.value_or(kDefaultSessionLimit));
  if (cmd == "bridge" || cmd == "br") return bridge(w, json_out);
  usage_error("unknown command '" + cmd + "'");
}

CommandReply Commands::route(const std::vector<std::string>& args, bool json_out) {
  std::vector<std::string> w = without_flags(args);
  w.erase(w.begin());
  const std::string sub = w.empty() ? "show" : w[0];
  if (!w.empty()) w.erase(w.begin());
  if (sub == "show" || sub == "list" || sub == "ls") {
    if (w.size() > 1) usage_error("route show takes at most one PREFIX");
    std::vector<std::string> a = w;
    if (has_flag(args, "-n")) a.push_back("-n");
    if (has_flag(args, "--all")) a.push_back("--all");
    return route_show(a, json_out);
  }
  if (sub == "get") {
    if (w.size() != 1) usage_error("route get takes one address");
    return route_get(w, json_out);
  }
  if (sub == "add" || sub == "replace") return route_add(w, false);
  if (sub == "del" || sub == "delete") return route_add(w, true);
  if (sub == "check") {
    if (!w.empty()) usage_error("route check takes no arguments");
    return route_check(json_out);
  }
  usage_error("unknown route command '" + sub + "'");
}

CommandReply Commands::route_show(const std::vector<std::string>& a, bool json_out) {
  const ForwardingState& fs = dp_.state();
  const bool classic = has_flag(a, "-n");
  const bool all = has_flag(a, "--all");
  std::optional<Prefix> only;
  for (const std::string& s : a) {
    if (s[0] == '-') continue;
    only = Prefix::parse(s);
    if (!only) usage_error("'" + s + "' is not a prefix (A.B.C.D/LEN or default)");
  }
  auto wanted = [&](const RouteView& v) {
    if (only) return v.prefix == *only;
    return all || v.origin == RouteView::Origin::kUser || v.origin == RouteView::Origin::kConnected;
  };
  auto port_name = [&](uint16_t p) { return fs.port(p).name; };
  auto metric_of = [&](Prefix p) -> uint32_t {
    if (!mirror_) return 0;
    return mirror_->metric(p).value_or(0);
  };

  if (json_out) {
    json out = json::array();
    fs.for_each_route([&](const RouteView& v) {
      if (!wanted(v) || v.paths.empty()) return;
      json r;
      r["dst"] = dst_str(v.prefix);
      const PathView& p0 = v.paths[0];
      r["type"] = v.paths.size() > 1 ? "unicast" : kind_name(p0.kind);
      r["origin"] = origin_name(v.origin);
      r["metric"] = metric_of(v.prefix);
      if (v.paths.size() == 1) {
        if (p0.gateway.host() != 0) r["gateway"] = p0.gateway.str();
        if (!is_reject(p0.kind)) r["dev"] = port_name(p0.port);
      } else {
        json hops = json::array();
        for (const PathView& p : v.paths) {
          json h;
          if (p.gateway.host() != 0) h["gateway"] = p.gateway.str();
          h["dev"] = port_name(p.port);
          h["weight"] = p.weight;
          hops.push_back(h);
        }
        r["nexthops"] = hops;
      }
      out.push_back(r);
    });
    if (only && out.empty()) throw std::invalid_argument("no route " + only->str());
    // Compact, as `ip -j route` prints it: a full table is 900k objects.
    return ok(out.dump() + "\n");
  }

  std::string body;
  if (classic) {
    body =
        "sluice IP routing table\n"
        "Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n";
  }
  char line[256];
  fs.for_each_route([&](const RouteView& v) {
    if (!wanted(v) || v.paths.empty()) return;
    const PathView& p0 = v.paths[0];
    if (classic) {
      // route -n prints one line per path of a multipath route.
      for (const PathView& p : v.paths) {
        std::string flags = "U";
        if (p.gateway.host() != 0) flags += "G";
        if (v.prefix.len() == 32) flags += "H";
        if (is_reject(p.kind)) flags = "!" + flags.substr(1);
        snprintf(
            line, sizeof line, "%-15s %-15s %-15s %-5s %-6u %-6s %3d %s\n",
            v.prefix.addr().str().c_str(), p.gateway.host() ? p.gateway.str().c_str() : "0.0.0.0",
            Ipv4Addr::from_host(v.prefix.mask()).str().c_str(), flags.c_str(), metric_of(v.prefix),
            is_reject(p.kind) ? "-" : "0", 0, is_reject(p.kind) ? "-" : port_name(p.port).c_str());
        body.append(line);
      }
      return;
    }
    std::string s;
    if (v.paths.size() == 1 && p0.kind != NextHopKind::kForward)
      s.append(kind_name(p0.kind)).push_back(' ');
    s.append(dst_str(v.prefix));
    if (v.paths.size() == 1) {
      if (p0.gateway.host() != 0) s.append(" via ").append(p0.gateway.str());
      if (p0.kind == NextHopKind::kForward || p0.kind == NextHopKind::kLocal ||
          p0.kind == NextHopKind::kBroadcast)
        s.append(" dev ").append(port_name(p0.port));
      if (p0.kind == NextHopKind::kForward && p0.gateway.host() == 0) s.append(" scope link");
    }
    if (v.origin == RouteView::Origin::kNeighbour) s.append(" proto neighbour");
    if (const uint32_t m = metric_of(v.prefix)) s.append(" metric ").append(std::to_string(m));
    s.push_back('\n');
    if (v.paths.size() > 1)
      for (const PathView& p : v.paths) {
        s.append("\tnexthop");
        if (p.gateway.host() != 0) s.append(" via ").append(p.gateway.str());
        s.append(" dev ").append(port_name(p.port));
        s.append(" weight ").append(std::to_string(p.weight)).push_back('\n');
      }
    body.append(s);
  });
  if (only && body.empty()) throw std::invalid_argument("no route " + only->str());
  return ok(std::move(body));
}

CommandReply Commands::route_get(const std::vector<std::string>& w, bool json_out) {
  const ForwardingState& fs = dp_.state();
  const auto a = Ipv4Addr::parse(w[0]);
  if (!a) usage_error("'" + w[0] + "' is not an IPv4 address");
  const std::optional<RouteView> v = fs.lookup_route(*a);
  if (!v || v->paths.empty())
    throw std::invalid_argument("no route to " + a->str() + " (network is unreachable)");
  const PathView& p0 = v->paths[0];
  json j;
  j["dst"] = a->str();
  j["prefix"] = dst_str(v->prefix);
  j["type"] = v->paths.size() > 1 ? "unicast" : kind_name(p0.kind);
  j["origin"] = origin_name(v->origin);
  std::string s;
  if (v->paths.size() == 1 && p0.kind != NextHopKind::kForward)
    s.append(kind_name(p0.kind)).push_back(' ');
  s.append(a->str());
  auto path_text = [&](const PathView& p, json& h) {
    std::string t;
    if (p.gateway.host() != 0) {
      t.append(" via ").append(p.gateway.str());
      h["gateway"] = p.gateway.str();
    }
    if (is_reject(p.kind)) return t;
    t.append(" dev ").append(fs.port(p.port).name);
    h["dev"] = fs.port(p.port).name;
    const Ipv4Addr src_addr = fs.source_for(p.port, p.gateway.host() != 0 ? p.gateway : *a);
    const std::string src = src_addr.host() ? src_addr.str() : std::string();
    if (p.kind == NextHopKind::kLocal) {
      h["prefsrc"] = a->str();
      t.append(" src ").append(a->str());
      return t;
    }
    if (!src.empty()) {
      t.append(" src ").append(src);
      h["prefsrc"] = src;
    }
    if (p.kind != NextHopKind::kForward) return t;
    // On-link routes resolve per destination: their neighbour is the address itself.
    std::optional<MacAddr> mac;
    if (p.gateway.host() != 0) {
      if (p.resolved) mac = p.mac;
    } else {
      for (const NeighbourView& n : fs.neighbours())
        if (n.port == p.port && n.ip == *a) mac = n.mac;
    }
    if (mac) {
      t.append(" lladdr ").append(mac->str());
      h["lladdr"] = mac->str();
    } else {
      t.append(" unresolved");
      h["lladdr"] = nullptr;
    }
    return t;
  };
  if (v->paths.size() == 1) {
    s.append(path_text(p0, j));
  } else {
    json hops = json::array();
    for (const PathView& p : v->paths) {
      json h;
      s.append(" nexthop");
      s.append(path_text(p, h));
      s.append(" weight ").append(std::to_string(p.weight));
      h["weight"] = p.weight;
      hops.push_back(h);
    }
    j["nexthops"] = hops;
  }
  s.append(" prefix ").append(dst_str(v->prefix)).push_back('\n');
  if (json_out) return ok(json::array({j}));
  return ok(std::move(s));
}

std::string Commands::add_static_route(Prefix p, const RouteTarget& t) {
  ForwardingState& fs = dp_.state();
  if (mirror_ && t.kind == NextHopKind::kForward) {
    const std::optional<uint16_t> port = t.port ? t.port : fs.port_for_gateway(t.gateway);
    if (port && fs.port(*port).kernel_twin)
      return "port " + fs.port(*port).name +
             " is mirrored from the kernel: add the route with ip route in sluiced's netns";
  }
  const std::string err = fs.replace_route(p, t);
  if (err.empty() && mirror_) mirror_->set_static(p, true);
  return err;
}

std::string Commands::del_static_route(Prefix p) {
  if (mirror_ && !mirror_->is_static(p))
    return "no static route " + p.str() +
           (dp_.state().route(p) ? " (it comes from the kernel: ip route del)" : "");
  const std::string err = dp_.state().del_route(p);
  if (err.empty() && mirror_) mirror_->set_static(p, false);
  return err;
}

CommandReply Commands::route_add(const std::vector<std::string>& w, bool del) {
  const char* verb = del ? "route del" : "route add";
  size_t i = 0;
  RouteTarget t;
  if (i < w.size() && (w[i] == "blackhole" || w[i] == "unreachable" || w[i] == "prohibit")) {
    t.kind = w[i] == "blackhole"     ? NextHopKind::kBlackhole
             : w[i] == "unreachable" ? NextHopKind::kUnreachable
                                     : NextHopKind::kProhibit;
    ++i;
  }
  if (i >= w.size()) usage_error(std::string(verb) + ": missing PREFIX");
  const auto p = Prefix::parse(w[i]);
  if (!p) usage_error("'" + w[i] + "' is not a prefix (A.B.C.D/LEN with no host bits, or default)");
  ++i;
  if (del) {
    if (i != w.size()) usage_error("route del takes only the PREFIX");
    const std::string err = del_static_route(*p);
    if (!err.empty()) throw std::invalid_argument(err);
    log_change("route del", w);
    return ok(std::string());
  }
  while (i < w.size()) {
    if (w[i] == "via" && i + 1 < w.size() && t.kind == NextHopKind::kForward) {
      const auto gw = Ipv4Addr::parse(w[i + 1]);
      if (!gw) usage_error("'" + w[i + 1] + "' is not a gateway address");
      t.gateway = *gw;
      i += 2;
    } else if (w[i] == "dev" && i + 1 < w.size() && t.kind == NextHopKind::kForward) {
      const auto port = dp_.state().port_by_name(w[i + 1]);
      if (!port) usage_error("unknown port '" + w[i + 1] + "'");
      t.port = *port;
      i += 2;
    } else {
      usage_error("route add: unexpected '" + w[i] + "'");
    }
  }
  if (t.kind == NextHopKind::kForward && t.gateway.host() == 0 && !t.port)
    usage_error("route add " + p->str() + ": needs via GATEWAY or dev PORT");
  const std::string err = add_static_route(*p, t);
  if (!err.empty()) throw std::invalid_argument(err);
  log_change("route add", w);
  return ok(std::string());
}

CommandReply Commands::route_check(bool json_out) {
  if (!mirror_)
    throw std::invalid_argument(
        "route check compares with the kernel: sluiced runs with --mirror off");
  const KernelMirror::CheckResult r = mirror_->check();
  const bool clean = r.differences.empty();
  if (json_out) {
    json j;
    j["clean"] = clean;
    j["kernel_routes"] = r.kernel_routes;
    j["sluice_routes"] = r.sluice_routes;
    j["not_mirrored"] = r.not_mirrored;
    j["differences"] = r.differences;
    return CommandReply{clean ? 0 : 1, j.dump(2) + "\n"};
  }
  std::string body;
  for (const std::string& d : r.differences) body.append(d).push_back('\n');
  body.append(clean ? "clean: " : "DIFFERENT: ");
  body.append(std::to_string(r.kernel_routes) + " kernel routes, " +
              std::to_string(r.sluice_routes) + " in the fast path, " +
              std::to_string(r.not_mirrored) +
              " not mirrored (through other interfaces, or tos/unsupported types)\n");
  return CommandReply{clean ? 0 : 1, std::move(body)};
}

CommandReply Commands::neigh(bool json_out) {
  const ForwardingState& fs = dp_.state();
  const double now = Dataplane::monotonic_seconds();
  json out = json::array();
  std::string body;
  for (const NeighbourResolver::Entry& e : dp_.neighbours().entries(now)) {
    std::string state = NeighbourResolver::state_name(e.state);
    // The kernel's own word for its entries, so `sluice neigh` reads like `ip neigh`.
    if (e.origin == NeighbourResolver::Origin::kKernel && mirror_)
      if (std::string k = mirror_->kernel_neighbour_state(e.port, e.ip); !k.empty()) state = k;
    const char* origin = e.origin == NeighbourResolver::Origin::kStatic   ? "static"
                         : e.origin == NeighbourResolver::Origin::kKernel ? "kernel"
                                                                          : "arp";
    const bool has_mac = e.state == NeighbourResolver::State::kReachable ||
                         e.state == NeighbourResolver::State::kProbe;
    if (json_out) {
      json j;
      j["dst"] = e.ip.str();
      j["dev"] = fs.port(e.port).name;
      j["lladdr"] = has_mac ? json(e.mac.str()) : json(nullptr);
      j["state"] = state;
      j["origin"] = origin;
      out.push_back(j);
      continue;
    }
    body.append(e.ip.str()).append(" dev ").append(fs.port(e.port).name);
    if (has_mac) body.append(" lladdr ").append(e.mac.str());
    body.append(" ").append(state).append(" ").append(origin).push_back('\n');
  }
  if (json_out) return ok(out);
  return ok(std::move(body));
}

CommandReply Commands::link(bool json_out) {
  const ForwardingState& fs = dp_.state();
  std::map<uint16_t, KernelMirror::LinkView> kernel;
  if (mirror_)
    for (const KernelMirror::LinkView& l : mirror_->links()) kernel[l.port] = l;
  json out = json::array();
  std::string body;
  for (uint16_t i = 0; i < fs.port_count(); ++i) {
    const PortState& p = fs.port(i);
    // Past the opened ports: bridges' routed interfaces (no device, no queues); a deleted
    // bridge's slot waits for reuse and is not shown.
    const bool bvi = i >= dp_.ports().size();
    if (bvi && p.bvi_of.load() == kNoBridge) continue;
    const OpenedPort* op = bvi ? nullptr : &dp_.ports()[i];
    const bool up = p.up.load();
    const bool mirrored = kernel.count(i) != 0;
    // A port whose interface was deleted: why, and what happens next (kernel_mirror.h).
    const std::string detached = mirrored ? kernel[i].detached : std::string();
    const char* kind = bvi ? "bridge" : op->kernel_twin ? "af_xdp" : "ethdev";
    const uint16_t queues = bvi ? 0 : op->queues;
    json j;
    j["ifname"] = p.name;
    j["address"] = p.mac.str();
    j["mtu"] = p.mtu.load();
    j["operstate"] = up ? "UP" : "DOWN";
    j["forwarding"] = p.forwarding.load();
    j["kind"] = kind;
    j["mirrored"] = mirrored;
    j["ethdev"] = bvi ? json(nullptr) : json(op->ethdev);
    j["queues"] = queues;
    if (mirrored) {
      j["ifindex"] = kernel[i].ifindex;
      j["admin_up"] = kernel[i].admin_up;
      j["carrier"] = kernel[i].carrier;
      // An AF_XDP port's device closed (its interface deleted), or its traffic handed to the
      // kernel for now (kernel_mirror.h), and why.
      j["attached"] = dp_.attached(i);
      j["released"] = dp_.released(i);
      if (!detached.empty()) j["detached"] = detached;
    }
    if (json_out) {
      out.push_back(j);
      continue;
    }
    char line[256];
    snprintf(line, sizeof line,
             "%u: %s: state %s mtu %u forwarding %s %s%s queues %u\n    link/ether %s\n", i,
             p.name.c_str(), up ? "UP" : "DOWN", p.mtu.load(), p.forwarding.load() ? "on" : "off",
             kind, mirrored ? " mirrored" : "", queues, p.mac.str().c_str());
    body.append(line);
    if (!detached.empty()) body.append("    detached: ").append(detached).append("\n");
  }
  if (json_out) return ok(out);
  return ok(std::move(body));
}

CommandReply Commands::addr(bool json_out) {
  const ForwardingState& fs = dp_.state();
  std::vector<InterfaceAddress> as = fs.addresses();
  std::sort(as.begin(), as.end(), [](const InterfaceAddress& x, const InterfaceAddress& y) {
    return std::make_pair(x.port, x.addr.host()) < std::make_pair(y.port, y.addr.host());
  });
  json out = json::array();
  std::string body;
  for (uint16_t i = 0; i < fs.port_count(); ++i) {
    if (i >= dp_.ports().size() && fs.port(i).bvi_of.load() == kNoBridge) continue;
    json j;
    j["ifname"] = fs.port(i).name;
    json infos = json::array();
    std::string lines;
    for (const InterfaceAddress& a : as) {
      if (a.port != i) continue;
      infos.push_back(json{{"family", "inet"}, {"local", a.addr.str()}, {"prefixlen", a.len}});
      lines.append("    inet ").append(a.addr.str()).append("/").append(std::to_string(a.len));
      lines.push_back('\n');
    }
    j["addr_info"] = infos;
    out.push_back(j);
    body.append(std::to_string(i)).append(": ").append(fs.port(i).name).append(":\n").append(lines);
  }
  if (json_out) return ok(out);
  return ok(std::move(body));
}

CommandReply Commands::stats(bool json_out) {
  // The same collection as the --metrics endpoint and /sluice/* telemetry (metrics.h).
  const StatsSnapshot s = collect_stats(dp_, mirror_, nat_cfg_);
  json j;
  json ports = json::array();
  for (const PortFigures& f : s.ports) {
    const PortCounters& p = f.counters;
    ports.push_back(json{{"name", p.name},
                         {"rx_packets", p.rx_packets},
                         {"rx_bytes", p.rx_bytes},
                         {"rx_missed", p.rx_missed},
                         {"rx_errors", p.rx_errors},
                         {"rx_nombuf", p.rx_nombuf},
                         {"tx_packets", p.tx_packets},
                         {"tx_bytes", p.tx_bytes},
                         {"tx_errors", p.tx_errors}});
  }
  j["ports"] = ports;
  json nodes = json::array();
  json drops = json::object();
  for (const NodeCounters& n : s.nodes) {
    const double cpp = n.objs ? static_cast<double>(n.cycles) / static_cast<double>(n.objs) : 0;
    nodes.push_back(json{{"name", n.name},
                         {"packets", n.objs},
                         {"calls", n.calls},
                         {"cycles", n.cycles},
                         {"cycles_per_packet", cpp}});
    if (n.name.rfind("drop-", 0) == 0) drops[n.name.substr(5)] = n.objs;
  }
  j["nodes"] = nodes;
  j["drops"] = drops;
  j["forwarded"] = s.forwarded;
  const lpm::RouteTable::Stats& rs = s.fib;
  j["fib"] = json{{"routes", rs.routes}, {"fib_bytes", rs.fib_bytes}, {"rib_bytes", rs.rib_bytes}};
  const NeighbourResolver::Counters& nc = s.neighbours;
  j["neighbours"] = json{{"entries", s.neighbour_entries},
                         {"held_now", s.neighbour_held_now},
                         {"requests_sent", nc.requests_sent},
                         {"learned", nc.replies_learned},
                         {"held", nc.held},
                         {"released", nc.released},
                         {"dropped_queue_full", nc.dropped_queue_full},
                         {"dropped_unresolved", nc.dropped_unresolved},
                         {"dropped_table_full", nc.dropped_table_full},
                         {"dropped_held_limit", nc.dropped_held_limit},
                         {"learn_table_full", nc.learn_table_full},
                         {"expired", nc.expired}};
  j["nat"] = nat_totals_json(s.nat);
  j["bridge"] = bridge_totals_json(s.bridge);
  const MempoolFigures& pool = s.mempool;
  j["mempool"] = json{{"name", pool.name},
                      {"size", pool.size},
                      {"available", pool.available},
                      {"in_use", pool.size - pool.available},
                      {"cache_size", pool.cache_size}};
  if (s.mirror) {
    const KernelMirror::Counters& m = s.mirror->counters;
    j["mirror"] = json{{"events", m.events},
                       {"routes_changed", m.routes_changed},
                       {"resyncs", m.resyncs},
                       {"overruns", m.overruns},
                       {"apply_errors", m.apply_errors},
                       {"dump_retries", m.dump_retries},
                       {"neighbour_requests", m.neighbour_requests},
                       {"request_errors", m.request_errors},
                       {"not_mirrored", s.mirror->not_mirrored},
                       {"route_checks", m.route_checks},
                       {"route_check_differences", m.last_check_differences}};
  }
  if (json_out) return ok(j);

  std::string body;
  char line[256];
  body.append("ports:\n");
  for (const PortFigures& f : s.ports) {
    const PortCounters& p = f.counters;
    snprintf(line, sizeof line,
             "  %-12s rx %" PRIu64 " pkts %" PRIu64 " bytes (missed %" PRIu64 ", errors %" PRIu64
             ", no mbuf %" PRIu64 ")  tx %" PRIu64 " pkts %" PRIu64 " bytes (errors %" PRIu64 ")\n",
             p.name.c_str(), p.rx_packets, p.rx_bytes, p.rx_missed, p.rx_errors, p.rx_nombuf,
             p.tx_packets, p.tx_bytes, p.tx_errors);
    body.append(line);
  }
  body.append("nodes:                              packets        calls  cycles/pkt\n");
  for (const NodeCounters& n : s.nodes) {
    if (n.objs == 0 || n.name.rfind("drop-", 0) == 0) continue;
    // Source nodes run on every loop, packets or not: their cycles are mostly idle polling.
    if (n.name == "port-rx" || n.name == "inject") {
      snprintf(line, sizeof line, "  %-30s %12" PRIu64 " %12" PRIu64 "     (polls)\n",
               n.name.c_str(), n.objs, n.calls);
    } else {
      snprintf(line, sizeof line, "  %-30s %12" PRIu64 " %12" PRIu64 " %10.1f\n", n.name.c_str(),
               n.objs, n.calls,
               n.objs ? static_cast<double>(n.cycles) / static_cast<double>(n.objs) : 0.0);
    }
    body.append(line);
  }
  body.append("drops:\n");
  bool any = false;
  for (const NodeCounters& n : s.nodes) {
    if (n.name.rfind("drop-", 0) != 0 || n.objs == 0) continue;
    snprintf(line, sizeof line, "  %-30s %12" PRIu64 "\n", n.name.substr(5).c_str(), n.objs);
    body.append(line);
    any = true;
  }
  if (!any) body.append("  none\n");
  snprintf(line, sizeof line, "forwarded %" PRIu64 ", routes %zu, fib %zu bytes\n", s.forwarded,
           rs.routes, rs.fib_bytes);
  body.append(line);
  snprintf(line, sizeof line, "mbufs: %" PRIu64 " in use of %" PRIu64 "\n",
           pool.size - pool.available, pool.size);
  body.append(line);
  if (s.mirror) {
    const KernelMirror::Counters& m = s.mirror->counters;
    snprintf(line, sizeof line,
             "mirror: events %" PRIu64 ", route changes %" PRIu64 ", resyncs %" PRIu64
             " (overruns %" PRIu64 "), errors %" PRIu64 ", not mirrored %" PRIu64
             ", checks %" PRIu64 " (last: %" PRIu64 " differences)\n",
             m.events, m.routes_changed, m.resyncs, m.overruns, m.apply_errors,
             s.mirror->not_mirrored, m.route_checks, m.last_check_differences);
    body.append(line);
  }
  body.append(nat_totals_text(s.nat));
  body.append(bridge_totals_text(s.bridge));
  return ok(std::move(body));
}

CommandReply Commands::graph() {
  std::string dot =
      "digraph sluice {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n";
  for (const std::string& n : PacketGraph::node_names())
    if (n.rfind("drop-", 0) == 0) dot.append("  \"" + n + "\" [shape=octagon, color=red];\n");
  for (const auto& [from, to] : PacketGraph::edges())
    dot.append("  \"" + from + "\" -> \"" + to + "\";\n");
  dot.append("}\n");
  return ok(std::move(dot));
}

nat::MasqueradeRule Commands::masquerade_rule(const nat::MasqueradeSpec& s) const {
  const std::optional<uint16_t> port = dp_.state().port_by_name(s.out);
  if (!port) throw std::invalid_argument("unknown port '" + s.out + "' in out=");
  return nat::MasqueradeRule{s.prefix, s.len, *port};
}

nat::ForwardRule Commands::forward_rule(const nat::ForwardSpec& s) const {
  nat::ForwardRule r = s.rule;
  r.in_port = nat::kAnyPort;
  if (!s.in.empty()) {
    const std::optional<uint16_t> port = dp_.state().port_by_name(s.in);
    if (!port) throw std::invalid_argument("unknown port '" + s.in + "' in in=");
    r.in_port = *port;
  }
  return r;
}

nat::MasqueradeSpec Commands::masquerade_spec(const nat::MasqueradeRule& r) const {
  return nat::MasqueradeSpec{r.prefix, r.len, dp_.state().port(r.out_port).name};
}

nat::ForwardSpec Commands::forward_spec(const nat::ForwardRule& r) const {
  nat::ForwardSpec s{r, {}};
  s.rule.in_port = nat::kAnyPort;
  if (r.in_port != nat::kAnyPort) s.in = dp_.state().port(r.in_port).name;
  return s;
}

CommandReply Commands::nat(const std::vector<std::string>& w, bool json_out, size_t limit) {
  const std::string sub = w.size() > 1 ? w[1] : "show";
  if (sub == "show" || sub == "list") {
    if (w.size() > 2) usage_error("unexpected '" + w[2] + "' after 'nat " + sub + "'");
    return nat_show(json_out);
  }
  if (sub == "sessions") {
    if (w.size() > 2) usage_error("unexpected '" + w[2] + "' after 'nat sessions'");
    return nat_sessions(json_out, limit);
  }
  if (sub == "masquerade" || sub == "forward") {
    const char* form = sub == "masquerade" ? "PREFIX,out=PORT" : "PROTO:[ADDR:]PORT=ADDR:PORT";
    if (w.size() < 3 || (w[2] != "add" && w[2] != "del" && w[2] != "delete"))
      usage_error("nat " + sub + ": expected add " + form + " or del " + form);
    if (w.size() != 4)
      usage_error("nat " + sub + " " + w[2] + ": expected one " + form +
                  (w.size() < 4 ? "" : " (got '" + w[4] + "' after it)"));
    const std::string verb = w[2] == "add" ? "add" : "del";
    return sub == "masquerade" ? nat_masquerade(verb, w[3]) : nat_forward(verb, w[3]);
  }
  usage_error("unknown nat command '" + sub + "'");
}

CommandReply Commands::nat_show(bool json_out) {
  const nat::Rules rules = dp_.nat_rules();
  const NatTotals t = dp_.nat_totals();
  const nat::Timeouts& to = nat_cfg_.timeouts;
  std::vector<std::pair<std::string, uint64_t>> drops;
  for (const NodeCounters& n : dp_.node_counters())
    if (n.name.rfind("drop-nat-", 0) == 0) drops.emplace_back(n.name.substr(5), n.objs);
  if (json_out) {
    json j;
    json masq = json::array();
    for (const nat::MasqueradeRule& r : rules.masquerade) {
      const nat::MasqueradeSpec s = masquerade_spec(r);
      masq.push_back(
          json{{"spec", nat::format(s)},
               {"prefix", Ipv4Addr::from_host(r.prefix).str() + "/" + std::to_string(r.len)},
               {"out", s.out}});
    }
    json fwd = json::array();
    for (const nat::ForwardRule& r : rules.forward) {
      const nat::ForwardSpec s = forward_spec(r);
      fwd.push_back(json{{"spec", nat::format(s)},
                         {"proto", nat::proto_name(r.proto)},
                         {"addr", r.addr ? json(Ipv4Addr::from_host(r.addr).str()) : json(nullptr)},
                         {"port", r.port},
                         {"to_addr", Ipv4Addr::from_host(r.to_addr).str()},
                         {"to_port", r.to_port},
                         {"in", s.in.empty() ? json(nullptr) : json(s.in)}});
    }
    j["masquerade"] = masq;
    j["forward"] = fwd;
    j["ports"] = json{{"first", nat_cfg_.port_first}, {"last", nat_cfg_.port_last}};
    j["sessions_per_worker"] = nat_cfg_.max_sessions;
    j["timeouts"] = json{{"tcp_established", to.tcp_established},
                         {"tcp_transitory", to.tcp_transitory},
                         {"tcp_closed", to.tcp_closed},
                         {"udp", to.udp},
                         {"icmp", to.icmp}};
    j["totals"] = nat_totals_json(t);
    json d = json::object();
    for (const auto& [name, n] : drops) d[name] = n;
    j["drops"] = d;
    return ok(j);
  }
  std::string body = "masquerade:\n";
  for (const nat::MasqueradeRule& r : rules.masquerade)
    body.append("  ").append(nat::format(masquerade_spec(r))).push_back('\n');
  if (rules.masquerade.empty()) body.append("  none\n");
  body.append("forward:\n");
  for (const nat::ForwardRule& r : rules.forward)
    body.append("  ").append(nat::format(forward_spec(r))).push_back('\n');
  if (rules.forward.empty()) body.append("  none\n");
  char line[256];
  snprintf(line, sizeof line,
           "ports %u-%u, %u sessions per worker; timeouts: tcp established %u s, transitory %u "
           "s, closed %u s, udp %u s, icmp %u s\n",
           nat_cfg_.port_first, nat_cfg_.port_last, nat_cfg_.max_sessions, to.tcp_established,
           to.tcp_transitory, to.tcp_closed, to.udp, to.icmp);
  body.append(line);
  body.append(nat_totals_text(t));
  // As in stats: the drop reasons that happened (--json has them all).
  body.append("drops:");
  bool any = false;
  for (const auto& [name, n] : drops)
    if (n) {
      body.append(" ").append(name).append(" ").append(std::to_string(n));
      any = true;
    }
  body.append(any ? "\n" : " none\n");
  return ok(std::move(body));
}

CommandReply Commands::nat_sessions(bool json_out, size_t limit) {
  unsigned missing = 0;
  std::vector<nat::SessionView> ss = dp_.nat_sessions(&missing);
  const size_t total = ss.size();
  const size_t shown = limit == 0 ? total : std::min(limit, total);
  // A stable order (inside endpoint first); with a limit only the first `shown` are sorted.
  const auto key = [](const nat::SessionView& v) {
    return std::make_tuple(v.orig.src, v.orig.sport, v.orig.dst, v.orig.dport,
                           static_cast<uint8_t>(v.proto));
  };
  std::partial_sort(
      ss.begin(), ss.begin() + static_cast<std::ptrdiff_t>(shown), ss.end(),
      [&](const nat::SessionView& a, const nat::SessionView& b) { return key(a) < key(b); });
  const ForwardingState& fs = dp_.state();
  auto port_name = [&](uint16_t p) -> std::string {
    return p == nat::kAnyPort || p >= fs.port_count() ? std::string() : fs.port(p).name;
  };
  if (json_out) {
    auto flow = [](const nat::FlowKey& k) {
      return json{{"src", Ipv4Addr::from_host(k.src).str()},
                  {"sport", k.sport},
                  {"dst", Ipv4Addr::from_host(k.dst).str()},
                  {"dport", k.dport}};
    };
    json list = json::array();
    for (size_t i = 0; i < shown; ++i) {
      const nat::SessionView& v = ss[i];
      const std::string port = port_name(v.port);
      list.push_back(json{{"proto", nat::proto_name(v.proto)},
                          {"orig", flow(v.orig)},
                          {"reply", flow(v.reply)},
                          {"kind", session_kind(v.kind)},
                          {"state", v.proto == nat::Proto::kTcp ? json(nat::tcp_state_name(v.state))
                                                                : json(nullptr)},
                          {"idle", v.idle},
                          {"port", port.empty() ? json(nullptr) : json(port)}});
    }
    json j;
    j["total"] = total;
    if (missing) j["workers_not_answering"] = missing;  // the list is incomplete
    j["sessions"] = std::move(list);
    return ok(j.dump() + "\n");  // compact, like route show: there may be many
  }
  std::string body;
  char line[256];
  snprintf(line, sizeof line, "%-5s %-21s %-21s %-21s %-11s %6s %-7s %s\n", "proto", "inside",
           "outside", "remote", "state", "idle", "kind", "port");
  body.append(line);
  for (size_t i = 0; i < shown; ++i) {
    const nat::SessionView& v = ss[i];
    const nat::FlowKey& o = v.orig;
    const nat::FlowKey& r = v.reply;
    // snat: the inside host opened it (orig.src), is seen outside as reply.dst, and talks to
    // orig.dst. dnat: the remote client (orig.src) reached the published orig.dst, which is
    // the inside server reply.src. hairpin: an inside client, masqueraded to reply.dst,
    // reaching the inside server reply.src through the published orig.dst.
    std::string inside, outside, remote;
    if (v.kind & nat::kKindSnat) {
      inside = endpoint(o.src, o.sport);
      outside = endpoint(r.dst, r.dport);
      remote = endpoint(r.src, r.sport);
    } else {
      inside = endpoint(r.src, r.sport);
      outside = endpoint(o.dst, o.dport);
      remote = endpoint(o.src, o.sport);
    }
    const std::string port = port_name(v.port);
    snprintf(line, sizeof line, "%-5s %-21s %-21s %-21s %-11s %6u %-7s %s\n",
             nat::proto_name(v.proto), inside.c_str(), outside.c_str(), remote.c_str(),
             nat::tcp_state_name(v.state), v.idle, session_kind(v.kind),
             port.empty() ? "-" : port.c_str());
    body.append(line);
  }
  snprintf(line, sizeof line, "%zu session(s)", total);
  body.append(line);
  if (shown < total)
    body.append(", " + std::to_string(total - shown) + " not shown (--limit N, 0: all)");
  if (missing)
    body.append("; incomplete: " + std::to_string(missing) +
                " worker(s) did not answer within 3 s");
  body.push_back('\n');
  return ok(std::move(body));
}

CommandReply Commands::nat_masquerade(const std::string& verb, const std::string& text) {
  std::string err;
  const std::optional<nat::MasqueradeSpec> spec = nat::parse_masquerade(text, &err);
  if (!spec) throw std::invalid_argument("masquerade " + text + ": " + err);
  nat::MasqueradeRule r;
  try {
    r = masquerade_rule(*spec);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("masquerade " + text + ": " + e.what());
  }
  nat::Rules rules = dp_.nat_rules();
  const auto it = std::find(rules.masquerade.begin(), rules.masquerade.end(), r);
  if (verb == "add") {
    if (it != rules.masquerade.end())
      throw std::invalid_argument("masquerade " + nat::format(*spec) + ": the rule exists already");
    rules.masquerade.push_back(r);
  } else {
    if (it == rules.masquerade.end())
      throw std::invalid_argument("no masquerade rule " + nat::format(*spec) +
                                  " (sluice nat show lists them)");
    rules.masquerade.erase(it);
  }
  dp_.set_nat_rules(std::move(rules));
  log_change("nat masquerade " + verb, {nat::format(*spec)});
  return ok(std::string());
}

CommandReply Commands::nat_forward(const std::string& verb, const std::string& text) {
  std::string t = text;
  if (verb == "del") {
    // del names a rule by what it matches; the target may be left out. A placeholder target
    // lets the one parser check the rest.
    const size_t comma = t.find(',');
    if (t.substr(0, comma).find('=') == std::string::npos)
      t.insert(comma == std::string::npos ? t.size() : comma, "=192.0.2.1:1");
  }
  std::string err;
  const std::optional<nat::ForwardSpec> spec = nat::parse_forward(t, &err);
  if (!spec) throw std::invalid_argument("forward " + text + ": " + err);
  nat::ForwardRule r;
  try {
    r = forward_rule(*spec);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("forward " + text + ": " + e.what());
  }
  nat::Rules rules = dp_.nat_rules();
  const auto it = std::find_if(rules.forward.begin(), rules.forward.end(),
                               [&](const nat::ForwardRule& x) { return x.same_match(r); });
  if (verb == "add") {
    if (it != rules.forward.end())
      throw std::invalid_argument("forward " + text + ": " + nat::format(forward_spec(*it)) +
                                  " already matches that (nat forward del it first)");
    rules.forward.push_back(r);
  } else {
    if (it == rules.forward.end())
      throw std::invalid_argument("no forward rule matching " + text +
                                  " (sluice nat show lists them)");
    rules.forward.erase(it);
  }
  dp_.set_nat_rules(std::move(rules));
  log_change("nat forward " + verb, {text});
  return ok(std::string());
}

// ---- bridge ---------------------------------------------------------------------------------

CommandReply Commands::bridge(const std::vector<std::string>& w, bool json_out) {
  const std::string sub = w.size() > 1 ? w[1] : "show";
  auto at_most = [&](size_t n, const std::string& what) {
    if (w.size() > n) usage_error("unexpected '" + w[n] + "' after '" + what + "'");
  };
  if (sub == "show" || sub == "list") {
    at_most(3, "bridge show NAME");
    return bridge_show(w.size() > 2 ? w[2] : std::string(), json_out);
  }
  if (sub == "fdb") {
    if (w.size() > 2 && (w[2] == "add" || w[2] == "del" || w[2] == "delete"))
      return bridge_fdb_change(std::vector<std::string>(w.begin() + 3, w.end()), w[2] != "add");
    size_t i = 2;
    if (i < w.size() && w[i] == "show") ++i;
    at_most(i + 1, "bridge fdb NAME");
    return bridge_fdb(i < w.size() ? w[i] : std::string(), json_out);
  }
  if (sub == "add") return bridge_add(std::vector<std::string>(w.begin() + 2, w.end()));
  if (sub == "del" || sub == "delete") {
    if (w.size() != 3) usage_error("bridge del: expected one bridge NAME");
    const std::string& name = w[2];
    Bridges& br = dp_.bridges();
    const std::optional<uint8_t> id = br.find(name);
    if (id) {
      for (const Bridges::View& v : br.list()) {
        if (v.id != *id) continue;
        if (v.config.kernel)
          throw std::invalid_argument("bridge " + name +
                                      " is mirrored from the kernel: ip link del " + name);
        // Rules and static routes name the routed interface by its port, which a later bridge
        // may reuse: they go first.
        const nat::Rules rules = dp_.nat_rules();
        for (const nat::MasqueradeRule& r : rules.masquerade)
          if (r.out_port == v.bvi)
            throw std::invalid_argument("bridge " + name + " is named by masquerade " +
                                        nat::format(masquerade_spec(r)) +
                                        " (sluice nat masquerade del it first)");
        for (const nat::ForwardRule& r : rules.forward)
          if (r.in_port == v.bvi)
            throw std::invalid_argument("bridge " + name + " is named by forward " +
                                        nat::format(forward_spec(r)) +
                                        " (sluice nat forward del it first)");
        std::string route;
        dp_.state().for_each_route([&](const RouteView& r) {
          if (!route.empty() || r.origin != RouteView::Origin::kUser) return;
          for (const PathView& p : r.paths)
            if (p.port == v.bvi && !is_reject(p.kind)) route = dst_str(r.prefix);
        });
        if (!route.empty())
          throw std::invalid_argument("bridge " + name + " is the way of route " + route +
                                      " (sluice route del " + route + " first)");
      }
    }
    const std::string err = br.del(name);
    if (!err.empty()) throw std::invalid_argument(err);
    log_change("bridge del", {name});
    return ok(std::string());
  }
  if (sub == "set") return bridge_set(w);
  usage_error("unknown bridge command '" + sub + "'");
}

CommandReply Commands::bridge_show(const std::string& name, bool json_out) {
  const ForwardingState& fs = dp_.state();
  const Bridges& br = dp_.bridges();
  std::vector<Bridges::View> views = br.list();
  if (!name.empty()) {
    std::erase_if(views, [&](const Bridges::View& v) { return v.config.name != name; });
    bool kernel_one = false;
    if (mirror_ != nullptr)
      for (const KernelMirror::KernelBridgeView& k : mirror_->kernel_bridges())
        kernel_one |= k.name == name;
    if (views.empty() && !kernel_one) throw std::invalid_argument("no bridge " + name);
  }
  std::vector<InterfaceAddress> addrs = fs.addresses();
  std::sort(addrs.begin(), addrs.end(), [](const InterfaceAddress& x, const InterfaceAddress& y) {
    return x.addr.host() < y.addr.host();
  });
  json list = json::array();
  std::string body;
  char line[512];
  for (const Bridges::View& v : views) {
    const Bridges::Config& c = v.config;
    const char* origin = c.kernel ? "kernel" : "static";
    json addresses = json::array();
    std::string addr_text;
    for (const InterfaceAddress& a : addrs) {
      if (a.port != v.bvi) continue;
      addresses.push_back(json{{"local", a.addr.str()}, {"prefixlen", a.len}});
      addr_text.append(" ").append(a.addr.str()).append("/").append(std::to_string(a.len));
    }
    json members = json::array();
    std::string member_text;
    for (const Bridges::Member& m : v.members) {
      const std::string& pn = fs.port(m.port).name;
      const bool up = fs.port(m.port).up.load() && m.forwarding;
      json vlans = nullptr;
      std::string vlan_text;
      if (c.vlan_filtering) {
        vlans = json::array();
        vlan_text = ", pvid " + (m.pvid ? std::to_string(m.pvid) : std::string("none")) + ", vlans";
        for (const auto& [vid, untagged] : member_vlans(m)) {
          vlans.push_back(json{{"vid", vid}, {"untagged", untagged}});
          vlan_text.append(" ").append(std::to_string(vid));
          if (untagged) vlan_text.append(" untagged");
        }
        if (vlans.empty()) vlan_text.append(" none");
      }
      members.push_back(json{{"port", pn},
                             {"state", up ? "up" : "down"},
                             {"learning", m.learning},
                             {"flood", json{{"unicast", m.flood_unicast},
                                            {"broadcast", m.flood_broadcast},
                                            {"multicast", m.flood_multicast}}},
                             {"pvid", c.vlan_filtering ? json(m.pvid) : json(nullptr)},
                             {"vlans", vlans}});
      std::string flood;
      if (m.flood_unicast) flood.append(" unicast");
      if (m.flood_broadcast) flood.append(" broadcast");
      if (m.flood_multicast) flood.append(" multicast");
      member_text.append("  member ").append(pn).append(": ").append(up ? "up" : "down");
      member_text.append(m.learning ? ", learning" : ", no learning");
      member_text.append(", flood").append(flood.empty() ? " none" : flood);
      member_text.append(vlan_text).push_back('\n');
    }
    const std::string& bvi_name = fs.port(v.bvi).name;
    list.push_back(json{{"name", c.name},
                        {"origin", origin},
                        {"mac", c.mac.str()},
                        {"interface", bvi_name},
                        {"addresses", addresses},
                        {"ageing", c.ageing},
                        {"vlan_filtering", c.vlan_filtering},
                        {"default_pvid", c.default_pvid},
                        {"interface_pvid", c.bvi_pvid},
                        {"members", members},
                        {"fdb_entries", v.fdb_entries}});
    std::string vlan_filtering = "vlan filtering off";
    if (c.vlan_filtering)
      vlan_filtering = "vlan filtering on (default pvid " + std::to_string(c.default_pvid) +
                       ", interface pvid " + std::to_string(c.bvi_pvid) + ")";
    snprintf(line, sizeof line, "%s: %s, mac %s, ageing %u s, %s, %zu fdb entr%s\n", c.name.c_str(),
             origin, c.mac.str().c_str(), c.ageing, vlan_filtering.c_str(), v.fdb_entries,
             v.fdb_entries == 1 ? "y" : "ies");
    body.append(line);
    body.append("  interface ").append(bvi_name).append(":");
    body.append(addr_text.empty() ? " no address" : addr_text).push_back('\n');
    body.append(member_text);
  }
  // Linux bridges the mirror leaves to the kernel, and why.
  json kernel_only = json::array();
  if (mirror_ != nullptr)
    for (const KernelMirror::KernelBridgeView& k : mirror_->kernel_bridges()) {
      if (k.mirrored || (!name.empty() && k.name != name)) continue;
      kernel_only.push_back(json{{"name", k.name}, {"ifindex", k.ifindex}, {"reason", k.reason}});
      body.append(k.name).append(": kernel, not mirrored: ").append(k.reason).push_back('\n');
    }
  const BridgeFigures totals = collect_bridges(dp_);
  if (json_out)
    return ok(json{
        {"bridges", list}, {"not_mirrored", kernel_only}, {"totals", bridge_totals_json(totals)}});
  if (views.empty() && kernel_only.empty()) body.append("no bridges\n");
  body.append(bridge_totals_text(totals));
  return ok(std::move(body));
}

CommandReply Commands::bridge_fdb(const std::string& name, bool json_out) {
  const ForwardingState& fs = dp_.state();
  const Bridges& br = dp_.bridges();
  if (!name.empty() && !br.find(name)) throw std::invalid_argument("no bridge " + name);
  std::map<std::string, bool> vlan_aware;
  for (const Bridges::View& v : br.list()) vlan_aware[v.config.name] = v.config.vlan_filtering;
  const std::vector<Bridges::FdbView> entries = br.fdb_entries(name);
  json list = json::array();
  std::string body;
  char line[256];
  snprintf(line, sizeof line, "%-17s  %-15s %-15s %5s %7s  %s\n", "mac", "bridge", "port", "vlan",
           "age", "flags");
  body.append(line);
  for (const Bridges::FdbView& e : entries) {
    const bool aware = vlan_aware[e.bridge];
    const bool ages = !e.is_static && !e.local;
    const std::string& port = fs.port(e.port).name;
    if (json_out) {
      list.push_back(json{{"mac", e.mac.str()},
                          {"bridge", e.bridge},
                          {"port", port},
                          {"vlan", aware ? json(e.vid) : json(nullptr)},
                          {"age", ages ? json(e.age) : json(nullptr)},
                          {"flags", json::array({fdb_flag(e)})}});
      continue;
    }
    snprintf(line, sizeof line, "%-17s  %-15s %-15s %5s %7s  %s\n", e.mac.str().c_str(),
             e.bridge.c_str(), port.c_str(), aware ? std::to_string(e.vid).c_str() : "-",
             ages ? std::to_string(e.age).c_str() : "-", fdb_flag(e));
    body.append(line);
  }
  // Compact, like route show: a full FDB is a million entries.
  if (json_out) return ok(list.dump() + "\n");
  body.append(std::to_string(entries.size()) + (entries.size() == 1 ? " entry\n" : " entries\n"));
  return ok(std::move(body));
}

CommandReply Commands::bridge_add(const std::vector<std::string>& w) {
  const char* form = "bridge add NAME PORT [PORT...] [mac MAC] [ageing S] [vlan-filtering]";
  if (w.empty()) usage_error(std::string(form) + ": missing NAME");
  const ForwardingState& fs = dp_.state();
  Bridges::Config c;
  c.name = w[0];
  std::vector<Bridges::Member> members;
  const std::vector<InterfaceAddress> addrs = fs.addresses();
  for (size_t i = 1; i < w.size(); ++i) {
    const std::string& a = w[i];
    if (a == "mac" || a == "ageing" || a == "ageing_time") {
      if (i + 1 >= w.size()) usage_error("bridge add: " + a + " needs a value");
      const std::string& v = w[++i];
      if (a == "mac") {
        const std::optional<MacAddr> mac = MacAddr::parse(v);
        if (!mac) usage_error("'" + v + "' is not a MAC address (xx:xx:xx:xx:xx:xx)");
        if (mac->is_zero() || mac->is_multicast())
          throw std::invalid_argument("mac " + v + " is not a unicast MAC");
        c.mac = *mac;
      } else {
        const std::optional<uint32_t> s = parse_ageing(v);
        if (!s) usage_error("ageing '" + v + "': use 0-1000000 seconds (0: no learning)");
        c.ageing = *s;
      }
      continue;
    }
    if (a == "vlan-filtering" || a == "vlan_filtering") {
      c.vlan_filtering = true;
      continue;
    }
    const std::optional<uint16_t> port = fs.port_by_name(a);
    if (!port) throw std::invalid_argument("unknown port '" + a + "'");
    // (A routed interface is refused by Bridges::add, in its own words.)
    for (const InterfaceAddress& x : addrs)
      if (x.port == *port && fs.port(*port).bvi_of.load() == kNoBridge)
        throw std::invalid_argument("port " + a + " has address " + x.addr.str() + "/" +
                                    std::to_string(x.len) +
                                    ": a bridge member has none of its own (give it to the "
                                    "bridge once the member's is removed)");
    Bridges::Member m;
    m.port = *port;
    members.push_back(m);
  }
  if (members.empty()) usage_error(std::string(form) + ": no member PORT");
  const std::string err = dp_.bridges().add(c, members);
  if (!err.empty()) throw std::invalid_argument(err);
  log_change("bridge add", w);
  return ok(std::string());
}

CommandReply Commands::bridge_set(const std::vector<std::string>& w) {
  if (w.size() != 5 || (w[3] != "ageing" && w[3] != "ageing_time"))
    usage_error("bridge set: expected NAME ageing SECONDS");
  Bridges& br = dp_.bridges();
  for (const Bridges::View& v : br.list())
    if (v.config.name == w[2] && v.config.kernel)
      throw std::invalid_argument("bridge " + w[2] + " is mirrored from the kernel: ip link set " +
                                  w[2] + " type bridge ageing_time CENTISECONDS");
  const std::optional<uint32_t> s = parse_ageing(w[4]);
  if (!s) usage_error("ageing '" + w[4] + "': use 0-1000000 seconds (0: no learning)");
  const std::string err = br.set_ageing(w[2], *s);
  if (!err.empty()) throw std::invalid_argument(err);
  log_change("bridge set", {w[2], "ageing", w[4]});
  return ok(std::string());
}

CommandReply Commands::bridge_fdb_change(const std::vector<std::string>& w, bool del) {
  const std::string verb = del ? "bridge fdb del" : "bridge fdb add";
  if (w.size() != 3 && w.size() != 5) usage_error(verb + ": expected MAC dev PORT|BRIDGE [vlan V]");
  if (w[1] != "dev") usage_error(verb + ": expected 'dev' after the MAC, got '" + w[1] + "'");
  if (w.size() == 5 && w[3] != "vlan")
    usage_error(verb + ": expected 'vlan V' after the port, got '" + w[3] + "'");
  const std::optional<MacAddr> mac = MacAddr::parse(w[0]);
  if (!mac) usage_error("'" + w[0] + "' is not a MAC address (xx:xx:xx:xx:xx:xx)");
  uint16_t vid = 0;
  if (w.size() == 5) {
    const std::optional<uint16_t> v = parse_vid(w[4]);
    if (!v) usage_error("vlan '" + w[4] + "': use 1-4094");
    vid = *v;
  }
  const ForwardingState& fs = dp_.state();
  Bridges& br = dp_.bridges();
  // dev BRIDGE: a local entry (frames to MAC are the routed interface's); dev PORT: a static
  // entry on that member of its bridge.
  const std::vector<Bridges::View> views = br.list();
  const Bridges::View* bridge = nullptr;
  std::optional<uint16_t> port;
  for (const Bridges::View& v : views)
    if (v.config.name == w[2]) bridge = &v;
  if (!bridge) {
    port = fs.port_by_name(w[2]);
    if (!port) throw std::invalid_argument("unknown port '" + w[2] + "'");
    const std::optional<uint8_t> id = br.bridge_of_port(*port);
    if (!id) throw std::invalid_argument(w[2] + " is not a bridge member");
    for (const Bridges::View& v : views)
      if (v.id == *id) bridge = &v;
  }
  const Bridges::Config& c = bridge->config;
  if (c.kernel)
    throw std::invalid_argument("bridge " + c.name + " is mirrored from the kernel: bridge fdb " +
                                (del ? "del" : "add") + " ... master");
  if (vid != 0 && !c.vlan_filtering)
    throw std::invalid_argument("bridge " + c.name +
                                " does not filter VLANs: its entries have no vlan");
  if (!del) {
    const std::string err = br.add_static(c.name, *mac, port, vid);
    if (!err.empty()) throw std::invalid_argument(err);
    log_change(verb, w);
    return ok(std::string());
  }
  if (port) {
    const uint16_t want = c.vlan_filtering ? (vid ? vid : c.default_pvid) : 0;
    for (const Bridges::FdbView& e : br.fdb_entries(c.name))
      if (e.mac == *mac && e.vid == want && e.port != *port)
        throw std::invalid_argument(mac->str() + " is on " + fs.port(e.port).name + ", not " +
                                    w[2]);
  }
  const std::string err = br.del_static(c.name, *mac, vid);
  if (!err.empty()) throw std::invalid_argument(err);
  log_change(verb, w);
  return ok(std::string());
}

}  // namespace sluice
