// netlink_messages.cpp — decoding rtnetlink messages with libmnl's attribute walkers, which
// bound every attribute by its container, so a lying length cannot read past the message.
#include "control/netlink_messages.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netconf.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace sluice::netlink {
namespace {

// Attributes of one message by type, after libmnl validated each one's own length.
template <size_t N>
struct Attrs {
  std::array<const nlattr*, N> a{};
  const nlattr* operator[](size_t t) const { return t < N ? a[t] : nullptr; }
};

// Attributes must tile the message exactly: anything left over that is not a whole attribute
// means a length lied, and the message is not trusted at all.
template <size_t N>
bool parse_attrs(const nlmsghdr* h, size_t header_len, Attrs<N>& out) {
  if (h->nlmsg_len < mnl_nlmsg_size(header_len)) return false;
  // libmnl's walkers stop quietly at a bad length; this walk notices where it stopped.
  const auto* p = static_cast<const char*>(mnl_nlmsg_get_payload_offset(h, header_len));
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(h));
  while (p < tail) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (!mnl_attr_ok(a, static_cast<int>(tail - p))) return false;
    const uint16_t type = mnl_attr_get_type(a);
    if (type < N) out.a[type] = a;
    p = reinterpret_cast<const char*>(mnl_attr_next(a));
  }
  return true;
}

bool get_u32(const nlattr* a, uint32_t* v) {
  if (a == nullptr || mnl_attr_validate(a, MNL_TYPE_U32) < 0) return false;
  *v = mnl_attr_get_u32(a);
  return true;
}

bool get_ip(const nlattr* a, Ipv4Addr* v) {
  if (a == nullptr || mnl_attr_get_payload_len(a) != 4) return false;
  uint32_t be;
  std::memcpy(&be, mnl_attr_get_payload(a), 4);
  *v = Ipv4Addr::from_be(be);
  return true;
}

std::optional<Message> decode_link(const nlmsghdr* h) {
  Attrs<IFLA_MAX + 1> at;
  if (!parse_attrs(h, sizeof(ifinfomsg), at)) return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(h));
  Link l;
  l.deleted = h->nlmsg_type == RTM_DELLINK;
  l.ifindex = ifi->ifi_index;
  l.admin_up = (ifi->ifi_flags & IFF_UP) != 0;
  l.carrier = (ifi->ifi_flags & IFF_LOWER_UP) != 0;
  if (const nlattr* a = at[IFLA_IFNAME]; a && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
    l.name = mnl_attr_get_str(a);
  get_u32(at[IFLA_MTU], &l.mtu);
  if (const nlattr* a = at[IFLA_ADDRESS]; a && mnl_attr_get_payload_len(a) == 6)
    l.mac = MacAddr::from_bytes(static_cast<const uint8_t*>(mnl_attr_get_payload(a)));
  return l;
}

std::optional<Message> decode_address(const nlmsghdr* h) {
  Attrs<IFA_MAX + 1> at;
  if (!parse_attrs(h, sizeof(ifaddrmsg), at)) return std::nullopt;
  const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(h));
  if (ifa->ifa_family != AF_INET || ifa->ifa_prefixlen > 32) return std::nullopt;
  Address a;
  a.deleted = h->nlmsg_type == RTM_DELADDR;
  a.ifindex = static_cast<int>(ifa->ifa_index);
  a.len = ifa->ifa_prefixlen;
  a.flags = ifa->ifa_flags;
  get_u32(at[IFA_FLAGS], &a.flags);
  if (!get_ip(at[IFA_LOCAL], &a.addr) && !get_ip(at[IFA_ADDRESS], &a.addr)) return std::nullopt;
  return a;
}

bool decode_multipath(const nlattr* mp, std::vector<Path>& out) {
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(mp));
  size_t left = mnl_attr_get_payload_len(mp);
  while (left >= sizeof(rtnexthop)) {
    rtnexthop nh;
    std::memcpy(&nh, p, sizeof nh);
    if (nh.rtnh_len < sizeof(rtnexthop) || nh.rtnh_len > left) return false;
    Path path;
    path.ifindex = nh.rtnh_ifindex;
    path.weight = static_cast<uint8_t>(nh.rtnh_hops + 1 > 255 ? 255 : nh.rtnh_hops + 1);
    path.flags = nh.rtnh_flags;
    // The nexthop's own attributes follow its header, inside rtnh_len.
    size_t off = RTNH_ALIGN(sizeof(rtnexthop));
    while (off + sizeof(nlattr) <= nh.rtnh_len) {
      nlattr a;
      std::memcpy(&a, p + off, sizeof a);
      if (a.nla_len < sizeof(nlattr) || off + a.nla_len > nh.rtnh_len) return false;
      if ((a.nla_type & NLA_TYPE_MASK) == RTA_GATEWAY && a.nla_len == sizeof(nlattr) + 4) {
        uint32_t be;
        std::memcpy(&be, p + off + sizeof(nlattr), 4);
        path.gateway = Ipv4Addr::from_be(be);
      } else if ((a.nla_type & NLA_TYPE_MASK) == RTA_VIA) {
        return false;
      }
      off += NLA_ALIGN(a.nla_len);
    }
    out.push_back(path);
    const size_t step = RTNH_ALIGN(nh.rtnh_len);
    if (step >= left) break;
    p += step;
    left -= step;
  }
  return true;
}

