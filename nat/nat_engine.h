// nat_engine.h — one worker's NAT: connection tracking, masquerade (SNAT), port forwarding
// (DNAT), hairpinning, ICMP error translation and fragment following, on raw IPv4 packets.
//
// A session is a connection seen in two directions, as Linux conntrack keeps it: `orig`, the
// first packet's tuple as it arrived, and `reply`, the tuple its answers arrive with. The
// SessionTable's "inside" index holds orig keys and its "outside" index reply keys. A packet
// matching orig is rewritten to the reverse of reply (source := reply.dst, destination :=
// reply.src); one matching reply is rewritten to the reverse of orig. So SNAT (reply.dst is the
// router's address and an allocated port), DNAT (reply.src is the inside server) and hairpin
// (both) are one mechanism, and both rewrites of a packet happen in one place.
//
// The dataplane calls pre() on every IPv4 packet before the route lookup (existing sessions,
// new port-forwarded connections, ICMP errors, fragments, filtering) and post() on forwarded
// packets pre() left alone, once the egress port is known (new masqueraded connections).
// Nothing here allocates per packet, locks, or scans: expiry is the session table's wheel.
//
// Workers: each has its own engine. owner() names, from a packet alone, the worker whose
// engine holds (or will create) its session, the same worker for both directions; the
// dataplane hands a packet over before calling pre() when that is another worker
// (nat/README.md, "Workers").
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "nat/port_allocator.h"
#include "nat/rules.h"
#include "nat/session_table.h"

namespace sluice::nat {

enum class Verdict : uint8_t {
  kPass,               // not NAT's business: on unchanged
  kTranslated,         // rewritten by a session
  kFiltered,           // from outside, matching no session and no forward rule
  kTableFull,          // a new session refused: the table is full
  kPortsExhausted,     // a new session refused: no outside port left
  kFragmentUntracked,  // a later fragment whose first fragment was not seen
  kTruncated,          // too short for the headers it claims
  kBadDirection,       // e.g. an ICMP echo request matching a session's reply side
  kNoAddress,          // to masquerade, but the egress port has no address
  kUnsupported,        // to masquerade, but neither TCP, UDP nor ICMP echo
};

// TCP states (RFC 793 names, as conntrack tracks them from both directions).
enum class TcpState : uint8_t {
  kNone = 0,  // UDP, ICMP
  kSynSent,   // orig SYN
  kSynRecv,   // reply SYN+ACK
  kEstablished,
  kFinWait,   // one side sent FIN
  kTimeWait,  // both sides sent FIN
  kClosed,    // RST seen
};
const char* tcp_state_name(TcpState s);
// The next state for a segment with `flags` (TCP header flag byte) seen in direction
// `from_orig`. Pure, tested against a table.
TcpState tcp_advance(TcpState s, uint8_t flags, bool from_orig);
uint32_t tcp_timeout(TcpState s, const Timeouts& t);

// Session::kind bits.
inline constexpr uint8_t kKindSnat = 1;  // reply.dst:dport is an allocated outside port
inline constexpr uint8_t kKindDnat = 2;  // reply.src is a forward rule's inside server

struct EngineConfig {
  uint32_t max_sessions = 1u << 16;  // per worker
  uint16_t port_first = 1024, port_last = 65535;
  unsigned workers = 1, worker = 0;  // this engine's share of every port range
  Timeouts timeouts;
  unsigned ports = 64;  // sluice ports (sizes the per-port claim bitmaps)
};

// Counters one engine owns; others read them relaxed.
struct EngineCounters {
  std::atomic<uint64_t> translated{0}, created{0}, expired{0}, table_full{0}, ports_exhausted{0},
      filtered{0}, icmp_errors{0}, hairpin{0}, fragments{0}, fragments_untracked{0}, flushed{0};
};

// A session as the CLI shows it.
struct SessionView {
  Proto proto;
  FlowKey orig, reply;
  uint8_t kind;
  TcpState state;
  uint32_t idle;  // seconds since its last packet
  uint16_t port;  // SNAT: the egress port's sluice index (kAnyPort: none)
};

// What pre() found, carried with the packet to post() (and to the ICMP error path).
struct Match {
  uint32_t session = SessionTable::kNone;
  bool orig = false;            // the packet is in the session's orig direction
  bool source_pending = false;  // post() still rewrites the source (after the TTL/MTU checks)
  bool dest_rewritten = false;  // pre() changed the destination (restore_destination undoes it)
};

class Engine {
 public:
  explicit Engine(const EngineConfig& cfg);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The rules packets are matched against; the caller keeps them alive while they are set.
  void set_rules(const Rules* r) { rules_ = r; }
  const Rules* rules() const { return rules_; }

  // Where outside ports in use are announced to the XDP programs of AF_XDP ports: 1024
  // 64-bit words per protocol block (TCP, UDP, ICMP identifiers; bit p: p is NAT's), shared
  // with the kernel (the engine sets and clears bits atomically). Every bitmap added gets
  // every claim: a reply may come back through any port.
  void add_claim_bitmap(uint64_t* words);

