#!/usr/bin/env python3
"""bridge_bench.py — the engine of `scripts/bench bridge` (perf/bridge/README.md says why).

Three namespaces, gen -- br -- sink, veth pairs g0/r0 and r1/s0, and in br, trial after trial in
interleaved order, one of:
  sluice   sluiced --port r0 --port r1 --bridge br0=r0,r1 --mirror off (AF_XDP, a static
           sluice bridge)
  kernel   a Linux bridge br0 with r0 and r1 as its members
  testpmd  dpdk-testpmd --forward-mode=io on r0 and r1 (AF_XDP): the AF_XDP-on-veth ceiling,
           a two-port "bridge" that looks at nothing
One generator (dpdk-testpmd txonly over AF_XDP on g0, the forward benchmark's) sends 64-byte
frames to the sink's MAC; the sink's MAC is learned first (the sink pings gen before the
generator starts), so the frames are unicast-forwarded, not flooded. Measures the packets per
second delivered at s0 and the CPU spent per delivered packet (perf/forward/forward_bench.py's
machinery: CPU placement, stalls, contention, cycles), sluiced's per-node cycles (`sluice
--json stats` at both ends of the window) and the XDP program's decision counters.
Writes the JSON of every trial and a Markdown summary, and prints the ratio lines.
Standard library only; run as root (scripts/bench bridge installs what is missing).
"""

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "forward"))
import forward_bench as fb  # noqa: E402

MODES = ("sluice", "kernel", "testpmd")
GEN_IP, SINK_IP = "10.3.0.1", "10.3.0.2"  # one /24: gen and sink are on one link
G0_MAC, R0_MAC = "02:62:72:00:00:01", "02:62:72:00:00:02"
R1_MAC, S0_MAC = "02:62:72:00:00:03", "02:62:72:00:00:04"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The nodes of the bridged path, reported one by one (all nodes are in the JSON).
PATH_NODES = ("eth-input", "bridge-input", "bridge-flood", "port-tx")


def log(msg):
    print(f"[bench bridge] {msg}", file=sys.stderr, flush=True)


def xdp_stat_names():
    """enum sluice_xdp_stat of xdp/sluice_xdp.h, in order: the index of each XDP counter."""
    try:
        with open(os.path.join(ROOT, "xdp", "sluice_xdp.h")) as f:
            text = f.read()
        body = re.search(r"enum sluice_xdp_stat\s*\{(.*?)\};", text, re.S).group(1)
        body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
        names = re.findall(r"SLUICE_XDP_(\w+)", body)
        return [n.lower() for n in names if n != "STAT_COUNT"]
    except (OSError, AttributeError):
        return []


