// nat_pre.cpp — the nat-pre node, between ip4-input and ip4-lookup: with NAT rules set, every
// IPv4 packet meets its worker's NAT engine before the route lookup. Replies to masqueraded
// connections and port-forwarded connections get their destination rewritten here, so the
// lookup routes them inside; ICMP errors about translated packets are translated whole. With
// several workers, a packet whose session belongs to another worker goes to nat-handoff
// first. With no rules the stream moves on untouched.
#include <rte_ip.h>

#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t {
  kLookup,
  kHandoff,
  kFiltered,
  kTableFull,
  kPortsExhausted,
  kFragmentUntracked,
  kTruncated,
  kBadDirection,
};

rte_edge_t edge_of(nat::Verdict v) {
  switch (v) {
    case nat::Verdict::kPass:
    case nat::Verdict::kTranslated: return kLookup;
    case nat::Verdict::kFiltered: return kFiltered;
    case nat::Verdict::kTableFull: return kTableFull;
    case nat::Verdict::kPortsExhausted: return kPortsExhausted;
    case nat::Verdict::kFragmentUntracked: return kFragmentUntracked;
    case nat::Verdict::kBadDirection: return kBadDirection;
    default: return kTruncated;
  }
}

uint16_t nat_pre(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  const nat::Rules* rules = w.nat_rules->load(std::memory_order_acquire);
  if (rules == nullptr) {
    // No NAT: on as they came (nat-post and icmp-error find no kNatMatched/DestRewritten bit,
    // which only nat-pre sets on a packet port-rx cleared).
    rte_node_next_stream_move(graph, node, kLookup);
    return n;
  }
  nat::Engine& e = *w.nat;
  e.set_rules(rules);
  const unsigned workers = static_cast<unsigned>(w.nat_peers.size());
  const uint32_t now = w.nat_now;
  // The burst's lookups, prefetched in two passes (index slots, then the sessions they name):
  // with many sessions each lookup is two cache misses, and they overlap this way.
  if (n <= RTE_GRAPH_BURST_SIZE) {
    uint64_t hashes[RTE_GRAPH_BURST_SIZE];
    for (uint16_t i = 0; i < n; ++i) {
      auto* m = static_cast<rte_mbuf*>(objs[i]);
      hashes[i] = e.key_hash(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
      if (hashes[i] != 0) e.prefetch_slots(hashes[i]);
    }
    for (uint16_t i = 0; i < n; ++i)
      if (hashes[i] != 0) e.prefetch_sessions(hashes[i]);
  }
  dispatch(graph, node, objs, n, [&](rte_mbuf* m) -> rte_edge_t {
    auto* ip = rte_pktmbuf_mtod(m, uint8_t*);
    PacketMeta& pm = meta(m);
    if (workers > 1 && !(pm.nat_flags & kNatHandedOver)) {
      const unsigned owner = e.owner(ip, m->data_len, workers);
      if (owner != w.index) {
        pm.nat_session = owner;  // where nat-handoff sends it
        return kHandoff;
      }
    }
    nat::Match match;
    const nat::Verdict v = e.pre(ip, m->data_len, pm.rx_port, now, &match);
    uint8_t f = 0;
    if (match.session != nat::SessionTable::kNone) {
      f = kNatMatched;
      if (match.orig) f |= kNatOrig;
      if (match.source_pending) f |= kNatSourcePending;
      if (match.dest_rewritten) f |= kNatDestRewritten;
      pm.nat_session = match.session;
    }
    pm.nat_flags = f;
    return edge_of(v);
  });
  return n;
}

// Sends each packet to the worker owning its session (meta nat_session holds the index).
uint16_t nat_handoff(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  uint64_t sent = 0;
  for (uint16_t i = 0; i < n; ++i) {
    auto* m = static_cast<rte_mbuf*>(objs[i]);
    PacketMeta& pm = meta(m);
    pm.nat_flags = kNatHandedOver;
    if (rte_ring_mp_enqueue(w.nat_peers[pm.nat_session], m) == 0)
      ++sent;
    else
      rte_node_enqueue_x1(graph, node, 0, m);
  }
  w.counters.add(w.counters.nat_handoffs, sent);
  w.counters.add(w.counters.nat_handoff_full, n - sent);
  return n;
}

// The packets other workers handed to this one, back into nat-pre.
uint16_t nat_inbox(rte_graph* graph, rte_node* node, void**, uint16_t) {
  WorkerContext& w = worker_of(node);
  if (w.nat_inbox == nullptr || rte_ring_count(w.nat_inbox) == 0) return 0;
  void** out = rte_node_next_stream_get(graph, node, 0, RTE_GRAPH_BURST_SIZE);
  const unsigned got = rte_ring_sc_dequeue_burst(w.nat_inbox, out, 32, nullptr);
  rte_node_next_stream_put(graph, node, 0, static_cast<uint16_t>(got));
  return static_cast<uint16_t>(got);
}

}  // namespace

std::vector<NodeDef> nat_pre_nodes() {
  return {
      {"nat-pre",
       nat_pre,
       {"ip4-lookup", "nat-handoff", "drop-nat-filtered", "drop-nat-table-full",
        "drop-nat-ports-exhausted", "drop-nat-fragment-untracked", "drop-nat-truncated",
        "drop-nat-bad-direction"}},
      {"nat-handoff", nat_handoff, {"drop-nat-handoff-full"}},
      {"nat-inbox", nat_inbox, {"nat-pre"}, true},
  };
}

}  // namespace sluice
