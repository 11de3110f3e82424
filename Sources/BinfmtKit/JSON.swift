/// A JSON value with one renderer: keys sorted, no insignificant whitespace variance, so
/// output is stable for scripts and golden tests.
public indirect enum JSON: Sendable, Equatable {
  case null
  case bool(Bool)
  case int(Int)
  case string(String)
  case array([JSON])
  case object([String: JSON])

  public static func optional(_ s: String?) -> JSON { s.map(JSON.string) ?? .null }

  public func render(indent: Int? = 2) -> String {
    // Built as UTF-8 bytes: appending scalar by scalar to a String cost status --json
    // half of its instructions.
    var out: [UInt8] = []
    out.reserveCapacity(4096)
    write(into: &out, indent: indent, level: 0)
    return String(decoding: out, as: UTF8.self)
  }

  func write(into out: inout [UInt8], indent: Int?, level: Int) {
    func newline(_ l: Int) {
      guard let indent else { return }
      out.append(UInt8(ascii: "\n"))
      out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * l))
    }
    switch self {
    case .null: out.append(contentsOf: "null".utf8)
    case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
    case .int(let i): out.append(contentsOf: String(i).utf8)
    case .string(let s): JSON.escape(s, into: &out)
    case .array(let a):
      if a.isEmpty {
        out.append(contentsOf: "[]".utf8)
        return
      }
      out.append(UInt8(ascii: "["))
      for (i, v) in a.enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        newline(level + 1)
        v.write(into: &out, indent: indent, level: level + 1)
      }
      newline(level)
      out.append(UInt8(ascii: "]"))
    case .object(let o):
      if o.isEmpty {
        out.append(contentsOf: "{}".utf8)
        return
      }
      out.append(UInt8(ascii: "{"))
      for (i, k) in o.keys.sorted().enumerated() {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        newline(level + 1)
        JSON.escape(k, into: &out)
        out.append(contentsOf: (indent == nil ? ":" : ": ").utf8)
        o[k]!.write(into: &out, indent: indent, level: level + 1)
      }
      newline(level)
      out.append(UInt8(ascii: "}"))
    }
  }

  static func escape(_ s: String, into out: inout String) {
    var bytes: [UInt8] = []
    escape(s, into: &bytes)
    out += String(decoding: bytes, as: UTF8.self)
  }

  /// On the UTF-8 bytes: runs of bytes that need nothing are copied as they are.
  static func escape(_ s: String, into out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    var s = s
    s.withUTF8 { escape(utf8: $0, into: &out) }
    out.append(UInt8(ascii: "\""))
  }

  private static func escape(utf8 u: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
    func hexEscape(_ v: UInt8) {
      out.append(contentsOf: "\\u00".utf8)
      out.append(Hex.digitBytes[Int(v >> 4)])
      out.append(Hex.digitBytes[Int(v & 0xf)])
    }
    var i = 0
    var runStart = 0
    func flush() {
      if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: u[runStart..<i])) }
    }
    /// `\` and `letter` for the byte at `i`; one byte consumed.
    func twoCharacter(_ letter: UInt8) -> Int {
      flush()
      out.append(UInt8(ascii: "\\"))
      out.append(letter)
      return 1
    }
    while i < u.count {
      let b = u[i]
      var skip = 0
      switch b {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"): skip = twoCharacter(b)
      case UInt8(ascii: "\n"): skip = twoCharacter(UInt8(ascii: "n"))
      case UInt8(ascii: "\r"): skip = twoCharacter(UInt8(ascii: "r"))
      case UInt8(ascii: "\t"): skip = twoCharacter(UInt8(ascii: "t"))
      // JSON requires only C0 escaped; DEL and C1 (U+0080…U+009F, UTF-8 C2 80…C2 9F) are
      // escaped too, so raw output cannot drive a terminal either. A reader still gets the
      // exact string.
      case 0..<0x20, 0x7f:
        flush()
        hexEscape(b)
        skip = 1
      case 0xc2 where i + 1 < u.count && (0x80...0x9f).contains(u[i + 1]):
        flush()
        hexEscape(u[i + 1])
        skip = 2
      // A byte of a path that is not UTF-8 (PathBytes: U+F780…U+F7FF, UTF-8 EF 9E/9F xx):
      // JSON text cannot carry it.
      case 0xef where i + 2 < u.count && (u[i + 1] == 0x9e || u[i + 1] == 0x9f):
        flush()
        out.append(contentsOf: "\\ufffd".utf8)
        skip = 3
      default:
        i += 1
        continue
      }
      i += skip
      runStart = i
    }
    flush()
  }
}
