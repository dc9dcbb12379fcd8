// xdp_program_test.cpp — the XDP program of AF_XDP ports (xdp/sluice_xdp.bpf.c) on the real
// kernel: the built object is loaded (so the verifier checks it) and run on hand-built frames
// with BPF_PROG_TEST_RUN; each policy line must pick its counter, and every verdict must be
// XDP_PASS because no AF_XDP socket is bound (the fail-open property). NAT's rules are driven
// through the sluice_nat_ports map, by map updates and through its mmap'd words. Then the loader
// helper (xdp/xdp_loader.h) against a veth pair in a throwaway network namespace. Needs root;
// skips otherwise. The object comes from $SLUICE_XDP_OBJECT (set by meson).
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "xdp/sluice_xdp.h"
#include "xdp/xdp_loader.h"

namespace sluice::xdp {
namespace {

// ---- frames, byte by byte ------------------------------------------------------------------

constexpr uint16_t kIpv4 = 0x0800, kArp = 0x0806, kIpv6 = 0x86dd, kDot1q = 0x8100, kDot1ad = 0x88a8,
                   kLldp = 0x88cc;
constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;

constexpr uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d;
}
const uint32_t kRouter = ip(10, 0, 0, 1);         // a host-owned address
const uint32_t kSubnetBcast = ip(10, 0, 0, 255);  // host-owned too (sluiced adds them)
const uint32_t kOutside = ip(198, 51, 100, 1);    // host-owned and a NAT outside address
const uint32_t kClient = ip(10, 0, 0, 2);
const uint32_t kFarAway = ip(192, 0, 2, 7);  // transit

using Frame = std::vector<uint8_t>;

void put16(Frame& f, uint16_t v) {
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
void put32(Frame& f, uint32_t v) {
  put16(f, static_cast<uint16_t>(v >> 16));
  put16(f, static_cast<uint16_t>(v));
}

// Ethernet header, optionally with one tag (tpid 0x8100 or 0x88a8) before `type`.
Frame ethernet(uint16_t type, std::optional<uint16_t> tpid = std::nullopt) {
  Frame f = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
  if (tpid) {
    put16(f, *tpid);
    put16(f, 42);  // VLAN id
  }
  put16(f, type);
  return f;
}

struct Ip4 {
  uint32_t src = kClient;
  uint32_t dst = kFarAway;
  uint8_t proto = kUdp;
  uint16_t frag_off = 0x4000;  // DF
  uint8_t version = 4;
  uint8_t ihl = 5;
  int tot_len = -1;  // -1: the header plus the payload
};

// Appends an IPv4 header (options zero-filled for ihl > 5) and the payload.
void ipv4(Frame& f, const Ip4& h, const Frame& payload) {
  const std::size_t start = f.size();
  const unsigned hlen = h.ihl * 4u;
  f.push_back(static_cast<uint8_t>(h.version << 4 | h.ihl));
  f.push_back(0);
  put16(f, static_cast<uint16_t>(h.tot_len >= 0 ? static_cast<std::size_t>(h.tot_len)
                                                : std::max(hlen, 20u) + payload.size()));
  put16(f, 0x1234);
  put16(f, h.frag_off);
  f.push_back(64);
  f.push_back(h.proto);
  put16(f, 0);  // checksum: below
  put32(f, h.src);
  put32(f, h.dst);
  for (unsigned i = 20; i < hlen; ++i) f.push_back(i == 20 ? 1 : 0);  // NOP options
  uint32_t sum = 0;
  for (std::size_t i = start; i + 1 < f.size(); i += 2) sum += uint32_t{f[i]} << 8 | f[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  f[start + 10] = static_cast<uint8_t>(~sum >> 8);
  f[start + 11] = static_cast<uint8_t>(~sum);
  f.insert(f.end(), payload.begin(), payload.end());
}

Frame icmp(uint8_t type) {
  Frame p = {type, 0, 0, 0, 0x00, 0x07, 0x00, 0x01};  // checksum not checked by the program
  for (int i = 0; i < 16; ++i) p.push_back(static_cast<uint8_t>(i));
  return p;
}

Frame tcp_syn(uint16_t dport) {
  Frame p;
  put16(p, 40000);
  put16(p, dport);
  put32(p, 1);
  put32(p, 0);
  p.push_back(0x50);
  p.push_back(0x02);
  put16(p, 65535);
  put32(p, 0);
  return p;
}

Frame tcp_segment(uint16_t sport, uint16_t dport) {
  Frame p = tcp_syn(dport);
  p[0] = static_cast<uint8_t>(sport >> 8);
  p[1] = static_cast<uint8_t>(sport);
  p[13] = 0x10;  // ACK
  return p;
}

Frame udp(uint16_t sport, uint16_t dport, std::size_t data = 8) {
  Frame p;
  put16(p, sport);
  put16(p, dport);
  put16(p, static_cast<uint16_t>(8 + data));
  put16(p, 0);  // no checksum
  p.resize(8 + data, 0xab);
  return p;
}

Frame icmp_echo(uint8_t type, uint16_t id) {
  Frame p = icmp(type);
  p[4] = static_cast<uint8_t>(id >> 8);
  p[5] = static_cast<uint8_t>(id);
  return p;
}

// An ICMP error quoting `quoted` (an IPv4 packet, header first), of which only the first
// `quote_len` bytes are kept.
Frame icmp_error(uint8_t type, uint8_t code, const Frame& quoted, std::size_t quote_len) {
  Frame p(8 + quote_len, 0);  // checksum (not checked) and the unused word stay zero
  p[0] = type;
  p[1] = code;
  std::copy_n(quoted.begin(), quote_len, p.begin() + 8);
  return p;
}

// What NAT sent out from the outside address, as an ICMP error quotes it.
Frame sent(const Ip4& h, const Frame& payload) {
  Frame f;
  ipv4(f, h, payload);
  return f;
}

Frame ip_frame(const Ip4& h, const Frame& payload, std::optional<uint16_t> tpid = std::nullopt) {
  Frame f = ethernet(kIpv4, tpid);
  ipv4(f, h, payload);
  return f;
}

Frame arp_request() {
  Frame f = ethernet(kArp);
  f[0] = f[1] = f[2] = f[3] = f[4] = f[5] = 0xff;
  put16(f, 1);      // Ethernet
  put16(f, kIpv4);  // IPv4
  f.push_back(6);
  f.push_back(4);
  put16(f, 1);  // request
  f.insert(f.end(), {0x02, 0, 0, 0, 0, 0x02});
  put32(f, kClient);
  f.insert(f.end(), {0, 0, 0, 0, 0, 0});
  put32(f, kRouter);
  return f;
}

// ---- bridge members: destination MACs ------------------------------------------------------

using Mac = std::array<uint8_t, 6>;
const Mac kLocalMac = {0x02, 0, 0, 0, 0, 0x01};   // the bridge's MAC: what ethernet() puts
const Mac kMemberMac = {0x02, 0, 0, 0, 0, 0x0a};  // another member's MAC, local too
const Mac kOtherMac = {0x02, 0, 0, 0, 0, 0x99};   // a host behind some member: bridged
const Mac kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const Mac kIpv4McastMac = {0x01, 0x00, 0x5e, 0, 0, 0x05};
const Mac kIpv6McastMac = {0x33, 0x33, 0, 0, 0, 0x01};
const Mac kStpMac = {0x01, 0x80, 0xc2, 0, 0, 0};
const Mac kLldpMac = {0x01, 0x80, 0xc2, 0, 0, 0x0e};

// As set_bridge_local wants it: the 6 bytes in the low bytes of a uint64_t.
uint64_t packed(const Mac& m) {
  uint64_t v = 0;
  std::memcpy(&v, m.data(), m.size());
  return v;
}

// `f` sent to `dst` instead.
Frame to(const Mac& dst, Frame f) {
  std::copy(dst.begin(), dst.end(), f.begin());
  return f;
}

// ARP for IPv4 (operation 1 request, 2 reply) from kClient asking for or answering `target`,
// optionally under one tag.
Frame arp(uint16_t oper, uint32_t target, const Mac& dst,
          std::optional<uint16_t> tpid = std::nullopt) {
  Frame f = to(dst, ethernet(kArp, tpid));
  put16(f, 1);      // Ethernet
  put16(f, kIpv4);  // IPv4
  f.push_back(6);
  f.push_back(4);
  put16(f, oper);
  f.insert(f.end(), {0x02, 0, 0, 0, 0, 0x02});
  put32(f, kClient);
  f.insert(f.end(), {0, 0, 0, 0, 0, 0});
  put32(f, target);
  return f;
}

// A spanning-tree BPDU: 802.3 (a length, not an EtherType), LLC 42 42 03, a config BPDU.
Frame stp_bpdu() {
  Frame f = to(kStpMac, ethernet(38));
  f.insert(f.end(), {0x42, 0x42, 0x03});
  f.resize(f.size() + 35, 0);
  return f;
}

Frame padded(Frame f, std::size_t len) {
  f.resize(std::max(f.size(), len), 0);
  return f;
}

Frame cut(Frame f, std::size_t len) {
  f.resize(len);
  return f;
}

Frame with_zeros(uint16_t type, std::size_t payload) {
  Frame f = ethernet(type);
  f.resize(f.size() + payload, 0);
  return f;
}

// ---- the program, loaded but not attached --------------------------------------------------

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};
using Object = std::unique_ptr<bpf_object, ObjectCloser>;

// Opens and loads the built object; the verifier runs here. Fails the test on any error.
Object load_object() {
  const std::string path = object_path();
  bpf_object* obj = bpf_object__open_file(path.c_str(), nullptr);
  if (!obj) {
    ADD_FAILURE() << "cannot open " << path << ": " << std::strerror(errno);
    return nullptr;
  }
  Object owned(obj);
  if (const int err = bpf_object__load(obj); err != 0) {
    ADD_FAILURE() << "cannot load " << path << " (verifier log above): " << std::strerror(-err);
    return nullptr;
  }
  return owned;
}

int map_fd(bpf_object* obj, const char* name) {
  bpf_map* m = bpf_object__find_map_by_name(obj, name);
  return m ? bpf_map__fd(m) : -1;
}

int prog_fd(bpf_object* obj) {
  bpf_program* p = bpf_object__find_program_by_name(obj, SLUICE_XDP_PROG_NAME);
  return p ? bpf_program__fd(p) : -1;
}

// Runs prog once on `frame` (BPF_PROG_TEST_RUN); the verdict.
uint32_t run_once(int prog, const Frame& frame) {
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.repeat = 1;
  EXPECT_EQ(bpf_prog_test_run_opts(prog, &opts), 0) << std::strerror(errno);
  return opts.retval;
}

class XdpProgram : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "loading and running XDP programs needs root";
    obj_ = load_object();
    ASSERT_TRUE(obj_);
    prog_ = prog_fd(obj_.get());
    local_ = map_fd(obj_.get(), SLUICE_XDP_LOCAL_MAP);
    stats_ = map_fd(obj_.get(), SLUICE_XDP_STATS_MAP);
    ASSERT_GE(prog_, 0) << "no program named " SLUICE_XDP_PROG_NAME;
    ASSERT_GE(local_, 0) << "no map named " SLUICE_XDP_LOCAL_MAP;
    ASSERT_GE(stats_, 0) << "no map named " SLUICE_XDP_STATS_MAP;
    ASSERT_GE(map_fd(obj_.get(), SLUICE_XDP_XSKS_MAP), 0) << "no map named " SLUICE_XDP_XSKS_MAP;
    nat_ports_ = map_fd(obj_.get(), SLUICE_XDP_NAT_PORTS_MAP);
    ASSERT_GE(nat_ports_, 0) << "no map named " SLUICE_XDP_NAT_PORTS_MAP;
    config_ = map_fd(obj_.get(), SLUICE_XDP_CONFIG_MAP);
    ASSERT_GE(config_, 0) << "no map named " SLUICE_XDP_CONFIG_MAP;
    bridge_local_ = map_fd(obj_.get(), SLUICE_XDP_BRIDGE_LOCAL_MAP);
    ASSERT_GE(bridge_local_, 0) << "no map named " SLUICE_XDP_BRIDGE_LOCAL_MAP;
    const uint32_t locals[] = {htonl(kRouter), htonl(kSubnetBcast)};
    const uint32_t nats[] = {htonl(kOutside)};
    replace_local_addresses(local_, locals, nats, "test");
  }

