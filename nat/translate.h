// translate.h — the packet rewrites of NAT44 on a raw IPv4 packet (header first, `len` bytes
// from it), every checksum updated incrementally (RFC 1624): the IP header's; TCP's and UDP's,
// which cover the addresses through the pseudo-header (a zero UDP checksum means "none" and
// stays zero); ICMP echo's identifier, the "port" of ICMP sessions. The embedded packet of an
// ICMP error is rewritten too (RFC 5508), with its own checksums and the outer ICMP checksum
// that covers them, so traceroute and path MTU discovery work through the NAT.
// No DPDK here: the dataplane's nat nodes call these on the mbuf's data.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::nat {

enum class Side : uint8_t { kSource, kDestination };

// Sets the source or destination address (network byte order) and, when the packet carries
// one, port: TCP/UDP ports, the ICMP echo identifier (either side sets it). Non-first
// fragments have no L4 header: only the address changes (the first fragment's L4 checksum
// covers the whole datagram). Returns false, changing nothing, when the packet is too short
// for the headers it claims.
bool rewrite(uint8_t* ip, size_t len, Side side, uint32_t addr_be, uint16_t port_be);

// For an ICMP error (destination unreachable, time exceeded, parameter problem): rewrites the
// side of the packet it quotes, as rewrite() would, and fixes the outer ICMP checksum. The
// quote may be truncated after 8 bytes of L4 header (RFC 792): a TCP checksum it does not
// reach is left alone. Returns false when `ip` is not such an error or the quote is too short.
bool rewrite_icmp_error_quote(uint8_t* ip, size_t len, Side side, uint32_t addr_be,
                              uint16_t port_be);

// Whether `ip` holds an ICMP error with a quoted IPv4 header (what the function above needs).
bool is_icmp_error(const uint8_t* ip, size_t len);

}  // namespace sluice::nat
