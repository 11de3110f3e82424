import BinfmtEngine
import BinfmtKit
import Foundation
import Testing

/// SplitMix64: a small deterministic generator, so a failing mutation is the same on every run.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var z = state
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
  }
  /// A number in 0..<n (n > 0).
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Seeded mutations of the real fixtures and of the committed register strings. The libFuzzer
/// targets in fuzz/ go much further; these keep a fixed sample in `make test`.
@Suite(.serialized) struct MutationTests {
  static let seed: UInt64 = 0x6269_6e66_6d74_0001

  /// Values that sit on the edges the decoders check (sizes, overflow, sign).
  static let edges: [UInt64] = [
    0, 1, 2, 3, 31, 32, 52, 56, 63, 64, 255, 256, 4095, 4096, 8191, 8192, 0x7fff, 0xffff, 0x7fff_ffff,
    0xffff_ffff, 0x1_0000_0000, 0x7fff_ffff_ffff_ffff, 0xffff_ffff_ffff_fff0, .max,
  ]

  /// Thousands of mutated ELF files and #! scripts through `inspect`: no trap, exactly one
  /// verdict per path in the order given (duplicates, a missing path and a directory included),
  /// every failure says why, and the JSON report parses with one well-formed object per path.
  @Test func inspectMutatedFixtures() throws {
    let d = try tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let inspector = Inspector(EngineContext.live(hostMachine: "x86_64"))
    var rng = SplitMix64(seed: Self.seed)
    // Whole small programs (libelf reads every segment: half the mutations), the first 8 KB of
    // the others (their segments lie past the end: early verdicts) and scripts.
    var whole: [[UInt8]] = []
    var heads: [[UInt8]] = []
    for f in try Env.allFixtures() {
      let data = Array(try Data(contentsOf: URL(fileURLWithPath: f)))
      if data.count <= 128 * 1024 { whole.append(data) } else { heads.append(Array(data.prefix(8192))) }
    }
    let scripts = [Array("#!/bin/sh\necho hi\n".utf8), Array("#! /usr/bin/env  python3 -u \r\n".utf8)]
    try #require(!whole.isEmpty && !heads.isEmpty)

    var verdicts: [String: Int] = ["elf": 0, "script": 0, "error": 0]
    let batches = 80
    let perBatch = 50
    for batch in 0..<batches {
      var paths: [String] = []
      for i in 0..<perBatch {
        let pick = rng.below(20)
        let group = pick < 10 ? whole : pick < 18 ? heads : scripts
        var b = group[rng.below(group.count)]
        Self.mutate(&b, using: &rng)
        let p = d.appendingPathComponent("m\(i)").path
        #expect(FileManager.default.createFile(atPath: p, contents: Data(b)))
        paths.append(p)
      }
      // One verdict each, even for the same path twice, a missing one and a directory.
      paths += [paths[0], d.appendingPathComponent("missing").path, d.path]
      let report = inspector.inspect(paths)
      try #require(report.results.count == paths.count, "batch \(batch): \(report.results.count) verdicts")
      for (r, p) in zip(report.results, paths) {
        #expect(r.path == p)
        switch r.body {
        case .failure(let why):
          #expect(!why.isEmpty, "batch \(batch): \(p) failed without a reason")
          #expect(!r.ok)
        case .elf, .script: break
        }
      }
      #expect(!report.text.isEmpty)
      let parsed = try #require(
        try json(report.json.render()) as? [[String: Any]], "batch \(batch): the JSON report is not an array of objects"
      )
      try #require(parsed.count == paths.count, "batch \(batch): \(parsed.count) JSON objects for \(paths.count) paths")
      for (i, (o, r)) in zip(parsed, report.results).enumerated() {
        #expect(o["path"] as? String == paths[i])
        #expect(o["ok"] as? Bool == r.ok, "\(paths[i]): ok")
        let format = o["format"] as? String ?? "none"
        #expect(["elf", "script", "error"].contains(format), "\(paths[i]): format \(format)")
        verdicts[format, default: 0] += 1
        if format == "error" { #expect((o["error"] as? String).map { !$0.isEmpty } == true, "\(paths[i]): error") }
        if format == "elf" { #expect(o["elf"] is [String: Any], "\(paths[i]): elf object") }
        if format == "script" { #expect(o["script"] is [String: Any], "\(paths[i]): script object") }
      }
    }
    // The mutations reach every kind of verdict, not only early refusals.
    #expect(verdicts["elf"]! > 500 && verdicts["script"]! > 200 && verdicts["error"]! > 1000, "\(verdicts)")
  }

  /// Mutated register strings (from the committed binfmt.d files): whatever parses is written
  /// back by `registerString()` and `BinfmtD.text` to something that parses to the same
  /// registration, unless it cannot be written (no free delimiter, or too long for the kernel).
  @Test func registerStringRoundTrip() throws {
    var rng = SplitMix64(seed: Self.seed ^ 0xff)
    let dir = Env.packageRoot.appendingPathComponent("binfmt.d")
    var seeds: [[UInt8]] = []
    for f in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where f.hasSuffix(".conf") {
      let parsed = BinfmtDFile.parse(Array(try Data(contentsOf: dir.appendingPathComponent(f))), file: f)
      #expect(parsed.errors.isEmpty, "\(f): \(parsed.errors)")
      seeds += parsed.entries.map { Array($0.registration.registerString().utf8) }
    }
    seeds.append(Array(":DOSWin:E::exe::/usr/bin/wine:".utf8))
    seeds.append(Array("|x|M|2|\\x45\\x4cF||/usr/bin/qemu-x|POC\n".utf8))
    try #require(seeds.count > 30)

    let alphabet = Array(":|\\xM E0123456789abcdefPOCF/\n\r.".utf8)
    var parsedCount = 0
    var roundTrips = 0
    for i in 0..<20000 {
      var b = seeds[i % seeds.count]
      for _ in 0...rng.below(4) {
        let o = rng.below(b.count)
        switch rng.below(4) {
        case 0: b[o] = alphabet[rng.below(alphabet.count)]
        case 1: b[o] = UInt8(truncatingIfNeeded: rng.next())
        case 2: if b.count > 1 { b.remove(at: o) }
        default: b.insert(alphabet[rng.below(alphabet.count)], at: o)
        }
      }
      guard let r = try? Registration.parse(bytes: b) else { continue }
      parsedCount += 1
      var fields = [r.name, r.interpreter]
      if case .fileExtension(let ext) = r.match { fields.append(ext) }
      let text = r.registerString()
      // Names and paths are PathBytes strings: their bytes are what counts.
      let free = !fields.contains { PathBytes.bytes($0).contains(r.chosenDelimiter.asciiValue!) }
      let fits = PathBytes.bytes(text).count <= Registration.maxRegisterLength
      guard free && fits else {
        #expect(throws: BinfmtError.self, "\(text.debugDescription) cannot round-trip") {
          try r.checkRoundTrip(at: "mutation \(i)")
        }
        continue
      }
      roundTrips += 1
      #expect(try Registration.parse(text) == r, "mutation \(i): \(text.debugDescription)")
      #expect(throws: Never.self) { try r.checkRoundTrip(at: "mutation \(i)") }
      let lineSafe = !fields.contains { PathBytes.bytes($0).contains { $0 == 0 || $0 == 10 || $0 == 13 } }
      if lineSafe {
        let file = try BinfmtD.text(comments: ["mutation \(i)"], registration: r)
        let back = BinfmtDFile.parse(PathBytes.bytes(file), file: "m")
        #expect(
          back.errors.isEmpty && back.entries.map(\.registration) == [r], "mutation \(i): \(file.debugDescription)")
      }
    }
    #expect(parsedCount > 2000 && roundTrips > 2000, "\(parsedCount) parsed, \(roundTrips) round trips")
  }

