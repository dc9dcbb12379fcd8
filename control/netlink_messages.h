// netlink_messages.h — rtnetlink messages decoded into plain values: links, IPv4 addresses,
// routes, neighbours, nexthop objects, the forwarding sysctl (netconf), and what the kernel
// says about Linux bridges (bridge and member details on links, VLANs, FDB entries); plus the
// requests for the bridge dumps. Decoding is separate from applying so it can be tested and
// fuzzed on bytes alone; anything malformed, or of a family not listed here, decodes to
// nothing rather than to a half-filled value.
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

// RTNLGRP_BRVLAN (<linux/rtnetlink.h>, kernel 5.8+): the group of RTM_NEWVLAN/RTM_DELVLAN
// events, to join alongside RTNLGRP_LINK and RTNLGRP_NEIGH when mirroring bridges.
inline constexpr unsigned kBridgeVlanGroup = 33;

// One VLAN of a bridge port, or of the bridge device itself. From `struct bridge_vlan_info`
// (BRIDGE_VLAN_INFO_* flags); ranges are expanded, one value per VID.
struct BridgeVlan {
  uint16_t vid = 0;       // 1..4094
  bool pvid = false;      // untagged and priority-tagged frames in are classified into vid
  bool untagged = false;  // frames of vid leave this port untagged
  // BRIDGE_VLAN_INFO_BRENTRY as written in the message. The kernel (6.x) never sets it in what
  // it sends: the bridge device's own VLANs (the BVI's) are the ones listed under the bridge's
  // own ifindex, and every VLAN listed there is such an entry.
  bool brentry = false;
  bool operator==(const BridgeVlan&) const = default;
};

// IFLA_INFO_DATA of a link of kind "bridge". An absent attribute keeps Linux's default (a
// kernel without CONFIG_BRIDGE_VLAN_FILTERING sends no VLAN protocol or default PVID).
struct BridgeInfo {
  uint32_t ageing_time_cs = 30000;  // IFLA_BR_AGEING_TIME: clock_t, hundredths of a second
  bool vlan_filtering = false;      // IFLA_BR_VLAN_FILTERING
  uint16_t vlan_protocol = 0x8100;  // IFLA_BR_VLAN_PROTOCOL, host order (ETH_P_8021Q)
  uint16_t default_pvid = 1;        // IFLA_BR_VLAN_DEFAULT_PVID
};

// IFLA_INFO_SLAVE_DATA of a link whose slave kind is "bridge" (a member), or IFLA_PROTINFO of
// an AF_BRIDGE link message: IFLA_BRPORT_*. An absent attribute keeps Linux's default for a
// new port.
struct BridgePortInfo {
  uint8_t state = 3;            // IFLA_BRPORT_STATE: BR_STATE_* (3: forwarding)
  bool learning = true;         // IFLA_BRPORT_LEARNING
  bool unicast_flood = true;    // IFLA_BRPORT_UNICAST_FLOOD ("flood" in iproute2)
  bool bcast_flood = true;      // IFLA_BRPORT_BCAST_FLOOD
  bool mcast_flood = true;      // IFLA_BRPORT_MCAST_FLOOD
  bool isolated = false;        // IFLA_BRPORT_ISOLATED
  bool neigh_suppress = false;  // IFLA_BRPORT_NEIGH_SUPPRESS
  bool locked = false;          // IFLA_BRPORT_LOCKED (kernel 6.0+)
  bool hairpin = false;         // IFLA_BRPORT_MODE
};

// RTM_NEWLINK/RTM_DELLINK of any family but AF_BRIDGE (the kernel's device messages are
// AF_UNSPEC): a device. Every such message describes the whole device (rtnl_fill_ifinfo fills
// it from scratch), so an absent attribute means "none", never "unchanged". AF_BRIDGE link
// messages are not Links: see BridgeLink.
struct Link {
  bool deleted = false;
  int ifindex = 0;
  std::string name;
  bool admin_up = false;  // IFF_UP
  bool carrier = false;   // IFF_LOWER_UP: the kernel's operational view
  uint32_t mtu = 0;
  std::optional<MacAddr> mac;
  std::string kind;  // IFLA_INFO_KIND: "bridge", "veth", ...; empty for a plain device
  // IFLA_MASTER: the ifindex of the device this one is enslaved to (its bridge), 0 for none.
  // A member leaving its bridge is a RTM_NEWLINK whose IFLA_MASTER is absent (or 0): both
  // decode to 0, meaning "no master now".
  int master = 0;
  std::string slave_kind;                     // IFLA_INFO_SLAVE_KIND: "bridge" for a bridge member
  std::optional<BridgeInfo> bridge;           // when kind == "bridge"
  std::optional<BridgePortInfo> bridge_port;  // when slave_kind == "bridge"
};

