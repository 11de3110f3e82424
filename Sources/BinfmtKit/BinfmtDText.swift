/// The text of every binfmt.d(5) file binfmtctl writes (`generate` and `persist`): comment
/// lines, then the register string the kernel parser accepts.
public enum BinfmtD {
  /// `generate --output DIR` names its files after the architecture.
  public static func fileName(for a: Architecture) -> String { "qemu-\(a.name).conf" }

  /// The one producer: `#` comment lines, then the register string, newline-terminated. The
  /// delimiter is the first one absent from every field, and the text must parse back (with
  /// the same parser `boot` and the tests hold to systemd-binfmt and the kernel) into exactly
  /// this registration, or nothing is written: errors name the field.
  public static func text(comments: [String], registration r: Registration) throws(BinfmtError) -> String {
    var s = ""
    for c in comments {
      if c.utf8.contains(where: { $0 == 10 || $0 == 13 || $0 == 0 }) {
        throw BinfmtError(.invalidInput, "a comment line cannot hold a line break", at: r.name)
      }
      s += "# " + c + "\n"
    }
    for bad: UInt8 in [10, 13, 0] {
      let what = bad == 0 ? "a NUL byte" : bad == 10 ? "a newline" : "a carriage return"
      if r.name.utf8.contains(bad) {
        throw BinfmtError(
          .invalidInput, "the entry name contains \(what): a binfmt.d line cannot carry it", at: r.name.debugDescription
        )
      }
      if r.interpreter.utf8.contains(bad) {
        throw BinfmtError(
          .invalidInput, "the interpreter path contains \(what): a binfmt.d line cannot carry it",
          at: r.interpreter.debugDescription)
      }
    }
    let line = r.registerString()
    let text = s + line + "\n"
    let back = BinfmtDFile.parse(PathBytes.bytes(text), file: r.name)
    if let e = back.errors.first { throw e }
    guard back.entries.map(\.registration) == [r] else {
      // e.g. every delimiter appears in some field
      throw BinfmtError(
        .invalidInput, "the binfmt.d line would not read back as the same entry: \(line)", at: r.name)
    }
    return text
  }

  /// What `generate` prints or writes for one architecture: what it runs, what its flags
  /// do, and on which hosts it must not be installed.
  public static func generated(for a: Architecture, registration: Registration, catalog: Catalog) throws(BinfmtError)
    -> String
  {
    let hosts = catalog.architectures.filter { $0.family == a.family && !$0.unameMachines.isEmpty }.map(\.name)
    var flagWords: [String] = []
    if registration.flags.contains(.preserveArgv0) { flagWords.append("P keeps argv[0]") }
    if registration.flags.contains(.openBinary) { flagWords.append("O passes an open fd") }
    if registration.flags.contains(.credentials) { flagWords.append("C uses the binary's credentials") }
    if registration.flags.contains(.fixBinary) { flagWords.append("F opens the interpreter now, so containers work") }
    return try text(
      comments: [
        "binfmtctl: run \(a.name) (\(a.summary)) programs with qemu-user.",
        "Flags: \(flagWords.isEmpty ? "none" : flagWords.joined(separator: "; ")).",
        "Do not install on hosts of the \(a.family) family (\(hosts.joined(separator: ", "))): native programs would go through qemu.",
      ], registration: registration)
  }
}

extension Registration {
  /// An interpreter path binfmtctl will register or write: absolute, naming a file (not a
  /// directory), no NUL or line break, at most PATH_MAX bytes. `option` names the flag.
  public static func checkInterpreterPath(_ path: String, option: String) throws(BinfmtError) {
    let shown = path.debugDescription
    if !path.hasPrefix("/") { throw BinfmtError(.invalidInput, "\(shown) is not an absolute path", at: option) }
    if path.hasSuffix("/") {
      throw BinfmtError(.invalidInput, "\(shown) ends in '/': it names a directory, not an emulator", at: option)
    }
    if path.utf8.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }) {
      throw BinfmtError(.invalidInput, "\(shown) contains a NUL or line break", at: option)
    }
    let length = PathBytes.bytes(path).count
    if length >= 4096 {
      throw BinfmtError(.invalidInput, "is \(length) bytes long; paths end at 4095", at: option)
    }
  }

  /// Before anything is written: the register string goes through the parser the tests prove
  /// equal to the kernel's and must come back as the same registration. Errors name `location`.
  public func checkRoundTrip(at location: String) throws(BinfmtError) {
    do throws(BinfmtError) {
      guard try Registration.parse(registerString()) == self else {
        throw BinfmtError(.invalidInput, "register string does not round-trip", at: location)
      }
    } catch {
      throw error.located(location)
    }
  }
}
