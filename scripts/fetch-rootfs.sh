#!/usr/bin/env bash
# Builds a real Debian arm64 root file system in .fixtures/rootfs-arm64 for the `scan` tests:
# `mmdebstrap --variant=extract` only unpacks the packages (no maintainer scripts, so no
# emulation is needed on an x86 host). Cached: once .fixtures/rootfs-arm64.done exists, a
# second run does nothing. Needs mmdebstrap and debian-archive-keyring (make test-deps).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
fx="$top/.fixtures"
dir="$fx/rootfs-arm64"
stamp="$fx/rootfs-arm64.done"
if [ -e "$stamp" ] && [ -d "$dir" ]; then echo "rootfs: cached in $dir"; exit 0; fi
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
rm -rf "$dir" "$dir.tmp"
mkdir -p "$fx"
echo "rootfs: mmdebstrap --variant=extract --architectures=arm64 $suite (a few minutes)"
# A private apt state: the host's dpkg architectures and lists are not touched.
mmdebstrap --quiet --variant=extract --architectures=arm64 \
  --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
  --include=libc6,coreutils,bash,busybox \
  "$suite" "$dir.tmp" "deb http://deb.debian.org/debian $suite main"
mv "$dir.tmp" "$dir"
touch "$stamp"
echo "rootfs: ready in $dir"
