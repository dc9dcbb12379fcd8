// bridge_flood.cpp — the bridge-flood node: broadcast, multicast and unknown unicast go to
// every other member of the frame's bridge (and VLAN) whose flood flag for that kind is set,
// never back to the port it came in on. The last recipient gets the frame itself, the others a
// deep copy (rte_pktmbuf_copy): each copy may need its own VLAN tag, and DPDK's AF_XDP TX reads
// a frame from its own mbuf's buffer, so indirect mbufs sharing one buffer cannot be sent there
// (docs/bridging.md, "Flooding"). A copy the pool cannot give is counted
// (bridge_copy_failed) and only that recipient misses the frame.
//
// A broadcast ARP on a bridge whose routed interface has no kernel twin also goes to arp-input
// as if received on the BVI, so that sluice answers for the bridge's addresses and learns the
// sender (with a kernel twin, the XDP program hands such ARP to the kernel instead).
#include <rte_ether.h>

#include "dataplane/bridge_egress.h"
#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t { kPortTx, kArp, kNoRecipient, kNoHeadroom, kNotMember };

// The recipients were chosen up and forwarding, and members of the frame's VLAN: what is left
// to fail is the tag's headroom.
rte_edge_t egress_edge(Egress e) {
  return e == Egress::kOk ? kPortTx : kNoHeadroom;
}

uint16_t bridge_flood(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  const BridgeTopology& t = *w.bridges->load(std::memory_order_acquire);
  uint64_t copies = 0;
  for (uint16_t i = 0; i < n; ++i) {
    auto* m = static_cast<rte_mbuf*>(objs[i]);
    const uint16_t rx = meta(m).rx_port;
    const uint8_t bvi_of = w.fs->port(rx).bvi_of.load(std::memory_order_relaxed);
    const uint8_t b = bvi_of != sluice::kNoBridge ? bvi_of : t.ports[rx].bridge;
    if (b == sluice::kNoBridge || !t.bridges[b].present) {
      rte_node_enqueue_x1(graph, node, kNotMember, m);
      continue;
    }
    const BridgeTopology::Bridge& tb = t.bridges[b];
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const uint8_t kind = rte_is_broadcast_ether_addr(&eth->dst_addr) ? kBrFloodBroadcast
                         : (eth->dst_addr.addr_bytes[0] & 1)         ? kBrFloodMulticast
                                                                     : kBrFloodUnicast;
    const uint16_t vid = static_cast<uint16_t>(meta(m).bridge_tci & 0xfff);
    uint8_t to[kMaxPorts];
    unsigned nt = 0;
    for (unsigned j = 0; j < tb.n_members; ++j) {
      const uint8_t p = tb.members[j];
      const BridgeTopology::Port& tp = t.ports[p];
      if (p == rx || !(tp.flags & kind) || !(tp.flags & kBrForwarding)) continue;
      if (tb.vlan_filtering && (tp.vlans == nullptr || !(tp.vlans->vid[vid] & kVlanMember)))
        continue;
      if (!w.fs->port(p).up.load(std::memory_order_relaxed)) continue;
      to[nt++] = p;
    }
    const bool to_bvi = bvi_of == sluice::kNoBridge && kind == kBrFloodBroadcast &&
                        eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP) && tb.bvi != kNoPort &&
                        !w.fs->port(tb.bvi).kernel_twin &&
                        w.fs->port(tb.bvi).up.load(std::memory_order_relaxed) &&
                        (!tb.vlan_filtering || vid == tb.bvi_pvid);
    if (nt == 0 && !to_bvi) {
      rte_node_enqueue_x1(graph, node, kNoRecipient, m);
      continue;
    }
    w.counters.add(w.counters.bridge_flooded, 1);
    // Copies for all recipients but the last; the frame itself goes last.
    const unsigned total = nt + (to_bvi ? 1 : 0);
    for (unsigned j = 0; j + 1 < total; ++j) {
      rte_mbuf* c = rte_pktmbuf_copy(m, w.pool, 0, UINT32_MAX);
      if (c == nullptr) {
        w.counters.add(w.counters.bridge_copy_failed, 1);
        continue;
      }
      ++copies;
      meta(c) = meta(m);  // the private area is not copied
      if (j < nt) {
        rte_node_enqueue_x1(graph, node, egress_edge(bridge_egress(w, t, b, to[j], c)), c);
      }
    }
    if (to_bvi) {
      meta(m).rx_port = tb.bvi;
      meta(m).bridge_tci = 0;
      rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
      rte_node_enqueue_x1(graph, node, kArp, m);
    } else {
      rte_node_enqueue_x1(graph, node, egress_edge(bridge_egress(w, t, b, to[nt - 1], m)), m);
    }
  }
  if (copies != 0) w.counters.add(w.counters.bridge_flood_copies, copies);
  return n;
}

}  // namespace

NodeDef bridge_flood_node() {
  return {"bridge-flood",
          bridge_flood,
          {"port-tx", "arp-input", "drop-bridge-no-recipient", "drop-bridge-no-headroom",
           "drop-bridge-not-member"}};
}

}  // namespace sluice
