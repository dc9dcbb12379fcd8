// tx_coalesce.h — TX coalescing (WorkerContext::tx_hold, --tx-coalesce-us): port-tx adds a
// run to the port's hold and sends it when a burst is full; port-rx, once per walk after it
// polled, sends what waited long enough, or everything when nothing came in (the worker is
// idle: holding would only add latency). Unsent frames go to drop-port-tx-full, frames for a
// port that went down meanwhile to drop-port-tx-link-down, through the caller's edges.
#pragma once

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_graph_worker.h>

#include <algorithm>

#include "dataplane/worker_context.h"

namespace sluice {

inline constexpr uint16_t kTxCoalesceBurst = 32;  // a hold this full is sent at once

// Sends port `port`'s held frames; what the driver does not take goes to edge `full_edge`.
inline void tx_hold_send(rte_graph* graph, rte_node* node, WorkerContext& w, uint16_t port,
                         rte_edge_t full_edge, rte_edge_t down_edge) {
  TxHold& h = (*w.tx_hold)[port];
  const uint16_t n = h.n;
  h.n = 0;
  w.tx_held_ports &= ~(uint64_t{1} << port);
  if (n == 0) return;
  if (!w.fs->port(port).up.load(std::memory_order_relaxed) ||
      !w.fs->port(port).attached.load(std::memory_order_acquire)) [[unlikely]] {
    rte_node_enqueue(graph, node, down_edge, reinterpret_cast<void**>(h.pkts), n);
    return;
  }
  const uint16_t dpdk_port = w.fs->port(port).dpdk_port;
  const uint16_t queue = w.tx_queue[port];
  uint16_t sent = rte_eth_tx_burst(dpdk_port, queue, h.pkts, n);
  if (sent < n)  // one retry: AF_XDP completes TX asynchronously
    sent += rte_eth_tx_burst(dpdk_port, queue, h.pkts + sent, n - sent);
  if (sent < n)
    rte_node_enqueue(graph, node, full_edge, reinterpret_cast<void**>(h.pkts + sent), n - sent);
}

// port-tx: holds a run of `n` frames for `port` (n <= RTE_GRAPH_BURST_SIZE), sending first
// what would not fit, and sending the hold once it holds a burst.
inline void tx_hold_add(rte_graph* graph, rte_node* node, WorkerContext& w, uint16_t port,
                        rte_mbuf** pkts, uint16_t n, rte_edge_t full_edge, rte_edge_t down_edge) {
  TxHold& h = (*w.tx_hold)[port];
  while (n > 0) {
    if (h.n == TxHold::kCapacity) tx_hold_send(graph, node, w, port, full_edge, down_edge);
    if (h.n == 0) {
      h.since = rte_rdtsc();
      w.tx_held_ports |= uint64_t{1} << port;
    }
    const uint16_t take = std::min<uint16_t>(n, TxHold::kCapacity - h.n);
    for (uint16_t i = 0; i < take; ++i) h.pkts[h.n + i] = pkts[i];
    h.n += take;
    pkts += take;
    n -= take;
  }
  if (h.n >= kTxCoalesceBurst) tx_hold_send(graph, node, w, port, full_edge, down_edge);
}

// port-rx, after polling: `idle` (nothing received) sends every hold, else those whose first
// frame waited w.tx_hold_cycles or more.
inline void tx_hold_flush(rte_graph* graph, rte_node* node, WorkerContext& w, bool idle,
                          rte_edge_t full_edge, rte_edge_t down_edge) {
  const uint64_t now = idle ? 0 : rte_rdtsc();
  for (uint64_t m = w.tx_held_ports; m != 0; m &= m - 1) {
    const auto port = static_cast<uint16_t>(__builtin_ctzll(m));
    if (idle || now - (*w.tx_hold)[port].since >= w.tx_hold_cycles)
      tx_hold_send(graph, node, w, port, full_edge, down_edge);
  }
}

// Outside the graph (a worker stopping, the dataplane going away): sends what is held if
// `send`, and frees whatever is left.
inline void tx_hold_release(WorkerContext& w, bool send) {
  for (uint64_t m = w.tx_held_ports; m != 0; m &= m - 1) {
    const auto port = static_cast<uint16_t>(__builtin_ctzll(m));
    TxHold& h = (*w.tx_hold)[port];
    const bool can = send && w.fs->port(port).attached.load(std::memory_order_acquire);
    const uint16_t sent =
        can ? rte_eth_tx_burst(w.fs->port(port).dpdk_port, w.tx_queue[port], h.pkts, h.n) : 0;
    if (sent < h.n) rte_pktmbuf_free_bulk(h.pkts + sent, h.n - sent);
    h.n = 0;
  }
  w.tx_held_ports = 0;
}

}  // namespace sluice
