#!/bin/sh
# The golden scenario: every command's text and --json output, exit code and stderr, in one
# private binfmt_misc sandbox with private /etc/binfmt.d, /etc/systemd/system and
# /usr/lib/binfmt.d. Run by GoldenTests through scripts/binfmt-sandbox.sh:
#   scenario.sh BINFMTCTL FIXTURES
# The transcript on stdout is compared byte for byte with Tests/golden/transcript.txt after
# the volatile parts (qemu's version, fixture build IDs) are normalised by the test.
B="$1"
F="$2"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
unset TMPDIR
for d in /etc/binfmt.d /etc/systemd/system /usr/lib/binfmt.d; do
  [ -d "$d" ] || { echo "scenario: $d missing" >&2; exit 77; }
  mount -t tmpfs golden "$d" || exit 77
done
# A distribution's file for the same entry (Debian's qemu-user-static ships this one).
printf ':qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:POCF\n' >/usr/lib/binfmt.d/qemu-aarch64.conf
W=/run/golden
mkdir -p $W/probe $W/img/lib/systemd $W/img/usr/bin $W/img/etc $W/orc/sbin $W/orc/usr/bin $W/wsl/etc $W/wsl/usr/bin
: > $W/img/lib/systemd/systemd
: > $W/orc/sbin/openrc-run
printf '[network]\nhostname = box\n' > $W/wsl/etc/wsl.conf
for r in img orc wsl; do cp /usr/bin/qemu-aarch64-static /usr/bin/qemu-s390x-static $W/$r/usr/bin/; done
printf '#!/bin/sh\r\necho hi\r\n' > $W/crlf.sh
printf '#!/bin/sh\necho hi\n' > $W/ok.sh
printf 'MZ\220\0\3\0\0\0' > $W/pe.exe
# The fixtures at a fixed path: text columns are as wide as the longest path.
mkdir -p $W/fx
cp "$F/hello-arm64" "$F/busybox-armel" "$F/busybox-i386" $W/fx/
F=$W/fx

t() {
  echo "### binfmtctl $*"
  "$B" "$@" >$W/out 2>$W/err
  echo "exit: $?"
  cat $W/out
  [ -s $W/err ] && sed 's/^/stderr: /' $W/err
  echo
}
H="--host-machine x86_64"

t --version
t arch list $H
t arch list --json $H
t inspect "$F/hello-arm64" "$F/busybox-armel" "$F/busybox-i386" $W/ok.sh $W/crlf.sh $W/pe.exe $W/missing
t inspect --json "$F/hello-arm64" "$F/busybox-armel" $W/ok.sh $W/crlf.sh $W/pe.exe $W/missing
t inspect
t generate arm64 s390x --format register $H
t generate arm64 --flags POCF --credentials $H
t generate x86_64 $H
t generate bogus $H
t emulators
t emulators --json
t emulators --emulator /usr/bin/qemu-aarch64-static --arch arm64 --json
t status $H
t status --json $H
t probe arm64 --dir $W/probe $H
t install arm64 s390x --dry-run $H
t install arm64 s390x --dry-run --json $H
t install arm64 s390x --json $H
t install arm64 s390x $H
t install arm64 --flags F $H
t install arm64 --flags F --replace --json $H
t install x86_64 $H
t install i386 --include-native --emulator /usr/bin/qemu-i386-static $H
t install bogus $H
t install $H
t install arm64 --flags PC $H
t status $H
t status --json $H
t probe --dir $W/probe $H
t probe arm64 s390x mipsel --json --dir $W/probe $H
t disable arm64 --json
t disable qemu-s390x
t status $H
t enable arm64 s390x
t enable nonexistent-entry
t uninstall qemu-i386 --dry-run --json
t uninstall i386
t persist --init none $H
t persist arm64 --init none --json --dry-run $H
t status --json $H
t boot
echo -1 > /proc/sys/fs/binfmt_misc/qemu-s390x
t status $H
t boot
t unpersist qemu-s390x --json
t unpersist --all
t persist --root $W/img arm64 s390x $H
t persist --root $W/img arm64 --flags F --json $H
t persist --root $W/img arm64 --flags F --replace --dry-run --json $H
t unpersist --root $W/img --all --json
t persist --root $W/orc arm64 $H
t persist --root $W/orc --init openrc arm64 --json $H
t unpersist --root $W/orc --all
t persist --root $W/wsl --init wsl arm64 $H
t unpersist --root $W/wsl --all --dry-run --json
t unpersist --root $W/wsl --all
echo "### wsl.conf after"
cat $W/wsl/etc/wsl.conf
echo
t persist --root relative arm64 $H
t uninstall --all --json
t uninstall --all
t status --json $H
