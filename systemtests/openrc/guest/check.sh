#!/bin/sh
# Guest side of the OpenRC boot test; run by the two test services that run.sh installs.
#   check.sh gate     boot runlevel, before binfmtctl: proves /proc/sys/fs/binfmt_misc is
#                     (or will be) a private, fresh instance. binfmtctl needs this service
#                     (rc_binfmtctl_need), so when it fails nothing registers.
#   check.sh verify   default runlevel, after binfmtctl: checks what binfmtctl did.
# Every result is one console line `BINFMTCTL-OPENRC check=NAME result=ok|fail detail=...`,
# also appended to /var/log/binfmtctl-test.log. The host's records (device number of its
# /proc/sys/fs/binfmt_misc, its user namespace, what to expect) are in /etc/binfmtctl-test/host.env.
set -u
bm=/proc/sys/fs/binfmt_misc
log=/var/log/binfmtctl-test.log
state=/run/binfmtctl-test
fixtures=/opt/binfmtctl-test
failures=0

result() {
  _name=$1 _res=$2
  shift 2
  _line="BINFMTCTL-OPENRC check=$_name result=$_res detail=$(printf '%s' "$*" | tr '\n\r' '  ')"
  echo "$_line"
  echo "$_line" >> "$log"
  [ "$_res" = ok ] || failures=$((failures + 1))
}

# The fstype and major:minor of the topmost mount at $bm ("" when nothing is mounted).
top_mount() {
  awk -v mp="$bm" '
    { for (i = 7; i <= NF; i++) if ($i == "-") break
      if ($5 == mp) { fs = $(i + 1); dev = $3 } }
    END { if (fs != "") print fs, dev }' /proc/self/mountinfo
}

# A non-initial user namespace: not the identity map, and not the host's namespace.
check_userns() {
  _map=$(awk '{ printf "%s %s %s;", $1, $2, $3 }' /proc/self/uid_map)
  _ns=$(readlink /proc/self/ns/user)
  if [ "$_map" = "0 0 4294967295;" ]; then
    result "$1" fail "uid_map is the initial namespace's ($_map)"; return 1
  fi
  if [ "$_ns" = "$HOST_USERNS" ]; then
    result "$1" fail "same user namespace as the host ($_ns)"; return 1
  fi
  result "$1" ok "uid_map=$_map ns=$_ns host_ns=$HOST_USERNS"
}

# The mount at $bm is binfmt_misc, stat agrees with mountinfo, and it is not the host's.
check_mount() {
  # shellcheck disable=SC2046  # two words: fstype and major:minor
  set -- "$1" $(top_mount)
  if [ "${2:-}" != binfmt_misc ]; then
    result "$1" fail "top mount at $bm is '${2:-nothing}'"; return 1
  fi
  _dev=$(stat -c %d "$bm") _mm=$(stat -c %Hd:%Ld "$bm")
  if [ "$_mm" != "$3" ]; then
    result "$1" fail "stat says $_mm, mountinfo says $3"; return 1
  fi
  if [ "$_dev" = "$HOST_BINFMT_DEV" ]; then
    result "$1" fail "st_dev $_dev is the host's"; return 1
  fi
  result "$1" ok "binfmt_misc dev=$_mm ($_dev) host_dev=$HOST_BINFMT_DEV"
}

gate() {
  mkdir -p "$state"
  check_userns gate-userns || return 1
  if [ -n "$(top_mount)" ]; then
    echo "premounted=$(top_mount)" > "$state/gate"
    _mine=no
  else
    echo "premounted=no" > "$state/gate"
    mount -t binfmt_misc -o nosuid,nodev,noexec binfmt_misc "$bm" || {
      result gate-mount fail "cannot mount a private binfmt_misc"; return 1; }
    _mine=yes
  fi
  check_mount gate-mount || { [ $_mine = no ] || umount "$bm"; return 1; }
  # shellcheck disable=SC2012  # binfmt_misc's names are plain
  _content=$(ls -A "$bm" | tr '\n' ' ')
  if [ "$_content" != "register status " ]; then
    result gate-fresh fail "holds: $_content"
    [ $_mine = no ] || umount "$bm"
    return 1
  fi
  result gate-fresh ok "only register and status"
  # Leave it as found, so binfmtctl boot (or the stand-in) mounts it itself.
  if [ $_mine = yes ]; then
    umount "$bm" || { result gate-umount fail "umount $bm failed"; return 1; }
    [ -z "$(top_mount)" ] || { result gate-umount fail "still mounted: $(top_mount)"; return 1; }
  fi
  return 0
}

