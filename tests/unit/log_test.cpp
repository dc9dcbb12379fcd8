// log_test.cpp — sluiced's log (dataplane/log.h) writing into a pipe: the level filter, the
// readable and the journald forms (the latter only when JOURNAL_STREAM names the output),
// one line per call whatever the text, whole lines from concurrent threads, the rate limit.
#include "dataplane/log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sluice::log {
namespace {

// A pipe the log writes to; lines() reads what is there.
class LogPipe {
 public:
  LogPipe() {
    EXPECT_EQ(::pipe2(fds_, O_CLOEXEC), 0);
    ::fcntl(fds_[0], F_SETFL, O_NONBLOCK);
  }
  ~LogPipe() {
    init(Level::kWarning, "sluiced", STDERR_FILENO);
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  int write_fd() const { return fds_[1]; }
  std::string drain() {
    std::string out;
    char buf[4096];
    for (ssize_t r; (r = ::read(fds_[0], buf, sizeof buf)) > 0;) out.append(buf, size_t(r));
    return out;
  }
  std::vector<std::string> lines() {
    std::vector<std::string> v;
    std::istringstream in(drain());
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  // JOURNAL_STREAM's value for this pipe's write end, as systemd would set it.
  std::string journal_stream() const {
    struct stat st;
    EXPECT_EQ(::fstat(fds_[1], &st), 0);
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  }

 private:
  int fds_[2] = {-1, -1};
};

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("JOURNAL_STREAM"); }
  void TearDown() override { ::unsetenv("JOURNAL_STREAM"); }
};

TEST_F(LogTest, LevelsFilterAndPrefixTheLines) {
  LogPipe p;
  init(Level::kWarning, "sluiced", p.write_fd());
  EXPECT_FALSE(journald());
  error("port %s: %d", "r0", 1);
  warning("resync");
  info("hidden at warning");
  debug("hidden too");
  EXPECT_EQ(p.lines(),
            (std::vector<std::string>{"sluiced: error: port r0: 1", "sluiced: warning: resync"}));
  set_level(Level::kError);
  warning("hidden at error");
  error("shown");
  EXPECT_EQ(p.lines(), std::vector<std::string>{"sluiced: error: shown"});
  set_level(Level::kDebug);
  info("i");
  debug("d");
  write(Level::kInfo, "w %u", 7u);
  EXPECT_EQ(p.lines(), (std::vector<std::string>{"sluiced: info: i", "sluiced: debug: d",
                                                 "sluiced: info: w 7"}));
  EXPECT_TRUE(enabled(Level::kDebug));
  set_level(Level::kInfo);
  EXPECT_FALSE(enabled(Level::kDebug));
  EXPECT_TRUE(enabled(Level::kInfo));
}

TEST_F(LogTest, FatalAndEmitIgnoreTheLevel) {
  LogPipe p;
  init(Level::kError, "sluiced", p.write_fd());
  fatal("--port: unknown '%s'", "x");  // the exit line keeps the contract's wording
  emit(Level::kDebug, "EAL: a line DPDK already filtered");
  info("not this");
  EXPECT_EQ(p.lines(),
            (std::vector<std::string>{"sluiced: --port: unknown 'x'",
                                      "sluiced: debug: EAL: a line DPDK already filtered"}));
}

TEST_F(LogTest, ParsesTheOptionValues) {
  for (const Level l : {Level::kError, Level::kWarning, Level::kInfo, Level::kDebug})
    EXPECT_EQ(parse_level(level_name(l)), l);
  EXPECT_FALSE(parse_level("notice"));
  EXPECT_FALSE(parse_level(""));
  EXPECT_FALSE(parse_level("Warning"));
}

TEST_F(LogTest, JournaldPrefixOnlyWhenJournalStreamNamesTheOutput) {
  LogPipe p, other;
  // Another file's identity (a child inherits JOURNAL_STREAM with its stderr redirected).
  ::setenv("JOURNAL_STREAM", other.journal_stream().c_str(), 1);
  init(Level::kInfo, "sluiced", p.write_fd());
  EXPECT_FALSE(journald());
  warning("readable");
  EXPECT_EQ(p.lines(), std::vector<std::string>{"sluiced: warning: readable"});

  ::setenv("JOURNAL_STREAM", p.journal_stream().c_str(), 1);
  init(Level::kInfo, "sluiced", p.write_fd());
  EXPECT_TRUE(journald());
  error("e");
  warning("w");
  info("i");
  debug("hidden");
  fatal("f");
  emit(Level::kDebug, "x");
  EXPECT_EQ(p.lines(), (std::vector<std::string>{"<3>e", "<4>w", "<6>i", "<3>f", "<7>x"}));
}

TEST_F(LogTest, JournalStreamValueIsParsedStrictly) {
  LogPipe p;
  const std::string good = p.journal_stream();
  EXPECT_TRUE(journal_stream_is(p.write_fd(), good.c_str()));
  const std::string dev = good.substr(0, good.find(':'));
  const std::string ino = good.substr(good.find(':') + 1);
  for (const std::string& bad :
       {std::string(), std::string(":"), dev, dev + ":", ":" + ino, good + "x", good + ":1",
        dev + ":" + std::to_string(std::stoull(ino) + 1), "x" + good, std::string("1:2")})
    EXPECT_FALSE(journal_stream_is(p.write_fd(), bad.c_str())) << bad;
  EXPECT_FALSE(journal_stream_is(p.write_fd(), nullptr));
  EXPECT_FALSE(journal_stream_is(-1, good.c_str()));
}

TEST_F(LogTest, OneCallIsOneLineWhateverTheText) {
  LogPipe p;
  init(Level::kDebug, "sluiced", p.write_fd());
  warning("two\nlines\r\tand a bell \a");
  const std::string huge(5000, 'x');
  info("%s\n%s", huge.c_str(), huge.c_str());
  const std::string out = p.drain();
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  const std::string first = out.substr(0, out.find('\n'));
  EXPECT_EQ(first, "sluiced: warning: two lines  and a bell ?");
  const std::string second = out.substr(first.size() + 1);
  EXPECT_EQ(second.size(), kMaxLine);  // cut to the limit, newline included
  EXPECT_EQ(second.rfind("sluiced: info: xxx", 0), 0u);
  EXPECT_EQ(second.substr(second.size() - 4), "...\n");
  for (const char c : second.substr(0, second.size() - 1))
    EXPECT_GE(static_cast<unsigned char>(c), 0x20);
}

TEST_F(LogTest, ConcurrentLinesNeverMix) {
  LogPipe p;
  init(Level::kInfo, "sluiced", p.write_fd());
  constexpr int kThreads = 4, kLines = 2000;
  std::string collected;
  std::atomic<bool> done{false};
  std::thread reader([&] {  // the pipe holds 64 KiB: read while they write
    while (!done.load()) {
      collected += p.drain();
      std::this_thread::yield();
    }
    collected += p.drain();
  });
  std::vector<std::thread> writers;
  const std::string pad(300, 'p');
  for (int t = 0; t < kThreads; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < kLines; ++i) info("thread %d line %d %s end", t, i, pad.c_str());
    });
  for (std::thread& w : writers) w.join();
  done = true;
  reader.join();
  std::vector<int> next(kThreads, 0);
  std::istringstream in(collected);
  int count = 0;
  for (std::string l; std::getline(in, l); ++count) {
    int t = -1, i = -1, rest = 0;
    const bool parsed =
        std::sscanf(l.c_str(), "sluiced: info: thread %d line %d %n", &t, &i, &rest) == 2;
    ASSERT_TRUE(parsed && t >= 0 && t < kThreads && l.substr(size_t(rest)) == pad + " end")
        << l.substr(0, 120);
    EXPECT_EQ(i, next[t]++);  // each thread's lines whole, in its order
  }
  EXPECT_EQ(count, kThreads * kLines);
}

TEST_F(LogTest, RateLimitCountsAndSummarises) {
  RateLimit r(3, 10.0);
  EXPECT_TRUE(r.allow(100.0));
  EXPECT_EQ(r.note(), "");
  EXPECT_TRUE(r.allow(101.0));
  EXPECT_TRUE(r.allow(102.0));
  EXPECT_FALSE(r.allow(103.0));
  EXPECT_FALSE(r.allow(109.9));
  EXPECT_EQ(r.suppressed_total(), 2u);
  EXPECT_TRUE(r.allow(110.0));  // a new window
  EXPECT_EQ(r.note(), " (2 similar lines suppressed)");
  EXPECT_TRUE(r.allow(111.0));
  EXPECT_EQ(r.note(), "");
  EXPECT_TRUE(r.allow(112.0));
  EXPECT_FALSE(r.allow(113.0));
  EXPECT_TRUE(r.allow(200.0));
  EXPECT_EQ(r.note(), " (1 similar line suppressed)");
  EXPECT_EQ(r.suppressed_total(), 3u);
}

}  // namespace
}  // namespace sluice::log
