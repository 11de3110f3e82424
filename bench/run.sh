#!/usr/bin/env bash
# The benchmark suite: binfmtctl against the tools people use today, on the same inputs, each
# pair interleaved in one run (bench/lib/harness.py), so a busy machine slows both sides alike.
#   bench/run.sh           full run (a few minutes); writes bench/RESULTS.md
#   bench/run.sh --smoke   one short round of each bench (seconds); fails if any benchmarked
#                          command fails; writes bench/results/smoke.md only (make test runs it)
# BINFMTCTL=/path/to/binfmtctl picks the binary (default: this checkout's release build).
# BENCH_ROUNDS and BENCH_BOOT_ROUNDS override the number of rounds of the full run.
# Every run that registers entries goes through scripts/binfmt-sandbox.sh: a private
# binfmt_misc, never the host's table.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=full
if [ "${1:-}" = --smoke ]; then mode=smoke; fi
. bench/lib/common.sh

if [ "$mode" = smoke ]; then
  rounds=1 boot_rounds=2 slow_rounds=1 warmup=0 boot_warmup=0 slow_warmup=0
  raw=bench/results/smoke.jsonl
  report=bench/results/smoke.md
else
  rounds=${BENCH_ROUNDS:-300} boot_rounds=${BENCH_BOOT_ROUNDS:-300} slow_rounds=10 warmup=10 boot_warmup=3 slow_warmup=2
  raw=bench/results/raw.jsonl
  report=bench/RESULTS.md
fi
: >"$raw"

# meta KEY VALUE / bench NAME SETUP: lines for the report.
meta() { $py -c 'import json,sys; print(json.dumps({"kind": "meta", "key": sys.argv[1], "value": sys.argv[2]}))' "$1" "$2" >>"$raw"; }
bench() {
  echo "== $1" >&2
  $py -c 'import json,sys; print(json.dumps({"kind": "bench", "bench": sys.argv[1], "setup": sys.argv[2]}))' "$1" "$2" >>"$raw"
}
in_sandbox() { "$sandbox" "$prepare" "$bin" "$@"; }

# ---- inputs, the same for every tool
fixture=.fixtures/bin/busybox-arm64
if [ ! -f "$fixture" ]; then scripts/fetch-fixtures.sh; fi
# Many distinct paths to one ELF file: hard links (one inode, so the page cache holds it once
# and the bench measures per-path work, not disk reads). Short names keep 16,000 of them well
# under the kernel's argument limits.
paths=$cache/paths
if [ "$(find "$paths" -maxdepth 1 -type f 2>/dev/null | wc -l)" != 16000 ] || ! cmp -s "$paths/00000" "$fixture"; then
  rm -rf "$paths"
  mkdir -p "$paths"
  cp "$fixture" "$paths/00000"
  for i in $(seq 1 15999); do ln "$paths/00000" "$paths/$(printf %05d "$i")"; done
fi
# The floor for a Swift program: print() alone, static Swift runtime, as binfmtctl is built.
swiftc=${SWIFTC:-$(command -v /opt/swift/usr/bin/swiftc || command -v swiftc || true)}
if [ -z "$swiftc" ]; then
  echo "bench: no swiftc (set SWIFTC=/path/to/swiftc)" >&2
  exit 2
fi
swift_print=$cache/swift-print-$(cat bench/lib/print.swift <("$swiftc" --version 2>&1) | sha256sum | cut -c1-12)
if [ ! -x "$swift_print" ]; then
  echo "bench: compiling bench/lib/print.swift" >&2
  "$swiftc" -O -static-stdlib -module-cache-path "$cache/module-cache" bench/lib/print.swift -o "$swift_print.tmp"
  objcopy --strip-debug "$swift_print.tmp"
  mv "$swift_print.tmp" "$swift_print"
fi

