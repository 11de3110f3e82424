#!/usr/bin/env bash
# OpenRC boot test: boots a Debian 12 OpenRC root filesystem with systemd-nspawn in its own
# user namespace and checks that binfmtctl's OpenRC service registers the persisted
# qemu-user emulators at boot, in the container's private binfmt_misc (Linux 6.7+).
#
#   BINFMTCTL_STATIC=path/to/binfmtctl systemtests/openrc/run.sh [--keep] [--timeout S]
#   systemtests/openrc/run.sh --standin [--keep] [--timeout S]
#
# BINFMTCTL_STATIC is a binfmtctl built with --static-swift-stdlib (the guest has no Swift
# runtime). Without it, only --standin runs: standin-binfmtctl.sh, a shell script that is not
# the product, stands in for `binfmtctl boot` to prove the harness.
#
# Steps: build-rootfs.sh (cached) -> copy the rootfs for this run -> install the test's
# services and fixtures -> persist step (persist_real: `binfmtctl persist --root DIR --init
# openrc aarch64 s390x`, which writes /etc/binfmt.d, /etc/init.d/binfmtctl and the boot
# runlevel link; persist_standin: the stand-in, units/openrc/binfmtctl and the link) ->
# systemd-nspawn --boot -> the guest prints `BINFMTCTL-OPENRC check=... result=...` lines and
# powers off -> this script collects them. The host's binfmt_misc is never mounted or
# written: registrations happen only inside the container, after the guest's gate service
# has proved the mount there is a private, fresh instance; the host's state is compared
# before and after.
#
# Exit: 0 passed, 1 failed, 2 usage, 77 skipped (kernel older than 6.7).
# Logs: systemtests/openrc/results/console.log and results.txt (last run).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${BINFMTCTL_TEST_CACHE:-/var/cache/binfmtctl-tests}
timeout=${BINFMTCTL_OPENRC_TIMEOUT:-180}
persist_archs=(aarch64 s390x)       # what the real test persists
standin=0 keep=0

log() { echo "openrc-test: $*" >&2; }
die() { log "$*"; exit 1; }
usage() { sed -n '6,7p' "$0" | sed 's/^#  *//' >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --standin) standin=1 ;;
    --keep) keep=1 ;;
    --timeout) [ $# -ge 2 ] || usage; timeout=$2; shift ;;
    --timeout=*) timeout=${1#*=} ;;
    -h|--help) usage ;;
    *) log "unknown argument: $1"; usage ;;
  esac
  shift
done

if [ -n "${BINFMTCTL_STATIC:-}" ]; then
  [ "$standin" = 0 ] || { log "BINFMTCTL_STATIC is set and --standin given: choose one"; exit 2; }
  mode=real
elif [ "$standin" = 1 ]; then
  mode=standin
else
  log "BINFMTCTL_STATIC is not set: give the path of a --static-swift-stdlib build of binfmtctl,"
  log "or --standin to check the harness with the test's shell stand-in (not the product)"
  exit 2
fi

