#!/usr/bin/env bash
# tests/netns/metrics.sh SLUICED SLUICE-CLI — the Prometheus endpoint and the telemetry
# commands against a real sluiced: gen -- rtr -- sink (lib.sh), sluiced in rtr on AF_XDP ports
# with `metrics = PORT` in its config file. Pings cross it and a blackhole route drops some;
# curl scrapes /metrics in both formats (0.0.4 by default, OpenMetrics when Accept asks), which
# python3-prometheus-client's parsers must accept (metrics_check.py adds the rules they let
# pass); the figures must agree with `sluice stats --json` and with /sluice/metrics,GROUP
# telemetry, counters never go down, the endpoint listens on loopback only, other paths are
# 404, and a port in use or a bad --metrics value is a clear startup error. TAP-ish output;
# exit 1 on any failure, 77 to skip.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

sluiced="${1:-}"
SLUICE_CLI="${2:-}"
[ -x "$sluiced" ] && [ -x "$SLUICE_CLI" ] ||
  { echo "usage: $0 PATH-OF-SLUICED PATH-OF-SLUICE-CLI" >&2; exit 2; }
sluiced="$(realpath "$sluiced")"
SLUICE_CLI="$(realpath "$SLUICE_CLI")"

netns_require curl dpdk-telemetry.py || exit $?
# Debian's python3 (python3-prometheus-client), not whatever python3 comes first in PATH.
PY=/usr/bin/python3
if ! "$PY" -c 'import prometheus_client' 2>/dev/null; then
  echo "1..0 # SKIP python3-prometheus-client is not installed (scripts/test installs it)"
  exit 77
fi
check_py="$here/metrics_check.py"
other_prefix="sl-met2-$SL_ID"
cleanup() {
  rm -rf "/var/run/dpdk/$other_prefix"
  topo_down
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
topo_up

port=9464
url="http://127.0.0.1:$port/metrics"
om_accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
# scrape FILE [ACCEPT]: GET /metrics from inside rtr; the headers go to FILE.h.
scrape() {
  in_rtr curl -sS --max-time 10 -D "$1.h" ${2:+-H "Accept: $2"} -o "$1" "$url"
}
val() { "$PY" "$check_py" value "$@"; }

printf 'metrics = %s\n' "$port" >"$SL_TMP/sluiced.conf"
if ! sluiced_start "$sluiced" --config "$SL_TMP/sluiced.conf"; then
  not_ok "sluiced starts with metrics = $port in its config file"
  exit 1
fi
ok "sluiced starts with metrics = $port in its config file"
grep -q "metrics on http://127.0.0.1:$port/metrics" "$SLUICED_LOG"
check $? "sluiced says where the metrics are" "$(cat "$SLUICED_LOG")"

# ---- the two formats ----
scrape "$SL_TMP/a.prom"
check $? "curl scrapes /metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$SL_TMP/a.prom.h"
check $? "the default is the 0.0.4 text format" "$(cat "$SL_TMP/a.prom.h")"
out="$("$PY" "$check_py" validate "$SL_TMP/a.prom" prom 2>&1)"
check $? "the 0.0.4 scrape parses and follows the rules: $out" "$out"
scrape "$SL_TMP/a.om" "$om_accept"
check $? "curl scrapes /metrics asking for OpenMetrics"
grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$SL_TMP/a.om.h"
check $? "Prometheus's Accept header gets OpenMetrics 1.0.0" "$(cat "$SL_TMP/a.om.h")"
out="$("$PY" "$check_py" validate "$SL_TMP/a.om" openmetrics 2>&1)"
check $? "the OpenMetrics scrape parses (strict parser) and follows the rules: $out" "$out"

code="$(in_rtr curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other")"
check "$([ "$code" = 404 ]; echo $?)" "another path is 404 (got $code)"

# ---- traffic: pings forwarded, pings to a blackhole dropped ----
fwd0="$(val "$SL_TMP/a.om" sluice_forwarded_packets_total)"
bh0="$(val "$SL_TMP/a.om" 'sluice_dropped_packets_total{reason="ip4-blackhole"}')"
check "$([ "$bh0" = 0 ]; echo $?)" "the ip4-blackhole drop series exists before any drop (value '$bh0')"
in_rtr ip route add blackhole 10.99.0.0/24
sleep 0.5  # the mirror takes the route in
out="$(in_gen ping -c 5 -i 0.2 -W 2 "$SINK_IP" 2>&1)"
check $? "ping gen -> sink through sluiced" "$out"
in_gen ping -c 3 -i 0.2 -W 1 10.99.0.1 >/dev/null 2>&1
scrape "$SL_TMP/b.om" "$om_accept"
fwd1="$(val "$SL_TMP/b.om" sluice_forwarded_packets_total)"
bh1="$(val "$SL_TMP/b.om" 'sluice_dropped_packets_total{reason="ip4-blackhole"}')"
check "$([ -n "$fwd1" ] && [ $((fwd1 - fwd0)) -ge 10 ]; echo $?)" \
  "forwarded packets grew by the 5 echoes and 5 replies at least ($fwd0 -> $fwd1)"
