#!/usr/bin/env bash
# Builds the container images of the engine tests as docker-archive tarballs, from the
# foreign Debian binaries in .fixtures (no registry, no emulation needed to build them).
#
#   systemtests/containers/build-images.sh OUTDIR
#
# One OUTDIR/NAME.tar per image, loadable by both `podman load -i` and `docker load -i`,
# tagged localhost/binfmtctl-test-NAME:1. Each is a single layer plus a config carrying the
# image's architecture and variant: `docker import --platform` (20.10) drops the
# architecture and `run --platform` then asks a registry, so import is not an option.
# Prints one line per image: NAME ARCH VARIANT.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
out=${1:?usage: build-images.sh OUTDIR}
bin=$top/.fixtures/bin
rootfs_arm64=$top/.fixtures/rootfs-arm64

die() { echo "build-images: $*" >&2; exit 1; }
for f in busybox-arm64 busybox-s390x busybox-ppc64el busybox-armhf hello-arm64; do
  [ -s "$bin/$f" ] || die "missing $bin/$f (make fixtures)"
done
[ -e "$rootfs_arm64/lib/ld-linux-aarch64.so.1" ] || die "missing $rootfs_arm64 (make fixtures)"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ["a","b"]: the commands here have no characters JSON would need escaped.
json_array() {
  local sep="" s="["
  for w in "$@"; do s+="$sep\"$w\""; sep=","; done
  echo "$s]"
}

# A root with /bin/busybox (from FIXTURE, mode MODE) and one symlink per applet at the path
# busybox itself lists. The list comes from running busybox under its qemu directly (no
# binfmt_misc involved), so the links match that build's applets.
busybox_root() {
  local root=$1 fixture=$2 qemu=$3 mode=$4
  install -D -m "$mode" "$bin/$fixture" "$root/bin/busybox"
  local applet
  while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -sfn /bin/busybox "$root/$applet"
  done < <("/usr/bin/qemu-$qemu-static" "$bin/$fixture" --list-full)
  mkdir -p "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  # root has an empty password so that busybox `su` run by uid 1000 needs no terminal: with
  # the setuid image it then shows whether the kernel gave the program its owner's uid.
  printf 'root::0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n' > "$root/etc/passwd"
  printf 'root:x:0:\nuser:x:1000:\n' > "$root/etc/group"
}

# Packs ROOT as image NAME (ARCH, VARIANT or "", CMD...) into OUTDIR/NAME.tar.
pack() {
  local name=$1 root=$2 arch=$3 variant=$4; shift 4
  local img=$work/img-$name
  mkdir -p "$img"
  # Reproducible layer: sorted, owned by root, mtime 0 (the setuid bit survives: -p).
  tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cpf "$img/layer.tar" .
  local diff_id
  diff_id=$(sha256sum "$img/layer.tar" | cut -d' ' -f1)
  mkdir "$img/$diff_id"
  mv "$img/layer.tar" "$img/$diff_id/layer.tar"
  local variant_field=""
  [ -z "$variant" ] || variant_field="\"variant\":\"$variant\","
  printf '{"architecture":"%s",%s"os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"binfmtctl systemtests/containers/build-images.sh"}]}' \
    "$arch" "$variant_field" "$(json_array "$@")" "$diff_id" > "$img/config.json"
  local config_id
  config_id=$(sha256sum "$img/config.json" | cut -d' ' -f1)
  mv "$img/config.json" "$img/$config_id.json"
  printf '[{"Config":"%s.json","RepoTags":["localhost/binfmtctl-test-%s:1"],"Layers":["%s/layer.tar"]}]' \
    "$config_id" "$name" "$diff_id" > "$img/manifest.json"
  tar -C "$img" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out/$name.tar" .
  echo "$name $arch ${variant:--}"
}

# The four architectures of the run checks: static busybox, `uname -m` as the command.
# fixture qemu image-arch variant
while read -r name fixture qemu arch variant; do
  [ "$variant" != - ] || variant=""
  busybox_root "$work/root-$name" "$fixture" "$qemu" 755
  pack "$name" "$work/root-$name" "$arch" "$variant" /bin/uname -m
done <<'EOF'
bb-arm64 busybox-arm64 aarch64 arm64 v8
bb-s390x busybox-s390x s390x s390x -
bb-ppc64le busybox-ppc64el ppc64le ppc64le -
bb-armv7 busybox-armhf arm arm v7
EOF

# A setuid-root busybox, run as uid 1000: `su -c 'id -u'` needs the owner's uid (busybox's
# `id` drops a setuid uid itself, so it cannot tell).
busybox_root "$work/root-suid" busybox-arm64 aarch64 4755
pack bb-arm64-suid "$work/root-suid" arm64 v8 /bin/su -c "id -u"

# A dynamic arm64 program without its loader (/lib/ld-linux-aarch64.so.1) ...
install -D -m 755 "$bin/hello-arm64" "$work/root-noloader/hello"
pack hello-noloader "$work/root-noloader" arm64 v8 /hello
# ... and with the loader and libc from the Debian arm64 root file system.
install -D -m 755 "$bin/hello-arm64" "$work/root-loader/hello"
mkdir -p "$work/root-loader/lib/aarch64-linux-gnu"
cp -a "$rootfs_arm64/lib/ld-linux-aarch64.so.1" "$work/root-loader/lib/"
cp -L "$rootfs_arm64/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1" \
  "$rootfs_arm64/lib/aarch64-linux-gnu/libc.so.6" "$work/root-loader/lib/aarch64-linux-gnu/"
pack hello-loader "$work/root-loader" arm64 v8 /hello
