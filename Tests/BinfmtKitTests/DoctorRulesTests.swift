import Testing

@testable import BinfmtKit

/// `doctor`'s pure parts: the message classifier over the exact strings engines, shells, qemu
/// and sudo print; the rules over facts; the JSON contract; os-release and mountinfo.
struct DoctorRulesTests {
  let c = Catalog.standard
  var arm64: Architecture { c.resolve("arm64")! }

  // MARK: --message

  @Test(
    arguments: [
      // podman + crun 1.8
      (
        "exec container process `/bin/uname`: Exec format error", ErrorMessage.Family.execFormatError, "podman/crun",
        "/bin/uname"
      ),
      // docker + runc 1.1
      ("exec /bin/uname: exec format error", .execFormatError, "docker/runc", "/bin/uname"),
      // runc 1.0 release candidates
      (
        "standard_init_linux.go:228: exec user process caused: exec format error", .execFormatError,
        "runc (1.0 release candidates)", nil
      ),
      (
        "standard_init_linux.go:211: exec user process caused \"exec format error\"", .execFormatError,
        "runc (1.0 release candidates)", nil
      ),
      (
        "standard_init_linux.go:219: exec user process caused \"no such file or directory\"", .notFoundInContainer,
        "runc (1.0 release candidates)", nil
      ),
      (
        "Error: crun: exec container process (missing dynamic library?) `/bin/uname`: No such file or directory: OCI runtime attempted to invoke a command that was not found",
        .notFoundInContainer, "podman/crun", "/bin/uname"
      ),
      ("exec /bin/uname: no such file or directory", .notFoundInContainer, "docker/runc", "/bin/uname"),
      ("bash: ./hello-arm64: cannot execute: required file not found", .requiredFileNotFound, "bash", "./hello-arm64"),
      ("bash: ./busybox: cannot execute binary file: Exec format error", .execFormatError, "bash", "./busybox"),
      (
        "qemu-aarch64-static: Could not open '/lib/ld-linux-aarch64.so.1': No such file or directory",
        .qemuLoaderMissing, "qemu", "/lib/ld-linux-aarch64.so.1"
      ),
      (
        "sudo: effective uid is not 0, is /usr/bin/sudo on a file system with the 'nosuid' option set or an NFS file system without root privileges?",
        .setuidIgnored, "sudo", nil
      ),
      (
        "bash: ./run.sh: /bin/sh^M: bad interpreter: No such file or directory", .badInterpreterCRLF, "bash",
        "/bin/sh^M"
      ),
      (
        "bash: ./x.py: /usr/bin/python9: bad interpreter: No such file or directory", .badInterpreter, "bash",
        "/usr/bin/python9"
      ),
      ("./busybox: 1: Syntax error: word unexpected (expecting \")\")", .binaryRunAsScript, "sh", nil),
      ("qemu-arm-static: Invalid ELF image for this architecture", .wrongEmulator, "qemu", nil),
      ("segmentation fault", .unknown, "unknown", nil),
    ] as [(String, ErrorMessage.Family, String, String?)])
  func classifiesMessages(text: String, family: ErrorMessage.Family, source: String, subject: String?) {
    let m = ErrorMessage.classify(text)
    #expect(m.family == family, "\(text)")
    #expect(m.source == source, "\(text)")
    #expect(m.subject == subject, "\(text)")
    #expect(!m.meaning.isEmpty)
  }

  // MARK: JSON and text

