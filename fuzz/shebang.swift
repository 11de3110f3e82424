import BinfmtKit

/// `FileFormat.sniff` on scripts (the input gets a "#!" in front when it lacks one) and the
/// `ScriptLine` it returns, against a transliteration of fs/binfmt_script.c `load_script`
/// below: the same refusals, the same interpreter and argument bytes. Whatever the bytes, the
/// interpreter holds no NUL, newline or blank, and the argument no NUL or newline. Also
/// `TerminalText.escape`, which shows these bytes in `inspect`'s text output.
@_cdecl("LLVMFuzzerTestOneInput") public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  var bytes = fuzzBytes(data, size)
  if !bytes.starts(with: [0x23, 0x21]) { bytes = [0x23, 0x21] + bytes }
  guard case .script(let line) = FileFormat.sniff(bytes, size: UInt64(bytes.count)) else {
    fatalError("property violated: sniff did not call a #! file a script")
  }
  // The kernel reads 256 bytes; `inspect` hands sniff as many. Nothing after them counts.
  let head = Array(bytes.prefix(256))
  require(FileFormat.sniff(head, size: UInt64(bytes.count)) == .script(line), "bytes past 256 changed the line")

  let interp = line.interpreterBytes
  require(!interp.contains(where: { [0, 10, 32, 9].contains($0) }), "the interpreter holds NUL/LF/blank: \(line)")
  if let arg = line.argumentBytes {
    require(!arg.contains(where: { [0, 10].contains($0) }), "the argument holds NUL/LF: \(line)")
    require(arg.first.map { $0 != 32 && $0 != 9 } ?? true, "the argument starts with a blank: \(line)")
  }
  if line.refusal != nil { require(interp.isEmpty && line.argumentBytes == nil, "a refusal with words: \(line)") }
  require(line.interpreter == String(decoding: interp, as: UTF8.self), "interpreter string")
  if line.refusal != nil || interp.isEmpty { require(line.problem != nil, "\(line) has no problem") }

  // What `inspect` prints of these bytes: no control character reaches the terminal, and
  // escaping is idempotent (TerminalText's promise).
  for shown in [TerminalText.escape(bytes), line.problem ?? ""] {
    require(
      !shown.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) },
      "\(shown.debugDescription)")
    require(TerminalText.escape(Array(shown.utf8)) == shown, "escaping \(shown.debugDescription) again changes it")
  }

  switch loadScript(head) {
  case .refused:
    require(line.refusal != nil, "the kernel refuses \(head), ScriptLine reads \(line)")
  case .runs(let name, let argument, let newline):
    require(line.refusal == nil, "the kernel runs \(name), ScriptLine refuses: \(line)")
    require(interp == name, "the kernel opens \(name), ScriptLine says \(interp)")
    require(line.argumentBytes == argument, "the kernel passes \(argument as Any), ScriptLine \(line)")
    require(line.crlf == (newline && (argument ?? name).last == 13), "crlf \(line.crlf) for \(line)")
  }
  return 0
}

private enum Verdict {
  case refused
  case runs(name: [UInt8], argument: [UInt8]?, newline: Bool)
}

/// fs/binfmt_script.c `load_script` (Linux 5.8+) on the 256-byte buffer, pointers as indices.
private func loadScript(_ head: [UInt8]) -> Verdict {
  var buf = head + [UInt8](repeating: 0, count: 256 - head.count)  // bprm->buf is zero-filled
  func spacetab(_ i: Int) -> Bool { buf[i] == 32 || buf[i] == 9 }
  func nextNonSpacetab(_ first: Int, _ last: Int) -> Int? {
    var p = first
    while p <= last {
      if !spacetab(p) { return p }
      p += 1
    }
    return nil
  }
  func nextTerminator(_ first: Int, _ last: Int) -> Int? {
    var p = first
    while p <= last {
      if spacetab(p) || buf[p] == 0 { return p }
      p += 1
    }
    return nil
  }
  /// The C string at `p`.
  func cString(_ p: Int) -> [UInt8] { Array(buf[p...].prefix { $0 != 0 }) }

  let bufEnd = 255
  // strnchr(buf, 256, '\n'): stops at a NUL.
  var iEnd: Int? = nil
  for p in 0..<256 {
    if buf[p] == 0 { break }
    if buf[p] == 10 {
      iEnd = p
      break
    }
  }
  let newline = iEnd != nil
  if iEnd == nil {
    guard let first = nextNonSpacetab(2, bufEnd) else { return .refused }
    guard nextTerminator(first, bufEnd) != nil else { return .refused }
    iEnd = bufEnd
  }
  var end = iEnd!
  while spacetab(end - 1) { end -= 1 }
  guard let iName = nextNonSpacetab(2, end), iName != end else { return .refused }
  var iArg: Int? = nil
  let iSep = nextTerminator(iName, end)
  if let iSep, buf[iSep] != 0 { iArg = nextNonSpacetab(iSep, end) }
  buf[end] = 0
  var argument: [UInt8]? = nil
  if let iArg {
    buf[iSep!] = 0
    argument = cString(iArg)
  }
  return .runs(name: cString(iName), argument: argument, newline: newline)
}
