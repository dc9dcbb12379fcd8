#!/usr/bin/env python3
"""forward_bench.py — the engine of `scripts/bench forward` (perf/forward/README.md says why).

Builds gen -- rtr -- sink in network namespaces of its own, loads the real Internet table into
the router, and measures, in one run and with one generator, the packets per second delivered
at the sink and the CPU spent per delivered packet by three routers in rtr, trial after trial
in interleaved order:
  sluice   sluiced on r0 and r1 (AF_XDP), the table given with --route-file
  kernel   rtr's own kernel, net.ipv4.ip_forward=1, the same routes loaded with ip -batch
  testpmd  dpdk-testpmd --forward-mode=io on r0 and r1 (AF_XDP): the AF_XDP-on-veth ceiling,
           no routing at all
Writes the JSON of every trial and a Markdown summary, and prints the ratio lines.
Standard library only; run as root (scripts/bench forward installs what is missing).
"""

import argparse
import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

USER_HZ = os.sysconf("SC_CLK_TCK")
MODES = ("sluice", "kernel", "testpmd")
GEN_IP, R0_IP, R1_IP = "10.1.0.2", "10.1.0.1", "10.2.0.1"


def log(msg):
    print(f"[bench forward] {msg}", file=sys.stderr, flush=True)


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(f"signal {signum}")


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, text=True, capture_output=True, **kw)


