#!/usr/bin/env bash
# tests/packaging/install.sh BUILD-DIR VERSION — `meson install --destdir` into a scratch
# directory, then: the installed files are all there (programs, XDP object, man pages, example
# config, unit, hugepage check, completions), the installed sluiced and sluice run (--version),
# systemd-analyze verify accepts the installed unit (offline, with --root on the scratch tree),
# its capabilities are ones this kernel knows, and the hugepage check passes or refuses as it
# should. Nothing is installed on this machine and no unit is started. TAP; exit 1 on failure.
set -uo pipefail
build="$(realpath "${1:?usage: $0 BUILD-DIR VERSION}")"
version="${2:?}"
n=0
failed=0
check() {  # check STATUS DESCRIPTION [DETAIL]
  n=$((n + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    failed=$((failed + 1))
    [ -z "${3:-}" ] || printf '%s\n' "$3" | head -n 30 | sed 's/^/#   /'
  fi
}
tmp="$(mktemp -d /tmp/sluice-install-test.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
dest="$tmp/root"

out="$(meson install -C "$build" --no-rebuild --destdir "$dest" 2>&1)"
check $? "meson install --destdir" "$out"

# The build's own directories (prefix, sbindir, ...), as meson knows them.
opt() {
  meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}
prefix="$(opt prefix)"
at() {  # at DIR-OPTION: the absolute installed directory of a meson dir option
  local d
  d="$(opt "$1")"
  case "$d" in /*) echo "$d" ;; *) echo "$prefix/$d" ;; esac
}
sbindir="$(at sbindir)" bindir="$(at bindir)" libdir="$(at libdir)" mandir="$(at mandir)"
sysconfdir="$(at sysconfdir)" libexecdir="$(at libexecdir)" datadir="$(at datadir)"
unitdir="$(opt systemdunitdir)"
[ -n "$unitdir" ] || unitdir="$prefix/lib/systemd/system"
compdir="$(opt bashcompletiondir)"
[ -n "$compdir" ] || compdir="$datadir/bash-completion/completions"

expected=(
  "$sbindir/sluiced"
  "$bindir/sluice"
  "$libdir/sluice/sluice_xdp.bpf.o"
  "$mandir/man8/sluiced.8"
  "$mandir/man8/sluice.8"
  "$sysconfdir/sluice/sluice.conf"
  "$unitdir/sluiced.service"
  "$libexecdir/sluice-check-hugepages"
  "$compdir/sluice"
  "$compdir/sluiced"
)
for f in "${expected[@]}"; do
  [ -s "$dest$f" ]
  check $? "installed: $f"
done
for f in "$sbindir/sluiced" "$bindir/sluice" "$libexecdir/sluice-check-hugepages"; do
  [ -x "$dest$f" ]
  check $? "executable: $f"
done
# Nothing else: a new installed file is added to the list above on purpose.
extra="$(cd "$dest" && find . -type f | sed 's|^\.||' | sort |
  grep -vxF -f <(printf '%s\n' "${expected[@]}"))"
[ -z "$extra" ]
check $? "no other file is installed" "$extra"

got="$("$dest$sbindir/sluiced" --version 2>&1)"
[ "$got" = "sluiced $version" ]
check $? "installed sluiced --version: $got"
got="$("$dest$bindir/sluice" --version 2>&1)"
[ "$got" = "sluice $version" ]
check $? "installed sluice --version: $got"

# The installed sluiced loads the installed XDP object, not the build tree's. Under DESTDIR
# that path does not exist, so on an AF_XDP port (a veth in a namespace of our own;
# nothing is attached: the check comes first) it must refuse, naming the installed path.
ns="sl-install-$$"
if [ "$(id -u)" -eq 0 ] && ip netns add "$ns" 2>/dev/null; then
  trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp" "/var/run/dpdk/$ns"' EXIT
  ip -n "$ns" link add d0 type veth peer name d1 && ip -n "$ns" link set d0 up
  msg="$(env -u SLUICE_XDP_OBJECT ip netns exec "$ns" "$dest$sbindir/sluiced" --port d0 \
    --no-huge --file-prefix "$ns" --control-socket "$tmp/s.sock" --exit-after 1 2>&1)"
  grep -qF "cannot read the XDP program $libdir/sluice/sluice_xdp.bpf.o" <<<"$msg"
  check $? "the installed sluiced looks for $libdir/sluice/sluice_xdp.bpf.o" "$msg"
  ip netns del "$ns"
else
  echo "# not root or no ip netns: the installed sluiced's XDP object path is not checked"
fi
cmp -s "$dest$libdir/sluice/sluice_xdp.bpf.o" "$build/xdp/sluice_xdp.bpf.o"
check $? "the installed XDP object is the built one"

# The unit names the installed paths.
unit="$dest$unitdir/sluiced.service"
grep -qx "ExecStart=$sbindir/sluiced --config $sysconfdir/sluice/sluice.conf" "$unit"
check $? "the unit runs $sbindir/sluiced --config $sysconfdir/sluice/sluice.conf"
grep -qx "ExecStartPre=$libexecdir/sluice-check-hugepages $sysconfdir/sluice/sluice.conf" "$unit"
check $? "the unit checks hugepages first"
! grep -q '@[a-z]*@' "$unit"
check $? "no placeholder is left in the unit"

# systemd-analyze verify, offline: the scratch tree is the root, with this machine's own
# units beside ours (sysinit.target, ...) so that the dependencies resolve. Any message fails.
if command -v systemd-analyze >/dev/null && [ -d /usr/lib/systemd/system ]; then
  mkdir -p "$dest/usr/lib/systemd"
  cp -a /usr/lib/systemd/system "$dest/usr/lib/systemd/system-host"
  cp -an "$dest/usr/lib/systemd/system-host/." "$dest/usr/lib/systemd/system/"
  msg="$(MANPATH="$dest$mandir" systemd-analyze verify --root="$dest" --man=no sluiced.service 2>&1)"
  st=$?
  [ "$st" -eq 0 ] && [ -z "$msg" ]
  check $? "systemd-analyze verify --root accepts sluiced.service (exit $st)" "$msg"
  # The same check fails on a broken copy, so it can fail at all.
  sed 's/^Type=notify$/Type=notifyy/; s/^ExecStart=.*/ExecStart=\/nonexistent\/sluiced/' \
    "$unit" >"$dest$unitdir/sluiced-broken.service"
  msg="$(systemd-analyze verify --root="$dest" --man=no sluiced-broken.service 2>&1)"
  [ -n "$msg" ]
  check $? "systemd-analyze verify reports a broken copy" "$msg"
  rm -f "$dest$unitdir/sluiced-broken.service"
else
  echo "# systemd-analyze is not here: unit not verified"
fi

# Every capability of CapabilityBoundingSet is one this kernel and libcap know (systemd
# ignores an unknown name silently).
caps="$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")"
bad=""
for c in $caps; do
  capsh --supports="$(tr '[:upper:]' '[:lower:]' <<<"$c")" >/dev/null 2>&1 || bad+="$c "
done
[ -n "$caps" ] && [ -z "$bad" ]
check $? "capabilities known to this kernel: $caps" "unknown: $bad"
grep -qx 'LimitMEMLOCK=infinity' "$unit" && grep -qx 'RuntimeDirectory=sluice' "$unit" &&
  grep -qx 'Type=notify' "$unit" && grep -qx 'Restart=on-failure' "$unit"
check $? "LimitMEMLOCK=infinity, RuntimeDirectory=sluice, Type=notify, Restart=on-failure"

# The hugepage check on made-up /proc/meminfo contents.
hc="$dest$libexecdir/sluice-check-hugepages"
meminfo() { printf 'HugePages_Total:    %s\nHugePages_Free:     %s\nHugepagesize:       2048 kB\n' "$1" "$2" >"$tmp/meminfo"; }
conf="$dest$sysconfdir/sluice/sluice.conf"
meminfo 0 0
msg="$(SLUICE_MEMINFO="$tmp/meminfo" "$hc" "$conf" 2>&1)"
st=$?
[ "$st" -eq 1 ] && grep -q 'sluiced needs hugepages: 0 of 0 pages' <<<"$msg" &&
  [ "$(wc -l <<<"$msg")" -eq 1 ]
check $? "no hugepages: the check refuses with one line (exit $st)" "$msg"
meminfo 512 100
msg="$(SLUICE_MEMINFO="$tmp/meminfo" "$hc" "$conf" 2>&1)"
[ $? -eq 1 ] && grep -q '100 of 512 pages' <<<"$msg"
check $? "200 MB free of 1 GB: refused (256 MB wanted)" "$msg"
meminfo 512 512
SLUICE_MEMINFO="$tmp/meminfo" "$hc" "$conf"
check $? "1 GB of free hugepages: passes"
SLUICE_MEMINFO="$tmp/meminfo" SLUICE_HUGEPAGES_MIN_MB=2048 "$hc" "$conf" 2>/dev/null
[ $? -eq 1 ]
check $? "SLUICE_HUGEPAGES_MIN_MB=2048 raises the threshold"
meminfo 0 0
sed 's/^#no-huge = false$/no-huge = true/' "$conf" >"$tmp/nohuge.conf"
SLUICE_MEMINFO="$tmp/meminfo" "$hc" "$tmp/nohuge.conf"
check $? "no-huge = true in the config: passes without hugepages"

echo "1..$n"
[ "$failed" -eq 0 ]
