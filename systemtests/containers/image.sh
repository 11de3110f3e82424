#!/usr/bin/env bash
# binfmtctl's own image (make image) in one engine, run by run.sh --suite image INSIDE
# scripts/binfmt-sandbox.sh, like engine.sh: the sandbox's private binfmt_misc mount stands
# for the host's, and every registration lands in that private instance.
#
#   image.sh podman|docker WORKDIR
#
# WORKDIR holds images/*.tar (the foreign busybox images), image/binfmtctl.{oci,docker}.tar,
# binfmtctl (to read the table from outside the containers) and, for podman, kube/pod.yaml
# (deploy/kubernetes/'s pod template as a Pod). Checks, in order:
#   install --all from the image: exit 0, every entry PF, foreign containers run afterwards;
#   the image's status, probe, uninstall --all, and --install all (tonistiigi/binfmt style);
#   install with flags without F is refused; the only-mount case: with the sandbox's mount
#   taken away, install as the container's init refuses (exit 4, the fix printed) and
#   nothing is left, --ephemeral registers and the entries are gone once the container
#   exits, status reports only-mount; the host's mount bound at /host/binfmt_misc with
#   BINFMTCTL_BINFMT_MISC works (and docker's runc refuses a bind inside /proc); (podman) kube play of the pod template: foreign
#   containers run, and after the table is flushed, watch restores it within its interval.
# Writes WORKDIR/ENGINE/checks.tsv. Exit: 0 the checks ran; 77 the engine cannot start here.
set -euo pipefail

engine=${1:?engine}
work=${2:?workdir}
# shellcheck source=systemtests/containers/engine-lib.sh
. "$(dirname "$0")/engine-lib.sh"

start
for tar in "$work"/images/bb-arm64.tar "$work"/images/bb-s390x.tar "$work"/images/bb-armv7.tar; do
  load "$tar" || skip "$engine could not load $(basename "$tar"): $(tail -n 3 "$out/load.log" | tr '\n' ' ')"
done
# podman loads the OCI archive, docker 20.10 only docker-archive.
archive=$work/image/binfmtctl.oci.tar
[ "$engine" = docker ] && archive=$work/image/binfmtctl.docker.tar
t0=$(date +%s%N)
load "$archive" || skip "$engine could not load $(basename "$archive"): $(tail -n 3 "$out/load.log" | tr '\n' ' ')"
check image-loads 1 "$(basename "$archive") in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
image=localhost/binfmtctl:latest

# The image, privileged, with a time limit; rc/stdout/stderr as contain sets them.
bctl() {
  echo "+ $image $*" >> "$out/binfmtctl.log"
  contain --privileged "$image" "$@"
  { echo "$stdout"; echo "$stderr"; echo "(exit $rc)"; } >> "$out/binfmtctl.log"
}
qemu_entries() { ls "$bm" | grep -c '^qemu-' || true; }
flags_of() { sed -n 's/^flags: //p' "$bm/$1" 2> /dev/null; }
runs() { # IMAGE WANT: the foreign busybox prints its uname -m
  contain "$(img "$1")"
  [ "$rc" = 0 ] && [ "$stdout" = "$2" ]
}

# ---- 1. install --all from the image ------------------------------------------------------
ok=0; runs bb-arm64 aarch64 || { has "$(lc "$stderr")" "exec format error" && ok=1; }
check before-install-fails $ok "rc=$rc $(escape "$stderr")"
bctl install --all
installed=$(printf '%s\n' "$stdout" | grep -c ': installed qemu-' || true)
ok=0; [ "$rc" = 0 ] && [ "$installed" -gt 30 ] && [ "$(qemu_entries)" = "$installed" ] && ok=1
check install-all $ok "rc=$rc, $installed installed, $(qemu_entries) qemu entries live after the container exited; stderr: $(escape "$stderr")"
notpf=$(for f in "$bm"/qemu-*; do [ "$(flags_of "$(basename "$f")")" = PF ] || basename "$f"; done)
ok=0; [ -z "$notpf" ] && [ "$installed" -gt 0 ] && ok=1
check install-all-flags-PF $ok "entries without exactly PF: ${notpf:-none}"
for pair in bb-arm64:aarch64 bb-s390x:s390x bb-armv7:armv7l; do
  ok=0; runs "${pair%%:*}" "${pair#*:}" && ok=1
  check "after-install-${pair%%:*}-runs" $ok "rc=$rc stdout=$stdout $(escape "$stderr")"