class BridgeBench(fb.Bench):
    def __init__(self, args):
        super().__init__(args)
        # Names of our own (the forward bench's fwb-* are not used): scripts/bench bridge
        # removes brb-*-<id> however the run ends.
        self.gen, self.rtr, self.sink = (f"brb-gen-{self.id}", f"brb-br-{self.id}",
                                         f"brb-sink-{self.id}")
        self.namespaces = [self.gen, self.rtr, self.sink]
        self.gen_prefix, self.rtr_prefix = f"brb-gen-{self.id}", f"brb-br-{self.id}"
        self.cur = None  # the record of the attempt running now
        self.xdp_names = xdp_stat_names()
        self.bpftool = shutil.which("bpftool")

    # ---- topology -------------------------------------------------------------------------
    def setup(self):
        existing = fb.run(["ip", "netns", "list"]).stdout
        for n in self.namespaces:
            if re.search(rf"^{re.escape(n)}\b", existing, re.M):
                raise RuntimeError(f"namespace {n} exists already (another run with id {self.id}?)")
        for n in self.namespaces:
            fb.run(["ip", "netns", "add", n])
            fb.run(["ip", "-n", n, "link", "set", "lo", "up"])
            # No IPv6: no router solicitations, MLD or DAD frames crossing the bridge.
            self.sysctl(n, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        self.make_gen_link()
        fb.run(["ip", "link", "add", "s0", "address", S0_MAC, "netns", self.sink, "type", "veth",
                "peer", "name", "r1", "address", R1_MAC, "netns", self.rtr])
        fb.run(["ip", "-n", self.sink, "addr", "add", f"{SINK_IP}/24", "dev", "s0"])
        for n, d in ((self.rtr, "r1"), (self.sink, "s0")):
            fb.run(["ip", "-n", n, "link", "set", d, "up"])
        self.sink_and_anchors()
        # br_netfilter: with bridge-nf-call-iptables=1 (the per-namespace default where the
        # module is in the kernel) every bridged IPv4 frame takes the iptables hooks. The
        # Linux bridge is measured as a plain bridge unless --kernel-br-netfilter asks.
        nf = {}
        for k in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables"):
            path = f"/proc/sys/net/bridge/{k}"  # read inside br: the values are per namespace
            r = self.ns(self.rtr, "cat", path, check=False)
            if r.returncode != 0:
                continue
            if not self.a.kernel_br_netfilter:
                self.sysctl(self.rtr, f"net.bridge.{k}=0")
            nf[k] = {"default": r.stdout.strip(), "used": self.ns(self.rtr, "cat", path).stdout.strip()}
        self.setup_info["br_netfilter"] = nf or "not in this kernel (no /proc/sys/net/bridge)"
        self.setup_info["rps_r0_cpus"] = format(1 << self.rtr_cpu, "x") if self.a.rps else None
        self.setup_info["xdp_stat_names"] = self.xdp_names
        obj = os.environ.get("SLUICE_XDP_OBJECT")
        if obj:  # sluiced's XDP program from elsewhere than its build directory
            with open(obj, "rb") as f:
                self.setup_info["sluice_xdp_object"] = {"path": obj,
                                                        "sha256": hashlib.sha256(f.read()).hexdigest()}
        self.setup_info["bpftool"] = (fb.run([self.bpftool, "version"], check=False).stdout.splitlines()[:1]
                                      if self.bpftool else "not installed: no XDP counters")

    def make_gen_link(self):
        """The g0 -- r0 pair, made anew before every trial (forward_bench: an AF_XDP sender's
        veth queue can stay stopped for good). r0 joins the kernel bridge when the trial's
        router is the kernel (start_router)."""
        self.g0_mac, self.r0_mac = G0_MAC, R0_MAC
        fb.run(["ip", "link", "add", "g0", "address", G0_MAC, "netns", self.gen, "type", "veth",
                "peer", "name", "r0", "address", R0_MAC, "netns", self.rtr])
        fb.run(["ip", "-n", self.gen, "addr", "add", f"{GEN_IP}/24", "dev", "g0"])
        if self.a.rps:
            mask = format(1 << self.rtr_cpu, "x")
            self.ns(self.rtr, "sh", "-c", f"echo {mask} > /sys/class/net/r0/queues/rx-0/rps_cpus")
        fb.run(["ip", "-n", self.gen, "link", "set", "g0", "up"])
        fb.run(["ip", "-n", self.rtr, "link", "set", "r0", "up"])

    def kernel_bridge_on(self):
        self.kernel_bridge_off()
        self.ns(self.rtr, "ip", "link", "add", "br0", "type", "bridge")
        for d in ("r0", "r1"):
            self.ns(self.rtr, "ip", "link", "set", d, "master", "br0")
        self.ns(self.rtr, "ip", "link", "set", "br0", "up")
        # STP is off (the default): the ports forward as soon as they are up; wait for it.
        for _ in range(100):
            out = self.ns(self.rtr, "bridge", "-j", "link", "show", check=False).stdout
            try:
                states = {e["ifname"]: e.get("state") for e in json.loads(out or "[]")}
            except ValueError:
                states = {}
            if states.get("r0") == "forwarding" and states.get("r1") == "forwarding":
                return
            time.sleep(0.1)
        log(f"warning: bridge ports not forwarding after 10 s: {states}")

    def kernel_bridge_off(self):
        self.ns(self.rtr, "ip", "link", "del", "br0", check=False)

    def learn(self, mode, pfx):
        """The sink speaks first: its ARP request (broadcast, flooded) and echo requests teach
        the bridge s0's MAC on r1, gen's ARP reply teaches g0's on r0. The echo replies are
        dropped on s0 by the sink's XDP program; the sink's neighbour entry for gen shows that
        the reply to its ARP request crossed the bridge."""
        info = {}
        self.ns(self.sink, "ip", "neigh", "flush", "dev", "s0", check=False)
        r = self.ns(self.sink, "ping", "-c", "3", "-i", "0.2", "-W", "1", GEN_IP, check=False)
        info["ping"] = r.stdout.strip().splitlines()[-2:] if r.stdout.strip() else r.stderr.strip()
        out = self.ns(self.sink, "ip", "-j", "neigh", "show", GEN_IP, "dev", "s0", check=False).stdout
        try:
            n = json.loads(out or "[]")
            info["sink_neigh_gen"] = (n[0].get("lladdr"), n[0].get("state")) if n else None
        except ValueError:
            info["sink_neigh_gen"] = out.strip()
        if mode == "kernel":
            out = self.ns(self.rtr, "bridge", "-j", "fdb", "show", "br", "br0", check=False).stdout
            try:
                info["fdb"] = [{"mac": e["mac"], "port": e.get("ifname"), "flags": e.get("flags", []),
                                "state": e.get("state")} for e in json.loads(out or "[]")
                               if e.get("mac") in (G0_MAC, S0_MAC)]
            except ValueError:
                info["fdb"] = out.strip()
        elif mode == "sluice" and pfx:
            time.sleep(0.1)  # learning notes reach the control thread within ~1 ms
            r = self.cli(pfx, "--json", "bridge", "fdb")
            info["fdb"] = r
        learned = None
        if isinstance(info.get("fdb"), list):
            learned = any(e.get("mac") == S0_MAC and e.get("port") == "r1" for e in info["fdb"])
        elif isinstance(info.get("fdb"), str) and S0_MAC in info["fdb"]:
            learned = True
        info["sink_mac_learned"] = learned
        neigh = info.get("sink_neigh_gen")
        info["path_ok"] = bool(isinstance(neigh, tuple) and neigh[0] == G0_MAC)
        if not info["path_ok"]:
            log(f"  warning: the sink did not learn gen's MAC through the bridge: {neigh}")
        if learned is False:
            log(f"  warning: the bridge's FDB does not hold the sink's MAC on r1: {info['fdb']}")
        return info

    def cli(self, pfx, *args):
        r = fb.run(["ip", "netns", "exec", self.rtr, self.a.cli, "--socket", f"/tmp/{pfx}.sock", *args],
                   check=False)
        text = r.stdout.strip() or r.stderr.strip()
        try:
            return json.loads(text)
        except ValueError:
            return text

    # ---- routers and generator ------------------------------------------------------------
    def start_generator(self, traffic):
        cmd = self.testpmd_eal(self.gen_prefix, self.gen_cpu, ["net_af_xdp0,iface=g0"], 1024) + [
            "--", "--forward-mode=txonly", f"--total-num-mbufs={self.a.mbufs}",
            f"--eth-peer=0,{S0_MAC}", f"--tx-ip={GEN_IP},{SINK_IP}",
            f"--txpkts={self.a.frame_size - 4}", "--stats-period", "1"]
        if self.a.multi_flow:
            cmd.append("--txonly-multi-flow")
        self.setup_info["generator_command"] = " ".join(
            ["nice", "-n", str(self.a.gen_nice), "ip", "netns", "exec", self.gen, *cmd])
        return self.spawn(self.gen, cmd, f"gen-{len(self.trials)}.log", self.a.gen_nice)

    def start_router(self, mode):
        if mode == "kernel":
            self.kernel_bridge_on()
            self.cur["learning"] = self.learn(mode, None)
            return None, None, None, 0.0
        pfx = self.rtr_prefix
        self.prefixes_made.append(pfx)
        if mode == "sluice":
            cmd = [self.a.sluiced, "--port", "r0", "--port", "r1", "--bridge", "br0=r0,r1",
                   "--mirror", "off", "--no-huge", "--file-prefix", pfx,
                   "--control-socket", f"/tmp/{pfx}.sock",
                   "--lcores", f"0@{self.rtr_cpu},1@{self.rtr_cpu}"]
            ready = r"sluiced: ready"
        else:
            cmd = self.testpmd_eal(pfx, self.rtr_cpu, ["net_af_xdp0,iface=r0", "net_af_xdp1,iface=r1"],
                                   1024) + [
                "--", "--forward-mode=io", f"--total-num-mbufs={self.a.mbufs}", "--stats-period", "1"]
            ready = r"packet forwarding - ports="
        self.setup_info[f"{mode}_command"] = " ".join(
            ["nice", "-n", str(self.a.router_nice), "ip", "netns", "exec", self.rtr, *cmd])
        p, path, secs = self.spawn_ready(self.rtr, cmd, f"{mode}-{len(self.trials)}.log",
                                         self.a.router_nice, ready, mode)
        self.cur["learning"] = self.learn(mode, pfx if mode == "sluice" else None)
        return p, path, pfx, secs

    # ---- counters -------------------------------------------------------------------------
    def xdp_counters(self):
        """The XDP program's decision counters on r0 and r1 (sum over CPUs), by name, read
        with bpftool from the map named sluice_stats of the program attached to each port."""
        if not self.bpftool or not self.xdp_names:
            return None
        out = {}
        for d in ("r0", "r1"):
            try:
                info = json.loads(fb.run(["ip", "-n", self.rtr, "-j", "-d", "link", "show", "dev", d]).stdout)
                xdp = info[0].get("xdp") or {}
                prog = (xdp.get("prog") or {}).get("id")
                if prog is None and xdp.get("attached"):
                    prog = (xdp["attached"][0].get("prog") or {}).get("id")
                if prog is None:
                    out[d] = None
                    continue
                maps = json.loads(fb.run([self.bpftool, "-j", "prog", "show", "id", str(prog)]).stdout)
                vals = None
                for mid in maps.get("map_ids", []):
                    m = json.loads(fb.run([self.bpftool, "-j", "map", "show", "id", str(mid)]).stdout)
                    if m.get("name") == "sluice_stats":
                        dump = json.loads(fb.run([self.bpftool, "-j", "map", "dump", "id", str(mid)]).stdout)
                        vals = self.sum_percpu(dump)
                        break
                out[d] = vals
            except (subprocess.CalledProcessError, ValueError, KeyError, IndexError, OSError) as e:
                out[d] = f"unreadable: {e}"
        return out

    def sum_percpu(self, dump):
        """{counter name: value summed over CPUs} from `bpftool -j map dump` of a per-CPU
        array (with BTF: formatted keys and values; without: little-endian byte lists)."""
        def num(v):
            if isinstance(v, int):
                return v
            if isinstance(v, list):  # ["0x01", "0x00", ...], little-endian
                return int.from_bytes(bytes(int(x, 16) for x in v), "little")
            return int(v)
        res = {}
        for e in dump:
            f = e.get("formatted", e)
            key = num(f["key"])
            total = sum(num(c["value"]) for c in f["values"])
            name = self.xdp_names[key] if key < len(self.xdp_names) else f"stat{key}"
            res[name] = total
        return res

    def read_sluice_telemetry(self, s, prefix):
        """forward's telemetry read, plus sluiced's `sluice --json stats` and the XDP counters,
        both read next to the window's edge: after the telemetry (which takes about a second)
        when the window is about to open, before it when the window has just closed."""
        if "t" in s:  # the window has closed
            s.update(self.sluice_extra(prefix))
            super().read_sluice_telemetry(s, prefix)
        else:
            super().read_sluice_telemetry(s, prefix)
            s.update(self.sluice_extra(prefix))

    def sluice_extra(self, pfx):
        st = self.cli(pfx, "--json", "stats")
        if isinstance(st, dict):  # what the figures use: nodes, drops, ports, forwarded
            st = {k: st.get(k) for k in ("nodes", "drops", "ports", "forwarded", "bridge")}
        return {"sluice_cli_stats": st, "xdp_counters": self.xdp_counters()}

    # ---- one trial ------------------------------------------------------------------------
    def attempt(self, mode, traffic, rec):
        self.cur = rec
        try:
            return super().attempt(mode, traffic, rec)
        finally:
            shutil.rmtree(f"/var/run/dpdk/{self.gen_prefix}", ignore_errors=True)
            shutil.rmtree(f"/var/run/dpdk/{self.rtr_prefix}", ignore_errors=True)
            if os.path.exists(f"/tmp/{self.rtr_prefix}.sock"):
                os.unlink(f"/tmp/{self.rtr_prefix}.sock")
            if mode == "kernel":
                self.kernel_bridge_off()
            self.cur = None

    def trial(self, mode, rep, traffic):
        log(f"mode {mode}")
        rec = super().trial(mode, rep, traffic)
        if rec is None:
            return None
        snaps = rec.get("snapshots") or [{}, {}]
        if mode == "sluice" and len(snaps) == 2:
            rec["sluice_nodes_window"] = node_deltas(snaps[0].get("sluice_cli_stats"),
                                                     snaps[1].get("sluice_cli_stats"))
            rec["sluice_drops_window"] = drop_deltas(snaps[0].get("sluice_cli_stats"),
                                                     snaps[1].get("sluice_cli_stats"))
            rec["sluice_bridge_window"] = bridge_deltas(snaps[0].get("sluice_cli_stats"),
                                                        snaps[1].get("sluice_cli_stats"))
            rec["xdp_counters_window"] = xdp_deltas(snaps[0].get("xdp_counters"),
                                                    snaps[1].get("xdp_counters"))
            rec["xdp_counters_end"] = snaps[1].get("xdp_counters")
            for s in snaps:  # the deltas above are what is read; keep the snapshots small
                s.pop("sluice_cli_stats", None)
        return rec


def node_deltas(a, b):
    """{node: {packets, calls, cycles, cycles_per_packet, packets_per_call}} over the window,
    from two `sluice --json stats`; nodes that saw no packet are left out."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    na = {n["name"]: n for n in a.get("nodes") or []}
    out = {}
    for n in b.get("nodes") or []:
        o = na.get(n["name"])
        if o is None:
            continue
        pk = n["packets"] - o["packets"]
        calls = n["calls"] - o["calls"]
        cyc = n["cycles"] - o["cycles"]
        if pk <= 0 and n["name"] not in ("port-rx", "inject"):
            continue
        out[n["name"]] = {"packets": pk, "calls": calls, "cycles": cyc,
                          "cycles_per_packet": cyc / pk if pk else None,
                          "packets_per_call": pk / calls if calls else None}
    return out


def drop_deltas(a, b):
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    da, db = a.get("drops") or {}, b.get("drops") or {}
    return {k: v - da.get(k, 0) for k, v in db.items() if v - da.get(k, 0)}


def bridge_deltas(a, b):
    """sluiced's bridge totals (`stats`' "bridge": learning notes, floods, FDB entries) over
    the window: counters as differences, fdb_entries as at the end."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    ba, bb = a.get("bridge") or {}, b.get("bridge") or {}
    if not bb:
        return None
    gauges = ("bridges", "fdb_entries", "fdb_capacity", "fdb_bytes")
    return {k: (v if k in gauges else v - ba.get(k, 0)) for k, v in bb.items()
            if isinstance(v, int)}


