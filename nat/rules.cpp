// rules.cpp — matching the configured rules, and their text forms.
#include "nat/rules.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "lpm/ipv4.h"

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
    if (r.matches(src, r.out_port)) return true;  // its prefix, whatever the port
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

namespace {

void fail(std::string* error, std::string why) {
  if (error) *error = std::move(why);
}

std::string quoted(std::string_view s) {
  std::string q(1, '\'');
  q.append(s).push_back('\'');
  return q;
}

// A port number 1-65535 in decimal; `what` names it in the error.
std::optional<uint16_t> parse_port_number(std::string_view s, const char* what,
                                          std::string* error) {
  unsigned v = 0;
  const auto [q, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || q != s.data() + s.size() || s.size() > 5 || v == 0 ||
      v > 65535) {
    fail(error, std::string(what) + " " + quoted(s) + " is not a port number (1-65535)");
    return std::nullopt;
  }
  return static_cast<uint16_t>(v);
}

// An address a connection can be addressed to: not 0/8, 127/8, multicast or class E.
std::optional<uint32_t> parse_unicast(std::string_view s, const char* what, std::string* error) {
  const std::optional<Ipv4Addr> a = Ipv4Addr::parse(s);
  if (!a) {
    fail(error, std::string(what) + " " + quoted(s) + " is not an IPv4 address (A.B.C.D)");
    return std::nullopt;
  }
  const uint32_t h = a->host();
  if ((h >> 24) == 0 || (h >> 24) == 127 || (h >> 28) >= 14) {
    fail(error, std::string(what) + " " + quoted(s) + " is not a unicast address");
    return std::nullopt;
  }
  return h;
}

// The ",key=value" options after a rule: only `key` is known, at most once. Returns the
// value (empty: absent), or nullopt with an error.
std::optional<std::string> parse_option(std::string_view opts, std::string_view key,
                                        std::string* error) {
  std::string value;
  bool seen = false;
  while (!opts.empty()) {
    const size_t comma = opts.find(',');
    const std::string_view o = opts.substr(0, comma);
    opts = comma == std::string_view::npos ? std::string_view() : opts.substr(comma + 1);
    const size_t eq = o.find('=');
    if (o.empty() || eq == std::string_view::npos || o.substr(0, eq) != key) {
      fail(error, "unknown option " + quoted(o) + " (expected " + std::string(key) + "=PORT)");
      return std::nullopt;
    }
    if (seen) {
      fail(error, std::string(key) + "= given twice");
      return std::nullopt;
    }
    seen = true;
    value = std::string(o.substr(eq + 1));
    if (value.empty()) {
      fail(error, std::string(key) + "= needs a port name");
      return std::nullopt;
    }
    if (comma == std::string_view::npos) break;
    if (opts.empty()) {
      fail(error, "empty option after ','");
      return std::nullopt;
    }
  }
  return value;
}

}  // namespace

std::optional<MasqueradeSpec> parse_masquerade(std::string_view text, std::string* error) {
  const size_t comma = text.find(',');
  if (comma == std::string_view::npos) {
    fail(error, "expected PREFIX,out=PORT (e.g. 192.168.15.0/24,out=eth0): no out=PORT");
    return std::nullopt;
  }
  const std::string_view p = text.substr(0, comma);
  const std::optional<Prefix> prefix = Prefix::parse(p);
  if (!prefix) {
    // Say which part is wrong: the address, the length, or host bits under the mask.
    const size_t slash = p.find('/');
    const std::optional<Ipv4Addr> a = Ipv4Addr::parse(p.substr(0, slash));
    if (!a) {
      fail(error,
           "prefix " + quoted(p) + ": " + quoted(p.substr(0, slash)) + " is not an IPv4 address");
      return std::nullopt;
    }
    const std::string_view l =
        slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
    unsigned len = 0;
    const auto [q, ec] = std::from_chars(l.data(), l.data() + l.size(), len);
    if (l.empty() || ec != std::errc() || q != l.data() + l.size() || len > 32 ||
        (l.size() > 1 && l[0] == '0')) {
      fail(error, "prefix " + quoted(p) + ": the length must be 0-32");
      return std::nullopt;
    }
    const Prefix canonical =
        *Prefix::make(Ipv4Addr::from_host(a->host() & Prefix::mask_of(len)), len);
    fail(error,
         "prefix " + quoted(p) + " has host bits set (did you mean " + canonical.str() + "?)");
    return std::nullopt;
  }
  const std::optional<std::string> out = parse_option(text.substr(comma + 1), "out", error);
  if (!out) return std::nullopt;
  if (out->empty()) {
    fail(error, "missing out=PORT");
    return std::nullopt;
  }
  return MasqueradeSpec{prefix->addr().host(), static_cast<uint8_t>(prefix->len()), *out};
}

