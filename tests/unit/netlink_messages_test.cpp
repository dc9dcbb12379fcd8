// netlink_messages_test.cpp — rtnetlink messages built byte by byte (with libmnl, as the
// kernel lays them out) and decoded: every field the mirror uses, and malformed input
// (truncated, lying lengths, other families) decoding to nothing rather than to garbage.
// The bridge messages are also checked against a real kernel, in a namespace of their own.
#include "control/netlink_messages.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netconf.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::netlink {
namespace {

uint32_t be(const char* a) {
  return inet_addr(a);
}

struct Msg {
  alignas(4) char buf[4096] = {};
  nlmsghdr* h;
  explicit Msg(uint16_t type) {
    h = mnl_nlmsg_put_header(buf);
    h->nlmsg_type = type;
  }
  template <class T>
  T* extra() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(h, sizeof(T)));
  }
  // Attributes put by fill() inside a nest of `type`.
  void nest(uint16_t type, const std::function<void()>& fill) {
    nlattr* n = mnl_attr_nest_start(h, type);
    fill();
    mnl_attr_nest_end(h, n);
  }
  void vlan_info(uint16_t type, uint16_t flags, uint16_t vid) {
    const bridge_vlan_info vi{flags, vid};
    mnl_attr_put(h, type, sizeof vi, &vi);
  }
};

TEST(NetlinkDecode, RouteViaGateway) {
  Msg m(RTM_NEWROUTE);
  auto* r = m.extra<rtmsg>();
  r->rtm_family = AF_INET;
  r->rtm_dst_len = 16;
  r->rtm_table = RT_TABLE_MAIN;
  r->rtm_type = RTN_UNICAST;
  r->rtm_protocol = RTPROT_STATIC;
  mnl_attr_put_u32(m.h, RTA_DST, be("10.20.0.0"));
  mnl_attr_put_u32(m.h, RTA_GATEWAY, be("10.2.0.254"));
  mnl_attr_put_u32(m.h, RTA_OIF, 7);
  mnl_attr_put_u32(m.h, RTA_PRIORITY, 100);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Route& route = std::get<Route>(*msg);
  EXPECT_FALSE(route.deleted);
  EXPECT_EQ(route.dst.str(), "10.20.0.0/16");
  EXPECT_EQ(route.table, 254u);
  EXPECT_EQ(route.priority, 100u);
  EXPECT_EQ(route.type, RTN_UNICAST);
  ASSERT_EQ(route.paths.size(), 1u);
  EXPECT_EQ(route.paths[0].ifindex, 7);
  EXPECT_EQ(route.paths[0].gateway.str(), "10.2.0.254");
  EXPECT_EQ(route.nh_id, 0u);
}

TEST(NetlinkDecode, RouteTableAttributeWinsOverHeader) {
  Msg m(RTM_DELROUTE);
  auto* r = m.extra<rtmsg>();
  r->rtm_family = AF_INET;
  r->rtm_dst_len = 0;
  r->rtm_table = RT_TABLE_COMPAT;  // tables above 255 live in RTA_TABLE
  r->rtm_type = RTN_BLACKHOLE;
  mnl_attr_put_u32(m.h, RTA_TABLE, 1000);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Route& route = std::get<Route>(*msg);
  EXPECT_TRUE(route.deleted);
  EXPECT_EQ(route.table, 1000u);
  EXPECT_EQ(route.dst.str(), "0.0.0.0/0");
  EXPECT_EQ(route.type, RTN_BLACKHOLE);
  EXPECT_TRUE(route.paths.empty());
}

TEST(NetlinkDecode, MultipathWithWeights) {
  Msg m(RTM_NEWROUTE);
  auto* r = m.extra<rtmsg>();
  r->rtm_family = AF_INET;
  r->rtm_dst_len = 8;
  r->rtm_table = RT_TABLE_MAIN;
  r->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(m.h, RTA_DST, be("10.0.0.0"));
  nlattr* mp = mnl_attr_nest_start(m.h, RTA_MULTIPATH);
  const char* gws[] = {"10.2.0.2", "10.3.0.2"};
  const int ifs[] = {3, 4};
  const uint8_t hops[] = {0, 2};  // weights 1 and 3
  for (int i = 0; i < 2; ++i) {
    auto* nh = static_cast<rtnexthop*>(mnl_nlmsg_get_payload_tail(m.h));
    m.h->nlmsg_len += RTNH_ALIGN(sizeof(rtnexthop));
    nh->rtnh_ifindex = ifs[i];
    nh->rtnh_hops = hops[i];
    nh->rtnh_flags = 0;
    mnl_attr_put_u32(m.h, RTA_GATEWAY, be(gws[i]));
    nh->rtnh_len = static_cast<unsigned short>(
        reinterpret_cast<char*>(mnl_nlmsg_get_payload_tail(m.h)) - reinterpret_cast<char*>(nh));
  }
  mnl_attr_nest_end(m.h, mp);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Route& route = std::get<Route>(*msg);
  ASSERT_EQ(route.paths.size(), 2u);
  EXPECT_EQ(route.paths[0].gateway.str(), "10.2.0.2");
  EXPECT_EQ(route.paths[0].ifindex, 3);
  EXPECT_EQ(route.paths[0].weight, 1);
  EXPECT_EQ(route.paths[1].gateway.str(), "10.3.0.2");
  EXPECT_EQ(route.paths[1].ifindex, 4);
  EXPECT_EQ(route.paths[1].weight, 3);
  EXPECT_FALSE(route.foreign_gateway);
}

TEST(NetlinkDecode, MultipathWithLyingLengthIsNotUsable) {
  Msg m(RTM_NEWROUTE);
  auto* r = m.extra<rtmsg>();
  r->rtm_family = AF_INET;
  r->rtm_dst_len = 8;
  r->rtm_type = RTN_UNICAST;
  nlattr* mp = mnl_attr_nest_start(m.h, RTA_MULTIPATH);
  auto* nh = static_cast<rtnexthop*>(mnl_nlmsg_get_payload_tail(m.h));
  m.h->nlmsg_len += RTNH_ALIGN(sizeof(rtnexthop));
  nh->rtnh_len = 200;  // longer than the attribute
  nh->rtnh_ifindex = 3;
  mnl_attr_nest_end(m.h, mp);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  EXPECT_TRUE(std::get<Route>(*msg).foreign_gateway) << "a bad multipath must not be installed";
}

TEST(NetlinkDecode, RouteWithNexthopObject) {
  Msg m(RTM_NEWROUTE);
  auto* r = m.extra<rtmsg>();
  r->rtm_family = AF_INET;
  r->rtm_dst_len = 24;
  r->rtm_table = RT_TABLE_MAIN;
  r->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(m.h, RTA_DST, be("192.0.2.0"));
  mnl_attr_put_u32(m.h, RTA_NH_ID, 12);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  EXPECT_EQ(std::get<Route>(*msg).nh_id, 12u);
}

TEST(NetlinkDecode, HostBitsAreMasked) {
  Msg m(RTM_NEWROUTE);
  auto* r = m.extra<rtmsg>();
  r->rtm_family = AF_INET;
  r->rtm_dst_len = 24;
  mnl_attr_put_u32(m.h, RTA_DST, be("192.0.2.77"));
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  EXPECT_EQ(std::get<Route>(*msg).dst.str(), "192.0.2.0/24");
}

