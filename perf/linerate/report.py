#!/usr/bin/env python3
"""report.py — the report of one `scripts/bench linerate` run: Markdown tables and PNG plots.

Reads the run JSON that perf/linerate/linerate_bench.py writes (perf/results/linerate-<date>.json:
the scenarios, and in each the runs of every mode, each holding build/perf/sluice-tester's JSON)
and writes beside it:
  linerate-<date>.md                  throughput, latency, DUT nodes, ratio lines, goal verdicts
  linerate-<date>-size-<scenario>.png zero-loss throughput against frame size (scenarios with
                                      more than one size)
  linerate-<date>-latency-<scenario>.png  latency CCDF per mode at the smallest size
  linerate-<date>-flows.png           throughput against flow count (masquerade-1k, -100k, ...)
The driver imports it and calls write_report(doc, json_path); run by hand, it redoes the report of
a stored run: report.py perf/results/linerate-<date>.json [--out-dir DIR].

Ratios are oriented so that > 1 means sluice is better. A run may have failed (ok false) or hold
only part of its results; what is missing is shown as such and every figure derived from it is
n/a, never a crash. Standard library + matplotlib (Agg, no display); without matplotlib the
Markdown is still written and says that the plots are missing.
"""

import argparse
import json
import math
import os
import re
import sys

# The three modes the ratios and goals are about, in the order the tables show them; any other
# mode a run holds is shown after them, generically.
SLUICE, KERNEL, TESTPMD = "sluice", "kernel", "testpmd"
KNOWN_MODES = (SLUICE, KERNEL, TESTPMD)
# Percentiles of the tester's `latency` object: (key, label in the tables and ratio lines).
PERCENTILES = (("min_ns", "min"), ("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9"),
               ("max_ns", "max"))
GOAL_PERCENTILES = (("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9"))
# Issue 7's goals.
GOAL_TESTPMD_FRACTION = 0.9
GOAL_MASQUERADE_FACTOR = 3.0
GOAL_SIZE = "64"
# Fixed colours per mode, so that sluice is the same colour in every plot.
MODE_COLOURS = {SLUICE: "tab:blue", KERNEL: "tab:orange", TESTPMD: "tab:green"}
OTHER_COLOURS = ("tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


# ---- formatting (as perf/forward/forward_bench.py formats) ----

def fmt_num(x, digits=0):
    return "n/a" if x is None else f"{x:,.{digits}f}"


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.2f}"


def fmt_mpps(pps):
    return "n/a" if pps is None else f"{pps / 1e6:.3f}"


def fmt_us(ns):
    """Microseconds with about three significant digits: latencies here span 1 us to 10 ms."""
    if ns is None:
        return "n/a"
    us = ns / 1000.0
    if us < 10:
        return f"{us:.2f}"
    if us < 100:
        return f"{us:.1f}"
    return f"{us:,.0f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def num(x):
    """x as a float, or None when it is absent or not a number (a partial tester JSON)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return None if math.isnan(x) else x


def size_key(s):
    """Frame sizes sort numerically, named mixes (imix) after them."""
    s = str(s)
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


def scenario_sizes(sc):
    sizes = [str(s) for s in sc.get("sizes") or []]
    if not sizes:  # the driver always lists them; a hand-made JSON may not
        for r in sc.get("runs") or []:
            for res in ((r.get("tester") or {}).get("results") or []):
                if str(res.get("size")) not in sizes:
                    sizes.append(str(res.get("size")))
    return sorted(set(sizes), key=size_key)


def modes_of(doc):
    """The modes to show: the three known ones that were asked for or ran, then any other."""
    asked = [str(m) for m in (doc.get("settings") or {}).get("modes") or []]
    ran = [str(r.get("mode")) for sc in doc.get("scenarios") or [] for r in sc.get("runs") or []
           if r.get("mode") is not None]
    out = [m for m in KNOWN_MODES if m in asked or m in ran]
    for m in asked + ran:
        if m not in out:
            out.append(m)
    return out


def mode_colour(mode, modes):
    if mode in MODE_COLOURS:
        return MODE_COLOURS[mode]
    others = [m for m in modes if m not in MODE_COLOURS]
    return OTHER_COLOURS[others.index(mode) % len(OTHER_COLOURS)] if mode in others else "black"


# ---- reading the run JSON ----

def clean(doc):
    """The run with every scenario and run that is not an object left out, so that the code
    below can call .get() on them: a run cut short may hold nulls where objects go."""
    doc = doc if isinstance(doc, dict) else {}
    scs = [dict(sc, runs=[r for r in sc.get("runs") or [] if isinstance(r, dict)])
           for sc in doc.get("scenarios") or [] if isinstance(sc, dict)]
    return dict(doc, scenarios=scs)


def find_run(sc, mode):
    for r in sc.get("runs") or []:
        if r.get("mode") == mode:
            return r
    return None


def find_result(tester, size, kind):
    """The tester's result for one frame size, preferring the kind asked for ("search" in the
    run's own tester JSON, "rate" in at_kernel_rate)."""
    if not isinstance(tester, dict):
        return None
    cands = [r for r in tester.get("results") or [] if isinstance(r, dict) and str(r.get("size")) == str(size)]
    for r in cands:
        if r.get("mode") == kind:
            return r
    return cands[0] if cands else None


