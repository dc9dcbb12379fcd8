#!/usr/bin/env bash
# tests/netns/bridge_vlan.sh SLUICED SLUICE-CLI — VLAN isolation on a sluice bridge with real
# hosts. bridge.sh's VLAN part needs the kernel's bridge VLAN filtering and 802.1Q devices
# (CONFIG_BRIDGE_VLAN_FILTERING, CONFIG_VLAN_8021Q), which some kernels lack (this machine's
# 6.18 build among them); this test needs neither: the VLAN-aware bridge is a static sluice
# bridge (--bridge ...,vlan-filtering with PORT@VLANS), and the trunk host reads and writes
# tagged frames itself (tcpdump, and a raw AF_PACKET socket from python3).
#
#   red    n1 10.10.0.2 -- vl-red     access, VLAN 10 \
#   blue   n1 10.10.0.3 -- vl-blue    access, VLAN 10  +- br1 in rtr (sluiced, --mirror off)
#   green  n1 10.10.0.4 -- vl-green   access, VLAN 20  |
#   yellow n1 (no address) vl-yellow  trunk, 10 + 20 tagged /
#
# green is in VLAN 10's subnet but on a VLAN 20 port: only the bridge keeps red from it.
# Checks: red <-> blue ping (same VLAN); red -> green fails, and green's capture holds nothing
# of red (no leak, not even ARP); the trunk sees red's frames tagged 10 and green's tagged 20,
# no untagged frame; a frame the trunk sends tagged 10 reaches blue untagged and not green;
# one tagged 30 (no port's VLAN) reaches nobody and is counted; the FDB has red in VLAN 10 and
# green in VLAN 20. TAP output; exit 77 when the machine cannot run it.
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
netns_require tcpdump python3 || exit $?
topo_trap

HOSTS=(red blue green yellow)
declare -A NS=([red]="sl-vred-$SL_ID" [blue]="sl-vblue-$SL_ID" [green]="sl-vgreen-$SL_ID"
  [yellow]="sl-vyellow-$SL_ID")
declare -A IP=([red]=10.10.0.2 [blue]=10.10.0.3 [green]=10.10.0.4)
declare -A MAC=([red]=02:10:00:00:00:02 [blue]=02:10:00:00:00:03 [green]=02:10:00:00:00:04
  [yellow]=02:10:00:00:00:06)
SL_NAMESPACES=("$RTR")
for h in "${HOSTS[@]}"; do SL_NAMESPACES+=("${NS[$h]}"); done
namespaces_up
SL_PORTS=()
for h in "${HOSTS[@]}"; do
  ip -n "$RTR" link add "vl-$h" numrxqueues 1 numtxqueues 1 type veth peer name n1 \
    address "${MAC[$h]}" numrxqueues 1 numtxqueues 1 netns "${NS[$h]}"
  ip netns exec "${NS[$h]}" ethtool -K n1 tx off >/dev/null
  [ -z "${IP[$h]:-}" ] || ip -n "${NS[$h]}" addr add "${IP[$h]}/24" dev n1
  ip -n "${NS[$h]}" link set n1 up
  ip -n "$RTR" link set "vl-$h" up
  SL_PORTS+=("vl-$h")
done
SL_TAP_CLOCK=1

bridge="br1=vl-red@10,vl-blue@10,vl-green@20,vl-yellow@10t+20t,vlan-filtering"
if ! sluiced_start "$sluiced" --mirror off --bridge "$bridge"; then
  not_ok "sluiced starts with --bridge $bridge"
  echo "1..1"
  exit 1
fi
ok "sluiced starts with --bridge $bridge"

in_h() {
  local h="$1"
  shift
  ip netns exec "${NS[$h]}" "$@"
}
pings() {  # pings FROM DST: the number of replies to 3 echoes
  in_h "$1" ping -n -c 3 -i 0.2 -W 1 "$2" 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p'
}
declare -A CAP=()
cap_start() {  # cap_start HOST: every frame on its n1, to a file
  in_h "$1" tcpdump -U --immediate-mode -nn -e -i n1 -w "$SL_TMP/$1.pcap" 2>/dev/null &
  CAP[$1]=$!
  bg_track "${CAP[$1]}"
}
cap_stop() {
  sleep 0.5
  kill "${CAP[$1]}" 2>/dev/null
  wait "${CAP[$1]}" 2>/dev/null
}
cap_count() {  # cap_count HOST FILTER...
  tcpdump -nn -e -r "$SL_TMP/$1.pcap" "${@:2}" 2>/dev/null | wc -l
}

