/// What `scan` makes of one ELF file: how it is started. The raw values are the JSON contract.
public enum ELFRole: String, Sendable, Hashable, CaseIterable {
  /// ET_EXEC without PT_INTERP.
  case staticExecutable = "static"
  /// ET_EXEC or ET_DYN with PT_INTERP: the kernel starts its loader first.
  case dynamicExecutable = "dynamic"
  /// ET_DYN without PT_INTERP: a shared library (or a static-pie executable, which only its
  /// dynamic section tells apart; `scan` does not read that far).
  case sharedObject = "shared-object"
  /// Relocatable objects, core files and other types: never started by exec.
  case other

  public init(type: UInt16, hasInterpreter: Bool) {
    switch type {
    case 2: self = hasInterpreter ? .dynamicExecutable : .staticExecutable
    case 3: self = hasInterpreter ? .dynamicExecutable : .sharedObject
    default: self = .other
    }
  }

  /// Whether a header of this type can name a loader: the program headers are read only then.
  public static func mayHaveInterpreter(type: UInt16) -> Bool { type == 2 || type == 3 }
}

/// ELF files of one machine, by role.
public struct ELFCounts: Sendable, Hashable {
  public var staticExecutables = 0
  public var dynamicExecutables = 0
  public var sharedObjects = 0
  public var other = 0
  public init() {}

  public var files: Int { staticExecutables + dynamicExecutables + sharedObjects + other }
  /// Files a program needs this machine for: executables and shared objects.
  public var runnable: Int { staticExecutables + dynamicExecutables + sharedObjects }

  public mutating func add(_ role: ELFRole, count: Int = 1) {
    switch role {
    case .staticExecutable: staticExecutables += count
    case .dynamicExecutable: dynamicExecutables += count
    case .sharedObject: sharedObjects += count
    case .other: other += count
    }
  }

  public mutating func add(_ o: ELFCounts) {
    staticExecutables += o.staticExecutables
    dynamicExecutables += o.dynamicExecutables
    sharedObjects += o.sharedObjects
    other += o.other
  }
}

/// One loader (PT_INTERP) that files of one machine under one operand ask for.
public struct LoaderUse: Sendable, Hashable {
  public var root: Int
  public var machine: MachineKey
  /// The loader's bytes up to the first NUL, as the kernel opens them.
  public var path: [UInt8]
  public var files: Int
  public init(root: Int, machine: MachineKey, path: [UInt8], files: Int) {
    self.root = root
    self.machine = machine
    self.path = path
    self.files = files
  }
}

/// A path that could not be read, and why.
public struct ScanError: Sendable, Hashable {
  public var path: String
  public var message: String
  public init(path: String, message: String) {
    self.path = path
    self.message = message
  }
}

/// What one walking thread has seen, aggregated as it goes: counts per machine, the loaders,
/// the errors (the first `sampleLimit` of them kept). Nothing grows with the number of files.
public struct ScanTally: Sendable {
  public static let sampleLimit = 100

  /// Regular files read.
  public var files = 0
  /// ELF files by machine, in the order first seen (few: a linear search beats hashing).
  public var machines: [(key: MachineKey, counts: ELFCounts)] = []
  /// Files with the ELF magic whose header is not a valid one (`inspect` says why).
  public var invalidELF = 0
  public var loaders: [LoaderUse] = []
  public var errors = 0
  public var errorSamples: [ScanError] = []
  public init() {}

  public var elfFiles: Int { machines.reduce(0) { $0 + $1.counts.files } }

  public mutating func add(_ key: MachineKey, role: ELFRole, count: Int = 1) {
    if let i = machines.firstIndex(where: { $0.key == key }) {
      machines[i].counts.add(role, count: count)
    } else {
      var c = ELFCounts()
      c.add(role, count: count)
      machines.append((key, c))
    }
  }