class Figure:
    """One mode's throughput at one size, and why it is missing or to be read with care."""

    def __init__(self, run, size):
        self.run, self.size = run, size
        self.result = None
        self.pps = self.l1 = None
        self.status = "absent"  # absent, ok, search-failed, run-failed, missing
        self.generator_limited = False
        self.run_failed = False
        self.why = ""
        if run is None:
            return
        self.run_failed = not run.get("ok", False)
        run_why = str(run.get("why") or "").strip()
        res = find_result(run.get("tester"), size, "search")
        self.result = res
        if res is None:
            self.status = "run-failed" if self.run_failed else "missing"
            self.why = run_why if self.run_failed else "no result for this size in the tester's JSON"
            return
        if res.get("search_ok") is False:
            self.status = "search-failed"
            self.why = str(res.get("why") or "").strip() or "no reason given"
            if self.run_failed and run_why:
                self.why += f" (run failed: {run_why})"
            return
        self.pps = num(res.get("throughput_pps"))
        if self.pps is None:
            self.status = "run-failed" if self.run_failed else "missing"
            self.why = run_why if self.run_failed else "no throughput in the tester's result"
            return
        self.status = "ok"
        self.l1 = num(res.get("throughput_bps_l1"))
        frame = num(res.get("frame_bytes_mean"))
        if self.l1 is None and frame is not None:
            # On the wire a frame also takes 20 bytes: preamble, start delimiter, inter-frame gap.
            self.l1 = self.pps * (frame + 20) * 8
        self.generator_limited = bool(res.get("generator_limited"))
        if self.run_failed:
            self.why = run_why  # a figure from a run that failed later: kept, but said

    @property
    def valid(self):
        return self.pps is not None

    def latency(self):
        lat = (self.result or {}).get("latency")
        return lat if isinstance(lat, dict) else None

    def max_offered(self):
        offered = [num(t.get("offered_pps")) for t in (self.result or {}).get("trials") or []
                   if isinstance(t, dict)]
        offered = [o for o in offered if o is not None]
        return max(offered) if offered else None


def at_kernel_rate(run, size):
    """The tester's "rate" result of a run at the kernel's zero-loss rate, or None."""
    if run is None:
        return None
    return find_result(run.get("at_kernel_rate"), size, "rate")


def latency_of(res):
    lat = (res or {}).get("latency")
    return lat if isinstance(lat, dict) else None


def last_trial(res):
    trials = [t for t in (res or {}).get("trials") or [] if isinstance(t, dict)]
    return trials[-1] if trials else None


def run_trials(run):
    """Every trial a run sent traffic for: the searches', the latency trials, the trials at the
    kernel's rate. A latency trial that is also in the trials list is counted once."""
    out = []
    for tester in ((run or {}).get("tester"), (run or {}).get("at_kernel_rate")):
        if not isinstance(tester, dict):
            continue
        for res in tester.get("results") or []:
            if not isinstance(res, dict):
                continue
            ts = [t for t in res.get("trials") or [] if isinstance(t, dict)]
            ids = {t.get("trial_id") for t in ts if t.get("trial_id") is not None}
            lt = res.get("latency_trial")
            if isinstance(lt, dict) and (lt.get("trial_id") is None or lt.get("trial_id") not in ids):
                ts.append(lt)
            out.extend(ts)
    return out


def trial_totals(trials):
    return len(trials), sum(num(t.get("seconds")) or 0.0 for t in trials)


# ---- ratio lines and goals ----

def throughput_ratios(doc):
    """(scenario, size, pair, value, caveat) for sluice/kernel and sluice/testpmd at every size."""
    out = []
    for sc in doc.get("scenarios") or []:
        for size in scenario_sizes(sc):
            s = Figure(find_run(sc, SLUICE), size)
            for other in (KERNEL, TESTPMD):
                o = Figure(find_run(sc, other), size)
                caveat = bound_caveat(s, o, other)
                out.append((sc.get("name"), size, f"{SLUICE}/{other}", ratio(s.pps, o.pps), caveat))
    return out


def bound_caveat(s, o, other):
    """What a generator-limited figure (a lower bound of the real one) makes of sluice/other."""
    sl, ol = s.valid and s.generator_limited, o.valid and o.generator_limited
    if sl and ol:
        return f"{SLUICE} and {other} generator-limited: no bound either way"
    if sl:
        return f"{SLUICE} generator-limited: a lower bound"
    if ol:
        return f"{other} generator-limited: an upper bound"
    return ""


def kernel_rate_latency(sc, size):
    """At one size: the kernel's latency at its own zero-loss rate and that of every other mode
    run at that rate. None when there is no at_kernel_rate result at all."""
    k = Figure(find_run(sc, KERNEL), size)
    others = {}
    for r in sc.get("runs") or []:
        if r.get("mode") == KERNEL:
            continue
        res = at_kernel_rate(r, size)
        if res is not None:
            others[r.get("mode")] = res
    if not others:
        return None
    return {"kernel": k, "others": others}


def latency_ratios(doc):
    """(scenario, size, label, kernel/sluice) for the goal percentiles at the kernel's rate."""
    out = []
    for sc in doc.get("scenarios") or []:
        for size in scenario_sizes(sc):
            kr = kernel_rate_latency(sc, size)
            if kr is None or SLUICE not in kr["others"]:
                continue
            klat = (kr["kernel"].latency() if kr["kernel"].valid else None) or {}
            slat = latency_of(kr["others"][SLUICE]) or {}
            for key, label in GOAL_PERCENTILES:
                out.append((sc.get("name"), size, label, ratio(num(klat.get(key)), num(slat.get(key)))))
    return out


