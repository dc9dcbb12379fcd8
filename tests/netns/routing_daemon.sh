#!/usr/bin/env bash
# tests/netns/routing_daemon.sh SLUICED SLUICE-CLI — a routing daemon feeds rtr's kernel, sluice
# mirrors it (docs/routing-daemons.md). The gen -- rtr -- isp namespaces (lib.sh's topology,
# the sink renamed isp): isp runs BIRD 2 announcing 10,000 prefixes (routing_daemon_routes.py:
# a fixed slice of the real Internet table, or seeded ones without it) over eBGP to a second
# BIRD in rtr, whose kernel protocol exports them to rtr's main table (proto bird, 12) via isp's
# 10.2.0.2 on r1; sluiced in rtr, on AF_XDP ports r0 and r1, mirrors that table. The BGP
# session itself (TCP 179, 10.2.0.1 <-> 10.2.0.2) runs across the sluice port r1: the XDP
# program hands the router's own traffic to rtr's kernel. Checks:
#   - the session comes up through the port; every route reaches the kernel and sluice (the
#     announced set and sluice's set of routes via 10.2.0.2 are the same, `route check` clean,
#     `route get` of sample addresses agrees with `ip route get`); how long sluice took after
#     the kernel had them all is printed;
#   - gen pings addresses isp holds inside announced prefixes, sluice forwarding (rtr's kernel
#     IpForwDatagrams stays put);
#   - isp withdraws 2,000 of the prefixes (`birdc disable withdrawn`): they leave the kernel
#     and sluice, their addresses become unroutable, the rest stays; re-announced, they return;
#   - isp's BIRD shuts down (the session drops with a Cease): every BGP route leaves the kernel
#     and sluice.
# ROUTING_ROUTES changes the route count. TAP-ish output; exit 1 on any failure, 77 to skip.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

sluiced="${1:-}"
SLUICE_CLI="${2:-}"
if ! [ -x "$sluiced" ] || ! [ -x "$SLUICE_CLI" ]; then
  echo "usage: $0 PATH-OF-SLUICED PATH-OF-SLUICE-CLI" >&2
  exit 2
fi
sluiced="$(realpath "$sluiced")"
SLUICE_CLI="$(realpath "$SLUICE_CLI")"
ROUTES="${ROUTING_ROUTES:-10000}"
CONVERGE_WITHIN=30  # seconds for a route change to reach the kernel and sluice
BGP_NH="$SINK_IP"   # isp's address on the link: the BGP next hop of every route
BGP_NH2=10.2.0.3    # isp's second address: its second BGP speaker's, for the ECMP part
RTR_AS=65001
ISP_AS=65002

# The sink of lib.sh's topology is the BGP peer here.
SINK="sl-isp-$SL_ID"
ISP="$SINK"
SL_NAMESPACES=("$GEN" "$RTR" "$ISP")

netns_require bird birdc || exit $?
topo_trap
topo_up

SL_TAP_CLOCK=1  # TAP: check/ok/not_ok from lib.sh
finish() {
  echo "1..$n"
  echo "# $failed check(s) failed"
  [ "$failed" -eq 0 ]
  exit $?
}

fullview=""
for c in "${SLUICE_FULLVIEW:-}" "$here/../../../shared/data/fullview-prefixes.txt.gz" \
  /work/shared/data/fullview-prefixes.txt.gz; do
  if [ -n "$c" ] && [ -r "$c" ]; then fullview="$c"; break; fi
done
R="$SL_TMP/routes"
mkdir -p "$R"
if ! python3 "$here/routing_daemon_routes.py" "$ROUTES" "$R" "$fullview" 2>"$R/err"; then
  not_ok "the route set is generated" "$(cat "$R/err")"
  finish
fi
N_ALL="$(wc -l <"$R/all.txt")"
N_KEPT="$(wc -l <"$R/kept.txt")"
sl_log "routes: $N_ALL ($N_KEPT kept, $((N_ALL - N_KEPT)) withdrawn later), $(cat "$R/source.txt")"
mapfile -t PROBES <"$R/probes.txt"  # "kept|withdrawn PREFIX ADDR"
# isp holds each probe address, so that pings to it come back.
ECMP_PROBE=198.18.0.1  # in the first prefix of ecmp.txt
for p in "${PROBES[@]}" "ecmp 198.18.0.0/24 $ECMP_PROBE"; do
  read -r _ _ a <<<"$p"
  ip -n "$ISP" addr add "$a/32" dev lo
