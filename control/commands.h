// commands.h — what the `sluice` CLI can ask the daemon, answered on the control thread (the
// writer of every table, so views are consistent without locks). Words follow iproute2: route
// show/get/add/del/check, neigh, link, addr, stats, graph; `--json` on every show command.
#pragma once

#include <string>
#include <vector>

#include "control/control_server.h"
#include "control/kernel_mirror.h"
#include "dataplane/dataplane.h"

namespace sluice {

class Commands {
 public:
  // mirror may be null (static mode).
  Commands(Dataplane& dp, KernelMirror* mirror) : dp_(dp), mirror_(mirror) {}
  CommandReply run(const std::vector<std::string>& args);

  // Static routes (config file, `sluice route add`) go through here so that the mirror leaves
  // their prefixes alone. Returns an error message, empty on success.
  std::string add_static_route(Prefix p, const RouteTarget& t);
  std::string del_static_route(Prefix p);

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

  Dataplane& dp_;
  KernelMirror* mirror_;
};

}  // namespace sluice
