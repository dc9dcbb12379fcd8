// sluice_cli_main.cpp — `sluice`, the command-line client of sluiced's control socket.
//
// It knows the global options and the protocol, not the commands: everything after the
// global options goes to the daemon as args, so a new command needs no new CLI. It links no
// DPDK and starts in milliseconds. Exit code: the daemon's status (0 ok, 1 a check found a
// difference, 2 error), or 2 for its own errors, always with one line on stderr.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/control_protocol.h"
#include "control/version.h"

namespace {

namespace control = sluice::control;

constexpr double kDefaultTimeout = 30;

std::string usage() {
  std::string u =
      "Usage: sluice [--socket PATH] [--json] [--timeout SECONDS] COMMAND [ARGS...]\n"
      "\n"
      "Talks to sluiced over its control socket.\n"
      "\n"
      "Commands:\n"
      "  route show [PREFIX] [-n] [--all]\n"
      "                             routes as ip route shows them (PREFIX: that one route;\n"
      "                             -n: the classic route -n table; --all: local,\n"
      "                             broadcast and neighbour host routes too)\n"
      "  route get ADDR             the route, gateway, port, source and neighbour MAC\n"
      "  route add PREFIX via GW [dev PORT]\n"
      "                             a static route (on ports without a kernel twin)\n"
      "  route add PREFIX dev PORT  a static route on a link\n"
      "  route add blackhole|unreachable|prohibit PREFIX\n"
      "                             a static route that drops (unreachable, prohibit:\n"
      "                             with an ICMP error)\n"
      "  route del PREFIX           remove a static route\n"
      "  route check                compare the fast path with the kernel's tables;\n"
      "                             exit 1 if they differ\n"
      "  neigh                      neighbours (address, port, MAC, state, origin)\n"
      "  link                       ports: state, MTU, forwarding, queues, MAC\n"
      "  addr                       addresses per port\n"
      "  stats                      per port and per node counters, drops by reason\n"
      "  graph                      the packet graph as Graphviz dot\n"
      "  nat show                   NAT rules, port range, timeouts, sessions in use,\n"
      "                             counters and drops\n"
      "  nat sessions [--limit N]   the sessions: protocol, inside, outside, remote,\n"
      "                             state, idle seconds (at most N, default 1000; 0: all)\n"
      "  nat masquerade add|del PREFIX,out=PORT\n"
      "                             masquerade traffic from PREFIX leaving PORT\n"
      "  nat forward add PROTO:[ADDR:]PORT=ADDR:PORT[,in=PORT]\n"
      "                             forward tcp|udp PORT of the router to ADDR:PORT\n"
      "  nat forward del PROTO:[ADDR:]PORT[=ADDR:PORT][,in=PORT]\n"
      "                             remove the forward rule matching that\n"
      "  bridge [show] [NAME]       bridges: origin, MAC, routed interface and its\n"
      "                             addresses, ageing, VLAN filtering, members (state,\n"
      "                             learning, flooding, PVID, VLANs), FDB size, counters\n"
      "  bridge fdb [show] [NAME]   the FDB: MAC, bridge, port, VLAN, age (s), flags\n"
      "                             (static, local or learned)\n"
      "  bridge add NAME PORT [PORT...] [mac MAC] [ageing S] [vlan-filtering]\n"
      "                             a bridge over PORTs (no addresses of their own); its\n"
      "                             routed interface is a port named NAME\n"
      "  bridge del NAME            remove a bridge (and its routed interface)\n"
      "  bridge set NAME ageing S   seconds a learned MAC lives (0: no learning)\n"
      "  bridge fdb add|del MAC dev PORT|BRIDGE [vlan V]\n"
      "                             a static entry on member PORT, or a local one (frames\n"
      "                             to MAC go to the routed interface) with dev BRIDGE\n"
      "\n"
      "Options:\n"
      "  --socket PATH       control socket (default: $SLUICE_SOCKET, else ";
  u += control::kDefaultSocketPath;
  u += ")\n"
       "  -j, --json          JSON output from show commands (also accepted after COMMAND)\n"
       "  --timeout SECONDS   give up on the daemon after SECONDS (default 30; 0: wait forever)\n"
       "  -h, --help          this text\n"
       "  --version           print the version and exit\n"
       "\n"
       "Exit status: 0 ok, 1 a check found a difference, 2 error\n";
  return u;
}

// The CLI's own failures: one line, exit 2.
struct CliError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CliOptions {
  std::string socket;
  double timeout = kDefaultTimeout;
  std::vector<std::string> args;
};

double parse_timeout(const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const double t = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno != 0 || !std::isfinite(t) || t < 0)
    throw CliError("--timeout: expected a number of seconds >= 0, got '" + v + "'");
  if (t > 1e6) throw CliError("--timeout: at most 1000000 seconds (0 waits forever)");
  return t;
}

