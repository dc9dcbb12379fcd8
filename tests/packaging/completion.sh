#!/usr/bin/env bash
# tests/packaging/completion.sh COMPLETIONS-DIR SLUICED SLUICE — the bash completions, sourced
# in a fresh bash as bash-completion would, then asked what a <TAB> offers at a few command
# lines: sluice's commands and subcommands, its options, sluiced's long options (read from the
# real sluiced --help), and sluice's port names from a fake `sluice --json link` (so no daemon
# is needed). TAP output; exit 1 on any failure.
set -uo pipefail
dir="${1:?usage: $0 COMPLETIONS-DIR SLUICED SLUICE}"
sluiced="$(realpath "${2:?}")"
sluice="$(realpath "${3:?}")"
n=0
failed=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Programs named as the user types them, found on PATH: the real ones, and a `sluice` whose
# link command answers as a running sluiced with ports eth1, eth2 and bridge br0 would.
mkdir "$tmp/bin" "$tmp/fake"
ln -s "$sluiced" "$tmp/bin/sluiced"
ln -s "$sluice" "$tmp/bin/sluice"
cat >"$tmp/fake/sluice" <<'FAKE'
#!/bin/sh
case " $* " in
  *" link "*) echo '[{"ifname":"eth1","kind":"af_xdp"},{"ifname": "eth2"},{"ifname":"br0"}]' ;;
esac
FAKE
chmod +x "$tmp/fake/sluice"

# complete BINDIR LINE: what completing at the end of LINE offers, sorted, on one line.
complete_line() {
  PATH="$1:$PATH" bash --norc --noprofile -c '
    source "$1"/sluice && source "$1"/sluiced || exit 3
    read -ra COMP_WORDS <<<"$2"
    [[ "$2" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$2" COMP_POINT=${#2}
    fn="$(complete -p "${COMP_WORDS[0]}" | sed -E "s/.*-F ([^ ]+).*/\1/")"
    "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"
  ' _ "$dir" "$2"
}

expect() {  # expect BINDIR LINE WANTED: the offers are exactly WANTED (sorted, space-separated)
  local got
  got="$(complete_line "$1" "$2")"
  n=$((n + 1))
  if [ "$got" = "$3" ]; then
    echo "ok $n - '$2<TAB>' offers: $3"
  else
    echo "not ok $n - '$2<TAB>' offers '$got', expected '$3'"
    failed=$((failed + 1))
  fi
}

real="$tmp/bin" fake="$tmp/fake"
expect "$real" "sluice ro" "route"
expect "$real" "sluice route " "add check del get show"
expect "$real" "sluice --json route " "add check del get show"
expect "$real" "sluice --socket /tmp/x.sock n" "nat neigh"
expect "$real" "sluice nat " "forward masquerade sessions show"
expect "$real" "sluice nat masquerade " "add del"
expect "$real" "sluice --ti" "--timeout"
expect "$real" "sluice route show -" "--all --json -n"
expect "$real" "sluiced --wor" "--workers"
expect "$real" "sluiced --nat-timeout-u" "--nat-timeout-udp"
expect "$real" "sluiced --ver" "--version"
expect "$real" "sluiced --mirror " "auto off on"
expect "$fake" "sluice route add 10.0.0.0/8 dev " "br0 eth1 eth2"
expect "$fake" "sluice bridge show " "br0 eth1 eth2"
expect "$fake" "sluice bridge fdb add 02:00:00:00:00:01 dev e" "eth1 eth2"
# No daemon (the real CLI, a socket that is not there): no names, and no error on the screen.
expect "$real" "sluice --socket $tmp/none.sock route add 10.0.0.0/8 dev " ""

# Every command `sluice --help` lists is offered after `sluice `.
offered=" $(complete_line "$real" "sluice ") "
missing=""
for c in $("$sluice" --help | sed -n '/^commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }' | sort -u); do
  [[ "$offered" == *" $c "* ]] || missing+="$c "
done
n=$((n + 1))
if [ -z "$missing" ] && [ "$offered" != "  " ]; then
  echo "ok $n - every command of sluice --help is offered ($offered)"
else
  echo "not ok $n - commands of sluice --help not offered: $missing"
  failed=$((failed + 1))
fi
echo "1..$n"
[ "$failed" -eq 0 ]