  void set_config(uint32_t flags) {
    const uint32_t zero = 0;
    ASSERT_EQ(bpf_map_update_elem(config_, &zero, &flags, BPF_ANY), 0);
  }

  // A bridge member whose bridge's local MACs are kLocalMac and kMemberMac.
  void make_member(uint32_t flags) {
    const uint64_t macs[] = {packed(kLocalMac), packed(kMemberMac)};
    replace_bridge_local(bridge_local_, macs, "test");
    set_config(flags);
  }

  // Runs the program once on `frame`; expects XDP_PASS and exactly counter `want` to rise by 1.
  void expect(const Frame& frame, sluice_xdp_stat want) {
    const Stats before = read_stats(stats_, "test");
    // No socket is bound: even a redirect falls back to the kernel.
    EXPECT_EQ(run_once(prog_, frame), static_cast<uint32_t>(XDP_PASS));
    const Stats after = read_stats(stats_, "test");
    for (unsigned i = 0; i < kStatCount; ++i)
      EXPECT_EQ(after[i] - before[i], i == static_cast<unsigned>(want) ? 1u : 0u)
          << "counter " << stat_name(i) << " (expected " << stat_name(want) << " to count)";
  }

  // Claims (or releases) port or identifier `port` of NAT block `block` through the map's
  // system-call interface; NatPortsMapWritesReachTheProgram covers the mmap'd words.
  void set_claim(unsigned block, uint16_t port, bool on) {
    const uint32_t key = SLUICE_XDP_NAT_WORD(block, port);
    uint64_t word = 0;
    ASSERT_EQ(bpf_map_lookup_elem(nat_ports_, &key, &word), 0);
    word = on ? word | SLUICE_XDP_NAT_BIT(port) : word & ~SLUICE_XDP_NAT_BIT(port);
    ASSERT_EQ(bpf_map_update_elem(nat_ports_, &key, &word, BPF_ANY), 0);
  }

  Object obj_;
  int prog_ = -1;
  int local_ = -1;
  int stats_ = -1;
  int nat_ports_ = -1;
  int config_ = -1;
  int bridge_local_ = -1;
};

TEST_F(XdpProgram, ArpGoesToFastPath) {
  expect(arp_request(), SLUICE_XDP_TO_FASTPATH_ARP);
}

// Mirror mode: the kernel owns ARP; clearing the flag gives it back to the fast path.
TEST_F(XdpProgram, ArpGoesToKernelWhenConfigured) {
  const int config = map_fd(obj_.get(), SLUICE_XDP_CONFIG_MAP);
  ASSERT_GE(config, 0) << "no map named " SLUICE_XDP_CONFIG_MAP;
  const uint32_t zero = 0;
  uint32_t flags = SLUICE_XDP_CONFIG_ARP_TO_KERNEL;
  ASSERT_EQ(bpf_map_update_elem(config, &zero, &flags, BPF_ANY), 0);
  expect(arp_request(), SLUICE_XDP_TO_KERNEL_ARP);
  // Only ARP changes hands.
  expect(ip_frame({}, tcp_syn(80)), SLUICE_XDP_TO_FASTPATH_IPV4);
  flags = 0;
  ASSERT_EQ(bpf_map_update_elem(config, &zero, &flags, BPF_ANY), 0);
  expect(arp_request(), SLUICE_XDP_TO_FASTPATH_ARP);
}

TEST_F(XdpProgram, TransitIpv4GoesToFastPath) {
  expect(ip_frame({}, tcp_syn(80)), SLUICE_XDP_TO_FASTPATH_IPV4);
  // Ethernet pads short frames: a tot_len below the frame length is fine.
  expect(padded(ip_frame({.proto = kUdp}, {1, 2, 3, 4, 5, 6, 7, 8}), 60),
         SLUICE_XDP_TO_FASTPATH_IPV4);
  // A transit echo request is forwarded like anything else.
  expect(ip_frame({.proto = kIcmp}, icmp(8)), SLUICE_XDP_TO_FASTPATH_IPV4);
  // IP options are legal.
  expect(ip_frame({.ihl = 7}, tcp_syn(80)), SLUICE_XDP_TO_FASTPATH_IPV4);
}

TEST_F(XdpProgram, VlanTaggedFramesGoToKernel) {
  expect(ip_frame({}, tcp_syn(80), kDot1q), SLUICE_XDP_TO_KERNEL_VLAN);
  expect(ip_frame({}, tcp_syn(80), kDot1ad), SLUICE_XDP_TO_KERNEL_VLAN);
  expect(ip_frame({.dst = kRouter, .proto = kIcmp}, icmp(8), kDot1q), SLUICE_XDP_TO_KERNEL_VLAN);
}

TEST_F(XdpProgram, EchoToHostAddressGoesToFastPath) {
  expect(ip_frame({.dst = kRouter, .proto = kIcmp}, icmp(8)), SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO);
  expect(ip_frame({.dst = kRouter, .proto = kIcmp, .ihl = 6}, icmp(8)),
         SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO);
  expect(ip_frame({.dst = kSubnetBcast, .proto = kIcmp}, icmp(8)),
         SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO);
}

TEST_F(XdpProgram, OtherTrafficToHostAddressGoesToKernel) {
  expect(ip_frame({.dst = kRouter, .proto = kTcp}, tcp_syn(22)), SLUICE_XDP_TO_KERNEL_LOCAL);
  expect(ip_frame({.dst = kRouter, .proto = kTcp}, tcp_syn(179)), SLUICE_XDP_TO_KERNEL_LOCAL);
  expect(ip_frame({.dst = kSubnetBcast, .proto = kUdp}, Frame(8, 0)), SLUICE_XDP_TO_KERNEL_LOCAL);
  // ICMP other than an echo request (here an echo reply) is the host's.
  expect(ip_frame({.dst = kRouter, .proto = kIcmp}, icmp(0)), SLUICE_XDP_TO_KERNEL_LOCAL);
  // An ICMP header cut short cannot be an echo request sluice answers.
  expect(ip_frame({.dst = kRouter, .proto = kIcmp}, {8, 0, 0, 0}), SLUICE_XDP_TO_KERNEL_LOCAL);
}