verify() {
  check_userns userns
  # Informational: was binfmt_misc mounted when the boot runlevel reached the gate? The
  # gate leaves it unmounted, so a binfmt_misc mount now is binfmtctl's own.
  case $(sed -n 's/^premounted=//p' "$state/gate" 2>/dev/null) in
    no) result who-mounted ok "nothing before binfmtctl mounted binfmt_misc; binfmtctl boot did" ;;
    '') result who-mounted fail "the gate left no record" ;;
    *) result who-mounted ok "already mounted before binfmtctl: $(sed -n 's/^premounted=//p' "$state/gate")" ;;
  esac
  check_mount private-mount

  _entries=$(for _f in "$bm"/*; do
      case ${_f##*/} in register | status | '*') ;; *) echo "${_f##*/}" ;; esac
    done | sort | tr '\n' ' ')
  _want=$(for e in $EXPECT_ENTRIES; do echo "$e"; done | sort | tr '\n' ' ')
  if [ "$_entries" = "$_want" ]; then
    result entries ok "$_entries"
  else
    result entries fail "have '$_entries', want '$_want'"
  fi
  for e in $EXPECT_ENTRIES; do
    _f=$bm/$e
    if [ ! -f "$_f" ]; then result "entry-$e" fail "missing"; continue; fi
    _state=$(head -n 1 "$_f")
    _interp=$(sed -n 's/^interpreter //p' "$_f")
    _flags=$(sed -n 's/^flags: //p' "$_f")
    case "$_state:$_flags" in
      enabled:*P*F* | enabled:*F*P*)
        if [ -x "$_interp" ]; then
          result "entry-$e" ok "enabled interpreter=$_interp flags=$_flags"
        else
          result "entry-$e" fail "interpreter $_interp is not executable"
        fi ;;
      *) result "entry-$e" fail "state=$_state flags=$_flags interpreter=$_interp" ;;
    esac
  done

  for pair in $EXPECT_RUN; do
    _arch=${pair%%:*} _uname=${pair#*:}
    _bb=$fixtures/busybox-$_arch
    _out=$(timeout 30 "$_bb" uname -m 2>&1) && _rc=0 || _rc=$?
    if [ "$_rc" = 0 ] && [ "$_out" = "$_uname" ]; then
      result "run-$_arch" ok "busybox-$_arch uname -m: $_out"
    else
      result "run-$_arch" fail "busybox-$_arch uname -m: exit $_rc, '$_out'"
    fi
    # P (preserve argv[0]): busybox picks its applet from argv[0] only if qemu passes it on.
    # shellcheck disable=SC2016  # $0 is for bash
    _out=$(timeout 30 bash -c 'exec -a uname "$0" -m' "$_bb" 2>&1) && _rc=0 || _rc=$?
    if [ "$_rc" = 0 ] && [ "$_out" = "$_uname" ]; then
      result "argv0-$_arch" ok "exec -a uname busybox-$_arch -m: $_out"
    else
      result "argv0-$_arch" fail "exec -a uname busybox-$_arch -m: exit $_rc, '$_out'"
    fi
  done
  for _arch in $EXPECT_REFUSED; do
    # Not registered here, so it must not run as $_arch (the shell may try it as a script).
    _out=$(timeout 30 "$fixtures/busybox-$_arch" uname -m 2>&1 | head -c 200) && _rc=0 || _rc=$?
    case "$_out" in
      s390x|aarch64|arm*|ppc*|mips*|i686) result "refused-$_arch" fail "ran: '$_out'" ;;
      *) result "refused-$_arch" ok "no handler: $(echo "$_out" | head -n 1)" ;;
    esac
  done

  if [ -L /etc/runlevels/boot/binfmtctl ] && [ "$(readlink /etc/runlevels/boot/binfmtctl)" = /etc/init.d/binfmtctl ]; then
    result runlevel-link ok "/etc/runlevels/boot/binfmtctl -> /etc/init.d/binfmtctl"
  else
    result runlevel-link fail "$(ls -l /etc/runlevels/boot/binfmtctl 2>&1)"
  fi
  _st=$(rc-status -f ini boot 2>&1 | awk -F= '$1 ~ /^binfmtctl *$/ { gsub(/[ \t]/, "", $2); print $2 }')
  if [ "$_st" = started ]; then
    result rc-status-boot ok "binfmtctl = started"
  else
    result rc-status-boot fail "binfmtctl = '${_st:-absent}'; $(rc-status -f ini boot 2>&1 | tr '\n' ' ')"
  fi
  echo "BINFMTCTL-OPENRC done failures=$failures" | tee -a "$log"
}

# shellcheck source=/dev/null  # written by run.sh
. /etc/binfmtctl-test/host.env || { result host-env fail "no /etc/binfmtctl-test/host.env"; exit 1; }
case "${1:-}" in
  gate) gate ;;
  verify) verify ;;
  *) echo "usage: $0 gate|verify" >&2; exit 2 ;;
esac
