#!/usr/bin/env bash
# Builds, once, the Debian 12 root filesystem with OpenRC (on sysvinit's /sbin/init, no
# systemd) that systemtests/openrc/run.sh boots with systemd-nspawn.
#
#   systemtests/openrc/build-rootfs.sh        # prints the rootfs path as the last line
#
# Cached in ${BINFMTCTL_TEST_CACHE:-/var/cache/binfmtctl-tests}/openrc-<hash of this file>/:
# editing this script builds a new one; an unchanged script reuses the cache.
#
# Safety: Debian maintainer scripts run while the rootfs is built, and some of them mount
# binfmt_misc and register entries (update-binfmts from binfmt-support). So mmdebstrap runs
# inside a user namespace made here (host uids 2147352576.. mapped to 0..65535): anything
# that mounts binfmt_misc during the build gets a private instance (kernel 6.7+), never the
# host's table. Besides, apt is pinned never to install binfmt-support, systemd or
# systemd-sysv. The build produces a tarball inside the namespace, extracted here as real
# root, so the cached tree has ordinary ownership (root is 0).
set -euo pipefail

suite=bookworm
mirror=http://deb.debian.org/debian
packages=(
  openrc sysvinit-core mount procps   # init: sysvinit's /sbin/init runs OpenRC's rc
  libelf1 libsystemd0                 # binfmtctl links them
  qemu-user-static                    # the emulators binfmtctl registers
  busybox-static                      # a native busybox for debugging inside the guest
)
never=(binfmt-support systemd systemd-sysv)
userns_base=2147352576              # 0x7FFE0000: outside systemd-nspawn's pick range

log() { echo "build-rootfs: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, extraction with real ownership)"

self=$(readlink -f "${BASH_SOURCE[0]}")
hash=$(sha256sum "$self" | cut -c1-16)
cache=${BINFMTCTL_TEST_CACHE:-/var/cache/binfmtctl-tests}
dir=$cache/openrc-$hash
rootfs=$dir/rootfs

if [ -e "$dir/complete" ]; then
  log "cached: $rootfs"
  echo "$rootfs"
  exit 0
fi

# Host tools, installed only when missing.
missing=()
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
[ -s /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9
if [ -e "$dir/complete" ]; then   # another build finished while we waited
  echo "$rootfs"
  exit 0
fi
rm -rf "$dir"
work=$(mktemp -d "$cache/openrc-$hash.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

pin=$(printf 'Package: %s\nPin: release *\nPin-Priority: -1\n' "${never[*]}")
include=$(IFS=,; echo "${packages[*]}")

log "mmdebstrap $suite (minbase + ${packages[*]}) in a user namespace"
start=$(date +%s)
# The namespace: a holder process unshares it, we write its maps as real root (no
# newuidmap/subuid needed), and mmdebstrap enters it as uid 0 (mmdebstrap then makes its
# own mount and pid namespaces inside it).
unshare --user -- sleep 7200 &
holder=$!
trap 'kill "$holder" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  [ "$(readlink "/proc/$holder/ns/user")" != "$(readlink /proc/self/ns/user)" ] && break
  sleep 0.05
done
[ "$(readlink "/proc/$holder/ns/user")" != "$(readlink /proc/self/ns/user)" ] || die "user namespace holder did not start"
echo "0 $userns_base 65536" > "/proc/$holder/uid_map"
echo "0 $userns_base 65536" > "/proc/$holder/gid_map"

# shellcheck disable=SC2016  # the hooks are run by mmdebstrap, "$1" is its rootfs
HOME=/nonexistent nsenter --target "$holder" --user --setuid 0 --setgid 0 -- \
  mmdebstrap --mode=unshare --variant=minbase --format=tar \
    --aptopt='Apt::Install-Recommends "false"' \
    --setup-hook="mkdir -p \"\$1/etc/apt/preferences.d\" && printf '%s\n' '$pin' > \"\$1/etc/apt/preferences.d/binfmtctl-test-never\"" \
    --include="$include" \
    --customize-hook='echo binfmtctl-openrc > "$1/etc/hostname"' \
    --customize-hook='printf "127.0.0.1 localhost binfmtctl-openrc\n" > "$1/etc/hosts"' \
    --customize-hook='sed -i -E "s/^([0-9]+:[0-9]+:respawn:\/sbin\/getty)/#\1/" "$1/etc/inittab"' \
    --customize-hook='for p in binfmt-support systemd systemd-sysv; do if [ "$(chroot "$1" dpkg-query -W -f="\${db:Status-Status}" "$p" 2>/dev/null)" = installed ]; then echo "$p got installed" >&2; exit 1; fi; done' \
    --customize-hook='test -x "$1/usr/bin/qemu-aarch64-static" && test -x "$1/usr/bin/qemu-s390x-static" && test -x "$1/sbin/openrc" && test -x "$1/sbin/init"' \
    "$suite" - "$mirror" > "$work/rootfs.tar"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true

log "extracting $(du -h "$work/rootfs.tar" | cut -f1) into the cache"
mkdir "$work/rootfs"
tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$work/rootfs.tar" -C "$work/rootfs"
rm "$work/rootfs.tar"
printf 'suite=%s\nbuilt=%s\nseconds=%s\n' "$suite" "$(date -u +%FT%TZ)" "$(( $(date +%s) - start ))" > "$work/complete"
trap - EXIT
mv "$work" "$dir"
log "built in $(( $(date +%s) - start ))s: $rootfs"
for old in "$cache"/openrc-*/complete; do
  old=${old%/complete}
  [ "$old" = "$dir" ] || log "an older rootfs (another version of this script): $old ($(du -sh "$old" | cut -f1)); rm -rf it to free space"
done
echo "$rootfs"
