#!/usr/bin/env bash
# tests/netns/cli.sh SLUICED SLUICE-CLI — every `sluice` command, its --json form (valid JSON
# with a fixed set of keys), and its error paths, against two daemons: one in static mode on
# DPDK net_null vdevs (route add/del through the CLI) and one in mirror mode on the gen -- rtr
# -- sink namespaces (lib.sh). NAT: rules from a config file and the CLI (static mode),
# sessions of gen's traffic masqueraded out of r1 (mirror mode), and sluiced's refusal of bad
# NAT options. Bridges (static mode): br0 from the config file over two unaddressed vdevs, its
# routed interface addressed and routed through, `bridge add|del|set|fdb ...` and their errors,
# and sluiced's refusal of bad --bridge options. TAP-ish output; exit 1 on any failure, 77 to
# skip.
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
  rm -rf "/var/run/dpdk/sl-cli-$SL_ID" "/var/run/dpdk/sl-cli-opt-$SL_ID"
  topo_down
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
topo_up

# TAP: check/ok/not_ok from lib.sh.

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

# --- sluiced refuses bad NAT options before DPDK starts: one line, exit 2 ---------------------
# opt_error DESCRIPTION PATTERN ARGS...  (--exit-after: should one be taken, it stops anyway)
opt_error() {
  local what="$1" pat="$2"
  shift 2
  err="$("$sluiced" --port vdev:net_null0 --no-huge --memory 256 --exit-after 1 \
    --file-prefix "sl-cli-opt-$SL_ID" --control-socket "$SL_TMP/opt.sock" "$@" 2>&1 >/dev/null)"
  st=$?
  [ "$st" -eq 2 ] && [ "$(wc -l <<<"$err")" -eq 1 ] && grep -qE -- "$pat" <<<"$err"
  check $? "sluiced refuses $what (exit $st: $err)"
}
opt_error "a masquerade prefix with host bits" \
  '^sluiced: --masquerade 10\.0\.0\.1/8,out=net_null0: .*host bits set \(did you mean 10\.0\.0\.0/8\?\)' \
  --masquerade 10.0.0.1/8,out=net_null0
opt_error "a masquerade out of an unknown port" "--masquerade 10\.0\.0\.0/8,out=eth9: unknown port 'eth9'" \
  --masquerade 10.0.0.0/8,out=eth9
opt_error "a forward rule without a destination port" "--forward tcp:8080=10\.8\.0\.2: .*not ADDR:PORT" \
  --forward tcp:8080=10.8.0.2
opt_error "a forward rule for icmp" "--forward icmp:8=10\.8\.0\.2:8: protocol 'icmp' is not tcp or udp" \
  --forward icmp:8=10.8.0.2:8
opt_error "two forward rules matching the same" "--forward tcp:80=10\.8\.0\.3:80: matches what" \
  --forward tcp:80=10.8.0.2:80 --forward tcp:80=10.8.0.3:80
opt_error "an inverted port range" '--nat-ports 2000-1000: the first port is above the last' \
  --nat-ports 2000-1000
opt_error "a UDP timeout under 2 minutes" '--nat-timeout-udp 60: .*RFC 4787 REQ-5' --nat-timeout-udp 60
opt_error "0 sessions" '--nat-sessions 0: use 1-16777215' --nat-sessions 0
opt_error "a bridge over an unknown port" "^sluiced: --bridge br0=nosuchport: unknown port 'nosuchport' \(not given with --port\)$" \
  --bridge br0=nosuchport
opt_error "an address on a bridge member" '^sluiced: --addr net_null0=10\.0\.0\.1/24: port net_null0 is a member of bridge br0' \
  --bridge br0=net_null0 --addr net_null0=10.0.0.1/24
opt_error "a bridge named like a port" "--bridge net_null0=net_null0: 'net_null0' is already a port's name" \
  --bridge net_null0=net_null0
