# scripts/lib/common.sh — shared by scripts/test, scripts/demo and scripts/bench: installing
# missing Debian packages, finding the shared route table, configuring build directories.
# shellcheck shell=bash

SLUICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# What `meson setup` needs to configure and build every target (scripts/fuzz builds from this
# list alone, so a dependency added to meson.build must be added here).
SLUICE_BUILD_PACKAGES=(
  meson ninja-build g++ pkg-config python3
  zlib1g-dev libgtest-dev libbenchmark-dev libdpdk-dev clang llvm libbpf-dev libxdp-dev
  libboost-program-options-dev libmnl-dev libnuma-dev nlohmann-json3-dev
  libcpp-httplib-dev  # sluiced --metrics
)
# Every Debian package the build and the tests need. Later issues add to this list.
SLUICE_PACKAGES=(
  "${SLUICE_BUILD_PACKAGES[@]}" dpdk-dev clang-format
  iproute2 iputils-ping traceroute iputils-tracepath iperf3 tcpdump ethtool procps
  nginx-light nmap iptables nftables curl tshark python3-matplotlib
  bird2  # a routing daemon feeding the kernel sluice mirrors (tests/netns/routing_daemon.sh)
  python3-minimal
  libtsan2  # gcc's ThreadSanitizer runtime (scripts/test's tsan suite)
  python3-prometheus-client  # the parser of sluiced --metrics' netns test
  # packaging: man pages from --help, their rendering test, the unit's verify and capability
  # tests, bash completion (tests/packaging/)
  help2man man-db groff-base systemd libcap2-bin bash-completion
)

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Installs the packages given (or SLUICE_PACKAGES) that are not installed yet, and only those.
ensure_packages() {
  local pkgs=("$@") missing=()
  [ ${#pkgs[@]} -gt 0 ] || pkgs=("${SLUICE_PACKAGES[@]}")
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}); run as root or install them"
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  # Some of these packages are daemons the tests run only inside their own namespaces (nginx,
  # bird). Debian would start them in the root namespace on install and at every boot: a
  # policy-rc.d that refuses (exit 101, invoke-rc.d's "action forbidden") keeps them from
  # starting now, and their units are disabled afterwards.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  local rc=$?
  [ "$own_policy" -eq 0 ] || rm -f "$policy"
  [ "$rc" -eq 0 ] || die "apt-get install ${missing[*]} failed"
  if command -v systemctl >/dev/null; then
    for p in "${missing[@]}"; do
      case "$p" in
        bird2) systemctl disable bird.service >/dev/null 2>&1 ;;
        nginx-light) systemctl disable nginx.service >/dev/null 2>&1 ;;
      esac
    done
  fi
  return 0
}

# The real Internet table (901,899 IPv4 prefixes): $SLUICE_FULLVIEW, else ../shared/data/ beside
# the checkout, else /work/shared/data/. Prints nothing when it is nowhere.
find_fullview() {
  local c
  for c in "${SLUICE_FULLVIEW:-}" "$SLUICE_ROOT/../shared/data/fullview-prefixes.txt.gz" \
    /work/shared/data/fullview-prefixes.txt.gz; do
    if [ -n "$c" ] && [ -r "$c" ]; then
      (cd "$(dirname "$c")" && printf '%s/%s\n' "$(pwd)" "$(basename "$c")")
      return 0
    fi
  done
}

# configure_build DIR [meson options...]: sets DIR up once, reconfigures if it exists.
configure_build() {
  local dir="$1"
  shift
  local fv
  fv="$(find_fullview)"
  if [ -f "$SLUICE_ROOT/$dir/build.ninja" ]; then
    meson configure "$SLUICE_ROOT/$dir" "$@" -Dfullview="$fv" >/dev/null
  else
    meson setup "$SLUICE_ROOT/$dir" "$SLUICE_ROOT" "$@" -Dfullview="$fv" >/dev/null
  fi
}