  @Test func jsonHasExactlyTheContractKeys() {
    let d = Diagnosis(
      target: "x",
      findings: [
        Finding(.fileOK, .ok, "fine", evidence: "e"),
        Finding(.noHandler, .error, "no entry", evidence: "0 entries", fix: ["sudo binfmtctl install aarch64"]),
        Finding(.lostAtReboot, .warning, "lost", evidence: "e", fix: ["sudo binfmtctl persist qemu-aarch64"]),
        Finding(.noFixBinary, .warning, "no F", evidence: "e", fix: ["sudo binfmtctl install aarch64"]),
      ], probe: .notRun, runsVia: nil)
    guard case .object(let o) = d.json else {
      Issue.record("not an object")
      return
    }
    #expect(o.keys.sorted() == ["canRun", "findings", "fix", "probe", "target", "verdict"])
    #expect(o["canRun"] == .bool(false))
    #expect(
      o["fix"] == .array([.string("sudo binfmtctl install aarch64"), .string("sudo binfmtctl persist qemu-aarch64")]))
    #expect(o["probe"] == .object(["ran": .bool(false), "result": .string("not-run")]))
    guard case .array(let fs) = o["findings"], case .object(let f0) = fs[0] else {
      Issue.record("no findings")
      return
    }
    #expect(f0.keys.sorted() == ["code", "evidence", "fix", "message", "severity"])
    #expect(d.verdict == "x cannot run here: no entry")
    #expect(d.text.hasPrefix("x cannot run here: no entry\n✓ fine [file]\n    e\n✗ no entry [no-handler]\n"))
    #expect(d.text.hasSuffix("Fix:\n  sudo binfmtctl install aarch64\n  sudo binfmtctl persist qemu-aarch64\n"))
    #expect(d.partialFailure)
  }

  @Test func everyCodeIsKebabCaseAndUnique() {
    let raw = Finding.Code.allCases.map(\.rawValue)
    #expect(Set(raw).count == raw.count)
    for r in raw {
      #expect(r.allSatisfy { $0.isLetter || $0 == "-" }, "\(r)")
    }
  }

  // MARK: rules

  func host(
    _ entries: [KernelEntryStatus], facts: InterpreterFacts = .init(exists: true, executable: true, isStatic: true),
    root: String? = nil, inRoot: [(String, Bool)] = []
  ) -> HostFacts {
    let report = TableAnalysis.analyze(
      mounted: true, enabled: true, entries: entries, facts: { _ in facts }, catalog: c, hostMachine: "x86_64")
    return HostFacts(
      hostMachine: "x86_64", catalog: c, kernelSupport: .yes, table: report, bootProblems: [], packages: .apt,
      root: root, interpretersInRoot: inRoot.map { (path: $0.0, found: $0.1) }, emulatorsInstalled: ["aarch64"])
  }

  func live(_ r: Registration, name: String? = nil, enabled: Bool = true, flags: BinfmtFlags? = nil)
    -> KernelEntryStatus
  {
    KernelEntryStatus(
      name: name ?? r.name, enabled: enabled, interpreter: r.interpreter, flags: flags ?? r.flags, match: r.match)
  }

  func file(_ head: [UInt8], mode: UInt32 = 0o755) -> PathFacts {
    var f = PathFacts(path: "/x", node: .regular)
    f.mode = mode
    f.size = 100_000
    f.head = head
    return f
  }

  func codes(_ o: RuleOutcome) -> [String] { o.findings.filter { $0.severity != .ok }.map(\.code.rawValue) }

  @Test func fileChecks() {
    #expect(codes(DoctorRules.diagnose(PathFacts(path: "/x", node: .missing), host: host([]))) == ["file-missing"])
    #expect(
      codes(DoctorRules.diagnose(PathFacts(path: "/x", node: .notRegular("is a directory")), host: host([]))) == [
        "not-regular-file"
      ])
    let noX = DoctorRules.diagnose(file(arm64.sampleHeader, mode: 0o644), host: host([live(arm64.registration())]))
    #expect(codes(noX).first == "not-executable")
    #expect(noX.findings.first { $0.code == .notExecutable }?.fix == ["chmod +x /x"])
    var noexec = file(arm64.sampleHeader)
    noexec.mount = MountInfoEntry(
      mountPoint: "/mnt/u", options: ["rw", "nosuid", "noexec"], fsType: "tmpfs", source: "t")
    #expect(codes(DoctorRules.diagnose(noexec, host: host([live(arm64.registration())]))) == ["noexec-mount"])
    #expect(codes(DoctorRules.diagnose(file(Array("#!/bin/sh\r\necho\r\n".utf8)), host: host([]))) == ["script-crlf"])
    var missing = file(Array("#!/usr/bin/python9\n".utf8))
    missing.scriptInterpreterFound = false
    #expect(codes(DoctorRules.diagnose(missing, host: host([]))) == ["script-interpreter-missing"])
    let long = "#!/" + String(repeating: "a", count: 300)
    #expect(codes(DoctorRules.diagnose(file(Array(long.utf8)), host: host([]))) == ["script-line-too-long"])
    #expect(codes(DoctorRules.diagnose(file(Array("echo hi\n".utf8)), host: host([]))) == ["no-shebang"])
    #expect(codes(DoctorRules.diagnose(file([0x4d, 0x5a, 0x90, 0]), host: host([]))) == ["windows-pe"])
    #expect(codes(DoctorRules.diagnose(file([0xcf, 0xfa, 0xed, 0xfe]), host: host([]))) == ["mach-o"])
    #expect(codes(DoctorRules.diagnose(file([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 61]), host: host([]))) == ["java"])
    #expect(codes(DoctorRules.diagnose(file([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), host: host([]))) == ["webassembly"])
    #expect(codes(DoctorRules.diagnose(file(Array(arm64.sampleHeader.prefix(40))), host: host([]))) == ["corrupt-elf"])
    var freebsd = arm64.sampleHeader
    freebsd[7] = 9
    #expect(codes(DoctorRules.diagnose(file(freebsd), host: host([live(arm64.registration())]))) == ["other-os-abi"])
  }

  @Test func handlerChecks() {
    let reg = arm64.registration()
    #expect(codes(DoctorRules.diagnose(file(arm64.sampleHeader), host: host([]))) == ["no-handler"])
    #expect(
      codes(DoctorRules.diagnose(file(arm64.sampleHeader), host: host([live(reg, enabled: false)]))) == ["disabled"])
    let ok = DoctorRules.diagnose(file(arm64.sampleHeader), host: host([live(reg)]))
    #expect(codes(ok).isEmpty && ok.probeArchitecture == arm64 && ok.runsVia?.contains("qemu-aarch64") == true)
    let missing = InterpreterFacts(exists: false, executable: false, isStatic: nil)
    #expect(
      codes(
        DoctorRules.diagnose(file(arm64.sampleHeader), host: host([live(reg, flags: [.preserveArgv0])], facts: missing))
      ).first == "interpreter-missing")
    let wrong = Registration(
      name: "qemu-aarch64", match: reg.match, interpreter: "/usr/bin/qemu-arm-static",
      flags: [.fixBinary, .preserveArgv0])
    #expect(
      codes(DoctorRules.diagnose(file(arm64.sampleHeader), host: host([live(wrong)]))) == ["interpreter-wrong-target"])
    // Without F, in a root without the emulator: the container's "no such file or directory".
    let noF = live(reg, flags: [.preserveArgv0])
    #expect(codes(DoctorRules.diagnose(file(arm64.sampleHeader), host: host([noF]))) == ["no-F-flag"])
    let inRoot = DoctorRules.diagnose(
      file(arm64.sampleHeader), host: host([noF], root: "/r", inRoot: [(reg.interpreter, false)]))
    #expect(codes(inRoot) == ["interpreter-missing-in-root"])
    var suid = file(arm64.sampleHeader, mode: 0o4755)
    suid.multiCall = true
    #expect(
      codes(DoctorRules.diagnose(suid, host: host([live(reg, flags: [.fixBinary])]))) == [
        "setuid-without-C", "multi-call-without-P",
      ])
    var dyn = file(arm64.sampleHeader)
    dyn.loader = "/lib/ld-linux-aarch64.so.1"
    dyn.loaderFound = false
    let l = DoctorRules.diagnose(dyn, host: host([live(reg)]))
    #expect(codes(l) == ["loader-missing"])
    #expect(
      l.findings.last?.fix == [
        "sudo dpkg --add-architecture arm64", "sudo apt-get update", "sudo apt-get install -y libc6:arm64",
      ])
  }

  @Test func winnerBrokenWhileAnOlderOneWorks() {
    let reg = arm64.registration()
    let newer = KernelEntryStatus(
      name: "broken", enabled: true, interpreter: "/gone", flags: [.preserveArgv0], match: reg.match)
    let older = live(reg)
    let report = TableAnalysis.analyze(
      mounted: true, enabled: true, entries: [newer, older],
      facts: { p in InterpreterFacts(exists: p != "/gone", executable: p != "/gone", isStatic: true) }, catalog: c,
      hostMachine: "x86_64")
    let h = HostFacts(
      hostMachine: "x86_64", catalog: c, kernelSupport: .yes, table: report, bootProblems: [], packages: nil)
    let o = DoctorRules.diagnose(file(arm64.sampleHeader), host: h)
    #expect(codes(o).first == "winner-broken")
    #expect(o.findings.first { $0.code == .winnerBroken }?.fix == ["sudo binfmtctl uninstall broken"])
  }

  // MARK: os-release, mountinfo

  @Test func packageManagerFromOSRelease() {
    #expect(PackageManager.detect(osRelease: Array("ID=debian\nVERSION_ID=\"12\"\n".utf8)) == .apt)
    #expect(PackageManager.detect(osRelease: Array("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n".utf8)) == .dnf)
    #expect(PackageManager.detect(osRelease: Array("ID=neon\nID_LIKE=\"ubuntu debian\"\n".utf8)) == .apt)
    #expect(
      PackageManager.detect(osRelease: Array("ID=alpine\n".utf8))?.installEmulator(target: "aarch64")
        == "sudo apk add qemu-aarch64")
    #expect(
      PackageManager.detect(osRelease: Array("ID=opensuse-tumbleweed\nID_LIKE=\"opensuse suse\"\n".utf8)) == .zypper)
    #expect(PackageManager.detect(osRelease: Array("ID=arch\n".utf8)) == .pacman)
    #expect(PackageManager.detect(osRelease: Array("ID=nixos\n".utf8)) == nil)
  }

  @Test func mountinfoLongestMountWins() {
    let text = """
      22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
      30 22 0:40 / /mnt/a\\040b rw,nosuid,noexec shared:2 - tmpfs tmpfs rw
      31 22 0:41 / /mnt rw - tmpfs tmpfs rw
      """
    let m = MountInfo.parse(Array(text.utf8))
    #expect(m.count == 3)
    #expect(MountInfo.mount(containing: "/mnt/a b/prog", in: m)?.noexec == true)
    #expect(MountInfo.mount(containing: "/mnt/ab", in: m)?.mountPoint == "/mnt")
    #expect(MountInfo.mount(containing: "/usr/bin/ls", in: m)?.mountPoint == "/")
  }
}
