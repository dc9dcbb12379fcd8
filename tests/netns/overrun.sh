#!/usr/bin/env bash
# tests/netns/overrun.sh SLUICED SLUICE-CLI — sluiced's netlink socket overflows, and the
# mirror recovers. In the gen -- rtr -- sink namespaces (lib.sh), sluiced runs in rtr in mirror
# mode with a tiny receive buffer (--netlink-rcvbuf 4096, OVERRUN_RCVBUF to change it); then a
# burst of 20,000 routes (OVERRUN_ROUTES; the first /28s of 172.16.0.0/12, each via the sink's
# 10.2.0.2 or 10.2.0.3) goes into rtr's kernel with one `ip -batch`, far more route events than
# 4 KiB of socket buffer holds, while `sluice route check` runs back to back and keeps sluiced's
# control thread (which drains the socket) busy, so the kernel drops events and sluiced's next
# read fails with ENOBUFS (see busy_start for why the checks). Checks: sluiced counted the overrun (mirror.overruns) and resynchronised from a full
# dump (mirror.resyncs); `sluice route check` is clean within a few seconds; a ping gen -> sink
# running through it all lost nothing and rtr's kernel forwarded none of it; a destination in
# the burst is reachable through sluice. Then the same for deleting them all in one burst.
# TAP-ish output (ok N / not ok N, plan at the end); exit 1 on any failure, 77 to skip.
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
ROUTES="${OVERRUN_ROUTES:-20000}"
RCVBUF="${OVERRUN_RCVBUF:-4096}"
CLEAN_WITHIN=10  # seconds after `ip -batch` returns for route check to be clean
PROBE=172.16.0.1 # in the first prefix of the burst; an address of the sink

netns_require || exit $?
topo_trap
topo_up

SL_TAP_CLOCK=1  # TAP: check/ok/not_ok from lib.sh
finish() {
  echo "1..$n"
  echo "# $failed check(s) failed, $(($(date +%s) - sl_start_ms / 1000)) s"
  [ "$failed" -eq 0 ]
  exit $?
}
num() { [[ "$1" =~ ^[0-9]+$ ]] && echo "$1" || echo -1; }

# mstat KEY: one field of `sluice stats --json` (dotted: mirror.overruns), -1 when missing.
mstat() {
  num "$(sluice_cli stats --json 2>/dev/null | python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)
    for k in sys.argv[1].split("."):
        v = v[k]
    print(v)
except Exception:
    pass
' "$1")"
}

# The burst: the first ROUTES /28s of 172.16.0.0/12 (a fixed generator), alternately via the
# sink's two addresses.
ip -n "$SINK" addr add 10.2.0.3/24 dev s0
ip -n "$SINK" addr add "$PROBE/32" dev lo
python3 - "$ROUTES" "$SL_TMP/add.batch" "$SL_TMP/del.batch" <<'EOF'
import sys
count, add, dele = int(sys.argv[1]), sys.argv[2], sys.argv[3]
assert count <= 1 << 16, "172.16.0.0/12 has 65,536 /28s"
base = (172 << 24) | (16 << 16)
with open(add, "w") as fa, open(dele, "w") as fd:
    for i in range(count):
        v = base + (i << 4)
        p = f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}/28"
        fa.write(f"route add {p} via 10.2.0.{2 + (i & 1)}\n")
        fd.write(f"route del {p}\n")
EOF

if ! sluiced_start "$sluiced" --netlink-rcvbuf "$RCVBUF"; then
  not_ok "sluiced starts in mirror mode with --netlink-rcvbuf $RCVBUF"
  finish
fi
ok "sluiced starts in mirror mode with --netlink-rcvbuf $RCVBUF"

# ping_start: 100 echoes a second gen -> sink, through rtr, until ping_stop.
PING_PID="" PING_LOG=""
ping_start() {
  PING_LOG="$SL_TMP/ping.$1.log"
  # ip netns exec execs ping, so $! is ping itself (a function would put a subshell between,
  # and a background subshell ignores SIGINT).
  ip netns exec "$GEN" ping -n -i 0.01 -W 1 "$SINK_IP" >"$PING_LOG" 2>&1 &
  PING_PID=$!
  bg_track "$PING_PID"
  sleep 1  # flowing, ARP done
}
# ping_stop: stops it (SIGINT: ping prints its summary) and waits for it.
ping_stop() {
  sleep 1
  kill -INT "$PING_PID" 2>/dev/null || true
  wait "$PING_PID" 2>/dev/null || true
}
# ping_result: prints "sent lost missing-seqs": lost = echoes unanswered among those before the
# last answered one, plus any after it but the very last (SIGINT may fall between an echo and
# its reply).
ping_result() {
  python3 - "$PING_LOG" <<'EOF'
import re, sys
out = open(sys.argv[1]).read()
seqs = {int(s) for s in re.findall(r"icmp_seq=(\d+) ttl=", out)}
m = re.search(r"(\d+) packets transmitted", out)
sent = int(m.group(1)) if m else 0
top = max(seqs) if seqs else 0
gaps = sorted(set(range(1, top + 1)) - seqs)
lost = len(gaps) + max(0, sent - top - 1)
print(sent, lost if sent else -1, ",".join(map(str, gaps[:40])) or "none")
EOF
}

# wait_clean SECONDS: route check until it exits 0; prints the seconds it took ("-" if never).
wait_clean() {
  local deadline=$(($(date +%s%3N) + $1 * 1000)) t0 rc=1
  t0="$(date +%s%3N)"
  while :; do
    sluice_cli route check >"$SL_TMP/check.out" 2>&1
    rc=$?
    [ "$rc" -eq 0 ] && break
    [ "$(date +%s%3N)" -lt "$deadline" ] || break
    sleep 0.1
  done
  if [ "$rc" -eq 0 ]; then
    local ms=$(($(date +%s%3N) - t0))
    printf '%d.%03d\n' $((ms / 1000)) $((ms % 1000))
  else
    echo -
  fi
}