TEST(NetlinkDecode, OtherFamiliesAndBadLengthsDecodeToNothing) {
  {
    Msg m(RTM_NEWROUTE);
    m.extra<rtmsg>()->rtm_family = AF_INET6;
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWROUTE);
    auto* r = m.extra<rtmsg>();
    r->rtm_family = AF_INET;
    r->rtm_dst_len = 33;
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWROUTE);
    auto* r = m.extra<rtmsg>();
    r->rtm_family = AF_INET;
    r->rtm_dst_len = 8;
    mnl_attr_put(m.h, RTA_DST, 2, "\x0a\x00");  // 2 bytes, not 4
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWROUTE);
    m.h->nlmsg_len = sizeof(nlmsghdr) + 2;  // shorter than its rtmsg
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWROUTE);
    auto* r = m.extra<rtmsg>();
    r->rtm_family = AF_INET;
    mnl_attr_put_u32(m.h, RTA_OIF, 3);
    m.h->nlmsg_len -= 4;  // the last attribute runs past the message
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(NLMSG_MIN_TYPE + 200);
    EXPECT_FALSE(decode(m.h));
  }
}

TEST(NetlinkDecode, Address) {
  Msg m(RTM_NEWADDR);
  auto* a = m.extra<ifaddrmsg>();
  a->ifa_family = AF_INET;
  a->ifa_prefixlen = 24;
  a->ifa_index = 5;
  mnl_attr_put_u32(m.h, IFA_ADDRESS, be("10.1.0.1"));
  mnl_attr_put_u32(m.h, IFA_LOCAL, be("10.1.0.1"));
  mnl_attr_put_u32(m.h, IFA_FLAGS, IFA_F_NOPREFIXROUTE);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Address& addr = std::get<Address>(*msg);
  EXPECT_EQ(addr.ifindex, 5);
  EXPECT_EQ(addr.addr.str(), "10.1.0.1");
  EXPECT_EQ(addr.len, 24u);
  EXPECT_EQ(addr.flags, uint32_t{IFA_F_NOPREFIXROUTE});
  // No address attribute at all: nothing.
  Msg bad(RTM_DELADDR);
  bad.extra<ifaddrmsg>()->ifa_family = AF_INET;
  EXPECT_FALSE(decode(bad.h));
}

TEST(NetlinkDecode, Link) {
  Msg m(RTM_NEWLINK);
  auto* i = m.extra<ifinfomsg>();
  i->ifi_index = 9;
  i->ifi_flags = IFF_UP;  // admin up, no carrier
  mnl_attr_put_strz(m.h, IFLA_IFNAME, "r1");
  mnl_attr_put_u32(m.h, IFLA_MTU, 1400);
  const uint8_t mac[6] = {2, 0, 0, 0, 0, 0x11};
  mnl_attr_put(m.h, IFLA_ADDRESS, 6, mac);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Link& l = std::get<Link>(*msg);
  EXPECT_EQ(l.ifindex, 9);
  EXPECT_EQ(l.name, "r1");
  EXPECT_TRUE(l.admin_up);
  EXPECT_FALSE(l.carrier);
  EXPECT_EQ(l.mtu, 1400u);
  ASSERT_TRUE(l.mac);
  EXPECT_EQ(l.mac->str(), "02:00:00:00:00:11");
}

TEST(NetlinkDecode, Neighbour) {
  Msg m(RTM_NEWNEIGH);
  auto* n = m.extra<ndmsg>();
  n->ndm_family = AF_INET;
  n->ndm_ifindex = 4;
  n->ndm_state = NUD_STALE;
  mnl_attr_put_u32(m.h, NDA_DST, be("10.2.0.2"));
  const uint8_t mac[6] = {2, 0, 0, 0, 2, 2};
  mnl_attr_put(m.h, NDA_LLADDR, 6, mac);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Neighbour& nb = std::get<Neighbour>(*msg);
  EXPECT_EQ(nb.ifindex, 4);
  EXPECT_EQ(nb.ip.str(), "10.2.0.2");
  EXPECT_EQ(nb.state, NUD_STALE);
  ASSERT_TRUE(nb.mac);
  EXPECT_EQ(nb.mac->str(), "02:00:00:00:02:02");
}

TEST(NetlinkDecode, NexthopAndGroup) {
  {
    Msg m(RTM_NEWNEXTHOP);
    auto* nh = m.extra<nhmsg>();
    nh->nh_family = AF_INET;
    mnl_attr_put_u32(m.h, NHA_ID, 10);
    mnl_attr_put_u32(m.h, NHA_OIF, 3);
    mnl_attr_put_u32(m.h, NHA_GATEWAY, be("10.2.0.2"));
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    const Nexthop& n = std::get<Nexthop>(*msg);
    EXPECT_EQ(n.id, 10u);
    EXPECT_TRUE(n.ipv4);
    EXPECT_EQ(n.ifindex, 3);
    EXPECT_EQ(n.gateway.str(), "10.2.0.2");
    EXPECT_TRUE(n.group.empty());
  }
  {
    Msg m(RTM_NEWNEXTHOP);
    m.extra<nhmsg>()->nh_family = AF_UNSPEC;
    mnl_attr_put_u32(m.h, NHA_ID, 12);
    nexthop_grp g[2] = {};
    g[0].id = 10;
    g[0].weight = 0;  // weight 1
    g[1].id = 11;
    g[1].weight = 4;  // weight 5
    mnl_attr_put(m.h, NHA_GROUP, sizeof g, g);
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    const Nexthop& n = std::get<Nexthop>(*msg);
    ASSERT_EQ(n.group.size(), 2u);
    EXPECT_EQ(n.group[0], (std::pair<uint32_t, uint8_t>{10, 1}));
    EXPECT_EQ(n.group[1], (std::pair<uint32_t, uint8_t>{11, 5}));
  }
  {
    Msg m(RTM_NEWNEXTHOP);
    m.extra<nhmsg>()->nh_family = AF_INET;
    mnl_attr_put_u32(m.h, NHA_ID, 13);
    mnl_attr_put(m.h, NHA_BLACKHOLE, 0, nullptr);
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    EXPECT_TRUE(std::get<Nexthop>(*msg).blackhole);
  }
  {
    Msg m(RTM_NEWNEXTHOP);  // no id: nothing
    m.extra<nhmsg>()->nh_family = AF_INET;
    EXPECT_FALSE(decode(m.h));
  }
}

TEST(NetlinkDecode, Netconf) {
  Msg m(RTM_NEWNETCONF);
  m.extra<netconfmsg>()->ncm_family = AF_INET;
  mnl_attr_put_u32(m.h, NETCONFA_IFINDEX, static_cast<uint32_t>(NETCONFA_IFINDEX_ALL));
  mnl_attr_put_u32(m.h, NETCONFA_FORWARDING, 0);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Netconf& c = std::get<Netconf>(*msg);
  EXPECT_EQ(c.ifindex, NETCONFA_IFINDEX_ALL);
  ASSERT_TRUE(c.forwarding);
  EXPECT_FALSE(*c.forwarding);
}

