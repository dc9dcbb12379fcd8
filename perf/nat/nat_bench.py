#!/usr/bin/env python3
"""nat_bench.py — the engine of `scripts/bench nat` (perf/nat/README.md says why).

On the forward benchmark's veth topology (gen -- rtr -- sink, perf/forward/forward_bench.py,
whose machinery this reuses), with 10,000 concurrent UDP flows from one generator, measures
in one run the packets per second delivered at the sink and the CPU spent per delivered packet
by four routers in rtr, trial after trial in interleaved order:
  sluice-nat  sluiced on r0 and r1 (AF_XDP), --masquerade 10.254.0.0/16,out=r1
  kernel-nat  rtr's kernel, iptables -t nat -A POSTROUTING -s 10.254.0.0/16 -o r1 -j MASQUERADE
  sluice      sluiced, no NAT (what masquerading costs sluice)
  kernel      rtr's kernel, no NAT (and no conntrack: the nat table is deleted between trials)
Writes the JSON of every trial and a Markdown summary, and prints the ratio lines.
Standard library only; run as root (scripts/bench nat installs what is missing).
"""

import argparse
import json
import os
import platform
import signal
import sys
from datetime import datetime, timezone

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "forward"))
import forward_bench as fb  # noqa: E402

MODES = ("sluice-nat", "kernel-nat", "sluice", "kernel")
# testpmd's flowgen sends from 10.254.0.0 UDP port 1000 to 10.253.<flow> port 1001, one
# destination per flow (--flowgen-flows), Ethernet 00:01:02:03:04:00 -> 00:01:02:03:04:01;
# those are fixed in testpmd 22.11, so the topology is built around them.
INSIDE = "10.254.0.0/16"
DEST = "10.253.0.0/16"
GATEWAY = "10.2.0.2"


def log(msg):
    print(f"[bench nat] {msg}", file=sys.stderr, flush=True)


