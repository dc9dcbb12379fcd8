// bridge_output.cpp — the bridge-output node: frames the IPv4 path sends out of a bridge's
// routed interface (forwarded, NAT-ed, the router's own ARP, echo replies, ICMP errors). They
// arrive from port-tx, whose one per-run test sends a BVI's runs here, with their Ethernet
// header written (the neighbour's MAC, the bridge's as source). The FDB picks the member;
// group and unknown destinations are flooded as any bridged frame. A frame is never learned
// from here: the bridge's own MAC is local.
#include <rte_ether.h>
#include <rte_hash.h>

#include <algorithm>

#include "dataplane/bridge_egress.h"
#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t { kPortTx, kFlood, kNotMember, kBlocked, kFiltered, kNoHeadroom };

constexpr unsigned kChunk = RTE_HASH_LOOKUP_BULK_MAX;
constexpr rte_edge_t kEgressEdge[] = {kPortTx, kBlocked, kFiltered, kNoHeadroom};  // by Egress

uint16_t bridge_output(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  const BridgeTopology& t = *w.bridges->load(std::memory_order_acquire);
  auto** pkts = reinterpret_cast<rte_mbuf**>(objs);
  uint64_t keys[kChunk];
  const uint64_t* key_ptrs[kChunk];
  int32_t pos[kChunk];
  for (unsigned i = 0; i < kChunk; ++i) key_ptrs[i] = &keys[i];

  for (uint16_t base = 0; base < n; base += kChunk) {
    const unsigned c = std::min<unsigned>(n - base, kChunk);
    for (unsigned i = 0; i < c; ++i) {
      rte_mbuf* m = pkts[base + i];
      const uint16_t port = NextHopWord(meta(m).next_hop_word).port();
      const uint8_t b = w.fs->port(port).bvi_of.load(std::memory_order_relaxed);
      uint16_t fid = 0;
      if (b != sluice::kNoBridge && t.bridges[b].present) {
        const uint16_t vid = t.bridges[b].bvi_pvid;
        meta(m).bridge_tci = vid;
        fid = t.fid(b, vid);
      }
      uint64_t dst = 0;
      __builtin_memcpy(&dst, rte_pktmbuf_mtod(m, const rte_ether_hdr*)->dst_addr.addr_bytes, 6);
      keys[i] = fdb_key(dst, fid);
    }
    w.fdb->lookup(key_ptrs, c, pos);
    for (unsigned i = 0; i < c; ++i) {
      rte_mbuf* m = pkts[base + i];
      const uint16_t port = NextHopWord(meta(m).next_hop_word).port();
      const uint8_t b = w.fs->port(port).bvi_of.load(std::memory_order_relaxed);
      rte_edge_t next;
      if (b == sluice::kNoBridge || !t.bridges[b].present) {
        next = kNotMember;
      } else {
        meta(m).rx_port = port;  // bridge-flood: flood from the BVI (not a member: all get it)
        const uint64_t word =
            pos[i] >= 0 ? w.fdb->slot(pos[i]).word.load(std::memory_order_acquire) : 0;
        if ((keys[i] & 1) || !(word & kFdbValid) || (word & kFdbLocal)) {
          next = kFlood;
        } else {
          const uint16_t out = static_cast<uint16_t>(word & 0xff);
          next = kEgressEdge[static_cast<unsigned>(bridge_egress(w, t, b, out, m))];
        }
      }
      rte_node_enqueue_x1(graph, node, next, m);
    }
  }
  return n;
}

}  // namespace

NodeDef bridge_output_node() {
  return {"bridge-output",
          bridge_output,
          {"port-tx", "bridge-flood", "drop-bridge-not-member", "drop-bridge-port-blocked",
           "drop-bridge-vlan-filtered", "drop-bridge-no-headroom"}};
}

}  // namespace sluice
