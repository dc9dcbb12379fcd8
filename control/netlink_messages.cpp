// netlink_messages.cpp — decoding rtnetlink messages with libmnl's attribute walkers, which
// bound every attribute by its container, so a lying length cannot read past the message.
#include "control/netlink_messages.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netconf.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace sluice::netlink {

static_assert(kBridgeVlanGroup == RTNLGRP_BRVLAN);

bool BridgeFdb::is_static() const {
  return (state & NUD_NOARP) && !(state & NUD_PERMANENT);
}
bool BridgeFdb::is_local() const {
  return (state & NUD_PERMANENT) != 0;
}
bool BridgeFdb::self() const {
  return (flags & NTF_SELF) != 0;
}

namespace {

// Attributes of one message by type, after libmnl validated each one's own length.
template <size_t N>
struct Attrs {
  std::array<const nlattr*, N> a{};
  const nlattr* operator[](size_t t) const { return t < N ? a[t] : nullptr; }
};

// Attributes must tile their container exactly: anything left over that is not a whole
// attribute means a length lied, and the message is not trusted at all. f(attr) is called for
// each one, after libmnl validated its own length, and may refuse it by returning false.
template <class F>
bool each_attr(const void* begin, const void* end, F&& f) {
  // libmnl's walkers stop quietly at a bad length; this walk notices where it stopped.
  const auto* p = static_cast<const char*>(begin);
  const auto* tail = static_cast<const char*>(end);
  while (p < tail) {
    const auto* a = reinterpret_cast<const nlattr*>(p);
    if (!mnl_attr_ok(a, static_cast<int>(tail - p))) return false;
    if (!f(a)) return false;
    p = reinterpret_cast<const char*>(mnl_attr_next(a));
  }
  return true;
}

template <size_t N>
bool collect(const void* begin, const void* end, Attrs<N>& out) {
  return each_attr(begin, end, [&](const nlattr* a) {
    if (const uint16_t type = mnl_attr_get_type(a); type < N) out.a[type] = a;
    return true;
  });
}

template <size_t N>
bool parse_attrs(const nlmsghdr* h, size_t header_len, Attrs<N>& out) {
  if (h->nlmsg_len < mnl_nlmsg_size(header_len)) return false;
  return collect(mnl_nlmsg_get_payload_offset(h, header_len), mnl_nlmsg_get_payload_tail(h), out);
}

const void* payload_end(const nlattr* a) {
  return static_cast<const char*>(mnl_attr_get_payload(a)) + mnl_attr_get_payload_len(a);
}

// The attributes nested in `a`, which must tile its payload.
template <size_t N>
bool parse_nested(const nlattr* a, Attrs<N>& out) {
  return collect(mnl_attr_get_payload(a), payload_end(a), out);
}

template <class F>
bool each_nested(const nlattr* a, F&& f) {
  return each_attr(mnl_attr_get_payload(a), payload_end(a), f);
}

// Fixed-size attributes must have exactly their size. Absent: *v untouched, true.
template <class T>
bool get_exact(const nlattr* a, T* v) {
  if (a == nullptr) return true;
  if (mnl_attr_get_payload_len(a) != sizeof(T)) return false;
  std::memcpy(v, mnl_attr_get_payload(a), sizeof(T));
  return true;
}

bool get_flag(const nlattr* a, bool* v) {
  uint8_t u = *v;
  if (!get_exact(a, &u)) return false;
  *v = u != 0;
  return true;
}

bool get_string(const nlattr* a, std::string* v) {
  if (a == nullptr) return true;
  if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0) return false;
  *v = mnl_attr_get_str(a);
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

bool decode_bridge_info(const nlattr* data, BridgeInfo& b) {
  Attrs<IFLA_BR_MAX + 1> at;
  if (!parse_nested(data, at)) return false;
  uint16_t proto_be = htons(b.vlan_protocol);
  if (!get_exact(at[IFLA_BR_AGEING_TIME], &b.ageing_time_cs) ||
      !get_flag(at[IFLA_BR_VLAN_FILTERING], &b.vlan_filtering) ||
      !get_exact(at[IFLA_BR_VLAN_PROTOCOL], &proto_be) ||
      !get_exact(at[IFLA_BR_VLAN_DEFAULT_PVID], &b.default_pvid))
    return false;
  b.vlan_protocol = ntohs(proto_be);
  return true;
}

// IFLA_INFO_SLAVE_DATA of a bridge member and IFLA_PROTINFO of an AF_BRIDGE message hold the
// same IFLA_BRPORT_* attributes (the kernel fills both with br_port_fill_attrs).
bool decode_bridge_port(const nlattr* data, BridgePortInfo& p) {
  Attrs<IFLA_BRPORT_MAX + 1> at;
  if (!parse_nested(data, at)) return false;
  // IFLA_BRPORT_LOCKED is in the kernel headers since 6.0 (Debian 12's are 6.1); an older
  // kernel does not send it, and the port is not locked.
  return get_exact(at[IFLA_BRPORT_STATE], &p.state) &&
         get_flag(at[IFLA_BRPORT_LEARNING], &p.learning) &&
         get_flag(at[IFLA_BRPORT_UNICAST_FLOOD], &p.unicast_flood) &&
         get_flag(at[IFLA_BRPORT_BCAST_FLOOD], &p.bcast_flood) &&
         get_flag(at[IFLA_BRPORT_MCAST_FLOOD], &p.mcast_flood) &&
         get_flag(at[IFLA_BRPORT_ISOLATED], &p.isolated) &&
         get_flag(at[IFLA_BRPORT_NEIGH_SUPPRESS], &p.neigh_suppress) &&
         get_flag(at[IFLA_BRPORT_LOCKED], &p.locked) && get_flag(at[IFLA_BRPORT_MODE], &p.hairpin);
}

bool valid_vid(unsigned vid) {
  return vid >= 1 && vid <= 4094;
}

BridgeVlan vlan_of(uint16_t vid, uint16_t flags) {
  return BridgeVlan{vid, (flags & BRIDGE_VLAN_INFO_PVID) != 0,
                    (flags & BRIDGE_VLAN_INFO_UNTAGGED) != 0,
                    (flags & BRIDGE_VLAN_INFO_BRENTRY) != 0};
}

// vid..last, each with the flags of the range's first entry (the kernel only groups VIDs whose
// flags are equal).
bool add_range(std::vector<BridgeVlan>& out, unsigned vid, unsigned last, uint16_t flags) {
  if (!valid_vid(vid) || !valid_vid(last) || last < vid) return false;
  for (unsigned v = vid; v <= last; ++v) out.push_back(vlan_of(static_cast<uint16_t>(v), flags));
  return true;
}

// IFLA_AF_SPEC of an AF_BRIDGE link message: IFLA_BRIDGE_VLAN_INFO, one per VID or
// RANGE_BEGIN/RANGE_END pairs. Other attributes (tunnel info, MRP, CFM) are skipped.
bool decode_vlan_infos(const nlattr* af_spec, std::vector<BridgeVlan>& out) {
  bridge_vlan_info begin{};
  bool in_range = false;
  const bool tiled = each_nested(af_spec, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) != IFLA_BRIDGE_VLAN_INFO) return true;
    bridge_vlan_info vi{};
    if (!get_exact(a, &vi)) return false;
    const bool first = vi.flags & BRIDGE_VLAN_INFO_RANGE_BEGIN;
    const bool last = vi.flags & BRIDGE_VLAN_INFO_RANGE_END;
    if (first && last) return false;
    if (first) {
      if (in_range) return false;  // two begins in a row
      begin = vi;
      in_range = true;
      return true;
    }
    if (last) {
      if (!in_range) return false;  // an end without its begin
      in_range = false;
      return add_range(out, begin.vid, vi.vid, begin.flags);
    }
    if (in_range) return false;  // a lone VID inside a range
    return add_range(out, vi.vid, vi.vid, vi.flags);
  });
  return tiled && !in_range;
}

