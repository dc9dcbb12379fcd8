// frame.h — byte-level frames for the packet tests: a builder that writes Ethernet, ARP, IPv4,
// UDP, TCP and ICMP field by field, with every length and checksum computed by default, and
// fixers that break exactly one thing (a checksum, a length, the IHL, ...) so that a test can
// aim at one validation rule. The checksum code here is written independently of
// dataplane/checksum.h (big-endian word sums, not memory-order sums), so a test compares the
// router's arithmetic with a second implementation rather than with itself.
//
// A Frame is a description, rendered by bytes(): copying one and changing a field is how a
// test writes "the same packet, one hop later", e.g. Frame(in).eth(r1, h1).ttl(63).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/mac_addr.h"

namespace sluice::pkt {

using Bytes = std::vector<uint8_t>;

// The Internet checksum of `data` (RFC 1071): the ones-complement of the ones-complement sum
// of big-endian 16-bit words, an odd last byte padded with zero. `seed` is added first (a
// pseudo-header sum). Returned in host order; store it big-endian.
uint16_t internet_checksum(const uint8_t* data, size_t len, uint32_t seed = 0);
inline uint16_t internet_checksum(const Bytes& b) {
  return internet_checksum(b.data(), b.size());
}
// Whether a header or message with its checksum field in place verifies.
bool checksum_ok(const uint8_t* data, size_t len, uint32_t seed = 0);

uint32_t parse_ip(std::string_view dotted);  // host order; aborts the test on bad input
std::string hex_dump(const Bytes& b);

// RFC 1812 4.3.2.3: an ICMP error carries as much of the original as fits in 576 bytes.
inline constexpr size_t kIcmpErrorMax = 576;
inline constexpr size_t kIcmpQuoteMax = kIcmpErrorMax - 20 - 8;

class Frame {
 public:
  enum class L4 : uint8_t { kNone, kUdp, kTcp, kIcmp };

  // ---- link layer ----
  // EtherType defaults to what follows (IPv4 0x0800, ARP 0x0806).
  Frame& eth(MacAddr src, MacAddr dst, std::optional<uint16_t> type = std::nullopt);
  Frame& vlan(uint16_t tci, uint16_t tpid = 0x8100);  // one 802.1Q (or QinQ) tag
  Frame& no_eth();                                    // a bare IP packet (for quoting)

  // ---- ARP (Ethernet/IPv4) ----
  Frame& arp(uint16_t op, MacAddr sha, std::string_view spa, MacAddr tha, std::string_view tpa);
  Frame& arp_request(MacAddr sha, std::string_view spa, std::string_view tpa) {
    return arp(1, sha, spa, MacAddr(), tpa);
  }
  Frame& arp_reply(MacAddr sha, std::string_view spa, MacAddr tha, std::string_view tpa) {
    return arp(2, sha, spa, tha, tpa);
  }

  // ---- IPv4 ---- (defaults: TOS 0, ID 0, no flags, TTL 64, no options)
  Frame& ip4(std::string_view src, std::string_view dst);
  Frame& src(std::string_view a);
  Frame& dst(std::string_view a);
  Frame& ttl(uint8_t v);
  Frame& tos(uint8_t v);
  Frame& id(uint16_t v);
  Frame& df(bool on = true);
  Frame& mf(bool on = true);
  Frame& offset(unsigned bytes);  // fragment offset in bytes (a multiple of 8)
  Frame& protocol(uint8_t p);     // overrides the one the L4 builder implies
  Frame& options(Bytes opts);     // padded with zeros (end of options) to a multiple of 4

  // ---- transport ----
  Frame& udp(uint16_t sport, uint16_t dport);
  Frame& tcp(uint16_t sport, uint16_t dport, uint32_t seq = 1, uint32_t ack = 0,
             uint8_t flags = 0x02, uint16_t window = 64240);
  Frame& icmp(uint8_t type, uint8_t code, uint32_t rest = 0);  // generic; body = payload()
  Frame& icmp_echo(uint16_t ident, uint16_t seq) { return icmp(8, 0, uint32_t{ident} << 16 | seq); }
  Frame& icmp_echo_reply(uint16_t ident, uint16_t seq) {
    return icmp(0, 0, uint32_t{ident} << 16 | seq);
  }
  // The error a router sends about `quoted` (an IP packet, as received): bytes 4-7 are zero
  // except the next-hop MTU of "fragmentation needed" (RFC 1191); the quote is cut so the
  // whole error fits in 576 bytes.
  Frame& icmp_error(uint8_t type, uint8_t code, const Bytes& quoted, uint16_t mtu = 0);
  Frame& payload(size_t n);  // n bytes of a fixed pattern
  Frame& payload(Bytes b);

  // ---- fixers: break one thing, everything else stays consistent ----
  Frame& bad_ip_checksum();
  Frame& ip_checksum(uint16_t v);
  Frame& fresh_ip_checksum();  // undoes bad_ip_checksum() / ip_checksum()
  Frame& bad_l4_checksum();
  Frame& total_length(uint16_t v);
  Frame& ihl(uint8_t v);  // the header checksum still covers IHL*4 bytes, so it verifies
  Frame& version(uint8_t v);
  Frame& pad_to(size_t frame_len);  // Ethernet padding (zeros) up to this length
  Frame& truncate(size_t frame_len);
  Frame& poke(size_t frame_offset, uint8_t v);  // set one byte of the finished frame

  // ---- results ----
  Bytes bytes() const;
  Bytes ip_packet() const;   // what follows the link-layer header, padding included
  Bytes l4_payload() const;  // the IP payload (transport header included)
  size_t link_header_len() const;
  uint8_t get_ttl() const { return ttl_; }

 private:
  Bytes render_ip() const;
  Bytes render_l4(uint32_t src, uint32_t dst) const;

  bool has_eth_ = false;
  MacAddr eth_src_, eth_dst_;
  std::optional<uint16_t> eth_type_;
  std::vector<std::pair<uint16_t, uint16_t>> vlans_;  // (tpid, tci)

  bool has_arp_ = false;
  uint16_t arp_op_ = 0;
  MacAddr arp_sha_, arp_tha_;
  uint32_t arp_spa_ = 0, arp_tpa_ = 0;

  bool has_ip_ = false;
  uint32_t src_ = 0, dst_ = 0;
  uint8_t ttl_ = 64, tos_ = 0;
  uint16_t id_ = 0;
  bool df_ = false, mf_ = false;
  unsigned offset_ = 0;
  std::optional<uint8_t> protocol_;
  Bytes options_;

  L4 l4_ = L4::kNone;
  uint16_t sport_ = 0, dport_ = 0;
  uint32_t seq_ = 0, ack_ = 0;
  uint8_t tcp_flags_ = 0;
  uint16_t window_ = 0;
  uint8_t icmp_type_ = 0, icmp_code_ = 0;
  uint32_t icmp_rest_ = 0;
  Bytes payload_;

  bool bad_ip_csum_ = false, bad_l4_csum_ = false;
  std::optional<uint16_t> ip_csum_, total_length_;
  std::optional<uint8_t> ihl_, version_;
  std::optional<size_t> pad_to_, truncate_;
  std::vector<std::pair<size_t, uint8_t>> pokes_;
};

}  // namespace sluice::pkt
