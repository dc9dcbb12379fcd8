// log.cpp — sluiced's log lines: the level filter, the journald test, the line built on the
// stack (no allocation, bounded length, no control character) and written in one write(2).
#include "dataplane/log.h"

#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sluice::log {

namespace detail {
std::atomic<int> g_level{static_cast<int>(Level::kWarning)};
}  // namespace detail

namespace {

std::atomic<int> g_fd{STDERR_FILENO};
std::atomic<bool> g_journald{false};
// Set by init before any other thread logs; read-only afterwards.
char g_program[32] = "sluiced";

// Builds "<prefix><text>\n" in line (kMaxLine bytes at most, newline included) and writes it in
// one call: below PIPE_BUF, a pipe or the journal's socket takes it whole, and a regular file's
// offset moves atomically, so concurrent lines never mix.
void put_line(const char* prefix, const char* text, size_t len, bool cut) {
  char line[kMaxLine];
  size_t n = std::min(std::strlen(prefix), kMaxLine / 2);
  std::memcpy(line, prefix, n);
  const size_t room = kMaxLine - 1 - n;  // before the newline
  if (len > room) {
    len = room;
    cut = true;
  }
  for (size_t i = 0; i < len; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    // A newline would start a line journald takes for a new event with the default priority.
    line[n++] = c == '\n' || c == '\r' || c == '\t' ? ' ' : (c < 0x20 || c == 0x7f) ? '?' : text[i];
  }
  if (cut) {
    const size_t dots = std::min<size_t>(3, len);
    std::memcpy(line + n - dots, "...", dots);
  }
  line[n++] = '\n';
  const int fd = g_fd.load(std::memory_order_relaxed);
  size_t off = 0;
  while (off < n) {
    const ssize_t w = ::write(fd, line + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // nowhere to report it: the log is the report
    off += static_cast<size_t>(w);
  }
}

void put(Level level, bool level_word, const char* text, size_t len, bool cut) {
  char prefix[64];
  if (g_journald.load(std::memory_order_relaxed))
    std::snprintf(prefix, sizeof prefix, "<%d>", static_cast<int>(level));
  else if (level_word)
    std::snprintf(prefix, sizeof prefix, "%s: %s: ", g_program, level_name(level));
  else
    std::snprintf(prefix, sizeof prefix, "%s: ", g_program);
  put_line(prefix, text, len, cut);
}

void vput(Level level, bool level_word, const char* fmt, va_list ap) {
  char text[kMaxLine];
  const int r = std::vsnprintf(text, sizeof text, fmt, ap);
  if (r < 0) return;
  const bool cut = static_cast<size_t>(r) >= sizeof text;
  put(level, level_word, text, cut ? sizeof text - 1 : static_cast<size_t>(r), cut);
}

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  if (name == "error") return Level::kError;
  if (name == "warning") return Level::kWarning;
  if (name == "info") return Level::kInfo;
  if (name == "debug") return Level::kDebug;
  return std::nullopt;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::kError: return "error";
    case Level::kWarning: return "warning";
    case Level::kInfo: return "info";
    case Level::kDebug: return "debug";
  }
  return "?";
}

bool journal_stream_is(int fd, const char* journal_stream) {
  if (!journal_stream || !*journal_stream) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long dev = std::strtoull(journal_stream, &end, 10);
  if (errno || end == journal_stream || *end != ':') return false;
  const char* ino_text = end + 1;
  const unsigned long long ino = std::strtoull(ino_text, &end, 10);
  if (errno || end == ino_text || *end != '\0') return false;
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

void init(Level level, std::string_view program, int fd) {
  std::snprintf(g_program, sizeof g_program, "%.*s", static_cast<int>(program.size()),
                program.data());
  g_fd.store(fd);
  g_journald.store(journal_stream_is(fd, std::getenv("JOURNAL_STREAM")));
  set_level(level);
}

void set_level(Level level) {
  detail::g_level.store(static_cast<int>(level));
}

Level level() {
  return static_cast<Level>(detail::g_level.load(std::memory_order_relaxed));
}

bool journald() {
  return g_journald.load(std::memory_order_relaxed);
}

void vwrite(Level level, const char* fmt, va_list ap) {
  if (enabled(level)) vput(level, true, fmt, ap);
}

void write(Level level, const char* fmt, ...) {
  if (!enabled(level)) return;
  va_list ap;
  va_start(ap, fmt);
  vput(level, true, fmt, ap);
  va_end(ap);
}

#define SLUICE_LOG_AT(name, lvl)    \
  void name(const char* fmt, ...) { \
    if (!enabled(lvl)) return;      \
    va_list ap;                     \
    va_start(ap, fmt);              \
    vput(lvl, true, fmt, ap);       \
    va_end(ap);                     \
  }
SLUICE_LOG_AT(error, Level::kError)
SLUICE_LOG_AT(warning, Level::kWarning)
SLUICE_LOG_AT(info, Level::kInfo)
SLUICE_LOG_AT(debug, Level::kDebug)
#undef SLUICE_LOG_AT

void emit(Level level, std::string_view text) {
  put(level, true, text.data(), text.size(), false);
}

void fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vput(Level::kError, false, fmt, ap);
  va_end(ap);
}

bool RateLimit::allow() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return allow(static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9);
}

bool RateLimit::allow(double now) {
  if (window_start_ < 0 || now - window_start_ >= interval_) {
    window_start_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= burst_) {
    ++suppressed_;
    ++suppressed_total_;
    return false;
  }
  ++in_window_;
  note_.clear();
  if (suppressed_) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " (%" PRIu64 " similar line%s suppressed)", suppressed_,
                  suppressed_ == 1 ? "" : "s");
    note_ = buf;
  }
  suppressed_ = 0;
  return true;
}

}  // namespace sluice::log