bool decode_link_info(const nlattr* info, Link& l) {
  Attrs<IFLA_INFO_MAX + 1> at;
  if (!parse_nested(info, at)) return false;
  if (!get_string(at[IFLA_INFO_KIND], &l.kind) ||
      !get_string(at[IFLA_INFO_SLAVE_KIND], &l.slave_kind))
    return false;
  if (l.kind == "bridge") {
    l.bridge.emplace();
    if (const nlattr* d = at[IFLA_INFO_DATA]; d && !decode_bridge_info(d, *l.bridge)) return false;
  }
  if (l.slave_kind == "bridge") {
    l.bridge_port.emplace();
    if (const nlattr* d = at[IFLA_INFO_SLAVE_DATA]; d && !decode_bridge_port(d, *l.bridge_port))
      return false;
  }
  return true;
}

// AF_BRIDGE link messages (br_fill_ifinfo): IFLA_MASTER, IFLA_PROTINFO for a port's NEWLINK,
// IFLA_AF_SPEC with the VLANs.
std::optional<Message> decode_bridge_link(const nlmsghdr* h, const ifinfomsg* ifi,
                                          const Attrs<IFLA_MAX + 1>& at) {
  BridgeLink b;
  b.deleted = h->nlmsg_type == RTM_DELLINK;
  b.ifindex = ifi->ifi_index;
  uint32_t master = 0;
  if (!get_exact(at[IFLA_MASTER], &master)) return std::nullopt;
  b.master = static_cast<int>(master);
  if (const nlattr* p = at[IFLA_PROTINFO]) {
    b.port.emplace();
    if (!decode_bridge_port(p, *b.port)) return std::nullopt;
  }
  if (const nlattr* af = at[IFLA_AF_SPEC]; af && !decode_vlan_infos(af, b.vlans))
    return std::nullopt;
  return b;
}

