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
out=$work/$engine
bfc=$work/binfmtctl
mkdir -p "$out"
: > "$out/checks.tsv"
: > "$out/messages.tsv"

skip() {
  echo "$*" > "$out/skip"
  echo "containers: SKIP $engine: $*" >&2
  exit 77
}

# The sandbox script already refused a mount that is not a fresh private instance; check
# again here because everything below writes to it.
bm=/proc/sys/fs/binfmt_misc
[ "$(ls -A "$bm" | tr '\n' ' ')" = "register status " ] || skip "$bm is not an empty private instance"
[ "$(id -u)" = 0 ] && [ "$(awk 'NR==1 {print $2}' /proc/self/uid_map)" = 65534 ] ||
  skip "not namespace root over host uid 65534"

# Everything an engine writes goes under $out: no /etc, /var or $HOME of the host.
mkdir -p "$out/home" "$out/tmp" "$out/config" "$out/xdg-run" "$out/storage"
export HOME=$out/home TMPDIR=$out/tmp XDG_CONFIG_HOME=$out/config XDG_RUNTIME_DIR=$out/xdg-run

# ---- engines -----------------------------------------------------------------------------
# Each defines: start (or skip), load TAR, the array run (the run command up to its options;
# image and command follow), and start sets engine_version / runtime_version.
case "$engine" in
podman)
  # This host mounts cgroup v1 and v2 side by side; crun refuses that ("cgroups in hybrid
  # mode not supported"), so containers get no cgroups at all: an empty /sys/fs/cgroup and
  # --cgroups=disabled.
  mount -t tmpfs -o mode=755 sandbox-cgroup /sys/fs/cgroup || skip "cannot mount a tmpfs over /sys/fs/cgroup"
  # podman refuses a runroot longer than 50 characters: keep it short.
  pm=(podman --root "$out/storage/root" --runroot "$out/rr" --tmpdir "$out/tmp"
    --storage-driver vfs --events-backend file --cgroup-manager cgroupfs --runtime crun)
  start() {
    "${pm[@]}" info > "$out/podman-info.txt" 2>&1 || skip "podman info failed: $(tail -n 3 "$out/podman-info.txt" | tr '\n' ' ')"
    engine_version=$(podman --version | awk '{print $NF}')
    runtime_version="crun $(crun --version | awk 'NR==1 {print $NF}')"
  }
  load() { "${pm[@]}" load -q -i "$1" >> "$out/load.log" 2>&1; }
  run=("${pm[@]}" run --rm --pull=never --network none --cgroups=disabled)
  ;;
docker)
  # /usr/bin/docker is Debian's client; another docker earlier in PATH may not be.
  dk=/usr/bin/docker
  export DOCKER_HOST=unix://$out/xdg-run/docker.sock DOCKER_CONFIG=$out/config/docker
  start() {
    # --rootless only picks user-namespace-friendly defaults; it needs ROOTLESSKIT_STATE_DIR
    # set but no rootlesskit process. Group docker is not mapped: -G root. runc needs the
    # host's cgroup mounts as they are (no tmpfs here). No network: the sandbox has only lo.
    ip link set lo up 2>/dev/null || true
    mkdir -p "$out/rootlesskit"
    ROOTLESSKIT_STATE_DIR=$out/rootlesskit dockerd --rootless -G root \
      --data-root "$out/storage/data" --exec-root "$out/storage/exec" \
      -H "$DOCKER_HOST" --pidfile "$out/xdg-run/docker.pid" \
      --storage-driver vfs --exec-opt native.cgroupdriver=cgroupfs --bridge=none \
      --iptables=false --ip6tables=false --ip-masq=false --userland-proxy=false \
      > "$out/dockerd.log" 2>&1 &
    dockerd_pid=$!
    local i
    for i in $(seq 150); do
      "$dk" version > /dev/null 2>&1 && break
      kill -0 "$dockerd_pid" 2>/dev/null || skip "dockerd exited: $(tail -n 3 "$out/dockerd.log" | tr '\n' ' ')"
      sleep 0.2
    done
    "$dk" version > /dev/null 2>&1 || skip "dockerd did not answer in 30 s: $(tail -n 3 "$out/dockerd.log" | tr '\n' ' ')"
    engine_version=$("$dk" version --format '{{.Server.Version}}')
    runtime_version="runc $(runc --version | awk 'NR==1 {print $NF}')"
  }
  load() { "$dk" load -q -i "$1" >> "$out/load.log" 2>&1; }
  run=("$dk" run --rm --pull=never --network none)
  ;;
*) echo "engine.sh: unknown engine $engine" >&2; exit 2 ;;
esac

start
for tar in "$work"/images/*.tar; do
  load "$tar" || skip "$engine could not load $(basename "$tar"): $(tail -n 3 "$out/load.log" | tr '\n' ' ')"
done

# ---- checks and captures -----------------------------------------------------------------
fails=0
check() { # NAME OK(0|1) DETAIL
  local status=PASS
  [ "$2" = 1 ] || { status=FAIL; fails=$((fails + 1)); }
  printf '%s\t%s\t%s\n' "$1" "$status" "$3" >> "$out/checks.tsv"
  echo "$status $engine $1: $3"
}

# Runs a container (run options, image, command) with a time limit and no stdin; sets rc,
# stdout, stderr (exact bytes, less the final newline that $(...) drops anyway).
contain() {
  rc=0
  timeout 60 "${run[@]}" "$@" < /dev/null > "$out/c.out" 2> "$out/c.err" || rc=$?
  stdout=$(cat "$out/c.out") stderr=$(cat "$out/c.err")
}
# One line per message: backslash, tab and newline escaped so a multi-line message stays one
# TSV field.
escape() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/\t/\\t/g' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'; }
# MODE IMAGE TEXT: a corpus row.
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$engine" "$engine_version" "$runtime_version" "$1" "$2" "$rc" \
    "$(escape "$3")" >> "$out/messages.tsv"
}
has() { case "$1" in *"$2"*) return 0 ;; esac; return 1; }
# Lower-case, for the engine messages that differ only in case between crun and runc.
lc() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }
# binfmtctl, its output kept for the report; a failure is a failed check, not the end.
ctl() {
  echo "+ binfmtctl $*" >> "$out/binfmtctl.log"
  local st=0
  "$bfc" "$@" >> "$out/binfmtctl.log" 2>&1 || st=$?
  [ "$st" = 0 ] && return 0
  check "binfmtctl $*" 0 "exit $st (see binfmtctl.log)"
  return 1
}

img() { echo "localhost/binfmtctl-test-$1:1"; }

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
