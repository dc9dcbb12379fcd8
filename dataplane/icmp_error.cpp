// icmp_error.cpp — ICMP errors from the router (RFC 792, RFC 1812 4.3.2): the reason nodes
// (ip4-ttl-exceeded, ip4-no-route, ip4-frag-needed, ip4-unreachable, ip4-prohibited) count
// their packets and set type and code; icmp-error turns the packet into the error in place.
// Never about ICMP errors, non-first fragments, or packets from addresses that cannot be
// answered (RFC 1812 4.3.2.7), and rate limited per worker (4.3.2.8). The source address is
// the ingress port's, so traceroute shows the interface the probe came in on.
#include <rte_icmp.h>
#include <rte_ip.h>

#include "dataplane/checksum.h"
#include "dataplane/graph_nodes.h"
#include "dataplane/local_output.h"

namespace sluice {
namespace {

constexpr unsigned kMaxErrorLen = 576;  // RFC 1812 4.3.2.3: as much as fits in 576 bytes

enum Next : rte_edge_t { kRewrite, kSuppressed, kRateLimited, kNoSource, kNoReturnRoute };

bool is_icmp_error_type(uint8_t t) {
  return t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
}

rte_edge_t make_error(WorkerContext& w, rte_mbuf* m) {
  PacketMeta& pm = meta(m);
  if (pm.nat_flags & kNatDestRewritten) {
    // nat-pre rewrote the destination: quote the packet as its sender sent it (RFC 5508).
    nat::Match match;
    match.session = pm.nat_session;
    match.orig = pm.nat_flags & kNatOrig;
    match.dest_rewritten = true;
    w.nat->restore_destination(rte_pktmbuf_mtod(m, uint8_t*), m->data_len, match);
  }
  pm.nat_flags = 0;
  const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
  const unsigned hlen = (ip->version_ihl & 0xf) * 4u;
  const uint32_t src = rte_be_to_cpu_32(ip->src_addr);
  const uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
  if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) return kSuppressed;
  if ((src >> 28) >= 0xe || (src >> 24) == 0 || (dst >> 28) == 0xe || dst == 0xffffffffu)
    return kSuppressed;
  if (ip->next_proto_id == IPPROTO_ICMP) {
    if (m->data_len < hlen + 1) return kSuppressed;
    const uint8_t type = *(reinterpret_cast<const uint8_t*>(ip) + hlen);
    if (is_icmp_error_type(type)) return kSuppressed;
  }
  const uint32_t from = w.fs->port(pm.rx_port).primary_be.load(std::memory_order_relaxed);
  if (from == 0) return kNoSource;
  if (!w.icmp.allow()) return kRateLimited;
  const uint32_t reply_to = ip->src_addr;
  if (!route_locally_originated(w, m, reply_to)) return kNoReturnRoute;

  constexpr unsigned kHead = sizeof(rte_ipv4_hdr) + sizeof(rte_icmp_hdr);
  // At most 576 bytes in all, and never more than the way back carries unfragmented.
  const unsigned mtu =
      w.fs->port(NextHopWord(pm.next_hop_word).port()).mtu.load(std::memory_order_relaxed);
  const unsigned limit = mtu < kMaxErrorLen ? mtu : kMaxErrorLen;
  if (limit < kHead + sizeof(rte_ipv4_hdr) + 8) return kSuppressed;
  const unsigned quote = m->data_len < limit - kHead ? m->data_len : limit - kHead;
  rte_pktmbuf_trim(m, m->data_len - quote);
  auto* nip = reinterpret_cast<rte_ipv4_hdr*>(rte_pktmbuf_prepend(m, kHead));
  if (nip == nullptr) return kSuppressed;
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(nip + 1);
  icmp->icmp_type = pm.icmp_type;
  icmp->icmp_code = pm.icmp_code;
  icmp->icmp_cksum = 0;
  // Bytes 4-7: unused, except "fragmentation needed" carries the next-hop MTU (RFC 1191).
  icmp->icmp_ident = 0;
  icmp->icmp_seq_nb = pm.icmp_type == 3 && pm.icmp_code == 4 ? rte_cpu_to_be_16(pm.icmp_mtu) : 0;
  icmp->icmp_cksum = csum(icmp, sizeof(rte_icmp_hdr) + quote);
  nip->version_ihl = 0x45;
  nip->type_of_service = 0xc0;  // internetwork control, as routers mark their ICMP
  nip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(kHead + quote));
  nip->packet_id = 0;
  nip->fragment_offset = 0;
  nip->time_to_live = 64;
  nip->next_proto_id = IPPROTO_ICMP;
  nip->src_addr = from;
  nip->dst_addr = reply_to;
  nip->hdr_checksum = 0;
  nip->hdr_checksum = csum(nip, sizeof(rte_ipv4_hdr));
  return kRewrite;
}

uint16_t icmp_error(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  for (uint16_t i = 0; i < n; ++i) {
    auto* m = static_cast<rte_mbuf*>(objs[i]);
    rte_node_enqueue_x1(graph, node, make_error(w, m), m);
  }
  return n;
}

template <uint8_t Type, uint8_t Code>
uint16_t set_reason(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  for (uint16_t i = 0; i < n; ++i) {
    PacketMeta& pm = meta(static_cast<rte_mbuf*>(objs[i]));
    pm.icmp_type = Type;
    pm.icmp_code = Code;
  }
  rte_node_next_stream_move(graph, node, 0);
  return n;
}

}  // namespace

std::vector<NodeDef> icmp_error_nodes() {
  return {
      {"icmp-error",
       icmp_error,
       {"ip4-rewrite", "drop-icmp-error-suppressed", "drop-icmp-error-rate-limited",
        "drop-icmp-error-no-source-address", "drop-icmp-error-no-return-route"}},
      {"ip4-ttl-exceeded", set_reason<11, 0>, {"icmp-error"}},
      {"ip4-no-route", set_reason<3, 0>, {"icmp-error"}},     // network unreachable
      {"ip4-unreachable", set_reason<3, 1>, {"icmp-error"}},  // host unreachable
      {"ip4-prohibited", set_reason<3, 13>, {"icmp-error"}},  // administratively prohibited
      {"ip4-frag-needed", set_reason<3, 4>, {"icmp-error"}},  // fragmentation needed, DF set
  };
}

}  // namespace sluice
