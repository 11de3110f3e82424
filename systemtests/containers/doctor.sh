# shellcheck shell=bash
# `binfmtctl doctor` against real container engines: sourced by engine.sh at its end, inside
# the same private binfmt_misc sandbox, with the engine started and the images loaded (it uses
# engine.sh's run/contain/check/ctl/img/escape). For each failure mode (no entry, entry
# disabled, entry without F, dynamic program without its loader, setuid program and no C):
# the engine's real message, then `doctor --image`, `doctor --message '<that message>'` and
# `doctor --platform` each checked for the finding code and exit status; then the printed fix
# is run and the container must work, and `doctor --image` must say so.
#
# Results: one check line per assertion in checks.tsv (as engine.sh's), doctor's outputs in
# $out/doctor/.

dd=$out/doctor
mkdir -p "$dd"
# The fixes doctor prints include `binfmtctl persist`: give it private config directories (the
# sandbox's mount namespace), so they run here as they would on the host.
etc_ok=1
for d in /etc/binfmt.d /usr/lib/binfmt.d /etc/systemd/system; do
  mkdir -p "$d" 2> /dev/null || true
  mount -t tmpfs doctor-etc "$d" 2>> "$dd/mount.err" || etc_ok=0
done
check doctor-private-config-dirs $etc_ok "tmpfs on /etc/binfmt.d /usr/lib/binfmt.d /etc/systemd/system $(head -n 1 "$dd/mount.err" 2> /dev/null)"

# ---- the engine's plain command line, as a user would type it ---------------------------------
# binfmtctl runs `podman` / `docker` from PATH with no options: give them this sandbox's
# storage and daemon through their configuration files and environment, as a user's own
# configuration would.
case "$engine" in
podman)
  cat > "$out/storage.conf" <<EOF
[storage]
driver = "vfs"
runroot = "$out/rr"
graphroot = "$out/storage/root"
EOF
  cat > "$out/containers.conf" <<EOF
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "crun"
tmp_dir = "$out/tmp"
EOF
  export CONTAINERS_STORAGE_CONF=$out/storage.conf CONTAINERS_CONF=$out/containers.conf
  ;;
docker)
  # Debian's client (DOCKER_HOST is already this sandbox's daemon).
  export PATH=/usr/bin:$PATH
  ;;
esac
plain_ok=0
"$engine" image inspect "$(img bb-arm64)" > /dev/null 2>> "$dd/plain.err" && plain_ok=1
check doctor-plain-engine-cli $plain_ok "$engine image inspect without options finds the loaded images"

# ---- helpers -----------------------------------------------------------------------------------
# doc TAG ARGS...: doctor --json and text; sets drc, dcodes (error codes), dall (every code),
# dfix (the text's Fix: lines, ;-joined).
doc() {
  local tag=$1
  shift
  drc=0
  "$bfc" doctor --json "$@" > "$dd/$tag.json" 2> "$dd/$tag.err" || drc=$?
  "$bfc" doctor "$@" > "$dd/$tag.txt" 2>&1 || true
  dcodes=$(python3 -c 'import json,sys; print(" ".join(f["code"] for f in json.load(sys.stdin)["findings"] if f["severity"]=="error"))' < "$dd/$tag.json" 2> /dev/null || echo "no-json")
  dall=$(python3 -c 'import json,sys; print(" ".join(f["code"] for f in json.load(sys.stdin)["findings"]))' < "$dd/$tag.json" 2> /dev/null || echo "no-json")
  dfix=$(sed -n '/^Fix:/,$p' "$dd/$tag.txt" | tail -n +2 | sed 's/^  //' | tr '\n' ';')
}
# expect TAG RC CODE: doctor exited RC and CODE is among its findings (of any severity;
# RC says whether it was an error).
expect() {
  local ok=0
  [ "$drc" = "$2" ] && [[ " $dall " == *" $3 "* ]] && ok=1
  check "doctor-$1" $ok "rc=$drc (want $2) codes: $dall (want $3); errors: $dcodes; fix: $dfix"
}
# The binfmt_misc table as text: doctor must not change it.
table() { for f in "$bm"/*; do [ "${f##*/}" = register ] || echo "${f##*/}: $(tr '\n' ' ' < "$f")"; done; }
# runfix TAG: runs the Fix: lines of TAG's text output (sudo dropped: the sandbox is root in
# its namespace; binfmtctl is this run's binary).
runfix() {
  local line
  sed -n '/^Fix:/,$p' "$dd/$1.txt" | tail -n +2 | sed 's/^  //; s/^sudo //; s/| sudo /| /' > "$dd/$1.fix"
  fixfailed=""
  while IFS= read -r line; do
    case "$line" in binfmtctl*) line="$bfc${line#binfmtctl}" ;; esac
    sh -c "$line" >> "$dd/$1.fix.log" 2>&1 < /dev/null || fixfailed+="$line; "
  done < "$dd/$1.fix"
}
# capture RUN-ARGS... IMAGE: runs the container (contain), keeps its message in $msg.
capture() {
  contain "$@"
  msg=$stderr
}

