#!/usr/bin/env bash
# tests/netns/forward.sh MODE [SLUICED] — real clients (ping, traceroute, tracepath, iperf3)
# across the gen -- rtr -- sink namespaces (lib.sh), with rtr's kernel as the router
# (MODE=kernel) or sluiced on AF_XDP ports (MODE=sluice, SLUICED = path of the daemon).
#
# Environment: SLUICED_ARGS, extra sluiced options (e.g. "--workers 2"); SL_QUEUES, queues per
# veth (lib.sh).
# Prints one "ok - ..." / "not ok - ..." line per check and "RESULT name value" lines that
# compare.sh holds side by side for the two modes. Exits 1 if a check failed, 77 (skip) when
# the machine cannot run it (not root, no network namespaces).
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

mode="${1:-}"
sluiced="${2:-}"
case "$mode" in
  kernel) ;;
  sluice)
    [ -n "$sluiced" ] || { echo "usage: $0 sluice PATH-OF-SLUICED" >&2; exit 2; }
    [ -x "$sluiced" ] || { echo "$0: $sluiced is not an executable" >&2; exit 2; }
    sluiced="$(realpath "$sluiced")"
    ;;
  *) echo "usage: $0 kernel | $0 sluice PATH-OF-SLUICED" >&2; exit 2 ;;
esac

read -r -a extra <<<"${SLUICED_ARGS:-}"
netns_require || exit $?
topo_trap
topo_up

SL_TAP_PREFIX="$mode: "  # TAP: check/ok/not_ok from lib.sh
SL_TAP_CLOCK=1
result() { echo "RESULT $1 $2"; }
# num VALUE: VALUE when it is a number, else -1 (a missing counter fails the comparisons).
num() { [[ "$1" =~ ^[0-9]+$ ]] && echo "$1" || echo -1; }

# ping_check NAME NS DST: 5 echoes, all answered. Records "received/sent" and the reply TTL
# (63 through the router, 64 from the router itself).
ping_check() {
  local name="$1" ns="$2" dst="$3" out rx ttl who
  who="${ns#sl-}"
  who="${who%-*}"
  out="$(timeout 15 ip netns exec "$ns" ping -n -c 5 -i 0.2 -W 1 "$dst" 2>&1)"
  rx="$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")"
  ttl="$(sed -n 's/.* ttl=\([0-9]*\) .*/\1/p' <<<"$out" | head -n 1)"
  result "ping_$name" "${rx:-0}/5"
  result "ttl_$name" "${ttl:-none}"
  [ "${rx:-0}" = 5 ]
  check $? "ping $who -> $dst: ${rx:-0}/5 replies" "$out"
}

# iperf_check NAME PORT [iperf3 client options...]: a 2 s run gen -> sink against a
# one-shot server in sink; passes when the receiver counted bytes.
iperf_check() {
  local name="$1" port="$2" out bytes i
  shift 2
  in_sink iperf3 -s -1 -p "$port" >"$SL_TMP/iperf3-server-$name.log" 2>&1 &
  bg_track $!
  for ((i = 0; i < 50; i++)); do
    in_sink ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
    sleep 0.1
  done
  out="$(in_gen timeout 20 iperf3 -c "$SINK_IP" -p "$port" -t 2 --connect-timeout 3000 \
    --json "$@" 2>&1)"
  bytes="$(python3 -c '
import json, sys
try:
    print(int(json.loads(sys.stdin.read())["end"]["sum_received"]["bytes"]))
except Exception:
    print(0)' <<<"$out")"
  result "iperf_${name}_bytes" "$bytes"
  if [ "$bytes" -gt 0 ]; then result "iperf_$name" ok; else result "iperf_$name" failed; fi
  [ "$bytes" -gt 0 ]
  check $? "iperf3 $name gen -> sink: $bytes bytes received" "$(tail -n 20 <<<"$out")"
}

t0=$SECONDS
if [ "$mode" = sluice ]; then
  sluiced_start "$sluiced" "${extra[@]}" || { not_ok "sluiced starts and reports ready"; exit 1; }
  ok "sluiced starts and reports ready"
  result forwarded_by sluice
else
  result forwarded_by kernel
fi

forw_before="$(num "$(rtr_forw)")"
sl_before=0
[ "$mode" = kernel ] || sl_before="$(num "$(sluice_stat forwarded)")"

# 1, 2: reachability through the router and of the router's own addresses.
ping_check gen_sink "$GEN" "$SINK_IP"
ping_check sink_gen "$SINK" "$GEN_IP"
ping_check gen_r0 "$GEN" "$R0_IP"
ping_check gen_r1 "$GEN" "$R1_IP"

