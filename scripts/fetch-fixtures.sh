#!/usr/bin/env bash
# Fetches real foreign binaries from Debian into .fixtures/bin, with a private apt
# configuration: the host's dpkg architectures and apt lists are never touched.
# Cached: a second run with everything present does nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
fx="$top/.fixtures"
bin="$fx/bin"
archs=(arm64 armhf armel i386 ppc64el s390x mips64el mipsel)
want=()
for a in "${archs[@]}"; do [ -s "$bin/busybox-$a" ] || want+=("busybox-static:$a"); done
[ -s "$bin/hello-arm64" ] || want+=("hello:arm64")
[ -s "$bin/hello-armhf" ] || want+=("hello:armhf")
# A dynamically linked emulator (Debian's qemu-user, not -static): doctor's
# dynamic-interpreter-with-F finding. Kept apart from bin/, which holds only foreign programs.
[ -s "$fx/qemu-user/qemu-aarch64" ] || want+=("qemu-user:amd64")
if [ ${#want[@]} -eq 0 ]; then echo "fixtures: cached in $bin"; exit 0; fi

apt="$fx/apt"
mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/parts" "$apt/prefs" "$fx/debs" "$bin"
: > "$apt/state/status"
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$apt/sources.list" <<SRC
deb [signed-by=$keyring] http://deb.debian.org/debian $suite main
SRC
list=$(IFS=';'; echo "${archs[*]}")
cat > "$apt/apt.conf" <<CONF
Dir::State "$apt/state";
Dir::State::status "$apt/state/status";
Dir::Cache "$apt/cache";
Dir::Etc::SourceList "$apt/sources.list";
Dir::Etc::SourceParts "$apt/parts";
Dir::Etc::PreferencesParts "$apt/prefs";
APT::Architecture "amd64";
APT::Architectures { "amd64"; $(printf '"%s"; ' "${archs[@]}") };
Acquire::Languages "none";
APT::Sandbox::User "root";
CONF
export APT_CONFIG="$apt/apt.conf"
echo "fixtures: apt-get update (private config)"
apt-get -q update >/dev/null
cd "$fx/debs"
echo "fixtures: downloading ${want[*]}"
apt-get -q download "${want[@]}" >/dev/null
for deb in "$fx/debs"/*.deb; do
  name=$(dpkg-deb -f "$deb" Package)
  arch=$(dpkg-deb -f "$deb" Architecture)
  tmp=$(mktemp -d)
  dpkg-deb -x "$deb" "$tmp"
  case "$name" in
    busybox-static) cp "$tmp/bin/busybox" "$bin/busybox-$arch.tmp" && mv "$bin/busybox-$arch.tmp" "$bin/busybox-$arch" ;;
    hello) cp "$tmp/usr/bin/hello" "$bin/hello-$arch.tmp" && mv "$bin/hello-$arch.tmp" "$bin/hello-$arch" ;;
    qemu-user)
      mkdir -p "$fx/qemu-user"
      cp "$tmp/usr/bin/qemu-aarch64" "$fx/qemu-user/qemu-aarch64.tmp"
      chmod 755 "$fx/qemu-user/qemu-aarch64.tmp"
      mv "$fx/qemu-user/qemu-aarch64.tmp" "$fx/qemu-user/qemu-aarch64"
      ;;
  esac
  rm -rf "$tmp"
done
chmod 755 "$bin"/*
echo "fixtures: ready in $bin"
ls -la "$bin"
