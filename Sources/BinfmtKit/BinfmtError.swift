/// The one user-facing error: what failed, why, and what fixes it.
///
/// `where` points at the thing that is wrong ("binfmt.d/qemu-arm.conf:3", "mask"), so the
/// message reads like a compiler diagnostic: `where: what (why)`.
public struct BinfmtError: Error, Equatable, Sendable, CustomStringConvertible {
  public enum Kind: String, Sendable, Equatable {
    /// The user's input (an argument, a file, a register string) is wrong.
    case invalidInput
    /// A file or entry that should exist does not.
    case notFound
    /// The system refused (permissions, read-only, not supported).
    case system
    /// The action conflicts with what is already there.
    case conflict
  }

  public var kind: Kind
  public var location: String?
  public var message: String
  public var cause: String?
  public var fix: String?

  public init(
    _ kind: Kind, _ message: String, at location: String? = nil, cause: String? = nil,
    fix: String? = nil
  ) {
    self.kind = kind
    self.message = message
    self.location = location
    self.cause = cause
    self.fix = fix
  }

  /// One line: `location: message (cause)`.
  public var description: String {
    var s = ""
    if let location { s += location + ": " }
    s += message
    if let cause { s += " (" + cause + ")" }
    return s
  }

  public func located(_ prefix: String) -> BinfmtError {
    var copy = self
    copy.location = copy.location.map { prefix + ":" + $0 } ?? prefix
    return copy
  }
}
