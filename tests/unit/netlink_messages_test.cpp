// netlink_messages_test.cpp — rtnetlink messages built byte by byte (with libmnl, as the
// kernel lays them out) and decoded: every field the mirror uses, and malformed input
// (truncated, lying lengths, other families) decoding to nothing rather than to garbage.
#include "control/netlink_messages.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/netconf.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
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
  const uint16_t types[] = {RTM_NEWROUTE, RTM_DELROUTE,   RTM_NEWADDR,   RTM_NEWLINK,
                            RTM_NEWNEIGH, RTM_NEWNEXTHOP, RTM_NEWNETCONF};
  size_t decoded = 0;
  for (int i = 0; i < 200000; ++i) {
    alignas(4) char buf[512];
    const size_t len = sizeof(nlmsghdr) + next() % (sizeof buf - sizeof(nlmsghdr));
    for (size_t j = 0; j < sizeof buf; ++j) buf[j] = static_cast<char>(next());
    auto* h = reinterpret_cast<nlmsghdr*>(buf);
    h->nlmsg_len = static_cast<uint32_t>(len);
    h->nlmsg_type = types[next() % 7];
    // Mostly the right family, so the attribute walkers get exercised.
    buf[sizeof(nlmsghdr)] = next() % 4 ? AF_INET : static_cast<char>(next());
    if (decode(h)) ++decoded;
  }
  EXPECT_GT(decoded, 0u) << "the generator never got past the headers";
}

}  // namespace
}  // namespace sluice::netlink
