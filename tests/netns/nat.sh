#!/usr/bin/env bash
# tests/netns/nat.sh MODE [SLUICED SLUICE-CLI] — NAT through a router with real clients: the
# classic home router in network namespaces (lib.sh's topo_nat_up), lan1 and lan2 inside,
# wan outside and far one hop beyond it.
#
#   MODE=kernel: rtr's Linux kernel does the NAT (iptables), sluiced is not running.
#   MODE=sluice: sluiced on AF_XDP ports r0 r1 r2 in mirror mode does it, with
#                --masquerade and --forward, and rtr has no iptables rule at all.
#
# The rules, in both modes: masquerade 192.168.15.0/24 and 192.168.16.0/24 out of r1; tcp 8080
# on the router's addresses forwarded to 192.168.16.2:80; from outside only what a session or
# the forward rule admits passes (RFC 4787 REQ-8 address-and-port dependent filtering, what
# Linux conntrack does); hairpinning (REQ-9) from inside to 203.0.113.1:8080, the inside server
# seeing the router's outside address as the source. The checks, the same in both modes:
#   1 ping and curl lan1 -> wan; wan's nginx logs the client as 203.0.113.1
#   2 iperf3 TCP and UDP lan1 -> wan
#   3 traceroute (UDP and ICMP) lan1 -> far: time-exceeded from beyond the NAT gets back in
#   4 curl wan -> 203.0.113.1:8080 reaches lan2's nginx, which logs the client as 203.0.113.2
#   5 nmap from wan: on 203.0.113.1 only tcp 8080 is open; with a route to 192.168.0.0/16
#     via the router, lan2 is unreachable from wan (filtered, no ping, no curl), and nmap's
#     host discovery (ICMP, TCP, UDP, GRE, SCTP) finds no inside host and lan2 sees none of it
#   6 hairpin: curl lan1 -> 203.0.113.1:8080 reaches lan2, logged as from 203.0.113.1
#   7 (sluice only) `sluice nat sessions --json` lists the sessions, `sluice stats` counts
#     translated packets, and rtr's kernel forwarded nothing (IpForwDatagrams)
# Kernel and sluice differ in nothing the clients can see. The kernel needs two rules the
# sluice options imply: the FORWARD filter and the hairpin SNAT; the hairpin uses SNAT to
# 203.0.113.1 rather than MASQUERADE, which would take r2's address (192.168.16.1).
#
# TAP-ish output like forward.sh; exit 1 if a check failed, 77 (skip) when the machine cannot
# run it (not root, no netns, nginx/nmap/curl/iptables missing).
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

mode="${1:-}"
sluiced="${2:-}"
SLUICE_CLI="${3:-}"
usage="usage: $0 kernel | $0 sluice PATH-OF-SLUICED PATH-OF-SLUICE-CLI"
case "$mode" in
  kernel) ;;
  sluice)
    if ! [ -x "$sluiced" ] || ! [ -x "$SLUICE_CLI" ]; then echo "$usage" >&2; exit 2; fi
    sluiced="$(realpath "$sluiced")"
    SLUICE_CLI="$(realpath "$SLUICE_CLI")"
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

tools=(nginx nmap curl)
[ "$mode" = sluice ] || tools+=(iptables)
netns_require "${tools[@]}" || exit $?
topo_trap
topo_nat_up

SL_TAP_PREFIX="$mode: "  # TAP: check/ok/not_ok from lib.sh
SL_TAP_CLOCK=1
num() { [[ "$1" =~ ^[0-9]+$ ]] && echo "$1" || echo -1; }

WAN_PAGE="sluice-nat: the outside web server (wan)"
LAN2_PAGE="sluice-nat: the inside web server (lan2)"
FWD_PORT=8080

