#!/usr/bin/env bash
# tests/packaging/man_pages.sh VERSION PAGE PROGRAM [PAGE PROGRAM...] — the built man pages
# (docs/man/): each renders with groff and man without a single warning, carries the project
# version, has the sections the .h2m include adds, and names every long option the program's
# --help lists. TAP output; exit 1 on any failure, 77 to skip without groff or man.
set -uo pipefail
version="${1:?usage: $0 VERSION PAGE PROGRAM...}"
shift
for t in groff man; do
  command -v "$t" >/dev/null || { echo "1..0 # SKIP $t is not installed"; exit 77; }
done
n=0
failed=0
check() {  # check STATUS DESCRIPTION [DETAIL]
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    failed=$((failed + 1))
    [ -z "${3:-}" ] || printf '%s\n' "$3" | head -n 20 | sed 's/^/#   /'
  fi
}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

while [ $# -ge 2 ]; do
  page="$1" prog="$2"
  shift 2
  name="$(basename "$page")"
  [ -s "$page" ]
  check $? "$name exists"
  # -ww: every warning; -z: no output, only the diagnostics.
  warnings="$(groff -man -Tutf8 -ww -z "$page" 2>&1)"
  [ -z "$warnings" ]
  check $? "$name: groff -man -ww renders it without warnings" "$warnings"
  # man -l as a reader would see it; --warnings passes -ww through man's own pipeline too.
  LC_ALL=C.UTF-8 MANWIDTH=100 man --warnings -l "$page" >"$tmp/page.txt" 2>"$tmp/man.err"
  st=$?
  [ "$st" -eq 0 ] && [ ! -s "$tmp/man.err" ] && [ -s "$tmp/page.txt" ]
  check $? "$name: man -l renders it without warnings (exit $st)" "$(cat "$tmp/man.err")"
  # ASCII, no hyphenation, no overstriking: the options as they are typed.
  groff -man -Tascii -rHY=0 -P-cbou "$page" 2>/dev/null >"$tmp/ascii.txt"
  for s in NAME SYNOPSIS DESCRIPTION OPTIONS EXAMPLES FILES ENVIRONMENT "SEE ALSO"; do
    grep -q "^$s\$" "$tmp/ascii.txt"
    check $? "$name has the section $s"
  done
  grep -q "$version" "$tmp/ascii.txt"
  check $? "$name carries the version $version"
  opts="$("$prog" --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u)"
  [ "$(wc -l <<<"$opts")" -ge 4 ]
  check $? "$(basename "$prog") --help lists long options ($(wc -l <<<"$opts"))"
  missing=""
  while read -r o; do
    grep -qF -- "$o" "$tmp/ascii.txt" || missing+="$o "
  done <<<"$opts"
  [ -z "$missing" ]
  check $? "$name names every long option of $(basename "$prog") --help" "missing: $missing"
done
echo "1..$n"
[ "$failed" -eq 0 ]
