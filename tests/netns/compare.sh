#!/usr/bin/env bash
# tests/netns/compare.sh SLUICED — runs forward.sh with rtr's kernel as the router, then with
# sluiced, and fails if what the clients saw differs (DESIGN.md, Testing: the two must behave
# alike): reachability, reply TTLs, traceroute hops, path MTU, iperf3 completion. Counters and
# throughput are printed, not compared. Whether each mode passes its own checks is the job of
# the netns-forward-* tests; this one only compares. Exits 77 (skip) when forward.sh skips.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
sluiced="${1:-}"
[ -n "$sluiced" ] || { echo "usage: $0 PATH-OF-SLUICED" >&2; exit 2; }

# What a client can observe; a deliberate difference would be documented here and left out.
compared=(ping_gen_sink ping_sink_gen ping_gen_r0 ping_gen_r1
  ttl_gen_sink ttl_sink_gen ttl_gen_r0 ttl_gen_r1
  traceroute_hops pmtu tracepath_hops iperf_tcp iperf_udp)
shown=(iperf_tcp_bytes iperf_udp_bytes kernel_forwarded sluice_forwarded)

tmp="$(mktemp -d /tmp/sl-compare-$$.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

declare -A rc
for mode in kernel sluice; do
  echo "# === forward.sh $mode"
  args=("$mode")
  [ "$mode" = kernel ] || args+=("$sluiced")
  bash "$here/forward.sh" "${args[@]}" | tee "$tmp/$mode.out" | sed 's/^/#   /'
  rc[$mode]=${PIPESTATUS[0]}
  if [ "${rc[$mode]}" -eq 77 ]; then
    echo "1..0 # SKIP forward.sh $mode skipped"
    exit 77
  fi
done

value() {  # value MODE NAME
  awk -v n="$2" '$1 == "RESULT" && $2 == n { v = $3 } END { print (v == "" ? "(none)" : v) }' \
    "$tmp/$1.out"
}

differ=0
for name in "${compared[@]}"; do
  k="$(value kernel "$name")"
  s="$(value sluice "$name")"
  if [ "$k" = "$s" ] && [ "$k" != "(none)" ]; then
    echo "ok - same $name: $k"
  else
    echo "not ok - $name differs: kernel $k, sluice $s"
    differ=$((differ + 1))
  fi
done
printf '# %-16s %-20s %-20s\n' "(not compared)" kernel sluice
for name in "${shown[@]}"; do
  printf '# %-16s %-20s %-20s\n' "$name" "$(value kernel "$name")" "$(value sluice "$name")"
done
echo "# forward.sh exit status: kernel ${rc[kernel]}, sluice ${rc[sluice]}; $differ result(s) differ"
[ "$differ" -eq 0 ]
