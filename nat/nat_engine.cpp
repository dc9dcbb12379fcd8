// nat_engine.cpp — connection tracking and the decisions of NAT44; the byte rewrites are
// translate.cpp's. Addresses and ports are kept in host order in keys, network order on the
// wire.
#include "nat/nat_engine.h"

#include <cstring>
#include <optional>
#include <stdexcept>

#include "nat/translate.h"

namespace sluice::nat {
namespace {

constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
constexpr uint8_t kEchoReply = 0, kEchoRequest = 8;
constexpr uint32_t kFragmentLifetime = 30;  // seconds, Linux's ipfrag_time
constexpr size_t kFragmentSlots = 4096;

uint16_t rd16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t rd32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
uint32_t be32(uint32_t host) {
  return __builtin_bswap32(host);
}
uint16_t be16(uint16_t host) {
  return __builtin_bswap16(host);
}

// The header fields every decision reads.
struct Packet {
  size_t hlen = 0, l4_len = 0;  // l4_len: bytes from the L4 header to the datagram's end
  uint8_t proto = 0;
  bool later_fragment = false;  // offset != 0: no L4 header
  bool more_fragments = false;
  uint8_t ttl = 0;
};

bool parse(const uint8_t* ip, size_t len, Packet* p) {
  if (len < 20) return false;
  p->hlen = size_t{ip[0] & 0xfu} * 4;
  const size_t total = rd16(ip + 2);
  if (p->hlen < 20 || total < p->hlen || total > len) return false;
  p->l4_len = total - p->hlen;
  p->proto = ip[9];
  p->ttl = ip[8];
  p->later_fragment = (rd16(ip + 6) & 0x1fff) != 0;
  p->more_fragments = (ip[6] & 0x20) != 0;
  return true;
}

bool tracked(uint8_t proto) {
  return proto == static_cast<uint8_t>(Proto::kTcp) || proto == static_cast<uint8_t>(Proto::kUdp) ||
         proto == static_cast<uint8_t>(Proto::kIcmp);
}

// The key of a TCP/UDP/ICMP-echo packet (not a later fragment). For ICMP the identifier is
// both "ports". False when the L4 header is short or the ICMP message is not an echo.
bool key_of(const uint8_t* ip, const Packet& p, FlowKey* k, uint8_t* icmp_type,
            uint8_t* tcp_flags) {
  const uint8_t* l4 = ip + p.hlen;
  k->src = rd32(ip + 12);
  k->dst = rd32(ip + 16);
  k->proto = static_cast<Proto>(p.proto);
  *tcp_flags = 0;
  switch (k->proto) {
    case Proto::kTcp:
      if (p.l4_len < 20) return false;
      *tcp_flags = l4[13];
      [[fallthrough]];
    case Proto::kUdp:
      if (p.l4_len < 8) return false;
      k->sport = rd16(l4);
      k->dport = rd16(l4 + 2);
      return true;
    case Proto::kIcmp:
      if (p.l4_len < 8) return false;
      *icmp_type = l4[0];
      if (l4[0] != kEchoRequest && l4[0] != kEchoReply) return false;
      k->sport = k->dport = rd16(l4 + 4);
      return true;
  }
  return false;
}

uint32_t mix(uint32_t a) {
  uint64_t h = uint64_t{a} * 0x9E3779B97F4A7C15ULL;
  return static_cast<uint32_t>(h >> 32);
}

unsigned pick(uint32_t addr, unsigned workers) {
  return static_cast<unsigned>((uint64_t{mix(addr)} * workers) >> 32);
}

}  // namespace

const char* tcp_state_name(TcpState s) {
  switch (s) {
    case TcpState::kNone: return "-";
    case TcpState::kSynSent: return "SYN_SENT";
    case TcpState::kSynRecv: return "SYN_RECV";
    case TcpState::kEstablished: return "ESTABLISHED";
    case TcpState::kFinWait: return "FIN_WAIT";
    case TcpState::kTimeWait: return "TIME_WAIT";
    case TcpState::kClosed: return "CLOSED";
  }
  return "?";
}

// A conntrack-like machine without window tracking (the end hosts do that): RST closes at
// once; SYN from orig opens; SYN+ACK from reply answers; an ACK from orig after that
// establishes; data in both directions also counts as established (a session picked up
// mid-stream, as Linux's nf_conntrack_tcp_loose does); one FIN half-closes, the other's FIN
// makes TIME_WAIT. A new SYN on a closed or closing session reopens it (port reuse).
TcpState tcp_advance(TcpState s, uint8_t flags, bool from_orig) {
  if (flags & kRst) return TcpState::kClosed;
  const bool syn = flags & kSyn, ack = flags & kAck, fin = flags & kFin;
  if (syn && !ack) {
    if (!from_orig) return s;  // a simultaneous open from the reply side: keep what we know
    if (s == TcpState::kNone || s == TcpState::kClosed || s == TcpState::kTimeWait ||
        s == TcpState::kSynSent)
      return TcpState::kSynSent;
    return s;
  }
  if (syn && ack) {
    if (!from_orig && (s == TcpState::kSynSent || s == TcpState::kSynRecv))
      return TcpState::kSynRecv;
    return s;
  }
  if (fin) {
    switch (s) {
      case TcpState::kFinWait: return TcpState::kTimeWait;  // both sides, or a repeat: close
      case TcpState::kTimeWait:
      case TcpState::kClosed: return s;
      default: return TcpState::kFinWait;
    }
  }
  if (ack) {
    if (s == TcpState::kSynRecv && from_orig) return TcpState::kEstablished;
    if (s == TcpState::kNone) return TcpState::kEstablished;
  }
  return s;
}

uint32_t tcp_timeout(TcpState s, const Timeouts& t) {
  switch (s) {
    case TcpState::kEstablished: return t.tcp_established;
    case TcpState::kClosed: return t.tcp_closed;
    default: return t.tcp_transitory;
  }
}

Engine::Engine(const EngineConfig& cfg)
    : cfg_(cfg), table_(SessionTable::Config{cfg.max_sessions, 8192}) {
  if (cfg.workers == 0 || cfg.worker >= cfg.workers)
    throw std::invalid_argument("NAT engine: worker index out of range");
  if (cfg.port_first == 0 || cfg.port_first > cfg.port_last)
    throw std::invalid_argument("NAT port range is empty or starts at 0");
  uint64_t slots = 2;
  while (slots < uint64_t{cfg.max_sessions} * 2) slots <<= 1;
  mappings_.assign(slots, Mapping{});
  mapping_mask_ = slots - 1;
  fragments_.assign(kFragmentSlots, Fragment{});
  allocators_.reserve(16);
}

void Engine::add_claim_bitmap(uint64_t* words) {
  if (words != nullptr) claims_.push_back(words);
}

void Engine::claim(Proto p, uint16_t n, bool set) {
  const unsigned block = p == Proto::kTcp ? 0 : p == Proto::kUdp ? 1 : 2;
  const uint64_t bit = uint64_t{1} << (n % 64);
  for (uint64_t* words : claims_) {
    uint64_t* w = words + block * 1024 + n / 64;
    if (set)
      __atomic_fetch_or(w, bit, __ATOMIC_RELAXED);
    else
      __atomic_fetch_and(w, ~bit, __ATOMIC_RELAXED);
  }
}

size_t Engine::bytes() const {
  return table_.bytes() + mappings_.size() * sizeof(Mapping) + fragments_.size() * sizeof(Fragment);
}

uint32_t Engine::timeout_of(Proto p, TcpState s) const {
  switch (p) {
    case Proto::kTcp: return tcp_timeout(s, cfg_.timeouts);
    case Proto::kUdp: return cfg_.timeouts.udp;
    case Proto::kIcmp: return cfg_.timeouts.icmp;
  }
  return cfg_.timeouts.udp;
}

// ---- endpoint-independent mappings ------------------------------------------------------------

Engine::Mapping* Engine::find_mapping(Proto p, uint32_t inside_addr, uint16_t inside_port,
                                      uint32_t addr) {
  FlowKey k{inside_addr, addr, inside_port, 0, p};
  for (uint64_t i = hash(k) & mapping_mask_;; i = (i + 1) & mapping_mask_) {
    Mapping& m = mappings_[i];
    if (m.refs == 0) return &m;  // the free slot where it would go
    if (m.proto == p && m.inside_addr == inside_addr && m.inside_port == inside_port &&
        m.outside_addr == addr)
      return &m;
  }
}

void Engine::erase_mapping(Mapping* m) {
  // Backward shift, as the session indexes do: no tombstones.
  uint64_t hole = static_cast<uint64_t>(m - mappings_.data());
  mappings_[hole].refs = 0;
  for (uint64_t j = (hole + 1) & mapping_mask_; mappings_[j].refs != 0;
       j = (j + 1) & mapping_mask_) {
    const Mapping& e = mappings_[j];
    const uint64_t home =
        hash(FlowKey{e.inside_addr, e.outside_addr, e.inside_port, 0, e.proto}) & mapping_mask_;
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    mappings_[hole] = e;
    mappings_[j].refs = 0;
    hole = j;
  }
}

PortAllocator* Engine::allocator(uint32_t addr, Proto p) {
  for (AddressPorts& a : allocators_)
    if (a.addr == addr && a.proto == p) return a.ports.get();
  // First use of this outside address: a bitmap of the range, once per address and protocol.
  PortAllocator::Config pc;
  pc.first = cfg_.port_first;
  pc.last = cfg_.port_last;
  pc.shares = cfg_.workers;
  pc.share = cfg_.worker;
  allocators_.push_back({addr, p, std::make_unique<PortAllocator>(pc)});
  return allocators_.back().ports.get();
}

// The outside port for inside_addr:inside_port on `addr`: the mapping's if the inside endpoint
// has one there already (endpoint-independent), else a new one (the inside port when free).
bool Engine::outside_port(Proto p, uint32_t inside_addr, uint16_t inside_port, uint32_t addr,
                          uint16_t* port, Verdict* why) {
  Mapping* m = find_mapping(p, inside_addr, inside_port, addr);
  if (m->refs != 0) {
    ++m->refs;
    *port = m->outside_port;
    return true;
  }
  PortAllocator* ports = allocator(addr, p);
  // ICMP identifiers may be anything; TCP/UDP ports below the range are not ours to give.
  for (int tries = 0; tries < 8; ++tries) {
    const std::optional<uint16_t> got = ports->allocate(inside_port);
    if (!got) {
      *why = Verdict::kPortsExhausted;
      return false;
    }
    // A port a forward rule publishes stays taken (by no session) and is never handed out.
    if (rules_ != nullptr && p != Proto::kIcmp && rules_->is_forward_port(p, addr, *got)) continue;
    *m = Mapping{inside_addr, addr, inside_port, *got, p, 1};
    *port = *got;
    claim(p, *got, true);
    return true;
  }
  *why = Verdict::kPortsExhausted;
  return false;
}

void Engine::release_outside(const SessionTable::Session& s) {
  if (!(s.kind & kKindSnat)) return;
  const Proto p = s.inside.proto;
  // orig's source is the inside endpoint; reply's destination the outside one.
  Mapping* m = find_mapping(p, s.inside.src, s.inside.sport, s.outside.dst);
  if (m->refs == 0 || m->outside_port != s.outside.dport) return;
  if (--m->refs != 0) return;
  const uint16_t port = m->outside_port;
  erase_mapping(m);
  allocator(s.outside.dst, p)->release(port);
  claim(p, port, false);
}

void Engine::erase(uint32_t id) {
  release_outside(table_.at(id));
  table_.erase(id);
}

uint32_t Engine::create(const FlowKey& orig, const FlowKey& reply, uint8_t kind, uint16_t port,
                        TcpState state, uint32_t now, Verdict* why) {
  const uint32_t id = table_.insert(orig, reply, now + timeout_of(orig.proto, state));
  if (id == SessionTable::kNone) {
    *why = Verdict::kTableFull;
    if (table_.size() == table_.capacity()) bump(counters_.table_full);
    return id;
  }
  SessionTable::Session& s = table_.at(id);
  s.kind = kind;
  s.port = port;
  s.state = static_cast<uint8_t>(state);
  bump(counters_.created);
  return id;
}

// ---- fragments ------------------------------------------------------------------------------

Engine::Fragment& Engine::fragment_slot(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto) {
  const uint32_t h = mix(src ^ mix(dst ^ (uint32_t{id} << 8 | proto)));
  return fragments_[h & (kFragmentSlots - 1)];
}

void Engine::remember_fragment(const uint8_t* ip, uint32_t session, bool orig, uint32_t now) {
  const uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
  const uint16_t id = rd16(ip + 4);
  // The first fragment's ports (ICMP: the identifier), which its caller has parsed already.
  const uint8_t* l4 = ip + size_t{ip[0] & 0xfu} * 4;
  const bool icmp = ip[9] == static_cast<uint8_t>(Proto::kIcmp);
  const uint16_t sport = icmp ? rd16(l4 + 4) : rd16(l4), dport = icmp ? sport : rd16(l4 + 2);
  // Keyed by the header as it arrived, so called before any rewrite: the later fragments
  // arrive untranslated. Direct-mapped: a collision replaces the older datagram, whose later
  // fragments are then dropped as untracked (counted), never mistranslated.
  fragment_slot(src, dst, id, ip[9]) =
      Fragment{src, dst, sport, dport, id, ip[9], orig, session, now + kFragmentLifetime};
}

// ---- the per-packet paths ---------------------------------------------------------------------

// Rewrites one side of the packet as the session says: a packet in orig direction leaves as
// the reverse of reply (source := reply.dst, destination := reply.src), one in reply direction
// as the reverse of orig.
void Engine::apply(uint8_t* ip, size_t len, const SessionTable::Session& s, bool orig,
                   bool source) {
  const FlowKey& to = orig ? s.outside : s.inside;
  const FlowKey& from = orig ? s.inside : s.outside;
  if (source) {
    if (to.dst != from.src || to.dport != from.sport)
      rewrite(ip, len, Side::kSource, be32(to.dst), be16(to.dport));
  } else {
    if (to.src != from.dst || to.sport != from.dport)
      rewrite(ip, len, Side::kDestination, be32(to.src), be16(to.sport));
  }
}

Verdict Engine::pre(uint8_t* ip, size_t len, uint16_t rx_port, uint32_t now, Match* m) {
  *m = Match{};
  const Rules* rules = rules_;
  if (rules == nullptr) return Verdict::kPass;
  Packet p;
  if (!parse(ip, len, &p)) return Verdict::kTruncated;
  const uint32_t dst = rd32(ip + 16);
  // Filtering (address-and-port dependent, RFC 4787 REQ-8; nat/README.md): from a masquerade
  // port, nothing reaches an inside address without a session, whatever its protocol: not
  // untracked protocols (GRE, SCTP), other ICMP (timestamp requests), ICMP errors about no
  // session, or later fragments whose first fragment was not admitted either.
  bool from_outside = false;
  for (const MasqueradeRule& r : rules->masquerade)
    if (r.out_port == rx_port) from_outside = true;
  // Asked only of packets no session matched: established traffic does not pay for it.
  auto to_inside = [&] {
    return from_outside && rules->is_inside(dst) && !rules->is_router_address(dst);
  };
  auto unmatched = [&] {
    if (!to_inside()) return Verdict::kPass;
    bump(counters_.filtered);
    return Verdict::kFiltered;
  };
  if (!tracked(p.proto)) return unmatched();
  // TTL 1 is translated like any other packet (a reply to the outside address must reach the
  // forwarding path to be refused): the source rewrite waits for post(), which a packet
  // ip4-forward refuses never reaches, and icmp-error undoes the destination rewrite, so the
  // router's time-exceeded quotes the packet as its sender sent it.

  if (p.later_fragment) {
    const uint32_t src = rd32(ip + 12);
    const uint16_t ipid = rd16(ip + 4);
    Fragment& f = fragment_slot(src, dst, ipid, p.proto);
    // The session must still be the one the first fragment matched: one flushed (or closed by
    // an RST, 10 s) within the fragment's 30 s frees its slot, and a new session taking the
    // slot would otherwise get the old datagram's later fragments (a reply's sent to another
    // inside host). Its key in the first fragment's direction says whether it is the same.
    auto same_flow = [&](const SessionTable::Session& s) {
      const FlowKey& k = f.orig ? s.inside : s.outside;
      return k.src == f.src && k.dst == f.dst && k.sport == f.sport && k.dport == f.dport &&
             static_cast<uint8_t>(k.proto) == f.proto;
    };
    if (f.session != SessionTable::kNone && f.src == src && f.dst == dst && f.id == ipid &&
        f.proto == p.proto && now <= f.until && table_.live(f.session) &&
        same_flow(table_.at(f.session))) {
      const SessionTable::Session& s = table_.at(f.session);
      m->session = f.session;
      m->orig = f.orig;
      const FlowKey& to = f.orig ? s.outside : s.inside;
      const FlowKey& from = f.orig ? s.inside : s.outside;
      if (to.src != from.dst) {
        rewrite(ip, len, Side::kDestination, be32(to.src), 0);
        m->dest_rewritten = true;
      }
      m->source_pending = to.dst != from.src;
      bump(counters_.fragments);
      return Verdict::kTranslated;
    }
    // A reply's later fragment to a NAT address with no first fragment seen: drop, counted.
    // Others may be plain forwarding; post() catches an inside source leaving masqueraded.
    if (rules->is_router_address(dst) && !rules->masquerade.empty()) {
      bump(counters_.fragments_untracked);
      return Verdict::kFragmentUntracked;
    }
    return unmatched();
  }

  if (p.proto == static_cast<uint8_t>(Proto::kIcmp) && is_icmp_error(ip, len)) {
    const Verdict v = icmp_error(ip, len);
    return v == Verdict::kPass ? unmatched() : v;
  }

  FlowKey k;
  uint8_t icmp_type = 0, flags = 0;
  if (!key_of(ip, p, &k, &icmp_type, &flags)) {
    if (p.proto == static_cast<uint8_t>(Proto::kIcmp)) return unmatched();  // other ICMP
    return Verdict::kTruncated;
  }

  bool orig = true;
  const uint64_t h = hash(k);
  uint32_t id = table_.find_inside(k, h);
  if (id == SessionTable::kNone) {
    id = table_.find_outside(k, h);
    orig = false;
  }
  if (id != SessionTable::kNone) {
    SessionTable::Session& s = table_.at(id);
    if (k.proto == Proto::kIcmp && (icmp_type == kEchoRequest) != orig)
      return Verdict::kBadDirection;  // an echo request aimed at a mapping's reply side
    TcpState st = static_cast<TcpState>(s.state);
    if (k.proto == Proto::kTcp) {
      st = tcp_advance(st, flags, orig);
      s.state = static_cast<uint8_t>(st);
    }
    table_.touch(id, now + timeout_of(k.proto, st));
    m->session = id;
    m->orig = orig;
    const FlowKey& to = orig ? s.outside : s.inside;
    const FlowKey& from = orig ? s.inside : s.outside;
    if (p.more_fragments) remember_fragment(ip, id, orig, now);
    if (to.src != from.dst || to.sport != from.dport) {
      apply(ip, len, s, orig, false);
      m->dest_rewritten = true;
    }
    m->source_pending = to.dst != from.src || to.dport != from.sport;
    bump(counters_.translated);
    return Verdict::kTranslated;
  }

  // No session. A connection to a forwarded port starts one.
  if (k.proto != Proto::kIcmp && rules->is_router_address(dst)) {
    const ForwardRule* r = rules->find_forward(k.proto, dst, k.dport, rx_port);
    if (r != nullptr) {
      // Only a SYN opens a TCP connection from outside: an ACK or FIN scan finds nothing.
      if (k.proto == Proto::kTcp && (flags & (kSyn | kAck | kRst | kFin)) != kSyn) {
        bump(counters_.filtered);
        return Verdict::kFiltered;
      }
      FlowKey reply{r->to_addr, k.src, r->to_port, k.sport, k.proto};
      uint8_t kind = kKindDnat;
      Verdict why = Verdict::kTableFull;
      // Hairpin (RFC 4787 REQ-9): an inside host reaching an inside server through the
      // outside address gets that address as its source too, so the answer comes back here.
      const bool hairpin = rules->is_inside(k.src);
      if (hairpin) {
        uint16_t xp;
        if (!outside_port(k.proto, k.src, k.sport, dst, &xp, &why)) {
          bump(counters_.ports_exhausted);
          return why;
        }
        reply.dst = dst;
        reply.dport = xp;
        kind |= kKindSnat;
      }
      const TcpState st = k.proto == Proto::kTcp ? TcpState::kSynSent : TcpState::kNone;
      const uint32_t nid = create(k, reply, kind, kAnyPort, st, now, &why);
      if (nid == SessionTable::kNone) {
        if (hairpin) {
          SessionTable::Session tmp{};
          tmp.inside = k;
          tmp.outside = reply;
          tmp.kind = kind;
          release_outside(tmp);
        }
        return why;
      }
      if (hairpin) bump(counters_.hairpin);
      const SessionTable::Session& s = table_.at(nid);
      if (p.more_fragments) remember_fragment(ip, nid, true, now);
      apply(ip, len, s, true, false);
      m->session = nid;
      m->orig = true;
      m->dest_rewritten = true;
      m->source_pending = hairpin;
      bump(counters_.translated);
      return Verdict::kTranslated;
    }
  }

  // Nor does anything reach a NAT port of the router without one.
  if (from_outside) {
    if (to_inside()) return unmatched();
    const bool echo_request = k.proto == Proto::kIcmp && icmp_type == kEchoRequest;
    if (rules->is_router_address(dst) && !echo_request &&
        (k.proto == Proto::kIcmp || (k.dport >= cfg_.port_first && k.dport <= cfg_.port_last))) {
      // A reply for a mapping that is gone (or never was). Ports outside the NAT range and
      // echo requests stay the router's own.
      bump(counters_.filtered);
      return Verdict::kFiltered;
    }
  }
  return Verdict::kPass;
}

Verdict Engine::icmp_error(uint8_t* ip, size_t len) {
  const size_t hlen = size_t{ip[0] & 0xfu} * 4;
  const size_t total = rd16(ip + 2);
  const uint8_t* q = ip + hlen + 8;
  const size_t qlen = total - hlen - 8;
  const size_t qhlen = size_t{q[0] & 0xfu} * 4;
  if ((q[0] >> 4) != 4 || qhlen < 20 || qlen < qhlen + 8) return Verdict::kPass;
  const uint8_t qproto = q[9];
  if (!tracked(qproto) || (rd16(q + 6) & 0x1fff) != 0) return Verdict::kPass;
  // The quoted packet left in some direction; a packet in the other direction has the
  // reversed tuple, which is what the session indexes hold.
  const uint8_t* ql4 = q + qhlen;
  FlowKey rev{rd32(q + 16), rd32(q + 12), 0, 0, static_cast<Proto>(qproto)};
  if (qproto == static_cast<uint8_t>(Proto::kIcmp)) {
    if (ql4[0] != kEchoRequest && ql4[0] != kEchoReply) return Verdict::kPass;
    rev.sport = rev.dport = rd16(ql4 + 4);
  } else {
    rev.sport = rd16(ql4 + 2);
    rev.dport = rd16(ql4);
  }
  bool about_orig = true;  // the quote is an orig-direction packet, as the router sent it
  const uint64_t h = hash(rev);
  uint32_t id = table_.find_outside(rev, h);
  if (id == SessionTable::kNone) {
    id = table_.find_inside(rev, h);
    about_orig = false;
  }
  if (id == SessionTable::kNone) return Verdict::kPass;
  const SessionTable::Session& s = table_.at(id);
  // The quote becomes the packet as its sender sent it; the error goes back to that sender.
  const FlowKey& sent = about_orig ? s.inside : s.outside;  // as it arrived at the router
  const FlowKey& other = about_orig ? s.outside : s.inside;
  rewrite_icmp_error_quote(ip, len, Side::kSource, be32(sent.src), be16(sent.sport));
  rewrite_icmp_error_quote(ip, len, Side::kDestination, be32(sent.dst), be16(sent.dport));
  // The outer header: to the quote's source; from the quote's destination when the error
  // comes from the far end itself (an intermediate router's address stays).
  if (rd32(ip + 12) == other.src) rewrite(ip, len, Side::kSource, be32(sent.dst), 0);
  rewrite(ip, len, Side::kDestination, be32(sent.src), 0);
  bump(counters_.icmp_errors);
  return Verdict::kTranslated;
}

Verdict Engine::post(uint8_t* ip, size_t len, uint16_t out_port, uint32_t out_addr, uint32_t now,
                     const Match& m) {
  const Rules* rules = rules_;
  if (rules == nullptr) return Verdict::kPass;
  if (m.session != SessionTable::kNone) {
    if (m.source_pending) {
      const SessionTable::Session& s = table_.at(m.session);
      Packet p;
      if (parse(ip, len, &p) && p.later_fragment) {
        const FlowKey& to = m.orig ? s.outside : s.inside;
        rewrite(ip, len, Side::kSource, be32(to.dst), 0);
      } else {
        apply(ip, len, s, m.orig, true);
      }
    }
    return Verdict::kTranslated;
  }
  if (rules->find_masquerade(rd32(ip + 12), out_port) == nullptr) return Verdict::kPass;
  return masquerade(ip, len, out_port, out_addr, now);
}

Verdict Engine::masquerade(uint8_t* ip, size_t len, uint16_t out_port, uint32_t out_addr,
                           uint32_t now) {
  Packet p;
  if (!parse(ip, len, &p)) return Verdict::kTruncated;
  // From here on the packet would leave with an inside source: it is translated or dropped.
  if (p.later_fragment) {
    bump(counters_.fragments_untracked);
    return Verdict::kFragmentUntracked;
  }
  if (out_addr == 0) return Verdict::kNoAddress;
  FlowKey k;
  uint8_t icmp_type = 0, flags = 0;
  if (!tracked(p.proto)) return Verdict::kUnsupported;
  if (!key_of(ip, p, &k, &icmp_type, &flags))
    return p.proto == static_cast<uint8_t>(Proto::kIcmp) ? Verdict::kUnsupported
                                                         : Verdict::kTruncated;
  if (k.proto == Proto::kIcmp && icmp_type != kEchoRequest) return Verdict::kUnsupported;
  // An RST opens nothing (its connection is gone); sending it with the inside address would
  // leak that address.
  if (k.proto == Proto::kTcp && (flags & kRst)) {
    bump(counters_.filtered);
    return Verdict::kFiltered;
  }
  Verdict why = Verdict::kPortsExhausted;
  uint16_t xp;
  if (!outside_port(k.proto, k.src, k.sport, out_addr, &xp, &why)) {
    bump(counters_.ports_exhausted);
    return why;
  }
  const FlowKey reply{k.dst, out_addr, k.dport, xp, k.proto};
  const FlowKey reply_icmp{k.dst, out_addr, xp, xp, k.proto};
  TcpState st = TcpState::kNone;
  if (k.proto == Proto::kTcp) st = tcp_advance(TcpState::kNone, flags, true);
  const uint32_t id =
      create(k, k.proto == Proto::kIcmp ? reply_icmp : reply, kKindSnat, out_port, st, now, &why);
  if (id == SessionTable::kNone) {
    SessionTable::Session tmp{};
    tmp.inside = k;
    tmp.outside = k.proto == Proto::kIcmp ? reply_icmp : reply;
    tmp.kind = kKindSnat;
    release_outside(tmp);
    return why;
  }
  if (p.more_fragments) remember_fragment(ip, id, true, now);
  apply(ip, len, table_.at(id), true, true);
  bump(counters_.translated);
  return Verdict::kTranslated;
}

void Engine::restore_destination(uint8_t* ip, size_t len, const Match& m) const {
  if (m.session == SessionTable::kNone || !m.dest_rewritten) return;
  const SessionTable::Session& s = table_.at(m.session);
  const FlowKey& as_sent = m.orig ? s.inside : s.outside;
  Packet p;
  if (!parse(ip, len, &p)) return;
  rewrite(ip, len, Side::kDestination, be32(as_sent.dst),
          p.later_fragment ? 0 : be16(as_sent.dport));
}

uint64_t Engine::key_hash(const uint8_t* ip, size_t len) const {
  Packet p;
  if (!parse(ip, len, &p) || p.later_fragment || !tracked(p.proto)) return 0;
  FlowKey k;
  uint8_t icmp_type = 0, flags = 0;
  if (!key_of(ip, p, &k, &icmp_type, &flags)) return 0;
  return hash(k);
}

unsigned Engine::owner(const uint8_t* ip, size_t len, unsigned workers) const {
  if (workers <= 1) return 0;
  Packet p;
  if (!parse(ip, len, &p)) return cfg_.worker;
  const Rules* rules = rules_;
  uint32_t src = rd32(ip + 12), dst = rd32(ip + 16);
  uint16_t dport = 0;
  bool ports = false;
  Proto proto = static_cast<Proto>(p.proto);
  if (tracked(p.proto) && !p.later_fragment) {
    const uint8_t* l4 = ip + p.hlen;
    if (p.proto == static_cast<uint8_t>(Proto::kIcmp) && is_icmp_error(ip, len)) {
      // The quote, reversed: a packet in the other direction of the quoted one's session.
      const uint8_t* q = l4 + 8;
      const size_t qhlen = size_t{q[0] & 0xfu} * 4;
      if (qhlen >= 20 && p.l4_len >= 8 + qhlen + 8) {
        src = rd32(q + 16);
        dst = rd32(q + 12);
        proto = static_cast<Proto>(q[9]);
        const uint8_t* ql4 = q + qhlen;
        if (q[9] == static_cast<uint8_t>(Proto::kIcmp)) {
          dport = rd16(ql4 + 4);
          ports = true;
        } else if (q[9] == static_cast<uint8_t>(Proto::kTcp) ||
                   q[9] == static_cast<uint8_t>(Proto::kUdp)) {
          dport = rd16(ql4);
          ports = true;
        }
      }
    } else if (p.l4_len >= 8) {
      dport = p.proto == static_cast<uint8_t>(Proto::kIcmp) ? rd16(l4 + 4) : rd16(l4 + 2);
      ports = true;
    }
  }
  if (rules != nullptr && rules->is_router_address(dst)) {
    // To a NAT address: an allocated port names the worker whose share it is; a forwarded
    // port (or no port) the remote end.
    if (ports && dport >= cfg_.port_first && dport <= cfg_.port_last &&
        (proto == Proto::kIcmp || !rules->is_forward_port(proto, dst, dport)))
      return static_cast<unsigned>((dport - cfg_.port_first) % workers);
    return pick(src, workers);
  }
  return pick(dst, workers);
}

size_t Engine::expire(uint32_t now) {
  const size_t n =
      table_.expire(now, [this](uint32_t, const SessionTable::Session& s) { release_outside(s); });
  if (n) bump(counters_.expired, n);
  return n;
}

size_t Engine::flush_port(uint16_t port) {
  size_t n = 0;
  for (uint32_t id = 0; id < table_.capacity(); ++id) {
    if (!table_.live(id)) continue;
    const SessionTable::Session& s = table_.at(id);
    if ((s.kind & kKindSnat) && s.port == port) {
      erase(id);
      ++n;
    }
  }
  if (n) bump(counters_.flushed, n);
  return n;
}

size_t Engine::flush_all() {
  size_t n = 0;
  for (uint32_t id = 0; id < table_.capacity(); ++id)
    if (table_.live(id)) {
      erase(id);
      ++n;
    }
  if (n) bump(counters_.flushed, n);
  return n;
}

void Engine::sessions(std::vector<SessionView>& out, uint32_t now) const {
  for (uint32_t id = 0; id < table_.capacity(); ++id) {
    if (!table_.live(id)) continue;
    const SessionTable::Session& s = table_.at(id);
    const TcpState st = static_cast<TcpState>(s.state);
    const uint32_t timeout = timeout_of(s.inside.proto, st);
    const uint32_t left = s.deadline > now ? s.deadline - now : 0;
    out.push_back({s.inside.proto, s.inside, s.outside, s.kind, st,
                   left < timeout ? timeout - left : 0, s.port});
  }
}

}  // namespace sluice::nat