arm=$(img bb-arm64)
# 1. No entry. -----------------------------------------------------------------------------------
ctl uninstall qemu-aarch64 > /dev/null || true
capture "$arm"
before=$(table)
doc noentry-image --image "$arm" --engine "$engine"
expect no-entry-image 1 no-handler
doc noentry-message --message "$msg"
expect no-entry-message 1 no-handler
doc noentry-platform --platform linux/arm64/v8
expect no-entry-platform 1 no-handler
ok=0; [ "$(table)" = "$before" ] && ok=1
check doctor-changes-nothing $ok "binfmt_misc table before and after three doctor runs: $(table | wc -l) line(s)"
runfix noentry-image
contain "$arm"
ok=0; [ -z "$fixfailed" ] && [ "$rc" = 0 ] && [ "$stdout" = aarch64 ] && ok=1
check doctor-no-entry-fixed $ok "fix: $(tr '\n' ';' < "$dd/noentry-image.fix") failed: ${fixfailed:-none}; container rc=$rc stdout=$stdout"
doc noentry-after --image "$arm" --engine "$engine"
expect no-entry-after 0 handler

# 2. Entry disabled. ----------------------------------------------------------------------------
ctl disable qemu-aarch64 || true
capture "$arm"
# The engine found by itself (podman first; docker's sandbox names it: podman would look
# for its storage outside the sandbox).
if [ "$engine" = podman ]; then doc disabled-image --image "$arm"; else doc disabled-image --image "$arm" --engine docker; fi
expect disabled-image 1 disabled
doc disabled-message --message "$msg"
expect disabled-message 1 disabled
doc disabled-platform --platform linux/arm64
expect disabled-platform 1 disabled
runfix disabled-image
contain "$arm"
ok=0; [ -z "$fixfailed" ] && [ "$rc" = 0 ] && [ "$stdout" = aarch64 ] && ok=1
check doctor-disabled-fixed $ok "fix: $(tr '\n' ';' < "$dd/disabled-image.fix") failed: ${fixfailed:-none}; container rc=$rc stdout=$stdout"

# 3. Entry without F: the emulator is looked for inside the container. ---------------------------
ctl install aarch64 --flags P --replace || true
capture "$arm"
doc noF-image --image "$arm" --engine "$engine"
expect no-F-image 1 interpreter-missing-in-root
doc noF-message --message "$msg"
expect no-F-message 1 no-F-flag
doc noF-platform --platform linux/arm64/v8
expect no-F-platform 1 no-F-flag
runfix noF-image
contain "$arm"
ok=0; [ -z "$fixfailed" ] && [ "$rc" = 0 ] && [ "$stdout" = aarch64 ] && ok=1
check doctor-no-F-fixed $ok "fix: $(tr '\n' ';' < "$dd/noF-image.fix") failed: ${fixfailed:-none}; container rc=$rc stdout=$stdout"

