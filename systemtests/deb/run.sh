#!/usr/bin/env bash
# The .deb on a fresh Debian 12: `apt-get install ./binfmtctl_<version>_amd64.deb` in a
# minbase root file system (mmdebstrap, no Swift toolchain, no libelf1), run inside
# systemd-nspawn with its own user namespace; then `binfmtctl --version`, `arch list`,
# `inspect /bin/sh`, `status` (no binfmt_misc in the container: exit 1, "not mounted"), the
# files where they belong and the unit installed but not enabled; then
# `apt-get purge --autoremove` and the file list compared with the one before the install:
# nothing of binfmtctl (or of the dependencies apt pulled in) is left.
#
#   systemtests/deb/run.sh path/to/binfmtctl_<version>_amd64.deb [--keep]
#
# Safety: nothing registers anything (the package's scripts register nothing, which this
# checks); the container's /proc/sys is read-only (systemd-nspawn) and its user namespace
# has no binfmt_misc mounted; the host's table is compared before and after.
# Exit: 0 passed, 1 failed, 2 usage. Log: systemtests/deb/results/ (last run).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
log() { echo "deb-test: $*" >&2; }
die() { log "$*"; exit 1; }
deb=${1:-}
keep=0
[ "${2:-}" = --keep ] && keep=1
[ -n "$deb" ] && [ -f "$deb" ] || { log "usage: $0 path/to/binfmtctl_VERSION_amd64.deb [--keep]"; exit 2; }
deb=$(readlink -f "$deb")
[ "$(id -u)" = 0 ] || die "must run as root (systemd-nspawn)"
command -v systemd-nspawn >/dev/null || die "systemd-nspawn is missing (apt-get install systemd-container)"

start=$(date +%s)
tar=$("$here/build-rootfs.sh" | tail -1)
results=$here/results
rm -rf "$results"
mkdir -p "$results"
run=$(mktemp -d /var/tmp/binfmtctl-deb.XXXXXX)
cleanup() { if [ "$keep" = 1 ]; then log "kept $run"; else rm -rf "$run"; fi; }
trap cleanup EXIT
root=$run/root
mkdir "$root"
tar --numeric-owner -xpf "$tar" -C "$root"
mkdir -p "$root/srv/deb-test"
cp "$deb" "$root/srv/deb-test/"
cp "$here/guest-check.sh" "$root/srv/deb-test/guest-check.sh"
host_table() { { ls -la /proc/sys/fs/binfmt_misc/ 2>/dev/null | awk '{print $1, $NF}'; cat /proc/sys/fs/binfmt_misc/status 2>/dev/null; } || true; }
host_before=$(host_table)

log "systemd-nspawn: apt-get install ./$(basename "$deb"), checks, apt-get purge (Debian's mirror over the network)"
rc=0
timeout -k 10 600 systemd-nspawn --quiet --register=no --keep-unit --machine="binfmtctl-deb-$$" --directory="$root" \
  --private-users=pick --private-users-ownership=auto --resolv-conf=replace-host \
  --console=pipe --setenv=DEBIAN_FRONTEND=noninteractive --setenv=LC_ALL=C.UTF-8 \
  /bin/sh /srv/deb-test/guest-check.sh "/srv/deb-test/$(basename "$deb")" > "$results/guest.log" 2>&1 || rc=$?

[ "$(host_table)" = "$host_before" ] || { log "the host's binfmt_misc changed"; rc=1; }
grep -E '^(PASS|FAIL|SKIP) ' "$results/guest.log" || true
fails=$(grep -c '^FAIL ' "$results/guest.log" || true)
passes=$(grep -c '^PASS ' "$results/guest.log" || true)
grep -q '^DONE$' "$results/guest.log" || { log "the guest script did not finish (see $results/guest.log)"; rc=1; }
log "$passes passed, $fails failed, $(( $(date +%s) - start )) s; log: $results/guest.log"
[ "$rc" = 0 ] && [ "$fails" = 0 ] && [ "$passes" -gt 0 ] || exit 1