done
ip -n "$ISP" addr add "$BGP_NH2/24" dev s0
N_ECMP="$(wc -l <"$R/ecmp.txt")"

# --- the two BIRDs' configurations ---------------------------------------------------------
# Short timers so the session comes up (and would notice a dead peer) within seconds. eBGP:
# BIRD announces itself (10.2.0.2) as the next hop, and imports nothing without a filter
# (RFC 8212), hence the explicit `import all` / `export all`. The static routes are written
# inline: BIRD 2.0's `include` is not accepted inside a protocol block. isp runs two BIRDs (two
# BGP speakers of one AS, as two border routers of a provider would be), each bound to its own
# address (strict bind: both listen on port 179); the second one starts in the ECMP part, where
# both announce the prefixes of ecmp.txt, the first one's `multi` protocol enabled then (not
# named `ecmp`: a keyword in BIRD).
cat >"$SL_TMP/bird-isp.conf" <<EOF
router id $BGP_NH;
log "$SL_TMP/bird-isp.log" all;
protocol device { scan time 10; }
protocol static kept {
  ipv4;
$(cat "$R/kept.bird")
}
protocol static withdrawn {
  ipv4;
$(cat "$R/withdrawn.bird")
}
protocol static multi {
  disabled;
  ipv4;
$(cat "$R/ecmp.bird")
}
protocol bgp rtr {
  local $BGP_NH as $ISP_AS;
  neighbor $R1_IP as $RTR_AS;
  strict bind yes;
  connect delay time 1; connect retry time 2; hold time 9;
  ipv4 { import none; export all; };
}
EOF
cat >"$SL_TMP/bird-isp2.conf" <<EOF
router id $BGP_NH2;
log "$SL_TMP/bird-isp2.log" all;
protocol device { scan time 10; }
protocol static multi {
  ipv4;
$(cat "$R/ecmp.bird")
}
protocol bgp rtr {
  local $BGP_NH2 as $ISP_AS;
  neighbor $R1_IP as $RTR_AS;
  strict bind yes;
  connect delay time 1; connect retry time 2; hold time 9;
  ipv4 { import none; export all; };
}
EOF
# rtr: what BGP learns goes to the kernel's main table (kernel protocol, table 254 unless
# `kernel table N`); merge paths lets equal BGP paths become one multipath route.
cat >"$SL_TMP/bird-rtr.conf" <<EOF
router id $R1_IP;
log "$SL_TMP/bird-rtr.log" all;
protocol device { scan time 10; }
protocol kernel {
  ipv4 { import none; export all; };
  merge paths on;
}
protocol bgp isp {
  local $R1_IP as $RTR_AS;
  neighbor $BGP_NH as $ISP_AS;
  connect delay time 1; connect retry time 2; hold time 9;
  ipv4 { import all; export none; };
}
protocol bgp isp2 {
  local $R1_IP as $RTR_AS;
  neighbor $BGP_NH2 as $ISP_AS;
  connect delay time 1; connect retry time 2; hold time 9;
  ipv4 { import all; export none; };
}
EOF

# bird_start NS NAME: BIRD in NS in the foreground (so $! is bird itself), its control socket
# $SL_TMP/bird-NAME.ctl. Sets BIRD_PID.
BIRD_PID=""
bird_start() {
  local ns="$1" name="$2" i
  ip netns exec "$ns" bird -f -c "$SL_TMP/bird-$name.conf" -s "$SL_TMP/bird-$name.ctl" \
    >"$SL_TMP/bird-$name.out" 2>&1 &
  local pid=$!
  bg_track "$pid"
  BIRD_PID="$pid"
  for ((i = 0; i < 100; i++)); do
    birdc_ "$name" show status 2>/dev/null | grep -q 'Daemon is up' && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$SL_TMP/bird-$name.out" "$SL_TMP/bird-$name.log" 2>/dev/null | tail -n 20
  return 1
}
birdc_() {
  local name="$1"
  shift
  timeout 10 birdc -s "$SL_TMP/bird-$name.ctl" "$@"
}