# --- the router's NAT -------------------------------------------------------------------------
if [ "$mode" = kernel ]; then
  rules=(
    "-t nat -A POSTROUTING -s 192.168.15.0/24 -o r1 -j MASQUERADE"
    "-t nat -A POSTROUTING -s 192.168.16.0/24 -o r1 -j MASQUERADE"
    "-t nat -A PREROUTING -p tcp --dport $FWD_PORT -m addrtype --dst-type LOCAL
       -j DNAT --to-destination $LAN2_IP:80"
    # Hairpin: an inside client of the forwarded port is masqueraded to the outside address,
    # so the server answers through the router (MASQUERADE would pick r2's 192.168.16.1).
    "-t nat -A POSTROUTING -m conntrack --ctstate DNAT -s 192.168.0.0/16 -d $LAN2_IP -o r2
       -j SNAT --to-source $RTR_OUT_IP"
    # Filtering: from outside, only replies, related ICMP errors and forwarded connections.
    "-A FORWARD -i r1 -m conntrack --ctstate ESTABLISHED,RELATED,DNAT -j ACCEPT"
    "-A FORWARD -i r1 -j DROP"
  )
  st=0
  for r in "${rules[@]}"; do
    # shellcheck disable=SC2086  # each rule is a list of words
    in_rtr iptables $r || st=1
  done
  check $st "rtr's iptables NAT rules are in" "$(in_rtr iptables-save 2>&1)"
else
  if command -v iptables-save >/dev/null; then
    out="$(in_rtr iptables-save 2>&1; in_rtr nft list ruleset 2>&1)"
    ! grep -qE '^-A|chain|table' <<<"$out"
    check $? "rtr's kernel has no iptables or nft rule" "$out"
  fi
  forw_before="$(num "$(rtr_forw)")"
  nat_args=(--masquerade "192.168.15.0/24,out=r1" --masquerade "192.168.16.0/24,out=r1"
    --forward "tcp:$FWD_PORT=$LAN2_IP:80")
  read -r -a extra <<<"${SLUICED_ARGS:-}"
  if ! sluiced_start "$sluiced" "${nat_args[@]}" "${extra[@]}"; then
    not_ok "sluiced starts with ${nat_args[*]} and reports ready"
    echo "# $mode mode: sluiced did not start; $failed check(s) failed"
    exit 1
  fi
  ok "sluiced starts with ${nat_args[*]} and reports ready"
fi

# --- the servers ---------------------------------------------------------------------------------
nginx_start "$WAN" wan "$WAN_PAGE" || { not_ok "nginx starts in wan"; exit 1; }
WAN_LOG="$NGINX_DIR/logs/access.log"
nginx_start "$LAN2" lan2 "$LAN2_PAGE" || { not_ok "nginx starts in lan2"; exit 1; }
LAN2_LOG="$NGINX_DIR/logs/access.log"
in_wan iperf3 -s -p 5201 >"$SL_TMP/iperf3-server.log" 2>&1 &
bg_track $!
for ((i = 0; i < 50; i++)); do
  in_wan ss -Hltn 'sport = :5201' 2>/dev/null | grep -q . && break
  sleep 0.1
done

# http_check NS URL TAG: curl from NS; prints the body (empty on failure). TAG goes into the
# query string so that the server's access log line of this very request can be found.
http_get() {
  ip netns exec "$1" curl -sS --max-time 5 "$2?check=$3" 2>&1
}
# log_client LOG TAG: the client address of the access log line with ?check=TAG.
log_client() {
  grep -F "check=$2 " "$1" 2>/dev/null | tail -n 1 | awk '{print $1}'
}

# --- 1: ping and curl from inside to outside ---------------------------------------------------
out="$(in_lan1 timeout 15 ping -n -c 5 -i 0.2 -W 1 "$WAN_IP" 2>&1)"
rx="$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")"
[ "${rx:-0}" = 5 ]
check $? "ping lan1 -> wan $WAN_IP: ${rx:-0}/5 replies" "$out"

