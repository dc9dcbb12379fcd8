#!/usr/bin/env bash
# tests/netns/linerate_smoke.sh SLUICED SLUICE-CLI SLUICE-TESTER — the RFC 2544 harness end to
# end, briefly: `perf/linerate/linerate_bench.py` runs its masquerade-1k scenario (1,000 UDP
# flows, 64-byte frames, SNAT out of r1) against sluiced, the kernel (iptables MASQUERADE) and
# dpdk-testpmd io, with short trials and a coarse search, into a temporary directory (not
# perf/results: a smoke run is not a result). Checks that every mode produced a zero-loss rate
# above zero, that frames were counted and timed at both ends, that sluice translated
# (sessions) and that the kernel forwarded in kernel mode only, and that the report (Markdown
# with ratio lines, PNG plots) was written. The figures themselves are not judged: full runs are
# benchmarks (scripts/bench linerate), not tests.
# TAP-ish output (ok N / not ok N, plan at the end); exit 1 on any failure, 77 to skip.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

sluiced="${1:-}" cli="${2:-}" tester="${3:-}"
if ! [ -x "$sluiced" ] || ! [ -x "$cli" ] || ! [ -x "$tester" ]; then
  echo "usage: $0 PATH-OF-SLUICED PATH-OF-SLUICE-CLI PATH-OF-SLUICE-TESTER" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ] || ! ip netns list >/dev/null 2>&1; then
  echo "# skipped: needs root and ip netns"
  exit 77
fi
for p in dpdk-testpmd iptables nft; do
  command -v "$p" >/dev/null || { echo "# skipped: $p is not installed"; exit 77; }
done
# Debian's interpreter: it has python3-matplotlib (a python3 earlier in PATH may not).
py=/usr/bin/python3
[ -x "$py" ] || py=python3

out="$(mktemp -d /tmp/linerate-smoke.XXXXXX)"
id="smoke$$"
pid=""
cleanup() {
  # The driver removes its namespaces however it ends; if it was killed, do it here (only the
  # names carrying our id).
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  for ns in "lrb-tst-$id" "lrb-dut-$id"; do
    [ -e "/run/netns/$ns" ] || continue
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "/var/run/dpdk/lrb-tst-$id" "/var/run/dpdk/lrb-dut-$id" "/tmp/lrb-dut-$id.sock" "$out"
}
trap cleanup EXIT

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

"$py" "$root/perf/linerate/linerate_bench.py" --id "$id" --sluiced "$sluiced" --cli "$cli" \
  --tester "$tester" --scenarios masquerade-1k --sizes 64 --trial-seconds 0.5 \
  --precision 0.25 --max-rate 2000000 --min-rate 20000 --max-trials 6 --warmup-seconds 0.5 \
  --drain-ms 200 --quiet-wait 20 --out-dir "$out" --command "tests/netns/linerate_smoke.sh" \
  >"$out/stdout" 2>"$out/stderr" &
pid=$!
wait "$pid"
status=$?
pid=""
sed 's/^/# /' "$out/stderr" | tail -n 60
if [ "$status" -eq 0 ]; then ok "linerate_bench.py exited 0"; else not_ok "linerate_bench.py exited $status"; fi

json="$(ls "$out"/linerate-*.json 2>/dev/null | head -n 1)"
if [ -z "$json" ]; then
  not_ok "no run JSON written"
  echo "1..$n"
  exit 1
fi
ok "run JSON written"

# Every check on the JSON, one line each: "ok TEXT" or "not ok TEXT".
"$py" - "$json" >"$out/checks" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
def check(cond, text):
    print(("ok " if cond else "not ok ") + text)
sc = {s["name"]: s for s in doc["scenarios"]}
check("masquerade-1k" in sc, "the scenario ran")
runs = {r["mode"]: r for r in sc.get("masquerade-1k", {}).get("runs", [])}
for mode in ("kernel", "sluice", "testpmd"):
    r = runs.get(mode)
    if r is None:
        check(False, f"{mode}: no run")
        continue
    check(r["ok"], f"{mode}: the run completed ({r.get('why') or 'ok'})")
    res = ((r.get("tester") or {}).get("results") or [{}])[0]
    rate = res.get("throughput_pps") or 0
    check(rate > 0, f"{mode}: zero-loss throughput {rate:.0f} pps > 0")
    trials = res.get("trials") or []
    # One trial is a whole search when the first, at --max-rate, passes: on veth the kernel
    # pushes back on the sender instead of dropping, so it "passes" at what it absorbs.
    check(len(trials) >= 1 and (len(trials) >= 2 or res.get("generator_limited")),
          f"{mode}: the search ran {len(trials)} trial(s), generator-limited: {res.get('generator_limited')}")
    passing = [t for t in trials if t.get("passed")]
    check(bool(passing) and all(t["received"] > 0 and t["lost"] <= t["sent"] * doc["settings"]["loss_tolerance"]
                                for t in passing),
          f"{mode}: every passing trial received frames and lost none")
    lat = res.get("latency") or {}
    check(0 < (lat.get("min_ns") or 0) <= (lat.get("p50_ns") or 0) <= (lat.get("p99_ns") or 0)
          <= (lat.get("max_ns") or 0) < 10**9,
          f"{mode}: latency ordered and below 1 s (min {lat.get('min_ns')}, p50 {lat.get('p50_ns')}, "
          f"p99 {lat.get('p99_ns')}, max {lat.get('max_ns')} ns)")
    fwd = (r.get("dut") or {}).get("ip_forw_datagrams")
    if mode == "kernel":
        check((fwd or 0) > 0, f"kernel: rtr's kernel forwarded {fwd} datagrams")
    if mode == "sluice":
        nat = (r.get("dut") or {}).get("nat") or {}
        sess = (nat.get("totals") or nat).get("sessions") if isinstance(nat, dict) else None
        check((sess or 0) >= 1000, f"sluice: {sess} NAT sessions (1,000 flows)")
        cyc = (r.get("dut") or {}).get("nodes_cycles_per_packet") or {}
        check("nat-post" in cyc and "port-tx" in cyc, f"sluice: per-node cycles {sorted(cyc)}")
        check(r.get("at_kernel_rate") is not None, "sluice: measured at the kernel's zero-loss rate")
EOF
while read -r line; do
  case "$line" in
    "ok "*) ok "${line#ok }" ;;
    *) not_ok "${line#not ok }" ;;
  esac
done <"$out/checks"
[ -s "$out/checks" ] || not_ok "the JSON checks printed nothing"

md="${json%.json}.md"
if [ -s "$md" ] && grep -q '^ratio throughput masquerade-1k-64 sluice/kernel [0-9]' "$md"; then
  ok "Markdown report with the ratio lines"
else
  not_ok "Markdown report missing or without 'ratio throughput masquerade-1k-64 sluice/kernel'"
fi
png="$(ls "${json%.json}"-latency-*.png 2>/dev/null | head -n 1)"
if [ -n "$png" ] && [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
  ok "latency plot written ($(basename "$png"))"
else
  not_ok "no latency plot (PNG) beside the JSON"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