def ratio_lines(doc):
    """The machine-readable lines: `ratio <figure> <scenario>-<size> <pair> <value>`."""
    doc = clean(doc)
    lines = []
    for name, size, pair, v, caveat in throughput_ratios(doc):
        line = f"ratio throughput {name}-{size} {pair} {fmt_ratio(v)}"
        if v is not None and caveat:
            line += f" ({caveat})"
        lines.append(line)
    for name, size, label, v in latency_ratios(doc):
        lines.append(f"ratio latency-{label}-at-kernel-rate {name}-{size} {KERNEL}/{SLUICE} {fmt_ratio(v)}")
    return lines


def verdict(results):
    """The goal's verdict over (where, True = met, False = missed, None = not known) pairs:
    missed when any is missed, since the goal holds for every scenario."""
    known = [m for _, m in results if m is not None]
    if not known:
        return "not measured"
    if not all(known):
        return "missed"
    if len(known) < len(results):
        return f"met where known ({len(results) - len(known)} of {len(results)} not known)"
    return "met"


def why_missing(mode, f):
    if f.status == "absent":
        return f"no {mode} run"
    if f.status == "search-failed":
        return f"{mode}'s search failed"
    if f.status == "run-failed":
        return f"{mode}'s run failed"
    return f"no {mode} figure"


def goal_throughput(doc, scenarios, other, factor):
    parts, results = [], []
    for sc in scenarios:
        name = sc.get("name")
        if GOAL_SIZE not in scenario_sizes(sc):
            parts.append(f"{name} not measured (no {GOAL_SIZE}-byte size)")
            results.append((name, None))
            continue
        s = Figure(find_run(sc, SLUICE), GOAL_SIZE)
        o = Figure(find_run(sc, other), GOAL_SIZE)
        r = ratio(s.pps, o.pps)
        if r is None:
            missing = [why_missing(m, f) for m, f in ((SLUICE, s), (other, o)) if not f.valid]
            parts.append(f"{name} not measured ({', '.join(missing)})")
            results.append((name, None))
            continue
        met = r >= factor
        # A generator-limited figure is a lower bound: sluice's alone makes r a lower bound (so
        # only "met" is sure), the other's alone an upper bound (only "missed"), both: nothing.
        if s.generator_limited and o.generator_limited:
            met, note = None, f"not known: {SLUICE} and {other} generator-limited"
        elif s.generator_limited:
            met, note = (True, f"met, {SLUICE} generator-limited") if met else (
                None, f"not known: {SLUICE} generator-limited")
        elif o.generator_limited:
            met, note = (False, f"missed, {other} generator-limited") if not met else (
                None, f"not known: {other} generator-limited")
        else:
            note = "met" if met else "missed"
        parts.append(f"{name} {fmt_mpps(s.pps)} / {fmt_mpps(o.pps)} Mpps = {fmt_ratio(r)} ({note})")
        results.append((name, met))
    return verdict(results), parts


def goal_latency(doc):
    parts, results = [], []
    for sc in doc.get("scenarios") or []:
        for size in scenario_sizes(sc):
            kr = kernel_rate_latency(sc, size)
            if kr is None or SLUICE not in kr["others"]:
                continue
            where = f"{sc.get('name')}-{size}"
            klat = kr["kernel"].latency() if kr["kernel"].valid else None
            sres = kr["others"][SLUICE]
            slat = latency_of(sres)
            cmp, bad, unknown = [], [], []
            for key, label in GOAL_PERCENTILES:
                k, s = num((klat or {}).get(key)), num((slat or {}).get(key))
                if k is None or s is None:
                    unknown.append(label)
                    cmp.append(f"{label} n/a")
                elif s <= k:
                    cmp.append(f"{label} {fmt_us(s)} <= {fmt_us(k)}")
                else:
                    cmp.append(f"{label} {fmt_us(s)} > {fmt_us(k)}")
                    bad.append(label)
            if len(unknown) == len(GOAL_PERCENTILES):
                parts.append(f"{where} not measured (no latency figures)")
                results.append((where, None))
                continue
            met = False if bad else (None if unknown else True)
            if bad:
                tag = "missed: " + ", ".join(bad)
            else:
                tag = "met" if met else "not known: " + ", ".join(unknown)
            loss = num((last_trial(sres) or {}).get("loss"))
            if loss:  # latency bought with loss is no win: say it
                tag += f"; sluice lost {loss:.3%} at that rate"
            parts.append(f"{where} sluice vs kernel {', '.join(cmp)} µs ({tag})")
            results.append((where, met))
    return verdict(results), parts


def goals(doc):
    """One (name, goal, verdict, details) per goal of issue 7; the name is the goal line's."""
    doc = clean(doc)
    scs = doc["scenarios"]
    out = []
    v, parts = goal_throughput(doc, scs, TESTPMD, GOAL_TESTPMD_FRACTION)
    out.append((f"throughput-{GOAL_SIZE} sluice>={GOAL_TESTPMD_FRACTION:g}xtestpmd",
                f"sluice zero-loss throughput >= {GOAL_TESTPMD_FRACTION:g} x testpmd io "
                f"(each scenario, {GOAL_SIZE}-byte frames)", v, parts))
    masq = [sc for sc in scs if str(sc.get("name", "")).startswith("masquerade")]
    v, parts = goal_throughput(doc, masq, KERNEL, GOAL_MASQUERADE_FACTOR)
    if not masq:
        parts = ["no masquerade scenario in this run"]
    out.append((f"throughput-{GOAL_SIZE}-masquerade sluice>={GOAL_MASQUERADE_FACTOR:g}xkernel",
                f"sluice >= {GOAL_MASQUERADE_FACTOR:g} x the kernel for masquerading "
                f"(masquerade scenarios, {GOAL_SIZE}-byte frames)", v, parts))
    v, parts = goal_latency(doc)
    if not parts:
        parts = ["no run at the kernel's zero-loss rate in this run"]
    out.append(("latency-p50-p99-p99.9-at-kernel-rate sluice<=kernel",
                "sluice latency p50, p99, p99.9 <= the kernel's at the kernel's zero-loss rate",
                v, parts))
    return out


