#!/usr/bin/env python3
"""netlink_seeds.py — writes the netlink target's seed corpus (corpus/netlink/): real rtnetlink
datagrams from the kernel, each one file. In a network namespace of its own (removed at the
end; nothing outside it is touched) it builds what the kernel mirror reads — veths, a VLAN-aware
bridge with access and trunk ports, addresses, unicast, multipath, blackhole and nexthop-object
routes, neighbours, static FDB entries — and saves the answers to the mirror's dump requests and
the events of a few changes, deletions included. Run as root: netlink_seeds.py DIR
"""
import os
import socket
import struct
import subprocess
import sys

NS = "sluice-fuzz-nl"
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
RTM = {"GETLINK": 18, "GETADDR": 22, "GETROUTE": 26, "GETNEIGH": 30, "GETNETCONF": 82,
       "GETNEXTHOP": 106, "GETVLAN": 114}
AF_UNSPEC, AF_INET, AF_BRIDGE = 0, 2, 7
IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN = 29, 2
# RTNLGRP_LINK, NEIGH, IPV4_IFADDR, IPV4_ROUTE, IPV4_NETCONF, NEXTHOP, BRVLAN
GROUPS = [1, 3, 5, 7, 24, 32, 33]

SETUP = """
link add v0 type veth peer name v0p
link add v1 type veth peer name v1p
link add v2 type veth peer name v2p
link add br0 type bridge ageing_time 3000
link set v1 master br0
link set v2 master br0
link set dev v0 up
link set dev v1 up
link set dev v2 up
link set dev br0 up
link set dev v0p up
addr add 10.1.0.1/24 dev v0
addr add 192.168.15.1/24 dev br0
route add 10.20.0.0/16 via 10.1.0.254
route add blackhole 10.30.0.0/16
route add unreachable 10.31.0.0/16
route add 10.40.0.0/16 nexthop via 10.1.0.253 weight 1 nexthop via 10.1.0.252 weight 3
nexthop add id 1 via 10.1.0.251 dev v0
nexthop add id 2 via 10.1.0.250 dev v0
nexthop add id 3 group 1/2,5
route add 10.50.0.0/16 nhid 3
route add 10.60.0.0/16 via 10.1.0.254 metric 50 table 100
neigh add 10.1.0.2 lladdr 02:00:00:00:01:02 dev v0 nud permanent
neigh add 10.1.0.3 lladdr 02:00:00:00:01:03 dev v0 nud stale
"""
BRIDGE = [
    "vlan add dev v1 vid 10 pvid untagged",
    "vlan del dev v1 vid 1",
    "vlan add dev v2 vid 10",
    "vlan add dev v2 vid 20-23",
    "vlan add dev br0 vid 10 self pvid untagged",
    "fdb add 02:aa:00:00:00:0a dev v1 master static vlan 10",
]
CHANGES = [
    ["ip", "route", "add", "10.70.0.0/24", "via", "10.1.0.254"],
    ["ip", "route", "del", "10.70.0.0/24"],
    ["ip", "addr", "add", "10.1.0.9/32", "dev", "v0"],
    ["ip", "addr", "del", "10.1.0.9/32", "dev", "v0"],
    ["ip", "neigh", "replace", "10.1.0.4", "lladdr", "02:00:00:00:01:04", "dev", "v0"],
    ["ip", "neigh", "del", "10.1.0.4", "dev", "v0"],
    ["ip", "link", "set", "dev", "v0", "mtu", "1400"],
    ["bridge", "vlan", "add", "dev", "v2", "vid", "30"],
    ["bridge", "vlan", "del", "dev", "v2", "vid", "30"],
    ["bridge", "fdb", "add", "02:aa:00:00:00:0b", "dev", "v2", "master", "static", "vlan", "20"],
    ["bridge", "fdb", "del", "02:aa:00:00:00:0b", "dev", "v2", "master", "vlan", "20"],
    ["ip", "nexthop", "del", "id", "3"],
    ["sysctl", "-qw", "net.ipv4.conf.v0.forwarding=0"],
    ["ip", "link", "set", "v2", "nomaster"],
    ["ip", "link", "del", "v1"],
]


def sh(*args):
    subprocess.run(list(args), check=True)


