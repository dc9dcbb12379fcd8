// nat_bench.cpp — nat-bench: nat::Engine alone (no DPDK, no graph) on raw 46-byte IPv4
// packets (a 64-byte frame without its Ethernet header and CRC), what issue 5 asks of NAT:
//   baseline/no-rules             pre()+post() with no rules set: the loop, the calls and the
//                                 clock reads, the floor every figure below includes
//   established/<p>/<dir>/<N>     N sessions in the table (1k, 100k, 1M), packets of them in
//                                 a fixed random order; orig: inside -> outside, pre() finds the
//                                 session and post() rewrites the source (masquerade); reply:
//                                 outside -> inside, pre() rewrites the destination, post() has
//                                 nothing left to do. <p> udp or tcp (ACKs of established
//                                 connections). The per-packet NAT cost, nothing else.
//   new-sessions/<L>              every packet a fresh flow: pre() misses, post() creates a
//                                 masquerade session; sessions time out (UDP, 4 logical seconds
//                                 of K = L/4 packets) and expire() runs whenever the second
//                                 changes, as the dataplane's worker turn calls it, so the table
//                                 holds L to 1.25 L sessions in steady state; expiry is inside
//                                 the measured time (every created session is expired once).
//   memory/1000000                Engine::bytes() / max_sessions with max_sessions = 1M, what
//                                 that is made of, and the RSS growth after 1M sessions.
// Cycles: TSC cycles read with rdtsc around each batch of 256 packets (the packets are rebuilt
// between batches, outside the measured time, as graph-bench refills its mbufs), reported as
// the counter cycles_per_packet; the benchmark's own time is that measured time (manual time),
// so items_per_second is packets (sessions) per second of one core.
//
// Flows: inside hosts 10.0.0.0/8 (one address per flow), random source ports; remote hosts in
// 198.18.0.0/15; outside addresses 203.0.113.1... Every flow is its own endpoint-independent
// mapping, so the outside ports of one address run out at 64,512 mappings: the sessions are
// spread over ceil(N / 60,000) outside addresses (a NAT pool, as many egress ports would have),
// keeping every address's port range under about 95 % (new sessions: under 50 %). Fixed seeds.
#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "nat/nat_engine.h"
#include "perf/splitmix.h"

namespace {

using namespace sluice::nat;

constexpr size_t kPacketBytes = 46;  // 64-byte frame - 14 Ethernet - 4 CRC
constexpr size_t kBatch = 256;       // packets per measured stretch (all in L1)
constexpr uint16_t kInsidePort = 0, kOutsidePort = 1;
constexpr uint32_t kRemoteBase = 0xC6120000;   // 198.18.0.0/15 (RFC 2544's benchmark range)
constexpr uint32_t kOutsideBase = 0xCB007101;  // 203.0.113.1, TEST-NET-3
constexpr uint32_t kNow = 1000;                // the engines' clock (seconds) when it stands still
constexpr uint8_t kTcpSyn = 0x02, kTcpAck = 0x10;

double g_tsc_hz = 0;

double calibrate_tsc() {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const uint64_t c1 = __rdtsc();
  const auto t1 = std::chrono::steady_clock::now();
  return double(c1 - c0) / std::chrono::duration<double>(t1 - t0).count();
}

using sluice::perf::Rng;  // perf/splitmix.h

void put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
  put16(p, uint16_t(v >> 16));
  put16(p + 2, uint16_t(v));
}
uint16_t get16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t* p) {
  return uint32_t(get16(p)) << 16 | get16(p + 2);
}

uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += get16(p + i);
  if (n & 1) s += uint32_t(p[n - 1]) << 8;
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}

