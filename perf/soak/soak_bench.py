#!/usr/bin/env python3
"""perf/soak/soak_bench.py — the engine of `scripts/soak [MINUTES]`: sluiced under every kind of
load at once for MINUTES, then the verdicts of issue 8's soak goal (no crash, `sluice route
check` clean at the end, flat memory).

Run by scripts/soak (which builds sluiced and removes what is left however the run ends); by
hand, as root:
  perf/soak/soak_bench.py --sluiced build/control/sluiced --cli build/control/sluice \\
      --table ../shared/data/fullview-prefixes.txt.gz --minutes 1

The topology, in network namespaces named soak-*-ID (nothing in the root namespace):

  h1 n0 192.168.15.2 (+ .12-.19) -- vr-h1 \\
  h2 n0 192.168.15.3 ------------- vr-h2   +- br0 192.168.15.1/24 (Linux bridge in rtr,
  h3 n0 192.168.15.4 ------------- vr-h3   |   its members sluice ports: sluice bridges it)
  h4 n0 192.168.15.5 ------------- vr-h4  /
  lan2 l0 192.168.16.2-.9 -------- r-lan2 192.168.16.1/24   rtr   r-wan 203.0.113.1/24 --
      -- w0 203.0.113.2/24 wan (+ the table's gateways 203.0.113.10.., and 8.8.8.8, 1.1.1.1,
         9.9.9.9 on its lo: destinations inside the table)

sluiced runs in rtr in mirror mode on the six r*/vr-* ports, masquerading 192.168.15.0/24 and
192.168.16.0/24 out of r-wan and forwarding tcp 203.0.113.1:8080 to h2:7001, with short NAT
timeouts (--nat-timeout-udp 120, the least it takes; tcp-transitory and icmp 10 s) so that
sessions expire during the run. The load, all at once:
  - masquerade: iperf3 TCP h1 -> wan (50 Mbit/s), restarted if it fails; short UDP and TCP
    flows (perf/soak/flows.py) from h1's nine and lan2's eight addresses to wan, and TCP flows
    from wan to the forwarded port (DNAT to h2); pings lan2 -> wan and h1 -> 8.8.8.8 (a
    destination whose next hop changes as the table comes and goes);
  - the bridge: iperf3 TCP h2 -> h3 (20 Mbit/s), ping -i 0.01 h3 -> h2, ping h4 -> h1;
  - route churn: the real table (901,899 prefixes, each via one of --gateways addresses of
    wan) added to rtr's kernel with `ip -batch`, sluice followed until it has it, a `sluice
    route check`, then deleted again (or, every --wan-flap-every cycles, flushed by taking
    r-wan down and up: the kernel drops the routes without a word and sluice must re-read);
  - flaps: every --flap-interval seconds, in turn, r-lan2 down and up, the bridge member vr-h4
    down and up, and rtr's neighbour table flushed.
Every --sample-interval seconds it records sluiced's RSS and VmHWM, the mbuf pool's use, NAT
sessions, FDB entries, routes, packets forwarded, drops by reason, mirror resyncs and
overruns. At the end: the table loaded once more, route check until clean, the table deleted,
route check until clean, the traffic stopped, the pool and RSS read idle, SIGTERM and sluiced's
exit status. Writes perf/results/soak-<date>.{json,md}; exits 1 when a goal is missed.
Standard library only (forward_bench.Bench's namespace, process and cleanup helpers).
"""

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "forward"))
import forward_bench as fb  # noqa: E402
from forward_bench import gateway_index  # noqa: E402

BR_NET, LAN2_NET = "192.168.15.0/24", "192.168.16.0/24"
BR_GW, LAN2_GW, RTR_OUT, WAN_IP = "192.168.15.1", "192.168.16.1", "203.0.113.1", "203.0.113.2"
BR_MAC = "02:50:00:00:00:01"
HOSTS = {"h1": "192.168.15.2", "h2": "192.168.15.3", "h3": "192.168.15.4", "h4": "192.168.15.5"}
H1_EXTRA = [f"192.168.15.{i}" for i in range(12, 20)]
LAN2_ADDRS = [f"192.168.16.{i}" for i in range(2, 10)]
TABLE_DSTS = ["8.8.8.8", "1.1.1.1", "9.9.9.9"]  # inside the real table; wan answers for them
FWD_PORT, ECHO_UDP, ECHO_TCP = 8080, 7000, 7001
# Our subnets: a table prefix equal to one of them or inside one is skipped (the real table
# has none; the filter is for other tables), and so is a default route.
OWN_NETS = [(0xC0A80F00, 24), (0xC0A81000, 24), (0xCB007100, 24)]

MIB = 1024 * 1024


def log(msg):
    print(f"[soak] {msg}", file=sys.stderr, flush=True)


def now_utc():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_prefixes(path):
    """The table's IPv4 prefixes, normalised, without duplicates or our own subnets."""
    out, seen = [], set()
    for s in fb.read_table(path):
        addr, _, length = s.partition("/")
        plen = int(length) if length else 32
        a, b, c, d = (int(x) for x in addr.split("."))
        v = ((a << 24) | (b << 16) | (c << 8) | d) & ((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF)
        if plen == 0 or any(plen >= n and (v >> (32 - n)) == (net >> (32 - n)) for net, n in OWN_NETS):
            continue
        key = f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}/{plen}"
        if key not in seen:
            seen.add(key)
            out.append(key)
    return out


def dig(d, dotted, default=None):
    for k in dotted.split("."):
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


