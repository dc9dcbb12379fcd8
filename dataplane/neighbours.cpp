// neighbours.cpp — the ARP state machine of the control thread.
#include "dataplane/neighbours.h"

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include "dataplane/packet_meta.h"

namespace sluice {

NeighbourResolver::NeighbourResolver(ForwardingState& fs, rte_mempool* pool, const Config& cfg,
                                     std::function<bool(rte_mbuf*)> inject)
    : fs_(fs), pool_(pool), cfg_(cfg), inject_(std::move(inject)) {}

NeighbourResolver::~NeighbourResolver() {
  for (auto& [k, n] : table_)
    for (rte_mbuf* m : n.held) rte_pktmbuf_free(m);
}

const char* NeighbourResolver::state_name(State s) {
  switch (s) {
    case State::kIncomplete: return "INCOMPLETE";
    case State::kReachable: return "REACHABLE";
    case State::kProbe: return "PROBE";
    case State::kFailed: return "FAILED";
  }
  return "?";
}

void NeighbourResolver::send_request(uint16_t port, Ipv4Addr ip, const MacAddr* unicast) {
  if (request_hook_) {
    request_hook_(port, ip);
    ++counters_.requests_sent;
    return;
  }
  const uint32_t spa = fs_.source_for(port, ip).be();
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) {
    ++counters_.dropped_no_mbuf;
    return;
  }
  auto* eth = reinterpret_cast<rte_ether_hdr*>(
      rte_pktmbuf_append(m, sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)));
  const MacAddr& mine = fs_.port(port).mac;
  const MacAddr dst = unicast ? *unicast : MacAddr::broadcast();
  dst.copy_to(eth->dst_addr.addr_bytes);
  mine.copy_to(eth->src_addr.addr_bytes);
  eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
  auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
  arp->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = 6;
  arp->arp_plen = 4;
  arp->arp_opcode = RTE_BE16(RTE_ARP_OP_REQUEST);
  mine.copy_to(arp->arp_data.arp_sha.addr_bytes);
  arp->arp_data.arp_sip = spa;
  std::memset(arp->arp_data.arp_tha.addr_bytes, 0, 6);
  arp->arp_data.arp_tip = ip.be();
  PacketMeta& pm = meta(m);
  pm = PacketMeta{};
  pm.next_hop_word = NextHopWord::make(NextHopKind::kForward, port, true, dst).raw();
  pm.flags = kMetaRawFrame;
  if (!inject_(m)) {
    rte_pktmbuf_free(m);
    ++counters_.dropped_inject_full;
    return;
  }
  ++counters_.requests_sent;
}

void NeighbourResolver::drop_held(Neighbour& n) {
  counters_.dropped_unresolved += n.held.size();
  held_now_ -= n.held.size();
  for (rte_mbuf* m : n.held) rte_pktmbuf_free(m);
  n.held.clear();
}

void NeighbourResolver::resolved(const Key& k, Neighbour& n, MacAddr mac, double now) {
  const bool changed = n.state != State::kReachable || n.mac != mac;
  n.mac = mac;
  n.state = State::kReachable;
  n.requests = 0;
  n.confirmed = now;
  n.next_action = now + cfg_.reachable_time;
  if (changed) fs_.neighbour_resolved(k.first, Ipv4Addr::from_host(k.second), mac);
  const uint64_t word = NextHopWord::make(NextHopKind::kForward, k.first, true, mac).raw();
  while (!n.held.empty()) {
    rte_mbuf* m = n.held.front();
    n.held.pop_front();
    --held_now_;
    meta(m).next_hop_word = word;
    if (inject_(m)) {
      ++counters_.released;
    } else {
      rte_pktmbuf_free(m);
      ++counters_.dropped_inject_full;
    }
  }
}

void NeighbourResolver::on_punted(rte_mbuf* m, double now) {
  const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
  const auto who = fs_.neighbour_for(meta(m).next_hop_id, Ipv4Addr::from_be(ip->dst_addr));
  if (!who) {
    ++counters_.dropped_no_next_hop;
    rte_pktmbuf_free(m);
    return;
  }
  const Key k{who->first, who->second.host()};
  if (table_.size() >= cfg_.max_entries && table_.find(k) == table_.end()) {
    ++counters_.dropped_table_full;
    rte_pktmbuf_free(m);
    return;
  }
  auto [it, created] = table_.try_emplace(k);
  Neighbour& n = it->second;
  if (n.state == State::kReachable || n.state == State::kProbe) {
    // Resolved after the worker looked: send it on.
    meta(m).next_hop_word = NextHopWord::make(NextHopKind::kForward, k.first, true, n.mac).raw();
    if (inject_(m)) {
      ++counters_.released;
    } else {
      rte_pktmbuf_free(m);
      ++counters_.dropped_inject_full;
    }
    return;
  }
  if (n.state == State::kFailed) {
    ++counters_.dropped_unresolved;
    rte_pktmbuf_free(m);
    return;
  }
  if (n.held.size() >= cfg_.max_held) {
    ++counters_.dropped_queue_full;
    rte_pktmbuf_free(m);
  } else if (held_now_ >= cfg_.max_held_total) {
    ++counters_.dropped_held_limit;
    rte_pktmbuf_free(m);
  } else {
    n.held.push_back(m);
    ++held_now_;
    ++counters_.held;
  }
  if (created) {
    n.state = State::kIncomplete;
    n.requests = 1;
    n.next_action = now + cfg_.retry_interval;
    send_request(k.first, who->second, nullptr);
  }
}

