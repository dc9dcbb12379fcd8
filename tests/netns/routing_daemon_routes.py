#!/usr/bin/env python3
# tests/netns/routing_daemon_routes.py — the route set of tests/netns/routing_daemon.sh: which
# prefixes the peer's BIRD announces, split into the part it keeps and the part it withdraws,
# plus probe addresses (each matched by one announced prefix only, so that when that prefix
# goes nothing else routes it) and sample addresses to compare `sluice route get` with the
# kernel's. Fixed and deterministic: every 90th IPv4 prefix of the real Internet table
# (fullview-prefixes.txt.gz) when given, else prefixes from a seeded generator.
#
#   routing_daemon_routes.py COUNT OUTDIR [FULLVIEW.gz]
#
# Writes into OUTDIR: kept.bird and withdrawn.bird (BIRD static route statements), kept.txt,
# withdrawn.txt and all.txt (one prefix a line), probes.txt ("kept|withdrawn PREFIX ADDR"),
# samples.txt (one address a line) and source.txt (where the prefixes came from); and ecmp.bird,
# ecmp.txt: ECMP_COUNT /24s of 198.18.0.0/15 (RFC 2544's benchmarking range, never in a real
# table), the prefixes both of the peer's BGP speakers announce in the ECMP part.
import gzip
import ipaddress
import os
import random
import sys

STRIDE = 90  # every 90th prefix of the full view: ~10,000 of its 901,899, spread across it
WITHDRAWN_EVERY = 5  # every 5th prefix is in the part the peer withdraws
PROBES_EACH = 2
SAMPLES = 40
ECMP_COUNT = 256
ECMP_RANGE = ipaddress.ip_network("198.18.0.0/15")

# Never announced: the test's own subnets live in 10.0.0.0/8; the rest is not unicast.
EXCLUDED = [ipaddress.ip_network(n) for n in
            ("0.0.0.0/8", "10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3")] + [ECMP_RANGE]


def usable(net):
    return net.prefixlen >= 8 and not any(net.overlaps(x) for x in EXCLUDED)


def from_fullview(path, count):
    out, i = [], 0
    with gzip.open(path, "rt") as f:
        for line in f:
            line = line.strip()
            if not line or ":" in line:  # IPv6 lines
                continue
            if i % STRIDE == 0:
                net = ipaddress.ip_network(line, strict=False)
                if usable(net):
                    out.append(net)
                    if len(out) == count:
                        break
            i += 1
    return out


def generated(count):
    rng = random.Random(9)
    seen, out = set(), []
    while len(out) < count:
        length = rng.choice((16, 18, 20, 22, 23, 24, 24, 24, 24))
        addr = rng.randrange(11 << 24, 224 << 24)
        net = ipaddress.ip_network((addr, length), strict=False)
        if usable(net) and net not in seen:
            seen.add(net)
            out.append(net)
    return out


def main():
    count, outdir = int(sys.argv[1]), sys.argv[2]
    fullview = sys.argv[3] if len(sys.argv) > 3 else ""
    if fullview and os.path.exists(fullview):
        nets = from_fullview(fullview, count)
        source = f"every {STRIDE}th IPv4 prefix of {os.path.basename(fullview)}"
    else:
        nets = generated(count)
        source = "generated (seed 9)"
    # A real table repeats nothing, but a slice of it could; BIRD would merge duplicates.
    nets = list(dict.fromkeys(nets))
    if len(nets) < count:
        sys.exit(f"only {len(nets)} prefixes, {count} wanted")
    kept = [n for i, n in enumerate(nets) if i % WITHDRAWN_EVERY != WITHDRAWN_EVERY - 1]
    withdrawn = [n for i, n in enumerate(nets) if i % WITHDRAWN_EVERY == WITHDRAWN_EVERY - 1]

    def write(name, lines):
        with open(os.path.join(outdir, name), "w") as f:
            f.writelines(f"{x}\n" for x in lines)

    write("kept.bird", (f"route {n} blackhole;" for n in kept))
    write("withdrawn.bird", (f"route {n} blackhole;" for n in withdrawn))
    write("kept.txt", kept)
    write("withdrawn.txt", withdrawn)
    write("all.txt", nets)
    write("source.txt", [source])
    ecmp = list(ECMP_RANGE.subnets(new_prefix=24))[:ECMP_COUNT]
    write("ecmp.bird", (f"route {n} blackhole;" for n in ecmp))
    write("ecmp.txt", ecmp)

    # Probes: the prefix's first host address, matched by no other announced prefix.
    def matches(addr):
        return sum(1 for n in nets if addr in n)

    probes = []
    for part, group in (("kept", kept), ("withdrawn", withdrawn)):
        found = 0
        for n in group:
            if n.prefixlen > 30:
                continue
            addr = n.network_address + 1
            if matches(addr) == 1:
                probes.append(f"{part} {n} {addr}")
                found += 1
                if found == PROBES_EACH:
                    break
        if found < PROBES_EACH:
            sys.exit(f"no {PROBES_EACH} probe addresses in the {part} part")
    write("probes.txt", probes)
    hosts = [n for n in kept if n.prefixlen <= 30]
    step = max(1, len(hosts) // SAMPLES)
    write("samples.txt", (hosts[i].network_address + 1 for i in range(0, len(hosts), step)))


if __name__ == "__main__":
    main()
