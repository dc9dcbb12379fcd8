// log.h — sluiced's log: one line per event, with a level, written to stderr in a single
// write(2) so lines from the control thread and workers never interleave. When stderr is a
// journald stream (JOURNAL_STREAM, systemd.exec(5)) each line starts with the syslog priority
// (<3>, <4>, <6>, <7>: sd-daemon(3)) and journald shows and filters by it; otherwise lines read
// "sluiced: warning: ...". Control side only: the fast path counts, it never logs.
//
// Plain C++ and libc, no DPDK: it is its own small library, linked by the dataplane, by the
// control socket server and by their tests. DPDK's own log joins it through dpdk_log.h.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::log {

// The values are the syslog priorities the journald prefix carries.
enum class Level : int { kError = 3, kWarning = 4, kInfo = 6, kDebug = 7 };

// "error", "warning", "info", "debug" (sluiced's --log-level values) and back.
std::optional<Level> parse_level(std::string_view name);
const char* level_name(Level level);

// A line longer than this (prefix included) is cut, and ends with "...".
constexpr size_t kMaxLine = 1024;

// Where lines go and in which form: `program` names the readable form's prefix, `fd` is the
// output (stderr; a test gives a pipe). The journald form is chosen when the JOURNAL_STREAM
// environment variable names fd's device and inode. Called once at start, before any thread
// logs; every setting may be changed again later (set_level after the options are read).
void init(Level level, std::string_view program = "sluiced", int fd = STDERR_FILENO);
void set_level(Level level);
Level level();
// Whether lines are in the journald form (set by init).
bool journald();

// True when `journal_stream` ("DEVICE:INODE", decimal, as systemd sets JOURNAL_STREAM) names
// the file open on fd: stdout or stderr connected to the journal, not merely inherited by a
// child whose stderr was redirected elsewhere.
bool journal_stream_is(int fd, const char* journal_stream);

namespace detail {
extern std::atomic<int> g_level;
}
inline bool enabled(Level l) {
  return static_cast<int>(l) <= detail::g_level.load(std::memory_order_relaxed);
}

// One line at `level`, if the level is enabled. printf-style; a newline or other control
// character in the text becomes a space (or '?'), so one call is always one line.
void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void vwrite(Level level, const char* fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// `text` as one line at `level` whatever the level setting: for lines already filtered by
// their source (DPDK's log, which has its own levels per component).
void emit(Level level, std::string_view text);

// The line a failing sluiced exits with: always shown, and in its readable form without a
// level word ("sluiced: MESSAGE"), the one-line error the user-facing contract promises.
void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Bounds a kind of line that outside input could repeat (a kernel table that keeps failing,
// clients refused in a loop, a retry every tick): at most `burst` lines per `interval`
// seconds; the lines left out are counted, and the next line let through says how many.
// Not thread-safe: one per thread (the control thread's are members or function statics).
class RateLimit {
 public:
  RateLimit(unsigned burst, double interval_s) : burst_(burst), interval_(interval_s) {}
  // True when this line may be written; then `note()` is the summary to append to it.
  bool allow();
  bool allow(double now);
  // " (N similar lines suppressed)" for the lines left out before the allowed one, or "".
  const std::string& note() const { return note_; }
  uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  unsigned burst_;
  double interval_;
  double window_start_ = -1;
  unsigned in_window_ = 0;
  uint64_t suppressed_ = 0;
  uint64_t suppressed_total_ = 0;
  std::string note_;
};

}  // namespace sluice::log
