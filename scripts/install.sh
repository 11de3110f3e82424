#!/usr/bin/env bash
# Installs binfmtctl's files where the FHS and systemd expect them for PREFIX, or removes
# exactly what an install put there. `make install` / `make uninstall` run it; `make deb`
# stages the package with it.
#
#   BIN=.build/release/binfmtctl PREFIX=/usr/local DESTDIR= scripts/install.sh install|uninstall|list
#
# Files (PREFIX=/usr/local):
#   bin/binfmtctl                                    the binary (0755)
#   share/man/man1/binfmtctl.1.gz                    binfmtctl(1), from scripts/gen-man.py
#   share/bash-completion/completions/binfmtctl      bash completion (bash-completion 2 loads it)
#   share/zsh/site-functions/_binfmtctl              zsh completion (on zsh's default fpath)
#   share/fish/vendor_completions.d/binfmtctl.fish   fish completion
#   lib/systemd/system/binfmtctl.service             the boot unit (ExecStart=PREFIX/bin/binfmtctl),
#                                                    not enabled: `binfmtctl persist` enables it
#   share/binfmtctl/install-manifest                 what was installed, for uninstall
# Overrides: BINDIR MANDIR SYSTEMDUNITDIR BASHCOMPDIR ZSHCOMPDIR FISHCOMPDIR; MANIFEST=none
# writes no manifest (the .deb: dpkg keeps the list). PREFIX=/usr puts the unit in
# /usr/lib/systemd/system.
#
# The manifest lists every file written and every directory created (that did not exist
# before); uninstall removes those files, then those directories if they are empty, and
# nothing else. Without a manifest it removes the files of `list` only.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
action=${1:-}
PREFIX=${PREFIX:-/usr/local}
PREFIX=${PREFIX%/}
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
BINDIR=${BINDIR:-$PREFIX/bin}
MANDIR=${MANDIR:-$PREFIX/share/man}
if [ -z "${SYSTEMDUNITDIR:-}" ]; then
  SYSTEMDUNITDIR=$PREFIX/lib/systemd/system
fi
BASHCOMPDIR=${BASHCOMPDIR:-$PREFIX/share/bash-completion/completions}
ZSHCOMPDIR=${ZSHCOMPDIR:-$PREFIX/share/zsh/site-functions}
FISHCOMPDIR=${FISHCOMPDIR:-$PREFIX/share/fish/vendor_completions.d}
MANIFEST=${MANIFEST:-$PREFIX/share/binfmtctl/install-manifest}

