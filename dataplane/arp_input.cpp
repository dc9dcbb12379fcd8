// arp_input.cpp — the arp-input node: answers requests for the router's addresses in the fast
// path and tells the control thread (through an ArpNote) who spoke, so that it can learn and
// resolve neighbours. The workers never write the neighbour table themselves: one writer.
#include <rte_arp.h>
#include <rte_ether.h>

#include "dataplane/graph_nodes.h"
#include "dataplane/packet_meta.h"
#include "dataplane/worker_context.h"

namespace sluice {
namespace {

enum Next : rte_edge_t { kPortTx, kLearned, kMalformed, kNotForUs, kSpoofed };

bool is_local_on(const WorkerContext& w, uint32_t addr_be, uint16_t port) {
  const lpm::NextHop id = w.fs->routes().lookup(Ipv4Addr::from_be(addr_be));
  if (id == lpm::kNoRoute) return false;
  const NextHopWord nh = w.fs->next_hop(id);
  return nh.kind() == NextHopKind::kLocal && (port == 0xffff || nh.port() == port);
}

uint16_t arp_input(rte_graph* graph, rte_node* node, void** objs, uint16_t n) {
  WorkerContext& w = worker_of(node);
  for (uint16_t i = 0; i < n; ++i) {
    auto* m = static_cast<rte_mbuf*>(objs[i]);
    rte_edge_t next;
    auto* arp = rte_pktmbuf_mtod(m, rte_arp_hdr*);
    const uint16_t port = meta(m).rx_port;
    // The opcode only once the header is known to be there: a truncated ARP frame ends before
    // it (found by fuzzing, tests/fuzz/regressions/packet-graph/).
    const bool whole = m->data_len >= sizeof(rte_arp_hdr);
    const uint16_t op = whole ? rte_be_to_cpu_16(arp->arp_opcode) : 0;
    if (!whole || arp->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 ||
        arp->arp_plen != 4 || (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) ||
        (arp->arp_data.arp_sha.addr_bytes[0] & 1)) {
      next = kMalformed;
    } else if (is_local_on(w, arp->arp_data.arp_sip, 0xffff)) {
      next = kSpoofed;  // someone claims one of our addresses: never learn it
    } else {
      const bool for_us = is_local_on(w, arp->arp_data.arp_tip, port);
      if (arp->arp_data.arp_sip != 0) {  // RFC 5227 probes (sender 0.0.0.0) teach nothing
        ArpNote note{};
        note.sender_be = arp->arp_data.arp_sip;
        __builtin_memcpy(note.sender_mac, arp->arp_data.arp_sha.addr_bytes, 6);
        note.port = static_cast<uint8_t>(port);
        note.op = static_cast<uint8_t>(op);
        note.for_us = for_us;
        if (rte_ring_enqueue_elem(w.notes, &note, sizeof note) != 0)
          w.counters.add(w.counters.arp_notes_lost, 1);
      }
      if (op == RTE_ARP_OP_REQUEST && for_us) {
        const MacAddr& mine = w.fs->port(port).mac;
        const rte_ether_addr asker = arp->arp_data.arp_sha;
        const uint32_t asker_ip = arp->arp_data.arp_sip;
        arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
        arp->arp_data.arp_tha = asker;
        arp->arp_data.arp_sip = arp->arp_data.arp_tip;
        arp->arp_data.arp_tip = asker_ip;
        mine.copy_to(arp->arp_data.arp_sha.addr_bytes);
        rte_pktmbuf_trim(m, m->data_len - sizeof(rte_arp_hdr));
        auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_prepend(m, RTE_ETHER_HDR_LEN));
        eth->dst_addr = asker;
        mine.copy_to(eth->src_addr.addr_bytes);
        eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
        meta(m).next_hop_word = NextHopWord::make(NextHopKind::kForward, port, true,
                                                  MacAddr::from_bytes(asker.addr_bytes))
                                    .raw();
        next = kPortTx;
      } else {
        next = op == RTE_ARP_OP_REPLY || for_us ? kLearned : kNotForUs;
      }
    }
    rte_node_enqueue_x1(graph, node, next, m);
  }
  return n;
}

}  // namespace

NodeDef arp_input_node() {
  return {"arp-input",
          arp_input,
          {"port-tx", "arp-consumed", "drop-arp-malformed", "drop-arp-not-for-us",
           "drop-arp-spoofed-sender"}};
}

}  // namespace sluice
