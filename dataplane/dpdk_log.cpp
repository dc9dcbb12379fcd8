// dpdk_log.cpp — a stdio stream (fopencookie) handed to rte_openlog_stream: DPDK formats each
// message into it, this cuts the text into lines and writes each through log::emit at the level
// DPDK gave the message (rte_log_cur_msg_loglevel, the calling thread's current message).
#include "dataplane/dpdk_log.h"

#include <rte_log.h>

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace sluice {

namespace {

log::Level from_dpdk(int level) {
  if (level <= static_cast<int>(RTE_LOG_ERR)) return log::Level::kError;
  if (level == static_cast<int>(RTE_LOG_WARNING)) return log::Level::kWarning;
  if (level <= static_cast<int>(RTE_LOG_INFO)) return log::Level::kInfo;  // NOTICE, INFO
  return log::Level::kDebug;
}

// Per thread: a message DPDK writes in pieces ends its line in a later call. The stream is
// unbuffered, so glibc hands each fprintf over whole, in the thread that made it.
struct Pending {
  char text[log::kMaxLine];
  size_t len = 0;
  log::RateLimit limit{1000, 10.0};
};
thread_local Pending t_pending;

void emit_line(log::Level level, std::string_view line) {
  Pending& p = t_pending;
  if (!p.limit.allow()) return;
  if (p.limit.note().empty()) {
    log::emit(level, line);
    return;
  }
  char buf[log::kMaxLine];
  const int n = std::snprintf(buf, sizeof buf, "%.*s%s", static_cast<int>(line.size()), line.data(),
                              p.limit.note().c_str());
  log::emit(level, std::string_view(buf, n < 0 ? 0 : std::min<size_t>(n, sizeof buf - 1)));
}

ssize_t write_dpdk(void*, const char* buf, size_t size) {
  Pending& p = t_pending;
  const log::Level level = from_dpdk(rte_log_cur_msg_loglevel());
  for (size_t i = 0; i < size; ++i) {
    if (buf[i] == '\n') {
      if (p.len) emit_line(level, std::string_view(p.text, p.len));
      p.len = 0;
      continue;
    }
    if (p.len == sizeof p.text) {  // a line without end: cut, the rest starts another
      emit_line(level, std::string_view(p.text, p.len));
      p.len = 0;
    }
    p.text[p.len++] = buf[i];
  }
  return static_cast<ssize_t>(size);
}

}  // namespace

uint32_t dpdk_log_level(log::Level level) {
  switch (level) {
    case log::Level::kError: return RTE_LOG_ERR;
    case log::Level::kWarning: return RTE_LOG_WARNING;
    case log::Level::kInfo: return RTE_LOG_INFO;
    case log::Level::kDebug: return RTE_LOG_DEBUG;
  }
  return RTE_LOG_WARNING;
}

void route_dpdk_log() {
  cookie_io_functions_t io{};
  io.write = write_dpdk;
  FILE* f = fopencookie(nullptr, "w", io);
  if (!f) return;  // DPDK keeps its default stream
  setvbuf(f, nullptr, _IONBF, 0);
  rte_openlog_stream(f);
}

}  // namespace sluice