# --- counting -------------------------------------------------------------------------------
kcount() { in_rtr ip -4 -o route show proto 12 | wc -l; }
scount() { sluice_cli route show 2>/dev/null | grep -c " via $BGP_NH dev r1"; }
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

# converge EXPECT: polls the kernel's and sluice's BGP route counts until both are EXPECT (or
# CONVERGE_WITHIN passes). Sets K_MS and S_MS, the ms from the call until the kernel, and
# sluice, first held EXPECT (-1: never), and K_N, S_N, the last counts. The two counts are read
# back to back, so S_MS - K_MS is sluice's lag behind the kernel to within one poll (a few tens
# of ms with 10,000 routes; POLL_MS, the longest poll, says how long one took).
converge() {
  local expect="$1" t0 t k s p0
  t0="$(now_ms)"
  K_MS=-1 S_MS=-1 POLL_MS=0
  while :; do
    p0="$(now_ms)"
    k="$(kcount)"
    s="$(scount)"
    t="$(now_ms)"
    [ $((t - p0)) -le "$POLL_MS" ] || POLL_MS=$((t - p0))
    [ "$K_MS" -ge 0 ] || [ "$k" -ne "$expect" ] || K_MS=$((t - t0))
    [ "$S_MS" -ge 0 ] || [ "$s" -ne "$expect" ] || S_MS=$((t - t0))
    K_N="$k" S_N="$s"
    [ "$k" -eq "$expect" ] && [ "$s" -eq "$expect" ] && return 0
    [ $((t - t0)) -lt $((CONVERGE_WITHIN * 1000)) ] || return 1
    sleep 0.02
  done
}
converged_line() {  # what the last converge saw, for the check lines
  if [ "$K_MS" -ge 0 ] && [ "$S_MS" -ge 0 ]; then
    local lag=$((S_MS - K_MS))
    [ "$lag" -ge 0 ] || lag=0
    echo "kernel after $(secs "$K_MS") s, sluice $(secs "$lag") s later (poll <= $POLL_MS ms)"
  else
    echo "kernel $K_N, sluice $S_N after ${CONVERGE_WITHIN} s"
  fi
}

# route_check: `sluice route check` is clean (the fast path matches a fresh kernel dump).
route_check() {
  local out st
  out="$(sluice_cli route check 2>&1)"
  st=$?
  check "$st" "$1: sluice route check is clean" "$(head -n 20 <<<"$out")"
}

# same_set FILE WHAT: the prefixes of sluice's routes via the BGP next hop are exactly FILE's,
# and so are the kernel's proto bird routes.
same_set() {
  local file="$1" what="$2" out
  sluice_cli route show --json >"$SL_TMP/show.json" 2>&1
  in_rtr ip -j -4 route show proto 12 >"$SL_TMP/kernel.json" 2>&1
  out="$(python3 - "$file" "$SL_TMP/show.json" "$SL_TMP/kernel.json" "$BGP_NH" <<'EOF'
import ipaddress, json, sys
want = {ipaddress.ip_network(l.strip()) for l in open(sys.argv[1]) if l.strip()}
def net(d):
    return ipaddress.ip_network("0.0.0.0/0" if d == "default" else d)
sl = {net(r["dst"]) for r in json.load(open(sys.argv[2])) if r.get("gateway") == sys.argv[4]
      and r.get("dev") == "r1"}
kr = {net(r["dst"]) for r in json.load(open(sys.argv[3])) if r.get("gateway") == sys.argv[4]}
bad = []
for name, got in (("sluice", sl), ("kernel", kr)):
    if got != want:
        bad.append(f"{name}: {len(got)} routes, {len(want - got)} missing "
                   f"(e.g. {sorted(want - got)[:3]}), {len(got - want)} extra "
                   f"(e.g. {sorted(got - want)[:3]})")
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
)"
  check $? "$what: sluice and the kernel hold exactly the $(wc -l <"$file") announced prefixes via $BGP_NH" "$out"
}