body="$(http_get "$LAN1" "http://$WAN_IP/" lan1-wan)"
[ "$body" = "$WAN_PAGE" ]
check $? "curl lan1 -> http://$WAN_IP/ gets wan's page" "$body"
client="$(log_client "$WAN_LOG" lan1-wan)"
[ "$client" = "$RTR_OUT_IP" ]
check $? "wan's access log shows the client as $RTR_OUT_IP (masqueraded): ${client:-none}" \
  "$(tail -n 3 "$WAN_LOG" 2>&1)"

# --- 2: iperf3 TCP and UDP from inside to outside ----------------------------------------------
# iperf_check NAME [client options...]: 3 s lan1 -> wan; passes when the receiver counted bytes
# and (UDP) lost under 10 %.
iperf_check() {
  local name="$1" out res
  shift
  out="$(in_lan1 timeout 30 iperf3 -c "$WAN_IP" -p 5201 -t 3 --connect-timeout 3000 --json \
    "$@" 2>&1)"
  res="$(python3 -c '
import json, sys
try:
    end = json.loads(sys.stdin.read())["end"]
    if "sum_received" in end:          # TCP
        b, loss = end["sum_received"]["bytes"], 0.0
    else:                              # UDP: "sum" holds the receiver side
        s = end["sum"]
        b = (s["packets"] - s["lost_packets"]) * (s["bytes"] // max(s["packets"], 1))
        loss = s["lost_percent"]
    print(int(b), "%.2f" % loss)
except Exception as e:
    print(0, 100)' <<<"$out")"
  local bytes="${res% *}" loss="${res#* }"
  [ "$bytes" -gt 0 ] && python3 -c "import sys; sys.exit(0 if $loss < 10 else 1)"
  check $? "iperf3 $name lan1 -> wan: $bytes bytes received, $loss % lost" "$(tail -n 20 <<<"$out")"
}
iperf_check tcp
iperf_check udp -u -b 10M

# --- 3: traceroute through the NAT ---------------------------------------------------------------
# trace_check NAME [traceroute options]: hops lan1 -> far must be the router, wan and far;
# hops 2 and 3 answer the router's outside address, which must translate them back.
want_hops="$LAN1_GW,$WAN_IP,$FAR_IP"
trace_check() {
  local name="$1" out hops try
  shift
  for try in 1 2; do
    out="$(in_lan1 timeout 30 traceroute -n -q 1 -w 1 -N 1 -m 6 "$@" "$FAR_IP" 2>&1)"
    hops="$(awk '$1 ~ /^[0-9]+$/ {printf "%s%s", sep, $2; sep=","}' <<<"$out")"
    [ "$hops" = "$want_hops" ] && break
    [ "$try" = 2 ] || sleep 1  # ICMP rate limits: one more try, a second later
  done
  [ "$hops" = "$want_hops" ]
  check $? "traceroute $name lan1 -> far: hops ${hops:-none}" "$out"
}
trace_check udp
trace_check icmp -I

# --- 4: port forwarding from outside -----------------------------------------------------------
body="$(http_get "$WAN" "http://$RTR_OUT_IP:$FWD_PORT/" wan-fwd)"
[ "$body" = "$LAN2_PAGE" ]
check $? "curl wan -> http://$RTR_OUT_IP:$FWD_PORT/ reaches lan2's page" "$body"
client="$(log_client "$LAN2_LOG" wan-fwd)"
[ "$client" = "$WAN_IP" ]
check $? "lan2's access log shows the client as $WAN_IP (DNAT keeps the source): ${client:-none}" \
  "$(tail -n 3 "$LAN2_LOG" 2>&1)"

# --- 5: what the outside can see -------------------------------------------------------------
# nmap_states OUT: "port/state" for each port of nmap's grepable output.
nmap_states() {
  sed -n 's/.*Ports: //p' <<<"$1" | tr ',' '\n' | awk -F/ 'NF > 2 {gsub(/ /, "", $1); printf "%s%s/%s", sep, $1, $2; sep=" "}'
}
nmap_run() { in_wan timeout 120 nmap -n -Pn -T4 --max-retries 2 -oG - "$@" 2>&1; }

out="$(nmap_run -sS -p 22,80,443,8080,8081 "$RTR_OUT_IP")"
states="$(nmap_states "$out")"
open="$(tr ' ' '\n' <<<"$states" | awk -F/ '$2 == "open" {print $1}' | paste -sd,)"
[ "$open" = "$FWD_PORT" ] && [ "$(wc -w <<<"$states")" = 5 ]
check $? "nmap -sS wan -> $RTR_OUT_IP: only $FWD_PORT open (${states:-no result})" "$out"

out="$(nmap_run -sU -p 53,123,161 "$RTR_OUT_IP")"
states="$(nmap_states "$out")"
open="$(tr ' ' '\n' <<<"$states" | awk -F/ '$2 == "open" {print $1}' | paste -sd,)"
[ -z "$open" ] && [ "$(wc -w <<<"$states")" = 3 ]
check $? "nmap -sU wan -> $RTR_OUT_IP: no udp port open (${states:-no result})" "$out"

# The attacker's best case: wan routes the private inside through the router.
in_wan ip route add 192.168.0.0/16 via "$RTR_OUT_IP"
lines_before="$(wc -l <"$LAN2_LOG")"
out="$(nmap_run -sS -p 22,80 "$LAN2_IP")"
states="$(nmap_states "$out")"
[ "$states" = "22/filtered 80/filtered" ]
check $? "nmap -sS wan -> $LAN2_IP (routed via the router): all filtered (${states:-no result})" \
  "$out"
out="$(in_wan timeout 10 ping -n -c 3 -i 0.3 -W 1 "$LAN2_IP" 2>&1)"
rx="$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")"
[ "${rx:-0}" = 0 ] && ! grep -q 'bytes from' <<<"$out"
check $? "ping wan -> $LAN2_IP: no answer (${rx:-0}/3)" "$out"
body="$(http_get "$WAN" "http://$LAN2_IP/" wan-lan2)"
lines_after="$(wc -l <"$LAN2_LOG")"
[ "$body" != "$LAN2_PAGE" ] && [ "$lines_after" = "$lines_before" ]
check $? "curl wan -> http://$LAN2_IP/ fails, lan2's nginx saw nothing: ${body:-empty}" \
  "$(tail -n 3 "$LAN2_LOG" 2>&1)"

