// control_server_test.cpp — the control socket: protocol helpers, ControlServer against real
// UNIX sockets in a temporary directory with a fake command handler, and the `sluice` CLI's
// behaviour (found through SLUICE_CLI; those cases skip when it is unset).
#include "control/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "control/control_protocol.h"
#include "gtest/gtest.h"

extern char** environ;

namespace {

using sluice::CommandReply;
using sluice::ControlServer;
namespace control = sluice::control;

double monotonic() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sluice-control-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Recognisable bytes, so a reply with a lost or repeated chunk does not compare equal.
char pattern_byte(std::size_t i) {
  return static_cast<char>('a' + (i * 7 + i / 4096) % 26);
}

// The fake command set: enough to produce every status, exceptions and large bodies.
CommandReply fake_handler(const std::vector<std::string>& args) {
  const std::string& cmd = args.at(0);
  if (cmd == "echo") {
    std::string body;
    for (const std::string& a : args) body += (body.empty() ? "" : " ") + a;
    return {0, body + "\n"};
  }
  if (cmd == "diff") return {1, "differs\n"};
  if (cmd == "fail") return {2, "bad thing"};
  if (cmd == "multiline-fail") return {2, "first\nsecond\n"};
  if (cmd == "throw") throw std::runtime_error("handler blew up");
  if (cmd == "throw-int") throw 42;
  if (cmd == "status-300") return {300, ""};
  if (cmd == "big") {
    std::string body(std::stoul(args.at(1)), '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = pattern_byte(i);
    return {0, std::move(body)};
  }
  return {2, "unknown command " + cmd};
}

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error("connect " + path + ": " + std::strerror(e));
  }
  return fd;
}

// Writes as much of data as the peer takes; a refused request (the server closed) is fine.
void send_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t w = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return;
    off += std::size_t(w);
  }
}

struct RawReply {
  bool has_header = false;
  int status = -1;
  uint64_t length = 0;
  std::string body;
};

// Reads one reply: header line, then everything until end of stream.
RawReply read_reply(int fd) {
  std::string all;
  char buf[65536];
  for (;;) {
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;  // end of stream, or ECONNRESET after the server dropped our unread data
    all.append(buf, std::size_t(r));
  }
  RawReply rr;
  const auto nl = all.find('\n');
  if (nl == std::string::npos) return rr;
  const control::ReplyHeader h = control::decode_reply_header(all.substr(0, nl));
  rr.has_header = true;
  rr.status = h.status;
  rr.length = h.length;
  rr.body = all.substr(nl + 1);
  return rr;
}

RawReply raw_request(const std::string& path, const std::string& line) {
  const int fd = connect_to(path);
  send_all(fd, line);
  RawReply r = read_reply(fd);
  ::close(fd);
  return r;
}

RawReply request(const std::string& path, const std::vector<std::string>& args) {
  return raw_request(path, control::encode_request(args));
}

// Runs a server's poll/service loop on its own thread, as sluiced's control thread does.
class ServerThread {
 public:
  explicit ServerThread(ControlServer& s) : server_(s), thread_([this] { loop(); }) {}
  ~ServerThread() { stop(); }
  // Joins the thread; after this the server may be inspected from the test's thread.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    std::vector<pollfd> fds;
    while (!stop_) {
      fds.clear();
      server_.poll_fds(fds);
      ::poll(fds.data(), fds.size(), 5);
      server_.service(monotonic());
    }
  }

  ControlServer& server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---- protocol helpers ----

TEST(ControlProtocol, RequestRoundTrip) {
  const std::vector<std::string> args{"route", "show", "10.0.0.0/8", "--json", "quote\" \\ \n"};
  const std::string line = control::encode_request(args);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line, whatever the args hold";
  EXPECT_EQ(control::decode_request(line.substr(0, line.size() - 1)), args);
  EXPECT_EQ(control::encode_request({"route", "show", "--json"}),
            "{\"args\":[\"route\",\"show\",\"--json\"]}\n");
}