check "$([ -n "$bh1" ] && [ $((bh1 - bh0)) -ge 3 ]; echo $?)" \
  "the 3 pings to the blackhole are counted as ip4-blackhole drops ($bh0 -> $bh1)"
out="$("$PY" "$check_py" monotonic "$SL_TMP/a.om" "$SL_TMP/b.om" 2>&1)"
check $? "no counter decreased between two scrapes: $out" "$out"

# ---- the same figures as `sluice stats --json` and DPDK telemetry ----
scrape "$SL_TMP/c.om" "$om_accept"
sluice_cli stats --json >"$SL_TMP/stats.json" 2>&1
scrape "$SL_TMP/d.om" "$om_accept"
out="$("$PY" "$check_py" stats "$SL_TMP/c.om" "$SL_TMP/stats.json" "$SL_TMP/d.om" 2>&1)"
check $? "sluice stats --json agrees with the scrapes around it: $out" "$out"

tel() { timeout 20 dpdk-telemetry.py -f "$SLUICED_PREFIX" 2>/dev/null; }
groups="$(echo /sluice/metrics | tel | grep '^{' | "$PY" -c '
import json, sys
print(" ".join(json.loads(sys.stdin.read())["/sluice/metrics"]))' 2>/dev/null)"
check "$([ "$(wc -w <<<"$groups")" -ge 8 ]; echo $?)" "/sluice/metrics lists the groups ($groups)"
scrape "$SL_TMP/e.om" "$om_accept"
for g in $groups; do echo "/sluice/metrics,$g"; done | tel >"$SL_TMP/tel.txt"
scrape "$SL_TMP/f.om" "$om_accept"
out="$("$PY" "$check_py" telemetry "$SL_TMP/e.om" "$SL_TMP/tel.txt" "$SL_TMP/f.om" 2>&1)"
check $? "telemetry /sluice/metrics,GROUP holds every scraped figure: $out" "$out" \
  "$(head -c 2000 "$SL_TMP/tel.txt")"
fib="$(echo /sluice/fib | tel | grep '^{' | "$PY" -c '
import json, sys
print(json.loads(sys.stdin.read())["/sluice/fib"]["sluice_fib_routes"])' 2>/dev/null)"
check "$([ -n "$fib" ] && [ "$fib" = "$(val "$SL_TMP/f.om" sluice_fib_routes)" ]; echo $?)" \
  "/sluice/fib gives the routes the scrape does ($fib)"
out="$(echo /sluice/stats | tel | grep '^{' | "$PY" -c '
import json, sys
d = json.loads(sys.stdin.read())["/sluice/stats"]
assert d["forwarded"] >= 10 and d["drops"]["ip4_blackhole"] >= 3, d' 2>&1)"
check $? "/sluice/stats (served through the control loop now) still answers" "$out"

# ---- loopback only ----
out="$(in_rtr ss -ltnH "sport = :$port" 2>&1)"
check "$(grep -q "127.0.0.1:$port" <<<"$out" && ! grep -qv "127.0.0.1:$port" <<<"$out"; echo $?)" \
  "the endpoint listens on 127.0.0.1 only by default" "$out"
in_gen curl -s --max-time 3 -o /dev/null "http://$R0_IP:$port/metrics"
st=$?
check "$([ "$st" -ne 0 ]; echo $?)" "gen cannot scrape it through r0 (curl exit $st)"

# ---- startup errors ----
# A second sluiced in rtr on a DPDK null device asking for the same port.
err="$(in_rtr timeout 60 "$sluiced" --port vdev:net_null0 --no-huge --metrics "$port" \
  --file-prefix "$other_prefix" --control-socket "$SL_TMP/other.sock" 2>&1 >/dev/null)"
st=$?
check "$([ "$st" -ne 0 ] && [ "$(wc -l <<<"$err")" -eq 1 ] &&
  grep -q "metrics 127.0.0.1:$port: cannot listen: Address already in use" <<<"$err"; echo $?)" \
  "a port in use: one clear line, exit $st ($err)"
for bad in 0 70000 x:1 10.0.0.300:80 "1.2.3.4:" "::1"; do
  err="$(in_rtr "$sluiced" --port vdev:net_null0 --metrics "$bad" 2>&1 >/dev/null)"
  st=$?
  check "$([ "$st" -eq 2 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && grep -q -- "--metrics" <<<"$err"; echo $?)" \
    "--metrics $bad: exit 2, one line ($err)"
done

sluiced_stop
check $? "sluiced exits cleanly with the endpoint running"
echo "1..$n"
[ "$failed" -eq 0 ] || exit 1
