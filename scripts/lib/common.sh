# scripts/lib/common.sh — shared by scripts/test, scripts/demo and scripts/bench: installing
# missing Debian packages, finding the shared route table, configuring build directories.
# shellcheck shell=bash

SLUICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Every Debian package the build and the tests need. Later issues add to this list.
SLUICE_PACKAGES=(
  meson ninja-build g++ pkg-config python3
  zlib1g-dev libgtest-dev libbenchmark-dev libdpdk-dev dpdk-dev clang-format
  clang llvm libbpf-dev libxdp-dev libboost-program-options-dev libmnl-dev libnuma-dev nlohmann-json3-dev
  iproute2 iputils-ping traceroute iputils-tracepath iperf3 tcpdump ethtool procps
  nginx-light nmap iptables nftables curl tshark python3-matplotlib
  python3-minimal
  libtsan2  # gcc's ThreadSanitizer runtime (scripts/test's tsan suite)
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
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
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