opt_error "a port in two bridges" '--bridge br1=net_null0: port net_null0 is already in bridge br0' \
  --bridge br0=net_null0 --bridge br1=net_null0
opt_error "a bridge with a multicast MAC" '--bridge br0=net_null0,mac=01:00:5e:00:00:01: mac=01:00:5e:00:00:01 is not a unicast MAC' \
  --bridge br0=net_null0,mac=01:00:5e:00:00:01
opt_error "a bridge ageing that is no number" "--bridge br0=net_null0,ageing=long: ageing='long': use 0-1000000 seconds" \
  --bridge br0=net_null0,ageing=long
opt_error "an unknown bridge setting" "--bridge br0=net_null0,stp=on: unknown setting 'stp=on'" \
  --bridge br0=net_null0,stp=on
opt_error "a bridge without ports" '--bridge br0=mac=02:00:00:00:00:01: no member port' \
  --bridge br0=mac=02:00:00:00:00:01
opt_error "an address on an unknown bridge" "--addr: unknown port 'br9' \(not given with --port or --bridge\)" \
  --addr br9=10.0.0.1/24
opt_error "an FDB of 0 entries" '--fdb-size 0: use 8-16777215' --fdb-size 0
opt_error "RX rings not a power of two" '--rx-desc 1000: use a power of two from 64 to 16384' --rx-desc 1000
opt_error "TX rings too deep" '--tx-desc 32768: use a power of two from 64 to 16384' --tx-desc 32768
printf 'masquerade = 10.8.0.0/24,out=net_null7\n' >"$SL_TMP/bad.conf"
opt_error "an unknown port in the config file" "--masquerade 10\.8\.0\.0/24,out=net_null7: unknown port" \
  --config "$SL_TMP/bad.conf"

# --- static mode: net_null vdevs, routes from options and from the CLI -----------------------
# NAT rules and settings from a config file (the options' keys), and bridge br0 over net_null2
# and net_null3 (no addresses of their own); net_null4 is left for `bridge add`.
ssock="$SL_TMP/static.sock"
printf '%s\n' 'masquerade = 10.8.0.0/24,out=net_null1' 'forward = tcp:8080=10.8.0.2:80' \
  'nat-sessions = 4096' 'nat-timeout-udp = 600' \
  'bridge = br0=net_null2,net_null3,mac=02:00:00:00:0b:01,ageing=120' 'fdb-size = 1023' \
  >"$SL_TMP/static.conf"
ip netns exec "$RTR" "$sluiced" --port vdev:net_null0 --port vdev:net_null1 \
  --port vdev:net_null2 --port vdev:net_null3 --port vdev:net_null4 \
  --addr net_null0=10.8.0.1/24 --addr net_null1=10.9.0.1/24 --route 10.100.0.0/16=10.9.0.2 \
  --addr br0=10.20.0.1/24 --route 10.21.0.0/16=10.20.0.2 \
  --config "$SL_TMP/static.conf" --rx-desc 512 --tx-desc 2048 \
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
json_keys "link" 'len(d) == 6 and all(set(x) == {"ifname","address","mtu","operstate","forwarding","kind","mirrored","ethdev","queues"} for x in d) and d[5]["ifname"] == "br0" and d[5]["kind"] == "bridge" and d[5]["ethdev"] is None and d[5]["address"] == "02:00:00:00:0b:01"'
run "$ssock" addr
grep -q 'inet 10.9.0.1/24' <<<"$out"
check $? "addr" "$out"
run "$ssock" addr --json
json_keys "addr" 'set(d[0]) == {"ifname","addr_info"} and d[0]["addr_info"][0] == {"family":"inet","local":"10.8.0.1","prefixlen":24}'
run "$ssock" neigh --json
json_keys "neigh (empty)" 'd == []'
run "$ssock" stats
grep -q '^ports:' <<<"$out" && grep -q '^nodes:' <<<"$out" && grep -q '^drops:' <<<"$out" &&
  grep -qE '^mbufs: [0-9]+ in use of [0-9]+$' <<<"$out"