class NatBench(fb.Bench):
    G0_MAC, R0_MAC = "00:01:02:03:04:00", "00:01:02:03:04:01"  # flowgen's own addresses

    def __init__(self, args):
        super().__init__(args)
        self.nat = False  # whether the trial running now translates

    def setup(self):
        super().setup()
        # The kernel's route for the flows' destinations (sluiced gets the same with --route).
        self.ns(self.rtr, "ip", "route", "add", DEST, "via", GATEWAY)
        self.kernel_nat_off()
        self.setup_info["kernel_nat_rule"] = (f"iptables -t nat -A POSTROUTING -s {INSIDE} -o r1 "
                                              "-j MASQUERADE")
        self.setup_info["iptables"] = fb.run(["iptables", "-V"], check=False).stdout.strip()

    def kernel_nat_on(self):
        self.kernel_nat_off()  # an attempt run again must not add the rule twice
        self.ns(self.rtr, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", INSIDE, "-o", "r1",
                "-j", "MASQUERADE")

    def kernel_nat_off(self):
        """No nat table at all in rtr: with it gone, conntrack unhooks from rtr's netns too, so
        the plain kernel trials forward without connection tracking, as a router without NAT
        does. Only rtr's namespace is touched."""
        self.ns(self.rtr, "nft", "delete", "table", "ip", "nat", check=False)

    def conntrack_count(self):
        r = self.ns(self.rtr, "cat", "/proc/sys/net/netfilter/nf_conntrack_count", check=False)
        return int(r.stdout) if r.returncode == 0 and r.stdout.strip().isdigit() else None

    def snapshot(self, gen_pid, rtr_pid, sluice_prefix, telemetry_first):
        s = super().snapshot(gen_pid, rtr_pid, sluice_prefix, telemetry_first)
        s["conntrack_count"] = self.conntrack_count()
        if self.nat and rtr_pid is None and not telemetry_first:
            # kernel-nat: the rule (its counter sees only the first packet of a connection that
            # conntrack did not already hold) and the entries whose reply goes to r1's address.
            r = self.ns(self.rtr, "iptables", "-t", "nat", "-L", "POSTROUTING", "-n", "-v", "-x",
                        check=False)
            s["iptables_postrouting"] = r.stdout
            r = self.ns(self.rtr, "cat", "/proc/net/nf_conntrack", check=False)
            lines = r.stdout.splitlines()
            s["conntrack_sample"] = lines[0] if lines else r.stderr.strip()
            s["conntrack_masqueraded"] = sum(1 for ln in lines if f" dst={fb.R1_IP} " in ln)
        if self.nat and sluice_prefix:
            r = fb.run(["ip", "netns", "exec", self.rtr, self.a.cli, "--socket",
                        f"/tmp/{sluice_prefix}.sock", "--json", "nat", "show"], check=False)
            s["sluice_nat_show"] = r.stdout.strip() or r.stderr.strip()
        return s

    def start_generator(self, traffic):
        pfx = f"fwb-gen-{self.id}"
        cmd = self.testpmd_eal(pfx, self.gen_cpu, ["net_af_xdp0,iface=g0"], 1024) + [
            "--", "--forward-mode=flowgen", f"--flowgen-flows={self.a.flows}",
            f"--total-num-mbufs={self.a.mbufs}", "--stats-period", "1"]
        self.setup_info["generator_command"] = " ".join(
            ["nice", "-n", str(self.a.gen_nice), "ip", "netns", "exec", self.gen, *cmd])
        return self.spawn(self.gen, cmd, f"gen-{len(self.trials)}.log", self.a.gen_nice)

    def start_router(self, mode):
        if mode == "kernel":
            if self.nat:
                self.kernel_nat_on()
            return None, None, None, 0.0
        pfx = f"fwb-rtr-{self.id}"
        self.prefixes_made.append(pfx)
        cmd = [self.a.sluiced, "--port", "r0", "--port", "r1", "--mirror", "off",
               "--addr", f"r0={fb.R0_IP}/24", "--addr", f"r1={fb.R1_IP}/24",
               "--route", f"{DEST}={GATEWAY}", "--no-huge", "--file-prefix", pfx,
               "--control-socket", f"/tmp/{pfx}.sock",
               "--lcores", f"0@{self.rtr_cpu},1@{self.rtr_cpu}"]
        if self.nat:
            cmd += ["--masquerade", f"{INSIDE},out=r1"]
        label = "sluice-nat" if self.nat else "sluice"
        self.setup_info[f"{label}_command"] = " ".join(
            ["nice", "-n", str(self.a.router_nice), "ip", "netns", "exec", self.rtr, *cmd])
        p, path, secs = self.spawn_ready(self.rtr, cmd, f"{label}-{len(self.trials)}.log",
                                         self.a.router_nice, r"sluiced: ready", "sluiced")
        return p, path, pfx, secs

    def trial(self, label, rep, traffic):
        base = label.split("-")[0]
        self.nat = label.endswith("-nat")
        log(f"mode {label}")
        try:
            rec = super().trial(base, rep, traffic)
        finally:
            if base == "kernel" and self.nat:
                self.kernel_nat_off()
            self.nat = False
        if rec is not None:
            rec["mode"] = label
            rec["nat"] = label.endswith("-nat")
            snaps = rec.get("snapshots") or [{}, {}]
            rec["conntrack_count_end"] = snaps[-1].get("conntrack_count")
            rec["nat_nodes_packets"] = nat_node_packets(snaps)
            # Sessions at the end of the window: sluiced's own count, or the kernel's conntrack
            # entries translated to r1's address.
            if rec["nat"] and base == "sluice":
                try:
                    rec["nat_sessions_end"] = json.loads(snaps[-1].get("sluice_nat_show") or "")[
                        "totals"]["sessions"]
                except (ValueError, KeyError, TypeError):
                    rec["nat_sessions_end"] = None
            elif rec["nat"]:
                rec["nat_sessions_end"] = snaps[-1].get("conntrack_masqueraded")
        return rec


def nat_node_packets(snaps):
    """Packets through sluiced's nat-pre and nat-post over the window (telemetry)."""
    if len(snaps) < 2:
        return None
    norm = lambda n: {k.replace("_", "-"): v for k, v in (n or {}).items()}  # noqa: E731
    a, b = norm(snaps[0].get("sluice_nodes")), norm(snaps[1].get("sluice_nodes"))
    out = {k: b[k]["packets"] - a[k]["packets"] for k in ("nat-pre", "nat-post") if k in a and k in b}
    return out or None


