import BinfmtKit
import Foundation
import Testing

/// `persist`, `unpersist` and `boot`: files on temporary roots (--root), the unit checked by
/// systemd-analyze, Debian's systemd-binfmt as the oracle, and the boot reconcile in a
/// private binfmt_misc instance.
@Suite(.serialized) struct PersistTests {
  /// A fake system root with a systemd and the two emulators.
  func makeRoot(debianFiles: [String] = []) throws -> URL {
    let r = try tempDir()
    let fm = FileManager.default
    for d in ["usr/bin", "usr/lib/binfmt.d", "lib/systemd", "etc"] {
      try fm.createDirectory(at: r.appendingPathComponent(d), withIntermediateDirectories: true)
    }
    _ = fm.createFile(atPath: r.appendingPathComponent("lib/systemd/systemd").path, contents: Data())
    for q in ["aarch64", "s390x"] {
      try fm.copyItem(
        atPath: "/usr/bin/qemu-\(q)-static", toPath: r.appendingPathComponent("usr/bin/qemu-\(q)-static").path)
    }
    for f in debianFiles {
      try fm.copyItem(atPath: "/usr/lib/binfmt.d/\(f)", toPath: r.appendingPathComponent("usr/lib/binfmt.d/\(f)").path)
    }
    return r
  }