# route_get_bgp ADDR WHAT: sluice routes ADDR via the BGP next hop on r1, as the kernel does.
route_get_bgp() {
  local a="$1" what="$2" s k
  s="$(sluice_cli route get "$a" 2>&1)"
  k="$(in_rtr ip route get "$a" 2>&1 | head -n 1)"
  grep -q "via $BGP_NH dev r1" <<<"$s" && grep -q "via $BGP_NH dev r1" <<<"$k"
  check $? "$what: sluice route get $a: via $BGP_NH dev r1, as the kernel says" \
    "sluice: $s" "kernel: $k"
}

# pings DST COUNT: how many echo replies gen got from DST.
pings() {
  local out
  out="$(timeout 10 ip netns exec "$GEN" ping -n -c "$2" -i 0.2 -W 1 "$1" 2>&1)"
  sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out" | head -n 1
}

# reach DST WHAT: gen's pings to DST all come back, and rtr's kernel forwarded none of them.
reach() {
  local dst="$1" what="$2" f0 f1 rx
  f0="$(rtr_forw)"
  rx="$(pings "$dst" 3)"
  f1="$(rtr_forw)"
  [ "${rx:-0}" = 3 ] && [ "$f0" = "$f1" ]
  check $? "$what: gen reaches $dst through sluice (${rx:-0}/3, rtr's kernel forwarded $((f1 - f0)))"
}

# --- start: sluiced, then the two BIRDs ---------------------------------------------------
if ! sluiced_start "$sluiced"; then
  not_ok "sluiced starts in mirror mode on r0 and r1"
  finish
fi
ok "sluiced starts in mirror mode on r0 and r1"
out="$(in_rtr ip -d link show dev r1)"
grep -q 'prog/xdp' <<<"$out"
check $? "r1 has sluice's XDP program attached (BGP will cross it)" "$out"
n0="$(scount)"
[ "$n0" -eq 0 ]
check $? "before BGP: sluice has no route via $BGP_NH ($n0)"

bird_start "$RTR" rtr >"$SL_TMP/start.out" 2>&1
check $? "BIRD starts in rtr" "$(cat "$SL_TMP/start.out")"
bird_start "$ISP" isp >"$SL_TMP/start.out" 2>&1
check $? "BIRD starts in isp with $N_ALL static routes" "$(cat "$SL_TMP/start.out")"
BIRD_ISP_PID="$BIRD_PID"

# --- every route reaches the kernel and sluice --------------------------------------------
# Timed from isp's BIRD being up: the session opens (connect delay 1 s), the routes cross it,
# rtr's BIRD exports them to the kernel, sluice mirrors them.
converge "$N_ALL"
check $? "all $N_ALL routes: $(converged_line) after isp's BIRD started" \
  "$(birdc_ rtr show protocols all isp 2>&1 | grep -iE 'state|routes|error')"
if [ "$K_MS" -ge 0 ] && [ "$S_MS" -ge 0 ]; then
  sl_log "timing: isp's BIRD up -> rtr's kernel holds all $N_ALL: $(secs "$K_MS") s; -> sluice holds all: $(secs "$S_MS") s"
fi

# The session is Established, and its TCP connection is on port 179 between rtr's r1 address
# and isp's, i.e. through the AF_XDP port (BIRD binds it to the interface: 10.2.0.1%r1).
out="$(birdc_ rtr show protocols isp 2>&1)"
grep -q Established <<<"$out"
check $? "the BGP session rtr <-> isp is Established across sluice's port r1" "$out" \
  "$(tail -n 20 "$SL_TMP/bird-rtr.log")"
out="$(in_rtr ss -Htn state established "( sport = :179 or dport = :179 )")"
grep -qE "$R1_IP(%r1)?:[0-9]+ +$BGP_NH:179|$R1_IP(%r1)?:179 +$BGP_NH:[0-9]+" <<<"$out"
check $? "rtr's kernel holds the TCP connection $R1_IP <-> $BGP_NH port 179" "$out"
# (`ip route show proto 12` leaves the proto out of its lines: the whole table is read instead.)
out="$(in_rtr ip -4 -o route show | grep -m 1 " via $BGP_NH ")"
grep -qE "via $BGP_NH dev r1 proto (bird|12) " <<<"$out"
check $? "the kernel's BGP routes are proto bird ($out)"
same_set "$R/all.txt" "all announced"
route_check "all announced"
mapfile -t SAMPLES <"$R/samples.txt"
bad=()
for a in "${SAMPLES[@]}"; do
  s="$(sluice_cli route get "$a" 2>&1)"
  k="$(in_rtr ip route get "$a" 2>&1 | head -n 1)"
  grep -q "via $BGP_NH dev r1" <<<"$s" && grep -q "via $BGP_NH dev r1" <<<"$k" ||
    bad+=("$a: sluice: $s; kernel: $k")