TEST(ControlProtocol, DecodeRequestErrors) {
  auto message = [](const std::string& line) -> std::string {
    try {
      control::decode_request(line);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_NE(message("{not json").find("malformed request"), std::string::npos);
  EXPECT_NE(message("[\"route\"]").find("JSON object"), std::string::npos);
  EXPECT_NE(message("{}").find("no \"args\""), std::string::npos);
  EXPECT_NE(message(R"({"args": "route show"})").find("must be an array"), std::string::npos);
  EXPECT_NE(message(R"({"args": ["route", 1]})").find("args[1] is a number"), std::string::npos);
  EXPECT_NE(message(R"({"args": []})").find("no command"), std::string::npos);
  EXPECT_EQ(message(R"({"args": ["x"], "future": true})"), "(accepted)");
}

TEST(ControlProtocol, ReplyHeader) {
  const std::string h = control::encode_reply_header(1, 1234);
  EXPECT_EQ(h, "{\"length\":1234,\"status\":1}\n");
  const control::ReplyHeader d = control::decode_reply_header(h.substr(0, h.size() - 1));
  EXPECT_EQ(d.status, 1);
  EXPECT_EQ(d.length, 1234u);
  EXPECT_THROW(control::decode_reply_header("nope"), std::invalid_argument);
  EXPECT_THROW(control::decode_reply_header(R"({"status": 0})"), std::invalid_argument);
  EXPECT_THROW(control::decode_reply_header(R"({"status": 0, "length": -1})"),
               std::invalid_argument);
  EXPECT_THROW(control::decode_reply_header(R"({"status": 256, "length": 0})"),
               std::invalid_argument);
}

TEST(ControlProtocol, ErrorBodyIsOneLine) {
  EXPECT_EQ(control::error_body("no such route"), "no such route\n");
  EXPECT_EQ(control::error_body("a\nb\n"), "a b\n");
  EXPECT_EQ(control::error_body(""), "error\n");
}

TEST(ControlProtocol, OversizedRequestRefusedByEncoder) {
  EXPECT_THROW(control::encode_request({std::string(control::kMaxRequest, 'x')}),
               std::invalid_argument);
}

// ---- the server ----

class ControlServerTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::string path = dir / "sluice.sock";
};

TEST_F(ControlServerTest, RequestAndResponse) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  const RawReply r = request(path, {"echo", "route", "show", "--json"});
  ASSERT_TRUE(r.has_header);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.body, "echo route show --json\n");
  EXPECT_EQ(r.length, r.body.size());
  t.stop();
  EXPECT_EQ(server.counters().requests, 1u);
  EXPECT_EQ(server.counters().errors, 0u);
}

TEST_F(ControlServerTest, StatusPassthrough) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  RawReply r = request(path, {"diff"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.body, "differs\n");
  r = request(path, {"fail"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.body, "bad thing\n") << "a status-2 body is one line, newline-terminated";
  r = request(path, {"multiline-fail"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.body, "first second\n");
  r = request(path, {"status-300"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.body.find("status 300"), std::string::npos);
}

TEST_F(ControlServerTest, HandlerExceptionsBecomeErrors) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  RawReply r = request(path, {"throw"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.body, "handler blew up\n");
  r = request(path, {"throw-int"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.body.find("internal error"), std::string::npos);
  r = request(path, {"echo", "still", "alive"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.body, "echo still alive\n");
  t.stop();
  EXPECT_EQ(server.counters().errors, 2u);
}

TEST_F(ControlServerTest, MalformedRequests) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  struct Case {
    std::string line, expect;
  };
  const std::vector<Case> cases{
      {"{not json\n", "malformed request"},
      {"\n", "malformed request"},
      {"[\"route\"]\n", "JSON object"},
      {"{\"args\": \"route show\"}\n", "must be an array"},
      {"{\"args\": [\"route\", null]}\n", "args[1] is a null"},
      {"{\"args\": []}\n", "no command"},
      {"{\"args\": [\"\xff\"]}\n", "malformed request"},  // not UTF-8
  };
  for (const Case& c : cases) {
    const RawReply r = raw_request(path, c.line);
    ASSERT_TRUE(r.has_header) << c.line;
    EXPECT_EQ(r.status, 2) << c.line;
    EXPECT_NE(r.body.find(c.expect), std::string::npos) << c.line << " -> " << r.body;
    EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << "one line: " << r.body;
  }
  // Bytes after the newline are not part of the request.
  RawReply r = raw_request(path, "{\"args\": [\"echo\", \"x\"]}\nextra junk");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.body, "echo x\n");
  // A client that half-closes without the newline gets told so.
  const int fd = connect_to(path);
  send_all(fd, "{\"args\": [\"echo\"]}");
  ::shutdown(fd, SHUT_WR);
  r = read_reply(fd);
  ::close(fd);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.body.find("incomplete request"), std::string::npos);
  t.stop();
  EXPECT_EQ(server.counters().requests, 1u);
  EXPECT_EQ(server.counters().errors, cases.size() + 1);
}

TEST_F(ControlServerTest, OversizedRequestIsRefusedOthersStillServed) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  // A client in the middle of a normal request while the big one arrives.
  const int other = connect_to(path);
  send_all(other, "{\"args\": [\"echo\",");
  const int big = connect_to(path);
  send_all(big, std::string(control::kMaxRequest + 10000, 'x'));
  const RawReply rb = read_reply(big);
  ::close(big);
  ASSERT_TRUE(rb.has_header);
  EXPECT_EQ(rb.status, 2);
  EXPECT_NE(rb.body.find("request too large"), std::string::npos) << rb.body;
  send_all(other, " \"ok\"]}\n");
  const RawReply ro = read_reply(other);
  ::close(other);
  EXPECT_EQ(ro.status, 0);
  EXPECT_EQ(ro.body, "echo ok\n");
  // Exactly the limit, newline included, is still a request.
  std::string line = control::encode_request({"echo", "pad"});
  line.insert(line.size() - 2, control::kMaxRequest - line.size(), ' ');
  ASSERT_EQ(line.size(), control::kMaxRequest);
  EXPECT_EQ(raw_request(path, line).status, 0);
  t.stop();
  EXPECT_EQ(server.counters().oversized, 1u);
  EXPECT_EQ(server.counters().requests, 2u);
}

TEST_F(ControlServerTest, SilentClientTimesOut) {
  ControlServer server(path, fake_handler);
  const int silent = connect_to(path);
  const int partial = connect_to(path);
  send_all(partial, "{\"args\": [");
  server.service(100.0);  // accepted at t=100: 5 s to deliver
  server.service(104.9);
  char c;
  EXPECT_EQ(::recv(silent, &c, 1, MSG_DONTWAIT), -1) << "no reply before the deadline";
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(server.clients(), 2u);
  server.service(105.1);
  for (const int fd : {silent, partial}) {
    const RawReply r = read_reply(fd);
    ::close(fd);
    ASSERT_TRUE(r.has_header);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.body.find("timed out"), std::string::npos) << r.body;
  }
  EXPECT_EQ(server.clients(), 0u);
  EXPECT_EQ(server.counters().timeouts, 2u);
}

