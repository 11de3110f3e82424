# Sourced by bench/run.sh and bench/instructions.sh, from the checkout's root.
# shellcheck shell=bash

# The binary under test: $BINFMTCTL, or this checkout's release build.
src=$(realpath "${BINFMTCTL:-.build/release/binfmtctl}" 2>/dev/null || true)
if [ -z "$src" ] || [ ! -x "$src" ]; then
  echo "bench: no binfmtctl at ${BINFMTCTL:-.build/release/binfmtctl} (make release, or BINFMTCTL=/path/to/binfmtctl)" >&2
  exit 2
fi
sandbox=$PWD/scripts/binfmt-sandbox.sh
prepare=$PWD/bench/lib/prepare.sh
# Debian's python3, not whatever is first in PATH: the sandbox runs as uid 65534, which cannot
# read a per-user interpreter under /root.
py=/usr/bin/python3
harness="$py $PWD/bench/lib/harness.py"
systemd_binfmt=/lib/systemd/systemd-binfmt
# Everything the suite builds or copies; under bench/results/ (ignored by git), and readable by
# the sandbox's uid.
cache=$PWD/bench/results/cache
mkdir -p "$cache"
chmod 755 "$PWD/bench/results" "$cache"

# The architectures Debian's qemu-user-static ships binfmt.d files for (29 on Debian 12).
BENCH_ARCHS=$(cd /usr/lib/binfmt.d && ls qemu-*.conf | sed 's/^qemu-//; s/\.conf$//' | tr '\n' ' ')
export BENCH_ARCHS
# shellcheck disable=SC2086
nentries=$(echo $BENCH_ARCHS | wc -w)
if [ "$nentries" = 0 ]; then
  echo "bench: no /usr/lib/binfmt.d/qemu-*.conf (apt-get install qemu-user-static)" >&2
  exit 2
fi

# A build elsewhere may replace the binary while the suite runs: every run uses one snapshot
# of it (copied until the copy and the source agree), named by its content.
snapshot() {
  local sum
  for _ in 1 2 3 4 5; do
    sum=$(sha256sum "$src" | cut -d' ' -f1)
    mkdir -p "$cache/bin-${sum:0:16}"
    if [ ! -x "$cache/bin-${sum:0:16}/binfmtctl" ]; then
      cp "$src" "$cache/bin-${sum:0:16}/binfmtctl.tmp"
      if [ "$(sha256sum <"$cache/bin-${sum:0:16}/binfmtctl.tmp" | cut -d' ' -f1)" != "$sum" ]; then
        rm -rf "$cache/bin-${sum:0:16}"
        sleep 2
        continue
      fi
      mv "$cache/bin-${sum:0:16}/binfmtctl.tmp" "$cache/bin-${sum:0:16}/binfmtctl"
    fi
    # Older snapshots are not needed any more.
    find "$cache" -maxdepth 1 -name 'bin-*' ! -name "bin-${sum:0:16}" -exec rm -rf {} +
    chmod 755 "$cache/bin-${sum:0:16}"
    bin_sha256=$sum
    bin=$cache/bin-${sum:0:16}/binfmtctl
    return 0
  done
  echo "bench: $src keeps changing; cannot take a stable copy" >&2
  exit 2
}
snapshot

# valgrind cannot read the Swift binary's DWARF here, so callgrind runs a copy without debug
# sections (the same code).
stripped_copy() {
  local out=$bin.stripped
  if [ ! -x "$out" ]; then
    objcopy --strip-debug "$bin" "$out.tmp"
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}
