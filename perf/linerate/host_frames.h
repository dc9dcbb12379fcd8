// host_frames.h — the few host duties of the tester, as frame operations: ARP requests (to
// resolve the DUT), gratuitous ARP (so that a bridge DUT learns the tester's MACs), answering
// ARP requests and ICMP echo requests for the tester's addresses in place (the received buffer
// becomes the reply: nothing to allocate in the receive loop). DPDK-free.
#pragma once

#include <cstddef>
#include <cstdint>

#include "lpm/ipv4.h"
#include "perf/linerate/frame_format.h"

namespace sluice::linerate {

inline constexpr size_t kArpFrame = 60;  // the minimum frame without FCS; ARP needs 42 (46)

struct ArpInfo {
  uint16_t op = 0;  // 1 request, 2 reply
  Mac sender_mac{};
  Ipv4Addr sender_ip;
  Mac target_mac{};
  Ipv4Addr target_ip;
  uint16_t offset = 0;  // of the ARP header in the frame
};

// An Ethernet/ARP frame (IPv4 over Ethernet), zero-padded to kArpFrame bytes, tagged when
// l2.vlan >= 0; buf must hold kArpFrame bytes. Returns kArpFrame.
size_t build_arp(uint8_t* buf, const L2Params& l2, uint16_t op, const Mac& sender_mac,
                 Ipv4Addr sender_ip, const Mac& target_mac, Ipv4Addr target_ip);
// who-has target_ip tell sender_ip, broadcast.
size_t build_arp_request(uint8_t* buf, int vlan, const Mac& mac, Ipv4Addr ip, Ipv4Addr target);
// A gratuitous ARP (RFC 5227 section 3's ARP announcement: a broadcast request whose sender and
// target are both `ip`); `ip` may be 0.0.0.0 when the port has no address, the frame then only
// teaches switches and bridges the source MAC, which is what --learning is for.
size_t build_gratuitous_arp(uint8_t* buf, int vlan, const Mac& mac, Ipv4Addr ip);

// An IPv4-over-Ethernet ARP frame: fills *out. False for anything else.
bool parse_arp(const uint8_t* frame, size_t len, ArpInfo* out);

// Turns a received ARP request (already parsed into `arp`) into the reply from `mac` in place;
// the frame keeps its tags and its length.
void arp_request_to_reply(uint8_t* frame, const ArpInfo& arp, const Mac& mac);

// If the frame is an ICMP echo request to an address `mine(addr)` accepts, turns it into the
// echo reply in place (MACs, addresses swapped, TTL 64, type 0, checksums) and returns true.
template <typename Mine>
bool icmp_echo_to_reply(uint8_t* frame, size_t len, Mine&& mine);

// The non-template part of it: ip is the IPv4 header (validated by the caller).
bool icmp_echo_to_reply_at(uint8_t* frame, size_t len, size_t l3);

// Offset of an IPv4 header whose destination is returned in *dst (0 when not IPv4 or short).
size_t ipv4_destination(const uint8_t* frame, size_t len, Ipv4Addr* dst);

template <typename Mine>
bool icmp_echo_to_reply(uint8_t* frame, size_t len, Mine&& mine) {
  Ipv4Addr dst;
  const size_t l3 = ipv4_destination(frame, len, &dst);
  if (l3 == 0 || !mine(dst)) return false;
  return icmp_echo_to_reply_at(frame, len, l3);
}

// The Internet checksum (RFC 1071) of len bytes, folded and complemented.
uint16_t internet_checksum(const uint8_t* p, size_t len);

}  // namespace sluice::linerate