[ "$(id -u)" = 0 ] || die "must run as root (systemd-nspawn)"
kver=$(uname -r)
kmaj=${kver%%.*} kmin=${kver#*.}; kmin=${kmin%%.*}
if [ "$kmaj" -lt 6 ] || { [ "$kmaj" = 6 ] && [ "$kmin" -lt 7 ]; }; then
  log "skipped: kernel $kver has no per-user-namespace binfmt_misc (6.7+ needed)"
  exit 77
fi

if [ "$mode" = real ]; then
  bin=$(readlink -f "$BINFMTCTL_STATIC")
  if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then die "BINFMTCTL_STATIC=$BINFMTCTL_STATIC is not an executable file"; fi
  if command -v readelf >/dev/null; then
    swiftlibs=$(readelf -d "$bin" 2>/dev/null | sed -n 's/.*Shared library: \[\(libswift[^]]*\|libFoundation[^]]*\|lib_Foundation[^]]*\)\].*/\1/p' | tr '\n' ' ')
    [ -z "$swiftlibs" ] || die "$bin needs $swiftlibs: build it with --static-swift-stdlib (the guest has no Swift runtime)"
  fi
fi

# Fixtures: foreign busyboxes from Debian (cached by the script).
fixtures=$top/.fixtures/bin
for a in arm64 s390x; do
  [ -s "$fixtures/busybox-$a" ] || { "$top/scripts/fetch-fixtures.sh" >&2; break; }
done

t0=$(date +%s.%N)
rootfs=$("$here/build-rootfs.sh" | tail -n 1)
[ -d "$rootfs" ] || die "build-rootfs.sh gave no rootfs"
t_build=$(date +%s.%N)

# What the host looks like, before: the guest compares against these, and the host's
# binfmt_misc must look the same afterwards. Read-only.
host_state() {
  if grep -q ' - binfmt_misc ' /proc/self/mountinfo; then
    echo "mounted: $(cd /proc/sys/fs/binfmt_misc && echo *)"
  else
    echo "not mounted"
  fi
}
host_dev=$(stat -c %d /proc/sys/fs/binfmt_misc)
host_userns=$(readlink /proc/self/ns/user)
host_before=$(host_state)

machine=binfmtctl-openrc-$$
mkdir -p "$cache/runs"
dir=$cache/runs/$machine
cleanup() {
  if [ "$keep" = 1 ]; then log "kept the container's rootfs: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
# The per-run copy. /usr is 550 of the rootfs' 560 MB (qemu-user-static alone is 380) and
# nothing writes to it, so its files are hard links into the cache (new directories, so
# files added per run stay per run) when systemd-nspawn can use an ID-mapped mount:
# ownership=map never chowns (an overlayfs root would be chowned file by file). The cache's
# /usr is checked unchanged after the run; a change invalidates the cache.
# BINFMTCTL_OPENRC_COPY=full copies everything and lets nspawn choose (ownership=auto).
case "${BINFMTCTL_OPENRC_COPY:-auto}:$(stat -f -c %T "$cache/runs")" in
  auto:ext2/ext3 | auto:xfs | auto:btrfs | auto:tmpfs) copy=link ownership=map ;;
  auto:* | full:*) copy=full ownership=auto ;;
  *) die "BINFMTCTL_OPENRC_COPY must be auto or full" ;;
esac
# Type, inode, size, mtime, owner, mode (not ctime or link count: linking changes those).
shared_usr() { find "$rootfs/usr" -printf '%P %y %i %s %T@ %U:%G %m\n' | sha256sum; }
log "copying the rootfs to $dir ($copy)"
mkdir "$dir"
if [ "$copy" = link ]; then
  usr_before=$(shared_usr)
  tar -C "$rootfs" --exclude=./usr --numeric-owner --xattrs -cf - . |
    tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' -xpf -
  cp -al "$rootfs/usr" "$dir/usr"
else
  cp -a --reflink=auto "$rootfs/." "$dir/"
fi
t_copy=$(date +%s.%N)

# The test's guest side and the foreign binaries.
install -d "$dir/opt/binfmtctl-test" "$dir/etc/binfmtctl-test" "$dir/etc/rc.conf.d"
install -m 755 "$here/guest/check.sh" "$dir/opt/binfmtctl-test/check.sh"
install -m 755 "$fixtures/busybox-arm64" "$fixtures/busybox-s390x" "$dir/opt/binfmtctl-test/"
install -m 755 "$here/guest/binfmtctl-test-gate" "$here/guest/binfmtctl-test" "$dir/etc/init.d/"
ln -sfn /etc/init.d/binfmtctl-test-gate "$dir/etc/runlevels/boot/binfmtctl-test-gate"
ln -sfn /etc/init.d/binfmtctl-test "$dir/etc/runlevels/default/binfmtctl-test"
# binfmtctl needs the gate: if the gate fails, OpenRC does not start binfmtctl at all.
echo 'rc_binfmtctl_need="binfmtctl-test-gate"' > "$dir/etc/rc.conf.d/binfmtctl-test.conf"