# Host discovery by every means nmap has (echo, timestamp and netmask requests, TCP SYN and
# ACK, UDP, and the IP protocols GRE and SCTP) finds no inside host, and nothing of it even
# reaches lan2: tcpdump there sees no packet from wan. (sluice forwarded GRE, SCTP and ICMP
# timestamp requests inside until the filter covered every protocol; nmap saw no answer, the
# inside host did get them.)
cap="$SL_TMP/lan2-discovery"
# Not through in_lan2: a backgrounded function is a subshell, which ignores the SIGINT below.
ip netns exec "$LAN2" tcpdump -i l0 -n -U --immediate-mode -Z root -w "$cap.pcap" "src host $WAN_IP" 2>"$cap.err" &
cap_pid=$!
bg_track "$cap_pid"
for ((i = 0; i < 50; i++)); do grep -qs 'listening on' "$cap.err" && break; sleep 0.1; done
out="$(in_wan timeout 120 nmap -n -sn -T4 --max-retries 1 -PE -PP -PM -PS22,80 -PA80 -PU53 \
  -PO47,132 -oG - "$LAN1_IP" "$LAN2_IP" 2>&1)"
sleep 0.3
kill -INT "$cap_pid" 2>/dev/null
wait "$cap_pid" 2>/dev/null
seen="$(tcpdump -r "$cap.pcap" -n 2>/dev/null | wc -l)"
grep -q '(0 hosts up)' <<<"$out" && [ "$seen" = 0 ]
check $? "nmap host discovery from wan (ICMP, TCP, UDP, GRE, SCTP) finds no inside host, lan2 \
received $seen of its probes" "$out" "$(tcpdump -r "$cap.pcap" -n 2>/dev/null | head -n 10)"

