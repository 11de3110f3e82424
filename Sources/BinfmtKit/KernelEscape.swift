/// The kernel's escaping rules for the magic and mask fields of a register string
/// (fs/binfmt_misc.c `scanarg` + lib/string_helpers.c `string_unescape` with UNESCAPE_HEX).
public enum KernelEscape {
  @inline(__always) static func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
  }

  /// `string_unescape(…, UNESCAPE_HEX)`: `\xH` or `\xHH` becomes one byte; any other
  /// backslash is kept literally along with the byte after it.
  public static func unescape(_ field: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(field.count)
    var i = field.startIndex
    let end = field.endIndex
    while i < end {
      let c = field[i]
      if c == UInt8(ascii: "\\"), i + 1 < end {
        i += 1
        if field[i] == UInt8(ascii: "x"), i + 1 < end, let h = hexValue(field[i + 1]) {
          var value = h
          i += 2
          if i < end, let l = hexValue(field[i]) {
            value = value << 4 | l
            i += 1
          }
          out.append(value)
          continue
        }
        out.append(UInt8(ascii: "\\"))
      }
      out.append(field[i])
      i += 1
    }
    return out
  }

  /// Every byte as `\xHH`: safe with any delimiter and in binfmt.d files.
  public static func escape(_ bytes: [UInt8]) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 4)
    for b in bytes { appendEscaped(b, to: &out) }
    return String(decoding: out, as: UTF8.self)
  }

  /// `\xHH` of `b`, as bytes (the register string is built per entry at every boot).
  static func appendEscaped(_ b: UInt8, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\\"))
    out.append(UInt8(ascii: "x"))
    out.append(Hex.digitBytes[Int(b >> 4)])
    out.append(Hex.digitBytes[Int(b & 0xf)])
  }

  /// The same, but a byte is written as itself (1 byte instead of 4) unless it is NUL, LF or
  /// CR (a binfmt.d line, and C strings, end there), `\\` or `delimiter`: for a magic and mask
  /// too long to fit the kernel's 1920 bytes escaped. No byte written raw can start an escape
  /// or end the field, and the kernel takes any other byte as it is.
  public static func escapeCompact(_ bytes: [UInt8], delimiter: UInt8) -> String {
    var raw: [UInt8] = []
    for b in bytes {
      if b != 0 && b != 10 && b != 13 && b != UInt8(ascii: "\\") && b != delimiter {
        raw.append(b)
      } else {
        appendEscaped(b, to: &raw)
      }
    }
    return PathBytes.string(raw)
  }
}

public enum Hex {
  static let digits: [Character] = Array("0123456789abcdef")
  static let digitBytes: [UInt8] = Array("0123456789abcdef".utf8)
  public static func byte(_ b: UInt8) -> String {
    String([digits[Int(b >> 4)], digits[Int(b & 0xf)]])
  }
  public static func string(_ bytes: [UInt8]) -> String {
    var s = ""
    s.reserveCapacity(bytes.count * 2)
    for b in bytes { s += byte(b) }
    return s
  }
  /// Parses plain hex ("7f454c46"), as the kernel's status file prints magic and mask.
  public static func parse(_ s: Substring) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(u.count / 2)
    var i = 0
    while i < u.count {
      guard let h = KernelEscape.hexValue(u[i]), let l = KernelEscape.hexValue(u[i + 1]) else { return nil }
      out.append(h << 4 | l)
      i += 2
    }
    return out
  }
}
