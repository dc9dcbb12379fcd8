// bridge_input.cpp — the bridge-input node: frames that arrived on a bridge member. In three
// passes over a chunk of the burst: classify (VLAN, FID, the two FDB keys), one bulk FDB lookup
// for every source and destination of the chunk (the misses of a large table overlap instead
// of being paid one after another), then per frame learn and decide: out of one member
// (known unicast), to bridge-flood (group or unknown destination), to the routed interface
// (the bridge's own MAC, or a local entry: ip4-input or arp-input as if it came in on the BVI),
// or a named drop.
#include <rte_ether.h>
#include <rte_hash.h>

#include <algorithm>

#include "dataplane/bridge_egress.h"
#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t {
  kPortTx,
  kFlood,
  kIp4,
  kArp,
  kRunt,
  kBadSrc,
  kLinkLocal,
  kBlocked,
  kFiltered,
  kUnsupported,
  kSamePort,
  kNoHeadroom,
  kBviUnknownType,
  kNotMember,
};

constexpr unsigned kChunk = RTE_HASH_LOOKUP_BULK_MAX / 2;  // two keys per frame
constexpr rte_edge_t kEgressEdge[] = {kPortTx, kBlocked, kFiltered, kNoHeadroom};  // by Egress

// 01:80:C2:00:00:0X: IEEE 802.1D reserved group addresses (STP, LACP, 802.1X, LLDP), which a
// bridge never forwards.
bool link_local(const uint8_t* d) {
  return d[0] == 0x01 && d[1] == 0x80 && d[2] == 0xc2 && d[3] == 0 && d[4] == 0 &&
         (d[5] & 0xf0) == 0;
}

// The 6 bytes at p as MacAddr::packed() lays them out. One 8-byte load, masked: the caller
// has checked that the frame holds a whole Ethernet header, so the 2 bytes after either MAC
// are inside it (a 6-byte copy into a zeroed word costs a store-forwarding stall instead).
uint64_t mac48(const uint8_t* p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v & 0xffffffffffffull;
}

// Parses the frame's VLAN on bridge b: on a VLAN-aware bridge the tag (if any) is removed and
// the TCI kept in the meta. Returns the FID, or an edge number + 0x10000 for a drop.
uint32_t classify(const BridgeTopology& t, uint8_t b, uint16_t rx, rte_mbuf* m) {
  if (m->data_len < RTE_ETHER_HDR_LEN) return 0x10000 | kRunt;
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  if ((eth->src_addr.addr_bytes[0] & 1) || rte_is_zero_ether_addr(&eth->src_addr))
    return 0x10000 | kBadSrc;
  if (link_local(eth->dst_addr.addr_bytes)) return 0x10000 | kLinkLocal;
  const BridgeTopology::Port& tp = t.ports[rx];
  if (!(tp.flags & kBrForwarding)) return 0x10000 | kBlocked;
  if (!t.bridges[b].vlan_filtering) {
    meta(m).bridge_tci = 0;
    return fid_of(b, 0);
  }
  uint16_t tci = 0;
  if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_VLAN)) {
    if (m->data_len < RTE_ETHER_HDR_LEN + 4) return 0x10000 | kRunt;
    const auto* vh = reinterpret_cast<const rte_vlan_hdr*>(eth + 1);
    if (vh->eth_proto == RTE_BE16(RTE_ETHER_TYPE_VLAN) ||
        vh->eth_proto == RTE_BE16(RTE_ETHER_TYPE_QINQ))
      return 0x10000 | kUnsupported;
    tci = rte_be_to_cpu_16(vh->vlan_tci);
    auto* p = rte_pktmbuf_mtod(m, uint8_t*);
    __builtin_memmove(p + 4, p, 12);
    rte_pktmbuf_adj(m, 4);
    if ((tci & 0xfff) == 0) tci = static_cast<uint16_t>((tci & 0xf000) | tp.pvid);  // priority
  } else if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_QINQ)) {
    return 0x10000 | kUnsupported;
  } else {
    tci = tp.pvid;
  }
  const uint16_t vid = tci & 0xfff;
  if (vid == 0 || vid == 0xfff || tp.vlans == nullptr || !(tp.vlans->vid[vid] & kVlanMember))
    return 0x10000 | kFiltered;
  meta(m).bridge_tci = tci;
  return fid_of(b, vid);
}

// To the routed interface: as if the frame had come in on the BVI port.
rte_edge_t to_bvi(const WorkerContext& w, const BridgeTopology::Bridge& tb, rte_mbuf* m) {
  if (tb.vlan_filtering && (meta(m).bridge_tci & 0xfff) != tb.bvi_pvid) return kFiltered;
  if (!w.fs->port(tb.bvi).up.load(std::memory_order_relaxed)) return kBlocked;
  const uint16_t type = rte_pktmbuf_mtod(m, const rte_ether_hdr*)->ether_type;
  meta(m).rx_port = tb.bvi;
  meta(m).bridge_tci = 0;
  if (type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
    rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
    return kIp4;
  }
  if (type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
    rte_pktmbuf_adj(m, RTE_ETHER_HDR_LEN);
    return kArp;
  }
  return kBviUnknownType;
}

