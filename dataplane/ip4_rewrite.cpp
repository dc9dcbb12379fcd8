// ip4_rewrite.cpp — the ip4-rewrite node: writes the Ethernet header from the next-hop word
// (neighbour MAC, egress port's MAC). A next hop without a resolved neighbour sends the packet
// to neigh-punt, where the control thread holds it while ARP resolves.
#include <rte_ether.h>

#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t { kPortTx, kUnresolved, kNoHeadroom };

uint16_t ip4_rewrite(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  const WorkerContext& w = worker_of(node);
  dispatch(graph, node, objs, n, [&](rte_mbuf* m) -> rte_edge_t {
    const NextHopWord nh(meta(m).next_hop_word);
    if (!nh.forwardable()) return kUnresolved;
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN));
    if (eth == nullptr) return kNoHeadroom;
    const uint64_t dst = nh.mac_packed();
    const uint64_t src = w.fs->port(nh.port()).mac.packed();
    __builtin_memcpy(eth->dst_addr.addr_bytes, &dst, 6);
    __builtin_memcpy(eth->src_addr.addr_bytes, &src, 6);
    eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
    return kPortTx;
  });
  return n;
}

}  // namespace

NodeDef ip4_rewrite_node() {
  return {"ip4-rewrite", ip4_rewrite, {"port-tx", "neigh-punt", "drop-ip4-no-headroom"}};
}

}  // namespace sluice