def ratio_lines(s):
    g = lambda m, k: s.get(m, {}).get(k)  # noqa: E731
    r = fb.ratio
    lines = [
        ("delivered sluice-nat/kernel-nat", r(g("sluice-nat", "delivered_pps"), g("kernel-nat", "delivered_pps"))),
        ("cycles-per-packet kernel-nat/sluice-nat", r(g("kernel-nat", "cpp_router"), g("sluice-nat", "cpp_router"))),
        ("cycles-per-packet-system kernel-nat/sluice-nat",
         r(g("kernel-nat", "cpp_system"), g("sluice-nat", "cpp_system"))),
        ("cycles-per-packet-work kernel-nat-softirq/sluice-nat-graph",
         r(g("kernel-nat", "cpp_kernel_softirq"), g("sluice-nat", "cpp_graph_nodes"))),
        ("delivered-kept-with-nat sluice-nat/sluice", r(g("sluice-nat", "delivered_pps"), g("sluice", "delivered_pps"))),
        ("delivered-kept-with-nat kernel-nat/kernel", r(g("kernel-nat", "delivered_pps"), g("kernel", "delivered_pps"))),
        ("cycles-per-packet-nat-cost sluice/sluice-nat", r(g("sluice", "cpp_router"), g("sluice-nat", "cpp_router"))),
        ("cycles-per-packet-nat-cost kernel/kernel-nat", r(g("kernel", "cpp_router"), g("kernel-nat", "cpp_router"))),
    ]
    out = [f"ratio {name} {fb.fmt_ratio(v)}" for name, v in lines]
    a, b = g("sluice-nat", "cpp_graph_nodes"), g("sluice", "cpp_graph_nodes")
    if a is not None and b is not None:
        out.append(f"nat-extra-graph-cycles-per-packet sluice {a - b:.0f}")
    a, b = g("kernel-nat", "cpp_kernel_softirq"), g("kernel", "cpp_kernel_softirq")
    if a is not None and b is not None:
        out.append(f"nat-extra-softirq-cycles-per-packet kernel {a - b:.0f}")
    return out


METHOD = """\
Topology: gen g0 -- r0 10.1.0.1/24 [rtr] r1 10.2.0.1/24 -- s0 10.2.0.2/24 [sink], veth pairs
in namespaces of their own (perf/forward's machinery); {sink}.
Route in rtr: {dest} via 10.2.0.2 (kernel: ip route; sluiced: --route {dest}=10.2.0.2,
static mode --mirror off).
Generator: dpdk-testpmd --forward-mode=flowgen --flowgen-flows={flows} over AF_XDP on g0,
64-byte UDP frames from 10.254.0.0:1000 to 10.253.x.y:1001, one destination per flow, the flows
in turn: {flows} concurrent sessions in every NAT router. On CPU {gcpu} at nice {gnice},
the same command in every trial.
NAT: sluice-nat = sluiced --masquerade {inside},out=r1 (one worker); kernel-nat = rtr's kernel
with `iptables -t nat -A POSTROUTING -s {inside} -o r1 -j MASQUERADE` (conntrack and nf_nat
in rtr's namespace only); sluice and kernel = the same without NAT (the nat table is deleted
from rtr after every kernel-nat trial, which unhooks conntrack from the namespace).
Routers on CPU {rcpu} (sluiced --lcores 0@{rcpu},1@{rcpu} at nice {rnice}; the kernel through RPS
on r0), trial sequence, stall and contention handling and the cycle figures exactly as in
scripts/bench forward (perf/forward/README.md): {idle} s of background sampling, router
start, generator start, {warm} s warm-up after g0's first packet (the sessions are created
in it), then a {secs} s window. offered = g0's TX packets, delivered = s0's RX packets.
Cycles per delivered packet (TSC {mhz:.0f} MHz): router = the kernel's softirq time, or
sluiced's process time + AF_XDP receive softirq on the other CPU; system = router + generator;
graph = sluiced's rte_graph node cycles per received packet (no polling).
Evidence of translation, per trial in the JSON: sluiced's nat-pre/nat-post node packets and
`sluice nat show`; the kernel's nf_conntrack_count and the MASQUERADE rule's counters.
The machine is shared with other work: absolute figures are context, the ratios are the result.
"""


