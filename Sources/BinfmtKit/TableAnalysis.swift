/// What binfmtctl knows about an entry's interpreter file, gathered by the system layer.
public struct InterpreterFacts: Sendable, Hashable {
  public var exists: Bool
  public var executable: Bool
  /// nil when the file is not ELF or could not be read.
  public var isStatic: Bool?
  public init(exists: Bool, executable: Bool, isStatic: Bool?) {
    self.exists = exists
    self.executable = executable
    self.isStatic = isStatic
  }
}

/// One finding about the live table, with what to do about it.
public struct Problem: Sendable, Hashable {
  public enum Code: String, Sendable {
    case notMounted = "not-mounted"
    /// Inside a container, binfmtctl's own mount is the instance's only one: entries go when
    /// the container stops.
    case onlyMount = "only-mount"
    case globallyDisabled = "globally-disabled"
    case disabled
    case interpreterMissing = "interpreter-missing"
    case interpreterNotExecutable = "interpreter-not-executable"
    case dynamicWithF = "dynamic-interpreter-with-F"
    case noFixBinary = "no-F-flag"
    case native
    case shadowed
    case unreadable
    case lostAtReboot = "lost-at-reboot"
    case missingNow = "missing-now"
    case differsFromPersisted = "differs-from-persisted"
    case bootServiceOff = "boot-service-off"
    /// A binfmt.d file, line or directory that cannot be applied at boot.
    case brokenConfig = "broken-config"
    /// No enabled entry runs a foreign architecture's executables (`scan`).
    case noHandler = "no-handler"
    /// No qemu-user target in the catalog runs this machine (`scan`).
    case noTarget = "no-qemu-target"
  }
  public var code: Code
  public var entry: String?
  public var message: String
  public var fix: String?
  public init(_ code: Code, entry: String?, _ message: String, fix: String? = nil) {
    self.code = code
    self.entry = entry
    self.message = message
    self.fix = fix
  }
}

/// An entry of the live table, understood.
public struct EntryReport: Sendable, Hashable {
  public var entry: KernelEntryStatus
  /// Catalog architectures whose ELF executables this entry matches.
  public var architectures: [String]
  /// binfmtctl manages it: a qemu entry (by name or interpreter) for a catalog architecture.
  /// `uninstall --all` and friends touch only these.
  public var managed: Bool
  public var interpreter: InterpreterFacts
  public var problems: [Problem]
}

public struct TableReport: Sendable {
  public var mounted: Bool
  public var enabled: Bool
  public var entries: [EntryReport]
  /// For each architecture served by more than one enabled entry: the winner first.
  public var winners: [String: String]
  public var problems: [Problem] { entries.flatMap(\.problems) + tableProblems }
  public var tableProblems: [Problem]
}

extension Architecture {
  /// A 64-byte ELF header of an executable for this architecture: what the kernel compares.
  public var sampleHeader: [UInt8] { (0..<64).map(sampleByte) }

  /// Byte `i` of `sampleHeader` (`fullMagic`, then zeros), without building either: status
  /// and install ask every entry about every architecture.
  func sampleByte(_ i: Int) -> UInt8 {
    func ordered(_ v: UInt32, width: Int, at k: Int) -> UInt8 {
      UInt8(truncatingIfNeeded: v >> (8 * (byteOrder == .little ? k : width - 1 - k)))
    }
    switch i {
    case 0: return 0x7f
    case 1: return 0x45
    case 2: return 0x4c
    case 3: return 0x46
    case 4: return elfClass.rawValue
    case 5: return byteOrder.rawValue
    case 6: return 1
    case 16, 17: return ordered(2, width: 2, at: i - 16)  // ET_EXEC
    case 18, 19: return ordered(UInt32(machine), width: 2, at: i - 18)
    case 36...39 where mipsN32 == true: return ordered(ELFFlags.mipsABI2, width: 4, at: i - 36)
    default: return 0
    }
  }
}

extension Registration {
  /// `matches(header: arch.sampleHeader)`, without building the header.
  public func matches(_ arch: Architecture) -> Bool { matchesMagic { arch.sampleByte($0) } }
}

public enum TableAnalysis {
  /// Which catalog architectures an entry serves: it matches their sample executable header.
  public static func architectures(served registration: Registration, catalog: Catalog) -> [String] {
    guard case .magic = registration.match else { return [] }
    return catalog.architectures.filter { registration.matches($0) }.map(\.name)
  }

  /// An entry binfmtctl would manage: named `qemu-…`, or its interpreter is a qemu-user
  /// emulator, and it serves at least one catalog architecture.
  public static func isManaged(_ e: KernelEntryStatus, servedCount: Int) -> Bool {
    guard servedCount > 0 else { return false }
    if e.name.hasPrefix("qemu-") { return true }
    // The last non-empty component, on bytes.
    let path = e.interpreter.utf8.reversed().drop { $0 == UInt8(ascii: "/") }
    let base = String(decoding: path.prefix { $0 != UInt8(ascii: "/") }.reversed(), as: UTF8.self)
    return base.hasPrefix("qemu-") || base.hasSuffix("-binfmt-P")
  }