// Random bytes behind a valid header never crash the decoder (fixed seed 20261127).
TEST(NetlinkDecode, RandomBodiesAreHarmless) {
  uint64_t x = 20261127;
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  const uint16_t types[] = {RTM_NEWROUTE, RTM_DELROUTE,   RTM_NEWADDR,    RTM_NEWLINK,
                            RTM_NEWNEIGH, RTM_NEWNEXTHOP, RTM_NEWNETCONF, RTM_NEWVLAN};
  constexpr size_t kTypes = sizeof types / sizeof types[0];
  size_t decoded = 0;
  for (int i = 0; i < 200000; ++i) {
    alignas(4) char buf[512];
    const size_t len = sizeof(nlmsghdr) + next() % (sizeof buf - sizeof(nlmsghdr));
    for (size_t j = 0; j < sizeof buf; ++j) buf[j] = static_cast<char>(next());
    auto* h = reinterpret_cast<nlmsghdr*>(buf);
    h->nlmsg_len = static_cast<uint32_t>(len);
    h->nlmsg_type = types[next() % kTypes];
    // Mostly a decoded family, so the attribute walkers get exercised.
    const uint64_t f = next() % 8;
    buf[sizeof(nlmsghdr)] = f < 4 ? AF_INET : f < 6 ? AF_BRIDGE : static_cast<char>(next());
    if (decode(h)) ++decoded;
  }
  EXPECT_GT(decoded, 0u) << "the generator never got past the headers";
}

// ---- bridges: links, members, VLANs, FDB ---------------------------------------------------

TEST(NetlinkDecodeBridge, BridgeWithInfoData) {
  Msg m(RTM_NEWLINK);
  auto* i = m.extra<ifinfomsg>();
  i->ifi_index = 5;
  i->ifi_flags = IFF_UP | IFF_LOWER_UP;
  mnl_attr_put_strz(m.h, IFLA_IFNAME, "v-net-0");
  m.nest(IFLA_LINKINFO, [&] {
    mnl_attr_put_strz(m.h, IFLA_INFO_KIND, "bridge");
    m.nest(IFLA_INFO_DATA, [&] {
      mnl_attr_put_u32(m.h, IFLA_BR_FORWARD_DELAY, 1500);  // not decoded, skipped
      mnl_attr_put_u32(m.h, IFLA_BR_AGEING_TIME, 12345);
      mnl_attr_put_u8(m.h, IFLA_BR_VLAN_FILTERING, 1);
      mnl_attr_put_u16(m.h, IFLA_BR_VLAN_PROTOCOL, htons(0x88a8));
      mnl_attr_put_u16(m.h, IFLA_BR_VLAN_DEFAULT_PVID, 10);
    });
  });
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Link& l = std::get<Link>(*msg);
  EXPECT_EQ(l.ifindex, 5);
  EXPECT_EQ(l.name, "v-net-0");
  EXPECT_EQ(l.kind, "bridge");
  EXPECT_EQ(l.master, 0);
  EXPECT_EQ(l.slave_kind, "");
  EXPECT_FALSE(l.bridge_port);
  ASSERT_TRUE(l.bridge);
  EXPECT_EQ(l.bridge->ageing_time_cs, 12345u);
  EXPECT_TRUE(l.bridge->vlan_filtering);
  EXPECT_EQ(l.bridge->vlan_protocol, 0x88a8);
  EXPECT_EQ(l.bridge->default_pvid, 10);
}

TEST(NetlinkDecodeBridge, BridgeWithoutInfoDataHasLinuxDefaults) {
  Msg m(RTM_NEWLINK);
  m.extra<ifinfomsg>()->ifi_index = 5;
  m.nest(IFLA_LINKINFO, [&] { mnl_attr_put_strz(m.h, IFLA_INFO_KIND, "bridge"); });
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Link& l = std::get<Link>(*msg);
  ASSERT_TRUE(l.bridge);
  EXPECT_EQ(l.bridge->ageing_time_cs, 30000u);
  EXPECT_FALSE(l.bridge->vlan_filtering);
  EXPECT_EQ(l.bridge->vlan_protocol, 0x8100);
  EXPECT_EQ(l.bridge->default_pvid, 1);
}

TEST(NetlinkDecodeBridge, OtherKindsHaveNoBridgeInfo) {
  Msg m(RTM_NEWLINK);
  m.extra<ifinfomsg>()->ifi_index = 6;
  m.nest(IFLA_LINKINFO, [&] {
    mnl_attr_put_strz(m.h, IFLA_INFO_KIND, "veth");
    m.nest(IFLA_INFO_DATA, [&] { mnl_attr_put_u32(m.h, 1, 7); });  // veth's own, not read
  });
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Link& l = std::get<Link>(*msg);
  EXPECT_EQ(l.kind, "veth");
  EXPECT_FALSE(l.bridge);
  EXPECT_FALSE(l.bridge_port);
  EXPECT_EQ(l.master, 0);
}

TEST(NetlinkDecodeBridge, MemberWithSlaveData) {
  Msg m(RTM_NEWLINK);
  m.extra<ifinfomsg>()->ifi_index = 7;
  mnl_attr_put_strz(m.h, IFLA_IFNAME, "veth-red-br");
  mnl_attr_put_u32(m.h, IFLA_MASTER, 5);
  m.nest(IFLA_LINKINFO, [&] {
    mnl_attr_put_strz(m.h, IFLA_INFO_KIND, "veth");
    mnl_attr_put_strz(m.h, IFLA_INFO_SLAVE_KIND, "bridge");
    m.nest(IFLA_INFO_SLAVE_DATA, [&] {
      mnl_attr_put_u8(m.h, IFLA_BRPORT_STATE, 1);  // BR_STATE_LISTENING
      mnl_attr_put_u16(m.h, IFLA_BRPORT_PRIORITY, 32);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_LEARNING, 0);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_UNICAST_FLOOD, 0);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_BCAST_FLOOD, 0);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_MCAST_FLOOD, 0);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_ISOLATED, 1);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_NEIGH_SUPPRESS, 1);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_LOCKED, 1);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_MODE, 1);
    });
  });
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Link& l = std::get<Link>(*msg);
  EXPECT_EQ(l.master, 5);
  EXPECT_EQ(l.kind, "veth");
  EXPECT_EQ(l.slave_kind, "bridge");
  EXPECT_FALSE(l.bridge);
  ASSERT_TRUE(l.bridge_port);
  const BridgePortInfo& p = *l.bridge_port;
  EXPECT_EQ(p.state, 1);
  EXPECT_FALSE(p.learning);
  EXPECT_FALSE(p.unicast_flood);
  EXPECT_FALSE(p.bcast_flood);
  EXPECT_FALSE(p.mcast_flood);
  EXPECT_TRUE(p.isolated);
  EXPECT_TRUE(p.neigh_suppress);
  EXPECT_TRUE(p.locked);
  EXPECT_TRUE(p.hairpin);
}