done

# ---- 2. the image's status, probe, uninstall --all, --install all ---------------------------
bctl status --json
codes=$(printf '%s' "$stdout" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(sorted({p["code"] for p in d["problems"]})), len(d["entries"]))' 2>&1 || true)
# Nothing is persisted in a container, so lost-at-reboot is the one expected problem.
ok=0; [ "$rc" = 1 ] && [ "$codes" = "lost-at-reboot $installed" ] && ok=1
check status $ok "rc=$rc problem codes and entry count: $codes"
bctl probe
works=$(printf '%s\n' "$stdout" | grep -c ' works ' || true)
ok=0; [ "$rc" = 0 ] && [ "$works" = "$installed" ] && ok=1
check probe $ok "rc=$rc, $works of $installed work; $(escape "$(printf '%s\n' "$stdout" | grep -v ' works ' | head -n 3)")"
bctl uninstall --all
ok=0; [ "$rc" = 0 ] && [ "$(qemu_entries)" = 0 ] && ok=1
check uninstall-all $ok "rc=$rc, $(qemu_entries) qemu entries left; $(escape "$stderr")"
ok=0; runs bb-arm64 aarch64 || { has "$(lc "$stderr")" "exec format error" && ok=1; }
check after-uninstall-fails $ok "rc=$rc $(escape "$stderr")"
bctl --install arm64,s390x
ok=0; [ "$rc" = 0 ] && [ "$(qemu_entries)" = 2 ] && [ "$(flags_of qemu-aarch64)" = PF ] && runs bb-arm64 aarch64 && ok=1
check tonistiigi-install-list $ok "rc=$rc, $(qemu_entries) qemu entries: $(ls "$bm" | grep '^qemu-' | tr '\n' ' ')"
bctl --install all
ok=0; [ "$rc" = 0 ] && [ "$(qemu_entries)" = "$installed" ] && ok=1
check tonistiigi-install-all $ok "rc=$rc, $(qemu_entries) qemu entries"

# ---- 3. no F from a container -------------------------------------------------------------
bctl install aarch64 --flags P --replace
ok=0; [ "$rc" = 2 ] && has "$stderr" "as a container's init binfmtctl registers every entry with F" && [ "$(flags_of qemu-aarch64)" = PF ] && ok=1
check no-F-refused $ok "rc=$rc flags now $(flags_of qemu-aarch64); $(escape "$stderr")"
bctl uninstall --all > /dev/null

# ---- 4. the container's mount is the instance's only one -------------------------------------
# Take the sandbox's mount away (the "host" without binfmt_misc mounted): the instance dies
# with it, so a container that mounts binfmt_misc itself makes a new one that dies with it.
umount "$bm"
bctl install --all
ok=0
[ "$rc" = 4 ] && has "$stderr" "nothing registered" && has "$stderr" "sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc" && ok=1
check only-mount-refused $ok "rc=$rc $(escape "$stderr")"
bctl install aarch64 --ephemeral
said=$stdout
mount -t binfmt_misc binfmt_misc "$bm"
left=$(ls -A "$bm" | tr '\n' ' ')
ok=0; [ "$rc" = 0 ] && has "$said" "installed qemu-aarch64" && [ "$left" = "register status " ] && ok=1
check only-mount-ephemeral-vanishes $ok "rc=$rc ($(escape "$said")); after the container exited the instance holds: $left"
umount "$bm"
bctl status
ok=0; [ "$rc" = 1 ] && has "$stdout" "no mount outside this container keeps the instance" && ok=1
check only-mount-status $ok "rc=$rc $(escape "$(printf '%s\n' "$stdout" | tail -n 2)")"
# The sandbox's own instance again (what the sandbox script checked at the start).
mount -t binfmt_misc binfmt_misc "$bm"
[ "$(ls -A "$bm" | tr '\n' ' ')" = "register status " ] || skip "$bm did not come back as an empty private instance"

