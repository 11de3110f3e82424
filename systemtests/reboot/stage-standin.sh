# Stand-in stage (POSIX sh, guest side): the same three boots as stage.sh, but "persist"
# is done by hand with the repository's committed binfmt.d files and `unpersist` by
# deleting them, so the harness, the image and the checks can be tested before
# `binfmtctl persist` exists.   REBOOT_TEST_STAGE=systemtests/reboot/stage-standin.sh run.sh
#
# The harness reads the expected checks from the #@expect lines.
#@expect boot=1 check=marker-written
#@expect boot=1 check=no-test-entries-before
#@expect boot=1 check=aarch64-execfail-before
#@expect boot=1 check=arm-execfail-before
#@expect boot=1 check=s390x-execfail-before
#@expect boot=1 check=ppc64le-execfail-before
#@expect boot=1 check=persist-by-hand
#@expect boot=2 check=marker-survived
#@expect boot=2 check=aarch64-entry
#@expect boot=2 check=arm-entry
#@expect boot=2 check=s390x-entry
#@expect boot=2 check=ppc64le-entry
#@expect boot=2 check=aarch64-runs
#@expect boot=2 check=arm-runs
#@expect boot=2 check=s390x-runs
#@expect boot=2 check=ppc64le-runs
#@expect boot=2 check=restart-systemd-binfmt
#@expect boot=2 check=aarch64-entry-after-restart
#@expect boot=2 check=arm-entry-after-restart
#@expect boot=2 check=s390x-entry-after-restart
#@expect boot=2 check=ppc64le-entry-after-restart
#@expect boot=2 check=aarch64-runs-after-restart
#@expect boot=2 check=arm-runs-after-restart
#@expect boot=2 check=s390x-runs-after-restart
#@expect boot=2 check=ppc64le-runs-after-restart
#@expect boot=3 check=aarch64-entry-gone
#@expect boot=3 check=arm-entry-gone
#@expect boot=3 check=s390x-entry-gone
#@expect boot=3 check=ppc64le-entry-gone
#@expect boot=3 check=aarch64-execfail-after
#@expect boot=3 check=arm-execfail-after
#@expect boot=3 check=s390x-execfail-after
#@expect boot=3 check=ppc64le-execfail-after
#@expect boot=3 check=etc-binfmt.d-clean

. "$REBOOT_TEST_PAYLOAD/lib.sh"
marker=/etc/reboot-test-standin

case $BOOT in
1)
  info uname "$(uname -a)"
  if [ -x "$PAYLOAD/binfmtctl" ]; then
    info binfmtctl-version "$("$PAYLOAD/binfmtctl" --version 2>&1; echo "exit $?")"
  fi
  echo "written in boot 1" > "$marker" && sync
  check_if marker-written "$marker" test -s "$marker"
  info live-entries "$(live_entries)"
  present=
  for a in $TEST_ARCHS; do [ -e "$BINFMT/qemu-$a" ] && present="$present qemu-$a"; done
  if [ -z "$present" ]; then check no-test-entries-before ok "live: $(live_entries)"
  else check no-test-entries-before fail "already registered:$present"; fi
  for a in $TEST_ARCHS; do check_execfail "$a-execfail-before" "$a"; done
  mkdir -p /etc/binfmt.d
  ok=1
  for a in $TEST_ARCHS; do cp "$PAYLOAD/binfmt.d/qemu-$a.conf" /etc/binfmt.d/ || ok=; done
  sync
  if [ -n "$ok" ]; then check persist-by-hand ok "$(ls /etc/binfmt.d)"; else check persist-by-hand fail "cp failed"; fi
  finish reboot
  ;;
2)
  check_if marker-survived "$(cat "$marker" 2>&1)" test -s "$marker"
  for a in $TEST_ARCHS; do check_entry "$a-entry" "$a"; done
  for a in $TEST_ARCHS; do check_runs "$a-runs" "$a"; done
  out=$(systemctl restart systemd-binfmt 2>&1); rc=$?
  if [ $rc = 0 ]; then check restart-systemd-binfmt ok "exit 0"; else check restart-systemd-binfmt fail "exit $rc: $out"; fi
  for a in $TEST_ARCHS; do check_entry "$a-entry-after-restart" "$a"; done
  for a in $TEST_ARCHS; do check_runs "$a-runs-after-restart" "$a"; done
  block journal journalctl -b --no-pager -o short-monotonic -u systemd-binfmt.service
  for a in $TEST_ARCHS; do rm -f "/etc/binfmt.d/qemu-$a.conf"; done
  sync
  finish reboot
  ;;
3)
  for a in $TEST_ARCHS; do check_entry_gone "$a-entry-gone" "$a"; done
  for a in $TEST_ARCHS; do check_execfail "$a-execfail-after" "$a"; done
  left=$(ls -A /etc/binfmt.d 2>/dev/null | tr '\n' ' ')
  if [ -z "$left" ]; then check etc-binfmt.d-clean ok "/etc/binfmt.d is empty"
  else check etc-binfmt.d-clean fail "/etc/binfmt.d holds: $left"; fi
  done_all
  finish poweroff
  ;;
*)
  check unexpected-boot fail "boot $BOOT: the stages end after boot 3"
  finish poweroff
  ;;
esac
