import BinfmtKit
import LinuxSystem

/// Which entries to build: what `install`, `persist` and `generate`-like requests name.
public struct EntryRequest: Sendable {
  /// nil: every catalog architecture that has an emulator.
  public var names: [String]?
  public var includeNative: Bool
  /// `--flags`; nil means the defaults.
  public var flags: String?
  public var credentials: Bool
  public var emulator: String?
  public var qemuDirs: [String]
  /// Accept an `emulator` that says it is qemu for another target.
  public var force: Bool

  public init(
    names: [String]?, includeNative: Bool = false, flags: String? = nil, credentials: Bool = false,
    emulator: String? = nil, qemuDirs: [String] = [], force: Bool = false
  ) {
    self.force = force
    self.names = names
    self.includeNative = includeNative
    self.flags = flags
    self.credentials = credentials
    self.emulator = emulator
    self.qemuDirs = qemuDirs
  }
}

/// One entry to register, for one architecture.
public struct WantedEntry: Sendable, Equatable {
  public var arch: Architecture
  public var registration: Registration
  public init(arch: Architecture, registration: Registration) {
    self.arch = arch
    self.registration = registration
  }
}

/// What happened to one wanted entry.
public struct InstallOutcome: Sendable {
  public var arch: String
  /// What the plan decided for it (and what was done, unless `error`).
  public var step: InstallStep
  public var error: BinfmtError?
  public var registration: Registration { step.registration }
}

extension InstallStep {
  /// The report's words for a step; the JSON `action` field.
  public var actionText: String {
    switch self {
    case .unchanged: return "already installed"
    case .enable: return "enabled (was disabled)"
    case .register: return "installed"
    case .replace(let names, let r):
      return names == [r.name] ? "replaced" : "replaced " + names.joined(separator: ",") + " with"
    case .removeOthers(let names, _): return "kept; removed " + names.joined(separator: ",") + " for"
    }
  }
}

/// Builds entries and registers them: the engine of `install`, and of `persist`'s "now".
public struct Installer: Sendable {
  public let context: EngineContext
  /// Register even when binfmtctl's own mount is the instance's only one and this process is
  /// its container's init, so the entries vanish when it exits (`install --ephemeral`; `watch`,
  /// which keeps them while it runs).
  public var allowEphemeralMount = false
  public init(_ context: EngineContext, allowEphemeralMount: Bool = false) {
    self.context = context
    self.allowEphemeralMount = allowEphemeralMount
  }

  /// The C flag's rule (install, persist, generate): the interpreter and every directory above
  /// it are root's alone, since it runs with the privileges of every setuid program it starts.
  static func refuseUntrustedCredentials(_ interp: String, for a: Architecture, files: FileFacts) throws(BinfmtError) {
    guard let bad = files.untrusted(interp) else { return }
    throw BinfmtError(
      .invalidInput, "refusing the C flag: \(bad.why)", at: a.name,
      cause: "a C interpreter runs with the privileges of every setuid program it starts",
      fix: Hint.trustedEmulator(refused: interp, culprit: bad.culprit, target: a.qemuTarget))
  }

