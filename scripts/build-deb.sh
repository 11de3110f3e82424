#!/usr/bin/env bash
# `make deb`: binfmtctl_<version>_amd64.deb from the release binary (static Swift runtime).
#
#   BIN=.build/release/binfmtctl scripts/build-deb.sh [OUTDIR]
#
# 1. stages the files with scripts/install.sh (PREFIX=/usr; the unit in /lib/systemd/system,
#    zsh's Debian vendor-completions directory; no manifest: dpkg keeps the list), strips
#    the binary, adds copyright and changelog.gz (a native package);
# 2. Depends from dpkg-shlibdeps over the binary (libc6, libgcc-s1, libstdc++6) plus libelf1,
#    which the binary dlopens (dpkg-shlibdeps cannot see that; `inspect`, `scan` and
#    `doctor` need it) — see debian/control;
# 3. DEBIAN/control from dpkg-gencontrol, md5sums, the maintainer scripts in debian/;
# 4. dpkg-deb --root-owner-group, then lintian: any error fails the build (warnings and
#    overrides are in debian/lintian-overrides with their reasons).
# The version is the binary's own (`binfmtctl --version`), and must be debian/changelog's.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top}
BIN=${BIN:-$top/.build/release/binfmtctl}
die() { echo "build-deb: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "BIN=$BIN is not an executable (make release)"
for t in dpkg-deb dpkg-shlibdeps dpkg-gencontrol lintian strip; do
  command -v "$t" >/dev/null || die "$t is missing (apt-get install dpkg-dev lintian binutils)"
done
if readelf -d "$BIN" | grep -q 'Shared library: \[libswift'; then
  die "$BIN needs the Swift runtime: build it with --static-swift-stdlib (make release)"
fi
version=$("$BIN" --version | cut -d' ' -f1)
changelog=$(dpkg-parsechangelog -l "$top/debian/changelog" -S Version)
[ "$version" = "$changelog" ] || die "binfmtctl --version says $version, debian/changelog $changelog: add a changelog entry (dch -v $version)"
arch=$(dpkg --print-architecture)
[ "$arch" = amd64 ] || die "debian/control builds amd64 only, this is $arch"

work=$top/.build/deb
stage=$work/binfmtctl
rm -rf "$work"
mkdir -p "$stage/DEBIAN"
umask 022

BIN=$BIN PREFIX=/usr DESTDIR=$stage SYSTEMDUNITDIR=/lib/systemd/system \
  ZSHCOMPDIR=/usr/share/zsh/vendor-completions MANIFEST=none "$top/scripts/install.sh" install >/dev/null
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/binfmtctl"
"$stage/usr/bin/binfmtctl" --version >/dev/null || die "the stripped binary does not run"
doc=$stage/usr/share/doc/binfmtctl
install -D -m 0644 "$top/debian/copyright" "$doc/copyright"
gzip -9n < "$top/debian/changelog" > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
if [ -f "$top/debian/lintian-overrides" ]; then
  install -D -m 0644 "$top/debian/lintian-overrides" "$stage/usr/share/lintian/overrides/binfmtctl"
fi
install -m 0755 "$top/debian/postinst" "$top/debian/postrm" "$stage/DEBIAN/"

# dpkg-shlibdeps and dpkg-gencontrol read debian/control from the current directory.
cd "$top"
dpkg-shlibdeps -T"$work/substvars" -e"$stage/usr/bin/binfmtctl" 2> >(grep -v 'binary-or-shlib-defines-rpath' >&2)
dpkg-gencontrol -pbinfmtctl -ldebian/changelog -cdebian/control -T"$work/substvars" -P"$stage" -f"$work/files"
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control"

deb=$out/binfmtctl_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "built $deb ($(du -k "$deb" | cut -f1) KiB; binary $(du -k "$stage/usr/bin/binfmtctl" | cut -f1) KiB stripped)"
grep -E '^(Depends|Recommends|Installed-Size):' "$stage/DEBIAN/control"
echo "lintian:"
lintian --fail-on error --info --display-level '>=info' "$deb" || die "lintian reports errors"
