#!/usr/bin/env bash
# tests/packaging/unit_capabilities.sh SLUICED UNIT SLUICE COMPLETIONS-DIR — sluiced with
# exactly the capabilities of sluiced.service (its CapabilityBoundingSet, applied with setpriv
# as systemd applies it to a root service, and the unit's LimitMEMLOCK) on AF_XDP ports in
# lib.sh's gen -- rtr -- sink
# namespaces: it gets ready, sends READY=1 to $NOTIFY_SOCKET, forwards gen's pings itself
# (rtr's kernel forwards none), its ports complete in bash (`sluice route add ... dev <TAB>`
# asks the running sluiced), and it sends STOPPING=1 on SIGTERM. Then without each one of
# the unit's capabilities in turn it must fail: the set is the smallest that works. TAP; exit
# 1 on failure, 77 to skip (no root, no netns, no setpriv).
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../netns/lib.sh
source "$here/../netns/lib.sh"

sluiced="$(realpath "${1:?usage: $0 SLUICED UNIT SLUICE COMPLETIONS-DIR}")"
unit="${2:?}"
sluice="$(realpath "${3:?}")"
completions="${4:?}"
netns_require setpriv prlimit python3 || exit $?
caps="$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")"
[ -n "$caps" ] || { echo "not ok 1 - no CapabilityBoundingSet in $unit"; exit 1; }
memlock="$(sed -n 's/^LimitMEMLOCK=//p' "$unit")"
[ "$memlock" = infinity ] && memlock=unlimited
# Raising the hard limit needs CAP_SYS_RESOURCE, which a container may not have: then the
# machine's limit stays, a harder test for the capabilities (CAP_IPC_LOCK must make up for it).
if ! prlimit --memlock="$memlock:$memlock" true 2>/dev/null; then
  sl_log "cannot raise RLIMIT_MEMLOCK to $memlock here; keeping $(ulimit -Hl) KB"
  memlock="$(($(ulimit -Hl) * 1024))"
fi

notify_pid=""
cleanup() {
  [ -z "$notify_pid" ] || { kill "$notify_pid" 2>/dev/null; wait "$notify_pid" 2>/dev/null; }
  topo_down
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
topo_up

# wrapper CAPS: a script that runs sluiced as systemd would with that bounding set: every
# other capability dropped before exec, so root's sluiced has exactly CAPS.
wrapper() {
  local set="-all" c w="$SL_TMP/sluiced-caps.$RANDOM"
  for c in $1; do set+=",+$(tr '[:upper:]' '[:lower:]' <<<"${c#CAP_}")"; done
  cat >"$w" <<WRAP
#!/bin/sh
exec prlimit --memlock=$memlock:$memlock setpriv --bounding-set=$set --inh-caps=-all \
  "$sluiced" "\$@"
WRAP
  chmod +x "$w"
  echo "$w"
}

# A NOTIFY_SOCKET that records what sluiced sends (one datagram per line).
notify_sock="$SL_TMP/notify.sock"
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        out.write(s.recv(4096).decode() + "\n")
' "$notify_sock" "$SL_TMP/notify.log" &
notify_pid=$!
for ((i = 0; i < 50; i++)); do [ -S "$notify_sock" ] && break; sleep 0.1; done

export NOTIFY_SOCKET="$notify_sock"
sluiced_start "$(wrapper "$caps")"
st=$?
check "$st" "sluiced starts with only $caps (LimitMEMLOCK=$memlock)"
if [ "$st" -eq 0 ]; then
  eff="$(awk '/^CapEff:/ { print $2 }' "/proc/$SLUICED_PID/status")"
  check 0 "(its effective capabilities: $(capsh --decode="$eff" | sed 's/.*=//'))"
  for ((i = 0; i < 30; i++)); do grep -qx 'READY=1' "$SL_TMP/notify.log" && break; sleep 0.1; done
  grep -qx 'READY=1' "$SL_TMP/notify.log"
  check $? "READY=1 arrives on NOTIFY_SOCKET" "$(cat "$SL_TMP/notify.log" 2>/dev/null)"
  forw_before="$(rtr_forw)"
  out="$(in_gen ping -c 5 -i 0.2 -W 2 "$SINK_IP" 2>&1)"
  check $? "gen pings sink through sluiced" "$out"
  forw_after="$(rtr_forw)"
  [ "$forw_after" = "$forw_before" ]
  check $? "rtr's kernel forwarded none of them (ForwDatagrams $forw_before -> $forw_after)"
  # The completion asks this sluiced for its ports, through the socket on the command line.
  offers="$(PATH="$(dirname "$sluice"):$PATH" bash --norc --noprofile -c '
    source "$1/sluice" || exit 3
    COMP_WORDS=(sluice --socket "$2" route add 10.9.0.0/16 dev "")
    COMP_CWORD=7
    _sluice sluice "" dev
    printf "%s " "${COMPREPLY[@]}"' _ "$completions" "$SLUICE_SOCK")"
  [ "$offers" = "r0 r1 " ]
  check $? "'sluice --socket ... route add 10.9.0.0/16 dev <TAB>' offers sluiced's ports: $offers"
  sluiced_stop
  check $? "sluiced exits 0 on SIGTERM"
  grep -qx 'STOPPING=1' "$SL_TMP/notify.log"
  check $? "STOPPING=1 arrives on NOTIFY_SOCKET" "$(cat "$SL_TMP/notify.log" 2>/dev/null)"
fi
unset NOTIFY_SOCKET

for drop in $caps; do
  fewer="$(tr ' ' '\n' <<<"$caps" | grep -vx "$drop" | tr '\n' ' ')"
  if sluiced_start "$(wrapper "$fewer")" 2>/dev/null; then
    sluiced_stop
    not_ok "without $drop sluiced should fail, but it started: the unit need not give it"
  else
    ok "without $drop sluiced fails: $(grep -m1 'sluiced:' "$SLUICED_LOG")"
  fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
