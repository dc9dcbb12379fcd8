#!/usr/bin/env bash
# tests/netns/capture.sh SLUICED SLUICE_CLI — packet capture with DPDK's own tool
# (docs/capture.md): sluiced forwards gen -- rtr -- sink on AF_XDP ports, dpdk-dumpcap (a DPDK
# secondary process attaching by --file-prefix) captures what a port receives and sends while
# pings cross, and tshark reads the pcapng: the echo requests and replies with their addresses
# and directions, a capture filter, a port named by id. Then the crash case: a dumpcap killed
# with -9 leaves sluiced forwarding with its mbufs intact, and capture works again once the
# dead client's taps are removed (dpdk-pdump, see docs/capture.md).
#
# A secondary process maps the primary's hugepage files, so this needs hugepages: it reserves
# some (/proc/sys/vm/nr_hugepages, restored on exit) and mounts hugetlbfs in a mount namespace
# of sluiced's own, which dumpcap enters (nothing is mounted where the rest of the machine
# sees it). Skips (77) without root, netns, the tools, or free hugepages.
set -uo pipefail
sluiced="${1:?usage: capture.sh SLUICED SLUICE_CLI}"
SLUICE_CLI="${2:?usage: capture.sh SLUICED SLUICE_CLI}"
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tests/netns/lib.sh
. "$here/lib.sh"

netns_require tshark dpdk-dumpcap dpdk-pdump nsenter unshare mount || exit $?
nr=/proc/sys/vm/nr_hugepages
if [ ! -w "$nr" ] || ! grep -qw hugetlbfs /proc/filesystems; then
  echo "1..0 # SKIP no hugetlbfs / 2 MB hugepages on this kernel"
  exit 77
fi

want=128 # 2 MB pages: sluiced takes ~20, each dumpcap a few
old_hp="$(cat "$nr")"
huge_dir=""
# shellcheck disable=SC2317  # run by the EXIT trap
capture_down() {
  local rc=$?
  topo_down
  # The hugetlbfs mount lives in sluiced's mount namespace and went with it.
  [ -z "$huge_dir" ] || rmdir "$huge_dir" 2>/dev/null
  [ "$(cat "$nr")" = "$old_hp" ] || echo "$old_hp" >"$nr"
  return "$rc"
}
trap capture_down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_hp() { awk '/^HugePages_Free:/ {print $2}' /proc/meminfo; }
if [ "$(free_hp)" -lt "$want" ]; then
  echo $((old_hp + want - $(free_hp))) >"$nr" 2>/dev/null
  if [ "$(free_hp)" -lt "$want" ]; then
    echo "1..0 # SKIP cannot reserve $want free 2 MB hugepages (have $(free_hp))"
    exit 77
  fi
fi

topo_up
huge_dir="$(mktemp -d "/tmp/sl-huge-$SL_ID.XXXXXX")"
SLUICED_LOG="$SL_TMP/sluiced.log"
SLUICE_SOCK="$SL_TMP/sluice.sock"
# unshare and ip netns exec both exec, so $! is sluiced itself.
# shellcheck disable=SC2016  # the inner sh expands $1 and $@
unshare -m --propagation private sh -c 'mount -t hugetlbfs nodev "$1" && shift && exec "$@"' \
  sh "$huge_dir" ip netns exec "$RTR" "$sluiced" --port r0 --port r1 \
  --control-socket "$SLUICE_SOCK" --file-prefix "$SLUICED_PREFIX" >"$SLUICED_LOG" 2>&1 &
SLUICED_PID=$!
for _ in $(seq 150); do
  grep -q 'sluiced: ready' "$SLUICED_LOG" && break
  kill -0 "$SLUICED_PID" 2>/dev/null || break
  sleep 0.2
done
if ! grep -q 'sluiced: ready' "$SLUICED_LOG"; then
  echo "not ok 1 - sluiced started on hugepages"
  sed 's/^/#   /' "$SLUICED_LOG"
  exit 1
fi

