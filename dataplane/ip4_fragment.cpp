// ip4_fragment.cpp — the ip4-fragment node: packets without DF that exceed the egress MTU are
// split (RFC 791 / RFC 1812 4.2.2.7) into fresh single-segment mbufs, so every port driver,
// AF_XDP included, can send them. Options marked "copy" are repeated in every fragment;
// others stay in the first only.
#include <rte_ip.h>

#include "dataplane/checksum.h"
#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t { kRewrite, kNoMbuf, kTooManyFragments, kDone };

// The header of later fragments: the fixed part plus only the options with the copy bit.
unsigned copied_options(const uint8_t* opt, unsigned len, uint8_t* out) {
  unsigned o = 0;
  for (unsigned i = 0; i < len;) {
    const uint8_t type = opt[i];
    if (type == 0) break;  // end of options
    if (type == 1) {       // no-op: one byte, not copied
      ++i;
      continue;
    }
    if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len) break;
    const unsigned olen = opt[i + 1];
    if (type & 0x80) {
      __builtin_memcpy(out + o, opt + i, olen);
      o += olen;
    }
    i += olen;
  }
  while (o % 4) out[o++] = 0;
  return o;
}

uint16_t ip4_fragment(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  for (uint16_t k = 0; k < n; ++k) {
    auto* m = static_cast<rte_mbuf*>(objs[k]);
    const PacketMeta pm = meta(m);
    const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
    const unsigned hlen = (ip->version_ihl & 0xf) * 4u;
    const unsigned total = rte_be_to_cpu_16(ip->total_length);
    const unsigned mtu = w.fs->port(NextHopWord(pm.next_hop_word).port()).mtu;
    const uint16_t frag = rte_be_to_cpu_16(ip->fragment_offset);
    const unsigned base_offset = (frag & RTE_IPV4_HDR_OFFSET_MASK) * 8u;
    const bool more_after = frag & RTE_IPV4_HDR_MF_FLAG;
    uint8_t later_opts[40];
    const unsigned later_olen =
        copied_options(reinterpret_cast<const uint8_t*>(ip + 1), hlen - 20, later_opts);
    const uint8_t* payload = reinterpret_cast<const uint8_t*>(ip) + hlen;
    const unsigned payload_len = total - hlen;
    if ((ip->time_to_live <= 1 && !(pm.flags & kMetaLocalOrigin)) || mtu < 68) {
      rte_node_enqueue_x1(graph, node, kTooManyFragments, m);
      continue;
    }
    rte_mbuf* out[64];
    unsigned made = 0;
    bool failed = false;
    for (unsigned off = 0; off < payload_len && !failed;) {
      const unsigned this_hlen = off == 0 ? hlen : 20 + later_olen;
      unsigned chunk = (mtu - this_hlen) & ~7u;
      const bool last = off + chunk >= payload_len;
      if (last) chunk = payload_len - off;
      if (made == 64) {
        failed = true;
        break;
      }
      rte_mbuf* f = rte_pktmbuf_alloc(w.pool);
      if (f == nullptr) {
        failed = true;
        break;
      }
      auto* fh = reinterpret_cast<rte_ipv4_hdr*>(rte_pktmbuf_append(f, this_hlen + chunk));
      __builtin_memcpy(fh, ip, 20);
      if (off == 0)
        __builtin_memcpy(fh + 1, ip + 1, hlen - 20);
      else
        __builtin_memcpy(fh + 1, later_opts, later_olen);
      fh->version_ihl = static_cast<uint8_t>(0x40 | this_hlen / 4);
      __builtin_memcpy(reinterpret_cast<uint8_t*>(fh) + this_hlen, payload + off, chunk);
      fh->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(this_hlen + chunk));
      const uint16_t flags = (last && !more_after) ? 0 : RTE_IPV4_HDR_MF_FLAG;
      fh->fragment_offset =
          rte_cpu_to_be_16(static_cast<uint16_t>(flags | (base_offset + off) / 8));
      fh->time_to_live = (pm.flags & kMetaLocalOrigin) ? ip->time_to_live
                                                       : static_cast<uint8_t>(ip->time_to_live - 1);
      fh->hdr_checksum = 0;
      fh->hdr_checksum = csum(fh, this_hlen);
      meta(f) = pm;
      out[made++] = f;
      off += chunk;
    }
    if (failed) {
      rte_pktmbuf_free_bulk(out, made);
      rte_node_enqueue_x1(graph, node, made == 64 ? kTooManyFragments : kNoMbuf, m);
      continue;
    }
    for (unsigned i = 0; i < made; ++i) rte_node_enqueue_x1(graph, node, kRewrite, out[i]);
    w.counters.add(w.counters.fragments_made, made);
    if (!(pm.flags & kMetaLocalOrigin)) w.counters.add(w.counters.forwarded, 1);
    rte_node_enqueue_x1(graph, node, kDone, m);
  }
  return n;
}

}  // namespace

NodeDef ip4_fragment_node() {
  return {"ip4-fragment",
          ip4_fragment,
          {"ip4-rewrite", "drop-ip4-fragment-no-mbuf", "drop-ip4-fragment-failed",
           "ip4-fragmented-original"}};
}

}  // namespace sluice