TEST_F(XdpProgram, FragmentedEchoToHostAddressGoesToKernel) {
  // First fragment (MF) and a later one (offset): sluice answers only whole datagrams.
  expect(ip_frame({.dst = kRouter, .proto = kIcmp, .frag_off = 0x2000}, icmp(8)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  expect(ip_frame({.dst = kRouter, .proto = kIcmp, .frag_off = 0x00b9}, icmp(8)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
}

TEST_F(XdpProgram, MulticastGoesToKernel) {
  expect(ip_frame({.dst = ip(224, 0, 0, 5), .proto = 89}, Frame(24, 0)),
         SLUICE_XDP_TO_KERNEL_MULTICAST);
  expect(ip_frame({.dst = ip(239, 255, 255, 250)}, Frame(8, 0)), SLUICE_XDP_TO_KERNEL_MULTICAST);
  // Just outside 224/4 on both sides: transit.
  expect(ip_frame({.dst = ip(223, 255, 255, 255)}, Frame(8, 0)), SLUICE_XDP_TO_FASTPATH_IPV4);
  expect(ip_frame({.dst = ip(240, 0, 0, 1)}, Frame(8, 0)), SLUICE_XDP_TO_FASTPATH_IPV4);
}

TEST_F(XdpProgram, LimitedBroadcastGoesToKernel) {
  expect(ip_frame({.src = 0, .dst = 0xffffffff}, Frame(8, 0)), SLUICE_XDP_TO_KERNEL_BROADCAST);
}

TEST_F(XdpProgram, OtherEtherTypesGoToKernel) {
  expect(with_zeros(kIpv6, 40), SLUICE_XDP_TO_KERNEL_NON_IPV4);
  expect(with_zeros(kLldp, 32), SLUICE_XDP_TO_KERNEL_NON_IPV4);
  // ARP is taken only untagged.
  Frame tagged_arp = ethernet(kArp, kDot1q);
  tagged_arp.resize(tagged_arp.size() + 28, 0);
  expect(tagged_arp, SLUICE_XDP_TO_KERNEL_VLAN);
}

TEST_F(XdpProgram, TruncatedIpv4GoesToFastPathAsMalformed) {
  const Frame whole = ip_frame({.dst = kRouter, .proto = kTcp}, tcp_syn(22));
  expect(cut(whole, 14), SLUICE_XDP_TO_FASTPATH_MALFORMED);       // no IP header at all
  expect(cut(whole, 14 + 19), SLUICE_XDP_TO_FASTPATH_MALFORMED);  // cut inside it
  // Options announced but missing.
  expect(cut(ip_frame({.ihl = 15}, {}), 14 + 40), SLUICE_XDP_TO_FASTPATH_MALFORMED);
  // Payload shorter than tot_len says.
  expect(cut(whole, whole.size() - 1), SLUICE_XDP_TO_FASTPATH_MALFORMED);
}

TEST_F(XdpProgram, BadIpv4HeaderGoesToFastPathAsMalformed) {
  // Even to a host address: the fast path counts the drop.
  expect(ip_frame({.dst = kRouter, .proto = kTcp, .ihl = 4}, tcp_syn(22)),
         SLUICE_XDP_TO_FASTPATH_MALFORMED);
  expect(ip_frame({.ihl = 0}, tcp_syn(22)), SLUICE_XDP_TO_FASTPATH_MALFORMED);
  expect(ip_frame({.version = 6}, tcp_syn(22)), SLUICE_XDP_TO_FASTPATH_MALFORMED);
  expect(ip_frame({.tot_len = 19}, tcp_syn(22)), SLUICE_XDP_TO_FASTPATH_MALFORMED);
  expect(ip_frame({.ihl = 6, .tot_len = 20}, tcp_syn(22)), SLUICE_XDP_TO_FASTPATH_MALFORMED);
}

TEST_F(XdpProgram, FrameEndingInsideTheVlanTagIsARunt) {
  // The kernel's test run takes no frame under 14 bytes, so the tag is the place to cut.
  expect(cut(ip_frame({}, tcp_syn(80), kDot1q), 16), SLUICE_XDP_TO_KERNEL_RUNT);
}

TEST_F(XdpProgram, LocalAddressesAreReplacedAsAWhole) {
  auto keys = [&] {
    std::set<uint32_t> out;
    uint32_t key = 0;
    const uint32_t* prev = nullptr;
    uint32_t cur = 0;
    while (bpf_map_get_next_key(local_, prev, &key) == 0) {
      out.insert(key);
      cur = key;
      prev = &cur;
    }
    return out;
  };
  const uint32_t a = htonl(ip(10, 1, 0, 1)), b = htonl(ip(10, 2, 0, 1)), c = htonl(ip(10, 3, 0, 1));
  const uint32_t first[] = {a, b, b};
  replace_local_addresses(local_, first, "test");
  EXPECT_EQ(keys(), (std::set<uint32_t>{a, b}));
  const uint32_t second[] = {c, b};
  replace_local_addresses(local_, second, "test");
  EXPECT_EQ(keys(), (std::set<uint32_t>{b, c}));
  uint32_t flags = 0;
  ASSERT_EQ(bpf_map_lookup_elem(local_, &c, &flags), 0);
  EXPECT_EQ(flags, SLUICE_XDP_LOCAL_PRESENT);
  replace_local_addresses(local_, {}, "test");
  EXPECT_TRUE(keys().empty());

  std::vector<uint32_t> too_many(SLUICE_XDP_LOCAL_MAX + 1);
  for (uint32_t i = 0; i < too_many.size(); ++i) too_many[i] = htonl(ip(10, 9, 0, 0) + i);
  EXPECT_THROW(replace_local_addresses(local_, too_many, "test"), std::runtime_error);
  too_many.pop_back();
  replace_local_addresses(local_, too_many, "test");
  EXPECT_EQ(keys().size(), std::size_t{SLUICE_XDP_LOCAL_MAX});
}

// ---- NAT: traffic to an outside address on a port sluice's NAT claimed ----------------------

TEST_F(XdpProgram, NatTcpToClaimedPortGoesToFastPath) {
  const Frame reply =
      ip_frame({.src = kFarAway, .dst = kOutside, .proto = kTcp}, tcp_segment(443, 40001));
  expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);  // not claimed: a kernel connection's
  set_claim(SLUICE_XDP_NAT_TCP, 40001, true);
  expect(reply, SLUICE_XDP_TO_FASTPATH_NAT);
  // The neighbours of the bit, and the same port in the other blocks, stay the kernel's.
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kTcp}, tcp_segment(443, 40000)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kTcp}, tcp_segment(443, 40002)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kUdp}, udp(443, 40001)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  // The source port is not what counts.
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kTcp}, tcp_segment(40001, 443)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  set_claim(SLUICE_XDP_NAT_TCP, 40001, false);
  expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);
}

TEST_F(XdpProgram, NatUdpToClaimedPortGoesToFastPath) {
  const Frame reply = ip_frame({.src = kFarAway, .dst = kOutside, .proto = kUdp}, udp(53, 1024));
  expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);
  set_claim(SLUICE_XDP_NAT_UDP, 1024, true);
  expect(reply, SLUICE_XDP_TO_FASTPATH_NAT);
  expect(padded(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kUdp}, udp(53, 1024, 0)), 60),
         SLUICE_XDP_TO_FASTPATH_NAT);
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kTcp}, tcp_segment(53, 1024)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  // Port 0 and 65535 are the ends of the block.
  set_claim(SLUICE_XDP_NAT_UDP, 65535, true);
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kUdp}, udp(53, 65535)),
         SLUICE_XDP_TO_FASTPATH_NAT);
  set_claim(SLUICE_XDP_NAT_UDP, 1024, false);
  expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);
  // Ports cut off (a UDP header of 3 bytes, the padding after tot_len is not payload): kernel.
  set_claim(SLUICE_XDP_NAT_UDP, 0, true);
  expect(padded(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kUdp}, {0, 53, 0}), 60),
         SLUICE_XDP_TO_KERNEL_LOCAL);
}

TEST_F(XdpProgram, ClaimedPortToNonNatHostAddressGoesToKernel) {
  set_claim(SLUICE_XDP_NAT_TCP, 22, true);
  set_claim(SLUICE_XDP_NAT_UDP, 53, true);
  set_claim(SLUICE_XDP_NAT_ICMP, 7, true);
  expect(ip_frame({.dst = kRouter, .proto = kTcp}, tcp_syn(22)), SLUICE_XDP_TO_KERNEL_LOCAL);
  expect(ip_frame({.dst = kRouter, .proto = kUdp}, udp(5353, 53)), SLUICE_XDP_TO_KERNEL_LOCAL);
  expect(ip_frame({.dst = kRouter, .proto = kIcmp}, icmp_echo(0, 7)), SLUICE_XDP_TO_KERNEL_LOCAL);
  // Transit traffic is forwarded whatever its ports.
  expect(ip_frame({.proto = kTcp}, tcp_syn(22)), SLUICE_XDP_TO_FASTPATH_IPV4);
  // Other protocols to a NAT address are the host's.
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = 47}, Frame(24, 0)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
}