std::optional<Message> decode_route(const nlmsghdr* h) {
  Attrs<RTA_MAX + 1> at;
  if (!parse_attrs(h, sizeof(rtmsg), at)) return std::nullopt;
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(h));
  if (rtm->rtm_family != AF_INET || rtm->rtm_dst_len > 32) return std::nullopt;
  Route r;
  r.deleted = h->nlmsg_type == RTM_DELROUTE;
  r.table = rtm->rtm_table;
  get_u32(at[RTA_TABLE], &r.table);
  r.type = rtm->rtm_type;
  r.protocol = rtm->rtm_protocol;
  r.scope = rtm->rtm_scope;
  r.tos = rtm->rtm_tos;
  r.flags = rtm->rtm_flags;
  Ipv4Addr dst;
  if (at[RTA_DST] && !get_ip(at[RTA_DST], &dst)) return std::nullopt;
  // The kernel never sends host bits; a hand-made message might. Mask them as it would.
  r.dst = *Prefix::make(Ipv4Addr::from_host(dst.host() & Prefix::mask_of(rtm->rtm_dst_len)),
                        rtm->rtm_dst_len);
  get_u32(at[RTA_PRIORITY], &r.priority);
  get_u32(at[RTA_NH_ID], &r.nh_id);
  if (at[RTA_VIA]) r.foreign_gateway = true;
  if (const nlattr* mp = at[RTA_MULTIPATH]) {
    if (!decode_multipath(mp, r.paths)) r.foreign_gateway = true;
  } else if (at[RTA_OIF] || at[RTA_GATEWAY]) {
    Path p;
    uint32_t oif = 0;
    get_u32(at[RTA_OIF], &oif);
    p.ifindex = static_cast<int>(oif);
    if (at[RTA_GATEWAY] && !get_ip(at[RTA_GATEWAY], &p.gateway)) return std::nullopt;
    p.flags = rtm->rtm_flags & 0xff;  // RTNH_F_* of a single-path route live in rtm_flags
    r.paths.push_back(p);
  }
  return r;
}

std::optional<Message> decode_neighbour(const nlmsghdr* h) {
  Attrs<NDA_MAX + 1> at;
  if (!parse_attrs(h, sizeof(ndmsg), at)) return std::nullopt;
  const auto* nd = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(h));
  if (nd->ndm_family != AF_INET) return std::nullopt;
  Neighbour n;
  n.deleted = h->nlmsg_type == RTM_DELNEIGH;
  n.ifindex = nd->ndm_ifindex;
  n.state = nd->ndm_state;
  n.flags = nd->ndm_flags;
  if (!get_ip(at[NDA_DST], &n.ip)) return std::nullopt;
  if (const nlattr* a = at[NDA_LLADDR]; a && mnl_attr_get_payload_len(a) == 6)
    n.mac = MacAddr::from_bytes(static_cast<const uint8_t*>(mnl_attr_get_payload(a)));
  return n;
}

std::optional<Message> decode_nexthop(const nlmsghdr* h) {
  Attrs<NHA_MAX + 1> at;
  if (!parse_attrs(h, sizeof(nhmsg), at)) return std::nullopt;
  const auto* nhm = static_cast<const nhmsg*>(mnl_nlmsg_get_payload(h));
  Nexthop n;
  n.deleted = h->nlmsg_type == RTM_DELNEXTHOP;
  n.ipv4 = nhm->nh_family == AF_INET;
  n.flags = nhm->nh_flags;
  if (!get_u32(at[NHA_ID], &n.id)) return std::nullopt;
  n.blackhole = at[NHA_BLACKHOLE] != nullptr;
  uint32_t oif = 0;
  get_u32(at[NHA_OIF], &oif);
  n.ifindex = static_cast<int>(oif);
  if (at[NHA_GATEWAY] && !get_ip(at[NHA_GATEWAY], &n.gateway)) {
    n.ipv4 = false;  // an IPv6 gateway
  }
  if (const nlattr* g = at[NHA_GROUP]) {
    const size_t len = mnl_attr_get_payload_len(g);
    if (len % sizeof(nexthop_grp) != 0) return std::nullopt;
    const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(g));
    for (size_t off = 0; off < len; off += sizeof(nexthop_grp)) {
      nexthop_grp e;
      std::memcpy(&e, p + off, sizeof e);
      n.group.emplace_back(e.id, static_cast<uint8_t>(e.weight == 255 ? 255 : e.weight + 1));
    }
  }
  return n;
}

std::optional<Message> decode_netconf(const nlmsghdr* h) {
  Attrs<NETCONFA_MAX + 1> at;
  if (!parse_attrs(h, sizeof(netconfmsg), at)) return std::nullopt;
  const auto* nc = static_cast<const netconfmsg*>(mnl_nlmsg_get_payload(h));
  if (nc->ncm_family != AF_INET) return std::nullopt;
  Netconf c;
  uint32_t v;
  if (!get_u32(at[NETCONFA_IFINDEX], &v)) return std::nullopt;
  c.ifindex = static_cast<int>(v);
  if (get_u32(at[NETCONFA_FORWARDING], &v)) c.forwarding = v != 0;
  return c;
}

}  // namespace

std::optional<Message> decode(const nlmsghdr* h) {
  switch (h->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: return decode_link(h);
    case RTM_NEWADDR:
    case RTM_DELADDR: return decode_address(h);
    case RTM_NEWROUTE:
    case RTM_DELROUTE: return decode_route(h);
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH: return decode_neighbour(h);
    case RTM_NEWNEXTHOP:
    case RTM_DELNEXTHOP: return decode_nexthop(h);
    case RTM_NEWNETCONF: return decode_netconf(h);
    default: return std::nullopt;
  }
}

}  // namespace sluice::netlink
