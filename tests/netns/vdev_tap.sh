#!/usr/bin/env bash
# tests/netns/vdev_tap.sh SLUICED — the DPDK vdev port path with real clients: sluiced in a
# namespace creates two net_tap ports (`--port vdev:net_tap0,iface=...`), their kernel sides
# are moved into a gen and a sink namespace, and ping and traceroute cross sluice. This is the
# ethdev code path NICs use (PCI ports cannot be run on machines without NICs and vfio).
set -uo pipefail
sluiced="${1:?usage: vdev_tap.sh SLUICED}"
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
ip netns add "sl-probe-$$" 2>/dev/null || { echo "skip: no ip netns"; exit 77; }
ip netns del "sl-probe-$$"

rtr="sl-vrtr-$$" gen="sl-vgen-$$" sink="sl-vsink-$$" prefix="sl-vtap-$$"
log="$(mktemp)" pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && sleep 1 && kill -KILL "$pid" 2>/dev/null
  for n in "$rtr" "$gen" "$sink"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "/var/run/dpdk/$prefix" "$log"
}
trap cleanup EXIT INT TERM
for n in "$rtr" "$gen" "$sink"; do ip netns add "$n" && ip -n "$n" link set lo up; done

failed=0
check() {  # check NAME COMMAND...
  local name="$1"
  shift
  if "$@" >/dev/null 2>&1; then echo "ok - $name"; else echo "not ok - $name"; failed=1; fi
}

ip netns exec "$rtr" "$sluiced" --port vdev:net_tap0,iface=vt0 --port vdev:net_tap1,iface=vt1 \
  --addr net_tap0=10.1.0.1/24 --addr net_tap1=10.2.0.1/24 --no-huge --memory 512 \
  --file-prefix "$prefix" --control-socket "$log.sock" >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "sluiced: ready" "$log" && break; sleep 0.2; done
if ! grep -q "sluiced: ready" "$log"; then
  echo "not ok - sluiced started"; cat "$log"; exit 1
fi
ip -n "$rtr" link set vt0 netns "$gen"
ip -n "$rtr" link set vt1 netns "$sink"
ip -n "$gen" addr add 10.1.0.2/24 dev vt0 && ip -n "$gen" link set vt0 up
ip -n "$gen" route add default via 10.1.0.1
ip -n "$sink" addr add 10.2.0.2/24 dev vt1 && ip -n "$sink" link set vt1 up
ip -n "$sink" route add default via 10.2.0.1

check "ping gen -> sink through sluice on net_tap ports" \
  ip netns exec "$gen" ping -c 3 -i 0.2 -W 2 10.2.0.2
check "ping sink -> gen" ip netns exec "$sink" ping -c 3 -i 0.2 -W 2 10.1.0.2
check "ping the router (answered by sluice)" ip netns exec "$gen" ping -c 2 -i 0.2 -W 2 10.2.0.1
hops="$(ip netns exec "$gen" traceroute -n -q 1 -w 1 -N 1 10.2.0.2 2>/dev/null | awk 'NR>1{print $2}' | tr '\n' ' ')"
check "traceroute shows 10.1.0.1 then 10.2.0.2 (got: $hops)" test "$hops" = "10.1.0.1 10.2.0.2 "

# The counters as DPDK telemetry serves them (keys spelled with '_', see README).
tel() { echo "$1" | dpdk-telemetry.py -f "$prefix" 2>/dev/null; }
check "telemetry /sluice/nodes counts ip4-forward packets" python3 -c '
import json, sys
d = json.loads(sys.argv[1])["/sluice/nodes"]
assert d["ip4_forward"]["packets"] > 0 and "drop_ip4_bad_checksum" in d, d' "$(tel /sluice/nodes)"
check "telemetry /sluice/stats lists every drop reason" python3 -c '
import json, sys
d = json.loads(sys.argv[1])["/sluice/stats"]
assert d["forwarded"] > 0 and d["arp_notes_lost"] == 0 and "fragments_made" in d and len(d["drops"]) > 30 and "ip4_bad_checksum" in d["drops"], d' "$(tel /sluice/stats)"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
check "sluiced exits cleanly on SIGTERM" test "$rc" -eq 0
check "sluiced counted forwarded packets" grep -Eq "^forwarded: [1-9]" "$log"
[ "$failed" -eq 0 ] || { echo "--- sluiced log"; cat "$log"; }
exit "$failed"
