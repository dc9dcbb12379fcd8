// control_protocol.cpp — encoding and validation of the control socket's request and reply
// header lines.
#include "control/control_protocol.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace sluice::control {

using nlohmann::json;

std::string encode_request(const std::vector<std::string>& args) {
  // Strings from argv may hold invalid UTF-8; replacing keeps the line valid JSON instead of
  // throwing a type_error deep inside the encoder.
  std::string line = json{{"args", args}}.dump(-1, ' ', false, json::error_handler_t::replace);
  line.push_back('\n');
  if (line.size() > kMaxRequest)
    throw std::invalid_argument("request too large (" + std::to_string(line.size()) +
                                " bytes, at most " + std::to_string(kMaxRequest) + ")");
  return line;
}

std::vector<std::string> decode_request(std::string_view line) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {
    // Not only parse_error: a number too large for a double is out_of_range.406 (found by
    // fuzzing, tests/fuzz/regressions/control-protocol/), which used to escape to the server's
    // last-resort handler and drop every client. nlohmann's message starts with
    // "[json.exception.parse_error.101] "; the part after the bracket says where and why, which
    // is what a user of a hand-written client needs.
    std::string what = e.what();
    if (const auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    throw std::invalid_argument("malformed request: " + what);
  }
  if (!j.is_object())
    throw std::invalid_argument(R"(malformed request: expected a JSON object {"args": [...]})");
  const auto it = j.find("args");
  if (it == j.end()) throw std::invalid_argument(R"(malformed request: no "args" member)");
  if (!it->is_array())
    throw std::invalid_argument(R"(malformed request: "args" must be an array of strings)");
  if (it->empty()) throw std::invalid_argument("empty request: no command given");
  std::vector<std::string> args;
  args.reserve(it->size());
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& a = (*it)[i];
    if (!a.is_string())
      throw std::invalid_argument("malformed request: args[" + std::to_string(i) + "] is a " +
                                  a.type_name() + ", not a string");
    args.push_back(a.get<std::string>());
  }
  return args;
}

std::string encode_reply_header(int status, uint64_t length) {
  std::string line = json{{"status", status}, {"length", length}}.dump();
  line.push_back('\n');
  return line;
}

ReplyHeader decode_reply_header(std::string_view line) {
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception&) {  // parse_error, or out_of_range for a huge number
    throw std::invalid_argument("malformed reply header (not JSON)");
  }
  if (!j.is_object()) throw std::invalid_argument("malformed reply header (not an object)");
  const auto s = j.find("status");
  const auto l = j.find("length");
  if (s == j.end() || !s->is_number_integer())
    throw std::invalid_argument("malformed reply header (no integer status)");
  if (l == j.end() || !l->is_number_unsigned())
    throw std::invalid_argument("malformed reply header (no unsigned length)");
  const int64_t status = s->get<int64_t>();
  if (status < 0 || status > 255)
    throw std::invalid_argument("malformed reply header (status " + std::to_string(status) +
                                " out of 0..255)");
  ReplyHeader h;
  h.status = static_cast<int>(status);
  h.length = l->get<uint64_t>();
  return h;
}

std::string error_body(std::string_view message) {
  std::string body(message);
  for (char& c : body)
    if (c == '\n' || c == '\r') c = ' ';
  while (!body.empty() && body.back() == ' ') body.pop_back();
  if (body.empty()) body = "error";
  body.push_back('\n');
  return body;
}

}  // namespace sluice::control