TEST(NetlinkDecodeBridge, MemberWithoutPortAttributesHasLinuxDefaults) {
  Msg m(RTM_NEWLINK);
  m.extra<ifinfomsg>()->ifi_index = 7;
  mnl_attr_put_u32(m.h, IFLA_MASTER, 5);
  m.nest(IFLA_LINKINFO, [&] { mnl_attr_put_strz(m.h, IFLA_INFO_SLAVE_KIND, "bridge"); });
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Link& l = std::get<Link>(*msg);
  ASSERT_TRUE(l.bridge_port);
  const BridgePortInfo& p = *l.bridge_port;
  EXPECT_EQ(p.state, 3);  // forwarding
  EXPECT_TRUE(p.learning);
  EXPECT_TRUE(p.unicast_flood);
  EXPECT_TRUE(p.bcast_flood);
  EXPECT_TRUE(p.mcast_flood);
  EXPECT_FALSE(p.isolated);
  EXPECT_FALSE(p.neigh_suppress);
  EXPECT_FALSE(p.locked);
  EXPECT_FALSE(p.hairpin);
}

TEST(NetlinkDecodeBridge, MemberLeavingHasMasterZero) {
  // `ip link set veth-red-br nomaster`: the kernel's RTM_NEWLINK has no IFLA_MASTER at all.
  {
    Msg m(RTM_NEWLINK);
    m.extra<ifinfomsg>()->ifi_index = 7;
    m.nest(IFLA_LINKINFO, [&] { mnl_attr_put_strz(m.h, IFLA_INFO_KIND, "veth"); });
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    const Link& l = std::get<Link>(*msg);
    EXPECT_FALSE(l.deleted);
    EXPECT_EQ(l.master, 0);
    EXPECT_EQ(l.slave_kind, "");
    EXPECT_FALSE(l.bridge_port);
  }
  // An explicit 0 means the same.
  {
    Msg m(RTM_NEWLINK);
    m.extra<ifinfomsg>()->ifi_index = 7;
    mnl_attr_put_u32(m.h, IFLA_MASTER, 0);
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    EXPECT_EQ(std::get<Link>(*msg).master, 0);
  }
}

TEST(NetlinkDecodeBridge, AfBridgeLinkWithVlansAndRanges) {
  Msg m(RTM_NEWLINK);
  auto* i = m.extra<ifinfomsg>();
  i->ifi_family = AF_BRIDGE;
  i->ifi_index = 7;
  i->ifi_flags = IFF_UP;
  mnl_attr_put_strz(m.h, IFLA_IFNAME, "veth-red-br");
  mnl_attr_put_u32(m.h, IFLA_MASTER, 5);
  mnl_attr_put_u32(m.h, IFLA_MTU, 1500);
  mnl_attr_put_u8(m.h, IFLA_OPERSTATE, IF_OPER_UP);
  m.nest(IFLA_PROTINFO, [&] {
    mnl_attr_put_u8(m.h, IFLA_BRPORT_STATE, 3);
    mnl_attr_put_u8(m.h, IFLA_BRPORT_LEARNING, 0);
  });
  // Nested without NLA_F_NESTED, as the kernel does for this one (nla_nest_start_noflag).
  nlattr* af = mnl_attr_nest_start(m.h, IFLA_AF_SPEC);
  af->nla_type = IFLA_AF_SPEC;
  m.vlan_info(IFLA_BRIDGE_VLAN_INFO, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 1);
  m.vlan_info(IFLA_BRIDGE_VLAN_INFO, BRIDGE_VLAN_INFO_RANGE_BEGIN, 10);
  m.vlan_info(IFLA_BRIDGE_VLAN_INFO, BRIDGE_VLAN_INFO_RANGE_END, 12);
  m.vlan_info(IFLA_BRIDGE_VLAN_INFO, BRIDGE_VLAN_INFO_UNTAGGED, 20);
  m.vlan_info(IFLA_BRIDGE_VLAN_INFO, BRIDGE_VLAN_INFO_UNTAGGED | BRIDGE_VLAN_INFO_RANGE_BEGIN,
              4093);
  m.vlan_info(IFLA_BRIDGE_VLAN_INFO, BRIDGE_VLAN_INFO_UNTAGGED | BRIDGE_VLAN_INFO_RANGE_END, 4094);
  mnl_attr_put_u32(m.h, IFLA_BRIDGE_FLAGS, 0);  // another AF_SPEC attribute: skipped
  mnl_attr_nest_end(m.h, af);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  ASSERT_TRUE(std::holds_alternative<BridgeLink>(*msg)) << "an AF_BRIDGE message is no Link";
  const BridgeLink& b = std::get<BridgeLink>(*msg);
  EXPECT_FALSE(b.deleted);
  EXPECT_EQ(b.ifindex, 7);
  EXPECT_EQ(b.master, 5);
  ASSERT_TRUE(b.port);
  EXPECT_EQ(b.port->state, 3);
  EXPECT_FALSE(b.port->learning);
  EXPECT_TRUE(b.port->unicast_flood);
  const std::vector<BridgeVlan> want = {
      {1, true, true, false},     {10, false, false, false}, {11, false, false, false},
      {12, false, false, false},  {20, false, true, false},  {4093, false, true, false},
      {4094, false, true, false},
  };
  EXPECT_EQ(b.vlans, want);
}

TEST(NetlinkDecodeBridge, AfBridgeDellinkIsAPortLeavingNotALinkDeleted) {
  Msg m(RTM_DELLINK);
  auto* i = m.extra<ifinfomsg>();
  i->ifi_family = AF_BRIDGE;
  i->ifi_index = 7;
  mnl_attr_put_strz(m.h, IFLA_IFNAME, "veth-red-br");
  mnl_attr_put_u32(m.h, IFLA_MASTER, 5);
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  ASSERT_TRUE(std::holds_alternative<BridgeLink>(*msg));
  const BridgeLink& b = std::get<BridgeLink>(*msg);
  EXPECT_TRUE(b.deleted);
  EXPECT_EQ(b.ifindex, 7);
  EXPECT_EQ(b.master, 5);
  EXPECT_FALSE(b.port);
  EXPECT_TRUE(b.vlans.empty());
}

TEST(NetlinkDecodeBridge, BadVlanInfoListsDecodeToNothing) {
  struct Info {
    uint16_t flags, vid;
  };
  constexpr uint16_t kBegin = BRIDGE_VLAN_INFO_RANGE_BEGIN, kEnd = BRIDGE_VLAN_INFO_RANGE_END;
  const std::vector<std::pair<const char*, std::vector<Info>>> cases = {
      {"an end without a begin", {{kEnd, 12}}},
      {"a begin without an end", {{kBegin, 10}}},
      {"two begins", {{kBegin, 10}, {kBegin, 11}, {kEnd, 12}}},
      {"a lone VID inside a range", {{kBegin, 10}, {0, 11}, {kEnd, 12}}},
      {"begin and end at once", {{kBegin | kEnd, 10}}},
      {"a reversed range", {{kBegin, 12}, {kEnd, 10}}},
      {"VID 0", {{0, 0}}},
      {"VID 4095", {{0, 4095}}},
      {"a range past 4094", {{kBegin, 4000}, {kEnd, 4095}}},
  };
  for (const auto& [what, infos] : cases) {
    SCOPED_TRACE(what);
    Msg m(RTM_NEWLINK);
    auto* i = m.extra<ifinfomsg>();
    i->ifi_family = AF_BRIDGE;
    i->ifi_index = 7;
    m.nest(IFLA_AF_SPEC, [&] {
      for (const Info& vi : infos) m.vlan_info(IFLA_BRIDGE_VLAN_INFO, vi.flags, vi.vid);
    });
    EXPECT_FALSE(decode(m.h));
  }
  // A VLAN info of the wrong size.
  Msg m(RTM_NEWLINK);
  auto* i = m.extra<ifinfomsg>();
  i->ifi_family = AF_BRIDGE;
  m.nest(IFLA_AF_SPEC, [&] { mnl_attr_put_u16(m.h, IFLA_BRIDGE_VLAN_INFO, 10); });
  EXPECT_FALSE(decode(m.h));
}

