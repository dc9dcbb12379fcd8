// local_output.h — routing of packets the router itself originates (echo replies, ICMP
// errors): one lookup of the destination, and the packet continues at ip4-rewrite.
#pragma once

#include <netinet/in.h>

#include "dataplane/flow_hash.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {

// Fills the metadata for sending to `dst_be`; false if no forwarding route leads there.
inline bool route_locally_originated(const WorkerContext& w, rte_mbuf* m, uint32_t dst_be) {
  const lpm::NextHop id = w.fs->routes().lookup(Ipv4Addr::from_be(dst_be));
  if (id == lpm::kNoRoute) return false;
  NextHopWord nh = w.fs->next_hop(id);
  uint32_t nh_id = id;
  if (nh.kind() == NextHopKind::kMultipath) {
    // What the router sends (echo replies, ICMP errors) is ICMP to `dst`: one path per peer.
    const auto [member_id, member] =
        w.fs->multipath_member(nh, flow_hash(0, dst_be, IPPROTO_ICMP, 0, w.fs->multipath_seed()));
    nh_id = member_id;
    nh = member;
  }
  if (nh.kind() != NextHopKind::kForward) return false;
  PacketMeta& pm = meta(m);
  pm.next_hop_id = nh_id;
  pm.next_hop_word = nh.raw();
  return true;
}

}  // namespace sluice
