import BinfmtEngine
import BinfmtKit
import Foundation
import Testing

/// Text reports other than inspect's also show strings from the kernel's table: an entry
/// name (any byte but "/") and an interpreter path (any byte but NUL and newline), which
/// must not reach the terminal raw.
@Suite(.serialized) struct ReportEscapingTests {
  func controls(_ s: String) -> [String] {
    s.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7f...0x9f).contains($0.value) }
      .map { "U+" + String($0.value, radix: 16) }
  }

  @Test func statusTextEscapesNamesAndInterpretersFromTheTable() throws {
    let root = try TestRoot()
    let arm64 = Catalog.standard.resolve("arm64")!
    var r = arm64.registration(interpreter: "/usr/bin/\u{1b}]0;owned\u{07}qemu\u{9b}2J")
    r.name = "evil\u{1b}[2J"
    try root.liveEntry(r)
    let text = StatusReport(snapshot: TableSnapshot.read(root.context(), withPersistence: true)).text
    #expect(controls(text).isEmpty, "raw control characters in: \(text)")
    #expect(text.contains("evil\\x1b[2J "), "\(text)")
    // The table's column and the problem lines that quote the interpreter.
    #expect(text.contains("/usr/bin/\\x1b]0;owned\\x07qemu\\u{9b}2J (missing)"), "\(text)")
    #expect(
      text.contains("  evil\\x1b[2J: interpreter /usr/bin/\\x1b]0;owned\\x07qemu\\u{9b}2J does not exist"), "\(text)")
  }
}