die() { echo "install.sh: $*" >&2; exit 1; }
case "$PREFIX" in /*) ;; *) die "PREFIX must be an absolute path, not '$PREFIX'" ;; esac
case "$DESTDIR" in "" | /*) ;; *) die "DESTDIR must be empty or an absolute path, not '$DESTDIR'" ;; esac
# The unit's ExecStart= and `persist --exec-path` take only characters that need no quoting.
for v in BINDIR MANDIR SYSTEMDUNITDIR BASHCOMPDIR ZSHCOMPDIR FISHCOMPDIR; do
  [[ "${!v}" =~ ^/[A-Za-z0-9/._+@,=-]*$ ]] || die "$v='${!v}': only an absolute path of letters, digits and / . _ - + @ , ="
done

# kind destination mode: the one list install writes and uninstall removes.
files() {
  cat <<EOF
binary $BINDIR/binfmtctl 0755
man $MANDIR/man1/binfmtctl.1.gz 0644
bash $BASHCOMPDIR/binfmtctl 0644
zsh $ZSHCOMPDIR/_binfmtctl 0644
fish $FISHCOMPDIR/binfmtctl.fish 0644
unit $SYSTEMDUNITDIR/binfmtctl.service 0644
EOF
}

# The contents of one kind, on stdout, from the built binary.
content() {
  case "$1" in
    binary) cat "$BIN" ;;
    man) python3 "$top/scripts/gen-man.py" "$BIN" | gzip -9n ;;
    # Sourced, never executed: no #! line (bash-completion's convention).
    bash) "$BIN" --generate-completion-script bash | sed '1{/^#!/d}' ;;
    zsh | fish) "$BIN" --generate-completion-script "$1" ;;
    unit) "$BIN" _unit systemd --packaged --exec "$BINDIR/binfmtctl" ;;
  esac
}

# Directories from $1 up that do not exist yet, deepest last.
missing_dirs() {
  local d=$1 out=()
  while [ ! -e "$DESTDIR$d" ] && [ "$d" != / ]; do
    out=("$d" "${out[@]}")
    d=$(dirname "$d")
  done
  [ ${#out[@]} -eq 0 ] || printf '%s\n' "${out[@]}"
}

install_all() {
  [ -n "${BIN:-}" ] || die "BIN is not set (the release binary: make release)"
  [ -x "$BIN" ] || die "BIN=$BIN is not an executable file (make release builds it)"
  "$BIN" --version >/dev/null || die "$BIN --version failed"
  local kind dest mode created=()
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  # Everything generated first: nothing is written unless all of it could be made.
  while read -r kind dest mode; do
    content "$kind" > "$stage/$kind" || die "cannot generate the $kind file from $BIN"
    [ -s "$stage/$kind" ] || die "the $kind file from $BIN is empty"
  done < <(files)
  local targets=()
  while read -r kind dest mode; do targets+=("$dest"); done < <(files)
  [ "$MANIFEST" = none ] || targets+=("$MANIFEST")
  # A reinstall keeps the directories the first install created (they exist now).
  if [ "$MANIFEST" != none ] && [ -f "$DESTDIR$MANIFEST" ]; then
    while read -r kind dest; do [ "$kind" != dir ] || created+=("$dest"); done < "$DESTDIR$MANIFEST"
  fi
  for dest in "${targets[@]}"; do
    while read -r d; do [ -z "$d" ] || created+=("$d"); done < <(missing_dirs "$(dirname "$dest")")
  done
  while read -r kind dest mode; do
    install -D -m "$mode" "$stage/$kind" "$DESTDIR$dest"
    echo "installed $DESTDIR$dest"
  done < <(files)
  if [ "$MANIFEST" != none ]; then
    {
      echo "# binfmtctl install manifest: files, then directories this install created (make uninstall)"
      files | while read -r kind dest mode; do echo "file $dest"; done
      echo "file $MANIFEST"
      # Unique, in creation order (parents first).
      printf '%s\n' "${created[@]}" | awk 'NF && !seen[$0]++ { print "dir " $0 }'
    } > "$stage/manifest"
    install -D -m 0644 "$stage/manifest" "$DESTDIR$MANIFEST"
    echo "installed $DESTDIR$MANIFEST"
  fi
  if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
    echo "the unit is installed, not enabled: sudo $BINDIR/binfmtctl persist ARCH... enables it (systemctl daemon-reload first if systemd runs)"
  fi
}

uninstall_all() {
  local m=$DESTDIR$MANIFEST kind path dirs=()
  if [ "$MANIFEST" != none ] && [ -f "$m" ]; then
    while read -r kind path; do
      case "$kind" in
        file) if [ -e "$DESTDIR$path" ] || [ -L "$DESTDIR$path" ]; then rm -f "$DESTDIR$path"; echo "removed $DESTDIR$path"; fi ;;
        dir) dirs=("$path" "${dirs[@]}") ;;
      esac
    done < <(grep -v '^#' "$m")
    # Deepest first; only if empty (something else may have been put there since).
    for path in "${dirs[@]}"; do rmdir "$DESTDIR$path" 2>/dev/null && echo "removed $DESTDIR$path/" || true; done
  else
    echo "no manifest at $m: removing the files of this version's list only" >&2
    while read -r kind path _; do
      if [ -e "$DESTDIR$path" ]; then rm -f "$DESTDIR$path"; echo "removed $DESTDIR$path"; fi
    done < <(files)
  fi
}

case "$action" in
  install) install_all ;;
  uninstall) uninstall_all ;;
  list) files | while read -r kind dest mode; do echo "$dest"; done; [ "$MANIFEST" = none ] || echo "$MANIFEST" ;;
  *) die "usage: BIN=... PREFIX=... DESTDIR=... $0 install|uninstall|list" ;;
esac
