// rules.h — what the user configures: masquerade rules (`--masquerade PREFIX,out=PORT`) and
// forward rules (`--forward PROTO:[ADDR:]PORT=ADDR:PORT[,in=PORT]`), the port range and the
// timeouts. The text forms name sluice ports; the caller resolves names to port indexes.
// A Rules value is immutable once the workers see it: a change publishes a new one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nat/session_table.h"

namespace sluice::nat {

inline constexpr uint16_t kAnyPort = 0xffff;  // a forward rule without `in=`

struct Timeouts {
  uint32_t tcp_established = 7440;  // RFC 5382 REQ-5: at least 2 h 4 min
  uint32_t tcp_transitory = 240;    // RFC 5382 REQ-5: 4 min (SYN seen, FIN, TIME_WAIT)
  uint32_t tcp_closed = 10;         // after an RST: long enough for a retransmitted one
  uint32_t udp = 300;               // RFC 4787 REQ-5: at least 2 min, 5 min recommended
  uint32_t icmp = 60;               // ICMP echo (RFC 5508 REQ-1: at least 60 s)
  friend bool operator==(const Timeouts&, const Timeouts&) = default;
};

// Traffic from `prefix/len` leaving port `out_port` gets that port's address as its source.
struct MasqueradeRule {
  uint32_t prefix = 0;  // host order, host bits zero
  uint8_t len = 0;
  uint16_t out_port = 0;
  bool matches(uint32_t src, uint16_t port) const {
    return port == out_port && (len == 0 || ((src ^ prefix) >> (32 - len)) == 0);
  }
  friend bool operator==(const MasqueradeRule&, const MasqueradeRule&) = default;
};

// (proto, port [, addr] [, in_port]) -> to_addr:to_port, for connections from outside.
struct ForwardRule {
  Proto proto = Proto::kTcp;  // kTcp or kUdp
  uint16_t port = 0;
  uint32_t addr = 0;  // host order; 0: any of the router's addresses
  uint16_t in_port = kAnyPort;
  uint32_t to_addr = 0;  // host order
  uint16_t to_port = 0;
  // The rule's identity for `del`: what it matches, not where it sends.
  bool same_match(const ForwardRule& o) const {
    return proto == o.proto && port == o.port && addr == o.addr && in_port == o.in_port;
  }
  friend bool operator==(const ForwardRule&, const ForwardRule&) = default;
};

struct Rules {
  std::vector<MasqueradeRule> masquerade;
  std::vector<ForwardRule> forward;
  // Host order, sorted: the router's own addresses, which a forward rule without an address
  // matches and which are the outside addresses a reply can come back to.
  std::vector<uint32_t> router_addresses;
  bool empty() const { return masquerade.empty() && forward.empty(); }
  bool is_router_address(uint32_t a) const;
  // The forward rule for a packet to addr:port arriving on in_port, or nullptr.
  const ForwardRule* find_forward(Proto p, uint32_t addr, uint16_t port, uint16_t in_port) const;
  // Whether some forward rule publishes (p, port) on addr, whatever the ingress port.
  bool is_forward_port(Proto p, uint32_t addr, uint16_t port) const;
  // The first masquerade rule for a packet from src leaving out_port, or nullptr.
  const MasqueradeRule* find_masquerade(uint32_t src, uint16_t out_port) const;
  // Whether src is inside some masquerade rule's prefix (an inside host, whatever the port).
  bool is_inside(uint32_t src) const;
};

// The text forms, with port names still names. Errors say what is wrong with the text.
struct MasqueradeSpec {
  uint32_t prefix = 0;
  uint8_t len = 0;
  std::string out;  // port name
};
struct ForwardSpec {
  ForwardRule rule;  // in_port unresolved (kAnyPort)
  std::string in;    // port name, empty: any
};
// "192.168.15.0/24,out=eth0"
std::optional<MasqueradeSpec> parse_masquerade(std::string_view text, std::string* error);
// "tcp:8080=192.168.15.2:80", "udp:203.0.113.1:53=10.0.0.2:53,in=wan"
std::optional<ForwardSpec> parse_forward(std::string_view text, std::string* error);
// "1024-65535"
std::optional<std::pair<uint16_t, uint16_t>> parse_port_range(std::string_view text,
                                                              std::string* error);
std::string format(const MasqueradeSpec& s);
std::string format(const ForwardSpec& s);
const char* proto_name(Proto p);  // "tcp", "udp", "icmp"

}  // namespace sluice::nat