TEST_F(XdpProgram, NatEchoReplyWithClaimedIdGoesToFastPath) {
  const Frame reply =
      ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp}, icmp_echo(0, 0x4242));
  expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);  // the kernel's own ping
  set_claim(SLUICE_XDP_NAT_ICMP, 0x4242, true);
  expect(reply, SLUICE_XDP_TO_FASTPATH_NAT);
  // The identifier block is not the TCP or UDP one.
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kUdp}, udp(53, 0x4242)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  // Echo requests to a NAT address are answered by sluice as before, claimed or not.
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp}, icmp_echo(8, 0x4242)),
         SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO);
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp}, icmp_echo(8, 1)),
         SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO);
  // Other ICMP (here a timestamp request) stays the kernel's.
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp}, icmp_echo(13, 0x4242)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  set_claim(SLUICE_XDP_NAT_ICMP, 0x4242, false);
  expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);
}

TEST_F(XdpProgram, NatIcmpErrorQuotingClaimedPortGoesToFastPath) {
  // A router on the way says NAT's UDP packet (outside port 40500) ran out of hops.
  const Frame quoted = sent({.src = kOutside, .dst = kFarAway, .proto = kUdp}, udp(40500, 53));
  const Frame error = ip_frame({.src = ip(192, 0, 2, 254), .dst = kOutside, .proto = kIcmp},
                               icmp_error(11, 0, quoted, quoted.size()));
  expect(error, SLUICE_XDP_TO_KERNEL_LOCAL);
  set_claim(SLUICE_XDP_NAT_UDP, 40500, true);
  expect(error, SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR);
  // RFC 792's minimum quote: the header and 8 bytes.
  expect(ip_frame({.src = ip(192, 0, 2, 254), .dst = kOutside, .proto = kIcmp},
                  icmp_error(11, 0, quoted, 28)),
         SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR);
  // The quoted destination port is the far side's: it does not count.
  const Frame to_claimed = sent({.src = kOutside, .dst = kFarAway, .proto = kUdp}, udp(53, 40500));
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp},
                  icmp_error(3, 3, to_claimed, to_claimed.size())),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  // The same error to a host address that is not a NAT address: the kernel's.
  expect(ip_frame({.src = ip(192, 0, 2, 254), .dst = kRouter, .proto = kIcmp},
                  icmp_error(11, 0, quoted, quoted.size())),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  set_claim(SLUICE_XDP_NAT_UDP, 40500, false);
  expect(error, SLUICE_XDP_TO_KERNEL_LOCAL);

  // Destination unreachable about TCP, with IP options in the quote.
  const Frame tcp_quoted =
      sent({.src = kOutside, .dst = kFarAway, .proto = kTcp, .ihl = 7}, tcp_segment(41000, 80));
  const Frame unreachable = ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp},
                                     icmp_error(3, 1, tcp_quoted, 28 + 8));
  expect(unreachable, SLUICE_XDP_TO_KERNEL_LOCAL);
  set_claim(SLUICE_XDP_NAT_TCP, 41000, true);
  expect(unreachable, SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR);
  // Parameter problem about an echo request NAT sent with a claimed identifier.
  const Frame ping = sent({.src = kOutside, .dst = kFarAway, .proto = kIcmp}, icmp_echo(8, 99));
  const Frame problem = ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp},
                                 icmp_error(12, 0, ping, ping.size()));
  expect(problem, SLUICE_XDP_TO_KERNEL_LOCAL);
  set_claim(SLUICE_XDP_NAT_ICMP, 99, true);
  expect(problem, SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR);
  // ... but a quoted echo reply (answering someone's ping) is no NAT ping.
  const Frame pong = sent({.src = kOutside, .dst = kFarAway, .proto = kIcmp}, icmp_echo(0, 99));
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp},
                  icmp_error(3, 3, pong, pong.size())),
         SLUICE_XDP_TO_KERNEL_LOCAL);
  // Other ICMP types with the same bytes (a redirect, type 5) are not errors NAT follows.
  expect(ip_frame({.src = ip(192, 0, 2, 254), .dst = kOutside, .proto = kIcmp},
                  icmp_error(5, 0, tcp_quoted, 28 + 8)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
}

TEST_F(XdpProgram, NatIcmpErrorWithShortOrBadQuoteGoesToKernel) {
  set_claim(SLUICE_XDP_NAT_UDP, 40500, true);
  const Frame quoted = sent({.src = kOutside, .dst = kFarAway, .proto = kUdp}, udp(40500, 53));
  auto error = [](const Frame& q, std::size_t len) {
    return ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp}, icmp_error(11, 0, q, len));
  };
  expect(error(quoted, 28), SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR);  // the reference
  expect(error(quoted, 27), SLUICE_XDP_TO_KERNEL_LOCAL);  // 7 bytes after the quoted header
  expect(error(quoted, 20), SLUICE_XDP_TO_KERNEL_LOCAL);  // none
  expect(error(quoted, 12), SLUICE_XDP_TO_KERNEL_LOCAL);  // the quoted header cut
  expect(error(quoted, 0), SLUICE_XDP_TO_KERNEL_LOCAL);   // no quote
  // The quote ends within the frame but past tot_len: trailing bytes are not the packet's.
  Frame past_end = error(quoted, 28);
  past_end[14 + 2] = 0;
  past_end[14 + 3] = 20 + 8 + 27;
  expect(past_end, SLUICE_XDP_TO_KERNEL_LOCAL);
  // Options announced in the quote push its ports past the 8 bytes present.
  const Frame with_options =
      sent({.src = kOutside, .dst = kFarAway, .proto = kUdp, .ihl = 6}, udp(40500, 53));
  expect(error(with_options, 24 + 8), SLUICE_XDP_TO_FASTPATH_NAT_ICMP_ERROR);
  expect(error(with_options, 24 + 7), SLUICE_XDP_TO_KERNEL_LOCAL);
  // Not an IPv4 header: ihl below 5, version 6.
  Frame bad = quoted;
  bad[0] = 0x44;
  expect(error(bad, 28), SLUICE_XDP_TO_KERNEL_LOCAL);
  bad[0] = 0x65;
  expect(error(bad, 28), SLUICE_XDP_TO_KERNEL_LOCAL);
  // A quoted later fragment has no ports after its header.
  const Frame later =
      sent({.src = kOutside, .dst = kFarAway, .proto = kUdp, .frag_off = 0x00b9}, udp(40500, 53));
  expect(error(later, 28), SLUICE_XDP_TO_KERNEL_LOCAL);
  // The ICMP header itself cut short.
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp}, {11, 0, 0, 0}),
         SLUICE_XDP_TO_KERNEL_LOCAL);
}

TEST_F(XdpProgram, NatLaterFragmentGoesToFastPath) {
  // No ports to look at: every later fragment to a NAT address is sluice's to follow.
  expect(
      ip_frame({.src = kFarAway, .dst = kOutside, .proto = kUdp, .frag_off = 0x00b9}, Frame(64, 0)),
      SLUICE_XDP_TO_FASTPATH_NAT_FRAGMENT);
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp, .frag_off = 0x2001},
                  Frame(64, 0)),
         SLUICE_XDP_TO_FASTPATH_NAT_FRAGMENT);
  // To a host address that is not a NAT address, the kernel's as before.
  expect(
      ip_frame({.src = kFarAway, .dst = kRouter, .proto = kUdp, .frag_off = 0x00b9}, Frame(64, 0)),
      SLUICE_XDP_TO_KERNEL_LOCAL);
  // A first fragment (MF, offset 0) has the ports: the port decides.
  const Frame first = ip_frame(
      {.src = kFarAway, .dst = kOutside, .proto = kUdp, .frag_off = 0x2000}, udp(53, 40600, 64));
  expect(first, SLUICE_XDP_TO_KERNEL_LOCAL);
  set_claim(SLUICE_XDP_NAT_UDP, 40600, true);
  expect(first, SLUICE_XDP_TO_FASTPATH_NAT);
  set_claim(SLUICE_XDP_NAT_ICMP, 7, true);
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp, .frag_off = 0x2000},
                  icmp_echo(0, 7)),
         SLUICE_XDP_TO_FASTPATH_NAT);
  // A fragmented echo request to a NAT address: its first fragment is the kernel's as before.
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp, .frag_off = 0x2000},
                  icmp_echo(8, 7)),
         SLUICE_XDP_TO_KERNEL_LOCAL);
}

