// ipv4.cpp — parsing and printing of Ipv4Addr and Prefix (control path only).
#include "lpm/ipv4.h"

#include <charconv>

namespace sluice {

std::optional<Ipv4Addr> Ipv4Addr::parse(std::string_view s) {
  uint32_t v = 0;
  const char* p = s.data();
  const char* end = s.data() + s.size();
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
    if (p == end || *p < '0' || *p > '9') return std::nullopt;
    if (*p == '0' && p + 1 != end && p[1] >= '0' && p[1] <= '9') return std::nullopt;
    unsigned octet = 0;
    auto [q, ec] = std::from_chars(p, end, octet);
    if (ec != std::errc() || octet > 255 || q - p > 3) return std::nullopt;
    v = v << 8 | octet;
    p = q;
  }
  if (p != end) return std::nullopt;
  return Ipv4Addr(v);
}

std::string Ipv4Addr::str() const {
  std::string s;
  s.reserve(15);
  for (int shift = 24; shift >= 0; shift -= 8) {
    s += std::to_string((v_ >> shift) & 0xff);
    if (shift) s += '.';
  }
  return s;
}

std::optional<Prefix> Prefix::parse(std::string_view s) {
  if (s == "default") return Prefix();
  const size_t slash = s.find('/');
  auto a = Ipv4Addr::parse(s.substr(0, slash));
  if (!a) return std::nullopt;
  if (slash == std::string_view::npos) return make(*a, 32);
  std::string_view l = s.substr(slash + 1);
  if (l.empty() || l.size() > 2 || (l.size() == 2 && l[0] == '0')) return std::nullopt;
  unsigned len = 0;
  auto [q, ec] = std::from_chars(l.data(), l.data() + l.size(), len);
  if (ec != std::errc() || q != l.data() + l.size()) return std::nullopt;
  return make(*a, len);
}

std::string Prefix::str() const {
  return addr_.str() + "/" + std::to_string(len_);
}

}  // namespace sluice
