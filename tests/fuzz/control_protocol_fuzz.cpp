// control_protocol_fuzz.cpp — libFuzzer target: what a client can send to sluiced's control
// socket. The input is up to eight lines; each is parsed as a request line
// (control::decode_request) and, when it is one, run as the daemon runs it (Commands::run on
// the control thread, errors caught as ControlServer::run_request catches them) against a real
// router: fuzz_router.h's, with routes, NAT rules and bridges for `route add`, `nat forward del`,
// `bridge del`, ... to change. Each line is also parsed as a reply header
// (control::decode_reply_header, the CLI's side).
//
// Findings, besides crashes and sanitizer reports: an exception other than
// std::invalid_argument out of a command (the contract is one clear line about the bad input;
// anything else means a parser let something through), a request that does not survive
// encode_request/decode_request unchanged, a status outside 0..255, and, after a command that
// succeeded, a router that no longer forwards a frame without losing an mbuf.
//
// The router lives across inputs (building one costs milliseconds); commands change it, so it
// is rebuilt every kRebuildEvery inputs and whenever the route table has grown, which keeps
// `route show` cheap and the state near the configured one.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "control/commands.h"
#include "control/control_protocol.h"
#include "tests/fuzz/fuzz_router.h"

namespace {

using sluice::pkt::Frame;
using sluice::pkt::Router;

constexpr unsigned kMaxLines = 8;
constexpr unsigned kRebuildEvery = 20000;
constexpr size_t kMaxExtraRoutes = 64;

[[noreturn]] void finding(const std::string& what) {
  fprintf(stderr, "control-protocol fuzz: %s\n", what.c_str());
  abort();
}

struct World {
  std::unique_ptr<Router> router;
  std::unique_ptr<sluice::Commands> commands;
  size_t routes_at_start = 0;
  unsigned inputs = 0;
  sluice::pkt::Bytes probe;  // a transit frame p0 -> p1, masqueraded

  void build() {
    commands.reset();
    router.reset();
    router = sluice::fuzz::make_router();
    commands = std::make_unique<sluice::Commands>(router->dp(), nullptr);
    routes_at_start = router->dp().state().routes().size();
    inputs = 0;
  }
};

World& world() {
  static World w = [] {
    World x;
    x.build();
    x.probe = Frame()
                  .eth(sluice::MacAddr({0x02, 0, 0, 0, 1, 2}), sluice::pkt::port_mac(0))
                  .ip4("10.1.0.2", "10.20.1.1")
                  .udp(40000, 53)
                  .payload(20)
                  .bytes();
    return x;
  }();
  return w;
}

// Returns whether a command ran to a reply (only those can have changed the router).
bool run_line(World& w, std::string_view line) {
  try {
    sluice::control::decode_reply_header(line);
  } catch (const std::invalid_argument&) {
  }
  std::vector<std::string> args;
  try {
    args = sluice::control::decode_request(line);
  } catch (const std::invalid_argument& e) {
    sluice::control::error_body(e.what());
    return false;
  }
  // The CLI's encoder and the daemon's decoder agree on every request the decoder accepts.
  try {
    if (sluice::control::decode_request(sluice::control::encode_request(args)) != args)
      finding("a request changed through encode_request/decode_request");
  } catch (const std::invalid_argument&) {
    // Longer than kMaxRequest once re-encoded (escapes): the CLI refuses it, as it should.
  }
  sluice::CommandReply reply;
  try {
    reply = w.commands->run(args);
  } catch (const std::invalid_argument& e) {
    reply = sluice::CommandReply{sluice::control::kStatusError, e.what()};
  } catch (const std::exception& e) {
    finding(std::string("a command threw something other than invalid_argument: ") + e.what());
  }
  if (reply.status < 0 || reply.status > 255) finding("a reply status outside 0..255");
  if (reply.status == sluice::control::kStatusError) sluice::control::error_body(reply.body);
  return reply.status != sluice::control::kStatusError;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  if (++w.inputs > kRebuildEvery ||
      w.router->dp().state().routes().size() > w.routes_at_start + kMaxExtraRoutes)
    w.build();
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t at = 0;
  bool ran = false;
  for (unsigned n = 0; n < kMaxLines && at <= in.size(); ++n) {
    const size_t nl = in.find('\n', at);
    ran |=
        run_line(w, in.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at));
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  // Whatever the commands did, the router still runs a frame through and loses no mbuf. Only
  // after a command that succeeded: most inputs are refused before they reach the router, and
  // running it for them would cost most of the time.
  if (!ran) return 0;
  Router& r = *w.router;
  r.send_bytes(0, w.probe);
  r.advance(1.0 / 1024, 1.0 / 1024);
  for (uint16_t p = 0; p < r.ports(); ++p) r.received(p);
  if (r.pool_available() != r.pool_size()) {
    r.advance(4.0, 1.0);  // packets held for ARP give up
    for (uint16_t p = 0; p < r.ports(); ++p) r.received(p);
    if (r.pool_available() != r.pool_size()) finding("mbufs not back in the pool: leaked");
  }
  return 0;
}
