// frame_format.cpp — building the template and parsing received frames.
#include "perf/linerate/frame_format.h"

#include <stdexcept>
#include <string>

namespace sluice::linerate {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint8_t kProtoUdp = 17;

uint64_t get64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

}  // namespace

FrameTemplate::FrameTemplate(const L2Params& l2, uint16_t frame_size, uint32_t run_id,
                             uint32_t trial)
    : size_(frame_size) {
  if (frame_size < kMinFrame || frame_size > kMaxFrame)
    throw std::invalid_argument("frame size " + std::to_string(frame_size) + ": use " +
                                std::to_string(kMinFrame) + "-" + std::to_string(kMaxFrame));
  if (l2.vlan > 4095) throw std::invalid_argument("VLAN id " + std::to_string(l2.vlan));
  const bool tagged = l2.vlan >= 0;
  form_ = signature_form(frame_size, tagged);
  uint8_t* p = bytes_.data();
  std::memcpy(p, l2.dst.data(), 6);
  std::memcpy(p + 6, l2.src.data(), 6);
  size_t off = 12;
  if (tagged) {
    put16(p + off, kEtherVlan);
    put16(p + off + 2, static_cast<uint16_t>(l2.vlan));  // PCP 0, DEI 0
    off += kVlanTag;
  }
  put16(p + off, kEtherIpv4);
  off += 2;
  l3_ = static_cast<uint16_t>(off);
  const uint16_t ip_len = static_cast<uint16_t>(length() - l3_);
  uint8_t* ip = p + l3_;
  ip[0] = 0x45;  // IPv4, no options
  ip[1] = 0;     // DSCP 0 (best effort), ECN not capable
  put16(ip + 2, ip_len);
  put16(ip + 4, 0);  // identification: unused, as the frame is never fragmented
  put16(ip + 6, 0);  // DF clear: a DUT that must fragment should, not drop (RFC 2544 26.5)
  ip[8] = kTtl;
  ip[9] = kProtoUdp;
  // Checksum and addresses are written per packet; the rest of the header sums to this.
  ip_sum_ = 0;
  for (size_t i = 0; i < 10; i += 2) ip_sum_ += load16(ip + i);
  uint8_t* udp = ip + kIpv4Header;
  put16(udp + 4, static_cast<uint16_t>(ip_len - kIpv4Header));
  put16(udp + 6, 0);  // no UDP checksum (allowed in IPv4): a NAT keeps 0 as 0
  sig_ = static_cast<uint16_t>(l3_ + kIpv4Header + kUdpHeader);
  uint8_t* s = p + sig_;
  if (form_ == SignatureForm::kFull) {
    std::memcpy(s, "SLTS", 4);
    put32(s + 4, run_id);
    put32(s + 8, trial);
    prefix_ = static_cast<uint16_t>(sig_ + kFullSignature);
  } else {
    std::memcpy(s, "sl", 2);
    put16(s + 2, static_cast<uint16_t>(run_id));
    s[4] = static_cast<uint8_t>(trial);
    prefix_ = static_cast<uint16_t>(sig_ + kCompactSignature);
  }
}

size_t build_frame(uint8_t* buf, const L2Params& l2, uint16_t frame_size, uint32_t run_id,
                   uint32_t trial, const Flow& flow, uint32_t flow_index, uint64_t flow_seq,
                   uint64_t packet_index, uint64_t tsc) {
  const FrameTemplate t(l2, frame_size, run_id, trial);
  t.write(buf, flow, flow_index, flow_seq, packet_index, tsc);
  return t.length();
}

bool parse_l2(const uint8_t* frame, size_t len, L2Info* out) {
  if (len < kEthHeader) return false;
  size_t off = 12;
  uint16_t type = load16(frame + off);
  for (int tags = 0; (type == kEtherVlan || type == kEtherQinQ) && tags < 2; ++tags) {
    off += kVlanTag;
    if (len < off + 2) return false;
    type = load16(frame + off);
  }
  out->ethertype = type;
  out->l3 = static_cast<uint16_t>(off + 2);
  return true;
}

ParseResult parse_frame(const uint8_t* frame, size_t len, const ParseContext& ctx, Stamp* out) {
  L2Info l2;
  if (!parse_l2(frame, len, &l2) || l2.ethertype != kEtherIpv4) return ParseResult::kNotOurs;
  const uint8_t* ip = frame + l2.l3;
  const size_t avail = len - l2.l3;
  if (avail < kIpv4Header || (ip[0] >> 4) != 4) return ParseResult::kNotOurs;
  const size_t ihl = size_t{ip[0] & 0x0fu} * 4;
  const size_t total = load16(ip + 2);
  // The IP length, not the frame's, bounds the datagram: a short frame is padded by the sender.
  if (ihl < kIpv4Header || total < ihl || total > avail) return ParseResult::kNotOurs;
  if ((load16(ip + 6) & 0x3fff) != 0) return ParseResult::kNotOurs;  // MF or an offset: fragment
  if (ip[9] != kProtoUdp || total < ihl + kUdpHeader) return ParseResult::kNotOurs;
  const uint8_t* s = ip + ihl + kUdpHeader;
  const size_t payload = total - ihl - kUdpHeader;
  if (payload >= kFullSignature && std::memcmp(s, "SLTS", 4) == 0) {
    if (load32(s + 4) != ctx.run_id) return ParseResult::kForeignRun;
    out->trial = load32(s + 8);
    out->flow = load32(s + 12);
    out->seq = get64(s + 16);
    out->tx_tsc = get64(s + 24);
    out->form = SignatureForm::kFull;
    return ParseResult::kOurs;
  }
  if (payload >= kCompactSignature && s[0] == 's' && s[1] == 'l') {
    if (load16(s + 2) != static_cast<uint16_t>(ctx.run_id)) return ParseResult::kForeignRun;
    // The latest trial id, not after the current one, with these low 8 bits.
    out->trial = ctx.trial - static_cast<uint8_t>(static_cast<uint8_t>(ctx.trial) - s[4]);
    const uint64_t k = uint64_t{s[5]} << 32 | load32(s + 6);
    const uint32_t flows = ctx.flows == 0 ? 1 : ctx.flows;
    out->flow = static_cast<uint32_t>(k % flows);
    out->seq = k / flows;
    // The latest TSC, not after the receive time, whose bits 4-35 are these.
    const uint32_t ts = load32(s + 10);
    const uint32_t back = static_cast<uint32_t>(ctx.rx_tsc >> 4) - ts;
    out->tx_tsc = ((ctx.rx_tsc >> 4) - back) << 4;
    out->form = SignatureForm::kCompact;
    return ParseResult::kOurs;
  }
  return ParseResult::kNotOurs;
}

}  // namespace sluice::linerate