# ---- 4b. the host's mount bound in (the recipe README gives) ---------------------------------
bctl uninstall --all > /dev/null
contain --privileged -v "$bm:/host/binfmt_misc" -e BINFMTCTL_BINFMT_MISC=/host/binfmt_misc "$image" install aarch64
ok=0; [ "$rc" = 0 ] && [ "$(flags_of qemu-aarch64)" = PF ] && ! has "$stderr" "warning" && ok=1
check host-mount-bound $ok "rc=$rc, qemu-aarch64 flags $(flags_of qemu-aarch64); $(escape "$stderr")"
# Bound at its own path inside /proc: runc refuses mounts there (crun does not), which is
# why the recipe and deploy/kubernetes/ bind it elsewhere.
contain --privileged -v "$bm:$bm" "$image" status
echo "bind at $bm: rc=$rc $(escape "$stderr")" >> "$out/binfmtctl.log"
if [ "$engine" = docker ]; then
  ok=0; [ "$rc" != 0 ] && has "$stderr" "error mounting \"$bm\"" && ok=1
  check bind-inside-proc-refused $ok "rc=$rc $(escape "$stderr" | cut -c1-200)"
fi
bctl uninstall --all > /dev/null

# ---- 5. (podman) the Kubernetes pod template, played ---------------------------------------
if [ "$engine" = podman ] && [ -f "$work/kube/pod.yaml" ]; then
  interval=$(cat "$work/kube/interval")
  kube_rc=0
  # Containers in the sandbox get no cgroups (engine-lib.sh says why), and a pod always
  # wants one unless podman runs rootless on cgroup v1, where it makes none. The sandbox is
  # a user namespace podman did not set up itself: say so with the variables its own
  # re-exec into one sets (for every podman call from here on: the runtime's state lives
  # elsewhere in rootless mode).
  export _CONTAINERS_USERNS_CONFIGURED=done _CONTAINERS_ROOTLESS_UID=65534
  timeout 120 "${pm[@]}" kube play --build=false --network none "$work/kube/pod.yaml" > "$out/kube.log" 2>&1 ||
    kube_rc=$?
  # The init container installs, then the watch container starts; wait for its first line.
  for _ in $(seq 100); do
    "${pm[@]}" logs binfmtctl-watch-watch 2> /dev/null | grep -q 'watching' && break
    sleep 0.2
  done
  ok=0; [ "$kube_rc" = 0 ] && [ "$(qemu_entries)" -gt 30 ] && ok=1
  check kube-play $ok "rc=$kube_rc, $(qemu_entries) qemu entries; $(escape "$(tail -n 3 "$out/kube.log")")"
  ok=0; runs bb-arm64 aarch64 && ok=1
  check kube-foreign-runs $ok "rc=$rc stdout=$stdout $(escape "$stderr")"
  before=$(qemu_entries)
  echo -1 > "$bm/status"
  t0=$(date +%s%N)
  ok=0
  for _ in $(seq $((interval * 10 + 50))); do
    [ "$(qemu_entries)" = "$before" ] && { ok=1; break; }
    sleep 0.1
  done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  [ "$ms" -le $((interval * 1000 + 2000)) ] && [ "$before" -gt 30 ] || ok=0
  check kube-watch-restores $ok "$(qemu_entries) of $before entries back after $ms ms (interval $interval s)"
  "${pm[@]}" logs binfmtctl-watch-watch > "$out/watch.log" 2>&1 || true
  ok=0; grep -q 'installed qemu-aarch64' "$out/watch.log" && ok=1
  check kube-watch-logs $ok "$(escape "$(tail -n 2 "$out/watch.log")")"
  t0=$(date +%s%N)
  timeout 60 "${pm[@]}" pod stop -t 10 binfmtctl-watch > /dev/null 2>&1 || true
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  st=$("${pm[@]}" inspect binfmtctl-watch-watch --format '{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}' 2>&1 || true)
  "${pm[@]}" logs binfmtctl-watch-watch > "$out/watch.log" 2>&1 || true
  ok=0; [ "$st" = "exited 0 " ] && [ "$ms" -lt 5000 ] && grep -q 'SIGTERM: exiting' "$out/watch.log" && ok=1
  check kube-watch-sigterm $ok "watch: $st, pod stopped in $ms ms; last line: $(tail -n 1 "$out/watch.log")"
  "${pm[@]}" pod rm -f binfmtctl-watch > /dev/null 2>&1 || true
fi

echo "$engine image: $fails failed" >&2
exit 0