  /// Every file and symlink under `root` (not directories), with contents or link targets.
  func tree(_ root: URL) throws -> [String: String] {
    var out: [String: String] = [:]
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: root.path) else { return out }
    while let rel = e.nextObject() as? String {
      let p = root.appendingPathComponent(rel).path
      if let dest = try? fm.destinationOfSymbolicLink(atPath: p) {
        out[rel] = "-> " + dest
      } else if let attrs = try? fm.attributesOfItem(atPath: p), attrs[.type] as? FileAttributeType == .typeRegular {
        out[rel] = (try? String(contentsOfFile: p, encoding: .utf8)) ?? "<binary>"
      }
    }
    return out
  }

  @Test func systemdRootFilesAndExactUnpersist() throws {
    let root = try makeRoot(debianFiles: ["qemu-aarch64.conf"])
    let before = try tree(root)
    let p = try binfmtctl("persist", "--root", root.path, "arm64", "s390x")
    #expect(p.status == 0, "\(p.stderr)")
    let after = try tree(root)
    let added = Set(after.keys).subtracting(before.keys)
    #expect(
      added == [
        "etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf", "etc/binfmt.d/zz-binfmtctl-qemu-s390x.conf",
        "etc/systemd/system/binfmtctl.service", "etc/systemd/system/sysinit.target.wants/binfmtctl.service",
      ])
    let arm = Catalog.standard.resolve("arm64")!
    #expect(
      try after["etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf"]
        == Persistence.fileText(arm.registration(), architecture: arm))
    #expect(
      after["etc/systemd/system/sysinit.target.wants/binfmtctl.service"] == "-> /etc/systemd/system/binfmtctl.service")
    let committedUnit = try String(
      contentsOf: Env.packageRoot.appendingPathComponent("units/binfmtctl.service"), encoding: .utf8)
    #expect(after["etc/systemd/system/binfmtctl.service"] == committedUnit)
    // Debian ships qemu-aarch64.conf with other flags: persist says which one wins at boot.
    #expect(
      p.stderr.contains(
        "defined in /usr/lib/binfmt.d/qemu-aarch64.conf, then /etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf, applied in that order at boot; ours wins"
      ), "\(p.stderr)")

    let again = try binfmtctl("persist", "--root", root.path, "arm64", "s390x", "--json")
    #expect(again.status == 0)
    let files = try #require((try json(again.stdout) as? [String: Any])?["files"] as? [[String: String]])
    #expect(files.allSatisfy { $0["action"] == "unchanged" }, "\(files)")

    let changed = try binfmtctl("persist", "--root", root.path, "arm64", "--flags", "F")
    #expect(changed.status == 5 && changed.stderr.contains("--replace"))
    #expect(try tree(root) == after)

    let one = try binfmtctl("unpersist", "--root", root.path, "s390x")
    #expect(one.status == 0)
    #expect(try tree(root)["etc/binfmt.d/zz-binfmtctl-qemu-s390x.conf"] == nil)
    let un = try binfmtctl("unpersist", "--root", root.path, "--all")
    #expect(un.status == 0, "\(un.stderr)")
    #expect(try tree(root) == before)
  }

  @Test func refusesSymlinksForeignFilesAndMasks() throws {
    let root = try makeRoot()
    let fm = FileManager.default
    let dir = root.appendingPathComponent("etc/binfmt.d")
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    let victim = root.appendingPathComponent("victim")
    try "precious\n".write(to: victim, atomically: true, encoding: .utf8)
    let ours = dir.appendingPathComponent("zz-binfmtctl-qemu-aarch64.conf")
    try fm.createSymbolicLink(atPath: ours.path, withDestinationPath: victim.path)
    let r = try binfmtctl("persist", "--root", root.path, "arm64", "s390x")
    #expect(r.status == 5 && r.stderr.contains("not written by binfmtctl"), "\(r.stderr)")
    #expect(try String(contentsOf: victim, encoding: .utf8) == "precious\n")
    // Nothing at all was written: validation comes before the first write.
    #expect(!fm.fileExists(atPath: dir.appendingPathComponent("zz-binfmtctl-qemu-s390x.conf").path))
    #expect(!fm.fileExists(atPath: root.appendingPathComponent("etc/systemd/system/binfmtctl.service").path))

    try fm.removeItem(at: ours)
    try fm.createSymbolicLink(atPath: ours.path, withDestinationPath: "/dev/null")
    let masked = try binfmtctl("persist", "--root", root.path, "arm64")
    #expect(masked.status == 5 && masked.stderr.contains("masked"), "\(masked.stderr)")

    try fm.removeItem(at: ours)
    try "# the admin's own\n:qemu-aarch64:M::ab::/x:\n".write(to: ours, atomically: true, encoding: .utf8)
    let foreign = try binfmtctl("persist", "--root", root.path, "arm64")
    #expect(foreign.status == 5)
    let un = try binfmtctl("unpersist", "--root", root.path, "--all")
    #expect(un.status == 0)
    #expect(try String(contentsOf: ours, encoding: .utf8) == "# the admin's own\n:qemu-aarch64:M::ab::/x:\n")
  }

  /// Without permission to write, persist fails before its first write, naming the directory.
  @Test func notRootWritesNothing() throws {
    let root = try makeRoot()
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root.path)
    let before = try tree(root)
    let r = try run(
      "/usr/bin/setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", Env.binary, "persist", "--root", root.path, "arm64"])
    #expect(r.status == 4 && r.stderr.contains("cannot write here") && r.stderr.contains("sudo"), "\(r.stderr)")
    #expect(try tree(root) == before)
  }

  /// A run killed between writing its temp file and renaming it leaves the old file intact
  /// (AtomicFileTests checks that moment in-process) and a hidden temp file behind; the next
  /// run is not confused by it.
  @Test func leftoverTempFileDoesNotConfuseTheNextRun() throws {
    let root = try makeRoot()
    #expect(try binfmtctl("persist", "--root", root.path, "arm64").status == 0)
    let path = root.appendingPathComponent("etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf")
    let leftover = root.appendingPathComponent("etc/binfmt.d/.zz-binfmtctl-qemu-aarch64.conf.tmp.99999")
    try "half-written".write(to: leftover, atomically: false, encoding: .utf8)
    let again = try binfmtctl("persist", "--root", root.path, "arm64", "--flags", "F", "--replace")
    #expect(again.status == 0, "\(again.stderr)")
    #expect(try String(contentsOf: path, encoding: .utf8).hasSuffix(":F\n"))
  }

  @Test func openrcRoot() throws {
    let root = try makeRoot()
    let before = try tree(root)
    let r = try binfmtctl("persist", "--root", root.path, "--init", "openrc", "arm64")
    #expect(r.status == 0, "\(r.stderr)")
    let after = try tree(root)
    let committed = try String(
      contentsOf: Env.packageRoot.appendingPathComponent("units/openrc/binfmtctl"), encoding: .utf8)
    #expect(after["etc/init.d/binfmtctl"] == committed)
    #expect(after["etc/runlevels/boot/binfmtctl"] == "-> /etc/init.d/binfmtctl")
    let mode =
      try FileManager.default.attributesOfItem(atPath: root.appendingPathComponent("etc/init.d/binfmtctl").path)[
        .posixPermissions] as? Int
    #expect(mode == 0o755)
    #expect(try binfmtctl("unpersist", "--root", root.path, "--all").status == 0)
    #expect(try tree(root) == before)
  }

  @Test func wslConfMergedAndRestored() throws {
    let root = try makeRoot()
    let conf = root.appendingPathComponent("etc/wsl.conf")
    let original = "# WSL settings\n[automount]\nenabled = true  # keep\n\n[network]\nhostname = dev\n"
    try original.write(to: conf, atomically: true, encoding: .utf8)
    let r = try binfmtctl("persist", "--root", root.path, "--init", "wsl", "arm64")
    #expect(r.status == 0, "\(r.stderr)")
    let merged = try String(contentsOf: conf, encoding: .utf8)
    #expect(merged.hasPrefix(original))
    #expect(merged.contains("[boot]\n") && merged.contains("command = /usr/local/bin/binfmtctl boot\n"))
    #expect(try binfmtctl("persist", "--root", root.path, "--init", "wsl", "arm64").status == 0)
    #expect(try String(contentsOf: conf, encoding: .utf8) == merged)
    #expect(try binfmtctl("unpersist", "--root", root.path, "--all").status == 0)
    #expect(try String(contentsOf: conf, encoding: .utf8) == original)

    // Someone else's boot command: refused, and nothing is written at all.
    let theirs = original + "[boot]\ncommand = service docker start\n"
    try theirs.write(to: conf, atomically: true, encoding: .utf8)
    let c = try binfmtctl("persist", "--root", root.path, "--init", "wsl", "arm64")
    #expect(c.status == 5 && c.stderr.contains("service docker start"), "\(c.stderr)")
    #expect(try String(contentsOf: conf, encoding: .utf8) == theirs)
    #expect(
      !FileManager.default.fileExists(
        atPath: root.appendingPathComponent("etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf").path))
  }

  /// units/ matches what persist installs, and systemd-analyze verify accepts every unit.
  @Test func unitsVerify() throws {
    let units = Env.packageRoot.appendingPathComponent("units")
    let service = try String(contentsOf: units.appendingPathComponent("binfmtctl.service"), encoding: .utf8)
    #expect(try binfmtctl("_unit", "systemd").stdout == service)
    #expect(
      try binfmtctl("_unit", "openrc").stdout
        == (try String(contentsOf: units.appendingPathComponent("openrc/binfmtctl"), encoding: .utf8)))
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = try tempDir()
    let copy = dir.appendingPathComponent("binfmtctl.service")
    try service.replacingOccurrences(of: "/usr/local/bin/binfmtctl", with: Env.binary).write(
      to: copy, atomically: true, encoding: .utf8)
    let v = try run("/usr/bin/systemd-analyze", ["verify", copy.path])
    #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
    #expect(v.stderr.isEmpty, "\(v.stderr)")
    let sh = try run("/bin/sh", ["-n", units.appendingPathComponent("openrc/binfmtctl").path])
    #expect(sh.status == 0)
  }

  /// Oracle: the files persist writes, applied by Debian's systemd-binfmt in one private
  /// instance, give exactly the entries `binfmtctl install` gives in another.
  @Test func systemdBinfmtAppliesPersistedFilesExactlyLikeInstall() throws {
    let root = try tempDir()
    try FileManager.default.createDirectory(at: root.appendingPathComponent("usr"), withIntermediateDirectories: true)
    // The image shares the host's emulators (a bind would do; a symlinked /usr/bin is enough).
    try FileManager.default.createSymbolicLink(
      atPath: root.appendingPathComponent("usr/bin").path, withDestinationPath: "/usr/bin")
    let p = try binfmtctl("persist", "--root", root.path, "--all", "--init", "none")
    #expect(p.status == 0, "\(p.stderr)")
    let dir = root.appendingPathComponent("etc/binfmt.d").path
    let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".conf") }
    #expect(files.count >= 30)
    let theirs = parseSections(
      try inSandbox(#"/lib/systemd/systemd-binfmt "$1"/*.conf; "# + dumpTable, [dir]).stdout[...])
    let ours = parseSections(
      try inSandbox(#""$1" install --all >/dev/null 2>&1; "# + dumpTable, [Env.binary]).stdout[...])
    #expect(theirs.count == files.count)
    #expect(theirs == ours)
  }

  /// The boot reconcile and drift, in a private binfmt_misc with private /etc/binfmt.d.
  @Test func bootReconcilesAndStatusShowsDrift() throws {
    let sandbox = Env.packageRoot.appendingPathComponent("scripts/binfmt-sandbox.sh").path
    let script = """
      B="$1"; F="$2"
      mount -t tmpfs etc-binfmt /etc/binfmt.d && mount -t tmpfs etc-systemd /etc/systemd/system || exit 77
      "$B" persist arm64 s390x --init none >/dev/null 2>&1; echo "@persist=$?"
      "$B" status --json > /tmp/s1.$$; echo "@status1=$?"
      echo -1 > /proc/sys/fs/binfmt_misc/status
      "$B" status >/dev/null; echo "@status-flushed=$?"
      "$F/busybox-arm64" true 2>/dev/null; echo "@run-flushed=$?"
      "$B" boot; echo "@boot=$?"
      echo "@run=$("$F/busybox-arm64" uname -m)"
      "$B" boot; echo "@boot-again=$?"
      "$B" install --replace --flags F arm64 >/dev/null; "$B" boot; echo "@boot-fix=$?"
      echo "@flags=$(grep flags /proc/sys/fs/binfmt_misc/qemu-aarch64)"
      "$B" install riscv64 >/dev/null; "$B" status --json > /tmp/s2.$$
      "$B" persist >/dev/null 2>&1; echo "@persist-live=$?"
      echo "@files=$(echo $(ls /etc/binfmt.d))"
      printf '%s\\n:qemu-sparc:M::\\\\x7fELF::/nonexistent/qemu-sparc:F\\n' "$(head -1 /etc/binfmt.d/zz-binfmtctl-qemu-s390x.conf)" > /etc/binfmt.d/zz-binfmtctl-qemu-sparc.conf
      "$B" boot; echo "@boot-bad=$?"
      printf '@json1=%s\\n' "$(tr -d '\\n' < /tmp/s1.$$)"
      printf '@json2=%s\\n' "$(tr -d '\\n' < /tmp/s2.$$)"
      """
    let r = try run(
      "/bin/sh", [sandbox, "/bin/sh", "-c", script, "sandbox", Env.binary, Env.fixtures.path], timeout: 120)
    try #require(r.status != 77 && r.status != 78, "no sandbox: \(r.stderr)")
    var m: [String: String] = [:]
    for line in r.stdout.split(separator: "\n") where line.hasPrefix("@") {
      let kv = line.dropFirst().split(separator: "=", maxSplits: 1)
      m[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
    }
    #expect(m["persist"] == "0", "\(r.stdout)\(r.stderr)")
    #expect(m["status1"] == "1")  // no boot service in the sandbox (init none): reported
    #expect(m["status-flushed"] == "1")
    #expect(m["run-flushed"] != "0")
    #expect(m["boot"] == "0")
    #expect(r.stderr.contains("binfmtctl boot: 2 persisted: 0 already live, 2 registered, 0 failed"), "\(r.stderr)")
    #expect(m["run"] == "aarch64")
    #expect(m["boot-again"] == "0" && r.stderr.contains("2 persisted: 2 already live, 0 registered, 0 failed"))
    #expect(
      m["boot-fix"] == "0" && r.stderr.contains("qemu-aarch64 differed from its persisted definition and was replaced"))
    #expect(m["flags"] == "flags: PF")
    #expect(m["persist-live"] == "0")
    #expect(m["files"] == "zz-binfmtctl-qemu-aarch64.conf zz-binfmtctl-qemu-riscv64.conf zz-binfmtctl-qemu-s390x.conf")
    #expect(m["boot-bad"] == "1")
    #expect(r.stderr.contains("qemu-sparc: interpreter /nonexistent/qemu-sparc does not exist"), "\(r.stderr)")

    let s1 = try #require(try json(m["json1"] ?? "") as? [String: Any])
    let e1 = try #require(s1["entries"] as? [[String: Any]])
    #expect(e1.allSatisfy { $0["persistence"] as? String == "live-and-persisted" }, "\(e1)")
    let p1 = try #require(s1["persistence"] as? [String: Any])
    #expect(p1["init"] as? String == "none" && p1["bootService"] as? String == "absent")
    let s2 = try #require(try json(m["json2"] ?? "") as? [String: Any])
    let e2 = try #require(s2["entries"] as? [[String: Any]])
    #expect(e2.first { $0["name"] as? String == "qemu-riscv64" }?["persistence"] as? String == "lost-at-reboot")
    let codes = (s2["problems"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    #expect(codes.contains("lost-at-reboot"))
  }
}