class Soak(fb.Bench):
    def __init__(self, a):
        super().__init__(a)
        i = self.id
        self.rtr, self.wan, self.lan2 = f"soak-rtr-{i}", f"soak-wan-{i}", f"soak-lan2-{i}"
        self.hosts = {h: f"soak-{h}-{i}" for h in HOSTS}
        self.namespaces = [self.rtr, self.wan, self.lan2, *self.hosts.values()]
        self.gateways = [f"203.0.113.{10 + k}" for k in range(a.gateways)]
        self.ports = ["vr-h1", "vr-h2", "vr-h3", "vr-h4", "r-lan2", "r-wan"]
        self.file_prefix = f"soak-{i}"
        self.sock = os.path.join(self.tmp, "sluice.sock")
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.sluiced = None  # Popen
        self.sluiced_log = None
        self.samples = []  # periodic
        self.marks = []  # samples at points of the churn cycle (table full / empty)
        self.cycles = []
        self.events = []  # flaps, neighbour flushes, restarts: (seconds since start, what)
        self.errors = []  # unexpected failures of the harness's own steps
        self.iperf_runs = {"masquerade": [], "bridge": []}
        self.pings = {}
        self.flow_clients = {}
        self.t0 = None
        self.table_state = "empty"
        self.crash = None
        self.traffic_stopped = False
        self.current_iperf = {}
        self.iperf_threads = []
        # Read before cleanup() removes the temporary directory.
        self.ping_res, self.flow_res, self.tail = {}, {}, []
        self.exit, self.final, self.start_sample, self.end_sample = {}, {}, {}, {}

    def cleanup(self):
        """However the run ends: the traffic stopped and its results read, sluiced stopped
        (SIGTERM), then forward_bench's cleanup (processes, namespaces, DPDK runtime dirs)."""
        self.stop_event.set()
        try:
            self.stop_traffic()
            self.ping_res, self.flow_res = self.ping_results(), self.flow_results()
            if self.alive():
                self.exit = self.stop_sluiced()
            self.tail = self.log_tail(60)
        finally:
            super().cleanup()

    # ---- small helpers --------------------------------------------------------------------
    def since(self):
        return round(time.monotonic() - self.t0, 1) if self.t0 else 0.0

    def event(self, what):
        with self.lock:
            self.events.append((self.since(), what))
        log(f"{self.since():7.1f}s {what}")

    def error(self, what):
        with self.lock:
            self.errors.append((self.since(), what))
        log(f"{self.since():7.1f}s error: {what}")

    def cli(self, *args, timeout=60):
        return subprocess.run([self.a.cli, "--socket", self.sock, *args], capture_output=True,
                              text=True, timeout=timeout)

    def stats(self):
        try:
            p = self.cli("stats", "--json", timeout=20)
            return json.loads(p.stdout) if p.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError):
            return None

    def routes(self):
        return dig(self.stats(), "fib.routes")

    def alive(self):
        return self.sluiced is not None and self.sluiced.poll() is None

    def proc_mem(self):
        out = {}
        try:
            with open(f"/proc/{self.sluiced.pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmRSS", "VmHWM", "VmSize", "RssAnon", "RssFile", "RssShmem"):
                        out[k] = int(v.split()[0])  # kB
        except OSError:
            pass
        return out

    def sample(self, label=None):
        """sluiced's memory and counters now, as one record."""
        st = self.stats()
        mem = self.proc_mem()
        ports = dig(st, "ports", []) or []
        rec = {
            "t": self.since(), "label": label, "alive": self.alive(), "table": self.table_state,
            "rss_kb": mem.get("VmRSS"), "hwm_kb": mem.get("VmHWM"), "vmsize_kb": mem.get("VmSize"),
            "rss_anon_kb": mem.get("RssAnon"), "rss_file_kb": mem.get("RssFile"),
            "rss_shmem_kb": mem.get("RssShmem"),
            "mempool": dig(st, "mempool"),
            "routes": dig(st, "fib.routes"), "fib_bytes": dig(st, "fib.fib_bytes"),
            "rib_bytes": dig(st, "fib.rib_bytes"),
            "forwarded": dig(st, "forwarded"),
            "nat": {k: dig(st, f"nat.{k}") for k in ("sessions", "created", "expired", "translated",
                                                      "table_full", "ports_exhausted", "flushed")},
            "bridge": {k: dig(st, f"bridge.{k}") for k in ("fdb_entries", "learned", "aged", "moves",
                                                            "flooded", "notes_lost", "copy_failed")},
            "mirror": dig(st, "mirror"),
            "neighbours": dig(st, "neighbours"),
            "drops": dig(st, "drops"),
            "ports_rx_nombuf": sum(p.get("rx_nombuf", 0) for p in ports),
            "ports_rx_missed": sum(p.get("rx_missed", 0) for p in ports),
            "ports_errors": sum(p.get("rx_errors", 0) + p.get("tx_errors", 0) for p in ports),
            "stats_ok": st is not None,
        }
        if st is not None and isinstance(rec["drops"], dict):
            rec["drops"] = {k: v for k, v in rec["drops"].items() if v}
        return rec

    def check_alive(self, where):
        if not self.alive() and self.crash is None:
            rc = self.sluiced.poll() if self.sluiced else None
            self.crash = {"t": self.since(), "where": where, "exit_status": rc,
                          "log_tail": self.log_tail()}
            self.error(f"sluiced is not running ({where}; exit status {rc})")
        return self.crash is None

    def log_tail(self, n=60):
        try:
            with open(self.sluiced_log, errors="replace") as f:
                return f.read().splitlines()[-n:]
        except (OSError, TypeError):
            return []

    # ---- topology -------------------------------------------------------------------------
    def setup(self):
        existing = fb.run(["ip", "netns", "list"]).stdout
        for n in self.namespaces:
            if re.search(rf"^{re.escape(n)}\b", existing, re.M):
                raise RuntimeError(f"namespace {n} exists already (another run with id {self.id}?)")
        for n in self.namespaces:
            fb.run(["ip", "netns", "add", n])
            fb.run(["ip", "-n", n, "link", "set", "lo", "up"])
            self.sysctl(n, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        r = self.rtr
        self.sysctl(r, "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                    "net.ipv4.conf.default.rp_filter=0")
        # Bridged frames never reach iptables, as with sluiced, where they never reach the kernel.
        for k in ("iptables", "arptables", "ip6tables"):
            self.ns(r, "sh", "-c", f"[ ! -e /proc/sys/net/bridge/bridge-nf-call-{k} ] || "
                    f"echo 0 > /proc/sys/net/bridge/bridge-nf-call-{k}")
        fb.run(["ip", "-n", r, "link", "add", "br0", "address", BR_MAC, "type", "bridge"])
        links = [(r, "br0")]
        for k, (h, ip) in enumerate(HOSTS.items()):
            hn = self.hosts[h]
            fb.run(["ip", "-n", r, "link", "add", f"vr-{h}", "type", "veth", "peer", "name", "n0",
                    "address", f"02:50:00:00:01:{k + 2:02x}", "netns", hn])
            # Full checksums from every sender: veth hands XDP frames with unfinished L4
            # checksums otherwise (tests/netns/lib.sh, topo_up).
            self.ns(hn, "ethtool", "-K", "n0", "tx", "off")
            fb.run(["ip", "-n", r, "link", "set", f"vr-{h}", "master", "br0"])
            fb.run(["ip", "-n", hn, "addr", "add", f"{ip}/24", "dev", "n0"])
            if h == "h1":
                for x in H1_EXTRA:
                    fb.run(["ip", "-n", hn, "addr", "add", f"{x}/24", "dev", "n0"])
            fb.run(["ip", "-n", hn, "link", "set", "n0", "up"])
            fb.run(["ip", "-n", r, "link", "set", f"vr-{h}", "up"])
            fb.run(["ip", "-n", hn, "route", "add", "default", "via", BR_GW])
            links += [(hn, "n0"), (r, f"vr-{h}")]
        fb.run(["ip", "-n", r, "addr", "add", f"{BR_GW}/24", "dev", "br0"])
        fb.run(["ip", "-n", r, "link", "set", "br0", "up"])

        fb.run(["ip", "-n", r, "link", "add", "r-lan2", "type", "veth", "peer", "name", "l0",
                "netns", self.lan2])
        self.ns(self.lan2, "ethtool", "-K", "l0", "tx", "off")
        for x in LAN2_ADDRS:
            fb.run(["ip", "-n", self.lan2, "addr", "add", f"{x}/24", "dev", "l0"])
        fb.run(["ip", "-n", r, "addr", "add", f"{LAN2_GW}/24", "dev", "r-lan2"])

        fb.run(["ip", "-n", r, "link", "add", "r-wan", "type", "veth", "peer", "name", "w0",
                "netns", self.wan])
        self.ns(self.wan, "ethtool", "-K", "w0", "tx", "off")
        fb.run(["ip", "-n", r, "addr", "add", f"{RTR_OUT}/24", "dev", "r-wan"])
        batch = os.path.join(self.tmp, "wan-addrs.batch")
        with open(batch, "w") as f:
            f.write(f"addr add {WAN_IP}/24 dev w0\n")
            for g in self.gateways:  # every gateway answers ARP
                f.write(f"addr add {g}/24 dev w0\n")
            for d in TABLE_DSTS:
                f.write(f"addr add {d}/32 dev lo\n")
        fb.run(["ip", "-n", self.wan, "-batch", batch])
        for n, d in ((self.lan2, "l0"), (r, "r-lan2"), (self.wan, "w0"), (r, "r-wan")):
            fb.run(["ip", "-n", n, "link", "set", d, "up"])
            links.append((n, d))
        fb.run(["ip", "-n", self.lan2, "route", "add", "default", "via", LAN2_GW])
        fb.run(["ip", "-n", r, "route", "add", "default", "via", WAN_IP])
        self.anchor_and_wait_up(links)

    def write_batches(self, prefixes):
        self.add_batch = os.path.join(self.tmp, "table-add.batch")
        self.del_batch = os.path.join(self.tmp, "table-del.batch")
        with open(self.add_batch, "w") as fa, open(self.del_batch, "w") as fd:
            for p in prefixes:
                fa.write(f"route add {p} via {self.gateways[gateway_index(p, len(self.gateways))]}\n")
                fd.write(f"route del {p}\n")

    # ---- sluiced --------------------------------------------------------------------------
    def start_sluiced(self):
        a = self.a
        cmd = [a.sluiced]
        for p in self.ports:
            cmd += ["--port", p]
        cmd += ["--control-socket", self.sock, "--no-huge", "--file-prefix", self.file_prefix,
                "--masquerade", f"{BR_NET},out=r-wan", "--masquerade", f"{LAN2_NET},out=r-wan",
                "--forward", f"tcp:{RTR_OUT}:{FWD_PORT}={HOSTS['h2']}:{ECHO_TCP}",
                "--nat-timeout-udp", str(a.nat_timeout_udp),
                "--nat-timeout-tcp-transitory", str(a.nat_timeout_transitory),
                "--nat-timeout-icmp", str(a.nat_timeout_icmp)]
        cmd += a.sluiced_args.split()
        self.prefixes_made.append(self.file_prefix)
        self.sluiced_cmd = cmd
        self.sluiced, self.sluiced_log, secs = self.spawn_ready(
            self.rtr, cmd, "sluiced.log", 0, r"sluiced: ready", "sluiced", timeout=120)
        log(f"sluiced ready in {secs:.1f} s (pid {self.sluiced.pid})")

    def stop_sluiced(self):
        """SIGTERM, and sluiced's exit status (None if it had to be killed)."""
        if not self.alive():
            return {"exit_status": self.sluiced.poll() if self.sluiced else None, "seconds": 0,
                    "signalled": False}
        t = time.monotonic()
        self.sluiced.send_signal(signal.SIGTERM)
        try:
            rc = self.sluiced.wait(30)
            return {"exit_status": rc, "seconds": round(time.monotonic() - t, 2), "signalled": True}
        except subprocess.TimeoutExpired:
            self.sluiced.kill()
            self.sluiced.wait()
            return {"exit_status": None, "seconds": 30, "signalled": True,
                    "note": "did not exit within 30 s of SIGTERM; killed"}

    # ---- traffic --------------------------------------------------------------------------
    def start_servers(self):
        flows = os.path.join(HERE, "flows.py")
        py = sys.executable
        self.spawn_ready(self.wan, ["iperf3", "-s", "-p", "5201", "--forceflush"], "iperf3-server-wan.log", 0,
                         r"Server listening", "iperf3 server in wan", 20)
        self.spawn_ready(self.hosts["h3"], ["iperf3", "-s", "-p", "5202", "--forceflush"], "iperf3-server-h3.log",
                         0, r"Server listening", "iperf3 server in h3", 20)
        self.spawn_ready(self.wan, [py, flows, "server", "--udp", str(ECHO_UDP), "--tcp", str(ECHO_TCP)],
                         "flows-server-wan.log", 0, r"ready", "flows server in wan", 20)
        self.spawn_ready(self.hosts["h2"], [py, flows, "server", "--tcp", str(ECHO_TCP)],
                         "flows-server-h2.log", 0, r"ready", "flows server in h2", 20)

    def start_traffic(self, deadline):
        a = self.a
        py, flows = sys.executable, os.path.join(HERE, "flows.py")
        # Pings: (name, namespace, destination, interval, source or None)
        for name, ns, dst, iv, src in (
                ("bridge h3->h2", self.hosts["h3"], HOSTS["h2"], "0.01", None),
                ("bridge h4->h1 (vr-h4 flaps)", self.hosts["h4"], HOSTS["h1"], "0.05", None),
                ("masquerade lan2->wan (r-lan2 flaps)", self.lan2, WAN_IP, "0.05", LAN2_ADDRS[0]),
                ("masquerade h1->8.8.8.8 (next hop churns)", self.hosts["h1"], TABLE_DSTS[0],
                 "0.05", None)):
            cmd = ["ping", "-n", "-i", iv, "-W", "1"] + (["-I", src] if src else []) + [dst]
            logname = "ping-" + re.sub(r"\W+", "_", name) + ".log"
            p, path = self.spawn(ns, cmd, logname)
            self.pings[name] = {"proc": p, "log": path}
        # Flow churn: (name, namespace, destination, sources, rate, tcp share)
        for name, ns, dst, port_args, srcs, rate, share in (
                ("h1->wan (masquerade)", self.hosts["h1"], WAN_IP, [], [HOSTS["h1"]] + H1_EXTRA,
                 a.flow_rate, 0.33),
                ("lan2->wan (masquerade)", self.lan2, WAN_IP, [], LAN2_ADDRS, a.flow_rate * 2 / 3, 0.33),
                ("wan->8080 (port forward to h2)", self.wan, RTR_OUT, ["--tcp-port", str(FWD_PORT)],
                 [WAN_IP], a.flow_rate / 3, 1.0)):
            stats = os.path.join(self.tmp, "flows-" + re.sub(r"\W+", "_", name) + ".json")
            cmd = [py, flows, "client", "--dst", dst, "--src", ",".join(srcs), "--rate", f"{rate:g}",
                   "--tcp-share", str(share), "--stats", stats] + port_args
            p, _ = self.spawn(ns, cmd, "flows-client-" + re.sub(r"\W+", "_", name) + ".log")
            self.flow_clients[name] = {"proc": p, "stats": stats}
        # iperf3, each kept running by a thread until the deadline.
        self.iperf_threads = [
            threading.Thread(target=self.iperf_keeper, daemon=True,
                             args=("masquerade", self.hosts["h1"], WAN_IP, 5201, a.iperf_masq_rate, deadline)),
            threading.Thread(target=self.iperf_keeper, daemon=True,
                             args=("bridge", self.hosts["h2"], HOSTS["h3"], 5202, a.iperf_bridge_rate,
                                   deadline))]
        for t in self.iperf_threads:
            t.start()

    def iperf_keeper(self, name, ns, dst, port, rate, deadline):
        """iperf3 until the deadline; a run that fails is recorded and a new one started."""
        k = 0
        while not self.traffic_stopped:
            left = int(deadline - time.monotonic())
            if left < 5:
                return
            k += 1
            cmd = ["iperf3", "-c", dst, "-p", str(port), "-t", str(left), "-b", rate, "--json",
                   "--connect-timeout", "3000"]
            p, path = self.spawn(ns, cmd, f"iperf3-{name}-{k}.log")
            with self.lock:
                self.current_iperf[name] = p
            t = time.monotonic()
            p.wait()
            res = {"run": k, "started_s": round(t - self.t0, 1), "seconds": round(time.monotonic() - t, 1),
                   "exit_status": p.returncode, "stopped_by_soak": self.traffic_stopped}
            try:
                with open(path) as f:
                    j = json.load(f)
                end = j.get("end", {})
                # A run we stop (SIGINT) has no receiver's totals (the server's are not
                # exchanged): the sender's bytes, which TCP had acknowledged, stand in.
                res.update(bytes_sent=dig(end, "sum_sent.bytes"),
                           bytes_received=dig(end, "sum_received.bytes"),
                           sent_bits_per_second=dig(end, "sum_sent.bits_per_second"),
                           retransmits=dig(end, "sum_sent.retransmits"), error=j.get("error"),
                           # 1 s intervals in which nothing was sent: the flow stalled (a flap)
                           zero_intervals=sum(1 for i in j.get("intervals", [])
                                              if dig(i, "sum.bytes") == 0))
            except (OSError, ValueError) as e:
                res["error"] = f"no JSON from iperf3 ({e})"
            self.iperf_runs[name].append(res)
            if p.returncode != 0 and not self.traffic_stopped:
                self.event(f"iperf3 {name} run {k} ended with status {p.returncode} "
                           f"({res.get('error')}); restarting")
                # A run that fails at once (no server, no path) is retried every 5 s, not in a loop.
                time.sleep(1 if res["seconds"] > 10 else 5)

    def stop_traffic(self):
        if self.traffic_stopped:
            return
        self.traffic_stopped = True  # iperf3 runs that end from now on were stopped by us
        self.stop_event.set()
        with self.lock:
            cur = dict(self.current_iperf)
        for p in cur.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)  # iperf3 reports (JSON) and exits
        for t in self.iperf_threads:
            t.join(timeout=20)
        for v in self.flow_clients.values():
            self.stop(v["proc"], signal.SIGTERM, 15)
        for v in self.pings.values():
            self.stop(v["proc"], signal.SIGINT, 10)

    def ping_results(self):
        out = {}
        for name, v in self.pings.items():
            try:
                with open(v["log"]) as f:
                    text = f.read()
            except OSError:
                text = ""
            m = re.search(r"(\d+) packets transmitted, (\d+) received", text)
            sent, recv = (int(m.group(1)), int(m.group(2))) if m else (None, None)
            out[name] = {"sent": sent, "received": recv,
                         "lost": None if sent is None else sent - recv,
                         "loss_pct": None if not sent else round(100.0 * (sent - recv) / sent, 3),
                         "summary": text.strip().splitlines()[-2:]}
        return out

    def flow_results(self):
        out = {}
        for name, v in self.flow_clients.items():
            try:
                with open(v["stats"]) as f:
                    out[name] = json.load(f)
            except (OSError, ValueError) as e:
                out[name] = {"error": f"no stats ({e})"}
        return out

    # ---- route churn ----------------------------------------------------------------------
    def wait_routes(self, cond, timeout):
        """Polls fib.routes until cond(routes); (seconds waited, last routes, reached)."""
        t = time.monotonic()
        last = None
        while time.monotonic() - t < timeout:
            last = self.routes()
            if last is not None and cond(last):
                return time.monotonic() - t, last, True
            if not self.check_alive("waiting for routes"):
                break
            time.sleep(0.25)
        return time.monotonic() - t, last, False

    def route_check(self, within):
        """`sluice route check` until clean or `within` seconds have passed."""
        t = time.monotonic()
        tries = 0
        while True:
            tries += 1
            try:
                p = self.cli("route", "check", "--json", timeout=180)
                j = json.loads(p.stdout) if p.returncode in (0, 1) else None
                rc = p.returncode
            except (subprocess.TimeoutExpired, ValueError):
                j, rc = None, -1
            if rc == 0 or time.monotonic() - t > within or not self.check_alive("route check"):
                res = {"clean": rc == 0, "exit": rc, "tries": tries,
                       "seconds": round(time.monotonic() - t, 2)}
                if j:
                    res.update(kernel_routes=j.get("kernel_routes"), sluice_routes=j.get("sluice_routes"),
                               not_mirrored=j.get("not_mirrored"),
                               differences_count=len(j.get("differences", [])),
                               differences=j.get("differences", [])[:20])
                return res
            time.sleep(1)

    def ip_batch(self, path):
        t = time.monotonic()
        r = fb.run(["ip", "-n", self.rtr, "-force", "-batch", path], check=False)
        errors = sum(1 for ln in r.stderr.splitlines() if "Error" in ln or "RTNETLINK" in ln)
        return round(time.monotonic() - t, 2), errors, r.stderr.strip().splitlines()[:5]

    def table_add(self, rec):
        self.table_state = "adding"
        rec["add_kernel_s"], rec["add_errors"], err = self.ip_batch(self.add_batch)
        if err:
            rec["add_error_lines"] = err
        n = self.n_prefixes
        rec["add_lag_s"], rec["routes_full"], ok = self.wait_routes(lambda r: r >= n, self.a.catchup_timeout)
        rec["add_lag_s"] = round(rec["add_lag_s"], 2)
        self.table_state = "full"
        if not ok:
            self.error(f"cycle {rec['cycle']}: sluice did not reach {n} routes within "
                       f"{self.a.catchup_timeout} s of the kernel (last {rec['routes_full']})")
        return ok

    def table_gone(self, rec, how):
        """The table leaves the kernel: deleted (how='del') or flushed by r-wan going down."""
        self.table_state = "removing"
        rec["removed_by"] = how
        if how == "del":
            rec["del_kernel_s"], rec["del_errors"], err = self.ip_batch(self.del_batch)
            if err:
                rec["del_error_lines"] = err
        else:
            t = time.monotonic()
            fb.run(["ip", "-n", self.rtr, "link", "set", "r-wan", "down"])
            self.event(f"cycle {rec['cycle']}: r-wan down (the kernel flushes the table's routes)")
            time.sleep(self.a.flap_down)
            fb.run(["ip", "-n", self.rtr, "link", "set", "r-wan", "up"])
            self.wait_link(self.rtr, "r-wan")
            # The default route went with the link; the connected one comes back by itself.
            fb.run(["ip", "-n", self.rtr, "route", "replace", "default", "via", WAN_IP])
            self.event(f"cycle {rec['cycle']}: r-wan up, default route re-added")
            rec["flap_s"] = round(time.monotonic() - t, 2)
        limit = self.a.residual_routes
        rec["del_lag_s"], rec["routes_empty"], ok = self.wait_routes(lambda r: r < limit,
                                                                     self.a.catchup_timeout)
        rec["del_lag_s"] = round(rec["del_lag_s"], 2)
        self.table_state = "empty"
        if not ok:
            self.error(f"cycle {rec['cycle']}: sluice still had {rec['routes_empty']} routes "
                       f"{self.a.catchup_timeout} s after the table left the kernel")
        return ok

    def wait_link(self, ns, dev, timeout=10):
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            if self.operstate(ns, dev) == "up":
                return True
            time.sleep(0.1)
        self.error(f"{dev} in {ns} not up {timeout} s after link set up")
        return False

    def churn(self, deadline):
        """Cycles of the full table in and out of the kernel until the deadline."""
        k = 0
        try:
            while time.monotonic() < deadline and not self.stop_event.is_set() and self.crash is None:
                k += 1
                rec = {"cycle": k, "start_s": self.since()}
                ok = self.table_add(rec)
                self.marks.append(self.sample(f"cycle {k} full"))
                if ok:
                    rec["check_full"] = self.route_check(self.a.check_within)
                    # A route check holds the kernel's whole table in sluiced for a moment:
                    # its memory is told apart from the table's.
                    self.marks.append(self.sample(f"cycle {k} checked"))
                    if not rec["check_full"]["clean"]:
                        self.event(f"cycle {k}: route check with the table not clean within "
                                   f"{self.a.check_within} s: {rec['check_full'].get('differences_count')} "
                                   "differences")
                how = "wan-flap" if self.a.wan_flap_every and k % self.a.wan_flap_every == 0 else "del"
                self.table_gone(rec, how)
                self.marks.append(self.sample(f"cycle {k} empty"))
                rec["end_s"] = self.since()
                self.cycles.append(rec)
                rss = "/".join(str((m["rss_kb"] or 0) // 1024) for m in self.marks
                               if m["label"].startswith(f"cycle {k} "))
                log(f"cycle {k}: add {rec['add_kernel_s']} s (+{rec['add_lag_s']} s), "
                    f"{how} (+{rec['del_lag_s']} s), check "
                    f"{'clean' if rec.get('check_full', {}).get('clean') else 'NOT clean'}, "
                    f"RSS loaded/checked/removed {rss} MiB")
        except Exception as e:  # noqa: BLE001 — recorded, the run goes on to its end
            self.error(f"route churn stopped: {type(e).__name__}: {e}")

    # ---- flaps ----------------------------------------------------------------------------
    def flaps(self):
        actions = ["r-lan2", "vr-h4", "neigh-flush"]
        k = 0
        try:
            while not self.stop_event.wait(self.a.flap_interval):
                act = actions[k % len(actions)]
                k += 1
                if act == "neigh-flush":
                    r = fb.run(["ip", "-n", self.rtr, "neigh", "flush", "all"], check=False)
                    self.event(f"neighbours flushed in rtr (exit {r.returncode})")
                    continue
                fb.run(["ip", "-n", self.rtr, "link", "set", act, "down"])
                self.event(f"{act} down")
                time.sleep(self.a.flap_down)
                fb.run(["ip", "-n", self.rtr, "link", "set", act, "up"])
                self.wait_link(self.rtr, act)
                self.event(f"{act} up")
        except Exception as e:  # noqa: BLE001
            self.error(f"flaps stopped: {type(e).__name__}: {e}")
        finally:
            # Whatever happened, the links are up for the end of the run.
            for d in ("r-lan2", "vr-h4"):
                fb.run(["ip", "-n", self.rtr, "link", "set", d, "up"], check=False)

    # ---- sampling -------------------------------------------------------------------------
    def sampler(self):
        while not self.stop_event.wait(self.a.sample_interval):
            s = self.sample()
            self.samples.append(s)
            self.check_alive("periodic sample")

    # ---- the run --------------------------------------------------------------------------
    def run(self):
        a = self.a
        prefixes = read_prefixes(a.table)
        self.n_prefixes = len(prefixes)
        log(f"table {a.table}: {len(prefixes)} prefixes, {a.gateways} gateways")
        self.setup()
        self.write_batches(prefixes)
        self.start_sluiced()
        self.start_servers()
        time.sleep(1)
        self.t0 = time.monotonic()
        self.start_sample = self.sample("start (idle, table empty)")
        log(f"start: RSS {self.start_sample['rss_kb']} kB, mbufs in use "
            f"{dig(self.start_sample, 'mempool.in_use')} of {dig(self.start_sample, 'mempool.size')}")
        deadline = self.t0 + a.minutes * 60
        self.deadline = deadline
        self.start_traffic(deadline + 3600)  # iperf3 runs on until stop_traffic()
        threads = [threading.Thread(target=self.sampler, daemon=True),
                   threading.Thread(target=self.flaps, daemon=True)]
        for t in threads:
            t.start()
        churn = threading.Thread(target=self.churn, args=(deadline,), daemon=True)
        churn.start()
        while churn.is_alive():
            churn.join(1)
            if not self.check_alive("during the load"):
                break
        self.load_seconds = self.since()
        log(f"load ends after {self.load_seconds} s; the flaps stop, the table goes in once more")
        self.stop_event.set()
        for t in threads:
            t.join(timeout=30)
        churn.join(timeout=300)
        self.final = {}
        if self.crash is None:
            rec = {"cycle": "final"}
            self.table_add(rec)
            self.final["add"] = rec
            self.final["check_full"] = self.route_check(a.settle_timeout)
            log(f"final route check, table loaded: {self.final['check_full']}")
            self.final["full_sample"] = self.sample("final, table loaded")
            rec = {"cycle": "final"}
            self.table_gone(rec, "del")
            self.final["del"] = rec
            self.final["check_empty"] = self.route_check(a.settle_timeout)
            log(f"final route check, table deleted: {self.final['check_empty']}")
        self.stop_traffic()
        time.sleep(a.idle_settle)
        self.end_sample = self.sample("end (idle, table empty)")
        log(f"end: RSS {self.end_sample['rss_kb']} kB, mbufs in use "
            f"{dig(self.end_sample, 'mempool.in_use')}")
        self.check_alive("end")
        self.exit = self.stop_sluiced()
        log(f"sluiced stopped: {self.exit}")


# ---- verdicts and report ------------------------------------------------------------------

def slope(points):
    """Least-squares slope of (x, y) points, or None."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return None if den == 0 else sum((x - mx) * (y - my) for x, y in points) / den


def memory_trend(s, a):
    """RSS at the same point of every churn cycle (table full, table empty) after the warm-up:
    growth from the first such cycle to the last, and the slope."""
    out = {"warmup_cycles": a.warmup_cycles, "threshold_mib": a.flat_mib,
           "threshold_pct": a.flat_pct}
    verdicts = []
    for kind in ("full", "empty"):
        pts = [(int(m["label"].split()[1]), m["rss_kb"]) for m in s.marks
               if m["label"].endswith(kind) and m["rss_kb"]]
        series = [{"cycle": c, "rss_mib": round(v / 1024, 1)} for c, v in pts]
        after = [(c, v) for c, v in pts if c > a.warmup_cycles]
        ent = {"series": series}
        if kind == "empty" and s.end_sample.get("rss_kb") and after:
            # The idle end (traffic stopped, table deleted) is one more point of this series.
            after.append((after[-1][0] + 1, s.end_sample["rss_kb"]))
            ent["includes_idle_end"] = True
        if len(after) >= 2:
            first, last, peak = after[0][1], after[-1][1], max(v for _, v in after)
            limit_kb = max(a.flat_mib * 1024, first * a.flat_pct / 100)
            ent.update(first_after_warmup_mib=round(first / 1024, 1), last_mib=round(last / 1024, 1),
                       peak_after_warmup_mib=round(peak / 1024, 1),
                       growth_mib=round((last - first) / 1024, 1),
                       slope_mib_per_cycle=round(slope(after) / 1024, 2),
                       limit_mib=round(limit_kb / 1024, 1),
                       flat=(last - first) <= limit_kb and (peak - first) <= limit_kb)
            verdicts.append(ent["flat"])
        else:
            ent["flat"] = None
            ent["note"] = f"fewer than 2 cycles after the {a.warmup_cycles}-cycle warm-up"
        out[kind] = ent
    st, en = s.start_sample.get("mempool") or {}, s.end_sample.get("mempool") or {}
    mp = {"start_in_use": st.get("in_use"), "end_in_use": en.get("in_use"), "size": st.get("size"),
          "slack": a.mbuf_slack}
    if isinstance(st.get("in_use"), int) and isinstance(en.get("in_use"), int):
        mp["growth"] = en["in_use"] - st["in_use"]
        mp["flat"] = mp["growth"] <= a.mbuf_slack
        verdicts.append(mp["flat"])
    else:
        mp["flat"] = None
    out["mempool"] = mp
    out["flat"] = None if not verdicts else all(verdicts)
    if out["flat"] and (out["full"]["flat"] is None or out["empty"]["flat"] is None):
        out["flat"] = None  # only the pool could be judged: undetermined, not a pass
    return out


def delta(a, b, key):
    x, y = dig(a, key), dig(b, key)
    return y - x if isinstance(x, int) and isinstance(y, int) else None


def build_doc(s, a, started, status):
    first = s.start_sample
    last_live = s.final.get("full_sample") or (s.samples[-1] if s.samples else first)
    end = s.end_sample
    drops = {}
    for k, v in (dig(end, "drops") or dig(last_live, "drops") or {}).items():
        drops[k] = v - (dig(first, "drops") or {}).get(k, 0)
    flaps = [e for e in s.events if e[1].endswith(" down") or "r-wan down" in e[1]]
    neigh = [e for e in s.events if e[1].startswith("neighbours flushed")]
    flows = s.flow_res
    flow_tot = {"started": 0, "ok": 0, "failed": 0}
    for r in flows.values():
        for p in (r.get("flows") or {}).values():
            for k in flow_tot:
                flow_tot[k] += p.get(k, 0)
    pings = s.ping_res
    iperf_fail = sum(1 for runs in s.iperf_runs.values() for r in runs
                     if r["exit_status"] != 0 and not r["stopped_by_soak"])
    crash_free = s.crash is None and s.exit.get("exit_status") == 0
    checks = [s.final.get("check_full"), s.final.get("check_empty")]
    route_clean = all(c and c.get("clean") for c in checks)
    mem = memory_trend(s, a)
    goals = {
        "no_crash": {"met": crash_free,
                     "detail": "sluiced ran throughout and exited 0 on SIGTERM" if crash_free else
                     f"crash: {s.crash}; exit: {s.exit}"},
        "route_check_clean": {"met": route_clean,
                              "detail": [{k: c.get(k) for k in ("clean", "seconds", "tries", "kernel_routes",
                                                                 "sluice_routes", "differences_count")}
                                         if c else None for c in checks]},
        "flat_memory": {"met": mem["flat"], "detail": "see memory"},
    }
    failed = [k for k, g in goals.items() if g["met"] is False]
    undetermined = [k for k, g in goals.items() if g["met"] is None]
    model, dpdk = fb.machine_info()
    return {
        "benchmark": "soak",
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": a.command,
        "machine": {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
                    "dpdk": dpdk},
        "settings": vars(a),
        "setup": {**s.setup_info, "sluiced_command": getattr(s, "sluiced_cmd", None),
                  "table_prefixes": getattr(s, "n_prefixes", None)},
        "duration_s": {"load": getattr(s, "load_seconds", None), "total": s.since()},
        "load": {
            "table_cycles": len(s.cycles),
            "table_cycles_removed_by_wan_flap": sum(1 for c in s.cycles if c.get("removed_by") == "wan-flap"),
            "routes_added_to_kernel": getattr(s, "n_prefixes", 0) * (len(s.cycles) + (1 if s.final.get("add") else 0)),
            "link_flaps": len(flaps), "neighbour_flushes": len(neigh),
            "flows": flow_tot,
            "nat_sessions_created": delta(first, end, "nat.created"),
            "nat_sessions_expired": delta(first, end, "nat.expired"),
        },
        "forwarded": delta(first, end, "forwarded"),
        "drops": {k: v for k, v in sorted(drops.items()) if v},
        "mirror": {k: delta(first, end, f"mirror.{k}") for k in
                   ("events", "routes_changed", "resyncs", "overruns", "apply_errors", "dump_retries",
                    "request_errors", "route_checks")},
        "ports": {k: (end.get(k) or 0) - (first.get(k) or 0) for k in
                  ("ports_rx_nombuf", "ports_rx_missed", "ports_errors")},
        "traffic": {"iperf3": s.iperf_runs, "iperf3_failed_runs": iperf_fail, "pings": pings,
                    "flows": flows},
        "memory": {"start": {k: first.get(k) for k in ("rss_kb", "hwm_kb", "mempool")},
                   "end": {k: end.get(k) for k in ("rss_kb", "hwm_kb", "mempool")},
                   "trend": mem},
        "cycles": s.cycles,
        "final": {k: v for k, v in s.final.items() if k != "full_sample"},
        "exit": s.exit,
        "crash": s.crash,
        "errors": s.errors,
        "events": s.events,
        "samples": [s.start_sample] + s.samples + [end],
        "marks": s.marks,
        "goals": goals,
        "failed_goals": failed,
        "undetermined_goals": undetermined,
        "complete": status == 0,
        "sluiced_log_tail": s.tail,
    }


def fmt(x, unit=""):
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:,.1f}{unit}"
    if isinstance(x, int):
        return f"{x:,}{unit}"
    return f"{x}{unit}"


def verdict(m):
    return {True: "**met**", False: "**MISSED**", None: "undetermined"}[m]


def write_markdown(path, d):
    L = []
    load, mem = d["load"], d["memory"]
    L.append(f"# Soak run {d['started_utc']}")
    L.append("")
    L.append(f"`{d['command']}` — {d['machine']['cpu_model']}, {d['machine']['nproc']} CPUs, "
             f"kernel {d['machine']['kernel']}, DPDK {d['machine']['dpdk']}; sluiced "
             f"{d['setup'].get('git', '?')}.")
    L.append("")
    L.append("## Goals")
    L.append("")
    L.append("| goal | verdict | detail |")
    L.append("|---|---|---|")
    g = d["goals"]
    L.append(f"| zero crashes | {verdict(g['no_crash']['met'])} | {g['no_crash']['detail']} |")
    fc = d["final"].get("check_full") or {}
    fe = d["final"].get("check_empty") or {}
    L.append(f"| `sluice route check` clean at the end | {verdict(g['route_check_clean']['met'])} | "
             f"table loaded: {'clean' if fc.get('clean') else 'NOT clean'} "
             f"({fmt(fc.get('kernel_routes'))} kernel routes, {fc.get('tries')} check(s), "
             f"{fc.get('seconds')} s); table deleted: {'clean' if fe.get('clean') else 'NOT clean'} "
             f"({fe.get('tries')} check(s), {fe.get('seconds')} s) |")
    t = mem["trend"]

    def series_txt(k):
        e = t[k]
        if e.get("flat") is None:
            return f"{k}: {e.get('note')}"
        return (f"table {k}: {e['first_after_warmup_mib']} -> {e['last_mib']} MiB "
                f"(growth {e['growth_mib']}, peak {e['peak_after_warmup_mib']}, limit {e['limit_mib']})")
    L.append(f"| flat memory | {verdict(g['flat_memory']['met'])} | RSS after a {t['warmup_cycles']}-cycle "
             f"warm-up, {series_txt('full')}; {series_txt('empty')}; mbufs in use idle "
             f"{t['mempool']['start_in_use']} at start, {t['mempool']['end_in_use']} at the end "
             f"(limit +{t['mempool']['slack']}) |")
    L.append("")
    L.append("## Load")
    L.append("")
    dur = d["duration_s"]
    L.append(f"- duration: {fmt(dur['load'])} s of load ({d['settings']['minutes']} min asked; the "
             f"last churn cycle runs to its end), {fmt(dur['total'])} s with the final checks")
    L.append(f"- full-table cycles: {load['table_cycles']} (each {fmt(d['setup'].get('table_prefixes'))} "
             f"routes added with `ip -batch`, then deleted, or flushed by r-wan going down: "
             f"{load['table_cycles_removed_by_wan_flap']} of them), plus the final add and delete: "
             f"{fmt(load['routes_added_to_kernel'])} routes added to the kernel in all")
    L.append(f"- link flaps: {load['link_flaps']} (r-lan2, vr-h4, r-wan), neighbour flushes: "
             f"{load['neighbour_flushes']}")
    fl = load["flows"]
    L.append(f"- short flows: {fmt(fl['started'])} started, {fmt(fl['ok'])} answered, {fmt(fl['failed'])} failed; "
             f"NAT sessions created {fmt(load['nat_sessions_created'])}, expired "
             f"{fmt(load['nat_sessions_expired'])}")
    L.append("")
    L.append("## What sluiced did")
    L.append("")
    L.append(f"- packets forwarded: {fmt(d['forwarded'])}")
    m = d["mirror"]
    L.append(f"- mirror: {fmt(m['events'])} events, {fmt(m['routes_changed'])} route changes, "
             f"{fmt(m['resyncs'])} resyncs ({fmt(m['overruns'])} overruns), {fmt(m['apply_errors'])} "
             f"apply errors, {fmt(m['dump_retries'])} dump retries, {fmt(m['request_errors'])} request errors")
    p = d["ports"]
    L.append(f"- ports: rx no-mbuf {fmt(p['ports_rx_nombuf'])}, rx missed {fmt(p['ports_rx_missed'])}, "
             f"errors {fmt(p['ports_errors'])}")
    L.append("- drops by reason: " + (", ".join(f"{k} {v:,}" for k, v in d["drops"].items()) or "none"))
    L.append("")
    L.append("## Memory")
    L.append("")
    L.append("| | RSS MiB | VmHWM MiB | mbufs in use / pool |")
    L.append("|---|---|---|---|")
    for k in ("start", "end"):
        e = mem[k]
        mp = e.get("mempool") or {}
        L.append(f"| {k} (idle, table empty) | {fmt(e['rss_kb'] and round(e['rss_kb'] / 1024, 1))} | "
                 f"{fmt(e['hwm_kb'] and round(e['hwm_kb'] / 1024, 1))} | {mp.get('in_use')} / {mp.get('size')} |")
    L.append("")
    L.append("RSS at the same point of each cycle (MiB):")
    L.append("")
    L.append("| cycle | table loaded | after its route check | table removed |")
    L.append("|---|---|---|---|")
    full = {x["cycle"]: x["rss_mib"] for x in t["full"]["series"]}
    empty = {x["cycle"]: x["rss_mib"] for x in t["empty"]["series"]}
    checked = {int(m["label"].split()[1]): round(m["rss_kb"] / 1024, 1) for m in d["marks"]
               if m["label"].endswith("checked") and m.get("rss_kb")}
    removed_by = {c["cycle"]: c.get("removed_by") for c in d["cycles"]}
    for c in sorted(set(full) | set(empty)):
        how = " (r-wan flap)" if removed_by.get(c) == "wan-flap" else ""
        L.append(f"| {c}{' (warm-up)' if c <= t['warmup_cycles'] else ''} | {full.get(c, '')} | "
                 f"{checked.get(c, '')} | {empty.get(c, '')}{how} |")
    for k in ("full", "empty"):
        e = t[k]
        if e.get("slope_mib_per_cycle") is not None:
            L.append("")
            L.append(f"Table {k}: slope after the warm-up {e['slope_mib_per_cycle']} MiB per cycle.")
    sm = [x for x in d["samples"] if x.get("rss_kb")]
    if sm:
        mp = [x["mempool"]["in_use"] for x in sm if isinstance(x.get("mempool"), dict)]
        L.append("")
        L.append(f"Every {d['settings']['sample_interval']} s ({len(sm)} samples): RSS "
                 f"{min(x['rss_kb'] for x in sm) // 1024}-{max(x['rss_kb'] for x in sm) // 1024} MiB, "
                 f"mbufs in use {min(mp) if mp else 'n/a'}-{max(mp) if mp else 'n/a'}, NAT sessions up to "
                 f"{max((dig(x, 'nat.sessions') or 0) for x in sm):,}, FDB entries up to "
                 f"{max((dig(x, 'bridge.fdb_entries') or 0) for x in sm)}.")
    L.append("")
    L.append("## Table cycles")
    L.append("")
    L.append("| cycle | add: kernel s | sluice lag s | route check | removed by | kernel s | sluice lag s |")
    L.append("|---|---|---|---|---|---|---|")
    for c in d["cycles"]:
        ck = c.get("check_full") or {}
        chk = ("clean" if ck.get("clean") else f"NOT clean ({ck.get('differences_count')})") if ck else "n/a"
        chk += f", {ck.get('seconds')} s" if ck else ""
        L.append(f"| {c['cycle']} | {c.get('add_kernel_s')} | {c.get('add_lag_s')} | {chk} | "
                 f"{c.get('removed_by')} | {c.get('del_kernel_s', c.get('flap_s', ''))} | {c.get('del_lag_s')} |")
    L.append("")
    L.append("(sluice lag: from `ip -batch` returning until `fib.routes` reached the table's size, or fell "
             f"below {d['settings']['residual_routes']}; polled every 0.25 s.)")
    L.append("")
    L.append("## Traffic")
    L.append("")
    L.append("| traffic | result |")
    L.append("|---|---|")
    for name, runs in d["traffic"]["iperf3"].items():
        tot = sum(r.get("bytes_sent") or 0 for r in runs)
        secs = sum(r.get("seconds") or 0 for r in runs)
        rt = sum(r.get("retransmits") or 0 for r in runs)
        zero = sum(r.get("zero_intervals") or 0 for r in runs)
        bad = [r for r in runs if r["exit_status"] != 0 and not r["stopped_by_soak"]]
        L.append(f"| iperf3 {name} | {len(runs)} run(s), {len(bad)} ended early with an error; "
                 f"{tot / 1e6:,.0f} MB sent and acknowledged"
                 f"{f' ({tot * 8 / secs / 1e6:.1f} Mbit/s)' if secs else ''}, {rt:,} retransmits, "
                 f"{zero} one-second intervals with nothing sent |")
    for name, r in d["traffic"]["pings"].items():
        L.append(f"| ping {name} | {fmt(r['sent'])} sent, {fmt(r['lost'])} lost ({fmt(r['loss_pct'])} %) |")
    for name, r in d["traffic"]["flows"].items():
        f = r.get("flows") or {}
        parts = [f"{p} {v['ok']:,}/{v['started']:,} answered" for p, v in f.items() if v.get("started")]
        fails = ", ".join(f"{k} {v}" for k, v in (r.get("failures") or {}).items())
        L.append(f"| flows {name} | {'; '.join(parts) or r.get('error', '')}"
                 f"{'; failures: ' + fails if fails else ''} |")
    L.append("")
    L.append("Losses and failed flows are expected around the flaps (a link down for "
             f"{d['settings']['flap_down']} s, the WAN included every {d['settings']['wan_flap_every']} "
             "cycles); they are reported, not judged.")
    if d["errors"]:
        L.append("")
        L.append("## Harness errors")
        L.append("")
        for t_, e in d["errors"]:
            L.append(f"- {t_} s: {e}")
    L.append("")
    L.append("## Method")
    L.append("")
    L.append(METHOD.format(**d["settings"]))
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


METHOD = """\
`scripts/soak` (perf/soak/soak_bench.py; its docstring has the topology). sluiced runs in mirror
mode on six AF_XDP veth ports in a router namespace: four are members of a Linux bridge with a
host each (sluice mirrors and bridges it), one a second LAN, one the WAN; it masquerades both
LANs out of the WAN and forwards tcp 203.0.113.1:8080 to h2. For {minutes} minute(s), at once:
iperf3 TCP through masquerade ({iperf_masq_rate}bit/s) and across the bridge
({iperf_bridge_rate}bit/s), pings across the bridge and through masquerade, short UDP and TCP
flows ({flow_rate:g}/s from h1, two thirds of that from lan2, a third through the port forward;
a fresh source port each) with NAT timeouts of {nat_timeout_udp} s (UDP),
{nat_timeout_transitory} s (TCP opening/closing) and {nat_timeout_icmp} s (ICMP); the real
table added to and removed from the router's kernel again and again (each route via one of
{gateways} gateways by lpm::synthetic_next_hop's hash), removed by r-wan going down instead of a
delete every {wan_flap_every} cycles; every {flap_interval} s in turn r-lan2 or the bridge
member vr-h4 down for {flap_down} s, or the router's neighbours flushed. sluiced's RSS and
counters are read every {sample_interval} s and at two points of every cycle (table loaded and
caught up, and after its route check; table removed and caught up). Flat memory: after
{warmup_cycles} warm-up cycle(s) (by default one round of both kinds of cycle: each kind takes
its working memory the first time it meets a full table),
RSS at the same point of the cycle grows by at most max({flat_mib} MiB, {flat_pct} %) from the
first cycle to the last (and peaks no higher), and mbufs in use, idle, end at most
{mbuf_slack} above the idle start. Route check: after the load, the table goes in once more,
`sluice route check` runs until clean (at most {settle_timeout} s), then the table is deleted and
it runs again."""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluiced", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--gateways", type=int, default=16)
    ap.add_argument("--iperf-masq-rate", default="50M")
    ap.add_argument("--iperf-bridge-rate", default="20M")
    ap.add_argument("--flow-rate", type=float, default=30, help="short flows a second from h1")
    ap.add_argument("--nat-timeout-udp", type=int, default=120)
    ap.add_argument("--nat-timeout-transitory", type=int, default=10)
    ap.add_argument("--nat-timeout-icmp", type=int, default=10)
    ap.add_argument("--flap-interval", type=float, default=15)
    ap.add_argument("--flap-down", type=float, default=2)
    ap.add_argument("--wan-flap-every", type=int, default=3, help="cycles; 0: never")
    ap.add_argument("--sample-interval", type=float, default=10)
    ap.add_argument("--catchup-timeout", type=float, default=180)
    ap.add_argument("--check-within", type=float, default=20)
    ap.add_argument("--settle-timeout", type=float, default=60)
    ap.add_argument("--residual-routes", type=int, default=1000,
                    help="the table counts as gone from sluice below this many routes")
    ap.add_argument("--idle-settle", type=float, default=5)
    ap.add_argument("--warmup-cycles", type=int, default=None,
                    help="cycles left out of the memory trend (default: --wan-flap-every, at least "
                         "2): every kind of cycle has then run once, and each kind takes its "
                         "working memory (allocator high-water marks) the first time it meets a "
                         "full table")
    ap.add_argument("--flat-mib", type=float, default=16)
    ap.add_argument("--flat-pct", type=float, default=2)
    ap.add_argument("--mbuf-slack", type=int, default=64)
    ap.add_argument("--sluiced-args", default="")
    ap.add_argument("--id", default=str(os.getpid()))
    ap.add_argument("--out-dir", default="perf/results")
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--command", default="scripts/soak")
    a = ap.parse_args()
    if a.warmup_cycles is None:
        a.warmup_cycles = max(2, a.wan_flap_every)
    # What forward_bench.Bench's constructor reads.
    a.gen_cpu, a.router_cpu, a.rps, a.sink_drop = 0, 1, False, False
    if not 1 <= a.gateways <= 200:
        ap.error("--gateways must be 1..200")
    signal.signal(signal.SIGTERM, fb.on_signal)
    signal.signal(signal.SIGINT, fb.on_signal)
    started = datetime.now(timezone.utc)
    s = Soak(a)
    fb.record_provenance(s, a.sluiced)
    notes = []
    status = fb.run_trials(s, s.run, notes)
    s.stop_event.set()
    if not s.start_sample:
        log("the run did not get as far as starting the load; no report")
        for n in notes:
            log(n)
        return status or 1
    doc = build_doc(s, a, started, status)
    doc["notes"] = notes
    os.makedirs(a.out_dir, exist_ok=True)
    stem = os.path.join(a.out_dir, "soak-" + started.strftime("%Y%m%d-%H%M%S"))
    with open(stem + ".json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    write_markdown(stem + ".md", doc)
    log(f"report: {stem}.md, {stem}.json")
    for k, g in doc["goals"].items():
        print(f"goal {k} {({True: 'met', False: 'MISSED', None: 'undetermined'})[g['met']]}")
    if status:
        return status
    return 1 if doc["failed_goals"] else 0


if __name__ == "__main__":
    sys.exit(main())