TEST(NetlinkDecodeBridge, NewVlanWithRange) {
  Msg m(RTM_NEWVLAN);
  auto* v = m.extra<br_vlan_msg>();
  v->family = AF_BRIDGE;
  v->ifindex = 7;
  m.nest(BRIDGE_VLANDB_ENTRY, [&] {
    m.vlan_info(BRIDGE_VLANDB_ENTRY_INFO, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, 1);
    mnl_attr_put_u8(m.h, BRIDGE_VLANDB_ENTRY_STATE, 3);  // per-VLAN option: skipped
  });
  m.nest(BRIDGE_VLANDB_ENTRY, [&] {
    m.vlan_info(BRIDGE_VLANDB_ENTRY_INFO, 0, 100);
    mnl_attr_put_u16(m.h, BRIDGE_VLANDB_ENTRY_RANGE, 103);
  });
  auto msg = decode(m.h);
  ASSERT_TRUE(msg);
  const Vlan& vl = std::get<Vlan>(*msg);
  EXPECT_FALSE(vl.deleted);
  EXPECT_EQ(vl.ifindex, 7);
  const std::vector<BridgeVlan> want = {
      {1, true, true, false},     {100, false, false, false}, {101, false, false, false},
      {102, false, false, false}, {103, false, false, false},
  };
  EXPECT_EQ(vl.vlans, want);
}

TEST(NetlinkDecodeBridge, DelVlanAndBadVlanMessages) {
  {
    Msg m(RTM_DELVLAN);
    auto* v = m.extra<br_vlan_msg>();
    v->family = AF_BRIDGE;
    v->ifindex = 5;
    m.nest(BRIDGE_VLANDB_ENTRY,
           [&] { m.vlan_info(BRIDGE_VLANDB_ENTRY_INFO, BRIDGE_VLAN_INFO_BRENTRY, 30); });
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    const Vlan& vl = std::get<Vlan>(*msg);
    EXPECT_TRUE(vl.deleted);
    EXPECT_EQ(vl.ifindex, 5);
    ASSERT_EQ(vl.vlans.size(), 1u);
    EXPECT_EQ(vl.vlans[0], (BridgeVlan{30, false, false, true}));
  }
  {
    Msg m(RTM_NEWVLAN);  // not AF_BRIDGE
    auto* v = m.extra<br_vlan_msg>();
    v->family = AF_INET;
    m.nest(BRIDGE_VLANDB_ENTRY, [&] { m.vlan_info(BRIDGE_VLANDB_ENTRY_INFO, 0, 30); });
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWVLAN);  // an entry without its info
    m.extra<br_vlan_msg>()->family = AF_BRIDGE;
    m.nest(BRIDGE_VLANDB_ENTRY, [&] { mnl_attr_put_u16(m.h, BRIDGE_VLANDB_ENTRY_RANGE, 40); });
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWVLAN);  // a range ending before it starts
    m.extra<br_vlan_msg>()->family = AF_BRIDGE;
    m.nest(BRIDGE_VLANDB_ENTRY, [&] {
      m.vlan_info(BRIDGE_VLANDB_ENTRY_INFO, 0, 50);
      mnl_attr_put_u16(m.h, BRIDGE_VLANDB_ENTRY_RANGE, 40);
    });
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWVLAN);  // a range of the wrong size
    m.extra<br_vlan_msg>()->family = AF_BRIDGE;
    m.nest(BRIDGE_VLANDB_ENTRY, [&] {
      m.vlan_info(BRIDGE_VLANDB_ENTRY_INFO, 0, 50);
      mnl_attr_put_u32(m.h, BRIDGE_VLANDB_ENTRY_RANGE, 60);
    });
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWVLAN);  // shorter than its br_vlan_msg
    m.h->nlmsg_len = sizeof(nlmsghdr) + 2;
    EXPECT_FALSE(decode(m.h));
  }
}

// One AF_BRIDGE neighbour message as br_fdb's fdb_fill_info lays it out.
Msg fdb_msg(uint16_t type, int ifindex, uint16_t state, uint8_t flags, int master, uint16_t vlan,
            const uint8_t (&mac)[6]) {
  Msg m(type);
  auto* n = m.extra<ndmsg>();
  n->ndm_family = AF_BRIDGE;
  n->ndm_ifindex = ifindex;
  n->ndm_state = state;
  n->ndm_flags = flags;
  mnl_attr_put(m.h, NDA_LLADDR, 6, mac);
  if (master) mnl_attr_put_u32(m.h, NDA_MASTER, static_cast<uint32_t>(master));
  if (vlan) mnl_attr_put_u16(m.h, NDA_VLAN, vlan);
  return m;
}

TEST(NetlinkDecodeBridge, FdbEntries) {
  const uint8_t mac[6] = {2, 0, 0, 0, 0, 0x21};
  {
    // `bridge fdb add 02:00:00:00:00:21 dev veth-red-br master static vlan 10`
    Msg m = fdb_msg(RTM_NEWNEIGH, 7, NUD_NOARP, NTF_MASTER, 5, 10, mac);
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    const BridgeFdb& f = std::get<BridgeFdb>(*msg);
    EXPECT_FALSE(f.deleted);
    EXPECT_EQ(f.ifindex, 7);
    EXPECT_EQ(f.master, 5);
    EXPECT_EQ(f.mac.str(), "02:00:00:00:00:21");
    EXPECT_EQ(f.vlan, 10);
    EXPECT_EQ(f.state, NUD_NOARP);
    EXPECT_EQ(f.flags, NTF_MASTER);
    EXPECT_TRUE(f.is_static());
    EXPECT_FALSE(f.is_local());
    EXPECT_FALSE(f.self());
  }
  {
    // A local entry (the port's own MAC); the kernel also sets NOARP on some of them.
    Msg m = fdb_msg(RTM_NEWNEIGH, 7, NUD_PERMANENT | NUD_NOARP, NTF_MASTER, 5, 0, mac);
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    const BridgeFdb& f = std::get<BridgeFdb>(*msg);
    EXPECT_TRUE(f.is_local());
    EXPECT_FALSE(f.is_static());
    EXPECT_FALSE(f.self());
    EXPECT_EQ(f.vlan, 0);
  }
  {
    // Learned, externally learned and sticky: neither static nor local.
    Msg m = fdb_msg(RTM_NEWNEIGH, 7, NUD_REACHABLE, NTF_MASTER | NTF_EXT_LEARNED | NTF_STICKY, 5, 0,
                    mac);
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    const BridgeFdb& f = std::get<BridgeFdb>(*msg);
    EXPECT_FALSE(f.is_static());
    EXPECT_FALSE(f.is_local());
    EXPECT_FALSE(f.self());
    EXPECT_EQ(f.flags, NTF_MASTER | NTF_EXT_LEARNED | NTF_STICKY);
    EXPECT_EQ(f.state, NUD_REACHABLE);
  }
  {
    // A device's own address list (`bridge fdb add ... dev X` without `master`): no NDA_MASTER.
    Msg m = fdb_msg(RTM_DELNEIGH, 8, NUD_PERMANENT, NTF_SELF, 0, 0, mac);
    auto msg = decode(m.h);
    ASSERT_TRUE(msg);
    const BridgeFdb& f = std::get<BridgeFdb>(*msg);
    EXPECT_TRUE(f.deleted);
    EXPECT_TRUE(f.self());
    EXPECT_EQ(f.master, 0);
    EXPECT_EQ(f.ifindex, 8);
  }
}