  /// Resolves names, chooses emulators and builds every register string; throws before
  /// anything is written if any of them is wrong. Skipped architectures are noted on stderr.
  public func build(_ request: EntryRequest) throws(BinfmtError) -> [WantedEntry] {
    let catalog = context.catalog
    let host = context.hostMachine
    let files = context.files
    let flagSet = try BinfmtFlags.option(request.flags, credentials: request.credentials)
    if !flagSet.contains(.fixBinary) && context.container.isPID1 {
      // As a container's init (`podman run IMAGE install`) the emulators are that image's
      // files: without F the kernel looks their path up at every exec, in the root of the
      // program it runs (the host's, another container's), where they are not. Markers alone
      // (`/.dockerenv`) do not decide it: hosts that are themselves containers have their
      // emulators in their own root.
      throw BinfmtError(
        .invalidInput,
        "as a container's init binfmtctl registers every entry with F: without F the kernel looks for the emulator in the root of each program it runs, and it is this container's file",
        at: "--flags", fix: "leave out --flags (default PF), or add F to them")
    }
    var skipped: [(String, String)] = []
    var archs: [Architecture]
    if let names = request.names {
      archs = try catalog.resolve(names: names)
      let native = archs.filter { catalog.isNative($0, unameMachine: host) }
      if !native.isEmpty && !request.includeNative {
        throw BinfmtError(
          .invalidInput,
          "\(native.map(\.name).joined(separator: ", ")) is native on this \(host) host: an entry would send native programs through qemu",
          at: "argument", fix: "leave it out, or add --include-native if you really want that")
      }
    } else {
      archs = catalog.architectures
      if !request.includeNative {
        for a in archs where catalog.isNative(a, unameMachine: host) { skipped.append((a.name, "native on this host")) }
        archs.removeAll { catalog.isNative($0, unameMachine: host) }
      }
    }
    let discovery = EmulatorDiscovery(context)
    var out: [WantedEntry] = []
    var missing: [String] = []
    for a in archs {
      var interp: String
      if let emulator = request.emulator {
        try Registration.checkInterpreterPath(emulator, option: "--emulator")
        let f = files.interpreter(emulator)
        guard f.exists else { throw BinfmtError(.notFound, "no such file", at: emulator) }
        guard f.executable else {
          throw BinfmtError(.invalidInput, "not an executable file", at: emulator, fix: "sudo chmod 755 \(emulator)")
        }
        // Before running it: an emulator others can replace is not run as root here either.
        if flagSet.contains(.credentials) { try Self.refuseUntrustedCredentials(emulator, for: a, files: files) }
        try EmulatorCheck(context).check(emulator, for: a, force: request.force)
        interp = emulator
      } else if let chosen = discovery.choose(for: a, extraDirectories: request.qemuDirs) {
        interp = chosen.path
        if chosen.isStatic != true && flagSet.contains(.fixBinary) {
          context.output.warning(
            "\(a.name): \(interp) is not statically linked; inside containers its libraries will be missing")
        }
      } else {
        if request.names == nil {
          skipped.append((a.name, "no qemu-\(a.qemuTarget) emulator installed"))
        } else {
          missing.append(a.name)
        }
        continue
      }
      if flagSet.contains(.credentials) && request.emulator == nil {
        try Self.refuseUntrustedCredentials(interp, for: a, files: files)
      }
      let reg = a.registration(interpreter: interp, flags: flagSet)
      try reg.checkRoundTrip(at: a.name)
      out.append(WantedEntry(arch: a, registration: reg))
    }
    if !missing.isEmpty {
      throw BinfmtError(
        .notFound, "no qemu-user emulator for \(missing.joined(separator: ", "))", at: "argument",
        fix: "install one (\(Hint.installQemuUserStatic)), or give --emulator PATH")
    }
    for s in skipped { context.output.note("skipped \(s.0): \(s.1)") }
    return out
  }

  /// `install`: builds, plans against the live table and registers (or, dry, only plans).
  public func install(_ request: EntryRequest, replace: Bool, dryRun: Bool) throws(BinfmtError) -> InstallReport {
    let wanted = try build(request)
    if dryRun {
      let plan = InstallPlan.make(
        wanted: wanted.map { ($0.arch, $0.registration) }, live: BinfmtMiscTable.read(context.paths).entries,
        replace: replace)
      try refuseConflicts(plan)
      return InstallReport(outcomes: outcomes(wanted, plan), dryRun: true)
    }
    let prepared = try prepare(wanted, replace: replace)
    return InstallReport(outcomes: prepared.execute(), dryRun: false)
  }

  /// Everything that can fail before the first write to the table, done under the lock that
  /// the returned value holds until it is executed or dropped: root, the mount, a writable
  /// table, and a plan without conflicts.
  public func prepare(_ wanted: [WantedEntry], replace: Bool) throws(BinfmtError) -> PreparedInstall {
    try BinfmtMisc.requireRoot()
    return try prepare(wanted, replace: replace, holding: try context.lockTable())
  }

  /// The same, under a lock the caller already holds (`persist` holds it from its first read
  /// of the table to its last write, so plan, files and registration are one critical section).
  public func prepare(_ wanted: [WantedEntry], replace: Bool, holding lock: consuming TableLock) throws(BinfmtError)
    -> PreparedInstall
  {
    let paths = context.paths
    let bm = BinfmtMisc(paths: paths)
    try BinfmtMisc.requireRoot()
    let mounted = try bm.ensureMounted()
    if case .mounted(let newInstance) = mounted {
      switch MountLifetime.decide(newInstance: newInstance, container: context.container) {
      case .lasting: break
      case .untilContainerStops:
        context.output.warning(
          "\(MountLifetime.onlyMountMessage); to keep them, \(MountLifetime.keepFix)")
      case .untilExit where allowEphemeralMount:
        context.output.warning("\(MountLifetime.onlyMountMessage) (--ephemeral: registering anyway)")
      case .untilExit:
        bm.unmount()
        throw BinfmtError(
          .system, "nothing registered: \(MountLifetime.onlyMountMessage) (binfmtctl is its init: when it exits)",
          at: paths.binfmtMisc.string,
          fix: "\(MountLifetime.keepFix) (or add --ephemeral to register for this container's own use)")
      }
    }
    try bm.checkWritable()
    let table = BinfmtMiscTable.read(paths)
    if !table.enabled {
      context.output.warning(
        "binfmt_misc is disabled as a whole; entries are registered but unused (echo 1 > \(paths.binfmtMisc)/status)")
    }
    let plan = InstallPlan.make(
      wanted: wanted.map { ($0.arch, $0.registration) }, live: table.entries, replace: replace)
    try refuseConflicts(plan)
    return PreparedInstall(lock: lock, table: bm, live: table.entries, wanted: wanted, plan: plan)
  }