def xdp_deltas(a, b):
    if not isinstance(a, dict) or not isinstance(b, dict):
        return None
    out = {}
    for port in b:
        pa, pb = a.get(port), b.get(port)
        if isinstance(pa, dict) and isinstance(pb, dict):
            out[port] = {k: v - pa.get(k, 0) for k, v in pb.items() if v - pa.get(k, 0)}
    return out


def node_summary(trials):
    """Median over the sluice trials of each node's cycles per packet and packets per call
    (from `sluice --json stats`), and of the bridged path's total (eth-input + bridge-input)."""
    cpp, ppc, path, flood = {}, {}, [], []
    for t in trials:
        nodes = t.get("sluice_nodes_window")
        if not nodes:
            continue
        for k, v in nodes.items():
            if v["packets"] >= 1000 and k not in ("port-rx", "inject"):
                cpp.setdefault(k, []).append(v["cycles_per_packet"])
                ppc.setdefault(k, []).append(v["packets_per_call"])
        if "eth-input" in nodes and "bridge-input" in nodes:
            path.append(nodes["eth-input"]["cycles_per_packet"] + nodes["bridge-input"]["cycles_per_packet"])
        rx = (nodes.get("port-rx") or {}).get("packets")
        if rx:
            flood.append((nodes.get("bridge-flood") or {}).get("packets", 0) / rx)
    if not cpp:
        return None
    return {"cycles_per_packet": {k: fb.median(v) for k, v in cpp.items()},
            "packets_per_call": {k: fb.median(v) for k, v in ppc.items()},
            "bridged_path_cycles_per_packet": fb.median(path),
            "bridged_path_cycles_spread": fb.spread(path),
            "flooded_fraction": fb.median(flood)}


