// harness.cpp — the GoogleTest side of the packet tests: EAL set up for the whole test program,
// the fixture's checks, the table-driven case and the expected-frame builders.
#include "tests/packet/harness.h"

#include <rte_eal.h>

#include <algorithm>
#include <cctype>

namespace sluice::pkt {
namespace {

// EAL once per process (ring_router.cpp), before the first case, cleaned up after the last.
class EalEnvironment final : public ::testing::Environment {
 public:
  void SetUp() override {
    ASSERT_NO_THROW(init_eal());
    initialised_ = true;
  }
  void TearDown() override {
    if (initialised_) rte_eal_cleanup();
  }

 private:
  bool initialised_ = false;
};

[[maybe_unused]] ::testing::Environment* const g_eal =
    ::testing::AddGlobalTestEnvironment(new EalEnvironment);

}  // namespace

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
