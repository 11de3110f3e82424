#!/usr/bin/env bash
# Real-reboot test: boots a Debian 12 guest under qemu (TCG) that persists binfmt_misc
# entries with binfmtctl, reboots twice for real, and checks what survived each reboot.
#
#   BINFMTCTL_STATIC=/path/to/static/binfmtctl systemtests/reboot/run.sh
#   BINFMTCTL_DEB=/path/to/binfmtctl_VERSION_amd64.deb systemtests/reboot/run.sh
#
# Environment:
#   BINFMTCTL_STATIC      binfmtctl built with --static-swift-stdlib (stage.sh copies it to
#                         /usr/local/bin and persist writes its own unit into /etc)
#   BINFMTCTL_DEB         or the .deb (`make deb`; what `make test-reboot` uses): stage.sh installs
#                         it with dpkg -i and persist enables the packaged unit
#   BINFMTCTL_FIXTURES    foreign busyboxes (default .fixtures/bin, from `make fixtures`)
#   BINFMTCTL_TEST_CACHE  image cache root (default /var/cache/binfmtctl-tests)
#   REBOOT_TEST_STAGE     guest stage script (default stage.sh; stage-standin.sh tests the harness)
#   REBOOT_TEST_TIMEOUT   seconds before qemu is killed (default 540)
#   REBOOT_TEST_RESULTS   where results/<run>/ go (default systemtests/reboot/results)
#   REBOOT_TEST_APPEND    extra kernel command line (e.g. "systemd.show_status=1")
#   REBOOT_TEST_QEMU_EXTRA extra qemu arguments (split on blanks, e.g. "-cpu max")
#   REBOOT_TEST_VERBOSE=1 stream the whole console, not only the test lines
#   REBOOT_TEST_KEEP=1    keep the per-run disks (overlay, payload) for a post-mortem
#
# Exit status: 0 when every expected check printed result=ok and the guest said done;
# 1 otherwise (a failed, missing or duplicated check, no "done", a timeout, a panic).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
stage=${REBOOT_TEST_STAGE:-$here/stage.sh}
timeout_s=${REBOOT_TEST_TIMEOUT:-540}
results_root=${REBOOT_TEST_RESULTS:-$here/results}
fixtures=${BINFMTCTL_FIXTURES:-$top/.fixtures/bin}
verbose=${REBOOT_TEST_VERBOSE:-0}
max_boots=5          # the runner in the guest powers off instead of booting a 6th time
stage_timeout=300    # per boot, enforced in the guest

say() { printf 'reboot-test: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
usec() { local t=$EPOCHREALTIME; echo "${t/./}"; }      # now, in microseconds
secs() { printf '%d.%01d' $(( $1 / 1000000 )) $(( $1 % 1000000 / 100000 )); }   # usec -> "12.3"

[ "$(id -u)" = 0 ] || die "must run as root (image build)"
stage=$(cd "$(dirname "$stage")" && pwd)/$(basename "$stage")
[ -r "$stage" ] || die "no stage script $stage"
t_begin=$(usec)

# --- inputs ------------------------------------------------------------------------------
busyboxes=(busybox-arm64 busybox-armhf busybox-s390x busybox-ppc64el)
for b in "${busyboxes[@]}"; do
  [ -s "$fixtures/$b" ] || die "missing $fixtures/$b: run \`make fixtures\` (scripts/fetch-fixtures.sh)"
done
binfmtctl=${BINFMTCTL_STATIC:-}
deb=${BINFMTCTL_DEB:-}
[ -z "$deb" ] || [ -z "$binfmtctl" ] || die "BINFMTCTL_DEB and BINFMTCTL_STATIC are both set: choose one"
if [ -n "$deb" ]; then
  [ -f "$deb" ] && dpkg-deb -f "$deb" Package 2>/dev/null | grep -qx binfmtctl \
    || die "BINFMTCTL_DEB=$deb is not binfmtctl's .deb (make deb)"
fi
if grep -q '^#@needs binfmtctl' "$stage"; then
  [ -n "$binfmtctl" ] || [ -n "$deb" ] \
    || die "neither BINFMTCTL_DEB (make deb) nor BINFMTCTL_STATIC (swift build -c release --static-swift-stdlib) is set"
fi
binfmtctl_needed=
if [ -n "$binfmtctl" ]; then
  [ -x "$binfmtctl" ] || die "BINFMTCTL_STATIC=$binfmtctl is not an executable file"
  # ELF, 64-bit, little endian; e_machine 0x3e (x86_64)
  [ "$(od -An -tx1 -N6 "$binfmtctl" | tr -d ' \n')" = 7f454c460201 ] \
    && [ "$(od -An -tx1 -j18 -N2 "$binfmtctl" | tr -d ' \n')" = 3e00 ] \
    || die "BINFMTCTL_STATIC=$binfmtctl is not an x86_64 ELF executable"
  if command -v readelf >/dev/null; then
    binfmtctl_needed=$(readelf -d "$binfmtctl" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    # The guest has libc, libelf1, libsystemd0, libstdc++6 and libgcc-s1, not Swift's runtime.
    for lib in $binfmtctl_needed; do
      case $lib in
        libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libutil.so.*|ld-linux-x86-64.so.*|libelf.so.1|libsystemd.so.0|libz.so.1|libgcc_s.so.1|libstdc++.so.6) ;;
        *) say "warning: $binfmtctl needs $lib, which the guest may not have (static Swift stdlib?)" ;;
      esac
    done
  fi
