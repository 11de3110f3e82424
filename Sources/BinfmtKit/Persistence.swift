/// What `persist` writes and how systemd's binfmt.d(5) rules decide what happens at boot.
public enum Persistence {
  /// Our files sort after every `qemu-*.conf` a distribution ships: systemd-binfmt applies
  /// files in name order and a later registration of the same entry name replaces the
  /// earlier one, so ours is the one live after boot even when Debian's file also exists.
  public static let filePrefix = "zz-binfmtctl-"
  public static let marker = "# binfmtctl-managed: written by `binfmtctl persist`; `binfmtctl unpersist` removes it"

  public static func fileName(entry: String) -> String { filePrefix + entry + ".conf" }

  /// The entry name a file of ours is for, or nil if the name is not one of ours.
  public static func entryName(fileName: String) -> String? {
    guard fileName.hasPrefix(filePrefix), fileName.hasSuffix(".conf") else { return nil }
    let n = String(fileName.dropFirst(filePrefix.count).dropLast(".conf".count))
    return Registration.isValidEntryName(n) ? n : nil
  }

  public static func fileText(_ r: Registration, architecture: Architecture?) throws(BinfmtError) -> String {
    // The marker is a whole comment line of its own: `isOurs` compares the first line.
    let comments =
      [String(marker.dropFirst(2))] + (architecture.map { ["\($0.name): \($0.summary). See binfmt.d(5)."] } ?? [])
    return try BinfmtD.text(comments: comments, registration: r)
  }

  /// Whether a file's text carries our marker (so `unpersist` may remove it): its first line
  /// is the marker, compared as bytes.
  public static func isOurs(_ text: String) -> Bool { isOurs(bytes: Array(text.utf8)) }

  public static func isOurs(bytes u: [UInt8]) -> Bool {
    let end = u.firstIndex(where: { $0 == 10 || $0 == 13 }) ?? u.endIndex
    return u[u.startIndex..<end].elementsEqual(marker.utf8)
  }

  /// systemd's search path for binfmt.d, highest precedence first (binfmt.d(5)).
  public static let searchDirectories = [
    "/etc/binfmt.d", "/run/binfmt.d", "/usr/local/lib/binfmt.d", "/usr/lib/binfmt.d",
  ]
  public static let etcDirectory = "/etc/binfmt.d"
}

/// One file found in a binfmt.d directory.
public struct ConfFile: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    /// The file's bytes (binfmt.d is bytes: CR, NUL and non-UTF-8 paths are all possible).
    case regular([UInt8])
    /// A symlink to /dev/null or an empty file: hides files of the same name.
    case mask
    case unreadable(String)

    /// A regular file holding `text`'s UTF-8 bytes.
    public static func text(_ text: String) -> Kind { .regular(Array(text.utf8)) }
  }
  public var directory: String
  public var name: String
  public var kind: Kind
  public init(directory: String, name: String, kind: Kind) {
    self.directory = directory
    self.name = name
    self.kind = kind
  }
  public var path: String { directory + "/" + name }
}

/// The binfmt.d configuration as systemd-binfmt will apply it at the next boot.
public struct BootConfiguration: Sendable {
  /// Files systemd-binfmt applies, in the order it applies them (by file name).
  public var effective: [ConfFile]
  /// Files hidden by a file of the same name in a directory of higher precedence.
  public var overridden: [(file: ConfFile, by: ConfFile)]
  /// Names masked (symlink to /dev/null or empty), with the masking file.
  public var masked: [(file: ConfFile, by: ConfFile)]
  /// Registrations per effective file, in application order; parse errors per file.
  public var registrations: [(file: ConfFile, line: Int, registration: Registration)]
  /// Files that cannot be used and lines that cannot be applied, with why (file:line).
  public var errors: [(file: ConfFile, error: BinfmtError)]

