# The real-reboot test, guest side (POSIX sh, root, systemd running). The runner baked
# into the image calls this once per boot with the boot number; see lib.sh for the
# console protocol. Every check prints exactly one BINFMTCTL-TEST line.
#
#   boot 1: nothing of ours is live; `binfmtctl persist aarch64 arm s390x ppc64le`; reboot
#   boot 2: the entries came back by themselves, the busyboxes run, the boot service is
#           enabled and ran, a restart of systemd-binfmt keeps them; `unpersist --all`; reboot
#   boot 3: the entries did not come back, binfmtctl left nothing behind; done; poweroff
#
# The image has no /usr/lib/binfmt.d/qemu-{aarch64,arm,s390x,ppc64le}.conf (build-image.sh
# deletes Debian's four), so these four entries can only come from binfmtctl.
#
#@needs binfmtctl
#@expect boot=1 check=install
#@expect boot=1 check=version
#@expect boot=1 check=no-test-entries-before
#@expect boot=1 check=aarch64-execfail-before
#@expect boot=1 check=arm-execfail-before
#@expect boot=1 check=s390x-execfail-before
#@expect boot=1 check=ppc64le-execfail-before
#@expect boot=1 check=persist-exit
#@expect boot=2 check=aarch64-entry
#@expect boot=2 check=arm-entry
#@expect boot=2 check=s390x-entry
#@expect boot=2 check=ppc64le-entry
#@expect boot=2 check=aarch64-runs
#@expect boot=2 check=arm-runs
#@expect boot=2 check=s390x-runs
#@expect boot=2 check=ppc64le-runs
#@expect boot=2 check=service-enabled
#@expect boot=2 check=service-ran
#@expect boot=2 check=unit-file
#@expect boot=2 check=restart-systemd-binfmt
#@expect boot=2 check=aarch64-entry-after-restart
#@expect boot=2 check=arm-entry-after-restart
#@expect boot=2 check=s390x-entry-after-restart
#@expect boot=2 check=ppc64le-entry-after-restart
#@expect boot=2 check=aarch64-runs-after-restart
#@expect boot=2 check=arm-runs-after-restart
#@expect boot=2 check=s390x-runs-after-restart
#@expect boot=2 check=ppc64le-runs-after-restart
#@expect boot=2 check=unpersist-exit
#@expect boot=3 check=aarch64-entry-gone
#@expect boot=3 check=arm-entry-gone
#@expect boot=3 check=s390x-entry-gone
#@expect boot=3 check=ppc64le-entry-gone
#@expect boot=3 check=aarch64-execfail-after
#@expect boot=3 check=arm-execfail-after
#@expect boot=3 check=s390x-execfail-after
#@expect boot=3 check=ppc64le-execfail-after
#@expect boot=3 check=service-not-enabled
#@expect boot=3 check=unit-file-after
#@expect boot=3 check=etc-binfmt.d-clean

. "$REBOOT_TEST_PAYLOAD/lib.sh"

# Installed where a user would put it: the boot service runs this path at every boot,
# long before the payload disk is mounted. With the .deb on the payload (make test-reboot),
# dpkg -i installs it and persist enables the packaged unit; else the binary is copied to
# /usr/local/bin and persist writes its own unit into /etc/systemd/system.
UNIT=binfmtctl.service
if [ -f "$PAYLOAD/binfmtctl.deb" ]; then
  MODE=deb BINFMTCTL=/usr/bin/binfmtctl UNIT_FILE=/lib/systemd/system/$UNIT
else
  MODE=binary BINFMTCTL=/usr/local/bin/binfmtctl UNIT_FILE=/etc/systemd/system/$UNIT
fi

# binfmtctl's files in /etc/binfmt.d: its zz-binfmtctl-* names or its marker inside.
binfmtctl_files() {
  for f in /etc/binfmt.d/*; do
    [ -e "$f" ] || continue
    case ${f##*/} in zz-binfmtctl-*) echo "$f"; continue ;; esac
    grep -qi binfmtctl "$f" 2>/dev/null && echo "$f"
  done
}

status_json() { block status.json "$BINFMTCTL" status --json; }

case $BOOT in
1)
  info uname "$(uname -a)"
  if [ "$MODE" = deb ]; then
    if dpkg -i "$PAYLOAD/binfmtctl.deb" >/run/reboot-test/install.err 2>&1; then
      check install ok "dpkg -i binfmtctl.deb: $(dpkg-query -W -f='${Version}' binfmtctl); enabled: $(systemctl is-enabled "$UNIT" 2>&1)"
    else
      check install fail "$(tr '\n' ' ' < /run/reboot-test/install.err)"
    fi
  elif install -D -m 0755 "$PAYLOAD/binfmtctl" "$BINFMTCTL" 2>/run/reboot-test/install.err; then
    check install ok "$BINFMTCTL"
  else
    check install fail "$(cat /run/reboot-test/install.err)"
  fi
  out=$("$BINFMTCTL" --version 2>&1); rc=$?
  if [ $rc = 0 ]; then check version ok "$out"; else check version fail "exit $rc: $out"; fi

  # What systemd-binfmt registered from Debian's remaining files at this boot.
  info live-entries "$(live_entries)"
  info etc-binfmt.d "$(ls -A /etc/binfmt.d 2>&1 | tr '\n' ' ')"
  present=
  for a in $TEST_ARCHS; do [ -e "$BINFMT/qemu-$a" ] && present="$present qemu-$a"; done
  if [ -z "$present" ]; then check no-test-entries-before ok "live: $(live_entries)"
  else check no-test-entries-before fail "already registered:$present"; fi
  for a in $TEST_ARCHS; do check_execfail "$a-execfail-before" "$a"; done

  block persist "$BINFMTCTL" persist aarch64 arm s390x ppc64le; rc=$?
  if [ $rc = 0 ]; then check persist-exit ok "exit 0"; else check persist-exit fail "exit $rc"; fi
  info etc-binfmt.d "$(ls -A /etc/binfmt.d 2>&1 | tr '\n' ' ')"
  status_json
  finish reboot
  ;;

