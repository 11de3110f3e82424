import SystemPackage
import Testing

@testable import BinfmtKit

/// The rules the engine reshape moved into BinfmtKit, each written once.
struct RulesTests {
  let c = Catalog.standard
  var arm64: Architecture { c.resolve("arm64")! }

  func live(_ r: Registration, name: String? = nil, enabled: Bool = true) -> KernelEntryStatus {
    KernelEntryStatus(
      name: name ?? r.name, enabled: enabled, interpreter: r.interpreter, flags: r.flags, match: r.match)
  }

  /// The kernel's choice: enabled entries in directory order (newest first), first match wins.
  @Test func handlerIsTheNewestEnabledMatch() {
    let reg = arm64.registration()
    let newer = live(reg, name: "newer")
    let disabled = live(reg, name: "off", enabled: false)
    let older = live(reg, name: "older")
    let entries = [disabled, newer, older]
    #expect(Handlers.matching(header: arm64.sampleHeader, in: entries).map(\.name) == ["newer", "older"])
    #expect(Handlers.matching(header: arm64.sampleHeader, in: entries, tableEnabled: false).isEmpty)
    #expect(Handlers.matching(header: c.resolve("s390x")!.sampleHeader, in: entries).isEmpty)
    // The same rule decides `status`'s winners.
    let report = TableAnalysis.analyze(
      mounted: true, enabled: true, entries: entries,
      facts: { _ in InterpreterFacts(exists: true, executable: true, isStatic: true) }, catalog: c,
      hostMachine: "x86_64")
    #expect(report.winners == ["aarch64": "newer"])
    #expect(report.entries.first { $0.entry.name == "older" }?.problems.contains { $0.code == .shadowed } == true)
  }

  @Test func bootServiceVerdicts() {
    let none = BootServiceVerdict.decide(initSystem: .none, installed: false, linked: false, persistedFiles: 2)
    #expect(none.state == .absent && !none.firesAtBoot && none.problem?.code == .bootServiceOff)
    // systemd-binfmt applies the files even without our unit; the problem says what is lost.
    let sd = BootServiceVerdict.decide(initSystem: .systemd, installed: true, linked: false, persistedFiles: 1)
    #expect(sd.state == .disabled && sd.firesAtBoot && sd.problem?.message.contains("disabled") == true)
    let rc = BootServiceVerdict.decide(initSystem: .openrc, installed: true, linked: true, persistedFiles: 1)
    #expect(rc == BootServiceVerdict(state: .enabled, firesAtBoot: true, problem: nil))
    let wsl = BootServiceVerdict.decide(initSystem: .wsl, installed: false, linked: false, persistedFiles: 1)
    #expect(wsl.state == .absent && !wsl.firesAtBoot && wsl.problem?.fix == "sudo binfmtctl persist")
    // Nothing persisted: nothing to warn about.
    #expect(
      BootServiceVerdict.decide(initSystem: .none, installed: false, linked: false, persistedFiles: 0).problem == nil)
  }

  @Test func filePlans() throws {
    let text = try Persistence.fileText(arm64.registration(), architecture: arm64)
    #expect(try FilePlan.persistedEntry("/p", text: text, existing: .absent, replace: false).verb == .write)
    #expect(try FilePlan.persistedEntry("/p", text: text, existing: .file(text), replace: false).verb == .unchanged)
    let older = try Persistence.fileText(arm64.registration(flags: [.fixBinary]), architecture: arm64)
    #expect(throws: BinfmtError.self) {
      try FilePlan.persistedEntry("/p", text: text, existing: .file(older), replace: false)
    }
    #expect(try FilePlan.persistedEntry("/p", text: text, existing: .file(older), replace: true).verb == .update)
    for foreign: FileNode in [.symlink(to: "/dev/null"), .file("# mine\n"), .other] {
      #expect(throws: BinfmtError.self) {
        try FilePlan.persistedEntry("/p", text: text, existing: foreign, replace: true)
      }
    }
    #expect(try FilePlan.link("/l", to: "/t", existing: .absent).kind == .symlink("/t"))
    #expect(try FilePlan.link("/l", to: "/t", existing: .symlink(to: "/t")).verb == .unchanged)
    #expect(throws: BinfmtError.self) { try FilePlan.link("/l", to: "/t", existing: .symlink(to: "/u")) }
    #expect(throws: BinfmtError.self) {
      try FilePlan.ownFile("/u", text: "a", mode: 0o644, existing: .file("b"), isOurs: { _ in false })
    }
  }

  /// One binfmt.d producer: both file kinds parse back to the registration they were made from.
  @Test func binfmtDTextRoundTrips() throws {
    let reg = arm64.registration()
    for text in [
      try Persistence.fileText(reg, architecture: arm64),
      try BinfmtD.generated(for: arm64, registration: reg, catalog: c),
    ] {
      #expect(BinfmtDFile.parse(text, file: "t.conf").entries.map(\.registration) == [reg])
    }
    #expect(Persistence.isOurs(try Persistence.fileText(reg, architecture: nil)))
    #expect(!Persistence.isOurs(try BinfmtD.generated(for: arm64, registration: reg, catalog: c)))
    try reg.checkRoundTrip(at: "x")
  }

  @Test func elfKindAndLinkage() {
    #expect(ELFKind(type: 3, hasInterpreter: true, pieFlag: false) == .pieExecutable)
    #expect(ELFKind(type: 3, hasInterpreter: false, pieFlag: false).description == "shared object")
    #expect(ELFKind(type: 9, hasInterpreter: false, pieFlag: false).description == "type 9")
    #expect(ELFLinkage(type: 2, hasInterpreter: false, pieFlag: false) == .static)
    #expect(ELFLinkage(type: 3, hasInterpreter: false, pieFlag: true)?.rawValue == "static-pie")
    #expect(ELFLinkage(type: 1, hasInterpreter: false, pieFlag: false) == nil)
  }

  /// The shared byte reader never reads past its buffer, whatever offset a file claims.
  @Test func byteReaderBounds() {
    let r = ByteReader(bytes: [1, 2, 3, 4], order: .big)
    #expect(r.uint(at: 0, size: 4) == 0x0102_0304)
    #expect(ByteReader(bytes: [1, 2], order: .little).uint(at: 0, size: 2) == 0x0201)
    #expect(r.uint(at: 1, size: 4) == nil && r.uint(at: -1, size: 1) == nil && r.uint(at: Int.max, size: 8) == nil)
  }

  /// The errno survives for `catch`, and is printed once.
  @Test func errnoCause() {
    let e = BinfmtError(.system, "cannot mount", at: "/x", cause: .errno(.permissionDenied, call: "mount"))
    #expect(e.errno == .permissionDenied)
    #expect(e.description == "/x: cannot mount (mount: \(Errno.permissionDenied))")
    let said = BinfmtError(.notFound, "no such file", at: "/y", cause: .said(.noSuchFileOrDirectory))
    #expect(said.description == "/y: no such file" && said.errno == .noSuchFileOrDirectory)
  }
}
