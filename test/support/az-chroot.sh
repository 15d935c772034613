#!/usr/bin/env bash
# A current Azure CLI (Debian trixie's azure-cli, 2.7x) in a debootstrap chroot, for test/control-az-current.test.ts.
#   az-chroot.sh build        build it once (idempotent; a marker file says it is complete)
#   az-chroot.sh path         print the chroot folder
#   az-chroot.sh run DIR ARGS run `az ARGS` inside, with /proc mounted and DIR bind-mounted at /work
#                             (DIR holds the CA bundle and AZURE_CONFIG_DIR); the mounts are undone afterwards.
# Needs root (debootstrap, chroot, mount). The folder defaults to .cache/az-trixie in the repository (git-ignored);
# CERTGATE_AZ_CHROOT moves it. The mirror is the one this machine's apt uses (deb.debian.org unless told otherwise).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
root="${CERTGATE_AZ_CHROOT:-$repo/.cache/az-trixie}"
mirror="${CERTGATE_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  # The first Debian archive URI of this machine's apt sources (deb822 "URIs:" or one-line "deb URI suite").
  mirror="$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
    | sed -nE 's#^URIs:[[:space:]]+(\S*/debian)/?$#\1#p; s#^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(\S*/debian)/?[[:space:]].*#\2#p' \
    | head -n1)"
  mirror="${mirror:-http://deb.debian.org/debian}"
fi
marker="$root/.certgate-az-complete"

build() {
  [ -f "$marker" ] && return 0
  mkdir -p "$(dirname "$root")"
  exec 9>"$root.lock"
  flock 9                                   # two test runs building at once: the second waits, then finds the marker
  [ -f "$marker" ] && return 0
  if [ ! -x "$root/usr/bin/apt-get" ]; then
    rm -rf "$root"                          # a half-finished debootstrap cannot be resumed reliably
    debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; exit 1; }
  fi
  mount_proc
  trap umount_all EXIT
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends azure-cli ca-certificates >>"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" >&2; exit 1; }
  chroot "$root" /usr/bin/apt-get clean
  chroot "$root" /usr/bin/az version --output json >/dev/null
  umount_all; trap - EXIT
  touch "$marker"
}

mount_proc() { mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"; }
umount_all() {
  mountpoint -q "$root/work" 2>/dev/null && umount "$root/work" || true
  mountpoint -q "$root/proc" 2>/dev/null && umount "$root/proc" || true
}

run() {
  local dir="$1"; shift
  [ -f "$marker" ] || { echo "az chroot not built: run $0 build" >&2; exit 2; }
  # A private mount namespace: the mounts vanish with the process, so concurrent runs and crashes leave none behind.
  exec unshare --mount --propagation private /usr/bin/env bash -c '
    set -e; root="$1"; dir="$2"; shift 2
    mount -t proc proc "$root/proc"
    mkdir -p "$root/work"; mount --bind "$dir" "$root/work"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/work LANG=C.UTF-8 \
      AZURE_CONFIG_DIR=/work/azure REQUESTS_CA_BUNDLE=/work/ca.pem AZURE_CORE_COLLECT_TELEMETRY=false \
      AZURE_CORE_NO_COLOR=true AZURE_CORE_SURVEY_MESSAGE=false PYTHONWARNINGS=ignore AZURE_EXTENSION_USE_DYNAMIC_INSTALL=no \
      /usr/bin/az "$@"' _ "$root" "$dir" "$@"
}

case "${1:-}" in
  build) build ;;
  path) echo "$root" ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 build | path | run DIR AZ-ARGS..." >&2; exit 2 ;;
esac
