/// What the kernel prints in /proc/sys/fs/binfmt_misc/NAME (fs/binfmt_misc.c `entry_status`).
public struct KernelEntryStatus: Hashable, Sendable {
  public var name: String
  public var enabled: Bool
  public var interpreter: String
  public var flags: BinfmtFlags
  public var match: Registration.Match

  public init(
    name: String, enabled: Bool, interpreter: String, flags: BinfmtFlags, match: Registration.Match
  ) {
    self.name = name
    self.enabled = enabled
    self.interpreter = interpreter
    self.flags = flags
    self.match = match
  }

  public var registration: Registration {
    Registration(name: name, match: match, interpreter: interpreter, flags: flags)
  }

  /// Parses the status file text of the entry `name`.
  public static func parse(name: String, text: String) throws(BinfmtError) -> KernelEntryStatus {
    try parse(name: name, bytes: PathBytes.bytes(text))
  }

  /// Parses the status file's bytes: lines end at LF only (the kernel prints `%s\n`, so a CR
  /// belongs to the field), and the interpreter and extension keep every byte (`PathBytes`).
  public static func parse(name: String, bytes: [UInt8]) throws(BinfmtError) -> KernelEntryStatus {
    let loc = name
    var enabled: Bool?
    var interpreter: String?
    var flags: BinfmtFlags = []
    var offset = 0
    var magic: [UInt8]?
    var mask: [UInt8]?
    var ext: String?
    func value(_ line: ArraySlice<UInt8>, after prefix: StaticString) -> ArraySlice<UInt8>? {
      let p = UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
      guard line.starts(with: p) else { return nil }
      return line.dropFirst(p.count)
    }
    for (n, line) in bytes.split(separator: 10, omittingEmptySubsequences: true).enumerated() {
      // Only an error needs these.
      var lineLoc: String { "\(loc):\(n + 1)" }
      var shown: String { TerminalText.escape(line) }
      if line.elementsEqual("enabled".utf8) {
        enabled = true
      } else if line.elementsEqual("disabled".utf8) {
        enabled = false
      } else if let v = value(line, after: "interpreter ") {
        interpreter = PathBytes.string(v)
      } else if var f = value(line, after: "flags:") {
        if f.first == UInt8(ascii: " ") { f = f.dropFirst() }
        do { flags = try BinfmtFlags(parsing: Substring(String(decoding: f, as: UTF8.self))) } catch {
          throw error.located(lineLoc)
        }
      } else if let v = value(line, after: "offset ") {
        guard let o = Int(String(decoding: v, as: UTF8.self)) else {
          throw BinfmtError(.invalidInput, "bad offset '\(shown)'", at: lineLoc)
        }
        offset = o
      } else if let v = value(line, after: "magic ") {
        guard let m = Hex.parse(Substring(String(decoding: v, as: UTF8.self))) else {
          throw BinfmtError(.invalidInput, "bad magic '\(shown)'", at: lineLoc)
        }
        magic = m
      } else if let v = value(line, after: "mask ") {
        guard let m = Hex.parse(Substring(String(decoding: v, as: UTF8.self))) else {
          throw BinfmtError(.invalidInput, "bad mask '\(shown)'", at: lineLoc)
        }
        mask = m
      } else if let v = value(line, after: "extension .") {
        ext = PathBytes.string(v)
      }
      // Unknown lines are tolerated: newer kernels may add fields.
    }
    if let magic, let mask, magic.count != mask.count {
      // The kernel prints the mask at the magic's length: this is not its table.
      throw BinfmtError(
        .invalidInput, "mask is \(mask.count) bytes, magic is \(magic.count)", at: loc,
        cause: .text("the kernel prints them at the same length"))
    }
    guard let enabled else {
      throw BinfmtError(.invalidInput, "no enabled/disabled line", at: loc)
    }
    guard let interpreter else {
      throw BinfmtError(.invalidInput, "no interpreter line", at: loc)
    }
    let match: Registration.Match
    if let magic {
      match = .magic(offset: offset, magic: magic, mask: mask)
    } else if let ext {
      match = .fileExtension(ext)
    } else {
      throw BinfmtError(.invalidInput, "neither magic nor extension", at: loc)
    }
    return KernelEntryStatus(
      name: name, enabled: enabled, interpreter: interpreter, flags: flags, match: match)
  }