def request(kind, family, seq, ext_mask=False):
    if kind == "GETLINK":
        body = struct.pack("=BxHiII", family, 0, 0, 0, 0)  # ifinfomsg
        if ext_mask:
            body += struct.pack("=HHI", 8, IFLA_EXT_MASK, RTEXT_FILTER_BRVLAN)
    elif kind == "GETROUTE":
        body = struct.pack("=BBBBBBBBI", family, 0, 0, 0, 0, 0, 0, 0, 0)  # rtmsg
    elif kind == "GETNEIGH":
        body = struct.pack("=BxxxiHBB", family, 0, 0, 0, 0)  # ndmsg
    elif kind == "GETADDR":
        body = struct.pack("=BBBBi", family, 0, 0, 0, 0)  # ifaddrmsg
    elif kind == "GETNEXTHOP":
        body = struct.pack("=BBBBI", family, 0, 0, 0, 0)  # nhmsg
    elif kind == "GETVLAN":
        body = struct.pack("=BBHI", family, 0, 0, 0)  # br_vlan_msg
    else:
        body = struct.pack("=Bxxx", family)  # netconfmsg
    return struct.pack("=IHHII", 16 + len(body), RTM[kind], NLM_F_REQUEST | NLM_F_DUMP, seq,
                       0) + body


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--inside":
        in_namespace(sys.argv[2])  # re-run by `ip netns exec` below
        return
    if len(sys.argv) != 2:
        sys.exit("usage: netlink_seeds.py DIR")
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
    sh("ip", "netns", "add", NS)
    try:
        sh("ip", "netns", "exec", NS, sys.executable, os.path.abspath(__file__), "--inside", out)
    finally:
        subprocess.run(["ip", "netns", "del", NS])


def in_namespace(out):
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1")
    subprocess.run(["ip", "-batch", "-"], input=SETUP.strip() + "\n", text=True, check=True)
    # VLAN filtering and its VLAN lists need CONFIG_BRIDGE_VLAN_FILTERING; without it the
    # bridge is plain and these fail (the seeds then hold no VLAN lists).
    vlans = subprocess.run(["ip", "link", "set", "br0", "type", "bridge", "vlan_filtering", "1"],
                           stderr=subprocess.DEVNULL).returncode == 0
    for b in BRIDGE:
        if vlans or "vlan " not in b + " ":
            subprocess.run(["bridge", *b.split()], check=False)
    n = 0

    def save(name, data):
        nonlocal n
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        n += 1

    dump = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    dumps = [("GETLINK", AF_UNSPEC, False), ("GETLINK", AF_BRIDGE, True),
             ("GETNEIGH", AF_BRIDGE, False), ("GETVLAN", AF_BRIDGE, False),
             ("GETNETCONF", AF_INET, False), ("GETADDR", AF_INET, False),
             ("GETNEXTHOP", AF_UNSPEC, False), ("GETROUTE", AF_INET, False),
             ("GETNEIGH", AF_INET, False)]
    for seq, (kind, family, ext) in enumerate(dumps, 1):
        dump.send(request(kind, family, seq, ext))
        part = 0
        while True:
            data = dump.recv(65536)
            save("dump-%s-family%d-%d" % (kind.lower(), family, part), data)
            part += 1
            if struct.unpack_from("=H", data, 4)[0] in (2, 3):  # NLMSG_ERROR, NLMSG_DONE
                break
            if any(struct.unpack_from("=H", data, off + 4)[0] == 3 for off in offsets(data)):
                break
    events = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    events.bind((0, 0))
    for g in GROUPS:
        events.setsockopt(270, 1, g)  # SOL_NETLINK, NETLINK_ADD_MEMBERSHIP
    for c in CHANGES:
        subprocess.run(c, check=False, stderr=subprocess.DEVNULL)
    events.setblocking(False)
    k = 0
    while True:
        try:
            data = events.recv(65536)
        except BlockingIOError:
            break
        save("event-%03d" % k, data)
        k += 1
    print("%d datagrams written to %s" % (n, out))


def offsets(data):
    off = 0
    while off + 16 <= len(data):
        yield off
        length = struct.unpack_from("=I", data, off)[0]
        if length < 16:
            break
        off += (length + 3) & ~3


if __name__ == "__main__":
    main()