def gateway_index(prefix: str, count: int) -> int:
    """lpm::synthetic_next_hop (lpm/route_file.cpp): the same gateway sluiced picks for a
    prefix given with --route-file, so the kernel gets exactly the same routes."""
    addr, length = prefix.split("/")
    a, b, c, d = (int(x) for x in addr.split("."))
    v = (a << 24) | (b << 16) | (c << 8) | d
    h = (((v << 6) | int(length)) * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    return (h >> 32) % count


def read_table(path):
    """IPv4 prefixes of the table, as lpm::read_prefix_file reads them."""
    out = []
    with gzip.open(path, "rt") if path.endswith(".gz") else open(path) as f:
        for line in f:
            s = line.strip()
            if s and not s.startswith("#") and ":" not in s:
                out.append(s)
    return out


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def spread(xs):
    xs = [x for x in xs if x is not None]
    return (min(xs), max(xs)) if xs else (None, None)


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


class Bench:
    def __init__(self, args):
        self.a = args
        self.id = args.id
        self.gen = f"fwb-gen-{self.id}"
        self.rtr = f"fwb-rtr-{self.id}"
        self.sink = f"fwb-sink-{self.id}"
        self.namespaces = [self.gen, self.rtr, self.sink]
        self.procs = []  # every Popen we started, stopped in cleanup()
        self.anchors = {}  # netns -> pid of a `sleep` that lets us read /proc/PID/net/*
        self.prefixes_made = []
        self.tmp = tempfile.mkdtemp(prefix=f"fwb-{self.id}-")
        self.gateways = [f"10.2.0.{2 + i}" for i in range(args.gateways)]
        self.gen_cpu, self.rtr_cpu = args.gen_cpu, args.router_cpu
        self.trials = []
        self.failed = []  # trials without a valid window after every attempt
        self.setup_info = {}
        # ksoftirqd/N: where softirq work goes when it overflows interrupt context (nice 0).
        self.ksoftirqd = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/comm") as f:
                        m = re.fullmatch(r"ksoftirqd/(\d+)", f.read().strip())
                except OSError:
                    continue
                if m:
                    self.ksoftirqd[f"cpu{m.group(1)}"] = int(pid)

    # ---- topology -------------------------------------------------------------------------
    def ns(self, ns, *cmd, check=True):
        return run(["ip", "netns", "exec", ns, *cmd], check=check)

    def sysctl(self, ns, *settings):
        self.ns(ns, "sysctl", "-qw", *settings)

    def setup(self):
        existing = run(["ip", "netns", "list"]).stdout
        for n in self.namespaces:
            if re.search(rf"^{re.escape(n)}\b", existing, re.M):
                raise RuntimeError(f"namespace {n} exists already (another run with id {self.id}?)")
        for n in self.namespaces:
            run(["ip", "netns", "add", n])
            run(["ip", "-n", n, "link", "set", "lo", "up"])
            self.sysctl(n, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        # Both ends are created straight inside the namespaces: nothing in the root namespace.
        self.sysctl(self.rtr, "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
        self.make_gen_link()
        run(["ip", "link", "add", "s0", "netns", self.sink, "type", "veth", "peer", "name", "r1",
             "netns", self.rtr])
        run(["ip", "-n", self.rtr, "addr", "add", f"{R1_IP}/24", "dev", "r1"])
        # Every gateway is an address of the sink, so every one answers ARP.
        batch = os.path.join(self.tmp, "sink-addrs.batch")
        with open(batch, "w") as f:
            for g in self.gateways:
                f.write(f"addr add {g}/24 dev s0\n")
        run(["ip", "-n", self.sink, "-batch", batch])
        for n, d in ((self.rtr, "r1"), (self.sink, "s0")):
            run(["ip", "-n", n, "link", "set", d, "up"])
        # The router: forwarding on (also what sluice falls back to), no reverse-path filter
        # (the generator's sources vary), and r0's receive processing (RPS) on the router's CPU,
        # so that the kernel router gets its own CPU as sluice and testpmd do.
        self.sysctl(self.rtr, "net.ipv4.ip_forward=1", "net.ipv4.conf.r1.rp_filter=0")
        mask = format(1 << self.rtr_cpu, "x")
        self.sink_and_anchors()
        self.setup_info.update(rps_r0_cpus=mask if self.a.rps else None)

    G0_MAC, R0_MAC = "02:66:77:00:00:02", "02:66:77:00:00:01"  # fixed: the pcap is built once

    def sink_and_anchors(self):
        """The end of every veth benchmark's setup: the sink's dropping XDP program (or not),
        a process anchoring each namespace, and the veth links up."""
        if self.a.sink_drop:
            obj = os.path.join(self.tmp, "sink_drop.bpf.o")
            src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sink_drop.bpf.c")
            run(["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu", "-c", src,
                 "-o", obj])
            run(["ip", "-n", self.sink, "link", "set", "dev", "s0", "xdpdrv", "obj", obj, "sec", "xdp"])
        self.setup_info["sink"] = ("XDP program drops IPv4 frames on s0 (perf/forward/sink_drop.bpf.c)"
                                   if self.a.sink_drop else "the sink's kernel drops the frames")
        self.anchor_and_wait_up(((self.gen, "g0"), (self.rtr, "r0"), (self.rtr, "r1"),
                                 (self.sink, "s0")))

    def anchor_and_wait_up(self, links):
        """A process anchoring each namespace (its /proc/PID/net/* are the namespace's
        counters), then up to 10 s for the (namespace, device) links to be up."""
        for n in self.namespaces:
            p = subprocess.Popen(["ip", "netns", "exec", n, "sleep", "infinity"])
            self.procs.append(p)
            self.anchors[n] = p.pid
        for _ in range(100):
            if all(self.operstate(n, d) == "up" for n, d in links):
                return
            time.sleep(0.1)
        log("warning: veth links not all up after 10 s")

    def make_gen_link(self):
        """The g0 -- r0 pair, configured. Made anew before every trial: on this kernel an
        AF_XDP sender's veth queue can stay stopped for good (see attempt()), and in kernel
        mode nothing would ever wake it (no NAPI on r0 without XDP)."""
        self.g0_mac, self.r0_mac = self.G0_MAC, self.R0_MAC
        run(["ip", "link", "add", "g0", "address", self.g0_mac, "netns", self.gen, "type", "veth",
             "peer", "name", "r0", "address", self.r0_mac, "netns", self.rtr])
        run(["ip", "-n", self.gen, "addr", "add", f"{GEN_IP}/24", "dev", "g0"])
        run(["ip", "-n", self.rtr, "addr", "add", f"{R0_IP}/24", "dev", "r0"])
        self.sysctl(self.rtr, "net.ipv4.conf.r0.rp_filter=0")
        if self.a.rps:
            mask = format(1 << self.rtr_cpu, "x")
            self.ns(self.rtr, "sh", "-c", f"echo {mask} > /sys/class/net/r0/queues/rx-0/rps_cpus")
        run(["ip", "-n", self.gen, "link", "set", "g0", "up"])
        run(["ip", "-n", self.rtr, "link", "set", "r0", "up"])

    def remake_gen_link(self):
        run(["ip", "-n", self.rtr, "link", "del", "r0"])  # takes g0 with it
        self.make_gen_link()
        for _ in range(100):
            if self.operstate(self.gen, "g0") == "up" and self.operstate(self.rtr, "r0") == "up":
                return
            time.sleep(0.1)
        log("warning: g0/r0 not up after 10 s")

    def operstate(self, ns, dev):
        try:
            with open(f"/proc/{self.anchors[ns]}/root/sys/class/net/{dev}/operstate") as f:
                return f.read().strip()
        except OSError:
            out = run(["ip", "-n", ns, "-j", "link", "show", "dev", dev]).stdout
            return json.loads(out)[0].get("operstate", "").lower()

    def mac(self, ns, dev):
        return json.loads(run(["ip", "-n", ns, "-j", "link", "show", "dev", dev]).stdout)[0]["address"]

    def load_kernel_routes(self, prefixes):
        path = os.path.join(self.tmp, "kernel-routes.batch")
        with open(path, "w") as f:
            for p in prefixes:
                f.write(f"route add {p} via {self.gateways[gateway_index(p, len(self.gateways))]}\n")
        log(f"loading {len(prefixes)} routes into rtr's kernel (ip -force -batch) ...")
        t0 = time.monotonic()
        r = run(["ip", "-n", self.rtr, "-force", "-batch", path], check=False)
        secs = time.monotonic() - t0
        errors = len([ln for ln in r.stderr.splitlines() if "Error" in ln or "RTNETLINK" in ln])
        with open(f"/proc/{self.anchors[self.rtr]}/net/route") as f:
            loaded = sum(1 for ln in f) - 1
        loaded -= 2  # the two connected routes of r0 and r1
        log(f"kernel routes: {loaded} loaded in {secs:.1f} s ({errors} errors)")
        self.setup_info.update(kernel_route_load_seconds=round(secs, 2), kernel_routes=loaded,
                               kernel_route_errors=errors)
        os.unlink(path)

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.terminate()
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                except ProcessLookupError:
                    pass
        self.remove_namespaces()
        if not self.a.keep_logs:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            log(f"logs kept in {self.tmp}")

    def remove_namespaces(self):
        """Whatever still runs in our namespaces (only we start anything there), the namespaces
        and our DPDK runtime directories."""
        for n in self.namespaces:
            if os.path.exists(f"/run/netns/{n}"):
                for pid in run(["ip", "netns", "pids", n], check=False).stdout.split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                run(["ip", "netns", "del", n], check=False)
        for pfx in self.prefixes_made:
            shutil.rmtree(f"/var/run/dpdk/{pfx}", ignore_errors=True)

    # ---- counters -------------------------------------------------------------------------
    def netdev(self, ns):
        out = {}
        with open(f"/proc/{self.anchors[ns]}/net/dev") as f:
            for line in f.readlines()[2:]:
                name, rest = line.split(":", 1)
                v = [int(x) for x in rest.split()]
                out[name.strip()] = {"rx_packets": v[1], "rx_dropped": v[3], "tx_packets": v[9],
                                     "tx_dropped": v[11]}
        return out

    def snmp_ip(self, ns):
        with open(f"/proc/{self.anchors[ns]}/net/snmp") as f:
            lines = [ln.split() for ln in f if ln.startswith("Ip:")]
        return dict(zip(lines[0][1:], (int(x) for x in lines[1][1:])))

    @staticmethod
    def proc_stat():
        cpus = {}
        with open("/proc/stat") as f:
            for line in f:
                if re.match(r"cpu\d+ ", line):
                    name, *v = line.split()
                    cpus[name] = dict(zip(("user", "nice", "system", "idle", "iowait", "irq",
                                           "softirq", "steal"), (int(x) for x in v[:8])))
        return cpus

    @staticmethod
    def proc_cpu(pid):
        """A process's CPU time: ns on CPU and ns waiting for a CPU (run queue), summed over
        its threads' schedstat, and utime/stime ticks."""
        if pid is None:
            return None
        ns = delay = worker_delay = 0
        try:
            for t in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    v = f.read().split()
                ns += int(v[0])
                delay += int(v[1])
                with open(f"/proc/{pid}/task/{t}/comm") as f:
                    if f.read().startswith("rte-worker"):  # DPDK's lcore threads
                        worker_delay += int(v[1])
            with open(f"/proc/{pid}/stat") as f:
                v = f.read().rsplit(")", 1)[1].split()
            return {"ns": ns, "delay": delay, "worker_delay": worker_delay, "utime": int(v[11]),
                    "stime": int(v[12])}
        except (OSError, IndexError, ValueError):
            return None

    def telemetry(self, prefix, cmd):
        try:
            r = subprocess.run(["dpdk-telemetry.py", "-f", prefix], input=cmd + "\n", text=True,
                               capture_output=True, timeout=10)
            for line in r.stdout.splitlines():
                if line.startswith("{"):
                    return json.loads(line).get(cmd)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            pass
        return None

    def snapshot(self, gen_pid, rtr_pid, sluice_prefix, telemetry_first):
        """Counters at one instant. sluiced's telemetry takes about a second to read: it is read
        before the window opens (telemetry_first) and after it closes, so that the windows of
        all modes last the same."""
        s = {}
        if sluice_prefix and telemetry_first:
            self.read_sluice_telemetry(s, sluice_prefix)
        s["t"] = time.monotonic()
        s["gen"] = self.netdev(self.gen)["g0"]
        rtr = self.netdev(self.rtr)
        s["r0"], s["r1"] = rtr["r0"], rtr["r1"]
        s["s0"] = self.netdev(self.sink)["s0"]
        s["stat"] = self.proc_stat()
        s["gen_proc"] = self.proc_cpu(gen_pid)
        s["rtr_proc"] = self.proc_cpu(rtr_pid)
        s["rtr_ip"] = self.snmp_ip(self.rtr)
        s["ksoftirqd"] = {c: self.proc_cpu(pid) for c, pid in self.ksoftirqd.items()}
        with open("/proc/loadavg") as f:
            s["loadavg"] = float(f.read().split()[0])
        if sluice_prefix and not telemetry_first:
            self.read_sluice_telemetry(s, sluice_prefix)
        return s

    def read_sluice_telemetry(self, s, prefix):
        s["sluice_stats"] = self.telemetry(prefix, "/sluice/stats")
        s["sluice_nodes"] = self.telemetry(prefix, "/sluice/nodes")
        s["sluice_ports"] = self.telemetry(prefix, "/sluice/ports")

    # ---- processes ------------------------------------------------------------------------
    def spawn(self, ns, cmd, logname, nice=0):
        path = os.path.join(self.tmp, logname)
        f = open(path, "w")
        # nice, ip netns exec and the command exec one another: the PID is the command's.
        p = subprocess.Popen(["nice", "-n", str(nice), "ip", "netns", "exec", ns, *cmd], stdout=f,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        f.close()
        self.procs.append(p)
        return p, path

    def spawn_ready(self, ns, cmd, logname, nice, ready, what, timeout=120):
        """spawn(), then waits for `ready` in its output: (process, log path, seconds). A
        process that exits or stays silent is stopped and raises, with its output's end."""
        p, path = self.spawn(ns, cmd, logname, nice)
        secs = self.wait_for(path, ready, p, timeout)
        if secs is None:
            with open(path, errors="replace") as f:
                text = f.read()
            self.stop(p, signal.SIGTERM)
            raise RuntimeError(f"{what} did not become ready; its output:\n{text[-4000:]}")
        return p, path, secs

    @staticmethod
    def wait_for(path, pattern, proc, timeout):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            with open(path, errors="replace") as f:
                if re.search(pattern, f.read()):
                    return time.monotonic() - t0
            if proc.poll() is not None:
                return None
            time.sleep(0.05)
        return None

    def stop(self, proc, sig, timeout=20):
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"pid {proc.pid} did not exit {timeout} s after signal {sig}; SIGKILL")
                proc.kill()
                proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)
        return proc.returncode

    def xdp_attached(self):
        """rtr's ports that still carry an XDP program."""
        left = []
        for d in ("r0", "r1"):
            info = json.loads(run(["ip", "-n", self.rtr, "-j", "-d", "link", "show", "dev", d]).stdout)
            if info and "xdp" in info[0]:
                left.append(d)
        return left

    def testpmd_eal(self, prefix, cpu, vdevs, mem):
        self.prefixes_made.append(prefix)
        args = ["dpdk-testpmd", "--no-huge", "-m", str(mem), "--no-pci", "--file-prefix", prefix,
                "--lcores", f"0@{cpu},1@{cpu}", "--log-level", "lib.eal:warning"]
        for v in vdevs:
            args += ["--vdev", v]
        return args

    def make_pcap(self):
        """The frames of --traffic spread, replayed by the generator (perf/forward/make_pcap.py)."""
        self.pcap = os.path.join(self.tmp, "spread.pcap")
        run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "make_pcap.py"),
             self.a.table, self.pcap, "--src-mac", self.g0_mac, "--dst-mac", self.r0_mac,
             "--src-ip", GEN_IP, "--count", str(self.a.spread_count)])

    def start_generator(self, traffic):
        pfx = f"fwb-gen-{self.id}"
        if traffic == "single":
            cmd = self.testpmd_eal(pfx, self.gen_cpu, ["net_af_xdp0,iface=g0"], 1024) + [
                "--", "--forward-mode=txonly", f"--total-num-mbufs={self.a.mbufs}",
                f"--eth-peer=0,{self.r0_mac}", f"--tx-ip={GEN_IP},{self.a.dst}",
                f"--txpkts={self.a.frame_size - 4}", "--stats-period", "1"]
            if self.a.multi_flow:
                cmd.append("--txonly-multi-flow")
        else:  # spread: net_pcap (port 0) replays the frames forever, io-forwarded to g0 (port 1)
            # The same mbuf pool size as txonly: with larger pools (the pcap needs one mbuf per
            # frame) the AF_XDP sender stalls or crawls most of the time here.
            cmd = self.testpmd_eal(pfx, self.gen_cpu, [f"net_pcap0,rx_pcap={self.pcap},infinite_rx=1",
                                                       "net_af_xdp0,iface=g0"], 1024) + [
                "--", "--forward-mode=io", f"--total-num-mbufs={self.a.mbufs}",
                "--stats-period", "1"]
        self.setup_info[f"generator_command_{traffic}"] = " ".join(
            ["nice", "-n", str(self.a.gen_nice), "ip", "netns", "exec", self.gen, *cmd])
        return self.spawn(self.gen, cmd, f"gen-{len(self.trials)}.log", self.a.gen_nice)

    def start_router(self, mode):
        if mode == "kernel":
            return None, None, None, 0.0
        if mode == "sluice":
            pfx = f"fwb-rtr-{self.id}"
            self.prefixes_made.append(pfx)
            # Static mode: the table comes from the file, the same one the kernel run loads,
            # so the run measures forwarding, not the mirror (scripts/bench mirror does that).
            cmd = [self.a.sluiced, "--port", "r0", "--port", "r1", "--mirror", "off",
                   "--addr", f"r0={R0_IP}/24", "--addr", f"r1={R1_IP}/24", "--route-file",
                   f"{self.a.table}={','.join(self.gateways)}", "--no-huge", "--file-prefix", pfx,
                   "--control-socket", f"/tmp/{pfx}.sock",
                   "--lcores", f"0@{self.rtr_cpu},1@{self.rtr_cpu}"]
            ready = r"sluiced: ready"
        else:
            pfx = f"fwb-rtr-{self.id}"
            cmd = self.testpmd_eal(pfx, self.rtr_cpu, ["net_af_xdp0,iface=r0", "net_af_xdp1,iface=r1"],
                                   1024) + [
                "--", "--forward-mode=io", f"--total-num-mbufs={self.a.mbufs}", "--stats-period", "1"]
            ready = r"packet forwarding - ports="
        self.setup_info[f"{mode}_command"] = " ".join(
            ["nice", "-n", str(self.a.router_nice), "ip", "netns", "exec", self.rtr, *cmd])
        p, path, secs = self.spawn_ready(self.rtr, cmd, f"{mode}-{len(self.trials)}.log",
                                         self.a.router_nice, ready, f"{mode} router")
        return p, path, pfx, secs

    # ---- one trial ------------------------------------------------------------------------
    def background(self, secs):
        """Busy CPU seconds per second, per CPU and field, with nothing of ours running: the
        load other users of the machine put on it, subtracted from the trial's figures."""
        a = self.proc_stat()
        time.sleep(secs)
        b = self.proc_stat()
        return {c: {k: (b[c][k] - a[c][k]) / USER_HZ / secs for k in a[c]} for c in a}

    def trial(self, mode, rep, traffic):
        """One measurement; attempts whose generator stalls are thrown away and run again."""
        stalls = []
        for attempt in range(1, self.a.attempts + 1):
            rec = {"mode": mode, "traffic": traffic, "repetition": rep, "attempt": attempt,
                   "started_utc": datetime.now(timezone.utc).isoformat()}
            self.remake_gen_link()
            log(f"trial {len(self.trials) + 1}: {mode}, traffic {traffic} (repetition {rep + 1})"
                + (f", attempt {attempt}" if attempt > 1 else ""))
            stall = self.attempt(mode, traffic, rec)
            if stall is not None and stall.startswith("contended") and attempt == self.a.attempts:
                rec["contended"] = stall  # kept, and flagged, rather than no figure at all
                log(f"  {stall}; kept (last attempt)")
                stall = None
            if stall is None:
                rec["stalled_attempts"] = stalls
                self.trials.append(rec)
                log(f"  offered {fmt_pps(rec['offered_pps'])}, delivered "
                    f"{fmt_pps(rec['delivered_pps'])}, router cycles/pkt "
                    f"{fmt_num(rec['cycles_per_packet']['router'])} (router CPU share "
                    f"{rec['cpu']['router_cpu_share']:.2f}), system "
                    f"{fmt_num(rec['cycles_per_packet']['system'])}, rtr IpForwDatagrams "
                    f"{rec['rtr_ip_forw_datagrams']}, background busy "
                    f"{rec['cpu']['background_busy_per_s']:.2f} CPUs")
                return rec
            log(f"  {stall}; attempt thrown away")
            if stall.startswith("contended"):
                time.sleep(self.a.quiet_pause)
            stalls.append(stall)
        msg = (f"{mode}/{traffic} repetition {rep + 1}: no valid window in {self.a.attempts} "
               f"attempts ({'; '.join(stalls)}); trial skipped")
        log(msg)
        self.failed.append(msg)
        return None

    def offered_now(self):
        return self.netdev(self.gen)["g0"]["tx_packets"]

    def attempt(self, mode, traffic, rec):
        """Runs router and generator and fills rec; returns None, or why the generator stalled.
        On veth with an XDP program on the peer, an AF_XDP sender's queue sometimes stops for
        good (veth's ptr_ring backpressure; no wake-up comes): g0 then sends nothing at all."""
        # Wait (a while) for other work on the machine to quiet down before starting.
        t0 = time.monotonic()
        while True:
            rec["background"] = self.background(self.a.idle_seconds)
            busy = sum(v for c in rec["background"].values() for k, v in c.items()
                       if k not in ("idle", "iowait"))
            if busy <= self.a.quiet_threshold or time.monotonic() - t0 >= self.a.quiet_wait:
                break
            log(f"  the machine is busy ({busy:.2f} CPUs of other work); waiting")
            time.sleep(self.a.quiet_pause)
        rec["waited_for_quiet_s"] = round(time.monotonic() - t0 - self.a.idle_seconds, 1)
        rtr, rtr_log, pfx, ready = self.start_router(mode)
        rec["router_ready_seconds"] = round(ready, 2)
        gen, gen_log = self.start_generator(traffic)
        stall = None
        try:
            if self.wait_for(gen_log, r"packet forwarding - ports=", gen, 60) is None:
                with open(gen_log, errors="replace") as f:
                    raise RuntimeError("the generator did not start:\n" + f.read()[-3000:])
            # Offered load starts when g0's counter moves; then warm up (ARP for the gateways).
            g_start = self.offered_now()
            t0 = time.monotonic()
            while self.offered_now() == g_start and time.monotonic() - t0 < self.a.stall_seconds + 2:
                time.sleep(0.05)
            if self.offered_now() == g_start:
                stall = "g0 sent nothing after the generator started"
            else:
                time.sleep(self.a.warmup)
                gen_pid = gen.pid
                rtr_pid = rtr.pid if rtr else None
                s0 = self.snapshot(gen_pid, rtr_pid, pfx if mode == "sluice" else None, True)
                # The window, sampled: a per-second series in the JSON, and stall detection.
                series, last, last_move = [], (s0["t"], s0["gen"]["tx_packets"], s0["s0"]["rx_packets"]), s0["t"]
                while time.monotonic() - s0["t"] < self.a.seconds:
                    time.sleep(min(1.0, max(0.0, self.a.seconds - (time.monotonic() - s0["t"]))))
                    now, g, d = time.monotonic(), self.offered_now(), self.netdev(self.sink)["s0"]["rx_packets"]
                    series.append([round(now - s0["t"], 2), round((g - last[1]) / (now - last[0])),
                                   round((d - last[2]) / (now - last[0]))])
                    if g != last[1]:
                        last_move = now
                    elif now - last_move >= self.a.stall_seconds:
                        stall = f"g0 stopped sending {round(now - s0['t'], 1)} s into the window"
                        break
                    last = (now, g, d)
                if stall is None:
                    s1 = self.snapshot(gen_pid, rtr_pid, pfx if mode == "sluice" else None, False)
                    rec["per_second"] = series  # [t, offered pps, delivered pps]
        finally:
            self.stop(gen, signal.SIGINT)
            if rtr is not None:
                rec["router_exit_status"] = self.stop(rtr, signal.SIGTERM if mode == "sluice" else signal.SIGINT)
        with open(gen_log, errors="replace") as f:
            m = re.findall(r"Accumulated forward statistics.*?TX-packets:\s+(\d+)", f.read(), re.S)
            rec["generator_tx_total"] = int(m[-1]) if m else None
        if rtr_log:
            with open(rtr_log, errors="replace") as f:
                text = f.read()
            if mode == "sluice":
                rec["sluiced_output"] = (text[text.find("sluiced: stopping"):]
                                         if "sluiced: stopping" in text else text[-3000:])
                rec["sluiced_summary_nodes"] = parse_sluiced_nodes(text)
                m = re.search(r"sluiced: (\d+) routes from", text)
                rec["sluiced_routes_loaded"] = int(m.group(1)) if m else None
        left = self.xdp_attached()
        if left:
            rec["warning_xdp_left_attached"] = left
            log(f"warning: an XDP program is still attached to {left} after {mode} stopped; removing it")
            for d in left:
                run(["ip", "-n", self.rtr, "link", "set", "dev", d, "xdp", "off"], check=False)
        if pfx:
            shutil.rmtree(f"/var/run/dpdk/{pfx}", ignore_errors=True)
        shutil.rmtree(f"/var/run/dpdk/fwb-gen-{self.id}", ignore_errors=True)
        if stall is not None:
            return stall
        rec.update(self.figures(mode, s0, s1, rec))
        rec["snapshots"] = [strip_snapshot(s0), strip_snapshot(s1)]
        return self.degraded(mode, rec) or self.contended(rec)

    def contended(self, rec):
        """Other work took the generator's or the router's CPU during the window (they waited
        on the run queue for more than --max-wait of it): the figures measure the neighbours."""
        dt, c = rec["seconds"], rec["cpu"]
        waits = {"generator": c["generator_wait_s"], "router": c["router_wait_s"]}
        bad = [f"{k} waited {v / dt:.0%} of the window for its CPU" for k, v in waits.items()
               if v is not None and v / dt > self.a.max_wait]
        return "contended: " + ", ".join(bad) if bad else None

    def degraded(self, mode, rec):
        """The other face of the stall: g0 keeps sending, but at a small steady fraction of
        what this generator offers in the other trials, while the router idles. A router that
        sets the rate itself is saturated: sluice and testpmd then drop at r0 (AF_XDP ring
        full), the kernel pushes back on the sender with its CPU near 1.0."""
        ref = median([t["offered_pps"] for t in self.trials])
        if len(self.trials) < 2 or rec["offered_pps"] >= self.a.degraded_fraction * ref:
            return None
        if mode == "kernel":
            saturated = rec["cpu"]["router_cpu_share"] >= 0.6
        else:
            saturated = rec["r0_rx_dropped"] >= 0.01 * rec["offered_pps"] * rec["seconds"]
        if saturated:
            return None
        return (f"generator degraded: offered {rec['offered_pps'] / 1e6:.3f} Mpps against "
                f"{ref / 1e6:.3f} Mpps in the accepted trials, router not saturated")

    def figures(self, mode, s0, s1, rec):
        dt = s1["t"] - s0["t"]
        d = lambda k, f: s1[k][f] - s0[k][f]  # noqa: E731
        out = {"seconds": round(dt, 3)}
        offered = d("gen", "tx_packets")
        delivered = d("s0", "rx_packets")
        out.update(
            offered_pps=offered / dt, delivered_pps=delivered / dt,
            gen_tx_dropped=d("gen", "tx_dropped"), r0_rx_pps=d("r0", "rx_packets") / dt,
            r0_rx_dropped=d("r0", "rx_dropped"), r1_tx_pps=d("r1", "tx_packets") / dt,
            r1_tx_dropped=d("r1", "tx_dropped"), s0_rx_dropped=d("s0", "rx_dropped"),
            rtr_ip_forw_datagrams=s1["rtr_ip"]["ForwDatagrams"] - s0["rtr_ip"]["ForwDatagrams"],
            rtr_ip_in_receives=s1["rtr_ip"]["InReceives"] - s0["rtr_ip"]["InReceives"],
            loadavg=s0["loadavg"])
        # /proc/stat per CPU over the window, raw and net of the background rate measured just
        # before the trial (other users of the machine).
        bg = rec["background"]
        cpu = {}
        for c in s0["stat"]:
            raw = {k: (s1["stat"][c][k] - s0["stat"][c][k]) / USER_HZ for k in s0["stat"][c]}
            net = {k: max(0.0, raw[k] - bg[c][k] * dt) for k in raw}
            cpu[c] = {"raw": raw, "net": net}
        out["cpu_seconds"] = cpu
        busy = ("user", "nice", "system", "irq", "softirq", "steal")
        gen_c, rtr_c = f"cpu{self.gen_cpu}", f"cpu{self.rtr_cpu}"
        softirq_all = sum(cpu[c]["net"]["softirq"] for c in cpu)
        softirq_rtr = cpu[rtr_c]["net"]["softirq"] if rtr_c in cpu else 0.0
        softirq_other = softirq_all - softirq_rtr
        busy_net = sum(cpu[c]["net"][k] for c in cpu for k in busy)
        gen_s = (s1["gen_proc"]["ns"] - s0["gen_proc"]["ns"]) / 1e9
        rtr_s = 0.0
        if s0["rtr_proc"] and s1["rtr_proc"]:
            rtr_s = (s1["rtr_proc"]["ns"] - s0["rtr_proc"]["ns"]) / 1e9
        # The router's CPU time, robust to other users of the machine:
        #  kernel: softirq time of every CPU (RPS puts r0's receive, the forwarding, r1's
        #    transmit and the sink's receive in softirq on the router's CPU);
        #  sluice, testpmd: their process's own CPU time (every thread, schedstat: polling,
        #    the graph, the AF_XDP system calls and the sink's receive, which runs inside the
        #    transmit call) plus softirq time on the other CPUs (veth's NAPI running the XDP
        #    program and copying into the AF_XDP socket, in the generator's context).
        if mode == "kernel":
            router_s = softirq_all
            system_s = gen_s + softirq_rtr
        else:
            router_s = rtr_s + softirq_other
            system_s = gen_s + rtr_s
        hz = self.a.tsc_hz
        per = lambda secs: None if not delivered or secs is None else secs * hz / delivered  # noqa: E731
        out["cpu"] = {"generator_process_s": gen_s, "router_process_s": rtr_s if mode != "kernel" else None,
                      "softirq_net_s": {c: cpu[c]["net"]["softirq"] for c in cpu},
                      "router_s": router_s, "system_s": system_s,
                      "router_cpu_share": router_s / dt,
                      "ksoftirqd_s": {c: (s1["ksoftirqd"][c]["ns"] - s0["ksoftirqd"][c]["ns"]) / 1e9
                                      for c in s0["ksoftirqd"]
                                      if s0["ksoftirqd"][c] and s1["ksoftirqd"][c]},
                      # Time spent runnable but not running: other work took the CPU.
                      "generator_wait_s": (s1["gen_proc"]["worker_delay"] -
                                           s0["gen_proc"]["worker_delay"]) / 1e9,
                      "router_wait_s": self.router_wait(mode, s0, s1),
                      "procstat_busy_net_s": busy_net,
                      "background_busy_per_s": sum(bg[c][k] for c in bg for k in busy)}
        cpp = {
            "router": per(router_s),
            # what this run's generator and router cost together
            "system": per(system_s),
            "kernel_softirq": per(softirq_all),
            "router_process": per(rtr_s) if mode != "kernel" else None,
            # all CPUs' busy time in /proc/stat net of the background: meaningful only on an
            # otherwise idle machine (see background_busy_per_s)
            "procstat_system": per(busy_net),
        }
        if mode == "sluice":
            cpp.update(self.graph_cycles(s0, s1, rec))
        out["cycles_per_packet"] = cpp
        if mode == "sluice":
            st0, st1 = s0.get("sluice_stats"), s1.get("sluice_stats")
            if st0 and st1:
                out["sluice_forwarded_pps"] = (st1["forwarded"] - st0["forwarded"]) / dt
                out["sluice_dropped"] = st1["dropped"] - st0["dropped"]
        return out

    def router_wait(self, mode, s0, s1):
        """Seconds the router waited for its CPU: the router process's lcore (worker) threads,
        or for the kernel ksoftirqd of the router's CPU (where its forwarding mostly runs)."""
        if mode == "kernel":
            a, b = s0["ksoftirqd"].get(f"cpu{self.rtr_cpu}"), s1["ksoftirqd"].get(f"cpu{self.rtr_cpu}")
            key = "delay"
        else:  # the forwarding thread: the control thread shares its CPU by design
            a, b, key = s0["rtr_proc"], s1["rtr_proc"], "worker_delay"
        return None if not a or not b else (b[key] - a[key]) / 1e9

    @staticmethod
    def graph_cycles(s0, s1, rec):
        """Cycles per packet of sluice's graph nodes: window deltas from /sluice/nodes when the
        telemetry lists the nodes, else the totals sluiced prints when it stops."""
        sources = ("port-rx", "inject")
        # Telemetry keys spell '-' as '_' (DPDK 22.11 refuses '-' in names).
        norm = lambda n: {k.replace("_", "-"): v for k, v in (n or {}).items()}  # noqa: E731
        n0, n1 = norm(s0.get("sluice_nodes")), norm(s1.get("sluice_nodes"))
        if "port-rx" in n1 and "port-rx" in n0:
            rx = n1["port-rx"]["packets"] - n0["port-rx"]["packets"]
            work = sum(n1[k]["cycles"] - n0[k]["cycles"] for k in n1 if k not in sources and k in n0)
            rxc = n1["port-rx"]["cycles"] - n0["port-rx"]["cycles"]
            src = "telemetry /sluice/nodes, window deltas"
            per_node, burst = {}, {}
            for k in n1:
                if k in n0 and n1[k]["packets"] - n0[k]["packets"] >= 1000:
                    pk = n1[k]["packets"] - n0[k]["packets"]
                    per_node[k] = (n1[k]["cycles"] - n0[k]["cycles"]) / pk
                    calls = n1[k]["calls"] - n0[k]["calls"]
                    burst[k] = pk / calls if calls else None
            rec["sluice_node_cycles_per_packet"] = per_node
            rec["sluice_node_packets_per_call"] = burst
        else:
            nodes = rec.get("sluiced_summary_nodes") or {}
            if "port-rx" not in nodes or not nodes["port-rx"][0]:
                return {"graph_nodes": None, "graph_port_rx": None,
                        "graph_source": "unavailable (no node counters in telemetry or summary)"}
            rx = nodes["port-rx"][0]
            work = sum(p * c for k, (p, c) in nodes.items() if k not in sources)
            rxc = nodes["port-rx"][0] * nodes["port-rx"][1]
            src = ("sluiced's exit summary (whole run, not the window: /sluice/nodes lists only "
                   "'inject')")
        return {"graph_nodes": work / rx if rx else None,
                "graph_port_rx": rxc / rx if rx else None, "graph_source": src}


