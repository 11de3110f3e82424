import Testing

@testable import BinfmtKit

/// The pure rules behind `inspect` on hostile files.
struct InspectHardeningUnitTests {
  /// Control characters, DEL and C1 come out of the JSON renderer as escapes, so raw
  /// `--json` output cannot drive a terminal, and a JSON reader gets the exact string back.
  @Test func jsonEscapesEveryControlCharacter() {
    let s = "a\u{1b}[31m\u{07}\u{0}\u{7f}\u{9b}\u{85}é"
    let out = JSON.string(s).render(indent: nil)
    #expect(out == "\"a\\u001b[31m\\u0007\\u0000\\u007f\\u009b\\u0085é\"")
    #expect(!out.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) })
  }

  /// Text output's one escaping rule: C0, DEL, C1 and invalid UTF-8 never pass raw; all
  /// else (printable Unicode, backslashes) does, so escaping is idempotent.
  @Test func terminalTextEscapesControlsAndInvalidBytes() {
    let bytes: [UInt8] =
      Array("/lib/\u{1b}[31mld\u{07}".utf8) + [0xff, 0xc3, 0x28] + Array("\u{9b}\u{7f}\t\r\n.so".utf8)
    let shown = TerminalText.escape(bytes)
    #expect(shown == "/lib/\\x1b[31mld\\x07\\xff\\xc3(\\u{9b}\\x7f\\t\\r\\n.so")
    #expect(TerminalText.escape(shown) == shown)
    #expect(TerminalText.escape("é 日本 \\x41 ✓") == "é 日本 \\x41 ✓")
    #expect(TerminalText.escape("a\u{0}b\u{85}") == "a\\x00b\\u{85}")
    // Overlong, surrogate and truncated sequences are bytes, not characters.
    #expect(
      TerminalText.escape([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf0, 0x9f, 0x98])
        == "\\xc0\\xaf\\xed\\xa0\\x80\\xf0\\x9f\\x98")
    #expect(TerminalText.escape([0xf0, 0x9f, 0x98, 0x80]) == "😀")
    #expect(TextTable.render([["a\u{1b}", "b\u{7}"]]) == "a\\x1b  b\\x07\n")
  }

  /// The interpreter, argument and verdict the kernel derives from a file's first bytes.
  /// Each case was checked against execve(2) on Linux 6.18 with an interpreter that prints
  /// its arguments (the integration tests repeat that check on the running kernel).
  struct ScriptCase: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var interpreter: String
    var argument: String?
    var fails: Bool = false
    var testDescription: String { name }
  }

  static let long = [UInt8](repeating: UInt8(ascii: "a"), count: 300)
  static let scriptCases: [ScriptCase] = [
    // strnchr stops at the first NUL: no newline is found, the name ends at the NUL.
    .init(name: "NUL ends the interpreter", bytes: Array("#!/bin/echo\0junk\n".utf8), interpreter: "/bin/echo"),
    .init(
      name: "NUL ends the argument", bytes: Array("#!/bin/echo -n\0junk\n".utf8), interpreter: "/bin/echo",
      argument: "-n"),
    // A blank then a NUL: the argument is the empty string, not absent.
    .init(name: "blank then NUL", bytes: Array("#!/bin/echo \0junk\n".utf8), interpreter: "/bin/echo", argument: ""),
    // Without a newline the line ends at byte 255, so blanks before the NUL padding stay.
    .init(
      name: "no newline keeps blanks", bytes: Array("#!/bin/echo -x   ".utf8), interpreter: "/bin/echo",
      argument: "-x   "),
    .init(
      name: "newline trims blanks", bytes: Array("#!/bin/echo -x  \t\n".utf8), interpreter: "/bin/echo", argument: "-x"),
    .init(
      name: "one argument with blanks inside", bytes: Array("#!\t/bin/echo  a  b \t\nx".utf8), interpreter: "/bin/echo",
      argument: "a  b"),
    .init(name: "CRLF", bytes: Array("#!/bin/sh\r\necho\r\n".utf8), interpreter: "/bin/sh\r", fails: true),
    .init(name: "empty line", bytes: Array("#!\n".utf8), interpreter: "", fails: true),
    .init(
      name: "blanks only, 256 bytes", bytes: Array("#!".utf8) + [UInt8](repeating: 32, count: 300), interpreter: "",
      fails: true),
    // A short file is padded with NULs: the name is empty and exec opens "" (EACCES).
    .init(name: "blanks then end of file", bytes: Array("#!   ".utf8), interpreter: "", fails: true),
    .init(name: "NUL right after #!", bytes: [0x23, 0x21, 0], interpreter: "", fails: true),
    // Byte 255 is never part of the line: a 300-byte argument is cut to end at byte 254.
    .init(
      name: "long argument", bytes: Array("#!/bin/echo ".utf8) + long, interpreter: "/bin/echo",
      argument: String(repeating: "a", count: 255 - 12)),
    .init(
      name: "long argument with a blank",
      bytes: Array("#!/bin/echo ".utf8) + long.prefix(235) + Array(" bbbbbbbbbbbbbbbbbbbbbbb".utf8),
      interpreter: "/bin/echo", argument: String(repeating: "a", count: 235) + " " + String(repeating: "b", count: 7)),
    .init(name: "name longer than the buffer", bytes: Array("#!/".utf8) + long, interpreter: "", fails: true),
    // A blank at byte 255 saves a 253-byte name: the kernel looks it up (ENOENT here).
    .init(
      name: "blank at byte 255", bytes: Array("#!/".utf8) + long.prefix(252) + [32],
      interpreter: "/" + String(repeating: "a", count: 252)),
  ]

  @Test(arguments: scriptCases) func scriptLineAsTheKernelReadsIt(_ c: ScriptCase) {
    let head = Array(c.bytes.prefix(256))
    guard case .script(let s) = FileFormat.sniff(head, size: UInt64(c.bytes.count)) else {
      Issue.record("not a script")
      return
    }
    if !c.fails || !c.interpreter.isEmpty { #expect(s.interpreter == c.interpreter) }
    #expect(s.argument == c.argument)
    #expect((s.problem != nil) == c.fails, "\(s.problem ?? "no problem")")
  }

  /// What the kernel refuses, why, and the raw bytes it would use, for lines the String
  /// view cannot tell apart.
  @Test func scriptLineKeepsBytesAndSaysWhyItIsRefused() {
    func parse(_ b: [UInt8]) -> ScriptLine { ScriptLine.parse(b) }
    #expect(parse(Array("#!\n".utf8)).refusal == .empty)
    #expect(parse(Array("#!/".utf8) + [UInt8](repeating: 0x61, count: 300)).refusal == .tooLong)
    let nul = parse([0x23, 0x21, 0])
    #expect(nul.refusal == nil && nul.interpreterBytes.isEmpty && nul.problem?.contains("NUL") == true)
    let raw = parse([0x23, 0x21, 0x2f, 0xff, 0x1b, 0x20, 0xfe, 0x0a])
    #expect(raw.interpreterBytes == [0x2f, 0xff, 0x1b] && raw.argumentBytes == [0xfe] && raw.problem == nil)
    let crlf = parse(Array("#!/usr/bin/env python3\r\n".utf8))
    #expect(crlf.crlf && crlf.argument == "python3\r" && crlf.problem?.contains("'python3\\r'") == true)
    // A "\r" before a NUL is not a line ending.
    #expect(!parse(Array("#!/bin/sh\r\0".utf8)).crlf)
  }

  /// Segments with file bytes must lie inside the file; p_offset + p_filesz cannot wrap.
  @Test func segmentsMustLieInsideTheFile() throws {
    func ph(_ type: UInt32, _ offset: UInt64, _ size: UInt64) -> ELFProgramHeader {
      ELFProgramHeader(type: type, offset: offset, fileSize: size, align: 1)
    }
    let inside = [ph(6, 64, 56), ph(1, 0, 1000), ph(0x6474_e551, 0, 0), ph(0, 1 << 40, 1 << 40), ph(1, 5000, 0)]
    try ELFProgramHeader.validateSegments(inside, fileSize: 1000)
    #expect {
      try ELFProgramHeader.validateSegments(inside + [ph(3, 990, 11)], fileSize: 1000)
    } throws: {
      ($0 as? BinfmtError)?.message
        == "truncated ELF: segment 5 (PT_INTERP) covers bytes 990..<1001, past the end of the file's 1000 bytes"
    }
    #expect {
      try ELFProgramHeader.validateSegments([ph(4, UInt64.max, 1)], fileSize: 1000)
    } throws: {
      ($0 as? BinfmtError)?.message
        == "corrupt ELF: segment 0 (PT_NOTE) has p_offset 18446744073709551615 + p_filesz 1, past 2^64 bytes"
    }
    #expect {
      try ELFProgramHeader.validateSegments([ph(0x7000_0001, 2000, 1)], fileSize: 1000)
    } throws: {
      ($0 as? BinfmtError)?.message.contains("segment 0 (p_type 0x70000001)") == true
    }
  }

  /// A magic offset read from the table (procfs, or a fake root) cannot make the match
  /// index before the header or overflow: it just does not match.
  @Test func tableOffsetsCannotTrap() {
    let header: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]
    for offset in [-4, -1, Int.max, Int.max - 1, Int.min] {
      let r = Registration(
        name: "t", match: .magic(offset: offset, magic: [0x7f, 0x45], mask: nil), interpreter: "/x", flags: [])
      #expect(!r.matches(header: header))
    }
  }
}
