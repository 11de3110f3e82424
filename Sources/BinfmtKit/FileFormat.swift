/// Recognises what a file is from its first bytes, the way exec(2) would see it.
public enum FileFormat: Sendable, Equatable {
  case elf
  case script(ScriptLine)
  /// Known but not runnable here, with a one-line verdict.
  case foreign(String)

  public static func sniff(_ b: [UInt8], size: UInt64) -> FileFormat {
    if size == 0 || b.isEmpty { return .foreign("empty file (0 bytes)") }
    if b.count < 4, Array(ELFHeader.magic.prefix(b.count)) == b {
      return .foreign("truncated ELF header: \(b.count) bytes, e_ident needs 16")
    }
    if b.starts(with: ELFHeader.magic) { return .elf }
    if b.starts(with: [0x23, 0x21]) { return .script(ScriptLine.parse(b)) }
    if b.starts(with: [0x4d, 0x5a]) {
      return .foreign(
        "Windows PE/DOS executable (MZ): qemu-user cannot run it; Wine (or WSL interop) can")
    }
    let be32 = b.count >= 4 ? UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3]) : 0
    switch be32 {
    case 0xfeed_face, 0xcefa_edfe:
      return .foreign("Mach-O 32-bit executable (macOS/iOS): Linux cannot run it")
    case 0xfeed_facf, 0xcffa_edfe:
      return .foreign("Mach-O 64-bit executable (macOS/iOS): Linux cannot run it")
    case 0xcafe_babe:
      // Java class files and universal Mach-O binaries share this magic; file(1)'s rule:
      // a small count here is a number of architectures, a large one a class version.
      let next = b.count >= 8 ? UInt32(b[4]) << 24 | UInt32(b[5]) << 16 | UInt32(b[6]) << 8 | UInt32(b[7]) : 0
      if next < 43 { return .foreign("Mach-O universal binary (macOS): Linux cannot run it") }
      return .foreign(
        "Java class file (class version \(next & 0xffff)): run it with java, not through qemu")
    case 0x0061_736d:
      return .foreign("WebAssembly module: run it with a wasm runtime")
    default: break
    }
    if b.starts(with: [0x1f, 0x8b]) { return .foreign("gzip data: not an executable") }
    if b.starts(with: [0x50, 0x4b, 0x03, 0x04]) { return .foreign("zip archive (or jar): not an executable") }
    let text = b.allSatisfy { $0 == 9 || $0 == 10 || $0 == 13 || ($0 >= 0x20 && $0 < 0x7f) || $0 >= 0x80 }
    if text {
      return .foreign("text without a #! line: exec(2) fails with Exec format error (a shell may still source it)")
    }
    let first = b.prefix(4).map { Hex.byte($0) }.joined(separator: " ")
    return .foreign("unknown format (first bytes \(first)): not an ELF file or a script")
  }
}

/// A `#!` line as the kernel reads it (fs/binfmt_script.c `load_script`): the first 256
/// bytes in a zeroed buffer; the line ends at the first newline, or, when a NUL comes first
/// or there is none, at byte 255; trailing blanks cut; the interpreter runs from the first
/// non-blank to the next blank or NUL; then at most one argument, from the next non-blank to
/// the first NUL or the end of the line, blanks inside it kept.
public struct ScriptLine: Sendable, Equatable {
  /// Why the kernel refuses the line with ENOEXEC before it looks for an interpreter.
  public enum Refusal: Sendable, Equatable {
    /// Nothing but blanks after `#!`.
    case empty
    /// No newline and no blank or NUL from the interpreter's start to byte 255.
    case tooLong
  }

  /// The interpreter's bytes as the kernel passes them to open_exec (no NUL, any other byte).
  public var interpreterBytes: [UInt8]
  /// The one argument, which can be empty (a blank then a NUL), or nil when there is none.
  public var argumentBytes: [UInt8]?
  /// The last word of the line ends in the "\r" of a "\r\n": the kernel keeps it in the name.
  public var crlf: Bool
  public var refusal: Refusal?

  public var interpreter: String { String(decoding: interpreterBytes, as: UTF8.self) }
  public var argument: String? { argumentBytes.map { String(decoding: $0, as: UTF8.self) } }

  /// BINPRM_BUF_SIZE: how much of the file the kernel reads.
  static let bufferSize = 256

  static func parse(_ head: [UInt8]) -> ScriptLine {
    // prepare_binprm zeroes the buffer, so a file shorter than 256 bytes ends in NULs.
    var buf = Array(head.prefix(bufferSize))
    buf += repeatElement(0, count: bufferSize - buf.count)
    func blank(_ i: Int) -> Bool { buf[i] == 32 || buf[i] == 9 }
    let last = bufferSize - 1  // buf_end: byte 255 is never part of the line
    func refused(_ r: Refusal) -> ScriptLine {
      ScriptLine(interpreterBytes: [], argumentBytes: nil, crlf: false, refusal: r)
    }
    var end: Int
    // strnchr(buf, 256, '\n') gives up at the first NUL.
    let newline = buf.firstIndex(where: { $0 == 10 || $0 == 0 }).flatMap { buf[$0] == 10 ? $0 : nil }
    if let newline {
      end = newline
    } else {
      guard let start = (2...last).first(where: { !blank($0) }) else { return refused(.empty) }
      guard (start...last).contains(where: { blank($0) || buf[$0] == 0 }) else { return refused(.tooLong) }
      end = last
    }
    while blank(end - 1) { end -= 1 }  // stops at the "!" at worst
    guard let name = (2...end).first(where: { !blank($0) }), name != end else { return refused(.empty) }
    let separator = (name...end).first { blank($0) || buf[$0] == 0 }
    var argument: ArraySlice<UInt8>?
    if let separator, buf[separator] != 0, let a = (separator...end).first(where: { !blank($0) }) {
      buf[end] = 0  // the kernel ends the line here, so the argument stops at a NUL
      argument = buf[a...].prefix { $0 != 0 }
    }
    let interpreter = buf[name..<(separator ?? end)]
    let lastWord = argument ?? interpreter
    return ScriptLine(
      interpreterBytes: Array(interpreter), argumentBytes: argument.map(Array.init),
      crlf: newline != nil && lastWord.last == 13, refusal: nil)
  }

  /// Why exec would fail, or nil when the line is sound.
  public var problem: String? {
    switch refusal {
    case .empty: return "script with an empty #! line: exec fails with ENOEXEC"
    case .tooLong:
      return
        "script's #! line has no newline in its first 256 bytes and its interpreter runs past byte 255: the kernel refuses it (ENOEXEC)"
    case nil: break
    }
    if interpreterBytes.isEmpty {
      // open_exec("") opens the working directory, which is not a regular file.
      return "script's #! line has a NUL byte where the interpreter should be: exec fails with Permission denied"
    }
    if crlf {
      let shown = TerminalText.escape(argumentBytes ?? interpreterBytes)
      return
        "script has CRLF line endings: the kernel looks for '\(shown)' and exec fails with No such file or directory (convert with dos2unix)"
    }
    return nil
  }
}
