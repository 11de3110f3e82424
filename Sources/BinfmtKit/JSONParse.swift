/// Reading JSON: what a container engine's `image inspect` prints. binfmtctl reads only
/// strings, arrays and objects from it, so a number that is not an integer (a fraction, an
/// exponent, out of `Int`'s range) becomes its text, `.string("1.5e3")`, rather than a
/// value this enum cannot hold.
extension JSON {
  /// Parses one JSON text (RFC 8259; surrounding whitespace allowed, nothing after it).
  public static func parse(_ bytes: [UInt8]) throws(BinfmtError) -> JSON {
    var p = JSONParser(bytes: bytes)
    p.skipSpace()
    let v = try p.value(depth: 0)
    p.skipSpace()
    guard p.i == bytes.count else { throw p.error("text after the JSON value") }
    return v
  }

  /// The member `key` of an object (nil for anything else, or when it is missing).
  public subscript(key: String) -> JSON? {
    if case .object(let o) = self { return o[key] }
    return nil
  }

  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  /// An array of strings; nil for `null`, a missing member, or anything else.
  public var stringArray: [String]? {
    guard case .array(let a) = self else { return nil }
    var out: [String] = []
    for v in a {
      guard case .string(let s) = v else { return nil }
      out.append(s)
    }
    return out
  }
}

struct JSONParser {
  let bytes: [UInt8]
  var i = 0
  /// Deeper nesting is refused rather than recursed into.
  static let maxDepth = 128

  init(bytes: [UInt8]) { self.bytes = bytes }

  func error(_ what: String) -> BinfmtError {
    BinfmtError(.invalidInput, "not valid JSON: \(what)", at: "byte \(i)")
  }

  mutating func skipSpace() {
    while i < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[i]) { i += 1 }
  }

  mutating func literal(_ word: String, _ v: JSON) throws(BinfmtError) -> JSON {
    let w = Array(word.utf8)
    guard i + w.count <= bytes.count, bytes[i..<(i + w.count)].elementsEqual(w) else {
      throw error("unexpected byte")
    }
    i += w.count
    return v
  }

  mutating func value(depth: Int) throws(BinfmtError) -> JSON {
    guard depth < Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth)") }
    guard i < bytes.count else { throw error("unexpected end") }
    switch bytes[i] {
    case UInt8(ascii: "{"):
      i += 1
      var o: [String: JSON] = [:]
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
        i += 1
        return .object(o)
      }
      while true {
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a member name") }
        let k = try string()
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
        i += 1
        skipSpace()
        o[k] = try value(depth: depth + 1)
        skipSpace()
        guard i < bytes.count else { throw error("unexpected end") }
        if bytes[i] == UInt8(ascii: ",") {
          i += 1
          continue
        }
        guard bytes[i] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
        i += 1
        return .object(o)
      }
    case UInt8(ascii: "["):
      i += 1
      var a: [JSON] = []
      skipSpace()
      if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
        i += 1
        return .array(a)
      }
      while true {
        skipSpace()
        a.append(try value(depth: depth + 1))
        skipSpace()
        guard i < bytes.count else { throw error("unexpected end") }
        if bytes[i] == UInt8(ascii: ",") {
          i += 1
          continue
        }
        guard bytes[i] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
        i += 1
        return .array(a)
      }
    case UInt8(ascii: "\""): return .string(try string())
    case UInt8(ascii: "t"): return try literal("true", .bool(true))
    case UInt8(ascii: "f"): return try literal("false", .bool(false))
    case UInt8(ascii: "n"): return try literal("null", .null)
    default: return try number()
    }
  }

  mutating func number() throws(BinfmtError) -> JSON {
    let start = i
    if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
    let digits = i
    while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 { i += 1 }
    guard i > digits else { throw error("unexpected byte") }
    var integral = true
    while i < bytes.count, ".eE+-0123456789".utf8.contains(bytes[i]) {
      integral = false
      i += 1
    }
    let text = String(decoding: bytes[start..<i], as: UTF8.self)
    if integral, let n = Int(text) { return .int(n) }
    return .string(text)
  }

  /// A string starting at the opening quote; escapes decoded, \u surrogate pairs joined, a
  /// lone surrogate replaced by U+FFFD.
  mutating func string() throws(BinfmtError) -> String {
    i += 1
    var out: [UInt8] = []
    while true {
      guard i < bytes.count else { throw error("unterminated string") }
      let c = bytes[i]
      i += 1
      if c == UInt8(ascii: "\"") { break }
      guard c >= 0x20 else { throw error("control character in a string") }
      guard c == UInt8(ascii: "\\") else {
        out.append(c)
        continue
      }
      guard i < bytes.count else { throw error("unterminated string") }
      let e = bytes[i]
      i += 1
      switch e {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0c)
      case UInt8(ascii: "n"): out.append(0x0a)
      case UInt8(ascii: "r"): out.append(0x0d)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        var scalar = try hex4()
        if (0xd800..<0xdc00).contains(scalar), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
          bytes[i + 1] == UInt8(ascii: "u")
        {
          let save = i
          i += 2
          let low = try hex4()
          if (0xdc00..<0xe000).contains(low) {
            scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
          } else {
            i = save
          }
        }
        let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
        out.append(contentsOf: Array(String(Character(u)).utf8))
      default: throw error("unknown escape")
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  mutating func hex4() throws(BinfmtError) -> UInt32 {
    guard i + 4 <= bytes.count else { throw error("short \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      let c = bytes[i]
      i += 1
      let d: UInt8
      switch c {
      case 0x30...0x39: d = c - 0x30
      case 0x41...0x46: d = c - 0x37
      case 0x61...0x66: d = c - 0x57
      default: throw error("bad \\u escape")
      }
      v = v << 4 | UInt32(d)
    }
    return v
  }
}
