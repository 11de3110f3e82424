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

/// A `#!` line as the kernel reads it (fs/binfmt_script.c): leading blanks skipped, the
/// interpreter up to a blank or newline, then at most one argument with trailing blanks cut.
public struct ScriptLine: Sendable, Equatable {
  public var interpreter: String
  public var argument: String?
  /// The line ended in "\r\n": the kernel keeps the "\r" as part of the name.
  public var crlf: Bool
  /// No newline within the first 256 bytes and the interpreter runs to the end of them.
  public var truncated: Bool

  static func parse(_ b: [UInt8]) -> ScriptLine {
    var line = b.dropFirst(2)
    var truncated = false
    if let nl = line.firstIndex(of: 10) { line = line[..<nl] } else { truncated = b.count >= 256 }
    let crlf = line.last == 13
    line = line.drop(while: { $0 == 32 || $0 == 9 })
    while let l = line.last, l == 32 || l == 9 { line = line.dropLast() }
    let interpEnd = line.firstIndex(where: { $0 == 32 || $0 == 9 }) ?? line.endIndex
    let interp = String(decoding: line[..<interpEnd], as: UTF8.self)
    var rest = line[interpEnd...].drop(while: { $0 == 32 || $0 == 9 })
    while let l = rest.last, l == 32 || l == 9 { rest = rest.dropLast() }
    let arg = rest.isEmpty ? nil : String(decoding: rest, as: UTF8.self)
    return ScriptLine(
      interpreter: interp, argument: arg, crlf: crlf, truncated: truncated && interpEnd == line.endIndex)
  }

  /// Why exec would fail, or nil when the line is sound.
  public var problem: String? {
    if interpreter.isEmpty { return "script with an empty #! line: exec fails with ENOEXEC" }
    if crlf {
      let shown = (argument ?? interpreter).replacingCR()
      return
        "script has CRLF line endings: the kernel looks for '\(shown)' and exec fails with No such file or directory (convert with dos2unix)"
    }
    if truncated { return "script's #! line is longer than 255 bytes: the kernel refuses it" }
    return nil
  }
}

extension String {
  public func replacingCR() -> String {
    var s = ""
    for c in unicodeScalars { if c == "\r" { s += "\\r" } else { s.unicodeScalars.append(c) } }
    return s
  }
}
