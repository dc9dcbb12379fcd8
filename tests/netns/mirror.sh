#!/usr/bin/env bash
# tests/netns/mirror.sh SLUICED SLUICE-CLI — the kernel is sluice's configuration. In the
# gen -- rtr -- sink namespaces (lib.sh) sluiced runs in rtr in mirror mode, and rtr is
# configured only with ip(8) and sysctl: routes added, deleted and replaced, metrics, ECMP,
# nexthop objects, blackhole/unreachable routes, addresses, link down/up, neighbours,
# ip_forward. After each change, `sluice route get` must say what `ip route get` says, real
# traffic from gen must do what the kernel would do, and the kernel must not be the one
# forwarding it (rtr's IpForwDatagrams stays put). Ends with `sluice route check` clean.
# TAP-ish output like forward.sh; exit 1 on any failure, 77 to skip.
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
topo_trap
topo_up

# TAP: check/ok/not_ok from lib.sh.

# Destinations behind the sink: two gateways (the sink's 10.2.0.2 and 10.2.0.3) and addresses
# on its loopback inside the prefixes the tests route.
ip -n "$SINK" addr add 10.2.0.3/24 dev s0
for a in 10.50.0.1 10.60.0.1 10.70.0.1 10.80.0.1 10.81.0.1; do
  ip -n "$SINK" addr add "$a/32" dev lo
done

sluiced_start "$sluiced" || { not_ok "sluiced starts in mirror mode"; exit 1; }
ok "sluiced starts in mirror mode"

# settle: the mirror follows events from a 1 ms loop; give it a moment after each change.
settle() { sleep 0.3; }

# tokens LINE: "via X dev Y" normalised from an ip/sluice route get line ("-" when absent).
tokens() {
  local via dev
  via="$(grep -o 'via [0-9.]*' <<<"$1" | head -n 1 | cut -d' ' -f2)"
  dev="$(grep -o 'dev [^ ]*' <<<"$1" | head -n 1 | cut -d' ' -f2)"
  echo "via=${via:--} dev=${dev:--}"
}

# same_route ADDR WHAT: sluice route get and ip route get (in rtr) agree on gateway and port,
# or both find no route.
same_route() {
  local addr="$1" what="$2" k s kt st
  k="$(in_rtr ip route get "$addr" 2>&1 | head -n 1)"
  s="$(sluice_cli route get "$addr" 2>&1)"
  # ip route get answers a reject route with an error: EINVAL for blackhole, EHOSTUNREACH for
  # unreachable, EACCES for prohibit; sluice names the route type.
  if grep -qE 'Invalid argument|No route to host|Permission denied' <<<"$k"; then
    case "$k" in
      *Invalid*) kt=blackhole ;;
      *"No route"*) kt=unreachable ;;
      *) kt=prohibit ;;
    esac
    st="$(grep -oE '^(unreachable|prohibit|blackhole)' <<<"$s")"
  elif grep -q 'RTNETLINK\|Network is unreachable\|No route' <<<"$k"; then
    kt="none"
    st="$(grep -q 'no route' <<<"$s" && echo none || echo "$s")"
  else
    kt="$(tokens "$k")"
    st="$(tokens "$s")"
  fi
  [ "$kt" = "$st" ]
  check $? "$what: route get $addr agrees ($kt)" "kernel: $k" "sluice: $s"
}

# pings NS DST COUNT: prints how many replies came back.
pings() {
  local out
  out="$(timeout 10 ip netns exec "$1" ping -n -c "$3" -i 0.1 -W 1 "$2" 2>&1)"
  sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out" | head -n 1
}

# reach DST WHAT: gen reaches DST through rtr, forwarded by sluice (the kernel forwards none).
reach() {
  local dst="$1" what="$2" f0 f1 rx
  f0="$(rtr_forw)"
  rx="$(pings "$GEN" "$dst" 3)"
  f1="$(rtr_forw)"
  [ "${rx:-0}" = 3 ] && [ "$f0" = "$f1" ]
  check $? "$what: gen reaches $dst through sluice (${rx:-0}/3, kernel forwarded $((f1 - f0)))"
}

# unreachable DST WHAT: no echo reply comes back from DST.
no_reach() {
  local dst="$1" what="$2" rx
  rx="$(pings "$GEN" "$dst" 2)"
  [ "${rx:-0}" = 0 ]
  check $? "$what: gen does not reach $dst (${rx:-0}/2 replies)"
}

# --- the start: what the kernel had is there ----------------------------------------------
same_route "$SINK_IP" "start"
reach "$SINK_IP" "start"
out="$(sluice_cli addr)"
grep -q "inet $R0_IP/24" <<<"$out" && grep -q "inet $R1_IP/24" <<<"$out"
check $? "start: sluice addr lists the kernel's addresses" "$out"