# --- 6: hairpin ----------------------------------------------------------------------------------
body="$(http_get "$LAN1" "http://$RTR_OUT_IP:$FWD_PORT/" lan1-hairpin)"
[ "$body" = "$LAN2_PAGE" ]
check $? "hairpin: curl lan1 -> http://$RTR_OUT_IP:$FWD_PORT/ reaches lan2's page" "$body"
client="$(log_client "$LAN2_LOG" lan1-hairpin)"
[ "$client" = "$RTR_OUT_IP" ]
check $? "hairpin: lan2's access log shows the client as $RTR_OUT_IP: ${client:-none}" \
  "$(tail -n 3 "$LAN2_LOG" 2>&1)"

# --- 7: sluice's own view ----------------------------------------------------------------------
if [ "$mode" = sluice ]; then
  out="$(sluice_cli nat show 2>&1)"
  st=$?
  [ $st -eq 0 ] && grep -q '192\.168\.15\.0/24' <<<"$out" && grep -q '192\.168\.16\.0/24' <<<"$out" &&
    grep -q "$FWD_PORT" <<<"$out" && grep -q "$LAN2_IP" <<<"$out"
  check $? "sluice nat show lists the two masquerade rules and the forward rule" "$out"

  # Tolerant of the exact JSON layout: the sessions are objects with "orig" and "reply" (and
  # "proto", "state"), wherever they sit in the document.
  out="$(sluice_cli nat sessions --json 2>&1)"
  st=$?
  res="$(python3 -c '
import json, sys
def walk(v):
    if isinstance(v, dict):
        if "orig" in v and "reply" in v:
            yield v
        for x in v.values():
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)
try:
    doc = json.loads(sys.stdin.read())
except Exception:
    print("unparsable"); sys.exit()
ss = list(walk(doc))
text = json.dumps(ss)
keys = all(k in s for s in ss for k in ("proto", "state"))
print(len(ss), "keys" if keys else "nokeys",
      "snat" if "192.168.15.2" in text and "203.0.113.1" in text else "-",
      "dnat" if "192.168.16.2" in text and "203.0.113.2" in text else "-")' <<<"$out")"
  read -r count keys snat dnat <<<"$res"
  [ $st -eq 0 ] && [ "$(num "$count")" -gt 0 ] && [ "$keys" = keys ] && [ "$snat" = snat ] &&
    [ "$dnat" = dnat ]
  check $? "sluice nat sessions --json: $count sessions (orig/reply/proto/state: $keys, lan1 masqueraded: $snat, forward to lan2: $dnat)" \
    "$(head -c 3000 <<<"$out")"

  # The NAT counters: a "translated" count under some key naming NAT, wherever it sits.
  out="$(sluice_cli stats --json 2>&1)"
  translated="$(python3 -c '
import json, sys
def walk(v, under_nat=False):
    if isinstance(v, dict):
        for k, x in v.items():
            nat = under_nat or "nat" in k.lower()
            if nat and "translated" in k.lower() and isinstance(x, int):
                yield x
            yield from walk(x, nat)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x, under_nat)
try:
    found = list(walk(json.loads(sys.stdin.read())))
    print(sum(found) if found else "none")
except Exception:
    print("unparsable")' <<<"$out")"
  [ "$(num "$translated")" -gt 0 ]
  check $? "sluice stats: NAT translated $translated packets" "$(head -c 3000 <<<"$out")"

  forw_after="$(num "$(rtr_forw)")"
  [ "$forw_before" -ge 0 ] && [ "$forw_after" -eq "$forw_before" ]
  check $? "rtr's kernel forwarded nothing (IpForwDatagrams $forw_before -> $forw_after)"

  log="$SLUICED_LOG"
  sluiced_stop
  check $? "sluiced exits cleanly on SIGTERM" "$(tail -n 20 "$log" 2>/dev/null)"
fi

echo "1..$n"
echo "# $mode mode: $failed check(s) failed"
[ "$failed" -eq 0 ]