def parse_sluiced_nodes(text):
    """{node: (packets, cycles per packet)} from sluiced's summary on SIGTERM."""
    nodes = {}
    part = text.split("nodes (packets, cycles/packet):", 1)
    if len(part) < 2:
        return nodes
    for line in part[1].splitlines()[1:] if part[1].startswith("\n") else part[1].splitlines():
        m = re.match(r"\s+([\w-]+): (\d+), (\d+)\s*$", line)
        if not m:
            if line.strip() and not line.startswith(" "):
                break
            continue
        nodes[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return nodes


def strip_snapshot(s):
    return {k: v for k, v in s.items() if k not in ("stat",)}


def fmt_pps(x):
    return "n/a" if x is None else f"{x / 1e6:.3f} Mpps"


def fmt_num(x, digits=0):
    return "n/a" if x is None else f"{x:,.{digits}f}"


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.2f}"


def tsc_hz():
    with open("/proc/cpuinfo") as f:
        m = re.search(r"^cpu MHz\s*:\s*([\d.]+)", f.read(), re.M)
    return float(m.group(1)) * 1e6


def summarize(trials, modes):
    by = {m: [t for t in trials if t["mode"] == m] for m in modes}
    by = {m: ts for m, ts in by.items() if ts}
    s = {}
    for m, ts in by.items():
        keys = ["offered_pps", "delivered_pps"]
        e = {k: median([t[k] for t in ts]) for k in keys}
        e.update({f"{k}_spread": spread([t[k] for t in ts]) for k in keys})
        for k in ("system", "router", "kernel_softirq", "router_process", "procstat_system",
                  "graph_nodes", "graph_port_rx"):
            vals = [t["cycles_per_packet"].get(k) for t in ts]
            e[f"cpp_{k}"] = median(vals)
            e[f"cpp_{k}_spread"] = spread(vals)
        e["router_cpu_share"] = median([t["cpu"]["router_cpu_share"] for t in ts])
        # Frames r0 could not take (XDP redirect into a full AF_XDP ring, or the kernel's
        # backlog): > 0 means the router, not the generator, set the delivered rate.
        e["r0_rx_dropped_pps"] = median([t["r0_rx_dropped"] / t["seconds"] for t in ts])
        nodes = {}
        for t in ts:
            if t.get("sluice_node_cycles_per_packet"):  # the window's, from telemetry
                for k, cpp in t["sluice_node_cycles_per_packet"].items():
                    nodes.setdefault(k, []).append(cpp)
                continue
            for k, (pk, cpp) in (t.get("sluiced_summary_nodes") or {}).items():
                if pk >= 1000:
                    nodes.setdefault(k, []).append(cpp)
        if nodes:
            e["sluice_node_cycles_per_packet"] = {k: median(v) for k, v in nodes.items()}
        bursts = {}
        for t in ts:
            for k, v in (t.get("sluice_node_packets_per_call") or {}).items():
                bursts.setdefault(k, []).append(v)
        if bursts:
            e["sluice_node_packets_per_call"] = {k: median(v) for k, v in bursts.items()}
        e["stalled_attempts"] = sum(len(t.get("stalled_attempts", [])) for t in ts)
        e["background_busy"] = median([t["cpu"]["background_busy_per_s"] for t in ts])
        e["ip_forw_datagrams"] = [t["rtr_ip_forw_datagrams"] for t in ts]
        e["delivered_packets"] = [round(t["delivered_pps"] * t["seconds"]) for t in ts]
        e["trials"] = len(ts)
        s[m] = e
    return s