  /// Counts one file's loader; `path` is copied only the first time it is seen.
  public mutating func addLoader(_ path: UnsafeRawBufferPointer, machine: MachineKey, root: Int, count: Int = 1) {
    for i in loaders.indices
    where loaders[i].root == root && loaders[i].machine == machine && loaders[i].path.elementsEqual(path) {
      loaders[i].files += count
      return
    }
    loaders.append(LoaderUse(root: root, machine: machine, path: Array(path), files: count))
  }

  public mutating func addError(_ e: ScanError) {
    errors += 1
    if errorSamples.count < Self.sampleLimit { errorSamples.append(e) }
  }

  public mutating func merge(_ o: ScanTally) {
    files += o.files
    invalidELF += o.invalidELF
    for m in o.machines {
      if let i = machines.firstIndex(where: { $0.key == m.key }) {
        machines[i].counts.add(m.counts)
      } else {
        machines.append(m)
      }
    }
    for l in o.loaders {
      l.path.withUnsafeBytes { addLoader($0, machine: l.machine, root: l.root, count: l.files) }
    }
    errors += o.errors
    errorSamples += o.errorSamples.prefix(Self.sampleLimit - errorSamples.count)
  }
}

/// Whether this host can run a machine's programs now, and if not, why and what fixes it.
public enum HostSupport: Sendable, Hashable {
  case native
  /// A binfmt_misc entry takes its executables.
  case emulated(entry: String, interpreter: String)
  case blocked(Problem)

  /// The JSON contract: "native", "binfmt_misc" or "no".
  public var runs: String {
    switch self {
    case .native: return "native"
    case .emulated: return "binfmt_misc"
    case .blocked: return "no"
    }
  }

  /// Decides as `status` and `probe` do: the host's own family runs natively; anything else
  /// needs a mounted, enabled binfmt_misc whose winning entry for the architecture's
  /// executables is enabled, has its interpreter (or holds it open, with `F`), and carries
  /// `F`, without which the kernel looks for the interpreter inside a container or chroot of
  /// the tree at exec time. Each blocking reason is the table's own `Problem`, fix included.
  public static func decide(
    _ key: MachineKey, table: TableReport, catalog: Catalog, hostMachine: String
  ) -> HostSupport {
    guard let arch = catalog.architecture(for: key) else {
      return .blocked(
        Problem(
          .noTarget, entry: nil, "no qemu-user target runs \(key.description) programs",
          fix: "run them on a \(ELFNames.machine(key.machine)) machine"))
    }
    if catalog.isNative(arch, unameMachine: hostMachine) { return .native }
    if !table.mounted {
      return .blocked(
        Problem(
          .notMounted, entry: nil, "binfmt_misc is not mounted", fix: "sudo binfmtctl install \(arch.name)"))
    }
    if let off = table.tableProblems.first(where: { $0.code == .globallyDisabled }) { return .blocked(off) }
    let sample = arch.sampleHeader
    let entries = table.entries.map(\.entry)
    guard let winner = Handlers.matching(header: sample, in: entries).first else {
      if let disabled = table.entries.first(where: {
        !$0.entry.enabled && $0.entry.registration.matches(header: sample)
      }), let p = disabled.problems.first(where: { $0.code == .disabled }) {
        return .blocked(p)
      }
      return .blocked(
        Problem(
          .noHandler, entry: nil, "no binfmt_misc entry runs \(arch.name) executables",
          fix: "sudo binfmtctl install \(arch.name)"))
    }
    let report = table.entries.first { $0.entry.name == winner.name }
    let blocking: Set<Problem.Code> = [.interpreterNotExecutable, .dynamicWithF, .noFixBinary]
    for p in report?.problems ?? [] {
      if blocking.contains(p.code) || (p.code == .interpreterMissing && !winner.flags.contains(.fixBinary)) {
        return .blocked(p)
      }
    }
    return .emulated(entry: winner.name, interpreter: winner.interpreter)
  }
}
