#!/usr/bin/env bash
# Registering every architecture in a fresh private binfmt_misc (scripts/binfmt-sandbox.sh),
# binfmtctl against Debian's systemd-binfmt on the same set, in one hyperfine run. The
# sandbox's own cost (setpriv, unshare, mount, freshness check) is measured alone so it
# can be subtracted. Never touches the host's table.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/.build/release/binfmtctl
sb=$PWD/scripts/binfmt-sandbox.sh
out=bench/results
mkdir -p "$out"
# The set Debian's qemu-user-static ships binfmt.d files for.
archs=$(cd /usr/lib/binfmt.d && ls qemu-*.conf | sed 's/^qemu-//; s/\.conf$//' | tr '\n' ' ')
n=$(echo $archs | wc -w)
echo "architectures ($n): $archs"
# boot: files persisted in a private /etc/binfmt.d, then the reconcile on an empty table.
boot="mount -t tmpfs b /etc/binfmt.d && mount -t tmpfs s /etc/systemd/system && $bin persist --init none --no-register $archs >/dev/null 2>&1"
hyperfine -N --warmup 3 --min-runs 30 --export-markdown "$out/register.md" \
  -n "sandbox alone" "$sb true" \
  -n "binfmtctl install ($n)" "$sb $bin install $archs" \
  -n "systemd-binfmt ($n files)" "$sb /bin/sh -c '/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-*.conf'" \
  -n "binfmtctl persist --no-register + boot ($n)" "$sb /bin/sh -c '$boot && $bin boot 2>/dev/null'" \
  -n "persist --no-register alone ($n)" "$sb /bin/sh -c '$boot'"
cat "$out/register.md"
