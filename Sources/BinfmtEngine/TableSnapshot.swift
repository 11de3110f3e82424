import BinfmtKit
import LinuxSystem

/// The live table understood, plus where binfmt_misc stands and, for `status`, what the next
/// boot will bring back. `status`, `uninstall`/`enable`/`disable` and `persist` read it.
public struct TableSnapshot: Sendable {
  public var path: String
  public var kernelSupport: KernelSupport
  public var report: TableReport
  public var boot: BootView?

  /// The persistence part of `status`.
  public struct BootView: Sendable {
    public var initSystem: InitSystem
    public var verdict: BootServiceVerdict
    public var persistence: PersistenceReport
    public var ourFiles: [String]
  }

  public var problems: [Problem] {
    report.problems + (boot?.persistence.problems ?? []) + (boot?.verdict.problem.map { [$0] } ?? [])
  }

  /// Reads and analyses the table; with `withPersistence`, also binfmt.d and the boot service.
  /// `mountInContainer` (`status`): inside a container, mount binfmt_misc for the read
  /// (`ContainerMount`), and report `only-mount` when nothing outside keeps the instance.
  public static func read(
    _ context: EngineContext, withPersistence: Bool = false, mountInContainer: Bool = false
  ) -> TableSnapshot {
    let paths = context.paths
    let mount = ContainerMount(context, enabled: mountInContainer)
    let onlyMount = mount.newInstance
    let table = BinfmtMiscTable.read(paths)
    _ = consume mount
    let files = context.files
    let support: KernelSupport = table.mounted ? .yes : BinfmtMisc(paths: paths).kernelSupport()
    // A list, not a dictionary: a few dozen interpreters, and a Dictionary of a new value
    // type costs a runtime scan of every conformance to instantiate (ByteText says why).
    var cache: [(path: String, facts: InterpreterFacts)] = []
    let report = TableAnalysis.analyze(
      mounted: table.mounted, enabled: table.enabled, entries: table.entries, unreadable: table.unreadable,
      facts: { path in
        if let hit = cache.first(where: { $0.path == path }) { return hit.facts }
        let f = files.interpreter(path)
        cache.append((path, f))
        return f
      }, catalog: context.catalog, hostMachine: context.hostMachine, onlyMount: onlyMount)
    var snap = TableSnapshot(
      path: paths.binfmtMisc.string, kernelSupport: support, report: report, boot: nil)
    if withPersistence { snap.boot = bootView(context, live: table.entries, report: report) }
    return snap
  }

  /// The `persist` that works for a live entry: plain when what persist would build is that
  /// entry (so the plan has no conflict), `--replace` when it differs (a container tool's
  /// registration, say), and first the emulator when this host has none.
  static func persistFix(_ context: EngineContext, for e: KernelEntryStatus) -> String {
    var quiet = context
    quiet.output = OutputSink { _, _ in }
    // The name persist understands: the entry's, or else the architecture it serves.
    let name =
      context.catalog.resolve(e.name) != nil
      ? e.name : TableAnalysis.architectures(served: e.registration, catalog: context.catalog).first ?? e.name
    let native =
      context.catalog.resolve(name).map { context.catalog.isNative($0, unameMachine: context.hostMachine) } ?? false
    let extra = native ? " --include-native" : ""
    do throws(BinfmtError) {
      let built = try Installer(quiet).build(EntryRequest(names: [name], includeNative: native))
      if built.count == 1, InstallPlan.sameDefinition(built[0].registration, e.registration) {
        return "sudo binfmtctl persist\(extra) \(name)"
      }
      return "sudo binfmtctl persist --replace\(extra) \(name)"
    } catch {
      if error.kind == .notFound {
        return
          "install qemu-user-static (\(Hint.installQemuUserStatic)), then: sudo binfmtctl persist --replace\(extra) \(name)"
      }
      return "sudo binfmtctl persist --replace\(extra) \(name)"
    }
  }

  static func bootView(_ context: EngineContext, live: [KernelEntryStatus], report: TableReport) -> BootView {
    let t = PersistLayout(paths: context.paths)
    let initSystem = InitSystem.detect(context.paths, offline: false)
    let config = BootConfiguration.resolve(ConfigFiles.scanBinfmtD(context.paths))
    let ours = config.ours
    let ourFiles = ours.map(\.file.path)
    let managed = Set(report.entries.filter(\.managed).map(\.entry.name))
    var persistence = PersistenceReport.make(
      config: config, ours: ours, live: live, managed: managed, systemdApplies: initSystem == .systemd)
    persistence.problems = persistence.problems.map { p in
      guard p.code == .lostAtReboot, let name = p.entry, let e = live.first(where: { $0.name == name }) else {
        return p
      }
      var p = p
      p.fix = persistFix(context, for: e)
      return p
    }
    let (installed, linked) = t.bootService(initSystem)
    let verdict = BootServiceVerdict.decide(
      initSystem: initSystem, installed: installed, linked: linked, persistedFiles: ourFiles.count)
    return BootView(initSystem: initSystem, verdict: verdict, persistence: persistence, ourFiles: ourFiles)
  }
}

/// `status`: the snapshot with persistence, as people and scripts read it.
public struct StatusReport: JSONReport {
  public var snapshot: TableSnapshot
  public init(snapshot: TableSnapshot) { self.snapshot = snapshot }

  public var partialFailure: Bool { !snapshot.problems.isEmpty }