TEST_F(ControlServerTest, StalledReaderIsDropped) {
  ControlServer server(path, fake_handler);
  const int fd = connect_to(path);
  send_all(fd, control::encode_request({"big", "8000000"}));
  server.service(10.0);
  ASSERT_EQ(server.clients(), 1u) << "reply larger than the socket buffer: still writing";
  std::vector<pollfd> fds;
  server.poll_fds(fds);
  ASSERT_EQ(fds.size(), 2u);
  EXPECT_EQ(fds[1].events, POLLOUT);
  server.service(10.0 + control::kReplyStallTimeout + 1);
  EXPECT_EQ(server.clients(), 0u);
  EXPECT_EQ(server.counters().timeouts, 1u);
  ::close(fd);
}

TEST_F(ControlServerTest, ClientDisconnectingMidReplyLeavesServerHealthy) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  for (int round = 0; round < 3; ++round) {
    const int fd = connect_to(path);
    send_all(fd, control::encode_request({"big", "20000000"}));
    char buf[4096];
    ASSERT_GT(::recv(fd, buf, sizeof buf, MSG_WAITALL), 0);
    ::close(fd);
  }
  const RawReply r = request(path, {"echo", "after"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.body, "echo after\n");
  t.stop();
  server.service(monotonic());
  EXPECT_EQ(server.clients(), 0u);
  EXPECT_EQ(server.counters().requests, 4u);
}

TEST_F(ControlServerTest, ThirtyMegabyteReplyArrivesComplete) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  const std::size_t n = 30u << 20;
  const RawReply r = request(path, {"big", std::to_string(n)});
  ASSERT_EQ(r.status, 0);
  ASSERT_EQ(r.length, n);
  ASSERT_EQ(r.body.size(), n);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad += r.body[i] != pattern_byte(i);
  EXPECT_EQ(bad, 0u);
}

TEST_F(ControlServerTest, HundredClientsInARow) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  for (int i = 0; i < 100; ++i) {
    const RawReply r = request(path, {"echo", std::to_string(i)});
    ASSERT_EQ(r.status, 0) << i;
    ASSERT_EQ(r.body, "echo " + std::to_string(i) + "\n");
  }
  t.stop();
  EXPECT_EQ(server.counters().requests, 100u);
  EXPECT_EQ(server.clients(), 0u);
}

