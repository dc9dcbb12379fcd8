// neigh_punt.cpp — the neigh-punt node: packets whose next hop has no MAC yet go to the
// control thread through an rte_ring; it holds a few per neighbour while ARP resolves (and
// counts what it cannot hold). A full ring is a named drop here.
#include "dataplane/graph_nodes.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

uint16_t neigh_punt(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  const WorkerContext& w = worker_of(node);
  const unsigned sent = rte_ring_enqueue_burst(w.punt, objs, n, nullptr);
  if (sent < n) rte_node_enqueue(graph, node, 0, objs + sent, static_cast<uint16_t>(n - sent));
  return n;
}

}  // namespace

NodeDef neigh_punt_node() {
  return {"neigh-punt", neigh_punt, {"drop-neigh-punt-ring-full"}};
}

}  // namespace sluice
