# Guest-side helpers for stage scripts (POSIX sh). run.sh puts this file on the payload
# disk next to stage.sh; a stage sources it with  . "$REBOOT_TEST_PAYLOAD/lib.sh".
# Everything goes to stdout, which the runner baked into the image sends to /dev/ttyS0.
#
# Console protocol, parsed by run.sh (every line starts with its marker):
#   BINFMTCTL-TEST boot=N check=NAME result=ok|fail detail=TEXT   one per check, one line
#   BINFMTCTL-TEST boot=N event=NAME uptime=SECONDS ...            timing points
#   BINFMTCTL-INFO boot=N KEY: TEXT                                  context, not judged
#   BINFMTCTL-BEGIN boot=N name=NAME / ...raw lines... / BINFMTCTL-END boot=N name=NAME rc=RC
#   BINFMTCTL-TEST done                                              the last stage finished

BOOT=${REBOOT_TEST_BOOT:?REBOOT_TEST_BOOT is set by the runner}
PAYLOAD=${REBOOT_TEST_PAYLOAD:?REBOOT_TEST_PAYLOAD is set by the runner}

# one_line TEXT: newlines become " | ", runs of blanks one space, at most 400 characters.
one_line() {
  printf '%s' "$1" | tr '\r\t' '  ' | awk 'BEGIN{ORS=""} {gsub(/  +/, " "); if (NR > 1) print " | "; print}' | cut -c1-400
}

# check NAME ok|fail DETAIL
check() {
  printf 'BINFMTCTL-TEST boot=%s check=%s result=%s detail=%s\n' "$BOOT" "$1" "$2" "$(one_line "${3:-}")"
}

# check_if NAME DETAIL COMMAND...: ok when COMMAND succeeds.
check_if() {
  _name=$1 _detail=$2; shift 2
  if "$@"; then check "$_name" ok "$_detail"; else check "$_name" fail "$_detail"; fi
}

# info KEY TEXT (multi-line TEXT: one INFO line per line)
info() {
  _key=$1; shift
  printf '%s\n' "$*" | while IFS= read -r _l; do
    printf 'BINFMTCTL-INFO boot=%s %s: %s\n' "$BOOT" "$_key" "$_l"
  done
}

event() {
  printf 'BINFMTCTL-TEST boot=%s event=%s uptime=%s\n' "$BOOT" "$1" "$(cut -d' ' -f1 /proc/uptime)"
}

# block NAME COMMAND...: runs COMMAND with its stdout between markers (so JSON stays JSON)
# and its stderr after them as INFO lines; returns its exit code. run.sh saves each block
# as results/<run>/boot<N>-<NAME> (NAME without a dot gets ".txt": "status.json", "journal").
block() {
  _bname=$1; shift
  printf 'BINFMTCTL-BEGIN boot=%s name=%s\n' "$BOOT" "$_bname"
  "$@" 2>/run/reboot-test/block.err
  _rc=$?
  printf '\nBINFMTCTL-END boot=%s name=%s rc=%s\n' "$BOOT" "$_bname" "$_rc"
  [ -s /run/reboot-test/block.err ] && info "$_bname-stderr" "$(cat /run/reboot-test/block.err)"
  return $_rc
}

# run_exec PATH ARGS...: execve PATH through bash and capture output and status in
# $run_out / $run_rc. bash, unlike dash and glibc's execvp, does not fall back to running
# an ELF file it cannot exec as a shell script, so a missing handler shows as exit 126
# "cannot execute binary file: Exec format error".
run_exec() {
  run_out=$(bash -c 'exec "$0" "$@"' "$@" 2>&1)
  run_rc=$?
}

# finish reboot|poweroff: the last thing a stage does in a boot.
finish() {
  event "shutdown-$1"
  sync
  systemctl "$1"
  exit 0
}

# done_all: the very last stage says so before it powers off.
done_all() {
  printf 'BINFMTCTL-TEST done\n'
}

# --- the architectures under test --------------------------------------------------------
# binfmtctl name, binfmt_misc entry qemu-<name>, fixture busybox, what `uname -m` says.
# shellcheck disable=SC2034  # used by the stages that source this file
TEST_ARCHS="aarch64 arm s390x ppc64le"
arch_busybox() {
  case $1 in aarch64) echo busybox-arm64 ;; arm) echo busybox-armhf ;;
             s390x) echo busybox-s390x ;; ppc64le) echo busybox-ppc64el ;; esac
}
arch_uname() {
  case $1 in aarch64) echo aarch64 ;; arm) echo armv7l ;; s390x) echo s390x ;; ppc64le) echo ppc64le ;; esac
}
BINFMT=/proc/sys/fs/binfmt_misc

# entry_summary ARCH: "enabled interpreter=... flags=..." or "absent"
entry_summary() {
  _e=$BINFMT/qemu-$1
  [ -e "$_e" ] || { echo absent; return; }
  awk 'NR == 1 {s = $0} $1 == "interpreter" {s = s " interpreter=" $2} $1 == "flags:" {s = s " flags=" $2} END {print s}' "$_e"
}

# check_entry CHECK ARCH: the entry exists and is enabled.
check_entry() {
  _s=$(entry_summary "$2")
  case $_s in enabled*) check "$1" ok "qemu-$2: $_s" ;; *) check "$1" fail "qemu-$2: $_s" ;; esac
}

# check_entry_gone CHECK ARCH
check_entry_gone() {
  _s=$(entry_summary "$2")
  if [ "$_s" = absent ]; then check "$1" ok "qemu-$2 absent"; else check "$1" fail "qemu-$2 still registered: $_s"; fi
}

# check_runs CHECK ARCH: the busybox runs and `busybox uname -m` prints the right machine.
check_runs() {
  _want=$(arch_uname "$2")
  run_exec "$PAYLOAD/$(arch_busybox "$2")" uname -m
  if [ "$run_rc" = 0 ] && [ "$run_out" = "$_want" ]; then
    check "$1" ok "$(arch_busybox "$2") uname -m: $run_out"
  else
    check "$1" fail "$(arch_busybox "$2") uname -m: exit $run_rc, output [$run_out], want $_want; entry: $(entry_summary "$2")"
  fi
}

# check_execfail CHECK ARCH: the busybox cannot be executed (no handler: Exec format error).
check_execfail() {
  run_exec "$PAYLOAD/$(arch_busybox "$2")" uname -m
  case "$run_rc:$run_out" in
    126:*"Exec format error"*) check "$1" ok "exit 126: Exec format error" ;;
    *) check "$1" fail "exit $run_rc, output [$run_out]; entry: $(entry_summary "$2")" ;;
  esac
}

live_entries() { ls "$BINFMT" 2>&1 | tr '\n' ' '; }
