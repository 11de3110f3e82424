import BinfmtKit

/// `Registration.parse(bytes:)`, the kernel's register-string parser, and the promise
/// `checkRoundTrip` relies on: what `registerString()` writes parses back to the same entry.
@_cdecl("LLVMFuzzerTestOneInput") public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  let r: Registration
  do { r = try Registration.parse(bytes: bytes) } catch {
    require(!error.message.isEmpty, "parse threw an empty verdict")
    return 0
  }
  require(!r.name.isEmpty && !r.interpreter.isEmpty, "parse accepted an empty name or interpreter")
  require(!r.name.utf8.contains(47) && r.name != "." && r.name != "..", "parse accepted the name '\(r.name)'")
  require(r.flags.description.allSatisfy { "POCF".contains($0) }, "flags \(r.flags)")
  if r.flags.contains(.credentials) { require(r.flags.contains(.openBinary), "C without O") }

  // The kernel keeps names and paths as bytes, and so does Registration (PathBytes): every
  // byte of the name and the interpreter, UTF-8 or not, is the input's (was bug 4).
  checkFieldBytes(r, bytes)

  var fields = [r.name, r.interpreter]
  switch r.match {
  case .magic(let offset, let magic, let mask):
    require(!magic.isEmpty && offset >= 0 && offset + magic.count <= Registration.bufferSize, "magic \(r.match)")
    require(mask == nil || mask!.count == magic.count, "mask length \(r.match)")
    // A header that carries the magic at its offset is matched by it, whatever the mask says.
    require(r.matches(header: [UInt8](repeating: 0, count: offset) + magic), "\(r.match) does not match its magic")
  case .fileExtension(let ext):
    require(!ext.isEmpty && !ext.utf8.contains(47), "extension '\(ext)'")
    // Like the kernel (strrchr), the extension is what follows the last dot: one with a dot
    // never matches. `matches` compares bytes, as strcmp does.
    if !PathBytes.bytes(ext).contains(46) {
      require(r.matches(header: [], path: "/x/file." + ext), "extension \(ext) does not match file.\(ext)")
    }
    fields.append(ext)
  }

  // The round trip through the one writer, as `checkRoundTrip` does it. The writer picks the
  // first delimiter no field holds; when every one of them is taken it cannot write the entry.
  let text = r.registerString()
  let delimiter = r.chosenDelimiter.asciiValue!
  guard !fields.contains(where: { PathBytes.bytes($0).contains(delimiter) }) else {
    require((try? r.checkRoundTrip(at: "fuzz")) == nil, "checkRoundTrip accepted \(text.debugDescription)")
    return 0
  }
  // Known limitation: NUL, LF, CR, `\` and the delimiter can only be written as \xHH, 4 bytes,
  // so a registration whose long magic and mask hold many of them cannot be written back
  // within the kernel's 1920 bytes. checkRoundTrip refuses those
  // with an error; see fuzz/RESULTS.md.
  let fits = PathBytes.bytes(text).count <= Registration.maxRegisterLength
  if fits || Known.checkLimitation("register-length") {
    let again: Registration
    do { again = try Registration.parse(text) } catch {
      fatalError("property violated: \(text.debugDescription) does not parse: \(error)")
    }
    require(again == r, "\(text.debugDescription) parses as \(again), not \(r)")
    require((try? r.checkRoundTrip(at: "fuzz")) != nil, "checkRoundTrip refused \(text.debugDescription)")
    require(again.registerString() == text, "registerString is not stable")
  } else {
    require((try? r.checkRoundTrip(at: "fuzz")) == nil, "checkRoundTrip accepted an over-long register string")
  }
  return 0
}

/// The name and interpreter fields of the input, cut at the delimiter, are the registration's bytes.
private func checkFieldBytes(_ r: Registration, _ bytes: [UInt8]) {
  let d = bytes[0]
  let nameEnd = bytes[1...].firstIndex(of: d)!
  require(
    PathBytes.bytes(r.name).elementsEqual(bytes[1..<nameEnd]),
    "name \(r.name.debugDescription) for bytes \(bytes[1..<nameEnd])")
  // The interpreter is the field before the flags, which hold no delimiter unless it is a flag letter.
  guard !"POCF\n".utf8.contains(d), let last = bytes.lastIndex(of: d), let before = bytes[..<last].lastIndex(of: d)
  else { return }
  let field = bytes[(before + 1)..<last]
  require(
    PathBytes.bytes(r.interpreter).elementsEqual(field),
    "interpreter \(r.interpreter.debugDescription) for bytes \(field)")
}