2)
  for a in $TEST_ARCHS; do check_entry "$a-entry" "$a"; done
  for a in $TEST_ARCHS; do check_runs "$a-runs" "$a"; done

  out=$(systemctl is-enabled "$UNIT" 2>&1)
  if [ "$out" = enabled ]; then check service-enabled ok "$out"; else check service-enabled fail "$out"; fi
  # Ran at this boot and succeeded. A oneshot may be active (RemainAfterExit=yes) or
  # inactive afterwards; "inactive" alone could also mean it never ran, hence the timestamp.
  props=$(systemctl show -p ActiveState,Result,ExecMainStatus,ExecMainStartTimestampMonotonic "$UNIT" 2>&1)
  st=$(printf '%s\n' "$props" | sed -n 's/^ActiveState=//p')
  res=$(printf '%s\n' "$props" | sed -n 's/^Result=//p')
  code=$(printf '%s\n' "$props" | sed -n 's/^ExecMainStatus=//p')
  started=$(printf '%s\n' "$props" | sed -n 's/^ExecMainStartTimestampMonotonic=//p')
  if [ "$res" = success ] && [ "$code" = 0 ] && [ "${started:-0}" != 0 ] \
     && { [ "$st" = active ] || [ "$st" = inactive ]; }; then
    check service-ran ok "$props"
  else
    check service-ran fail "$props"
  fi
  block unit systemctl cat "$UNIT"
  # The unit systemd loaded: the packaged one (no copy in /etc) with the .deb, else persist's.
  frag=$(systemctl show -p FragmentPath --value "$UNIT" 2>&1)
  if [ "$MODE" = deb ]; then
    case $frag in
      /lib/systemd/system/$UNIT | /usr/lib/systemd/system/$UNIT)
        if [ ! -e /etc/systemd/system/$UNIT ]; then check unit-file ok "$frag, no copy in /etc"
        else check unit-file fail "$frag, but /etc/systemd/system/$UNIT exists"; fi ;;
      *) check unit-file fail "FragmentPath=$frag" ;;
    esac
  elif [ "$frag" = "$UNIT_FILE" ]; then check unit-file ok "$frag"
  else check unit-file fail "FragmentPath=$frag"; fi

  out=$(systemctl restart systemd-binfmt 2>&1); rc=$?
  if [ $rc = 0 ]; then check restart-systemd-binfmt ok "exit 0"; else check restart-systemd-binfmt fail "exit $rc: $out"; fi
  gone=
  for a in $TEST_ARCHS; do
    check_entry "$a-entry-after-restart" "$a"
    [ -e "$BINFMT/qemu-$a" ] || gone="$gone qemu-$a"
  done
  if [ -n "$gone" ]; then
    # systemd-binfmt's restart lost them: nothing after this means anything. The harness
    # reports every check not printed as MISSING.
    info restart "gone after restarting systemd-binfmt:$gone; stopping here"
    block journal journalctl -b --no-pager -o short-monotonic -u "$UNIT" -u systemd-binfmt.service
    finish poweroff
  fi
  for a in $TEST_ARCHS; do check_runs "$a-runs-after-restart" "$a"; done

  status_json
  block journal journalctl -b --no-pager -o short-monotonic -u "$UNIT" -u systemd-binfmt.service
  block unpersist "$BINFMTCTL" unpersist --all; rc=$?
  if [ $rc = 0 ]; then check unpersist-exit ok "exit 0"; else check unpersist-exit fail "exit $rc"; fi
  info etc-binfmt.d "$(ls -A /etc/binfmt.d 2>&1 | tr '\n' ' ')"
  finish reboot
  ;;

3)
  info live-entries "$(live_entries)"
  for a in $TEST_ARCHS; do check_entry_gone "$a-entry-gone" "$a"; done
  for a in $TEST_ARCHS; do check_execfail "$a-execfail-after" "$a"; done
  out=$(systemctl is-enabled "$UNIT" 2>&1)
  case $out in
    enabled|enabled-runtime) check service-not-enabled fail "$out" ;;
    *) check service-not-enabled ok "$out" ;;
  esac
  # unpersist --all disables the packaged unit and keeps its file; persist's own unit goes.
  if [ "$MODE" = deb ]; then
    if [ -f "$UNIT_FILE" ] && [ ! -e /etc/systemd/system/$UNIT ]; then check unit-file-after ok "$UNIT_FILE kept (the package's)"
    else check unit-file-after fail "$(ls -l "$UNIT_FILE" /etc/systemd/system/$UNIT 2>&1 | tr '\n' ' ')"; fi
  elif [ ! -e "$UNIT_FILE" ]; then check unit-file-after ok "$UNIT_FILE removed"
  else check unit-file-after fail "$UNIT_FILE left behind"; fi
  left=$(binfmtctl_files | tr '\n' ' ')
  if [ -z "$left" ]; then check etc-binfmt.d-clean ok "none of binfmtctl's files; holds: $(ls -A /etc/binfmt.d 2>&1 | tr '\n' ' ')"
  else check etc-binfmt.d-clean fail "left behind: $left"; fi
  status_json
  done_all
  finish poweroff
  ;;

*)
  check unexpected-boot fail "boot $BOOT: the stages end after boot 3"
  finish poweroff
  ;;
esac