# busy_start / busy_stop: `sluice route check` back to back. Each one dumps rtr's whole table
# on sluiced's control thread, the thread that also drains the netlink socket, so events pile
# up meanwhile. Without it a 4 KiB buffer overflowed in only about half the bursts here (the
# thread drains 256 messages per 1 ms loop and mostly keeps up with ip -batch); with it, every
# burst overflows. Exit statuses are counted: 1 (differences, the table is moving) is
# expected, anything else is an error of the check.
BUSY_PID=""
busy_start() {
  : >"$SL_TMP/busy.$1"
  (
    while :; do
      sluice_cli route check >/dev/null 2>&1
      echo $? >>"$SL_TMP/busy.$1"
    done
  ) &
  BUSY_PID=$!
  bg_track "$BUSY_PID"
}
busy_stop() {
  kill "$BUSY_PID" 2>/dev/null || true
  wait "$BUSY_PID" 2>/dev/null || true
}

# burst WHAT BATCH SIGN: one `ip -batch` of ROUTES routes (SIGN + adds them, - deletes them),
# with the ping running and route checks keeping the control thread busy, then the checks.
burst() {
  local what="$1" batch="$2" sign="$3"
  local ov0 rs0 ov1 rs1 forw0 forw1 t0 took sent lost missing routes before expect odd
  ov0="$(mstat mirror.overruns)"
  rs0="$(mstat mirror.resyncs)"
  forw0="$(num "$(rtr_forw)")"
  ping_start "$what"
  # After the ping started: fib.routes counts a /32 for each resolved neighbour too.
  before="$(mstat fib.routes)"
  if [ "$sign" = + ]; then expect=$((before + ROUTES)); else expect=$((before - ROUTES)); fi
  busy_start "$what"
  t0="$(date +%s%3N)"
  in_rtr ip -batch "$batch" >"$SL_TMP/batch.$what.out" 2>&1
  check $? "$what: ip -batch of $ROUTES routes in rtr's kernel ($(($(date +%s%3N) - t0)) ms)" \
    "$(tail -n 5 "$SL_TMP/batch.$what.out")"
  busy_stop
  odd="$(grep -cv '^[01]$' "$SL_TMP/busy.$what")"
  [ "$odd" -eq 0 ]
  check $? "$what: $(wc -l <"$SL_TMP/busy.$what") route checks during the burst, none failed" \
    "exit statuses: $(sort "$SL_TMP/busy.$what" | uniq -c | tr '\n' ' ')"
  took="$(wait_clean "$CLEAN_WITHIN")"
  [ "$took" != - ]
  check $? "$what: sluice route check is clean ${took} s after the burst (limit ${CLEAN_WITHIN} s)" \
    "$(head -n 20 "$SL_TMP/check.out")"
  ov1="$(mstat mirror.overruns)"
  rs1="$(mstat mirror.resyncs)"
  [ "$ov0" -ge 0 ] && [ "$ov1" -gt "$ov0" ]
  check $? "$what: the netlink socket overran (mirror.overruns $ov0 -> $ov1)" \
    "the burst did not overflow a $RCVBUF-byte buffer: raise OVERRUN_ROUTES" \
    "$(sluice_cli stats --json 2>&1 | head -c 1500)"
  [ "$rs0" -ge 0 ] && [ "$rs1" -gt "$rs0" ]
  check $? "$what: sluiced resynchronised (mirror.resyncs $rs0 -> $rs1)" \
    "$(sluice_cli stats --json 2>&1 | head -c 1500)"
  routes="$(mstat fib.routes)"
  [ "$before" -ge 0 ] && [ "$routes" -eq "$expect" ]
  check $? "$what: the fast path holds $routes routes (expected $before $sign $ROUTES)"
  ping_stop
  read -r sent lost missing <<<"$(ping_result)"
  [ "$lost" -eq 0 ] && [ "$sent" -ge 100 ]
  check $? "$what: a ping gen -> sink (100/s) through the burst lost $lost of $sent" \
    "$(tail -n 3 "$PING_LOG")" "unanswered icmp_seq: $missing"
  forw1="$(num "$(rtr_forw)")"
  [ "$forw0" -ge 0 ] && [ "$forw1" -eq "$forw0" ]
  check $? "$what: rtr's kernel forwarded nothing (IpForwDatagrams $forw0 -> $forw1)"
}

burst add "$SL_TMP/add.batch" +
out="$(sluice_cli route get "$PROBE" 2>&1)"
grep -q 'via 10.2.0.[23] dev r1' <<<"$out" && grep -q 'prefix 172.16.0.0/28' <<<"$out"
check $? "sluice route get $PROBE: via the sink on r1, prefix 172.16.0.0/28" "$out"
out="$(in_gen ping -n -c 3 -i 0.2 -W 1 "$PROBE" 2>&1)"
grep -q ' 3 received' <<<"$out"
check $? "ping gen -> $PROBE (a route of the burst) through sluice: 3/3" "$out"

burst del "$SL_TMP/del.batch" -
out="$(sluice_cli route get "$PROBE" 2>&1)"
! grep -q 'via 10.2.0' <<<"$out"
check $? "sluice route get $PROBE: no route after the delete burst" "$out"

kill -0 "$SLUICED_PID" 2>/dev/null
check $? "sluiced still runs" "$(tail -n 20 "$SLUICED_LOG")"
log="$SLUICED_LOG"
sluiced_stop
check $? "sluiced exits cleanly on SIGTERM" "$(tail -n 20 "$log" 2>/dev/null)"
finish
