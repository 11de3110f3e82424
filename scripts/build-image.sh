#!/usr/bin/env bash
# Builds binfmtctl's container image from the committed Containerfile (FROM scratch) and
# saves it as two archives that load without a registry:
#   OUTDIR/binfmtctl.oci.tar     OCI archive (podman load -i, skopeo, buildah pull oci-archive:)
#   OUTDIR/binfmtctl.docker.tar  docker-archive (docker load -i; podman load -i too)
#
#   scripts/build-image.sh BINFMTCTL OUTDIR [QEMU_TARGET...]
#
# BINFMTCTL is the release binary (make release: --static-swift-stdlib); it is stripped into
# the image. QEMU_TARGETs (aarch64 arm riscv64 …) limit the emulators; default every
# /usr/bin/qemu-*-static of Debian's qemu-user-static. The image is tagged
# localhost/binfmtctl:latest and localhost/binfmtctl:VERSION. buildah runs as root with its
# own storage under OUTDIR/storage (vfs): the host's container storage is not touched.
# Prints the sizes (binary, staged root, archives) and writes them to OUTDIR/sizes.env.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:?usage: build-image.sh BINFMTCTL OUTDIR [QEMU_TARGET...]}
out=${2:?usage: build-image.sh BINFMTCTL OUTDIR [QEMU_TARGET...]}
shift 2
die() { echo "build-image: $*" >&2; exit 1; }
[ -x "$bin" ] || die "no binfmtctl at $bin (make release)"
command -v buildah > /dev/null || die "buildah is missing (make image installs it)"
command -v objcopy > /dev/null || die "objcopy is missing (binutils)"

if [ $# -gt 0 ]; then
  emulators=()
  for t in "$@"; do
    [ -x "/usr/bin/qemu-$t-static" ] || die "no /usr/bin/qemu-$t-static (apt-get install qemu-user-static; names: ls /usr/bin/qemu-*-static)"
    emulators+=("/usr/bin/qemu-$t-static")
  done
else
  emulators=(/usr/bin/qemu-*-static)
  [ -x "${emulators[0]}" ] || die "no /usr/bin/qemu-*-static (apt-get install qemu-user-static)"
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
ctx=$out/context
rm -rf "$ctx"
root=$ctx/rootfs
mkdir -p "$root/usr/bin" "$root/proc" "$root/sys" "$root/dev" "$root/etc" "$root/run"
install -d -m 1777 "$root/tmp"
cp "$top/Containerfile" "$ctx/Containerfile"

# The binary without its debug sections (what a user would ship), and the emulators as
# Debian built them (static, already stripped).
objcopy --strip-all "$bin" "$root/usr/bin/binfmtctl"
chmod 755 "$root/usr/bin/binfmtctl"
for e in "${emulators[@]}"; do cp -L "$e" "$root/usr/bin/"; done

# The shared libraries binfmtctl links (ldd: libc, libm, libstdc++, libgcc_s and the loader)
# and libelf with its own (zlib), dlopened by inspect, doctor and scan. libsystemd is left
# out: persist and boot act on a host's init system, not an image's.
libs() { ldd "$1" | awk '/=> \// { print $3 } /^\t\/.*ld-linux/ { print $1 }'; }
libelf=$(ldconfig -p | awk '/libelf\.so\.1 .*x86-64/ { print $NF; exit }')
[ -n "$libelf" ] || die "libelf.so.1 is missing (apt-get install libelf1)"
for l in $( { libs "$bin"; echo "$libelf"; libs "$libelf"; } | sort -u); do
  mkdir -p "$root$(dirname "$l")"
  cp -L "$l" "$root$l"
done
# The loader's canonical path (PT_INTERP) when ldd printed another name for it.
interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
if [ ! -e "$root$interp" ]; then
  mkdir -p "$root$(dirname "$interp")"
  cp -L "$interp" "$root$interp"
fi

version=$("$bin" --version | awk '{print $1}')
st=(--root "$out/storage/root" --runroot "$out/storage/run" --storage-driver vfs)
export BUILDAH_ISOLATION=chroot TMPDIR=$out/storage/tmp
mkdir -p "$TMPDIR"
buildah "${st[@]}" rmi -f localhost/binfmtctl:latest > /dev/null 2>&1 || true
buildah "${st[@]}" bud -q --timestamp 0 -f "$ctx/Containerfile" -t localhost/binfmtctl:latest \
  -t "localhost/binfmtctl:$version" "$ctx" > /dev/null
rm -f "$out/binfmtctl.oci.tar" "$out/binfmtctl.docker.tar"
buildah "${st[@]}" push -q localhost/binfmtctl:latest "oci-archive:$out/binfmtctl.oci.tar:localhost/binfmtctl:latest"
buildah "${st[@]}" push -q localhost/binfmtctl:latest "docker-archive:$out/binfmtctl.docker.tar:localhost/binfmtctl:latest"
buildah "${st[@]}" rmi -a -f > /dev/null 2>&1 || true

mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
binary=$(stat -c %s "$root/usr/bin/binfmtctl")
rootfs=$(du -sb "$root" | cut -f1)
oci=$(stat -c %s "$out/binfmtctl.oci.tar")
gz=$(gzip -1 -c "$out/binfmtctl.docker.tar" | wc -c)
{
  echo "version=$version"
  echo "emulators=${#emulators[@]}"
  echo "binary_bytes=$binary"
  echo "rootfs_bytes=$rootfs"
  echo "oci_archive_bytes=$oci"
  echo "docker_archive_gzip_bytes=$gz"
} > "$out/sizes.env"
echo "image localhost/binfmtctl:latest ($version): binary $(mb "$binary") stripped, ${#emulators[@]} emulators, root $(mb "$rootfs"), OCI archive $(mb "$oci") ($out/binfmtctl.oci.tar), gzip $(mb "$gz")"