# ---- persist step: what `binfmtctl persist` does before the machine boots -------------
persist_real() {
  install -m 755 "$bin" "$dir/usr/local/bin/binfmtctl"
  # Its shared libraries must be in the guest: ask the guest's loader (lists, runs nothing).
  missing=$(chroot "$dir" /lib64/ld-linux-x86-64.so.2 --list /usr/local/bin/binfmtctl | grep 'not found' || true)
  [ -z "$missing" ] || die "the guest lacks libraries binfmtctl needs: $(echo "$missing" | tr -s ' \t\n' ' ')"
  # Offline: it only writes files under --root. Run in a new user namespace (uid 0 mapped
  # to itself) anyway, so even a buggy persist could only ever see a private binfmt_misc.
  log "persist: binfmtctl persist --root $dir --init openrc ${persist_archs[*]}"
  unshare --user --map-root-user --mount -- \
    "$bin" persist --root "$dir" --init openrc "${persist_archs[@]}" >&2
  # persist installs the init script itself (its copy of units/openrc/binfmtctl).
  if ! cmp -s "$top/units/openrc/binfmtctl" "$dir/etc/init.d/binfmtctl"; then
    log "note: the /etc/init.d/binfmtctl persist wrote differs from units/openrc/binfmtctl:"
    diff -u "$top/units/openrc/binfmtctl" "$dir/etc/init.d/binfmtctl" >&2 || true
  fi
  expect_entries="" expect_run="" expect_refused=""
  for a in "${persist_archs[@]}"; do
    expect_entries+="qemu-$a "
    case "$a" in
      aarch64) expect_run+="arm64:aarch64 " ;;
      s390x) expect_run+="s390x:s390x " ;;
    esac
  done
}
persist_standin() {
  log "persist: test stand-in (NOT the product) as /usr/local/bin/binfmtctl; init script; boot runlevel link"
  install -m 755 "$here/standin-binfmtctl.sh" "$dir/usr/local/bin/binfmtctl"
  install -m 755 "$top/units/openrc/binfmtctl" "$dir/etc/init.d/binfmtctl"
  ln -sfn /etc/init.d/binfmtctl "$dir/etc/runlevels/boot/binfmtctl"
  expect_entries="qemu-aarch64" expect_run="arm64:aarch64" expect_refused="s390x"
}
"persist_$mode"
# --------------------------------------------------------------------------------------

cat > "$dir/etc/binfmtctl-test/host.env" <<ENV
MODE='$mode'
HOST_BINFMT_DEV='$host_dev'
HOST_USERNS='$host_userns'
EXPECT_ENTRIES='$expect_entries'
EXPECT_RUN='$expect_run'
EXPECT_REFUSED='$expect_refused'
ENV

results=$here/results
mkdir -p "$results"
console=$results/console.log
log "booting $machine (timeout ${timeout}s), console: $console"
rc=0
timeout -k 10 "$timeout" systemd-nspawn \
  --directory="$dir" --machine="$machine" --boot \
  --private-users=pick --private-users-ownership="$ownership" \
  --private-network --register=no --keep-unit --console=read-only --kill-signal=SIGKILL \
  > "$console" 2>&1 || rc=$?
t_boot=$(date +%s.%N)

host_after=$(host_state)
if [ "$copy" = link ] && [ "$(shared_usr)" != "$usr_before" ]; then
  rm -f "$(dirname "$rootfs")/complete"
  die "the cache's /usr changed during the run (hard links): cache invalidated, rebuilt next time"
fi
sed -e 's/\r//g' -e 's/\x1b\[[0-9;]*[A-Za-z]//g' "$console" | grep -o 'BINFMTCTL-OPENRC .*' > "$results/results.txt" || true
if [ "$host_before" = "$host_after" ]; then
  echo "BINFMTCTL-OPENRC check=host-untouched result=ok detail=host binfmt_misc: $host_after" >> "$results/results.txt"
else
  echo "BINFMTCTL-OPENRC check=host-untouched result=fail detail=before: $host_before; after: $host_after" >> "$results/results.txt"
fi
cat "$results/results.txt"

fail=0
[ "$rc" = 0 ] || { log "systemd-nspawn exited $rc$([ "$rc" = 124 ] && echo ' (timeout: no poweroff)')"; fail=1; }
grep -q '^BINFMTCTL-OPENRC done failures=0$' "$results/results.txt" || { log "the guest did not report 'done failures=0'"; fail=1; }
! grep -q 'result=fail' "$results/results.txt" || fail=1
for c in gate-userns gate-mount gate-fresh userns private-mount entries runlevel-link rc-status-boot; do
  grep -q "check=$c result=ok" "$results/results.txt" || { log "missing or failed: $c"; fail=1; }
done
grep -q "check=run-" "$results/results.txt" || { log "no binary was run"; fail=1; }

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
log "mode=$mode rootfs $(secs "$t0" "$t_build")s, copy $(secs "$t_build" "$t_copy")s, boot+checks+poweroff $(secs "$t_copy" "$t_boot")s"
if [ "$fail" = 0 ]; then
  log "PASSED ($mode)"
else
  log "FAILED ($mode): see $console"
  exit 1
fi
