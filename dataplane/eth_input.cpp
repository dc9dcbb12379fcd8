// eth_input.cpp — the eth-input node: EtherType dispatch. Frames addressed to another host
// are dropped (AF_XDP ports run promiscuous); IPv4 that arrived as a link-layer broadcast or
// multicast is not forwarded (RFC 1812 5.3.4); tagged frames are dropped. A bridge member's
// frames all go to bridge-input instead.
#include <rte_ether.h>

#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t {
  kBridge,
  kIp4,
  kArp,
  kRunt,
  kMultiSeg,
  kOtherHost,
  kL2Broadcast,
  kVlan,
  kUnknownType,
};

uint16_t eth_input(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  const WorkerContext& w = worker_of(node);
  const BridgeTopology& bt = *w.bridges->load(std::memory_order_acquire);
  dispatch(graph, node, objs, n, [&](rte_mbuf* m) -> rte_edge_t {
    // A bridge member sees every destination, and its tagged frames are the bridge's.
    if (bt.ports[meta(m).rx_port].bridge != kNoBridge) return kBridge;
    if (m->data_len < RTE_ETHER_HDR_LEN) return kRunt;
    if (m->nb_segs != 1) return kMultiSeg;
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const uint16_t type = eth->ether_type;
    const bool group = (eth->dst_addr.addr_bytes[0] & 1) != 0;
    if (!group) {
      uint64_t dst = 0;
      __builtin_memcpy(&dst, eth->dst_addr.addr_bytes, 6);
      if (dst != w.fs->port(meta(m).rx_port).mac.packed()) return kOtherHost;
    }
    if (type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
      if (group) return kL2Broadcast;
      rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
      return kIp4;
    }
    if (type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
      rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
      return kArp;
    }
    if (type == RTE_BE16(RTE_ETHER_TYPE_VLAN) || type == RTE_BE16(RTE_ETHER_TYPE_QINQ))
      return kVlan;
    return kUnknownType;
  });
  return n;
}

}  // namespace

NodeDef eth_input_node() {
  return {
      "eth-input",
      eth_input,
      {"bridge-input", "ip4-input", "arp-input", "drop-eth-runt", "drop-eth-multi-segment",
       "drop-eth-other-host", "drop-ip4-l2-broadcast", "drop-eth-vlan", "drop-eth-unknown-type"}};
}

}  // namespace sluice
