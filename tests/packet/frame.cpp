// frame.cpp — rendering of test frames, and the tests' own checksum arithmetic.
#include "tests/packet/frame.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace sluice::pkt {
namespace {

void put16(Bytes& b, size_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}

void push16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

void push32(Bytes& b, uint32_t v) {
  push16(b, static_cast<uint16_t>(v >> 16));
  push16(b, static_cast<uint16_t>(v));
}

void push_mac(Bytes& b, const MacAddr& m) {
  b.insert(b.end(), m.data(), m.data() + 6);
}

// The sum of the TCP/UDP pseudo-header (RFC 768, RFC 793), as big-endian words.
uint32_t pseudo_header_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto +
         static_cast<uint32_t>(len);
}

}  // namespace

uint16_t internet_checksum(const uint8_t* data, size_t len, uint32_t seed) {
  uint64_t sum = seed;
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += uint32_t{data[i]} << 8 | data[i + 1];
  if (i < len) sum += uint32_t{data[i]} << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

bool checksum_ok(const uint8_t* data, size_t len, uint32_t seed) {
  // A correct checksum makes the whole sum -0 (0xffff), whose complement is 0.
  return internet_checksum(data, len, seed) == 0;
}

uint32_t parse_ip(std::string_view dotted) {
  unsigned a, b, c, d;
  char tail;
  const std::string s(dotted);
  if (std::sscanf(s.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
      c > 255 || d > 255) {
    std::fprintf(stderr, "frame.cpp: bad IPv4 address '%s' in a test\n", s.c_str());
    std::abort();
  }
  return a << 24 | b << 16 | c << 8 | d;
}

std::string hex_dump(const Bytes& b) {
  std::ostringstream s;
  char buf[32];
  for (size_t i = 0; i < b.size(); ++i) {
    if (i % 16 == 0) {
      std::snprintf(buf, sizeof buf, "%s%04zx ", i ? "\n" : "", i);
      s << buf;
    }
    std::snprintf(buf, sizeof buf, " %02x", b[i]);
    s << buf;
  }
  return s.str();
}

Frame& Frame::eth(MacAddr src, MacAddr dst, std::optional<uint16_t> type) {
  has_eth_ = true;
  eth_src_ = src;
  eth_dst_ = dst;
  eth_type_ = type;
  return *this;
}

Frame& Frame::vlan(uint16_t tci, uint16_t tpid) {
  vlans_.emplace_back(tpid, tci);
  return *this;
}

Frame& Frame::no_eth() {
  has_eth_ = false;
  vlans_.clear();
  return *this;
}

Frame& Frame::arp(uint16_t op, MacAddr sha, std::string_view spa, MacAddr tha,
                  std::string_view tpa) {
  has_arp_ = true;
  has_ip_ = false;
  arp_op_ = op;
  arp_sha_ = sha;
  arp_spa_ = parse_ip(spa);
  arp_tha_ = tha;
  arp_tpa_ = parse_ip(tpa);
  return *this;
}

Frame& Frame::ip4(std::string_view src, std::string_view dst) {
  has_ip_ = true;
  has_arp_ = false;
  src_ = parse_ip(src);
  dst_ = parse_ip(dst);
  return *this;
}

Frame& Frame::src(std::string_view a) {
  src_ = parse_ip(a);
  return *this;
}
Frame& Frame::dst(std::string_view a) {
  dst_ = parse_ip(a);
  return *this;
}
Frame& Frame::ttl(uint8_t v) {
  ttl_ = v;
  return *this;
}
Frame& Frame::tos(uint8_t v) {
  tos_ = v;
  return *this;
}
Frame& Frame::id(uint16_t v) {
  id_ = v;
  return *this;
}
Frame& Frame::df(bool on) {
  df_ = on;
  return *this;
}
Frame& Frame::mf(bool on) {
  mf_ = on;
  return *this;
}
Frame& Frame::offset(unsigned bytes) {
  if (bytes % 8 != 0 || bytes / 8 > 0x1fff) {
    std::fprintf(stderr, "frame.cpp: fragment offset %u is not a multiple of 8\n", bytes);
    std::abort();
  }
  offset_ = bytes;
  return *this;
}
Frame& Frame::protocol(uint8_t p) {
  protocol_ = p;
  return *this;
}
Frame& Frame::options(Bytes opts) {
  while (opts.size() % 4) opts.push_back(0);
  options_ = std::move(opts);
  return *this;
}

Frame& Frame::udp(uint16_t sport, uint16_t dport) {
  l4_ = L4::kUdp;
  sport_ = sport;
  dport_ = dport;
  return *this;
}

Frame& Frame::tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                  uint16_t window) {
  l4_ = L4::kTcp;
  sport_ = sport;
  dport_ = dport;
  seq_ = seq;
  ack_ = ack;
  tcp_flags_ = flags;
  window_ = window;
  return *this;
}

Frame& Frame::icmp(uint8_t type, uint8_t code, uint32_t rest) {
  l4_ = L4::kIcmp;
  icmp_type_ = type;
  icmp_code_ = code;
  icmp_rest_ = rest;
  return *this;
}

Frame& Frame::icmp_error(uint8_t type, uint8_t code, const Bytes& quoted, uint16_t mtu) {
  icmp(type, code, mtu);
  payload_.assign(quoted.begin(),
                  quoted.begin() + static_cast<ptrdiff_t>(std::min(quoted.size(), kIcmpQuoteMax)));
  return *this;
}

Frame& Frame::payload(size_t n) {
  payload_.resize(n);
  for (size_t i = 0; i < n; ++i) payload_[i] = static_cast<uint8_t>(i * 31 + 7);
  return *this;
}

Frame& Frame::payload(Bytes b) {
  payload_ = std::move(b);
  return *this;
}

Frame& Frame::bad_ip_checksum() {
  bad_ip_csum_ = true;
  return *this;
}
Frame& Frame::ip_checksum(uint16_t v) {
  ip_csum_ = v;
  return *this;
}
Frame& Frame::fresh_ip_checksum() {
  bad_ip_csum_ = false;
  ip_csum_.reset();
  return *this;
}
Frame& Frame::bad_l4_checksum() {
  bad_l4_csum_ = true;
  return *this;
}
Frame& Frame::total_length(uint16_t v) {
  total_length_ = v;
  return *this;
}
Frame& Frame::ihl(uint8_t v) {
  ihl_ = v;
  return *this;
}
Frame& Frame::version(uint8_t v) {
  version_ = v;
  return *this;
}
Frame& Frame::pad_to(size_t frame_len) {
  pad_to_ = frame_len;
  return *this;
}
Frame& Frame::truncate(size_t frame_len) {
  truncate_ = frame_len;
  return *this;
}
Frame& Frame::poke(size_t frame_offset, uint8_t v) {
  pokes_.emplace_back(frame_offset, v);
  return *this;
}

Bytes Frame::render_l4(uint32_t src, uint32_t dst) const {
  Bytes b;
  switch (l4_) {
    case L4::kNone: b = payload_; break;
    case L4::kUdp: {
      const size_t len = 8 + payload_.size();
      push16(b, sport_);
      push16(b, dport_);
      push16(b, static_cast<uint16_t>(len));
      push16(b, 0);
      b.insert(b.end(), payload_.begin(), payload_.end());
      uint16_t c = internet_checksum(b.data(), b.size(), pseudo_header_sum(src, dst, 17, len));
      if (c == 0) c = 0xffff;  // RFC 768: zero means "no checksum"
      put16(b, 6, c);
      if (bad_l4_csum_) put16(b, 6, static_cast<uint16_t>(c ^ 0x5a5a));
      break;
    }
    case L4::kTcp: {
      push16(b, sport_);
      push16(b, dport_);
      push32(b, seq_);
      push32(b, ack_);
      b.push_back(5 << 4);  // data offset: 5 words, no options
      b.push_back(tcp_flags_);
      push16(b, window_);
      push16(b, 0);  // checksum
      push16(b, 0);  // urgent pointer
      b.insert(b.end(), payload_.begin(), payload_.end());
      const uint16_t c =
          internet_checksum(b.data(), b.size(), pseudo_header_sum(src, dst, 6, b.size()));
      put16(b, 16, bad_l4_csum_ ? static_cast<uint16_t>(c ^ 0x5a5a) : c);
      break;
    }
    case L4::kIcmp: {
      b.push_back(icmp_type_);
      b.push_back(icmp_code_);
      push16(b, 0);
      push32(b, icmp_rest_);
      b.insert(b.end(), payload_.begin(), payload_.end());
      const uint16_t c = internet_checksum(b);
      put16(b, 2, bad_l4_csum_ ? static_cast<uint16_t>(c ^ 0x5a5a) : c);
      break;
    }
  }
  return b;
}

Bytes Frame::render_ip() const {
  if (has_arp_) {
    Bytes b;
    push16(b, 1);       // hardware: Ethernet
    push16(b, 0x0800);  // protocol: IPv4
    b.push_back(6);
    b.push_back(4);
    push16(b, arp_op_);
    push_mac(b, arp_sha_);
    push32(b, arp_spa_);
    push_mac(b, arp_tha_);
    push32(b, arp_tpa_);
    return b;
  }
  if (!has_ip_) return payload_;
  uint8_t proto = 253;  // RFC 3692 experimentation, for a bare payload
  if (l4_ == L4::kUdp) proto = 17;
  if (l4_ == L4::kTcp) proto = 6;
  if (l4_ == L4::kIcmp) proto = 1;
  if (protocol_) proto = *protocol_;
  const Bytes l4 = render_l4(src_, dst_);
  const size_t hlen = 20 + options_.size();
  Bytes b;
  b.push_back(static_cast<uint8_t>((version_.value_or(4) << 4) | ihl_.value_or(hlen / 4)));
  b.push_back(tos_);
  push16(b, total_length_.value_or(static_cast<uint16_t>(hlen + l4.size())));
  push16(b, id_);
  push16(b, static_cast<uint16_t>((df_ ? 0x4000 : 0) | (mf_ ? 0x2000 : 0) | offset_ / 8));
  b.push_back(ttl_);
  b.push_back(proto);
  push16(b, 0);
  push32(b, src_);
  push32(b, dst_);
  b.insert(b.end(), options_.begin(), options_.end());
  b.insert(b.end(), l4.begin(), l4.end());
  // Over the bytes the header claims to span, so a lying IHL still verifies.
  const size_t covered = std::min(b.size(), std::max<size_t>(20, ihl_.value_or(hlen / 4) * 4u));
  uint16_t c = internet_checksum(b.data(), covered);
  if (bad_ip_csum_) c = static_cast<uint16_t>(c ^ 0x0101);
  put16(b, 10, ip_csum_.value_or(c));
  return b;
}

size_t Frame::link_header_len() const {
  return has_eth_ ? 14 + 4 * vlans_.size() : 0;
}

Bytes Frame::bytes() const {
  Bytes b;
  if (has_eth_) {
    push_mac(b, eth_dst_);
    push_mac(b, eth_src_);
    for (const auto& [tpid, tci] : vlans_) {
      push16(b, tpid);
      push16(b, tci);
    }
    push16(b, eth_type_.value_or(has_arp_ ? 0x0806 : 0x0800));
  }
  const Bytes l3 = render_ip();
  b.insert(b.end(), l3.begin(), l3.end());
  if (pad_to_ && b.size() < *pad_to_) b.resize(*pad_to_, 0);
  for (const auto& [at, v] : pokes_)
    if (at < b.size()) b[at] = v;
  if (truncate_ && b.size() > *truncate_) b.resize(*truncate_);
  return b;
}

Bytes Frame::ip_packet() const {
  const Bytes b = bytes();
  const size_t h = std::min(link_header_len(), b.size());
  return Bytes(b.begin() + static_cast<ptrdiff_t>(h), b.end());
}

Bytes Frame::l4_payload() const {
  const Bytes ip = render_ip();
  const size_t hlen = 20 + options_.size();
  return Bytes(ip.begin() + static_cast<ptrdiff_t>(std::min(hlen, ip.size())), ip.end());
}

}  // namespace sluice::pkt
