// flows.h — what the tester sends: the flow table (every combination of source address,
// destination address, source port and destination port, in mixed radix) and the frame sizes
// (fixed sizes and the simple IMIX). Also the parsers of their command-line forms, so that the
// tester's options and the unit tests share them. DPDK-free.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "lpm/ipv4.h"

namespace sluice::linerate {

struct FlowSpec {
  Ipv4Addr src;
  uint32_t src_count = 1;
  Ipv4Addr dst;
  uint32_t dst_count = 1;
  std::vector<Ipv4Addr> dst_list;  // when not empty: the destinations (dst, dst_count unused)
  uint16_t sport = 1024;
  uint32_t sport_count = 1;
  uint16_t dport = 1024;
  uint32_t dport_count = 1;
  uint64_t flows = 0;  // 0: every combination
};

struct Flow {
  Ipv4Addr src, dst;
  uint16_t sport = 0, dport = 0;
  friend bool operator==(const Flow&, const Flow&) = default;
};

class FlowTable {
 public:
  static constexpr uint64_t kMaxFlows = uint64_t{1} << 24;  // the stream tracker's limit

  // Validates the spec; throws std::invalid_argument naming the numbers that do not fit (a
  // count of 0, a range running past 255.255.255.255 or port 65535, more flows than
  // combinations, more than kMaxFlows).
  explicit FlowTable(FlowSpec spec);

  uint32_t size() const { return static_cast<uint32_t>(n_); }
  // src_count x destinations x sport_count x dport_count (it may exceed size()).
  uint64_t combinations() const { return combinations_; }
  const FlowSpec& spec() const { return s_; }
  uint32_t destinations() const { return dsts_; }
  // Flow i, i < size(): the i-th combination, source varying fastest, then destination, then
  // source port, then destination port.
  Flow at(uint32_t i) const;

  // Walks flows 0, 1, ..., size()-1, 0, 1, ... without a division per step (an odometer), and
  // counts the rounds: the round is every flow's sequence number, since each round sends each
  // flow once.
  class Cursor {
   public:
    explicit Cursor(const FlowTable& t) : t_(&t) {}
    const Flow& flow() const { return f_; }
    uint32_t index() const { return i_; }
    uint64_t round() const { return round_; }
    void next() {
      if (++i_ == t_->n_) {
        i_ = 0;
        d_ = {};
        f_ = t_->at(0);
        ++round_;
        return;
      }
      const FlowSpec& s = t_->s_;
      if (++d_[0] < s.src_count) {
        f_.src = Ipv4Addr::from_host(f_.src.host() + 1);
        return;
      }
      d_[0] = 0;
      f_.src = s.src;
      if (++d_[1] < t_->dsts_) {
        f_.dst = t_->dst_at(d_[1]);
        return;
      }
      d_[1] = 0;
      f_.dst = t_->dst_at(0);
      if (++d_[2] < s.sport_count) {
        ++f_.sport;
        return;
      }
      d_[2] = 0;
      f_.sport = s.sport;
      ++d_[3];  // < dport_count, since i_ < n_ <= combinations
      ++f_.dport;
    }

   private:
    const FlowTable* t_;
    Flow f_ = t_->at(0);
    uint32_t i_ = 0;
    uint64_t round_ = 0;
    std::array<uint32_t, 4> d_{};  // the digits: source, destination, sport, dport
  };

 private:
  Ipv4Addr dst_at(uint32_t d) const {
    return s_.dst_list.empty() ? Ipv4Addr::from_host(s_.dst.host() + d) : s_.dst_list[d];
  }

  FlowSpec s_;
  uint32_t dsts_ = 1;
  uint64_t combinations_ = 1;
  uint64_t n_ = 1;
};

// ---- frame sizes ----
// RFC 2544 counts an Ethernet frame with its 4-byte FCS: a 64-byte frame is 60 bytes in a
// buffer (the NIC appends the FCS). Sizes are in that convention throughout.
inline constexpr uint16_t kMinFrame = 64;
inline constexpr uint16_t kMaxFrame = 9018;
inline constexpr uint16_t kFcs = 4;

// One entry of --sizes: a fixed size (a pattern of one) or "imix" (a pattern of 12).
struct FrameSizes {
  std::string name;               // "64", "1518", "imix"
  std::vector<uint16_t> pattern;  // sent cyclically, one frame per entry
  double mean() const;
  uint16_t largest() const;
};

// The simple IMIX: 7 x 64, 4 x 570 and 1 x 1518 bytes, the mix the "simple IMIX" of commercial
// testers sends (Ixia/Keysight define it with these sizes; Spirent's uses 594 for the middle
// one; RFC 6985 is why a report spells the mix out rather than only saying "IMIX"). Interleaved
// so that the large frames are spread over the 12-frame cycle instead of coming in a run.
FrameSizes imix();

// "64,128,1518,imix" -> one FrameSizes each. Throws std::invalid_argument naming the entry.
std::vector<FrameSizes> parse_sizes(const std::string& list);

// ---- command-line forms ----
// "A.B.C.D" (count 1) or "A.B.C.D+N": N consecutive addresses from A.B.C.D. `opt` names the
// option in errors ("--src 10.0.0.1+0: ...").
struct AddrRange {
  Ipv4Addr base;
  uint32_t count = 1;
};
AddrRange parse_addr_range(const std::string& opt, const std::string& s);

// "P" or "P+N": N consecutive ports from P (P + N - 1 <= 65535).
struct PortRange {
  uint16_t base = 0;
  uint32_t count = 1;
};
PortRange parse_port_range(const std::string& opt, const std::string& s);

// One IPv4 address per line; blank lines and lines starting with '#' are skipped. Errors name
// the file and the line.
std::vector<Ipv4Addr> read_address_file(const std::string& path);

}  // namespace sluice::linerate
