// flows.cpp — validation of the flow spec, the mixed-radix flow index, sizes and the parsers.
#include "perf/linerate/flows.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <numeric>
#include <stdexcept>

namespace sluice::linerate {
namespace {

std::invalid_argument bad(const std::string& opt, const std::string& value,
                          const std::string& why) {
  return std::invalid_argument(opt + " " + value + ": " + why);
}

// A decimal number without sign or spaces, at most `max`.
bool parse_uint(std::string_view s, uint64_t max, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

FlowTable::FlowTable(FlowSpec spec) : s_(std::move(spec)) {
  auto need = [](uint64_t count, const char* what) {
    if (count == 0) throw std::invalid_argument(std::string(what) + ": a count of 0");
  };
  need(s_.src_count, "source addresses");
  need(s_.sport_count, "source ports");
  need(s_.dport_count, "destination ports");
  if (uint64_t{s_.src.host()} + s_.src_count - 1 > UINT32_MAX)
    throw std::invalid_argument("source addresses: " + s_.src.str() + " + " +
                                std::to_string(s_.src_count) + " runs past 255.255.255.255");
  if (s_.dst_list.empty()) {
    need(s_.dst_count, "destination addresses");
    if (uint64_t{s_.dst.host()} + s_.dst_count - 1 > UINT32_MAX)
      throw std::invalid_argument("destination addresses: " + s_.dst.str() + " + " +
                                  std::to_string(s_.dst_count) + " runs past 255.255.255.255");
    dsts_ = s_.dst_count;
  } else {
    if (s_.dst_list.size() > UINT32_MAX)
      throw std::invalid_argument("destination list: too many addresses");
    dsts_ = static_cast<uint32_t>(s_.dst_list.size());
  }
  if (uint32_t{s_.sport} + s_.sport_count - 1 > 65535)
    throw std::invalid_argument("source ports: " + std::to_string(s_.sport) + " + " +
                                std::to_string(s_.sport_count) + " runs past 65535");
  if (uint32_t{s_.dport} + s_.dport_count - 1 > 65535)
    throw std::invalid_argument("destination ports: " + std::to_string(s_.dport) + " + " +
                                std::to_string(s_.dport_count) + " runs past 65535");
  // Saturating product: four 32-bit counts can overflow 64 bits, and anything past kMaxFlows
  // is only ever compared with it.
  const uint64_t cap = uint64_t{1} << 62;
  combinations_ = 1;
  for (uint64_t c : {uint64_t{s_.src_count}, uint64_t{dsts_}, uint64_t{s_.sport_count},
                     uint64_t{s_.dport_count}})
    combinations_ = combinations_ > cap / c ? cap : combinations_ * c;
  const std::string product = std::to_string(s_.src_count) + " sources x " + std::to_string(dsts_) +
                              " destinations x " + std::to_string(s_.sport_count) +
                              " source ports x " + std::to_string(s_.dport_count) +
                              " destination ports";
  if (s_.flows == 0) {
    if (combinations_ > kMaxFlows)
      throw std::invalid_argument(product + " make more than " + std::to_string(kMaxFlows) +
                                  " flows: give --flows N (at most " + std::to_string(kMaxFlows) +
                                  ")");
    n_ = combinations_;
  } else {
    if (s_.flows > combinations_)
      throw std::invalid_argument(std::to_string(s_.flows) + " flows asked, but " + product +
                                  " make only " + std::to_string(combinations_));
    if (s_.flows > kMaxFlows)
      throw std::invalid_argument(std::to_string(s_.flows) + " flows asked: at most " +
                                  std::to_string(kMaxFlows));
    n_ = s_.flows;
  }
}

Flow FlowTable::at(uint32_t i) const {
  uint64_t r = i;
  Flow f;
  f.src = Ipv4Addr::from_host(s_.src.host() + static_cast<uint32_t>(r % s_.src_count));
  r /= s_.src_count;
  f.dst = dst_at(static_cast<uint32_t>(r % dsts_));
  r /= dsts_;
  f.sport = static_cast<uint16_t>(s_.sport + r % s_.sport_count);
  r /= s_.sport_count;
  f.dport = static_cast<uint16_t>(s_.dport + r % s_.dport_count);
  return f;
}

double FrameSizes::mean() const {
  if (pattern.empty()) return 0;
  return std::accumulate(pattern.begin(), pattern.end(), 0.0) / static_cast<double>(pattern.size());
}

uint16_t FrameSizes::largest() const {
  return pattern.empty() ? 0 : *std::max_element(pattern.begin(), pattern.end());
}

FrameSizes imix() {
  return {"imix", {64, 570, 64, 64, 570, 64, 1518, 64, 570, 64, 64, 570}};
}

std::vector<FrameSizes> parse_sizes(const std::string& list) {
  std::vector<FrameSizes> out;
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    const std::string item =
        list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item == "imix") {
      out.push_back(imix());
    } else {
      uint64_t v = 0;
      if (!parse_uint(item, 65535, &v) || v < kMinFrame || v > kMaxFrame)
        throw bad("--sizes", list,
                  "'" + item + "' is not a frame size (" + std::to_string(kMinFrame) + "-" +
                      std::to_string(kMaxFrame) + " bytes with the FCS, or imix)");
      out.push_back({item, {static_cast<uint16_t>(v)}});
    }
    for (size_t i = 0; i + 1 < out.size(); ++i)
      if (out[i].name == out.back().name) throw bad("--sizes", list, item + " is given twice");
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

AddrRange parse_addr_range(const std::string& opt, const std::string& s) {
  AddrRange r;
  const size_t plus = s.find('+');
  const auto a = Ipv4Addr::parse(s.substr(0, plus));
  if (!a) throw bad(opt, s, "'" + s.substr(0, plus) + "' is not an IPv4 address (A.B.C.D[+N])");
  r.base = *a;
  if (plus != std::string::npos) {
    uint64_t n = 0;
    if (!parse_uint(std::string_view(s).substr(plus + 1), UINT32_MAX, &n) || n == 0)
      throw bad(opt, s, "the count after + must be 1 or more");
    if (uint64_t{a->host()} + n - 1 > UINT32_MAX) throw bad(opt, s, "runs past 255.255.255.255");
    r.count = static_cast<uint32_t>(n);
  }
  return r;
}

PortRange parse_port_range(const std::string& opt, const std::string& s) {
  PortRange r;
  const size_t plus = s.find('+');
  uint64_t p = 0;
  if (!parse_uint(std::string_view(s).substr(0, plus), 65535, &p))
    throw bad(opt, s, "not a port (0-65535, P[+N])");
  r.base = static_cast<uint16_t>(p);
  if (plus != std::string::npos) {
    uint64_t n = 0;
    if (!parse_uint(std::string_view(s).substr(plus + 1), 65536, &n) || n == 0)
      throw bad(opt, s, "the count after + must be 1-65536");
    if (p + n - 1 > 65535) throw bad(opt, s, "runs past port 65535");
    r.count = static_cast<uint32_t>(n);
  }
  return r;
}

std::vector<Ipv4Addr> read_address_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("--dst-file " + path + ": cannot open it");
  std::vector<Ipv4Addr> out;
  std::string line;
  for (unsigned n = 1; std::getline(in, line); ++n) {
    const size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    const size_t e = line.find_last_not_of(" \t\r");
    const std::string word = line.substr(b, e - b + 1);
    const auto a = Ipv4Addr::parse(word);
    if (!a)
      throw std::invalid_argument("--dst-file " + path + " line " + std::to_string(n) + ": '" +
                                  word + "' is not an IPv4 address");
    out.push_back(*a);
  }
  if (out.empty()) throw std::invalid_argument("--dst-file " + path + ": no address in it");
  return out;
}

}  // namespace sluice::linerate