def ratio_lines(s, sfx=""):
    g = lambda m, k: s.get(m, {}).get(k)  # noqa: E731
    lines = [
        ("delivered sluice/kernel", ratio(g("sluice", "delivered_pps"), g("kernel", "delivered_pps"))),
        ("delivered sluice/testpmd", ratio(g("sluice", "delivered_pps"), g("testpmd", "delivered_pps"))),
        ("cycles-per-packet kernel/sluice", ratio(g("kernel", "cpp_router"), g("sluice", "cpp_router"))),
        ("cycles-per-packet testpmd/sluice", ratio(g("testpmd", "cpp_router"), g("sluice", "cpp_router"))),
        ("cycles-per-packet-system kernel/sluice",
         ratio(g("kernel", "cpp_system"), g("sluice", "cpp_system"))),
        ("cycles-per-packet-system testpmd/sluice",
         ratio(g("testpmd", "cpp_system"), g("sluice", "cpp_system"))),
        ("cycles-per-packet-work kernel-softirq/sluice-graph",
         ratio(g("kernel", "cpp_kernel_softirq"), g("sluice", "cpp_graph_nodes"))),
    ]
    out = []
    for name, v in lines:
        what, rest = name.split(" ", 1)
        out.append(f"ratio {what}{sfx} {rest} {fmt_ratio(v)}")
    return out