TEST_F(XdpProgram, NatAddressesGetTheNatFlag) {
  auto flags_of = [&](uint32_t addr) {
    uint32_t flags = 0;
    return bpf_map_lookup_elem(local_, &addr, &flags) == 0 ? flags : 0u;
  };
  const uint32_t a = htonl(ip(10, 1, 0, 1)), b = htonl(ip(10, 2, 0, 1)), c = htonl(ip(10, 3, 0, 1));
  const uint32_t plain[] = {a, b};
  const uint32_t nat[] = {b, c, c};
  replace_local_addresses(local_, plain, nat, "test");
  EXPECT_EQ(flags_of(a), SLUICE_XDP_LOCAL_PRESENT);
  EXPECT_EQ(flags_of(b), SLUICE_XDP_LOCAL_PRESENT | SLUICE_XDP_LOCAL_NAT);  // in both lists
  EXPECT_EQ(flags_of(c), SLUICE_XDP_LOCAL_PRESENT | SLUICE_XDP_LOCAL_NAT);
  // The one-list form drops the NAT flag of an address that stays.
  const uint32_t again[] = {b, c};
  replace_local_addresses(local_, again, "test");
  EXPECT_EQ(flags_of(a), 0u);
  EXPECT_EQ(flags_of(b), SLUICE_XDP_LOCAL_PRESENT);
  EXPECT_EQ(flags_of(c), SLUICE_XDP_LOCAL_PRESENT);
  // NAT addresses count against the map's size like the others.
  std::vector<uint32_t> half(SLUICE_XDP_LOCAL_MAX / 2 + 1), other(SLUICE_XDP_LOCAL_MAX / 2);
  for (uint32_t i = 0; i < half.size(); ++i) half[i] = htonl(ip(10, 9, 0, 0) + i);
  for (uint32_t i = 0; i < other.size(); ++i) other[i] = htonl(ip(10, 8, 0, 0) + i);
  EXPECT_THROW(replace_local_addresses(local_, half, other, "test"), std::runtime_error);
}

TEST_F(XdpProgram, NatPortsMapWritesReachTheProgram) {
  NatPortsMap m = NatPortsMap::from_fd(nat_ports_, "test");
  ASSERT_TRUE(m);
  ASSERT_NE(m.words(), nullptr);
  const Frame reply = ip_frame({.src = kFarAway, .dst = kOutside, .proto = kUdp}, udp(53, 50001));
  expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);

  // Through the helpers: the bit is the map's word, as the program and a lookup see it.
  m.claim(SLUICE_XDP_NAT_UDP, 50001);
  EXPECT_TRUE(m.claimed(SLUICE_XDP_NAT_UDP, 50001));
  EXPECT_FALSE(m.claimed(SLUICE_XDP_NAT_TCP, 50001));
  const uint32_t key = SLUICE_XDP_NAT_WORD(SLUICE_XDP_NAT_UDP, 50001);
  uint64_t word = 0;
  ASSERT_EQ(bpf_map_lookup_elem(nat_ports_, &key, &word), 0);
  EXPECT_EQ(word, SLUICE_XDP_NAT_BIT(50001));
  expect(reply, SLUICE_XDP_TO_FASTPATH_NAT);
  m.release(SLUICE_XDP_NAT_UDP, 50001);
  expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);

  // Through the raw words, as a worker's atomic OR/AND would; a moved mapping still works.
  NatPortsMap moved = std::move(m);
  EXPECT_FALSE(m);
  std::atomic_ref<uint64_t> w(moved.words()[1024 + 50001 / 64]);
  w.fetch_or(uint64_t{1} << (50001 % 64));
  expect(reply, SLUICE_XDP_TO_FASTPATH_NAT);
  w.fetch_and(~(uint64_t{1} << (50001 % 64)));
  expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);
  // ICMP identifiers and TCP ports, at the ends of their blocks.
  moved.claim(SLUICE_XDP_NAT_ICMP, 65535);
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kIcmp}, icmp_echo(0, 65535)),
         SLUICE_XDP_TO_FASTPATH_NAT);
  moved.claim(SLUICE_XDP_NAT_TCP, 0);
  expect(ip_frame({.src = kFarAway, .dst = kOutside, .proto = kTcp}, tcp_segment(80, 0)),
         SLUICE_XDP_TO_FASTPATH_NAT);

  // The mapping outlives the object that made it.
  obj_.reset();
  EXPECT_TRUE(moved.claimed(SLUICE_XDP_NAT_TCP, 0));
  moved.release(SLUICE_XDP_NAT_TCP, 0);
  EXPECT_FALSE(moved.claimed(SLUICE_XDP_NAT_TCP, 0));
}

// A port's interface re-created: its new program's empty bitmap takes the old one's place
// behind the same address (the workers keep their pointers) and its claims.
TEST_F(XdpProgram, NatPortsMapTakeOverMovesTheClaimsToTheNewMap) {
  Object other = load_object();
  ASSERT_TRUE(other);
  const int other_fd = map_fd(other.get(), SLUICE_XDP_NAT_PORTS_MAP);
  NatPortsMap m = NatPortsMap::from_fd(nat_ports_, "test");
  m.claim(SLUICE_XDP_NAT_TCP, 80);
  uint64_t* const words = m.words();
  NatPortsMap fresh = NatPortsMap::from_fd(other_fd, "test");
  m.take_over(std::move(fresh), "test");
  EXPECT_FALSE(fresh);
  EXPECT_EQ(m.words(), words);
  auto word_in = [](int fd, unsigned block, uint16_t port) {
    const uint32_t key = SLUICE_XDP_NAT_WORD(block, port);
    uint64_t w = 0;
    EXPECT_EQ(bpf_map_lookup_elem(fd, &key, &w), 0);
    return w;
  };
  EXPECT_EQ(word_in(other_fd, SLUICE_XDP_NAT_TCP, 80), SLUICE_XDP_NAT_BIT(80));  // copied
  m.claim(SLUICE_XDP_NAT_UDP, 53);  // through the same pointer, now into the new map only
  EXPECT_EQ(word_in(other_fd, SLUICE_XDP_NAT_UDP, 53), SLUICE_XDP_NAT_BIT(53));
  EXPECT_EQ(word_in(nat_ports_, SLUICE_XDP_NAT_UDP, 53), 0u);
  EXPECT_THROW(m.take_over(NatPortsMap(), "test"), std::runtime_error);
  EXPECT_TRUE(m.claimed(SLUICE_XDP_NAT_TCP, 80));
}

TEST_F(XdpProgram, NatPortsMapRefusesOtherMaps) {
  EXPECT_THROW(NatPortsMap::from_fd(stats_, "test"), std::runtime_error);
  EXPECT_THROW(NatPortsMap::from_fd(local_, "test"), std::runtime_error);
  EXPECT_THROW(NatPortsMap::from_fd(-1, "test"), std::runtime_error);
  const NatPortsMap none;
  EXPECT_FALSE(none);
  EXPECT_EQ(none.words(), nullptr);
}

// ---- bridge members (SLUICE_XDP_CONFIG_BRIDGED) --------------------------------------------

constexpr uint32_t kStaticBridge = SLUICE_XDP_CONFIG_BRIDGED;
constexpr uint32_t kKernelBridge = SLUICE_XDP_CONFIG_BRIDGED | SLUICE_XDP_CONFIG_BRIDGE_KERNEL;