check $? "stats" "$out"
run "$ssock" stats --json
json_keys "stats" 'set(d) == {"ports","nodes","drops","forwarded","fib","neighbours","nat","bridge","mempool"} and set(d["mempool"]) == {"name","size","available","in_use","cache_size"} and d["mempool"]["size"] > 0 and d["mempool"]["in_use"] + d["mempool"]["available"] == d["mempool"]["size"] and {"name","packets","calls","cycles","cycles_per_packet"} == set(d["nodes"][0]) and "ip4-bad-checksum" in d["drops"] and set(d["nat"]) == {"sessions","capacity","bytes","translated","created","expired","table_full","ports_exhausted","filtered","icmp_errors","hairpin","fragments","fragments_untracked","flushed","handoffs","handoff_full"} and d["nat"]["capacity"] == 4096'
run "$ssock" stats
grep -q '^nat: sessions 0 of 4096 ' <<<"$out"
check $? "stats: the NAT line" "$out"
run "$ssock" graph
grep -q '^digraph sluice {' <<<"$out" && grep -q '"ip4-lookup" -> "ip4-forward";' <<<"$out" &&
  grep -q '"port-rx"' <<<"$out"
check $? "graph: Graphviz dot with the nodes and edges" "$(head -n 5 <<<"$out")"
# docs/architecture.md shows this graph: docs/graph.dot must be the daemon's output, and
# docs/graph.svg must draw exactly its nodes and edges (scripts/docs-graph regenerates both).
docs="$here/../../docs"
diff <(printf '%s\n' "$out") "$docs/graph.dot" >"$SL_TMP/graph.diff"
check $? "graph: docs/graph.dot is up to date (else run scripts/docs-graph)" "$(head -n 20 "$SL_TMP/graph.diff")"
/usr/bin/python3 - "$docs/graph.dot" "$docs/graph.svg" <<'PY'
import html, re, sys
dot, svg = (open(f).read() for f in sys.argv[1:])
edges = set(re.findall(r'^  "([^"]+)" -> "([^"]+)";$', dot, re.M))
nodes = {n for e in edges for n in e} | set(re.findall(r'^  "([^"]+)" \[', dot, re.M))
titles = [html.unescape(t) for t in re.findall(r'<title>([^<]*)</title>', svg)]
svg_edges = {tuple(t.split("->")) for t in titles if "->" in t}
svg_nodes = {t for t in titles if "->" not in t and t != "sluice"}
bad = (nodes ^ svg_nodes) | {"->".join(e) for e in edges ^ svg_edges}
if not edges or bad:
    print("differ:", sorted(bad)[:20])
    sys.exit(1)
PY
check $? "graph: docs/graph.svg draws docs/graph.dot's nodes and edges"

# NAT rules: the config file's, then added and deleted through the CLI.
run "$ssock" nat show
grep -qx '  10.8.0.0/24,out=net_null1' <<<"$out" && grep -qx '  tcp:8080=10.8.0.2:80' <<<"$out" &&
  grep -q '^ports 1024-65535, 4096 sessions per worker; timeouts: tcp established 7440 s, .* udp 600 s, icmp 60 s$' <<<"$out" &&
  grep -q '^nat: sessions 0 of 4096 ' <<<"$out"
