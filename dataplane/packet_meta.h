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
  uint8_t nat_flags;  // kNat* below: what nat-pre did, for nat-post and icmp-error
  union {
    uint32_t nat_session;  // the worker's NAT session (when kNatMatched)
    // Inside a bridge (bridge-input to port-tx, never together with NAT, which starts at
    // ip4-input): the frame's 802.1Q TCI on a VLAN-aware bridge (PCP and VID; the frame itself
    // travels untagged between the nodes).
    uint32_t bridge_tci;
  };
};
static_assert(sizeof(PacketMeta) == 24, "PacketMeta is part of the mempool layout");
static_assert(sizeof(PacketMeta) % RTE_MBUF_PRIV_ALIGN == 0);

// PacketMeta::flags
inline constexpr uint8_t kMetaRawFrame = 1;     // a complete frame for port-tx (inject node)
inline constexpr uint8_t kMetaLocalOrigin = 2;  // the router made it: no TTL decrement

// PacketMeta::nat_flags
inline constexpr uint8_t kNatMatched = 1;        // nat-pre found (or made) a session
inline constexpr uint8_t kNatOrig = 2;           // ... and the packet is in its orig direction
inline constexpr uint8_t kNatSourcePending = 4;  // nat-post rewrites the source
inline constexpr uint8_t kNatDestRewritten = 8;  // nat-pre rewrote the destination
inline constexpr uint8_t kNatFragment = 16;      // ip4-forward wants it fragmented (nat-post)
inline constexpr uint8_t kNatHandedOver = 32;    // came from another worker: its session is here

// The mempool must be created with this private size (Dataplane does).
inline constexpr uint16_t kPacketMetaSize = sizeof(PacketMeta);

inline PacketMeta& meta(rte_mbuf* m) {
  return *static_cast<PacketMeta*>(rte_mbuf_to_priv(m));
}

}  // namespace sluice
