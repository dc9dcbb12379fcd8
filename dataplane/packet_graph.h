// packet_graph.h — registers sluice's nodes with rte_graph and builds one graph per worker.
#pragma once

#include <rte_graph.h>

#include <string>
#include <vector>

#include "dataplane/worker_context.h"

namespace sluice {

class PacketGraph {
 public:
  // Registers every node once per process (later calls do nothing).
  static void register_nodes();
  // Builds the graph of one worker; its nodes find `w` through their context.
  static rte_graph* create(WorkerContext& w, const std::string& name);
  // Every node name, in registration order; drop nodes begin with "drop-".
  static const std::vector<std::string>& node_names();
  // Edges of every node as (from, to), for `sluice graph`-style dot output.
  static std::vector<std::pair<std::string, std::string>> edges();
};

}  // namespace sluice