// RTM_NEWLINK/RTM_DELLINK of family AF_BRIDGE: the bridge's view of one of its ports, or of the
// bridge device itself (then master == ifindex). The kernel sends these to RTNLGRP_LINK, next
// to the AF_UNSPEC Link of the same device, when a port joins or changes (NEWLINK) and when it
// leaves the bridge (DELLINK: the device still exists), and answers bridge_link_dump_request()
// with them. A separate type so that such a DELLINK is never taken for a device going away.
struct BridgeLink {
  bool deleted = false;  // RTM_DELLINK: the port left its bridge (or the bridge is going)
  int ifindex = 0;
  int master = 0;                      // IFLA_MASTER: the bridge
  std::optional<BridgePortInfo> port;  // IFLA_PROTINFO: in a port's RTM_NEWLINK only
  // IFLA_AF_SPEC / IFLA_BRIDGE_VLAN_INFO, RANGE_BEGIN/RANGE_END pairs expanded: the device's
  // complete VLAN list (notifications always carry it, compressed; the dump asks for it). Empty
  // when it has none, as on kernels without CONFIG_BRIDGE_VLAN_FILTERING.
  std::vector<BridgeVlan> vlans;
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

// RTM_NEWNEIGH/RTM_DELNEIGH with ndm_family AF_BRIDGE: one forwarding database entry, of a
// bridge (NTF_MASTER, NDA_MASTER set) or of a device's own address lists (NTF_SELF).
struct BridgeFdb {
  bool deleted = false;
  int ifindex = 0;     // ndm_ifindex: the port, or the bridge for entries on the bridge itself
  int master = 0;      // NDA_MASTER: the bridge; 0 when absent (NTF_SELF entries)
  MacAddr mac;         // NDA_LLADDR (required)
  uint16_t vlan = 0;   // NDA_VLAN; 0 when absent (no VLAN)
  uint16_t state = 0;  // ndm_state, from the kernel's fdb_to_nud(): NUD_*
  uint8_t flags = 0;   // ndm_flags: NTF_SELF, NTF_MASTER, NTF_EXT_LEARNED, NTF_STICKY, ...
  // `bridge fdb add ... master static`: NUD_NOARP without NUD_PERMANENT.
  bool is_static() const;
  // The bridge's own addresses (its ports' MACs): NUD_PERMANENT, deliver to the bridge device.
  bool is_local() const;
  // NTF_SELF: a device's own address list, not the bridge's forwarding database.
  bool self() const;
};

// RTM_NEWVLAN/RTM_DELVLAN (struct br_vlan_msg, family AF_BRIDGE): VLANs added to, changed on
// or deleted from one port or bridge device. Unlike BridgeLink this is a delta: it lists only
// the VLANs concerned. BRIDGE_VLANDB_ENTRY_RANGE is expanded.
struct Vlan {
  bool deleted = false;
  int ifindex = 0;
  std::vector<BridgeVlan> vlans;
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

using Message =
    std::variant<Link, Address, Route, Neighbour, Nexthop, Netconf, BridgeLink, BridgeFdb, Vlan>;

// Whether `h` is a whole message within the `left` bytes of a received buffer: what
// mnl_nlmsg_ok() checks, but without its flaw. libmnl compares (int)nlmsg_len with `left`, so a
// length of 2^31 or more passes as negative and mnl_nlmsg_next() then steps far outside the
// buffer (found by fuzzing, tests/fuzz/regressions/netlink/). Every walk over received
// messages uses this with mnl_nlmsg_next().
bool message_ok(const nlmsghdr* h, int left);

// One message (header included). nullopt for anything not decoded: other families, other
// types, truncated or malformed attributes.
std::optional<Message> decode(const nlmsghdr* h);

// Dump requests for the bridge state, complete messages with NLM_F_REQUEST | NLM_F_DUMP and
// sequence number 0 (the sender sets its own; Socket::dump(request, f) does).
// RTM_GETVLAN, struct br_vlan_msg of family AF_BRIDGE, ifindex 0 (every device): answered with
// Vlan messages. Refused (EOPNOTSUPP) by kernels before 5.8 and by kernels built without
// CONFIG_BRIDGE_VLAN_FILTERING.
std::vector<uint8_t> vlan_dump_request();
// RTM_GETLINK of family AF_BRIDGE with IFLA_EXT_MASK = RTEXT_FILTER_BRVLAN: answered with a
// BridgeLink per bridge port and per bridge (one IFLA_BRIDGE_VLAN_INFO per VID).
std::vector<uint8_t> bridge_link_dump_request();
// RTM_GETNEIGH with ndm_family AF_BRIDGE: every FDB entry, answered with BridgeFdb messages.
std::vector<uint8_t> bridge_fdb_dump_request();

}  // namespace sluice::netlink