METHOD = """\
Topology: gen g0 {gen}/24 -- r0 [br] r1 -- s0 {sink}/24 [sink], veth pairs in namespaces of
their own (brb-gen/br/sink-<id>); MACs g0 {g0mac}, s0 {s0mac}; {sinkdrop}.
The bridge host br holds, per trial, one of:
  sluice   sluiced --port r0 --port r1 --bridge br0=r0,r1 --mirror off (AF_XDP; static mode,
           one worker; its XDP program sends unicast to a non-local MAC to the fast path)
  kernel   a Linux bridge br0 (ip link add br0 type bridge; r0, r1 its members; STP off;
           br_netfilter's bridge-nf-call-iptables {brnf} in br's namespace)
  testpmd  dpdk-testpmd --forward-mode=io on r0 and r1 (AF_XDP): the AF_XDP-on-veth ceiling,
           r0 <-> r1 without looking at the frames
Learning: before the generator starts, the sink pings gen (ping -c 3 {gen}): its ARP request
(flooded) and echo requests put s0's MAC on r1 in the bridge's FDB, gen's ARP reply puts g0's
on r0 (the bridges age entries after 300 s; a trial lasts well under a minute). The FDB is
read back per trial (sluice bridge fdb / bridge fdb show) and the sink's neighbour entry
for gen checked (gen's ARP reply crossed the bridge).
Generator: dpdk-testpmd --forward-mode=txonly over AF_XDP on g0, {frame}-byte UDP frames from
g0's MAC to s0's MAC ({gen} -> {sink}{mf}), on CPU {gcpu} at nice {gnice}, the same command in
every trial. Bridges on CPU {rcpu}: sluiced and testpmd --lcores 0@{rcpu},1@{rcpu} at nice
{rnice}; the kernel through RPS on r0 (rps_cpus of rx-0 = CPU {rcpu}): the bridging, r1's transmit
and the sink's receive run in softirq there.
Trial sequence, stall and contention handling and the cycle figures as in scripts/bench
forward (perf/forward/README.md): {idle} s of background sampling, bridge start, learning,
generator start, {warm} s warm-up after g0's first packet, then a {secs} s window.
offered = g0's TX packets, delivered = s0's RX packets, both over the window.
Cycles per delivered packet (TSC {mhz:.0f} MHz): router = the kernel's softirq time, or
sluiced's/testpmd's process time + AF_XDP receive softirq on the other CPU; system = router +
generator; graph = sluiced's rte_graph node cycles (all nodes but port-rx and inject) per
received packet. sluiced's per-node figures come from `sluice --json stats` read just before
and just after the window; its XDP program's counters from bpftool (map sluice_stats).
The machine is shared with other work: absolute figures are context, the ratios are the result.
"""


