# tests/netns/lib.sh — sourced by the netns tests and scripts/demo: builds the gen -- rtr -- sink
# topology in network namespaces of its own, starts and stops sluiced in rtr, reads counters.
#
#   gen  g0 10.1.0.2/24 ---- r0 10.1.0.1/24  rtr  r1 10.2.0.1/24 ---- s0 10.2.0.2/24  sink
#                                                  (r1 and s0: MTU 1400)
#
# rtr's kernel holds the same addresses and forwards (ip_forward=1), so it is the router when
# sluiced is not running, and takes over when sluiced dies (the XDP program fails open).
# SL_QUEUES=N gives each veth N rx/tx queues (default 1), for multi-queue experiments.
# Nothing here touches the root namespace: the veth pairs are created inside the namespaces,
# and every name carries SL_ID (default: the PID of the sourcing shell), so runs never collide.
# topo_nat_up builds the NAT topology instead (lan1, lan2 -- rtr -- wan -- far; see there),
# topo_bridge_up the bridge one (red, blue, green, yellow -- v-net-0 in rtr -- wan -- far).
# shellcheck shell=bash

SL_ID="${SL_ID:-$$}"
GEN="sl-gen-$SL_ID"
RTR="sl-rtr-$SL_ID"
SINK="sl-sink-$SL_ID"
SL_NAMESPACES=("$GEN" "$RTR" "$SINK")

GEN_IP=10.1.0.2
R0_IP=10.1.0.1
R1_IP=10.2.0.1
SINK_IP=10.2.0.2
R1_MTU=1400

SL_PORTS=(r0 r1)  # the ports sluiced_start gives sluiced (topo_nat_up adds r2)

SLUICED_PREFIX="sl-$SL_ID"  # DPDK --file-prefix: the telemetry socket is /var/run/dpdk/<it>/
SLUICED_PID=""
SLUICED_LOG=""
SLUICE_SOCK=""
SL_TMP=""
SL_BG_PIDS=()  # other background processes started here, killed by topo_down

in_gen() { ip netns exec "$GEN" "$@"; }
in_rtr() { ip netns exec "$RTR" "$@"; }
in_sink() { ip netns exec "$SINK" "$@"; }

sl_log() { printf '# %s\n' "$*" >&2; }

# TAP output of the netns tests. `check STATUS DESCRIPTION [DETAIL...]` prints "ok N - ..." or
# "not ok N - ..." and, when STATUS is not 0, the details as comments. SL_TAP_PREFIX goes before
# every description (e.g. "kernel: "); with SL_TAP_CLOCK=1 each line ends with the seconds since
# the script sourced this file. `n` counts the checks, `failed` the failures.
n=0
failed=0
SL_TAP_PREFIX=""
SL_TAP_CLOCK=0
sl_start_ms="$(date +%s%3N)"
at() {  # seconds since the start, to see where a slow run spends its time
  local ms=$(($(date +%s%3N) - sl_start_ms))
  printf '(at %d.%d s)' $((ms / 1000)) $((ms % 1000 / 100))
}
tap_line() {  # tap_line "ok"|"not ok" DESCRIPTION
  n=$((n + 1))
  if [ "$SL_TAP_CLOCK" = 1 ]; then
    echo "$1 $n - $SL_TAP_PREFIX$2 $(at)"
  else
    echo "$1 $n - $SL_TAP_PREFIX$2"
  fi
}
ok() { tap_line ok "$*"; }
not_ok() {
  tap_line "not ok" "$*"
  failed=$((failed + 1))
}
check() {  # check STATUS DESCRIPTION [DETAIL...]
  local st="$1" what="$2"
  shift 2
  if [ "$st" -eq 0 ]; then ok "$what"; else not_ok "$what"; fi
  [ "$st" -eq 0 ] || printf '%s\n' "$@" | sed -e '/^$/d' -e 's/^/#   /'
}