std::optional<ForwardSpec> parse_forward(std::string_view text, std::string* error) {
  const char* form = " (PROTO:[ADDR:]PORT=ADDR:PORT[,in=PORT], e.g. tcp:8080=192.168.15.2:80)";
  const size_t comma = text.find(',');
  const std::string_view main = text.substr(0, comma);
  const size_t eq = main.find('=');
  if (eq == std::string_view::npos || main.find('=', eq + 1) != std::string_view::npos) {
    fail(error, std::string("expected one '=' between what is matched and where it goes") + form);
    return std::nullopt;
  }
  ForwardSpec s;
  // Matched: PROTO:PORT or PROTO:ADDR:PORT.
  const std::string_view from = main.substr(0, eq);
  const size_t c1 = from.find(':');
  if (c1 == std::string_view::npos) {
    fail(error, "missing PROTO: before the port" + std::string(form));
    return std::nullopt;
  }
  const std::string_view proto = from.substr(0, c1);
  if (proto == "tcp") {
    s.rule.proto = Proto::kTcp;
  } else if (proto == "udp") {
    s.rule.proto = Proto::kUdp;
  } else {
    fail(error, "protocol " + quoted(proto) + " is not tcp or udp");
    return std::nullopt;
  }
  std::string_view port = from.substr(c1 + 1);
  if (const size_t c2 = port.rfind(':'); c2 != std::string_view::npos) {
    const std::optional<uint32_t> a = parse_unicast(port.substr(0, c2), "address", error);
    if (!a) return std::nullopt;
    s.rule.addr = *a;
    port = port.substr(c2 + 1);
  }
  const std::optional<uint16_t> p = parse_port_number(port, "port", error);
  if (!p) return std::nullopt;
  s.rule.port = *p;
  // Where it goes: ADDR:PORT.
  const std::string_view to = main.substr(eq + 1);
  const size_t c3 = to.find(':');
  if (c3 == std::string_view::npos) {
    fail(error, "destination " + quoted(to) + " is not ADDR:PORT" + form);
    return std::nullopt;
  }
  const std::optional<uint32_t> ta = parse_unicast(to.substr(0, c3), "destination address", error);
  if (!ta) return std::nullopt;
  const std::optional<uint16_t> tp =
      parse_port_number(to.substr(c3 + 1), "destination port", error);
  if (!tp) return std::nullopt;
  s.rule.to_addr = *ta;
  s.rule.to_port = *tp;
  if (comma != std::string_view::npos) {
    const std::optional<std::string> in = parse_option(text.substr(comma + 1), "in", error);
    if (!in) return std::nullopt;
    s.in = *in;
  }
  return s;
}

std::optional<std::pair<uint16_t, uint16_t>> parse_port_range(std::string_view text,
                                                              std::string* error) {
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    fail(error, quoted(text) + " is not a port range FIRST-LAST (e.g. 1024-65535)");
    return std::nullopt;
  }
  const std::optional<uint16_t> first = parse_port_number(text.substr(0, dash), "first", error);
  if (!first) return std::nullopt;
  const std::optional<uint16_t> last = parse_port_number(text.substr(dash + 1), "last", error);
  if (!last) return std::nullopt;
  if (*first > *last) {
    fail(error, "the first port is above the last");
    return std::nullopt;
  }
  return std::make_pair(*first, *last);
}

std::string format(const MasqueradeSpec& s) {
  return Ipv4Addr::from_host(s.prefix).str() + "/" + std::to_string(s.len) + ",out=" + s.out;
}

std::string format(const ForwardSpec& s) {
  std::string t = proto_name(s.rule.proto);
  t += ':';
  if (s.rule.addr != 0) t += Ipv4Addr::from_host(s.rule.addr).str() + ":";
  t += std::to_string(s.rule.port) + "=" + Ipv4Addr::from_host(s.rule.to_addr).str() + ":" +
       std::to_string(s.rule.to_port);
  if (!s.in.empty()) t += ",in=" + s.in;
  return t;
}

}  // namespace sluice::nat