# 4. A dynamic program without its loader in the image. ------------------------------------------
capture "$(img hello-noloader)"
doc loader-image --image "$(img hello-noloader)" --engine "$engine"
expect missing-loader-image 1 loader-missing
doc loader-message --message "$msg"
expect missing-loader-message 1 loader-missing
# The platform is not the cause: binfmt_misc runs arm64 containers.
doc loader-platform --platform linux/arm64/v8
expect missing-loader-platform-fine 0 handler
# No command fixes an image; the image that has the loader runs, and doctor says so.
doc loader-present --image "$(img hello-loader)" --engine "$engine"
expect loader-present 0 loader
contain "$(img hello-loader)"
ok=0; [ "$rc" = 0 ] && [ "$stdout" = "Hello, world!" ] && ok=1
check doctor-loader-present-runs $ok "rc=$rc stdout=$stdout"

# 5. A setuid program and an entry without C. -----------------------------------------------------
suid=$(img bb-arm64-suid)
capture --user 1000:1000 "$suid"
doc suid-image --image "$suid" --engine "$engine"
# The program runs, without its privileges: a warning, exit 0.
expect setuid-without-C-image 0 setuid-without-C
doc suid-message --message "$msg"
expect setuid-without-C-message 1 setuid-without-C
doc suid-message-image --image "$suid" --message "$msg"
expect setuid-without-C-image-message 1 setuid-without-C
# A platform has no setuid program: nothing to name without the message.
doc suid-platform --platform linux/arm64/v8
expect setuid-platform-fine 0 handler
# The printed fix is `binfmtctl install --replace --flags POCF --credentials aarch64`, which
# install refuses in this sandbox (the emulator belongs to the overflow uid here, not to
# root: engine.sh says why); its register string, generated on the host, is what it writes.
ok=0
[[ "$(sed -n '/^Fix:/,$p' "$dd/suid-message.txt")" == *"binfmtctl install --replace --flags POCF --credentials aarch64"* ]] && ok=1
check doctor-setuid-fix-printed $ok "$(sed -n '/^Fix:/,$p' "$dd/suid-message.txt" | tr '\n' ';')"
ctl uninstall qemu-aarch64 || true
ctl _register-raw "$(od -An -v -tx1 < "$work/pocf.register" | tr -d ' \n')" || true
contain --user 1000:1000 "$suid"
ok=0; [ "$rc" = 0 ] && [ "$stdout" = 0 ] && ok=1
check doctor-setuid-fixed $ok "rc=$rc stdout=$stdout"
doc suid-after --image "$suid" --engine "$engine"
ok=0; [ "$drc" = 0 ] && [[ " $dall " != *" setuid-without-C "* ]] && ok=1
check doctor-setuid-after $ok "rc=$drc codes: $dall"

# 6. An unknown image is a usage error; nothing is left mounted or created. ----------------------
doc unknown --image localhost/binfmtctl-no-such-image:1 --engine "$engine"
ok=0; [ "$drc" = 2 ] && grep -q 'no local image' "$dd/unknown.err" && ok=1
check doctor-unknown-image $ok "rc=$drc $(head -n 1 "$dd/unknown.err")"
case "$engine" in
podman) left=$( (podman image mount 2> /dev/null || true) | wc -l) ;;
docker) left=$( (docker ps -a -q 2> /dev/null || true) | wc -l) ;;
esac
ok=0; [ "$left" = 0 ] && [ -z "$(ls -d "$TMPDIR"/binfmtctl-image.* 2> /dev/null)" ] && ok=1
check doctor-cleaned-up $ok "$left image mount(s)/container(s) left; temporary dirs: $(ls -d "$TMPDIR"/binfmtctl-image.* 2> /dev/null | wc -l)"
