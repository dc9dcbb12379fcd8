// netlink_messages.h — rtnetlink messages decoded into plain values: links, IPv4 addresses,
// routes, neighbours, nexthop objects and the forwarding sysctl (netconf). Decoding is
// separate from applying so it can be tested and fuzzed on bytes alone; anything malformed
// or not IPv4 decodes to nothing rather than to a half-filled value.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dataplane/mac_addr.h"
#include "lpm/ipv4.h"

namespace sluice::netlink {

struct Link {
  bool deleted = false;
  int ifindex = 0;
  std::string name;
  bool admin_up = false;  // IFF_UP
  bool carrier = false;   // IFF_LOWER_UP: the kernel's operational view
  uint32_t mtu = 0;
  std::optional<MacAddr> mac;
};

struct Address {
  bool deleted = false;
  int ifindex = 0;
  Ipv4Addr addr;  // IFA_LOCAL (IFA_ADDRESS when absent)
  unsigned len = 0;
  uint32_t flags = 0;  // IFA_F_*, from IFA_FLAGS when present
};

struct Path {
  int ifindex = 0;
  Ipv4Addr gateway;  // 0.0.0.0: on-link
  uint8_t weight = 1;
  uint32_t flags = 0;  // RTNH_F_*
};

struct Route {
  bool deleted = false;
  uint32_t table = 0;
  uint8_t type = 0;  // RTN_*
  uint8_t protocol = 0;
  uint8_t scope = 0;
  uint8_t tos = 0;
  uint32_t flags = 0;  // rtm_flags
  Prefix dst;
  uint32_t priority = 0;  // the metric
  uint32_t nh_id = 0;     // RTA_NH_ID: the route uses a nexthop object
  std::vector<Path> paths;
  bool foreign_gateway = false;  // RTA_VIA (an IPv6 gateway): sluice cannot use it
};

struct Neighbour {
  bool deleted = false;
  int ifindex = 0;
  Ipv4Addr ip;
  std::optional<MacAddr> mac;
  uint16_t state = 0;  // NUD_*
  uint8_t flags = 0;   // NTF_*
};

struct Nexthop {
  bool deleted = false;
  uint32_t id = 0;
  bool ipv4 = false;  // nh_family AF_INET (a group's family is AF_UNSPEC)
  bool blackhole = false;
  int ifindex = 0;
  Ipv4Addr gateway;
  uint32_t flags = 0;                               // RTNH_F_*
  std::vector<std::pair<uint32_t, uint8_t>> group;  // member id, weight (1..256 as 1..255)
};

struct Netconf {
  int ifindex = 0;  // NETCONFA_IFINDEX_ALL (-1), NETCONFA_IFINDEX_DEFAULT (-2) or a device
  std::optional<bool> forwarding;
};

using Message = std::variant<Link, Address, Route, Neighbour, Nexthop, Netconf>;

// One message (header included). nullopt for anything not decoded: other families, other
// types, truncated or malformed attributes.
std::optional<Message> decode(const nlmsghdr* h);

}  // namespace sluice::netlink
