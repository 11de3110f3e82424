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
set -eu
bm=/proc/sys/fs/binfmt_misc
if [ "${BINFMT_SANDBOX_INSIDE:-}" != 1 ]; then
  host_dev=$(stat -c %d "$bm" 2>/dev/null || echo none)
  export BINFMT_SANDBOX_INSIDE=1 BINFMT_SANDBOX_HOST_DEV="$host_dev"
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
      unshare --user --map-root-user --mount -- /bin/sh "$0" "$@"
  fi
  exec unshare --user --map-root-user --mount -- /bin/sh "$0" "$@"
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