TEST(NetlinkDecodeBridge, BadFdbEntriesDecodeToNothing) {
  {
    Msg m(RTM_NEWNEIGH);  // no NDA_LLADDR
    auto* n = m.extra<ndmsg>();
    n->ndm_family = AF_BRIDGE;
    n->ndm_ifindex = 7;
    mnl_attr_put_u32(m.h, NDA_MASTER, 5);
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWNEIGH);  // a 4-byte NDA_LLADDR
    m.extra<ndmsg>()->ndm_family = AF_BRIDGE;
    mnl_attr_put_u32(m.h, NDA_LLADDR, 1);
    EXPECT_FALSE(decode(m.h));
  }
  const uint8_t mac[6] = {2, 0, 0, 0, 0, 0x21};
  {
    Msg m = fdb_msg(RTM_NEWNEIGH, 7, NUD_NOARP, 0, 0, 0, mac);
    mnl_attr_put_u32(m.h, NDA_VLAN, 10);  // 4 bytes, not 2
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m = fdb_msg(RTM_NEWNEIGH, 7, NUD_NOARP, 0, 0, 4095, mac);
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m = fdb_msg(RTM_NEWNEIGH, 7, NUD_NOARP, 0, 0, 0, mac);
    mnl_attr_put_u16(m.h, NDA_MASTER, 5);  // 2 bytes, not 4
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m = fdb_msg(RTM_NEWNEIGH, 7, NUD_NOARP, 0, 5, 0, mac);
    m.h->nlmsg_len -= 4;  // the last attribute runs past the message
    EXPECT_FALSE(decode(m.h));
  }
  {
    Msg m(RTM_NEWNEIGH);  // other families are still nothing
    m.extra<ndmsg>()->ndm_family = AF_INET6;
    mnl_attr_put(m.h, NDA_LLADDR, 6, mac);
    EXPECT_FALSE(decode(m.h));
  }
}

TEST(NetlinkDecodeBridge, LyingNestedLengthsDecodeToNothing) {
  // Each case builds a valid message, then makes one nested attribute lie.
  const auto member = [](Msg& m) {
    m.extra<ifinfomsg>()->ifi_index = 7;
    mnl_attr_put_u32(m.h, IFLA_MASTER, 5);
  };
  {
    // IFLA_LINKINFO's inner attribute claims more than the nest holds.
    Msg m(RTM_NEWLINK);
    member(m);
    nlattr* info = mnl_attr_nest_start(m.h, IFLA_LINKINFO);
    auto* kind = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(m.h));
    mnl_attr_put_strz(m.h, IFLA_INFO_SLAVE_KIND, "bridge");
    mnl_attr_nest_end(m.h, info);
    ASSERT_TRUE(decode(m.h));
    kind->nla_len = 40;
    EXPECT_FALSE(decode(m.h));
  }
  {
    // A port flag of 4 bytes in IFLA_INFO_SLAVE_DATA.
    Msg m(RTM_NEWLINK);
    member(m);
    m.nest(IFLA_LINKINFO, [&] {
      mnl_attr_put_strz(m.h, IFLA_INFO_SLAVE_KIND, "bridge");
      m.nest(IFLA_INFO_SLAVE_DATA, [&] { mnl_attr_put_u32(m.h, IFLA_BRPORT_ISOLATED, 1); });
    });
    EXPECT_FALSE(decode(m.h));
  }
  {
    // A slave data nest shorter than what it holds.
    Msg m(RTM_NEWLINK);
    member(m);
    nlattr* data = nullptr;
    m.nest(IFLA_LINKINFO, [&] {
      mnl_attr_put_strz(m.h, IFLA_INFO_SLAVE_KIND, "bridge");
      data = mnl_attr_nest_start(m.h, IFLA_INFO_SLAVE_DATA);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_ISOLATED, 1);
      mnl_attr_put_u8(m.h, IFLA_BRPORT_LOCKED, 1);
      mnl_attr_nest_end(m.h, data);
    });
    ASSERT_TRUE(decode(m.h));
    data->nla_len -= 6;  // cuts the second flag in half
    EXPECT_FALSE(decode(m.h));
  }
  {
    // The bridge's ageing time of 2 bytes.
    Msg m(RTM_NEWLINK);
    m.extra<ifinfomsg>()->ifi_index = 5;
    m.nest(IFLA_LINKINFO, [&] {
      mnl_attr_put_strz(m.h, IFLA_INFO_KIND, "bridge");
      m.nest(IFLA_INFO_DATA, [&] { mnl_attr_put_u16(m.h, IFLA_BR_AGEING_TIME, 300); });
    });
    EXPECT_FALSE(decode(m.h));
  }
  {
    // A kind that is not a NUL-terminated string.
    Msg m(RTM_NEWLINK);
    m.extra<ifinfomsg>()->ifi_index = 5;
    m.nest(IFLA_LINKINFO, [&] { mnl_attr_put(m.h, IFLA_INFO_KIND, 6, "bridge"); });
    EXPECT_FALSE(decode(m.h));
  }
  {
    // IFLA_MASTER of 2 bytes.
    Msg m(RTM_NEWLINK);
    m.extra<ifinfomsg>()->ifi_index = 7;
    mnl_attr_put_u16(m.h, IFLA_MASTER, 5);
    EXPECT_FALSE(decode(m.h));
  }
  {
    // A BRIDGE_VLANDB_ENTRY whose info runs past the entry.
    Msg m(RTM_NEWVLAN);
    m.extra<br_vlan_msg>()->family = AF_BRIDGE;
    nlattr* entry = mnl_attr_nest_start(m.h, BRIDGE_VLANDB_ENTRY);
    auto* info = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(m.h));
    m.vlan_info(BRIDGE_VLANDB_ENTRY_INFO, 0, 30);
    mnl_attr_nest_end(m.h, entry);
    ASSERT_TRUE(decode(m.h));
    info->nla_len = 12;
    EXPECT_FALSE(decode(m.h));
    info->nla_len = 8;
    entry->nla_len = 200;  // the entry past the message
    EXPECT_FALSE(decode(m.h));
  }
  {
    // IFLA_PROTINFO of an AF_BRIDGE message with a lying inner length.
    Msg m(RTM_NEWLINK);
    auto* i = m.extra<ifinfomsg>();
    i->ifi_family = AF_BRIDGE;
    i->ifi_index = 7;
    nlattr* prot = mnl_attr_nest_start(m.h, IFLA_PROTINFO);
    auto* state = static_cast<nlattr*>(mnl_nlmsg_get_payload_tail(m.h));
    mnl_attr_put_u8(m.h, IFLA_BRPORT_STATE, 3);
    mnl_attr_nest_end(m.h, prot);
    ASSERT_TRUE(decode(m.h));
    state->nla_len = 3;  // shorter than an attribute header
    EXPECT_FALSE(decode(m.h));
  }
}

