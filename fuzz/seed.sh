#!/usr/bin/env bash
# Builds the seed corpora fuzz/corpus/<target>/ anew (they are not committed: fuzz/.gitignore):
# the first 8 KB of the real foreign binaries `make fixtures` puts in .fixtures/bin, the
# committed binfmt.d/*.conf files and the register strings in them, and hand-written seeds.
# Missing fixtures are skipped with a note (run `make fixtures` for the ELF seeds).
#
#   fuzz/seed.sh             every target
#   fuzz/seed.sh elf shebang only these
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
corpus=fuzz/corpus
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(elf register binfmtd status wslconf shebang)

# seed TARGET NAME: the seed's bytes from stdin.
seed() { cat > "$corpus/$1/$2"; }

seed_elf() {
  local n=0 f
  for f in .fixtures/bin/*; do
    [ -f "$f" ] || continue
    head -c 8192 "$f" | seed elf "$(basename "$f")-8k"
    head -c 4096 "$f" | seed elf "$(basename "$f")-4k"
    n=$((n + 1))
  done
  [ $n -gt 0 ] || echo "fuzz/seed.sh: no fixtures in .fixtures/bin (make fixtures): elf seeds are hand-written only" >&2
  # The host's own programs: x86-64, dynamic (PT_INTERP) and with notes.
  for f in /bin/sh /usr/bin/env; do [ -f "$f" ] && head -c 8192 "$f" | seed elf "host-$(basename "$f")-8k"; done
  # A bare ELF32 LSB header with no program headers, and one cut short.
  {
    printf '\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00\x01\x00\x00\x00'
    head -c 32 /dev/zero
  } | seed elf elf32-bare
  printf '\x7fELF\x02\x02\x01' | seed elf elf64-truncated
  printf 'MZ\x90\x00' | seed elf pe
}

seed_register() {
  local f line i=0
  for f in binfmt.d/*.conf; do
    while IFS= read -r line; do
      case "$line" in '#'* | ';'* | '') continue ;; esac
      printf '%s\n' "$line" | seed register "$(basename "$f" .conf)"
      i=$((i + 1))
    done < "$f"
  done
  printf ':DOSWin:E::exe::/usr/bin/wine:' | seed register ext
  printf '|qemu-x|M|2|\\x45\\x4cF||/usr/bin/qemu-x|POC\n' | seed register other-delimiter
  printf ':raw:M:0:\x7fELF:\xff\xff\xff\xff:/i:F' | seed register raw-magic
  printf ':off:M:+18:\\xb7\\x00:\\xff\\xfe:/usr/bin/i:' | seed register offset-sign
  printf ':java:M::\\xca\\xfe\\xba\\xbe::/usr/bin/jexec:C' | seed register credentials
}

seed_binfmtd() {
  local f
  for f in binfmt.d/*.conf; do seed binfmtd "$(basename "$f")" < "$f"; done
  printf '# comment\n; also a comment\n\n  :DOSWin:E::exe::/usr/bin/wine:  \n\t:qemu-x:M::\\x7fELF::/usr/bin/q:PF\t\n' |
    seed binfmtd comments-and-blanks
  printf ':a:E::a::/bin/a:\n:b:E::b::/bin/b:P' | seed binfmtd two-no-final-newline
}

seed_status() {
  local f name type offset magic mask interp flags
  for f in binfmt.d/qemu-aarch64.conf binfmt.d/qemu-arm.conf binfmt.d/qemu-mips64el.conf binfmt.d/qemu-riscv64.conf; do
    IFS=':' read -r _ name type offset magic mask interp flags < <(grep -v '^#' "$f")
    printf 'enabled\ninterpreter %s\nflags: %s\noffset %s\nmagic %s\nmask %s\n' \
      "$interp" "$flags" "${offset:-0}" "${magic//\\x/}" "${mask//\\x/}" | seed status "$name"
  done
  printf 'disabled\ninterpreter /usr/bin/wine\nflags: \nextension .exe\n' | seed status extension
  printf 'enabled\ninterpreter /usr/bin/jexec\nflags: OC\noffset 0\nmagic cafebabe\n' | seed status no-mask
  printf 'enabled\ninterpreter /i\nflags: F\noffset 18\nmagic b700\nmask fffe\nfuture-field 1\n' | seed status unknown-line
}

seed_wslconf() {
  printf '[automount]\nenabled = true\n\n[boot]\nsystemd=true\n' | seed wslconf boot-systemd
  printf '[boot]\ncommand = /usr/local/bin/binfmtctl boot\n' | seed wslconf our-command
  printf '[boot]\ncommand = "/usr/local/bin/binfmtctl boot"\n' | seed wslconf our-command-quoted
  printf '[boot]\ncommand = service docker start\n' | seed wslconf other-command
  printf '[network]\nhostname = box\ngenerateHosts = false' | seed wslconf no-boot-no-newline
  printf '[user]\ndefault=me\n[Boot]\n# comment\n; command = nothing\n[interop]\nenabled=false\n' | seed wslconf boot-case
  printf '[boot]\n# binfmtctl-managed: section added by binfmtctl\n# binfmtctl-managed: registers persisted binfmt_misc entries at boot\ncommand = /usr/local/bin/binfmtctl boot\n' |
    seed wslconf ours-added
  printf '' | seed wslconf empty
}

seed_shebang() {
  local f
  for f in scripts/*.sh fuzz/*.sh; do [ -f "$f" ] && head -c 256 "$f" | seed shebang "$(basename "$f")"; done
  printf '#!/bin/sh\necho hi\n' | seed shebang sh
  printf '#! /usr/bin/env  python3 \nprint()\n' | seed shebang env-blanks
  printf '#!/usr/bin/env -S awk -f\n' | seed shebang env-split
  printf '#!\t/bin/bash\t-e\t\n' | seed shebang tabs
  printf '#!/bin/sh\r\necho\r\n' | seed shebang crlf
  printf '#!' | seed shebang empty
  printf '#!/%s' "$(printf 'a%.0s' {1..300})" | seed shebang long
}

for t in "${targets[@]}"; do
  declare -F "seed_$t" > /dev/null || { echo "fuzz/seed.sh: no target $t" >&2; exit 2; }
  rm -rf "${corpus:?}/$t"
  mkdir -p "$corpus/$t"
  "seed_$t"
  echo "fuzz/seed.sh: $corpus/$t: $(find "$corpus/$t" -type f | wc -l) seeds"
done
