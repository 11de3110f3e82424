import BinfmtKit
import LinuxSystem

/// `uninstall`, `enable`, `disable`: the same selection, a different write.
public struct EntryEditor: Sendable {
  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  /// What each action writes, and how the report words it.
  public enum Action: String, Sendable {
    case remove, enable, disable

    var write: BinfmtMisc.EntryAction {
      switch self {
      case .remove: return .remove
      case .enable: return .enable
      case .disable: return .disable
      }
    }
    var pastTense: String {
      switch self {
      case .remove: return "removed"
      case .enable: return "enabled"
      case .disable: return "disabled"
      }
    }
    /// Enabling or disabling something absent fails (exit 3); removing it is already done.
    var missingIsError: Bool { self != .remove }
  }

  /// Selects under the lock (names, or every managed entry with `all`) and applies `action`.
  public func apply(_ action: Action, names: [String], all: Bool, dryRun: Bool) throws(BinfmtError) -> EntryActionReport
  {
    let paths = context.paths
    let bm = BinfmtMisc(paths: paths)
    let mount = ContainerMount(context, enabled: !dryRun)
    defer { _ = mount }
    if !bm.isMounted {
      if action.missingIsError {
        throw BinfmtError(
          .notFound, "binfmt_misc is not mounted, so there are no entries", at: paths.binfmtMisc.string,
          fix: "sudo binfmtctl install ARCH")
      }
      context.output.note("binfmt_misc is not mounted: nothing to \(action.rawValue)")
      return EntryActionReport(action: action, results: [], dryRun: dryRun, notMounted: true)
    }
    if !dryRun { try BinfmtMisc.requireRoot() }
    let lock: TableLock? = dryRun ? nil : try context.lockTable()
    defer { _ = lock }
    if !dryRun { try bm.checkWritable() }
    let snap = TableSnapshot.read(context)
    let (selected, notes) = try EntrySelection.select(names, all: all, report: snap.report, catalog: context.catalog)
    for n in notes { context.output.note(n) }
    if selected.isEmpty && action.missingIsError && !all {
      throw BinfmtError(
        .notFound, "no matching entry", at: names.joined(separator: " "), fix: "binfmtctl status lists the entries")
    }
    var results: [(String, BinfmtError?)] = []
    for name in selected {
      if dryRun {
        results.append((name, nil))
        continue
      }
      do throws(BinfmtError) {
        try bm.apply(action.write, to: name)
        results.append((name, nil))
      } catch {
        results.append((name, error))
      }
    }
    return EntryActionReport(action: action, results: results, dryRun: dryRun, notMounted: false)
  }
}

public struct EntryActionReport: JSONReport {
  public var action: EntryEditor.Action
  public var results: [(entry: String, error: BinfmtError?)]
  public var dryRun: Bool
  /// binfmt_misc was not mounted: nothing was looked at (prints nothing, or `[]`).
  public var notMounted: Bool

  public var partialFailure: Bool { results.contains { $0.error != nil } }

  public var json: JSON {
    .array(
      results.map { n, e in
        .object([
          "entry": .string(n), "action": .string(action.rawValue), "ok": .bool(e == nil),
          "error": .optional(e?.description), "dryRun": .bool(dryRun),
        ])
      })
  }

  public var text: String {
    if notMounted { return "" }
    var out = ""
    for (n, e) in results {
      // Names come from the kernel's table, where any byte but "/" is allowed.
      let name = TerminalText.escape(n)
      if let e {
        out += "\(name): FAILED to \(action.rawValue): \(TerminalText.escape(e.description))\n"
      } else {
        out += dryRun ? "\(name): would be \(action.pastTense)\n" : "\(name): \(action.pastTense)\n"
      }
    }
    if results.isEmpty { out += "nothing to \(action.rawValue)\n" }
    return out
  }
}