METHOD = """\
Topology: gen g0 10.1.0.2/24 -- r0 10.1.0.1/24 [rtr] r1 10.2.0.1/24 -- s0 [sink], veth pairs in
namespaces of their own; s0 holds 10.2.0.2-10.2.0.{last} so every gateway answers ARP;
{sink}. Each of the table's prefixes goes via one of {ngw} gateways, chosen as
lpm::synthetic_next_hop does (the hash sluiced applies to --route-file), so every router
holds the same routes.
Generator: dpdk-testpmd over AF_XDP on g0, {frame}-byte UDP frames. Traffic "single": txonly
to {dst} (one route of the table){mf}.
Traffic "spread": io-forwarding from net_pcap
(infinite_rx) of {nspread} frames whose destinations are random addresses in prefixes drawn
uniformly from the table (perf/forward/make_pcap.py, fixed seed), so lookups and gateways cover
the table. On CPU {gcpu} (EAL --lcores 0@{gcpu},1@{gcpu}), identical in every trial, at nice
{gnice} so that other work on the machine changes the offered load less. The routers
get CPU {rcpu}: sluiced --lcores 0@{rcpu},1@{rcpu}; testpmd io --lcores 0@{rcpu},1@{rcpu}; the kernel
through RPS on r0 (rps_cpus of rx-0 = CPU {rcpu}), which moves its receive and forwarding off
the generator's CPU; sluiced and testpmd run at nice {rnice} (the kernel's forwarding runs in
softirq, which preempts every task, or in ksoftirqd at nice 0 when it overflows; the JSON has
ksoftirqd's time). AF_XDP's receive side (veth's NAPI: the XDP program and the copy into the
socket's umem) runs in the generator's context on CPU {gcpu}; nothing can move it (RPS acts
after XDP, threaded NAPI on veth stalled here).
Each trial: {idle} s of background sampling (/proc/stat with nothing of ours running), the
router started, the generator started, {warm} s of warm-up after its first packet (ARP), then
a {secs} s window. offered = g0's TX packets, delivered = s0's RX packets (/proc/PID/net/dev in
the namespaces), both over the window.
Cycles per delivered packet (TSC {mhz:.0f} MHz from /proc/cpuinfo), built from what can be
attributed on a machine that other work shares:
  router  kernel: softirq time of all CPUs (/proc/stat, net of background): r0's receive,
            the forwarding, r1's transmit and the sink's receive all run in softirq.
          sluice, testpmd: the router process's CPU time (all threads, schedstat: polling
            included, the AF_XDP system calls, and the sink's receive, which runs inside the
            transmit call) + softirq time on the other CPUs (AF_XDP receive, see above).
  system  router + the generator process's CPU time, without counting twice what ran in
            either's context: what this run's generator and router cost together.
  kernel softirq = softirq time of all CPUs, whatever the mode.
  sluice graph = rte_graph's cycles of every node but the sources (port-rx, inject) per packet
            received: the work the graph does, the AF_XDP transmit call included; no polling.
sluice and testpmd poll: their CPU time is that of a whole CPU share whether packets come or not,
so at an offered load below their capacity their router figure is the cost of the core, not
of the packets. The kernel uses CPU only per packet.
The machine is shared with other work: absolute figures are context, the ratios are the result.
"""


