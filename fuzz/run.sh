#!/usr/bin/env bash
# Builds, seeds and runs the libFuzzer targets; prints one line per target and fails when any
# target crashed (a trap, an ASan report or a broken property), a timeout or OOM included.
#
#   fuzz/run.sh RUNS [TARGET...]
#
# Each target runs for RUNS executions on its seed corpus fuzz/corpus/<t> (rebuilt by
# fuzz/seed.sh) plus the inputs earlier runs found, kept in .build-fuzz/corpus/<t>. Crash
# inputs go to .build-fuzz/crashes/<t>-crash-<sha1>, logs to .build-fuzz/logs/<t>.log.
#   FUZZ_JOBS=2      targets run side by side (2 cores)
#   FUZZ_SEED=1      libFuzzer's -seed (0: a new one each run)
#   FUZZ_ARGS=...    more libFuzzer flags (e.g. -fork=2 -ignore_crashes=1)
#   FUZZ_MASK, FUZZ_STRICT: see fuzz/Support/Fuzz.swift
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
runs=${1:?usage: fuzz/run.sh RUNS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(elf register binfmtd status wslconf shebang)
jobs=${FUZZ_JOBS:-2}
out=.build-fuzz

fuzz/build.sh "${targets[@]}"
fuzz/seed.sh "${targets[@]}" > /dev/null
mkdir -p "$out/crashes" "$out/logs"

run_one() {
  local t=$1 log="$out/logs/$1.log" start end rc=0
  mkdir -p "$out/corpus/$t"
  start=$(date +%s.%N)
  # The Swift runtime's own backtracer would catch the trap before libFuzzer and hang the pipe.
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:handle_abort=1} \
    "$out/fuzz-$t" -runs="$runs" -seed="${FUZZ_SEED:-1}" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" ${FUZZ_ARGS:-} \
    "$out/corpus/$t" "fuzz/corpus/$t" > "$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  awk -v t="$t" -v rc="$rc" -v secs="$(echo "$end - $start" | bc)" '
    /stat::number_of_executed_units:/ { units = $2 }
    /^#[0-9]+/ { for (i = 1; i < NF; i++) { if ($i == "cov:") cov = $(i+1); if ($i == "ft:") ft = $(i+1); if ($i == "corp:") corp = $(i+1) } ; last = $1 }
    /Test unit written to/ { crash = $NF }
    /^SUMMARY:|^==[0-9]+== ERROR|Fatal error:/ { if (why == "") why = $0 }
    END {
      if (units == "") units = substr(last, 2)
      printf "%-8s runs %8d  %7.1f s  %7d exec/s  cov %5s  ft %6s  corpus %-14s %s\n", t, units, secs, units / secs, cov, ft, corp, rc == 0 ? "ok" : "CRASH " crash
      if (rc != 0) printf "         %s\n", why
    }' "$log" > "$out/logs/$t.summary"
  return $rc
}

pids=()
names=()
failed=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || failed+=("${names[0]}")
    cat "$out/logs/${names[0]}.summary"
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
  cat "$out/logs/${names[$i]}.summary"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in $out/crashes, logs in $out/logs)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, $runs runs each, no crash"
