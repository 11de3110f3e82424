import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

public enum BinfmtMiscWriter {
  /// Writes one register string with a single write(2), as the kernel requires.
  /// Returns the errno the kernel answered, or nil on success.
  public static func registerRaw(_ bytes: [UInt8], paths: SystemPaths) -> Errno? {
    switch BinfmtMisc.writeOnce(paths.binfmtMisc.appending("register").string, bytes) {
    case nil: return nil
    case .open(let e)?, .write(let e)?: return e
    }
  }

  /// True inside a user namespace other than the initial one (uid_map is not the identity
  /// map of all 2^32 ids). Test helpers refuse to write outside such a namespace.
  public static func inNonInitialUserNamespace() -> Bool {
    guard let map = try? readSmallFile("/proc/self/uid_map") else { return false }
    let fields = map.split(whereSeparator: { $0 == " " || $0 == "\n" })
    return !(fields.count == 3 && fields[0] == "0" && fields[1] == "0" && fields[2] == "4294967295")
  }
}
