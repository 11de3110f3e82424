import ArgumentParser
import BinfmtKit
import LinuxSystem

struct Install: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Register qemu-user emulators for foreign architectures in binfmt_misc (now; `persist` keeps them).",
    discussion: """
      Every entry is built and checked before the first write. An entry that is already live with
      the same definition is left alone. One with the same name, or another entry matching the
      same architecture, is refused with the difference unless --replace, which replaces exactly
      those entries. Default flags: PF (see README).
      Exit status: 0 done (or nothing to do), 1 some entries failed, 2 bad usage, 3 no emulator,
      4 the system refused (not root, read-only /proc/sys), 5 conflicts with live entries.
      """)

  @OptionGroup var entries: EntryDefinitionOptions
  @Flag(help: "Replace live entries that differ or match the same architecture.") var replace = false
  @Flag(help: "Print what would be written; change nothing.") var dryRun = false
  @Flag(help: "Print JSON on stdout.") var json = false

  func validate() throws {
    if !entries.all && entries.architectures.isEmpty { throw ValidationError("name at least one architecture, or --all") }
  }

  func run() throws {
    let paths = SystemPaths()
    let wanted = try entries.build(facts: SystemFacts(paths: paths))
    let outcome = try Install.apply(wanted.entries, replace: replace, dryRun: dryRun, paths: paths)
    Output.stdout(Output.render(outcome, dryRun: dryRun, as: json ? .json : .text))
    if outcome.contains(where: { $0.error != nil }) { throw ExitWith(status: .partial) }
  }

  /// Installs and persists build entries from the same options.
  struct EntryDefinitionOptions: ParsableArguments {
    @Argument(help: "Architectures (any name `binfmtctl arch list` shows).") var architectures: [String] = []
    @Flag(help: "Every architecture that has an emulator installed.") var all = false
    @Flag(help: "Also the host's own family (e.g. i386 on x86_64).") var includeNative = false
    @Option(help: "binfmt_misc flags, from POCF (default: PF). C needs --credentials.") var flags: String?
    @Flag(help: "Allow the C flag (the interpreter runs with a setuid binary's privileges).") var credentials = false
    @Option(help: "Emulator to use (one architecture only).") var emulator: String?
    @Option(help: "Look for qemu-<arch>[-static] here first.") var qemuDir: [String] = []
    @Option(help: .hidden) var hostMachine: String?

    func validate() throws {
      if all && !architectures.isEmpty { throw ValidationError("give architectures or --all, not both") }
      if emulator != nil && (all || architectures.count != 1) {
        throw ValidationError("--emulator names one file, so it needs exactly one architecture")
      }
    }

    var host: String { hostMachine ?? unameMachine() }

    /// `Install.build` for these options; skipped architectures are noted on stderr.
    func build(facts: SystemFacts) throws(BinfmtError) -> Wanted {
      let w = try Install.build(
        names: all ? nil : architectures, includeNative: includeNative, flags: flags, credentials: credentials,
        emulator: emulator, qemuDirs: qemuDir, facts: facts, host: host)
      for s in w.skipped { Output.note("skipped \(s.arch): \(s.reason)") }
      return w
    }
  }

  struct Wanted {
    var entries: [(arch: Architecture, registration: Registration)]
    var skipped: [(arch: String, reason: String)]
  }

  /// Resolves names, chooses emulators and builds every register string; throws before
  /// anything is written if any of them is wrong.
  static func build(
    names: [String]?, includeNative: Bool, flags: String?, credentials: Bool, emulator: String?,
    qemuDirs: [String], facts: SystemFacts, host: String
  ) throws(BinfmtError) -> Wanted {
    let catalog = facts.catalog
    let flagSet = try BinfmtFlags.option(flags, credentials: credentials)
    var skipped: [(String, String)] = []
    var archs: [Architecture]
    if let names {
      archs = try catalog.resolve(names: names)
      let native = archs.filter { catalog.isNative($0, unameMachine: host) }
      if !native.isEmpty && !includeNative {
        throw BinfmtError(
          .invalidInput,
          "\(native.map(\.name).joined(separator: ", ")) is native on this \(host) host: an entry would send native programs through qemu",
          at: "argument", fix: "leave it out, or add --include-native if you really want that")
      }
    } else {
      archs = catalog.architectures
      if !includeNative {
        for a in archs where catalog.isNative(a, unameMachine: host) { skipped.append((a.name, "native on this host")) }
        archs.removeAll { catalog.isNative($0, unameMachine: host) }
      }
    }
    var out: [(Architecture, Registration)] = []
    var missing: [String] = []
    for a in archs {
      var interp: String
      if let emulator {
        guard emulator.hasPrefix("/") else {
          throw BinfmtError(.invalidInput, "must be an absolute path", at: "--emulator")
        }
        let f = facts.interpreter(emulator)
        guard f.exists else { throw BinfmtError(.notFound, "no such file", at: emulator) }
        guard f.executable else { throw BinfmtError(.invalidInput, "not an executable file", at: emulator) }
        interp = emulator
      } else if let chosen = EmulatorDiscovery.choose(for: a, facts: facts, extraDirectories: qemuDirs) {
        interp = chosen.path
        if chosen.isStatic != true && flagSet.contains(.fixBinary) {
          Output.warning("\(a.name): \(interp) is not statically linked; inside containers its libraries will be missing")
        }
      } else {
        if names == nil {
          skipped.append((a.name, "no qemu-\(a.qemuTarget) emulator installed"))
        } else {
          missing.append(a.name)
        }
        continue
      }
      if flagSet.contains(.credentials), let why = facts.untrustedReason(interp) {
        throw BinfmtError(
          .invalidInput, "refusing the C flag: \(why)", at: a.name,
          cause: "a C interpreter runs with the privileges of every setuid program it starts",
          fix: "use a root-owned emulator in a root-only directory, e.g. /usr/bin/qemu-\(a.qemuTarget)-static")
      }
      let reg = a.registration(interpreter: interp, flags: flagSet)
      // The same parser the tests prove equal to the kernel's: nothing invalid is written.
      do throws(BinfmtError) {
        let back = try Registration.parse(reg.registerString())
        guard InstallPlan.sameDefinition(back, reg) else {
          throw BinfmtError(.invalidInput, "register string does not round-trip", at: a.name)
        }
      } catch {
        throw error.located(a.name)
      }
      out.append((a, reg))
    }
    if !missing.isEmpty {
      throw BinfmtError(
        .notFound, "no qemu-user emulator for \(missing.joined(separator: ", "))", at: "argument",
        fix: "install one (Debian/Ubuntu: apt install qemu-user-static; Fedora: dnf install qemu-user-static; Arch: pacman -S qemu-user-static), or give --emulator PATH")
    }
    return Wanted(entries: out, skipped: skipped)
  }

  struct Outcome {
    var arch: String
    var registration: Registration
    /// "installed", "already installed", "enabled", "replaced X".
    var action: String
    var error: BinfmtError?
  }

  /// Takes the lock, mounts binfmt_misc if needed, plans against the live table and writes.
  static func apply(
    _ wanted: [(arch: Architecture, registration: Registration)], replace: Bool, dryRun: Bool, paths: SystemPaths
  ) throws(BinfmtError) -> [Outcome] {
    let bm = BinfmtMisc(paths: paths)
    if dryRun {
      let live = BinfmtMiscTable.read(paths).entries
      let plan = InstallPlan.make(wanted: wanted, live: live, replace: replace)
      try throwConflicts(plan)
      return zip(wanted, plan.steps).map { w, s in Outcome(arch: w.arch.name, registration: s.registration, action: describe(s), error: nil) }
    }
    try BinfmtMisc.requireRoot()
    let lock = try TableLock(paths: paths)
    defer { _ = lock }
    try bm.ensureMounted()
    try bm.checkWritable()
    let table = BinfmtMiscTable.read(paths)
    if !table.enabled { Output.warning("binfmt_misc is disabled as a whole; entries are registered but unused (echo 1 > \(paths.binfmtMisc)/status)") }
    let plan = InstallPlan.make(wanted: wanted, live: table.entries, replace: replace)
    try throwConflicts(plan)
    var removed = Set<String>()
    var outcomes: [Outcome] = []
    for (w, step) in zip(wanted, plan.steps) {
      var o = Outcome(arch: w.arch.name, registration: step.registration, action: describe(step), error: nil)
      do throws(BinfmtError) {
        switch step {
        case .unchanged: break
        case .enable(let r): try bm.apply(.enable, to: r.name)
        case .register(let r): try bm.register(r)
        case .replace(let names, let r):
          for n in names where removed.insert(n).inserted { try bm.apply(.remove, to: n) }
          try bm.register(r)
        case .removeOthers(let names, let r):
          for n in names where removed.insert(n).inserted { try bm.apply(.remove, to: n) }
          if !table.entries.contains(where: { $0.name == r.name && $0.enabled }) { try bm.apply(.enable, to: r.name) }
        }
      } catch {
        o.error = error
      }
      outcomes.append(o)
    }
    return outcomes
  }

  static func describe(_ s: InstallStep) -> String {
    switch s {
    case .unchanged: return "already installed"
    case .enable: return "enabled (was disabled)"
    case .register: return "installed"
    case .replace(let names, let r):
      return names == [r.name] ? "replaced" : "replaced " + names.joined(separator: ",") + " with"
    case .removeOthers(let names, _): return "kept; removed " + names.joined(separator: ",") + " for"
    }
  }

  static func throwConflicts(_ plan: InstallPlan) throws(BinfmtError) {
    guard !plan.conflicts.isEmpty else { return }
    var text = ""
    for c in plan.conflicts {
      text += "conflict: live entry \(c.existing.name) \(c.reason) (wanted \(c.wanted.name)):\n"
      for d in c.differences { text += "  \(d)\n" }
    }
    Output.stderr(text)
    let names = Set(plan.conflicts.map(\.existing.name)).sorted()
    throw BinfmtError(
      .conflict, "\(plan.conflicts.count) conflict\(plan.conflicts.count == 1 ? "" : "s") with live entries (\(names.joined(separator: ", "))); nothing was changed",
      at: "install", fix: "add --replace to replace exactly those entries")
  }
}

