import BinfmtKit
import Testing

/// `PathBytes`: every byte sequence survives a trip through a String, and nothing else changes.
struct PathBytesTests {
  @Test func everyByteSequenceRoundTrips() {
    let fixed: [[UInt8]] = [
      [], Array("/usr/bin/qemu-aarch64-static".utf8), [0x2f, 0xff, 0x2f], [0xc3, 0xa9], [0xc3], [0xed, 0xa0, 0x80],
      [0xef, 0x9f, 0xbf], [0xef, 0x9e, 0x80, 0xef, 0x9e], [0xf0, 0x9f, 0x98, 0x80], [0xf4, 0x90, 0x80, 0x80],
      Array("é".utf8) + [0x80] + Array("ü".utf8),
    ]
    // Every sequence of up to 3 of the interesting bytes: lead bytes, continuations, and
    // 0xEF 0x9E/0x9F (the escape range's own encoding).
    let pool: [UInt8] = [0x41, 0x2f, 0x80, 0x9e, 0x9f, 0xbf, 0xc3, 0xa9, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xff]
    var cases = fixed
    var level: [[UInt8]] = [[]]
    for _ in 1...3 {
      level = level.flatMap { prefix in pool.map { prefix + [$0] } }
      cases += level
    }
    for b in cases {
      let s = PathBytes.string(b)
      #expect(PathBytes.bytes(s) == b, "\(b)")
      // Equal strings are equal bytes and vice versa (one-to-one).
      #expect(PathBytes.string(PathBytes.bytes(s)) == s)
    }
  }

  @Test func textIsUnchanged() {
    for t in ["", "/usr/bin/qemu-arm", "é/ü/日本", "😀", "\u{F700}\u{F800}"] {
      #expect(PathBytes.string(Array(t.utf8)) == t)
      #expect(!PathBytes.holdsEscapes(t))
    }
    // A scalar of the escape range in real text is kept as its three bytes.
    let odd = Array("\u{F7A0}".utf8)
    #expect(PathBytes.bytes(PathBytes.string(odd)) == odd)
    #expect(PathBytes.string(odd).unicodeScalars.count == 3)
  }

  @Test func shownAndLossy() {
    let s = PathBytes.string([0x2f, 0x71, 0xff, 0x64])
    #expect(TerminalText.escape(s) == "/q\\xffd")
    #expect(PathBytes.lossy(s) == "/q\u{FFFD}d")
    let json = JSON.string(s).render()
    #expect(json.contains("\\ufffd"), "\(json)")
    #expect(PathBytes.withCString(s) { strlenOf($0) } == 4)
  }
}

private func strlenOf(_ p: UnsafePointer<CChar>) -> Int {
  var n = 0
  while p[n] != 0 { n += 1 }
  return n
}