def write_markdown(path, doc):
    s = doc["summary"]
    L = [f"# NAT benchmark {doc['started_utc']}\n"]
    m = doc["machine"]
    L.append(f"Machine: {m['cpu_model']}, {m['nproc']} CPUs, kernel {m['kernel']}, DPDK {m['dpdk']}; "
             f"{doc['setup'].get('iptables', '')}. Load average at the start: {doc['loadavg_start']}.\n")
    L.append(f"Command: `{doc['command']}`; {doc['settings']['repetitions']} repetitions of "
             f"{doc['settings']['seconds']:g} s per mode, interleaved; {doc['settings']['flows']} "
             f"concurrent flows. sluiced: {doc['settings']['sluiced']} (sha256 "
             f"{doc['setup'].get('sluiced_sha256', '?')[:16]}..., checkout {doc['setup'].get('git')}).\n")
    L.append("Medians over the trials (min-max). Cycles are per delivered packet.\n")
    L.append("| mode | offered Mpps | delivered Mpps | r0 rx dropped Mpps | router cycles/pkt | "
             "router CPU share | system cycles/pkt | kernel softirq cycles/pkt | sluice graph "
             "cycles/pkt | NAT sessions (end of window) | rtr IpForwDatagrams |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for mode in doc["modes"]:
        e = s.get(mode)
        if not e:
            continue
        lo, hi = e["delivered_pps_spread"]
        olo, ohi = e["offered_pps_spread"]
        clo, chi = e["cpp_router_spread"]
        graph = "-" if e.get("cpp_graph_nodes") is None else fb.fmt_num(e["cpp_graph_nodes"])
        ct = [t.get("nat_sessions_end") for t in doc["trials"] if t["mode"] == mode]
        L.append(f"| {mode} | {e['offered_pps'] / 1e6:.3f} ({olo / 1e6:.3f}-{ohi / 1e6:.3f}) | "
                 f"{e['delivered_pps'] / 1e6:.3f} ({lo / 1e6:.3f}-{hi / 1e6:.3f}) | "
                 f"{e['r0_rx_dropped_pps'] / 1e6:.3f} | {fb.fmt_num(e['cpp_router'])} "
                 f"({fb.fmt_num(clo)}-{fb.fmt_num(chi)}) | {e['router_cpu_share']:.2f} | "
                 f"{fb.fmt_num(e['cpp_system'])} | {fb.fmt_num(e['cpp_kernel_softirq'])} | {graph} | "
                 f"{', '.join('-' if c is None else str(c) for c in ct)} | "
                 f"{', '.join(str(x) for x in e['ip_forw_datagrams'])} |")
    L.append("")
    for mode in ("sluice-nat", "sluice"):
        nodes = s.get(mode, {}).get("sluice_node_cycles_per_packet")
        if nodes:
            L.append(f"sluiced's nodes in {mode}, cycles per packet (median of the trials): " +
                     ", ".join(f"{k} {v:,.0f}" for k, v in nodes.items()) + "\n")
    L.append("Ratios (> 1 means sluice is better; `kept-with-nat`: delivered with NAT / without; "
             "`nat-cost`: cycles without NAT / with):\n")
    L.append("```")
    L.extend(doc["ratios"])
    L.append("```\n")
    L.append("Goal (issue 5): sluice masquerading >= 3 x the kernel's MASQUERADE in delivered rate.\n")
    if doc.get("notes"):
        L.append("Notes:\n")
        L.extend(f"- {n}" for n in doc["notes"])
        L.append("")
    L.append("Trials in run order:\n")
    L.append("| # | mode | offered Mpps | delivered Mpps | r0 rx dropped | router cycles/pkt | "
             "router CPU share | background busy CPUs | generator / router waited for CPU | "
             "nat-post packets | thrown-away attempts |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, t in enumerate(doc["trials"], 1):
        natp = (t.get("nat_nodes_packets") or {}).get("nat-post", "-")
        L.append(f"| {i} | {t['mode']} | {t['offered_pps'] / 1e6:.3f} | {t['delivered_pps'] / 1e6:.3f} | "
                 f"{t['r0_rx_dropped']} | {fb.fmt_num(t['cycles_per_packet']['router'])} | "
                 f"{t['cpu']['router_cpu_share']:.2f} | {t['cpu']['background_busy_per_s']:.2f} | "
                 f"{fb.pct(t['cpu'].get('generator_wait_s'), t['seconds'])} / "
                 f"{fb.pct(t['cpu'].get('router_wait_s'), t['seconds'])} | {natp} | "
                 f"{len(t.get('stalled_attempts', []))} |")
    L.append("\nMethod:\n")
    L.append("```")
    L.append(doc["method"].rstrip())
    L.append("```")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sluiced", required=True)
    ap.add_argument("--cli", required=True, help="the sluice CLI (for `sluice nat show`)")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--idle-seconds", type=float, default=2)
    ap.add_argument("--modes", default=",".join(MODES))
    fb.add_trial_args(ap, "scripts/bench nat")
    a = ap.parse_args()
    fb.parse_modes(ap, a, MODES)
    if not 1 <= a.flows <= 65536:
        ap.error("--flows must be 1..65536 (flowgen's destinations are 10.253.0.0/16)")
    a.gateways = 1  # the sink holds 10.2.0.2, the route's gateway
    a.tsc_hz = fb.tsc_hz()
    signal.signal(signal.SIGTERM, fb.on_signal)
    signal.signal(signal.SIGINT, fb.on_signal)
    started = datetime.now(timezone.utc)
    with open("/proc/loadavg") as f:
        loadavg_start = " ".join(f.read().split()[:3])
    b = NatBench(a)
    fb.record_provenance(b, a.sluiced)
    notes = []

    def body():
        b.setup()
        for rep in range(a.repetitions):
            for m in a.modes:
                b.trial(m, rep, "flows")
    status = fb.run_trials(b, body, notes)
    if not b.trials:
        return status or 1

    notes += b.failed
    modes = [m for m in a.modes if any(t["mode"] == m for t in b.trials)]
    s = fb.summarize(b.trials, modes)
    for t in b.trials:
        if t["mode"].startswith("sluice") and t["rtr_ip_forw_datagrams"] > 0:
            notes.append(f"{t['mode']} trial {t['repetition'] + 1}: rtr's kernel forwarded "
                         f"{t['rtr_ip_forw_datagrams']} packets (IpForwDatagrams should stay 0)")
        if t["nat"] and (t.get("nat_sessions_end") or 0) < 0.9 * a.flows:
            notes.append(f"{t['mode']} trial {t['repetition'] + 1}: {t.get('nat_sessions_end')} "
                         f"NAT sessions at the end of the window, {a.flows} flows offered")
        if t["mode"] == "kernel" and t.get("conntrack_count_end"):
            notes.append(f"kernel trial {t['repetition'] + 1}: conntrack still held "
                         f"{t['conntrack_count_end']} entries (left from kernel-nat; they time out)")
        if t["mode"] == "sluice-nat":
            natp = (t.get("nat_nodes_packets") or {}).get("nat-post")
            if natp is not None and natp < 0.9 * t["delivered_pps"] * t["seconds"]:
                notes.append(f"sluice-nat trial {t['repetition'] + 1}: nat-post saw {natp} packets, "
                             f"fewer than delivered")
        notes += fb.common_trial_notes(t, f"{t['mode']} trial {t['repetition'] + 1}")
    method = METHOD.format(flows=a.flows, dest=DEST, inside=INSIDE, gcpu=a.gen_cpu, rcpu=a.router_cpu,
                           gnice=a.gen_nice, rnice=a.router_nice, idle=a.idle_seconds, warm=a.warmup,
                           secs=a.seconds, mhz=a.tsc_hz / 1e6,
                           sink=("an XDP program on s0 drops IPv4 frames on arrival (counted first)"
                                 if a.sink_drop else "the sink's kernel drops the frames"))
    ratios = ratio_lines(s)
    model, dpdk = fb.machine_info()
    doc = {
        "benchmark": "nat",
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
        "ratios": ratios,
        "notes": notes,
        "trials": b.trials,
        "complete": status == 0,
    }
    os.makedirs(a.out_dir, exist_ok=True)
    stem = os.path.join(a.out_dir, "nat-" + started.strftime("%Y%m%d-%H%M%S"))
    with open(stem + ".json", "w") as f:
        json.dump(doc, f, indent=1)
    write_markdown(stem + ".md", doc)

    print()
    print(f"# machine: {model}, {os.cpu_count()} CPUs; kernel {platform.release()}; DPDK {dpdk}; "
          f"load average at start {loadavg_start}")
    print(f"# {a.repetitions} x {a.seconds:g} s per mode, interleaved, {a.flows} flows; "
          f"results: {stem}.json, {stem}.md")
    for m in modes:
        e = s[m]
        lo, hi = e["delivered_pps_spread"]
        line = (f"#   {m:10s} offered {e['offered_pps'] / 1e6:.3f} Mpps, delivered "
                f"{e['delivered_pps'] / 1e6:.3f} Mpps ({lo / 1e6:.3f}-{hi / 1e6:.3f}); cycles/pkt "
                f"router {fb.fmt_num(e['cpp_router'])} (CPU share {e['router_cpu_share']:.2f}), "
                f"system {fb.fmt_num(e['cpp_system'])}, kernel softirq {fb.fmt_num(e['cpp_kernel_softirq'])}")
        if e.get("cpp_graph_nodes") is not None:
            line += f", graph nodes {fb.fmt_num(e['cpp_graph_nodes'])}"
        print(line)
    for n in notes:
        print(f"# note: {n}")
    for line in ratios:
        print(line)
    return status


if __name__ == "__main__":
    sys.exit(main())
