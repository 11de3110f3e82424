import BinfmtKit

/// `KernelEntryStatus.parse`, the reader of /proc/sys/fs/binfmt_misc/NAME, and what is done
/// with what it returns: `render()` reads back as the same entry, and matching a file header
/// against the entry (what `inspect` does with every live entry) does not trap.
@_cdecl("LLVMFuzzerTestOneInput") public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = fuzzBytes(data, size)
  let s: KernelEntryStatus
  do { s = try KernelEntryStatus.parse(name: "fuzz", bytes: bytes) } catch {
    require(!error.message.isEmpty, "parse threw an empty verdict")
    return 0
  }
  require(s.name == "fuzz", "name \(s.name)")

  // render() reads back as the same value, byte for byte: lines end at LF only, so a CR
  // stays in its field (was limitation status-cr), and every byte is kept (PathBytes).
  let text = s.render()
  do {
    let again = try KernelEntryStatus.parse(name: "fuzz", bytes: PathBytes.bytes(text))
    require(again == s, "\(text.debugDescription) reads back as \(again), not \(s)")
    require(again.render() == text, "render is not stable")
  } catch {
    fatalError("property violated: render() wrote \(text.debugDescription), which fails: \(error)")
  }

  // The kernel prints a mask exactly as long as the magic; a text where they differ is not
  // its table and is refused (was bug status-mask), so matching never indexes past the mask.
  if case .magic(_, let magic, let mask?) = s.match { require(mask.count == magic.count, "mask length \(s.match)") }
  _ = s.registration.matches(header: Array(bytes.prefix(Registration.bufferSize)), path: "/x/file.ext")
  _ = s.registration.matches(header: [], path: "")
  return 0
}