# 3: traceroute: the router answers TTL 1 with time-exceeded from its ingress address.
out="$(in_gen timeout 20 traceroute -n -q 1 -w 1 -N 1 -m 5 "$SINK_IP" 2>&1)"
hops="$(awk '$1 ~ /^[0-9]+$/ {printf "%s%s", sep, $2; sep=","}' <<<"$out")"
result traceroute_hops "${hops:-none}"
[ "$hops" = "$R0_IP,$SINK_IP" ]
check $? "traceroute gen -> sink: hops $hops" "$out"

# 4: tracepath: the router answers a 1500-byte DF probe with fragmentation-needed, MTU 1400.
out="$(in_gen timeout 30 tracepath -n -m 5 "$SINK_IP" 2>&1)"
pmtu="$(sed -n 's/.*Resume: pmtu \([0-9]*\).*/\1/p' <<<"$out")"
thops="$(sed -n 's/.*Resume: pmtu [0-9]* hops \([0-9]*\).*/\1/p' <<<"$out")"
result pmtu "${pmtu:-none}"
result tracepath_hops "${thops:-none}"
[ "$pmtu" = "$R1_MTU" ]
check $? "tracepath gen -> sink: pmtu ${pmtu:-none}" "$out"

# 5: bulk TCP and UDP.
iperf_check tcp 5201
iperf_check udp 5202 -u -b 50M

# 6: who forwarded. rtr's kernel counts what it forwards in Ip: ForwDatagrams.
forw_after="$(num "$(rtr_forw)")"
result kernel_forwarded $((forw_after - forw_before))
if [ "$mode" = kernel ]; then
  [ "$forw_before" -ge 0 ] && [ "$forw_after" -gt "$forw_before" ]
  check $? "rtr's kernel forwarded (IpForwDatagrams $forw_before -> $forw_after)"
else
  sl_after="$(num "$(sluice_stat forwarded)")"
  result sluice_forwarded $((sl_after - sl_before))
  [ "$forw_before" -ge 0 ] && [ "$forw_after" -eq "$forw_before" ]
  check $? "rtr's kernel forwarded nothing (IpForwDatagrams $forw_before -> $forw_after)"
  [ "$sl_before" -ge 0 ] && [ "$sl_after" -gt "$sl_before" ]
  check $? "sluice forwarded (forwarded $sl_before -> $sl_after)" "$(sluice_stats)"
fi

# 7: kill -9: the XDP program stays attached but has no socket, so it passes everything to
# the kernel, which forwards; a restarted sluiced takes the traffic back.
if [ "$mode" = sluice ]; then
  f0="$(num "$(rtr_forw)")"
  in_gen ping -n -c 120 -i 0.05 -W 1 "$SINK_IP" >"$SL_TMP/ping-kill9" 2>&1 &
  ping_pid=$!
  bg_track "$ping_pid"
  sleep 1
  sluiced_kill9
  wait "$ping_pid"
  f1="$(num "$(rtr_forw)")"
  rx="$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$SL_TMP/ping-kill9")"
  rx="${rx:-0}"
  result kill9_ping_lost $((120 - rx))
  [ "$rx" -ge 115 ] && [ "$f1" -gt "$f0" ]
  check $? "after kill -9 the kernel forwards: $rx/120 replies, IpForwDatagrams $f0 -> $f1" \
    "$(tail -n 3 "$SL_TMP/ping-kill9")"

  if sluiced_start "$sluiced" "${extra[@]}"; then
    ok "sluiced restarts after kill -9 and reports ready"
    f2="$(num "$(rtr_forw)")"
    s2="$(num "$(sluice_stat forwarded)")"
    out="$(in_gen timeout 15 ping -n -c 10 -i 0.1 -W 1 "$SINK_IP" 2>&1)"
    rx="$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")"
    f3="$(num "$(rtr_forw)")"
    s3="$(num "$(sluice_stat forwarded)")"
    [ "${rx:-0}" -ge 9 ] && [ "$f2" -ge 0 ] && [ "$f3" -eq "$f2" ] && [ "$s2" -ge 0 ] &&
      [ "$s3" -ge $((s2 + 2 * ${rx:-0})) ]
    check $? "restarted sluiced forwards again: ${rx:-0}/10 replies, IpForwDatagrams $f2 -> $f3, forwarded $s2 -> $s3" \
      "$out" "$(sluice_stats)"
  else
    not_ok "sluiced restarts after kill -9 and reports ready"
  fi

  log="$SLUICED_LOG"
  sluiced_stop
  check $? "sluiced exits cleanly on SIGTERM" "$(tail -n 20 "$log" 2>/dev/null)"
fi

echo "# $mode mode: $failed check(s) failed, $((SECONDS - t0)) s"
[ "$failed" -eq 0 ]
