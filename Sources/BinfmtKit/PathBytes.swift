import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Bytes that are not text, carried in a `String` without loss.
///
/// Linux paths and binfmt_misc fields (entry names, interpreters, extensions) are bytes; only
/// NUL (and `/` in a name) is excluded. A Swift `String` is Unicode, and decoding such bytes the
/// usual way turns every byte that is not well-formed UTF-8 into U+FFFD: the path then names
/// another file (or none), and two different names compare equal.
///
/// So, the way Python's `surrogateescape` does it (PEP 383) but with scalars a `String` can
/// hold: each byte 0x80…0xFF that is not part of a well-formed UTF-8 sequence becomes the
/// private-use scalar U+F700 + byte (U+F780…U+F7FF). Well-formed text decodes as usual, except
/// a scalar of that range itself, whose three bytes are escaped one by one. Decoding is thus
/// one-to-one: `bytes(string(b)) == b` for every `b`, and a string that came from `string(_:)`
/// is equal to another exactly when their bytes are.
///
/// Every byte source (files, procfs, readdir, readlink, realpath, argv) goes through
/// `string(_:)`, and every syscall, file write and register string through `bytes(_:)`.
/// People see the escaped bytes as `\xHH` (`TerminalText`); JSON, which has no bytes, gets
/// U+FFFD (`PathBytes.lossy`).
public enum PathBytes {
  /// The first and last scalar used for an escaped byte.
  static let first: UInt32 = 0xF780
  static let last: UInt32 = 0xF7FF

  /// The scalar that carries `byte` (0x80…0xFF).
  static func scalar(for byte: UInt8) -> Unicode.Scalar { Unicode.Scalar(0xF700 + UInt32(byte))! }

  /// `scalar` carries an escaped byte.
  public static func isEscape(_ scalar: Unicode.Scalar) -> Bool { (first...last).contains(scalar.value) }

  /// `bytes` as a string, losing nothing.
  public static func string(_ bytes: some Collection<UInt8>) -> String {
    if let s = bytes.withContiguousStorageIfAvailable({ string($0) }) { return s }
    return Array(bytes).withUnsafeBufferPointer { string($0) }
  }

  public static func string(_ bytes: [UInt8]) -> String { bytes.withUnsafeBufferPointer { string($0) } }

  /// A NUL-terminated C string (argv, realpath(3), a platform path) as a string.
  public static func string(cString p: UnsafePointer<CChar>) -> String {
    let n = strlen(p)
    return p.withMemoryRebound(to: UInt8.self, capacity: n) { string(UnsafeBufferPointer(start: $0, count: n)) }
  }

  /// The one decoder (concrete, so no generic collection code runs per byte).
  public static func string(_ buf: UnsafeBufferPointer<UInt8>) -> String {
    // Fast path: well-formed UTF-8 without a scalar of the escape range (whose encodings are
    // EF 9E 80…EF 9F BF).
    if !mayHoldEscapeRange(buf), let s = String(validating: buf, as: UTF8.self) { return s }
    let b = Array(buf)
    var out = String.UnicodeScalarView()
    var i = 0
    while i < b.count {
      let n = TerminalText.sequenceLength(b, at: i)
      if n == 0 {
        out.append(scalar(for: b[i]))
        i += 1
        continue
      }
      let value = decodeScalar(b, at: i, length: n)
      if (first...last).contains(value) {
        for k in 0..<n { out.append(scalar(for: b[i + k])) }
      } else {
        out.append(Unicode.Scalar(value)!)
      }
      i += n
    }
    return String(out)
  }

  /// The bytes `string` stands for (its UTF-8, with each escape scalar back to its byte).
  public static func bytes(_ string: String) -> [UInt8] {
    guard holdsEscapes(string) else { return Array(string.utf8) }
    var out: [UInt8] = []
    out.reserveCapacity(string.utf8.count)
    for u in string.unicodeScalars {
      if isEscape(u) {
        out.append(UInt8(truncatingIfNeeded: u.value - 0xF700))
      } else {
        out.append(contentsOf: Array(String(u).utf8))
      }
    }
    return out
  }

  /// `string` holds at least one escaped byte (is not plain text).
  public static func holdsEscapes(_ string: String) -> Bool {
    let maybe = string.utf8.withContiguousStorageIfAvailable { mayHoldEscapeRange($0) } ?? true
    return maybe && string.unicodeScalars.contains(where: isEscape)
  }

  /// For JSON and other places that need text: each escaped byte becomes U+FFFD.
  public static func lossy(_ string: String) -> String {
    guard holdsEscapes(string) else { return string }
    var out = String.UnicodeScalarView()
    for u in string.unicodeScalars { out.append(isEscape(u) ? "\u{FFFD}" : u) }
    return String(out)
  }

  /// Calls `body` with `string`'s bytes as a NUL-terminated C string, for a syscall. A NUL
  /// inside cannot reach the kernel: the path ends there, as it would in C.
  public static func withCString<R>(_ string: String, _ body: (UnsafePointer<CChar>) -> R) -> R {
    // Plain text: a native string is stored NUL-terminated, so no copy.
    if !holdsEscapes(string) { return string.withCString(body) }
    var b = bytes(string).map { CChar(bitPattern: $0) }
    b.append(0)
    return b.withUnsafeBufferPointer { body($0.baseAddress!) }
  }

  /// The byte 0xEF (lead byte of U+F000…U+FFFF, the escape range among them) occurs.
  static func mayHoldEscapeRange(_ buf: UnsafeBufferPointer<UInt8>) -> Bool {
    guard let base = buf.baseAddress, !buf.isEmpty else { return false }
    return memchr(base, 0xEF, buf.count) != nil
  }

  static func decodeScalar(_ b: [UInt8], at i: Int, length n: Int) -> UInt32 {
    let leadBits: UInt8 = n == 1 ? 0x7f : n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07
    var value = UInt32(b[i] & leadBits)
    for k in 1..<n { value = value << 6 | UInt32(b[i + k] & 0x3f) }
    return value
  }
}

extension FilePath {
  /// The path whose bytes are `PathBytes.bytes(string)` (`FilePath(String)` would take the
  /// escape scalars' UTF-8 instead).
  public init(pathBytes string: String) {
    self = PathBytes.withCString(string) { FilePath(platformString: $0) }
  }

  /// The path as a `PathBytes` string (`string` would turn undecodable bytes into U+FFFD).
  public var pathBytes: String {
    withPlatformString { PathBytes.string(cString: $0) }
  }
}