for h in "${HOSTS[@]}"; do cap_start "$h"; done
sleep 1
r="$(pings red "${IP[blue]}")"
[ "${r:-0}" -eq 3 ]
check $? "ping red -> blue (VLAN 10 access <-> access): ${r:-0}/3 replies"
r="$(pings red "${IP[green]}")"
[ "${r:-0}" -eq 0 ]
check $? "ping red -> green (VLAN 10 -> a VLAN 20 port, same subnet) fails: ${r:-0}/3 replies"
r="$(pings green "${IP[red]}")"
[ "${r:-0}" -eq 0 ]
check $? "ping green -> red fails too: ${r:-0}/3 replies"

# The trunk host sends: a broadcast ARP request tagged 10 (who has blue's address), and the
# same tagged 30, which no port has.
send_tagged() {  # send_tagged VID: one tagged broadcast ARP request from yellow
  in_h yellow python3 - "$1" <<'PY'
import socket, struct, sys
vid = int(sys.argv[1])
src = bytes.fromhex("021000000006")
arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, src, socket.inet_aton("10.10.0.6"),
                  b"\0" * 6, socket.inet_aton("10.10.0.3"))
frame = b"\xff" * 6 + src + struct.pack("!HHH", 0x8100, vid, 0x0806) + arp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("n1", 0))
s.send(frame)
PY
}
send_tagged 10
send_tagged 30
sleep 0.5
for h in "${HOSTS[@]}"; do cap_stop "$h"; done

# green: nothing of VLAN 10 (neither red's ARP nor its echoes), but its own frames.
leak="$(cap_count green ether src "${MAC[red]}" or ether src "${MAC[blue]}" or ether src \
  "${MAC[yellow]}")"
own="$(cap_count green ether src "${MAC[green]}")"
[ "$leak" -eq 0 ] && [ "$own" -gt 0 ]
check $? "green's VLAN 20 port saw none of VLAN 10's frames ($leak) and its own ($own)" \
  "$(tcpdump -nn -e -r "$SL_TMP/green.pcap" 2>&1 | head -20)"
t10="$(cap_count yellow vlan 10 and ether src "${MAC[red]}")"
t20="$(cap_count yellow vlan 20 and ether src "${MAC[green]}")"
untagged="$(cap_count yellow not vlan and not ether src "${MAC[yellow]}")"
[ "$t10" -gt 0 ] && [ "$t20" -gt 0 ] && [ "$untagged" -eq 0 ]
check $? "the trunk saw red's frames tagged 10 ($t10), green's tagged 20 ($t20), none untagged \
($untagged)" "$(tcpdump -nn -e -r "$SL_TMP/yellow.pcap" 2>&1 | head -20)"
b="$(cap_count blue arp and ether src "${MAC[yellow]}" and not vlan)"
g="$(cap_count green ether src "${MAC[yellow]}")"
[ "$b" -eq 1 ] && [ "$g" -eq 0 ]
check $? "the trunk's ARP tagged 10 reached blue once, untagged ($b), and not green ($g); the \
one tagged 30 reached nobody" "$(tcpdump -nn -e -r "$SL_TMP/blue.pcap" 2>&1 | head -20)"
filtered="$(sluice_cli stats --json 2>/dev/null |
  python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("drops",{}).get("bridge-vlan-filtered", d.get("drops",{}).get("drop-bridge-vlan-filtered", 0)))' 2>/dev/null)"
[ "${filtered:-0}" -ge 1 ]
check $? "the frame tagged 30 is counted as drop-bridge-vlan-filtered (${filtered:-0})" \
  "$(sluice_cli stats 2>&1 | grep -i drop)"

fdb="$(sluice_cli bridge fdb br1 --json 2>&1)"
python3 - "$fdb" "${MAC[red]}" "${MAC[green]}" <<'PY'
import json, sys
entries = json.loads(sys.argv[1])
entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
want = {(sys.argv[2], 10, "vl-red"), (sys.argv[3], 20, "vl-green")}
got = {(e["mac"], e["vlan"], e["port"]) for e in entries if "learned" in e["flags"]}
sys.exit(0 if want <= got else 1)
PY
check $? "sluice bridge fdb: red learned in VLAN 10 on vl-red, green in VLAN 20 on vl-green" "$fdb"

sluiced_stop
check $? "sluiced exits cleanly on SIGTERM"
echo "1..$n"
echo "# $failed check(s) failed"
[ "$failed" -eq 0 ]