// A 46-byte IPv4 packet with full checksums (a real UDP checksum, so that the incremental
// update is exercised, not skipped as it is for a zero one).
void build(uint8_t* ip, Proto proto, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
           uint8_t tcp_flags = kTcpAck) {
  std::memset(ip, 0, kPacketBytes);
  ip[0] = 0x45;
  put16(ip + 2, kPacketBytes);
  put16(ip + 4, uint16_t(sport ^ dport));
  ip[8] = 64;
  ip[9] = uint8_t(proto);
  put32(ip + 12, src);
  put32(ip + 16, dst);
  put16(ip + 10, fold(sum16(ip, 20)));
  uint8_t* l4 = ip + 20;
  const size_t l4_len = kPacketBytes - 20;
  put16(l4, sport);
  put16(l4 + 2, dport);
  size_t csum_at;
  if (proto == Proto::kTcp) {
    put32(l4 + 4, 1000);  // seq
    put32(l4 + 8, 2000);  // ack
    l4[12] = 5 << 4;
    l4[13] = tcp_flags;
    put16(l4 + 14, 65535);
    csum_at = 16;
  } else {
    put16(l4 + 4, uint16_t(l4_len));
    csum_at = 6;
  }
  for (size_t i = (proto == Proto::kTcp ? 20 : 8); i < l4_len; ++i) l4[i] = uint8_t(i);
  uint32_t s = sum16(ip + 12, 8) + uint8_t(proto) + uint32_t(l4_len);
  uint16_t c = fold(sum16(l4, l4_len, s));
  if (proto == Proto::kUdp && c == 0) c = 0xffff;
  put16(l4 + csum_at, c);
}

Rules masquerade_rules(unsigned addresses) {
  Rules r;
  r.masquerade.push_back(MasqueradeRule{0x0a000000, 8, kOutsidePort});
  for (unsigned a = 0; a < addresses; ++a) r.router_addresses.push_back(kOutsideBase + a);
  return r;
}

uint32_t pow2_at_least(uint32_t n) {
  uint32_t c = 1;
  while (c < n) c <<= 1;
  return c;
}

// ---- established sessions ---------------------------------------------------------------------

struct Flow {
  uint32_t inside, remote, outside;
  uint16_t sport, rport, xport;
};

struct Established {
  Proto proto;
  std::unique_ptr<Engine> engine;
  Rules rules;
  std::vector<Flow> flows;
  std::vector<uint32_t> order;  // a fixed random permutation of the flows
  size_t pos = 0;
};

// Creates N sessions as real traffic would (UDP: a first packet out; TCP: SYN out, SYN+ACK
// back, ACK out), and keeps each flow's outside port.
std::unique_ptr<Established> make_established(Proto proto, uint32_t n) {
  auto st = std::make_unique<Established>();
  st->proto = proto;
  const unsigned addresses = (n + 59999) / 60000;
  st->rules = masquerade_rules(addresses);
  EngineConfig cfg;
  cfg.max_sessions = std::max<uint32_t>(65536, pow2_at_least(n));
  st->engine = std::make_unique<Engine>(cfg);
  Engine& e = *st->engine;
  e.set_rules(&st->rules);
  Rng rng(proto == Proto::kTcp ? 5382 : 4787);
  uint8_t pkt[64];
  Match m;
  st->flows.resize(n);
  for (uint32_t f = 0; f < n; ++f) {
    Flow& fl = st->flows[f];
    fl.inside = 0x0a000001 + f;
    fl.sport = uint16_t(1024 + rng.below(64512));
    fl.remote = kRemoteBase + rng.below(1u << 17);
    fl.rport = proto == Proto::kTcp ? 443 : 53;
    fl.outside = kOutsideBase + f % addresses;
    build(pkt, proto, fl.inside, fl.remote, fl.sport, fl.rport, kTcpSyn);
    Verdict v1 = e.pre(pkt, kPacketBytes, kInsidePort, kNow, &m);
    Verdict v2 = e.post(pkt, kPacketBytes, kOutsidePort, fl.outside, kNow, m);
    if (v1 != Verdict::kPass || v2 != Verdict::kTranslated || get32(pkt + 12) != fl.outside) {
      fprintf(stderr, "nat-bench: flow %u not masqueraded (%d, %d)\n", f, int(v1), int(v2));
      return nullptr;
    }
    fl.xport = get16(pkt + 20);
    if (proto == Proto::kTcp) {
      build(pkt, proto, fl.remote, fl.outside, fl.rport, fl.xport, kTcpSyn | kTcpAck);
      v1 = e.pre(pkt, kPacketBytes, kOutsidePort, kNow, &m);
      e.post(pkt, kPacketBytes, kInsidePort, 0, kNow, m);
      build(pkt, proto, fl.inside, fl.remote, fl.sport, fl.rport, kTcpAck);
      v2 = e.pre(pkt, kPacketBytes, kInsidePort, kNow, &m);
      e.post(pkt, kPacketBytes, kOutsidePort, fl.outside, kNow, m);
      if (v1 != Verdict::kTranslated || v2 != Verdict::kTranslated) {
        fprintf(stderr, "nat-bench: TCP flow %u not established\n", f);
        return nullptr;
      }
    }
  }
  if (e.size() != n) {
    fprintf(stderr, "nat-bench: %zu sessions, %u wanted\n", e.size(), n);
    return nullptr;
  }
  st->order.resize(n);
  for (uint32_t i = 0; i < n; ++i) st->order[i] = i;
  std::mt19937_64 shuffle(42);
  std::shuffle(st->order.begin(), st->order.end(), shuffle);
  return st;
}

