// mac_addr.h — the Ethernet address as a value type, so MACs are never confused with other
// byte arrays, plus the packed 64-bit form the next-hop table stores atomically.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

class MacAddr {
 public:
  constexpr MacAddr() = default;
  constexpr explicit MacAddr(const std::array<uint8_t, 6>& b) : bytes_(b) {}
  static MacAddr from_bytes(const uint8_t* p) {
    MacAddr m;
    std::memcpy(m.bytes_.data(), p, 6);
    return m;
  }
  static constexpr MacAddr broadcast() { return MacAddr({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}); }
  static std::optional<MacAddr> parse(std::string_view s);

  const uint8_t* data() const { return bytes_.data(); }
  void copy_to(uint8_t* p) const { std::memcpy(p, bytes_.data(), 6); }
  bool is_broadcast() const { return *this == broadcast(); }
  bool is_multicast() const { return (bytes_[0] & 1) != 0; }
  bool is_zero() const { return *this == MacAddr(); }
  // The 48-bit integer holding the six bytes in memory order (byte 0 in bits 0-7).
  uint64_t packed() const {
    // A 4-byte and a 2-byte load rather than a 6-byte copy into a zeroed word, which the
    // compiler turns into a store and an 8-byte reload: a store-forwarding stall per call.
    uint32_t lo;
    uint16_t hi;
    std::memcpy(&lo, bytes_.data(), 4);
    std::memcpy(&hi, bytes_.data() + 4, 2);
    return uint64_t{lo} | uint64_t{hi} << 32;
  }
  static MacAddr from_packed(uint64_t v) {
    MacAddr m;
    std::memcpy(m.bytes_.data(), &v, 6);
    return m;
  }
  std::string str() const;
  friend constexpr bool operator==(const MacAddr&, const MacAddr&) = default;

 private:
  std::array<uint8_t, 6> bytes_{};
};

}  // namespace sluice