void NeighbourResolver::on_note(const ArpNote& note, double now) {
  if (note.port >= fs_.port_count()) return;
  const Ipv4Addr ip = Ipv4Addr::from_be(note.sender_be);
  const MacAddr mac = MacAddr::from_bytes(note.sender_mac);
  const Key k{note.port, ip.host()};
  auto it = table_.find(k);
  if (it != table_.end()) {
    if (it->second.is_static) return;
    // RFC 826: an entry we have is updated by any ARP from that sender.
    resolved(k, it->second, mac, now);
    ++counters_.replies_learned;
    return;
  }
  // New entries only from requests aimed at us (as Linux with arp_accept=0: an unsolicited
  // reply teaches nothing; replies to our own requests find their INCOMPLETE entry above),
  // and only for senders on a connected subnet.
  if (!note.for_us || note.op != 1 || !fs_.on_link(note.port, ip)) return;
  if (table_.size() >= cfg_.max_entries) {
    ++counters_.learn_table_full;
    return;
  }
  Neighbour& n = table_[k];
  resolved(k, n, mac, now);
  ++counters_.replies_learned;
}

void NeighbourResolver::add_static(uint16_t port, Ipv4Addr ip, MacAddr mac) {
  const Key k{port, ip.host()};
  Neighbour& n = table_[k];
  n.is_static = true;
  resolved(k, n, mac, 0);
}

void NeighbourResolver::kernel_resolved(uint16_t port, Ipv4Addr ip, MacAddr mac, double now) {
  const Key k{port, ip.host()};
  Neighbour& n = table_[k];
  if (n.is_static) return;
  n.from_kernel = true;
  resolved(k, n, mac, now);
  ++counters_.replies_learned;
}

void NeighbourResolver::kernel_failed(uint16_t port, Ipv4Addr ip, double now) {
  const Key k{port, ip.host()};
  auto it = table_.find(k);
  if (it == table_.end() || it->second.is_static) return;
  Neighbour& n = it->second;
  if (n.state == State::kReachable || n.state == State::kProbe) {
    // A known neighbour went away (flushed, aged out, failed its probes): forget it, and the
    // next packet for it asks the kernel again at once, as the kernel itself would.
    fs_.neighbour_lost(port, ip);
    drop_held(n);
    table_.erase(it);
    return;
  }
  // Our own request failed: hold off for failed_hold, as with our ARP.
  drop_held(n);
  n.state = State::kFailed;
  n.next_action = now + cfg_.failed_hold;
}

void NeighbourResolver::forget_port(uint16_t port) {
  for (auto it = table_.begin(); it != table_.end();) {
    if (it->first.first == port) {
      drop_held(it->second);
      fs_.neighbour_lost(port, Ipv4Addr::from_host(it->first.second));
      it = table_.erase(it);
    } else {
      ++it;
    }
  }
}

void NeighbourResolver::tick(double now) {
  for (auto it = table_.begin(); it != table_.end();) {
    const Key& k = it->first;
    Neighbour& n = it->second;
    const Ipv4Addr ip = Ipv4Addr::from_host(k.second);
    // Kernel-owned entries age in the kernel; only our pending requests (INCOMPLETE) and
    // FAILED holds time out here.
    if (n.is_static || now < n.next_action ||
        (n.from_kernel && (n.state == State::kReachable || n.state == State::kProbe))) {
      ++it;
      continue;
    }
    switch (n.state) {
      case State::kIncomplete:
        if (n.requests < cfg_.max_requests) {
          ++n.requests;
          n.next_action = now + cfg_.retry_interval;
          send_request(k.first, ip, nullptr);
        } else {
          drop_held(n);
          n.state = State::kFailed;
          n.next_action = now + cfg_.failed_hold;
        }
        break;
      case State::kReachable:  // aged: confirm with unicast requests before forgetting
        n.state = State::kProbe;
        n.requests = 1;
        n.next_action = now + cfg_.retry_interval;
        send_request(k.first, ip, &n.mac);
        break;
      case State::kProbe:
        if (n.requests < cfg_.max_requests) {
          ++n.requests;
          n.next_action = now + cfg_.retry_interval;
          send_request(k.first, ip, &n.mac);
          break;
        }
        fs_.neighbour_lost(k.first, ip);
        ++counters_.expired;
        it = table_.erase(it);
        continue;
      case State::kFailed: it = table_.erase(it); continue;
    }
    ++it;
  }
}

std::vector<NeighbourResolver::Entry> NeighbourResolver::entries(double now) const {
  std::vector<Entry> out;
  for (const auto& [k, n] : table_)
    out.push_back({k.first, Ipv4Addr::from_host(k.second), n.mac, n.state,
                   n.state == State::kReachable ? now - n.confirmed : 0,
                   n.is_static     ? Origin::kStatic
                   : n.from_kernel ? Origin::kKernel
                                   : Origin::kArp});
  return out;
}

}  // namespace sluice