check $? "nat show: the config file's rules, port range, sessions and timeouts" "$out"
run "$ssock" nat show --json
json_keys "nat show" 'set(d) == {"masquerade","forward","ports","sessions_per_worker","timeouts","totals","drops"} and d["masquerade"] == [{"spec":"10.8.0.0/24,out=net_null1","prefix":"10.8.0.0/24","out":"net_null1"}] and d["forward"] == [{"spec":"tcp:8080=10.8.0.2:80","proto":"tcp","addr":None,"port":8080,"to_addr":"10.8.0.2","to_port":80,"in":None}] and d["ports"] == {"first":1024,"last":65535} and d["timeouts"]["udp"] == 600 and d["totals"]["capacity"] == 4096 and "nat-filtered" in d["drops"]'
run "$ssock" nat masquerade add 10.9.0.0/24,out=net_null0
[ "$st" -eq 0 ] && [ -z "$out" ]
check $? "nat masquerade add" "$err"
run "$ssock" nat forward add udp:10.9.0.1:53=10.8.0.3:5353,in=net_null1
[ "$st" -eq 0 ]
check $? "nat forward add with an address and in=" "$err"
run "$ssock" nat forward add tcp:8081=10.8.0.2:81
[ "$st" -eq 0 ]
check $? "nat forward add" "$err"
run "$ssock" nat show --json
json_keys "nat show after add" '[m["spec"] for m in d["masquerade"]] == ["10.8.0.0/24,out=net_null1","10.9.0.0/24,out=net_null0"] and [f["spec"] for f in d["forward"]] == ["tcp:8080=10.8.0.2:80","udp:10.9.0.1:53=10.8.0.3:5353,in=net_null1","tcp:8081=10.8.0.2:81"] and d["forward"][1]["addr"] == "10.9.0.1" and d["forward"][1]["in"] == "net_null1"'
expect_error "nat masquerade add of an existing rule" 'masquerade 10\.9\.0\.0/24,out=net_null0: the rule exists already' \
  "$ssock" nat masquerade add 10.9.0.0/24,out=net_null0
expect_error "nat forward add of a match already forwarded" 'tcp:8080=10\.8\.0\.2:80 already matches that' \
  "$ssock" nat forward add tcp:8080=10.8.0.9:80
run "$ssock" nat forward del udp:10.9.0.1:53,in=net_null1
[ "$st" -eq 0 ]
check $? "nat forward del by the match alone" "$err"
run "$ssock" nat forward del tcp:8081=10.8.0.7:7
[ "$st" -eq 0 ]
check $? "nat forward del by the match, whatever the target" "$err"
run "$ssock" nat masquerade del 10.9.0.0/24,out=net_null0
[ "$st" -eq 0 ]
check $? "nat masquerade del" "$err"
run "$ssock" nat show
[ "$(sed -n '1,4p' <<<"$out")" = "$(printf 'masquerade:\n  10.8.0.0/24,out=net_null1\nforward:\n  tcp:8080=10.8.0.2:80')" ]
check $? "nat show: back to the config file's rules" "$out"
expect_error "nat forward del of a missing rule" 'no forward rule matching udp:10\.9\.0\.1:53,in=net_null1' \
  "$ssock" nat forward del udp:10.9.0.1:53,in=net_null1
expect_error "nat masquerade del of a missing rule" 'no masquerade rule 10\.9\.0\.0/24,out=net_null0' \
  "$ssock" nat masquerade del 10.9.0.0/24,out=net_null0
expect_error "nat masquerade with host bits" 'host bits set \(did you mean 10\.9\.0\.0/24\?\)' \
  "$ssock" nat masquerade add 10.9.0.1/24,out=net_null0
expect_error "nat masquerade out of an unknown port" "unknown port 'eth9'" \
  "$ssock" nat masquerade add 10.9.0.0/24,out=eth9
expect_error "nat forward in= an unknown port" "unknown port 'eth9'" \
  "$ssock" nat forward add tcp:22=10.8.0.2:22,in=eth9
expect_error "nat forward of a port out of range" "port '65536' is not a port number \(1-65535\)" \
  "$ssock" nat forward add tcp:65536=10.8.0.2:22
expect_error "nat forward to a multicast address" "'224\.0\.0\.5' is not a unicast address" \
  "$ssock" nat forward add udp:5000=224.0.0.5:5000