Established* established(Proto proto, uint32_t n) {
  // One table per (protocol, size), shared by both directions and every repetition; the
  // largest is about 120 MB.
  static std::map<std::pair<int, uint32_t>, std::unique_ptr<Established>> cache;
  auto& slot = cache[{int(proto), n}];
  if (!slot) slot = make_established(proto, n);
  return slot.get();
}

void report(benchmark::State& state, uint64_t cycles, uint64_t packets, uint64_t bad) {
  state.counters["cycles_per_packet"] = packets ? double(cycles) / double(packets) : 0;
  state.SetItemsProcessed(int64_t(packets));
  if (bad) state.SkipWithError("packets not translated as expected");
}

void bm_established(benchmark::State& state, Proto proto, bool reply, uint32_t n) {
  Established* st = established(proto, n);
  if (st == nullptr) {
    state.SkipWithError("setting up the sessions failed");
    return;
  }
  Engine& e = *st->engine;
  alignas(64) static uint8_t pkts[kBatch][64];
  uint64_t cycles = 0, packets = 0, bad = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i) {
      const Flow& f = st->flows[st->order[st->pos]];
      if (++st->pos == st->order.size()) st->pos = 0;
      if (reply)
        build(pkts[i], proto, f.remote, f.outside, f.rport, f.xport);
      else
        build(pkts[i], proto, f.inside, f.remote, f.sport, f.rport);
    }
    const uint16_t in = reply ? kOutsidePort : kInsidePort;
    const uint16_t out = reply ? kInsidePort : kOutsidePort;
    const uint64_t t0 = __rdtsc();
    for (size_t i = 0; i < kBatch; ++i) {
      Match m;
      const Verdict v1 = e.pre(pkts[i], kPacketBytes, in, kNow, &m);
      const Verdict v2 = e.post(pkts[i], kPacketBytes, out, 0, kNow, m);
      bad += (v1 != Verdict::kTranslated) | (v2 != Verdict::kTranslated);
    }
    const uint64_t dt = __rdtsc() - t0;
    benchmark::DoNotOptimize(pkts);
    cycles += dt;
    packets += kBatch;
    state.SetIterationTime(double(dt) / g_tsc_hz);
  }
  report(state, cycles, packets, bad);
  state.counters["sessions"] = double(e.size());
}

