// worker_context.h — what one worker's nodes share: the tables they read, the rings to and
// from the control thread, its queues, and its counters. A node finds it through node->ctx.
#pragma once

#include <rte_cycles.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/bridge_state.h"
#include "dataplane/forwarding_state.h"
#include "nat/nat_engine.h"

namespace sluice {

struct RxQueue {
  uint16_t dpdk_port;
  uint16_t port;  // sluice port index
  uint16_t queue;
};

// Worker -> control: what an ARP packet said (16 bytes, through an rte_ring of elements).
struct ArpNote {
  uint32_t sender_be;
  uint8_t sender_mac[6];
  uint8_t port;
  uint8_t op;      // 1 request, 2 reply
  uint8_t for_us;  // the target address is ours on the port it came in on
  uint8_t reserved[3];
};
static_assert(sizeof(ArpNote) == 16);

// Token bucket for ICMP errors (RFC 1812 4.3.2.8): per worker, so no shared state.
struct IcmpLimiter {
  uint64_t tokens_x1k = 0;  // thousandths of a token
  uint64_t last_tsc = 0;
  uint64_t per_second = 1000;
  uint64_t burst = 50;
  bool allow() {
    const uint64_t now = rte_rdtsc();
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t cap = burst * 1000;
    const uint64_t elapsed = now - last_tsc;
    // After a second or more of silence the bucket is full (and the product cannot overflow).
    if (last_tsc == 0 || elapsed >= hz)
      tokens_x1k = cap;
    else
      tokens_x1k += elapsed * per_second * 1000 / hz;
    if (tokens_x1k > cap) tokens_x1k = cap;
    last_tsc = now;
    if (tokens_x1k < 1000) return false;
    tokens_x1k -= 1000;
    return true;
  }
};

// Counters a worker owns alone; others read them relaxed.
struct WorkerCounters {
  std::atomic<uint64_t> forwarded{0};
  std::atomic<uint64_t> arp_notes_lost{0};
  std::atomic<uint64_t> fragments_made{0};
  std::atomic<uint64_t> nat_handoffs{0};         // packets given to the worker owning their session
  std::atomic<uint64_t> nat_handoff_full{0};     // ... dropped: that worker's inbox was full
  std::atomic<uint64_t> bridge_notes{0};         // learning notes sent to the control thread
  std::atomic<uint64_t> bridge_notes_lost{0};    // ... not sent: the ring was full
  std::atomic<uint64_t> bridge_flooded{0};       // frames flooded (group or unknown unicast)
  std::atomic<uint64_t> bridge_flood_copies{0};  // copies made for them
  std::atomic<uint64_t> bridge_copy_failed{0};   // copies not made: the pool was empty
  std::atomic<uint64_t> bridge_own_src{0};       // frames whose source is the bridge's own MAC
  void add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

// A port queue this worker transmits on for others: workers beyond a port's queue count hand
// their packets for that port to the queue's owner through `ring` (multi-producer).
struct TxDrain {
  uint16_t dpdk_port;
  uint16_t port;  // sluice port index (its PortState says whether the device is attached)
  uint16_t queue;
  rte_ring* ring;
};

// TX coalescing (--tx-coalesce-us): frames for a port held back until a full burst, the
// worker's receive coming up empty, or the oldest having waited the limit. On AF_XDP every TX
// burst is a sendto() costing a few thousand cycles whatever its size, so at moderate rates,
// where a walk carries 2-3 frames, the syscall per frame is most of a frame's cost.
struct TxHold {
  static constexpr uint16_t kCapacity = 64;
  uint16_t n = 0;
  uint64_t since = 0;  // TSC when the first held frame came
  rte_mbuf* pkts[kCapacity];
};

struct WorkerContext {
  unsigned index = 0;  // also the TX queue this worker uses on every port
  const ForwardingState* fs = nullptr;
  std::vector<RxQueue> rx;                        // the (port, queue) pairs it polls
  std::array<uint16_t, kMaxPorts> tx_queue{};     // per port: the TX queue it uses
  std::array<rte_ring*, kMaxPorts> tx_handoff{};  // per port: non-null = hand off instead
  std::vector<TxDrain> drains;                    // hand-off rings it empties
  uint64_t tx_hold_cycles = 0;                    // 0: TX coalescing off, every run is sent at once
  uint64_t tx_held_ports = 0;                     // bit per port with held frames
  std::unique_ptr<std::array<TxHold, kMaxPorts>> tx_hold;  // allocated when coalescing is on
  rte_ring* punt = nullptr;    // packets waiting for a neighbour (multi-producer)
  rte_ring* notes = nullptr;   // ArpNote elements (multi-producer)
  rte_ring* inject = nullptr;  // control -> this worker: frames to send
  rte_mempool* pool = nullptr;
  rte_graph* graph = nullptr;
  IcmpLimiter icmp;
  WorkerCounters counters;

  // NAT: this worker's engine (its sessions are its own), the published rules (nullptr: no
  // NAT configured), the inbox other workers hand packets to when their session is ours, and
  // every worker's inbox by index.
  std::unique_ptr<nat::Engine> nat;
  const std::atomic<const nat::Rules*>* nat_rules = nullptr;
  rte_ring* nat_inbox = nullptr;
  std::vector<rte_ring*> nat_peers;
  uint32_t nat_now = 0;        // seconds, the engines' clock (set once per graph walk)
  uint64_t nat_next_tick = 0;  // TSC of the next expiry pass
  // Per port, bumped by the control thread when the port's addresses change: the worker then
  // flushes the masquerade sessions leaving through it (as Linux does).
  const std::atomic<uint32_t>* nat_port_gen = nullptr;
  std::array<uint32_t, kMaxPorts> nat_port_seen{};
  // `sluice nat sessions`: the control thread raises `nat_copy_request`, the worker fills
  // `nat_copy` between two walks and stores the request's number in `nat_copy_done`.
  std::atomic<uint32_t> nat_copy_request{0}, nat_copy_done{0};
  std::vector<nat::SessionView> nat_copy;

  // Bridging: the topology and the FDB (the control thread writes both), the bridge clock
  // (seconds, for the FDB's last-seen), the ring learning notes go to, and a filter that
  // keeps a MAC that is not learned yet from sending a note per frame: (key, port) -> when
  // the last note went (TSC), direct-mapped.
  const std::atomic<const BridgeTopology*>* bridges = nullptr;
  const Fdb* fdb = nullptr;
  const std::atomic<uint32_t>* bridge_clock = nullptr;
  rte_ring* bridge_notes = nullptr;
  struct LearnFilter {
    uint64_t key_port = 0;
    uint64_t tsc = 0;
  };
  static constexpr unsigned kLearnFilterSlots = 1024;
  std::unique_ptr<std::array<LearnFilter, kLearnFilterSlots>> learn_filter =
      std::make_unique<std::array<LearnFilter, kLearnFilterSlots>>();
};

// NAT housekeeping before each graph walk (nat_service.cpp): the clock and expiry about four
// times a second, and the copy of the sessions the CLI asked for.
void nat_worker_turn(WorkerContext& w);

inline WorkerContext& worker_of(const rte_node* node) {
  WorkerContext* w;
  __builtin_memcpy(&w, node->ctx, sizeof w);
  return *w;
}

}  // namespace sluice
