#!/usr/bin/env bash
# Side-by-side timings: binfmtctl against the tools people use today, in one hyperfine run.
# Writes bench/results/*.md (ignored); the README quotes the latest numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/binfmtctl
fx=.fixtures/bin/busybox-arm64
out=bench/results
mkdir -p "$out"
hyperfine -N --warmup 10 --min-runs 200 --export-markdown "$out/inspect.md" \
  "$bin inspect $fx" \
  "$bin inspect --json $fx" \
  "readelf -h -l -n $fx" \
  "file $fx"
hyperfine -N --warmup 10 --min-runs 200 --export-markdown "$out/generate.md" \
  "$bin generate --all --format register" \
  "$bin arch list"
bench/register.sh
cat "$out"/*.md
