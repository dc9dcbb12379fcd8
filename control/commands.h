// commands.h — what the `sluice` CLI can ask the daemon, answered on the control thread (the
// writer of every table, so views are consistent without locks). Words follow iproute2: route
// show/get/add/del/check, neigh, link, addr, stats, graph, nat, bridge; `--json` on every show
// command.
#pragma once

#include <string>
#include <vector>

#include "control/control_server.h"
#include "control/kernel_mirror.h"
#include "dataplane/dataplane.h"

namespace sluice {

class Commands {
 public:
  // mirror may be null (static mode). nat: what the engines were configured with (shown by
  // `nat show`; the dataplane keeps its copy private).
  Commands(Dataplane& dp, KernelMirror* mirror, const nat::EngineConfig& nat = {})
      : dp_(dp), mirror_(mirror), nat_cfg_(nat) {}
  CommandReply run(const std::vector<std::string>& args);

  // Static routes (config file, `sluice route add`) go through here so that the mirror leaves
  // their prefixes alone. Returns an error message, empty on success.
  std::string add_static_route(Prefix p, const RouteTarget& t);
  std::string del_static_route(Prefix p);

  // NAT rules between their text forms (port names) and what the dataplane matches (port
  // indexes). Throws std::invalid_argument for a port name that is no sluice port.
  nat::MasqueradeRule masquerade_rule(const nat::MasqueradeSpec& s) const;
  nat::ForwardRule forward_rule(const nat::ForwardSpec& s) const;
  nat::MasqueradeSpec masquerade_spec(const nat::MasqueradeRule& r) const;
  nat::ForwardSpec forward_spec(const nat::ForwardRule& r) const;

 private:
  CommandReply route(const std::vector<std::string>& a, bool json);
  CommandReply route_show(const std::vector<std::string>& a, bool json);
  CommandReply route_get(const std::vector<std::string>& a, bool json);
  CommandReply route_add(const std::vector<std::string>& a, bool del);
  CommandReply route_check(bool json);
  CommandReply neigh(bool json);
  CommandReply link(bool json);
  CommandReply addr(bool json);
  CommandReply stats(bool json);
  CommandReply graph();
  CommandReply nat(const std::vector<std::string>& w, bool json, size_t limit);
  CommandReply nat_show(bool json);
  CommandReply nat_sessions(bool json, size_t limit);
  CommandReply nat_masquerade(const std::string& verb, const std::string& spec);
  CommandReply nat_forward(const std::string& verb, const std::string& spec);
  CommandReply bridge(const std::vector<std::string>& w, bool json);
  CommandReply bridge_show(const std::string& name, bool json);
  CommandReply bridge_fdb(const std::string& name, bool json);
  CommandReply bridge_add(const std::vector<std::string>& w);
  CommandReply bridge_set(const std::vector<std::string>& w);
  CommandReply bridge_fdb_change(const std::vector<std::string>& w, bool del);

  Dataplane& dp_;
  KernelMirror* mirror_;
  nat::EngineConfig nat_cfg_;
};

}  // namespace sluice
