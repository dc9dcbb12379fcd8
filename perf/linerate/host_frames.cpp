// host_frames.cpp — ARP and ICMP echo frames.
#include "perf/linerate/host_frames.h"

#include <algorithm>
#include <cstring>

namespace sluice::linerate {
namespace {

constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr size_t kArpBody = 28;
constexpr uint8_t kProtoIcmp = 1;

void put16(uint8_t* p, uint16_t v) {
  FrameTemplate::put16(p, v);
}
void put32(uint8_t* p, uint32_t v) {
  FrameTemplate::put32(p, v);
}

constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

}  // namespace

uint16_t internet_checksum(const uint8_t* p, size_t len) {
  uint64_t sum = 0;
  for (; len >= 2; p += 2, len -= 2) sum += load16(p);
  if (len) sum += uint32_t{p[0]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

size_t build_arp(uint8_t* buf, const L2Params& l2, uint16_t op, const Mac& sender_mac,
                 Ipv4Addr sender_ip, const Mac& target_mac, Ipv4Addr target_ip) {
  std::memset(buf, 0, kArpFrame);
  std::memcpy(buf, l2.dst.data(), 6);
  std::memcpy(buf + 6, l2.src.data(), 6);
  size_t off = 12;
  if (l2.vlan >= 0) {
    put16(buf + off, 0x8100);
    put16(buf + off + 2, static_cast<uint16_t>(l2.vlan));
    off += kVlanTag;
  }
  put16(buf + off, kEtherArp);
  uint8_t* a = buf + off + 2;
  put16(a, 1);           // hardware: Ethernet
  put16(a + 2, 0x0800);  // protocol: IPv4
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, op);
  std::memcpy(a + 8, sender_mac.data(), 6);
  put32(a + 14, sender_ip.host());
  std::memcpy(a + 18, target_mac.data(), 6);
  put32(a + 24, target_ip.host());
  return kArpFrame;
}

size_t build_arp_request(uint8_t* buf, int vlan, const Mac& mac, Ipv4Addr ip, Ipv4Addr target) {
  return build_arp(buf, {kBroadcast, mac, vlan}, 1, mac, ip, Mac{}, target);
}

size_t build_gratuitous_arp(uint8_t* buf, int vlan, const Mac& mac, Ipv4Addr ip) {
  return build_arp(buf, {kBroadcast, mac, vlan}, 1, mac, ip, Mac{}, ip);
}

bool parse_arp(const uint8_t* frame, size_t len, ArpInfo* out) {
  L2Info l2;
  if (!parse_l2(frame, len, &l2) || l2.ethertype != kEtherArp) return false;
  if (len < size_t{l2.l3} + kArpBody) return false;
  const uint8_t* a = frame + l2.l3;
  if (load16(a) != 1 || load16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4) return false;
  out->op = load16(a + 6);
  std::memcpy(out->sender_mac.data(), a + 8, 6);
  out->sender_ip = Ipv4Addr::from_host(load32(a + 14));
  std::memcpy(out->target_mac.data(), a + 18, 6);
  out->target_ip = Ipv4Addr::from_host(load32(a + 24));
  out->offset = l2.l3;
  return true;
}

void arp_request_to_reply(uint8_t* frame, const ArpInfo& arp, const Mac& mac) {
  std::memcpy(frame, arp.sender_mac.data(), 6);
  std::memcpy(frame + 6, mac.data(), 6);
  uint8_t* a = frame + arp.offset;
  put16(a + 6, 2);
  std::memcpy(a + 8, mac.data(), 6);
  put32(a + 14, arp.target_ip.host());
  std::memcpy(a + 18, arp.sender_mac.data(), 6);
  put32(a + 24, arp.sender_ip.host());
}

size_t ipv4_destination(const uint8_t* frame, size_t len, Ipv4Addr* dst) {
  L2Info l2;
  if (!parse_l2(frame, len, &l2) || l2.ethertype != kEtherIpv4) return 0;
  if (len < size_t{l2.l3} + kIpv4Header || (frame[l2.l3] >> 4) != 4) return 0;
  *dst = Ipv4Addr::from_host(load32(frame + l2.l3 + 16));
  return l2.l3;
}

bool icmp_echo_to_reply_at(uint8_t* frame, size_t len, size_t l3) {
  uint8_t* ip = frame + l3;
  const size_t ihl = size_t{ip[0] & 0x0fu} * 4;
  const size_t total = load16(ip + 2);
  if (ihl < kIpv4Header || total < ihl + 8 || l3 + total > len) return false;
  if (ip[9] != kProtoIcmp || (load16(ip + 6) & 0x3fff) != 0) return false;
  uint8_t* icmp = ip + ihl;
  if (icmp[0] != 8 || icmp[1] != 0) return false;  // echo request
  uint8_t mac[6];
  std::memcpy(mac, frame, 6);
  std::memcpy(frame, frame + 6, 6);
  std::memcpy(frame + 6, mac, 6);
  uint8_t a[4];
  std::memcpy(a, ip + 12, 4);
  std::memcpy(ip + 12, ip + 16, 4);
  std::memcpy(ip + 16, a, 4);
  ip[8] = kTtl;
  put16(ip + 10, 0);
  put16(ip + 10, internet_checksum(ip, ihl));
  icmp[0] = 0;  // echo reply; identifier, sequence and data stay
  put16(icmp + 2, 0);
  put16(icmp + 2, internet_checksum(icmp, total - ihl));
  return true;
}

}  // namespace sluice::linerate
