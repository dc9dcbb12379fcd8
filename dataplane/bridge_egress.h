// bridge_egress.h — what bridge-input, bridge-flood and bridge-output share: sending a bridged
// frame out of a member (the VLAN tag it needs there), and telling the control thread a source
// MAC to learn.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/bridge_state.h"
#include "dataplane/next_hop.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {

// The outcomes, in this order, so that a node maps them to its edges with one array.
enum class Egress : uint8_t { kOk, kBlocked, kFiltered, kNoHeadroom };

// Frames travel untagged inside a bridge. `port` must be up and forwarding (kBlocked); on a
// VLAN-aware bridge it must be a member of the frame's VLAN (meta bridge_tci), and a tagged
// member gets the tag back (PCP as it came in).
inline Egress bridge_egress(const WorkerContext& w, const BridgeTopology& t, uint8_t b,
                            uint16_t port, rte_mbuf* m) {
  if (!(t.ports[port].flags & kBrForwarding) ||
      !w.fs->port(port).up.load(std::memory_order_relaxed))
    return Egress::kBlocked;
  // What port-tx reads (the port byte); built directly, NextHopWord::make packs a MAC too.
  meta(m).next_hop_word = uint64_t{port & 0xffu} << 48;
  if (!t.bridges[b].vlan_filtering) return Egress::kOk;
  const uint16_t tci = static_cast<uint16_t>(meta(m).bridge_tci);
  const VlanTable* v = t.ports[port].vlans;
  const uint8_t f = v != nullptr ? v->vid[tci & 0xfff] : 0;
  if (!(f & kVlanMember)) return Egress::kFiltered;
  if (f & kVlanUntagged) return Egress::kOk;
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, 4));
  if (p == nullptr) return Egress::kNoHeadroom;
  __builtin_memmove(p, p + 4, 12);
  const uint16_t tpid = RTE_BE16(RTE_ETHER_TYPE_VLAN);
  const uint16_t tci_be = rte_cpu_to_be_16(tci);
  __builtin_memcpy(p + 12, &tpid, 2);
  __builtin_memcpy(p + 14, &tci_be, 2);
  return Egress::kOk;
}

// A learning note for (key, port), unless one went for the same pair in the last ~10 ms: a
// new MAC at line rate then costs the ring one note per 10 ms, not one per frame.
inline void bridge_learn(WorkerContext& w, uint64_t key, uint8_t port) {
  const uint64_t kp = key ^ (uint64_t{port} << 40) ^ 1;  // never 0, the empty slot's value
  auto& f = (*w.learn_filter)[(key * 0x9e3779b97f4a7c15ull) >> 54];
  const uint64_t now = rte_rdtsc();
  if (f.key_port == kp && now - f.tsc < rte_get_tsc_hz() / 100) return;
  f.key_port = kp;
  f.tsc = now;
  LearnNote note{};
  note.key = key;
  note.port = port;
  if (rte_ring_enqueue_elem(w.bridge_notes, &note, sizeof note) != 0) {
    w.counters.add(w.counters.bridge_notes_lost, 1);
    f.key_port = 0;  // retry with the next frame
    return;
  }
  w.counters.add(w.counters.bridge_notes, 1);
}

}  // namespace sluice
