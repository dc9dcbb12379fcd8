// ip4_lookup.cpp — the ip4-lookup node: one lpm/ bulk lookup per burst, then one next-hop
// word per packet. The result (id and word) is stored in the packet's metadata; no later
// node looks it up again.
#include <rte_ip.h>

#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t {
  kForward,
  kLocal,
  kNoRoute,
  kUnreachable,
  kProhibited,
  kBroadcast,
  kBlackhole,
};

uint16_t ip4_lookup(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  const WorkerContext& w = worker_of(node);
  const lpm::RouteTable& routes = w.fs->routes();
  constexpr uint16_t kChunk = 64;
  Ipv4Addr dst[kChunk];
  lpm::NextHop ids[kChunk];
  rte_edge_t nexts[kChunk];
  for (uint16_t base = 0; base < n; base += kChunk) {
    const uint16_t c = n - base < kChunk ? n - base : kChunk;
    for (uint16_t i = 0; i < c; ++i) {
      const auto* ip = rte_pktmbuf_mtod(static_cast<rte_mbuf*>(objs[base + i]), rte_ipv4_hdr*);
      dst[i] = Ipv4Addr::from_be(ip->dst_addr);
    }
    routes.lookup_bulk(dst, ids, c);
    bool same = true;
    for (uint16_t i = 0; i < c; ++i) {
      PacketMeta& pm = meta(static_cast<rte_mbuf*>(objs[base + i]));
      pm.next_hop_id = ids[i];
      rte_edge_t e;
      if (ids[i] == lpm::kNoRoute) {
        e = kNoRoute;
      } else {
        const NextHopWord nh = w.fs->next_hop(ids[i]);
        pm.next_hop_word = nh.raw();
        switch (nh.kind()) {
          case NextHopKind::kForward: e = kForward; break;
          case NextHopKind::kLocal: e = kLocal; break;
          case NextHopKind::kBroadcast: e = kBroadcast; break;
          case NextHopKind::kUnreachable: e = kUnreachable; break;
          case NextHopKind::kProhibit: e = kProhibited; break;
          default: e = kBlackhole; break;
        }
      }
      nexts[i] = e;
      same &= e == nexts[0];
    }
    if (same && c == n)
      rte_node_next_stream_move(graph, node, nexts[0]);
    else
      rte_node_enqueue_next(graph, node, nexts, objs + base, c);
  }
  return n;
}

}  // namespace

NodeDef ip4_lookup_node() {
  return {"ip4-lookup",
          ip4_lookup,
          {"ip4-forward", "ip4-local", "ip4-no-route", "ip4-unreachable", "ip4-prohibited",
           "drop-ip4-subnet-broadcast", "drop-ip4-blackhole"}};
}

}  // namespace sluice
