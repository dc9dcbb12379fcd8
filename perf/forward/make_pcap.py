#!/usr/bin/env python3
"""make_pcap.py — frames for `scripts/bench forward --traffic spread`: N minimum-size UDP frames
(60 bytes, 64 on the wire) from the generator to addresses spread over the route table, for
dpdk-testpmd to replay from net_pcap (infinite_rx=1) into the router.

Each destination is a random address inside a prefix drawn uniformly from the table (fixed
seed), so the lookups cover the whole table as real traffic does instead of one hot route.

  make_pcap.py TABLE OUT.pcap --src-mac M --dst-mac M --src-ip A [--count N] [--seed S]
"""
import argparse
import gzip
import random
import struct


def checksum(b: bytes) -> int:
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(s: str) -> int:
    a, b, c, d = (int(x) for x in s.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def routable(addr: int) -> bool:
    first = addr >> 24
    # not 0/8, 10/8 (the benchmark's own links), 127/8, multicast and above
    return first not in (0, 10, 127) and first < 224


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("table")
    ap.add_argument("out")
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-ip", required=True)
    ap.add_argument("--count", type=int, default=16384)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    prefixes = []
    with gzip.open(a.table, "rt") if a.table.endswith(".gz") else open(a.table) as f:
        for line in f:
            s = line.strip()
            if s and not s.startswith("#") and ":" not in s:
                addr, length = s.split("/")
                prefixes.append((ip4(addr), int(length)))
    rng = random.Random(a.seed)
    dst_mac = bytes.fromhex(a.dst_mac.replace(":", ""))
    src_mac = bytes.fromhex(a.src_mac.replace(":", ""))
    src = ip4(a.src_ip)
    with open(a.out, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        n = 0
        while n < a.count:
            base, length = rng.choice(prefixes)
            dst = base | (rng.getrandbits(32 - length) if length < 32 else 0)
            if not routable(dst):
                continue
            sport = 1024 + rng.randrange(60000)
            payload = bytes(18)
            udp = struct.pack("!HHHH", sport, 9, 8 + len(payload), 0) + payload
            hdr = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0x4000, 64, 17, 0,
                              src, dst)
            hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
            frame = dst_mac + src_mac + b"\x08\x00" + hdr + udp
            out.write(struct.pack("<IIII", n // 1000000, n % 1000000, len(frame), len(frame)))
            out.write(frame)
            n += 1


if __name__ == "__main__":
    main()
