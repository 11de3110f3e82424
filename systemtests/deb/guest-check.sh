#!/bin/sh
# Runs inside the fresh Debian 12 container (systemtests/deb/run.sh): one PASS/FAIL line per
# check, DONE at the end. $1 is the .deb.
deb=$1
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; }
check() { name=$1; shift; if "$@"; then pass "$name"; else fail "$name"; fi; }
# Every path on the root file system but the kernel's, the test's own and apt's, dpkg's and
# the logs' state (they record that something happened, and that is expected).
files() {
  find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /srv/deb-test \
    -o -path /var/lib/apt/lists -o -path /var/cache -o -path /var/log \) -prune -o -printf '%y %p\n' |
    grep -v -E ' /var/lib/dpkg/(status|status-old|available|lock.*|triggers/.*|diversions.*|statoverride.*|info/format)$| /var/lib/apt/extended_states$' |
    LC_ALL=C sort
}

echo "guest: $(. /etc/os-release; echo "$PRETTY_NAME"), $(dpkg-query -W -f='${Version}' base-files 2>/dev/null) base-files"
check "no-swift-toolchain" sh -c '! command -v swift >/dev/null && ! ls /usr/lib/swift >/dev/null 2>&1'
check "fresh-without-libelf" sh -c '! dpkg-query -W -f="\${db:Status-Status}" libelf1 2>/dev/null | grep -q installed'
files > /srv/deb-test/before.list

# Without libelf1 (why it is in Depends): inspect names the missing library and the fix.
mkdir /srv/deb-test/x && dpkg-deb -x "$deb" /srv/deb-test/x
out=$(/srv/deb-test/x/usr/bin/binfmtctl inspect /bin/sh 2>&1); rc=$?
check "without-libelf-inspect-fails-clearly" sh -c "[ $rc = 1 ] && echo \"\$1\" | grep -q 'cannot load libelf' && echo \"\$1\" | grep -q 'apt install libelf1'" sh "$out"
echo "  inspect without libelf1: exit $rc: $out"
rm -rf /srv/deb-test/x

apt-get update -q >/srv/deb-test/apt-update.log 2>&1 || { cat /srv/deb-test/apt-update.log; fail "apt-get-update"; }
t0=$(date +%s)
if apt-get install -y -q --no-install-recommends "$deb" > /srv/deb-test/apt-install.log 2>&1; then
  pass "apt-get-install ($(( $(date +%s) - t0 )) s; $(grep -c '^Setting up' /srv/deb-test/apt-install.log) packages set up)"
else
  cat /srv/deb-test/apt-install.log; fail "apt-get-install"
fi
check "installed" sh -c 'dpkg-query -W -f="\${db:Status-Status}" binfmtctl | grep -qx installed'
check "recommends-qemu-user-static" sh -c 'dpkg-query -W -f="\${Recommends}" binfmtctl | grep -q qemu-user-static'
check "depends-libelf1" sh -c 'dpkg-query -W -f="\${Depends}" binfmtctl | grep -q libelf1'

v=$(binfmtctl --version); rc=$?
check "version" sh -c "[ $rc = 0 ] && echo '$v' | grep -Eq '^0\.1\.0 \(commit [0-9a-f]{12}(-dirty)?\)$'"
echo "  binfmtctl --version: $v"
out=$(binfmtctl arch list); rc=$?
check "arch-list" sh -c "[ $rc = 0 ] && echo \"\$1\" | grep -q '^aarch64 ' && echo \"\$1\" | grep -q '^s390x '" sh "$out"
out=$(binfmtctl inspect /bin/sh); rc=$?
check "inspect" sh -c "[ $rc = 0 ] && echo \"\$1\" | grep -q 'x86_64 (linux/amd64' && echo \"\$1\" | grep -q 'native'" sh "$out"
echo "  inspect /bin/sh: $out"
# The container has no binfmt_misc mounted (nspawn's /proc/sys is read-only): status says
# so and exits 1, with the fix.
out=$(binfmtctl status 2>&1); rc=$?
check "status-exit-1-not-mounted" sh -c "[ $rc = 1 ] && echo \"\$1\" | grep -q 'not mounted'" sh "$out"
echo "$out" | sed 's/^/  status: /'
json=$(binfmtctl status --json 2>/dev/null); rc=$?
check "status-json" sh -c "[ $rc = 1 ] && echo \"\$1\" | grep -q '\"mounted\": false'" sh "$json"

check "unit-in-lib-systemd" sh -c 'grep -qx "ExecStart=/usr/bin/binfmtctl boot" /lib/systemd/system/binfmtctl.service'
check "unit-not-enabled" sh -c '! ls /etc/systemd/system/*.wants/binfmtctl.service >/dev/null 2>&1 && [ ! -e /etc/systemd/system/binfmtctl.service ]'
check "nothing-persisted" sh -c '! ls /etc/binfmt.d/zz-binfmtctl-* >/dev/null 2>&1'
check "man-page" sh -c 'gzip -dc /usr/share/man/man1/binfmtctl.1.gz | grep -q "^.TH BINFMTCTL 1"'
check "completions" sh -c '[ -s /usr/share/bash-completion/completions/binfmtctl ] && [ -s /usr/share/zsh/vendor-completions/_binfmtctl ] && [ -s /usr/share/fish/vendor_completions.d/binfmtctl.fish ]'
check "copyright-changelog" sh -c '[ -s /usr/share/doc/binfmtctl/copyright ] && gzip -dc /usr/share/doc/binfmtctl/changelog.gz | grep -q "^binfmtctl (0.1.0)"'

t0=$(date +%s)
if apt-get purge -y -q --autoremove binfmtctl > /srv/deb-test/apt-purge.log 2>&1; then
  pass "apt-get-purge ($(( $(date +%s) - t0 )) s)"
else
  cat /srv/deb-test/apt-purge.log; fail "apt-get-purge"
fi
files > /srv/deb-test/after.list
if diff /srv/deb-test/before.list /srv/deb-test/after.list > /srv/deb-test/diff; then
  pass "nothing-left ($(wc -l < /srv/deb-test/before.list) paths as before)"
else
  sed 's/^/  /' /srv/deb-test/diff; fail "nothing-left"
fi
left=$(find / -xdev \( -path /proc -o -path /sys -o -path /srv/deb-test -o -path /var/log \) -prune -o -name '*binfmtctl*' -print)
check "no-binfmtctl-path" [ -z "$left" ]
[ -z "$left" ] || echo "$left" | sed 's/^/  left: /'
echo DONE