  /// The text the kernel would print for this entry.
  public func render() -> String {
    var s = (enabled ? "enabled" : "disabled") + "\n"
    s += "interpreter \(interpreter)\n"
    s += "flags: \(flags)\n"
    switch match {
    case .magic(let offset, let magic, let mask):
      s += "offset \(offset)\nmagic \(Hex.string(magic))\n"
      if let mask { s += "mask \(Hex.string(mask))\n" }
    case .fileExtension(let e):
      s += "extension .\(e)\n"
    }
    return s
  }
}

/// systemd binfmt.d(5): one register string per line; `#` and `;` start comments.
public struct BinfmtDFile: Sendable {
  public struct Line: Sendable, Equatable {
    public var number: Int
    public var registration: Registration
  }
  /// Every line that parses, in file order.
  public var entries: [Line]
  /// Every line that does not, located `file:line` and naming the field.
  public var errors: [BinfmtError]

  public init(entries: [Line], errors: [BinfmtError] = []) {
    self.entries = entries
    self.errors = errors
  }

  /// The longest line systemd reads (LONG_LINE_MAX); a longer one fails the whole file.
  public static let maxLineLength = 1 << 20

  /// Splits bytes into lines the way systemd's `read_line` does: `\n`, `\r` and NUL end a
  /// line, a run of distinct markers (`\r\n`, `\n\r`, `\r\n\0`…) is one end, and a NUL ends
  /// the run. Bytes, never Characters: in Swift `"\r\n"` is one Character and would hide a line end.
  public static func lines(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    func marker(_ b: UInt8) -> UInt8 {
      switch b {
      case 0: return 1
      case 10: return 2
      case 13: return 4
      default: return 0
      }
    }
    var out: [ArraySlice<UInt8>] = []
    var start = 0
    var i = 0
    while i < bytes.count {
      let m = marker(bytes[i])
      if m == 0 {
        i += 1
        continue
      }
      out.append(bytes[start..<i])
      var seen = m
      i += 1
      while seen & 1 == 0, i < bytes.count {
        let n = marker(bytes[i])
        if n == 0 || seen & n != 0 { break }
        seen |= n
        i += 1
      }
      start = i
    }
    if start < bytes.count { out.append(bytes[start...]) }
    return out
  }

  /// Parses a binfmt.d file as systemd-binfmt applies it: every line on its own, surrounding
  /// blanks (space, tab, CR, LF) stripped, `#` and `;` lines skipped. A bad line does not stop
  /// the others: it lands in `errors` as `file:line: field: reason`.
  public static func parse(_ bytes: [UInt8], file: String) -> BinfmtDFile {
    var entries: [Line] = []
    var errors: [BinfmtError] = []
    for (i, raw) in lines(bytes).enumerated() {
      let n = i + 1
      func blank(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 10 || b == 13 }
      var line = raw.drop(while: blank)
      while let l = line.last, blank(l) { line = line.dropLast() }
      guard let first = line.first, first != UInt8(ascii: "#"), first != UInt8(ascii: ";") else { continue }
      if line.count > maxLineLength {
        errors.append(
          BinfmtError(
            .invalidInput, "line is \(line.count) bytes long; systemd reads at most \(maxLineLength)",
            at: "\(file):\(n)"))
        continue
      }
      do {
        entries.append(Line(number: n, registration: try Registration.parse(bytes: Array(line))))
      } catch {
        errors.append(error.located("\(file):\(n)"))
      }
    }
    return BinfmtDFile(entries: entries, errors: errors)
  }

  public static func parse(_ text: String, file: String) -> BinfmtDFile { parse(Array(text.utf8), file: file) }
}
