// harness.h — the packet tests' GoogleTest side: the fixture that gives each case a fresh
// ring-port router (ring_router.h holds the router, its topology and its ports), the
// table-driven case type, byte-for-byte frame comparison, and builders of the frames the
// router is expected to send. EAL is initialised once per process (--no-huge).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/packet/frame.h"
#include "tests/packet/ring_router.h"

namespace sluice::pkt {

// The fixture: a fresh router per case, and on the way out a check that every frame it sent
// was looked at and that every mbuf is back in the pool (no leak, nothing left held).
class PacketTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Rebuilds the router with other options (counters and clock start over).
  void rebuild(const RouterOptions& opt);

  Router& r() { return *router_; }
  // Destroys the router as it is, without TearDown's run and checks (cases about shutdown).
  void destroy_router() { router_.reset(); }

  // Sends `in` on `port`, runs, and checks that exactly `out` left (per port, in order) and
  // that exactly the drop counters `drops` rose. Returns false (with failures recorded) if not.
  void expect(uint16_t port, const Frame& in, const std::vector<std::pair<uint16_t, Frame>>& out,
              const std::map<std::string, uint64_t>& drops = {});
  // Checks what the router sent since the last check against `out` (per port, in order), and
  // returns it (per port).
  std::vector<std::vector<Bytes>> expect_sent(const std::vector<std::pair<uint16_t, Frame>>& out);
  void expect_drops(const std::map<std::string, uint64_t>& drops);

 private:
  std::unique_ptr<Router> router_;
  std::map<std::string, uint64_t> drops_seen_;
};

// One table row: a frame in on a port, the configuration change it needs (if any), the frames
// expected out (port, frame, in order per port), the drop counters expected to rise (exactly
// these, by exactly this much) and any other node counters expected (absolute values).
struct Case {
  std::string name = {};
  uint16_t port = kP0;
  Frame in = {};
  std::vector<std::pair<uint16_t, Frame>> out = {};
  std::map<std::string, uint64_t> drops = {};
  std::map<std::string, uint64_t> counters = {};
  std::function<void(Router&)> setup = {};
};

// The table-driven test: each file instantiates it with its own rows.
class CaseTest : public PacketTest, public ::testing::WithParamInterface<Case> {};
std::string case_name(const ::testing::TestParamInfo<Case>& info);

// Byte-for-byte comparison with a hex dump of both sides and the first difference.
::testing::AssertionResult SameFrame(const Bytes& expected, const Bytes& actual);

// The frames the router sends, built from the frames it was given.
// `in` forwarded one hop: new Ethernet header, TTL one less, no padding, the header checksum
// computed from scratch.
Frame forwarded(const Frame& in, MacAddr src, MacAddr dst);
// The ICMP error the router sends about `in` (as received), from `from` to `to`.
Frame icmp_error_about(const Frame& in, MacAddr src, MacAddr dst, const char* from, const char* to,
                       uint8_t type, uint8_t code, uint16_t mtu = 0);
// A broadcast ARP request from the router's port `port` for `target`, from `sender_ip`.
Frame arp_request_from_router(uint16_t port, const char* sender_ip, const char* target);

}  // namespace sluice::pkt
