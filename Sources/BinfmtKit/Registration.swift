/// The binfmt_misc flags, in the order the kernel prints them (`POCF`).
public struct BinfmtFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// `P`: pass the original argv[0] to the interpreter.
  public static let preserveArgv0 = BinfmtFlags(rawValue: 1)
  /// `O`: open the binary and pass an fd (runs unreadable executables).
  public static let openBinary = BinfmtFlags(rawValue: 2)
  /// `C`: credentials from the binary, not the interpreter (setuid). Implies `O`.
  public static let credentials = BinfmtFlags(rawValue: 4)
  /// `F`: open the interpreter at registration, so it works in other mount namespaces.
  public static let fixBinary = BinfmtFlags(rawValue: 8)

  static let letters: [(Character, BinfmtFlags)] = [
    ("P", .preserveArgv0), ("O", .openBinary), ("C", .credentials), ("F", .fixBinary),
  ]

  /// Parses letters from `POCF` (any order, repeats allowed, as the kernel does).
  /// `C` implies `O`, as in the kernel.
  public init(parsing text: Substring) throws(BinfmtError) {
    var flags: BinfmtFlags = []
    for ch in text {
      guard let f = Self.letters.first(where: { $0.0 == ch })?.1 else {
        throw BinfmtError(
          .invalidInput, "unknown flag '\(ch)'", at: "flags",
          cause: "binfmt_misc flags are P, O, C and F")
      }
      flags.insert(f)
    }
    if flags.contains(.credentials) { flags.insert(.openBinary) }
    self = flags
  }

  /// Canonical spelling, kernel order: "POCF" subset.
  public var description: String {
    String(Self.letters.filter { contains($0.1) }.map(\.0))
  }
}

/// One binfmt_misc entry definition: what a register string says.
extension BinfmtFlags {
  /// A `--flags` option: nil means the defaults; `C` only with `credentials` (it runs the
  /// interpreter with the privileges of setuid binaries).
  public static func option(_ text: String?, credentials: Bool) throws(BinfmtError) -> BinfmtFlags {
    let flags: BinfmtFlags
    do throws(BinfmtError) {
      flags =
        try text.map { f throws(BinfmtError) in try BinfmtFlags(parsing: Substring(f)) } ?? Architecture.defaultFlags
    } catch {
      throw error.located("--flags")
    }
    if flags.contains(.credentials) && !credentials {
      throw BinfmtError(
        .invalidInput, "the C flag runs the interpreter with the privileges of setuid binaries", at: "--flags",
        fix: "add --credentials if that is what you want")
    }
    return flags
  }
}

public struct Registration: Hashable, Sendable {
  public enum Match: Hashable, Sendable {
    /// `M`: bytes at `offset`, compared under `mask` (nil: all bits count).
    case magic(offset: Int, magic: [UInt8], mask: [UInt8]?)
    /// `E`: file name extension, without the dot.
    case fileExtension(String)
  }

  public var name: String
  public var match: Match
  public var interpreter: String
  public var flags: BinfmtFlags

  public init(name: String, match: Match, interpreter: String, flags: BinfmtFlags) {
    self.name = name
    self.match = match
    self.interpreter = interpreter
    self.flags = flags
  }

  /// The kernel's limits (fs/binfmt_misc.c, include/linux/binfmts.h).
  public static let maxRegisterLength = 1920
  public static let minRegisterLength = 11
  public static let bufferSize = 256  // BINPRM_BUF_SIZE: magic + offset must fit
  public static let maxNameLength = 255  // a dentry name

  /// The register string, `:name:type:offset:magic:mask:interpreter:flags`.
  /// Magic and mask bytes are `\xHH`, so any byte is safe (most are raw when that is what
  /// it takes to fit the kernel's 1920 bytes). Name, extension and
  /// interpreter are `PathBytes` strings: `PathBytes.bytes` of the result is what to write.
  /// Without a delimiter: `:` unless a field holds one, then the first of
  /// `Registration.delimiters` that no field holds (the kernel takes any first byte).
  public func registerString(delimiter: Character? = nil) -> String {
    let d = String(delimiter ?? chosenDelimiter)
    switch match {
    case .magic(let offset, let magic, let mask):
      func line(_ escape: ([UInt8]) -> String) -> String {
        d + name + d + "M" + d + (offset == 0 ? "" : String(offset)) + d + escape(magic) + d
          + (mask.map(escape) ?? "") + d + interpreter + d + flags.description
      }
      let full = line(KernelEscape.escape)
      // Every byte as \xHH can exceed the kernel's limit for a long magic and mask, which it
      // accepted with bytes raw: then every byte that can be is written raw. (An escape scalar
      // is 3 UTF-8 bytes for 1 byte, so the UTF-8 length is an upper bound.)
      guard full.utf8.count > Self.maxRegisterLength, PathBytes.bytes(full).count > Self.maxRegisterLength,
        let dByte = d.utf8.first
      else { return full }
      return line { KernelEscape.escapeCompact($0, delimiter: dByte) }
    case .fileExtension(let ext):
      return d + name + d + "E" + d + d + ext + d + d + interpreter + d + flags.description
    }
  }

