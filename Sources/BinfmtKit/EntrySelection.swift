/// `uninstall`, `enable`, `disable`: the same selection rules, a different write.
public enum EntrySelection {
  /// Names resolve first as live entry names (any entry, foreign ones too: naming one is
  /// explicit), then as architectures (only entries binfmtctl manages). `--all` is every
  /// managed entry: never WSLInterop, python3.x, box64's or Rosetta's.
  public static func select(
    _ names: [String], all: Bool, report: TableReport, catalog: Catalog
  ) throws(BinfmtError) -> (entries: [String], notes: [String]) {
    var out: [String] = []
    var notes: [String] = []
    func add(_ n: String) { if !out.contains(n) { out.append(n) } }
    if all {
      for e in report.entries where e.managed { add(e.entry.name) }
      let foreign = report.entries.filter { !$0.managed }.map(\.entry.name)
      if !foreign.isEmpty {
        notes.append(
          "left alone (not managed by binfmtctl; name them to act on them): \(foreign.joined(separator: ", "))")
      }
      return (out, notes)
    }
    for n in names {
      if report.entries.contains(where: { $0.entry.name == n }) {
        add(n)
        continue
      }
      guard let arch = catalog.resolve(n) else {
        if !Registration.isValidEntryName(n) {
          throw BinfmtError(.invalidInput, "not an entry name or architecture", at: n)
        }
        // An entry name that is not live: nothing to select (the caller decides if that is an error).
        notes.append("\(n): no such entry")
        continue
      }
      let serving = report.entries.filter { $0.architectures.contains(arch.name) }
      let managed = serving.filter(\.managed)
      for e in managed { add(e.entry.name) }
      for e in serving where !e.managed {
        notes.append("\(e.entry.name) also serves \(arch.name) but is not managed by binfmtctl; name it to act on it")
      }
      if managed.isEmpty { notes.append("\(n): no entry serves \(arch.name)") }
    }
    return (out, notes)
  }
}
