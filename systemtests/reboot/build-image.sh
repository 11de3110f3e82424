#!/usr/bin/env bash
# Builds (once) the Debian 12 guest that `run.sh` reboots: a root disk image, its kernel
# and its initramfs. Everything the guest needs at boot is in this one file, because the
# cache key is the hash of this file: edit it and the next run builds a new image.
#
#   build-image.sh              build if needed; prints IMAGE_DIR=... and IMAGE_STATUS=hit|built
#   build-image.sh --print-dir  only print the cache directory this script version uses
#
# Cache: ${BINFMTCTL_TEST_CACHE:-/var/cache/binfmtctl-tests}/reboot-<hash>/ holding
#   root.qcow2  vmlinuz  initrd.img  packages.txt  build.log  ok
# The image is never booted directly: run.sh boots a throw-away qcow2 overlay.
#
# No loop mounts and nothing mounted on the host except what mmdebstrap's root mode
# mounts inside its own chroot (proc, sys, dev). binfmt_misc is never mounted: the guest's
# qemu-user-static postinst only calls update-binfmts, which is not installed (no
# binfmt-support), and systemd's dpkg trigger only talks to a running systemd, which the
# chroot does not have. The host's binfmt_misc state is compared before and after anyway.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"
cache_root=${BINFMTCTL_TEST_CACHE:-/var/cache/binfmtctl-tests}
hash=$(sha256sum "$self" | cut -c1-16)
dir="$cache_root/reboot-$hash"

if [ "${1:-}" = --print-dir ]; then echo "$dir"; exit 0; fi

log() { printf 'build-image: %s\n' "$*" >&2; }

if [ -e "$dir/ok" ]; then
  log "cache hit: $dir"
  echo "IMAGE_DIR=$dir"; echo "IMAGE_STATUS=hit"; exit 0
fi

[ "$(id -u)" = 0 ] || { log "must run as root (mmdebstrap root mode, device nodes, ownership)"; exit 1; }