std::optional<Message> decode_link(const nlmsghdr* h) {
  Attrs<IFLA_MAX + 1> at;
  if (!parse_attrs(h, sizeof(ifinfomsg), at)) return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(h));
  if (ifi->ifi_family == AF_BRIDGE) return decode_bridge_link(h, ifi, at);
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
  // Bridge membership decides what sluice forwards: a malformed one spoils the whole message.
  uint32_t master = 0;
  if (!get_exact(at[IFLA_MASTER], &master)) return std::nullopt;
  l.master = static_cast<int>(master);
  if (const nlattr* info = at[IFLA_LINKINFO]; info && !decode_link_info(info, l))
    return std::nullopt;
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

std::optional<Message> decode_bridge_fdb(const nlmsghdr* h, const ndmsg* nd,
                                         const Attrs<NDA_MAX + 1>& at) {
  BridgeFdb f;
  f.deleted = h->nlmsg_type == RTM_DELNEIGH;
  f.ifindex = nd->ndm_ifindex;
  f.state = nd->ndm_state;
  f.flags = nd->ndm_flags;
  const nlattr* ll = at[NDA_LLADDR];
  if (ll == nullptr || mnl_attr_get_payload_len(ll) != 6) return std::nullopt;
  f.mac = MacAddr::from_bytes(static_cast<const uint8_t*>(mnl_attr_get_payload(ll)));
  uint32_t master = 0;
  if (!get_exact(at[NDA_MASTER], &master) || !get_exact(at[NDA_VLAN], &f.vlan)) return std::nullopt;
  f.master = static_cast<int>(master);
  if (f.vlan > 4094) return std::nullopt;
  return f;
}

std::optional<Message> decode_neighbour(const nlmsghdr* h) {
  Attrs<NDA_MAX + 1> at;
  if (!parse_attrs(h, sizeof(ndmsg), at)) return std::nullopt;
  const auto* nd = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(h));
  if (nd->ndm_family == AF_BRIDGE) return decode_bridge_fdb(h, nd, at);
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