def write_markdown(path, doc):
    s = doc["summary"]
    L = [f"# bridge benchmark {doc['started_utc']}\n"]
    m = doc["machine"]
    L.append(f"Machine: {m['cpu_model']}, {m['nproc']} CPUs, kernel {m['kernel']}, DPDK {m['dpdk']}. "
             f"Load average at the start: {doc['loadavg_start']}.\n")
    L.append(f"Command: `{doc['command']}`; {doc['settings']['repetitions']} repetitions of "
             f"{doc['settings']['seconds']:g} s per mode, interleaved. sluiced: "
             f"{doc['settings']['sluiced']} (sha256 {doc['setup'].get('sluiced_sha256', '?')[:16]}..., "
             f"checkout {doc['setup'].get('git')})" +
             (f"; built from: {doc['setup']['sluiced_source']}" if doc['setup'].get('sluiced_source')
              else "") + ".\n")
    L.append("Medians over the trials (min-max). Cycles are per delivered packet.\n")
    L.append("| mode | offered Mpps | delivered Mpps | r0 rx dropped Mpps | router cycles/pkt | "
             "router CPU share | system cycles/pkt | kernel softirq cycles/pkt | sluice graph "
             "cycles/pkt | sink MAC learned |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for mode in doc["modes"]:
        e = s.get(mode)
        if not e:
            continue
        lo, hi = e["delivered_pps_spread"]
        olo, ohi = e["offered_pps_spread"]
        clo, chi = e["cpp_router_spread"]
        graph = "-" if e.get("cpp_graph_nodes") is None else fb.fmt_num(e["cpp_graph_nodes"])
        learned = [(t.get("learning") or {}).get("sink_mac_learned") for t in doc["trials"]
                   if t["mode"] == mode]
        L.append(f"| {mode} | {e['offered_pps'] / 1e6:.3f} ({olo / 1e6:.3f}-{ohi / 1e6:.3f}) | "
                 f"{e['delivered_pps'] / 1e6:.3f} ({lo / 1e6:.3f}-{hi / 1e6:.3f}) | "
                 f"{e['r0_rx_dropped_pps'] / 1e6:.3f} | {fb.fmt_num(e['cpp_router'])} "
                 f"({fb.fmt_num(clo)}-{fb.fmt_num(chi)}) | {e['router_cpu_share']:.2f} | "
                 f"{fb.fmt_num(e['cpp_system'])} | {fb.fmt_num(e['cpp_kernel_softirq'])} | {graph} | "
                 f"{', '.join('-' if x is None else ('yes' if x else 'no') for x in learned)} |")
    L.append("")
    ns = doc.get("sluice_nodes")
    if ns:
        L.append("sluiced's nodes over the window (`sluice --json stats`, median of the sluice "
                 "trials), cycles per packet (packets per call): " +
                 ", ".join(f"{k} {v:,.1f} ({ns['packets_per_call'].get(k) or 0:.1f})"
                           for k, v in ns["cycles_per_packet"].items()) + ".")
        L.append(f"Bridged path eth-input + bridge-input: "
                 f"{fb.fmt_num(ns['bridged_path_cycles_per_packet'], 1)} cycles per packet "
                 f"({fb.fmt_num(ns['bridged_path_cycles_spread'][0], 1)}-"
                 f"{fb.fmt_num(ns['bridged_path_cycles_spread'][1], 1)}); bridge-flood / port-rx "
                 f"packets: {ns['flooded_fraction'] if ns['flooded_fraction'] is not None else 'n/a'}.\n")
    xs = [t.get("xdp_counters_window") for t in doc["trials"] if t["mode"] == "sluice"]
    if any(xs):
        L.append("XDP program's counters over each sluice trial's window (bpftool, map "
                 "sluice_stats; summed over CPUs):\n")
        for i, x in enumerate(xs, 1):
            L.append(f"- trial {i}: " + "; ".join(
                f"{p}: " + (", ".join(f"{k} {v}" for k, v in c.items()) or "nothing")
                for p, c in (x or {}).items()))
        L.append("")
    bt = [t.get("sluice_bridge_window") for t in doc["trials"] if t["mode"] == "sluice"]
    if any(bt):
        L.append("sluiced's bridge counters over each sluice trial's window (`stats`' bridge: "
                 "learning notes, floods; fdb_entries at the end):\n")
        for i, x in enumerate(bt, 1):
            L.append(f"- trial {i}: " + ", ".join(f"{k} {v}" for k, v in (x or {}).items()
                                                  if k not in ("fdb_capacity", "fdb_bytes")))
        L.append("")
    drops = [t.get("sluice_drops_window") for t in doc["trials"] if t["mode"] == "sluice"]
    if any(drops):
        L.append("sluiced's drops over the window: " + "; ".join(
            f"trial {i}: " + (", ".join(f"{k} {v}" for k, v in (d or {}).items()) or "none")
            for i, d in enumerate(drops, 1)) + "\n")
    L.append("Ratios (> 1 means sluice is better):\n")
    L.append("```")
    L.extend(doc["ratios"])
    L.append("```\n")
    L.append("Goal (docs/bridging.md, Benchmarks): sluice >= 2 x the Linux bridge in delivered rate.\n")
    if doc.get("notes"):
        L.append("Notes:\n")
        L.extend(f"- {n}" for n in doc["notes"])
        L.append("")
    L.append("Trials in run order:\n")
    L.append("| # | mode | offered Mpps | delivered Mpps | r0 rx dropped | router cycles/pkt | "
             "router CPU share | background busy CPUs | generator / router waited for CPU | "
             "bridge-input cycles/pkt | thrown-away attempts |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, t in enumerate(doc["trials"], 1):
        bi = ((t.get("sluice_nodes_window") or {}).get("bridge-input") or {}).get("cycles_per_packet")
        L.append(f"| {i} | {t['mode']} | {t['offered_pps'] / 1e6:.3f} | {t['delivered_pps'] / 1e6:.3f} | "
                 f"{t['r0_rx_dropped']} | {fb.fmt_num(t['cycles_per_packet']['router'])} | "
                 f"{t['cpu']['router_cpu_share']:.2f} | {t['cpu']['background_busy_per_s']:.2f} | "
                 f"{fb.pct(t['cpu'].get('generator_wait_s'), t['seconds'])} / "
                 f"{fb.pct(t['cpu'].get('router_wait_s'), t['seconds'])} | "
                 f"{'-' if bi is None else f'{bi:.1f}'} | {len(t.get('stalled_attempts', []))} |")
    L.append("\nMethod:\n")
    L.append("```")
    L.append(doc["method"].rstrip())
    L.append("```")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluiced", required=True)
    ap.add_argument("--cli", required=True, help="the sluice CLI (stats, bridge fdb)")
    ap.add_argument("--sluiced-source", default="",
                    help="where the sluiced binary was built from, when not this checkout's tree "
                         "(recorded as given)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--idle-seconds", type=float, default=2)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--frame-size", type=int, default=64, help="bytes on the wire with the CRC")
    ap.add_argument("--no-multi-flow", dest="multi_flow", action="store_false")
    ap.add_argument("--kernel-br-netfilter", action="store_true",
                    help="leave br_netfilter's bridge-nf-call-* at the namespace's default "
                         "(iptables hooks on bridged frames) instead of turning them off")
    fb.add_trial_args(ap, "scripts/bench bridge")
    a = ap.parse_args()
    fb.parse_modes(ap, a, MODES)
    a.gateways = 0  # forward's gateways: none here
    a.tsc_hz = fb.tsc_hz()
    signal.signal(signal.SIGTERM, fb.on_signal)
    signal.signal(signal.SIGINT, fb.on_signal)
    started = datetime.now(timezone.utc)
    with open("/proc/loadavg") as f:
        loadavg_start = " ".join(f.read().split()[:3])
    b = BridgeBench(a)
    fb.record_provenance(b, a.sluiced)
    if a.sluiced_source:
        b.setup_info["sluiced_source"] = a.sluiced_source
    notes = []

    def body():
        b.setup()
        for rep in range(a.repetitions):
            for m in a.modes:
                b.trial(m, rep, "unicast")
    status = fb.run_trials(b, body, notes)
    if not b.trials:
        return status or 1

    notes += b.failed
    modes = [m for m in a.modes if any(t["mode"] == m for t in b.trials)]
    s = fb.summarize(b.trials, modes)
    for t in b.trials:
        label = f"{t['mode']} trial {t['repetition'] + 1}"
        lr = t.get("learning") or {}
        if t["mode"] != "testpmd" and lr.get("sink_mac_learned") is False:
            notes.append(f"{label}: the bridge's FDB did not hold the sink's MAC on r1 after "
                         f"learning: {str(lr.get('fdb'))[:300]}")
        if not lr.get("path_ok", True):
            notes.append(f"{label}: the sink did not get gen's ARP reply through the bridge "
                         f"(neighbour entry {lr.get('sink_neigh_gen')})")
        if t["offered_pps"] > 0 and t["delivered_pps"] < 0.1 * t["offered_pps"]:
            notes.append(f"{label}: delivered {t['delivered_pps']:.0f} pps of {t['offered_pps']:.0f} "
                         "offered: the bridge all but stopped forwarding (see the trial's XDP "
                         "counters, drops and output in the JSON)")
        nodes = t.get("sluice_nodes_window") or {}
        rx = (nodes.get("port-rx") or {}).get("packets") or 0
        fl = (nodes.get("bridge-flood") or {}).get("packets") or 0
        if rx and fl > 0.01 * rx:
            notes.append(f"{label}: bridge-flood took {fl} of {rx} received packets (the sink's "
                         "MAC was not known)")
        if t["mode"] == "sluice" and t.get("sluice_drops_window"):
            notes.append(f"{label}: sluiced dropped " + ", ".join(
                f"{k} {v}" for k, v in t["sluice_drops_window"].items()))
        if t["rtr_ip_forw_datagrams"] > 0:
            notes.append(f"{label}: br's kernel IP-forwarded {t['rtr_ip_forw_datagrams']} packets "
                         "(bridging should not)")
        notes += fb.common_trial_notes(t, label)
    if not b.bpftool:
        notes.append("bpftool not installed: no XDP counters")
    brnf = b.setup_info.get("br_netfilter")
    method = METHOD.format(gen=GEN_IP, sink=SINK_IP, g0mac=G0_MAC, s0mac=S0_MAC,
                           sinkdrop=("an XDP program on s0 drops IPv4 frames on arrival (counted first)"
                                     if a.sink_drop else "the sink's kernel drops the frames"),
                           brnf=(brnf.get("bridge-nf-call-iptables", {}).get("used", "?")
                                 if isinstance(brnf, dict) else "n/a"),
                           frame=a.frame_size, mf=", sources varied (--txonly-multi-flow)"
                           if a.multi_flow else "", gcpu=a.gen_cpu, rcpu=a.router_cpu,
                           gnice=a.gen_nice, rnice=a.router_nice, idle=a.idle_seconds,
                           warm=a.warmup, secs=a.seconds, mhz=a.tsc_hz / 1e6)
    if not a.rps:
        method = method.replace("the kernel through RPS on r0 (rps_cpus of rx-0 = CPU", "the kernel "
                                "where veth puts it (no RPS; CPU")
    ratios = fb.ratio_lines(s)
    node_s = node_summary([t for t in b.trials if t["mode"] == "sluice"])
    if node_s and node_s.get("bridged_path_cycles_per_packet") is not None:
        ratios.append(f"bridged-path-cycles-per-packet sluice "
                      f"{node_s['bridged_path_cycles_per_packet']:.1f}")
    model, dpdk = fb.machine_info()
    doc = {
        "benchmark": "bridge",
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": a.command,
        "loadavg_start": loadavg_start,
        "machine": {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
                    "dpdk": dpdk, "tsc_hz": a.tsc_hz},
        "settings": {k: v for k, v in vars(a).items() if k != "tsc_hz"},
        "setup": b.setup_info,
        "method": method,
        "modes": modes,
        "summary": s,
        "sluice_nodes": node_s,
        "ratios": ratios,
        "notes": notes,
        "trials": b.trials,
        "complete": status == 0,
    }
    os.makedirs(a.out_dir, exist_ok=True)
    stem = os.path.join(a.out_dir, "bridge-" + started.strftime("%Y%m%d-%H%M%S"))
    with open(stem + ".json", "w") as f:
        json.dump(doc, f, indent=1)
    write_markdown(stem + ".md", doc)

    print()
    print(f"# machine: {model}, {os.cpu_count()} CPUs; kernel {platform.release()}; DPDK {dpdk}; "
          f"load average at start {loadavg_start}")
    print(f"# {a.repetitions} x {a.seconds:g} s per mode, interleaved; results: {stem}.json, {stem}.md")
    for m in modes:
        e = s[m]
        lo, hi = e["delivered_pps_spread"]
        line = (f"#   {m:8s} offered {e['offered_pps'] / 1e6:.3f} Mpps, delivered "
                f"{e['delivered_pps'] / 1e6:.3f} Mpps ({lo / 1e6:.3f}-{hi / 1e6:.3f}); cycles/pkt "
                f"router {fb.fmt_num(e['cpp_router'])} (CPU share {e['router_cpu_share']:.2f}), "
                f"system {fb.fmt_num(e['cpp_system'])}, kernel softirq {fb.fmt_num(e['cpp_kernel_softirq'])}")
        if e.get("cpp_graph_nodes") is not None:
            line += f", graph nodes {fb.fmt_num(e['cpp_graph_nodes'])}"
        print(line)
    if node_s:
        print("# sluiced nodes, cycles/packet: " + ", ".join(
            f"{k} {node_s['cycles_per_packet'][k]:.1f}" for k in PATH_NODES
            if k in node_s["cycles_per_packet"]))
    for n in notes:
        print(f"# note: {n}")
    for line in ratios:
        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
