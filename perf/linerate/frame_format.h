// frame_format.h — the tester's frames: Ethernet (optional 802.1Q tag) / IPv4 / UDP with a
// signature at the start of the UDP payload, padded to the frame size. Building (a template per
// frame size, patched per packet) and parsing (whatever the DUT did to the L2 and L3 headers:
// MACs, a tag, IP options, NAT-rewritten addresses and ports). DPDK-free.
//
// Two signature forms, all fields big-endian:
//   full (32 bytes), in every frame that has room for it (78 bytes and up, 82 tagged):
//     'S''L''T''S' | run id u32 | trial id u32 | flow u32 | seq u64 | tx timestamp u64 (TSC)
//   compact (14 bytes), in smaller frames: a 64-byte frame holds 60 bytes before the FCS, of
//   which Ethernet, IPv4 and UDP take 42 (46 tagged), leaving 18 (14) bytes of payload, so the
//   full signature cannot fit in the size that matters most to RFC 2544:
//     's''l' | run id, low 16 bits | trial id, low 8 bits | packet index in the trial, 40 bits |
//     tx timestamp, TSC bits 4-35 (16-cycle resolution; wraps after 2^36 cycles, ~23 s at 3 GHz)
//   The packet index k gives the flow and its sequence number because the generator sends flows
//   round robin: flow = k mod flows, seq = k div flows. The receiver rebuilds the trial id and
//   the full timestamp from its own (the current trial, the receive TSC): trial ids 256 apart
//   and frames older than the timestamp's wrap are beyond a trial's drain in any case.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "perf/linerate/flows.h"

namespace sluice::linerate {

// Network-order loads from a frame (the parser here and host_frames.cpp).
inline uint16_t load16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

using Mac = std::array<uint8_t, 6>;

inline constexpr size_t kEthHeader = 14;
inline constexpr size_t kVlanTag = 4;
inline constexpr size_t kIpv4Header = 20;  // what the tester sends: no options
inline constexpr size_t kUdpHeader = 8;
inline constexpr size_t kFullSignature = 32;
inline constexpr size_t kCompactSignature = 14;
inline constexpr uint8_t kTtl = 64;

enum class SignatureForm : uint8_t { kFull, kCompact };

// Bytes of headers before the UDP payload, as the tester builds them.
constexpr size_t headers_size(bool vlan) {
  return kEthHeader + (vlan ? kVlanTag : 0) + kIpv4Header + kUdpHeader;
}
// The signature a frame of this size (with FCS) carries.
constexpr SignatureForm signature_form(uint16_t frame_size, bool vlan) {
  return size_t{frame_size} >= headers_size(vlan) + kFullSignature + kFcs ? SignatureForm::kFull
                                                                          : SignatureForm::kCompact;
}

struct L2Params {
  Mac dst{}, src{};
  int vlan = -1;  // VID 0-4095, or -1: untagged
};

// A frame prefix (headers and signature) for one frame size in one trial, built once and then
// copied per packet with only the changing fields written: the flow's addresses and ports, the
// IP header checksum (updated from a precomputed sum of the constant words), the sequence
// number and the timestamp. One template per size rather than per flow: 16 M flows x 3 IMIX
// sizes of ~80-byte templates would be 4 GB, and the flow's 12 bytes cost less to write than
// a cache miss on its template.
class FrameTemplate {
 public:
  FrameTemplate() = default;
  // frame_size with FCS, kMinFrame..kMaxFrame; throws std::invalid_argument otherwise.
  FrameTemplate(const L2Params& l2, uint16_t frame_size, uint32_t run_id, uint32_t trial);

  uint16_t frame_size() const { return size_; }
  // Bytes in the buffer: frame_size() - FCS.
  uint16_t length() const { return static_cast<uint16_t>(size_ - kFcs); }
  SignatureForm form() const { return form_; }

