// control_server.cpp — the control socket: a non-blocking UNIX stream server with one request
// and one reply per connection (docs/control-protocol.md).
#include "control/control_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "control/control_protocol.h"
#include "dataplane/log.h"

namespace sluice {

namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

sockaddr_un unix_address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path, path.data(), path.size());
  return a;
}

// mkdir -p of the socket's directory. Only directories we create get 0755 (explicitly, since
// umask would otherwise decide); existing ones are the administrator's business.
void make_parent_dirs(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return;
  const std::string dir = path.substr(0, slash);
  for (std::size_t i = 1; i <= dir.size(); ++i) {
    if (i != dir.size() && dir[i] != '/') continue;
    const std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0755) == 0) {
      ::chmod(part.c_str(), 0755);
      continue;
    }
    const int e = errno;
    struct stat st;
    if (e == EEXIST && ::stat(part.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    throw std::runtime_error("cannot create directory " + part + " for the control socket " + path +
                             ": " + errno_text(e == EEXIST ? ENOTDIR : e));
  }
}

// True when a server accepts connections on path. Non-blocking, so a live but wedged daemon
// with a full backlog (EAGAIN) counts as live instead of hanging our start-up.
bool live_server_at(const std::string& path) {
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) throw std::runtime_error("cannot create a socket: " + errno_text(errno));
  const sockaddr_un a = unix_address(path);
  const int rc = ::connect(s, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  const int e = errno;
  ::close(s);
  if (rc == 0 || e == EAGAIN || e == EINPROGRESS) return true;
  if (e == ECONNREFUSED || e == ENOENT) return false;
  throw std::runtime_error("cannot check the existing control socket " + path + ": " +
                           errno_text(e));
}

}  // namespace

struct ControlServer::Client {
  enum class State { kReading, kWriting, kClosed };

  explicit Client(int f, double now) : fd(f), deadline(now + control::kRequestTimeout) {}
  ~Client() {
    if (fd >= 0) ::close(fd);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
    state = State::kClosed;
  }

  int fd;
  State state = State::kReading;
  std::string in;
  std::string header;
  std::string body;
  std::size_t sent = 0;  // bytes of header + body written
  // Reading: when the whole request must have arrived. Writing: when the reply, having made
  // no progress since, is abandoned.
  double deadline;
};

ControlServer::ControlServer(const std::string& path, CommandHandler handler)
    : path_(path), handler_(std::move(handler)), euid_(::geteuid()) {
  if (path.empty()) throw std::runtime_error("control socket path is empty");
  if (path.size() >= sizeof(sockaddr_un::sun_path))
    throw std::runtime_error("control socket path too long (" + std::to_string(path.size()) +
                             " bytes, at most " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + "): " + path);
  if (!handler_) throw std::runtime_error("control socket " + path + ": no command handler");

  make_parent_dirs(path);

  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    // Never delete something that is not a socket: a typo in --control-socket must not cost
    // the administrator a file.
    if (!S_ISSOCK(st.st_mode))
      throw std::runtime_error(path + " exists and is not a socket; not replacing it");
    if (live_server_at(path))
      throw std::runtime_error("another sluiced is already listening on " + path);
    // A socket file nobody answers on is left over from a daemon that died without cleaning up.
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      throw std::runtime_error("cannot remove stale control socket " + path + ": " +
                               errno_text(errno));
  } else if (errno != ENOENT) {
    throw std::runtime_error("cannot inspect control socket path " + path + ": " +
                             errno_text(errno));
  }

  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("cannot create a socket: " + errno_text(errno));
  const sockaddr_un a = unix_address(path);
  // The umask makes the file 0600 from the moment it exists, so there is no window in which
  // another user could connect; the chmod below covers directories whose default ACL
  // overrides the umask.
  const mode_t old_mask = ::umask(0177);
  const int rc = ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  const int bind_errno = errno;
  ::umask(old_mask);
  auto fail = [&](const std::string& what, int e, bool unlink_path) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    if (unlink_path) ::unlink(path.c_str());
    throw std::runtime_error(what + " " + path + ": " + errno_text(e));
  };
  if (rc != 0) {
    if (bind_errno == EADDRINUSE)
      fail("another process created the control socket meanwhile:", bind_errno, false);
    fail("cannot bind the control socket", bind_errno, false);
  }
  if (::chmod(path.c_str(), 0600) != 0) fail("cannot chmod 0600 the control socket", errno, true);
  if (::stat(path.c_str(), &st) != 0) fail("cannot stat the control socket", errno, true);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  if (::listen(listen_fd_, static_cast<int>(kMaxClients)) != 0)
    fail("cannot listen on the control socket", errno, true);
}