# netns_require [TOOL...]: returns 77 (meson's skip code), with the reason on stdout, when this
# machine cannot run the tests (not root, a tool missing, no network namespaces). TOOLs are
# needed besides the common ones. Use as `netns_require || exit $?`.
netns_require() {
  local t
  if [ "$(id -u)" -ne 0 ]; then
    echo "1..0 # SKIP needs root (network namespaces)"
    return 77
  fi
  for t in ip ethtool ping traceroute tracepath iperf3 ss python3 timeout "$@"; do
    if ! command -v "$t" >/dev/null 2>&1; then
      echo "1..0 # SKIP $t is not installed (scripts/test installs it)"
      return 77
    fi
  done
  local probe="sl-probe-$SL_ID"
  if ! ip netns add "$probe" 2>/dev/null; then
    echo "1..0 # SKIP ip netns is unavailable here"
    return 77
  fi
  ip netns del "$probe"
}

# topo_trap: topo_down runs on any exit, including Ctrl-C and kill.
topo_trap() {
  trap topo_down EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# topo_reap: removes what an earlier run left behind when it was killed with SIGKILL (no trap
# ran): namespaces and DPDK runtime dirs named after a PID that no longer runs. Processes still
# inside such a namespace are left alone; the namespace goes away when they end.
topo_reap() {
  local n pid
  for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ "$n" =~ ^sl-(gen|rtr|sink|isp|lan1|lan2|wan|far)-([0-9]+)$ ]] || continue
    pid="${BASH_REMATCH[2]}"
    if [ "$pid" = "$SL_ID" ] || kill -0 "$pid" 2>/dev/null; then continue; fi
    sl_log "removing namespace $n, left by an earlier run"
    ip netns del "$n" 2>/dev/null || true
  done
  for n in /var/run/dpdk/sl-*; do
    [[ "$n" =~ /sl-([0-9]+)$ ]] || continue
    pid="${BASH_REMATCH[1]}"
    if [ "$pid" = "$SL_ID" ] || kill -0 "$pid" 2>/dev/null; then continue; fi
    rm -rf "$n"
  done
}

# The namespaces of SL_NAMESPACES, each with lo up and IPv6 off, and the run's temp dir.
namespaces_up() {
  topo_reap
  SL_TMP="$(mktemp -d "/tmp/sl-netns-$SL_ID.XXXXXX")"
  local ns
  for ns in "${SL_NAMESPACES[@]}"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # IPv4 only: keeps IPv6 autoconfiguration chatter out of the counters of both modes.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
      net.ipv6.conf.default.disable_ipv6=1
  done
}

topo_up() {
  namespaces_up
  # Each pair is created inside rtr with its peer placed straight into gen or sink.
  # SL_QUEUES: queues per veth. DPDK 22.11's af_xdp driver binds only queue 0 of a veth (it
  # counts combined channels, which veth lacks), so frames that land on other queues bypass
  # sluiced into rtr's kernel.
  local q="numtxqueues ${SL_QUEUES:-1} numrxqueues ${SL_QUEUES:-1}"
  # shellcheck disable=SC2086  # $q is two options
  ip -n "$RTR" link add r0 $q type veth peer name g0 $q netns "$GEN"
  # shellcheck disable=SC2086
  ip -n "$RTR" link add r1 $q type veth peer name s0 $q netns "$SINK"
  ip -n "$RTR" link set r1 mtu "$R1_MTU"
  ip -n "$SINK" link set s0 mtu "$R1_MTU"

  # veth hands frames with unfinished L4 checksums (CHECKSUM_PARTIAL) to XDP, which a router
  # in user space cannot finish; the senders compute them instead, in both modes alike.
  in_gen ethtool -K g0 tx off >/dev/null
  in_sink ethtool -K s0 tx off >/dev/null

  ip -n "$GEN" addr add "$GEN_IP/24" dev g0
  ip -n "$RTR" addr add "$R0_IP/24" dev r0
  ip -n "$RTR" addr add "$R1_IP/24" dev r1
  ip -n "$SINK" addr add "$SINK_IP/24" dev s0
  ip -n "$GEN" link set g0 up
  ip -n "$RTR" link set r0 up
  ip -n "$RTR" link set r1 up
  ip -n "$SINK" link set s0 up
  ip -n "$GEN" route add default via "$R0_IP"
  ip -n "$SINK" route add default via "$R1_IP"
  in_rtr sysctl -qw net.ipv4.ip_forward=1
  # The kernel reports carrier through linkwatch, up to a second late; start from a settled
  # state so that sluiced sees its ports up.
  local i
  for ((i = 0; i < 50; i++)); do
    links_up && return 0
    sleep 0.1
  done
  sl_log "warning: the veth links are not all up after 5 s"
}

