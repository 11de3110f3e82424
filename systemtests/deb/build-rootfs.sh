#!/usr/bin/env bash
# Builds, once, a fresh Debian 12 minbase root file system as a tarball for the .deb test
# (systemtests/deb/run.sh): .fixtures/debian12-minbase.tar, nothing else installed, no Swift.
# Cached: once it exists (with its .done stamp, named after a hash of this script), a second
# run does nothing. Prints the tarball's path as the last line.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
fx=$top/.fixtures
hash=$(sha256sum "$0" | cut -c1-12)
tar=$fx/debian12-minbase.tar
stamp=$fx/debian12-minbase.$hash.done
if [ -s "$tar" ] && [ -e "$stamp" ]; then echo "deb rootfs: cached in $tar" >&2; echo "$tar"; exit 0; fi
[ "$(id -u)" = 0 ] || { echo "deb rootfs: must run as root (mmdebstrap)" >&2; exit 1; }
mkdir -p "$fx"
rm -f "$tar" "$fx"/debian12-minbase.*.done
echo "deb rootfs: mmdebstrap --variant=minbase bookworm (a minute or two)" >&2
start=$(date +%s)
# minbase: essential packages and apt. Maintainer scripts of these packages do not touch
# binfmt_misc (no binfmt-support, no systemd, no qemu).
mmdebstrap --quiet --variant=minbase --format=tar \
  --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
  bookworm "$tar.tmp" "deb http://deb.debian.org/debian bookworm main"
mv "$tar.tmp" "$tar"
touch "$stamp"
echo "deb rootfs: built in $(( $(date +%s) - start ))s: $tar ($(du -h "$tar" | cut -f1))" >&2
echo "$tar"
