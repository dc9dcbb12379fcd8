// local_output.h — routing of packets the router itself originates (echo replies, ICMP
// errors): one lookup of the destination, and the packet continues at ip4-rewrite.
#pragma once

#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {

// Fills the metadata for sending to `dst_be`; false if no forwarding route leads there.
inline bool route_locally_originated(const WorkerContext& w, rte_mbuf* m, uint32_t dst_be) {
  const lpm::NextHop id = w.fs->routes().lookup(Ipv4Addr::from_be(dst_be));
  if (id == lpm::kNoRoute) return false;
  const NextHopWord nh = w.fs->next_hop(id);
  if (nh.kind() != NextHopKind::kForward) return false;
  PacketMeta& pm = meta(m);
  pm.next_hop_id = id;
  pm.next_hop_word = nh.raw();
  return true;
}

}  // namespace sluice
