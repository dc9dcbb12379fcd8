// inject.cpp — the inject source node: frames the control thread hands to this worker (ARP
// requests it built, packets that waited for a neighbour) re-enter the graph here, so only
// workers ever transmit on their queues.
#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t { kRewrite, kPortTx };

uint16_t inject(rte_graph* graph, rte_node* node, void**, uint16_t) {
  WorkerContext& w = worker_of(node);
  if (rte_ring_count(w.inject) == 0) return 0;
  void* burst[32];
  const unsigned n = rte_ring_sc_dequeue_burst(w.inject, burst, 32, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    auto* m = static_cast<rte_mbuf*>(burst[i]);
    rte_node_enqueue_x1(graph, node, (meta(m).flags & kMetaRawFrame) ? kPortTx : kRewrite, m);
  }
  return static_cast<uint16_t>(n);
}

}  // namespace

NodeDef inject_node() {
  return {"inject", inject, {"ip4-rewrite", "port-tx"}, true};
}

}  // namespace sluice
