// checksum.h — the dataplane's checksum helpers: the generic ones live in nat/checksum.h
// (nat/ rewrites packets too and may not include dataplane/); the IPv4 header check is here.
#pragma once

#include <cstdint>

#include "nat/checksum.h"

namespace sluice {

// True if a 20-byte IPv4 header (no options) checks out: five 32-bit adds, no loop.
inline bool ip4_header_valid_20(const void* hdr) {
  uint32_t w[5];
  __builtin_memcpy(w, hdr, 20);
  uint64_t s = uint64_t{w[0]} + w[1] + w[2] + w[3] + w[4];
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return s == 0xffff;
}

}  // namespace sluice