// The requests: the header the kernel reads the family from, and the attribute it filters by.
TEST(NetlinkBridgeRequests, DumpRequests) {
  const auto check = [](const std::vector<uint8_t>& req, uint16_t type, size_t header) {
    ASSERT_GE(req.size(), sizeof(nlmsghdr) + header);
    const auto* h = reinterpret_cast<const nlmsghdr*>(req.data());
    EXPECT_EQ(h->nlmsg_len, req.size());
    EXPECT_EQ(h->nlmsg_type, type);
    EXPECT_EQ(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
    EXPECT_EQ(req[sizeof(nlmsghdr)], AF_BRIDGE);
  };
  {
    const auto req = vlan_dump_request();
    check(req, RTM_GETVLAN, sizeof(br_vlan_msg));
    EXPECT_EQ(req.size(), mnl_nlmsg_size(sizeof(br_vlan_msg)));
    br_vlan_msg bvm;
    std::memcpy(&bvm, req.data() + sizeof(nlmsghdr), sizeof bvm);
    EXPECT_EQ(bvm.ifindex, 0u);
  }
  {
    const auto req = bridge_fdb_dump_request();
    check(req, RTM_GETNEIGH, sizeof(ndmsg));
    EXPECT_EQ(req.size(), mnl_nlmsg_size(sizeof(ndmsg)));
  }
  {
    const auto req = bridge_link_dump_request();
    check(req, RTM_GETLINK, sizeof(ifinfomsg));
    // Exactly one attribute after the ifinfomsg: IFLA_EXT_MASK = RTEXT_FILTER_BRVLAN.
    const size_t off = mnl_nlmsg_size(sizeof(ifinfomsg));
    ASSERT_EQ(req.size(), off + MNL_ATTR_HDRLEN + 4);
    nlattr a;
    std::memcpy(&a, req.data() + off, sizeof a);
    EXPECT_EQ(a.nla_type, IFLA_EXT_MASK);
    EXPECT_EQ(a.nla_len, MNL_ATTR_HDRLEN + 4);
    uint32_t mask;
    std::memcpy(&mask, req.data() + off + MNL_ATTR_HDRLEN, 4);
    EXPECT_EQ(mask, uint32_t{RTEXT_FILTER_BRVLAN});
  }
  EXPECT_EQ(kBridgeVlanGroup, unsigned{RTNLGRP_BRVLAN});
}

// ---- a real bridge, in a network namespace of its own ----------------------------------------

// A NETLINK_ROUTE socket in the calling thread's namespace: dumps and queued events, decoded.
class RouteSocket {
 public:
  explicit RouteSocket(const std::vector<unsigned>& groups = {}) {
    nl_ = mnl_socket_open(NETLINK_ROUTE);
    if (nl_ == nullptr || mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0)
      throw std::runtime_error(std::string("netlink socket: ") + std::strerror(errno));
    for (unsigned g : groups) {
      if (setsockopt(mnl_socket_get_fd(nl_), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g))
        throw std::runtime_error("cannot join group " + std::to_string(g));
    }
  }
  ~RouteSocket() {
    if (nl_) mnl_socket_close(nl_);
  }
  RouteSocket(const RouteSocket&) = delete;
  RouteSocket& operator=(const RouteSocket&) = delete;

  // The decoded answer to a dump request; *error is the kernel's errno when it refused.
  std::vector<Message> dump(std::vector<uint8_t> req, int* error) {
    *error = 0;
    auto* h = reinterpret_cast<nlmsghdr*>(req.data());
    h->nlmsg_seq = ++seq_;
    if (mnl_socket_sendto(nl_, h, h->nlmsg_len) < 0) throw std::runtime_error("send");
    std::vector<Message> out;
    while (true) {
      const ssize_t n = mnl_socket_recvfrom(nl_, buf_.data(), buf_.size());
      if (n < 0) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
      int left = static_cast<int>(n);
      for (auto* m = reinterpret_cast<const nlmsghdr*>(buf_.data()); mnl_nlmsg_ok(m, left);
           m = mnl_nlmsg_next(m, &left)) {
        if (m->nlmsg_seq != seq_) continue;
        if (m->nlmsg_type == NLMSG_DONE) return out;
        if (m->nlmsg_type == NLMSG_ERROR) {
          *error = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m))->error;
          if (*error != 0) return out;
          continue;
        }
        if (auto d = decode(m)) out.push_back(*d);
      }
    }
  }

  // Every event queued now (the kernel queues them before the command that caused them ends).
  std::vector<Message> drain() {
    std::vector<Message> out;
    while (true) {
      const ssize_t n = recv(mnl_socket_get_fd(nl_), buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (n <= 0) return out;
      int left = static_cast<int>(n);
      for (auto* m = reinterpret_cast<const nlmsghdr*>(buf_.data()); mnl_nlmsg_ok(m, left);
           m = mnl_nlmsg_next(m, &left)) {
        if (auto d = decode(m)) out.push_back(*d);
      }
    }
  }

 private:
  mnl_socket* nl_ = nullptr;
  uint32_t seq_ = 0;
  std::vector<char> buf_ = std::vector<char>(1 << 16);
};

std::vector<uint8_t> link_dump_request() {
  Msg m(RTM_GETLINK);
  m.h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  m.extra<ifinfomsg>()->ifi_family = AF_UNSPEC;
  const auto* p = reinterpret_cast<const uint8_t*>(m.buf);
  return std::vector<uint8_t>(p, p + m.h->nlmsg_len);
}

template <class T>
std::vector<T> only(const std::vector<Message>& ms) {
  std::vector<T> out;
  for (const Message& m : ms)
    if (const T* t = std::get_if<T>(&m)) out.push_back(*t);
  return out;
}

bool sh(const std::string& cmd) {
  return std::system(cmd.c_str()) == 0;
}

// Runs fn on a thread that moved into a new, unnamed network namespace (unshare affects that
// thread and the `ip` commands it starts only). The namespace goes with the thread: nothing is
// left behind however the test ends, and the test process's own namespace is never touched.
void in_scratch_netns(const std::function<void()>& fn) {
  std::thread t([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "unshare(CLONE_NEWNET): " << std::strerror(errno);
      return;
    }
    try {
      fn();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception: " << e.what();
    }
  });
  t.join();
}

