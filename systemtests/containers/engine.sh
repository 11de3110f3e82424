#!/usr/bin/env bash
# One engine's checks, run by run.sh INSIDE scripts/binfmt-sandbox.sh (BINFMT_SANDBOX_SUBIDS=1,
# BINFMT_SANDBOX_ISOLATE=1): namespace root is host uid 65534, uids 1-65536 are a subordinate
# range, and /proc/sys/fs/binfmt_misc is the sandbox's own fresh instance. Every registration
# below lands there; the host's table is out of reach by construction.
#
#   engine.sh podman|docker WORKDIR
#
# WORKDIR (made by run.sh) holds images/*.tar, binfmtctl, pocf.register. Writes
# WORKDIR/ENGINE/checks.tsv (check, PASS|FAIL, detail), messages.tsv (the corpus columns)
# and the engine's own logs. Exit: 0 the checks ran (they may have failed), 77 the engine
# cannot start here (the reason is in WORKDIR/ENGINE/skip and on stderr).
set -euo pipefail

engine=${1:?engine}
work=${2:?workdir}
# shellcheck source=systemtests/containers/engine-lib.sh
. "$(dirname "$0")/engine-lib.sh"

start
for tar in "$work"/images/*.tar; do
  load "$tar" || skip "$engine could not load $(basename "$tar"): $(tail -n 3 "$out/load.log" | tr '\n' ' ')"
done

# 1. Each architecture fails with no entry, runs after `binfmtctl install`.
#    image binfmtctl-arch uname-m
while read -r image arch want; do
  contain "$(img "$image")"
  ok=0; [ "$rc" != 0 ] && has "$(lc "$stderr")" "exec format error" && ok=1
  check "$image-no-entry" $ok "rc=$rc $(escape "$stderr")"
  record no-entry "$image" "$stderr"
  ctl install "$arch" || true
  contain "$(img "$image")"
  ok=0; [ "$rc" = 0 ] && [ "$stdout" = "$want" ] && ok=1
  check "$image-runs" $ok "rc=$rc stdout=$stdout"
done <<'EOF'
bb-arm64 aarch64 aarch64
bb-s390x s390x s390x
bb-ppc64le ppc64le ppc64le
bb-armv7 arm armv7l
EOF

# 2. A disabled entry: the same refusal as no entry at all.
ctl disable qemu-aarch64 || true
contain "$(img bb-arm64)"
ok=0; [ "$rc" != 0 ] && has "$(lc "$stderr")" "exec format error" && ok=1
check entry-disabled $ok "rc=$rc $(escape "$stderr")"
record entry-disabled bb-arm64 "$stderr"
ctl enable qemu-aarch64 || true
contain "$(img bb-arm64)"
ok=0; [ "$rc" = 0 ] && [ "$stdout" = aarch64 ] && ok=1
check entry-enabled-again $ok "rc=$rc stdout=$stdout"

# 3. No F flag: the kernel looks the interpreter path up inside the container, where there
#    is no /usr/bin/qemu-aarch64-static.
ctl install aarch64 --flags P --replace || true
ok=0; grep -qx 'flags: P' "$bm/qemu-aarch64" && ok=1
check no-F-registered $ok "$(grep flags: "$bm/qemu-aarch64" || true)"
contain "$(img bb-arm64)"
ok=0; [ "$rc" != 0 ] && has "$(lc "$stderr")" "no such file or directory" && ok=1
check no-F-flag $ok "rc=$rc $(escape "$stderr")"
record no-F-flag bb-arm64 "$stderr"
ctl install aarch64 --replace || true

# 4. A dynamic arm64 program: qemu itself reports the missing loader (exit 255); with the
#    loader and libc from the Debian arm64 root file system it runs.
contain "$(img hello-noloader)"
ok=0; [ "$rc" = 255 ] && has "$stderr" "Could not open '/lib/ld-linux-aarch64.so.1'" && ok=1
check missing-loader $ok "rc=$rc $(escape "$stderr")"
record missing-loader hello-noloader "$stderr"
contain "$(img hello-loader)"
ok=0; [ "$rc" = 0 ] && [ "$stdout" = "Hello, world!" ] && ok=1
check loader-present $ok "rc=$rc stdout=$stdout"

# 5. A setuid-root busybox run by uid 1000. Without C the kernel runs qemu with the caller's
#    credentials, so busybox su sees no setuid and says so; with C (POCF) su gets euid 0 and,
#    root's password being empty, runs `id -u` as root.
contain --user 1000:1000 "$(img bb-arm64-suid)"
ok=0; [ "$rc" != 0 ] && has "$stderr" "must be suid" && ok=1
check setuid-without-C $ok "rc=$rc $(escape "$stderr")"
record setuid-without-C bb-arm64-suid "$stderr"
# binfmtctl install refuses C here, rightly: in the sandbox the emulator and / are owned by
# the overflow uid, not root. run.sh generated the POCF register string on the host
# (`binfmtctl generate`, read-only); the hidden _register-raw writes it, in this instance.
ctl uninstall qemu-aarch64 || true
ok=0
ctl _register-raw "$(od -An -v -tx1 < "$work/pocf.register" | tr -d ' \n')" && grep -qx 'flags: POCF' "$bm/qemu-aarch64" && ok=1
check POCF-registered $ok "$(grep flags: "$bm/qemu-aarch64" 2>/dev/null || echo 'no entry')"
contain --user 1000:1000 "$(img bb-arm64-suid)"
ok=0; [ "$rc" = 0 ] && [ "$stdout" = 0 ] && ok=1
check setuid-with-C $ok "rc=$rc stdout=$stdout stderr=$(escape "$stderr")"
record setuid-with-C bb-arm64-suid "$stdout${stderr:+
$stderr}"

# doctor --image/--message/--platform against each failure mode (doctor.sh, when run.sh
# copied it here).
[ ! -f "$work/doctor.sh" ] || . "$work/doctor.sh"

# The table as binfmtctl sees it at the end, for the report (its exit says "not persisted").
"$bfc" status >> "$out/binfmtctl.log" 2>&1 || true

echo "$engine $engine_version ($runtime_version): $fails failed" >&2
exit 0
