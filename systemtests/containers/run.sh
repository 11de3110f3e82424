#!/usr/bin/env bash
# Real container engines against binfmtctl's entries: Debian's podman (crun) and docker.io
# (runc) run foreign-architecture images built from the fixtures, each engine in its own
# private binfmt_misc sandbox (scripts/binfmt-sandbox.sh; the host's table is never
# written, and is compared before and after).
#
#   systemtests/containers/run.sh [--suite engines|image] [--engine podman|docker|all] [--update-corpus] [--keep]
#
# BINFMTCTL_STATIC (or BINFMTCTL) is the binfmtctl to test, default .build/release/binfmtctl;
# it runs as an unprivileged uid inside the sandbox, so it must not need a Swift toolchain's
# libraries from a root-only place.
#
# What it checks, per engine (engine.sh): arm64, s390x, ppc64le and arm/v7 images fail with
# no entry and print their `uname -m` after `binfmtctl install`; the engine's message for a
# disabled entry, an entry without F, a dynamic program without its loader (and with it), a
# setuid program without C (and with POCF). Every message is captured exactly and compared
# with Tests/Fixtures/engine-messages.tsv (times in podman's JSON line are not compared);
# --update-corpus rewrites that file's rows for the engine versions of this run instead.
#
# --suite image runs image.sh instead of engine.sh: binfmtctl's own image (make image; the
# archives in BINFMTCTL_IMAGE_DIR, default .build/image) used like tonistiigi/binfmt, the
# only-mount case, and (podman) deploy/kubernetes/'s pod template under `podman kube play`.
#
# Exit: 0 every check passed; 1 a check failed; 2 usage; 77 skipped, said loudly: not root,
# kernel older than 6.7, a tool missing (`make test-containers` installs them), or the sandbox
# or an engine cannot start here. Prints PASS/FAIL per check and a final "N passed, N failed".
# Results: systemtests/containers/results/<UTC time>/ (checks.tsv, messages.tsv, summary.env,
# logs); results/latest points at the last run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
corpus=$top/Tests/Fixtures/engine-messages.tsv
engines=(podman docker)
update=0 keep=0 suite=engines

log() { echo "containers: $*" >&2; }
skip() {
  log "SKIPPED: $*"
  echo "0 passed, 0 failed, 1 skipped"
  exit 77
}
usage() { sed -n '7p' "$0" | sed 's/^#  *//' >&2; exit 2; }
image_dir=${BINFMTCTL_IMAGE_DIR:-}

while [ $# -gt 0 ]; do
  case "$1" in
    --engine) [ $# -ge 2 ] || usage; case "$2" in all) ;; podman|docker) engines=("$2") ;; *) usage ;; esac; shift ;;
    --suite) [ $# -ge 2 ] || usage; case "$2" in engines|image) suite=$2 ;; *) usage ;; esac; shift ;;
    --update-corpus) update=1 ;;
    --keep) keep=1 ;;
    -h|--help) usage ;;
    *) log "unknown argument: $1"; usage ;;
  esac
  shift
done

t_start=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
stamp=$(date -u +%Y%m%dT%H%M%SZ)

bin=${BINFMTCTL_STATIC:-${BINFMTCTL:-$top/.build/release/binfmtctl}}
if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
  log "no binfmtctl at $bin: build it (make release) or set BINFMTCTL_STATIC"
  exit 2
fi

if [ "$suite" = image ]; then
  image_dir=${image_dir:-$top/.build/image}
  for f in binfmtctl.oci.tar binfmtctl.docker.tar; do
    [ -s "$image_dir/$f" ] || { log "no $image_dir/$f: build it (make image) or set BINFMTCTL_IMAGE_DIR"; exit 2; }
  done
fi

# ---- can it run here at all ----------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "must run as root (it adds a subordinate id range for uid 65534 and drops to it)"
kver=$(uname -r)
kmaj=${kver%%.*} kmin=${kver#*.}; kmin=${kmin%%.*}
if [ "$kmaj" -lt 6 ] || { [ "$kmaj" = 6 ] && [ "$kmin" -lt 7 ]; }; then
  skip "kernel $kver has no per-user-namespace binfmt_misc (6.7+ needed)"
fi
need=(setpriv unshare newuidmap newgidmap timeout flock od
  qemu-aarch64-static qemu-s390x-static qemu-ppc64le-static qemu-arm-static)
for e in "${engines[@]}"; do
  case "$e" in
    podman) need+=(podman crun conmon) ;;
    docker) need+=(dockerd containerd runc rootlesskit-docker-proxy /usr/bin/docker) ;;
  esac
