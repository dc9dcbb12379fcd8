// sd_notify_test.cpp — control/sd_notify.cpp against real datagram sockets: a path socket and
// an abstract one (systemd uses both), nothing sent without $NOTIFY_SOCKET, and one-line
// errors for a socket that is not there or a malformed variable.
#include "control/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

namespace sluice {
namespace {

// A datagram socket bound to name (a path, or "@name" in the abstract namespace).
class Listener {
 public:
  explicit Listener(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (name[0] == '@') a.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    bound_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), len) == 0;
  }
  ~Listener() {
    if (fd_ >= 0) ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  // The next datagram, or "" when none is waiting.
  std::string next() {
    char buf[256];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

class SdNotify : public testing::Test {
 protected:
  void TearDown() override { unsetenv("NOTIFY_SOCKET"); }
};

TEST_F(SdNotify, PathSocket) {
  const std::string path = "/tmp/sd-notify-test-" + std::to_string(getpid()) + ".sock";
  Listener l(path);
  ASSERT_TRUE(l.bound());
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  EXPECT_EQ(sd_notify("READY=1"), "");
  EXPECT_EQ(l.next(), "READY=1");
  EXPECT_EQ(sd_notify("STOPPING=1"), "");
  EXPECT_EQ(l.next(), "STOPPING=1");
  EXPECT_EQ(l.next(), "");
}

TEST_F(SdNotify, AbstractSocket) {
  const std::string name = "@sd-notify-test-" + std::to_string(getpid());
  Listener l(name);
  ASSERT_TRUE(l.bound());
  setenv("NOTIFY_SOCKET", name.c_str(), 1);
  EXPECT_EQ(sd_notify("READY=1\nSTATUS=forwarding"), "");
  EXPECT_EQ(l.next(), "READY=1\nSTATUS=forwarding");
}

TEST_F(SdNotify, NothingWithoutTheVariable) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_EQ(sd_notify("READY=1"), "");
  setenv("NOTIFY_SOCKET", "", 1);
  EXPECT_EQ(sd_notify("READY=1"), "");
}

TEST_F(SdNotify, ErrorsAreOneLine) {
  setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
  const std::string missing = sd_notify("READY=1");
  EXPECT_NE(missing.find("/nonexistent/notify.sock"), std::string::npos) << missing;
  setenv("NOTIFY_SOCKET", "relative.sock", 1);
  const std::string relative = sd_notify("READY=1");
  EXPECT_NE(relative.find("not a socket path"), std::string::npos) << relative;
  setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);
  EXPECT_NE(sd_notify("READY=1"), "");
  for (const std::string& e : {missing, relative}) EXPECT_EQ(e.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace sluice
