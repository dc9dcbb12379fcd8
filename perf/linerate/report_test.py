#!/usr/bin/env python3
"""report_test.py — perf/linerate/report.py on a synthetic run: the files it writes, the ratio
lines' numbers, the goal verdicts, and failed or partial runs shown as such.

The expected ratios are computed here from the synthetic figures, not by report.py's helpers, so
that a wrong division, a swapped orientation or a dropped caveat fails. Skips when matplotlib is
not installed (scripts/test installs python3-matplotlib)."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import report  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def setUpModule():
    if importlib.util.find_spec("matplotlib") is None:
        raise unittest.SkipTest("matplotlib is not installed (apt-get install python3-matplotlib)")


# ---- the synthetic run ----

_trial_id = [0]


def trial(pps, seconds=2.0, passed=True, loss=0.0):
    _trial_id[0] += 1
    sent = int(pps * seconds)
    return {"n": 1, "trial_id": _trial_id[0], "requested_pps": pps, "offered_pps": pps,
            "seconds": seconds, "sent": sent, "received": sent - int(sent * loss),
            "lost": int(sent * loss), "loss": loss, "reordered": 0, "duplicates": 0, "stale": 0,
            "not_ours": {"arp": 0, "other": 0}, "latency": None, "tx_port": {}, "rx_port": {},
            "passed": passed, "valid": True, "why": ""}


def latency(p50, p99, p999, n=1000):
    """A latency object whose histogram has n samples: most at p50, the tail at p99 and p99.9."""
    hist = [[p50, n - 12], [p99, 10], [p999, 2]]
    return {"count": n, "min_ns": p50 / 2, "mean_ns": p50, "p50_ns": p50, "p90_ns": p50,
            "p99_ns": p99, "p999_ns": p999, "max_ns": p999, "histogram": hist}


def search(size, pps, lat=None, limited=False, ok=True, why="", frame=64.0, trials=3):
    ts = [trial(pps * f) for f in (0.5, 0.75, 1.0)[:trials]]
    lt = trial(pps)
    return {"size": size, "frame_bytes_mean": frame, "mode": "search",
            "throughput_pps": pps if ok else None,
            "throughput_bps_l1": pps * (frame + 20) * 8 if ok else None,
            "throughput_bps_l2": pps * frame * 8 if ok else None,
            "generator_limited": limited, "search_ok": ok, "why": why,
            "latency": lat, "latency_trial": lt, "trials": ts}


def at_rate(size, pps, lat, loss=0.0):
    return {"size": size, "frame_bytes_mean": 64.0, "mode": "rate", "throughput_pps": pps * (1 - loss),
            "throughput_bps_l1": pps * 84 * 8, "throughput_bps_l2": pps * 64 * 8,
            "generator_limited": False, "search_ok": True, "why": "", "latency": lat,
            "trials": [trial(pps, loss=loss)]}


def tester(results):
    return {"tool": "sluice-tester", "version": 1, "run_id": 1, "tsc_hz": 2e9,
            "ports": {"tx": {"spec": "net_af_xdp0", "mac": "02:00:00:00:00:01", "link_speed_mbps": 10000},
                      "rx": {"spec": "net_af_xdp1", "mac": "02:00:00:00:00:02", "link_speed_mbps": 10000}},
            "settings": {}, "results": results}


# The figures the expectations are computed from.
FWD = {"sluice": {"64": 1_200_000, "512": 600_000},
       "kernel": {"64": 500_000},            # its 512-byte search fails
       "testpmd": {"64": 1_250_000, "512": 700_000}}  # 64 generator-limited
KLAT = (40_000, 150_000, 400_000)      # kernel's p50, p99, p99.9 at its own 64-byte rate, ns
SLAT_AT_K = (10_000, 30_000, 500_000)  # sluice's at the kernel's rate: p99.9 worse
TLAT_AT_K = (8_000, 20_000, 60_000)
MASQ = {"masquerade-1k": (1000, {"sluice": 900_000, "kernel": 250_000}),     # testpmd run failed
        "masquerade-100k": (100_000, {"sluice": 800_000, "kernel": 250_000, "testpmd": 1_000_000})}


def make_doc():
    fwd_runs = [
        {"mode": "sluice", "ok": True, "why": "",
         "tester": tester([search("64", FWD["sluice"]["64"], latency(20_000, 50_000, 90_000)),
                           search("512", FWD["sluice"]["512"], latency(25_000, 60_000, 95_000), frame=512.0)]),
         "at_kernel_rate": tester([at_rate("64", FWD["kernel"]["64"], latency(*SLAT_AT_K))]),
         "dut": {"nodes_cycles_per_packet": {"port-rx": 234, "ip4-lookup": 61, "port-tx": 1980},
                 "nodes_packets_per_call": {"port-rx": 7.5, "ip4-lookup": 7.5, "port-tx": 7.4},
                 "drops": {"drop-no-route": 0, "drop-ttl": 3}, "start_seconds": 12.3}},
        {"mode": "kernel", "ok": True, "why": "",
         "tester": tester([search("64", FWD["kernel"]["64"], latency(*KLAT)),
                           search("512", 300_000, None, ok=False, why="loss at the lowest rate", frame=512.0)]),
         "at_kernel_rate": None, "dut": {"start_seconds": 16.4}},
        {"mode": "testpmd", "ok": True, "why": "",
         "tester": tester([search("64", FWD["testpmd"]["64"], latency(9_000, 20_000, 40_000), limited=True),
                           search("512", FWD["testpmd"]["512"], latency(9_000, 20_000, 40_000), frame=512.0)]),
         "at_kernel_rate": tester([at_rate("64", FWD["kernel"]["64"], latency(*TLAT_AT_K))]),
         "dut": {"start_seconds": 3.0}},
    ]
    scenarios = [{"name": "forward", "title": "L3 forwarding, synthetic", "flows": 4096,
                  "sizes": ["512", "64"], "runs": fwd_runs}]
    for name, (flows, pps) in MASQ.items():
        runs = []
        for mode in ("sluice", "kernel", "testpmd"):
            if mode in pps:
                runs.append({"mode": mode, "ok": True, "why": "",
                             "tester": tester([search("64", pps[mode], latency(30_000, 70_000, 100_000))]),
                             "at_kernel_rate": None, "dut": {}})
            else:
                runs.append({"mode": mode, "ok": False, "why": "testpmd exited with status 1",
                             "tester": None, "at_kernel_rate": None, "dut": None})
        scenarios.append({"name": name, "title": f"masquerading, {flows} flows", "flows": flows,
                          "sizes": ["64"], "runs": runs})
    return {"tool": "linerate-bench", "version": 1, "started": "2026-11-27T15:00:00Z",
            "finished": "2026-11-27T15:30:00Z", "command": "scripts/bench linerate --test",
            "machine": {"cpu": "Test CPU", "cpus": 2, "kernel": "6.1.0", "dpdk": "22.11.11",
                        "loadavg_start": [0.5, 0.7, 1.8]},
            "versions": {"sluiced": "build/control/sluiced"},
            "settings": {"trial_seconds": 2, "precision": 0.01, "loss_tolerance": 0.0,
                         "max_rate": 2_000_000, "sizes": ["64", "512"],
                         "modes": ["sluice", "kernel", "testpmd"]},
            "scenarios": scenarios, "notes": ["masquerade-1k/testpmd: testpmd exited with status 1"]}


def r2(a, b):
    return f"{a / b:.2f}"


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.doc = make_doc()
        cls.json_path = os.path.join(cls.tmp.name, "linerate-20261127-150000.json")
        with open(cls.json_path, "w") as f:
            json.dump(cls.doc, f)
        cls.files = report.write_report(cls.doc, cls.json_path)
        with open(os.path.join(cls.tmp.name, "linerate-20261127-150000.md")) as f:
            cls.md = f.read()
        m = re.search(r"```\n(ratio .*?)```", cls.md, re.S)
        cls.block = m.group(1).splitlines() if m else []
        cls.ratios = [ln for ln in cls.block if ln.startswith("ratio ")]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_files(self):
        stem = os.path.join(self.tmp.name, "linerate-20261127-150000")
        expected = [stem + ".md", stem + "-size-forward.png", stem + "-latency-forward.png",
                    stem + "-latency-masquerade-1k.png", stem + "-latency-masquerade-100k.png",
                    stem + "-flows.png"]
        self.assertEqual(sorted(self.files), sorted(expected))
        self.assertEqual(self.files[0], stem + ".md")
        for p in expected[1:]:
            with open(p, "rb") as f:
                self.assertEqual(f.read(8), PNG_SIGNATURE, p)
            # The Markdown links every PNG by its name relative to itself.
            self.assertIn(f"]({os.path.basename(p)})", self.md)
        # One size only: no size plot, and the directory holds nothing else.
        self.assertFalse(os.path.exists(stem + "-size-masquerade-1k.png"))
        self.assertEqual(sorted(os.listdir(self.tmp.name)),
                         sorted([os.path.basename(p) for p in expected] + [os.path.basename(self.json_path)]))

    def test_header(self):
        self.assertTrue(self.md.startswith("# line-rate benchmark (RFC 2544) 2026-11-27T15:00:00Z\n"))
        self.assertIn("Test CPU, 2 CPUs, kernel 6.1.0, DPDK 22.11.11", self.md)
        self.assertIn("`scripts/bench linerate --test`", self.md)
        self.assertIn("trials of 2 s; search precision 0.01; loss tolerance 0 (zero loss); max rate 2.000 Mpps",
                      self.md)

    def test_throughput_ratios(self):
        s, k, t = FWD["sluice"], FWD["kernel"], FWD["testpmd"]
        m1, m100 = MASQ["masquerade-1k"][1], MASQ["masquerade-100k"][1]
        expected = [
            f"ratio throughput forward-64 sluice/kernel {r2(s['64'], k['64'])}",
            f"ratio throughput forward-64 sluice/testpmd {r2(s['64'], t['64'])} "
            "(testpmd generator-limited: an upper bound)",
            "ratio throughput forward-512 sluice/kernel n/a",  # the kernel's search failed
            f"ratio throughput forward-512 sluice/testpmd {r2(s['512'], t['512'])}",
            f"ratio throughput masquerade-1k-64 sluice/kernel {r2(m1['sluice'], m1['kernel'])}",
            "ratio throughput masquerade-1k-64 sluice/testpmd n/a",  # testpmd's run failed
            f"ratio throughput masquerade-100k-64 sluice/kernel {r2(m100['sluice'], m100['kernel'])}",
            f"ratio throughput masquerade-100k-64 sluice/testpmd {r2(m100['sluice'], m100['testpmd'])}",
        ]
        self.assertEqual([r for r in self.ratios if r.startswith("ratio throughput")], expected)
        # Spelled out once, so that a helper shared by the two sides could not hide an error.
        self.assertIn("ratio throughput forward-64 sluice/kernel 2.40", self.ratios)
        self.assertIn("ratio throughput masquerade-100k-64 sluice/testpmd 0.80", self.ratios)

    def test_latency_ratios(self):
        labels = ("p50", "p99", "p99.9")
        expected = [f"ratio latency-{lab}-at-kernel-rate forward-64 kernel/sluice {r2(kv, sv)}"
                    for lab, kv, sv in zip(labels, KLAT, SLAT_AT_K)]
        self.assertEqual([r for r in self.ratios if r.startswith("ratio latency")], expected)
        self.assertIn("ratio latency-p99.9-at-kernel-rate forward-64 kernel/sluice 0.80", self.ratios)
        # The table at the kernel's rate: kernel, sluice, testpmd and kernel/sluice for p99.
        self.assertIn("| 64 | 0.500 | p99 | 150 | 30.0 | 20.0 | 5.00 |", self.md)

    def test_goals(self):
        goals = self.md[self.md.index("## Goals"):]
        lines = [ln for ln in goals.splitlines() if ln.startswith("- ")]
        self.assertEqual(len(lines), 3)
        # testpmd's 64-byte figure is generator-limited and sluice/testpmd >= 0.9: not known;
        # masquerade-1k has no testpmd; masquerade-100k 0.80 < 0.9: missed.
        self.assertIn("**missed**", lines[0])
        self.assertIn(f"forward 1.200 / 1.250 Mpps = {r2(1.2, 1.25)} (not known: testpmd generator-limited)",
                      lines[0])
        self.assertIn("masquerade-1k not measured (testpmd's run failed)", lines[0])
        self.assertIn("masquerade-100k 0.800 / 1.000 Mpps = 0.80 (missed)", lines[0])
        # 3.60 and 3.20, both >= 3.
        self.assertIn("**met**", lines[1])
        self.assertIn(f"masquerade-1k 0.900 / 0.250 Mpps = {r2(900, 250)} (met)", lines[1])
        self.assertIn(f"masquerade-100k 0.800 / 0.250 Mpps = {r2(800, 250)} (met)", lines[1])
        # p99.9 500 us against the kernel's 400.
        self.assertIn("**missed**", lines[2])
        self.assertIn("p99.9 500 > 400", lines[2])
        self.assertIn("(missed: p99.9)", lines[2])
        # The same verdicts end the ratio block, which the driver prints.
        self.assertEqual([ln for ln in self.block if ln.startswith("goal ")],
                         ["goal throughput-64 sluice>=0.9xtestpmd missed",
                          "goal throughput-64-masquerade sluice>=3xkernel met",
                          "goal latency-p50-p99-p99.9-at-kernel-rate sluice<=kernel missed"])

    def test_failed_and_limited_shown(self):
        sec = self.md[self.md.index("## masquerade-1k"):self.md.index("## masquerade-100k")]
        self.assertIn("**testpmd run failed**: testpmd exited with status 1", sec)
        row = next(ln for ln in sec.splitlines() if ln.startswith("| 64 |"))
        self.assertEqual(row, "| 64 | 0.900 (0.605) | 0.250 (0.168) | failed [1] | 3.60 | n/a |")
        self.assertIn("- [1] testpmd: run failed: testpmd exited with status 1", sec)
        fwd = self.md[self.md.index("## forward"):self.md.index("## masquerade-1k")]
        # Sizes in numeric order whatever the scenario lists; the kernel's failed search, and
        # testpmd's generator-limited figure with its note.
        rows = [ln for ln in fwd.splitlines() if re.match(r"\| (64|512) \| \d", ln)]
        self.assertEqual(rows[0], "| 64 | 1.200 (0.806) | 0.500 (0.336) | 1.250 (0.840) [1] | 2.40 | 0.96 |")
        self.assertEqual(rows[1], "| 512 | 0.600 (2.554) | failed [2] | 0.700 (2.979) | n/a | 0.86 |")
        self.assertIn("- [1] testpmd, 64: generator-limited", fwd)
        self.assertIn("- [2] kernel, 512: search failed: loss at the lowest rate", fwd)

    def test_notes(self):
        self.assertIn("## Notes\n\n- masquerade-1k/testpmd: testpmd exited with status 1\n", self.md)

    def test_latency_and_dut_tables(self):
        fwd = self.md[self.md.index("## forward"):self.md.index("## masquerade-1k")]
        self.assertIn("| 64 | kernel | 0.500 | 20.0 | 40.0 | 150 | 400 | 400 | 1,000 |", fwd)
        self.assertIn("| port-tx | 1,980 | 7.4 |", fwd)
        self.assertIn("drop-ttl 3", fwd)
        self.assertIn("sluice 12.3 s, kernel 16.4 s, testpmd 3.0 s", fwd)

    def test_trials(self):
        # Every search trial, every latency trial, every trial at the kernel's rate.
        n = secs = 0
        for sc in self.doc["scenarios"]:
            for r in sc["runs"]:
                for t in (r.get("tester"), r.get("at_kernel_rate")):
                    for res in (t or {}).get("results", []):
                        ts = res["trials"] + ([res["latency_trial"]] if "latency_trial" in res else [])
                        n += len(ts)
                        secs += sum(x["seconds"] for x in ts)
        self.assertIn(f"{n} trials in all, {secs:,.1f} s of traffic", self.md)

    def test_cli(self):
        with tempfile.TemporaryDirectory() as out:
            p = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), self.json_path,
                                "--out-dir", out], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.exists(os.path.join(out, "linerate-20261127-150000.md")))
            self.assertIn("ratio throughput forward-64 sluice/kernel 2.40", p.stdout.splitlines())


class DegenerateRunTest(unittest.TestCase):
    """Runs that hold little or nothing: a report, not a traceback."""

    def report(self, doc):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "linerate-x.json")
            files = report.write_report(doc, path)
            with open(files[0]) as f:
                return files, f.read()

    def test_empty(self):
        files, md = self.report({})
        self.assertEqual(len(files), 1)
        self.assertIn("No scenario in this run.", md)
        self.assertIn("No flow-count plot:", md)
        self.assertIn("**not measured**", md)

    def test_all_failed_and_partial(self):
        doc = {"settings": {"modes": ["sluice", "kernel", "other"]},
               "scenarios": [
                   {"name": "forward", "sizes": ["64", "imix"], "runs": [
                       {"mode": "sluice", "ok": False, "why": "sluiced crashed", "tester": None},
                       {"mode": "kernel", "ok": False, "why": "", "tester": {"results": [
                           {"size": "64", "throughput_pps": 1000.0, "search_ok": True,
                            "latency": {"histogram": [["x", 1], [5, None]]}},
                           {"size": "imix"}]}},
                       {"mode": "other", "ok": True, "tester": {"results": "junk"}},
                   ]},
                   {"name": "x-1", "flows": 1, "runs": None},
                   {"name": "x-2", "flows": 2, "sizes": ["64"], "runs": []},
               ]}
        files, md = self.report(doc)
        self.assertIn("**sluice run failed**: sluiced crashed", md)
        # The kernel's 64-byte figure is kept, with the run's failure noted.
        self.assertIn("| 64 | failed [1] | 0.001 (n/a) [2] | - [3] | n/a | n/a |", md)
        self.assertIn("No latency CCDF plot:", md)
        self.assertIn("No flow-count plot:", md)
        self.assertIn("ratio throughput forward-64 sluice/kernel n/a", md)


if __name__ == "__main__":
    unittest.main()