# links_up: g0, r0, r1 and s0 all report operstate up.
links_up() {
  local d
  for d in "$GEN g0" "$RTR r0" "$RTR r1" "$SINK s0"; do
    [ "$(ip -n "${d% *}" -br link show dev "${d#* }" | awk '{print $2}')" = UP ] || return 1
  done
}

# The NAT topology (tests/netns/nat.sh, scripts/demo): two private LANs behind rtr, the
# outside world beyond it, and one more hop (far) behind the outside host.
#
#   lan1  l0 192.168.15.2/24 -- r0 192.168.15.1/24 \
#                                                rtr  r1 203.0.113.1/24 -- w0 203.0.113.2/24  wan
#   lan2  l0 192.168.16.2/24 -- r2 192.168.16.1/24 /                         w1 198.51.100.1/24
#                                                                               |
#                                                                 far  f0 198.51.100.2/24
#
# lan1 and lan2 default via rtr, rtr via wan (the provider); wan forwards, and has no route to
# 192.168.0.0/16 (the inside is private); far defaults via wan. rtr forwards (ip_forward=1) but
# topo_nat_up installs no NAT: the caller sets up iptables or sluiced. SL_PORTS becomes r0 r1 r2.
# nginx_start runs the web servers.
LAN1="sl-lan1-$SL_ID"
LAN2="sl-lan2-$SL_ID"
WAN="sl-wan-$SL_ID"
FAR="sl-far-$SL_ID"
LAN1_IP=192.168.15.2
LAN1_GW=192.168.15.1
LAN2_IP=192.168.16.2
LAN2_GW=192.168.16.1
RTR_OUT_IP=203.0.113.1
WAN_IP=203.0.113.2
WAN_FAR_IP=198.51.100.1
FAR_IP=198.51.100.2

in_lan1() { ip netns exec "$LAN1" "$@"; }
in_lan2() { ip netns exec "$LAN2" "$@"; }
in_wan() { ip netns exec "$WAN" "$@"; }
in_far() { ip netns exec "$FAR" "$@"; }

topo_nat_up() {
  SL_NAMESPACES=("$LAN1" "$LAN2" "$RTR" "$WAN" "$FAR")
  SL_PORTS=(r0 r1 r2)
  namespaces_up
  ip -n "$RTR" link add r0 type veth peer name l0 netns "$LAN1"
  ip -n "$RTR" link add r2 type veth peer name l0 netns "$LAN2"
  ip -n "$RTR" link add r1 type veth peer name w0 netns "$WAN"
  ip -n "$WAN" link add w1 type veth peer name f0 netns "$FAR"
  # Full checksums from every sender (see topo_up); far's too, since wan forwards its frames
  # to rtr unchanged.
  in_lan1 ethtool -K l0 tx off >/dev/null
  in_lan2 ethtool -K l0 tx off >/dev/null
  in_wan ethtool -K w0 tx off >/dev/null
  in_wan ethtool -K w1 tx off >/dev/null
  in_far ethtool -K f0 tx off >/dev/null

  ip -n "$LAN1" addr add "$LAN1_IP/24" dev l0
  ip -n "$LAN2" addr add "$LAN2_IP/24" dev l0
  ip -n "$RTR" addr add "$LAN1_GW/24" dev r0
  ip -n "$RTR" addr add "$RTR_OUT_IP/24" dev r1
  ip -n "$RTR" addr add "$LAN2_GW/24" dev r2
  ip -n "$WAN" addr add "$WAN_IP/24" dev w0
  ip -n "$WAN" addr add "$WAN_FAR_IP/24" dev w1
  ip -n "$FAR" addr add "$FAR_IP/24" dev f0
  local d
  for d in "$LAN1 l0" "$LAN2 l0" "$RTR r0" "$RTR r1" "$RTR r2" "$WAN w0" "$WAN w1" "$FAR f0"; do
    ip -n "${d% *}" link set "${d#* }" up
  done
  ip -n "$LAN1" route add default via "$LAN1_GW"
  ip -n "$LAN2" route add default via "$LAN2_GW"
  ip -n "$FAR" route add default via "$WAN_FAR_IP"
  ip -n "$RTR" route add default via "$WAN_IP"
  in_rtr sysctl -qw net.ipv4.ip_forward=1
  in_wan sysctl -qw net.ipv4.ip_forward=1
  local i
  for ((i = 0; i < 50; i++)); do
    nat_links_up && return 0
    sleep 0.1
  done
  sl_log "warning: the veth links are not all up after 5 s"
}

nat_links_up() {
  local d
  for d in "$LAN1 l0" "$LAN2 l0" "$RTR r0" "$RTR r1" "$RTR r2" "$WAN w0" "$WAN w1" "$FAR f0"; do
    [ "$(ip -n "${d% *}" -br link show dev "${d#* }" | awk '{print $2}')" = UP ] || return 1
  done
}

# nginx_start NS NAME TEXT: nginx in NS on :80 serving TEXT at /, all its files (config, pid,
# access log, temp dirs) under $SL_TMP/nginx-NAME, one process (no master), no system config.
# Sets NGINX_PID and NGINX_DIR; returns 1 (with the error log) if port 80 does not listen.
nginx_start() {
  local ns="$1" name="$2" text="$3" d i
  d="$SL_TMP/nginx-$name"
  mkdir -p "$d/html" "$d/tmp" "$d/logs"
  printf '%s\n' "$text" >"$d/html/index.html"
  cat >"$d/nginx.conf" <<CONF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log;
events { worker_connections 256; }
http {
  access_log $d/logs/access.log;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  types { text/html html; }
  server {
    listen 80;
    root $d/html;
  }
}
CONF
  # ip netns exec execs nginx, so $! is nginx itself.
  ip netns exec "$ns" nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log" \
    -g 'daemon off; master_process off;' >"$d/logs/stdout.log" 2>&1 &
  NGINX_PID=$!
  # shellcheck disable=SC2034  # for the caller
  NGINX_DIR="$d"
  bg_track "$NGINX_PID"
  for ((i = 0; i < 50; i++)); do
    ip netns exec "$ns" ss -Hltn 'sport = :80' 2>/dev/null | grep -q . && return 0
    kill -0 "$NGINX_PID" 2>/dev/null || break
    sleep 0.1
  done
  sl_log "nginx in $ns did not listen on :80; its logs:"
  cat "$d/logs/stdout.log" "$d/logs/error.log" 2>/dev/null | sed 's/^/#   /' >&2
  return 1
}

topo_down() {
  local rc=$? ns p
  sluiced_stop >/dev/null 2>&1 || true
  for p in "${SL_BG_PIDS[@]}"; do
    { kill -9 "$p" && wait "$p"; } 2>/dev/null || true
  done
  for ns in "${SL_NAMESPACES[@]}"; do
    [ -e "/run/netns/$ns" ] || continue
    # Whatever still runs in our own namespaces was started by us (iperf3 -s, ping, ...).
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "/var/run/dpdk/$SLUICED_PREFIX"
  [ -z "$SL_TMP" ] || rm -rf "$SL_TMP"
  return "$rc"
}

# sluiced_start SLUICED [extra options...]: starts sluiced in rtr on SL_PORTS (r0 and r1) and
# waits up to 30 s for its "sluiced: ready" line. On failure prints its log and returns 1. sluiced mirrors
# rtr's kernel (addresses, routes, neighbours, ip_forward); its control socket is $SLUICE_SOCK.
sluiced_start() {
  local exe="$1"
  shift
  [ -n "$SL_TMP" ] || SL_TMP="$(mktemp -d "/tmp/sl-netns-$SL_ID.XXXXXX")"
  SLUICED_LOG="$SL_TMP/sluiced.$(date +%s%N).log"
  : >"$SLUICED_LOG"
  # ip netns exec execs sluiced, so $! is sluiced's own PID.
  SLUICE_SOCK="$SL_TMP/sluice.sock"
  local p ports=()
  for p in "${SL_PORTS[@]}"; do ports+=(--port "$p"); done
  ip netns exec "$RTR" "$exe" "${ports[@]}" --control-socket "$SLUICE_SOCK" \
    --no-huge --file-prefix "$SLUICED_PREFIX" "$@" >"$SLUICED_LOG" 2>&1 &
  SLUICED_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    if grep -q 'sluiced: ready' "$SLUICED_LOG"; then return 0; fi
    if ! kill -0 "$SLUICED_PID" 2>/dev/null; then
      local st=0
      wait "$SLUICED_PID" || st=$?
      sl_log "sluiced exited with status $st before it was ready; its log:"
      sed 's/^/#   /' "$SLUICED_LOG" >&2
      SLUICED_PID=""
      return 1
    fi
    sleep 0.1
  done
  sl_log "sluiced was not ready after 30 s; its log:"
  sed 's/^/#   /' "$SLUICED_LOG" >&2
  sluiced_kill9
  return 1
}

# sluiced_stop: SIGTERM (clean exit), SIGKILL after 10 s. Returns sluiced's exit status.
sluiced_stop() {
  [ -n "$SLUICED_PID" ] || return 0
  local pid="$SLUICED_PID" i rc=0
  SLUICED_PID=""
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    sl_log "sluiced did not exit 10 s after SIGTERM; killing it"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null
    return 1
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

# sluiced_kill9: the crash case. The XDP program stays attached to r0/r1 (fail-open).
sluiced_kill9() {
  [ -n "$SLUICED_PID" ] || return 0
  kill -9 "$SLUICED_PID" 2>/dev/null || true
  wait "$SLUICED_PID" 2>/dev/null || true
  SLUICED_PID=""
}

# rtr_snmp FIELD: an Ip: counter of rtr's kernel (/proc/net/snmp is per netns), e.g.
# ForwDatagrams, the packets the kernel forwarded.
rtr_snmp() {
  # shellcheck disable=SC2016  # an awk program, not shell
  in_rtr awk -v f="$1" '$1 == "Ip:" {
      if (!hdr) { for (i = 2; i <= NF; i++) col[$i] = i; hdr = 1 }
      else if (f in col) print $col[f] }' /proc/net/snmp
}
rtr_forw() { rtr_snmp ForwDatagrams; }

# sluice_stats: sluiced's /sluice/stats telemetry as one line of JSON (empty when unreachable).
sluice_stats() {
  echo /sluice/stats | timeout 5 dpdk-telemetry.py -f "$SLUICED_PREFIX" 2>/dev/null |
    grep '^{' | tail -n 1
}

# sluice_stat KEY: one counter of /sluice/stats (KEY may be dotted: drops.no-route); prints
# nothing when sluiced or the key is not there.
sluice_stat() {
  sluice_stats | python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)["/sluice/stats"]
    for k in sys.argv[1].split("."):
        v = v[k]
    print(v)
except Exception:
    pass
' "$1"
}

# sluice_cli ARGS...: the sluice CLI ($SLUICE_CLI) against the running sluiced.
sluice_cli() { "${SLUICE_CLI:?SLUICE_CLI is not set}" --socket "$SLUICE_SOCK" "$@"; }

# port_field PORT KEY: a field of PORT in `sluice link --json` (attached, released, operstate).
port_field() {
  sluice_cli link --json 2>/dev/null | python3 -c '
import json, sys
try:
    for p in json.load(sys.stdin):
        if p["ifname"] == sys.argv[1]:
            print(str(p.get(sys.argv[2], "")).lower())
except Exception:
    pass
' "$1" "$2"
}

# ports_are "PORT KEY VALUE"...: true when every PORT's KEY (port_field) is VALUE. A command
# for wait_until, which must ask again each time: `wait_until 5 test "$(port_field ...)" = x`
# would expand the query once, before waiting.
ports_are() {
  local spec p k v
  for spec in "$@"; do
    read -r p k v <<<"$spec"
    [ "$(port_field "$p" "$k")" = "$v" ] || return 1
  done
}

now_ms() { date +%s%3N; }

# wait_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds; 1 if it never did.
wait_until() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  while ! "$@"; do
    [ "$(now_ms)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# bg_track PID: kill PID in topo_down if it still runs.
bg_track() { SL_BG_PIDS+=("$1"); }

# The bridge topology (tests/netns/bridge.sh): four hosts on a Linux bridge in rtr, the
# Docker-style way (rtr the hosts' gateway on the bridge, masquerading to the outside), plus a
# VLAN-aware second bridge on second veth pairs of the same four hosts.
#
#   red    n0 192.168.15.2 -- vr-red    \
#   blue   n0 192.168.15.3 -- vr-blue    +- v-net-0 192.168.15.5/24 (rtr)
#   green  n0 192.168.15.4 -- vr-green   |         rtr vr-wan 203.0.113.1/24 -- w0 203.0.113.2 wan
#   yellow n0 192.168.15.6 -- vr-yellow /                                      w1 198.51.100.1
#                                                                                   |
#                                                                   far f0 198.51.100.2
#   red    n1 10.10.0.2 ------------------- vl-red    access, VLAN 10 \
#   blue   n1 10.10.0.3 ------------------- vl-blue   access, VLAN 10  +- v-net-1 (rtr),
#   green  n1 10.10.0.4 + 10.20.0.4 ------- vl-green  access, VLAN 20  |  vlan_filtering 1,
#   yellow n1.10 10.10.0.6, n1.20 10.20.0.6 vl-yellow trunk, 10 + 20  /   no address
#
# v-net-0 is VLAN-unaware and has a fixed MAC (BR_BRIDGE_MAC: a bridge whose MAC was not set
# takes its members' lowest and changes it when they come and go). The hosts' n0/n1 have fixed
# MACs (BR_MAC, VL_MAC) so that captures and FDB listings can name them. The hosts default via
# 192.168.15.5, rtr via wan, far via wan; rtr and wan forward (ip_forward=1). green's
# 10.10.0.4 is in VLAN 10's subnet but on a VLAN 20 port: only L2 isolation keeps red from it.
# No NAT is installed: the caller sets up iptables or sluiced. rtr's bridge-nf-call-* sysctls
# (present when br_netfilter is in the kernel) are 0: bridged frames never meet iptables, as
# with sluiced, where they never reach the kernel. SL_PORTS becomes every vr-*, vl-* and
# vr-wan (no vl-* when VL_SKIP, below). The namespaces are sl-red-$SL_ID and so on (BR_NS);
# in_br HOST CMD... runs CMD in one.
BR_HOSTS=(red blue green yellow)
declare -gA BR_NS=([red]="sl-red-$SL_ID" [blue]="sl-blue-$SL_ID" [green]="sl-green-$SL_ID"
  [yellow]="sl-yellow-$SL_ID")
declare -gA BR_IP=([red]=192.168.15.2 [blue]=192.168.15.3 [green]=192.168.15.4
  [yellow]=192.168.15.6)
declare -gA BR_MAC=([red]=02:15:00:00:00:02 [blue]=02:15:00:00:00:03 [green]=02:15:00:00:00:04
  [yellow]=02:15:00:00:00:06)
declare -gA VL_MAC=([red]=02:10:00:00:00:02 [blue]=02:10:00:00:00:03 [green]=02:10:00:00:00:04
  [yellow]=02:10:00:00:00:06)
BR_BRIDGE=v-net-0
BR_BRIDGE_MAC=02:15:00:00:00:05
BR_GW=192.168.15.5
BR_WAN_PORT=vr-wan
VL_BRIDGE=v-net-1
VL_BRIDGE_MAC=02:10:00:00:00:01
VL_RED_IP=10.10.0.2
VL_BLUE_IP=10.10.0.3
VL_GREEN_IP=10.10.0.4     # on the VLAN 20 port, in VLAN 10's subnet
VL_GREEN_IP20=10.20.0.4
VL_YELLOW_IP10=10.10.0.6  # n1.10
VL_YELLOW_IP20=10.20.0.6  # n1.20

in_br() {
  local h="$1"
  shift
  ip netns exec "${BR_NS[$h]}" "$@"
}

# topo_bridge_reap: topo_reap for the bridge topology's own namespace names.
topo_bridge_reap() {
  local n pid
  for n in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    [[ "$n" =~ ^sl-(red|blue|green|yellow)-([0-9]+)$ ]] || continue
    pid="${BASH_REMATCH[2]}"
    if [ "$pid" = "$SL_ID" ] || kill -0 "$pid" 2>/dev/null; then continue; fi
    sl_log "removing namespace $n, left by an earlier run"
    ip netns del "$n" 2>/dev/null || true
  done
}

# links_all_up "NS DEV"...: every DEV in NS reports operstate UP.
links_all_up() {
  local d
  for d in "$@"; do
    [ "$(ip -n "${d% *}" -br link show dev "${d#* }" | awk '{print $2}')" = UP ] || return 1
  done
}

# VL_SKIP: empty when this kernel can build the VLAN part (CONFIG_BRIDGE_VLAN_FILTERING for
# v-net-1, CONFIG_VLAN_8021Q for yellow's n1.10), else why not; topo_bridge_up then leaves out
# v-net-1 and the n1/vl-* pairs (and SL_PORTS has no vl-*).
VL_SKIP=""

topo_bridge_up() {
  local h ns f err
  SL_NAMESPACES=()
  for h in "${BR_HOSTS[@]}"; do SL_NAMESPACES+=("${BR_NS[$h]}"); done
  SL_NAMESPACES+=("$RTR" "$WAN" "$FAR")
  topo_bridge_reap
  namespaces_up

  for f in iptables arptables ip6tables; do
    # shellcheck disable=SC2016  # for the inner shell
    in_rtr sh -c '[ ! -e "$1" ] || echo 0 >"$1"' sh "/proc/sys/net/bridge/bridge-nf-call-$f"
  done
  ip -n "$RTR" link add "$BR_BRIDGE" address "$BR_BRIDGE_MAC" type bridge
  local links=("$RTR $BR_BRIDGE")
  for h in "${BR_HOSTS[@]}"; do
    ns="${BR_NS[$h]}"
    ip -n "$RTR" link add "vr-$h" type veth peer name n0 address "${BR_MAC[$h]}" netns "$ns"
    # Full checksums from every sender (see topo_up).
    in_br "$h" ethtool -K n0 tx off >/dev/null
    ip -n "$RTR" link set "vr-$h" master "$BR_BRIDGE"
    ip -n "$ns" addr add "${BR_IP[$h]}/24" dev n0
    ip -n "$ns" link set n0 up
    ip -n "$RTR" link set "vr-$h" up
    ip -n "$ns" route add default via "$BR_GW"
    links+=("$ns n0" "$RTR vr-$h")
  done
  ip -n "$RTR" addr add "$BR_GW/24" dev "$BR_BRIDGE"
  ip -n "$RTR" link set "$BR_BRIDGE" up

  # v-net-1, if the kernel has what it takes: red, blue access ports of VLAN 10, green of 20,
  # yellow a trunk of both.
  VL_SKIP=""
  ns="${BR_NS[yellow]}"
  if ! err="$(ip -n "$RTR" link add "$VL_BRIDGE" address "$VL_BRIDGE_MAC" type bridge \
    vlan_filtering 1 2>&1)"; then
    VL_SKIP="no VLAN-aware bridge here (CONFIG_BRIDGE_VLAN_FILTERING?): ${err//$'\n'/ }"
    ip -n "$RTR" link del "$VL_BRIDGE" 2>/dev/null || true
  elif ! err="$(ip -n "$ns" link add link n0 name n0.4094 type vlan id 4094 2>&1)"; then
    VL_SKIP="no 802.1Q devices here (CONFIG_VLAN_8021Q?): ${err//$'\n'/ }"
    ip -n "$RTR" link del "$VL_BRIDGE" || true
  else
    ip -n "$ns" link del n0.4094
  fi
  if [ -z "$VL_SKIP" ]; then
    for h in "${BR_HOSTS[@]}"; do
      ns="${BR_NS[$h]}"
      ip -n "$RTR" link add "vl-$h" type veth peer name n1 address "${VL_MAC[$h]}" netns "$ns"
      in_br "$h" ethtool -K n1 tx off >/dev/null
      ip -n "$RTR" link set "vl-$h" master "$VL_BRIDGE"
      ip -n "$ns" link set n1 up
      ip -n "$RTR" link set "vl-$h" up
      links+=("$ns n1" "$RTR vl-$h")
    done
    for h in red blue green; do
      local vid=10
      [ "$h" = green ] && vid=20
      in_rtr bridge vlan add dev "vl-$h" vid "$vid" pvid untagged
      in_rtr bridge vlan del dev "vl-$h" vid 1
    done
    in_rtr bridge vlan add dev vl-yellow vid 10
    in_rtr bridge vlan add dev vl-yellow vid 20
    in_rtr bridge vlan del dev vl-yellow vid 1
    ip -n "${BR_NS[red]}" addr add "$VL_RED_IP/24" dev n1
    ip -n "${BR_NS[blue]}" addr add "$VL_BLUE_IP/24" dev n1
    ip -n "${BR_NS[green]}" addr add "$VL_GREEN_IP/24" dev n1
    ip -n "${BR_NS[green]}" addr add "$VL_GREEN_IP20/24" dev n1
    ns="${BR_NS[yellow]}"
    ip -n "$ns" link add link n1 name n1.10 type vlan id 10
    ip -n "$ns" link add link n1 name n1.20 type vlan id 20
    ip -n "$ns" addr add "$VL_YELLOW_IP10/24" dev n1.10
    ip -n "$ns" addr add "$VL_YELLOW_IP20/24" dev n1.20
    ip -n "$ns" link set n1.10 up
    ip -n "$ns" link set n1.20 up
    ip -n "$RTR" link set "$VL_BRIDGE" up
    links+=("$ns n1.10" "$ns n1.20" "$RTR $VL_BRIDGE")
  fi
  SL_PORTS=()
  for h in "${BR_HOSTS[@]}"; do SL_PORTS+=("vr-$h"); done
  if [ -z "$VL_SKIP" ]; then
    for h in "${BR_HOSTS[@]}"; do SL_PORTS+=("vl-$h"); done
  fi
  SL_PORTS+=("$BR_WAN_PORT")

  # The outside, as in topo_nat_up.
  ip -n "$RTR" link add "$BR_WAN_PORT" type veth peer name w0 netns "$WAN"
  ip -n "$WAN" link add w1 type veth peer name f0 netns "$FAR"
  in_wan ethtool -K w0 tx off >/dev/null
  in_wan ethtool -K w1 tx off >/dev/null
  in_far ethtool -K f0 tx off >/dev/null
  ip -n "$RTR" addr add "$RTR_OUT_IP/24" dev "$BR_WAN_PORT"
  ip -n "$WAN" addr add "$WAN_IP/24" dev w0
  ip -n "$WAN" addr add "$WAN_FAR_IP/24" dev w1
  ip -n "$FAR" addr add "$FAR_IP/24" dev f0
  local d
  for d in "$RTR $BR_WAN_PORT" "$WAN w0" "$WAN w1" "$FAR f0"; do
    ip -n "${d% *}" link set "${d#* }" up
    links+=("$d")
  done
  ip -n "$FAR" route add default via "$WAN_FAR_IP"
  ip -n "$RTR" route add default via "$WAN_IP"
  in_rtr sysctl -qw net.ipv4.ip_forward=1
  in_wan sysctl -qw net.ipv4.ip_forward=1
  local i
  for ((i = 0; i < 50; i++)); do
    links_all_up "${links[@]}" && return 0
    sleep 0.1
  done
  sl_log "warning: the links are not all up after 5 s: $(for d in "${links[@]}"; do
    links_all_up "$d" || printf '%s ' "${d/ /:}"; done)"
}