  /// One mutation: byte flips in the header or the program header table, an edge value in a
  /// header or segment field, a truncation, or bytes spliced in.
  static func mutate(_ b: inout [UInt8], using rng: inout SplitMix64) {
    guard !b.isEmpty else { return }
    let header = try? ELFHeader.decode(b)
    switch rng.below(6) {
    case 0:
      for _ in 0...rng.below(8) {
        b[rng.below(min(b.count, 96))] = UInt8(truncatingIfNeeded: rng.next())
      }
    case 1:
      guard let h = header, h.phoff < UInt64(b.count) else { return mutate(&b, using: &rng) }
      let start = Int(h.phoff)
      let end = min(b.count, start + Int(h.phnum) * Int(h.phentsize))
      guard end > start else { return }
      for _ in 0...rng.below(8) {
        b[start + rng.below(end - start)] = UInt8(truncatingIfNeeded: rng.next())
      }
    case 2:
      // e_phoff, e_shoff, e_phentsize, e_phnum, e_shnum as the class lays them out.
      guard let h = header else { return mutate(&b, using: &rng) }
      let fields: [(Int, Int)] =
        h.elfClass == .elf64
        ? [(32, 8), (40, 8), (54, 2), (56, 2), (60, 2)] : [(28, 4), (32, 4), (42, 2), (44, 2), (48, 2)]
      let (o, size) = fields[rng.below(fields.count)]
      put(edges[rng.below(edges.count)], at: o, size: size, in: &b, order: h.byteOrder)
    case 3:
      // p_offset or p_filesz of a PT_INTERP, PT_NOTE or PT_DYNAMIC entry.
      guard let h = header, Int(h.phentsize) == h.expectedPhentsize, h.phoff < UInt64(b.count) else {
        return mutate(&b, using: &rng)
      }
      let start = Int(h.phoff)
      let table = ELFProgramHeader.decodeTable(Array(b[start...]), header: h) ?? []
      let picks = table.indices.filter { [2, 3, 4].contains(table[$0].type) }
      guard let k = picks.isEmpty ? nil : picks[rng.below(picks.count)] else { return }
      let entry = start + k * Int(h.phentsize)
      let (o, size) =
        h.elfClass == .elf64 ? (rng.next() % 2 == 0 ? (8, 8) : (32, 8)) : (rng.next() % 2 == 0 ? (4, 4) : (16, 4))
      put(edges[rng.below(edges.count)], at: entry + o, size: size, in: &b, order: h.byteOrder)
    case 4:
      b = Array(b.prefix(rng.below(rng.next() % 2 == 0 ? 200 : b.count)))
    default:
      let junk = (0..<rng.below(64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
      let at = rng.below(min(b.count, 300))
      b.insert(contentsOf: rng.next() % 4 == 0 ? Array("#!".utf8) + junk : junk, at: at)
    }
  }

  static func put(_ v: UInt64, at o: Int, size: Int, in b: inout [UInt8], order: ByteOrder) {
    guard o >= 0, o + size <= b.count else { return }
    for i in 0..<size {
      let shift = UInt64(8 * (order == .little ? i : size - 1 - i))
      b[o + i] = UInt8(truncatingIfNeeded: v >> shift)
    }
  }
}