# ---- what was measured, where
commit=$(git -C "$(dirname "$src")" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git -C "$(dirname "$src")" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit (its checkout had uncommitted changes)"
fi
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta nproc "$(nproc)"
meta cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
meta kernel "$(uname -r)"
meta debian "$(cat /etc/debian_version)"
meta commit "$commit"
meta binary "$src"
meta snapshot "$bin"
meta sha256 "$bin_sha256"
meta tools "$(dpkg-query -W -f '${Package} ${Version}, ' systemd valgrind binutils file pax-utils time python3 2>/dev/null)$("$swiftc" --version 2>&1 | head -1)"
meta command "BINFMTCTL=$src bench/run.sh"
meta rounds "$rounds"
meta boot_rounds "$boot_rounds"
meta load_before "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- 1. boot: 29 persisted entries into an empty private table
# The sandbox costs ~13 ms, more than either tool, so it is never inside a timing: each round is
# one fresh sandbox where prepare.sh persists the files (untimed); the harness then clears the
# table and times `binfmtctl boot`, clears it again and times systemd-binfmt (the first of the
# two alternates between sandboxes), and checks after each run that all entries are registered.
# systemd-binfmt runs without arguments, as at boot: it reads the binfmt.d directories, where
# only the persisted files are visible (prepare.sh), and flushes the table before registering.
bench boot "Each round: a fresh \`scripts/binfmt-sandbox.sh\`; \`bench/lib/prepare.sh\` mounts tmpfs on /etc/binfmt.d, /etc/systemd/system and /usr/lib/binfmt.d, runs \`binfmtctl persist --init none --no-register\` on the $nentries architectures of Debian's qemu-user-static ($BENCH_ARCHS), then the harness clears the table (\`-1\` to status, untimed) before each timed run and checks for $nentries entries after it. Both commands once per sandbox, the first alternating."
for r in $(seq $((-boot_warmup)) $((boot_rounds - 1))); do
  line=$(in_sandbox -- $harness time --bench boot --rounds 1 --round-offset "$((r < 0 ? -r : r))" \
    --clear-table --expect-entries "$nentries" \
    --cmd "binfmtctl boot=$bin boot" --cmd "systemd-binfmt=$systemd_binfmt")
  if [ "$r" -ge 0 ]; then echo "$line" >>"$raw"; fi
done

# ---- 2. start-up
for c in "--version" "arch list"; do
  bench "${c#--}" "Run directly (no sandbox)."
  $harness time --bench "${c#--}" --rounds "$rounds" --warmup "$warmup" \
    --cmd "binfmtctl $c=$bin $c" --cmd "swift print()=$swift_print" --cmd "/bin/true=/bin/true" >>"$raw"
done

# ---- 3. status with the table full, all rounds in one sandbox
for c in "status" "status --json"; do
  bench "${c// /}" "One sandbox for all rounds: \`prepare.sh --debian-table\` registers Debian's $nentries qemu-*.conf with \`systemd-binfmt\` and marks the sandbox's /run as systemd-booted (the state of a Debian host with qemu-user-static; \`status\` then exits 0); every run is checked to leave $nentries entries."
  in_sandbox --debian-table -- $harness time --bench "${c// /}" --rounds "$rounds" --warmup "$warmup" \
    --expect-entries "$nentries" --cmd "binfmtctl $c=$bin $c" --cmd "swift print()=$swift_print" >>"$raw"
done

# ---- 4. inspect one file
bench inspect "The fixture \`$fixture\` (\`scripts/fetch-fixtures.sh\`), warm cache."
$harness time --bench inspect --rounds "$rounds" --warmup "$warmup" \
  --cmd "binfmtctl inspect=$bin inspect $fixture" --cmd "readelf -h -l=readelf -h -l $fixture" --cmd "file=file $fixture" >>"$raw"

# ---- 4b. doctor one file, its probe included (the issue's target: under 50 ms)
# In the --debian-table sandbox the fixture's entry exists, so doctor runs the whole path: the
# file's checks, the table, persistence, and the proof (the aarch64 probe program through
# qemu). `--no-probe` shows what the proof costs. The fixture is copied where uid 65534 reads it.
install -m 755 "$fixture" "$cache/doctor-busybox-arm64"
bench doctor "One sandbox for all rounds, as for status (\`prepare.sh --debian-table\`: Debian's $nentries entries registered by systemd-binfmt); the fixture \`$fixture\`, so every run executes the aarch64 probe program through qemu-aarch64."
in_sandbox --debian-table -- $harness time --bench doctor --rounds "$rounds" --warmup "$warmup" \
  --expect-entries "$nentries" --cmd "binfmtctl doctor=$bin doctor $cache/doctor-busybox-arm64" \
  --cmd "binfmtctl doctor --json=$bin doctor --json $cache/doctor-busybox-arm64" \
  --cmd "binfmtctl doctor --no-probe=$bin doctor --no-probe $cache/doctor-busybox-arm64" >>"$raw"

# ---- 5. inspect over N paths: is the cost per path constant?
for n in 2000 16000; do
  if [ "$mode" = smoke ] && [ "$n" = 16000 ]; then continue; fi # seconds per run: full run only
  r=$((n == 2000 ? (rounds < 30 ? rounds : 30) : slow_rounds))
  bench "inspect-$n" "$n hard links to the fixture (\`bench/results/cache/paths\`, names 00000…), passed as arguments (\`{paths:$n}\` = the first $n names) from that directory; $r rounds."
  $harness time --bench "inspect-$n" --rounds "$r" --warmup 1 --cwd "$paths" \
    --cmd "binfmtctl inspect=$bin inspect {paths:$n}" --cmd "readelf -h -l=readelf -h -l {paths:$n}" \
    --cmd "file=file {paths:$n}" >>"$raw"
done

# ---- 6. scan over /usr, when this binary has the subcommand
# `binfmtctl scan --help` exits 0 even without a scan subcommand (the parser then shows the
# top-level help), so the help must be scan's own.
if "$bin" scan --help 2>/dev/null | grep -q 'USAGE: binfmtctl scan'; then
  meta usr_files "$(find /usr -type f | wc -l)"
  bench scan "Warm cache (warm-up runs first), the same tree; files/s = regular files under /usr (\`find /usr -type f | wc -l\`) ÷ median."
  # scan exits 1 when it lists architectures this host cannot run: a finding, not a failure.
  $harness time --bench scan --rounds "$slow_rounds" --warmup "$slow_warmup" --accept "binfmtctl scan=0,1" \
    --cmd "binfmtctl scan=$bin scan ${BINFMTCTL_SCAN_ARGS:-/usr}" \
    --cmd "scanelf -R=scanelf -R -B -F '%a %F' /usr" --cmd "find -type f=find /usr -type f" >>"$raw"
else
  echo "scan: not available in this binary" >&2
  bench scan ""
  $py -c 'import json; print(json.dumps({"kind": "skip", "bench": "scan", "why": "scan: not available in this binary"}))' >>"$raw"
fi

if [ "$mode" = full ]; then
  # ---- 7. peak RSS, same setups as above
  echo "== peak RSS" >&2
  rss() { $harness time --rss --rounds 5 "$@" >>"$raw"; }
  rss --bench start-up --cmd "binfmtctl --version=$bin --version" --cmd "binfmtctl arch list=$bin arch list"
  rss --bench inspect --cmd "binfmtctl inspect=$bin inspect $fixture"
  rss --bench inspect-16000 --cwd "$paths" --cmd "binfmtctl inspect 16000 paths=$bin inspect {paths:16000}"
  in_sandbox --debian-table -- $harness time --rss --rounds 5 --bench status --expect-entries "$nentries" \
    --cmd "binfmtctl status=$bin status" --cmd "binfmtctl status --json=$bin status --json" >>"$raw"
  in_sandbox --debian-table -- $harness time --rss --rounds 5 --bench doctor --expect-entries "$nentries" \
    --cmd "binfmtctl doctor=$bin doctor $cache/doctor-busybox-arm64" >>"$raw"
  in_sandbox -- $harness time --rss --rounds 5 --bench boot --clear-table --expect-entries "$nentries" \
    --cmd "binfmtctl boot=$bin boot" --cmd "systemd-binfmt=$systemd_binfmt" >>"$raw"
  if "$bin" scan --help 2>/dev/null | grep -q 'USAGE: binfmtctl scan'; then
    rss --bench scan --accept "binfmtctl scan=0,1" --cmd "binfmtctl scan=$bin scan ${BINFMTCTL_SCAN_ARGS:-/usr}"
  fi

  # ---- instruction counts: boot against systemd-binfmt (bench/instructions.sh, whose exit
  # status 1 only says binfmtctl is not below), then the start-up commands and references.
  echo "== callgrind" >&2
  bench/instructions.sh --raw "$raw" || [ $? = 1 ]
  stripped=$(stripped_copy)
  $harness time --callgrind --rounds 1 --bench start-up \
    --cmd "binfmtctl --version=$stripped --version" --cmd "binfmtctl arch list=$stripped arch list" \
    --cmd "binfmtctl inspect=$stripped inspect $fixture" \
    --cmd "swift print()=$swift_print" --cmd "/bin/true=/bin/true" \
    --cmd "readelf -h -l=readelf -h -l $fixture" --cmd "file=file $fixture" >>"$raw"
  in_sandbox --debian-table -- $harness time --callgrind --rounds 1 --bench status --expect-entries "$nentries" \
    --cmd "binfmtctl status=$stripped status" --cmd "binfmtctl status --json=$stripped status --json" >>"$raw"
fi

# The binary must not have changed under the run (the snapshot guarantees what ran; this says
# whether the source still matches it).
if [ "$(sha256sum "$src" | cut -d' ' -f1)" != "$bin_sha256" ]; then
  meta notes "$src changed during the run; every measurement used the snapshot taken at the start (sha256 above)."
fi
meta load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
$harness report "$raw" >"$report.tmp"
mv "$report.tmp" "$report"
if [ "$mode" = smoke ]; then
  echo "bench smoke: ok ($(grep -c '"kind": "time"' "$raw") timed runs; $report)"
else
  cat "$report"
fi