expect_error "nat forward without add/del" 'nat forward: expected add' "$ssock" nat forward
expect_error "unknown nat command" "unknown nat command 'flip'" "$ssock" nat flip
expect_error "nat sessions --limit with no number" "limit: expected a number" "$ssock" nat sessions --limit many
expect_error "--limit on another command" 'limit is for nat sessions only' "$ssock" route show --limit 3
run "$ssock" nat sessions
[ "$st" -eq 0 ] && [ "$(tail -n 1 <<<"$out")" = "0 session(s)" ] &&
  [ "$(head -n 1 <<<"$out" | tr -s ' ')" = "proto inside outside remote state idle kind port" ]
check $? "nat sessions: a header and no session" "$out"
run "$ssock" nat sessions --json
json_keys "nat sessions (none)" 'd == {"total": 0, "sessions": []}'

# Bridges: br0 from the config file, its routed interface br0 addressed and routed through.
run "$ssock" bridge show
grep -qx 'br0: static, mac 02:00:00:00:0b:01, ageing 120 s, vlan filtering off, [0-9]* fdb entr\(y\|ies\)' <<<"$out" &&
  grep -qx '  interface br0: 10.20.0.1/24' <<<"$out" &&
  grep -qx '  member net_null2: up, learning, flood unicast broadcast multicast' <<<"$out" &&
  grep -qx '  member net_null3: up, learning, flood unicast broadcast multicast' <<<"$out" &&
  grep -q '^bridge: 1 bridge(s), fdb [0-9]* of 1023 entries' <<<"$out"
check $? "bridge show: br0 from the config file, its interface, members and totals" "$out"
run "$ssock" bridge show --json
json_keys "bridge show" 'set(d) == {"bridges","not_mirrored","totals"} and d["not_mirrored"] == [] and len(d["bridges"]) == 1 and set(d["bridges"][0]) == {"name","origin","mac","interface","addresses","ageing","vlan_filtering","default_pvid","interface_pvid","members","fdb_entries"} and d["bridges"][0]["origin"] == "static" and d["bridges"][0]["interface"] == "br0" and d["bridges"][0]["addresses"] == [{"local":"10.20.0.1","prefixlen":24}] and d["bridges"][0]["ageing"] == 120 and d["bridges"][0]["vlan_filtering"] is False and [m["port"] for m in d["bridges"][0]["members"]] == ["net_null2","net_null3"] and all(set(m) == {"port","state","learning","flood","pvid","vlans"} and m["state"] == "up" and m["learning"] is True and m["flood"] == {"unicast":True,"broadcast":True,"multicast":True} and m["pvid"] is None and m["vlans"] is None for m in d["bridges"][0]["members"]) and set(d["totals"]) == {"bridges","fdb_entries","fdb_capacity","fdb_bytes","learned","moves","full","aged","static_kept","notes_received","notes_sent","notes_lost","flooded","flood_copies","copy_failed","own_src"} and d["totals"]["bridges"] == 1 and d["totals"]["fdb_capacity"] == 1023'
run "$ssock" route get 10.21.3.4
grep -q '^10.21.3.4 via 10.20.0.2 dev br0 src 10.20.0.1 unresolved prefix 10.21.0.0/16$' <<<"$out"
check $? "route get: a --route through the bridge's routed interface" "$out"
run "$ssock" stats --json
json_keys "stats: the bridge totals" 'd["bridge"]["bridges"] == 1 and d["bridge"]["fdb_capacity"] == 1023 and set(d["bridge"]) == {"bridges","fdb_entries","fdb_capacity","fdb_bytes","learned","moves","full","aged","static_kept","notes_received","notes_sent","notes_lost","flooded","flood_copies","copy_failed","own_src"}'
run "$ssock" stats
grep -q '^bridge: 1 bridge(s), fdb [0-9]* of 1023 entries' <<<"$out" && grep -q '^        notes sent [0-9]*, received' <<<"$out"
check $? "stats: the bridge lines" "$out"

