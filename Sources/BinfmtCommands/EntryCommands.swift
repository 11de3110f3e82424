import ArgumentParser
import BinfmtKit
import LinuxSystem

struct EntryOptions: ParsableArguments {
  @Argument(help: "Entry names (as in `binfmtctl status`) or architectures.") var names: [String] = []
  @Flag(help: "Every entry binfmtctl manages (qemu entries); never foreign ones.") var all = false
  @Flag(help: "Print what would change; change nothing.") var dryRun = false
  @Flag(help: "Print JSON on stdout.") var json = false

  func validate() throws {
    if all && !names.isEmpty { throw ValidationError("give names or --all, not both") }
    if !all && names.isEmpty { throw ValidationError("name at least one entry or architecture, or --all") }
  }

  /// Selects under the lock and applies `action`; `missingIsError`: enable/disable of
  /// something absent fails (exit 3), uninstall of something absent is already done.
  func perform(_ action: BinfmtMisc.EntryAction, verb: String, missingIsError: Bool) throws {
    let paths = SystemPaths()
    let bm = BinfmtMisc(paths: paths)
    if !bm.isMounted {
      if missingIsError {
        throw BinfmtError(
          .notFound, "binfmt_misc is not mounted, so there are no entries", at: paths.binfmtMisc.string,
          fix: "sudo binfmtctl install ARCH")
      }
      Output.stderr("binfmtctl: binfmt_misc is not mounted: nothing to \(verb)\n")
      Output.stdout(json ? "[]\n" : "")
      return
    }
    if !dryRun { try BinfmtMisc.requireRoot() }
    let lock: TableLock? = dryRun ? nil : try TableLock(paths: paths)
    defer { _ = lock }
    if !dryRun { try bm.checkWritable() }
    let snap = StatusSnapshot.read(paths: paths, hostMachine: unameMachine())
    let (selected, notes) = try EntrySelection.select(names, all: all, report: snap.report, catalog: .standard)
    for n in notes { Output.stderr("binfmtctl: \(n)\n") }
    if selected.isEmpty && missingIsError && !all {
      throw BinfmtError(.notFound, "no matching entry", at: names.joined(separator: " "), fix: "binfmtctl status lists the entries")
    }
    var results: [(String, BinfmtError?)] = []
    for name in selected {
      if dryRun {
        results.append((name, nil))
        continue
      }
      do throws(BinfmtError) {
        try bm.apply(action, to: name)
        results.append((name, nil))
      } catch {
        results.append((name, error))
      }
    }
    Output.stdout(Output.renderEntryResults(results, verb: verb, dryRun: dryRun, as: json ? .json : .text))
    if results.contains(where: { $0.1 != nil }) { throw ExitWith(status: .partial) }
  }
}

struct Uninstall: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Remove binfmt_misc entries by name or architecture (--all: binfmtctl's and qemu's only).",
    discussion: "Removing an entry that is not there is not an error. Exit status: 0 done, 1 some removals failed, 4 not allowed.")
  @OptionGroup var options: EntryOptions
  func run() throws { try options.perform(.remove, verb: "remove", missingIsError: false) }
}

struct Enable: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Enable binfmt_misc entries by name or architecture.",
    discussion: "Exit status: 0 done, 1 some failed, 3 no such entry, 4 not allowed.")
  @OptionGroup var options: EntryOptions
  func run() throws { try options.perform(.enable, verb: "enable", missingIsError: true) }
}

struct Disable: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Disable binfmt_misc entries by name or architecture (they stay registered).",
    discussion: "Exit status: 0 done, 1 some failed, 3 no such entry, 4 not allowed.")
  @OptionGroup var options: EntryOptions
  func run() throws { try options.perform(.disable, verb: "disable", missingIsError: true) }
}

extension Output {
  static func renderEntryResults(_ results: [(String, BinfmtError?)], verb: String, dryRun: Bool, as format: OutputFormat) -> String {
    let past = ["remove": "removed", "enable": "enabled", "disable": "disabled"][verb] ?? verb
    switch format {
    case .json:
      return JSON.array(
        results.map { n, e in
          .object(["entry": .string(n), "action": .string(verb), "ok": .bool(e == nil), "error": .optional(e?.description), "dryRun": .bool(dryRun)])
        }
      ).render() + "\n"
    case .text:
      var out = ""
      for (n, e) in results {
        if let e {
          out += "\(n): FAILED to \(verb): \(e)\n"
        } else {
          out += dryRun ? "\(n): would be \(past)\n" : "\(n): \(past)\n"
        }
      }
      if results.isEmpty { out += "nothing to \(verb)\n" }
      return out
    }
  }
}
