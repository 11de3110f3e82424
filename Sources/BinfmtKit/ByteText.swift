/// Two string operations done on UTF-8 bytes. The standard library's `joined(separator:)`
/// and `contains(_: some StringProtocol)` run unspecialised here, and the first call of each
/// instantiates generic metadata whose requirements the runtime checks by scanning every
/// protocol conformance in the binary (about 150,000 instructions and a few hundred KB of
/// touched pages each, measured on `status` and `arch list`).
public enum ByteText {
  /// `parts.joined(separator: separator)`.
  public static func join(_ parts: [String], _ separator: String) -> String {
    var out = ""
    for (i, p) in parts.enumerated() {
      if i > 0 { out += separator }
      out += p
    }
    return out
  }

  /// The non-empty pieces of `s` between `separator` bytes (an ASCII separator: never part
  /// of a multi-byte sequence), as `s.split(separator:)` gives them.
  public static func split(_ s: String, _ separator: UInt8) -> [String] {
    s.utf8.split(separator: separator).map { String(decoding: $0, as: UTF8.self) }
  }

  /// `haystack.contains(needle)`, comparing bytes (for ASCII needles the same answer).
  public static func contains(_ haystack: String, _ needle: String) -> Bool {
    let h = Array(haystack.utf8)
    let n = Array(needle.utf8)
    guard !n.isEmpty else { return true }
    guard h.count >= n.count else { return false }
    for start in 0...(h.count - n.count) where h[start] == n[0] {
      var k = 1
      while k < n.count && h[start + k] == n[k] { k += 1 }
      if k == n.count { return true }
    }
    return false
  }
}
