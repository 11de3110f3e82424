#!/usr/bin/env bash
# Runs inside scripts/binfmt-sandbox.sh (as the namespace's root): sets the sandbox up, then
# runs the given command.
#   bench/lib/prepare.sh BINFMTCTL [--debian-table] -- CMD [ARGS...]
# Default: the same binfmt.d input for `binfmtctl boot` and systemd-binfmt: binfmtctl persists
# the architectures in $BENCH_ARCHS (bench/lib/common.sh sets it), nothing registered yet.
# --debian-table: the table of a Debian host with qemu-user-static, for `status`: Debian's own
# qemu-*.conf registered by systemd-binfmt, on a systemd-booted system.
set -euo pipefail
bin=$1
shift
debian_table=0
if [ "${1:-}" = --debian-table ]; then
  debian_table=1
  shift
fi
[ "${1:-}" = -- ] && shift
if [ "${BINFMT_SANDBOX_INSIDE:-}" != 1 ]; then
  echo "prepare.sh: run me through scripts/binfmt-sandbox.sh" >&2
  exit 1
fi
# Private, empty config directories: nothing of the host's leaks in, nothing leaks out.
mount -t tmpfs bench-etc /etc/binfmt.d
mount -t tmpfs bench-units /etc/systemd/system
want=$(echo $BENCH_ARCHS | wc -w)
entries() { find /proc/sys/fs/binfmt_misc -mindepth 1 -maxdepth 1 ! -name register ! -name status | wc -l; }
if [ "$debian_table" = 1 ]; then
  # sd_booted(3)'s marker, in the sandbox's own /run: status then judges the entries as on a
  # systemd host (where systemd-binfmt applies /usr/lib/binfmt.d at boot), and finds no problem.
  mkdir -p /run/systemd/system
  files=()
  for a in $BENCH_ARCHS; do files+=("/usr/lib/binfmt.d/qemu-$a.conf"); done
  /lib/systemd/systemd-binfmt "${files[@]}"
  if [ "$(entries)" != "$want" ]; then
    echo "prepare.sh: $(entries) entries registered, $want expected" >&2
    exit 1
  fi
  exec "$@"
fi
# systemd-binfmt without arguments also reads the vendor directories, where Debian's
# qemu-user-static defines the same 29 entry names: hide them, so both tools read exactly the
# files binfmtctl persisted (binfmtctl boot reads only /etc/binfmt.d). /run is already the
# sandbox's own tmpfs.
for d in /usr/lib/binfmt.d /usr/local/lib/binfmt.d; do
  if [ -d "$d" ]; then mount -t tmpfs bench-vendor "$d"; fi
done
# shellcheck disable=SC2086 # one argument per architecture
"$bin" persist --init none --no-register $BENCH_ARCHS >/dev/null 2>&1
got=$(find /etc/binfmt.d -name '*.conf' | wc -l)
if [ "$got" != "$want" ]; then
  echo "prepare.sh: persist wrote $got files, $want expected" >&2
  exit 1
fi
exec "$@"