  public var json: JSON {
    let s = snapshot
    let r = s.report
    let boot = s.boot
    return .object([
      "binfmtMisc": .object([
        "path": .string(s.path), "mounted": .bool(r.mounted), "enabled": .bool(r.enabled),
        "kernelSupport": .string(s.kernelSupport.rawValue),
      ]),
      "entries": .array(
        r.entries.map { e in
          var o = Self.entry(e)
          let st = boot?.persistence.live[e.entry.name]
          o["persistence"] = .optional(st?.drift.rawValue)
          o["persistedIn"] = .optional(st?.file)
          return .object(o)
        }),
      "persistence": .object([
        "init": .string((boot?.initSystem ?? .none).rawValue),
        "bootService": .string((boot?.verdict.state ?? .absent).rawValue),
        "firesAtBoot": .bool(boot?.verdict.firesAtBoot ?? false),
        "files": .array((boot?.ourFiles ?? []).map(JSON.string)),
        "missingNow": .array(
          (boot?.persistence.missingNow ?? []).map { .object(["entry": .string($0.entry), "file": .string($0.file)]) }),
        "notes": .array((boot?.persistence.notes ?? []).map { .string($0.text) }),
      ]),
      "problems": .array(s.problems.map(Self.problem)),
      "winners": .object(r.winners.mapValues(JSON.string)),
    ])
  }

  public var text: String {
    let s = snapshot
    let r = s.report
    let boot = s.boot
    var out = "binfmt_misc: "
    if r.mounted {
      out += "mounted at \(s.path), \(r.enabled ? "enabled" : "DISABLED")\n"
    } else {
      out += "not mounted at \(s.path) (kernel support: \(s.kernelSupport.rawValue))\n"
    }
    if !r.entries.isEmpty {
      var rows = [["NAME", "STATE", "ARCH", "FLAGS", "BOOT", "INTERPRETER"]]
      for e in r.entries {
        var interp = e.entry.interpreter
        if !e.interpreter.exists {
          interp += " (missing)"
        } else if let st = e.interpreter.isStatic {
          interp += st ? " (static)" : " (dynamic)"
        }
        rows.append([
          e.entry.name, e.entry.enabled ? "enabled" : "disabled",
          e.architectures.isEmpty
            ? (e.entry.match.typeLetter == "E" ? "extension" : "-") : ByteText.join(e.architectures, ","),
          e.entry.flags.description.isEmpty ? "-" : e.entry.flags.description,
          boot?.persistence.live[e.entry.name].map { Self.bootColumn($0.drift) } ?? "-", interp,
        ])
      }
      out += TextTable.render(rows)
    } else if r.mounted {
      out += "no entries\n"
    }
    for m in boot?.persistence.missingNow ?? [] {
      out += "\(TerminalText.escape(m.entry)): persisted in \(TerminalText.escape(m.file)), not live now\n"
    }
    let files = boot?.ourFiles ?? []
    out +=
      "boot: \((boot?.initSystem ?? .none).rawValue), binfmtctl service \((boot?.verdict.state ?? .absent).rawValue)"
    out +=
      files.isEmpty
      ? ", nothing persisted by binfmtctl\n"
      : ", \(files.count) persisted file\(files.count == 1 ? "" : "s")\(boot?.verdict.firesAtBoot == true ? "" : " (NOT applied at next boot)")\n"
    for n in boot?.persistence.notes ?? [] { out += "  note: \(TerminalText.escape(n.text))\n" }
    let problems = s.problems
    if !problems.isEmpty {
      out += "\n\(problems.count) problem\(problems.count == 1 ? "" : "s"):\n"
      for p in problems {
        // Entry names and interpreter paths come from the kernel's table and the disk.
        out += "  " + TerminalText.escape((p.entry.map { $0 + ": " } ?? "") + p.message) + "\n"
        if let fix = p.fix { out += "    fix: \(TerminalText.escape(fix))\n" }
      }
    }
    return out
  }

  static func entry(_ e: EntryReport) -> [String: JSON] {
    var o: [String: JSON] = [
      "name": .string(e.entry.name),
      "enabled": .bool(e.entry.enabled),
      "interpreter": .string(e.entry.interpreter),
      "flags": .string(e.entry.flags.description),
      "architectures": .array(e.architectures.map(JSON.string)),
      "managed": .bool(e.managed),
      "interpreterExists": .bool(e.interpreter.exists),
      "interpreterExecutable": .bool(e.interpreter.executable),
      "interpreterStatic": e.interpreter.isStatic.map(JSON.bool) ?? .null,
      "problems": .array(e.problems.map { .string($0.code.rawValue) }),
      "registerString": .string(e.entry.registration.registerString()),
    ]
    switch e.entry.match {
    case .magic(let offset, let magic, let mask):
      o["type"] = .string("magic")
      o["offset"] = .int(offset)
      o["magic"] = .string(Hex.string(magic))
      o["mask"] = .optional(mask.map(Hex.string))
    case .fileExtension(let ext):
      o["type"] = .string("extension")
      o["extension"] = .string(ext)
    }
    return o
  }

  static func problem(_ p: Problem) -> JSON {
    .object([
      "code": .string(p.code.rawValue), "entry": .optional(p.entry), "message": .string(p.message),
      "fix": .optional(p.fix),
    ])
  }

  static func bootColumn(_ d: Drift) -> String {
    switch d {
    case .both: return "persisted"
    case .liveOnly: return "lost-at-reboot"
    case .persistedOnly: return "missing-now"
    case .differs: return "differs"
    }
  }
}