fi

# --- the image (cached) ------------------------------------------------------------------
say "image: $("$here/build-image.sh" --print-dir)"
t0=$(usec)
image_out=$("$here/build-image.sh")
t_image=$(( $(usec) - t0 ))
image_dir=$(sed -n 's/^IMAGE_DIR=//p' <<<"$image_out")
image_status=$(sed -n 's/^IMAGE_STATUS=//p' <<<"$image_out")
[ -e "$image_dir/ok" ] || die "build-image.sh gave no image"
touch "$image_dir/last-used"

# --- per-run disks -----------------------------------------------------------------------
run_id=$(date +%Y%m%d-%H%M%S)-$$
results="$results_root/$run_id"
mkdir -p "$results"
ln -sfn "$run_id" "$results_root/latest"
# Keep the ten newest runs.
ls -1d "$results_root"/2*-* 2>/dev/null | sort | head -n -10 | xargs -r rm -rf

work=$(mktemp -d /tmp/binfmtctl-reboot.XXXXXX)
qemu_pid_file="$work/qemu.pid"
cleanup() {
  if [ -s "$qemu_pid_file" ] && kill -0 "$(cat "$qemu_pid_file")" 2>/dev/null; then
    kill "$(cat "$qemu_pid_file")" 2>/dev/null || true
  fi
  if [ "${REBOOT_TEST_KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(usec)
payload="$work/payload"
mkdir -p "$payload/binfmt.d"
cp "$stage" "$payload/stage.sh"
cp "$here/lib.sh" "$payload/lib.sh"
for b in "${busyboxes[@]}"; do cp "$fixtures/$b" "$payload/$b"; done
# The committed binfmt.d files (the stand-in stage persists with them by hand).
for a in aarch64 arm s390x ppc64le; do cp "$top/binfmt.d/qemu-$a.conf" "$payload/binfmt.d/"; done
[ -n "$binfmtctl" ] && cp "$binfmtctl" "$payload/binfmtctl"
[ -n "$deb" ] && cp "$deb" "$payload/binfmtctl.deb"
chmod 755 "$payload"/busybox-* "$payload"/binfmtctl 2>/dev/null || true
printf 'RUN_ID=%s\nMAX_BOOTS=%s\nSTAGE_TIMEOUT=%s\n' "$run_id" "$max_boots" "$stage_timeout" > "$payload/config"
payload_mb=$(( $(du -sm "$payload" | cut -f1) + 16 ))
mke2fs -q -F -t ext4 -O ^has_journal -L payload -d "$payload" "$work/payload.img" "${payload_mb}M" >/dev/null
qemu-img create -q -f qcow2 -F qcow2 -b "$image_dir/root.qcow2" "$work/root.qcow2"
t_payload=$(( $(usec) - t0 ))

# --- boot --------------------------------------------------------------------------------
append="root=/dev/vda rw console=ttyS0 quiet fsck.mode=skip ${REBOOT_TEST_APPEND:-}"
qemu=(qemu-system-x86_64 -machine q35 -accel tcg -m 1024 -smp 2
  -nodefaults -no-user-config -display none -nic none -serial stdio
  -kernel "$image_dir/vmlinuz" -initrd "$image_dir/initrd.img" -append "$append"
  -drive "file=$work/root.qcow2,format=qcow2,if=virtio,cache=unsafe"
  -drive "file=$work/payload.img,format=raw,if=virtio,readonly=on"
  -device virtio-rng-pci
  -pidfile "$qemu_pid_file")
# shellcheck disable=SC2206   # word splitting wanted
[ -n "${REBOOT_TEST_QEMU_EXTRA:-}" ] && qemu+=(${REBOOT_TEST_QEMU_EXTRA})
printf '%q ' "${qemu[@]}" > "$results/qemu-command.txt"; echo >> "$results/qemu-command.txt"
say "booting (timeout ${timeout_s}s; console: $results/console.log)"

# Reads the serial console: writes console.log (as received, CRs removed) and
# console.ts.log (seconds since qemu started, host clock), shows the test lines as they
# come, and stops qemu at once on a panic or an emergency shell instead of waiting for the
# timeout.
read_console() {
  local t0=$1 line now e
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line//$'\r'/}
    now=$(usec)
    e=$(( now - t0 ))
    printf '%s\n' "$line" >> "$results/console.log"
    printf '%d.%03d %s\n' $(( e / 1000000 )) $(( e % 1000000 / 1000 )) "$line" >> "$results/console.ts.log"
    if [ "$verbose" = 1 ]; then
      printf '%7s | %s\n' "$(secs "$e")" "$line" >&2
    elif [[ $line == *BINFMTCTL-TEST* || $line == *"reboot: "* ]]; then
      printf '%7s | %s\n' "$(secs "$e")" "${line#*BINFMTCTL-TEST }" >&2
    fi
    case $line in
      *"Kernel panic - not syncing"*|*"Gave up waiting for root"*|*"You are in emergency mode"*|*"(initramfs)"*)
        echo "$line" > "$results/fatal.txt"
        sleep 2
        [ -s "$qemu_pid_file" ] && kill "$(cat "$qemu_pid_file")" 2>/dev/null || true
        ;;
    esac
  done
}

: > "$results/console.log"; : > "$results/console.ts.log"
t_qemu=$(usec)
set +e
timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>"$results/qemu-stderr.txt" | read_console "$t_qemu"
qemu_rc=${PIPESTATUS[0]}
set -e
t_boots=$(( $(usec) - t_qemu ))

# --- verdict -----------------------------------------------------------------------------
# Test lines, with the host time they arrived and anything before the marker cut off.
sed -n 's/^\([0-9.]*\) .*\(BINFMTCTL-\)/\1 \2/p; s/^\([0-9.]*\) .*\(reboot: \)/\1 \2/p' \
  "$results/console.ts.log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' > "$results/test-lines.txt"

# Blocks between BINFMTCTL-BEGIN and BINFMTCTL-END, one file each.
awk -v dir="$results" '
  /BINFMTCTL-BEGIN boot=/ { sub(/.*BINFMTCTL-BEGIN /, ""); split($0, f, /[ =]/)
                            name = f[4]; if (name !~ /[.]/) name = name ".txt"
                            out = dir "/boot" f[2] "-" name; printf "" > out; next }
  /BINFMTCTL-END boot=/   { if (out != "") close(out); out = ""; next }
  out != ""               { print >> out }
' "$results/console.log"

declare -A result detail seen
order=()
while read -r _ts rest; do
  [[ $rest == "BINFMTCTL-TEST boot="*" check="* ]] || continue
  b=$(sed -n 's/.* boot=\([^ ]*\) .*/\1/p' <<<"$rest")
  c=$(sed -n 's/.* check=\([^ ]*\) .*/\1/p' <<<"$rest")
  r=$(sed -n 's/.* result=\([^ ]*\).*/\1/p' <<<"$rest")
  d=$(sed -n 's/.* detail=//p' <<<"$rest")
  k="$b/$c"
  if [ -n "${seen[$k]:-}" ]; then result[$k]=duplicate; detail[$k]="printed twice; last: $r $d"; continue; fi
  seen[$k]=1; order+=("$k"); result[$k]=$r; detail[$k]=$d
done < "$results/test-lines.txt"

expected=()
while read -r _ eb ec; do expected+=("${eb#boot=}/${ec#check=}"); done < <(grep '^#@expect ' "$stage")
declare -A is_expected
for k in "${expected[@]}"; do
  is_expected[$k]=1
  if [ -z "${seen[$k]:-}" ]; then order+=("$k"); result[$k]=MISSING; detail[$k]="expected, never printed"; fi
done

{
  printf '\n%-5s %-34s %-9s %s\n' BOOT CHECK RESULT DETAIL
  for k in "${order[@]}"; do
    r=${result[$k]}
    note=
    [ -n "${is_expected[$k]:-}" ] || note=" (not in the #@expect list)"
    printf '%-5s %-34s %-9s %s%s\n' "${k%%/*}" "${k#*/}" "$r" "${detail[$k]:0:150}" "$note"
  done
} | tee "$results/summary.txt" >&2
fails=$(awk 'NR > 2 && $3 != "ok"' "$results/summary.txt" | wc -l)

done_seen=0; grep -q 'BINFMTCTL-TEST done' "$results/test-lines.txt" && done_seen=1

# Timings per boot, from the host clock (when each console line arrived) and the guest's
# uptime when the runner started. A boot ends at the kernel's "reboot: Restarting system"
# or "reboot: Power down".
timing() {
  awk -v total="$(secs "$t_boots")" '
    function f(x) { return sprintf("%6.1f", x) }
    / BINFMTCTL-TEST boot=[0-9]+ event=start / {
      b = $3; sub(/boot=/, "", b); start[b] = $1; up = $5; sub(/uptime=/, "", up); uptime[b] = up; if (b > n) n = b }
    / BINFMTCTL-TEST boot=[0-9]+ event=shutdown-/ { b = $3; sub(/boot=/, "", b); shut[b] = $1 }
    / reboot: (Restarting system|Power down)/ { ends[++m] = $1 }
    END {
      printf "\n%-5s %8s %14s %16s %8s %10s\n", "BOOT", "TOTAL", "FW+KERNEL LOAD", "KERNEL->RUNNER", "STAGE", "SHUTDOWN"
      prev = 0
      for (b = 1; b <= n; b++) {
        end = (b in ends) ? ends[b] : ""
        load = start[b] - prev - uptime[b]
        stage = (b in shut) ? f(shut[b] - start[b]) : "     ?"
        down = (b in shut && end != "") ? f(end - shut[b]) : "     ?"
        tot = (end != "") ? f(end - prev) : "     ?"
        printf "%-5s %8s %14s %16s %8s %10s\n", b, tot, f(load), f(uptime[b]), stage, down
        if (end != "") prev = end
      }
      printf "all boots (qemu start to exit): %ss\n", total
    }' "$results/test-lines.txt"
}
{
  timing
  printf '\nimage:   %s (%ss)  %s\n' "$image_status" "$(secs "$t_image")" "$image_dir"
  printf 'payload: %ss   boots: %ss   whole run: %ss\n' "$(secs "$t_payload")" "$(secs "$t_boots")" "$(secs $(( $(usec) - t_begin )))"
  printf 'stage:   %s\n' "$stage"
  [ -n "$binfmtctl" ] && printf 'binfmtctl: %s (NEEDED: %s)\n' "$binfmtctl" "${binfmtctl_needed:-?}"
  [ -n "$deb" ] && printf 'binfmtctl: %s (%s)\n' "$deb" "$(dpkg-deb -f "$deb" Version Depends | tr '\n' ' ')"
  printf 'results: %s\n' "$results"
} | tee -a "$results/summary.txt" >&2

verdict=0
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then say "FAIL: qemu killed after ${timeout_s}s"; verdict=1
elif [ "$qemu_rc" != 0 ]; then say "FAIL: qemu exited with $qemu_rc ($(tail -n 3 "$results/qemu-stderr.txt" | tr '\n' ' '))"; verdict=1; fi
[ -s "$results/fatal.txt" ] && { say "FAIL: guest died: $(cat "$results/fatal.txt")"; verdict=1; }
[ "$fails" = 0 ] || { say "FAIL: $fails check(s) not ok"; verdict=1; }
[ "$done_seen" = 1 ] || { say "FAIL: the guest never printed 'BINFMTCTL-TEST done'"; verdict=1; }
if [ "$verdict" = 0 ]; then
  say "PASS: ${#order[@]} checks ok, done seen"; echo PASS >> "$results/summary.txt"
else
  echo FAIL >> "$results/summary.txt"
fi
exit $verdict