  // The whole frame for the packet: `flow` (its index `flow_index`), its `flow_seq`-th frame,
  // the trial's `packet_index`-th frame, sent at `tsc`. Writes length() bytes (the padding
  // after the signature zeroed, so the frames of a run are reproducible byte for byte).
  void write(uint8_t* frame, const Flow& flow, uint32_t flow_index, uint64_t flow_seq,
             uint64_t packet_index, uint64_t tsc) const {
    std::memcpy(frame, bytes_.data(), prefix_);
    if (length() > prefix_) std::memset(frame + prefix_, 0, length() - prefix_);
    uint8_t* ip = frame + l3_;
    put32(ip + 12, flow.src.host());
    put32(ip + 16, flow.dst.host());
    uint32_t sum = ip_sum_ + (flow.src.host() >> 16) + (flow.src.host() & 0xffff) +
                   (flow.dst.host() >> 16) + (flow.dst.host() & 0xffff);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    put16(ip + 10, static_cast<uint16_t>(~sum));
    put16(ip + kIpv4Header, flow.sport);
    put16(ip + kIpv4Header + 2, flow.dport);
    stamp(frame, flow_index, flow_seq, packet_index, tsc);
  }

  // The per-packet fields of the signature alone, on a frame this template wrote.
  void stamp(uint8_t* frame, uint32_t flow_index, uint64_t flow_seq, uint64_t packet_index,
             uint64_t tsc) const {
    uint8_t* s = frame + sig_;
    if (form_ == SignatureForm::kFull) {
      put32(s + 12, flow_index);
      put64(s + 16, flow_seq);
      put64(s + 24, tsc);
    } else {
      put40(s + 5, packet_index);
      put32(s + 10, static_cast<uint32_t>(tsc >> 4));
    }
  }
  // A new send time for a frame the ethdev refused and that is offered again: the latency
  // should measure the DUT, not the tester's own wait.
  void restamp(uint8_t* frame, uint64_t tsc) const {
    if (form_ == SignatureForm::kFull)
      put64(frame + sig_ + 24, tsc);
    else
      put32(frame + sig_ + 10, static_cast<uint32_t>(tsc >> 4));
  }

  static void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
  }
  static void put32(uint8_t* p, uint32_t v) {
    v = __builtin_bswap32(v);
    std::memcpy(p, &v, 4);
  }
  static void put40(uint8_t* p, uint64_t v) {
    p[0] = static_cast<uint8_t>(v >> 32);
    put32(p + 1, static_cast<uint32_t>(v));
  }
  static void put64(uint8_t* p, uint64_t v) {
    v = __builtin_bswap64(v);
    std::memcpy(p, &v, 8);
  }

 private:
  std::array<uint8_t, 128> bytes_{};  // the prefix: headers + signature, at most 46 + 32
  uint16_t size_ = 0;
  uint16_t prefix_ = 0;  // bytes of bytes_ that write() copies
  uint16_t l3_ = 0;
  uint16_t sig_ = 0;
  uint32_t ip_sum_ = 0;  // the IPv4 header's 16-bit words but addresses and checksum, summed
  SignatureForm form_ = SignatureForm::kFull;
};

// One whole frame, built field by field (tests, and anything sent once): as FrameTemplate
// would write it. `buf` must hold frame_size - FCS bytes; returns that length.
size_t build_frame(uint8_t* buf, const L2Params& l2, uint16_t frame_size, uint32_t run_id,
                   uint32_t trial, const Flow& flow, uint32_t flow_index, uint64_t flow_seq,
                   uint64_t packet_index, uint64_t tsc);

// ---- parsing ----
// What the receiver knows: the run, the trial now counting, the flow count (to split a compact
// packet index) and the receive time (to rebuild a compact timestamp).
struct ParseContext {
  uint32_t run_id = 0;
  uint32_t trial = 0;
  uint32_t flows = 1;
  uint64_t rx_tsc = 0;
};

struct Stamp {
  uint32_t trial = 0;
  uint32_t flow = 0;
  uint64_t seq = 0;
  uint64_t tx_tsc = 0;
  SignatureForm form = SignatureForm::kFull;
};

enum class ParseResult : uint8_t {
  kOurs,        // a signature of this run: *out filled
  kForeignRun,  // a signature, another run id (another tester, or a frame of a previous run)
  kNotOurs,     // anything else: not IPv4/UDP, a fragment, too short, no signature
};

// The Ethernet header: skips up to two VLAN tags (802.1Q 0x8100, 802.1ad 0x88a8). Returns
// false if the frame is too short for it.
struct L2Info {
  uint16_t ethertype = 0;
  uint16_t l3 = 0;  // offset of the payload after the tags
};
bool parse_l2(const uint8_t* frame, size_t len, L2Info* out);

ParseResult parse_frame(const uint8_t* frame, size_t len, const ParseContext& ctx, Stamp* out);

}  // namespace sluice::linerate
