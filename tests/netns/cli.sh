#!/usr/bin/env bash
# tests/netns/cli.sh SLUICED SLUICE-CLI — every `sluice` command, its --json form (valid JSON
# with a fixed set of keys), and its error paths, against two daemons: one in static mode on
# DPDK net_null vdevs (route add/del through the CLI) and one in mirror mode on the gen -- rtr
# -- sink namespaces (lib.sh). TAP-ish output; exit 1 on any failure, 77 to skip.
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

netns_require || exit $?
static_pid=""
cleanup() {
  [ -z "$static_pid" ] || { kill "$static_pid" 2>/dev/null; wait "$static_pid" 2>/dev/null; }
  rm -rf "/var/run/dpdk/sl-cli-$SL_ID"
  topo_down
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
topo_up

failed=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $*"; failed=$((failed + 1)); }
check() {  # check STATUS DESCRIPTION [DETAIL...]
  local st="$1" what="$2"
  shift 2
  if [ "$st" -eq 0 ]; then ok "$what"; else not_ok "$what"; fi
  [ "$st" -eq 0 ] || printf '%s\n' "$@" | sed -e '/^$/d' -e 's/^/#   /'
}

# run SOCKET ARGS...: sets $out (stdout), $err (stderr) and $st (exit status).
run() {
  local sock="$1"
  shift
  out="$("$SLUICE_CLI" --socket "$sock" "$@" 2>"$SL_TMP/err")"
  st=$?
  err="$(cat "$SL_TMP/err")"
}

# expect_error DESCRIPTION PATTERN SOCKET ARGS...: exit 2, one line on stderr matching PATTERN.
expect_error() {
  local what="$1" pat="$2"
  shift 2
  run "$@"
  [ "$st" -eq 2 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && grep -qE "$pat" <<<"$err"
  check $? "error: $what (exit $st: $err)" "stdout: $out"
}

# json_keys DESCRIPTION SCHEMA: $out is JSON whose shape matches SCHEMA, a Python expression
# over `d` that must be true (stable keys are checked as exact sets).
json_keys() {
  python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$out" "$2" 2>"$SL_TMP/py"
  check $? "--json: $1" "$out" "$(cat "$SL_TMP/py")"
}

# --- static mode: two net_null vdevs, routes from options and from the CLI -------------------
ssock="$SL_TMP/static.sock"
ip netns exec "$RTR" "$sluiced" --port vdev:net_null0 --port vdev:net_null1 \
  --addr net_null0=10.8.0.1/24 --addr net_null1=10.9.0.1/24 --route 10.100.0.0/16=10.9.0.2 \
  --no-huge --memory 256 --file-prefix "sl-cli-$SL_ID" --control-socket "$ssock" \
  >"$SL_TMP/static.log" 2>&1 &
static_pid=$!
for _ in $(seq 300); do grep -q 'sluiced: ready' "$SL_TMP/static.log" && break; sleep 0.1; done
grep -q 'static configuration' "$SL_TMP/static.log"
check $? "static mode: sluiced ready on net_null vdevs" "$(cat "$SL_TMP/static.log")"

mode="$(stat -c %a "$ssock" 2>/dev/null)"
[ "$mode" = 600 ]
check $? "the control socket is mode 0600 ($mode)"

run "$ssock" route show
grep -qx '10.100.0.0/16 via 10.9.0.2 dev net_null1' <<<"$out" && grep -q '10.8.0.0/24 dev net_null0 scope link' <<<"$out"
check $? "route show: the configured and connected routes" "$out"
run "$ssock" route add 10.101.0.0/16 via 10.8.0.2
[ "$st" -eq 0 ]
check $? "route add via a gateway" "$err"
run "$ssock" route add blackhole 10.102.0.0/16
[ "$st" -eq 0 ]
check $? "route add blackhole" "$err"
run "$ssock" route add 10.103.0.0/16 dev net_null1
[ "$st" -eq 0 ]
check $? "route add dev" "$err"
run "$ssock" route get 10.101.3.4
grep -q '^10.101.3.4 via 10.8.0.2 dev net_null0 src 10.8.0.1 unresolved prefix 10.101.0.0/16$' <<<"$out"
check $? "route get: gateway, port, source, unresolved neighbour, prefix" "$out"
run "$ssock" route get 10.102.0.1
grep -q '^blackhole 10.102.0.1 prefix 10.102.0.0/16$' <<<"$out"
check $? "route get: blackhole" "$out"
run "$ssock" route get 10.8.0.1
grep -q '^local 10.8.0.1 dev net_null0' <<<"$out"
check $? "route get: a local address" "$out"
run "$ssock" route show -n
grep -q '^Destination     Gateway         Genmask         Flags Metric Ref    Use Iface$' <<<"$out" &&
  grep -qE '^10\.101\.0\.0 +10\.8\.0\.2 +255\.255\.0\.0 +UG +0 +0 +0 net_null0$' <<<"$out" &&
  grep -qE '^10\.102\.0\.0 +0\.0\.0\.0 +255\.255\.0\.0 +! +0 +- +0 -$' <<<"$out" &&
  grep -qE '^10\.8\.0\.0 +0\.0\.0\.0 +255\.255\.255\.0 +U +0 +0 +0 net_null0$' <<<"$out"
check $? "route show -n: the route -n layout and flags (UG, !, U)" "$out"
run "$ssock" route show 10.101.0.0/16 --json
json_keys "route show PREFIX" 'len(d) == 1 and set(d[0]) == {"dst","type","origin","metric","gateway","dev"} and d[0]["gateway"] == "10.8.0.2"'
run "$ssock" route show --json
json_keys "route show" 'all({"dst","type","origin","metric"} <= set(r) for r in d) and any(r["type"] == "blackhole" and "dev" not in r for r in d)'
run "$ssock" route show --all
grep -q '^local 10.8.0.1/32 dev net_null0' <<<"$out" && grep -q '^broadcast 10.8.0.255/32' <<<"$out"
check $? "route show --all: local and broadcast routes" "$out"
run "$ssock" route get 10.101.3.4 --json
json_keys "route get" 'set(d[0]) == {"dst","prefix","type","origin","gateway","dev","prefsrc","lladdr"} and d[0]["lladdr"] is None'
run "$ssock" route del 10.101.0.0/16
[ "$st" -eq 0 ]
check $? "route del"
expect_error "route get after del" 'no route to 10\.101\.3\.4' "$ssock" route get 10.101.3.4
expect_error "route del of a missing route" 'no route 10\.101\.0\.0/16' "$ssock" route del 10.101.0.0/16
expect_error "route check without a kernel to compare" 'mirror off' "$ssock" route check
expect_error "unknown port" "unknown port 'eth9'" "$ssock" route add 10.104.0.0/16 dev eth9
expect_error "gateway off every subnet" 'not on any port' "$ssock" route add 10.104.0.0/16 via 192.0.2.1

run "$ssock" link
grep -q 'net_null0: state UP mtu 1500 forwarding on ethdev' <<<"$out"
check $? "link" "$out"
run "$ssock" link --json
json_keys "link" 'len(d) == 2 and all(set(x) == {"ifname","address","mtu","operstate","forwarding","kind","mirrored","ethdev","queues"} for x in d)'
run "$ssock" addr
grep -q 'inet 10.9.0.1/24' <<<"$out"
check $? "addr" "$out"
run "$ssock" addr --json
json_keys "addr" 'set(d[0]) == {"ifname","addr_info"} and d[0]["addr_info"][0] == {"family":"inet","local":"10.8.0.1","prefixlen":24}'
run "$ssock" neigh --json
json_keys "neigh (empty)" 'd == []'
run "$ssock" stats
grep -q '^ports:' <<<"$out" && grep -q '^nodes:' <<<"$out" && grep -q '^drops:' <<<"$out"
check $? "stats" "$out"
run "$ssock" stats --json
json_keys "stats" 'set(d) == {"ports","nodes","drops","forwarded","fib","neighbours"} and {"name","packets","calls","cycles","cycles_per_packet"} == set(d["nodes"][0]) and "ip4-bad-checksum" in d["drops"]'
run "$ssock" graph
grep -q '^digraph sluice {' <<<"$out" && grep -q '"ip4-lookup" -> "ip4-forward";' <<<"$out" &&
  grep -q '"port-rx"' <<<"$out"
check $? "graph: Graphviz dot with the nodes and edges" "$(head -n 5 <<<"$out")"

expect_error "unknown command" "unknown command 'frobnicate'" "$ssock" frobnicate
expect_error "unknown route command" "unknown route command 'flip'" "$ssock" route flip
expect_error "bad prefix" "'10.0.0.1/8' is not a prefix" "$ssock" route add 10.0.0.1/8 via 10.8.0.2
expect_error "bad address" "'10.0.0.300' is not an IPv4 address" "$ssock" route get 10.0.0.300
expect_error "unknown option" "unknown option '--bogus'" "$ssock" route show --bogus
expect_error "daemon not running (the socket is named)" "$SL_TMP/nothing.sock" "$SL_TMP/nothing.sock" route show
run "$ssock"
[ "$st" -eq 2 ]
check $? "no command: exit 2" "$err"
"$SLUICE_CLI" --help >/dev/null 2>&1
check $? "--help: exit 0"

# --- mirror mode -----------------------------------------------------------------------------
sluiced_start "$sluiced" || { not_ok "mirror mode: sluiced starts"; exit 1; }
msock="$SLUICE_SOCK"
in_rtr ip route add 10.50.0.0/16 via "$SINK_IP" metric 20
sleep 0.3
run "$msock" route show 10.50.0.0/16
grep -qx "10.50.0.0/16 via $SINK_IP dev r1 metric 20" <<<"$out"
check $? "mirror: route show has the kernel's route and metric" "$out"
expect_error "mirror: route add on a mirrored port is refused" 'mirrored from the kernel' \
  "$msock" route add 10.51.0.0/16 via "$SINK_IP"
expect_error "mirror: route del of a kernel route is refused" 'ip route del' "$msock" route del 10.50.0.0/16
run "$msock" route check
[ "$st" -eq 0 ] && grep -q '^clean: ' <<<"$out"
check $? "mirror: route check clean (exit $st)" "$out" "$err"
run "$msock" route check --json
json_keys "route check" 'set(d) == {"clean","kernel_routes","sluice_routes","not_mirrored","differences"} and d["clean"] is True'
run "$msock" link --json
json_keys "link (mirrored)" 'all(x["mirrored"] and {"ifindex","admin_up","carrier"} <= set(x) for x in d)'
in_rtr ping -c 1 -W 1 "$SINK_IP" >/dev/null 2>&1
sleep 0.3
run "$msock" neigh --json
json_keys "neigh" 'any(x["dst"] == "'"$SINK_IP"'" and set(x) == {"dst","dev","lladdr","state","origin"} and x["origin"] == "kernel" for x in d)'
run "$msock" stats --json
json_keys "stats (mirror)" '{"events","routes_changed","resyncs","overruns","apply_errors","route_checks","route_check_differences"} <= set(d["mirror"]) and d["mirror"]["route_checks"] >= 2'

sluiced_stop
check $? "mirror: sluiced exits cleanly" "$(tail -n 20 "$SLUICED_LOG")"
echo "1..$n"
[ "$failed" -eq 0 ]
