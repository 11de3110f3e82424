import BinfmtKit
import Foundation
import Testing

/// `inspect` on hostile files, through the built binary: bytes from the file or its path
/// never reach the terminal raw, a `#!` line means what the kernel makes of it, and an ELF
/// file whose segments lie past its end is not reported healthy.
@Suite struct InspectHardeningTests {
  func write(_ dir: URL, _ name: String, _ bytes: [UInt8]) throws -> String {
    let p = dir.appendingPathComponent(name).path
    try #require(
      FileManager.default.createFile(atPath: p, contents: Data(bytes), attributes: [.posixPermissions: 0o755]))
    return p
  }

  func fixtureBytes(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: try Env.fixture(name))))
  }

  /// The program headers of a whole ELF file, read with the pure decoder.
  func programHeaders(_ bytes: [UInt8]) throws -> (ELFHeader, [ELFProgramHeader]) {
    let h = try ELFHeader.decode(Array(bytes.prefix(64)))
    let start = Int(h.phoff)
    let table = Array(bytes[start..<start + Int(h.phnum) * Int(h.phentsize)])
    return (h, try #require(ELFProgramHeader.decodeTable(table, header: h)))
  }

  /// Writes `value` as a little-endian 64-bit field (the arm64 fixtures are ELF64 LSB).
  func patch64(_ bytes: inout [UInt8], at offset: Int, _ value: UInt64) {
    for i in 0..<8 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
  }

  /// Every control character a terminal acts on: C0 but newline, DEL, and C1.
  func controls(_ s: String) -> [String] {
    s.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7f...0x9f).contains($0.value) }
      .map { "U+" + String($0.value, radix: 16) }
  }

  /// `#!/bin/echo\0junk`: the kernel's line ends at the NUL, so the interpreter is
  /// /bin/echo, with no argument, and the script runs.
  @Test func scriptInterpreterEndsAtNUL() throws {
    let d = try tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let p = try write(d, "nul.sh", Array("#!/bin/echo\0junk\n".utf8))
    let text = try binfmtctl("inspect", p)
    #expect(text.status == 0)
    #expect(text.stdout == p + "  script  #!/bin/echo\n")
    let j = try binfmtctl("inspect", "--json", p)
    let item = try #require((try json(j.stdout) as? [[String: Any]])?.first)
    #expect(item["ok"] as? Bool == true)
    let s = try #require(item["script"] as? [String: Any])
    #expect(s["interpreter"] as? String == "/bin/echo")
    #expect(s["argument"] is NSNull)
    #expect(item["error"] == nil)
  }

  /// What inspect says the kernel will run is what the running kernel runs: each script
  /// names an interpreter that prints its arguments, and exec(2) of the script must print
  /// inspect's argument (if any) and then the script's path.
  @Test func scriptLineAgreesWithExec() throws {
    let d = try tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let show = try write(d, "show", Array("#!/bin/sh\nfor a; do printf '[%s]' \"$a\"; done\n".utf8))
    let s = Array(show.utf8)
    let cases: [(String, [UInt8])] = [
      ("nul-interp", Array("#!".utf8) + s + Array("\0junk\n".utf8)),
      ("nul-arg", Array("#!".utf8) + s + Array(" -x\0junk\n".utf8)),
      ("empty-arg", Array("#!".utf8) + s + Array(" \0junk\n".utf8)),
      ("no-newline", Array("#!".utf8) + s + Array(" -x   ".utf8)),
      ("blanks", Array("#! \t".utf8) + s + Array("  a  b \t\n".utf8)),
      ("long", Array("#!".utf8) + s + [32] + [UInt8](repeating: UInt8(ascii: "a"), count: 300)),
    ]
    for (name, bytes) in cases {
      let p = try write(d, name, bytes)
      let j = try binfmtctl("inspect", "--json", p)
      let item = try #require((try json(j.stdout) as? [[String: Any]])?.first, "\(name): \(j.stdout)")
      let script = try #require(item["script"] as? [String: Any], "\(name)")
      #expect(script["interpreter"] as? String == show, "\(name)")
      let argument = script["argument"] as? String
      let ran = try run(p, [])
      #expect(ran.status == 0, "\(name): \(ran.stderr)")
      #expect(
        ran.stdout == (argument.map { "[\($0)]" } ?? "") + "[\(p)]",
        "\(name): inspect says \(String(describing: argument))")
    }
  }

  /// A loader path with ESC [ 31m, BEL, an invalid UTF-8 byte and C1 CSI, a file name with
  /// an OSC title sequence, and a script whose `#!` line clears the screen: the text shows
  /// them escaped, the JSON carries them exactly (as JSON escapes).
  @Test func textEscapesControlCharactersFromFilesAndPaths() throws {
    let d = try tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    var elf = try fixtureBytes("hello-arm64")
    let interp = try #require(try programHeaders(elf).1.first { $0.type == ELFProgramHeader.interpreter })
    let loader = Array("/lib/\u{1b}[31mld\u{07}".utf8) + [0xff] + Array("\u{9b}.so".utf8)
    try #require(loader.count < Int(interp.fileSize))
    for i in 0..<Int(interp.fileSize) { elf[Int(interp.offset) + i] = i < loader.count ? loader[i] : 0 }
    let elfPath = try write(d, "evil\u{1b}]0;owned\u{07}.elf", elf)
    let script = try write(d, "clear.sh", Array("#!/bin/\u{1b}[2Jsh -\u{7f}x\necho\n".utf8))

    let text = try binfmtctl("inspect", elfPath, script)
    #expect(text.status == 0, "\(text.stderr)")
    #expect(controls(text.stdout).isEmpty, "raw control characters in: \(text.stdout)")
    #expect(!text.stdout.contains("\u{fffd}"), "a raw invalid UTF-8 byte reached stdout")
    #expect(text.stdout.contains("dynamic /lib/\\x1b[31mld\\x07\\xff\\u{9b}.so"), "\(text.stdout)")
    #expect(text.stdout.contains(d.path + "/evil\\x1b]0;owned\\x07.elf "), "\(text.stdout)")
    #expect(text.stdout.contains(" #!/bin/\\x1b[2Jsh -\\x7fx\n"), "\(text.stdout)")

    let j = try binfmtctl("inspect", "--json", elfPath, script)
    #expect(j.status == 0)
    #expect(controls(j.stdout).isEmpty, "raw control characters in the JSON: \(j.stdout)")
    let items = try #require(try json(j.stdout) as? [[String: Any]])
    try #require(items.count == 2)
    #expect(items[0]["path"] as? String == elfPath)
    let e = try #require(items[0]["elf"] as? [String: Any])
    // JSON strings are Unicode: the invalid byte is U+FFFD there, everything else exact.
    #expect(e["interpreter"] as? String == "/lib/\u{1b}[31mld\u{07}\u{fffd}\u{9b}.so")
    let s = try #require(items[1]["script"] as? [String: Any])
    #expect(s["interpreter"] as? String == "/bin/\u{1b}[2Jsh")
    #expect(s["argument"] as? String == "-\u{7f}x")
  }

  /// A real binary cut right after its program headers (a failed download): its segments
  /// lie past the end, and the verdict names the first one, its type and byte range.
  @Test func elfCutAfterProgramHeadersIsTruncated() throws {
    let d = try tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let full = try fixtureBytes("busybox-arm64")
    let (h, phs) = try programHeaders(full)
    let cut = Int(h.phoff) + Int(h.phnum) * Int(h.phentsize)
    let p = try write(d, "cut", Array(full.prefix(cut)))
    let i = try #require(phs.firstIndex { $0.type != 0 && $0.fileSize > 0 && $0.offset + $0.fileSize > UInt64(cut) })
    #expect(phs[i].type == ELFProgramHeader.load)
    let verdict =
      "error: truncated ELF: segment \(i) (PT_LOAD) covers bytes \(phs[i].offset)..<\(phs[i].offset + phs[i].fileSize), past the end of the file's \(cut) bytes"

    let text = try binfmtctl("inspect", p)
    #expect(text.status == 1)
    #expect(text.stdout == p + "  " + verdict + "\n")
    let j = try binfmtctl("inspect", "--json", p)
    #expect(j.status == 1)
    let item = try #require((try json(j.stdout) as? [[String: Any]])?.first)
    #expect(item["ok"] as? Bool == false)
    #expect(item["format"] as? String == "error")
    #expect(item["error"] as? String == String(verdict.dropFirst("error: ".count)))
  }

  /// A dynamic binary cut right after its loader path: PT_PHDR and PT_INTERP are whole,
  /// the first PT_LOAD (index 2) is not.
  @Test func elfCutAfterItsLoaderIsTruncated() throws {
    let d = try tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let full = try fixtureBytes("hello-arm64")
    let phs = try programHeaders(full).1
    let interp = try #require(phs.firstIndex { $0.type == ELFProgramHeader.interpreter })
    let cut = Int(phs[interp].offset + phs[interp].fileSize)
    let p = try write(d, "cut", Array(full.prefix(cut)))
    let i = try #require(phs.firstIndex { $0.type != 0 && $0.fileSize > 0 && $0.offset + $0.fileSize > UInt64(cut) })
    #expect(i > interp && phs[i].type == ELFProgramHeader.load)
    let r = try binfmtctl("inspect", p)
    #expect(r.status == 1)
    #expect(r.stdout.contains("error: truncated ELF: segment \(i) (PT_LOAD) covers bytes "), "\(r.stdout)")
    #expect(r.stdout.hasSuffix("past the end of the file's \(cut) bytes\n"), "\(r.stdout)")
  }

  /// p_offset + p_filesz past 2^64 (a PT_NOTE here) is corrupt, found without overflowing.
  @Test func segmentEndPastTwoToTheSixtyFourIsCorrupt() throws {
    let d = try tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    var elf = try fixtureBytes("hello-arm64")
    let (h, phs) = try programHeaders(elf)
    let i = try #require(phs.firstIndex { $0.type == ELFProgramHeader.note })
    let offset: UInt64 = 0xffff_ffff_ffff_fff0
    patch64(&elf, at: Int(h.phoff) + i * Int(h.phentsize) + 8, offset)  // p_offset
    let p = try write(d, "note", elf)
    let r = try binfmtctl("inspect", "--json", p)
    #expect(r.status == 1)
    let item = try #require((try json(r.stdout) as? [[String: Any]])?.first)
    #expect(item["ok"] as? Bool == false)
    #expect(
      item["error"] as? String
        == "corrupt ELF: segment \(i) (PT_NOTE) has p_offset \(offset) + p_filesz \(phs[i].fileSize), past 2^64 bytes")
  }
}
