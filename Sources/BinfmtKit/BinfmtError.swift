import SystemPackage

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

  /// Why it failed: the errno of a system call (so callers can `catch` on it), or words.
  public enum Cause: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// `call` names the system call or operation ("mount", "register") when it helps.
    case errno(Errno, call: String? = nil)
    /// The errno, when the message already says it in its own words ("no such file"): kept
    /// for `catch`, not printed twice.
    case said(Errno)
    case text(String)

    public init(stringLiteral value: String) { self = .text(value) }
    public init(stringInterpolation: DefaultStringInterpolation) {
      self = .text(String(stringInterpolation: stringInterpolation))
    }

    public var description: String {
      switch self {
      case .errno(let e, let call?): return "\(call): \(e)"
      case .errno(let e, nil): return "\(e)"
      case .said: return ""
      case .text(let s): return s
      }
    }
  }

  public var kind: Kind
  public var location: String?
  public var message: String
  public var cause: Cause?
  public var fix: String?

  public init(
    _ kind: Kind, _ message: String, at location: String? = nil, cause: Cause? = nil,
    fix: String? = nil
  ) {
    self.kind = kind
    self.message = message
    self.location = location
    self.cause = cause
    self.fix = fix
  }

  /// The errno behind this error, when a system call failed: `catch let e where e.errno == .readOnlyFileSystem`.
  public var errno: Errno? {
    switch cause {
    case .errno(let e, _)?, .said(let e)?: return e
    default: return nil
    }
  }

  /// One line: `location: message (cause)`.
  public var description: String {
    var s = ""
    if let location { s += location + ": " }
    s += message
    if let cause, case let c = cause.description, !c.isEmpty { s += " (" + c + ")" }
    return s
  }

  public func located(_ prefix: String) -> BinfmtError {
    var copy = self
    copy.location = copy.location.map { prefix + ":" + $0 } ?? prefix
    return copy
  }
}

/// Advice printed in more than one place, worded once.
public enum Hint {
  /// How to get the qemu-user emulators on the common distributions.
  public static let installQemuUserStatic =
    "Debian/Ubuntu: apt install qemu-user-static; Fedora: dnf install qemu-user-static; Arch: pacman -S qemu-user-static"

  /// The fix for an emulator refused as untrusted: the distribution's own path when the refused
  /// one is elsewhere; when the refused one is that path, making its culprit root's again.
  public static func trustedEmulator(refused: String, culprit: String, target: String) -> String {
    let standard = "/usr/bin/qemu-\(target)-static"
    if refused != standard && !culprit.hasPrefix("/usr/bin") {
      return "use a root-owned emulator in a root-only directory: --emulator \(standard)"
    }
    return "sudo chown root:root \(culprit) && sudo chmod go-w \(culprit)"
  }
}