# Static and local FDB entries.
run "$ssock" bridge fdb add 02:00:00:00:00:aa dev net_null2
[ "$st" -eq 0 ] && [ -z "$out" ]
check $? "bridge fdb add MAC dev PORT (static)" "$err"
run "$ssock" bridge fdb add 02:00:00:00:00:bb dev br0
[ "$st" -eq 0 ]
check $? "bridge fdb add MAC dev BRIDGE (local)" "$err"
run "$ssock" bridge fdb --json
json_keys "bridge fdb" 'all(set(e) == {"mac","bridge","port","vlan","age","flags"} for e in d) and {"mac":"02:00:00:00:00:aa","bridge":"br0","port":"net_null2","vlan":None,"age":None,"flags":["static"]} in d and {"mac":"02:00:00:00:00:bb","bridge":"br0","port":"br0","vlan":None,"age":None,"flags":["local"]} in d'
run "$ssock" bridge fdb br0
[ "$(head -n 1 <<<"$out" | tr -s ' ')" = "mac bridge port vlan age flags" ] &&
  grep -qE '^02:00:00:00:00:aa +br0 +net_null2 +- +- +static$' <<<"$out" &&
  grep -qE '^02:00:00:00:00:bb +br0 +br0 +- +- +local$' <<<"$out" &&
  grep -qE '^[0-9]+ entr(y|ies)$' <<<"$(tail -n 1 <<<"$out")"
check $? "bridge fdb NAME: a header, static and local entries, a count" "$out"
expect_error "bridge fdb del on another port" '02:00:00:00:00:aa is on net_null2, not net_null3' \
  "$ssock" bridge fdb del 02:00:00:00:00:aa dev net_null3
run "$ssock" bridge fdb del 02:00:00:00:00:aa dev net_null2
[ "$st" -eq 0 ]
check $? "bridge fdb del MAC dev PORT" "$err"
run "$ssock" bridge fdb del 02:00:00:00:00:bb dev br0
[ "$st" -eq 0 ]
check $? "bridge fdb del MAC dev BRIDGE" "$err"
run "$ssock" bridge fdb --json
json_keys "bridge fdb after del" 'not any(e["mac"] in ("02:00:00:00:00:aa","02:00:00:00:00:bb") for e in d)'
expect_error "bridge fdb del of a missing entry" '^sluice: no such entry$' \
  "$ssock" bridge fdb del 02:00:00:00:00:aa dev net_null2
expect_error "bridge fdb add on a port in no bridge" 'net_null0 is not a bridge member' \
  "$ssock" bridge fdb add 02:00:00:00:00:aa dev net_null0
expect_error "bridge fdb add with a VLAN on a bridge without VLAN filtering" 'br0 does not filter VLANs' \
  "$ssock" bridge fdb add 02:00:00:00:00:aa dev net_null2 vlan 10
expect_error "bridge fdb add of a group MAC" 'a static entry needs a unicast MAC' \
  "$ssock" bridge fdb add 01:00:5e:00:00:01 dev net_null2
expect_error "bridge fdb add of no MAC" "'02:00:zz' is not a MAC address" \
  "$ssock" bridge fdb add 02:00:zz dev net_null2
expect_error "bridge fdb show of an unknown bridge" '^sluice: no bridge br7$' "$ssock" bridge fdb br7

# bridge add / set / del, and what they refuse.
expect_error "bridge add over an unknown port" "^sluice: unknown port 'nosuch'$" "$ssock" bridge add br1 nosuch
expect_error "bridge add of an existing name" '^sluice: bridge br0 exists$' "$ssock" bridge add br0 net_null4
expect_error "bridge add named like a port" "^sluice: net_null0 is already a port's name$" \
  "$ssock" bridge add net_null0 net_null4
expect_error "bridge add of a port already in a bridge" '^sluice: net_null2 is already in bridge br0$' \
  "$ssock" bridge add br1 net_null2
