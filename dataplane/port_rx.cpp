// port_rx.cpp — the port-rx source node: polls every (port, queue) this worker owns and
// hands the burst to eth-input; then sends the TX holds that are due (tx_coalesce.h). Ports
// whose device is detached (their interface was deleted) are skipped.
#include <rte_ethdev.h>

#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/tx_coalesce.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

constexpr uint16_t kPollBurst = 32;

// Sends what other workers handed over for the queues this worker owns.
void drain_handoffs(rte_graph* graph, rte_node* node, const WorkerContext& w) {
  for (const TxDrain& d : w.drains) {
    if (rte_ring_count(d.ring) == 0) continue;
    rte_mbuf* burst[64];
    const unsigned n =
        rte_ring_sc_dequeue_burst(d.ring, reinterpret_cast<void**>(burst), 64, nullptr);
    if (!w.fs->port(d.port).attached.load(std::memory_order_acquire)) [[unlikely]] {
      rte_node_enqueue(graph, node, 2, reinterpret_cast<void**>(burst), static_cast<uint16_t>(n));
      continue;  // the device is closed: drop-port-tx-link-down
    }
    const uint16_t sent = rte_eth_tx_burst(d.dpdk_port, d.queue, burst, static_cast<uint16_t>(n));
    if (sent < n)
      rte_node_enqueue(graph, node, 1, reinterpret_cast<void**>(burst + sent),
                       static_cast<uint16_t>(n - sent));
  }
}

uint16_t port_rx(rte_graph* graph, rte_node* node, void**, uint16_t) {
  WorkerContext& w = worker_of(node);
  if (!w.drains.empty()) drain_handoffs(graph, node, w);
  void** out = rte_node_next_stream_get(graph, node, 0, RTE_GRAPH_BURST_SIZE);
  uint16_t total = 0;
  for (const RxQueue& q : w.rx) {
    const uint16_t room = RTE_GRAPH_BURST_SIZE - total;
    if (room == 0) break;
    // A port whose interface went away has no device to poll until it is re-opened.
    if (!w.fs->port(q.port).attached.load(std::memory_order_acquire)) [[unlikely]]
      continue;
    const uint16_t got =
        rte_eth_rx_burst(q.dpdk_port, q.queue, reinterpret_cast<rte_mbuf**>(out + total),
                         room < kPollBurst ? room : kPollBurst);
    for (uint16_t i = 0; i < got; ++i) {
      PacketMeta& pm = meta(static_cast<rte_mbuf*>(out[total + i]));
      pm.rx_port = q.port;
      pm.flags = 0;
      pm.nat_flags = 0;
    }
    total += got;
  }
  rte_node_next_stream_put(graph, node, 0, total);
  // TX coalescing: what waited long enough goes now, and everything when nothing came in.
  if (w.tx_held_ports != 0) tx_hold_flush(graph, node, w, total == 0, 1, 2);
  return total;
}

}  // namespace

NodeDef port_rx_node() {
  return {"port-rx", port_rx, {"eth-input", "drop-port-tx-full", "drop-port-tx-link-down"}, true};
}

}  // namespace sluice