done
[ "${#bad[@]}" -eq 0 ]
check $? "sluice route get of ${#SAMPLES[@]} addresses across the table: via $BGP_NH dev r1, as the kernel says" \
  "${bad[@]:0:5}"
for p in "${PROBES[@]}"; do
  read -r part prefix a <<<"$p"
  route_get_bgp "$a" "announced ($part later)"
  out="$(sluice_cli route get "$a" --json 2>&1)"
  python3 -c 'import json, sys; sys.exit(json.loads(sys.argv[1])[0]["prefix"] != sys.argv[2])' \
    "$out" "$prefix" 2>/dev/null
  check $? "announced: sluice matches $a with the announced $prefix" "$out"
  reach "$a" "announced"
done

# --- isp withdraws a part -----------------------------------------------------------------
out="$(birdc_ isp disable withdrawn 2>&1)"
check $? "isp: birdc disable withdrawn ($((N_ALL - N_KEPT)) prefixes)" "$out"
converge "$N_KEPT"
check $? "withdrawal: $N_KEPT routes left: $(converged_line)"
same_set "$R/kept.txt" "after the withdrawal"
route_check "after the withdrawal"
for p in "${PROBES[@]}"; do
  read -r part prefix a <<<"$p"
  if [ "$part" = kept ]; then
    route_get_bgp "$a" "after the withdrawal, kept"
    reach "$a" "after the withdrawal, kept"
  else
    s="$(sluice_cli route get "$a" 2>&1)"
    k="$(in_rtr ip route get "$a" 2>&1 | head -n 1)"
    grep -q 'no route' <<<"$s" && grep -q 'unreachable' <<<"$k"
    check $? "after the withdrawal: sluice has no route to $a ($prefix withdrawn), nor the kernel" \
      "sluice: $s" "kernel: $k"
    rx="$(pings "$a" 2)"
    [ "${rx:-0}" = 0 ]
    check $? "after the withdrawal: gen no longer reaches $a (${rx:-0}/2 replies)"
  fi
done

out="$(birdc_ isp enable withdrawn 2>&1)"
check $? "isp: birdc enable withdrawn (announced again)" "$out"
converge "$N_ALL"
check $? "re-announced: all $N_ALL routes again: $(converged_line)"
route_check "re-announced"
for p in "${PROBES[@]}"; do
  read -r part prefix a <<<"$p"
  [ "$part" = withdrawn ] || continue
  reach "$a" "re-announced"
done

