// translate.cpp — the rewrites. Every 16-bit word that changes goes through put16(), which
// updates each checksum covering it, so the outer ICMP checksum of an error stays right while
// its quote is rewritten word by word.
#include "nat/translate.h"

#include <cstring>
#include <initializer_list>

#include "nat/checksum.h"

namespace sluice::nat {
namespace {

constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;
constexpr uint8_t kEchoReply = 0, kUnreachable = 3, kEchoRequest = 8, kTimeExceeded = 11,
                  kParameterProblem = 12;

uint16_t get16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Writes `v` at `p` and updates every checksum in `sums` (pointers into the packet; null ones
// are skipped) for the change.
void put16(uint8_t* p, uint16_t v, uint8_t* sum1 = nullptr, uint8_t* sum2 = nullptr,
           uint8_t* sum3 = nullptr) {
  const uint16_t old = get16(p);
  if (old == v) return;
  for (uint8_t* s : {sum1, sum2, sum3}) {
    if (s == nullptr) continue;
    const uint16_t c = csum_update16(get16(s), old, v);
    std::memcpy(s, &c, 2);
  }
  std::memcpy(p, &v, 2);
}

struct Parsed {
  size_t hlen;
  uint8_t proto;
  bool first_fragment;
  size_t l4_len;  // bytes of L4 present (header and data, within len and total length)
};

bool parse(const uint8_t* ip, size_t len, Parsed* out) {
  if (len < 20 || (ip[0] >> 4) != 4) return false;
  const size_t hlen = size_t{ip[0] & 0xfu} * 4;
  if (hlen < 20 || hlen > len) return false;
  const size_t total = size_t{ip[2]} << 8 | ip[3];
  if (total < hlen) return false;
  const size_t have = total < len ? total : len;  // a quote may be cut short
  out->hlen = hlen;
  out->proto = ip[9];
  out->first_fragment = ((ip[6] & 0x1f) | ip[7]) == 0;
  out->l4_len = have - hlen;
  return true;
}

// The rewrite proper; `outer` is the checksum of an enclosing ICMP error (or null).
bool rewrite_in(uint8_t* ip, size_t len, Side side, uint32_t addr_be, uint16_t port_be,
                uint8_t* outer, bool quoted) {
  Parsed p{};
  if (!parse(ip, len, &p)) return false;
  uint8_t* l4 = ip + p.hlen;
  uint8_t* l4sum = nullptr;  // the L4 checksum to update for the pseudo-header and port
  uint8_t* port = nullptr;
  if (p.first_fragment) {
    switch (p.proto) {
      case kTcp:
        if (p.l4_len < (quoted ? 8u : 20u)) return false;
        port = l4 + (side == Side::kSource ? 0 : 2);
        if (p.l4_len >= 18) l4sum = l4 + 16;  // a truncated quote may stop before it
        break;
      case kUdp:
        if (p.l4_len < 8) return false;
        port = l4 + (side == Side::kSource ? 0 : 2);
        if (get16(l4 + 6) != 0) l4sum = l4 + 6;  // zero: no checksum, and it stays so
        break;
      case kIcmp:
        if (p.l4_len < 8) return false;
        if (l4[0] == kEchoRequest || l4[0] == kEchoReply) port = l4 + 4;
        l4sum = l4 + 2;  // ICMP's checksum has no pseudo-header: only the identifier counts
        break;
      default: break;
    }
  }
  // The address: the IP checksum, the L4 checksum through the pseudo-header (not ICMP's), and
  // the enclosing error's checksum, which covers the quote's bytes.
  uint8_t* a = ip + (side == Side::kSource ? 12 : 16);
  uint8_t* ipsum = ip + 10;
  uint8_t* pseudo = p.proto == kIcmp ? nullptr : l4sum;
  const uint16_t old_ipsum = get16(ipsum);
  const uint16_t old_l4sum = l4sum ? get16(l4sum) : 0;
  for (int w = 0; w < 2; ++w) {
    uint16_t v;
    std::memcpy(&v, reinterpret_cast<const uint8_t*>(&addr_be) + 2 * w, 2);
    put16(a + 2 * w, v, ipsum, pseudo, outer);
  }
  if (port) put16(port, port_be, l4sum, outer);
  // A UDP checksum that comes out as zero is sent as all ones (RFC 768): zero means "none".
  // 0xffff and 0x0000 are the same one's complement value, so nothing else changes.
  if (p.proto == kUdp && l4sum != nullptr && get16(l4sum) == 0) std::memset(l4sum, 0xff, 2);
  // The checksum fields themselves changed: the enclosing checksum must see that too.
  if (outer) {
    const uint16_t new_ipsum = get16(ipsum);
    std::memcpy(ipsum, &old_ipsum, 2);
    put16(ipsum, new_ipsum, outer);
    if (l4sum) {
      const uint16_t new_l4sum = get16(l4sum);
      std::memcpy(l4sum, &old_l4sum, 2);
      put16(l4sum, new_l4sum, outer);
    }
  }
  return true;
}

}  // namespace

namespace {

// Adds the change old -> new of one 16-bit word to a running delta (RFC 1624: ~m + m').
inline uint32_t delta16(uint32_t d, uint16_t old_word, uint16_t new_word) {
  return d + static_cast<uint16_t>(~old_word) + new_word;
}
inline uint16_t apply_delta(uint16_t hc, uint32_t d) {
  uint32_t s = static_cast<uint16_t>(~hc) + d;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

}  // namespace

bool rewrite(uint8_t* ip, size_t len, Side side, uint32_t addr_be, uint16_t port_be) {
  // The established flow's case, unfragmented TCP or UDP: the address's delta is summed once
  // and applied to the IP checksum, then with the port's to the L4 checksum; every other case
  // (ICMP, fragments, short packets) takes the general path.
  if (len >= 20 && (ip[0] >> 4) == 4 && (ip[6] & 0x3f) == 0 && ip[7] == 0 &&
      (ip[9] == kTcp || ip[9] == kUdp)) {
    const size_t hlen = size_t{ip[0] & 0xfu} * 4;
    const size_t total = size_t{ip[2]} << 8 | ip[3];
    const size_t need = hlen + (ip[9] == kTcp ? 20u : 8u);
    if (hlen >= 20 && total >= need && total <= len) {
      uint8_t* a = ip + (side == Side::kSource ? 12 : 16);
      uint8_t* l4 = ip + hlen;
      uint8_t* port = l4 + (side == Side::kSource ? 0 : 2);
      uint8_t* l4sum = l4 + (ip[9] == kTcp ? 16 : 6);
      uint16_t old_a[2], new_a[2];
      std::memcpy(old_a, a, 4);
      std::memcpy(new_a, &addr_be, 4);
      const uint32_t d = delta16(delta16(0, old_a[0], new_a[0]), old_a[1], new_a[1]);
      std::memcpy(a, &addr_be, 4);
      const uint16_t ipsum = apply_delta(get16(ip + 10), d);
      std::memcpy(ip + 10, &ipsum, 2);
      const uint16_t old_port = get16(port);
      std::memcpy(port, &port_be, 2);
      const uint16_t sum = get16(l4sum);
      if (ip[9] == kUdp && sum == 0) return true;  // no checksum, and it stays so
      uint16_t now = apply_delta(sum, delta16(d, old_port, port_be));
      if (ip[9] == kUdp && now == 0) now = 0xffff;  // RFC 768: zero means "none"
      std::memcpy(l4sum, &now, 2);
      return true;
    }
  }
  return rewrite_in(ip, len, side, addr_be, port_be, nullptr, false);
}

bool is_icmp_error(const uint8_t* ip, size_t len) {
  Parsed p{};
  if (!parse(ip, len, &p) || p.proto != kIcmp || !p.first_fragment || p.l4_len < 8 + 20)
    return false;
  const uint8_t type = ip[p.hlen];
  return type == kUnreachable || type == kTimeExceeded || type == kParameterProblem;
}

bool rewrite_icmp_error_quote(uint8_t* ip, size_t len, Side side, uint32_t addr_be,
                              uint16_t port_be) {
  Parsed p{};
  if (!is_icmp_error(ip, len) || !parse(ip, len, &p)) return false;
  uint8_t* icmp = ip + p.hlen;
  return rewrite_in(icmp + 8, p.l4_len - 8, side, addr_be, port_be, icmp + 2, true);
}

}  // namespace sluice::nat