void bm_no_rules(benchmark::State& state) {
  EngineConfig cfg;
  Engine e(cfg);  // no rules: pre() and post() return kPass at once
  alignas(64) static uint8_t pkts[kBatch][64];
  Rng rng(1);
  uint64_t cycles = 0, packets = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; ++i)
      build(pkts[i], Proto::kUdp, 0x0a000001 + rng.below(1000), kRemoteBase, 1024, 53);
    const uint64_t t0 = __rdtsc();
    for (size_t i = 0; i < kBatch; ++i) {
      Match m;
      e.pre(pkts[i], kPacketBytes, kInsidePort, kNow, &m);
      e.post(pkts[i], kPacketBytes, kOutsidePort, kOutsideBase, kNow, m);
    }
    const uint64_t dt = __rdtsc() - t0;
    benchmark::DoNotOptimize(pkts);
    cycles += dt;
    packets += kBatch;
    state.SetIterationTime(double(dt) / g_tsc_hz);
  }
  report(state, cycles, packets, 0);
}

// ---- new sessions -----------------------------------------------------------------------------

struct Churn {
  std::unique_ptr<Engine> engine;
  Rules rules;
  unsigned addresses = 1;
  uint32_t per_second = 0;  // packets (new sessions) per logical second
  uint32_t now = kNow;
  uint64_t made = 0;  // packets so far: flow number and clock
  Rng rng{20240611};
};

constexpr uint32_t kChurnTimeout = 4;  // logical seconds (UDP)

// The next fresh flow's packet and the outside address its egress would give it.
void fresh(Churn& c, uint8_t* pkt, uint32_t* outside) {
  const uint64_t k = c.made++;
  // 16 M inside addresses: an address comes back only after 16 M sessions, long expired.
  const uint32_t inside = 0x0a000000 + uint32_t(k % 0xfffffe) + 1;
  *outside = kOutsideBase + uint32_t(k % c.addresses);
  build(pkt, Proto::kUdp, inside, kRemoteBase + c.rng.below(1u << 17),
        uint16_t(1024 + c.rng.below(64512)), 53);
}

Churn* churn(uint32_t live) {
  static std::map<uint32_t, std::unique_ptr<Churn>> cache;
  auto& slot = cache[live];
  if (slot) return slot.get();
  slot = std::make_unique<Churn>();
  Churn& c = *slot;
  c.per_second = live / kChurnTimeout;
  // At most 1.25 L live: a port range filled to under 50 %.
  c.addresses = (live * 5 / 4 * 2 + 64511) / 64512;
  c.rules = masquerade_rules(c.addresses);
  EngineConfig cfg;
  cfg.max_sessions = std::max<uint32_t>(65536, pow2_at_least(live * 2));
  cfg.timeouts.udp = kChurnTimeout;
  c.engine = std::make_unique<Engine>(cfg);
  c.engine->set_rules(&c.rules);
  c.engine->expire(c.now);  // starts the wheel
  return &c;
}

void bm_new_sessions(benchmark::State& state, uint32_t live) {
  Churn& c = *churn(live);
  Engine& e = *c.engine;
  alignas(64) static uint8_t pkts[kBatch][64];
  static uint32_t outside[kBatch];
  // Steady state first (unmeasured): the table filled and expiring.
  while (c.made < uint64_t(c.per_second) * (kChurnTimeout + 2)) {
    Match m;
    uint8_t pkt[64];
    uint32_t out;
    fresh(c, pkt, &out);
    e.pre(pkt, kPacketBytes, kInsidePort, c.now, &m);
    e.post(pkt, kPacketBytes, kOutsidePort, out, c.now, m);
    if (c.made % c.per_second == 0) e.expire(++c.now);
  }
  uint64_t cycles = 0, packets = 0, bad = 0, expiry_cycles = 0;
  const uint64_t created0 = e.counters().created.load(), expired0 = e.counters().expired.load();
  for (auto _ : state) {
    // The clock ticks inside the batch where it falls: which packets those are is known now.
    const uint64_t first = c.made;
    for (size_t i = 0; i < kBatch; ++i) fresh(c, pkts[i], &outside[i]);
    uint64_t next_tick = (first / c.per_second + 1) * c.per_second;  // packet number
    const uint64_t t0 = __rdtsc();
    for (size_t i = 0; i < kBatch; ++i) {
      Match m;
      const Verdict v1 = e.pre(pkts[i], kPacketBytes, kInsidePort, c.now, &m);
      const Verdict v2 = e.post(pkts[i], kPacketBytes, kOutsidePort, outside[i], c.now, m);
      bad += (v1 != Verdict::kPass) | (v2 != Verdict::kTranslated);
      if (first + i + 1 == next_tick) {
        const uint64_t x0 = __rdtsc();
        e.expire(++c.now);
        expiry_cycles += __rdtsc() - x0;
        next_tick += c.per_second;
      }
    }
    const uint64_t dt = __rdtsc() - t0;
    benchmark::DoNotOptimize(pkts);
    cycles += dt;
    packets += kBatch;
    state.SetIterationTime(double(dt) / g_tsc_hz);
  }
  report(state, cycles, packets, bad);
  state.counters["expiry_cycles_per_session"] = packets ? double(expiry_cycles) / packets : 0;
  state.counters["sessions"] = double(e.size());
  state.counters["outside_addresses"] = c.addresses;
  state.counters["created"] = double(e.counters().created.load() - created0);
  state.counters["expired"] = double(e.counters().expired.load() - expired0);
}

