/// A command's result knows how to show itself; the command layer's one renderer picks text
/// or JSON and writes it.
public protocol CommandReport: Sendable {
  /// For people: what goes to stdout without `--json`.
  var text: String { get }
  /// Some of the items failed: after printing, the command exits 1.
  var partialFailure: Bool { get }
  /// An error to report after the result is printed (its kind decides the exit code).
  var trailingError: BinfmtError? { get }
}

/// A report that scripts can read with `--json`: one value, keys sorted when rendered.
public protocol JSONReport: CommandReport {
  var json: JSON { get }
}

extension CommandReport {
  public var partialFailure: Bool { false }
  public var trailingError: BinfmtError? { nil }
}

/// Aligned columns for text output (the last column is not padded). Every cell goes through
/// `TerminalText.escape`, so no table prints a control character, whatever its cells hold.
public enum TextTable {
  public static func render(_ rows: [[String]], separator: String = "  ") -> String {
    let rows = rows.map { $0.map(TerminalText.escape) }
    guard let n = rows.map(\.count).max() else { return "" }
    // Widths in characters; for ASCII (nearly every cell) that is the byte count, without
    // grapheme breaking. The text is built as bytes.
    func width(_ c: String) -> Int { c.utf8.allSatisfy { $0 < 0x80 } ? c.utf8.count : c.count }
    var widths = [Int](repeating: 0, count: n)
    for r in rows { for (i, c) in r.enumerated() where i < r.count - 1 { widths[i] = max(widths[i], width(c)) } }
    var out: [UInt8] = []
    for r in rows {
      let start = out.count
      for (i, c) in r.enumerated() {
        if i > 0 { out.append(contentsOf: separator.utf8) }
        out.append(contentsOf: c.utf8)
        if i < r.count - 1 {
          out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: max(0, widths[i] - width(c))))
        }
      }
      while out.count > start && out.last == UInt8(ascii: " ") { out.removeLast() }
      out.append(UInt8(ascii: "\n"))
    }
    return String(decoding: out, as: UTF8.self)
  }
}

extension String {
  public func padding(to n: Int) -> String {
    count >= n ? self : self + String(repeating: " ", count: n - count)
  }
}

/// Strings that came from a file, a path, the kernel's table or another program, made safe
/// to print: a terminal acts on control characters (ESC starts sequences that recolour,
/// retitle or clear the screen; BEL rings), so text output shows them as escapes instead.
///
/// Tab, newline and CR become `\t`, `\n`, `\r`; the other C0 bytes and DEL `\xNN`; C1
/// controls (U+0080 to U+009F, which some terminals obey like ESC sequences) `\u{NN}`; and
/// each byte that is not part of well-formed UTF-8 `\xNN`. Everything else, backslashes
/// included, is kept, so escaping twice changes nothing. JSON output does not use this: its
/// encoder escapes control characters its own way and the string stays exact.
public enum TerminalText {
  public static func escape(_ bytes: some Collection<UInt8>) -> String {
    let b = Array(bytes)
    var out = ""
    out.reserveCapacity(b.count)
    var i = 0
    while i < b.count {
      let n = sequenceLength(b, at: i)
      guard n > 0 else {
        out += "\\x" + Hex.byte(b[i])
        i += 1
        continue
      }
      let leadBits: UInt8 = n == 1 ? 0x7f : n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07
      var value = UInt32(b[i] & leadBits)
      for k in 1..<n { value = value << 6 | UInt32(b[i + k] & 0x3f) }
      append(Unicode.Scalar(value) ?? "\u{fffd}", to: &out)
      i += n
    }
    return out
  }

  public static func escape(_ s: String) -> String {
    // Printable ASCII (nearly every string) needs nothing; checked on bytes first.
    if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return s }
    if !s.unicodeScalars.contains(where: { needsEscape($0) || PathBytes.isEscape($0) }) { return s }
    return escape(PathBytes.bytes(s))
  }

  static func needsEscape(_ u: Unicode.Scalar) -> Bool { u.value < 0x20 || (0x7f...0x9f).contains(u.value) }

  static func append(_ u: Unicode.Scalar, to out: inout String) {
    let low = UInt8(truncatingIfNeeded: u.value)
    switch u.value {
    case 0x09: out += "\\t"
    case 0x0a: out += "\\n"
    case 0x0d: out += "\\r"
    case 0..<0x20, 0x7f: out += "\\x" + Hex.byte(low)
    case 0x80...0x9f: out += "\\u{" + Hex.byte(low) + "}"
    default: out.unicodeScalars.append(u)
    }
  }

  /// The length of the well-formed UTF-8 sequence at `i` (Unicode table 3-7), or 0.
  static func sequenceLength(_ b: [UInt8], at i: Int) -> Int {
    let n: Int
    let second: ClosedRange<UInt8>
    switch b[i] {
    case 0x00...0x7f: return 1
    case 0xc2...0xdf: (n, second) = (2, 0x80...0xbf)
    case 0xe0: (n, second) = (3, 0xa0...0xbf)
    case 0xe1...0xec, 0xee...0xef: (n, second) = (3, 0x80...0xbf)
    case 0xed: (n, second) = (3, 0x80...0x9f)
    case 0xf0: (n, second) = (4, 0x90...0xbf)
    case 0xf1...0xf3: (n, second) = (4, 0x80...0xbf)
    case 0xf4: (n, second) = (4, 0x80...0x8f)
    default: return 0
    }
    guard b.count - i >= n, second.contains(b[i + 1]) else { return 0 }
    for k in 2..<n where !(0x80...0xbf).contains(b[i + k]) { return 0 }
    return n
  }
}
