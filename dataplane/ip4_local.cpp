// ip4_local.cpp — the ip4-local node: packets for the router's own addresses. ICMP echo
// requests are answered here (fast ping). Everything else belongs to the host stack: on AF_XDP
// ports the XDP program already passed it to the kernel, so what arrives here has no host to
// go to and is dropped with a counter.
#include <rte_icmp.h>
#include <rte_ip.h>

#include "dataplane/checksum.h"
#include "dataplane/graph_nodes.h"
#include "dataplane/local_output.h"

namespace sluice {
namespace {

enum Next : rte_edge_t {
  kRewrite,
  kNoHost,
  kFragment,
  kTruncated,
  kBadChecksum,
  kNoReturnRoute,
  kFragmentReply,
};

rte_edge_t answer(const WorkerContext& w, rte_mbuf* m) {
  auto* ip = rte_pktmbuf_mtod(m, rte_ipv4_hdr*);
  if (ip->next_proto_id != IPPROTO_ICMP) return kNoHost;
  if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG))
    return kFragment;  // no reassembly in the fast path
  const unsigned hlen = (ip->version_ihl & 0xf) * 4u;
  const unsigned l4 = rte_be_to_cpu_16(ip->total_length) - hlen;
  if (l4 < sizeof(rte_icmp_hdr)) return kTruncated;
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(reinterpret_cast<uint8_t*>(ip) + hlen);
  if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) return kNoHost;
  if (csum_fold_sum(icmp, l4) != 0xffff) return kBadChecksum;
  if (!route_locally_originated(w, m, ip->src_addr)) return kNoReturnRoute;
  uint16_t old_word, new_word;
  __builtin_memcpy(&old_word, icmp, 2);
  icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
  __builtin_memcpy(&new_word, icmp, 2);
  icmp->icmp_cksum = csum_update16(icmp->icmp_cksum, old_word, new_word);
  const uint32_t asker = ip->src_addr;
  ip->src_addr = ip->dst_addr;
  ip->dst_addr = asker;
  ip->time_to_live = 64;
  // A reply larger than the way back is fragmented, as a host would (DF off: it is ours).
  const bool too_big =
      rte_be_to_cpu_16(ip->total_length) >
      w.fs->port(NextHopWord(meta(m).next_hop_word).port()).mtu.load(std::memory_order_relaxed);
  if (too_big) {
    ip->fragment_offset = 0;
    meta(m).flags |= kMetaLocalOrigin;
  }
  ip->hdr_checksum = 0;
  ip->hdr_checksum = csum(ip, hlen);
  return too_big ? kFragmentReply : kRewrite;
}

uint16_t ip4_local(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  const WorkerContext& w = worker_of(node);
  dispatch(graph, node, objs, n, [&](rte_mbuf* m) { return answer(w, m); });
  return n;
}

}  // namespace

NodeDef ip4_local_node() {
  return {
      "ip4-local",
      ip4_local,
      {"ip4-rewrite", "drop-ip4-local-no-host", "drop-ip4-local-fragment", "drop-icmp-truncated",
       "drop-icmp-bad-checksum", "drop-ip4-local-no-return-route", "ip4-fragment"}};
}

}  // namespace sluice
