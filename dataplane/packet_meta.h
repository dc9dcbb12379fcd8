// packet_meta.h — what travels with a packet through the graph, in the mbuf's private area:
// the lookup result is computed once (ip4-lookup) and read by every later node.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

namespace sluice {

struct PacketMeta {
  uint64_t next_hop_word;  // NextHopWord of the route (or of the reply's route)
  uint32_t next_hop_id;    // the id the route table returned (kNoRoute if none)
  uint16_t rx_port;        // sluice port index the packet came in on
  uint8_t icmp_type;       // set by the nodes that hand a packet to icmp-error
  uint8_t icmp_code;
  uint16_t icmp_mtu;  // next-hop MTU for "fragmentation needed"
  uint8_t flags;
  uint8_t reserved[5];
};
static_assert(sizeof(PacketMeta) == 24, "PacketMeta is part of the mempool layout");
static_assert(sizeof(PacketMeta) % RTE_MBUF_PRIV_ALIGN == 0);

// PacketMeta::flags
inline constexpr uint8_t kMetaRawFrame = 1;     // a complete frame for port-tx (inject node)
inline constexpr uint8_t kMetaLocalOrigin = 2;  // the router made it: no TTL decrement

// The mempool must be created with this private size (Dataplane does).
inline constexpr uint16_t kPacketMetaSize = sizeof(PacketMeta);

inline PacketMeta& meta(rte_mbuf* m) {
  return *static_cast<PacketMeta*>(rte_mbuf_to_priv(m));
}

}  // namespace sluice