done
# The image suite's `podman kube play` needs catatonit (its pod's pause process), and the pod
# template is read with python3-yaml.
[ "$suite" = image ] && need+=(catatonit python3)
missing=()
for c in "${need[@]}"; do command -v "$c" > /dev/null || missing+=("$c"); done
if [ "$suite" = image ] && ! /usr/bin/python3 -c 'import yaml' 2> /dev/null; then missing+=(python3-yaml); fi
[ ${#missing[@]} = 0 ] || skip "missing ${missing[*]} (make test-$([ "$suite" = image ] && echo image || echo containers) installs them)"

# One run at a time: the subordinate-id lines and the stale-directory sweep below are shared.
exec 9> /run/lock/binfmtctl-containers.lock
flock -w 600 9 || skip "another systemtests/containers/run.sh held the lock for 10 minutes"

# ---- subordinate ids for the sandbox uid ---------------------------------------------------
# The engines need 65,536 ids (image files owned by other uids, devpts' gid 5, docker's
# --rootless). newuidmap only maps ranges /etc/subuid and /etc/subgid grant to the caller, so
# give uid 65534 one if it has none, and take exactly that line out again afterwards. The
# marker names the lines this harness added, so a run that was killed is tidied by the next.
marker=/var/tmp/binfmtctl-ct.subid-lines
remove_added_subids() {
  [ -f "$marker" ] || return 0
  local f line
  while IFS=' ' read -r f line; do
    [ -f "$f" ] || continue
    # Rewrite in place (same inode, owner and mode); only our exact line goes.
    grep -vxF -- "$line" "$f" > "$f.binfmtctl-tmp" || true
    cat "$f.binfmtctl-tmp" > "$f"
    rm -f "$f.binfmtctl-tmp"
  done < "$marker"
  rm -f "$marker"
}
has_subids() { awk -F: '($1 == "65534" || $1 == "nobody") && $3 >= 65536 { found = 1 } END { exit !found }' "$1" 2> /dev/null; }
add_subids() {
  local f start
  for f in /etc/subuid /etc/subgid; do
    has_subids "$f" && continue
    # Past every range already granted, and far above any real uid.
    start=$(awk -F: 'BEGIN { m = 1000000000 } $2 + $3 > m { m = $2 + $3 } END { print m }' "$f" 2> /dev/null || echo 1000000000)
    echo "65534:$start:65536" >> "$f"
    echo "$f 65534:$start:65536" >> "$marker"
  done
}

# ---- the run's directory -------------------------------------------------------------------
work="" sandbox_pid=""
cleanup() {
  local st=$?
  # timeout passes the TERM on to the sandbox's unshare, whose death kills the sandbox's pid 1
  # (--kill-child) and with it every daemon and container in that pid namespace.
  if [ -n "$sandbox_pid" ] && kill -0 "$sandbox_pid" 2> /dev/null; then
    log "stopping the sandbox (pid $sandbox_pid)"
    kill -TERM "$sandbox_pid" 2> /dev/null || true
    wait "$sandbox_pid" 2> /dev/null || true
  fi
  if [ -n "$work" ] && [ -d "$work" ]; then
    if [ "$keep" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
  fi
  remove_added_subids
  exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Leftovers of killed runs (their processes died with their pid namespace; the lock says no
# run is using them).
for d in /tmp/binfmtctl-ct.*; do
  [ -d "$d" ] && [ "$(stat -c %u "$d")" = 65534 ] && rm -rf "$d"
done
remove_added_subids
add_subids

work=$(mktemp -d /tmp/binfmtctl-ct.XXXXXX)
chmod 755 "$work"
# What the sandbox runs must be readable by uid 65534, wherever this checkout lives.
install -m 755 "$bin" "$work/binfmtctl"
install -m 755 "$top/scripts/binfmt-sandbox.sh" "$work/binfmt-sandbox.sh"
install -m 755 "$here/engine.sh" "$here/engine-lib.sh" "$here/image.sh" "$work/"
install -m 644 "$here/doctor.sh" "$work/doctor.sh"
if [ "$suite" = image ]; then
  # Hard links when /tmp is on the same file system (the archives are large), else copies.
  mkdir -p "$work/image" "$work/kube"
  for f in binfmtctl.oci.tar binfmtctl.docker.tar; do
    ln "$image_dir/$f" "$work/image/$f" 2> /dev/null || cp "$image_dir/$f" "$work/image/$f"
    chmod 644 "$work/image/$f"
  done
  # The DaemonSet's pod template as a Pod for `podman kube play`, with a 3 s interval; its
  # resource limits are left out because containers in the sandbox get no cgroups, and the
  # scheduling fields (nodeSelector, tolerations, priority) mean nothing to podman.
  echo 3 > "$work/kube/interval"
  /usr/bin/python3 - "$top/deploy/kubernetes/daemonset.yaml" "$work/kube/pod.yaml" <<'PY'
import sys, yaml
ds = yaml.safe_load(open(sys.argv[1]))
spec = ds["spec"]["template"]["spec"]
for k in ("nodeSelector", "tolerations", "priorityClassName"):
    spec.pop(k, None)
for c in spec["initContainers"] + spec["containers"]:
    c.pop("resources", None)
    if c["args"][0] == "watch":
        c["args"][c["args"].index("--interval") + 1] = "3"
# podman 4.3 applies the pod's restart policy to init containers too: with a DaemonSet's
# Always, install would run again and again and restore a flushed table itself; with Never
# only watch can.
spec["restartPolicy"] = "Never"
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "binfmtctl-watch"}, "spec": spec}
yaml.safe_dump(pod, open(sys.argv[2], "w"), sort_keys=False)
PY
fi
"$here/build-images.sh" "$work/images" > "$work/images.txt"
# The POCF entry: `binfmtctl install --flags POCF --credentials` refuses it inside the sandbox
# (the emulator is not owned by the sandbox's root), so the register string is generated
# here, where nothing is registered: generate only prints.
"$work/binfmtctl" generate aarch64 --flags POCF --credentials --format register | tr -d '\n' > "$work/pocf.register"
chown -R 65534:65534 "$work"

# The host's table, read-only, to compare after the run.
host_state() {
  if grep -q ' - binfmt_misc ' /proc/self/mountinfo; then
    for f in /proc/sys/fs/binfmt_misc/*; do [ -f "$f" ] && echo "$(basename "$f"): $(head -n 1 "$f")"; done
  else
    echo "not mounted"
  fi
}
host_before=$(host_state)

# ---- each engine in its own sandbox --------------------------------------------------------
[ "$suite" = image ] && stamp=$stamp-image
results=$here/results/$stamp
mkdir -p "$results"
: > "$results/checks.tsv"
: > "$results/messages.tsv"
passed=0 failed=0 skipped=0
declare -A engine_seconds engine_status
note() { # ENGINE CHECK PASS|FAIL DETAIL: a check made here rather than in engine.sh
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4//$'\t'/ }" >> "$results/checks.tsv"
  echo "$3 $1 $2: $4"
  if [ "$3" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

script=engine.sh limit=300
[ "$suite" = image ] && script=image.sh limit=600
for engine in "${engines[@]}"; do
  t0=$(date +%s.%N)
  st=0
  # Isolated: its own network (dockerd wants one) and pid namespace, so the daemons and
  # containers die with it even if a step hangs and timeout kills the sandbox.
  # In the background so that a signal to this script is handled at once (bash defers traps
  # while a foreground child runs); cleanup stops it.
  BINFMT_SANDBOX_SUBIDS=1 BINFMT_SANDBOX_ISOLATE=1 \
    timeout -k 10 "$limit" "$work/binfmt-sandbox.sh" /bin/bash "$work/$script" "$engine" "$work" &
  sandbox_pid=$!
  wait "$sandbox_pid" || st=$?
  sandbox_pid=""
  engine_seconds[$engine]=$(elapsed "$t0")
  engine_status[$engine]=$st
  out=$work/$engine
  for f in binfmtctl.log dockerd.log load.log podman-info.txt kube.log watch.log; do
    [ -f "$out/$f" ] && cp "$out/$f" "$results/$engine-$f"
  done
  if [ -f "$out/checks.tsv" ]; then
    while IFS=$'\t' read -r name status detail; do
      printf '%s\t%s\t%s\t%s\n' "$engine" "$name" "$status" "$detail" >> "$results/checks.tsv"
      if [ "$status" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    done < "$out/checks.tsv"
  fi
  [ -f "$out/messages.tsv" ] && cat "$out/messages.tsv" >> "$results/messages.tsv"
  case "$st" in
    0) ;;
    77)
      skipped=$((skipped + 1))
      log "SKIPPED $engine: $(cat "$out/skip" 2> /dev/null || echo "the sandbox could not start (see above)")"
      ;;
    124 | 137) note "$engine" engine-finished FAIL "timed out after $limit s" ;;
    *) note "$engine" engine-finished FAIL "$script exited $st" ;;
  esac
done

host_after=$(host_state)
if [ "$host_before" = "$host_after" ]; then
  note host binfmt_misc-untouched PASS "$(echo "$host_before" | wc -l) line(s), unchanged"
else
  note host binfmt_misc-untouched FAIL "before: $(echo "$host_before" | tr '\n' ';') after: $(echo "$host_after" | tr '\n' ';')"
fi

# ---- the corpus ------------------------------------------------------------------------------
# Columns: engine, engine_version, runtime_version, mode, image, exit, message. The message is
# the container's whole stderr (stdout first for setuid-with-C), \\ \t \n escaped.
corpus_header() {
  cat <<'EOF'
# Exact messages of real container engines for each binfmt_misc failure mode, captured by
# systemtests/containers/run.sh (--update-corpus rewrites the rows of the versions it ran).
# The message is everything the engine printed on stderr for that run (for setuid-with-C,
# the program's stdout first), with backslash, tab and newline escaped as \\, \t and \n.
# Modes: no-entry (nothing registered), entry-disabled, no-F-flag (entry without F: the
# interpreter is looked up inside the container), missing-loader (dynamic arm64 program, no
# /lib/ld-linux-aarch64.so.1 in the image), setuid-without-C (setuid-root busybox `su` run
# as uid 1000 under a PF entry), setuid-with-C (the same under POCF: it works).
EOF
  printf 'engine\tengine_version\truntime_version\tmode\timage\texit\tmessage\n'
}
# The one part of a message that changes from run to run: podman's JSON time stamp.
normalize() { sed -E 's/"time":"[^"]*"/"time":"…"/g'; }

ran_versions=$(cut -f1-3 "$results/messages.tsv" | sort -u)
if [ "$update" = 1 ] && [ -s "$results/messages.tsv" ]; then
  mkdir -p "$(dirname "$corpus")"
  {
    corpus_header
    # Rows of other versions stay; this run's versions are replaced.
    if [ -f "$corpus" ]; then
      grep -v '^#' "$corpus" | tail -n +2 | while IFS= read -r row; do
        printf '%s\n' "$ran_versions" | grep -qxF -- "$(printf '%s' "$row" | cut -f1-3)" || printf '%s\n' "$row"
      done
    fi
    cat "$results/messages.tsv"
  } > "$results/corpus.new"
  mv "$results/corpus.new" "$corpus"
  log "wrote $(grep -vc '^#' "$corpus") lines to ${corpus#"$top"/} (header included)"
fi
while IFS=$'\t' read -r eng ever rver mode image rc message; do
  key=$(printf '%s\t%s\t%s\t%s\t%s' "$eng" "$ever" "$rver" "$mode" "$image")
  want=$( { [ -f "$corpus" ] && awk -v k="$key" 'index($0, k "\t") == 1 { print; exit }' "$corpus"; } || true)
  if [ -z "$want" ]; then
    note "$eng" "corpus-$mode-$image" FAIL "no row for $eng $ever ($rver) in ${corpus#"$top"/}: run with --update-corpus"
  elif [ "$(printf '%s' "$want" | cut -f6-7 | normalize)" = "$(printf '%s\t%s' "$rc" "$message" | normalize)" ]; then
    note "$eng" "corpus-$mode-$image" PASS "same message as ${corpus#"$top"/}"
  else
    note "$eng" "corpus-$mode-$image" FAIL "exit and message differ from the corpus: was $(printf '%s' "$want" | cut -f6-7), now $rc $message"
  fi
done < "$results/messages.tsv"

# ---- summary -----------------------------------------------------------------------------------
seconds=$(elapsed "$t_start")
status=0
[ "$skipped" = 0 ] || status=77
[ "$failed" = 0 ] || status=1
{
  echo "started=$stamp"
  echo "suite=$suite"
  echo "seconds=$seconds"
  echo "exit=$status"
  echo "passed=$passed"
  echo "failed=$failed"
  echo "skipped_engines=$skipped"
  echo "kernel=$kver"
  echo "binfmtctl=$("$work/binfmtctl" --version 2> /dev/null || echo unknown)"
  for e in "${engines[@]}"; do
    echo "$e.seconds=${engine_seconds[$e]}"
    echo "$e.exit=${engine_status[$e]}"
    echo "$e.versions=$(grep "^$e	" "$results/messages.tsv" | head -n 1 | cut -f2-3 | tr '\t' ' ')"
  done
} > "$results/summary.env"
if [ "$suite" = image ]; then ln -sfn "$stamp" "$here/results/latest-image"; else ln -sfn "$stamp" "$here/results/latest"; fi
# Keep the last ten runs.
ls -1d "$here"/results/20*/ 2> /dev/null | head -n -10 | xargs -r rm -rf
log "$(printf '%.1f' "$seconds") s ($(for e in "${engines[@]}"; do printf '%s %.1f s ' "$e" "${engine_seconds[$e]}"; done)); results: ${results#"$top"/}"
if [ "$skipped" != 0 ]; then
  log "SKIPPED: $skipped engine(s) could not start here (reasons above)"
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
exit "$status"