  /// Delimiters in order of preference: never `#` or `;` (systemd reads a comment), a blank
  /// (stripped), `\\` or a hex digit (magic and mask escapes), a digit or a flag letter.
  public static let delimiters: [Character] = [":", "|", "!", "@", "%", "^", "~", ",", "=", "+", "&", "*"]

  /// The first delimiter absent from every field (`:` for every catalog entry). Only the
  /// name, extension and interpreter can hold one: the type, offset and flags never do, and
  /// magic and mask escape it.
  public var chosenDelimiter: Character {
    // Delimiters are ASCII: the UTF-8 of the fields holds one exactly where their bytes do
    // (an escape scalar's UTF-8 bytes are all above 0x7f). One bit per ASCII byte.
    var used: (low: UInt64, high: UInt64) = (0, 0)
    func note(_ s: String) {
      for b in s.utf8 where b < 128 {
        if b < 64 { used.low |= 1 << b } else { used.high |= 1 << (b - 64) }
      }
    }
    note(name)
    note(interpreter)
    if case .fileExtension(let ext) = match { note(ext) }
    return Self.delimiters.first { c in
      let b = c.asciiValue!
      return (b < 64 ? used.low >> b : used.high >> (b - 64)) & 1 == 0
    } ?? ":"
  }

  /// Parses a register string exactly as `echo … > /proc/sys/fs/binfmt_misc/register`
  /// would be parsed by the kernel, accepting what it accepts and naming the field it
  /// would reject. A single trailing newline is allowed, as for the kernel.
  public static func parse(_ text: String) throws(BinfmtError) -> Registration {
    try parse(bytes: PathBytes.bytes(text))
  }

  public static func parse(bytes buf: [UInt8]) throws(BinfmtError) -> Registration {
    func bad(_ field: String, _ message: String, _ cause: String? = nil) -> BinfmtError {
      BinfmtError(.invalidInput, message, at: field, cause: cause.map(BinfmtError.Cause.text))
    }
    guard buf.count >= minRegisterLength else {
      throw bad(
        "register string", "too short: \(buf.count) bytes",
        "the kernel needs at least \(minRegisterLength)")
    }
    guard buf.count <= maxRegisterLength else {
      throw bad(
        "register string", "too long: \(buf.count) bytes",
        "the kernel accepts at most \(maxRegisterLength)")
    }
    if let nul = buf.firstIndex(of: 0) {
      throw bad("register string", "contains a NUL byte at offset \(nul)")
    }
    let del = buf[0]
    var p = 1

    /// strchr(p, del): the field up to the next delimiter.
    func field(_ name: String) throws(BinfmtError) -> ArraySlice<UInt8> {
      guard let end = buf[p...].firstIndex(of: del) else {
        throw bad(name, "missing", "no delimiter '\(Character(Unicode.Scalar(del)))' after the \(name) field")
      }
      let f = buf[p..<end]
      p = end + 1
      return f
    }
    /// scanarg(p, del): like `field`, but `\xHH` escapes are skipped and must be complete.
    func escapedField(_ name: String) throws(BinfmtError) -> ArraySlice<UInt8> {
      var i = p
      while i < buf.count {
        if buf[i] == UInt8(ascii: "\\"), i + 1 < buf.count, buf[i + 1] == UInt8(ascii: "x") {
          guard i + 3 < buf.count, KernelEscape.hexValue(buf[i + 2]) != nil,
            KernelEscape.hexValue(buf[i + 3]) != nil
          else {
            throw bad(name, "incomplete escape at byte \(i - p)", "\\x needs two hex digits")
          }
          i += 4
          continue
        }
        if buf[i] == del {
          let f = buf[p..<i]
          p = i + 1
          return f
        }
        i += 1
      }
      throw bad(name, "missing", "no delimiter after the \(name) field")
    }

    let nameBytes = try field("name")
    let name = PathBytes.string(nameBytes)
    if nameBytes.isEmpty { throw bad("name", "is empty") }
    if name == "." || name == ".." { throw bad("name", "'\(name)' is not allowed") }
    if nameBytes.contains(UInt8(ascii: "/")) { throw bad("name", "'\(name)' contains '/'") }
    if nameBytes.count > maxNameLength {
      throw bad("name", "is \(nameBytes.count) bytes long", "at most \(maxNameLength)")
    }

    let typeField = try field("type")
    guard typeField.count == 1, let t = typeField.first, t == UInt8(ascii: "M") || t == UInt8(ascii: "E")
    else {
      throw bad("type", "'\(String(decoding: typeField, as: UTF8.self))' is not M or E")
    }

    let match: Match
    if t == UInt8(ascii: "M") {
      let offsetField = try field("offset")
      let offset = try parseOffset(offsetField)
      let magicField = try escapedField("magic")
      let magic = KernelEscape.unescape(magicField)
      if magic.isEmpty { throw bad("magic", "is empty") }
      let maskField = try escapedField("mask")
      var mask: [UInt8]? = nil
      if !maskField.isEmpty {
        let m = KernelEscape.unescape(maskField)
        guard m.count == magic.count else {
          throw bad("mask", "is \(m.count) bytes, magic is \(magic.count)", "they must be the same length")
        }
        mask = m
      }
      if magic.count > bufferSize || bufferSize - magic.count < offset {
        throw bad(
          "offset", "offset \(offset) + magic \(magic.count) bytes exceeds \(bufferSize)",
          "the kernel only looks at the first \(bufferSize) bytes of a file")
      }
      match = .magic(offset: offset, magic: magic, mask: mask)
    } else {
      _ = try field("offset")  // ignored for E, as by the kernel
      let ext = try field("extension")
      if ext.isEmpty { throw bad("extension", "is empty") }
      if ext.contains(UInt8(ascii: "/")) { throw bad("extension", "contains '/'") }
      _ = try field("mask")  // ignored for E
      match = .fileExtension(PathBytes.string(ext))
    }

    let interp = try field("interpreter")
    if interp.isEmpty { throw bad("interpreter", "is empty") }

    var rest = buf[p...]
    if rest.last == UInt8(ascii: "\n") { rest = rest.dropLast() }
    let flags = try BinfmtFlags(parsing: Substring(String(decoding: rest, as: UTF8.self)))
    return Registration(
      name: name, match: match, interpreter: PathBytes.string(interp), flags: flags)
  }

