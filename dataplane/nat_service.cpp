// nat_service.cpp — the dataplane's side of NAT outside the nodes: publishing rules to the
// workers (RCU: a pointer swap, then a grace period before the old rules are freed), each
// worker's housekeeping between two graph walks (expiry, copies for the CLI), and the sums.
#include <rte_cycles.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "dataplane/dataplane.h"

namespace sluice {

void nat_worker_turn(WorkerContext& w) {
  if (!w.nat) return;
  const uint64_t tsc = rte_rdtsc();
  if (tsc >= w.nat_next_tick) {
    const uint64_t hz = rte_get_tsc_hz();
    w.nat_now = static_cast<uint32_t>(tsc / hz);
    w.nat->expire(w.nat_now);
    if (w.nat_port_gen != nullptr)
      for (unsigned p = 0; p < kMaxPorts; ++p) {
        const uint32_t g = w.nat_port_gen[p].load(std::memory_order_relaxed);
        if (g == w.nat_port_seen[p]) continue;
        w.nat_port_seen[p] = g;
        w.nat->flush_port(static_cast<uint16_t>(p));
      }
    w.nat_next_tick = tsc + hz / 4;
  }
  const uint32_t req = w.nat_copy_request.load(std::memory_order_acquire);
  if (req != w.nat_copy_done.load(std::memory_order_relaxed)) {
    w.nat_copy.clear();
    w.nat->sessions(w.nat_copy, w.nat_now);
    w.nat_copy_done.store(req, std::memory_order_release);
  }
}

std::vector<uint32_t> Dataplane::nat_router_addresses() const {
  std::vector<uint32_t> out;
  for (const InterfaceAddress& a : fs_->addresses()) out.push_back(a.addr.host());
  for (const Ipv4Addr a : fs_->host_addresses()) out.push_back(a.host());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void Dataplane::publish_nat_rules(std::unique_ptr<nat::Rules> r) {
  const nat::Rules* shown = r->empty() ? nullptr : r.get();
  nat_published_.store(shown, std::memory_order_release);
  // Workers may still hold the old pointer for the rest of their walk. rte_rcu_qsbr_start and
  // _check rather than rte_rcu_qsbr_synchronize: the same wait, but inline in sluice, so that
  // ThreadSanitizer sees the workers' quiescent states order their reads before the delete
  // (librte_rcu is not instrumented, and TSan took the delete for a race).
  rte_rcu_qsbr_check(qsbr_, rte_rcu_qsbr_start(qsbr_), true);
  nat_rules_ = std::move(r);
}

void Dataplane::nat_follow_addresses() {
  // A port whose addresses changed loses its masquerade sessions (their outside address may be
  // gone); the workers flush at their next tick.
  std::vector<std::vector<uint32_t>> by_port(ports_.size());
  for (const InterfaceAddress& a : fs_->addresses())
    if (a.port < by_port.size()) by_port[a.port].push_back(a.addr.host());
  for (auto& v : by_port) std::sort(v.begin(), v.end());
  if (nat_port_addrs_.size() == by_port.size())
    for (size_t p = 0; p < by_port.size(); ++p)
      if (by_port[p] != nat_port_addrs_[p]) nat_port_gen_[p].fetch_add(1);
  nat_port_addrs_ = std::move(by_port);
  if (!nat_rules_ || nat_rules_->empty()) return;
  std::vector<uint32_t> now = nat_router_addresses();
  if (now == nat_rules_->router_addresses) return;
  auto r = std::make_unique<nat::Rules>(*nat_rules_);
  r->router_addresses = std::move(now);
  publish_nat_rules(std::move(r));
}

void Dataplane::nat_claim_forward_ports(const nat::Rules* old_rules, const nat::Rules& now) {
  // Forwarded ports are claimed for the XDP programs by the control thread, for as long as a
  // rule publishes them; the engines never hand them out.
  const auto apply = [&](const nat::Rules& r, bool set) {
    for (const nat::ForwardRule& f : r.forward) {
      const unsigned block = f.proto == nat::Proto::kTcp ? SLUICE_XDP_NAT_TCP : SLUICE_XDP_NAT_UDP;
      for (const xdp::NatPortsMap& m : nat_maps_)
        set ? m.claim(block, f.port) : m.release(block, f.port);
    }
  };
  if (old_rules != nullptr) apply(*old_rules, false);
  apply(now, true);
}

void Dataplane::set_nat_rules(nat::Rules rules) {
  rules.router_addresses = nat_router_addresses();
  nat_claim_forward_ports(nat_rules_.get(), rules);
  publish_nat_rules(std::make_unique<nat::Rules>(std::move(rules)));
}

nat::Rules Dataplane::nat_rules() const {
  return nat_rules_ ? *nat_rules_ : nat::Rules{};
}

std::vector<nat::SessionView> Dataplane::nat_sessions(unsigned* missing) {
  std::vector<nat::SessionView> out;
  if (missing != nullptr) *missing = 0;
  const bool live = running_.load();
  for (auto& w : workers_) {
    if (!w->nat) continue;
    if (!live) {
      w->nat->sessions(out, w->nat_now);
      continue;
    }
    const uint32_t req = w->nat_copy_request.load() + 1;
    w->nat_copy_request.store(req, std::memory_order_release);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (w->nat_copy_done.load(std::memory_order_acquire) != req &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    if (w->nat_copy_done.load(std::memory_order_acquire) != req) {  // a stuck worker
      if (missing != nullptr) ++*missing;
      continue;
    }
    out.insert(out.end(), w->nat_copy.begin(), w->nat_copy.end());
  }
  return out;
}

NatTotals Dataplane::nat_totals() const {
  NatTotals t;
  const auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  for (const auto& w : workers_) {
    if (!w->nat) continue;
    const nat::EngineCounters& c = w->nat->counters();
    t.sessions += w->nat->size();
    t.capacity += w->nat->config().max_sessions;
    t.bytes += w->nat->bytes();
    t.translated += get(c.translated);
    t.created += get(c.created);
    t.expired += get(c.expired);
    t.table_full += get(c.table_full);
    t.ports_exhausted += get(c.ports_exhausted);
    t.filtered += get(c.filtered);
    t.icmp_errors += get(c.icmp_errors);
    t.hairpin += get(c.hairpin);
    t.fragments += get(c.fragments);
    t.fragments_untracked += get(c.fragments_untracked);
    t.flushed += get(c.flushed);
    t.handoffs += get(w->counters.nat_handoffs);
    t.handoff_full += get(w->counters.nat_handoff_full);
  }
  return t;
}

}  // namespace sluice
