// mac_addr.cpp — parsing and printing of Ethernet addresses.
#include "dataplane/mac_addr.h"

#include <cstdio>

namespace sluice {

std::optional<MacAddr> MacAddr::parse(std::string_view s) {
  if (s.size() != 17) return std::nullopt;
  std::array<uint8_t, 6> b{};
  for (size_t i = 0; i < 6; ++i) {
    uint8_t v = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = s[i * 3 + j];
      uint8_t d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return std::nullopt;
      }
      v = static_cast<uint8_t>(v << 4 | d);
    }
    if (i < 5 && s[i * 3 + 2] != ':') return std::nullopt;
    b[i] = v;
  }
  return MacAddr(b);
}

std::string MacAddr::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes_[0], bytes_[1], bytes_[2],
                bytes_[3], bytes_[4], bytes_[5]);
  return buf;
}

}  // namespace sluice
