// harness.cpp — EAL for the whole process, and the ring-port router the cases drive.
#include "tests/packet/harness.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

namespace sluice::pkt {
namespace {

// EAL once per process: no hugepages, no PCI scan, no shared files, one lcore (the test
// thread drives the graph itself, so no worker lcores are needed).
class EalEnvironment final : public ::testing::Environment {
 public:
  void SetUp() override {
    prefix_ = "sluice-pkt-" + std::to_string(getpid());
    args_ = {"sluice-packet-test",
             "--no-huge",
             "-m",
             "512",
             "--no-pci",
             "--no-shconf",
             "--file-prefix",
             prefix_,
             "--log-level=4",
             "-l",
             "0"};
    for (std::string& a : args_) argv_.push_back(a.data());
    const int rc = rte_eal_init(static_cast<int>(argv_.size()), argv_.data());
    ASSERT_GE(rc, 0) << "rte_eal_init: " << rte_strerror(rte_errno);
    initialised_ = true;
  }
  void TearDown() override {
    if (initialised_) rte_eal_cleanup();
  }

 private:
  std::string prefix_;
  std::vector<std::string> args_;
  std::vector<char*> argv_;
  bool initialised_ = false;
};

[[maybe_unused]] ::testing::Environment* const g_eal =
    ::testing::AddGlobalTestEnvironment(new EalEnvironment);

void check(const std::string& err, const char* what) {
  if (!err.empty()) ADD_FAILURE() << what << ": " << err;
}

Bytes copy_out(const rte_mbuf* m) {
  Bytes b(rte_pktmbuf_pkt_len(m));
  size_t at = 0;
  for (const rte_mbuf* s = m; s != nullptr; s = s->next) {
    std::copy_n(rte_pktmbuf_mtod(s, const uint8_t*), s->data_len, b.begin() + at);
    at += s->data_len;
  }
  return b;
}

}  // namespace

Router::Router(const RouterOptions& opt) {
  static unsigned instance = 0;
  const std::string tag = std::to_string(instance++);
  DataplaneConfig cfg;
  for (unsigned i = 0; i < kPorts + opt.extra_ports; ++i) {
    const std::string n = tag + "-" + std::to_string(i);
    rte_ring* rx = rte_ring_create(("pkt-rx-" + n).c_str(), opt.ring_size, SOCKET_ID_ANY,
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
    rte_ring* tx = rte_ring_create(("pkt-tx-" + n).c_str(), opt.ring_size, SOCKET_ID_ANY,
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (rx == nullptr || tx == nullptr)
      throw std::runtime_error("rte_ring_create: " + std::string(rte_strerror(rte_errno)));
    rx_.push_back(rx);
    tx_.push_back(tx);
    const int id = rte_eth_from_rings(("pkt-port-" + n).c_str(), &rx, 1, &tx, 1, 0);
    if (id < 0)
      throw std::runtime_error("rte_eth_from_rings: " + std::string(rte_strerror(rte_errno)));
    // net_ring ports start with 00:00:00:00:00:00 and have no "set default MAC" operation;
    // adding an address fills the empty slot 0, which is the default address.
    rte_ether_addr mac;
    port_mac(static_cast<uint16_t>(i)).copy_to(mac.addr_bytes);
    if (rte_eth_dev_mac_addr_add(static_cast<uint16_t>(id), &mac, 0) != 0)
      throw std::runtime_error("cannot give ring port " + n + " its MAC address");
    PortSpec spec;
    spec.kind = PortSpec::Kind::kEthdev;
    spec.name = "p";  // (operator+ on a literal trips GCC 12 -Wrestrict, PR 105329)
    spec.name += std::to_string(i);
    spec.ethdev = static_cast<uint16_t>(id);
    cfg.ports.push_back(spec);
  }
  cfg.workers = opt.workers;
  cfg.launch_workers = false;
  cfg.rx_desc = 256;
  cfg.tx_desc = 256;
  cfg.mbufs = opt.mbufs;
  cfg.icmp_errors_per_second = opt.icmp_errors_per_second;
  cfg.icmp_error_burst = opt.icmp_error_burst;
  cfg.multipath_seed = opt.multipath_seed;
  cfg.fdb_size = opt.fdb_size;
  cfg.tx_coalesce_us = opt.tx_coalesce_us;
  cfg.nat = opt.nat;
  dp_ = std::make_unique<Dataplane>(cfg);
  pool_size_ = dp_->pool()->size;

  ForwardingState& fs = dp_->state();
  for (uint16_t p = 0; p < ports(); ++p) set_mtu(p, 1500);
  check(fs.add_address(kP0, addr(kR0), 24), "address p0");
  check(fs.add_address(kP1, addr(kR1), 24), "address p1");
  check(fs.add_address(kP2, addr(kR2), 24), "address p2");
  NeighbourResolver& nr = dp_->neighbours();
  nr.add_static(kP0, addr("10.1.0.2"), kH0);
  nr.add_static(kP1, addr("10.2.0.2"), kH1);
  nr.add_static(kP1, addr("10.2.0.254"), kG1);
  nr.add_static(kP2, addr("10.3.0.2"), kH2);
  nr.add_static(kP2, addr("10.3.0.254"), kG2);
  RouteTarget via_g1;
  via_g1.gateway = addr("10.2.0.254");
  check(fs.replace_route(pfx("10.20.0.0", 16), via_g1), "route 10.20/16");
  RouteTarget via_g2;
  via_g2.gateway = addr("10.3.0.254");
  check(fs.replace_route(pfx("10.20.30.0", 24), via_g2), "route 10.20.30/24");
  RouteTarget t;
  t.kind = NextHopKind::kBlackhole;
  check(fs.replace_route(pfx("10.30.0.0", 16), t), "blackhole route");
  t.kind = NextHopKind::kUnreachable;
  check(fs.replace_route(pfx("10.31.0.0", 16), t), "unreachable route");
  t.kind = NextHopKind::kProhibit;
  check(fs.replace_route(pfx("10.32.0.0", 16), t), "prohibit route");
}

Router::~Router() {
  for (rte_ring* r : rx_) drain(r);
  for (rte_ring* r : tx_) drain(r);
  dp_.reset();  // closes the ports; the rings are ours to free
  for (rte_ring* r : rx_) rte_ring_free(r);
  for (rte_ring* r : tx_) rte_ring_free(r);
}

void Router::drain(rte_ring* r) {
  void* m;
  while (rte_ring_sc_dequeue(r, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
}

void Router::send_bytes(uint16_t port, const Bytes& b, uint16_t headroom) {
  rte_mbuf* m = rte_pktmbuf_alloc(dp_->pool());
  ASSERT_NE(m, nullptr) << "mbuf pool empty";
  ASSERT_LE(headroom + b.size(), m->buf_len) << "frame too long for one mbuf";
  m->data_off = headroom;
  auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(b.size())));
  ASSERT_NE(p, nullptr);
  std::copy(b.begin(), b.end(), p);
  ASSERT_EQ(rte_ring_sp_enqueue(rx_[port], m), 0) << "RX ring full";
}

void Router::send_segmented(uint16_t port, const Bytes& b, size_t first_segment_len) {
  rte_mbuf* head = rte_pktmbuf_alloc(dp_->pool());
  rte_mbuf* tail = rte_pktmbuf_alloc(dp_->pool());
  ASSERT_TRUE(head != nullptr && tail != nullptr);
  const size_t n1 = std::min(first_segment_len, b.size());
  auto* p1 = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(head, static_cast<uint16_t>(n1)));
  std::copy_n(b.begin(), n1, p1);
  auto* p2 =
      reinterpret_cast<uint8_t*>(rte_pktmbuf_append(tail, static_cast<uint16_t>(b.size() - n1)));
  std::copy(b.begin() + static_cast<ptrdiff_t>(n1), b.end(), p2);
  ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
  ASSERT_EQ(rte_ring_sp_enqueue(rx_[port], head), 0) << "RX ring full";
}

uint64_t Router::total_objs() const {
  uint64_t n = 0;
  for (const NodeCounters& c : dp_->node_counters()) n += c.objs;
  return n;
}

void Router::run() {
  // Quiet = three rounds in which no node moved a packet, no TX ring grew (hand-off rings are
  // sent from port-rx without a node counting them) and no RX ring holds a frame: the control
  // thread's answers (ARP requests, released packets) re-enter at the next poll.
  auto tx_count = [this] {
    unsigned n = 0;
    for (rte_ring* r : tx_) n += rte_ring_count(r);
    return n;
  };
  unsigned quiet = 0;
  for (unsigned round = 0; round < 100000 && quiet < 3; ++round) {
    const uint64_t before = total_objs();
    const unsigned tx_before = tx_count();
    for (unsigned w = 0; w < dp_->workers(); ++w) dp_->poll(w);
    dp_->service(now_);
    bool pending = false;
    for (rte_ring* r : rx_) pending |= rte_ring_count(r) != 0;
    quiet = total_objs() == before && tx_count() == tx_before && !pending ? quiet + 1 : 0;
  }
  if (quiet < 3) ADD_FAILURE() << "the router never went quiet";
}

void Router::advance(double seconds, double step) {
  const auto steps = static_cast<unsigned>(std::ceil(seconds / step - 1e-9));
  for (unsigned i = 0; i < steps; ++i) {
    now_ += step;
    run();
  }
}

std::vector<Bytes> Router::received(uint16_t port) {
  std::vector<Bytes> out;
  void* m;
  while (rte_ring_sc_dequeue(tx_[port], &m) == 0) {
    out.push_back(copy_out(static_cast<rte_mbuf*>(m)));
    rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  }
  return out;
}

std::vector<std::vector<Bytes>> Router::received_all() {
  std::vector<std::vector<Bytes>> out;
  for (uint16_t p = 0; p < ports(); ++p) out.push_back(received(p));
  return out;
}

uint64_t Router::counter(const std::string& node) const {
  for (const NodeCounters& c : dp_->node_counters())
    if (c.name == node) return c.objs;
  ADD_FAILURE() << "the graph has no node named " << node;
  return 0;
}

std::map<std::string, uint64_t> Router::drops() const {
  std::map<std::string, uint64_t> out;
  for (const NodeCounters& c : dp_->node_counters())
    if (c.name.rfind("drop-", 0) == 0 && c.objs != 0) out[c.name] = c.objs;
  return out;
}

unsigned Router::pool_available() const {
  return rte_mempool_avail_count(dp_->pool());
}

// ---- the fixture ----

void PacketTest::SetUp() {
  router_ = std::make_unique<Router>();
}

void PacketTest::rebuild(const RouterOptions& opt) {
  TearDown();
  drops_seen_.clear();
  router_ = std::make_unique<Router>(opt);
}

void PacketTest::TearDown() {
  if (!router_) return;
  r().run();
  const auto left = r().received_all();
  for (uint16_t p = 0; p < r().ports(); ++p) {
    EXPECT_TRUE(left[p].empty()) << left[p].size() << " frame(s) on p" << p
                                 << " that the case did not expect, the first:\n"
                                 << (left[p].empty() ? "" : hex_dump(left[p][0]));
  }
  EXPECT_EQ(r().pool_available(), r().pool_size())
      << "mbufs not back in the pool: leaked, or still held for a neighbour";
  router_.reset();
}

void PacketTest::expect(uint16_t port, const Frame& in,
                        const std::vector<std::pair<uint16_t, Frame>>& out,
                        const std::map<std::string, uint64_t>& drops) {
  r().send(port, in);
  r().run();
  expect_sent(out);
  expect_drops(drops);
}

std::vector<std::vector<Bytes>> PacketTest::expect_sent(
    const std::vector<std::pair<uint16_t, Frame>>& out) {
  auto got = r().received_all();
  for (uint16_t p = 0; p < r().ports(); ++p) {
    std::vector<Bytes> want;
    for (const auto& [port, f] : out)
      if (port == p) want.push_back(f.bytes());
    EXPECT_EQ(got[p].size(), want.size()) << "frames sent on p" << p;
    for (size_t i = 0; i < std::min(want.size(), got[p].size()); ++i)
      EXPECT_TRUE(SameFrame(want[i], got[p][i])) << "frame " << i << " on p" << p;
    for (size_t i = want.size(); i < got[p].size(); ++i)
      ADD_FAILURE() << "unexpected frame " << i << " on p" << p << ":\n" << hex_dump(got[p][i]);
  }
  return got;
}

void PacketTest::expect_drops(const std::map<std::string, uint64_t>& drops) {
  const std::map<std::string, uint64_t> now = r().drops();
  std::map<std::string, uint64_t> delta;
  for (const auto& [name, n] : now) {
    const uint64_t before = drops_seen_.count(name) ? drops_seen_.at(name) : 0;
    if (n != before) delta[name] = n - before;
  }
  for (const auto& [name, n] : drops) r().counter(name);  // fails on a misspelt node name
  EXPECT_EQ(delta, drops) << "drop counters that rose";
  drops_seen_ = now;
}

TEST_P(CaseTest, Run) {
  const Case& c = GetParam();
  if (c.setup) c.setup(r());
  expect(c.port, c.in, c.out, c.drops);
  for (const auto& [node, n] : c.counters) EXPECT_EQ(r().counter(node), n) << node;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n;
  for (char ch : info.param.name) n += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return n;
}

::testing::AssertionResult SameFrame(const Bytes& expected, const Bytes& actual) {
  if (expected == actual) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < expected.size() && i < actual.size() && expected[i] == actual[i]) ++i;
  return ::testing::AssertionFailure()
         << "frames differ at byte " << i << " (expected " << expected.size() << " bytes, got "
         << actual.size() << ")\nexpected:\n"
         << hex_dump(expected) << "\nactual:\n"
         << hex_dump(actual);
}

Frame forwarded(const Frame& in, MacAddr src, MacAddr dst) {
  Frame out(in);
  out.eth(src, dst).ttl(static_cast<uint8_t>(in.get_ttl() - 1)).pad_to(0).fresh_ip_checksum();
  return out;
}

Frame icmp_error_about(const Frame& in, MacAddr src, MacAddr dst, const char* from, const char* to,
                       uint8_t type, uint8_t code, uint16_t mtu) {
  // The router quotes the packet as it arrived, without the link layer's padding.
  const Bytes quoted = Frame(in).pad_to(0).ip_packet();
  return Frame().eth(src, dst).ip4(from, to).tos(0xc0).ttl(64).icmp_error(type, code, quoted, mtu);
}

Frame arp_request_from_router(uint16_t port, const char* sender_ip, const char* target) {
  return Frame().eth(kRouterMac[port], kBroadcast).arp_request(kRouterMac[port], sender_ip, target);
}

}  // namespace sluice::pkt
