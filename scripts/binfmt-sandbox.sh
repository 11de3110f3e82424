#!/bin/sh
# Runs a command with a private, empty binfmt_misc instance, never the host's table.
#   scripts/binfmt-sandbox.sh CMD [ARGS...]
# 1. drops to an unprivileged host uid (65534) when started as root, so a missing private
#    mount can never write into the host's table;
# 2. enters new user + mount namespaces and mounts binfmt_misc (kernel 6.7+: one
#    instance per user namespace);
# 3. refuses to go on unless the mount is a new instance: a device number other than the
#    host's and nothing in it but `register` and `status`;
# 4. mounts a private tmpfs on /run, so binfmtctl's lock file is the sandbox's own.
# With BINFMT_SANDBOX_NO_MOUNT=1, step 2 is left to the command (to test `install`
# mounting binfmt_misc itself); the path must then not be a binfmt_misc mount at all.
# Container engines need more than one id and their own network and pid namespaces
# (systemtests/containers): opt in with
#   BINFMT_SANDBOX_SUBIDS=1   also map the sandbox uid's first subordinate uid and gid ranges
#                             (/etc/subuid, /etc/subgid; newuidmap/newgidmap) from id 1 up;
#                             exit 77 if the uid has none;
#   BINFMT_SANDBOX_ISOLATE=1  also new network and pid namespaces with a fresh /proc (mounted
#                             before binfmt_misc, so the private instance is what /proc shows):
#                             everything started inside dies with the command.
set -eu
bm=/proc/sys/fs/binfmt_misc
# The first START:COUNT range of the uid in FILE ($1), by name or number, or nothing.
subid_range() {
  name=$(getent passwd "$2" | cut -d: -f1)
  awk -F: -v u="$2" -v n="$name" '($1 == u || ($1 == n && n != "")) && $3 > 0 { print $2 "," $3; exit }' "$1" 2>/dev/null
}
if [ "${BINFMT_SANDBOX_INSIDE:-}" != 1 ]; then
  host_dev=$(stat -c %d "$bm" 2>/dev/null || echo none)
  export BINFMT_SANDBOX_INSIDE=1 BINFMT_SANDBOX_HOST_DEV="$host_dev"
  uid=$(id -u)
  [ "$uid" != 0 ] || uid=65534
  set -- --user --map-root-user --mount -- /bin/sh "$0" "$@"
  if [ "${BINFMT_SANDBOX_SUBIDS:-}" = 1 ]; then
    # unshare hands these to newuidmap/newgidmap, which check them against the files.
    subuid=$(subid_range /etc/subuid "$uid") subgid=$(subid_range /etc/subgid "$uid")
    if [ -z "$subuid" ] || [ -z "$subgid" ]; then
      echo "sandbox: uid $uid has no range in /etc/subuid and /etc/subgid" >&2
      exit 77
    fi
    set -- --map-users="${subuid%,*},1,${subuid#*,}" --map-groups="${subgid%,*},1,${subgid#*,}" "$@"
  fi
  if [ "${BINFMT_SANDBOX_ISOLATE:-}" = 1 ]; then
    set -- --net --pid --fork --kill-child --mount-proc "$@"
  fi
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all unshare "$@"
  fi
  exec unshare "$@"
fi
if ! mount -t tmpfs -o mode=755 sandbox-run /run; then
  echo "sandbox: cannot mount a private /run" >&2
  exit 77
fi
if [ "${BINFMT_SANDBOX_NO_MOUNT:-}" = 1 ]; then
  if [ -e "$bm/register" ]; then
    echo "sandbox: $bm is already a binfmt_misc mount: refusing" >&2
    exit 78
  fi
  exec "$@"
fi
if ! mount -t binfmt_misc binfmt_misc "$bm" 2>/dev/null; then
  echo "sandbox: cannot mount a private binfmt_misc (kernel 6.7+ and unprivileged user namespaces needed)" >&2
  exit 77
fi
dev=$(stat -c %d "$bm")
if [ "$dev" = "$BINFMT_SANDBOX_HOST_DEV" ]; then
  echo "sandbox: $bm has the host's device number $dev: refusing" >&2
  exit 78
fi
content=$(ls -A "$bm" | tr '\n' ' ')
if [ "$content" != "register status " ]; then
  echo "sandbox: $bm is not a fresh instance (holds: $content): refusing" >&2
  exit 78
fi
exec "$@"
