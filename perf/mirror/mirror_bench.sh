#!/usr/bin/env bash
# perf/mirror/mirror_bench.sh — the driver of `scripts/bench mirror` (method: README.md here).
#
#   perf/mirror/mirror_bench.sh --sluiced PATH --cli PATH [--table PATH] [--repetitions R]
#                               [--out-dir DIR] [--command TEXT] [engine options...]
#
# Builds gen -- rtr -- sink with tests/netns/lib.sh (namespaces named after this shell's PID),
# gives the sink 64 gateway addresses (10.2.0.10-10.2.0.73 on s0), starts sluiced in rtr in
# mirror mode (SLUICED_ARGS: extra options), then hands over to mirror_bench.py, which loads
# and deletes the table in rtr's kernel and times sluice following it, then times the kernel
# alone and sluiced starting with the table already in the kernel (it restarts sluiced itself,
# with the same options). Namespaces, DPDK runtime
# directory and every process started here are removed however the run ends.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../../tests/netns/lib.sh
source "$root/tests/netns/lib.sh"

sluiced="" cli="" table="" repetitions=3 out_dir="$root/perf/results" command="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sluiced) sluiced="$2"; shift ;;
    --cli) cli="$2"; shift ;;
    --table) table="$2"; shift ;;
    --repetitions) repetitions="$2"; shift ;;
    --out-dir) out_dir="$2"; shift ;;
    --command) command="$2"; shift ;;
    *) extra+=("$1") ;;
  esac
  shift
done
if ! [ -x "$sluiced" ] || ! [ -x "$cli" ] || ! [ -r "$table" ]; then
  echo "usage: $0 --sluiced PATH --cli PATH --table PATH [...]" >&2
  exit 2
fi
sluiced="$(realpath "$sluiced")"
cli="$(realpath "$cli")"
read -r -a sluiced_args <<<"${SLUICED_ARGS:-}"

GATEWAYS=64
GW_FIRST=10  # 10.2.0.10 .. 10.2.0.73

netns_require || exit $?

ENGINE_PID=""
# shellcheck disable=SC2317  # the EXIT trap
mirror_cleanup() {
  local rc=$?
  set +e  # under -e, the first failing command here would end the cleanup halfway
  if [ -n "$ENGINE_PID" ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
    kill -TERM "$ENGINE_PID" 2>/dev/null || true
    wait "$ENGINE_PID" 2>/dev/null || true
  fi
  (exit "$rc")
  topo_down
  exit "$rc"
}
trap mirror_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

topo_up
for ((i = 0; i < GATEWAYS; i++)); do
  ip -n "$SINK" addr add "10.2.0.$((GW_FIRST + i))/24" dev s0
done

sl_log "starting sluiced (mirror mode) in $RTR: $sluiced ${sluiced_args[*]}"
sluiced_start "$sluiced" "${sluiced_args[@]}" || exit 1

checkout="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo '?')"
[ -z "$(git -C "$root" status --porcelain -- control dataplane lpm xdp 2>/dev/null)" ] ||
  checkout="$checkout (with uncommitted changes in control/, dataplane/, lpm/ or xdp/)"

python3 "$here/mirror_bench.py" --gen "$GEN" --rtr "$RTR" --sluiced-pid "$SLUICED_PID" \
  --sluiced "$sluiced" --sluiced-args "${sluiced_args[*]}" --cli "$cli" --sock "$SLUICE_SOCK" \
  --table "$table" --gateways "$GATEWAYS" --gw-base "10.2.0.$GW_FIRST" --ping-dst "$SINK_IP" \
  --repetitions "$repetitions" --tmp "$SL_TMP" --out-dir "$out_dir" --file-prefix "$SLUICED_PREFIX" \
  --command "${command:-perf/mirror/mirror_bench.sh}" --checkout "$checkout" \
  --iproute2 "$(ip -V 2>&1 | head -n 1)" "${extra[@]}" &
ENGINE_PID=$!
status=0
wait "$ENGINE_PID" || status=$?
ENGINE_PID=""
# The engine stops this sluiced for its cold-start part (and starts and stops its own); a
# sluiced it did not stop that died on the way is an error.
if [ "$status" -ne 0 ] && [ -n "$SLUICED_PID" ] && ! kill -0 "$SLUICED_PID" 2>/dev/null; then
  sl_log "sluiced died; its log:"
  tail -n 30 "$SLUICED_LOG" | sed 's/^/#   /' >&2
fi
kill -0 "$SLUICED_PID" 2>/dev/null || SLUICED_PID=""
exit "$status"