  // `ip` is the IPv4 header (validated), `len` the bytes from it, `now` in seconds.
  // pre(): before the route lookup, on the worker owner() names. Rewrites the destination
  // (DNAT, a reply to a masqueraded connection) at once; a source rewrite is left to post() so
  // that an ICMP error the router itself sends (TTL, MTU) quotes the packet as its sender
  // knows it. ICMP errors about translated packets are translated whole here (RFC 5508).
  Verdict pre(uint8_t* ip, size_t len, uint16_t rx_port, uint32_t now, Match* m);
  // post(): a forwarded packet leaving `out_port` (masquerade address `out_addr`, host order,
  // 0: the port has none), after the TTL decrement and MTU check. Finishes what pre() matched,
  // or creates a masquerade session.
  Verdict post(uint8_t* ip, size_t len, uint16_t out_port, uint32_t out_addr, uint32_t now,
               const Match& m);
  // What post() does for a packet pre() matched to no session once a masquerade rule for
  // (source, out_port) is known to match: opens the session, or says why not. For a caller
  // that looked the rule up itself (the node, which needs the address only then).
  Verdict masquerade(uint8_t* ip, size_t len, uint16_t out_port, uint32_t out_addr, uint32_t now);
  // Undoes pre()'s destination rewrite on a packet the router refuses to forward, so that the
  // ICMP error it sends quotes the packet as it arrived.
  void restore_destination(uint8_t* ip, size_t len, const Match& m) const;

  // For a burst, before pre(): hash() of the packet's key (0: it has none), and the prefetches
  // of its index slots and then of its session, so that a burst's cache misses overlap instead
  // of each packet waiting for its own.
  uint64_t key_hash(const uint8_t* ip, size_t len) const;
  void prefetch_slots(uint64_t h) const { table_.prefetch_slots(h); }
  void prefetch_sessions(uint64_t h) const { table_.prefetch_sessions(h); }

  // The worker (of `workers`) owning this packet's session: the same for both directions.
  unsigned owner(const uint8_t* ip, size_t len, unsigned workers) const;

  // Expires what is due (call about once a second). Returns how many expired.
  size_t expire(uint32_t now);
  // Removes the masquerade sessions leaving through `port` (its address changed).
  size_t flush_port(uint16_t port);
  size_t flush_all();

  // The sessions, for `sluice nat sessions` (from the owning thread).
  void sessions(std::vector<SessionView>& out, uint32_t now) const;
  size_t size() const { return table_.size(); }
  size_t bytes() const;
  const EngineCounters& counters() const { return counters_; }
  const EngineConfig& config() const { return cfg_; }

 private:
  struct Mapping {
    uint32_t inside_addr = 0, outside_addr = 0;
    uint16_t inside_port = 0, outside_port = 0;
    Proto proto = Proto::kUdp;
    uint32_t refs = 0;  // 0: a free slot
  };
  struct Fragment {
    uint32_t src = 0, dst = 0;
    uint16_t sport = 0, dport = 0;  // of the first fragment: with src, dst the session's key
    uint16_t id = 0;
    uint8_t proto = 0;
    bool orig = false;
    uint32_t session = SessionTable::kNone;
    uint32_t until = 0;  // seconds
  };
  struct AddressPorts {
    uint32_t addr;
    Proto proto;
    std::unique_ptr<PortAllocator> ports;
  };

  void apply(uint8_t* ip, size_t len, const SessionTable::Session& s, bool orig, bool source);
  Verdict icmp_error(uint8_t* ip, size_t len);
  uint32_t create(const FlowKey& orig, const FlowKey& reply, uint8_t kind, uint16_t port,
                  TcpState state, uint32_t now, Verdict* why);
  bool outside_port(Proto p, uint32_t inside_addr, uint16_t inside_port, uint32_t addr,
                    uint16_t* port, Verdict* why);
  void release_outside(const SessionTable::Session& s);
  void erase(uint32_t id);
  Mapping* find_mapping(Proto p, uint32_t inside_addr, uint16_t inside_port, uint32_t addr);
  void erase_mapping(Mapping* m);
  PortAllocator* allocator(uint32_t addr, Proto p);
  void claim(Proto p, uint16_t n, bool set);
  Fragment& fragment_slot(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto);
  void remember_fragment(const uint8_t* ip, uint32_t session, bool orig, uint32_t now);
  uint32_t timeout_of(Proto p, TcpState s) const;
  void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  EngineConfig cfg_;
  const Rules* rules_ = nullptr;
  SessionTable table_;
  // Endpoint-independent mapping (RFC 4787 REQ-1): (proto, inside addr:port, outside addr) ->
  // outside port, shared by every session using it. Open addressing, backward-shift delete.
  std::vector<Mapping> mappings_;
  uint64_t mapping_mask_ = 0;
  std::vector<AddressPorts> allocators_;  // a handful: linear search
  std::vector<Fragment> fragments_;       // direct-mapped by (src, dst, proto, id)
  std::vector<uint64_t*> claims_;
  EngineCounters counters_;
};

}  // namespace sluice::nat
