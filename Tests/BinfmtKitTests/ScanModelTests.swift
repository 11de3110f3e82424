import Testing

@testable import BinfmtKit

/// `scan`'s pure parts: the machine key, roles, the tally, and the host verdict.
struct ScanModelTests {
  let c = Catalog.standard

  func header(_ a: Architecture, type: UInt16 = 2, flags: UInt32 = 0) throws -> ELFHeader {
    var h = try ELFHeader.decode(a.sampleHeader)
    h.type = type
    h.flags = flags
    return h
  }

  func live(_ r: Registration, name: String? = nil, enabled: Bool = true, flags: BinfmtFlags? = nil)
    -> KernelEntryStatus
  {
    KernelEntryStatus(
      name: name ?? r.name, enabled: enabled, interpreter: r.interpreter, flags: flags ?? r.flags, match: r.match)
  }

  func table(
    _ entries: [KernelEntryStatus], mounted: Bool = true, enabled: Bool = true,
    facts: InterpreterFacts = InterpreterFacts(exists: true, executable: true, isStatic: true)
  ) -> TableReport {
    TableAnalysis.analyze(
      mounted: mounted, enabled: enabled, entries: entries, facts: { _ in facts }, catalog: c, hostMachine: "x86_64")
  }

  /// The key finds the same catalog entry as the header, for every architecture (MIPS n32
  /// and o32 apart), so counting by key loses nothing.
  @Test func machineKeyFindsTheHeadersArchitecture() throws {
    for a in c.architectures {
      let flags: UInt32 = a.mipsN32 == true ? ELFFlags.mipsABI2 : 0
      let h = try header(a, flags: flags)
      #expect(c.architecture(for: MachineKey(h)) == c.architecture(for: h), "\(a.name)")
    }
    let n32 = try header(c.resolve("mipsn32el")!, flags: ELFFlags.mipsABI2)
    #expect(MachineKey(n32).mipsN32 && c.architecture(for: MachineKey(n32))?.name == "mipsn32el")
    // The ABI2 bit means nothing on other machines: it does not split their counts.
    let arm = try header(c.resolve("arm64")!, flags: ELFFlags.mipsABI2)
    #expect(MachineKey(arm) == MachineKey(try header(c.resolve("arm64")!)))
  }

  @Test func roles() {
    #expect(ELFRole(type: 2, hasInterpreter: false) == .staticExecutable)
    #expect(ELFRole(type: 2, hasInterpreter: true) == .dynamicExecutable)
    #expect(ELFRole(type: 3, hasInterpreter: true) == .dynamicExecutable)
    #expect(ELFRole(type: 3, hasInterpreter: false) == .sharedObject)
    #expect(ELFRole(type: 1, hasInterpreter: false) == .other)
    #expect(ELFRole(type: 4, hasInterpreter: false) == .other)
    #expect(!ELFRole.mayHaveInterpreter(type: 1) && ELFRole.mayHaveInterpreter(type: 3))
  }

  /// Two threads' tallies merge into the counts one thread would have made; loaders are
  /// kept per operand and machine, the error samples bounded.
  @Test func tallyMerges() throws {
    let arm = MachineKey(try header(c.resolve("arm64")!))
    let s390 = MachineKey(try header(c.resolve("s390x")!))
    let ld = Array("/lib/ld-linux-aarch64.so.1".utf8)
    var a = ScanTally()
    var b = ScanTally()
    a.files = 3
    b.files = 5
    a.add(arm, role: .dynamicExecutable)
    a.add(arm, role: .sharedObject)
    b.add(arm, role: .dynamicExecutable)
    b.add(s390, role: .staticExecutable)
    ld.withUnsafeBytes { a.addLoader($0, machine: arm, root: 0) }
    ld.withUnsafeBytes { b.addLoader($0, machine: arm, root: 0) }
    ld.withUnsafeBytes { b.addLoader($0, machine: arm, root: 1) }
    for i in 0..<(ScanTally.sampleLimit + 5) { b.addError(ScanError(path: "/p\(i)", message: "x")) }
    a.addError(ScanError(path: "/first", message: "y"))
    a.merge(b)
    #expect(a.files == 8 && a.elfFiles == 4)
    let counts = Dictionary(uniqueKeysWithValues: a.machines.map { ($0.key, $0.counts) })
    #expect(counts[arm]?.dynamicExecutables == 2 && counts[arm]?.sharedObjects == 1 && counts[arm]?.runnable == 3)
    #expect(counts[s390]?.staticExecutables == 1)
    #expect(a.loaders.map(\.files) == [2, 1] && a.loaders.map(\.root) == [0, 1])
    #expect(a.errors == ScanTally.sampleLimit + 6 && a.errorSamples.count == ScanTally.sampleLimit)
    #expect(a.errorSamples.first?.path == "/first")
  }

  /// The verdict per architecture, each blocking reason with the fix the rest of binfmtctl
  /// prints for it.
  @Test func hostSupport() throws {
    let arm64 = c.resolve("arm64")!
    let key = MachineKey(try header(arm64))
    func decide(_ t: TableReport, host: String = "x86_64") -> HostSupport {
      HostSupport.decide(key, table: t, catalog: c, hostMachine: host)
    }
    #expect(decide(table([]), host: "aarch64") == .native)
    #expect(decide(table([], mounted: false, enabled: false)).problem?.fix == "sudo binfmtctl install aarch64")
    #expect(decide(table([])).problem?.code == .noHandler)
    #expect(decide(table([])).problem?.fix == "sudo binfmtctl install aarch64")
    let reg = arm64.registration()
    #expect(decide(table([live(reg)])) == .emulated(entry: "qemu-aarch64", interpreter: reg.interpreter))
    #expect(decide(table([live(reg)], enabled: false)).problem?.code == .globallyDisabled)
    #expect(decide(table([live(reg, enabled: false)])).problem?.fix == "sudo binfmtctl enable qemu-aarch64")
    let noF = decide(table([live(reg, flags: [.preserveArgv0])])).problem
    #expect(noF?.code == .noFixBinary && noF?.fix == "sudo binfmtctl install --replace aarch64")
    let gone = InterpreterFacts(exists: false, executable: false, isStatic: nil)
    // With F the kernel holds the interpreter open: a deleted file still runs until reboot.
    #expect(decide(table([live(reg)], facts: gone)).runs == "binfmt_misc")
    let dynamic = InterpreterFacts(exists: true, executable: true, isStatic: false)
    #expect(decide(table([live(reg)], facts: dynamic)).problem?.code == .dynamicWithF)
    // A machine no qemu target runs.
    var odd = try header(arm64)
    odd.machine = 247
    #expect(
      HostSupport.decide(MachineKey(odd), table: table([]), catalog: c, hostMachine: "x86_64").problem?.code
        == .noTarget)
  }
}

extension HostSupport {
  var problem: Problem? {
    if case .blocked(let p) = self { return p }
    return nil
  }
}
