#!/usr/bin/env bash
# `make run`: binfmtctl's main job, shown safely on this machine. The emulators are the
# host's qemu-user-static if it is installed, else Debian's package unpacked into
# .fixtures/qemu (never installed: installing it would let systemd register its entries
# in the host's table). Everything that registers happens in scripts/binfmt-sandbox.sh: a
# private binfmt_misc instance in a user namespace, gone when the demo ends. The host's
# table is never read for writing, mounted or changed. At the end: the commands for the
# real host.
#
#   BIN=.build/release/binfmtctl scripts/demo.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
shown=${BIN:-.build/release/binfmtctl}
BIN=$(readlink -f "${BIN:-$top/.build/release/binfmtctl}")
[ -x "$BIN" ] || { echo "demo: $BIN is missing: make release" >&2; exit 1; }
"$top/scripts/fetch-fixtures.sh" >/dev/null
fixtures=$top/.fixtures/bin

qemu_dir=
# BINFMTCTL_DEMO_UNPACK=1 takes the unpacked package even when the host has one.
if [ ! -x /usr/bin/qemu-aarch64-static ] || [ "${BINFMTCTL_DEMO_UNPACK:-}" = 1 ]; then
  qemu_dir=$top/.fixtures/qemu/usr/bin
  if [ ! -x "$qemu_dir/qemu-aarch64-static" ]; then
    echo "demo: unpacking Debian's qemu-user-static into .fixtures/qemu (not installed on this host)"
    dl=$(mktemp -d)
    (cd "$dl" && apt-get download -q qemu-user-static >/dev/null) ||
      { echo "demo: apt-get download qemu-user-static failed (apt-get update first?)" >&2; rm -rf "$dl"; exit 1; }
    rm -rf "$top/.fixtures/qemu"
    dpkg-deb -x "$dl"/qemu-user-static_*.deb "$top/.fixtures/qemu"
    rm -rf "$dl"
  fi
fi

# The sandbox's part, as uid 65534 in its own user and mount namespaces (binfmt-sandbox.sh).
read -r -d '' inside <<'SH' || true
set -u
B=$1 F=$2 Q=$3
binfmtctl() { "$B" "$@"; }
if [ -t 1 ]; then b=$(printf '\033[1m') n=$(printf '\033[0m'); else b= n=; fi
say() { printf '\n%s# %s%s\n' "$b" "$*" "$n"; }
show() { printf '%s$ %s%s\n' "$b" "$*" "$n"; "$@"; }
cd "$F"
say "A private binfmt_misc: this user namespace's own instance, empty. The host's table is not touched."
show binfmtctl status
say "A foreign program before registration: the kernel refuses it (Exec format error)."
show ./busybox-arm64 uname -m
say "Register the emulators (qemu-user-static${Q:+, unpacked in $Q}), then run foreign busyboxes through them."
if [ -n "$Q" ]; then
  show binfmtctl install --qemu-dir "$Q" aarch64 arm s390x ppc64le mips64el || exit 1
else
  show binfmtctl install aarch64 arm s390x ppc64le mips64el || exit 1
fi
for a in arm64 armhf s390x ppc64el mips64el; do show ./busybox-$a uname -m; done
say "Prove every registered architecture works: a tiny program per architecture, run through the kernel."
show binfmtctl probe || exit 1
say "What a binary needs, and why one does not run (a dynamic arm64 program without its loader here)."
show binfmtctl inspect busybox-arm64 hello-arm64
show binfmtctl doctor ./hello-arm64
show binfmtctl status
exit 0
SH
start=$(date +%s)
rc=0
"$top/scripts/binfmt-sandbox.sh" /bin/sh -c "$inside" demo "$BIN" "$fixtures" "$qemu_dir" || rc=$?
case $rc in
  0) ;;
  77 | 78) echo "demo: no private binfmt_misc here (Linux 6.7+ with unprivileged user namespaces): nothing was registered" >&2; exit "$rc" ;;
  *) echo "demo: failed (exit $rc)" >&2; exit "$rc" ;;
esac
cat <<EOF

# That was a private instance, gone now ($(( $(date +%s) - start )) s). On this host for real, as root
# (binfmtctl is $shown until \`make install\` or the .deb installs it):
  sudo apt-get install qemu-user-static      # the emulators, if missing
  sudo binfmtctl install --all               # register every emulator now
  sudo binfmtctl persist --all               # and at every boot (binfmt.d + the boot unit)
  binfmtctl status && binfmtctl probe        # check
EOF
