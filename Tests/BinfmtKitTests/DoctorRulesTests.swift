import Foundation
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

  /// Every code is in the README's table of finding codes (scripts rely on both).
  @Test func everyCodeIsDocumented() throws {
    let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("README.md")
    let text = try String(contentsOf: readme, encoding: .utf8)
    guard let start = text.range(of: "### Finding codes") else {
      Issue.record("README has no Finding codes table")
      return
    }
    let table = text[start.upperBound...].split(separator: "\n## ", maxSplits: 1).first ?? ""
    for code in Finding.Code.allCases {
      #expect(table.contains("`\(code.rawValue)`"), "README's finding table lacks \(code.rawValue)")
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
    var repointable = missing
    repointable.scriptInterpreterAlternative = "/usr/bin/python3"
    repointable.hostPath = "/r/x"
    #expect(
      DoctorRules.diagnose(repointable, host: host([])).findings.last?.fix == [
        "sed -i '1s|^#!/usr/bin/python9|#!/usr/bin/python3|' /r/x"
      ])
    // A path that cannot sit in the sed expression as it is: words, not a command.
    #expect(DoctorRules.repointCommand(from: "/a|b/sh", to: "/bin/sh", in: missing) == nil)
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

  // MARK: host, namespace, F-pinned and page-size checks

  @Test func binfmtMiscNotInKernel() {
    // Not simulable for real (the kernel's /proc/filesystems cannot be changed from a
    // sandbox): the rule alone.
    var h = host([])
    h.table.mounted = false
    h.kernelSupport = .no
    let o = DoctorRules.diagnose(file(arm64.sampleHeader), host: h)
    #expect(codes(o) == ["binfmt-misc-not-in-kernel"])
    #expect(o.findings.last?.fix.first == "sudo modprobe binfmt_misc")
    #expect(codes(DoctorRules.system(host: h)) == ["binfmt-misc-not-in-kernel"])
    h.kernelSupport = .module
    #expect(codes(DoctorRules.diagnose(file(arm64.sampleHeader), host: h)) == ["not-mounted"])
  }

  @Test func privateInstanceOnlyWhenItsTableIsEmpty() {
    var h = host([])
    h.privateInstance = "/proc/self/ns/user user:[1]; uid_map 0 65534 1"
    let o = DoctorRules.platform(arm64, host: h)
    #expect(codes(o) == ["private-binfmt-misc", "no-handler"])
    #expect(o.findings[0].evidence.hasPrefix("/proc/self/ns/user user:[1]; uid_map 0 65534 1"))
    #expect(codes(DoctorRules.system(host: h)) == ["private-binfmt-misc"])
    var full = host([live(arm64.registration())])
    full.privateInstance = h.privateInstance
    #expect(codes(DoctorRules.platform(arm64, host: full)).isEmpty)
  }

  @Test func fPinnedEmulatorReplacedOnDisk() {
    let reg = arm64.registration()
    var h = host([live(reg)])
    let at = FileTime(seconds: 1_764_013_212, nanoseconds: 68_000_000)
    h.entryTimes[reg.name] = (at, FileTime(seconds: at.seconds + 3600, nanoseconds: 0))
    let o = DoctorRules.diagnose(file(arm64.sampleHeader), host: h)
    #expect(codes(o) == ["interpreter-replaced"])
    let f = o.findings.first { $0.code == .interpreterReplaced }
    #expect(f?.evidence.contains("registered 2025-11-24 19:40:12.068 UTC") == true, "\(f?.evidence ?? "")")
    #expect(f?.evidence.contains("changed 2025-11-24 20:40:12.000 UTC") == true)
    #expect(f?.fix == ["sudo binfmtctl uninstall qemu-aarch64", "sudo binfmtctl install aarch64"])
    // Older than the registration, or no F (the kernel opens the path at every exec): nothing.
    h.entryTimes[reg.name] = (at, FileTime(seconds: at.seconds - 1, nanoseconds: 0))
    #expect(codes(DoctorRules.diagnose(file(arm64.sampleHeader), host: h)).isEmpty)
    var noF = host([live(reg, flags: [.preserveArgv0])])
    noF.entryTimes[reg.name] = (at, FileTime(seconds: at.seconds + 1, nanoseconds: 0))
    #expect(codes(DoctorRules.diagnose(file(arm64.sampleHeader), host: noF)) == ["no-F-flag"])
    // Other flags are kept in the new registration.
    var pocf = host([live(reg, flags: [.preserveArgv0, .openBinary, .credentials, .fixBinary])])
    pocf.entryTimes[reg.name] = (at, FileTime(seconds: at.seconds + 1, nanoseconds: 0))
    #expect(
      DoctorRules.diagnose(file(arm64.sampleHeader), host: pocf).findings.first { $0.code == .interpreterReplaced }?
        .fix.last == "sudo binfmtctl install aarch64 --flags POCF --credentials")
  }

  @Test func fileTimesInUTC() {
    #expect(FileTime(seconds: 0, nanoseconds: 0).utc == "1970-01-01 00:00:00.000 UTC")
    #expect(FileTime(seconds: 951_782_400, nanoseconds: 5_000_000).utc == "2000-02-29 00:00:00.005 UTC")
    #expect(FileTime(seconds: -1, nanoseconds: 0).utc == "1969-12-31 23:59:59.000 UTC")
  }

  @Test func thirtyTwoBitCompatIsOnlyForTheHostsOwnFamily() {
    let i386 = c.resolve("i386")!
    let f = DoctorRules.compat32(i386, catalog: c, hostMachine: "x86_64")
    #expect(f?.code == .no32BitSupport && f?.severity == .error)
    #expect(f?.fix == ["sudo binfmtctl install --include-native i386"])
    let arm = c.resolve("arm")!
    #expect(DoctorRules.compat32(arm, catalog: c, hostMachine: "aarch64")?.message.contains("AArch32") == true)
    #expect(DoctorRules.compat32(arm, catalog: c, hostMachine: "x86_64") == nil)
    #expect(DoctorRules.compat32(c.resolve("x86_64")!, catalog: c, hostMachine: "x86_64") == nil)
    #expect(DoctorRules.compat32(i386, catalog: c, hostMachine: "i686") == nil)
  }

  @Test func segmentsLaidOutForSmallerPages() {
    let x86 = c.resolve("x86_64")!
    func program(_ loads: [ELFProgramHeader]) -> PathFacts {
      var f = file(x86.sampleHeader)
      f.loads = loads
      return f
    }
    var h = host([])
    h.pageSize = 16384
    let fourK = ELFProgramHeader(
      type: ELFProgramHeader.load, offset: 0, fileSize: 10, align: 0x1000, vaddr: 0x401000)
    let bad = DoctorRules.diagnose(program([fourK]), host: h)
    #expect(codes(bad) == ["segment-alignment"] && bad.findings.contains { $0.severity == .error })
    #expect(
      bad.findings.first { $0.code == .segmentAlignment }?.message.contains(
        "4096-byte pages; this host's pages are 16384") == true)
    let lucky = ELFProgramHeader(type: ELFProgramHeader.load, offset: 0, fileSize: 10, align: 0x1000, vaddr: 0x400000)
    let warn = DoctorRules.diagnose(program([lucky]), host: h)
    #expect(codes(warn) == ["segment-alignment"] && !warn.findings.contains { $0.severity == .error })
    h.pageSize = 4096
    #expect(codes(DoctorRules.diagnose(program([fourK]), host: h)).isEmpty)
    // Through qemu the emulator maps the segments: the native check does not apply.
    var arm = file(arm64.sampleHeader)
    arm.loads = [fourK]
    var ah = host([live(arm64.registration())])
    ah.pageSize = 65536
    #expect(codes(DoctorRules.diagnose(arm, host: ah)).isEmpty)
  }

  // MARK: --fix

  @Test func repairActionsAreParsedFromTheFixesDoctorPrints() {
    #expect(
      RepairAction.parse("sudo binfmtctl install aarch64")
        == .install(names: ["aarch64"], replace: false, flags: nil, credentials: false, includeNative: false))
    #expect(
      RepairAction.parse("sudo binfmtctl install --replace --flags POCF --credentials aarch64")
        == .install(names: ["aarch64"], replace: true, flags: "POCF", credentials: true, includeNative: false))
    #expect(
      RepairAction.parse("sudo binfmtctl install --include-native i386")
        == .install(names: ["i386"], replace: false, flags: nil, credentials: false, includeNative: true))
    #expect(RepairAction.parse("sudo binfmtctl uninstall 'odd name'") == .uninstall("odd name"))
    #expect(RepairAction.parse("sudo binfmtctl enable qemu-aarch64") == .enable("qemu-aarch64"))
    #expect(
      RepairAction.parse("sudo binfmtctl persist --replace qemu-aarch64")
        == .persist(names: ["qemu-aarch64"], replace: true, includeNative: false))
    #expect(RepairAction.parse("sudo binfmtctl persist") == .persist(names: [], replace: false, includeNative: false))
    #expect(
      RepairAction.parse("sudo binfmtctl install --replace --flags POCF --credentials aarch64")?.grantsCredentials
        == true)
    #expect(RepairAction.parse("sudo binfmtctl install --replace aarch64")?.grantsCredentials == false)
    #expect(RepairAction.parse(DoctorRules.mountCommand) == .mount)
    #expect(RepairAction.parse(RepairAction.enableTableCommand) == .enableTable)
    // Not binfmtctl's, or not a command it prints.
    for c in [
      "sudo apt-get install -y qemu-user-static", "chmod +x /x", "sed -i 's/\\r$//' /x", "sudo modprobe binfmt_misc",
      "sudo binfmtctl uninstall a; rm -rf /", "sudo binfmtctl install $(id)", "sudo binfmtctl probe aarch64",
      "sudo binfmtctl install --emulator /x aarch64", "sudo systemctl unmask binfmtctl.service",
      "install qemu-user-static (apt), then: sudo binfmtctl persist --replace qemu-aarch64",
    ] {
      #expect(RepairAction.parse(c) == nil, "\(c)")
    }
  }

  @Test func shellWordsUndoesShellQuoting() {
    for w in ["plain", "two words", "it's", "", "a'b'c", "tab\there"] {
      #expect(RepairAction.shellWords(DoctorRules.shell(w)) == [w], "\(w)")
    }
    #expect(RepairAction.shellWords("unterminated 'x") == nil)
  }

  /// Every binfmtctl command the rules print for these states is one --fix can apply.
  @Test func everyBinfmtctlFixTheRulesPrintIsApplicable() {
    let reg = arm64.registration()
    let states: [RuleOutcome] = [
      DoctorRules.diagnose(file(arm64.sampleHeader), host: host([])),
      DoctorRules.diagnose(file(arm64.sampleHeader), host: host([live(reg, enabled: false)])),
      DoctorRules.diagnose(file(arm64.sampleHeader, mode: 0o4755), host: host([live(reg, flags: [.fixBinary])])),
      DoctorRules.diagnose(
        file(arm64.sampleHeader),
        host: host(
          [
            live(
              Registration(
                name: "qemu-aarch64", match: reg.match, interpreter: "/usr/bin/qemu-arm-static", flags: [.fixBinary]))
          ])),
    ]
    var seen = 0
    for s in states {
      for c in s.findings.flatMap(\.fix) where c.hasPrefix("sudo binfmtctl ") {
        #expect(RepairAction.parse(c) != nil, "\(c)")
        seen += 1
      }
    }
    #expect(seen >= 4)
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
