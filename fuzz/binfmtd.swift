import BinfmtKit

/// The one call into the binfmt.d(5) parser.
func parseFile(_ bytes: [UInt8], file: String) -> BinfmtDFile {
  BinfmtDFile.parse(bytes, file: file)
}

/// `BinfmtDFile.parse`: the file splits into lines as systemd's read_line splits them (an
/// independent model below); every line parses on its own the way it does inside the file;
/// what `BinfmtD.text` writes for an entry parses back to that entry, and it refuses only an
/// entry a binfmt.d line cannot carry.
@_cdecl("LLVMFuzzerTestOneInput") public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  let lines = readLines(bytes)
  require(BinfmtDFile.lines(bytes) == lines, "lines \(BinfmtDFile.lines(bytes)), systemd reads \(lines)")

  let file = parseFile(bytes, file: "f")
  var entries: [BinfmtDFile.Line] = []
  var errors: [String] = []
  for (i, line) in lines.enumerated() {
    let one = parseFile(Array(line), file: "f")
    require(one.entries.count + one.errors.count <= 1, "one line gave \(one.entries.count + one.errors.count) results")
    for var e in one.entries {
      require(e.number == 1, "a single line parsed as line \(e.number)")
      e.number = i + 1
      entries.append(e)
    }
    for e in one.errors {
      require(e.location?.hasPrefix("f:1") == true, "a single line's error is located at \(e.location ?? "nil")")
      errors.append("f:\(i + 1)" + e.description.dropFirst(3))
    }
  }
  require(file.entries == entries, "the file parses as \(file.entries), its lines as \(entries)")
  require(file.errors.map(\.description) == errors, "the file fails with \(file.errors), its lines with \(errors)")

  var last = 0
  for e in file.entries {
    require(e.number > last && e.number <= lines.count, "line number \(e.number) after \(last) of \(lines.count)")
    last = e.number
    writeBack(e.registration)
  }
  return 0
}

/// `BinfmtD.text` writes any entry a line can carry, and what it writes reads back.
private func writeBack(_ r: Registration) {
  var fields = [r.name, r.interpreter]
  if case .fileExtension(let ext) = r.match { fields.append(ext) }
  let text: String
  do { text = try BinfmtD.text(comments: ["fuzz"], registration: r) } catch {
    let d = r.chosenDelimiter.asciiValue!
    let carriable =
      !fields.contains { $0.utf8.contains { $0 == 0 || $0 == 10 || $0 == 13 || $0 == d } }
      && PathBytes.bytes(r.registerString()).count <= Registration.maxRegisterLength
      && PathBytes.bytes(r.name).count <= Registration.maxNameLength
    require(!carriable, "BinfmtD.text refused \(r): \(error)")
    return
  }
  let again = parseFile(PathBytes.bytes(text), file: "g")
  require(again.errors.isEmpty, "BinfmtD.text wrote \(text.debugDescription), which fails: \(again.errors)")
  require(
    again.entries.count == 1 && again.entries[0].number == 2, "\(text.debugDescription) reads as \(again.entries)")
  require(again.entries[0].registration == r, "\(text.debugDescription) reads as \(again.entries[0].registration)")
}

/// systemd's read_line (src/basic/fileio.c): `\n`, `\r` and NUL end a line; the end-of-line
/// characters that follow belong to the same end while each kind is new and no NUL came yet.
/// The last line needs no end; an empty input has no lines.
private func readLines(_ b: [UInt8]) -> [ArraySlice<UInt8>] {
  func eol(_ c: UInt8) -> UInt8 { c == 10 ? 2 : c == 13 ? 4 : c == 0 ? 1 : 0 }
  var out: [ArraySlice<UInt8>] = []
  var i = 0
  while i < b.count {
    let start = i
    var end: Int?
    var previous: UInt8 = 0
    while i < b.count {
      let e = eol(b[i])
      if previous & 1 != 0 || (e == 0 && previous != 0) || (e != 0 && previous & e != 0) { break }
      if e != 0 {
        if end == nil { end = i }
        previous |= e
      }
      i += 1
    }
    out.append(b[start..<(end ?? i)])
  }
  return out
}
