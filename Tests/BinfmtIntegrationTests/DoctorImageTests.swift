import Foundation
import Testing

/// `doctor --image` in a private binfmt_misc sandbox against a stand-in engine on PATH: a shell
/// script answering `image inspect`, `image mount`/`unmount`, `create`, `export` and `rm` for
/// one image whose root is a directory with the real arm64 busybox. The stand-in logs every
/// call, so the tests see that what was mounted or created is undone. The real podman and
/// docker are tested by systemtests/containers/doctor.sh (`make test-containers`).
@Suite(.serialized) struct DoctorImageTests {
  let live = LiveTests()

  /// $d/root is the image (bin/busybox, bin/uname → /bin/busybox, /entry.sh), $d/bin has the
  /// stand-in as podman and docker, TMPDIR is $d/tmp. FAKE_CMD is the image's Cmd (JSON
  /// array members), FAKE_ROOTLESS makes `image mount` refuse as rootless podman does.
  static let setup = #"""
    d=$(mktemp -d); mkdir -p $d/bin $d/root/bin $d/tmp
    cp "$F/busybox-arm64" $d/root/bin/busybox; chmod 755 $d/root/bin/busybox
    ln -s /bin/busybox $d/root/bin/uname; ln -s busybox $d/root/bin/sh
    mkdir $d/root/usr; ln -s /bin $d/root/usr/bin
    printf '#!/bin/sh\nexec uname -m\n' > $d/root/entry.sh; chmod 755 $d/root/entry.sh
    cat > $d/bin/podman <<'EOF'
    #!/bin/sh
    echo "${0##*/} $*" >> "$FAKE_LOG"
    case "$1 $2" in
    "image inspect")
      [ "$3" = localhost/fake:1 ] || { echo "Error: $3: image not known" >&2; exit 125; }
      echo '[{"Id":"abc","Os":"linux","Architecture":"'"${FAKE_ARCH-arm64}"'","Variant":"v8","Config":{"Env":["PATH=/usr/bin:/bin"],"Cmd":['"${FAKE_CMD-\"uname\",\"-m\"}"'],"WorkingDir":""}}]'
      exit 0 ;;
    "image mount")
      if [ -n "$FAKE_ROOTLESS" ]; then echo 'Error: cannot run command "podman image mount" in rootless mode' >&2; exit 125; fi
      echo "$FAKE_ROOT"; exit 0 ;;
    "image unmount") exit 0 ;;
    esac
    case "$1" in
    create) [ -z "$FAKE_NOCREATE" ] || { echo "Error: no space left on device" >&2; exit 1; }; echo 0123456789abcdef ;;
    export) [ -z "$FAKE_SLOW" ] || sleep 2; tar -cf "$3" -C "$FAKE_ROOT" . ;;
    rm) ;;
    *) echo "stand-in engine: unexpected $*" >&2; exit 99 ;;
    esac
    EOF
    chmod 755 $d/bin/podman; cp $d/bin/podman $d/bin/docker
    export PATH=$d/bin:$PATH FAKE_ROOT=$d/root FAKE_LOG=$d/calls TMPDIR=$d/tmp
    : > $d/calls
    cat > $d/codes.py << 'PY'
    import json, sys
    t = sys.argv[1]
    try:
        j = json.load(sys.stdin)
    except Exception:
        sys.exit(0)
    print(f"@{t}codes=" + " ".join(f["code"] for f in j["findings"]))
    print(f"@{t}errors=" + " ".join(f["code"] for f in j["findings"] if f["severity"] == "error"))
    print(f"@{t}target=" + j["target"])
    print(f"@{t}image=" + " ".join(f["evidence"] for f in j["findings"] if f["code"] == "image"))
    print(f"@{t}fix=" + ";".join(j["fix"]))
    print(f"@{t}probe=" + j["probe"]["result"])
    PY
    # img TAG ARGS: doctor --json; @TAGrc, @TAGcodes (every code), @TAGerrors, @TAGtarget,
    # @TAGimage (the image finding's evidence), @TAGfix, @TAGprobe, @TAGerr (stderr's first line)
    img() { tag=$1; shift
      "$B" doctor --json "$@" > $d/$tag.json 2> $d/$tag.err; echo "@${tag}rc=$?"
      python3 $d/codes.py "$tag" < $d/$tag.json
      echo "@${tag}err=$(head -n 1 $d/$tag.err)"
    }
    calls() { echo "@calls=$(tr '\n' ';' < $d/calls)"; echo "@tmp=$(ls -A $d/tmp | wc -l)"; }

    """#

  func sandboxed(_ script: String) throws -> [String: String] {
    let r = try live.sandboxed(Self.setup + script)
    let m = live.marks(r)
    #expect(r.status == 0, "\(r.stderr)")
    return m
  }

  @Test func podmanMountNoEntryThenInstall() throws {
    let m = try sandboxed(
      """
      img a --image localhost/fake:1
      "$B" install aarch64 > /dev/null 2>&1
      img b --image localhost/fake:1
      calls
      """)
    #expect(m["arc"] == "1", "\(m)")
    #expect(m["acodes"]?.hasPrefix("image file elf ") == true && m["acodes"]?.hasSuffix(" no-handler") == true, "\(m)")
    #expect(m["aerrors"] == "no-handler", "\(m)")
    #expect(m["atarget"] == "localhost/fake:1", "\(m)")
    #expect(m["afix"] == "sudo binfmtctl install aarch64", "\(m)")
    // uname, found in the image's PATH, is a symlink to /bin/busybox inside the image (not the host's).
    #expect(
      m["aimage"]?.hasPrefix("runs uname -m → /bin/busybox; root file system: podman image mount") == true, "\(m)")
    #expect(m["brc"] == "0" && m["berrors"] == "" && m["bprobe"] == "works", "\(m)")
    #expect(
      m["calls"]
        == "podman image inspect localhost/fake:1;podman image mount localhost/fake:1;podman image unmount localhost/fake:1;podman image inspect localhost/fake:1;podman image mount localhost/fake:1;podman image unmount localhost/fake:1;",
      "\(m)")
  }

  @Test func dockerExportIsUnpackedAndRemoved() throws {
    let m = try sandboxed(
      """
      "$B" install aarch64 > /dev/null 2>&1
      img a --image localhost/fake:1 --engine docker
      calls
      """)
    #expect(m["arc"] == "0" && m["aerrors"] == "" && m["aprobe"] == "works", "\(m)")
    #expect(m["aimage"]?.contains("docker create + export, unpacked to a temporary directory") == true, "\(m)")
    #expect(m["calls"]?.contains("docker rm -f 0123456789abcdef;") == true, "\(m)")
    #expect(m["calls"]?.contains("podman") == false, "\(m)")
    #expect(m["tmp"] == "0", "\(m)")
  }

  @Test func rootlessPodmanFallsBackToExport() throws {
    let m = try sandboxed(
      """
      "$B" install aarch64 > /dev/null 2>&1
      export FAKE_ROOTLESS=1
      img a --image localhost/fake:1
      calls
      """)
    #expect(m["arc"] == "0", "\(m)")
    #expect(m["aimage"]?.contains("podman image mount: Error: cannot run command") == true, "\(m)")
    #expect(m["aimage"]?.contains("podman create + export") == true, "\(m)")
    #expect(m["calls"]?.contains("podman rm -f 0123456789abcdef;") == true, "\(m)")
    #expect(m["tmp"] == "0", "\(m)")
  }

  /// SIGTERM while the export runs: the container is removed and the temporary directory
  /// emptied first, then the signal ends binfmtctl.
  @Test func aSignalWaitsForTheCleanUp() throws {
    let m = try sandboxed(
      """
      export FAKE_SLOW=1
      "$B" doctor --image localhost/fake:1 --engine docker > /dev/null 2>&1 &
      pid=$!
      sleep 1; kill -TERM $pid; wait $pid; echo "@rc=$?"
      calls
      """)
    #expect(m["rc"] == "143", "\(m)")
    #expect(m["calls"]?.contains("docker rm -f 0123456789abcdef;") == true, "\(m)")
    #expect(m["tmp"] == "0", "\(m)")
  }

  /// A script entrypoint: the kernel runs its interpreter, so that is what is diagnosed; a
  /// program that is not in the image is file-missing, and the platform is still checked.
  @Test func scriptEntrypointAndMissingProgram() throws {
    let m = try sandboxed(
      """
      "$B" install aarch64 --flags P > /dev/null 2>&1
      export FAKE_CMD='"/entry.sh"'
      img a --image localhost/fake:1
      FAKE_CMD='"nope"'
      img b --image localhost/fake:1
      FAKE_CMD=''
      img c --image localhost/fake:1
      unset FAKE_CMD
      img d --image localhost/fake:1 /bin/busybox
      # /usr/bin is an absolute link to /bin inside the image: followed there, not on this host.
      img e --image localhost/fake:1 /usr/bin/busybox
      """)
    // No F: the emulator is not inside the image.
    #expect(m["arc"] == "1" && m["aerrors"] == "interpreter-missing-in-root", "\(m)")
    #expect(m["aimage"]?.hasPrefix("runs /entry.sh, a script for /bin/sh → /bin/busybox") == true, "\(m)")
    #expect(m["brc"] == "1" && m["berrors"]?.hasPrefix("file-missing") == true, "\(m)")
    #expect(m["bcodes"]?.contains("no-F-flag") == true, "\(m)")
    #expect(m["crc"] == "1" && m["cerrors"]?.hasPrefix("image-no-command") == true, "\(m)")
    // PATH given: that file inside the image.
    #expect(m["drc"] == "1" && m["dimage"]?.hasPrefix("runs /bin/busybox;") == true, "\(m)")
    #expect(m["erc"] == "1" && m["eerrors"] == "interpreter-missing-in-root", "\(m)")
    #expect(m["eimage"]?.hasPrefix("runs /usr/bin/busybox → /bin/busybox;") == true, "\(m)")
  }

  /// No root file system (the engine cannot create the container): the platform alone is
  /// diagnosed, with a warning that says why the program was not.
  @Test func unreadableRootFallsBackToThePlatform() throws {
    let m = try sandboxed(
      """
      "$B" install aarch64 > /dev/null 2>&1
      export FAKE_NOCREATE=1
      img a --image localhost/fake:1 --engine docker
      "$B" disable qemu-aarch64 > /dev/null 2>&1
      img b --image localhost/fake:1 --engine docker
      calls
      """)
    #expect(m["arc"] == "0" && m["aprobe"] == "works", "\(m)")
    #expect(m["acodes"]?.hasPrefix("image-rootfs-unreadable handler") == true, "\(m)")
    #expect(m["atarget"] == "localhost/fake:1", "\(m)")
    #expect(m["brc"] == "1" && m["berrors"] == "disabled", "\(m)")
    #expect(m["calls"]?.contains("docker rm") == false && m["tmp"] == "0", "\(m)")
  }

  /// The image says s390x, its program is arm64: the program decides, with a warning.
  @Test func platformMismatchIsAWarning() throws {
    let m = try sandboxed(
      """
      "$B" install aarch64 > /dev/null 2>&1
      export FAKE_ARCH=s390x
      img a --image localhost/fake:1
      """)
    #expect(m["arc"] == "0" && m["aprobe"] == "works", "\(m)")
    #expect(m["acodes"]?.hasPrefix("image image-platform-mismatch file elf handler") == true, "\(m)")
  }

  @Test func unknownImageOrNoEngineIsAUsageError() throws {
    let m = try sandboxed(
      """
      img a --image localhost/nope:1
      PATH=/nonexistent "$B" doctor --image localhost/fake:1 > /dev/null 2> $d/b.err; echo "@brc=$?"
      echo "@berr=$(head -n 1 $d/b.err)"
      img c --image localhost/fake:1 --platform linux/arm64
      "$B" doctor --engine podman /bin/sh > /dev/null 2>&1; echo "@erc=$?"
      calls
      """)
    #expect(m["arc"] == "2", "\(m)")
    #expect(
      m["aerr"]
        == "binfmtctl: error: --image: no local image localhost/nope:1 in podman or docker (podman: Error: localhost/nope:1: image not known; docker: Error: localhost/nope:1: image not known)",
      "\(m)")
    #expect(m["brc"] == "2" && m["berr"]?.contains("podman or docker is not installed") == true, "\(m)")
    #expect(m["crc"] == "2" && m["erc"] == "2", "\(m)")
    #expect(m["calls"]?.contains("mount") == false && m["calls"]?.contains("create") == false, "\(m)")
  }
}
