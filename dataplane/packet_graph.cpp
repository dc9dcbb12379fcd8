// packet_graph.cpp — node registration and per-worker graph creation.
//
// Nodes are registered at run time (not with RTE_NODE_REGISTER constructors, whose C99
// flexible-array initializer C++ cannot express). An edge to a name no node defines becomes a
// sink that frees the packets: each drop reason is then a node of its own, and rte_graph's
// per-node object counter is the drop counter, with no code on the hot path to keep it.
#include "dataplane/packet_graph.h"

#include <rte_errno.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include "dataplane/graph_nodes.h"

namespace sluice {
namespace {

WorkerContext* g_creating = nullptr;  // set while rte_graph_create() calls the node inits
std::vector<std::string> g_names;
std::vector<std::pair<std::string, std::string>> g_edges;

int node_init(const rte_graph*, rte_node* node) {
  static_assert(sizeof(WorkerContext*) <= RTE_NODE_CTX_SZ);
  std::memcpy(node->ctx, &g_creating, sizeof g_creating);
  return 0;
}

uint16_t sink(rte_graph*, rte_node*, void** objs, uint16_t n) {
  rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), n);
  return n;
}

void register_one(const char* name, rte_node_process_t fn, const std::vector<const char*>& next,
                  bool source) {
  const size_t size = sizeof(rte_node_register) + next.size() * sizeof(const char*);
  // rte_graph copies the registration (name, functions, edge names) into its own node.
  auto* reg = static_cast<rte_node_register*>(std::calloc(1, size));
  std::strncpy(reg->name, name, RTE_NODE_NAMESIZE - 1);
  reg->flags = source ? RTE_NODE_SOURCE_F : 0;
  reg->process = fn;
  reg->init = node_init;
  reg->nb_edges = static_cast<rte_edge_t>(next.size());
  for (size_t i = 0; i < next.size(); ++i) reg->next_nodes[i] = next[i];
  const rte_node_t id = __rte_node_register(reg);
  std::free(reg);
  if (id == RTE_NODE_ID_INVALID)
    throw std::runtime_error(std::string("rte_graph: cannot register node ") + name);
  g_names.emplace_back(name);
  for (const char* to : next) g_edges.emplace_back(name, to);
}

}  // namespace

void PacketGraph::register_nodes() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::vector<NodeDef> defs = {
        port_rx_node(),      inject_node(),      eth_input_node(),  arp_input_node(),
        ip4_input_node(),    ip4_lookup_node(),  ip4_local_node(),  ip4_forward_node(),
        ip4_fragment_node(), ip4_rewrite_node(), neigh_punt_node(), port_tx_node(),
    };
    for (NodeDef& d : icmp_error_nodes()) defs.push_back(std::move(d));
    for (NodeDef& d : nat_pre_nodes()) defs.push_back(std::move(d));
    defs.push_back(nat_post_node());
    defs.push_back(bridge_input_node());
    defs.push_back(bridge_flood_node());
    defs.push_back(bridge_output_node());
    std::set<std::string> defined;
    for (const NodeDef& d : defs) defined.insert(d.name);
    std::set<std::string> sinks;
    for (const NodeDef& d : defs)
      for (const char* to : d.next)
        if (!defined.count(to)) sinks.insert(to);
    // Sinks first: rte_graph resolves edge names when a graph is created, but registering
    // the targets first keeps the names list in the order graphs are printed.
    for (const NodeDef& d : defs) register_one(d.name, d.process, d.next, d.source);
    for (const std::string& s : sinks) register_one(s.c_str(), sink, {}, false);
  });
}

rte_graph* PacketGraph::create(WorkerContext& w, const std::string& name) {
  register_nodes();
  std::vector<const char*> patterns;
  for (const std::string& n : g_names) patterns.push_back(n.c_str());
  rte_graph_param prm{};
  prm.socket_id = SOCKET_ID_ANY;
  prm.nb_node_patterns = static_cast<uint16_t>(patterns.size());
  prm.node_patterns = patterns.data();
  g_creating = &w;
  const rte_graph_t id = rte_graph_create(name.c_str(), &prm);
  g_creating = nullptr;
  if (id == RTE_GRAPH_ID_INVALID)
    throw std::runtime_error("rte_graph_create(" + name + ") failed: " + rte_strerror(rte_errno));
  rte_graph* g = rte_graph_lookup(name.c_str());
  w.graph = g;
  return g;
}

const std::vector<std::string>& PacketGraph::node_names() {
  return g_names;
}

std::vector<std::pair<std::string, std::string>> PacketGraph::edges() {
  return g_edges;
}

}  // namespace sluice
