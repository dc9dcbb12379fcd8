// packet_graph_fuzz.cpp — libFuzzer target: the whole packet graph (fuzz_router.h's
// configuration: routes, NAT, two bridges, VLANs, eight ring ports) fed one frame per input.
//
// Input: three header bytes, then the frame.
//   byte 0  bits 0-2  ingress ring port (p0-p7)
//           bits 3-4  how the frame is held: 0 a pool mbuf with DPDK's headroom; 1 a heap buffer
//                     exactly as long as the frame (an external buffer), so that reading past
//                     the frame's end is a heap overflow AddressSanitizer reports (pool mbufs
//                     sit in DPDK memory ASan cannot see); 2 two chained pool mbufs, split at
//                     byte 2; 3 a pool mbuf without headroom (every prepend must fail cleanly)
//   byte 1  how far the injected clock moves after the frame: 0 by 1/1024 s (so that the ICMP
//           limiter refills and the 0.1 s service tick comes every ~100 inputs), else by one of
//           kJumps (ARP retries, FDB and NAT expiry)
//   byte 2  the split point of mode 2
// After each input the graph and the control thread run until idle, every TX ring is drained,
// each frame the router sent on a routed port is checked (its own MAC, a valid IPv4 header
// that fits the port's MTU), and the mbuf pool must be full again: a missing mbuf is a leak.
// Packets held for ARP are let go first by moving the clock past the resolution timeout.
//
// The router lives for the whole process, so its tables (FDB, NAT sessions, neighbours) carry
// over from input to input, as on a real router; a finding is replayed from the inputs that led
// to it (libFuzzer's crash artifact plus, if needed, the corpus replayed before it).
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>

#include "tests/fuzz/fuzz_router.h"

namespace {

using sluice::pkt::Router;

constexpr size_t kHeader = 3;
constexpr size_t kMaxFrame = 9216;  // a jumbo frame; only modes 1 and 2 can hold more than ~1.9k
constexpr double kJumps[] = {0.125, 1.0, 3.5, 31.0, 121.0, 301.0, 7441.0};

Router& router() {
  static std::unique_ptr<Router> r = sluice::fuzz::make_router();
  return *r;
}

[[noreturn]] void finding(const char* what) {
  fprintf(stderr, "packet-graph fuzz: %s\n", what);
  abort();
}

// One pool mbuf holding the frame at `headroom`; nullptr when it does not fit.
rte_mbuf* pool_mbuf(rte_mempool* pool, const uint8_t* frame, size_t len, uint16_t headroom) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) finding("mbuf pool empty before the input");
  if (headroom + len > m->buf_len) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  m->data_off = headroom;
  memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(len)), frame, len);
  return m;
}

// Two chained pool mbufs, the first holding `split` bytes.
rte_mbuf* segmented_mbuf(rte_mempool* pool, const uint8_t* frame, size_t len, size_t split) {
  split = std::min(split, len);
  rte_mbuf* head = pool_mbuf(pool, frame, split, RTE_PKTMBUF_HEADROOM);
  rte_mbuf* tail = pool_mbuf(pool, frame + split, len - split, 0);
  if (head == nullptr || tail == nullptr) {
    rte_pktmbuf_free(head);
    rte_pktmbuf_free(tail);
    return nullptr;
  }
  rte_pktmbuf_chain(head, tail);
  return head;
}

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// What leaves a routed port (p0-p2) was made by the router's L3 path: it carries the port's
// MAC, and an IPv4 packet has a sound header (version, IHL, checksum, TTL, length) that fits
// the port's MTU.
void check_routed_frame(Router& r, uint16_t port, const uint8_t* f, size_t len) {
  if (len < RTE_ETHER_HDR_LEN) finding("runt frame sent");
  if (memcmp(f + 6, sluice::pkt::port_mac(port).data(), 6) != 0)
    finding("frame sent on a routed port without the port's MAC as source");
  if (be16(f + 12) != RTE_ETHER_TYPE_IPV4) return;
  const uint8_t* ip = f + RTE_ETHER_HDR_LEN;
  const size_t room = len - RTE_ETHER_HDR_LEN;
  if (room < 20 || (ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5 || (ip[0] & 0xf) * 4u > room)
    finding("IPv4 frame sent with a broken header");
  const size_t ihl = (ip[0] & 0xf) * 4u;
  uint32_t sum = 0;
  for (size_t i = 0; i < ihl; i += 2) sum += be16(ip + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  if (sum != 0xffff) finding("IPv4 frame sent with a bad header checksum");
  if (ip[8] == 0) finding("IPv4 frame sent with TTL 0");
  const uint16_t total = be16(ip + 2);
  if (total < ihl || total > room) finding("IPv4 total length does not match the frame");
  if (total > r.dp().state().port(port).mtu.load()) finding("IPv4 packet larger than the MTU");
}

void drain_and_check(Router& r) {
  for (uint16_t p = 0; p < r.ports(); ++p) {
    void* obj;
    while (rte_ring_sc_dequeue(r.tx_ring(p), &obj) == 0) {
      auto* m = static_cast<rte_mbuf*>(obj);
      uint32_t segs = 0, bytes = 0;
      for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
        ++segs;
        bytes += s->data_len;
      }
      if (segs != m->nb_segs || bytes != m->pkt_len) finding("mbuf chain lengths disagree");
      if (p < sluice::pkt::kPorts) {
        if (m->nb_segs == 1) {
          check_routed_frame(r, p, rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
        } else {
          std::unique_ptr<uint8_t[]> flat(new uint8_t[m->pkt_len]);
          check_routed_frame(
              r, p, static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, m->pkt_len, flat.get())),
              m->pkt_len);
        }
      }
      rte_pktmbuf_free(m);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  router();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kHeader || size - kHeader > kMaxFrame) return -1;  // not kept in the corpus
  Router& r = router();
  const uint16_t port = (data[0] & 7) % r.ports();
  const unsigned mode = data[0] >> 3 & 3;
  const uint8_t* frame = data + kHeader;
  const size_t len = size - kHeader;

  if (mode == 1) {
    r.send_exact(port, frame, len);
  } else {
    rte_mbuf* m = mode == 2 ? segmented_mbuf(r.pool(), frame, len, data[2])
                            : pool_mbuf(r.pool(), frame, len, mode == 0 ? RTE_PKTMBUF_HEADROOM : 0);
    if (m == nullptr) return -1;  // does not fit: not kept in the corpus
    r.send_mbuf(port, m);
  }
  const double jump = data[1] == 0 ? 1.0 / 1024 : kJumps[data[1] % std::size(kJumps)];
  r.advance(jump, jump);
  drain_and_check(r);

  if (r.pool_available() != r.pool_size()) {
    // Packets waiting for a neighbour's MAC: every pending resolution gives up after three
    // requests a second apart, dropping what it held.
    r.advance(4.0, 1.0);
    drain_and_check(r);
    if (r.pool_available() != r.pool_size()) finding("mbufs not back in the pool: leaked");
  }
  return 0;
}
