// netlink_messages_fuzz.cpp — libFuzzer target: rtnetlink datagrams through the kernel mirror's
// decoder (control/netlink_messages.h). The input is one received datagram; it is walked with
// netlink::message_ok and mnl_nlmsg_next exactly as netlink::Socket walks what it receives
// (error messages counted, DONE and NOOP skipped), and every other message goes to
// netlink::decode(). What it decodes must respect the promises of netlink_messages.h (VLAN IDs
// 1..4094, weights 1..255, prefix lengths 0..32); a broken promise aborts, as a crash would.
#include <libmnl/libmnl.h>
#include <linux/netlink.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <variant>

#include "control/netlink_messages.h"

namespace {

namespace nl = sluice::netlink;

[[noreturn]] void finding(const char* what) {
  fprintf(stderr, "netlink fuzz: %s\n", what);
  abort();
}

void check_vlans(const std::vector<nl::BridgeVlan>& vlans) {
  for (const nl::BridgeVlan& v : vlans)
    if (v.vid < 1 || v.vid > 4094) finding("a decoded VLAN ID outside 1..4094");
}

void check(const nl::Message& m) {
  std::visit(
      [](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, nl::Route>) {
          if (v.dst.len() > 32) finding("a route prefix longer than 32");
          for (const nl::Path& p : v.paths)
            if (p.weight == 0) finding("a multipath weight of 0");
        } else if constexpr (std::is_same_v<T, nl::Address>) {
          if (v.len > 32) finding("an address prefix longer than 32");
        } else if constexpr (std::is_same_v<T, nl::Nexthop>) {
          for (const auto& [id, weight] : v.group)
            if (weight == 0) finding("a nexthop group weight of 0");
        } else if constexpr (std::is_same_v<T, nl::BridgeLink> || std::is_same_v<T, nl::Vlan>) {
          check_vlans(v.vlans);
        }
      },
      m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A buffer of exactly the datagram's size (operator new aligns it, as the socket's buffer is
  // aligned), so that reading past the datagram is a heap overflow under AddressSanitizer.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[size == 0 ? 1 : size]);
  if (size != 0) memcpy(buf.get(), data, size);
  int left = static_cast<int>(size);
  for (auto* h = reinterpret_cast<const nlmsghdr*>(buf.get()); nl::message_ok(h, left);
       h = mnl_nlmsg_next(h, &left)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      // As Socket::drain: the error code is read only when the message holds an nlmsgerr.
      if (h->nlmsg_len >= mnl_nlmsg_size(sizeof(nlmsgerr))) {
        const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(h));
        volatile int code = e->error;
        (void)code;
      }
      continue;
    }
    if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_NOOP) continue;
    if (const std::optional<nl::Message> m = nl::decode(h)) check(*m);
  }
  return 0;
}
