/// The text of every binfmt.d(5) file binfmtctl writes (`generate` and `persist`): comment
/// lines, then the register string the kernel parser accepts.
public enum BinfmtD {
  /// `generate --output DIR` names its files after the architecture.
  public static func fileName(for a: Architecture) -> String { "qemu-\(a.name).conf" }

  /// The one producer: `#` comment lines, then the register string, newline-terminated.
  public static func text(comments: [String], registration: Registration) -> String {
    var s = ""
    for c in comments { s += "# " + c + "\n" }
    return s + registration.registerString() + "\n"
  }

  /// What `generate` prints or writes for one architecture: what it runs, what its flags
  /// do, and on which hosts it must not be installed.
  public static func generated(for a: Architecture, registration: Registration, catalog: Catalog) -> String {
    let hosts = catalog.architectures.filter { $0.family == a.family && !$0.unameMachines.isEmpty }.map(\.name)
    var flagWords: [String] = []
    if registration.flags.contains(.preserveArgv0) { flagWords.append("P keeps argv[0]") }
    if registration.flags.contains(.openBinary) { flagWords.append("O passes an open fd") }
    if registration.flags.contains(.credentials) { flagWords.append("C uses the binary's credentials") }
    if registration.flags.contains(.fixBinary) { flagWords.append("F opens the interpreter now, so containers work") }
    return text(
      comments: [
        "binfmtctl: run \(a.name) (\(a.summary)) programs with qemu-user.",
        "Flags: \(flagWords.isEmpty ? "none" : flagWords.joined(separator: "; ")).",
        "Do not install on hosts of the \(a.family) family (\(hosts.joined(separator: ", "))): native programs would go through qemu.",
      ], registration: registration)
  }
}

extension Registration {
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
