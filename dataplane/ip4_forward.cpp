// ip4_forward.cpp — the ip4-forward node: TTL check and decrement with an incremental
// checksum update (RFC 1624), and the egress MTU check: DF packets that do not fit go to
// ip4-frag-needed (ICMP, so path MTU discovery works), others to ip4-fragment.
#include <rte_ip.h>

#include "dataplane/checksum.h"
#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

// kPost: on to nat-post, which sends the packet to ip4-fragment when kNatFragment is set.
enum Next : rte_edge_t { kPost, kTtlExceeded, kFragNeeded, kPortDown };

uint16_t ip4_forward(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  uint64_t forwarded = 0;
  dispatch(graph, node, objs, n, [&](rte_mbuf* m) -> rte_edge_t {
    auto* ip = rte_pktmbuf_mtod(m, rte_ipv4_hdr*);
    if (ip->time_to_live <= 1) return kTtlExceeded;
    PacketMeta& pm = meta(m);
    const PortState& out = w.fs->port(NextHopWord(pm.next_hop_word).port());
    if (!out.up.load(std::memory_order_relaxed)) return kPortDown;
    const uint16_t mtu = out.mtu.load(std::memory_order_relaxed);
    if (rte_be_to_cpu_16(ip->total_length) > mtu) {
      if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) {
        pm.icmp_mtu = mtu;
        return kFragNeeded;
      }
      pm.nat_flags |= kNatFragment;
      return kPost;
    }
    // TTL and protocol share a 16-bit word of the header.
    uint16_t old_word;
    __builtin_memcpy(&old_word, &ip->time_to_live, 2);
    --ip->time_to_live;
    uint16_t new_word;
    __builtin_memcpy(&new_word, &ip->time_to_live, 2);
    ip->hdr_checksum = csum_update16(ip->hdr_checksum, old_word, new_word);
    ++forwarded;
    return kPost;
  });
  w.counters.add(w.counters.forwarded, forwarded);
  return n;
}

}  // namespace

NodeDef ip4_forward_node() {
  return {"ip4-forward",
          ip4_forward,
          {"nat-post", "ip4-ttl-exceeded", "ip4-frag-needed", "drop-ip4-port-down"}};
}

}  // namespace sluice
