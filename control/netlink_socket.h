// netlink_socket.h — one rtnetlink socket (libmnl): subscribing to event groups with a large
// receive buffer, non-blocking draining of events with overrun (ENOBUFS) reported rather than
// thrown, and blocking dumps. Errors on the control side throw std::runtime_error.
#pragma once

#include <linux/netlink.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <vector>

struct mnl_socket;

namespace sluice::netlink {

using MessageFn = std::function<void(const nlmsghdr*)>;

class Socket {
 public:
  // groups: RTNLGRP_* to join (none for a request/dump socket); rcvbuf in bytes (0: default).
  Socket(const std::vector<unsigned>& groups, int rcvbuf);
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  int fd() const;
  // Whatever is queued, without blocking, at most `budget` datagrams. Returns the number of
  // messages seen; *overrun is set when the kernel dropped events (ENOBUFS): the caller must
  // resync. Error replies (NLMSG_ERROR) to our own requests are counted in *errors.
  size_t drain(const MessageFn& f, size_t budget, bool* overrun, uint64_t* errors);
  // Throws away everything queued (after an overrun, before the resync dump).
  void discard();
  // A dump of `type` (RTM_GETLINK, ...) for `family`; blocks until NLMSG_DONE. Throws on error,
  // and DumpInterrupted if the kernel flagged the dump inconsistent (NLM_F_DUMP_INTR).
  void dump(uint16_t type, uint8_t family, const MessageFn& f);
  // The same for a request built elsewhere (netlink_messages.h: vlan_dump_request(), ...), for
  // dumps whose request carries attributes. Its sequence number is replaced by this socket's.
  void dump(std::vector<uint8_t> request, const MessageFn& f);
  // Sends a request without waiting for an answer (errors arrive later through drain()).
  void send(const nlmsghdr* h);
  uint32_t next_seq() { return ++seq_; }

 private:
  mnl_socket* nl_ = nullptr;
  uint32_t seq_ = 0;
  std::vector<char> buf_;
};

// The kernel interrupted a dump (NLM_F_DUMP_INTR): something changed meanwhile; dump again.
struct DumpInterrupted : std::exception {
  const char* what() const noexcept override { return "netlink dump interrupted by a change"; }
};

}  // namespace sluice::netlink
