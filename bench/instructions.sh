#!/usr/bin/env bash
# Asserts that `binfmtctl boot` executes fewer instructions than Debian's systemd-binfmt on the
# same input: the 29 entries binfmtctl persisted, registered into an empty private table.
# Each side runs once under callgrind in its own fresh sandbox (scripts/binfmt-sandbox.sh), so
# the setup is identical and the host's table is never touched.
#   bench/instructions.sh [--raw FILE]   (--raw: also append the counts as JSON lines)
# Exit status: 0 when binfmtctl's count is below, 1 when it is not, 2 on any error.
set -euo pipefail
trap 'exit 2' ERR
cd "$(dirname "$0")/.."
raw=/dev/null
if [ "${1:-}" = --raw ]; then raw=$2; fi
. bench/lib/common.sh
stripped=$(stripped_copy)

count() { # LABEL ARGV: one callgrind run in a fresh sandbox; prints the JSON line
  "$sandbox" "$prepare" "$bin" -- $harness time --bench instructions --rounds 1 --callgrind \
    --clear-table --expect-entries "$nentries" --cmd "$1=$2"
}
mine=$(count "binfmtctl boot" "$stripped boot")
theirs=$(count "systemd-binfmt" "$systemd_binfmt")
printf '%s\n%s\n' "$mine" "$theirs" >>"$raw"
n_mine=$(sed 's/.*"count": \([0-9]*\).*/\1/' <<<"$mine")
n_theirs=$(sed 's/.*"count": \([0-9]*\).*/\1/' <<<"$theirs")
echo "binfmtctl boot: $n_mine instructions"
echo "systemd-binfmt: $n_theirs instructions ($nentries entries each)"
if [ "$n_mine" -lt "$n_theirs" ]; then
  echo "ok: binfmtctl boot executes fewer instructions"
  exit 0
fi
echo "FAIL: binfmtctl boot does not execute fewer instructions than systemd-binfmt" >&2
exit 1
