// flow_hash.h — the per-flow hash that spreads flows over the members of a multipath route.
//
// What goes in: source and destination address, protocol, and for TCP, UDP and SCTP the two
// ports, as Linux's fib_multipath_hash_policy=1 (L4) does; sluice always hashes L4 because a
// router's few address pairs (NAT, tunnels) would otherwise all land on one path. Fragments
// (MF set or a non-zero offset) are hashed without ports, first fragments included: only the
// first fragment carries the ports, and the fragments of one datagram must not be split over
// paths (reordering, or reassembly failing behind a stateful device). The price: a fragmented
// datagram may take another path than the unfragmented packets of the same flow.
// The seed keeps outsiders from aiming many flows at one path (Linux seeds per netns too).
#pragma once

#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_ip.h>

#include <cstdint>

namespace sluice {

// murmur3's 64-bit finaliser: every input bit affects every output bit, a few cycles.
inline uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// `ports` as they sit in the L4 header (source then destination, network order), 0 if none.
inline uint32_t flow_hash(uint32_t src_be, uint32_t dst_be, uint8_t proto, uint32_t ports,
                          uint64_t seed) {
  const uint64_t addrs = uint64_t{src_be} << 32 | dst_be;
  // The multiply is a bijection of the addresses, the xor adds ports and protocol below it;
  // the finaliser then spreads the lot over the top 32 bits the group pick uses.
  return static_cast<uint32_t>(
      mix64((addrs ^ seed) * 0x9e3779b97f4a7c15ULL ^ (uint64_t{ports} << 8 | proto)) >> 32);
}

// The hash of a validated IPv4 packet (ip4-input checked that total_length fits the segment).
inline uint32_t flow_hash(const rte_ipv4_hdr* ip, uint64_t seed) {
  const uint8_t proto = ip->next_proto_id;
  uint32_t ports = 0;
  if ((ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) == 0 &&
      (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP)) {
    const unsigned hlen = (ip->version_ihl & 0xf) * 4u;
    if (rte_be_to_cpu_16(ip->total_length) >= hlen + 4)
      __builtin_memcpy(&ports, reinterpret_cast<const uint8_t*>(ip) + hlen, 4);
  }
  return flow_hash(ip->src_addr, ip->dst_addr, proto, ports, seed);
}

}  // namespace sluice
