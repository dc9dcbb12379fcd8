// checksum.h — Internet checksum helpers shared by nat/ and the dataplane. Updates are
// incremental (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')), so changing one field never re-reads
// the packet; a rewrite touches only the words it changes.
#pragma once

#include <cstdint>

namespace sluice {

// All values in network byte order as they sit in the packet (a 16-bit word each).
inline uint16_t csum_update16(uint16_t hc, uint16_t old_word, uint16_t new_word) {
  uint32_t s = static_cast<uint16_t>(~hc) + static_cast<uint16_t>(~old_word) + uint32_t{new_word};
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

inline uint16_t csum_update32(uint16_t hc, uint32_t old_value, uint32_t new_value) {
  hc = csum_update16(hc, static_cast<uint16_t>(old_value), static_cast<uint16_t>(new_value));
  return csum_update16(hc, static_cast<uint16_t>(old_value >> 16),
                       static_cast<uint16_t>(new_value >> 16));
}

// Ones-complement sum of `len` bytes, folded to 16 bits (not complemented).
inline uint16_t csum_fold_sum(const void* data, uint32_t len, uint32_t sum = 0) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t s = sum;
  while (len >= 2) {
    uint16_t w;
    __builtin_memcpy(&w, p, 2);
    s += w;
    p += 2;
    len -= 2;
  }
  if (len) s += *p;  // the odd byte, padded with zero, in memory order
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// The checksum to store in a header whose checksum field is zero.
inline uint16_t csum(const void* data, uint32_t len) {
  return static_cast<uint16_t>(~csum_fold_sum(data, len));
}

}  // namespace sluice