ControlServer::~ControlServer() {
  clients_.clear();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  // Only our own socket: if an administrator removed it and another daemon took the path,
  // unlinking would cut that daemon off from its CLI.
  struct stat st;
  if (::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    ::unlink(path_.c_str());
}

void ControlServer::poll_fds(std::vector<pollfd>& out) const {
  if (listen_fd_ >= 0 && !accept_paused_) out.push_back(pollfd{listen_fd_, POLLIN, 0});
  for (const auto& c : clients_) {
    if (c->state == Client::State::kReading) out.push_back(pollfd{c->fd, POLLIN, 0});
    if (c->state == Client::State::kWriting) out.push_back(pollfd{c->fd, POLLOUT, 0});
  }
}

void ControlServer::service(double now) {
  try {
    // Our own zero-timeout poll: one system call tells which of up to kMaxClients + 1
    // descriptors have work, instead of a recv or send attempt on each of them.
    if (accept_paused_ && now >= accept_resume_) accept_paused_ = false;
    const bool listening = !accept_paused_;
    std::vector<pollfd> fds;
    fds.reserve(clients_.size() + 1);
    poll_fds(fds);
    const std::size_t n = clients_.size();
    if (::poll(fds.data(), fds.size(), 0) < 0) {
      if (errno != EINTR) ++counters_.errors;
      return;
    }
    const bool listener_ready = listening && (fds[0].revents & POLLIN);
    for (std::size_t i = 0, f = listening ? 1 : 0; i < n; ++i) {
      Client& c = *clients_[i];
      if (c.state == Client::State::kClosed) continue;
      const short rev = fds[f++].revents;
      if (c.state == Client::State::kReading && (rev & (POLLIN | POLLHUP | POLLERR)))
        read_request(c, now);
      else if (c.state == Client::State::kWriting && (rev & (POLLOUT | POLLHUP | POLLERR)))
        write_reply(c, now);
    }
    if (listener_ready) accept_clients(now);
    for (auto& c : clients_) {
      if (c->state == Client::State::kClosed || now < c->deadline) continue;
      ++counters_.timeouts;
      if (c->state == Client::State::kReading) {
        start_reply(*c, control::kStatusError,
                    control::error_body("timed out: no complete request within " +
                                        std::to_string(int(control::kRequestTimeout)) + " s"),
                    now);
      } else {
        c->close();  // a reader that stopped reading; its reply is abandoned
      }
    }
    std::erase_if(clients_, [](const auto& c) { return c->state == Client::State::kClosed; });
  } catch (...) {
    // Only allocation failure can get here. Dropping every client frees their buffers and
    // keeps the daemon running; the clients see a truncated reply and say so.
    ++counters_.errors;
    log::error("control: %zu client(s) dropped: out of memory", clients_.size());
    clients_.clear();
  }
}

void ControlServer::accept_clients(double now) {
  // Bounded, so a connection flood cannot keep the control thread in this loop.
  for (std::size_t k = 0; k < 2 * kMaxClients; ++k) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of descriptors or memory: the pending connection stays, so the listener stays
      // readable; left in the poll set it would turn the control loop into a busy loop.
      ++counters_.errors;
      if (refused_log_.allow(now))
        log::warning("control: cannot accept a client (%s): paused for %g s%s",
                     errno_text(errno).c_str(), kAcceptPause, refused_log_.note().c_str());
      accept_paused_ = true;
      accept_resume_ = now + kAcceptPause;
      return;
    }
    // Clients finished within this call still hold their slots until swept; sweep before
    // judging the cap, or a burst of quick requests would read as a crowd.
    if (clients_.size() >= kMaxClients)
      std::erase_if(clients_, [](const auto& c) { return c->state == Client::State::kClosed; });
    if (clients_.size() >= kMaxClients) {
      Client* slowest = nullptr;
      for (auto& c : clients_)
        if (c->state == Client::State::kReading && (!slowest || c->deadline < slowest->deadline))
          slowest = c.get();
      if (slowest && now - (slowest->deadline - control::kRequestTimeout) >= kEvictAfter) {
        ++counters_.evicted;
        slowest->close();
        std::erase_if(clients_, [](const auto& c) { return c->state == Client::State::kClosed; });
      }
    }
    if (clients_.size() >= kMaxClients) {
      // One best-effort send of a short reply (it fits any socket buffer), then close:
      // holding the connection would spend the descriptor the cap exists to protect.
      ++counters_.errors;
      if (refused_log_.allow(now))
        log::info("control: client refused: %zu clients connected already%s", kMaxClients,
                  refused_log_.note().c_str());
      const std::string body = control::error_body("busy: " + std::to_string(kMaxClients) +
                                                   " control clients connected; try again");
      const std::string msg =
          control::encode_reply_header(control::kStatusError, body.size()) + body;
      [[maybe_unused]] ssize_t w = ::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      continue;
    }
    clients_.push_back(std::make_unique<Client>(fd, now));
    Client& c = *clients_.back();
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        (cred.uid != 0 && cred.uid != euid_)) {
      // The 0600 mode already keeps others out; this holds even if someone loosens the mode
      // or passes a connected descriptor to another user.
      ++counters_.rejected_peers;
      if (refused_log_.allow(now))
        log::warning("control: client pid %d uid %u refused: the socket is for root and uid %u%s",
                     static_cast<int>(cred.pid), static_cast<unsigned>(cred.uid),
                     static_cast<unsigned>(euid_), refused_log_.note().c_str());
      start_reply(c, control::kStatusError,
                  control::error_body("permission denied: the control socket is for root and uid " +
                                      std::to_string(euid_)),
                  now);
      continue;
    }
    // The CLI writes its request right after connecting: it is usually here already.
    read_request(c, now);
  }
}

