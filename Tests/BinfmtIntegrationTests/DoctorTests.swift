import Foundation
import Testing

/// `doctor` against the real kernel and qemu, each state built for real in a private
/// binfmt_misc (scripts/binfmt-sandbox.sh): the finding, the exit code and the fix are
/// asserted, then the printed fix is RUN (without `sudo`: the sandbox is root in its
/// namespace) and the doctor must turn green and the target run.
@Suite(.serialized) struct DoctorTests {
  let live = LiveTests()
  func sandboxed(_ script: String) throws -> Run { try live.sandboxed(HardeningTests.privateEtc + script) }
  func marks(_ r: Run) -> [String: String] { live.marks(r) }

  /// Shell: runs doctor on $1 (more args after), records @<tag>rc, @<tag>codes (error
  /// codes), @<tag>fix (the fix lines, `;`-joined) and then runs each fix line without sudo.
  static let helpers = """
    doc() { tag=$1; shift
      "$B" doctor --json "$@" > /run/$tag.json 2>/run/$tag.err; echo "@${tag}rc=$?"
      echo "@${tag}codes=$(python3 -c 'import json,sys; print(" ".join(f["code"] for f in json.load(sys.stdin)["findings"] if f["severity"]=="error"))' < /run/$tag.json)"
      "$B" doctor "$@" > /run/$tag.txt 2>&1
      echo "@${tag}fix=$(sed -n '/^Fix:/,$p' /run/$tag.txt | tail -n +2 | sed 's/^  //' | tr '\\n' ';')"
      echo "@${tag}verdict=$(head -1 /run/$tag.txt)"
    }
    runfix() { sed -n '/^Fix:/,$p' /run/$1.txt | tail -n +2 | sed 's/^  //; s/^sudo //; s/| sudo /| /' > /run/$1.fix
      while IFS= read -r line; do case "$line" in binfmtctl*) line="$B${line#binfmtctl}";; esac; sh -c "$line" >/dev/null 2>&1 || echo "@$1fixfailed=$line"; done < /run/$1.fix
    }

    """

  @Test func noEntryThenInstallThenRuns() throws {
    let r = try sandboxed(
      Self.helpers + """
        doc a "$F/busybox-arm64"
        runfix a
        doc b "$F/busybox-arm64"
        echo "@probe=$(tr -d '\\n ' < /run/b.json | grep -o '"probe":{[^}]*}')"
        echo "@runs=$("$F/busybox-arm64" uname -m)"
        """)
    let m = marks(r)
    #expect(m["arc"] == "1", "\(m) \(r.stderr)")
    #expect(m["acodes"] == "no-handler", "\(m)")
    #expect(m["afix"] == "sudo binfmtctl install aarch64;", "\(m)")
    #expect(m["afixfailed"] == nil, "\(m)")
    #expect(m["brc"] == "0", "\(m)")
    #expect(m["bcodes"] == "", "\(m)")
    #expect(m["bverdict"]?.contains("can run here now via qemu-aarch64") == true, "\(m)")
    #expect(m["probe"] == #""probe":{"ran":true,"result":"works"}"#, "\(m)")
    #expect(m["runs"] == "aarch64", "\(m)")
  }

  @Test func disabledEntryThenEnable() throws {
    let r = try sandboxed(
      Self.helpers + """
        "$B" install aarch64 >/dev/null 2>&1; "$B" disable qemu-aarch64 >/dev/null 2>&1
        doc a --platform linux/arm64/v8
        runfix a
        doc b --platform linux/arm64
        echo "@runs=$("$F/busybox-arm64" uname -m)"
        """)
    let m = marks(r)
    #expect(m["arc"] == "1" && m["acodes"] == "disabled", "\(m) \(r.stderr)")
    #expect(m["afix"] == "sudo binfmtctl enable qemu-aarch64;", "\(m)")
    #expect(m["brc"] == "0" && m["runs"] == "aarch64", "\(m)")
  }

  @Test func globallyDisabledThenEnabled() throws {
    let r = try sandboxed(
      Self.helpers + """
        "$B" install s390x >/dev/null 2>&1; echo 0 > /proc/sys/fs/binfmt_misc/status
        doc a "$F/busybox-s390x"
        runfix a
        doc b "$F/busybox-s390x"
        echo "@runs=$("$F/busybox-s390x" uname -m)"
        """)
    let m = marks(r)
    #expect(m["arc"] == "1" && m["acodes"] == "globally-disabled", "\(m) \(r.stderr)")
    #expect(m["afix"] == "echo 1 | sudo tee /proc/sys/fs/binfmt_misc/status;", "\(m)")
    #expect(m["brc"] == "0" && m["runs"] == "s390x", "\(m)")
  }