TEST(NetlinkBridgeKernel, RealBridgeDecodes) {
  if (geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
  in_scratch_netns([] {
    ASSERT_TRUE(sh("ip link add sbr0 type bridge ageing_time 60000")) << "no bridge support?";
    ASSERT_TRUE(sh("ip link add sv0 type veth peer name sv1"));
    ASSERT_TRUE(sh("ip link set sv0 master sbr0"));
    ASSERT_TRUE(sh("ip link set sv0 type bridge_slave learning off isolated on"));
    ASSERT_TRUE(sh("ip link set sbr0 up && ip link set sv0 up && ip link set sv1 up"));
    ASSERT_TRUE(sh("bridge fdb add 02:00:00:00:00:21 dev sv0 master static"));
    // Kernels built without CONFIG_BRIDGE_VLAN_FILTERING refuse VLANs; the rest still runs.
    const bool vlans = sh("bridge vlan add dev sv0 vid 10-12 2>/dev/null") &&
                       sh("bridge vlan add dev sv0 vid 20 pvid untagged");

    RouteSocket s;
    int error = 0;
    // Links: the bridge with its info data, the member with master and slave data.
    const auto links = only<Link>(s.dump(link_dump_request(), &error));
    ASSERT_EQ(error, 0);
    const auto link = [&](const char* name) {
      auto it =
          std::find_if(links.begin(), links.end(), [&](const Link& l) { return l.name == name; });
      if (it == links.end()) throw std::runtime_error(std::string(name) + " missing");
      return *it;
    };
    const Link b = link("sbr0");
    const int br = b.ifindex;
    EXPECT_EQ(b.kind, "bridge");
    EXPECT_EQ(b.master, 0);
    ASSERT_TRUE(b.bridge);
    EXPECT_EQ(b.bridge->ageing_time_cs, 60000u);  // 600 s: exact in jiffies at any HZ
    EXPECT_FALSE(b.bridge->vlan_filtering);
    EXPECT_EQ(b.bridge->vlan_protocol, 0x8100);
    EXPECT_EQ(b.bridge->default_pvid, 1);
    const Link m = link("sv0");
    const int sv0 = m.ifindex;
    EXPECT_EQ(m.kind, "veth");
    EXPECT_EQ(m.master, br);
    EXPECT_EQ(m.slave_kind, "bridge");
    ASSERT_TRUE(m.bridge_port);
    EXPECT_FALSE(m.bridge_port->learning);
    EXPECT_TRUE(m.bridge_port->isolated);
    EXPECT_TRUE(m.bridge_port->unicast_flood);
    EXPECT_FALSE(m.bridge_port->locked);
    EXPECT_FALSE(m.bridge_port->hairpin);
    const Link peer = link("sv1");
    EXPECT_EQ(peer.master, 0);
    EXPECT_FALSE(peer.bridge_port);

    // The AF_BRIDGE link dump: the member (and the bridge, when it has VLANs), never a Link.
    const auto all = s.dump(bridge_link_dump_request(), &error);
    ASSERT_EQ(error, 0);
    EXPECT_TRUE(only<Link>(all).empty());
    const auto ports = only<BridgeLink>(all);
    auto port = std::find_if(ports.begin(), ports.end(),
                             [&](const BridgeLink& p) { return p.ifindex == sv0; });
    ASSERT_NE(port, ports.end());
    EXPECT_EQ(port->master, br);
    ASSERT_TRUE(port->port);
    EXPECT_TRUE(port->port->isolated);
    if (vlans) {
      // VID 1 is the default PVID every new port gets (untagged); 20 took the PVID over.
      const std::vector<BridgeVlan> want = {{1, false, true, false},
                                            {10, false, false, false},
                                            {11, false, false, false},
                                            {12, false, false, false},
                                            {20, true, true, false}};
      EXPECT_EQ(port->vlans, want);
    } else {
      EXPECT_TRUE(port->vlans.empty());
    }

    // The VLAN database: absent without VLAN filtering in the kernel.
    const auto vlan_msgs = only<Vlan>(s.dump(vlan_dump_request(), &error));
    if (vlans && error == 0) {
      std::vector<uint16_t> vids;
      for (const Vlan& v : vlan_msgs)
        if (v.ifindex == sv0)
          for (const BridgeVlan& bv : v.vlans) vids.push_back(bv.vid);
      EXPECT_EQ(vids, (std::vector<uint16_t>{1, 10, 11, 12, 20}));
    } else if (!vlans) {
      EXPECT_EQ(error, EOPNOTSUPP) << "RTM_GETVLAN on a kernel without VLAN filtering";
    }

    // The FDB: the static entry, the member's own (local) address, and NTF_SELF lists.
    const auto fdb = only<BridgeFdb>(s.dump(bridge_fdb_dump_request(), &error));
    ASSERT_EQ(error, 0);
    const auto entry = [&](const char* mac, int ifindex, bool self) -> const BridgeFdb* {
      for (const BridgeFdb& f : fdb)
        if (f.mac.str() == mac && f.ifindex == ifindex && f.self() == self) return &f;
      return nullptr;
    };
    const BridgeFdb* st = entry("02:00:00:00:00:21", sv0, false);
    ASSERT_NE(st, nullptr);
    EXPECT_TRUE(st->is_static());
    EXPECT_FALSE(st->is_local());
    EXPECT_EQ(st->master, br);
    EXPECT_EQ(st->vlan, 0);
    ASSERT_TRUE(m.mac);
    const BridgeFdb* local = entry(m.mac->str().c_str(), sv0, false);
    ASSERT_NE(local, nullptr) << "the member's own MAC is a local entry";
    EXPECT_TRUE(local->is_local());
    EXPECT_FALSE(local->is_static());
    EXPECT_EQ(local->master, br);
    const bool any_self = std::any_of(fdb.begin(), fdb.end(),
                                      [](const BridgeFdb& f) { return f.self() && f.master == 0; });
    EXPECT_TRUE(any_self) << "devices' own address lists come with NTF_SELF";
    for (const BridgeFdb& f : fdb) EXPECT_FALSE(f.deleted);

    // Events: the member leaving is a Link with master 0 and an AF_BRIDGE DELLINK, never a
    // Link deleted.
    RouteSocket events({RTNLGRP_LINK, RTNLGRP_NEIGH, kBridgeVlanGroup});
    ASSERT_TRUE(sh("ip link set sv0 nomaster"));
    const auto seen = events.drain();
    bool left = false, bridge_del = false;
    for (const Link& l : only<Link>(seen)) {
      if (l.ifindex != sv0) continue;
      EXPECT_FALSE(l.deleted) << "a member leaving is no device going away";
      if (l.master == 0 && !l.bridge_port) left = true;
    }
    for (const BridgeLink& p : only<BridgeLink>(seen))
      if (p.ifindex == sv0 && p.deleted) bridge_del = true;
    EXPECT_TRUE(left) << "no RTM_NEWLINK without master for sv0";
    EXPECT_TRUE(bridge_del) << "no AF_BRIDGE RTM_DELLINK for sv0";
    // Its FDB entries go with it.
    const auto gone = only<BridgeFdb>(seen);
    EXPECT_TRUE(std::any_of(gone.begin(), gone.end(), [](const BridgeFdb& f) {
      return f.deleted && f.mac.str() == "02:00:00:00:00:21";
    }));
  });
}

}  // namespace
}  // namespace sluice::netlink