# --- ECMP: two BGP speakers of isp announce the same prefixes -----------------------------
# rtr's BIRD merges the equal paths (kernel protocol, merge paths on) into multipath routes;
# sluice must hold each as ECMP over both next hops.
# ecmp_state WANT: every prefix of ecmp.txt in sluice has the next hops WANT ("2": 10.2.0.2
# and 10.2.0.3 with weight 1 each; "1": 10.2.0.2 alone); prints what differs.
ecmp_state() {
  sluice_cli route show --json >"$SL_TMP/show.json" 2>&1
  python3 - "$R/ecmp.txt" "$SL_TMP/show.json" "$1" "$BGP_NH" "$BGP_NH2" <<'EOF'
import ipaddress, json, sys
want = [ipaddress.ip_network(l.strip()) for l in open(sys.argv[1]) if l.strip()]
routes = {ipaddress.ip_network(r["dst"]): r for r in json.load(open(sys.argv[2]))
          if r["dst"] != "default"}
nh1, nh2 = sys.argv[4], sys.argv[5]
bad = []
for p in want:
    r = routes.get(p)
    if r is None:
        got = "missing"
    elif "nexthops" in r:
        got = sorted((h.get("gateway"), h.get("dev"), h.get("weight")) for h in r["nexthops"])
    else:
        got = [(r.get("gateway"), r.get("dev"))]
    ok = got == ([(nh1, "r1", 1), (nh2, "r1", 1)] if sys.argv[3] == "2" else [(nh1, "r1")])
    if not ok:
        bad.append(f"{p}: {got}")
print(f"{len(bad)} of {len(want)} differ: {bad[:3]}" if bad else "")
sys.exit(1 if bad else 0)
EOF
}
# ecmp_wait WANT: ecmp_state WANT within CONVERGE_WITHIN; prints the seconds it took.
ecmp_wait() {
  local t0 t
  t0="$(now_ms)"
  while ! ecmp_state "$1" >"$SL_TMP/ecmp.out"; do
    t="$(now_ms)"
    [ $((t - t0)) -lt $((CONVERGE_WITHIN * 1000)) ] || { echo -; return 1; }
    sleep 0.2
  done
  secs $(($(now_ms) - t0))
}
out="$(birdc_ isp enable multi 2>&1)"
check $? "isp: birdc enable multi ($N_ECMP prefixes from the first speaker)" "$out"
took="$(ecmp_wait 1)"
check $? "ECMP prefixes via $BGP_NH alone in sluice ($took s)" "$(cat "$SL_TMP/ecmp.out")"
bird_start "$ISP" isp2 >"$SL_TMP/start.out" 2>&1
check $? "isp's second BIRD starts ($BGP_NH2, the same $N_ECMP prefixes)" "$(cat "$SL_TMP/start.out")"
BIRD_ISP2_PID="$BIRD_PID"
took="$(ecmp_wait 2)"
check $? "ECMP: sluice holds the $N_ECMP prefixes as multipath routes via $BGP_NH and $BGP_NH2, weight 1 each ($took s)" \
  "$(cat "$SL_TMP/ecmp.out")" "$(birdc_ rtr show protocols 2>&1)" \
  "kernel: $(in_rtr ip route show 198.18.0.0/24 2>&1)"
out="$(in_rtr ip route show 198.18.0.0/24)"
grep -q "nexthop via $BGP_NH " <<<"$out" && grep -q "nexthop via $BGP_NH2 " <<<"$out"
check $? "ECMP: the kernel has the multipath route BIRD merged" "$out"
route_check "ECMP"
reach "$ECMP_PROBE" "ECMP"
out="$(birdc_ isp2 down 2>&1)"
check $? "isp: the second BIRD shuts down (birdc down)" "$out"
for ((i = 0; i < 100; i++)); do
  kill -0 "$BIRD_ISP2_PID" 2>/dev/null || break
  sleep 0.1
done
took="$(ecmp_wait 1)"
check $? "ECMP: one path left, via $BGP_NH, in sluice ($took s)" "$(cat "$SL_TMP/ecmp.out")"
route_check "ECMP, one speaker left"
N_ALL=$((N_ALL + N_ECMP))

# --- the session drops --------------------------------------------------------------------
# `birdc down` shuts isp's BIRD down; it closes the session with a Cease notification, and
# rtr's BIRD removes everything it learnt from it, from its tables and from the kernel.
out="$(birdc_ isp down 2>&1)"
check $? "isp: birdc down (the BGP session closes)" "$out"
for ((i = 0; i < 100; i++)); do
  kill -0 "$BIRD_ISP_PID" 2>/dev/null || break
  sleep 0.1
done
converge 0
check $? "session down: no BGP route left: $(converged_line)" \
  "$(birdc_ rtr show protocols isp 2>&1)"
out="$(birdc_ rtr show protocols isp 2>&1)"
! grep -q Established <<<"$out"
check $? "rtr's BIRD sees the session down" "$out"
route_check "session down"
for p in "${PROBES[@]}"; do
  read -r part prefix a <<<"$p"
  s="$(sluice_cli route get "$a" 2>&1)"
  grep -q 'no route' <<<"$s"
  check $? "session down: sluice has no route to $a" "$s"
done
reach "$SINK_IP" "session down, isp's link address"

kill -0 "$SLUICED_PID" 2>/dev/null
check $? "sluiced still runs" "$(tail -n 20 "$SLUICED_LOG")"
log="$SLUICED_LOG"
sluiced_stop
check $? "sluiced exits cleanly on SIGTERM" "$(tail -n 20 "$log" 2>/dev/null)"
finish