  @Test func noExecuteBitThenChmod() throws {
    let r = try sandboxed(
      Self.helpers + """
        "$B" install aarch64 >/dev/null 2>&1
        d=$(mktemp -d); cp "$F/busybox-arm64" $d/busybox; chmod 644 $d/busybox
        doc a $d/busybox
        runfix a
        doc b $d/busybox
        echo "@runs=$($d/busybox uname -m)"
        """)
    let m = marks(r)
    #expect(m["arc"] == "1" && m["acodes"] == "not-executable", "\(m) \(r.stderr)")
    #expect(m["afix"]?.hasPrefix("chmod +x /") == true, "\(m)")
    #expect(m["brc"] == "0" && m["runs"] == "aarch64", "\(m)")
  }

  @Test func noexecMountThenRemount() throws {
    let r = try sandboxed(
      Self.helpers + """
        "$B" install aarch64 >/dev/null 2>&1
        mkdir -p /run/ne && mount -t tmpfs -o noexec ne /run/ne || exit 77
        cp "$F/busybox-arm64" /run/ne/busybox
        doc a /run/ne/busybox
        runfix a
        doc b /run/ne/busybox
        echo "@runs=$(/run/ne/busybox uname -m)"
        """)
    let m = marks(r)
    #expect(m["arc"] == "1" && m["acodes"] == "noexec-mount", "\(m) \(r.stderr)")
    #expect(m["afix"]?.hasPrefix("sudo mount -o remount,exec ne /run/ne;") == true, "\(m)")
    #expect(m["brc"] == "0" && m["runs"] == "aarch64", "\(m)")
  }

  @Test func crlfScriptThenConverted() throws {
    let r = try sandboxed(
      Self.helpers + """
        d=$(mktemp -d); printf '#!/bin/sh\\r\\necho ran\\r\\n' > $d/s.sh; chmod 755 $d/s.sh
        doc a $d/s.sh --message "bash: $d/s.sh: /bin/sh^M: bad interpreter: No such file or directory"
        echo "@msg=$(grep -c 'bad-interpreter-crlf' /run/a.json)"
        runfix a
        doc b $d/s.sh
        echo "@runs=$($d/s.sh)"
        """)
    let m = marks(r)
    #expect(m["arc"] == "1" && m["acodes"] == "script-crlf", "\(m) \(r.stderr)")
    #expect(m["msg"] == "1", "\(m)")
    #expect(m["brc"] == "0" && m["runs"] == "ran", "\(m)")
  }

  /// A dynamic arm64 program without its loader on the host: the finding names libc6:arm64;
  /// the sysroot route (QEMU_LD_PREFIX at a real Debian arm64 root) is what the test runs,
  /// since apt would change the host.
  @Test func missingLoaderThenSysroot() throws {
    let rootfs = Env.packageRoot.appendingPathComponent(".fixtures/rootfs-arm64").path
    try #require(FileManager.default.fileExists(atPath: rootfs + "/lib/ld-linux-aarch64.so.1"), "make fixtures")
    try #require(!FileManager.default.fileExists(atPath: "/lib/ld-linux-aarch64.so.1"), "host has the arm64 loader")
    let r = try sandboxed(
      Self.helpers + """
        "$B" install aarch64 >/dev/null 2>&1
        doc a "$F/hello-arm64" --message "qemu-aarch64-static: Could not open '/lib/ld-linux-aarch64.so.1': No such file or directory"
        export QEMU_LD_PREFIX=\(rootfs)
        doc b "$F/hello-arm64"
        echo "@runs=$("$F/hello-arm64")"
        """)
    let m = marks(r)
    #expect(m["arc"] == "1" && m["acodes"] == "loader-missing", "\(m) \(r.stderr)")
    #expect(m["afix"]?.contains("sudo apt-get install -y libc6:arm64") == true, "\(m)")
    #expect(m["brc"] == "0", "\(m)")
    #expect(m["runs"] == "Hello, world!", "\(m)")
  }