TEST_F(ControlServerTest, ConcurrentClients) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 32; ++i)
    threads.emplace_back([&, i] {
      for (int k = 0; k < 10; ++k) {
        const std::string word = std::to_string(i) + "." + std::to_string(k);
        const RawReply r = request(path, {"echo", word});
        if (r.status == 0 && r.body == "echo " + word + "\n") ++ok;
      }
    });
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(ok, 320);
}

TEST_F(ControlServerTest, ExtraClientsBeyondTheCapAreTurnedAway) {
  ControlServer server(path, fake_handler);
  std::vector<int> idle;
  for (std::size_t i = 0; i < ControlServer::kMaxClients; ++i) {
    idle.push_back(connect_to(path));
    server.service(0);
  }
  EXPECT_EQ(server.clients(), ControlServer::kMaxClients);
  const int extra = connect_to(path);
  server.service(0);
  const RawReply r = read_reply(extra);
  ::close(extra);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.body.find("busy"), std::string::npos) << r.body;
  EXPECT_EQ(server.clients(), ControlServer::kMaxClients);
  // Half a second later the silent ones are slot hogs: the oldest makes room for a new client.
  const int late = connect_to(path);
  send_all(late, control::encode_request({"echo", "late"}));
  server.service(ControlServer::kEvictAfter);
  const RawReply rl = read_reply(late);
  ::close(late);
  EXPECT_EQ(rl.status, 0) << rl.body;
  EXPECT_EQ(server.counters().evicted, 1u);
  char b;
  EXPECT_EQ(::recv(idle.front(), &b, 1, 0), 0)
      << "the oldest silent client was not the one dropped";
  ::close(idle.front());
  idle.erase(idle.begin());
  server.service(ControlServer::kEvictAfter);
  // Once one leaves, a new client is served.
  ::close(idle.back());
  idle.pop_back();
  server.service(0);
  const int next = connect_to(path);
  send_all(next, control::encode_request({"echo", "next"}));
  server.service(0);
  const RawReply rn = read_reply(next);
  ::close(next);
  EXPECT_EQ(rn.status, 0);
  for (const int fd : idle) ::close(fd);
  server.service(0);
  EXPECT_EQ(server.clients(), 0u);
}

TEST_F(ControlServerTest, OutOfDescriptorsPausesAccepting) {
  ControlServer server(path, fake_handler);
  const int fd = connect_to(path);
  send_all(fd, control::encode_request({"echo", "eventually"}));
  // The lowest free descriptor becomes the limit: the server's accept() gets EMFILE.
  const int lowest = ::dup(0);
  ASSERT_GE(lowest, 0);
  ::close(lowest);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = rlim_t(lowest);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  server.service(1.0);
  std::vector<pollfd> fds;
  server.poll_fds(fds);
  ::setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_TRUE(fds.empty()) << "the still-readable listener is out of the poll set";
  EXPECT_EQ(server.counters().errors, 1u);
  server.service(1.05);
  fds.clear();
  server.poll_fds(fds);
  EXPECT_TRUE(fds.empty());
  server.service(1.2);  // the pause is over: the pending connection is accepted and served
  const RawReply r = read_reply(fd);
  ::close(fd);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.body, "echo eventually\n");
}

TEST_F(ControlServerTest, PollFdsListsListenerAndClients) {
  ControlServer server(path, fake_handler);
  std::vector<pollfd> fds;
  server.poll_fds(fds);
  ASSERT_EQ(fds.size(), 1u);
  EXPECT_EQ(fds[0].events, POLLIN);
  const int fd = connect_to(path);
  server.service(0);
  fds.clear();
  server.poll_fds(fds);
  ASSERT_EQ(fds.size(), 2u);
  EXPECT_EQ(fds[1].events, POLLIN);
  ::close(fd);
  server.service(0);
  fds.clear();
  server.poll_fds(fds);
  EXPECT_EQ(fds.size(), 1u);
  EXPECT_EQ(server.counters().errors, 0u) << "connect-and-close (a liveness probe) is no error";
}