  /// `files` from every search directory, `directories` in precedence order.
  public static func resolve(_ files: [ConfFile], directories: [String] = Persistence.searchDirectories)
    -> BootConfiguration
  {
    var overridden: [(ConfFile, ConfFile)] = []
    var masked: [(ConfFile, ConfFile)] = []
    func rank(_ directory: String) -> Int { directories.firstIndex(of: directory) ?? directories.count }
    var errors: [(ConfFile, BinfmtError)] = []
    // A directory that cannot be read (scanned as a file without a name).
    for f in files where f.name.isEmpty {
      if case .unreadable(let why) = f.kind { errors.append((f, BinfmtError(.system, why, at: f.directory))) }
    }
    // By name as strcmp orders it (systemd sorts names as bytes), then directory precedence:
    // the first file of each name wins, and the winners are in the order systemd applies
    // them. (Sorted lists rather than dictionaries: see ByteText.)
    let keyed = files.filter { $0.name.hasSuffix(".conf") }.map { (PathBytes.bytes($0.name), rank($0.directory), $0) }
      .sorted { a, b in a.0 != b.0 ? a.0.lexicographicallyPrecedes(b.0) : a.1 < b.1 }
    var winners: [ConfFile] = []
    var previous: [UInt8]?
    var w: ConfFile?
    for (name, _, f) in keyed {
      if name == previous, let w {
        if w.kind == .mask { masked.append((f, w)) } else { overridden.append((f, w)) }
      } else {
        w = f
        previous = name
        winners.append(f)
      }
    }
    let effective = winners.filter { $0.kind != .mask }
    var regs: [(ConfFile, Int, Registration)] = []
    for f in effective {
      switch f.kind {
      case .regular(let bytes):
        let parsed = BinfmtDFile.parse(bytes, file: f.path)
        for line in parsed.entries { regs.append((f, line.number, line.registration)) }
        for e in parsed.errors { errors.append((f, e)) }
      case .unreadable(let why):
        errors.append((f, BinfmtError(.system, why, at: f.path)))
      case .mask:
        break
      }
    }
    return BootConfiguration(
      effective: effective, overridden: overridden, masked: masked, registrations: regs, errors: errors)
  }

  /// Our persisted registrations: from effective files with our name and marker.
  public var ours: [(file: ConfFile, registration: Registration)] {
    registrations.compactMap { r in
      guard Persistence.entryName(fileName: r.file.name) != nil, case .regular(let t) = r.file.kind,
        Persistence.isOurs(bytes: t)
      else {
        return nil
      }
      return (r.file, r.registration)
    }
  }

  /// For an entry name: every effective file that registers it, in application order; the
  /// last one is what systemd-binfmt leaves live.
  public func definitions(of entry: String) -> [(file: ConfFile, registration: Registration)] {
    registrations.filter { $0.registration.name == entry }.map { ($0.file, $0.registration) }
  }
}

/// A note about the boot configuration, with the entry it concerns (so `persist` can show
/// the notes about the entries it wrote).
public struct PersistenceNote: Sendable, Hashable, CustomStringConvertible {
  /// The entry the note is about: ours by file name, else the file name without `.conf`.
  public var entry: String?
  public var text: String
  public init(entry: String?, _ text: String) {
    self.entry = entry
    self.text = text
  }
  public var description: String { text }

  public static func entry(fileName: String) -> String? {
    if let ours = Persistence.entryName(fileName: fileName) { return ours }
    return fileName.hasSuffix(".conf") ? String(fileName.dropLast(5)) : nil
  }
}

/// Where an entry stands between the live table and the boot configuration.
public enum Drift: String, Sendable {
  /// Live and persisted with the same definition.
  case both = "live-and-persisted"
  /// Live, but nothing registers it at boot: lost at reboot.
  case liveOnly = "lost-at-reboot"
  /// Persisted, not live now.
  case persistedOnly = "missing-now"
  /// Live and persisted, but the definitions differ.
  case differs = "differs-from-persisted"
}

/// `/etc/wsl.conf`: adds and removes our `[boot] command`, leaving every other byte alone.
public enum WSLConf {
  public static let marker = "# binfmtctl-managed: registers persisted binfmt_misc entries at boot"
  public static let sectionMarker = "# binfmtctl-managed: section added by binfmtctl"

  public static func command(exec: String) -> String { exec + " boot" }

  /// Lines with their line endings, so joining them gives the text back byte for byte.
  static func lines(_ text: String) -> [Substring] {
    // By bytes: in Swift "\r\n" is one Character, which must not hide a line end.
    var out: [Substring] = []
    let u = text.utf8
    var start = u.startIndex
    var i = u.startIndex
    while i < u.endIndex {
      let next = u.index(after: i)
      if u[i] == UInt8(ascii: "\n") {
        out.append(Substring(text[start..<next]))
        start = next
      }
      i = next
    }
    if start < u.endIndex { out.append(Substring(text[start...])) }
    return out
  }

