// sd_notify.cpp — see sd_notify.h. The socket is a path ("/run/systemd/notify") or, with a
// leading '@', a name in the abstract namespace; systemd reads one datagram per message.
#include "control/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "dataplane/log.h"

namespace sluice {

std::string sd_notify(const std::string& state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || *env == '\0') return "";
  const std::string path = env;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof a.sun_path)
    return "NOTIFY_SOCKET=" + path + ": not a socket path or @abstract name";
  std::memcpy(a.sun_path, path.data(), path.size());
  if (path[0] == '@') a.sun_path[0] = '\0';
  // Abstract names are not NUL-terminated: the address length says where the name ends.
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                          (path[0] == '/' ? 1 : 0));
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("sd_notify: socket: ") + std::strerror(errno);
  ssize_t sent;
  do {
    sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&a), len);
  } while (sent < 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (sent < 0) return "sd_notify to " + path + ": " + std::strerror(err);
  return "";
}

void notify_systemd(const std::string& state) {
  if (const std::string err = sd_notify(state); !err.empty()) log::warning("%s", err.c_str());
}

}  // namespace sluice
