// neighbours.h — ARP on the control thread: resolution of next hops (request, retry, timeout),
// learning from what the workers saw (ArpNote), aging, and the small bounded queue of packets
// that wait for each neighbour. It writes results through ForwardingState, so a resolved
// neighbour is one next-hop word store for the workers.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "dataplane/forwarding_state.h"
#include "dataplane/worker_context.h"

namespace sluice {

class NeighbourResolver {
 public:
  struct Config {
    unsigned max_held = 4;  // packets held per unresolved neighbour
    // What the wire can make the control thread keep. A scan of a large connected subnet, or
    // spoofed ARP requests from all of it, would otherwise grow the table (and its /32 routes)
    // without bound and hold the whole mbuf pool in unresolved queues, so that the router
    // stops receiving. Linux caps its table at gc_thresh3 (1024 by default); configured and
    // kernel-mirrored entries are exempt here, they are not the wire's doing.
    unsigned max_entries = 16384;    // learned and pending neighbours
    unsigned max_held_total = 1024;  // packets held across all unresolved neighbours
    double retry_interval = 1.0;     // seconds between ARP requests
    unsigned max_requests = 3;       // then the neighbour is unreachable
    double failed_hold = 3.0;        // packets to a failed neighbour are dropped this long
    double reachable_time = 300.0;   // an entry is re-probed after this long without news
  };
  struct Counters {
    uint64_t requests_sent = 0, replies_learned = 0, held = 0, released = 0;
    uint64_t dropped_queue_full = 0, dropped_unresolved = 0, dropped_no_next_hop = 0;
    uint64_t dropped_no_mbuf = 0, dropped_inject_full = 0, expired = 0;
    uint64_t dropped_table_full = 0;  // a packet for a new neighbour with max_entries reached
    uint64_t dropped_held_limit = 0;  // max_held_total packets were already held
    uint64_t learn_table_full = 0;    // an ARP request for us not learned: max_entries reached
  };
  enum class State : uint8_t { kIncomplete, kReachable, kProbe, kFailed };
  // Where an entry came from: sluice's own ARP, the configuration, or the kernel's table.
  enum class Origin : uint8_t { kArp, kStatic, kKernel };
  struct Entry {
    uint16_t port;
    Ipv4Addr ip;
    MacAddr mac;
    State state;
    double age;  // seconds since last confirmed (reachable) or since created
    Origin origin;
  };

  // `inject` hands a frame to a worker (returns false if it could not).
  NeighbourResolver(ForwardingState& fs, rte_mempool* pool, const Config& cfg,
                    std::function<bool(rte_mbuf*)> inject);
  ~NeighbourResolver();

  void on_punted(rte_mbuf* m, double now);  // a packet whose next hop had no MAC
  void on_note(const ArpNote& note, double now);
  void tick(double now);  // retries, timeouts, aging
  // Static entries (configuration): never aged.
  void add_static(uint16_t port, Ipv4Addr ip, MacAddr mac);
  void forget_port(uint16_t port);  // a port went down: its neighbours are gone

  // Mirror mode: the kernel owns ARP. Resolution asks it (the hook sends the request) instead
  // of sending ARP; the kernel's answers arrive as kernel_resolved()/kernel_failed(). Kernel
  // entries are never aged here: the kernel ages them and tells us.
  void set_request_hook(std::function<void(uint16_t port, Ipv4Addr ip)> hook) {
    request_hook_ = std::move(hook);
  }
  void kernel_resolved(uint16_t port, Ipv4Addr ip, MacAddr mac, double now);
  // The kernel gave up (FAILED) or deleted the entry. A neighbour we had is forgotten (the
  // next packet asks again); one we were waiting for fails (packets dropped for failed_hold).
  void kernel_failed(uint16_t port, Ipv4Addr ip, double now);

  const Counters& counters() const { return counters_; }
  size_t size() const { return table_.size(); }  // entries of every origin and state
  size_t held_now() const { return held_now_; }  // packets waiting for a neighbour now
  std::vector<Entry> entries(double now) const;
  static const char* state_name(State s);

 private:
  struct Neighbour {
    MacAddr mac;
    State state = State::kIncomplete;
    unsigned requests = 0;
    double next_action = 0;  // when to retry / give up / probe
    double confirmed = 0;
    bool is_static = false;
    bool from_kernel = false;
    std::deque<rte_mbuf*> held;
  };
  using Key = std::pair<uint16_t, uint32_t>;

  void send_request(uint16_t port, Ipv4Addr ip, const MacAddr* unicast);
  void resolved(const Key& k, Neighbour& n, MacAddr mac, double now);
  void drop_held(Neighbour& n);

  ForwardingState& fs_;
  rte_mempool* pool_;
  Config cfg_;
  std::function<bool(rte_mbuf*)> inject_;
  std::function<void(uint16_t, Ipv4Addr)> request_hook_;
  std::map<Key, Neighbour> table_;
  size_t held_now_ = 0;  // packets in every `held` queue
  Counters counters_;
};

}  // namespace sluice