  /// kstrtoint(…, 10): optional sign, decimal digits, one optional trailing newline;
  /// empty means 0; negative is refused.
  static func parseOffset(_ f: ArraySlice<UInt8>) throws(BinfmtError) -> Int {
    if f.isEmpty { return 0 }
    var s = f
    if s.last == UInt8(ascii: "\n") { s = s.dropLast() }
    var negative = false
    if let first = s.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
      negative = first == UInt8(ascii: "-")
      s = s.dropFirst()
    }
    let text = String(decoding: f, as: UTF8.self)
    guard !s.isEmpty, s.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
      throw BinfmtError(.invalidInput, "'\(text)' is not a decimal number", at: "offset")
    }
    var value = 0
    for d in s {
      value = value * 10 + Int(d - UInt8(ascii: "0"))
      if value > Int(Int32.max) {
        throw BinfmtError(.invalidInput, "'\(text)' is out of range", at: "offset")
      }
    }
    if negative && value != 0 {
      throw BinfmtError(.invalidInput, "'\(text)' is negative", at: "offset")
    }
    return value
  }

  /// The kernel's compare (fs/binfmt_misc.c `check_file`): bytes at `offset` of the first
  /// 256 bytes of the file (zero-padded) equal the magic wherever the mask has a 1 bit.
  /// A magic entry against the file's bytes, `byte(i)` for offset `i` (0 past the end).
  @inline(__always) func matchesMagic(_ byte: (Int) -> UInt8) -> Bool {
    guard case .magic(let offset, let magic, let mask) = match else { return false }
    // The offset comes from the table as read (procfs, or a root we were pointed at). The
    // kernel refuses an entry whose magic does not fit in its 256 bytes, so one here
    // matches nothing (and a negative or huge offset cannot index or overflow).
    guard offset >= 0, offset <= Registration.bufferSize - magic.count else { return false }
    for j in 0..<magic.count {
      let m = mask.map { j < $0.count ? $0[j] : 0xff } ?? 0xff
      if (byte(offset + j) ^ magic[j]) & m != 0 { return false }
    }
    return true
  }

  public func matches(header: [UInt8], path: String = "") -> Bool {
    switch match {
    case .magic:
      return matchesMagic { $0 < header.count ? header[$0] : 0 }
    case .fileExtension(let ext):
      // strrchr(name, '.') and strcmp, on bytes: Swift's Character comparison would call
      // canonically equivalent extensions equal, and "." before a combining mark not a dot.
      let name = PathBytes.bytes(path)
      guard let dot = name.lastIndex(of: UInt8(ascii: ".")) else { return false }
      return name[(dot + 1)...].elementsEqual(PathBytes.bytes(ext))
    }
  }
}
