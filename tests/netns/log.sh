#!/usr/bin/env bash
# tests/netns/log.sh SLUICED SLUICE-CLI — sluiced's log levels (docs/logging.md), with sluiced in
# mirror mode in the gen -- rtr -- sink namespaces (lib.sh). --log-level info shows a port's
# link going down and up, a NAT rule added through the CLI, and DPDK's own lines in sluiced's
# form; after a kill -9 the next sluiced removes the XDP program left behind, a warning that
# the default level (warning) shows and --log-level error hides; with JOURNAL_STREAM naming
# its stderr, lines carry journald's <N> priority prefix instead. The "sluiced: ready" and
# "sluiced: stopping" lines on stdout are the same at every level.
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

in_log() { grep -qE -- "$1" "$SLUICED_LOG"; }
log_tail() { tail -n 15 "$SLUICED_LOG" 2>/dev/null; }
# flap_r1: r1 down, then up again once sluiced (if it logs that) has seen it go down.
flap_r1() {
  in_rtr ip link set r1 down
  sleep 0.5
  in_rtr ip link set r1 up
  sleep 0.5
}

# --- info: operational events -------------------------------------------------------------
sluiced_start "$sluiced" --log-level info || { not_ok "sluiced starts with --log-level info"; exit 1; }
ok "sluiced starts with --log-level info"
in_log '^sluiced: info: port r0: link up, mtu 1500, forwarding on$' &&
  in_log '^sluiced: info: port r1: opened \(net_af_xdp_r1, '
check $? "info: the ports' opening and link state at start" "$(log_tail)"
in_log '^sluiced: info: EAL: ' && ! in_log '^EAL: '
check $? "info: DPDK's own lines (EAL) come in sluiced's form, none raw" "$(log_tail)"

in_rtr ip link set r1 down
wait_until 5 in_log '^sluiced: info: port r1: link down \(administratively down\), mtu 1400'
check $? "info: ip link set r1 down is logged" "$(log_tail)"
in_rtr ip link set r1 up
wait_until 5 in_log '^sluiced: info: kernel mirror: resyncing with the kernel$' &&
  wait_until 5 in_log '^sluiced: info: port r1: link up, mtu 1400, forwarding on$'
check $? "info: the resync the link down caused, and r1 back up, are logged" "$(log_tail)"

out="$(sluice_cli nat masquerade add 10.1.0.0/24,out=r1 2>&1)"
check $? "sluice nat masquerade add" "$out"
wait_until 5 in_log '^sluiced: info: control: nat masquerade add 10\.1\.0\.0/24,out=r1$'
check $? "info: a NAT rule added through the CLI is logged" "$(log_tail)"
! in_log '^sluiced: debug: '
check $? "info: no debug line" "$(grep -m 3 'debug:' "$SLUICED_LOG")"
# The crash case: the XDP programs stay on r0 and r1 for the next sluiced to remove.
sluiced_kill9

# --- warning (the default) ----------------------------------------------------------------
sluiced_start "$sluiced" || { not_ok "sluiced starts after kill -9"; exit 1; }
ok "sluiced starts after kill -9 (default log level)"
in_log '^sluiced: warning: port r0: removed the XDP program a previous sluiced left$'
check $? "warning: the XDP program left by the killed sluiced is reported" "$(log_tail)"
flap_r1
! in_log '^sluiced: (info|debug): ' && ! in_log '^EAL: '
check $? "warning: no info, debug or raw DPDK line, the link flap included" \
  "$(grep -m 3 -E 'info:|debug:|^EAL' "$SLUICED_LOG")"
sluiced_kill9

# --- error ----------------------------------------------------------------------------------
sluiced_start "$sluiced" --log-level error || { not_ok "sluiced starts with --log-level error"; exit 1; }
ok "sluiced starts with --log-level error"
flap_r1
# The same stale-program removal happened as above; at this level the warning is not shown.
! in_log '^sluiced: (warning|info|debug): ' && ! in_log 'removed the XDP program'
check $? "error: warnings hidden (the stale XDP program's, DPDK's)" "$(log_tail)"
in_log '^sluiced: ready: '
check $? "error: the ready line on stdout is still there" "$(log_tail)"
sluiced_kill9

# --- journald's form ----------------------------------------------------------------------
# sluiced_start's redirection, by hand: JOURNAL_STREAM must name the file stderr goes to.
SLUICED_LOG="$SL_TMP/sluiced.journal.log"
: >"$SLUICED_LOG"
JOURNAL_STREAM="$(stat -c '%d:%i' "$SLUICED_LOG")" ip netns exec "$RTR" "$sluiced" \
  --port r0 --port r1 --control-socket "$SLUICE_SOCK" --no-huge --file-prefix "$SLUICED_PREFIX" \
  --log-level info >"$SLUICED_LOG" 2>&1 &
SLUICED_PID=$!
wait_until 30 in_log 'sluiced: ready: '
check $? "sluiced starts with stderr as a (pretend) journal stream" "$(log_tail)"
in_log '^<4>port r0: removed the XDP program a previous sluiced left$' &&
  in_log '^<6>port r0: link up, mtu 1500, forwarding on$' && in_log '^<6>EAL: ' &&
  ! in_log '^sluiced: (error|warning|info|debug): '
check $? "journald: <N> priority prefixes, no readable prefix" "$(log_tail)"
log="$SLUICED_LOG"
sluiced_stop
check $? "sluiced exits cleanly on SIGTERM" "$(tail -n 20 "$log")"
grep -q '^sluiced: stopping$' "$log"
check $? "the stopping line on stdout is unchanged" "$(tail -n 20 "$log")"

echo "1..$n"
echo "# $failed check(s) failed"
[ "$failed" -eq 0 ]
