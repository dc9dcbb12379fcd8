#!/usr/bin/python3
"""tests/netns/metrics_check.py — the checks of tests/netns/metrics.sh on what sluiced served.

  metrics_check.py validate FILE (prom|openmetrics)
      parses FILE with python3-prometheus-client (Debian's), which raises on what its scrapers
      reject, and checks the rules it lets pass: one HELP and one TYPE per family, before its
      samples; counters' samples end in _total; OpenMetrics ends with # EOF.
  metrics_check.py value FILE SAMPLE
      prints one sample's value (SAMPLE as name{labels} exactly as exposed), or nothing.
  metrics_check.py monotonic BEFORE AFTER
      no counter of AFTER is below its value in BEFORE, and no series disappeared.
  metrics_check.py telemetry BEFORE TEL AFTER
      TEL (dpdk-telemetry.py's output for /sluice/metrics,GROUP of every group) holds every
      sample of the scrapes, counters between BEFORE and AFTER, stable gauges equal.
  metrics_check.py stats BEFORE JSON AFTER
      `sluice stats --json` (taken between the scrapes) agrees: forwarded, drops, ports, fib.
Exits 1 with the reason on stdout.
"""
import json
import re
import sys

from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_prom


def fail(msg):
    print(msg)
    sys.exit(1)


def load(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def series(text):
    """{'name{labels}': (value, type)} from an exposition (either format), via the client."""
    om = text.rstrip("\n").endswith("# EOF")
    fams = list((parse_openmetrics if om else parse_prom)(text))
    out = {}
    for fam in fams:
        for s in fam.samples:
            labels = ",".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"')
                                           .replace("\n", "\\n"))
                              for k, v in s.labels.items())
            key = s.name + ("{%s}" % labels if labels else "")
            if key in out:
                fail("duplicate series " + key)
            out[key] = (s.value, fam.type)
    return out


def validate(path, fmt):
    text = load(path)
    om = fmt == "openmetrics"
    try:
        fams = list((parse_openmetrics if om else parse_prom)(text))
    except Exception as e:  # the parser's own verdict
        fail("%s parser rejected it: %s" % (fmt, e))
    if len(fams) < 40:
        fail("only %d families" % len(fams))
    help_seen, type_seen, sampled = {}, {}, set()
    current = None
    for line in text.splitlines():
        m = re.match(r"# (HELP|TYPE) (\S+)", line)
        if m:
            kind, name = m.groups()
            seen = help_seen if kind == "HELP" else type_seen
            seen[name] = seen.get(name, 0) + 1
            if name in sampled:
                fail("%s %s after its samples" % (kind, name))
            if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", name):
                fail("bad name " + name)
            current = name
            continue
        if line.startswith("#"):
            if not (om and line == "# EOF"):
                fail("stray comment: " + line)
            continue
        sampled.add(current)
    for name in set(help_seen) | set(type_seen):
        if help_seen.get(name) != 1 or type_seen.get(name) != 1:
            fail("%s: %s HELP, %s TYPE" % (name, help_seen.get(name), type_seen.get(name)))
    for fam in fams:
        if not fam.name.startswith("sluice_"):
            fail("family without the sluice_ prefix: " + fam.name)
        if fam.type == "counter":
            for s in fam.samples:
                if not s.name.endswith("_total"):
                    fail("counter sample without _total: " + s.name)
    if om != text.endswith("# EOF\n"):
        fail("# EOF: expected %s" % om)
    print("%d families, %d samples" % (len(fams), sum(len(f.samples) for f in fams)))


def tel_key(s):
    return re.sub(r"[^A-Za-z0-9_/]", "_", s)


def telemetry(before_path, tel_path, after_path):
    before, after = series(load(before_path)), series(load(after_path))
    tel = {}
    for line in load(tel_path).splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        for cmd, v in json.loads(line).items():
            if cmd.startswith("/sluice/metrics") and isinstance(v, dict):
                tel.update(v)
    if not tel:
        fail("no /sluice/metrics,GROUP answer")
    checked = 0
    for key, (a, typ) in before.items():
        m = re.fullmatch(r"([^{]+)(?:\{(.*)\})?", key)
        name, labels = m.group(1), m.group(2)
        if name not in tel:
            fail("telemetry lacks " + name)
        t = tel[name]
        if typ == "info" or name == "sluice_build_info":
            version = re.search(r'version="([^"]*)"', labels).group(1)
            if t.get("version") != version:
                fail("build info: %s vs %s" % (t, version))
            continue
        if labels:
            lk = "/".join(tel_key(v) for v in re.findall(r'="((?:[^"\\]|\\.)*)"', labels))
            if not isinstance(t, dict) or lk not in t:
                fail("telemetry lacks %s %s (has %s)" % (name, lk, t))
            t = t[lk]
        b = after[key][0]
        if typ == "counter":
            if not int(a) <= t <= int(b):
                fail("%s: telemetry %s outside the scrapes' %s..%s" % (key, t, a, b))
        elif a == b and not name.startswith("sluice_mempool") and t != int(a):
            fail("%s: telemetry %s, the scrapes %s" % (key, t, a))
        checked += 1
    print("%d samples agree" % checked)


def stats(before_path, json_path, after_path):
    before, after = series(load(before_path)), series(load(after_path))
    j = json.loads(load(json_path))

    def between(key, v):
        a, b = before[key][0], after[key][0]
        if not a <= v <= b:
            fail("%s: stats --json %s outside the scrapes' %s..%s" % (key, v, a, b))

    between("sluice_forwarded_packets_total", j["forwarded"])
    for reason, v in j["drops"].items():
        between('sluice_dropped_packets_total{reason="%s"}' % reason, v)
    if len([k for k in before if k.startswith("sluice_dropped_packets_total{")]) != len(j["drops"]):
        fail("not every drop reason is a series")
    for p in j["ports"]:
        for f in ("rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_missed", "tx_errors"):
            prom = {"rx_missed": "rx_missed_packets"}.get(f, f)
            between('sluice_port_%s_total{port="%s"}' % (prom, p["name"]), p[f])
    between("sluice_fib_routes", j["fib"]["routes"])
    between("sluice_nat_sessions_capacity", j["nat"]["capacity"])
    between("sluice_mirror_events_total", j["mirror"]["events"])
    print("stats --json agrees")


def monotonic(before_path, after_path):
    before, after = series(load(before_path)), series(load(after_path))
    for key, (v, typ) in before.items():
        if key not in after:
            fail("series gone: " + key)
        if typ == "counter" and after[key][0] < v:
            fail("%s went down: %s -> %s" % (key, v, after[key][0]))
    print("%d series, no counter went down" % len(before))


def value(path, key):
    s = series(load(path))
    if key in s:
        print(int(s[key][0]) if s[key][0] == int(s[key][0]) else s[key][0])


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"validate": validate, "telemetry": telemetry, "stats": stats, "monotonic": monotonic,
     "value": value}[cmd](*args)