# --- ip route add / del / replace ----------------------------------------------------------
in_rtr ip route add 10.50.0.0/16 via 10.2.0.2
settle
same_route 10.50.0.1 "route add"
reach 10.50.0.1 "route add"
in_rtr ip route replace 10.50.0.0/16 via 10.2.0.3
settle
same_route 10.50.0.1 "route replace"
out="$(sluice_cli route get 10.50.0.1)"
grep -q 'via 10.2.0.3' <<<"$out"
check $? "route replace: the new gateway is used" "$out"
reach 10.50.0.1 "route replace"
in_rtr ip route del 10.50.0.0/16
settle
same_route 10.50.0.1 "route del"
no_reach 10.50.0.1 "route del"

# --- metrics: the lowest wins --------------------------------------------------------------
in_rtr ip route add 10.60.0.0/16 via 10.2.0.2 metric 100
in_rtr ip route add 10.60.0.0/16 via 10.2.0.3 metric 50
settle
same_route 10.60.0.1 "metric 50 beats 100"
in_rtr ip route del 10.60.0.0/16 via 10.2.0.3 metric 50
settle
same_route 10.60.0.1 "metric 100 after 50 is gone"
out="$(sluice_cli route show -n)"
grep -qE '^10\.60\.0\.0 +10\.2\.0\.2 +255\.255\.0\.0 +UG +100 ' <<<"$out"
check $? "route show -n: the classic layout with the metric" "$out"
reach 10.60.0.1 "metric"

# --- ECMP ----------------------------------------------------------------------------------
in_rtr ip route add 10.70.0.0/16 nexthop via 10.2.0.2 weight 1 nexthop via 10.2.0.3 weight 2
settle
out="$(sluice_cli route show 10.70.0.0/16 --json)"
python3 -c '
import json, sys
r = json.loads(sys.argv[1])[0]
hops = sorted((h["gateway"], h["weight"]) for h in r["nexthops"])
sys.exit(0 if hops == [("10.2.0.2", 1), ("10.2.0.3", 2)] else 1)' "$out"
check $? "ECMP: two nexthops with weights 1 and 2" "$out"
reach 10.70.0.1 "ECMP"

# --- nexthop objects -----------------------------------------------------------------------
if in_rtr ip nexthop add id 10 via 10.2.0.2 dev r1 2>/dev/null; then
  in_rtr ip nexthop add id 11 via 10.2.0.3 dev r1
  in_rtr ip nexthop add id 12 group 10/11
  in_rtr ip route add 10.80.0.0/16 nhid 12
  in_rtr ip route add 10.81.0.0/16 nhid 10
  settle
  out="$(sluice_cli route show 10.80.0.0/16 --json)"
  python3 -c '
import json, sys
r = json.loads(sys.argv[1])[0]
sys.exit(0 if sorted(h["gateway"] for h in r["nexthops"]) == ["10.2.0.2", "10.2.0.3"] else 1)' "$out"
  check $? "nexthop group 10/11: both members" "$out"
  same_route 10.81.0.1 "nhid 10"
  reach 10.80.0.1 "nexthop group"
  in_rtr ip nexthop replace id 10 via 10.2.0.3 dev r1
  settle
  same_route 10.81.0.1 "nexthop 10 replaced: its routes follow"
  in_rtr ip nexthop replace id 12 group 11
  settle
  out="$(sluice_cli route get 10.80.0.1)"
  grep -q 'via 10.2.0.3' <<<"$out" && ! grep -q nexthop <<<"$out"
  check $? "nexthop group shrunk to one member" "$out"
  in_rtr ip nexthop del id 12
  settle
  same_route 10.80.0.1 "nexthop group deleted: its route went with it"
else
  ok "# SKIP nexthop objects: this kernel has none"
fi

# --- blackhole, unreachable, prohibit ------------------------------------------------------
in_rtr ip route add blackhole 10.90.0.0/16
in_rtr ip route add unreachable 10.91.0.0/16
in_rtr ip route add prohibit 10.92.0.0/16
settle
same_route 10.90.0.1 "blackhole"
same_route 10.91.0.1 "unreachable"
same_route 10.92.0.1 "prohibit"
out="$(timeout 5 ip netns exec "$GEN" ping -n -c 1 -W 1 10.91.0.1 2>&1)"
grep -q "From $R0_IP .*Destination Host Unreachable" <<<"$out"
check $? "unreachable: gen hears Destination Host Unreachable from $R0_IP" "$out"
out="$(timeout 5 ip netns exec "$GEN" ping -n -c 1 -W 1 10.92.0.1 2>&1)"
grep -q "From $R0_IP .*Packet filtered" <<<"$out"
check $? "prohibit: gen hears Packet filtered (administratively prohibited)" "$out"
out="$(timeout 5 ip netns exec "$GEN" ping -n -c 1 -W 1 10.90.0.1 2>&1)"
! grep -q "From " <<<"$out"
check $? "blackhole: silence" "$out"

