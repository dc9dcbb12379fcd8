#!/usr/bin/env python3
"""linerate_bench.py — `scripts/bench linerate`: RFC 2544 throughput (the highest offered rate
with no loss, by binary search), and latency at that rate, for sluice, the Linux kernel and
dpdk-testpmd io-forwarding (the AF_XDP-on-veth transport ceiling), in one run, on one veth
topology, with one tester: build/perf/sluice-tester, a DPDK generator and sink that timestamps
and numbers every frame (perf/linerate/tester_main.cpp).

Topology, made anew for every scenario (namespaces of our own, removed however the run ends):

    lrb-tst-ID                         lrb-dut-ID
    t0 (sluice-tester TX, AF_XDP) ---- r0 10.1.0.1/24   (the device under test: sluiced on
    t1 (sluice-tester RX, AF_XDP) ---- r1 10.2.0.1/24    AF_XDP, the kernel, or testpmd io)

The tester answers ARP for the DUT's next hops (10.2.0.2 and up) on t1 and sends to r0's MAC (to
t1's own MAC across a bridge). Tester on CPU 0, DUT on CPU 1 (sluiced's and testpmd's lcores;
the kernel through RPS on r0) at nice -10, the tester at nice 0 (see --tester-nice).

Scenarios (--scenarios; each runs every mode, kernel first so that sluice and testpmd can also
be measured at the kernel's own zero-loss rate):
  forward          L3 forwarding, the real Internet table (901,899 routes over 64 gateways) in
                   the DUT, 4,096 destinations drawn over it (fixed seed), every frame size
  masquerade-1k    SNAT masquerade out of r1, 1,000 flows (1,000 inside sources, one destination)
  masquerade-100k  the same, 100,000 flows (1,000 sources x 100 destinations)
  dnat             port forwarding: 1,000 outside sources to 10.1.0.1:8080 -> 10.2.0.2:80
  bridge           L2 bridging r0 and r1, 256 flows to t1's MAC (learned first)
The kernel is configured the same way each time: routes (`ip -batch`), iptables MASQUERADE /
DNAT, a Linux bridge. Results: perf/results/linerate-<date>.json (every trial), .md and the PNGs
(perf/linerate/report.py). Method: perf/linerate/README.md.
"""
import argparse
import hashlib
import ipaddress
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "perf", "forward"))
sys.path.insert(0, os.path.join(ROOT, "perf", "bridge"))
sys.path.insert(0, HERE)
import forward_bench as fb  # noqa: E402  (the veth machinery: processes, counters, cleanup)
import bridge_bench as bb  # noqa: E402  (sluiced's per-node deltas)

MODES = ("kernel", "sluice", "testpmd")
ALL_SIZES = ("64", "128", "256", "512", "1024", "1280", "1518", "imix")
T0_MAC, R0_MAC = "02:6c:72:00:00:02", "02:6c:72:00:00:01"
T1_MAC, R1_MAC = "02:6c:72:00:01:02", "02:6c:72:00:01:01"
TESTER_IP, R0_IP, R1_IP, NEXT_HOP = "10.1.0.2", "10.1.0.1", "10.2.0.1", "10.2.0.2"
INSIDE, DEST = "10.254.0.0/16", "10.253.0.0/16"

# name -> (title, default sizes, the tester's flow options, routed?)
SCENARIOS = {
    "forward": ("L3 forwarding, the full Internet table (901,899 routes), 4,096 destinations",
                ALL_SIZES, None, True),
    "masquerade-1k": ("SNAT masquerade, 1,000 flows", ("64",),
                      ["--src", "10.254.0.1+1000", "--dst", "10.253.0.1", "--sport", "1024",
                       "--dport", "9"], True),
    "masquerade-100k": ("SNAT masquerade, 100,000 flows (1,000 sources x 100 destinations)",
                        ("64",),
                        ["--src", "10.254.0.1+1000", "--dst", "10.253.0.1+100", "--sport", "1024",
                         "--dport", "9"], True),
    "dnat": ("DNAT port forwarding, 1,000 outside sources to 10.1.0.1:8080 -> 10.2.0.2:80",
             ("64",),
             ["--src", "198.18.0.1+1000", "--dst", R0_IP, "--sport", "1024", "--dport", "8080"],
             True),
    "bridge": ("L2 bridging of r0 and r1, 256 flows", ("64",),
               ["--src", TESTER_IP, "--dst", "10.1.0.3", "--sport", "1024+256", "--dport", "9"],
               False),
}


