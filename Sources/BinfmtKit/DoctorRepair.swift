/// One fix `doctor` printed that binfmtctl applies itself with `doctor --fix`: its own
/// commands (install, uninstall, enable, persist) and the two binfmt_misc switches it owns
/// (mounting it, turning it on as a whole). Package commands, chmod, sed and mounts of other
/// file systems are left to the user.
public enum RepairAction: Sendable, Equatable {
  case install(names: [String], replace: Bool, flags: String?, credentials: Bool, includeNative: Bool)
  case uninstall(String)
  case enable(String)
  case persist(names: [String], replace: Bool, includeNative: Bool)
  case mount
  case enableTable

  /// An install with `--credentials` (the C flag: the emulator runs with setuid programs'
  /// privileges). `doctor --fix` lists it instead of applying it.
  public var grantsCredentials: Bool {
    if case .install(_, _, _, let credentials, _) = self { return credentials }
    return false
  }

  /// The fix that turns binfmt_misc on as a whole (`globally-disabled`).
  public static let enableTableCommand = "echo 1 | sudo tee /proc/sys/fs/binfmt_misc/status"

  /// The action a printed fix stands for, or nil when binfmtctl does not run it itself. The
  /// fixes are written by DoctorRules and `status` (`sudo binfmtctl VERB …`, words quoted by
  /// `DoctorRules.shell`); anything else is not ours.
  public static func parse(_ command: String) -> RepairAction? {
    if command == DoctorRules.mountCommand { return .mount }
    if command == enableTableCommand { return .enableTable }
    guard command.hasPrefix("sudo binfmtctl "), let words = shellWords(String(command.dropFirst(15))),
      let verb = words.first
    else { return nil }
    var names: [String] = []
    var replace = false
    var credentials = false
    var includeNative = false
    var flags: String?
    var i = 1
    while i < words.count {
      switch words[i] {
      case "--replace": replace = true
      case "--credentials": credentials = true
      case "--include-native": includeNative = true
      case "--flags":
        guard i + 1 < words.count else { return nil }
        flags = words[i + 1]
        i += 1
      case let w where w.hasPrefix("-"): return nil
      case let w: names.append(w)
      }
      i += 1
    }
    switch verb {
    case "install" where !names.isEmpty:
      return .install(
        names: names, replace: replace, flags: flags, credentials: credentials, includeNative: includeNative)
    case "uninstall" where names.count == 1 && flags == nil && !replace:
      return .uninstall(names[0])
    case "enable" where names.count == 1 && flags == nil && !replace:
      return .enable(names[0])
    case "persist" where flags == nil && !credentials:
      return .persist(names: names, replace: replace, includeNative: includeNative)
    default:
      return nil
    }
  }

  /// Splits what `DoctorRules.shell` joined: plain words and single-quoted ones (with `'\''`
  /// for a quote). nil for anything else a shell would treat specially.
  static func shellWords(_ s: String) -> [String]? {
    var out: [String] = []
    var word = ""
    var inWord = false
    var quoted = false
    var it = s.makeIterator()
    while let c = it.next() {
      if quoted {
        if c == "'" { quoted = false } else { word.append(c) }
        continue
      }
      switch c {
      case " ":
        if inWord { out.append(word) }
        word = ""
        inWord = false
      case "'":
        quoted = true
        inWord = true
      case "\\":
        guard let n = it.next() else { return nil }
        word.append(n)
        inWord = true
      case "\"", "$", "`", "|", ";", "&", "<", ">", "(", ")", "*", "?", "\n":
        return nil
      default:
        word.append(c)
        inWord = true
      }
    }
    if quoted { return nil }
    if inWord { out.append(word) }
    return out
  }
}

/// `doctor --fix`: what was applied (and whether it worked), what was left to the user, and
/// the diagnosis made again afterwards, which decides the exit status.
public struct RepairReport: JSONReport, Equatable {
  public struct Applied: Sendable, Equatable {
    public var command: String
    /// nil: it worked; else the error, one line.
    public var error: String?
    public init(command: String, error: String?) {
      self.command = command
      self.error = error
    }
  }
  public var applied: [Applied]
  /// Fix commands binfmtctl does not run itself (packages, chmod, sed, other mounts).
  public var notDone: [String]
  public var after: Diagnosis

  public init(applied: [Applied], notDone: [String], after: Diagnosis) {
    self.applied = applied
    self.notDone = notDone
    self.after = after
  }

  public var partialFailure: Bool { !after.canRun }

  public var json: JSON {
    guard case .object(var o) = after.json else { return after.json }
    o["repair"] = .object([
      "applied": .array(
        applied.map { a in
          .object([
            "command": .string(a.command), "ok": .bool(a.error == nil), "error": a.error.map(JSON.string) ?? .null,
          ])
        }),
      "notDone": .array(notDone.map(JSON.string)),
    ])
    return .object(o)
  }

  public var text: String {
    var out = ""
    if applied.isEmpty && notDone.isEmpty { out += "--fix: nothing to apply\n" }
    if !applied.isEmpty {
      out += "Applied:\n"
      for a in applied {
        out += "  \(a.error == nil ? "✓" : "✗") \(TerminalText.escape(a.command))"
        out += a.error.map { ": \(TerminalText.escape($0))" } ?? ""
        out += "\n"
      }
    }
    if !notDone.isEmpty {
      out += "Not done by --fix (run them yourself):\n"
      for c in notDone { out += "  \(TerminalText.escape(c))\n" }
    }
    return out + "After --fix:\n" + after.text
  }
}
