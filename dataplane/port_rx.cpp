// port_rx.cpp — the port-rx source node: polls every (port, queue) this worker owns and
// hands the burst to eth-input.
#include <rte_ethdev.h>

#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

constexpr uint16_t kPollBurst = 32;

uint16_t port_rx(rte_graph* graph, rte_node* node, void**, uint16_t) {
  WorkerContext& w = worker_of(node);
  void** out = rte_node_next_stream_get(graph, node, 0, RTE_GRAPH_BURST_SIZE);
  uint16_t total = 0;
  for (const RxQueue& q : w.rx) {
    const uint16_t room = RTE_GRAPH_BURST_SIZE - total;
    if (room == 0) break;
    const uint16_t got =
        rte_eth_rx_burst(q.dpdk_port, q.queue, reinterpret_cast<rte_mbuf**>(out + total),
                         room < kPollBurst ? room : kPollBurst);
    for (uint16_t i = 0; i < got; ++i) {
      PacketMeta& pm = meta(static_cast<rte_mbuf*>(out[total + i]));
      pm.rx_port = q.port;
      pm.flags = 0;
    }
    total += got;
  }
  rte_node_next_stream_put(graph, node, 0, total);
  return total;
}

}  // namespace

NodeDef port_rx_node() {
  return {"port-rx", port_rx, {"eth-input"}, true};
}

}  // namespace sluice
