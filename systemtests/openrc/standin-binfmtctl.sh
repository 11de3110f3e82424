#!/bin/sh
# TEST STAND-IN, NOT THE PRODUCT. `run.sh --standin` installs this as
# /usr/local/bin/binfmtctl inside the test container until `binfmtctl boot` exists, to prove
# the OpenRC boot test itself works. It knows one command, `boot`, and one entry, aarch64.
#
# boot:
#  1. refuses unless it runs in a non-initial user namespace (uid_map is not the identity
#     map, and the namespace is not the host's, from /etc/binfmtctl-test/host.env);
#  2. mounts binfmt_misc at /proc/sys/fs/binfmt_misc if nothing is mounted there;
#  3. refuses unless that mount is binfmt_misc (mountinfo), stat agrees with mountinfo, its
#     device number is not the host's, and it holds only `register` and `status`;
#  4. registers qemu-aarch64 (flags PF) by writing the register string with printf.
set -eu
bm=/proc/sys/fs/binfmt_misc
entry=':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:PF'

say() { echo "binfmtctl (test stand-in): $*" >&2; }
refuse() { say "refusing: $*"; exit 4; }

[ "${1:-}" = boot ] || { say "only 'boot' is implemented"; exit 2; }
# shellcheck source=/dev/null  # written by run.sh
. /etc/binfmtctl-test/host.env || refuse "no host records in /etc/binfmtctl-test/host.env"
: "${HOST_BINFMT_DEV:?}" "${HOST_USERNS:?}"

map=$(awk '{ printf "%s %s %s;", $1, $2, $3 }' /proc/self/uid_map)
[ "$map" != "0 0 4294967295;" ] || refuse "initial user namespace (uid_map $map)"
[ "$(readlink /proc/self/ns/user)" != "$HOST_USERNS" ] || refuse "the host's user namespace"

top_mount() {
  awk -v mp="$bm" '
    { for (i = 7; i <= NF; i++) if ($i == "-") break
      if ($5 == mp) { fs = $(i + 1); dev = $3 } }
    END { if (fs != "") print fs, dev }' /proc/self/mountinfo
}
if [ -z "$(top_mount)" ]; then
  mount -t binfmt_misc -o nosuid,nodev,noexec binfmt_misc "$bm" || refuse "cannot mount binfmt_misc"
  say "mounted binfmt_misc at $bm"
else
  say "binfmt_misc already mounted at $bm"
fi
# shellcheck disable=SC2046  # two words: fstype and major:minor
set -- $(top_mount)
[ "${1:-}" = binfmt_misc ] || refuse "$bm is '${1:-nothing}', not binfmt_misc"
[ "$(stat -c %Hd:%Ld "$bm")" = "$2" ] || refuse "stat and mountinfo disagree about $bm"
[ "$(stat -c %d "$bm")" != "$HOST_BINFMT_DEV" ] || refuse "$bm has the host's device number"
# shellcheck disable=SC2012  # binfmt_misc's names are plain
content=$(ls -A "$bm" | tr '\n' ' ')
[ "$content" = "register status " ] || refuse "$bm is not a fresh instance (holds: $content)"

printf '%s' "$entry" > "$bm/register"
[ "$(head -n 1 "$bm/qemu-aarch64")" = enabled ] || { say "qemu-aarch64 is not enabled"; exit 1; }
say "registered qemu-aarch64"