  static func trimmed(_ s: Substring) -> Substring {
    var t = s
    while let f = t.first, f == " " || f == "\t" { t = t.dropFirst() }
    while let l = t.last, l == " " || l == "\t" || l == "\n" || l == "\r" || l == "\r\n" { t = t.dropLast() }
    return t
  }

  static func section(_ line: Substring) -> String? {
    let t = trimmed(line)
    guard t.hasPrefix("["), t.hasSuffix("]") else { return nil }
    return String(t.dropFirst().dropLast()).lowercased()
  }

  static func key(_ line: Substring) -> (String, String)? {
    let t = trimmed(line)
    guard !t.hasPrefix("#"), !t.hasPrefix(";"), let eq = t.firstIndex(of: "=") else { return nil }
    return (String(trimmed(t[..<eq])).lowercased(), String(trimmed(t[t.index(after: eq)...])))
  }

  /// `[boot] systemd=true`: WSL runs systemd, so the systemd unit is the mechanism.
  public static func systemdEnabled(_ text: String) -> Bool {
    var current: String?
    for l in lines(text) {
      if let s = section(l) {
        current = s
        continue
      }
      if current == "boot", let (k, v) = key(l), k == "systemd" { return v.lowercased() == "true" }
    }
    return false
  }

  /// The `[boot] command` value, if any.
  public static func bootCommand(_ text: String) -> String? {
    var current: String?
    for l in lines(text) {
      if let s = section(l) {
        current = s
        continue
      }
      if current == "boot", let (k, v) = key(l), k == "command" { return v }
    }
    return nil
  }

  /// Adds `command = <cmd>` under `[boot]` (creating the section at the end when missing).
  /// Idempotent. A different existing command is a conflict: WSL runs only one.
  public static func add(_ cmd: String, to text: String, file: String) throws(BinfmtError) -> String {
    if let existing = bootCommand(text) {
      if existing == cmd || existing == "\"\(cmd)\"" { return text }
      throw BinfmtError(
        .conflict, "[boot] command is already set to '\(existing)'; WSL runs only one boot command", at: file,
        fix:
          "append '; \(cmd)' to that command yourself, or enable systemd in WSL ([boot] systemd=true) and persist again"
      )
    }
    var ls = lines(text)
    let nl = text.contains("\r\n") ? "\r\n" : "\n"
    if let i = ls.firstIndex(where: { section($0) == "boot" }) {
      // A header on the last line, without a line end, gets one: our lines go below it.
      if ls[i].utf8.last != UInt8(ascii: "\n") { ls[i] = Substring(String(ls[i]) + nl) }
      ls.insert(Substring(marker + nl + "command = " + cmd + nl), at: i + 1)
      return ls.joined()
    }
    var out = text
    // Bytes: "\r\n" is one Character, and `hasSuffix("\n")` is false for it.
    if !out.isEmpty && out.utf8.last != UInt8(ascii: "\n") { out += nl }
    out += "[boot]" + nl + sectionMarker + nl + marker + nl + "command = " + cmd + nl
    return out
  }

  /// Removes exactly what `add` added.
  public static func remove(from text: String) -> String {
    var ls = lines(text)
    var i = 0
    while i < ls.count {
      if trimmed(ls[i]) == marker[...] {
        ls.remove(at: i)
        if i < ls.count, let (k, _) = key(ls[i]), k == "command" { ls.remove(at: i) }
        continue
      }
      i += 1
    }
    // The section we created: header followed by our section marker, now empty.
    if let m = ls.firstIndex(where: { trimmed($0) == sectionMarker[...] }) {
      let headerIndex = m - 1
      let rest = ls[(m + 1)...].prefix { section($0) == nil }
      let emptyAfter = rest.allSatisfy { trimmed($0).isEmpty }
      if headerIndex >= 0, section(ls[headerIndex]) == "boot", emptyAfter {
        ls.removeSubrange(headerIndex...(m + rest.count))
      } else {
        ls.remove(at: m)
      }
    }
    return ls.joined()
  }
}

/// Live table versus boot configuration: what survives a reboot.
public struct PersistenceReport: Sendable {
  public struct EntryState: Sendable {
    public var drift: Drift
    /// The file whose definition is live after boot (the last applied), if any.
    public var file: String?
  }
  /// Per live entry name.
  public var live: [String: EntryState]
  /// Persisted (by our files) but not live.
  public var missingNow: [(entry: String, file: String)]
  /// Which-file-wins and masking notes relevant to qemu entries.
  public var notes: [PersistenceNote]
  public var problems: [Problem]

