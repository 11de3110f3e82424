import ArgumentParser
import BinfmtKit
import LinuxSystem

/// What `status` shows: the live table understood, plus where binfmt_misc stands.
struct StatusSnapshot {
  var path: String
  var kernelSupport: String
  var report: TableReport

  static func read(paths: SystemPaths, hostMachine: String) -> StatusSnapshot {
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
    return StatusSnapshot(path: paths.binfmtMisc.string, kernelSupport: support, report: report)
  }
}

struct Status: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show every binfmt_misc entry, what it serves, and what is wrong with it.",
    discussion: "Exit status: 0 when no problem was found, 1 when problems are listed.")

  @Flag(help: "Print JSON (sorted keys) on stdout.") var json = false
  @Option(help: .hidden) var hostMachine: String?

  func run() throws {
    let snap = StatusSnapshot.read(paths: SystemPaths(), hostMachine: hostMachine ?? unameMachine())
    Output.stdout(Output.render(snap, as: json ? .json : .text))
    if !snap.report.problems.isEmpty { throw ExitWith(status: .partial) }
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
        "entries": .array(r.entries.map(StatusJSON.entry)),
        "problems": .array(r.problems.map(StatusJSON.problem)),
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
        var rows = [["NAME", "STATE", "ARCH", "FLAGS", "INTERPRETER"]]
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
            e.entry.flags.description.isEmpty ? "-" : e.entry.flags.description, interp,
          ])
        }
        out += table(rows)
      } else if r.mounted {
        out += "no entries\n"
      }
      let problems = r.problems
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