def goal_lines(doc, details=True):
    """`goal <name> <verdict>`, for the ratio block (the driver prints that block); with
    details, the numbers behind the verdict follow."""
    return [f"goal {name} {v}" + (f": {'; '.join(parts)}" if details else "")
            for name, _, v, parts in goals(doc)]


# ---- plots ----

def load_matplotlib():
    """matplotlib's Figure with the Agg canvas, or None: no pyplot, so no display and no global
    state between plots."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure as MplFigure
    except ImportError:
        return None
    return MplFigure


def new_figure(mpl, ncols, share=False):
    fig = mpl(figsize=(10, 6), dpi=100, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False, sharex=share, sharey=share)[0]
    return fig, list(axes)


def throughput_words(doc):
    tol = num((doc.get("settings") or {}).get("loss_tolerance"))
    return "zero-loss throughput" if not tol else f"throughput at loss <= {tol:g}"


def plot_sizes(mpl, path, doc, sc, modes):
    """Grouped bars, one group per size: the sizes are categories (imix is no size on a scale),
    so no line joins them."""
    from matplotlib.patches import Patch
    sizes = scenario_sizes(sc)
    figs = {m: [Figure(find_run(sc, m), s) for s in sizes] for m in modes if find_run(sc, m)}
    if not any(f.valid for fs in figs.values() for f in fs):
        return "no mode has a throughput figure"
    fig, (ax_pps, ax_l1) = new_figure(mpl, 2)
    width = 0.8 / len(figs)
    limited = failed = False
    for i, (mode, fs) in enumerate(figs.items()):
        xs = [j - 0.4 + width * (i + 0.5) for j in range(len(sizes))]
        for ax, get, scale in ((ax_pps, lambda f: f.pps, 1e6), (ax_l1, lambda f: f.l1, 1e9)):
            ys = [get(f) / scale if get(f) is not None else 0.0 for f in fs]
            bars = ax.bar(xs, ys, width, color=mode_colour(mode, modes), label=mode)
            for b, f in zip(bars, fs):
                if f.valid and f.generator_limited:
                    b.set_hatch("//")
                    b.set_edgecolor("black")
                    limited = True
                elif not f.valid and f.status != "absent":
                    # A failed search draws no bar: an x on the axis says it is not a zero.
                    ax.plot([b.get_x() + width / 2], [0], marker="x", color=mode_colour(mode, modes),
                            markersize=9, markeredgewidth=2, clip_on=False, zorder=5)
                    failed = True
    what = throughput_words(doc)
    for ax, unit, title in ((ax_pps, "Mpps", "Mpps"), (ax_l1, "Gbit/s", "Gbit/s on the wire (L1)")):
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels(sizes)
        ax.set_xlabel("frame size (bytes; imix: the mix)")
        ax.set_ylabel(f"{what} ({unit})")
        ax.set_ylim(bottom=0)
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        ax.set_title(f"{what}, {title}", fontsize=10)
    handles, labels = ax_l1.get_legend_handles_labels()
    if limited:
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="//"))
        labels.append("generator-limited (a lower bound)")
    if failed:
        handles.append(ax_l1.plot([], [], marker="x", color="black", linestyle="none")[0])
        labels.append("no figure (search or run failed)")
    # Upper left: on the wire the small frames are the short bars; the headroom is for the
    # sizes where they are not.
    ax_l1.set_ylim(top=ax_l1.get_ylim()[1] * 1.15)
    ax_l1.legend(handles, labels, fontsize=8, loc="upper left")
    fig.suptitle(f"{sc.get('name')}: {sc.get('title') or ''} ({fmt_num(num(sc.get('flows')))} flows)",
                 fontsize=11)
    fig.savefig(path)
    return None


def ccdf_points(lat):
    """(x in microseconds, P(latency > x)) as a step curve from the tester's histogram, whose
    buckets are (upper bound in ns, count); None without samples."""
    hist = (lat or {}).get("histogram") or []
    buckets = sorted((float(b[0]), int(b[1])) for b in hist
                     if isinstance(b, (list, tuple)) and len(b) >= 2 and num(b[0]) is not None
                     and num(b[1]) is not None and b[1] > 0)
    total = sum(c for _, c in buckets)
    if total <= 0:
        return None
    lo = num(lat.get("min_ns"))
    x0 = lo if lo is not None and lo <= buckets[0][0] else buckets[0][0]
    xs, ys, seen = [x0 / 1000], [1.0], 0
    for upper, c in buckets[:-1]:
        seen += c
        xs.append(upper / 1000)
        ys.append((total - seen) / total)
    # The last step holds its value up to the last bucket's bound (where it reaches 0, which a
    # log axis cannot draw).
    xs.append(buckets[-1][0] / 1000)
    ys.append(ys[-1])
    return xs, ys, total


def draw_ccdf(ax, curves, modes, title):
    from matplotlib.ticker import FuncFormatter, LogFormatter
    drawn = 0
    floor = 1.0
    for mode, lat, extra in curves:
        pts = ccdf_points(lat)
        if pts is None:
            continue
        xs, ys, total = pts
        floor = min(floor, 1.0 / total)
        ax.step(xs, ys, where="post", color=mode_colour(mode, modes),
                label=f"{mode}{extra} (p99 {fmt_us(num(lat.get('p99_ns')))} µs, n={total:,})")
        drawn += 1
    if not drawn:
        return False
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(floor / 2, 1e-9), top=1.5)
    for p, label in ((1e-2, "p99"), (1e-3, "p99.9")):
        if p > floor:
            ax.axhline(p, color="grey", linestyle=":", linewidth=0.8)
            ax.text(1.0, p, f" {label}", transform=ax.get_yaxis_transform(), va="center",
                    fontsize=8, color="grey")
    # Plain numbers, not 10^1 or 2x10^1; minor ticks get labels only when the axis spans less
    # than a decade or so, as matplotlib decides by default.
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,g}"))
    ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    ax.set_xlabel("latency (µs, log)")
    ax.set_ylabel("fraction of packets slower, 1 - CDF (log)")
    ax.grid(True, which="both", alpha=0.3)
    # Under the panel: inside, every corner but the lower left holds a curve, and that one is
    # narrower than the labels.
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, frameon=False)
    ax.set_title(title, fontsize=10)
    return True


def plot_latency(mpl, path, doc, sc, modes):
    sizes = scenario_sizes(sc)
    if not sizes:
        return "no sizes"
    size = sizes[0]
    own = []
    for m in modes:
        f = Figure(find_run(sc, m), size)
        if f.valid and f.latency():
            own.append((m, f.latency(), f" at {fmt_mpps(f.pps)} Mpps"))
    kr = kernel_rate_latency(sc, size)
    at_k = []
    if kr is not None:
        for m in modes:
            if m == KERNEL and kr["kernel"].valid and kr["kernel"].latency():
                at_k.append((KERNEL, kr["kernel"].latency(), " (its own rate)"))
            elif m in kr["others"]:
                at_k.append((m, latency_of(kr["others"][m]), ""))
    has_own = any(ccdf_points(lat) for _, lat, _ in own)
    has_k = any(ccdf_points(lat) for _, lat, _ in at_k)
    if not has_own and not has_k:
        return "no latency histogram at the smallest size"
    # Same axes in both panels: the point is to compare them.
    fig, axes = new_figure(mpl, 2 if has_own and has_k else 1, share=True)
    i = 0
    if has_own:
        draw_ccdf(axes[i], own, modes, f"{size} bytes, each mode at its own zero-loss rate")
        i += 1
    if has_k:
        rate = fmt_mpps(kr["kernel"].pps)
        draw_ccdf(axes[i], at_k, modes, f"{size} bytes, all at the kernel's zero-loss rate ({rate} Mpps)")
    fig.suptitle(f"{sc.get('name')}: latency distribution (CCDF), {sc.get('title') or ''}", fontsize=11)
    fig.savefig(path)
    return None


def flow_groups(doc):
    """Scenarios that differ by flow count, grouped by the name before its last '-'
    (masquerade-1k, masquerade-100k -> masquerade), sorted by flows."""
    groups = {}
    for sc in doc.get("scenarios") or []:
        name = str(sc.get("name") or "")
        if "-" not in name or num(sc.get("flows")) is None:
            continue
        groups.setdefault(name.rsplit("-", 1)[0], []).append(sc)
    out = []
    for prefix, scs in groups.items():
        if len({num(sc.get("flows")) for sc in scs}) > 1:
            out.append((prefix, sorted(scs, key=lambda sc: num(sc.get("flows")))))
    return out


def plot_flows(mpl, path, doc, modes):
    groups = flow_groups(doc)
    if not groups:
        return "no scenarios that differ only by flow count"
    panels = []
    for prefix, scs in groups:
        common = set(scenario_sizes(scs[0]))
        for sc in scs[1:]:
            common &= set(scenario_sizes(sc))
        if not common:
            continue
        size = sorted(common, key=size_key)[0]
        series = {}
        for m in modes:
            pts = [(num(sc.get("flows")), Figure(find_run(sc, m), size)) for sc in scs]
            pts = [(x, f) for x, f in pts if f.valid]
            if pts:
                series[m] = pts
        if series:
            panels.append((prefix, size, scs, series))
    if not panels:
        return "no throughput figure at a size common to the scenarios of a flow group"
    fig, axes = new_figure(mpl, len(panels))
    for ax, (prefix, size, scs, series) in zip(axes, panels):
        for m, pts in series.items():
            ax.plot([x for x, _ in pts], [f.pps / 1e6 for _, f in pts], marker="o",
                    color=mode_colour(m, modes), label=m)
            for x, f in pts:
                ax.annotate(fmt_mpps(f.pps), (x, f.pps / 1e6), textcoords="offset points",
                            xytext=(6, 6), fontsize=8, color=mode_colour(m, modes))
                if f.generator_limited:
                    ax.scatter([x], [f.pps / 1e6], s=160, facecolors="none", edgecolors="black",
                               linewidths=1.5, zorder=5)
        ax.set_xscale("log")
        flows = [num(sc.get("flows")) for sc in scs]
        ax.set_xticks(flows)
        ax.set_xticklabels([fmt_num(f) for f in flows])
        ax.minorticks_off()
        ax.set_xlim(min(flows) / 2, max(flows) * 2)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("flows (log)")
        ax.set_ylabel(f"{throughput_words(doc)} (Mpps)")
        ax.grid(True, alpha=0.3)
        ax.set_ylim(top=ax.get_ylim()[1] * 1.08)  # room for the value above the highest point
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(series),
                  frameon=False)
        ax.set_title(f"{prefix}: {size}-byte frames ({', '.join(sc.get('name') for sc in scs)})",
                     fontsize=10)
    circled = any(f.generator_limited for _, _, _, series in panels for pts in series.values()
                  for _, f in pts)
    fig.suptitle("throughput against the number of flows" +
                 (" (circled: generator-limited, a lower bound)" if circled else ""), fontsize=11)
    fig.savefig(path)
    return None


# ---- Markdown ----

class Notes:
    """Numbered notes under a table: the same text gets the same number."""

    def __init__(self):
        self.texts = []

    def mark(self, text):
        if text not in self.texts:
            self.texts.append(text)
        return f"[{self.texts.index(text) + 1}]"

    def lines(self):
        return [f"- [{i}] {t}" for i, t in enumerate(self.texts, 1)]


def throughput_cell(f, mode, notes):
    if f.status == "absent":
        return "-"
    if f.status == "search-failed":
        return "failed " + notes.mark(f"{mode}, {f.size}: search failed: {f.why}")
    if f.status == "run-failed":
        return "failed " + notes.mark(f"{mode}: run failed: {f.why or 'no reason given'}")
    if f.status == "missing":
        return "- " + notes.mark(f"{mode}, {f.size}: {f.why}")
    cell = f"{fmt_mpps(f.pps)} ({'n/a' if f.l1 is None else f'{f.l1 / 1e9:.3f}'})"
    if f.generator_limited:
        off = f.max_offered()
        cell += " " + notes.mark(
            f"{mode}, {f.size}: generator-limited: no loss at the most the tester could offer"
            + (f" (its trials offered up to {fmt_mpps(off)} Mpps)" if off is not None else "")
            + ": the real figure is this or higher")
    if f.run_failed:
        cell += " " + notes.mark(f"{mode}: the run failed, this figure is from before: "
                                 f"{f.why or 'no reason given'}")
    return cell


def scenario_markdown(doc, sc, modes, plots):
    L = []
    name = sc.get("name")
    sizes = scenario_sizes(sc)
    L.append(f"## {name}" + (f": {sc['title']}" if sc.get("title") else "") + "\n")
    flows = num(sc.get("flows"))
    L.append((f"{fmt_num(flows)} flows; " if flows is not None else "") +
             f"sizes {', '.join(sizes) or 'none'}.\n")
    for r in sc.get("runs") or []:
        if not r.get("ok", False):
            L.append(f"**{r.get('mode')} run failed**: {str(r.get('why') or '').strip() or 'no reason given'}\n")

    notes = Notes()
    what = throughput_words(doc)
    if not sizes:
        L.append("No frame sizes in this scenario.\n")
        return L
    L.append(f"{what[0].upper() + what[1:]}, Mpps (Gbit/s on the wire, L1); ratios > 1 mean sluice is better:\n")
    L.append("| size | " + " | ".join(modes) + f" | {SLUICE}/{KERNEL} | {SLUICE}/{TESTPMD} |")
    L.append("|---" * (len(modes) + 3) + "|")
    for size in sizes:
        figs = {m: Figure(find_run(sc, m), size) for m in modes}
        cells = [throughput_cell(figs[m], m, notes) for m in modes]
        s = figs.get(SLUICE) or Figure(None, size)
        rk = ratio(s.pps, (figs.get(KERNEL) or Figure(None, size)).pps)
        rt = ratio(s.pps, (figs.get(TESTPMD) or Figure(None, size)).pps)
        L.append(f"| {size} | " + " | ".join(cells) + f" | {fmt_ratio(rk)} | {fmt_ratio(rt)} |")
    L.append("")
    if notes.texts:
        L.extend(notes.lines())
        L.append("")

    # Latency at each mode's own rate.
    rows = []
    for size in sizes:
        for m in modes:
            f = Figure(find_run(sc, m), size)
            lat = f.latency() if f.valid else None
            if lat is None or all(num(lat.get(k)) is None for k, _ in PERCENTILES):
                continue
            rows.append(f"| {size} | {m} | {fmt_mpps(f.pps)} | " +
                        " | ".join(fmt_us(num(lat.get(k))) for k, _ in PERCENTILES) +
                        f" | {fmt_num(num(lat.get('count')))} |")
    if rows:
        L.append("Latency at each mode's own zero-loss rate, microseconds:\n")
        L.append("| size | mode | rate Mpps | " + " | ".join(lab for _, lab in PERCENTILES) + " | samples |")
        L.append("|---" * (len(PERCENTILES) + 4) + "|")
        L.extend(rows)
        L.append("")
    else:
        L.append("No latency figures at the modes' own rates.\n")

    # Latency at the kernel's zero-loss rate.
    rows, lines = [], []
    others = [m for m in modes if m != KERNEL]
    for size in sizes:
        kr = kernel_rate_latency(sc, size)
        if kr is None:
            continue
        klat = (kr["kernel"].latency() if kr["kernel"].valid else None) or {}
        shown = [m for m in others if m in kr["others"]]
        for m in shown:
            res = kr["others"][m]
            t = last_trial(res) or {}
            loss = num(t.get("loss"))
            lines.append(f"- {size} bytes, {m}: offered {fmt_mpps(num(t.get('offered_pps')))} Mpps, "
                         f"delivered {fmt_mpps(num(res.get('throughput_pps')))} Mpps, loss "
                         f"{'n/a' if loss is None else f'{loss:.3%}'}"
                         + ("" if t.get("passed", True) else " (the trial did not pass)")
                         + (f": {t.get('why')}" if t.get("why") else ""))
        for key, label in PERCENTILES:
            k = num(klat.get(key))
            cells = [fmt_us(num((latency_of(kr["others"][m]) or {}).get(key))) if m in shown else "-"
                     for m in others]
            s = num((latency_of(kr["others"].get(SLUICE)) or {}).get(key))
            rows.append(f"| {size} | {fmt_mpps(kr['kernel'].pps)} | {label} | {fmt_us(k)} | " +
                        "".join(f"{c} | " for c in cells) + f"{fmt_ratio(ratio(k, s))} |")
    if rows:
        L.append("Latency at the kernel's zero-loss rate, microseconds: the kernel at its own rate, "
                 "the others run at that rate (kernel/sluice > 1 means sluice is better):\n")
        L.append(f"| size | kernel's rate Mpps | percentile | {KERNEL} | " +
                 " | ".join(others) + f" | {KERNEL}/{SLUICE} |")
        L.append("|---" * (len(others) + 5) + "|")
        L.extend(rows)
        L.append("")
        L.extend(lines)
        L.append("")

    # The DUT: sluiced's graph nodes, drops, start-up.
    run = find_run(sc, SLUICE)
    dut = (run or {}).get("dut") or {}
    cyc = dut.get("nodes_cycles_per_packet") or {}
    ppc = dut.get("nodes_packets_per_call") or {}
    if cyc or ppc:
        L.append("sluiced's graph nodes in this scenario, cycles per packet and packets per call "
                 "(port-rx's cycles include its empty polls):\n")
        L.append("| node | cycles/packet | packets/call |")
        L.append("|---|---|---|")
        for node in list(cyc) + [n for n in ppc if n not in cyc]:
            c, p = num(cyc.get(node)), num(ppc.get(node))
            L.append(f"| {node} | {fmt_num(c)} | {'n/a' if p is None else f'{p:.1f}'} |")
        L.append("")
    drops = {k: v for k, v in (dut.get("drops") or {}).items() if num(v)}
    if dut.get("drops") is not None:
        L.append("sluiced's drop counters: " + (", ".join(f"{k} {fmt_num(num(v))}" for k, v in drops.items())
                                                if drops else "all 0") + ".\n")
    starts = [(r.get("mode"), num((r.get("dut") or {}).get("start_seconds"))) for r in sc.get("runs") or []]
    starts = [(m, s) for m, s in starts if s is not None]
    if starts:
        L.append("DUT start-up (dut.start_seconds): " + ", ".join(f"{m} {s:.1f} s" for m, s in starts) + ".\n")

    trials = [t for r in sc.get("runs") or [] for t in run_trials(r)]
    n, secs = trial_totals(trials)
    per_mode = ", ".join(f"{r.get('mode')} {len(run_trials(r))}" for r in sc.get("runs") or [])
    L.append(f"Trials: {n}" + (f" ({per_mode})" if per_mode else "") + f", {secs:,.1f} s of traffic.\n")

    for kind, title in (("size", "throughput against frame size"), ("latency", "latency CCDF")):
        fname, why = plots.get((kind, name), (None, None))
        if fname:
            L.append(f"![{name}: {title}]({fname})\n")
        elif why:
            L.append(f"No {title} plot: {why}.\n")
    return L


def settings_line(doc):
    a = doc.get("settings") or {}
    parts = []
    v = num(a.get("trial_seconds"))
    if v is not None:
        parts.append(f"trials of {v:g} s")
    v = num(a.get("precision"))
    if v is not None:
        parts.append(f"search precision {v:g}")
    v = num(a.get("loss_tolerance"))
    if v is not None:
        parts.append(f"loss tolerance {v:g}" + (" (zero loss)" if v == 0 else ""))
    v = num(a.get("max_rate"))
    if v is not None:
        parts.append(f"max rate {fmt_mpps(v)} Mpps")
    if a.get("sizes"):
        parts.append("sizes " + ", ".join(str(s) for s in a["sizes"]))
    if a.get("modes"):
        parts.append("modes " + ", ".join(str(m) for m in a["modes"]))
    known = {"trial_seconds", "precision", "loss_tolerance", "max_rate", "sizes", "modes"}
    rest = [f"{k} {json.dumps(v) if isinstance(v, (dict, list)) else v}" for k, v in a.items()
            if k not in known]
    return "Settings: " + "; ".join(parts + rest) + "." if parts or rest else "Settings: not recorded."


def per_scenario_trials(scs):
    return ", ".join(f"{sc.get('name')} {sum(len(run_trials(r)) for r in sc.get('runs') or [])}" for sc in scs)


def first_tester(doc):
    for sc in doc.get("scenarios") or []:
        for r in sc.get("runs") or []:
            if isinstance(r.get("tester"), dict):
                return r["tester"]
    return None


def write_markdown(path, doc, plots, ratios, goal_list, goal_summary):
    m = doc.get("machine") or {}
    L = [f"# line-rate benchmark (RFC 2544) {doc.get('started', '?')}\n"]
    load = m.get("loadavg_start")
    load = " ".join(str(x) for x in load) if isinstance(load, list) else load
    L.append(f"Machine: {m.get('cpu', '?')}, {m.get('cpus', '?')} CPUs, kernel {m.get('kernel', '?')}, "
             f"DPDK {m.get('dpdk', '?')}." + (f" Load average at the start: {load}." if load else "") + "\n")
    L.append(f"Command: `{doc.get('command', '?')}`; started {doc.get('started', '?')}, finished "
             f"{doc.get('finished') or '? (the run did not finish)'}.\n")
    vers = doc.get("versions") or {}
    if vers:
        L.append("Versions: " + "; ".join(f"{k}: {v}" for k, v in vers.items()) + ".\n")
    L.append(settings_line(doc) + "\n")
    t = first_tester(doc)
    if t:
        ports = t.get("ports") or {}
        desc = []
        for side in ("tx", "rx"):
            p = ports.get(side) or {}
            if p:
                speed = num(p.get("link_speed_mbps"))
                desc.append(f"{side} {p.get('spec', '?')} ({p.get('mac', '?')}, link "
                            f"{'?' if speed is None else f'{speed:,.0f} Mbit/s'})")
        if desc:
            L.append("Tester ports: " + "; ".join(desc) + ".\n")
    if doc.get("tool") not in (None, "linerate-bench") or doc.get("version") not in (None, 1):
        L.append(f"Note: this report reads linerate-bench version 1; the JSON says "
                 f"{doc.get('tool')} version {doc.get('version')}.\n")
    L.append("Throughput is RFC 2544's: the highest rate a trial passes at (loss within the "
             "tolerance), found by binary search. Gbit/s on the wire counts 20 bytes per frame more "
             "(preamble, delimiter, gap). Latency is from the tester's timestamps, at the rate said.\n")

    modes = modes_of(doc)
    scs = doc.get("scenarios") or []
    if not scs:
        L.append("No scenario in this run.\n")
    for sc in scs:
        L.extend(scenario_markdown(doc, sc, modes, plots))

    L.append("## Flow-count scaling\n")
    fname, why = plots.get(("flows", None), (None, None))
    if fname:
        L.append(f"![throughput against flows]({fname})\n")
    else:
        L.append(f"No flow-count plot: {why}.\n")

    trials = [t for sc in scs for r in sc.get("runs") or [] for t in run_trials(r)]
    n, secs = trial_totals(trials)
    L.append("## Trials\n")
    L.append(f"{n} trials in all, {secs:,.1f} s of traffic ({per_scenario_trials(scs)}).\n")

    if doc.get("notes"):
        L.append("## Notes\n")
        L.extend(f"- {n}" for n in doc["notes"])
        L.append("")

    L.append("## Ratios\n")
    L.append("Ratios (> 1 means sluice is better; throughput: sluice/other at each size; latency: "
             "the kernel's percentile / sluice's at the kernel's zero-loss rate) and the goals' "
             "verdicts (below, with their numbers):\n")
    L.append("```")
    L.extend(ratios)
    L.extend(goal_summary)
    L.append("```\n")

    L.append("## Goals (issue 7)\n")
    for _, g, v, parts in goal_list:
        L.append(f"- {g}: **{v}**. " + "; ".join(parts) + ".")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))
    return path


def plot_name(base, kind, scenario=None):
    # A scenario's name is the driver's (forward, masquerade-1k); anything that would make it a
    # path or need quoting in a Markdown link becomes '_'.
    tail = "" if scenario is None else "-" + re.sub(r"[^A-Za-z0-9._-]", "_", str(scenario))
    return f"{base}-{kind}{tail}.png"


def write_report(doc, json_path, out_dir=None):
    """Writes the Markdown and the PNGs of one run next to json_path (or in out_dir) and returns
    the paths written, the Markdown first. A plot that cannot be drawn is left out and the
    Markdown says why."""
    doc = clean(doc)
    out_dir = out_dir or os.path.dirname(os.path.abspath(json_path))
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.basename(json_path)
    base = base[:-len(".json")] if base.endswith(".json") else base
    modes = modes_of(doc)
    written = []
    plots = {}  # (kind, scenario) -> (file name relative to the Markdown, or None; why not)
    mpl = load_matplotlib()

    def attempt(key, fname, draw):
        if mpl is None:
            plots[key] = (None, "matplotlib is not installed (apt-get install python3-matplotlib)")
            return
        path = os.path.join(out_dir, fname)
        try:
            why = draw(path)
        except Exception as e:  # a plot must not cost the run its Markdown
            why = f"plotting failed: {type(e).__name__}: {e}"
            if os.path.exists(path):  # half written
                os.remove(path)
        if why is None:
            plots[key] = (fname, None)
            written.append(path)
        else:
            plots[key] = (None, why)

    for sc in doc.get("scenarios") or []:
        name = sc.get("name")
        if len(scenario_sizes(sc)) > 1:
            attempt(("size", name), plot_name(base, "size", name),
                    lambda p, sc=sc: plot_sizes(mpl, p, doc, sc, modes))
        attempt(("latency", name), plot_name(base, "latency", name),
                lambda p, sc=sc: plot_latency(mpl, p, doc, sc, modes))
    attempt(("flows", None), plot_name(base, "flows"), lambda p: plot_flows(mpl, p, doc, modes))

    md = write_markdown(os.path.join(out_dir, base + ".md"), doc, plots, ratio_lines(doc), goals(doc),
                        goal_lines(doc, details=False))
    return [md] + written


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_json", help="perf/results/linerate-<date>.json")
    ap.add_argument("--out-dir", help="where to write (default: beside the JSON)")
    a = ap.parse_args()
    with open(a.run_json) as f:
        doc = json.load(f)
    files = write_report(doc, a.run_json, a.out_dir)
    for p in files:
        print(f"[report] wrote {p}", file=sys.stderr)
    for line in ratio_lines(doc):
        print(line)
    for line in goal_lines(doc):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