expect_error "bridge add of a port with an address" 'port net_null0 has address 10\.8\.0\.1/24' \
  "$ssock" bridge add br1 net_null0
expect_error "bridge add without ports" 'no member PORT' "$ssock" bridge add br1
expect_error "bridge add with a bad ageing" "ageing 'x5': use 0-1000000 seconds" "$ssock" bridge add br1 net_null4 ageing x5
run "$ssock" bridge add br1 net_null4 mac 02:00:00:00:0b:02 ageing 60 vlan-filtering
[ "$st" -eq 0 ] && [ -z "$out" ]
check $? "bridge add with mac, ageing and vlan-filtering" "$err"
run "$ssock" bridge set br1 ageing 30
[ "$st" -eq 0 ]
check $? "bridge set ageing" "$err"
run "$ssock" bridge show br1 --json
json_keys "bridge show NAME (VLAN-aware)" '[b["name"] for b in d["bridges"]] == ["br1"] and d["bridges"][0]["ageing"] == 30 and d["bridges"][0]["vlan_filtering"] is True and d["bridges"][0]["mac"] == "02:00:00:00:0b:02" and d["bridges"][0]["addresses"] == [] and d["bridges"][0]["members"][0]["pvid"] == 1 and d["bridges"][0]["members"][0]["vlans"] == [{"vid":1,"untagged":True}] and d["totals"]["bridges"] == 2'
run "$ssock" bridge show br1
grep -qx 'br1: static, mac 02:00:00:00:0b:02, ageing 30 s, vlan filtering on (default pvid 1, interface pvid 1), [0-9]* fdb entr\(y\|ies\)' <<<"$out" &&
  grep -qx '  interface br1: no address' <<<"$out" &&
  grep -qx '  member net_null4: up, learning, flood unicast broadcast multicast, pvid 1, vlans 1 untagged' <<<"$out"
check $? "bridge show NAME: a VLAN-aware bridge" "$out"
run "$ssock" bridge fdb add 02:00:00:00:00:cc dev net_null4 vlan 7
[ "$st" -eq 0 ]
check $? "bridge fdb add ... vlan V on a VLAN-aware bridge" "$err"
run "$ssock" bridge fdb br1 --json
json_keys "bridge fdb NAME (VLAN-aware)" 'all(e["bridge"] == "br1" for e in d) and {"mac":"02:00:00:00:00:cc","bridge":"br1","port":"net_null4","vlan":7,"age":None,"flags":["static"]} in d'
run "$ssock" link --json
json_keys "link: a bridge added at run time" '[x["ifname"] for x in d] == ["net_null0","net_null1","net_null2","net_null3","net_null4","br0","br1"]'
run "$ssock" bridge del br1
[ "$st" -eq 0 ]
check $? "bridge del" "$err"
run "$ssock" bridge show --json
json_keys "bridge show after del" '[b["name"] for b in d["bridges"]] == ["br0"] and d["totals"]["bridges"] == 1'
run "$ssock" link --json
json_keys "link: the deleted bridge's interface is gone" '[x["ifname"] for x in d] == ["net_null0","net_null1","net_null2","net_null3","net_null4","br0"]'
run "$ssock" bridge fdb --json
json_keys "bridge fdb: the deleted bridge's entries are gone" 'not any(e["bridge"] == "br1" for e in d)'
expect_error "bridge del of a missing bridge" '^sluice: no bridge br1$' "$ssock" bridge del br1
expect_error "bridge set of a missing bridge" '^sluice: no bridge br1$' "$ssock" bridge set br1 ageing 10
expect_error "bridge set with a bad ageing" "ageing 'soon': use 0-1000000 seconds" "$ssock" bridge set br0 ageing soon
expect_error "bridge del of a bridge a route goes through" 'bridge br0 is the way of route 10\.21\.0\.0/16' \
  "$ssock" bridge del br0