  /// Without F, in a root file system that has no emulator: the container's "no such file".
  @Test func noFFlagInForeignRootThenReplace() throws {
    let rootfs = Env.packageRoot.appendingPathComponent(".fixtures/rootfs-arm64").path
    let r = try sandboxed(
      Self.helpers + """
        "$B" install aarch64 --flags P >/dev/null 2>&1
        doc a /usr/bin/arch --root \(rootfs)
        runfix a
        doc b /usr/bin/arch --root \(rootfs)
        echo "@runs=$(chroot \(rootfs) /usr/bin/arch 2>&1)"
        """)
    let m = marks(r)
    #expect(m["arc"] == "1" && m["acodes"] == "interpreter-missing-in-root", "\(m) \(r.stderr)")
    #expect(m["afix"]?.hasPrefix("sudo binfmtctl install --replace aarch64;") == true, "\(m)")
    #expect(m["afixfailed"] == nil, "\(m)")
    #expect(m["brc"] == "0", "\(m)")
    #expect(m["runs"] == "aarch64", "\(m)")
  }

  /// Two entries match; the newest (the winner) names an interpreter that is gone, the older
  /// one works: uninstalling the winner is the fix.
  @Test func brokenWinnerOverAWorkingEntry() throws {
    let r = try sandboxed(
      Self.helpers + """
        "$B" install aarch64 >/dev/null 2>&1
        printf ":broken:M::$M:$K:/run/gone:P\\n" > /proc/sys/fs/binfmt_misc/register || exit 77
        doc a "$F/busybox-arm64"
        runfix a
        doc b "$F/busybox-arm64"
        echo "@runs=$("$F/busybox-arm64" uname -m)"
        """)
    let m = marks(r)
    #expect(m["arc"] == "1" && m["acodes"] == "winner-broken", "\(m) \(r.stderr)")
    #expect(m["afix"]?.hasPrefix("sudo binfmtctl uninstall broken;") == true, "\(m)")
    #expect(m["afixfailed"] == nil, "\(m)")
    #expect(m["brc"] == "0" && m["runs"] == "aarch64", "\(m)")
  }

  /// A multi-call busybox through an entry without P runs (exit 0) with a warning whose fix
  /// clears it.
  @Test func multiCallWithoutP() throws {
    let r = try sandboxed(
      Self.helpers + """
        "$B" install aarch64 --flags F >/dev/null 2>&1
        doc a "$F/busybox-arm64"
        echo "@awarn=$(grep -c '"multi-call-without-P"' /run/a.json)"
        runfix a
        doc b "$F/busybox-arm64"
        echo "@bwarn=$(grep -c '"multi-call-without-P"' /run/b.json)"
        echo "@flags=$(grep flags /proc/sys/fs/binfmt_misc/qemu-aarch64)"
        """)
    let m = marks(r)
    #expect(m["arc"] == "0" && m["awarn"] == "1", "\(m) \(r.stderr)")
    #expect(m["afix"]?.contains("sudo binfmtctl install --replace aarch64;") == true, "\(m)")
    #expect(m["brc"] == "0" && m["bwarn"] == "0" && m["flags"] == "flags: PF", "\(m)")
  }

  /// Without --fix nothing changes: the table, its entries and /etc/binfmt.d are the same
  /// before and after every kind of doctor run.
  @Test func changesNothing() throws {
    let r = try sandboxed(
      """
      "$B" install aarch64 --flags P >/dev/null 2>&1; "$B" disable qemu-aarch64 >/dev/null 2>&1
      snap() { for f in /proc/sys/fs/binfmt_misc/*; do echo "== $f"; cat $f; done; ls -la /etc/binfmt.d /etc/systemd/system; }
      snap > /run/before
      "$B" doctor >/dev/null 2>&1; "$B" doctor "$F/busybox-arm64" >/dev/null 2>&1
      "$B" doctor --platform linux/s390x --json >/dev/null 2>&1
      echo 'exec /bin/uname: exec format error' | "$B" doctor --message - >/dev/null 2>&1
      snap > /run/after
      cmp -s /run/before /run/after; echo "@same=$?"
      echo "@leftover=$(ls ${TMPDIR:-/tmp} | grep -c binfmtctl-doctor)"
      """)
    let m = marks(r)
    #expect(m["same"] == "0", "\(m) \(r.stderr)")
    #expect(m["leftover"] == "0", "\(m)")
  }

  @Test func usageErrors() throws {
    #expect(try binfmtctl("doctor", "/bin/ls", "--platform", "linux/arm64").status == 2)
    #expect(try binfmtctl("doctor", "--root", "/").status == 2)
    #expect(try binfmtctl("doctor", "--platform", "windows/amd64").status == 2)
    #expect(try binfmtctl("doctor", "--platform", "linux/nonsense").status == 2)
  }
}
