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
    var out = ""
    write(into: &out, indent: indent, level: 0)
    return out
  }

  func write(into out: inout String, indent: Int?, level: Int) {
    func newline(_ l: Int) {
      guard let indent else { return }
      out += "\n" + String(repeating: " ", count: indent * l)
    }
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .int(let i): out += String(i)
    case .string(let s): JSON.escape(s, into: &out)
    case .array(let a):
      if a.isEmpty {
        out += "[]"
        return
      }
      out += "["
      for (i, v) in a.enumerated() {
        if i > 0 { out += "," }
        newline(level + 1)
        v.write(into: &out, indent: indent, level: level + 1)
      }
      newline(level)
      out += "]"
    case .object(let o):
      if o.isEmpty {
        out += "{}"
        return
      }
      out += "{"
      for (i, k) in o.keys.sorted().enumerated() {
        if i > 0 { out += "," }
        newline(level + 1)
        JSON.escape(k, into: &out)
        out += indent == nil ? ":" : ": "
        o[k]!.write(into: &out, indent: indent, level: level + 1)
      }
      newline(level)
      out += "}"
    }
  }

  static func escape(_ s: String, into out: inout String) {
    out += "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      // JSON requires only C0 escaped; DEL and C1 are escaped too, so raw output cannot
      // drive a terminal either. A reader still gets the exact string.
      case _ where u.value < 0x20 || (0x7f...0x9f).contains(u.value):
        out += "\\u00" + Hex.byte(UInt8(truncatingIfNeeded: u.value))
      // A byte of a path that is not UTF-8 (PathBytes): JSON text cannot carry it.
      case _ where PathBytes.isEscape(u): out += "\\ufffd"
      default: out.unicodeScalars.append(u)
      }
    }
    out += "\""
  }
}