  /// `systemdApplies`: every effective binfmt.d file counts (systemd-binfmt reads them all);
  /// otherwise only our files do (our boot service reads only them).
  public static func make(
    config: BootConfiguration, ours: [(file: ConfFile, registration: Registration)]? = nil,
    live: [KernelEntryStatus], managed: Set<String>, systemdApplies: Bool
  ) -> PersistenceReport {
    let ours = ours ?? config.ours
    let ourNames = Set(ours.map(\.registration.name))
    func persistedDefinition(_ name: String) -> (Registration, String)? {
      if let o = ours.last(where: { $0.registration.name == name }) { return (o.registration, o.file.path) }
      guard systemdApplies, let d = config.definitions(of: name).last else { return nil }
      return (d.registration, d.file.path)
    }
    var states: [String: EntryState] = [:]
    var problems: [Problem] = []
    for e in live {
      if let (def, file) = persistedDefinition(e.name) {
        let same = InstallPlan.sameDefinition(def, e.registration)
        states[e.name] = EntryState(drift: same ? .both : .differs, file: file)
        if !same {
          let d = InstallPlan.differences(live: e.registration, wanted: def).joined(separator: "; ")
          problems.append(
            Problem(
              .differsFromPersisted, entry: e.name,
              "live definition differs from \(file) (\(d)); the file's wins at reboot",
              fix: ourNames.contains(e.name) ? "sudo binfmtctl boot" : nil))
        }
      } else {
        states[e.name] = EntryState(drift: .liveOnly, file: nil)
        if managed.contains(e.name) {
          problems.append(
            Problem(
              .lostAtReboot, entry: e.name, "live but not persisted: lost at reboot",
              fix: "sudo binfmtctl persist \(e.name)"))
        }
      }
    }
    var missing: [(String, String)] = []
    let liveNames = Set(live.map(\.name))
    for o in ours where !liveNames.contains(o.registration.name) {
      missing.append((o.registration.name, o.file.path))
      problems.append(
        Problem(
          .missingNow, entry: o.registration.name, "persisted in \(o.file.path) but not live now",
          fix: "sudo binfmtctl boot"))
    }
    var notes: [PersistenceNote] = []
    for o in ours {
      let name = o.registration.name
      let defs = config.definitions(of: name)
      if defs.count > 1 {
        let order = ByteText.join(defs.map(\.file.path), ", then ")
        let winner = defs.last!.file.path
        notes.append(
          PersistenceNote(
            entry: name,
            "\(name): defined in \(order), applied in that order at boot; \(winner == o.file.path ? "ours wins" : winner + " wins")"
          ))
      }
    }
    for (f, by) in config.masked where f.name.hasPrefix("qemu-") || Persistence.entryName(fileName: f.name) != nil {
      notes.append(PersistenceNote(entry: PersistenceNote.entry(fileName: f.name), "\(f.path) is masked by \(by.path)"))
    }
    for (f, by) in config.overridden where f.name.hasPrefix("qemu-") || Persistence.entryName(fileName: f.name) != nil {
      notes.append(
        PersistenceNote(entry: PersistenceNote.entry(fileName: f.name), "\(f.path) is overridden by \(by.path)"))
    }
    for (f, e) in config.errors {
      problems.append(Self.brokenFile(f, e))
    }
    return PersistenceReport(live: states, missingNow: missing, notes: notes, problems: problems)
  }

  /// A binfmt.d file (or line, or directory) systemd-binfmt or `boot` cannot apply, with the
  /// command that repairs it: ours is rewritten by `persist --replace` (or dropped by
  /// `unpersist`), anything else is the admin's file to edit.
  public static func brokenFile(_ f: ConfFile, _ e: BinfmtError, catalog: Catalog = .standard) -> Problem {
    let entry = f.name.isEmpty ? nil : PersistenceNote.entry(fileName: f.name)
    var fix: String
    if f.name.isEmpty {
      fix = "sudo chmod 755 \(f.directory)"
    } else if let ours = Persistence.entryName(fileName: f.name), case .regular(let bytes) = f.kind,
      Persistence.isOurs(bytes: bytes)
    {
      fix =
        catalog.resolve(ours) != nil
        ? "sudo binfmtctl persist --replace \(ours)" : "sudo binfmtctl unpersist \(ours)"
    } else {
      fix = "sudoedit \(f.path)"
    }
    return Problem(.brokenConfig, entry: entry, "\(e)", fix: fix)
  }
}