uint16_t bridge_input(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  const BridgeTopology& t = *w.bridges->load(std::memory_order_acquire);
  const Fdb& fdb = *w.fdb;
  const uint32_t now = w.bridge_clock->load(std::memory_order_relaxed);
  auto** pkts = reinterpret_cast<rte_mbuf**>(objs);

  uint64_t keys[2 * kChunk];
  const uint64_t* key_ptrs[2 * kChunk];
  int32_t pos[2 * kChunk];
  uint32_t cls[kChunk];
  for (unsigned i = 0; i < 2 * kChunk; ++i) key_ptrs[i] = &keys[i];
  // Each frame's edge, enqueued together at the end (one stream move when all agree).
  rte_edge_t nexts[RTE_GRAPH_BURST_SIZE];
  const bool batch = n <= RTE_GRAPH_BURST_SIZE;
  auto emit = [&](uint16_t i, rte_edge_t e) {
    if (batch)
      nexts[i] = e;
    else
      rte_node_enqueue_x1(graph, node, e, objs[i]);
  };

  for (uint16_t base = 0; base < n; base += kChunk) {
    const unsigned c = std::min<unsigned>(n - base, kChunk);
    unsigned nk = 0;
    for (unsigned i = 0; i < c; ++i) {
      // The headers of the frames a few places ahead: bridged frames reach here with no node
      // having read them yet (eth-input looks only at the port), so this is their first miss.
      if (base + i + 4 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[base + i + 4], void*));
      if (base + i + 8 < n) rte_prefetch0(&meta(pkts[base + i + 8]));
      rte_mbuf* m = pkts[base + i];
      const uint16_t rx = meta(m).rx_port;
      const uint8_t b = t.ports[rx].bridge;
      cls[i] = b == sluice::kNoBridge ? (0x10000 | kNotMember) : classify(t, b, rx, m);
      if (cls[i] & 0x10000) continue;
      const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
      const uint16_t fid = static_cast<uint16_t>(cls[i]);
      keys[nk++] = fdb_key(mac48(eth->src_addr.addr_bytes), fid);
      keys[nk++] = fdb_key(mac48(eth->dst_addr.addr_bytes), fid);
    }
    if (nk > 0) fdb.lookup(key_ptrs, nk, pos);

    unsigned k = 0;
    for (unsigned i = 0; i < c; ++i) {
      rte_mbuf* m = pkts[base + i];
      if (cls[i] & 0x10000) {
        emit(static_cast<uint16_t>(base + i), static_cast<rte_edge_t>(cls[i] & 0xffff));
        continue;
      }
      const uint16_t rx = meta(m).rx_port;
      const uint8_t b = t.ports[rx].bridge;
      const BridgeTopology::Bridge& tb = t.bridges[b];
      const int32_t src_pos = pos[k], dst_pos = pos[k + 1];
      const uint64_t src_key = keys[k], dst_key = keys[k + 1];
      k += 2;

      // Learning.
      if (tb.learning && (t.ports[rx].flags & kBrLearning)) {
        if (fdb_key_mac(src_key) == tb.mac) {
          w.counters.add(w.counters.bridge_own_src, 1);
        } else if (src_pos >= 0) {
          FdbSlot& s = fdb.slot(src_pos);
          const uint64_t word = s.word.load(std::memory_order_relaxed);
          if (!(word & kFdbValid)) {
            bridge_learn(w, src_key, static_cast<uint8_t>(rx));
          } else if (word & kFdbLocal) {
            w.counters.add(w.counters.bridge_own_src, 1);
          } else if ((word & 0xff) != rx) {
            if (!(word & kFdbStatic)) bridge_learn(w, src_key, static_cast<uint8_t>(rx));
          } else if (s.seen.load(std::memory_order_relaxed) != now) {
            s.seen.store(now, std::memory_order_relaxed);
          }
        } else {
          bridge_learn(w, src_key, static_cast<uint8_t>(rx));
        }
      }

      // Forwarding.
      rte_edge_t next;
      const uint64_t dst = fdb_key_mac(dst_key);
      if (dst & 1) {
        next = kFlood;
      } else if (dst == tb.mac) {
        next = to_bvi(w, tb, m);
      } else {
        const uint64_t word =
            dst_pos >= 0 ? fdb.slot(dst_pos).word.load(std::memory_order_acquire) : 0;
        if (!(word & kFdbValid)) {
          next = kFlood;
        } else if (word & kFdbLocal) {
          next = to_bvi(w, tb, m);
        } else {
          const uint16_t out = static_cast<uint16_t>(word & 0xff);
          next = out == rx ? static_cast<rte_edge_t>(kSamePort)
                           : kEgressEdge[static_cast<unsigned>(bridge_egress(w, t, b, out, m))];
        }
      }
      emit(static_cast<uint16_t>(base + i), next);
    }
  }
  if (batch) enqueue_decided(graph, node, objs, n, nexts);
  return n;
}

}  // namespace

NodeDef bridge_input_node() {
  return {"bridge-input",
          bridge_input,
          {"port-tx", "bridge-flood", "ip4-input", "arp-input", "drop-bridge-runt",
           "drop-bridge-bad-src-mac", "drop-bridge-link-local", "drop-bridge-port-blocked",
           "drop-bridge-vlan-filtered", "drop-bridge-vlan-unsupported", "drop-bridge-same-port",
           "drop-bridge-no-headroom", "drop-bridge-bvi-unknown-type", "drop-bridge-not-member"}};
}

}  // namespace sluice
