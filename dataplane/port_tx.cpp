// port_tx.cpp — the port-tx node: sends each run of packets for the same port with one
// rte_eth_tx_burst on this worker's own queue (no queue is shared, so no lock). A worker
// beyond the port's queue count hands the run to the queue's owner through a ring instead
// (port-rx of the owner sends it). What the driver or the ring does not take is counted.
// Nothing leaves a port whose link is down: ip4-forward already stops transit packets, but the
// router's own packets (ARP, echo replies, ICMP errors, released held packets) end here too,
// so this one check, once per run of packets, covers all of them; a port whose device is
// detached (its interface deleted) counts as down. A run for a bridge's routed
// interface goes to bridge-output, which picks the member port and comes back here. With
// --tx-coalesce-us a run is held and sent with later ones (tx_coalesce.h).
#include <rte_ethdev.h>

#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/tx_coalesce.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

uint16_t port_tx(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  auto** pkts = reinterpret_cast<rte_mbuf**>(objs);
  uint16_t start = 0;
  while (start < n) {
    const uint16_t port = NextHopWord(meta(pkts[start]).next_hop_word).port();
    uint16_t end = start + 1;
    while (end < n && NextHopWord(meta(pkts[end]).next_hop_word).port() == port) ++end;
    const uint16_t want = end - start;
    if (!w.fs->port(port).up.load(std::memory_order_relaxed) ||
        !w.fs->port(port).attached.load(std::memory_order_acquire)) [[unlikely]] {
      rte_node_enqueue(graph, node, 2, objs + start, want);
      start = end;
      continue;
    }
    if (w.fs->port(port).bvi_of.load(std::memory_order_relaxed) != 0xff) [[unlikely]] {
      rte_node_enqueue(graph, node, 3, objs + start, want);  // bridge-output picks the member
      start = end;
      continue;
    }
    if (rte_ring* handoff = w.tx_handoff[port]; handoff != nullptr) {
      const unsigned sent = rte_ring_mp_enqueue_burst(handoff, objs + start, want, nullptr);
      if (sent < want) rte_node_enqueue(graph, node, 1, objs + start + sent, want - sent);
      start = end;
      continue;
    }
    if (w.tx_hold_cycles != 0) {  // coalescing: sent with later runs (tx_coalesce.h)
      tx_hold_add(graph, node, w, port, pkts + start, want, 0, 2);
      start = end;
      continue;
    }
    const uint16_t dpdk_port = w.fs->port(port).dpdk_port;
    const uint16_t queue = w.tx_queue[port];
    uint16_t sent = rte_eth_tx_burst(dpdk_port, queue, pkts + start, want);
    if (sent < want)  // one retry: AF_XDP completes TX asynchronously
      sent += rte_eth_tx_burst(dpdk_port, queue, pkts + start + sent, want - sent);
    if (sent < want) rte_node_enqueue(graph, node, 0, objs + start + sent, want - sent);
    start = end;
  }
  return n;
}

}  // namespace

NodeDef port_tx_node() {
  return {"port-tx",
          port_tx,
          {"drop-port-tx-full", "drop-port-tx-handoff-full", "drop-port-tx-link-down",
           "bridge-output"}};
}

}  // namespace sluice
