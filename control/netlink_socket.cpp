// netlink_socket.cpp — libmnl plumbing. Reads use a 1 MiB buffer: a dump of a million routes
// comes in many datagrams of up to ~32 KiB each, and events arrive batched likewise.
#include "control/netlink_socket.h"

#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/netconf.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "control/netlink_messages.h"

namespace sluice::netlink {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("netlink: " + what + ": " + std::strerror(errno));
}

}  // namespace

Socket::Socket(const std::vector<unsigned>& groups, int rcvbuf) : buf_(1 << 20) {
  nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (nl_ == nullptr) fail("cannot open a NETLINK_ROUTE socket");
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    mnl_socket_close(nl_);
    fail("cannot bind");
  }
  const int fd = mnl_socket_get_fd(nl_);
  if (rcvbuf > 0) {
    // FORCE needs CAP_NET_ADMIN and overrides net.core.rmem_max; the plain one is capped by it.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  }
  for (unsigned g : groups) {
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) != 0) {
      mnl_socket_close(nl_);
      fail("cannot join group " + std::to_string(g));
    }
  }
}

Socket::~Socket() {
  if (nl_) mnl_socket_close(nl_);
}

int Socket::fd() const {
  return mnl_socket_get_fd(nl_);
}

namespace {

// Every message of one datagram, errors counted, the rest handed to f.
size_t each_message(const char* buf, size_t len, const MessageFn& f, uint64_t* errors) {
  size_t seen = 0;
  int left = static_cast<int>(len);
  for (auto* h = reinterpret_cast<const nlmsghdr*>(buf); message_ok(h, left);
       h = mnl_nlmsg_next(h, &left)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(h));
      if (h->nlmsg_len >= mnl_nlmsg_size(sizeof(nlmsgerr)) && e->error != 0) ++*errors;
      continue;
    }
    if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_NOOP) continue;
    ++seen;
    f(h);
  }
  return seen;
}

}  // namespace

size_t Socket::drain(const MessageFn& f, size_t budget, bool* overrun, uint64_t* errors) {
  // Each event is a datagram of its own: recvmmsg takes up to kBatch of them per system call
  // (one recv per event was a fifth of the control thread's time under a route burst).
  constexpr unsigned kBatch = 32;
  const size_t slot = buf_.size() / kBatch;
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  size_t seen = 0, datagrams = 0;
  while (datagrams < budget) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iov[i] = iovec{buf_.data() + i * slot, slot};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(fd(), msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        *overrun = true;
        continue;  // the queue still holds what came after the loss
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      fail("receive");
    }
    for (int i = 0; i < n; ++i) {
      // A datagram larger than a slot lost its tail: as good as an overrun.
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) *overrun = true;
      seen += each_message(buf_.data() + i * slot, msgs[i].msg_len, f, errors);
    }
    datagrams += static_cast<size_t>(n);
    if (static_cast<unsigned>(n) < kBatch) break;  // nothing more queued
  }
  return seen;
}

void Socket::discard() {
  while (true) {
    const ssize_t n = recv(fd(), buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (n < 0 && errno != ENOBUFS && errno != EINTR) return;
  }
}

void Socket::send(const nlmsghdr* h) {
  if (mnl_socket_sendto(nl_, h, h->nlmsg_len) < 0) fail("send");
}

void Socket::dump(uint16_t type, uint8_t family, const MessageFn& f) {
  char req[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* h = mnl_nlmsg_put_header(req);
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  // Each request carries its family's header; the kernel reads the family from its first byte.
  size_t hdr = sizeof(rtgenmsg);
  switch (type) {
    case RTM_GETLINK: hdr = sizeof(ifinfomsg); break;
    case RTM_GETADDR: hdr = sizeof(ifaddrmsg); break;
    case RTM_GETROUTE: hdr = sizeof(rtmsg); break;
    case RTM_GETNEIGH: hdr = sizeof(ndmsg); break;
    case RTM_GETNEXTHOP: hdr = sizeof(nhmsg); break;
    case RTM_GETNETCONF: hdr = sizeof(netconfmsg); break;
    case RTM_GETVLAN: hdr = sizeof(br_vlan_msg); break;
    default: break;
  }
  auto* body = static_cast<uint8_t*>(mnl_nlmsg_put_extra_header(h, hdr));
  body[0] = family;
  const auto* p = reinterpret_cast<const uint8_t*>(req);
  dump(std::vector<uint8_t>(p, p + h->nlmsg_len), f);
}

void Socket::dump(std::vector<uint8_t> request, const MessageFn& f) {
  if (request.size() < sizeof(nlmsghdr)) throw std::invalid_argument("netlink: short request");
  auto* h = reinterpret_cast<nlmsghdr*>(request.data());
  const uint16_t type = h->nlmsg_type;
  h->nlmsg_seq = next_seq();
  const uint32_t seq = h->nlmsg_seq;
  send(h);

  bool interrupted = false;
  while (true) {
    const ssize_t n = recv(fd(), buf_.data(), buf_.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) continue;  // a dump socket joins no group; harmless
      fail("receive during a dump");
    }
    int left = static_cast<int>(n);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buf_.data()); message_ok(m, left);
         m = mnl_nlmsg_next(m, &left)) {
      if (m->nlmsg_seq != seq) continue;  // late errors of earlier requests
      if (m->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (m->nlmsg_type == NLMSG_DONE) {
        if (interrupted) throw DumpInterrupted();
        return;
      }
      if (m->nlmsg_type == NLMSG_ERROR) {
        const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
        if (e->error == 0) continue;
        // Kernels without nexthop objects refuse that dump: an empty answer.
        if (type == RTM_GETNEXTHOP && (e->error == -EOPNOTSUPP || e->error == -EINVAL)) return;
        errno = -e->error;
        fail("dump of message type " + std::to_string(type));
      }
      f(m);
    }
  }
}

}  // namespace sluice::netlink
