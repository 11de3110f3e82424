import Testing

@testable import BinfmtKit

/// The pure decisions behind status, install and uninstall, on made-up tables.
struct PlanningTests {
  let c = Catalog.standard
  var arm64: Architecture { c.resolve("arm64")! }
  var s390x: Architecture { c.resolve("s390x")! }

  func live(_ r: Registration, enabled: Bool = true) -> KernelEntryStatus {
    KernelEntryStatus(name: r.name, enabled: enabled, interpreter: r.interpreter, flags: r.flags, match: r.match)
  }

  let good = InterpreterFacts(exists: true, executable: true, isStatic: true)

  @Test func sampleHeadersMatchExactlyTheirOwnEntry() {
    for a in c.architectures {
      #expect(TableAnalysis.architectures(served: a.registration(), catalog: c) == [a.name])
    }
  }

  @Test func planUnchangedEnableRegister() {
    let reg = arm64.registration()
    let wanted = [(arch: arm64, registration: reg)]
    #expect(InstallPlan.make(wanted: wanted, live: [], replace: false).steps == [.register(reg)])
    #expect(InstallPlan.make(wanted: wanted, live: [live(reg)], replace: false).steps == [.unchanged(reg)])
    #expect(InstallPlan.make(wanted: wanted, live: [live(reg, enabled: false)], replace: false).steps == [.enable(reg)])
    // C implies O in the kernel's view: the same definition.
    var withC = reg
    withC.flags = [.preserveArgv0, .fixBinary, .credentials]
    var kernelView = withC
    kernelView.flags.insert(.openBinary)
    #expect(InstallPlan.sameDefinition(withC, kernelView))
  }

  @Test func planConflictsAndReplace() {
    let reg = arm64.registration()
    var other = reg
    other.interpreter = "/usr/libexec/qemu-binfmt/aarch64-binfmt-P"
    other.flags = [.preserveArgv0, .openBinary, .fixBinary]
    let wanted = [(arch: arm64, registration: reg), (arch: s390x, registration: s390x.registration())]
    let p = InstallPlan.make(wanted: wanted, live: [live(other)], replace: false)
    #expect(p.conflicts.count == 1)
    #expect(p.conflicts[0].reason == "has the same name")
    #expect(
      p.conflicts[0].differences == [
        "interpreter: /usr/libexec/qemu-binfmt/aarch64-binfmt-P → /usr/bin/qemu-aarch64-static", "flags: POF → PF",
      ])
    let r = InstallPlan.make(wanted: wanted, live: [live(other)], replace: true)
    #expect(r.conflicts.isEmpty)
    #expect(r.steps == [.replace(removing: ["qemu-aarch64"], with: reg), .register(s390x.registration())])

    // A differently named entry for the same architecture blocks even when ours is live.
    var box = reg
    box.name = "box64-arm"
    let q = InstallPlan.make(wanted: [(arm64, reg)], live: [live(box), live(reg)], replace: false)
    #expect(q.conflicts.map(\.existing.name) == ["box64-arm"])
    let q2 = InstallPlan.make(wanted: [(arm64, reg)], live: [live(box), live(reg)], replace: true)
    #expect(q2.steps == [.removeOthers(["box64-arm"], keeping: reg)])
  }

  @Test func analysisFindsProblems() {
    let reg = arm64.registration()
    var box = reg
    box.name = "box-arm64"
    box.interpreter = "/gone"
    box.flags = []
    let i386 = c.resolve("i386")!.registration()
    let ext = Registration(
      name: "python3.11", match: .fileExtension("pyc"), interpreter: "/usr/bin/python3.11", flags: [])
    let report = TableAnalysis.analyze(
      mounted: true, enabled: true, entries: [live(box), live(reg), live(i386), live(ext, enabled: false)],
      facts: { $0 == "/gone" ? InterpreterFacts(exists: false, executable: false, isStatic: nil) : good }, catalog: c,
      hostMachine: "x86_64")
    func codes(_ name: String) -> Set<String> {
      Set(report.problems.filter { $0.entry == name }.map(\.code.rawValue))
    }
    #expect(codes("box-arm64") == ["interpreter-missing", "no-F-flag"])
    #expect(codes("qemu-aarch64") == ["shadowed"])
    #expect(codes("qemu-i386") == ["native"])
    #expect(codes("python3.11") == ["disabled"])
    #expect(report.winners == ["aarch64": "box-arm64"])
    #expect(report.entries.map(\.managed) == [false, true, true, false])

    let dyn = TableAnalysis.analyze(
      mounted: true, enabled: true, entries: [live(reg)],
      facts: { _ in InterpreterFacts(exists: true, executable: true, isStatic: false) },
      catalog: c, hostMachine: "x86_64")
    #expect(dyn.problems.map(\.code) == [.dynamicWithF])
    let unmounted = TableAnalysis.analyze(
      mounted: false, enabled: false, entries: [], facts: { _ in good }, catalog: c, hostMachine: "x86_64")
    #expect(unmounted.problems.map(\.code) == [.notMounted])
  }

  @Test func selectionLeavesForeignEntriesAlone() throws {
    let wsl = Registration(
      name: "WSLInterop", match: .magic(offset: 0, magic: Array("MZ".utf8), mask: nil), interpreter: "/init",
      flags: [.preserveArgv0, .fixBinary])
    let reg = arm64.registration()
    var box = reg
    box.name = "box-arm64"
    box.interpreter = "/usr/bin/box64"
    let report = TableAnalysis.analyze(
      mounted: true, enabled: true, entries: [live(wsl), live(reg), live(box)], facts: { _ in good }, catalog: c,
      hostMachine: "x86_64")
    #expect(try EntrySelection.select([], all: true, report: report, catalog: c).entries == ["qemu-aarch64"])
    #expect(try EntrySelection.select(["arm64"], all: false, report: report, catalog: c).entries == ["qemu-aarch64"])
    #expect(
      try EntrySelection.select(["WSLInterop", "box-arm64"], all: false, report: report, catalog: c).entries == [
        "WSLInterop", "box-arm64",
      ])
    #expect(try EntrySelection.select(["riscv64"], all: false, report: report, catalog: c).entries == [])
    #expect(throws: BinfmtError.self) {
      try EntrySelection.select(["../status"], all: false, report: report, catalog: c)
    }
  }
}
