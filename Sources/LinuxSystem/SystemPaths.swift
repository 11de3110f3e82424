import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Where the system's files are. Everything that touches the system goes through one of
/// these, so tests run against a temporary root and production against `/`.
public struct SystemPaths: Sendable, Hashable {
  public var root: FilePath
  /// Where binfmt_misc is, under the root; `BINFMTCTL_BINFMT_MISC` overrides it for a
  /// container that gets the host's mount bound in elsewhere (runc refuses mounts inside
  /// /proc, so deploy/kubernetes/ binds it at /host/binfmt_misc).
  public var binfmtMiscPath: String

  public static let defaultBinfmtMisc = "/proc/sys/fs/binfmt_misc"
  /// The variable `EngineContext.live` reads.
  public static let binfmtMiscVariable = "BINFMTCTL_BINFMT_MISC"

  public init(root: FilePath = "/", binfmtMisc: String = SystemPaths.defaultBinfmtMisc) {
    self.root = root
    self.binfmtMiscPath = binfmtMisc
  }

  public func path(_ absolute: String) -> FilePath {
    // The common case (the real root, a clean absolute path) without FilePath's component
    // walk, which boot and status would pay for every entry.
    if root.string == "/", absolute.utf8.first == UInt8(ascii: "/"), !absolute.utf8.contains(0),
      Self.isClean(absolute)
    {
      return FilePath(absolute)
    }
    return root.appending(FilePath(absolute).components)
  }

  /// No empty component and no trailing slash: FilePath keeps such a path exactly as written
  /// ("." and ".." components stay, as `appending(components)` keeps them too).
  static func isClean(_ s: String) -> Bool {
    var previous: UInt8 = 0
    for b in s.utf8 {
      if b == UInt8(ascii: "/") && previous == b { return false }
      previous = b
    }
    return previous != UInt8(ascii: "/")
  }

  public var binfmtMisc: FilePath { path(binfmtMiscPath) }
}

/// `uname -m` of the running kernel (uname(2)).
public func unameMachine() -> String {
  var u = utsname()
  guard uname(&u) == 0 else { return "unknown" }
  return utsString(&u.machine)
}

/// A NUL-terminated `utsname` field as a String.
func utsString<T>(_ field: inout T) -> String {
  withUnsafeBytes(of: &field) { raw in String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self) }
}
