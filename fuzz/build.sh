#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/*.swift into .build-fuzz/fuzz-<name>.
#
#   fuzz/build.sh            every target
#   fuzz/build.sh elf status only these
#
# BinfmtKit (all of Sources/BinfmtKit) is compiled once as a static library with
# -sanitize=fuzzer,address (coverage + ASan); swift-system's SystemPackage and its C module
# CSystem are compiled once without instrumentation (only Errno is used). Each step is
# skipped when the hash of its inputs, flags and compiler is the one of its last build.
# Nothing here touches .build: the swift-system sources are read from a checkout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out="$top/.build-fuzz"
lib="$out/fuzz-lib"
mods="$lib/Modules"
SWIFTC=${SWIFTC:-swiftc}
CLANG=${CLANG:-$(dirname "$(command -v "$SWIFTC")")/clang}
JOBS=${FUZZ_BUILD_JOBS:-2}
mkdir -p "$lib" "$mods" "$out/crashes"

all_targets() { for f in fuzz/*.swift; do basename "$f" .swift; done; }
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(all_targets); fi
for t in "${targets[@]}"; do [ -f "fuzz/$t.swift" ] || { echo "fuzz/build.sh: no target fuzz/$t.swift" >&2; exit 2; }; done

# swift-system: our own resolved checkout first, then the main build's (read only), else resolve
# into .build-fuzz (git reads the packages from the local mirror; no network needed).
system=""
for d in "$out/checkouts/swift-system" "$top/.build/checkouts/swift-system"; do
  if [ -d "$d/Sources/System" ] && [ -d "$d/Sources/CSystem" ]; then system=$d; break; fi
done
if [ -z "$system" ]; then
  echo "fuzz/build.sh: resolving packages into .build-fuzz"
  swift package --scratch-path "$out" resolve >/dev/null
  system="$out/checkouts/swift-system"
fi
csystem_inc="$system/Sources/CSystem/include"

compiler_id=$("$SWIFTC" --version 2>&1 | head -1)
# hash FLAGS FILES...: one line that changes when any input, flag or the compiler does.
hash_of() {
  local flags=$1
  shift
  { echo "$compiler_id"; echo "$flags"; cat "$@"; } | sha256sum | cut -d' ' -f1
}
# up_to_date STAMP HASH OUTPUT: the output exists and was built from exactly these inputs.
up_to_date() { [ -f "$3" ] && [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# 1. CSystem (C shims) and SystemPackage, plain -O.
mapfile -t system_sources < <(find "$system/Sources/System" -name '*.swift' | LC_ALL=C sort)
avail=()
while read -r v; do
  avail+=(-enable-experimental-feature "AvailabilityMacro=System $v:macOS 10.10, iOS 8.0, watchOS 2.0, tvOS 9.0, visionOS 1.0")
done < <(grep -o 'Available("[0-9.]*"' "$system/Package.swift" | grep -o '[0-9.]*')
sys_flags=(-O -wmo -parse-as-library -swift-version 6 -module-name SystemPackage -D SYSTEM_PACKAGE
  -enable-experimental-feature Lifetimes "${avail[@]}"
  -Xcc -fmodule-map-file="$csystem_inc/module.modulemap" -Xcc -I"$csystem_inc")
sys_hash=$(hash_of "${sys_flags[*]}" "$system/Sources/CSystem/shims.c" "$csystem_inc"/*.h "${system_sources[@]}")
if ! up_to_date "$lib/SystemPackage.stamp" "$sys_hash" "$lib/libSystemPackage.a"; then
  echo "fuzz/build.sh: SystemPackage (${#system_sources[@]} files)"
  "$CLANG" -O2 -fPIC -I"$csystem_inc" -c "$system/Sources/CSystem/shims.c" -o "$lib/CSystem.o"
  "$SWIFTC" "${sys_flags[@]}" -num-threads "$JOBS" -emit-library -static -emit-module \
    -emit-module-path "$mods/SystemPackage.swiftmodule" -module-cache-path "$lib/ModuleCache" \
    -o "$lib/libSystemPackage.a" "${system_sources[@]}"
  echo "$sys_hash" > "$lib/SystemPackage.stamp"
fi

# 2. BinfmtKit, instrumented: coverage for libFuzzer and ASan. Compiled from a snapshot of the
# sources, so files edited while it builds cannot break the build half-way; debug info points
# back at Sources/BinfmtKit for the crash reports.
snap="$lib/BinfmtKit-src"
rm -rf "$snap.tmp"
mkdir -p "$snap.tmp"
cp Sources/BinfmtKit/*.swift "$snap.tmp/"
if ! diff -rq "$snap.tmp" "$snap" > /dev/null 2>&1; then
  rm -rf "$snap"
  mv "$snap.tmp" "$snap"
else
  rm -rf "$snap.tmp"
fi
kit_sources=("$snap"/*.swift)
common=(-Xcc -fmodule-map-file="$csystem_inc/module.modulemap" -Xcc -I"$csystem_inc"
  -I "$mods" -module-cache-path "$lib/ModuleCache")
kit_flags=(-sanitize=fuzzer,address -O -g -wmo -parse-as-library -swift-version 6 -module-name BinfmtKit
  -file-prefix-map "$snap=$top/Sources/BinfmtKit" -file-prefix-map "${snap#"$top"/}=Sources/BinfmtKit")
kit_hash=$(hash_of "${kit_flags[*]} $sys_hash" "${kit_sources[@]}")
if ! up_to_date "$lib/BinfmtKit.stamp" "$kit_hash" "$lib/libBinfmtKit.a"; then
  echo "fuzz/build.sh: BinfmtKit (${#kit_sources[@]} files)"
  "$SWIFTC" "${kit_flags[@]}" "${common[@]}" -num-threads "$JOBS" -emit-library -static -emit-module \
    -emit-module-path "$mods/BinfmtKit.swiftmodule" -o "$lib/libBinfmtKit.a" "${kit_sources[@]}"
  echo "$kit_hash" > "$lib/BinfmtKit.stamp"
fi

# 3. One executable per target: fuzz/<name>.swift plus the shared helpers in fuzz/Support/.
support=(fuzz/Support/*.swift)
target_flags=(-sanitize=fuzzer,address -O -g -parse-as-library -swift-version 6)
build_target() {
  local t=$1 exe="$out/fuzz-$1" h
  h=$(hash_of "${target_flags[*]} $kit_hash" "fuzz/$t.swift" "${support[@]}")
  if up_to_date "$lib/fuzz-$t.stamp" "$h" "$exe"; then return 0; fi
  echo "fuzz/build.sh: fuzz-$t"
  # ld.gold warns about every ASan helper symbol; the warnings are harmless noise.
  if ! "$SWIFTC" "${target_flags[@]}" "${common[@]}" -module-name "fuzz_$t" "fuzz/$t.swift" "${support[@]}" \
    "$lib/libBinfmtKit.a" "$lib/libSystemPackage.a" "$lib/CSystem.o" -o "$exe" 2> "$lib/fuzz-$t.log"; then
    cat "$lib/fuzz-$t.log" >&2
    return 1
  fi
  grep -v "Cannot export local symbol '__asan" "$lib/fuzz-$t.log" >&2 || true
  echo "$h" > "$lib/fuzz-$t.stamp"
}
pids=()
failed=0
for t in "${targets[@]}"; do
  build_target "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$JOBS" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit $failed