  /// `entries` in the kernel's directory order (newest first, which is also the order the
  /// kernel tries them: new entries go to the head of its list).
  public static func analyze(
    mounted: Bool, enabled: Bool, entries: [KernelEntryStatus],
    unreadable: [(name: String, error: BinfmtError)] = [],
    facts: (String) -> InterpreterFacts, catalog: Catalog, hostMachine: String, onlyMount: Bool = false
  ) -> TableReport {
    var reports: [EntryReport] = []
    var tableProblems: [Problem] = []
    if onlyMount {
      tableProblems.append(.onlyMount)
    } else if !mounted {
      tableProblems.append(
        Problem(
          .notMounted, entry: nil, "binfmt_misc is not mounted at /proc/sys/fs/binfmt_misc",
          fix:
            "sudo binfmtctl install ARCH mounts it; or: sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc")
      )
    } else if !enabled {
      tableProblems.append(
        Problem(
          .globallyDisabled, entry: nil, "binfmt_misc is disabled as a whole: no entry is used",
          fix: RepairAction.enableTableCommand))
    }
    for u in unreadable {
      tableProblems.append(Problem(.unreadable, entry: u.name, "cannot read entry: \(u.error)"))
    }
    for e in entries {
      let served = architectures(served: e.registration, catalog: catalog)
      let f = facts(e.interpreter)
      var problems: [Problem] = []
      let name = e.name
      if !e.enabled {
        problems.append(Problem(.disabled, entry: name, "\(name) is disabled", fix: "sudo binfmtctl enable \(name)"))
      }
      if !f.exists {
        let pkg = e.interpreter.contains("qemu") ? " (\(Hint.installQemuUserStatic))" : ""
        let note =
          e.flags.contains(.fixBinary)
          ? "; the F flag keeps the opened file, so it still works until a reboot" : ""
        problems.append(
          Problem(
            .interpreterMissing, entry: name, "interpreter \(e.interpreter) does not exist\(note)",
            fix: "install it\(pkg), or sudo binfmtctl uninstall \(name)"))
      } else if !f.executable {
        problems.append(
          Problem(
            .interpreterNotExecutable, entry: name, "interpreter \(e.interpreter) is not executable",
            fix: "sudo chmod 755 \(e.interpreter)"))
      } else if f.isStatic == false && e.flags.contains(.fixBinary) && !served.isEmpty {
        problems.append(
          Problem(
            .dynamicWithF, entry: name,
            "interpreter \(e.interpreter) is dynamically linked: with F it is used inside containers and chroots, where its libraries are missing",
            fix: "install qemu-user-static and: sudo binfmtctl install --replace \(served[0])"))
      }
      if !served.isEmpty && !e.flags.contains(.fixBinary) {
        problems.append(
          Problem(
            .noFixBinary, entry: name,
            "no F flag: inside containers and chroots the kernel looks for \(e.interpreter) in their root and fails with 'no such file or directory'",
            fix: "sudo binfmtctl install --replace \(served[0])"))
      }
      let native = served.filter { name in
        catalog.architectures.first { $0.name == name }.map { catalog.isNative($0, unameMachine: hostMachine) } ?? false
      }
      if !native.isEmpty {
        problems.append(
          Problem(
            .native, entry: name,
            "matches \(native.joined(separator: ", ")), which this \(hostMachine) host runs natively: those programs run slower through \(e.interpreter)",
            fix: "sudo binfmtctl uninstall \(name)"))
      }
      reports.append(
        EntryReport(
          entry: e, architectures: served, managed: isManaged(e, servedCount: served.count), interpreter: f,
          problems: problems))
    }
    // Which entry wins per architecture: the kernel's own choice for its sample header.
    var winners: [String: String] = [:]
    for arch in catalog.architectures {
      let serving = entries.filter { $0.enabled && $0.registration.matches(arch) }
      guard serving.count > 1 else { continue }
      let winner = serving[0].name
      winners[arch.name] = winner
      for loser in serving.dropFirst() {
        if let i = reports.firstIndex(where: { $0.entry.name == loser.name }) {
          reports[i].problems.append(
            Problem(
              .shadowed, entry: loser.name,
              "\(loser.name) and \(winner) both match \(arch.name) binaries; \(winner) wins (registered later)",
              fix: "sudo binfmtctl uninstall \(loser.name)"))
        }
      }
    }
    return TableReport(
      mounted: mounted, enabled: enabled, entries: reports, winners: winners, tableProblems: tableProblems)
  }
}

/// Which binfmt_misc entries take a file: the kernel tries enabled entries newest first (the
/// order of the directory listing) and the first match wins. The one place this rule lives.
public enum Handlers {
  /// Enabled entries that match `header` (and `path`, for extension entries), winner first.
  /// Empty when binfmt_misc is disabled as a whole (`tableEnabled` false).
  public static func matching(
    header: [UInt8], path: String = "", in entries: [KernelEntryStatus], tableEnabled: Bool = true
  ) -> [KernelEntryStatus] {
    guard tableEnabled else { return [] }
    return entries.filter { $0.enabled && $0.registration.matches(header: header, path: path) }
  }
}