# --- addresses -----------------------------------------------------------------------------
in_rtr ip addr add 10.1.5.1/24 dev r0
settle
out="$(sluice_cli addr)"
grep -q 'inet 10.1.5.1/24' <<<"$out"
check $? "addr add: sluice addr shows 10.1.5.1/24" "$out"
out="$(sluice_cli route get 10.1.5.1)"
grep -q '^local 10.1.5.1' <<<"$out"
check $? "addr add: 10.1.5.1 is local" "$out"
rx="$(pings "$GEN" 10.1.5.1 2)"
[ "${rx:-0}" = 2 ]
check $? "addr add: gen pings the new address (${rx:-0}/2)"
in_rtr ip addr del 10.1.5.1/24 dev r0
settle
out="$(sluice_cli addr)"
! grep -q '10.1.5.1' <<<"$out"
check $? "addr del: gone from sluice addr" "$out"
same_route 10.1.5.1 "addr del"

# An address on another interface (a loopback address, as routers have) is the router's too.
in_rtr ip addr add 10.255.0.1/32 dev lo
settle
out="$(sluice_cli route get 10.255.0.1)"
grep -q '^local 10.255.0.1' <<<"$out"
check $? "loopback address: local to sluice" "$out"
rx="$(pings "$GEN" 10.255.0.1 2)"
[ "${rx:-0}" = 2 ]
check $? "loopback address: gen pings it (${rx:-0}/2)"
# UDP to it is the kernel's (the XDP program passes it): traceroute's probe meets the kernel's
# port unreachable, so the destination is reached at hop 1.
out="$(timeout 10 ip netns exec "$GEN" traceroute -n -q 1 -w 1 -m 2 10.255.0.1 2>&1)"
grep -qE '^ 1  10\.255\.0\.1 ' <<<"$out"
check $? "loopback address: the kernel answers UDP to it" "$out"
in_rtr ip addr del 10.255.0.1/32 dev lo
settle
same_route 10.255.0.1 "loopback address removed"

# --- neighbours ----------------------------------------------------------------------------
in_rtr ip neigh replace 10.2.0.99 lladdr 02:00:00:00:99:99 dev r1 nud permanent
settle
out="$(sluice_cli neigh)"
grep -q '10.2.0.99 dev r1 lladdr 02:00:00:00:99:99' <<<"$out"
check $? "neigh add: imported" "$out"
out="$(sluice_cli route get 10.2.0.99)"
grep -q 'lladdr 02:00:00:00:99:99' <<<"$out"
check $? "neigh add: route get shows its MAC" "$out"
in_rtr ip neigh del 10.2.0.99 dev r1
settle
out="$(sluice_cli neigh)"
! grep -q '10.2.0.99 dev r1 lladdr' <<<"$out"
check $? "neigh del: gone" "$out"
# sluice asks the kernel to resolve what it needs: the sink's second address was never
# pinged by the kernel itself, yet traffic to it works and the kernel's table has it after.
in_rtr ip neigh flush dev r1 >/dev/null 2>&1
settle
reach 10.2.0.3 "resolution through the kernel"
out="$(in_rtr ip neigh show 10.2.0.3 dev r1)"
grep -qE 'lladdr .* (REACHABLE|STALE|DELAY|PROBE)' <<<"$out"
check $? "resolution through the kernel: the kernel knows 10.2.0.3 now" "$out"

# --- ip_forward ----------------------------------------------------------------------------
in_rtr sysctl -qw net.ipv4.ip_forward=0
settle
no_reach "$SINK_IP" "ip_forward=0"
rx="$(pings "$GEN" "$R0_IP" 2)"
[ "${rx:-0}" = 2 ]
check $? "ip_forward=0: the router's own address still answers (${rx:-0}/2)"
out="$(sluice_cli link)"
grep -q 'forwarding off' <<<"$out"
check $? "ip_forward=0: sluice link shows forwarding off" "$out"
in_rtr sysctl -qw net.ipv4.ip_forward=1
settle
reach "$SINK_IP" "ip_forward=1 again"

# --- link down / up ------------------------------------------------------------------------
in_rtr ip route add 10.50.0.0/16 via 10.2.0.2
settle
in_rtr ip link set r1 down
sleep 1
same_route 10.50.0.1 "r1 down: the kernel flushed its routes"
same_route "$SINK_IP" "r1 down: connected route gone"
out="$(sluice_cli link)"
grep -q 'r1: state DOWN' <<<"$out"
check $? "r1 down: sluice link shows it" "$out"
no_reach "$SINK_IP" "r1 down"
in_rtr ip link set r1 up
for _ in $(seq 50); do links_up && break; sleep 0.1; done
sleep 0.5
same_route "$SINK_IP" "r1 up again"
reach "$SINK_IP" "r1 up again"

# --- the whole table agrees ----------------------------------------------------------------
out="$(sluice_cli route check 2>&1)"
st=$?
check "$st" "route check is clean at the end" "$out"
out="$(sluice_cli route check --json 2>&1)"
python3 -c 'import json, sys; d = json.loads(sys.argv[1]); sys.exit(0 if d["clean"] and d["differences"] == [] else 1)' "$out"
check $? "route check --json: clean" "$out"

sluiced_stop
check $? "sluiced exits cleanly" "$(tail -n 20 "$SLUICED_LOG")"
echo "1..$n"
[ "$failed" -eq 0 ]
