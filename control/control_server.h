// control_server.h — sluiced's end of the control socket (docs/control-protocol.md).
//
// It is driven by the daemon's single control thread: poll() on poll_fds() together with the
// netlink socket, then service(). Everything is non-blocking, so a slow, silent or hostile
// client can cost a file descriptor and its buffers, never the daemon's attention: requests
// are bounded in size and time, replies (tens of MB for a full table) are written as the
// socket drains, and the number of clients is capped.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/log.h"

namespace sluice {

struct CommandReply {
  int status = 0;    // the CLI's exit code: 0 ok, 1 a check found a difference, 2 error
  std::string body;  // for status 2: the error message (one line)
};

// Runs one command (args as the user typed them after `sluice`, e.g. {"route","show","--json"})
// on the control thread. May throw: the message becomes a status-2 reply.
using CommandHandler = std::function<CommandReply(const std::vector<std::string>& args)>;

class ControlServer {
 public:
  // Most clients served at once; further connections get a status-2 "busy" reply and are
  // closed, so a connection flood cannot exhaust the daemon's descriptors.
  static constexpr std::size_t kMaxClients = 64;
  // With every slot taken, a client still without a complete request after this long gives
  // its slot to a new one. The CLI sends its request as it connects, so only silent and
  // slowloris clients wait this long; without eviction 64 of them locked operators out for
  // the whole request timeout, again and again.
  static constexpr double kEvictAfter = 0.5;

  // Creates the parent directory (0755) if missing, refuses a path where a live server
  // answers, replaces a stale socket file, binds with mode 0600 and listens.
  // Throws std::runtime_error with a one-line message naming the path.
  ControlServer(const std::string& path, CommandHandler handler);
  // Closes every client and the listener; unlinks the socket if it is still ours.
  ~ControlServer();

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Appends the listening fd (POLLIN; briefly left out after accept() ran out of
  // descriptors) and each client's fd (POLLIN while reading its request,
  // POLLOUT while writing its reply).
  void poll_fds(std::vector<pollfd>& out) const;

  // Accepts, reads, runs complete requests, writes replies and expires clients past their
  // deadlines. `now` is a monotonic clock in seconds (tests inject it). Never blocks, never
  // throws.
  void service(double now);

  struct Counters {
    uint64_t requests = 0;        // well-formed requests handed to the handler
    uint64_t errors = 0;          // malformed requests, handler exceptions, busy, I/O errors
    uint64_t rejected_peers = 0;  // peers other than root and the daemon's euid
    uint64_t oversized = 0;       // requests without a newline within kMaxRequest bytes
    uint64_t timeouts = 0;        // silent requests and stalled replies
    uint64_t evicted = 0;         // slow senders dropped to make room for a new client
  };
  Counters counters() const { return counters_; }

  const std::string& path() const { return path_; }
  std::size_t clients() const { return clients_.size(); }

 private:
  struct Client;

  void accept_clients(double now);
  void read_request(Client& c, double now);
  void write_reply(Client& c, double now);
  void start_reply(Client& c, int status, std::string body, double now);
  void run_request(Client& c, double now);

  std::string path_;
  CommandHandler handler_;
  int listen_fd_ = -1;
  dev_t dev_ = 0;  // identity of our socket file, so the destructor never unlinks a successor's
  ino_t ino_ = 0;
  uid_t euid_ = 0;
  std::vector<std::unique_ptr<Client>> clients_;
  Counters counters_;
  // After accept() fails for want of descriptors or memory, the listener leaves the poll set
  // for kAcceptPause seconds.
  static constexpr double kAcceptPause = 0.1;
  bool accept_paused_ = false;
  double accept_resume_ = 0;
  // Refused clients and (at debug) requests are logged; a client in a loop must not fill it.
  log::RateLimit refused_log_{5, 60.0};
  log::RateLimit request_log_{100, 10.0};
};

}  // namespace sluice