bool decode_vlandb_entry(const nlattr* entry, std::vector<BridgeVlan>& out) {
  Attrs<BRIDGE_VLANDB_ENTRY_MAX + 1> at;
  if (!parse_nested(entry, at) || at[BRIDGE_VLANDB_ENTRY_INFO] == nullptr) return false;
  bridge_vlan_info vi{};
  if (!get_exact(at[BRIDGE_VLANDB_ENTRY_INFO], &vi)) return false;
  uint16_t last = vi.vid;
  if (!get_exact(at[BRIDGE_VLANDB_ENTRY_RANGE], &last)) return false;
  return add_range(out, vi.vid, last, vi.flags);
}

// RTM_NEWVLAN/RTM_DELVLAN (br_vlan_notify, br_vlan_dump_dev): BRIDGE_VLANDB_ENTRY nests, each
// with BRIDGE_VLANDB_ENTRY_INFO and, for a range, BRIDGE_VLANDB_ENTRY_RANGE (its last VID).
// Per-VLAN options (STP state, multicast) and BRIDGE_VLANDB_GLOBAL_OPTIONS are skipped.
std::optional<Message> decode_vlan(const nlmsghdr* h) {
  if (h->nlmsg_len < mnl_nlmsg_size(sizeof(br_vlan_msg))) return std::nullopt;
  const auto* bvm = static_cast<const br_vlan_msg*>(mnl_nlmsg_get_payload(h));
  if (bvm->family != AF_BRIDGE) return std::nullopt;
  Vlan v;
  v.deleted = h->nlmsg_type == RTM_DELVLAN;
  v.ifindex = static_cast<int>(bvm->ifindex);
  const bool ok = each_attr(mnl_nlmsg_get_payload_offset(h, sizeof(br_vlan_msg)),
                            mnl_nlmsg_get_payload_tail(h), [&](const nlattr* a) {
                              if (mnl_attr_get_type(a) != BRIDGE_VLANDB_ENTRY) return true;
                              return decode_vlandb_entry(a, v.vlans);
                            });
  if (!ok) return std::nullopt;
  return v;
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

bool message_ok(const nlmsghdr* h, int left) {
  return mnl_nlmsg_ok(h, left) && h->nlmsg_len <= static_cast<unsigned>(left);
}

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
    case RTM_NEWVLAN:
    case RTM_DELVLAN: return decode_vlan(h);
    default: return std::nullopt;
  }
}

namespace {

// A dump request: header, the family's fixed header (family in its first byte) and room for
// a few attributes, trimmed to its length.
template <class Header>
std::vector<uint8_t> dump_request(uint16_t type, uint8_t family,
                                  void (*attrs)(nlmsghdr*) = nullptr) {
  alignas(nlmsghdr) std::array<char, 256> buf{};
  nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  auto* body = static_cast<uint8_t*>(mnl_nlmsg_put_extra_header(h, sizeof(Header)));
  body[0] = family;
  if (attrs) attrs(h);
  const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
  return std::vector<uint8_t>(p, p + h->nlmsg_len);
}

}  // namespace

std::vector<uint8_t> vlan_dump_request() {
  return dump_request<br_vlan_msg>(RTM_GETVLAN, AF_BRIDGE);
}

std::vector<uint8_t> bridge_link_dump_request() {
  // One IFLA_BRIDGE_VLAN_INFO per VID (not RTEXT_FILTER_BRVLAN_COMPRESSED): the decoder takes
  // both, and the uncompressed form is what iproute2's `bridge vlan show` asks for.
  return dump_request<ifinfomsg>(RTM_GETLINK, AF_BRIDGE, [](nlmsghdr* h) {
    mnl_attr_put_u32(h, IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN);
  });
}

std::vector<uint8_t> bridge_fdb_dump_request() {
  return dump_request<ndmsg>(RTM_GETNEIGH, AF_BRIDGE);
}

}  // namespace sluice::netlink