def log(msg):
    print(f"[bench linerate] {msg}", file=sys.stderr, flush=True)


class LineRateBench(fb.Bench):
    def __init__(self, a):
        a.gateways, a.gen_cpu, a.router_cpu = 64, a.tester_cpu, a.dut_cpu
        super().__init__(a)
        self.tst, self.dut = f"lrb-tst-{self.id}", f"lrb-dut-{self.id}"
        self.namespaces = [self.tst, self.dut]
        self.gen, self.rtr, self.sink = self.tst, self.dut, self.tst  # for fb.Bench's helpers
        self.tester_prefix, self.dut_prefix = f"lrb-tst-{self.id}", f"lrb-dut-{self.id}"
        self.prefixes_made = [self.tester_prefix, self.dut_prefix]
        self.run_n = 0
        self.last_link_deltas = {}

    # ---- topology -------------------------------------------------------------------------
    def setup(self, routed):
        existing = fb.run(["ip", "netns", "list"]).stdout
        for n in self.namespaces:
            if any(line.split()[0] == n for line in existing.splitlines() if line.strip()):
                raise RuntimeError(f"namespace {n} exists already (another run with id {self.id}?)")
        for n in self.namespaces:
            fb.run(["ip", "netns", "add", n])
            fb.run(["ip", "-n", n, "link", "set", "lo", "up"])
            # No IPv6: no router solicitations or DAD frames in the counts.
            self.sysctl(n, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        for t, tm, r, rm in (("t0", T0_MAC, "r0", R0_MAC), ("t1", T1_MAC, "r1", R1_MAC)):
            fb.run(["ip", "link", "add", t, "address", tm, "netns", self.tst, "type", "veth",
                    "peer", "name", r, "address", rm, "netns", self.dut])
        self.sysctl(self.dut, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
                    "net.ipv4.ip_forward=1")
        if routed:
            fb.run(["ip", "-n", self.dut, "addr", "add", f"{R0_IP}/24", "dev", "r0"])
            fb.run(["ip", "-n", self.dut, "addr", "add", f"{R1_IP}/24", "dev", "r1"])
        if self.a.rps:  # the kernel router's receive work on the DUT's CPU (forward_bench)
            mask = format(1 << self.a.dut_cpu, "x")
            self.ns(self.dut, "sh", "-c", f"echo {mask} > /sys/class/net/r0/queues/rx-0/rps_cpus")
        for n, d in ((self.tst, "t0"), (self.tst, "t1"), (self.dut, "r0"), (self.dut, "r1")):
            fb.run(["ip", "-n", n, "link", "set", d, "up"])
        self.anchors = {}
        self.anchor_and_wait_up(((self.tst, "t0"), (self.tst, "t1"), (self.dut, "r0"),
                                 (self.dut, "r1")))

    def teardown(self):
        """Everything of the scenario goes: our processes, whatever else runs in our namespaces
        (started by us), the namespaces (with a full table in the kernel, deleting the namespace
        is faster than flushing it) and the DPDK runtime directories. The temporary directory
        stays for the next scenario; cleanup() removes it at the end."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.procs = []
        self.remove_namespaces()

    # ---- the DUT --------------------------------------------------------------------------
    def kernel_on(self, name):
        if name == "forward":
            self.load_kernel_routes(self.prefixes)
        elif name.startswith("masquerade"):
            self.ns(self.dut, "ip", "route", "add", DEST, "via", NEXT_HOP)
            self.ns(self.dut, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", INSIDE, "-o", "r1",
                    "-j", "MASQUERADE")
        elif name == "dnat":
            self.ns(self.dut, "iptables", "-t", "nat", "-A", "PREROUTING", "-i", "r0", "-p", "udp",
                    "--dport", "8080", "-j", "DNAT", "--to-destination", f"{NEXT_HOP}:80")
        elif name == "bridge":
            self.ns(self.dut, "ip", "link", "add", "br0", "type", "bridge")
            for k in ("bridge-nf-call-iptables", "bridge-nf-call-arptables"):
                # a plain bridge, as bridge_bench measures it (no br_netfilter hooks)
                self.ns(self.dut, "sh", "-c", f"[ ! -e /proc/sys/net/bridge/{k} ] || "
                        f"echo 0 > /proc/sys/net/bridge/{k}", check=False)
            for d in ("r0", "r1"):
                self.ns(self.dut, "ip", "link", "set", d, "master", "br0")
            self.ns(self.dut, "ip", "link", "set", "br0", "up")
            for _ in range(100):
                out = self.ns(self.dut, "bridge", "-j", "link", "show", check=False).stdout
                try:
                    states = {e["ifname"]: e.get("state") for e in json.loads(out or "[]")}
                except ValueError:
                    states = {}
                if states.get("r0") == "forwarding" and states.get("r1") == "forwarding":
                    break
                time.sleep(0.1)

    def kernel_off(self, name):
        """Back to a plain router between modes: no nat table (conntrack unhooks), no bridge,
        no extra routes (the full table stays: only the forward scenario has it, and its
        sluice/testpmd modes do not use the kernel's FIB)."""
        self.ns(self.dut, "nft", "delete", "table", "ip", "nat", check=False)
        if name == "bridge":
            self.ns(self.dut, "ip", "link", "del", "br0", check=False)
        if name.startswith("masquerade"):
            self.ns(self.dut, "ip", "route", "del", DEST, check=False)

    def sluiced_args(self, name):
        if name == "bridge":
            return ["--bridge", "br0=r0,r1"]
        args = ["--addr", f"r0={R0_IP}/24", "--addr", f"r1={R1_IP}/24"]
        if name == "forward":
            return args + ["--route-file", f"{self.a.table}={','.join(self.gateways)}"]
        if name.startswith("masquerade"):
            # EIM (RFC 4787): one mapping per inside source, a session per flow.
            return args + ["--route", f"{DEST}={NEXT_HOP}", "--masquerade", f"{INSIDE},out=r1",
                           "--nat-sessions", "262144"]
        if name == "dnat":
            return args + ["--forward", f"udp:8080={NEXT_HOP}:80,in=r0"]
        return args

    def start_dut(self, mode, name):
        """(process, log path, seconds to ready) of sluiced or testpmd; (None, None, secs) for
        the kernel, configured instead."""
        if mode == "kernel":
            t0 = time.monotonic()
            self.kernel_on(name)
            return None, None, time.monotonic() - t0
        pfx = self.dut_prefix
        # The main lcore (sluiced's control thread, testpmd's prompt and stats) on the
        # housekeeping CPU, the worker alone on the DUT's CPU, as a router is deployed: a
        # control thread waking on the worker's CPU stalls forwarding for its time slice, and
        # at zero loss a stall of a few ms overflows the AF_XDP ring.
        lcores = f"0@{self.a.dut_main_cpu},1@{self.a.dut_cpu}"
        if mode == "sluice":
            cmd = [self.a.sluiced, "--port", "r0", "--port", "r1", "--mirror", "off",
                   *self.sluiced_args(name), "--rx-desc", str(self.a.dut_desc), "--tx-desc",
                   str(self.a.dut_desc), *self.a.sluice_args.split(), "--no-huge", "--file-prefix", pfx,
                   "--control-socket", f"/tmp/{pfx}.sock", "--lcores", lcores]
            ready = r"sluiced: ready"
        else:
            cmd = self.testpmd_eal(pfx, self.a.dut_cpu, ["net_af_xdp0,iface=r0",
                                                        "net_af_xdp1,iface=r1"], 1024) + [
                "--", "--forward-mode=io", f"--total-num-mbufs={self.a.mbufs}",
                f"--rxd={self.a.dut_desc}", f"--txd={self.a.dut_desc}", "--stats-period", "1"]
            ready = r"packet forwarding - ports="
        self.setup_info.setdefault("dut_commands", {})[f"{name}/{mode}"] = " ".join(
            ["nice", "-n", str(self.a.dut_nice), "ip", "netns", "exec", self.dut, *cmd])
        self.run_n += 1
        return self.spawn_ready(self.dut, cmd, f"{name}-{mode}-{self.run_n}.log",
                                self.a.dut_nice, ready, mode, timeout=180)

    def sluice_stats(self):
        r = fb.run(["ip", "netns", "exec", self.dut, self.a.cli, "--socket",
                    f"/tmp/{self.dut_prefix}.sock", "--json", "stats"], check=False)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return None

    # ---- the tester -----------------------------------------------------------------------
    def tester_cmd(self, name, sizes, extra):
        routed = SCENARIOS[name][3]
        flows = self.dst_file_args if name == "forward" else list(SCENARIOS[name][2])
        cmd = [self.a.tester, "--no-huge", "-m", str(self.a.tester_mem), "--no-pci",
               "--file-prefix", self.tester_prefix, "--lcores", f"0@{self.a.tester_cpu}",
               "--log-level", "lib.eal:warning", "--",
               "--tx-port", "t0", "--rx-port", "t1", "--tx-ip", TESTER_IP,
               "--rx-ip", f"{NEXT_HOP}+{len(self.gateways)}", *flows,
               "--sizes", ",".join(sizes), "--drain-ms", str(self.a.drain_ms),
               "--warmup-seconds", str(self.a.warmup_seconds)]
        cmd += ["--dst-mac", R0_MAC] if routed else ["--dst-mac", "rx", "--learning"]
        return cmd + extra

    def link_counters(self):
        """The four veth ends' kernel counters: where frames were dropped (r0 rx_dropped: the
        DUT's AF_XDP ring or veth's was full; t1 rx_dropped: the tester's)."""
        out = {}
        for ns, devs in ((self.tst, ("t0", "t1")), (self.dut, ("r0", "r1"))):
            nd = self.netdev(ns)
            for d in devs:
                out[d] = nd.get(d, {})
        return out

    def run_tester(self, name, mode, sizes, extra, label):
        before, stat0, t0 = self.link_counters(), self.proc_stat(), time.monotonic()
        try:
            return self.run_tester_inner(name, mode, sizes, extra, label)
        finally:
            after, stat1, secs = self.link_counters(), self.proc_stat(), time.monotonic() - t0
            self.last_link_deltas = {d: {k: after[d].get(k, 0) - v for k, v in before[d].items()
                                         if after[d].get(k, 0) - v}
                                     for d in before}
            # Time the hypervisor ran someone else on our vCPUs (/proc/stat steal), per CPU:
            # a vCPU stolen for a few ms stalls whoever polls on it, and at zero loss that shows.
            self.last_link_deltas["steal_fraction"] = {
                c: round((stat1[c]["steal"] - stat0[c]["steal"]) / fb.USER_HZ / secs, 4)
                for c in stat0 if c in stat1 and secs > 0}

    def run_tester_inner(self, name, mode, sizes, extra, label):
        out = os.path.join(self.tmp, f"tester-{name}-{mode}-{label}-{self.run_n}.json")
        cmd = self.tester_cmd(name, sizes, extra) + ["--json", out]
        self.setup_info.setdefault("tester_commands", {})[f"{name}/{mode}/{label}"] = " ".join(
            ["nice", "-n", str(self.a.tester_nice), "ip", "netns", "exec", self.tst, *cmd])
        p, path = self.spawn(self.tst, cmd, f"tester-{name}-{mode}-{label}-{self.run_n}.log",
                             self.a.tester_nice)
        per_size = self.a.max_trials * (self.a.trial_seconds + self.a.drain_ms / 1000 + 1.5)
        timeout = 60 + len(sizes) * (per_size + self.a.warmup_seconds + self.a.trial_seconds + 5)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"  the tester ran longer than {timeout:.0f} s; stopping it")
            self.stop(p, signal.SIGINT)
        if p in self.procs:
            self.procs.remove(p)
        with open(path, errors="replace") as f:
            text = f.read()
        if not self.a.quiet:
            for line in text.splitlines():
                # DPDK's and libbpf's start-up chatter is in the log file, not on the console
                if line.strip() and not line.startswith(("libbpf:", "libxdp:", "TELEMETRY:")):
                    log(f"    {line}")
        try:
            with open(out) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = None
        return p.returncode, doc, text

    # ---- one scenario ---------------------------------------------------------------------
    def wait_quiet(self):
        t0 = time.monotonic()
        while True:
            bg = self.background(2)
            busy = sum(v for c in bg.values() for k, v in c.items() if k not in ("idle", "iowait"))
            if busy <= self.a.quiet_threshold or time.monotonic() - t0 >= self.a.quiet_wait:
                return round(busy, 2)
            log(f"  the machine is busy ({busy:.2f} CPUs of other work); waiting")

    def run_mode(self, name, mode, sizes, kernel_result):
        rec = {"mode": mode, "ok": False, "why": "", "tester": None, "at_kernel_rate": None,
               "dut": {}, "started_utc": datetime.now(timezone.utc).isoformat()}
        rec["background_busy_cpus"] = self.wait_quiet()
        log(f"{name}: {mode}")
        proc = None
        try:
            proc, dut_log, secs = self.start_dut(mode, name)
            rec["dut"]["start_seconds"] = round(secs, 2)
            before = self.sluice_stats() if mode == "sluice" else None
            search = ["--search", "--max-rate", str(self.a.max_rate), "--min-rate",
                      str(self.a.min_rate), "--precision", str(self.a.precision),
                      "--loss-tolerance", str(self.a.loss_tolerance), "--max-trials",
                      str(self.a.max_trials), "--trial-seconds", str(self.a.trial_seconds),
                      "--latency-seconds", str(self.a.latency_seconds), "--retries", "2"]
            t0 = time.monotonic()
            status, doc, text = self.run_tester(name, mode, sizes, search, "search")
            rec["tester_seconds"] = round(time.monotonic() - t0, 1)
            rec["tester"], rec["tester_exit_status"] = doc, status
            rec["link_counters"] = self.last_link_deltas
            after = self.sluice_stats() if mode == "sluice" else None
            if mode == "sluice":
                nodes = bb.node_deltas(before, after) or {}
                rec["dut"]["nodes_cycles_per_packet"] = {
                    k: round(v["cycles_per_packet"]) for k, v in nodes.items()
                    if v.get("cycles_per_packet") is not None}
                rec["dut"]["nodes_packets_per_call"] = {
                    k: round(v["packets_per_call"], 1) for k, v in nodes.items()
                    if v.get("packets_per_call") is not None}
                rec["dut"]["drops"] = bb.drop_deltas(before, after)
                rec["dut"]["ports"] = port_deltas(before, after)
                if isinstance(after, dict) and after.get("nat"):
                    rec["dut"]["nat"] = after["nat"]
            if doc is None:
                rec["why"] = f"the tester wrote no result (exit status {status}): {text.strip()[-600:]}"
            else:
                rec["ok"] = status == 0
                if status != 0:
                    rec["why"] = f"the tester exited with status {status}"
            # The goal compares latency at the kernel's own zero-loss rate: one fixed-rate
            # trial per size at what the kernel reached.
            if doc is not None and kernel_result and mode != "kernel" and self.a.at_kernel_rate:
                results = []
                for r in kernel_result.get("results") or []:
                    rate = r.get("throughput_pps")
                    if not rate or r.get("size") not in sizes:
                        continue
                    st, d, _ = self.run_tester(name, mode, [r["size"]],
                                               ["--rate", str(int(rate)), "--trial-seconds",
                                                str(self.a.latency_seconds or self.a.trial_seconds)],
                                               f"at-kernel-rate-{r['size']}")
                    if d is not None:
                        for x in d.get("results") or []:
                            x["link_counters"] = self.last_link_deltas
                        results += d.get("results") or []
                if results:
                    rec["at_kernel_rate"] = {"tool": "sluice-tester", "results": results}
        except RuntimeError as e:
            rec["why"] = str(e)[-2000:]
            log(f"  {mode} failed: {str(e)[:300]}")
        finally:
            if proc is not None:
                rec["dut_exit_status"] = self.stop(proc, signal.SIGTERM)
                if mode == "sluice":
                    with open(dut_log, errors="replace") as f:
                        rec["dut"]["exit_summary_nodes"] = fb.parse_sluiced_nodes(f.read())
            if mode == "kernel":
                rec["dut"]["ip_forw_datagrams"] = self.snmp_ip(self.dut).get("ForwDatagrams")
                self.kernel_off(name)
        for r in (rec["tester"] or {}).get("results") or []:
            lat = r.get("latency") or {}
            log(f"  {name} {mode} size {r.get('size')}: {fb.fmt_pps(r.get('throughput_pps'))}"
                f"{' (generator-limited)' if r.get('generator_limited') else ''}"
                f"{'' if r.get('search_ok', True) else ' search failed: ' + str(r.get('why'))}, "
                f"p99 {fmt_us(lat.get('p99_ns'))}")
        return rec

    def scenario(self, name):
        title, default_sizes, _, routed = SCENARIOS[name]
        sizes = list(self.a.sizes or default_sizes)
        if name != "forward" and not self.a.sizes_everywhere:
            sizes = sizes[:1]  # frame-size scaling is the forward scenario's; the rest: the first
        sc = {"name": name, "title": title, "sizes": sizes, "runs": []}
        if name == "forward":
            sc["flows"] = self.a.destinations
        else:
            sc["flows"] = flow_count(SCENARIOS[name][2])
        log(f"scenario {name}: {title}; sizes {','.join(sizes)}")
        self.setup(routed)
        try:
            kernel_result = None
            for mode in [m for m in MODES if m in self.a.modes]:
                rec = self.run_mode(name, mode, sizes, kernel_result)
                if mode == "kernel":
                    kernel_result = rec.get("tester")
                sc["runs"].append(rec)
        finally:
            self.teardown()
        return sc

    # ---- forward's destinations -----------------------------------------------------------
    def prepare_forward(self):
        self.prefixes = fb.read_table(self.a.table)
        path = os.path.join(self.tmp, "destinations.txt")
        rng = random.Random(self.a.seed)  # fixed seed: the same destinations in every mode and run
        nets = [ipaddress.IPv4Network(p, strict=False) for p in self.prefixes]
        out = []
        while len(out) < self.a.destinations:
            n = rng.choice(nets)
            a = int(n.network_address) | (rng.getrandbits(32 - n.prefixlen) if n.prefixlen < 32 else 0)
            first = a >> 24
            if first in (0, 10, 127) or first >= 224:  # not the bench's own links, not martians
                continue
            out.append(str(ipaddress.IPv4Address(a)))
        with open(path, "w") as f:
            f.write("\n".join(out) + "\n")
        self.dst_file_args = ["--src", TESTER_IP, "--dst-file", path, "--sport", "1024",
                              "--dport", "9"]
        self.setup_info["forward_destinations"] = {"count": len(out), "seed": self.a.seed,
                                                   "table_prefixes": len(self.prefixes)}


def port_deltas(a, b):
    """sluiced's per-port counters (`sluice --json stats`: rx/tx packets, missed, errors,
    nombuf) over the search, the non-zero ones."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    pa = {p["name"]: p for p in a.get("ports") or []}
    out = {}
    for p in b.get("ports") or []:
        o = pa.get(p["name"], {})
        out[p["name"]] = {k: v - o.get(k, 0) for k, v in p.items()
                          if isinstance(v, int) and v - o.get(k, 0)}
    return out


def flow_count(args):
    n = 1
    for opt in ("--src", "--dst", "--sport", "--dport"):
        if opt in args:
            v = args[args.index(opt) + 1]
            n *= int(v.split("+")[1]) if "+" in v else 1
    return n


def fmt_us(ns):
    return "-" if ns is None else f"{ns / 1000:.1f} us"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluiced", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--tester", required=True)
    ap.add_argument("--table", default=None, help="the route table (forward scenario)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--sizes", default=None,
                    help="frame sizes, e.g. 64,512,1518,imix (default: every size for forward, "
                         "64 for the others)")
    ap.add_argument("--sizes-everywhere", action="store_true",
                    help="every scenario runs all of --sizes, not only the first")
    ap.add_argument("--trial-seconds", type=float, default=2)
    ap.add_argument("--latency-seconds", type=float, default=0,
                    help="a trial of this length at the found rate gives the latency (0: the "
                         "passing search trial's)")
    ap.add_argument("--precision", type=float, default=0.02)
    ap.add_argument("--loss-tolerance", type=float, default=0.0)
    ap.add_argument("--max-rate", type=int, default=2_000_000)
    ap.add_argument("--min-rate", type=int, default=10_000)
    ap.add_argument("--max-trials", type=int, default=12)
    ap.add_argument("--drain-ms", type=int, default=300)
    ap.add_argument("--warmup-seconds", type=float, default=1)
    ap.add_argument("--destinations", type=int, default=4096)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-at-kernel-rate", dest="at_kernel_rate", action="store_false")
    ap.add_argument("--tester-cpu", type=int, default=0)
    ap.add_argument("--dut-cpu", type=int, default=1)
    ap.add_argument("--sluice-args", default="",
                    help="more sluiced options, e.g. --sluice-args='--tx-coalesce-us 20'")
    ap.add_argument("--dut-main-cpu", type=int, default=0,
                    help="CPU of sluiced's control thread and testpmd's main lcore")
    # nice 0, not -10 as the DUT: the DUT's veth receive (r0's NAPI: its XDP program and the
    # copy into the AF_XDP socket) runs on the tester's CPU, and when it overflows into
    # ksoftirqd (nice 0) a nice -10 tester polling flat out starves it: r0's ring overflows
    # and the DUT is charged for the loss (masquerade-1k, sluice: 0.31-0.45 Mpps at -10,
    # 0.45-0.65 at 0).
    ap.add_argument("--tester-nice", type=int, default=0)
    ap.add_argument("--dut-nice", type=int, default=-10)
    ap.add_argument("--tester-mem", type=int, default=1024)
    ap.add_argument("--no-rps", dest="rps", action="store_false")
    ap.add_argument("--mbufs", type=int, default=32768, help="testpmd's mbufs")
    ap.add_argument("--dut-desc", type=int, default=4096,
                    help="RX and TX descriptors per queue of sluiced and testpmd, the same for "
                         "both (AF_XDP ring entries; DPDK af_xdp's default, which testpmd takes "
                         "without --rxd, is 2048, sluiced's 1024): 8 ms at 500 kpps")
    ap.add_argument("--quiet-threshold", type=float, default=0.25)
    ap.add_argument("--quiet-wait", type=float, default=60)
    ap.add_argument("--quiet", action="store_true", help="not the tester's trial lines")
    ap.add_argument("--no-report", dest="report", action="store_false",
                    help="the JSON only (no Markdown, no plots)")
    ap.add_argument("--id", default=str(os.getpid()))
    ap.add_argument("--out-dir", default="perf/results")
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--command", default="perf/linerate/linerate_bench.py")
    a = ap.parse_args()
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    for s in a.scenarios:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s} (known: {', '.join(SCENARIOS)})")
    fb.parse_modes(ap, a, MODES)
    if a.sizes:
        a.sizes = [s for s in a.sizes.split(",") if s]
    if "forward" in a.scenarios and not a.table:
        ap.error("the forward scenario needs --table")
    signal.signal(signal.SIGTERM, fb.on_signal)
    signal.signal(signal.SIGINT, fb.on_signal)

    b = LineRateBench(a)
    model, dpdk = fb.machine_info()
    with open("/proc/loadavg") as f:
        load = [float(x) for x in f.read().split()[:3]]
    started = datetime.now(timezone.utc)
    doc = {"tool": "linerate-bench", "version": 1,
           "started": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "command": a.command,
           "machine": {"cpu": model, "cpus": os.cpu_count(), "kernel": os.uname().release,
                       "dpdk": dpdk, "loadavg_start": load},
           "versions": {}, "settings": {k: v for k, v in vars(a).items()
                                        if k not in ("command",)},
           "scenarios": [], "notes": []}
    fb.record_provenance(b, a.sluiced)
    doc["versions"]["sluiced"] = (f"{a.sluiced} (sha256 {b.setup_info['sluiced_sha256'][:16]}..., "
                                  f"checkout {b.setup_info['git']})")
    doc["versions"]["testpmd"] = f"dpdk-testpmd of dpdk-dev {dpdk}"
    doc["versions"]["iptables"] = fb.run(["iptables", "-V"], check=False).stdout.strip()
    with open(a.tester, "rb") as f:
        doc["versions"]["sluice-tester"] = f"{a.tester} (sha256 {hashlib.sha256(f.read()).hexdigest()[:16]}...)"

    def body():
        if "forward" in a.scenarios:
            b.prepare_forward()
        for s in a.scenarios:
            doc["scenarios"].append(b.scenario(s))

    status = fb.run_trials(b, body, doc["notes"])
    doc["finished"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["setup"] = b.setup_info
    os.makedirs(a.out_dir, exist_ok=True)
    stamp = started.strftime("%Y%m%d-%H%M%S")
    path = os.path.join(a.out_dir, f"linerate-{stamp}.json")
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))  # compact: every trial and histogram is in it
        f.write("\n")
    log(f"results: {path}")
    if a.report:
        import report
        for p in report.write_report(doc, path):
            log(f"report: {p}")
        md = path[:-len(".json")] + ".md"
        if os.path.exists(md):
            with open(md) as f:
                text = f.read()
            # the ratio and goal lines, as the other benchmarks end
            if "```" in text:
                print(text.split("```")[1].strip("\n"))
    bad = [f"{s['name']}/{r['mode']}" for s in doc["scenarios"] for r in s["runs"] if not r["ok"]]
    if bad:
        log(f"runs without a complete result: {', '.join(bad)}")
    return status or (3 if bad else 0)


if __name__ == "__main__":
    sys.exit(main())