// Returns an exit code when the CLI is done without contacting the daemon (help, usage).
std::optional<int> parse_args(int argc, char** argv, CliOptions& o) {
  if (const char* env = std::getenv("SLUICE_SOCKET"); env && *env) o.socket = env;
  if (o.socket.empty()) o.socket = control::kDefaultSocketPath;
  bool json = false;
  int i = 1;
  auto value = [&](const std::string& opt, const std::string& arg) -> std::string {
    const auto eq = arg.find('=');
    if (eq != std::string::npos) return arg.substr(eq + 1);
    if (i + 1 >= argc) throw CliError(opt + " needs a value");
    return argv[++i];
  };
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    } else if (a == "--version") {
      std::fputs("sluice " SLUICE_VERSION "\n", stdout);
      return 0;
    } else if (a == "--json" || a == "-j") {
      json = true;
    } else if (a == "--socket" || a.starts_with("--socket=")) {
      o.socket = value("--socket", a);
      if (o.socket.empty()) throw CliError("--socket: empty path");
    } else if (a == "--timeout" || a.starts_with("--timeout=")) {
      o.timeout = parse_timeout(value("--timeout", a));
    } else if (a == "--") {
      ++i;
      break;
    } else if (a.starts_with("-")) {
      throw CliError("unknown option " + a + " (see sluice --help)");
    } else {
      break;
    }
  }
  for (; i < argc; ++i) o.args.emplace_back(argv[i]);
  if (o.args.empty()) {
    std::fputs(usage().c_str(), stderr);
    return 2;
  }
  if (o.args.front() == "help") {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  // At the end, where a subcommand's own parser expects options (`route show --json`).
  if (json) o.args.emplace_back("--json");
  return std::nullopt;
}

class Deadline {
 public:
  explicit Deadline(double seconds)
      : forever_(seconds == 0),
        end_(std::chrono::steady_clock::now() +
             std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                 std::chrono::duration<double>(seconds))) {}
  // Milliseconds for poll(): -1 for no timeout, 0 once expired.
  int remaining_ms() const {
    if (forever_) return -1;
    const auto left = end_ - std::chrono::steady_clock::now();
    if (left <= left.zero()) return 0;
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
  }

 private:
  bool forever_;
  std::chrono::steady_clock::time_point end_;
};