void ControlServer::read_request(Client& c, double now) {
  for (;;) {
    const std::size_t old = c.in.size();
    const std::size_t room = control::kMaxRequest - old;
    c.in.resize(control::kMaxRequest);
    const ssize_t r = ::recv(c.fd, c.in.data() + old, room, MSG_DONTWAIT);
    c.in.resize(old + (r > 0 ? std::size_t(r) : 0));
    if (r > 0) {
      if (c.in.find('\n', old) != std::string::npos) {
        run_request(c, now);
        return;
      }
      if (c.in.size() >= control::kMaxRequest) {
        ++counters_.oversized;
        start_reply(c, control::kStatusError,
                    control::error_body("request too large: no newline within " +
                                        std::to_string(control::kMaxRequest) + " bytes"),
                    now);
        return;
      }
      continue;
    }
    if (r == 0) {
      // A connect-and-close with nothing sent is how a starting daemon checks whether we are
      // alive: not an error.
      if (c.in.empty()) {
        c.close();
        return;
      }
      ++counters_.errors;
      start_reply(c, control::kStatusError,
                  control::error_body("incomplete request: end of input before the newline"), now);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    ++counters_.errors;
    c.close();
    return;
  }
}

void ControlServer::run_request(Client& c, double now) {
  const std::string_view line(c.in.data(), c.in.find('\n'));
  std::vector<std::string> args;
  try {
    args = control::decode_request(line);
  } catch (const std::invalid_argument& e) {
    ++counters_.errors;
    start_reply(c, control::kStatusError, control::error_body(e.what()), now);
    return;
  }
  ++counters_.requests;
  CommandReply reply;
  try {
    reply = handler_(args);
  } catch (const std::exception& e) {
    ++counters_.errors;
    reply = CommandReply{control::kStatusError, e.what()};
  } catch (...) {
    ++counters_.errors;
    reply = CommandReply{control::kStatusError, "internal error: unknown exception in handler"};
  }
  if (reply.status < 0 || reply.status > 255) {
    ++counters_.errors;
    reply = CommandReply{control::kStatusError,
                         "internal error: handler returned status " + std::to_string(reply.status)};
  }
  // The contract says a status-2 body is one line; enforce it here rather than trust every
  // handler to remember.
  if (reply.status == control::kStatusError) reply.body = control::error_body(reply.body);
  if (log::enabled(log::Level::kDebug) && request_log_.allow(now)) {
    std::string words;
    for (const std::string& a : args) words += (words.empty() ? "" : " ") + a;
    const bool failed = reply.status == control::kStatusError;  // its body is one line
    log::debug("control: '%s': status %d%s%.*s%s", words.c_str(), reply.status, failed ? ": " : "",
               failed ? static_cast<int>(reply.body.size()) - 1 : 0, reply.body.c_str(),
               request_log_.note().c_str());
  }
  start_reply(c, reply.status, std::move(reply.body), now);
}

void ControlServer::start_reply(Client& c, int status, std::string body, double now) {
  c.in.clear();
  c.in.shrink_to_fit();
  c.header = control::encode_reply_header(status, body.size());
  c.body = std::move(body);
  c.sent = 0;
  c.state = Client::State::kWriting;
  c.deadline = now + control::kReplyStallTimeout;
  write_reply(c, now);
}

void ControlServer::write_reply(Client& c, double now) {
  const std::size_t total = c.header.size() + c.body.size();
  while (c.sent < total) {
    iovec iov[2];
    int n = 0;
    if (c.sent < c.header.size()) {
      iov[n++] = iovec{c.header.data() + c.sent, c.header.size() - c.sent};
      iov[n++] = iovec{c.body.data(), c.body.size()};
    } else {
      const std::size_t off = c.sent - c.header.size();
      iov[n++] = iovec{c.body.data() + off, c.body.size() - off};
    }
    msghdr m{};
    m.msg_iov = iov;
    m.msg_iovlen = n;
    // MSG_NOSIGNAL: a client that hangs up mid-reply must cost an EPIPE, not the daemon.
    const ssize_t w = ::sendmsg(c.fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      c.sent += std::size_t(w);
      c.deadline = now + control::kReplyStallTimeout;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    ++counters_.errors;  // the reader went away (EPIPE, ECONNRESET)
    c.close();
    return;
  }
  c.close();
}

}  // namespace sluice