TEST_F(ControlServerTest, SocketModeAndParentDirectory) {
  const std::string nested = dir / "run/sluice/ctl.sock";
  {
    ControlServer server(nested, fake_handler);
    struct stat st;
    ASSERT_EQ(::lstat(nested.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, ::geteuid());
    ASSERT_EQ(::stat((dir / "run/sluice").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
    ASSERT_EQ(::stat((dir / "run").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
  }
  EXPECT_FALSE(std::filesystem::exists(nested)) << "the destructor unlinks the socket";
}

TEST_F(ControlServerTest, UmaskDoesNotLoosenTheMode) {
  const mode_t old = ::umask(0);
  ControlServer server(path, fake_handler);
  ::umask(old);
  struct stat st;
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(ControlServerTest, SecondServerOnLivePathRefuses) {
  ControlServer first(path, fake_handler);
  try {
    ControlServer second(path, fake_handler);
    FAIL() << "second server started on a live path";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("already listening"), std::string::npos) << e.what();
  }
  // The first is untouched: still there, still serving.
  ServerThread t(first);
  EXPECT_EQ(request(path, {"echo", "first"}).body, "echo first\n");
}

TEST_F(ControlServerTest, StaleSocketIsReplaced) {
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
    ::close(fd);  // as a crashed daemon leaves it: the file stays, nobody listens
  }
  ASSERT_TRUE(std::filesystem::is_socket(path));
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  EXPECT_EQ(request(path, {"echo", "fresh"}).body, "echo fresh\n");
}

TEST_F(ControlServerTest, RefusesToReplaceANonSocket) {
  std::ofstream(path) << "precious\n";
  try {
    ControlServer server(path, fake_handler);
    FAIL() << "replaced a regular file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a socket"), std::string::npos) << e.what();
  }
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  EXPECT_EQ(s, "precious");
}

TEST_F(ControlServerTest, BadPaths) {
  EXPECT_THROW(ControlServer("", fake_handler), std::runtime_error);
  EXPECT_THROW(ControlServer(dir / std::string(200, 'x'), fake_handler), std::runtime_error);
  std::ofstream(dir / "file") << "x";
  try {
    ControlServer s(dir / "file/sub/sock", fake_handler);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("file/sub/sock"), std::string::npos) << e.what();
  }
}

TEST_F(ControlServerTest, DestructorLeavesASuccessorsSocketAlone) {
  auto first = std::make_unique<ControlServer>(path, fake_handler);
  ASSERT_EQ(::unlink(path.c_str()), 0);      // an administrator removes it...
  ControlServer second(path, fake_handler);  // ...and another daemon takes the path
  first.reset();
  EXPECT_TRUE(std::filesystem::is_socket(path));
  ServerThread t(second);
  EXPECT_EQ(request(path, {"echo", "second"}).body, "echo second\n");
}

TEST_F(ControlServerTest, OtherUsersArePermissionDenied) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to act as another user";
  ControlServer server(path, fake_handler);
  // Loosened on purpose, so the kernel lets the other user connect and the credential check
  // is what refuses it.
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    try {
      const RawReply r = request(path, {"echo", "sneaky"});
      ::_exit(r.status == 2 && r.body.find("permission denied") != std::string::npos ? 0 : 1);
    } catch (...) {
      ::_exit(4);
    }
  }
  int status = 0;
  const double until = monotonic() + 10;
  while (::waitpid(pid, &status, WNOHANG) == 0 && monotonic() < until) {
    server.service(monotonic());
    ::usleep(1000);
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(server.counters().rejected_peers, 1u);
  EXPECT_EQ(server.counters().requests, 0u);
}

// ---- the sluice CLI ----

struct CliResult {
  int status = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class SluiceCliTest : public ControlServerTest {
 protected:
  void SetUp() override {
    const char* cli = std::getenv("SLUICE_CLI");
    if (!cli || !*cli) GTEST_SKIP() << "SLUICE_CLI not set";
    cli_ = cli;
  }

  // Runs the CLI with SLUICE_SOCKET removed from the environment unless env sets it.
  CliResult run(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    std::vector<std::string> argv_s{cli_};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "SLUICE_SOCKET=", 14) != 0) env_s.emplace_back(*e);
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (std::string& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);

