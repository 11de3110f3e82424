import ArgumentParser
import BinfmtKit
import LinuxSystem

/// What `status` shows: the live table understood, plus where binfmt_misc stands.
struct StatusSnapshot {
  var path: String
  var kernelSupport: String
  var report: TableReport
  var initSystem: InitSystem = .none
  /// "enabled", "disabled", "absent" for the boot service of `initSystem`.
  var bootService = "absent"
  var firesAtBoot = false
  var persistence: PersistenceReport?
  var ourFiles: [String] = []

  var problems: [Problem] { report.problems + (persistence?.problems ?? []) + extraProblems }
  var extraProblems: [Problem] = []

  /// Adds the persistence view: binfmt.d as the next boot will apply it, and the boot service.
  mutating func addPersistence(paths: SystemPaths, table: [KernelEntryStatus]) {
    let t = PersistTarget(paths: paths, offline: false, initSystem: InitSystem.detect(paths, offline: false), exec: "")
    initSystem = t.initSystem
    let config = BootConfiguration.resolve(ConfigFiles.scanBinfmtD(paths))
    ourFiles = config.ours.map(\.file.path)
    let managed = Set(report.entries.filter(\.managed).map(\.entry.name))
    persistence = PersistenceReport.make(config: config, live: table, managed: managed, systemdApplies: t.initSystem == .systemd)
    func linked(_ link: String, _ to: String) -> Bool {
      if case .symlink(let x) = ConfigFiles.node(t.real(link)), x == to { return true }
      return false
    }
    func ours(_ path: String) -> Bool {
      if case .file(let text) = ConfigFiles.node(t.real(path)) { return Units.isOurs(text) }
      return false
    }
    switch t.initSystem {
    case .systemd:
      bootService = ours(t.unitPath) ? (linked(t.wantsLink, t.unitPath) ? "enabled" : "disabled") : "absent"
      // systemd-binfmt applies /etc/binfmt.d by itself; the unit adds the reconcile.
      firesAtBoot = !ourFiles.isEmpty
    case .openrc:
      bootService = ours(t.openrcScript) ? (linked(t.openrcLink, t.openrcScript) ? "enabled" : "disabled") : "absent"
      firesAtBoot = bootService == "enabled" && !ourFiles.isEmpty
    case .wsl:
      var text = ""
      if case .file(let x) = ConfigFiles.node(t.real(t.wslConf)) { text = x }
      bootService = (WSLConf.bootCommand(text) ?? "").contains("binfmtctl boot") ? "enabled" : "absent"
      firesAtBoot = bootService == "enabled" && !ourFiles.isEmpty
    case .none:
      bootService = "absent"
      firesAtBoot = false
    }
    if !ourFiles.isEmpty && bootService != "enabled" {
      let message: String
      let fix: String
      switch t.initSystem {
      case .none:
        message = "no init system binfmtctl knows (systemd, OpenRC, WSL) was found: persisted entries will not come back at boot"
        fix = "run `binfmtctl boot` at startup, or persist with --init systemd|openrc|wsl"
      case .systemd:
        message = "binfmtctl.service is \(bootService): systemd-binfmt still applies the files at boot, without the reconcile"
        fix = "sudo binfmtctl persist"
      default:
        message = "the \(t.initSystem.rawValue) boot service of binfmtctl is \(bootService): persisted entries will not come back at boot"
        fix = "sudo binfmtctl persist"
      }
      extraProblems.append(Problem(.bootServiceOff, entry: nil, message, fix: fix))
    }
  }

  static func read(paths: SystemPaths, hostMachine: String, withPersistence: Bool = false) -> StatusSnapshot {
    let table = BinfmtMiscTable.read(paths)
    let facts = SystemFacts(paths: paths)
    let support: String
    if table.mounted {
      support = "yes"
    } else {
      let s = BinfmtMisc(paths: paths).kernelSupport()
      support = s.builtIn ? "yes" : (s.module ? "module" : "no")
    }
    var cache: [String: InterpreterFacts] = [:]
    let report = TableAnalysis.analyze(
      mounted: table.mounted, enabled: table.enabled, entries: table.entries, unreadable: table.unreadable,
      facts: { path in
        if let f = cache[path] { return f }
        let f = facts.interpreter(path)
        cache[path] = f
        return f
      }, catalog: facts.catalog, hostMachine: hostMachine)
    var snap = StatusSnapshot(path: paths.binfmtMisc.string, kernelSupport: support, report: report)
    if withPersistence { snap.addPersistence(paths: paths, table: table.entries) }
    return snap
  }
}

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show every binfmt_misc entry, what it serves, and what is wrong with it.",
    discussion: "Exit status: 0 when no problem was found, 1 when problems are listed.")

  @Flag(help: "Print JSON (sorted keys) on stdout.") var json = false
  @Option(help: .hidden) var hostMachine: String?

  func run() throws {
    let snap = StatusSnapshot.read(paths: SystemPaths(), hostMachine: hostMachine ?? unameMachine(), withPersistence: true)
    Output.stdout(Output.render(snap, as: json ? .json : .text))
    if !snap.problems.isEmpty { throw ExitWith(status: .partial) }
  }
}