// Rule 2: unicast to a MAC that is not the bridge's is bridged, whatever it carries.
TEST_F(XdpProgram, BridgedUnicastToOtherMacGoesToFastPath) {
  for (const uint32_t flags : {kStaticBridge, kKernelBridge, kKernelBridge | 1u}) {
    SCOPED_TRACE("config " + std::to_string(flags));
    make_member(flags);
    const auto bridged = [&](const Frame& f) {
      expect(to(kOtherMac, f), SLUICE_XDP_TO_FASTPATH_BRIDGED);
    };
    bridged(ip_frame({}, tcp_syn(80)));                               // transit IPv4
    bridged(ip_frame({.dst = kRouter, .proto = kTcp}, tcp_syn(22)));  // to a host address
    bridged(ip_frame({.dst = kRouter, .proto = kIcmp}, icmp(8)));     // an echo request
    bridged(ip_frame({.ihl = 4}, tcp_syn(22)));                       // a bad IPv4 header
    bridged(arp(2, kClient, kOtherMac));                              // an ARP reply
    bridged(arp(2, kRouter, kOtherMac));
    bridged(with_zeros(kIpv6, 40));
    bridged(with_zeros(kLldp, 32));
    bridged(ip_frame({}, tcp_syn(80), kDot1q));  // tagged
    bridged(ip_frame({}, tcp_syn(80), kDot1ad));
    bridged(arp(1, kRouter, kOtherMac, kDot1q));
    bridged(with_zeros(kIpv4, 0));                        // the Ethernet header alone
    bridged(cut(ip_frame({}, tcp_syn(80), kDot1q), 16));  // ends inside the tag
  }
  // A MAC one bit away from a local one is not local.
  make_member(kKernelBridge);
  Mac near = kLocalMac;
  near[5] ^= 0x80;
  expect(to(near, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_FASTPATH_BRIDGED);
  near = kLocalMac;
  near[0] ^= 0x04;
  expect(to(near, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_FASTPATH_BRIDGED);
}

// Rule 3: unicast to a local MAC (the bridge's or any member's) follows the router rules.
TEST_F(XdpProgram, BridgedUnicastToLocalMacFollowsTheRouterRules) {
  for (const uint32_t flags : {kStaticBridge, kKernelBridge}) {
    SCOPED_TRACE("config " + std::to_string(flags));
    make_member(flags);
    for (const Mac& mac : {kLocalMac, kMemberMac}) {
      expect(to(mac, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_FASTPATH_IPV4);
      expect(to(mac, ip_frame({.dst = kRouter, .proto = kTcp}, tcp_syn(22))),
             SLUICE_XDP_TO_KERNEL_LOCAL);
      expect(to(mac, ip_frame({.dst = kRouter, .proto = kIcmp}, icmp(8))),
             SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO);
      expect(to(mac, ip_frame({.ihl = 4}, tcp_syn(22))), SLUICE_XDP_TO_FASTPATH_MALFORMED);
      expect(to(mac, ip_frame({}, tcp_syn(80), kDot1q)), SLUICE_XDP_TO_KERNEL_VLAN);
      expect(arp(2, kRouter, mac, kDot1q), SLUICE_XDP_TO_KERNEL_VLAN);
      expect(to(mac, with_zeros(kIpv6, 40)), SLUICE_XDP_TO_KERNEL_NON_IPV4);
      expect(to(mac, cut(ip_frame({}, tcp_syn(80), kDot1q), 16)), SLUICE_XDP_TO_KERNEL_RUNT);
      expect(arp(2, kRouter, mac), SLUICE_XDP_TO_FASTPATH_ARP);
    }
    // NAT keeps its ports.
    const Frame reply = ip_frame({.src = kFarAway, .dst = kOutside, .proto = kUdp}, udp(53, 40700));
    expect(reply, SLUICE_XDP_TO_KERNEL_LOCAL);
    set_claim(SLUICE_XDP_NAT_UDP, 40700, true);
    expect(reply, SLUICE_XDP_TO_FASTPATH_NAT);
    set_claim(SLUICE_XDP_NAT_UDP, 40700, false);
    // Unicast ARP to a local MAC follows ARP_TO_KERNEL.
    set_config(flags | SLUICE_XDP_CONFIG_ARP_TO_KERNEL);
    expect(arp(2, kRouter, kLocalMac), SLUICE_XDP_TO_KERNEL_ARP);
  }
  // A MAC taken out of the set is bridged from then on; one put in is local.
  make_member(kKernelBridge);
  const uint64_t only_member[] = {packed(kMemberMac), packed(kOtherMac)};
  replace_bridge_local(bridge_local_, only_member, "test");
  expect(ip_frame({}, tcp_syn(80)), SLUICE_XDP_TO_FASTPATH_BRIDGED);
  expect(to(kOtherMac, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_FASTPATH_IPV4);
  replace_bridge_local(bridge_local_, {}, "test");
  expect(to(kMemberMac, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_FASTPATH_BRIDGED);
}

// A member of a Linux bridge sluice does not mirror: unicast to another MAC is the kernel
// bridge's (whatever it carries, transit IPv4 included); to a local MAC, and group frames,
// follow the router rules.
TEST_F(XdpProgram, UnmirroredKernelBridgePortLeavesOtherUnicastToTheKernel) {
  make_member(SLUICE_XDP_CONFIG_KERNEL_BRIDGE_PORT | SLUICE_XDP_CONFIG_ARP_TO_KERNEL);
  expect(to(kOtherMac, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_KERNEL_BRIDGED);
  expect(to(kOtherMac, ip_frame({.dst = kRouter, .proto = kIcmp}, icmp(8))),
         SLUICE_XDP_TO_KERNEL_BRIDGED);
  expect(to(kOtherMac, ip_frame({}, tcp_syn(80), kDot1q)), SLUICE_XDP_TO_KERNEL_BRIDGED);
  expect(to(kOtherMac, arp(2, kClient, kOtherMac)), SLUICE_XDP_TO_KERNEL_BRIDGED);
  for (const Mac& mac : {kLocalMac, kMemberMac}) {
    expect(to(mac, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_FASTPATH_IPV4);
    expect(to(mac, ip_frame({.dst = kRouter, .proto = kIcmp}, icmp(8))),
           SLUICE_XDP_TO_FASTPATH_LOCAL_ECHO);
  }
  // Group frames: the router's rules (ARP to the kernel here, broadcast IPv4 to the kernel).
  expect(arp(1, kRouter, kBroadcastMac), SLUICE_XDP_TO_KERNEL_ARP);
  // Without the flag, the same frame to another MAC is the router's transit IPv4.
  set_config(SLUICE_XDP_CONFIG_ARP_TO_KERNEL);
  expect(to(kOtherMac, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_FASTPATH_IPV4);
}

// Rule 5, ARP: the kernel bridge keeps ARP for the host's addresses, sluice floods the rest.
TEST_F(XdpProgram, KernelBridgeGroupArpSplitsOnTheTarget) {
  make_member(kKernelBridge);
  expect(arp(1, kRouter, kBroadcastMac), SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  expect(arp(1, kSubnetBcast, kBroadcastMac), SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  expect(arp(1, kOutside, kBroadcastMac), SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  expect(arp(1, kClient, kBroadcastMac), SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  expect(arp(1, kFarAway, kBroadcastMac), SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  // A gratuitous reply to broadcast, and ARP to a multicast MAC: the same split.
  expect(arp(2, kClient, kBroadcastMac), SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  expect(arp(1, kRouter, kIpv4McastMac), SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  // Ethernet padding after the 28 bytes is fine.
  expect(padded(arp(1, kRouter, kBroadcastMac), 60), SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  expect(padded(arp(1, kClient, kBroadcastMac), 60), SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  // ARP_TO_KERNEL (mirror mode) does not change it: on a bridge the target decides.
  set_config(kKernelBridge | SLUICE_XDP_CONFIG_ARP_TO_KERNEL);
  expect(arp(1, kRouter, kBroadcastMac), SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  expect(arp(1, kClient, kBroadcastMac), SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  // The target read from the right place: the host address as the sender is not enough.
  Frame from_router = arp(1, kClient, kBroadcastMac);
  const Frame router_bytes = {10, 0, 0, 1};
  std::copy(router_bytes.begin(), router_bytes.end(), from_router.begin() + 14 + 14);
  expect(from_router, SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  // Cut short (the target not all there) or not ARP for IPv4: not for the host.
  expect(cut(arp(1, kRouter, kBroadcastMac), 14 + 27), SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  expect(cut(arp(1, kRouter, kBroadcastMac), 14), SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  Frame other_proto = arp(1, kRouter, kBroadcastMac);
  other_proto[14 + 2] = 0x86;  // ptype 0x86dd
  other_proto[14 + 3] = 0xdd;
  expect(other_proto, SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  Frame other_plen = arp(1, kRouter, kBroadcastMac);
  other_plen[14 + 5] = 16;
  expect(other_plen, SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
}

// Rule 5 under one 802.1Q tag: the inner ARP decides; other tags are not looked into.
TEST_F(XdpProgram, KernelBridgeTaggedGroupArpSplitsOnTheTarget) {
  make_member(kKernelBridge);
  expect(arp(1, kRouter, kBroadcastMac, kDot1q), SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  expect(arp(1, kClient, kBroadcastMac, kDot1q), SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  expect(cut(arp(1, kRouter, kBroadcastMac, kDot1q), 18 + 27), SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP);
  // 802.1ad, and two 802.1Q tags: not ARP as far as the rule goes, the kernel's.
  expect(arp(1, kClient, kBroadcastMac, kDot1ad), SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  Frame double_tagged = arp(1, kClient, kBroadcastMac, kDot1q);
  const Frame inner_tag = {0x81, 0x00, 0x00, 0x07};
  double_tagged.insert(double_tagged.begin() + 16, inner_tag.begin(), inner_tag.end());
  expect(double_tagged, SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  // Tagged non-ARP group traffic: the kernel's.
  expect(to(kBroadcastMac, ip_frame({.dst = 0xffffffff}, udp(68, 67), kDot1q)),
         SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP);
  // Ending inside the tag: a runt.
  expect(cut(arp(1, kRouter, kBroadcastMac, kDot1q), 16), SLUICE_XDP_TO_KERNEL_RUNT);
}

// Rule 5, the rest: every other group frame is the kernel bridge's to flood.
TEST_F(XdpProgram, KernelBridgeOtherGroupTrafficGoesToKernel) {
  make_member(kKernelBridge);
  const auto kernel = [&](const Frame& f) { expect(f, SLUICE_XDP_TO_KERNEL_BRIDGE_GROUP); };
  kernel(to(kBroadcastMac, ip_frame({.src = 0, .dst = 0xffffffff}, udp(68, 67))));  // DHCP
  kernel(to(kBroadcastMac, ip_frame({.dst = kSubnetBcast}, udp(137, 137))));
  kernel(to(kIpv4McastMac, ip_frame({.dst = ip(224, 0, 0, 5), .proto = 89}, Frame(24, 0))));
  kernel(to(kIpv6McastMac, with_zeros(kIpv6, 40)));
  kernel(stp_bpdu());
  kernel(to(kLldpMac, with_zeros(kLldp, 32)));
  // Transit IPv4 or an echo request to a host address, sent to a group MAC: still the kernel's.
  kernel(to(kBroadcastMac, ip_frame({}, tcp_syn(80))));
  kernel(to(kBroadcastMac, ip_frame({.dst = kRouter, .proto = kIcmp}, icmp(8))));
  kernel(to(kBroadcastMac, ip_frame({.ihl = 4}, tcp_syn(22))));
  kernel(to(kBroadcastMac, with_zeros(kIpv4, 0)));  // the Ethernet header alone
}

// Rule 4: on a static sluice bridge sluice floods every group frame.
TEST_F(XdpProgram, StaticBridgeGroupTrafficGoesToFastPath) {
  make_member(kStaticBridge);
  const auto fastpath = [&](const Frame& f) { expect(f, SLUICE_XDP_TO_FASTPATH_BRIDGE_GROUP); };
  fastpath(arp(1, kRouter, kBroadcastMac));
  fastpath(arp(1, kClient, kBroadcastMac));
  fastpath(arp(1, kRouter, kBroadcastMac, kDot1q));
  fastpath(to(kBroadcastMac, ip_frame({.src = 0, .dst = 0xffffffff}, udp(68, 67))));
  fastpath(to(kIpv4McastMac, ip_frame({.dst = ip(224, 0, 0, 5), .proto = 89}, Frame(24, 0))));
  fastpath(to(kIpv6McastMac, with_zeros(kIpv6, 40)));
  fastpath(stp_bpdu());
  fastpath(to(kLldpMac, with_zeros(kLldp, 32)));
  fastpath(to(kBroadcastMac, ip_frame({}, tcp_syn(80), kDot1ad)));
  fastpath(cut(arp(1, kRouter, kBroadcastMac, kDot1q), 16));
  // ARP_TO_KERNEL does not change it.
  set_config(kStaticBridge | SLUICE_XDP_CONFIG_ARP_TO_KERNEL);
  fastpath(arp(1, kRouter, kBroadcastMac));
}

// Without BRIDGED the program is the router's, whatever sluice_br_local and BRIDGE_KERNEL say.
TEST_F(XdpProgram, WithoutBridgedNothingChanges) {
  for (const uint32_t flags : {0u, static_cast<uint32_t>(SLUICE_XDP_CONFIG_BRIDGE_KERNEL)}) {
    SCOPED_TRACE("config " + std::to_string(flags));
    make_member(flags);
    expect(to(kOtherMac, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_FASTPATH_IPV4);
    expect(to(kOtherMac, ip_frame({.dst = kRouter, .proto = kTcp}, tcp_syn(22))),
           SLUICE_XDP_TO_KERNEL_LOCAL);
    expect(to(kOtherMac, with_zeros(kIpv6, 40)), SLUICE_XDP_TO_KERNEL_NON_IPV4);
    expect(to(kOtherMac, ip_frame({}, tcp_syn(80), kDot1q)), SLUICE_XDP_TO_KERNEL_VLAN);
    expect(arp(1, kRouter, kBroadcastMac), SLUICE_XDP_TO_FASTPATH_ARP);
    expect(arp(1, kClient, kBroadcastMac), SLUICE_XDP_TO_FASTPATH_ARP);
    expect(arp(1, kRouter, kBroadcastMac, kDot1q), SLUICE_XDP_TO_KERNEL_VLAN);
    expect(to(kBroadcastMac, ip_frame({.src = 0, .dst = 0xffffffff}, udp(68, 67))),
           SLUICE_XDP_TO_KERNEL_BROADCAST);
    expect(to(kIpv4McastMac, ip_frame({.dst = ip(224, 0, 0, 5), .proto = 89}, Frame(24, 0))),
           SLUICE_XDP_TO_KERNEL_MULTICAST);
    expect(to(kBroadcastMac, ip_frame({}, tcp_syn(80))), SLUICE_XDP_TO_FASTPATH_IPV4);
    expect(stp_bpdu(), SLUICE_XDP_TO_KERNEL_NON_IPV4);
  }
}

TEST_F(XdpProgram, BridgeLocalIsReplacedAsAWhole) {
  auto keys = [&] {
    std::set<std::array<uint8_t, 8>> out;
    sluice_xdp_bridge_local_key key{}, cur{};
    const sluice_xdp_bridge_local_key* prev = nullptr;
    while (bpf_map_get_next_key(bridge_local_, prev, &key) == 0) {
      std::array<uint8_t, 8> bytes;
      std::memcpy(bytes.data(), &key, bytes.size());
      out.insert(bytes);
      cur = key;
      prev = &cur;
    }
    return out;
  };
  // The key is the MAC in wire order and a zero pad; the value PRESENT.
  auto key_of = [](const Mac& m) {
    std::array<uint8_t, 8> k{};
    std::copy(m.begin(), m.end(), k.begin());
    return k;
  };
  static_assert(sizeof(sluice_xdp_bridge_local_key) == 8);
  const uint64_t first[] = {packed(kLocalMac), packed(kMemberMac), packed(kMemberMac)};
  replace_bridge_local(bridge_local_, first, "test");
  EXPECT_EQ(keys(), (std::set{key_of(kLocalMac), key_of(kMemberMac)}));
  sluice_xdp_bridge_local_key k{};
  std::copy(kMemberMac.begin(), kMemberMac.end(), k.mac);
  uint32_t value = 0;
  ASSERT_EQ(bpf_map_lookup_elem(bridge_local_, &k, &value), 0);
  EXPECT_EQ(value, SLUICE_XDP_BRIDGE_LOCAL_PRESENT);
  const uint64_t second[] = {packed(kOtherMac), packed(kMemberMac)};
  replace_bridge_local(bridge_local_, second, "test");
  EXPECT_EQ(keys(), (std::set{key_of(kMemberMac), key_of(kOtherMac)}));
  replace_bridge_local(bridge_local_, {}, "test");
  EXPECT_TRUE(keys().empty());

  // A value with bytes past the sixth is no packed MAC.
  const uint64_t unpacked[] = {packed(kLocalMac) | uint64_t{1} << 56};
  EXPECT_THROW(replace_bridge_local(bridge_local_, unpacked, "test"), std::runtime_error);

  std::vector<uint64_t> too_many(SLUICE_XDP_BRIDGE_LOCAL_MAX + 1);
  for (uint32_t i = 0; i < too_many.size(); ++i) {
    Mac m = {0x02, 0x10, 0, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    too_many[i] = packed(m);
  }
  EXPECT_THROW(replace_bridge_local(bridge_local_, too_many, "test"), std::runtime_error);
  too_many.pop_back();
  // Duplicates do not count against the size.
  too_many.push_back(too_many.front());
  replace_bridge_local(bridge_local_, too_many, "test");
  EXPECT_EQ(keys().size(), std::size_t{SLUICE_XDP_BRIDGE_LOCAL_MAX});
  // A full map can be swapped for another full one (stale entries leave first).
  for (uint64_t& m : too_many) m ^= packed({0, 0x01, 0, 0, 0, 0});
  replace_bridge_local(bridge_local_, too_many, "test");
  EXPECT_EQ(keys().size(), std::size_t{SLUICE_XDP_BRIDGE_LOCAL_MAX});
  EXPECT_EQ(keys().count(key_of({0x02, 0x11, 0, 0, 0, 7})), 1u);
}

TEST(XdpStatNames, EveryCounterHasAName) {
  std::set<std::string> names;
  for (unsigned i = 0; i < kStatCount; ++i) {
    EXPECT_STRNE(stat_name(i), "unknown") << i;
    names.insert(stat_name(i));
  }
  EXPECT_EQ(names.size(), kStatCount);
  EXPECT_STREQ(stat_name(kStatCount), "unknown");
}

// ---- the loader helper against a veth pair in a throwaway namespace ------------------------

// A network namespace with a veth pair (sxt0, sxt1), deleted however the test ends. Only `ip -n`
// commands: nothing in the caller's namespace is touched.
class ScratchNetns {
 public:
  ScratchNetns() : name_("sluice-xdpt-" + std::to_string(getpid())) {
    if (!run("ip netns add " + name_)) throw std::runtime_error("cannot create netns " + name_);
    if (!run("ip -n " + name_ + " link add name sxt0 type veth peer name sxt1") ||
        !run("ip -n " + name_ + " link set sxt0 up") ||
        !run("ip -n " + name_ + " link set sxt1 up")) {
      run("ip netns del " + name_);  // no destructor runs when the constructor throws
      throw std::runtime_error("cannot set up the veth pair in netns " + name_);
    }
  }
  ~ScratchNetns() { run("ip netns del " + name_); }
  ScratchNetns(const ScratchNetns&) = delete;
  ScratchNetns& operator=(const ScratchNetns&) = delete;

  // Runs fn on a thread that has entered the namespace (setns affects only that thread).
  // Exceptions become test failures.
  void run_inside(const std::function<void()>& fn) const {
    std::thread t([&] {
      const int fd = open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        ADD_FAILURE() << "cannot open /run/netns/" << name_ << ": " << std::strerror(errno);
        return;
      }
      const int rc = setns(fd, CLONE_NEWNET);
      close(fd);
      if (rc != 0) {
        ADD_FAILURE() << "cannot enter netns " << name_ << ": " << std::strerror(errno);
        return;
      }
      try {
        fn();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "exception: " << e.what();
      }
    });
    t.join();
  }

 private:
  static bool run(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }

  std::string name_;
};

uint32_t attached_id(int ifindex) {
  uint32_t id = 0;
  EXPECT_EQ(bpf_xdp_query_id(ifindex, 0, &id), 0);
  return id;
}

TEST(XdpLoader, DetachesOnlyItsOwnStaleProgram) {
  if (geteuid() != 0) GTEST_SKIP() << "network namespaces and XDP attach need root";
  const ScratchNetns ns;
  ns.run_inside([] {
    const int ifindex = static_cast<int>(if_nametoindex("sxt0"));
    ASSERT_NE(ifindex, 0) << "sxt0 missing in the scratch netns";

    // Nothing attached: nothing to detach, no program to talk to.
    EXPECT_FALSE(detach_stale(ifindex));
    try {
      AttachedProgram p(ifindex);
      ADD_FAILURE() << "AttachedProgram on an interface without a program did not throw";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("sxt0"), std::string::npos) << e.what();
    }

    // What a sluiced killed with -9 leaves: the program attached, its loader gone. Native
    // (veth supports it) as DPDK's driver does by default, then generic.
    for (const uint32_t mode : {0u, static_cast<uint32_t>(XDP_FLAGS_SKB_MODE)}) {
      SCOPED_TRACE(mode == 0 ? "native mode" : "generic mode");
      {
        Object obj = load_object();
        ASSERT_TRUE(obj);
        ASSERT_EQ(bpf_xdp_attach(ifindex, prog_fd(obj.get()), XDP_FLAGS_UPDATE_IF_NOEXIST | mode,
                                 nullptr),
                  0);
        // The driver's attach refuses to replace it: why detach_stale exists.
        EXPECT_NE(bpf_xdp_attach(ifindex, prog_fd(obj.get()), XDP_FLAGS_UPDATE_IF_NOEXIST | mode,
                                 nullptr),
                  0);
      }
      ASSERT_NE(attached_id(ifindex), 0u) << "the program should outlive its loader";

      {
        AttachedProgram p(ifindex);
        EXPECT_EQ(p.prog_id(), attached_id(ifindex));
        const uint32_t locals[] = {htonl(ip(10, 0, 0, 1))};
        p.set_local_addresses(locals);
        (void)p.stats();  // sxt1's own IPv6 traffic may have counted: only that it reads
        AttachedProgram moved = std::move(p);
        EXPECT_EQ(moved.ifindex(), ifindex);
      }

      // NAT: the outside address and the mapped bitmap of the attached instance steer that
      // same instance (run here with BPF_PROG_TEST_RUN on its fd).
      {
        NatPortsMap ports;
        Fd prog;
        {
          AttachedProgram p(ifindex);
          const uint32_t locals[] = {htonl(ip(10, 0, 0, 1))};
          const uint32_t nats[] = {htonl(kOutside)};
          p.set_local_addresses(locals, nats);
          ports = p.nat_ports();
          prog.reset(bpf_prog_get_fd_by_id(p.prog_id()));
          ASSERT_TRUE(prog) << std::strerror(errno);
        }  // the mapping and the program outlive the AttachedProgram
        AttachedProgram p(ifindex);
        const Frame reply =
            ip_frame({.src = kFarAway, .dst = kOutside, .proto = kTcp}, tcp_segment(443, 45000));
        auto nat_count = [&] { return p.stats()[SLUICE_XDP_TO_FASTPATH_NAT]; };
        const uint64_t before = nat_count();
        EXPECT_EQ(run_once(prog.get(), reply), static_cast<uint32_t>(XDP_PASS));
        EXPECT_EQ(nat_count(), before);
        ports.claim(SLUICE_XDP_NAT_TCP, 45000);
        EXPECT_EQ(run_once(prog.get(), reply), static_cast<uint32_t>(XDP_PASS));
        EXPECT_EQ(nat_count(), before + 1);
        ports.release(SLUICE_XDP_NAT_TCP, 45000);
        EXPECT_EQ(run_once(prog.get(), reply), static_cast<uint32_t>(XDP_PASS));
        EXPECT_EQ(nat_count(), before + 1);
        // Each call maps anew: the same memory underneath.
        const NatPortsMap again = p.nat_ports();
        again.claim(SLUICE_XDP_NAT_UDP, 7);
        EXPECT_TRUE(ports.claimed(SLUICE_XDP_NAT_UDP, 7));
      }

      // Bridge member: the MACs and the config of the attached instance steer it.
      {
        AttachedProgram p(ifindex);
        Fd prog(bpf_prog_get_fd_by_id(p.prog_id()));
        ASSERT_TRUE(prog) << std::strerror(errno);
        const uint64_t macs[] = {packed(kLocalMac)};
        p.set_bridge_local(macs);
        p.set_config(SLUICE_XDP_CONFIG_BRIDGED);
        const Frame transit = ip_frame({}, tcp_syn(80));
        auto bridged = [&] { return p.stats()[SLUICE_XDP_TO_FASTPATH_BRIDGED]; };
        auto routed = [&] { return p.stats()[SLUICE_XDP_TO_FASTPATH_IPV4]; };
        const uint64_t bridged_before = bridged(), routed_before = routed();
        EXPECT_EQ(run_once(prog.get(), to(kOtherMac, transit)), static_cast<uint32_t>(XDP_PASS));
        EXPECT_EQ(bridged(), bridged_before + 1);
        EXPECT_EQ(run_once(prog.get(), transit), static_cast<uint32_t>(XDP_PASS));
        EXPECT_EQ(routed(), routed_before + 1);
        p.set_bridge_local({});
        EXPECT_EQ(run_once(prog.get(), transit), static_cast<uint32_t>(XDP_PASS));
        EXPECT_EQ(bridged(), bridged_before + 2);
        p.set_config(0);
        EXPECT_EQ(run_once(prog.get(), to(kOtherMac, transit)), static_cast<uint32_t>(XDP_PASS));
        EXPECT_EQ(bridged(), bridged_before + 2);
        EXPECT_EQ(routed(), routed_before + 2);
      }

      EXPECT_TRUE(detach_stale(ifindex));
      EXPECT_EQ(attached_id(ifindex), 0u);
      EXPECT_FALSE(detach_stale(ifindex));
      EXPECT_THROW(AttachedProgram{ifindex}, std::runtime_error);
    }

    // Someone else's program stays.
    bpf_insn insns[2] = {};
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
    insns[0].dst_reg = BPF_REG_0;
    insns[0].imm = XDP_PASS;
    insns[1].code = BPF_JMP | BPF_EXIT;
    Fd foreign(bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign_xdp", "GPL", insns, 2, nullptr));
    ASSERT_TRUE(foreign) << std::strerror(errno);
    ASSERT_EQ(bpf_xdp_attach(ifindex, foreign.get(), XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr), 0);
    const uint32_t foreign_id = attached_id(ifindex);
    EXPECT_FALSE(detach_stale(ifindex));
    EXPECT_EQ(attached_id(ifindex), foreign_id);
    try {
      AttachedProgram p(ifindex);
      ADD_FAILURE() << "AttachedProgram accepted a foreign program";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("foreign_xdp"), std::string::npos) << e.what();
    }
    EXPECT_EQ(bpf_xdp_detach(ifindex, 0, nullptr), 0);
  });
}

TEST(XdpLoader, ObjectPathFollowsTheEnvironment) {
  const char* env = std::getenv("SLUICE_XDP_OBJECT");
  const std::string saved = env ? env : "";
  setenv("SLUICE_XDP_OBJECT", "/somewhere/else.o", 1);
  EXPECT_EQ(object_path(), "/somewhere/else.o");
  unsetenv("SLUICE_XDP_OBJECT");
  EXPECT_NE(object_path().find("sluice_xdp.bpf.o"), std::string::npos);
  if (env) setenv("SLUICE_XDP_OBJECT", saved.c_str(), 1);
}

// This test runs from the build tree: without the variable it gets the object built here; a
// program elsewhere (an installed sluiced) gets the installed object, never the build tree's.
TEST(XdpLoader, ObjectPathIsTheBuildTreesOnlyForItsPrograms) {
  const std::string built = SLUICE_XDP_OBJECT_DEFAULT, installed = SLUICE_XDP_OBJECT_INSTALLED;
  ASSERT_NE(built, installed);
  EXPECT_EQ(object_path_for(SLUICE_BUILD_ROOT "/control/sluiced"), built);
  EXPECT_EQ(object_path_for("/usr/sbin/sluiced"), installed);
  EXPECT_EQ(object_path_for(""), installed);
  // A sibling directory whose name merely starts like the build root's is not inside it.
  EXPECT_EQ(object_path_for(SLUICE_BUILD_ROOT "-old/control/sluiced"), installed);
  const char* env = std::getenv("SLUICE_XDP_OBJECT");
  const std::string saved = env ? env : "";
  unsetenv("SLUICE_XDP_OBJECT");
  EXPECT_EQ(object_path(), built);
  if (env) setenv("SLUICE_XDP_OBJECT", saved.c_str(), 1);
}

}  // namespace
}  // namespace sluice::xdp
