// ip4_input.cpp — the ip4-input node: RFC 1812 5.2.2 / 5.3.7 validation of every IPv4 packet
// before anything else reads it. Trailing link-layer padding is trimmed here.
#include <rte_ip.h>

#include "dataplane/checksum.h"
#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t {
  kLookup,
  kTruncated,
  kBadVersion,
  kBadIhl,
  kBadChecksum,
  kBadLength,
  kMartianSource,
  kMartianDestination,
  kLimitedBroadcast,
  kMulticast,
};

rte_edge_t classify(rte_mbuf* m) {
  if (m->data_len < sizeof(rte_ipv4_hdr)) return kTruncated;
  const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
  if ((ip->version_ihl >> 4) != 4) return kBadVersion;
  const unsigned hlen = (ip->version_ihl & 0xf) * 4u;
  if (hlen < sizeof(rte_ipv4_hdr)) return kBadIhl;
  if (hlen > m->data_len) return kTruncated;
  if (hlen == sizeof(rte_ipv4_hdr) ? !ip4_header_valid_20(ip) : csum_fold_sum(ip, hlen) != 0xffff)
    return kBadChecksum;
  const unsigned total = rte_be_to_cpu_16(ip->total_length);
  if (total < hlen || total > m->data_len) return kBadLength;
  if (total < m->data_len) rte_pktmbuf_trim(m, m->data_len - total);
  const uint32_t src = rte_be_to_cpu_32(ip->src_addr);
  const uint32_t dst = rte_be_to_cpu_32(ip->dst_addr);
  // Martians as Linux defines them (ip_route_input_slow): zero net, loopback, multicast and
  // limited broadcast are never valid sources; zero net and loopback never valid destinations.
  if ((src >> 24) == 0 || (src >> 24) == 127 || (src >> 28) == 0xe || src == 0xffffffffu)
    return kMartianSource;
  if ((dst >> 24) == 0 || (dst >> 24) == 127) return kMartianDestination;
  if (dst == 0xffffffffu) return kLimitedBroadcast;
  if ((dst >> 28) == 0xe) return kMulticast;
  return kLookup;
}

uint16_t ip4_input(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  dispatch(graph, node, objs, n, classify);
  return n;
}

}  // namespace

NodeDef ip4_input_node() {
  return {"ip4-input",
          ip4_input,
          {"nat-pre", "drop-ip4-truncated", "drop-ip4-bad-version", "drop-ip4-bad-ihl",
           "drop-ip4-bad-checksum", "drop-ip4-bad-length", "drop-ip4-martian-source",
           "drop-ip4-martian-destination", "drop-ip4-limited-broadcast", "drop-ip4-multicast"}};
}

}  // namespace sluice
