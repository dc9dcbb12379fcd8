// ip4_lookup.cpp — the ip4-lookup node: one lpm/ bulk lookup per burst, then one next-hop
// word per packet. The result (id and word) is stored in the packet's metadata; no later
// node looks it up again. A multipath route is resolved here to the member the packet's flow
// takes, so every later node sees an ordinary next hop. The ingress port's forwarding flag is
// checked here too: this is where a packet is first known not to be for the router.
#include <rte_ip.h>

#include "dataplane/flow_hash.h"
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
  kForwardingDisabled,
};

uint16_t ip4_lookup(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  const WorkerContext& w = worker_of(node);
  const ForwardingState& fs = *w.fs;
  const lpm::RouteTable& routes = fs.routes();
  const uint64_t seed = fs.multipath_seed();
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
      auto* m = static_cast<rte_mbuf*>(objs[base + i]);
      PacketMeta& pm = meta(m);
      pm.next_hop_id = ids[i];
      rte_edge_t e;
      if (ids[i] == lpm::kNoRoute) {
        e = kNoRoute;
      } else {
        NextHopWord nh = fs.next_hop(ids[i]);
        if (nh.kind() == NextHopKind::kMultipath) {
          const auto [id, member] =
              fs.multipath_member(nh, flow_hash(rte_pktmbuf_mtod(m, const rte_ipv4_hdr*), seed));
          pm.next_hop_id = id;
          nh = member;
        }
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
      // Linux answers for its own addresses (and subnet broadcasts) whatever the flag; all
      // else, unroutable included, is dropped without an ICMP error (ip_error()).
      if (e != kLocal && e != kBroadcast &&
          !fs.port(pm.rx_port).forwarding.load(std::memory_order_relaxed)) [[unlikely]]
        e = kForwardingDisabled;
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
           "drop-ip4-subnet-broadcast", "drop-ip4-blackhole", "drop-ip4-forwarding-disabled"}};
}

}  // namespace sluice