  func outcomes(_ wanted: [WantedEntry], _ plan: InstallPlan) -> [InstallOutcome] {
    zip(wanted, plan.steps).map { w, s in InstallOutcome(arch: w.arch.name, step: s, error: nil) }
  }

  /// Conflicts are refused with every difference on stderr; nothing is written.
  func refuseConflicts(_ plan: InstallPlan) throws(BinfmtError) {
    guard !plan.conflicts.isEmpty else { return }
    var text = ""
    for c in plan.conflicts {
      text += "conflict: live entry \(c.existing.name) \(c.reason) (wanted \(c.wanted.name)):\n"
      for d in c.differences { text += "  \(d)\n" }
    }
    context.output.stderr(text)
    let names = Set(plan.conflicts.map(\.existing.name)).sorted()
    throw BinfmtError(
      .conflict,
      "\(plan.conflicts.count) conflict\(plan.conflicts.count == 1 ? "" : "s") with live entries (\(names.joined(separator: ", "))); nothing was changed",
      at: "install", fix: "add --replace to replace exactly those entries")
  }
}

/// A plan made under the table lock, ready to write; the lock goes with it.
public struct PreparedInstall: ~Copyable {
  let lock: TableLock
  let table: BinfmtMisc
  let live: [KernelEntryStatus]
  let wanted: [WantedEntry]
  public let plan: InstallPlan

  /// Applies every step; a failed step is reported in its outcome, the others still run.
  public consuming func execute() -> [InstallOutcome] {
    var removed = Set<String>()
    var outcomes: [InstallOutcome] = []
    for (w, step) in zip(wanted, plan.steps) {
      var o = InstallOutcome(arch: w.arch.name, step: step, error: nil)
      do throws(BinfmtError) {
        switch step {
        case .unchanged: break
        case .enable(let r): try table.apply(.enable, to: r.name)
        case .register(let r): try table.register(r)
        case .replace(let names, let r):
          for n in names where removed.insert(n).inserted { try table.apply(.remove, to: n) }
          try table.register(r)
        case .removeOthers(let names, let r):
          for n in names where removed.insert(n).inserted { try table.apply(.remove, to: n) }
          if !live.contains(where: { $0.name == r.name && $0.enabled }) { try table.apply(.enable, to: r.name) }
        }
      } catch {
        o.error = error
      }
      outcomes.append(o)
    }
    return outcomes
  }
}

public struct InstallReport: JSONReport {
  public var outcomes: [InstallOutcome]
  public var dryRun: Bool

  public var partialFailure: Bool { outcomes.contains { $0.error != nil } }

  public var json: JSON {
    .array(
      outcomes.map { o in
        .object([
          "architecture": .string(o.arch), "entry": .string(o.registration.name),
          "interpreter": .string(o.registration.interpreter), "flags": .string(o.registration.flags.description),
          "action": .string(o.step.actionText), "ok": .bool(o.error == nil), "error": .optional(o.error?.description),
          "registerString": .string(o.registration.registerString()), "dryRun": .bool(dryRun),
        ])
      })
  }

  public var text: String {
    var out = ""
    for o in outcomes {
      if let e = o.error {
        out += "\(o.arch): FAILED \(o.registration.name): \(e)\n"
        if let fix = e.fix { out += "  fix: \(fix)\n" }
      } else if dryRun {
        if case .unchanged = o.step {
          out += "\(o.arch): already installed, nothing to write\n"
        } else {
          out += "\(o.arch): would be \(o.step.actionText)\n"
          out += "  \(o.registration.registerString())\n"
        }
      } else {
        out +=
          "\(o.arch): \(o.step.actionText) \(o.registration.name) (\(TerminalText.escape(o.registration.interpreter)), flags \(o.registration.flags))\n"
      }
    }
    return out
  }
}