expect_error "unknown bridge command" "unknown bridge command 'flip'" "$ssock" bridge flip
run "$ssock" bridge show
grep -q '^br0: static, mac 02:00:00:00:0b:01, ageing 120 s' <<<"$out"
check $? "bridge show: br0 as it was" "$out"

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
# gen's subnet is masqueraded out of r1: its traffic to sink makes NAT sessions.
sluiced_start "$sluiced" --masquerade "10.1.0.0/24,out=r1" ||
  { not_ok "mirror mode: sluiced starts"; exit 1; }
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

# NAT sessions: a ping and a UDP datagram from gen to sink, masqueraded to r1's address.
in_gen ping -c 2 -i 0.2 -W 1 "$SINK_IP" >"$SL_TMP/ping" 2>&1
check $? "mirror: ping gen -> sink through the masquerade" "$(cat "$SL_TMP/ping")"
in_gen bash -c "echo sluice >/dev/udp/$SINK_IP/9" 2>/dev/null
# nat_sessions ARGS...: `run "$msock" nat sessions ARGS` until it counts 2 sessions or more, for
# at most 5 s (a worker that does not answer within 1 s, on a loaded machine, is left out).
nat_sessions() {
  local total
  for _ in $(seq 25); do
    run "$msock" nat sessions "$@"
    if [[ "$out" == "{"* ]]; then
      total="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["total"])' "$out" 2>/dev/null)"
    else
      total="$(tail -n 1 <<<"$out" | sed -n 's/^\([0-9]*\) session.*/\1/p')"
    fi
    [ "${total:-0}" -ge 2 ] && return
    sleep 0.2
  done
}
nat_sessions --json
json_keys "nat sessions" 'd["total"] >= 2 and len(d["sessions"]) == d["total"] and all(set(s) == {"proto","orig","reply","kind","state","idle","port"} and set(s["orig"]) == set(s["reply"]) == {"src","sport","dst","dport"} for s in d["sessions"]) and any(s["proto"] == "icmp" and s["orig"]["src"] == "'"$GEN_IP"'" and s["orig"]["dst"] == "'"$SINK_IP"'" and s["reply"]["src"] == "'"$SINK_IP"'" and s["reply"]["dst"] == "'"$R1_IP"'" and s["kind"] == "snat" and s["state"] is None and s["port"] == "r1" for s in d["sessions"]) and any(s["proto"] == "udp" and s["orig"]["dport"] == 9 and s["reply"]["dst"] == "'"$R1_IP"'" for s in d["sessions"])'
nat_sessions
re_gen="${GEN_IP//./\\.}" re_r1="${R1_IP//./\\.}" re_sink="${SINK_IP//./\\.}"
grep -qE "^icmp +$re_gen:[0-9]+ +$re_r1:[0-9]+ +$re_sink:[0-9]+ +- +[0-9]+ snat +r1$" <<<"$out" &&
  grep -qE "^udp +$re_gen:[0-9]+ +$re_r1:[0-9]+ +$re_sink:9 +- +[0-9]+ snat +r1$" <<<"$out"
check $? "nat sessions: inside, outside (r1's address), remote, kind, port" "$out"
nat_sessions --limit 1 --json
json_keys "nat sessions --limit 1" 'len(d["sessions"]) == 1 and d["total"] >= 2'
nat_sessions --limit 1
grep -qE '^[0-9]+ session\(s\), [0-9]+ not shown' <<<"$out" && [ "$(wc -l <<<"$out")" -eq 3 ]
check $? "nat sessions --limit 1: one line, the rest counted" "$out"
run "$msock" stats --json
json_keys "stats: NAT translated and created" 'd["nat"]["translated"] >= 2 and d["nat"]["created"] >= 2 and d["nat"]["sessions"] >= 2'

sluiced_stop
check $? "mirror: sluiced exits cleanly" "$(tail -n 20 "$SLUICED_LOG")"
echo "1..$n"
[ "$failed" -eq 0 ]