extension Output {
  /// A human note: stderr, so JSON on stdout stays clean.
  static func note(_ s: String) { stderr("binfmtctl: \(s)\n") }

  static func render(_ outcomes: [Install.Outcome], dryRun: Bool, as format: OutputFormat) -> String {
    switch format {
    case .json:
      return JSON.array(
        outcomes.map { o in
          .object([
            "architecture": .string(o.arch), "entry": .string(o.registration.name),
            "interpreter": .string(o.registration.interpreter), "flags": .string(o.registration.flags.description),
            "action": .string(o.action), "ok": .bool(o.error == nil), "error": .optional(o.error?.description),
            "registerString": .string(o.registration.registerString()), "dryRun": .bool(dryRun),
          ])
        }
      ).render() + "\n"
    case .text:
      var out = ""
      for o in outcomes {
        if let e = o.error {
          out += "\(o.arch): FAILED \(o.registration.name): \(e)\n"
          if let fix = e.fix { out += "  fix: \(fix)\n" }
        } else if dryRun {
          out += "\(o.arch): \(o.action == "already installed" ? "already installed, nothing to write" : "would be " + o.action)\n"
          if o.action != "already installed" { out += "  \(o.registration.registerString())\n" }
        } else {
          out += "\(o.arch): \(o.action) \(o.registration.name) (\(o.registration.interpreter), flags \(o.registration.flags))\n"
        }
      }
      return out
    }
  }
}
