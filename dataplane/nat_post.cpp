// nat_post.cpp — the nat-post node, after ip4-forward's TTL and MTU checks and before the
// packet is fragmented or gets its Ethernet header: a session nat-pre matched gets its source
// rewritten here (so the router's own ICMP errors quoted the packet as its sender sent it), and
// a packet from a masqueraded prefix leaving a masquerade port opens a session, unless it came
// in by that port.
#include <rte_ip.h>

#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t {
  kRewrite,
  kFragment,
  kRstWithoutSession,
  kTableFull,
  kPortsExhausted,
  kFragmentUntracked,
  kTruncated,
  kNoAddress,
  kUnsupported,
  kSpoofedSource,
};

uint16_t nat_post(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  const nat::Rules* rules = w.nat_rules->load(std::memory_order_acquire);
  nat::Engine& e = *w.nat;
  e.set_rules(rules);
  const uint32_t now = w.nat_now;
  if (rules == nullptr) {
    // No NAT: the whole burst on at once unless ip4-forward wants some of it fragmented.
    bool fragment = false;
    for (uint16_t i = 0; i < n; ++i)
      fragment |= (meta(static_cast<rte_mbuf*>(objs[i])).nat_flags & kNatFragment) != 0;
    if (!fragment) {
      rte_node_next_stream_move(graph, node, kRewrite);
      return n;
    }
  }
  dispatch(graph, node, objs, n, [&](rte_mbuf* m) -> rte_edge_t {
    PacketMeta& pm = meta(m);
    const rte_edge_t on = (pm.nat_flags & kNatFragment) ? kFragment : kRewrite;
    if (rules == nullptr) return on;
    nat::Match match;
    if (pm.nat_flags & kNatMatched) {
      match.session = pm.nat_session;
      match.orig = pm.nat_flags & kNatOrig;
      match.source_pending = pm.nat_flags & kNatSourcePending;
    }
    auto* ip = rte_pktmbuf_mtod(m, uint8_t*);
    const uint16_t port = NextHopWord(pm.next_hop_word).port();
    nat::Verdict v;
    if (match.session != nat::SessionTable::kNone) {
      v = e.post(ip, m->data_len, port, 0, now, match);
    } else {
      // A new connection: the rule first, then the address (one lookup per new connection).
      const auto* hdr = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
      if (rules->find_masquerade(rte_be_to_cpu_32(hdr->src_addr), port) == nullptr) return on;
      // An "inside" source that came in by the very port it would be masqueraded out of is
      // spoofed: an outside host sending it to itself would get a mapping that carries its
      // answers to the inside host. No session for it (strict reverse-path for NAT).
      if (pm.rx_port == port && !(pm.flags & kMetaLocalOrigin)) return kSpoofedSource;
      const uint32_t out_addr = w.fs->source_for(port, Ipv4Addr::from_be(hdr->dst_addr)).host();
      v = e.masquerade(ip, m->data_len, port, out_addr, now);
    }
    switch (v) {
      case nat::Verdict::kPass:
      case nat::Verdict::kTranslated: return on;
      case nat::Verdict::kFiltered: return kRstWithoutSession;
      case nat::Verdict::kTableFull: return kTableFull;
      case nat::Verdict::kPortsExhausted: return kPortsExhausted;
      case nat::Verdict::kFragmentUntracked: return kFragmentUntracked;
      case nat::Verdict::kNoAddress: return kNoAddress;
      case nat::Verdict::kUnsupported: return kUnsupported;
      default: return kTruncated;
    }
  });
  return n;
}

}  // namespace

NodeDef nat_post_node() {
  return {"nat-post",
          nat_post,
          {"ip4-rewrite", "ip4-fragment", "drop-nat-rst-without-session", "drop-nat-table-full",
           "drop-nat-ports-exhausted", "drop-nat-fragment-untracked", "drop-nat-truncated",
           "drop-nat-no-address", "drop-nat-unsupported-protocol", "drop-nat-spoofed-source"}};
}

}  // namespace sluice