# --- host tools ------------------------------------------------------------------------
need_debs=()
for p in mmdebstrap qemu-system-x86 qemu-utils e2fsprogs; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || need_debs+=("$p")
done
if [ ${#need_debs[@]} -gt 0 ]; then
  log "installing: ${need_debs[*]}"
  apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_debs[@]}" >&2
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/reboot-$hash.lock"
if ! flock -n 9; then log "another build of $dir is running; waiting"; flock 9; fi
if [ -e "$dir/ok" ]; then      # built by whoever held the lock
  log "cache hit: $dir"
  echo "IMAGE_DIR=$dir"; echo "IMAGE_STATUS=hit"; exit 0
fi

binfmt_state() {
  # What the host's binfmt_misc looks like: its mount (if any) and its entries.
  grep -w binfmt_misc /proc/self/mounts || true
  ls -A /proc/sys/fs/binfmt_misc 2>/dev/null || true
}
host_binfmt_before=$(binfmt_state)

rm -rf "$cache_root/.reboot-$hash.tmp."*      # left by a build that was killed (we hold the lock)
tmp="$cache_root/.reboot-$hash.tmp.$$"
mkdir -p "$tmp"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
root="$tmp/root"
start=$(date +%s)

# --- the root file system ----------------------------------------------------------------
# variant=essential: no apt in the guest at all (mmdebstrap installs --include with the
# host's apt), so nothing apt-related ever runs at boot.
# libelf1, libsystemd0, libstdc++6 and libgcc-s1: what a --static-swift-stdlib binfmtctl
# still links dynamically (Swift's runtime needs the C++ runtime).
pkgs=systemd,systemd-sysv,dbus,udev,kmod,qemu-user-static,libelf1,libsystemd0,libstdc++6,libgcc-s1,linux-image-amd64,initramfs-tools,zstd
log "mmdebstrap bookworm ($pkgs)"
mmdebstrap --mode=root --variant=essential --include="$pkgs" \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook='chroot "$1" dpkg-query -W -f="\${Package} \${Version}\n" > "$1/.packages.txt"' \
  bookworm "$root" http://deb.debian.org/debian >"$tmp/mmdebstrap.log" 2>&1 \
  || { tail -n 40 "$tmp/mmdebstrap.log" >&2; log "mmdebstrap failed"; exit 1; }

# --- configuration baked into the image --------------------------------------------------
echo binfmtctl-guest > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tbinfmtctl-guest\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
printf '/dev/vda\t/\text4\tdefaults\t0\t0\n' > "$root/etc/fstab"
rm -f "$root/etc/resolv.conf"
# A fixed machine-id: no "first boot" (systemd-firstboot would otherwise prompt on the console).
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$root/etc/machine-id"; echo >> "$root/etc/machine-id"

# Debian's qemu-user-static ships /usr/lib/binfmt.d/qemu-<arch>.conf, which systemd-binfmt
# registers at every boot. The four architectures the test persists and unpersists must
# not come from anywhere but binfmtctl, or boot 3 ("the entries are gone") could not tell
# binfmtctl's entries from Debian's; so those four files are deleted from the image. The
# other architectures' files stay, so systemd-binfmt still has real work to do at boot.
for a in aarch64 arm s390x ppc64le; do
  f="$root/usr/lib/binfmt.d/qemu-$a.conf"
  [ -e "$f" ] || { log "expected $f in qemu-user-static (layout changed?)"; exit 1; }
  rm -f "$f"
done

# Fast, quiet boots: no getty, no timers, no first-boot wizard, journal in RAM.
sysd="$root/etc/systemd/system"
for u in serial-getty@ttyS0.service getty@tty1.service console-getty.service \
         systemd-firstboot.service systemd-networkd-wait-online.service \
         e2scrub_all.timer e2scrub_reap.service fstrim.timer apt-daily.timer \
         apt-daily-upgrade.timer man-db.timer systemd-timesyncd.service; do
  ln -sfn /dev/null "$sysd/$u"
done
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' > "$root/etc/systemd/journald.conf.d/reboot-test.conf"

# The test runner: a oneshot service that mounts the payload disk (/dev/vdb, read-only),
# counts boots of this run in a state file on the root disk and runs the payload's
# stage.sh with the boot number, its output on the serial console.
mkdir -p "$root/usr/local/libexec"
cat > "$root/usr/local/libexec/reboot-test-runner" <<'RUNNER'
#!/bin/sh
# Baked into the image by systemtests/reboot/build-image.sh.
exec </dev/null >/dev/ttyS0 2>&1
payload=/run/reboot-test/payload
uptime() { cut -d' ' -f1 /proc/uptime; }
bail() {  # no usable payload: say so and power off, so the host does not wait for its timeout
  echo "BINFMTCTL-TEST boot=${n:-0} check=runner result=fail detail=$*"
  systemctl poweroff; exit 0
}
mkdir -p "$payload"
i=0
while [ ! -b /dev/vdb ] && [ $i -lt 30 ]; do sleep 1; i=$((i + 1)); done
mount -t ext4 -o ro /dev/vdb "$payload" || bail "cannot mount the payload disk /dev/vdb"
[ -r "$payload/config" ] || bail "payload has no config"
. "$payload/config"      # RUN_ID MAX_BOOTS STAGE_TIMEOUT
mkdir -p /var/lib/reboot-test
state="/var/lib/reboot-test/$RUN_ID.boot"
n=$(( $(cat "$state" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$state"; sync
echo "BINFMTCTL-TEST boot=$n event=start uptime=$(uptime) run=$RUN_ID"
[ "$n" -le "${MAX_BOOTS:-5}" ] || bail "boot $n is more than MAX_BOOTS=${MAX_BOOTS:-5}: reboot loop"
REBOOT_TEST_BOOT=$n REBOOT_TEST_PAYLOAD=$payload \
  timeout -k 5 "${STAGE_TIMEOUT:-300}" sh "$payload/stage.sh" "$n"
rc=$?
echo "BINFMTCTL-TEST boot=$n event=stage-exit rc=$rc uptime=$(uptime)"
case $rc in
  0) ;;
  124|137) echo "BINFMTCTL-TEST boot=$n check=stage-exit result=fail detail=stage.sh timed out after ${STAGE_TIMEOUT:-300}s" ;;
  *) echo "BINFMTCTL-TEST boot=$n check=stage-exit result=fail detail=stage.sh exited with $rc" ;;
esac
# stage.sh ends every boot with `systemctl reboot` or `systemctl poweroff`; if it did not,
# power off rather than leave the host waiting.
sleep 2
if ! systemctl list-jobs --no-legend 2>/dev/null | grep -Eq '(reboot|poweroff|halt)\.target'; then
  echo "BINFMTCTL-TEST boot=$n check=stage-shutdown result=fail detail=stage.sh requested neither reboot nor poweroff"
  systemctl poweroff
fi
exit 0
RUNNER
chmod 755 "$root/usr/local/libexec/reboot-test-runner"

cat > "$sysd/reboot-test.service" <<'UNIT'
# Baked into the image by systemtests/reboot/build-image.sh.
[Unit]
Description=binfmtctl reboot test: run this boot's stage from the payload disk
After=local-fs.target systemd-binfmt.service binfmtctl.service dbus.service
Wants=dbus.service

[Service]
Type=oneshot
ExecStart=/usr/local/libexec/reboot-test-runner
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
mkdir -p "$sysd/multi-user.target.wants"
ln -sfn /etc/systemd/system/reboot-test.service "$sysd/multi-user.target.wants/reboot-test.service"

# --- kernel and initramfs ----------------------------------------------------------------
kver=$(ls "$root/lib/modules" | sort -V | tail -n1)
[ -n "$kver" ] && [ -e "$root/boot/vmlinuz-$kver" ] && [ -e "$root/boot/initrd.img-$kver" ] \
  || { log "no kernel/initramfs in the image"; exit 1; }
# Debian's default MODULES=most puts virtio_blk and ext4 into the initramfs; make sure.
chroot "$root" lsinitramfs "/boot/initrd.img-$kver" > "$tmp/initrd.list"
for m in virtio_blk.ko virtio_pci.ko ext4.ko; do
  grep -q "/$m" "$tmp/initrd.list" || { log "initramfs lacks $m"; exit 1; }
done
[ -e "$root/lib/modules/$kver/kernel/fs/binfmt_misc.ko" ] || grep -q 'binfmt_misc' "$root/lib/modules/$kver/modules.builtin" \
  || { log "kernel $kver has no binfmt_misc"; exit 1; }
cp "$root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$tmp/initrd.img"
# The guest boots with qemu -kernel/-initrd; the copies in /boot are dead weight.
rm -f "$root/boot/vmlinuz-$kver" "$root/boot/initrd.img-$kver"
mv "$root/.packages.txt" "$tmp/packages.txt"

# --- the disk image, without a loop mount ------------------------------------------------
used_mb=$(du -sm "$root" | cut -f1)
size_mb=$(( used_mb * 3 / 2 + 512 ))
log "mke2fs -d ($used_mb MiB of files, ${size_mb} MiB file system)"
truncate -s "${size_mb}M" "$tmp/root.raw"
mke2fs -q -F -t ext4 -L binfmtctl-root -d "$root" "$tmp/root.raw" >&2
qemu-img convert -O qcow2 "$tmp/root.raw" "$tmp/root.qcow2"
rm -f "$tmp/root.raw"
rm -rf "$root"

host_binfmt_after=$(binfmt_state)
if [ "$host_binfmt_before" != "$host_binfmt_after" ]; then
  log "the host's binfmt_misc changed during the build! before: [$host_binfmt_before] after: [$host_binfmt_after]"
  exit 1
fi

{
  echo "kernel $kver"
  echo "built $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s by $self"
  cat "$tmp/mmdebstrap.log"
} > "$tmp/build.log"
rm -f "$tmp/mmdebstrap.log" "$tmp/initrd.list"
date -u +%FT%TZ > "$tmp/ok"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
log "built $dir in $(( $(date +%s) - start ))s ($(du -sh "$dir" | cut -f1))"
# Images of other versions of this script (~1 GB each) go once unused for 14 days;
# run.sh touches last-used at every run.
for old in "$cache_root"/reboot-*/; do
  old=${old%/}
  [ "$old" = "$dir" ] && continue
  stamp="$old/last-used"; [ -e "$stamp" ] || stamp="$old/ok"
  if [ -n "$(find "$stamp" -maxdepth 0 -mtime +14 2>/dev/null)" ]; then
    log "removing unused old image $old"; rm -rf "$old" "$old.lock"
  fi
done
echo "IMAGE_DIR=$dir"; echo "IMAGE_STATUS=built"
