// control_protocol.h — the wire format between the `sluice` CLI and sluiced's control socket
// (docs/control-protocol.md): one JSON request line in, one JSON header line plus a raw body
// out. Shared by both ends so they cannot disagree; no DPDK, only nlohmann-json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::control {

inline constexpr const char* kDefaultSocketPath = "/run/sluice/sluice.sock";

// Largest request, newline included. Commands are a few words; the bound keeps a broken or
// hostile client from growing the daemon's memory.
inline constexpr std::size_t kMaxRequest = 65536;

// Seconds a client has, from connecting, to deliver its whole request line.
inline constexpr double kRequestTimeout = 5.0;

// Seconds a reply may make no progress before the server gives up on the reader. Generous:
// the CLI reads as fast as it can; only a stuck or malicious peer gets near it.
inline constexpr double kReplyStallTimeout = 30.0;

// Longest reply header line the client accepts, newline included.
inline constexpr std::size_t kMaxReplyHeader = 256;

// The status is the CLI's exit code.
inline constexpr int kStatusOk = 0;
inline constexpr int kStatusDifference = 1;  // a check found a difference (`route check`)
inline constexpr int kStatusError = 2;       // the body is one line: the error message

// The request line for args, "\n" included. Throws std::invalid_argument if it would exceed
// kMaxRequest (the server would refuse it anyway; the client can say so without connecting).
std::string encode_request(const std::vector<std::string>& args);

// Parses one request line (without its "\n"). Throws std::invalid_argument with a one-line
// message naming what is wrong: not JSON, not an object, args missing / not an array / empty,
// an element that is not a string.
std::vector<std::string> decode_request(std::string_view line);

struct ReplyHeader {
  int status = 0;
  uint64_t length = 0;
};

// The reply header line, "\n" included.
std::string encode_reply_header(int status, uint64_t length);

// Parses one reply header line (without its "\n"). Throws std::invalid_argument.
ReplyHeader decode_reply_header(std::string_view line);

// The body of a status-2 reply: the message on one line (embedded newlines become spaces so
// the CLI's `sluice: <message>` stays one line).
std::string error_body(std::string_view message);

}  // namespace sluice::control