# dumpcap in sluiced's mount namespace (the hugetlbfs) and network namespace (so that the
# pcapng names the kernel interface behind each port: r0, not whatever has its ifindex here).
dumpcap() { nsenter -t "$SLUICED_PID" -m -n dpdk-dumpcap --file-prefix "$SLUICED_PREFIX" "$@"; }
# icmp_rows FILE: "src dst type direction ifname" for each ICMP packet; the direction is the
# pcapng flag, in (received by the port) or out (sent).
icmp_rows() {
  tshark -r "$1" -Y icmp -T fields -E separator=/s -e ip.src -e ip.dst -e icmp.type \
    -e frame.packet_flags_direction -e frame.interface_name 2>/dev/null |
    sed -e 's/ 0x00000001 / in /' -e 's/ 0x00000002 / out /'
}
count() { grep -c -x "$1" <<<"$2"; }
# pcap_packets FILE: how many packets a pcapng file holds (0 while it has only its header).
pcap_packets() { tshark -r "$1" 2>/dev/null | wc -l; }
mbufs_in_use() { sluice_cli stats | awk '/^mbufs:/ {print $2}'; }

out="$(dumpcap -D 2>&1)"
check $? "dpdk-dumpcap -D lists both AF_XDP ports" "$out"
grep -qx '0\. net_af_xdp_r0' <<<"$out" && grep -qx '1\. net_af_xdp_r1' <<<"$out"
check $? "the ports are named net_af_xdp_<interface>, ids 0 and 1" "$out"

# 1. Both directions of r0, by device name, while 20 pings cross: rx+tx is dumpcap's default.
f="$SL_TMP/r0.pcapng"
dumpcap -i net_af_xdp_r0 -w "$f" -c 16 -a duration:20 -q >"$SL_TMP/dc1.log" 2>&1 &
dc=$!
bg_track "$dc"
sleep 1.5
pings="$(in_gen ping -c 20 -i 0.2 -W 2 "$SINK_IP" 2>&1)"
wait "$dc"
check $? "dumpcap on net_af_xdp_r0 exited by itself after 16 packets" "$(cat "$SL_TMP/dc1.log")"
grep -q ' 0% packet loss' <<<"$pings"
check $? "no ping lost while capturing" "$pings"
rows="$(icmp_rows "$f")"
req="$(count "$GEN_IP $SINK_IP 8 in r0" "$rows")"
rep="$(count "$SINK_IP $GEN_IP 0 out r0" "$rows")"
[ "$req" -ge 6 ] && [ "$rep" -ge 6 ] && [ "$((req + rep))" -eq "$(wc -l <<<"$rows")" ]
check $? "r0: echo requests gen->sink received ($req), replies sink->gen sent ($rep), on r0" \
  "$rows" "$(cat "$SL_TMP/dc1.log")"

# 2. A capture filter (libpcap syntax, run by rte_bpf in sluiced's worker), port by id.
f="$SL_TMP/r1-replies.pcapng"
dumpcap -i 1 -f "icmp and src host $SINK_IP" -w "$f" -a duration:4 -q \
  >"$SL_TMP/dc2.log" 2>&1 &
dc=$!
bg_track "$dc"
sleep 1.5
in_gen ping -c 5 -i 0.2 -W 2 "$SINK_IP" >/dev/null 2>&1
wait "$dc"
rows="$(icmp_rows "$f")"
rep="$(count "$SINK_IP $GEN_IP 0 in r1" "$rows")"
[ "$rep" -ge 4 ] && [ "$rep" -eq "$(wc -l <<<"$rows")" ] && [ "$(pcap_packets "$f")" -eq "$rep" ]
check $? "port 1 with -f 'icmp and src host $SINK_IP': only the $rep replies received on r1" \
  "$rows" "$(cat "$SL_TMP/dc2.log")"