class Connection {
 public:
  Connection(const std::string& path, double timeout)
      : path_(path), timeout_(timeout), deadline_(timeout) {
    if (path.size() >= sizeof(sockaddr_un::sun_path))
      throw CliError("socket path too long: " + path);
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw CliError(std::string("cannot create a socket: ") + std::strerror(errno));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    // Blocking connect: on a UNIX socket it completes or fails at once, except when the
    // daemon's backlog is full; the socket timeout bounds that wait too.
    set_socket_timeout();
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      const int e = errno;
      std::string msg = "cannot connect to " + path + ": " + std::strerror(e);
      if (e == ENOENT || e == ECONNREFUSED) msg += " (is sluiced running?)";
      if (e == EACCES) msg += " (run as root or as the user sluiced runs as)";
      if (e == EAGAIN || e == EINPROGRESS || e == ETIMEDOUT)
        msg = "cannot connect to " + path + ": timed out (sluiced is busy)";
      throw CliError(msg);
    }
  }
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A send error is not reported at once: the daemon may have refused the request and closed
  // (too large, permission denied) while its reply waits to be read, and that reply says why.
  void send_all(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      wait_for(POLLOUT);
      const ssize_t w = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (w > 0) {
        off += std::size_t(w);
      } else if (errno != EINTR && errno != EAGAIN) {
        return;
      }
    }
    // Tells the daemon the request is complete even if its newline got lost somewhere.
    ::shutdown(fd_, SHUT_WR);
  }

  control::ReplyHeader read_header() {
    std::string line;
    for (;;) {
      char ch;
      // Byte by byte: the header is a few dozen bytes, and reading past its newline would
      // take body bytes we would then have to carry over.
      const ssize_t r = read_some(&ch, 1);
      if (r == 0) {
        if (line.empty()) throw CliError(path_ + " closed the connection without a reply");
        throw CliError("reply from " + path_ + " truncated in its header");
      }
      if (ch == '\n') break;
      line.push_back(ch);
      if (line.size() >= control::kMaxReplyHeader)
        throw CliError("malformed reply from " + path_ + ": header line too long");
    }
    try {
      return control::decode_reply_header(line);
    } catch (const std::invalid_argument& e) {
      throw CliError(std::string(e.what()) + " from " + path_);
    }
  }

  std::string read_body(uint64_t length) {
    std::string body;
    // Grown as bytes arrive rather than reserved from the header, so a bogus length cannot
    // make us allocate before the bytes exist.
    char buf[65536];
    while (body.size() < length) {
      const std::size_t want = std::min<uint64_t>(sizeof buf, length - body.size());
      const ssize_t r = read_some(buf, want);
      if (r == 0)
        throw CliError("reply from " + path_ + " truncated: connection closed after " +
                       std::to_string(body.size()) + " of " + std::to_string(length) + " bytes");
      body.append(buf, std::size_t(r));
    }
    return body;
  }

 private:
  void set_socket_timeout() {
    if (timeout_ == 0) return;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout_);
    tv.tv_usec = static_cast<suseconds_t>((timeout_ - double(tv.tv_sec)) * 1e6);
    if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  void wait_for(short events) {
    for (;;) {
      pollfd p{fd_, events, 0};
      const int n = ::poll(&p, 1, deadline_.remaining_ms());
      if (n > 0) return;
      if (n == 0) throw timed_out();
      if (errno != EINTR) throw CliError(std::string("poll: ") + std::strerror(errno));
    }
  }

  ssize_t read_some(char* buf, std::size_t n) {
    for (;;) {
      wait_for(POLLIN);
      const ssize_t r = ::recv(fd_, buf, n, MSG_DONTWAIT);
      if (r >= 0) return r;
      if (errno == EINTR || errno == EAGAIN) continue;
      // ECONNRESET after a daemon that closed with our request unread: nothing more to come.
      if (errno == ECONNRESET) return 0;
      throw CliError("reading the reply from " + path_ + ": " + std::strerror(errno));
    }
  }

  CliError timed_out() const {
    char t[32];
    std::snprintf(t, sizeof t, "%g", timeout_);
    return CliError("no reply from " + path_ + " within " + t + " s (timed out; see --timeout)");
  }

  std::string path_;
  double timeout_;
  Deadline deadline_;
  int fd_ = -1;
};

int run(int argc, char** argv) {
  CliOptions o;
  if (const std::optional<int> done = parse_args(argc, argv, o)) return *done;
  std::string request;
  try {
    request = control::encode_request(o.args);
  } catch (const std::invalid_argument& e) {
    throw CliError(e.what());
  }
  Connection conn(o.socket, o.timeout);
  conn.send_all(request);
  const control::ReplyHeader h = conn.read_header();
  const std::string body = conn.read_body(h.length);
  if (h.status == control::kStatusError) {
    std::string msg = body;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    std::fprintf(stderr, "sluice: %s\n", msg.empty() ? "error" : msg.c_str());
    return h.status;
  }
  // The whole body is read before anything is printed, so a truncated reply never leaves
  // half a table on stdout that a script could take for the whole one.
  if (!body.empty() && std::fwrite(body.data(), 1, body.size(), stdout) != body.size())
    throw CliError(std::string("writing the output: ") + std::strerror(errno));
  if (std::fflush(stdout) != 0)
    throw CliError(std::string("writing the output: ") + std::strerror(errno));
  return h.status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const CliError& e) {
    std::fprintf(stderr, "sluice: %s\n", e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sluice: %s\n", e.what());
  }
  return 2;
}
