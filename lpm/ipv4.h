// ipv4.h — strong value types for IPv4 addresses and prefixes, shared by every layer.
//
// Addresses are held in host byte order inside Ipv4Addr; the only ways in from the wire are
// from_be()/to_be(), so a forgotten byte swap is a type error rather than a wrong route.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice {

class Ipv4Addr {
 public:
  constexpr Ipv4Addr() = default;
  static constexpr Ipv4Addr from_host(uint32_t v) { return Ipv4Addr(v); }
  static constexpr Ipv4Addr from_be(uint32_t v) { return Ipv4Addr(__builtin_bswap32(v)); }
  static constexpr Ipv4Addr from_octets(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return Ipv4Addr(uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d);
  }
  // Dotted quad only ("10.0.0.1"); no shorthand forms, no leading zeros (they are octal to
  // inet_aton and that surprise has no place in a router's configuration).
  static std::optional<Ipv4Addr> parse(std::string_view s);

  constexpr uint32_t host() const { return v_; }
  constexpr uint32_t be() const { return __builtin_bswap32(v_); }
  std::string str() const;

  friend constexpr bool operator==(Ipv4Addr, Ipv4Addr) = default;
  friend constexpr auto operator<=>(Ipv4Addr, Ipv4Addr) = default;

 private:
  constexpr explicit Ipv4Addr(uint32_t v) : v_(v) {}
  uint32_t v_ = 0;
};
static_assert(sizeof(Ipv4Addr) == 4, "Ipv4Addr must stay layout-compatible with uint32_t");

// A prefix whose host bits are zero (canonical), as the kernel requires for `ip route add`.
class Prefix {
 public:
  constexpr Prefix() = default;
  // Returns nothing when len > 32 or host bits are set.
  static constexpr std::optional<Prefix> make(Ipv4Addr a, unsigned len) {
    if (len > 32) return std::nullopt;
    if ((a.host() & ~mask_of(len)) != 0) return std::nullopt;
    return Prefix(a, uint8_t(len));
  }
  // "10.0.0.0/8", "10.1.2.3" (a /32), "default" (0.0.0.0/0).
  static std::optional<Prefix> parse(std::string_view s);

  constexpr Ipv4Addr addr() const { return addr_; }
  constexpr unsigned len() const { return len_; }
  constexpr uint32_t mask() const { return mask_of(len_); }
  constexpr Ipv4Addr first() const { return addr_; }
  constexpr Ipv4Addr last() const { return Ipv4Addr::from_host(addr_.host() | ~mask()); }
  constexpr bool contains(Ipv4Addr a) const { return (a.host() & mask()) == addr_.host(); }
  std::string str() const;

  static constexpr uint32_t mask_of(unsigned len) {
    return len == 0 ? 0u : ~uint32_t(0) << (32 - len);
  }

  friend constexpr bool operator==(Prefix, Prefix) = default;
  // Address order, shorter first on ties: the order `sluice route show` lists routes in.
  friend constexpr auto operator<=>(Prefix, Prefix) = default;

 private:
  constexpr Prefix(Ipv4Addr a, uint8_t len) : addr_(a), len_(len) {}
  Ipv4Addr addr_;
  uint8_t len_ = 0;
};

}  // namespace sluice