    const std::string out = dir / "cli.out", err = dir / "cli.err";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    const int rc = posix_spawn(&pid, cli_.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    CliResult r;
    if (rc != 0) {
      r.err = std::string("posix_spawn: ") + std::strerror(rc);
      return r;
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  std::string cli_;
};

TEST_F(SluiceCliTest, NoDaemonNamesTheSocket) {
  const CliResult r = run({"--socket", path, "route", "show"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: cannot connect to " + path +
                       ": No such file or directory (is sluiced running?)\n");
  const CliResult e = run({"stats"}, {"SLUICE_SOCKET=" + dir / "env.sock"});
  EXPECT_EQ(e.status, 2);
  EXPECT_NE(e.err.find(dir / "env.sock"), std::string::npos) << e.err;
}

TEST_F(SluiceCliTest, UsageAndHelp) {
  CliResult r = run({});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("Usage: sluice"), std::string::npos);
  r = run({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
  for (const char* word : {"route show", "route get", "route check", "neigh", "link", "addr",
                           "stats", "graph", "--json", "--socket", "--timeout"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  r = run({"--json"});
  EXPECT_EQ(r.status, 2) << "options but no command";
  r = run({"--frobnicate", "route"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "sluice: unknown option --frobnicate (see sluice --help)\n");
  r = run({"--timeout", "soon", "route"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--timeout"), std::string::npos);
  r = run({"--socket"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--socket needs a value"), std::string::npos);
}

TEST_F(SluiceCliTest, TalksToTheServer) {
  ControlServer server(path, fake_handler);
  ServerThread t(server);
  CliResult r = run({"--socket", path, "echo", "route", "show", "--json"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "echo route show --json\n");
  EXPECT_EQ(r.err, "");
  r = run({"--json", "--socket=" + path, "echo", "route", "show"});
  EXPECT_EQ(r.out, "echo route show --json\n") << "--json before the command is forwarded";
  r = run({"-j", "--socket", path, "echo"});
  EXPECT_EQ(r.out, "echo --json\n") << "-j is --json";
  r = run({"--socket", path, "--", "echo", "--"});
  EXPECT_EQ(r.out, "echo --\n") << "-- ends the global options";
  r = run({"echo", "-n", "--socket", "x"}, {"SLUICE_SOCKET=" + path});
  EXPECT_EQ(r.out, "echo -n --socket x\n") << "after the command everything is forwarded";
  r = run({"--socket", path, "diff"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "differs\n");
  r = run({"--socket", path, "fail"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "sluice: bad thing\n");
  r = run({"--socket", path, "big", "5000000"});
  EXPECT_EQ(r.status, 0);
  ASSERT_EQ(r.out.size(), 5000000u);
  EXPECT_EQ(r.out[4999999], pattern_byte(4999999));
}

// A hand-made server for replies ControlServer never sends: accepts one client, reads its
// request line, writes `reply`, then closes, or with hold=true waits for the client to leave.
class FakeServer {
 public:
  FakeServer(const std::string& path, std::string reply, bool hold)
      : reply_(std::move(reply)), hold_(hold) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 4) != 0)
      throw std::runtime_error("fake server: bind/listen failed");
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    thread_.join();
    ::close(fd_);
  }

 private:
  void serve() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) return;
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    std::string in;
    char ch;
    while (::recv(c, &ch, 1, 0) == 1 && ch != '\n') in.push_back(ch);
    send_all(c, reply_);
    if (hold_) {
      // Until the client gives up and closes (POLLHUP; its half-close is only POLLIN).
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      pollfd q{c, 0, 0};
      while (std::chrono::steady_clock::now() < until && ::poll(&q, 1, 100) == 0) {
      }
    }
    ::close(c);
  }

  std::string reply_;
  bool hold_;
  int fd_ = -1;
  std::thread thread_;
};

TEST_F(SluiceCliTest, TruncatedReplyIsAnError) {
  {
    FakeServer fake(path, "{\"status\": 0, \"length\": 100}\nonly ten b", false);
    const CliResult r = run({"--socket", path, "route", "show"});
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.out, "") << "nothing printed from a truncated reply";
    EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("10 of 100"), std::string::npos) << r.err;
  }
  ::unlink(path.c_str());
  {
    FakeServer fake(path, "", false);
    const CliResult r = run({"--socket", path, "route", "show"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("without a reply"), std::string::npos) << r.err;
  }
  ::unlink(path.c_str());
  {
    FakeServer fake(path, "HTTP/1.0 200 OK\n", false);
    const CliResult r = run({"--socket", path, "route", "show"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("malformed reply header"), std::string::npos) << r.err;
  }
}

TEST_F(SluiceCliTest, SilentDaemonTimesOut) {
  FakeServer fake(path, "", true);
  const double t0 = monotonic();
  const CliResult r = run({"--socket", path, "--timeout", "0.3", "route", "show"});
  const double took = monotonic() - t0;
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
  EXPECT_LT(took, 5.0);
}

}  // namespace