// ---- memory -----------------------------------------------------------------------------------

long rss_bytes() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * 4096;
}

void bm_memory(benchmark::State& state, uint32_t n) {
  for (auto _ : state) {
    const long rss0 = rss_bytes();
    EngineConfig cfg;
    cfg.max_sessions = n;
    Engine e(cfg);
    const unsigned addresses = (n + 59999) / 60000;
    Rules rules = masquerade_rules(addresses);
    e.set_rules(&rules);
    // Fill it: the tables are allocated at construction, but only touched pages are resident.
    uint8_t pkt[64];
    Rng rng(7);
    for (uint32_t f = 0; f < n; ++f) {
      Match m;
      build(pkt, Proto::kUdp, 0x0a000001 + f, kRemoteBase + rng.below(1u << 17),
            uint16_t(1024 + rng.below(64512)), 53);
      e.pre(pkt, kPacketBytes, kInsidePort, kNow, &m);
      e.post(pkt, kPacketBytes, kOutsidePort, kOutsideBase + f % addresses, kNow, m);
    }
    const long rss1 = rss_bytes();
    const SessionTable alone(SessionTable::Config{n, 8192});  // what Engine's table_ holds
    const double per = double(n);
    state.counters["sessions"] = double(e.size());
    state.counters["bytes"] = double(e.bytes());
    state.counters["bytes_per_session"] = double(e.bytes()) / per;
    state.counters["session_table_per_session"] = double(alone.bytes()) / per;
    state.counters["session_struct"] = double(sizeof(SessionTable::Session));
    state.counters["mappings_and_fragments_per_session"] = double(e.bytes() - alone.bytes()) / per;
    state.counters["rss_growth_per_session"] = double(rss1 - rss0) / per;
    if (e.size() != n) state.SkipWithError("the table did not take every session");
  }
}

}  // namespace

int main(int argc, char** argv) {
  g_tsc_hz = calibrate_tsc();
  benchmark::AddCustomContext("tsc_hz", std::to_string(uint64_t(g_tsc_hz)));
  benchmark::AddCustomContext("packet_bytes", std::to_string(kPacketBytes));
  benchmark::AddCustomContext("batch", std::to_string(kBatch));
  benchmark::RegisterBenchmark("baseline/no-rules", bm_no_rules)->UseManualTime();
  for (Proto p : {Proto::kUdp, Proto::kTcp})
    for (bool reply : {false, true})
      for (uint32_t n : {1000u, 100000u, 1000000u}) {
        const std::string name = std::string("established/") + proto_name(p) +
                                 (reply ? "/reply/" : "/orig/") + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), bm_established, p, reply, n)->UseManualTime();
      }
  for (uint32_t live : {25000u, 500000u})
    benchmark::RegisterBenchmark(("new-sessions/" + std::to_string(live)).c_str(), bm_new_sessions,
                                 live)
        ->UseManualTime();
  benchmark::RegisterBenchmark("memory/1000000", bm_memory, 1000000u)
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