def pct(x, whole):
    return "-" if x is None else f"{x / whole:.0%}"


def write_markdown(path, doc):
    s, a = doc["summary"], doc["settings"]
    L = []
    L.append(f"# forward benchmark {doc['started_utc']}\n")
    mach = doc["machine"]
    L.append(f"Machine: {mach['cpu_model']}, {mach['nproc']} CPUs, kernel {mach['kernel']}, "
             f"DPDK {mach['dpdk']}. Table: {a['table']} ({doc['setup'].get('kernel_routes')} "
             f"kernel routes loaded in {doc['setup'].get('kernel_route_load_seconds')} s with "
             f"`ip -force -batch`).\n")
    L.append(f"Command: `{doc['command']}`; {a['repetitions']} repetitions of {a['seconds']:g} s "
             f"per mode, interleaved. sluiced: {a['sluiced']} (sha256 "
             f"{doc['setup'].get('sluiced_sha256', '?')[:16]}..., checkout "
             f"{doc['setup'].get('git', '?')}).\n")
    L.append("Medians over the trials (min-max). Cycles are per delivered packet. Traffic single: "
             f"txonly to {a['dst']}; spread: {a['spread_count']} destinations drawn over the "
             "whole table.\n")
    L.append("| traffic | mode | offered Mpps | delivered Mpps | r0 rx dropped Mpps | router cycles/pkt "
             "| router CPU share | system cycles/pkt | kernel softirq cycles/pkt | sluice graph "
             "cycles/pkt | rtr IpForwDatagrams |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for tr, m in [(tr, m) for tr in a["traffic"] if tr in s for m in a["modes"] if m in s[tr]]:
        e = s[tr][m]
        lo, hi = e["delivered_pps_spread"]
        olo, ohi = e["offered_pps_spread"]
        clo, chi = e["cpp_router_spread"]
        graph = "-" if e.get("cpp_graph_nodes") is None else fmt_num(e["cpp_graph_nodes"])
        L.append(
            f"| {tr} | {m} | {e['offered_pps'] / 1e6:.3f} ({olo / 1e6:.3f}-{ohi / 1e6:.3f}) | "
            f"{e['delivered_pps'] / 1e6:.3f} ({lo / 1e6:.3f}-{hi / 1e6:.3f}) | "
            f"{e['r0_rx_dropped_pps'] / 1e6:.3f} | "
            f"{fmt_num(e['cpp_router'])} ({fmt_num(clo)}-{fmt_num(chi)}) | "
            f"{e['router_cpu_share']:.2f} | {fmt_num(e['cpp_system'])} | "
            f"{fmt_num(e['cpp_kernel_softirq'])} | {graph} | "
            f"{', '.join(str(x) for x in e['ip_forw_datagrams'])} |")
    L.append("")
    for tr in a["traffic"]:
        nodes = s.get(tr, {}).get("sluice", {}).get("sluice_node_cycles_per_packet")
        if nodes:
            L.append(f"sluiced's nodes, cycles per packet (median of the {tr} trials; over the window "
                     "from /sluice/nodes, else from sluiced's exit summary over its whole run; "
                     "port-rx's include its empty polls): " +
                     ", ".join(f"{k} {v:,.0f}" for k, v in nodes.items()) + "\n")
        bursts = s.get(tr, {}).get("sluice", {}).get("sluice_node_packets_per_call")
        if bursts:
            L.append(f"sluiced's nodes, packets per call (median of the {tr} trials): " +
                     ", ".join(f"{k} {v:.1f}" for k, v in bursts.items() if v) + "\n")
    stalled = {f"{tr}/{m}": e["stalled_attempts"] for tr in s for m, e in s[tr].items()
               if e.get("stalled_attempts")}
    if stalled:
        L.append("Generator stalls (attempts thrown away and run again): " +
                 ", ".join(f"{k} {v}" for k, v in stalled.items()) + "\n")
    L.append("Ratios (> 1 means sluice is better):\n")
    L.append("```")
    L.extend(doc["ratios"])
    L.append("```\n")
    L.append("Goals: sluice >= 0.9 x testpmd io and >= 2 x the kernel, in delivered rate and in "
             "packets per CPU cycle.\n")
    if doc.get("notes"):
        L.append("Notes:\n")
        for n in doc["notes"]:
            L.append(f"- {n}")
        L.append("")
    L.append("Trials in run order (background: busy CPUs measured just before, other work):\n")
    L.append("| # | traffic | mode | offered Mpps | delivered Mpps | r0 rx dropped | router "
             "cycles/pkt | router CPU share | system cycles/pkt | background busy CPUs | "
             "generator / router waited for CPU | thrown-away attempts |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, t in enumerate(doc["trials"], 1):
        L.append(f"| {i} | {t['traffic']} | {t['mode']} | {t['offered_pps'] / 1e6:.3f} | "
                 f"{t['delivered_pps'] / 1e6:.3f} | {t['r0_rx_dropped']} | "
                 f"{fmt_num(t['cycles_per_packet']['router'])} | "
                 f"{t['cpu']['router_cpu_share']:.2f} | "
                 f"{fmt_num(t['cycles_per_packet']['system'])} | "
                 f"{t['cpu']['background_busy_per_s']:.2f} | "
                 f"{pct(t['cpu'].get('generator_wait_s'), t['seconds'])} / "
                 f"{pct(t['cpu'].get('router_wait_s'), t['seconds'])}"
                 f"{' (kept: last attempt)' if t.get('contended') else ''} | "
                 f"{len(t.get('stalled_attempts', []))} |")
    L.append("\nMethod:\n")
    L.append("```")
    L.append(doc["method"].rstrip())
    L.append("```")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


# ---- shared by the benchmarks built on Bench (forward, nat) ----

def record_provenance(b, sluiced):
    """The sluiced binary's hash and the checkout's commit, in b.setup_info."""
    with open(sluiced, "rb") as f:
        b.setup_info["sluiced_sha256"] = hashlib.sha256(f.read()).hexdigest()
    b.setup_info["sluiced_mtime_utc"] = datetime.fromtimestamp(
        os.path.getmtime(sluiced), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    head = run(["git", "-C", root, "rev-parse", "HEAD"], check=False).stdout.strip()
    dirty = run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                check=False).stdout.strip()
    b.setup_info["git"] = head + (" (with uncommitted changes)" if dirty else "")


def run_trials(b, body, notes):
    """Runs body() (setup and trials), turning an interrupt or an error into an exit status and
    a note, and always cleans the topology up. Returns the status (0, 1 or 130)."""
    status = 0
    try:
        body()
    except Interrupted as e:
        log(f"interrupted ({e}); cleaning up")
        status = 130
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        msg = e.stderr if isinstance(e, subprocess.CalledProcessError) else str(e)
        log(f"error: {' '.join(e.cmd) if isinstance(e, subprocess.CalledProcessError) else ''} {msg}")
        notes.append(f"run aborted: {str(msg).strip()[:2000]}")
        status = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        b.cleanup()
    return status


def machine_info():
    """(CPU model, dpdk-dev version)."""
    dpdk = run(["dpkg-query", "-W", "-f", "${Version}", "dpdk-dev"], check=False).stdout or "?"
    with open("/proc/cpuinfo") as f:
        model = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M).group(1)
    return model, dpdk


def common_trial_notes(t, label):
    """The notes every benchmark makes of a trial: contention kept, router exit status."""
    out = []
    if t.get("contended"):
        out.append(f"{label} kept although {t['contended'][len('contended: '):]} "
                   "(every attempt was contended)")
    if t.get("router_exit_status") not in (None, 0):
        out.append(f"{t['mode']} trial {t['repetition'] + 1}: router exited with status "
                   f"{t['router_exit_status']}")
    return out


def add_trial_args(ap, command):
    """The options every veth benchmark shares: CPUs and niceness of the generator and the
    router, the sink, mbufs, stall and quiet-machine handling, where results go."""
    ap.add_argument("--gen-cpu", type=int, default=0)
    ap.add_argument("--router-cpu", type=int, default=1)
    ap.add_argument("--no-rps", dest="rps", action="store_false")
    ap.add_argument("--no-sink-drop", dest="sink_drop", action="store_false",
                    help="let the sink's kernel drop the frames instead of an XDP program")
    ap.add_argument("--gen-nice", type=int, default=-10,
                    help="nice of the generator: a steady offered load on a shared machine")
    ap.add_argument("--router-nice", type=int, default=-10,
                    help="nice of sluiced and testpmd (the kernel's softirq cannot be reniced)")
    ap.add_argument("--mbufs", type=int, default=16384)
    ap.add_argument("--attempts", type=int, default=5,
                    help="tries per trial when the generator stalls (veth queue stuck)")
    ap.add_argument("--stall-seconds", type=float, default=2,
                    help="g0 sending nothing this long means the generator stalled")
    ap.add_argument("--quiet-threshold", type=float, default=0.25,
                    help="start a trial only when other work keeps fewer CPUs busy than this...")
    ap.add_argument("--quiet-wait", type=float, default=120,
                    help="... or after waiting this long (seconds)")
    ap.add_argument("--quiet-pause", type=float, default=5)
    ap.add_argument("--max-wait", type=float, default=0.1,
                    help="a window in which the generator or router waited longer than this "
                         "fraction for its CPU is run again (kept, flagged, at the last attempt)")
    ap.add_argument("--degraded-fraction", type=float, default=0.4,
                    help="a window offering less than this fraction of the accepted trials' "
                         "median, with the router not saturated, is run again")
    ap.add_argument("--id", default=str(os.getpid()))
    ap.add_argument("--out-dir", default="perf/results")
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--command", default=command)


def parse_modes(ap, a, known):
    """--modes as a list, every one of them known."""
    a.modes = [m for m in a.modes.split(",") if m]
    for m in a.modes:
        if m not in known:
            ap.error(f"unknown mode {m}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", required=True)
    ap.add_argument("--sluiced", required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--idle-seconds", type=float, default=2)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--dst", default="8.8.8.8")
    ap.add_argument("--traffic", default="single,spread",
                    help="single (txonly to --dst), spread (destinations over the whole table), "
                         "or both: single,spread")
    ap.add_argument("--spread-count", type=int, default=4096)
    ap.add_argument("--frame-size", type=int, default=64, help="bytes on the wire with the CRC")
    ap.add_argument("--no-multi-flow", dest="multi_flow", action="store_false")
    ap.add_argument("--gateways", type=int, default=64)
    add_trial_args(ap, "scripts/bench forward")
    a = ap.parse_args()
    a.modes = [m for m in a.modes.split(",") if m]
    a.traffic = [t for t in a.traffic.split(",") if t]
    for t in a.traffic:
        if t not in ("single", "spread"):
            ap.error(f"unknown traffic {t}")
    for m in a.modes:
        if m not in MODES:
            ap.error(f"unknown mode {m}")
    if not 1 <= a.gateways <= 64:
        ap.error("--gateways must be 1..64")
    a.tsc_hz = tsc_hz()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = datetime.now(timezone.utc)
    b = Bench(a)
    record_provenance(b, a.sluiced)
    notes = []

    def body():
        prefixes = read_table(a.table)
        log(f"table {a.table}: {len(prefixes)} IPv4 prefixes, {a.gateways} gateways")
        b.setup()
        if "kernel" in a.modes:
            b.load_kernel_routes(prefixes)
        if "spread" in a.traffic:
            b.make_pcap()
        for rep in range(a.repetitions):
            for tr in a.traffic:
                for m in a.modes:
                    b.trial(m, rep, tr)
    status = run_trials(b, body, notes)
    if not b.trials:
        return status or 1

    notes += b.failed
    modes = [m for m in a.modes if any(t["mode"] == m for t in b.trials)]
    traffics = [tr for tr in a.traffic if any(t["traffic"] == tr for t in b.trials)]
    s = {tr: summarize([t for t in b.trials if t["traffic"] == tr], modes) for tr in traffics}
    for t in b.trials:
        if t["mode"] == "sluice" and t["rtr_ip_forw_datagrams"] > 0:
            notes.append(f"sluice trial {t['repetition'] + 1} ({t['traffic']}): rtr's kernel forwarded "
                         f"{t['rtr_ip_forw_datagrams']} packets (IpForwDatagrams should stay 0)")
        if t.get("warning_xdp_left_attached"):
            notes.append(f"{t['mode']} trial {t['repetition'] + 1}: XDP program left attached to "
                         f"{t['warning_xdp_left_attached']} after it stopped (removed by the bench)")
        if t["offered_pps"] > 0 and t["delivered_pps"] < 0.1 * t["offered_pps"]:
            notes.append(f"{t['mode']} trial {t['repetition'] + 1} ({t['traffic']}): delivered "
                         f"{t['delivered_pps']:.0f} pps of {t['offered_pps']:.0f} offered: the router "
                         "all but stopped forwarding (see the trial's router output in the JSON)")
        notes += common_trial_notes(
            t, f"{t['mode']} trial {t['repetition'] + 1} ({t['traffic']})")
    for t in b.trials:
        if t["mode"] == "sluice" and t["cycles_per_packet"].get("graph_source", "").startswith("sluiced's"):
            notes.append("sluice graph cycles come from sluiced's exit summary (whole run): "
                         "/sluice/nodes telemetry lists only the 'inject' node (DPDK 22.11 "
                         "telemetry rejects dictionary names with '-', which every other node "
                         "name has; /sluice/stats 'drops' is empty for the same reason)")
            break
    last = 2 + a.gateways - 1
    method = METHOD.format(last=last, ngw=a.gateways, frame=a.frame_size, dst=a.dst,
                           mf=", sources varied (--txonly-multi-flow)" if a.multi_flow else "",
                           gcpu=a.gen_cpu, rcpu=a.router_cpu, idle=a.idle_seconds, warm=a.warmup,
                           secs=a.seconds, mhz=a.tsc_hz / 1e6, gnice=a.gen_nice,
                           sink=("an XDP program on s0 drops IPv4 frames on arrival (counted first)"
                                 if a.sink_drop else "the sink's kernel drops the frames"),
                           rnice=a.router_nice, nspread=a.spread_count)
    if not a.rps:
        method = method.replace("the kernel through RPS on r0", "the kernel where veth puts it (no RPS)")
    # The first traffic's ratios carry the plain names; the others a suffix (-spread).
    ratios = []
    for i, tr in enumerate(traffics):
        ratios += ratio_lines(s[tr], "" if i == 0 else f"-{tr}")
    model, dpdk = machine_info()
    doc = {
        "benchmark": "forward",
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": a.command,
        "machine": {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
                    "dpdk": dpdk, "tsc_hz": a.tsc_hz, "user_hz": USER_HZ},
        "settings": {k: v for k, v in vars(a).items() if k not in ("tsc_hz",)},
        "setup": b.setup_info,
        "method": method,
        "summary": s,
        "ratios": ratios,
        "notes": notes,
        "trials": b.trials,
        "complete": status == 0,
    }
    os.makedirs(a.out_dir, exist_ok=True)
    stem = os.path.join(a.out_dir, "forward-" + started.strftime("%Y%m%d-%H%M%S"))
    with open(stem + ".json", "w") as f:
        json.dump(doc, f, indent=1)
    write_markdown(stem + ".md", doc)

    print()
    print(f"# machine: {model}, {os.cpu_count()} CPUs; kernel {platform.release()}; DPDK {dpdk}")
    print(f"# table: {a.table}; kernel routes {b.setup_info.get('kernel_routes')} loaded in "
          f"{b.setup_info.get('kernel_route_load_seconds')} s (ip -force -batch)")
    print(f"# {a.repetitions} x {a.seconds:g} s per mode and traffic ({', '.join(traffics)}), "
          f"interleaved; generator CPU {a.gen_cpu}, "
          f"router CPU {a.router_cpu}; results: {stem}.json, {stem}.md")
    print("# medians (min-max) over trials; cycles per delivered packet, TSC "
          f"{a.tsc_hz / 1e6:.0f} MHz:")
    for tr, m in [(tr, m) for tr in traffics for m in modes if m in s[tr]]:
        e = s[tr][m]
        lo, hi = e["delivered_pps_spread"]
        line = (f"#   {tr:6s} {m:8s} offered {e['offered_pps'] / 1e6:.3f} Mpps, delivered "
                f"{e['delivered_pps'] / 1e6:.3f} Mpps ({lo / 1e6:.3f}-{hi / 1e6:.3f}); cycles/pkt "
                f"router {fmt_num(e['cpp_router'])} (CPU share {e['router_cpu_share']:.2f}), "
                f"system {fmt_num(e['cpp_system'])}, kernel softirq {fmt_num(e['cpp_kernel_softirq'])}")
        if m == "sluice" and e.get("cpp_graph_nodes") is not None:
            line += f", graph nodes {fmt_num(e['cpp_graph_nodes'])}"
        line += f"; rtr IpForwDatagrams {e['ip_forw_datagrams']}"
        print(line)
    print(f"# background load (busy CPUs before each trial, median): "
          f"{median([t['cpu']['background_busy_per_s'] for t in b.trials]):.2f}")
    for n in notes:
        print(f"# note: {n}")
    print("# router: the kernel's softirq time, or sluiced's/testpmd's process time + AF_XDP's receive")
    print("# softirq; system: router + generator; perf/forward/README.md. > 1: sluice is better.")
    for line in ratios:
        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