# 3. dumpcap killed with -9 in the middle of a capture: it cannot tell sluiced to remove the
# RX/TX callbacks; sluiced must go on forwarding without losing mbufs (the copies come from
# dumpcap's own pool, and go nowhere once its ring is full).
before="$(mbufs_in_use)"
f="$SL_TMP/killed.pcapng"
dumpcap -i net_af_xdp_r0 -w "$f" -q >"$SL_TMP/dc3.log" 2>&1 &
dc=$!
bg_track "$dc"
in_gen ping -c 100 -i 0.1 -W 1 "$SINK_IP" >/dev/null 2>&1 &
pinger=$!
bg_track "$pinger"
for _ in $(seq 50); do
  [ "$(pcap_packets "$f")" -gt 0 ] && break
  sleep 0.2
done
kill -9 "$dc"
wait "$dc" 2>/dev/null
[ "$(pcap_packets "$f")" -gt 0 ]
check $? "a capture was running on r0 when dumpcap was killed with -9" "$(cat "$SL_TMP/dc3.log")"
kill "$pinger" 2>/dev/null
wait "$pinger" 2>/dev/null
# More packets than dumpcap's ring (2048) holds, through the dead client's callbacks.
pings="$(in_gen ping -c 1500 -i 0.002 -W 1 -q "$SINK_IP" 2>&1)"
rcvd="$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$pings")"
[ "${rcvd:-0}" -ge 1450 ]
check $? "sluiced forwards after the kill (${rcvd:-0} of 1500 fast pings answered)" "$pings"
after="$(mbufs_in_use)"
[ -n "$before" ] && [ -n "$after" ] && [ "$after" -le $((before + 64)) ]
check $? "no mbuf of sluiced's pool lost: in use $before before, $after after" \
  "$(sluice_cli stats 2>&1)"

# DPDK 22.11's pdump keeps the dead client's callbacks, so a new dumpcap on r0 is refused until
# a client disables them: dpdk-pdump does on its way out (docs/capture.md). r1 is not affected.
f="$SL_TMP/r1-after.pcapng"
dumpcap -i net_af_xdp_r1 -w "$f" -a duration:3 -q >"$SL_TMP/dc4.log" 2>&1 &
dc=$!
bg_track "$dc"
sleep 1.5
in_gen ping -c 3 -i 0.2 -W 2 "$SINK_IP" >/dev/null 2>&1
wait "$dc"
rows="$(icmp_rows "$f")"
[ "$(count "$GEN_IP $SINK_IP 8 out r1" "$rows")" -ge 2 ]
check $? "r1 can be captured meanwhile" "$rows" "$(cat "$SL_TMP/dc4.log")"
nsenter -t "$SLUICED_PID" -m -n timeout 20 dpdk-pdump --file-prefix "$SLUICED_PREFIX" --no-pci \
  -- --pdump "device_id=net_af_xdp_r0,queue=*,rx-dev=$SL_TMP/pdump.pcap,tx-dev=$SL_TMP/pdump.pcap" \
  >"$SL_TMP/pdump.log" 2>&1
f="$SL_TMP/r0-again.pcapng"
dumpcap -i net_af_xdp_r0 -w "$f" -a duration:3 -q >"$SL_TMP/dc5.log" 2>&1 &
dc=$!
bg_track "$dc"
sleep 1.5
in_gen ping -c 3 -i 0.2 -W 2 "$SINK_IP" >/dev/null 2>&1
wait "$dc"
st=$?
rows="$(icmp_rows "$f")"
[ "$st" -eq 0 ] && [ "$(count "$GEN_IP $SINK_IP 8 in r0" "$rows")" -ge 2 ]
check $? "after dpdk-pdump removed the dead client's taps, r0 is captured again" "$rows" \
  "$(cat "$SL_TMP/dc5.log")" "--- dpdk-pdump:" "$(cat "$SL_TMP/pdump.log")"

sluiced_stop
check $? "sluiced exits cleanly on SIGTERM after the captures" "$(cat "$SLUICED_LOG")"
echo "1..$n"
[ "$failed" -eq 0 ] || { echo "# --- sluiced log" && sed 's/^/#   /' "$SLUICED_LOG"; }
exit $((failed > 0))
