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
}
