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
    let loc = name
    var enabled: Bool?
    var interpreter: String?
    var flags: BinfmtFlags = []
    var offset = 0
    var magic: [UInt8]?
    var mask: [UInt8]?
    var ext: String?
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
      let lineLoc = "\(loc):\(n + 1)"
      if line == "enabled" {
        enabled = true
      } else if line == "disabled" {
        enabled = false
      } else if line.hasPrefix("interpreter ") {
        interpreter = String(line.dropFirst("interpreter ".count))
      } else if line.hasPrefix("flags:") {
        var f = line.dropFirst("flags:".count)
        if f.first == " " { f = f.dropFirst() }
        do { flags = try BinfmtFlags(parsing: f) } catch { throw error.located(lineLoc) }
      } else if line.hasPrefix("offset ") {
        guard let v = Int(line.dropFirst("offset ".count)) else {
          throw BinfmtError(.invalidInput, "bad offset '\(line)'", at: lineLoc)
        }
        offset = v
      } else if line.hasPrefix("magic ") {
        guard let v = Hex.parse(line.dropFirst("magic ".count)) else {
          throw BinfmtError(.invalidInput, "bad magic '\(line)'", at: lineLoc)
        }
        magic = v
      } else if line.hasPrefix("mask ") {
        guard let v = Hex.parse(line.dropFirst("mask ".count)) else {
          throw BinfmtError(.invalidInput, "bad mask '\(line)'", at: lineLoc)
        }
        mask = v
      } else if line.hasPrefix("extension .") {
        ext = String(line.dropFirst("extension .".count))
      }
      // Unknown lines are tolerated: newer kernels may add fields.
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
public struct BinfmtDFile: Sendable, Equatable {
  public struct Line: Sendable, Equatable {
    public var number: Int
    public var registration: Registration
  }
  public var entries: [Line]

  public init(entries: [Line]) { self.entries = entries }

  /// Parses a binfmt.d file; errors name `file:line` and the field.
  public static func parse(_ text: String, file: String) throws(BinfmtError) -> BinfmtDFile {
    var entries: [Line] = []
    var n = 0
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      n += 1
      // systemd strips surrounding whitespace before looking at a line.
      let line = raw.drop(while: { $0 == " " || $0 == "\t" })
      let trimmed = line.reversed().drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" })
      if trimmed.isEmpty { continue }
      if line.first == "#" || line.first == ";" { continue }
      let content = String(String(trimmed.reversed()))
      do {
        entries.append(Line(number: n, registration: try Registration.parse(content)))
      } catch {
        throw error.located("\(file):\(n)")
      }
    }
    return BinfmtDFile(entries: entries)
  }
}
