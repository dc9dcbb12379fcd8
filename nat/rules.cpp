// rules.cpp — matching the configured rules, and their text forms.
#include "nat/rules.h"

#include <algorithm>

namespace sluice::nat {

bool Rules::is_router_address(uint32_t a) const {
  return std::binary_search(router_addresses.begin(), router_addresses.end(), a);
}

const ForwardRule* Rules::find_forward(Proto p, uint32_t addr, uint16_t port,
                                       uint16_t in_port) const {
  for (const ForwardRule& r : forward) {
    if (r.proto != p || r.port != port) continue;
    if (r.in_port != kAnyPort && r.in_port != in_port) continue;
    if (r.addr != 0 ? r.addr != addr : !is_router_address(addr)) continue;
    return &r;
  }
  return nullptr;
}

bool Rules::is_forward_port(Proto p, uint32_t addr, uint16_t port) const {
  for (const ForwardRule& r : forward)
    if (r.proto == p && r.port == port && (r.addr == 0 || r.addr == addr)) return true;
  return false;
}

const MasqueradeRule* Rules::find_masquerade(uint32_t src, uint16_t out_port) const {
  for (const MasqueradeRule& r : masquerade)
    if (r.matches(src, out_port)) return &r;
  return nullptr;
}

bool Rules::is_inside(uint32_t src) const {
  for (const MasqueradeRule& r : masquerade)
    if (r.len == 0 || ((src ^ r.prefix) >> (32 - r.len)) == 0) return true;
  return false;
}

const char* proto_name(Proto p) {
  switch (p) {
    case Proto::kTcp: return "tcp";
    case Proto::kUdp: return "udp";
    case Proto::kIcmp: return "icmp";
  }
  return "?";
}

// TODO(issue 5, control helper): parse_masquerade, parse_forward, parse_port_range, format.
std::optional<MasqueradeSpec> parse_masquerade(std::string_view, std::string* error) {
  if (error) *error = "not implemented yet";
  return std::nullopt;
}
std::optional<ForwardSpec> parse_forward(std::string_view, std::string* error) {
  if (error) *error = "not implemented yet";
  return std::nullopt;
}
std::optional<std::pair<uint16_t, uint16_t>> parse_port_range(std::string_view,
                                                              std::string* error) {
  if (error) *error = "not implemented yet";
  return std::nullopt;
}
std::string format(const MasqueradeSpec&) {
  return {};
}
std::string format(const ForwardSpec&) {
  return {};
}

}  // namespace sluice::nat