extension Output {
  static func render(_ s: StatusSnapshot, as format: OutputFormat) -> String {
    let r = s.report
    switch format {
    case .json:
      return JSON.object([
        "binfmtMisc": .object([
          "path": .string(s.path), "mounted": .bool(r.mounted), "enabled": .bool(r.enabled),
          "kernelSupport": .string(s.kernelSupport),
        ]),
        "entries": .array(
          r.entries.map { e in
            var j = StatusJSON.entry(e)
            if case .object(var o) = j {
              let st = s.persistence?.live[e.entry.name]
              o["persistence"] = .optional(st?.drift.rawValue)
              o["persistedIn"] = .optional(st?.file)
              j = .object(o)
            }
            return j
          }),
        "persistence": .object([
          "init": .string(s.initSystem.rawValue), "bootService": .string(s.bootService),
          "firesAtBoot": .bool(s.firesAtBoot), "files": .array(s.ourFiles.map(JSON.string)),
          "missingNow": .array((s.persistence?.missingNow ?? []).map { .object(["entry": .string($0.entry), "file": .string($0.file)]) }),
          "notes": .array((s.persistence?.notes ?? []).map(JSON.string)),
        ]),
        "problems": .array(s.problems.map(StatusJSON.problem)),
        "winners": .object(r.winners.mapValues(JSON.string)),
      ]).render() + "\n"
    case .text:
      var out = "binfmt_misc: "
      if r.mounted {
        out += "mounted at \(s.path), \(r.enabled ? "enabled" : "DISABLED")\n"
      } else {
        out += "not mounted at \(s.path) (kernel support: \(s.kernelSupport))\n"
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
            e.architectures.isEmpty ? (e.entry.match.typeLetter == "E" ? "extension" : "-") : e.architectures.joined(separator: ","),
            e.entry.flags.description.isEmpty ? "-" : e.entry.flags.description,
            s.persistence?.live[e.entry.name].map { BootColumn.text($0.drift) } ?? "-", interp,
          ])
        }
        out += table(rows)
      } else if r.mounted {
        out += "no entries\n"
      }
      for m in s.persistence?.missingNow ?? [] { out += "\(m.entry): persisted in \(m.file), not live now\n" }
      out += "boot: \(s.initSystem.rawValue), binfmtctl service \(s.bootService)"
      out += s.ourFiles.isEmpty ? ", nothing persisted by binfmtctl\n" : ", \(s.ourFiles.count) persisted file\(s.ourFiles.count == 1 ? "" : "s")\(s.firesAtBoot ? "" : " (NOT applied at next boot)")\n"
      for n in s.persistence?.notes ?? [] { out += "  note: \(n)\n" }
      let problems = s.problems
      if !problems.isEmpty {
        out += "\n\(problems.count) problem\(problems.count == 1 ? "" : "s"):\n"
        for p in problems {
          out += "  " + (p.entry.map { $0 + ": " } ?? "") + p.message + "\n"
          if let fix = p.fix { out += "    fix: \(fix)\n" }
        }
      }
      return out
    }
  }
}

enum StatusJSON {
  static func entry(_ e: EntryReport) -> JSON {
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
    return .object(o)
  }

  static func problem(_ p: Problem) -> JSON {
    .object(["code": .string(p.code.rawValue), "entry": .optional(p.entry), "message": .string(p.message), "fix": .optional(p.fix)])
  }
}

enum BootColumn {
  static func text(_ d: Drift) -> String {
    switch d {
    case .both: return "persisted"
    case .liveOnly: return "lost-at-reboot"
    case .persistedOnly: return "missing-now"
    case .differs: return "differs"
    }
  }
}
