#!/usr/bin/env bash
# Replays the committed reproducers in fuzz/crashes/ (<target>-<what>) against today's code,
# with FUZZ_STRICT=1 (every known bug and limitation checked): prints "fails" or "passes" per
# file, and exits 1 while any still fails. Use it to check a fix.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(fuzz/crashes/*)
mapfile -t targets < <(for f in "${files[@]}"; do basename "$f" | cut -d- -f1; done | sort -u)
fuzz/build.sh "${targets[@]}"
failing=0
for f in "${files[@]}"; do
  t=$(basename "$f" | cut -d- -f1)
  if out=$(FUZZ_STRICT=1 SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 ".build-fuzz/fuzz-$t" "$f" 2>&1); then
    echo "passes  $f"
  else
    failing=1
    why=$(grep -m1 -E 'Fatal error|runtime failure|ERROR: AddressSanitizer' <<< "$out" || true)
    at=$(grep -m1 -oE 'Sources/[A-Za-z]+/[A-Za-z]+\.swift:[0-9]+' <<< "$out" || true)
    echo "fails   $f: ${why:-crash}${at:+ (at $at)}"
  fi
done
exit $failing
