// graph_nodes.h — how nodes are declared and dispatched. Each node file defines one NodeDef
// (its name, process function and named next edges); graph.cpp registers them with rte_graph
// at start-up. Edge names beginning with "drop-" are sink nodes created automatically: every
// drop reason is its own node, so rte_graph's per-node counters are the drop counters.
#pragma once

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_mbuf.h>

#include <vector>

namespace sluice {

struct NodeDef {
  const char* name;
  rte_node_process_t process;
  std::vector<const char*> next;  // index = edge id; the node's Next enum follows this order
  bool source = false;
};

// Every node of the graph (defined in the node files).
NodeDef port_rx_node();
NodeDef inject_node();
NodeDef eth_input_node();
NodeDef arp_input_node();
NodeDef ip4_input_node();
NodeDef ip4_lookup_node();
NodeDef ip4_local_node();
NodeDef ip4_forward_node();
NodeDef ip4_fragment_node();
std::vector<NodeDef> icmp_error_nodes();  // icmp-error and the reason nodes feeding it
NodeDef ip4_rewrite_node();
std::vector<NodeDef> nat_pre_nodes();  // nat-pre, nat-handoff, nat-inbox
NodeDef nat_post_node();
NodeDef neigh_punt_node();
NodeDef port_tx_node();
NodeDef bridge_input_node();
NodeDef bridge_flood_node();
NodeDef bridge_output_node();

// Sends objs[i] to edge nexts[i] (n at most RTE_GRAPH_BURST_SIZE), moving the whole stream at
// once when every packet goes the same way.
inline void enqueue_decided(rte_graph* graph, rte_node* node, void** objs, uint16_t n,
                            rte_edge_t* nexts) {
  if (n == 0) return;
  bool same = true;
  for (uint16_t i = 1; i < n; ++i) same &= nexts[i] == nexts[0];
  if (same && objs == node->objs)
    rte_node_next_stream_move(graph, node, nexts[0]);
  else
    rte_node_enqueue_next(graph, node, nexts, objs, n);
}

// Sends each packet to the edge `classify` returns, moving the whole stream at once in the
// common case where every packet goes the same way.
template <class F>
inline void dispatch(rte_graph* graph, rte_node* node, void** objs, uint16_t n, F&& classify) {
  if (n == 0) return;
  rte_edge_t nexts[RTE_GRAPH_BURST_SIZE];
  if (n > RTE_GRAPH_BURST_SIZE || objs != node->objs) {
    for (uint16_t i = 0; i < n; ++i)
      rte_node_enqueue_x1(graph, node, classify(static_cast<rte_mbuf*>(objs[i])), objs[i]);
    return;
  }
  bool same = true;
  const rte_edge_t first = classify(static_cast<rte_mbuf*>(objs[0]));
  nexts[0] = first;
  for (uint16_t i = 1; i < n; ++i) {
    if (i + 8 < n) rte_prefetch0(objs[i + 8]);
    if (i + 4 < n) rte_prefetch0(rte_pktmbuf_mtod(static_cast<rte_mbuf*>(objs[i + 4]), void*));
    nexts[i] = classify(static_cast<rte_mbuf*>(objs[i]));
    same &= nexts[i] == first;
  }
  if (same)
    rte_node_next_stream_move(graph, node, first);
  else
    rte_node_enqueue_next(graph, node, nexts, objs, n);
}

}  // namespace sluice
