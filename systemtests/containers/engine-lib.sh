#!/usr/bin/env bash
# Shared by engine.sh and image.sh, sourced INSIDE scripts/binfmt-sandbox.sh: refuses to go on
# unless /proc/sys/fs/binfmt_misc is the sandbox's fresh private instance, sets the engine up
# under WORKDIR/ENGINE (start, load TAR, the run array) and defines the check helpers.
# Expects engine (podman|docker) and work (WORKDIR) to be set.

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
