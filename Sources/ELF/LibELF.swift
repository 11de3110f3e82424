import BinfmtKit
import CLibelf
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// What libelf reads past the file header: program headers, the loader, notes, dynamic flags.
public struct ELFSegments: Sendable, Hashable {
  public struct ProgramHeader: Sendable, Hashable {
    public var type: UInt32
    public var offset: UInt64
    public var fileSize: UInt64
    public var align: UInt64
  }
  /// The header as libelf decoded it (gelf_getehdr), for cross-checking the Swift decoder.
  public var type: UInt16
  public var machine: UInt16
  public var flags: UInt32
  public var phoff: UInt64
  public var phnum: Int
  public var entry: UInt64
  public var programHeaders: [ProgramHeader]
  /// PT_INTERP, without its NUL.
  public var interpreter: String?
  public var hasDynamic: Bool
  /// DT_FLAGS_1 has DF_1_PIE.
  public var pieFlag: Bool
  /// NT_GNU_BUILD_ID.
  public var buildID: [UInt8]?
  /// NT_GNU_ABI_TAG: OS and minimum kernel version ("Linux 3.2.0").
  public var abiTag: String?
}

/// The libelf wrapper: the only file that imports CLibelf. Handles never leave it.
public enum LibELF {
  static let initialized: Bool = elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

  /// Reads program headers, PT_INTERP, notes and PT_DYNAMIC with `ELF_C_READ` (no mmap, so
  /// a file that shrinks under us is an error, not a SIGBUS) and `elf_getdata_rawchunk`,
  /// which reads only the bytes asked for.
  public static func readSegments(path: String) throws(BinfmtError) -> ELFSegments {
    guard initialized else {
      throw BinfmtError(.system, "libelf refused EV_CURRENT", at: path)
    }
    let fd: FileDescriptor
    do {
      fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.nonBlocking, .closeOnExec])
    } catch {
      throw BinfmtError(.system, "cannot open: \(error)", at: path)
    }
    defer { try? fd.close() }
    let handle = ElfHandle(fd: fd.rawValue)
    return try handle.withElf { elf throws(BinfmtError) in try segments(elf, path: path) }
  }

  static func libelfError(_ path: String, _ what: String) -> BinfmtError {
    let msg = elf_errmsg(-1).map { String(cString: $0) } ?? "unknown libelf error"
    return BinfmtError(.invalidInput, "\(what): \(msg)", at: path)
  }

  static func segments(_ elf: OpaquePointer, path: String) throws(BinfmtError) -> ELFSegments {
    guard elf_kind(elf) == ELF_K_ELF else {
      throw BinfmtError(.invalidInput, "libelf does not see an ELF file", at: path)
    }
    var ehdr = GElf_Ehdr()
    guard gelf_getehdr(elf, &ehdr) != nil else { throw libelfError(path, "cannot read ELF header") }
    var phnum = 0
    guard elf_getphdrnum(elf, &phnum) == 0 else { throw libelfError(path, "cannot count program headers") }
    let bigEndian = ehdr.e_ident.5 == UInt8(ELFDATA2MSB)
    let is64 = ehdr.e_ident.4 == UInt8(ELFCLASS64)

    var out = ELFSegments(
      type: ehdr.e_type, machine: ehdr.e_machine, flags: ehdr.e_flags, phoff: ehdr.e_phoff,
      phnum: phnum, entry: ehdr.e_entry, programHeaders: [], interpreter: nil, hasDynamic: false,
      pieFlag: false, buildID: nil, abiTag: nil)
    for i in 0..<phnum {
      var ph = GElf_Phdr()
      guard gelf_getphdr(elf, Int32(i), &ph) != nil else {
        throw libelfError(path, "cannot read program header \(i)")
      }
      out.programHeaders.append(
        .init(type: ph.p_type, offset: ph.p_offset, fileSize: ph.p_filesz, align: ph.p_align))
    }

    func chunk(_ ph: ELFSegments.ProgramHeader, limit: UInt64) -> [UInt8]? {
      guard ph.fileSize > 0, ph.fileSize <= limit else { return nil }
      guard let data = elf_getdata_rawchunk(elf, Int64(bitPattern: ph.offset), Int(ph.fileSize), ELF_T_BYTE),
        let buf = data.pointee.d_buf
      else { return nil }
      return Array(UnsafeRawBufferPointer(start: buf, count: data.pointee.d_size))
    }

    for ph in out.programHeaders {
      switch ph.type {
      case UInt32(PT_INTERP):
        guard let bytes = chunk(ph, limit: 4096) else {
          throw BinfmtError(
            .invalidInput, "PT_INTERP segment (\(ph.fileSize) bytes at offset \(ph.offset)) cannot be read",
            at: path)
        }
        out.interpreter = String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
      case UInt32(PT_DYNAMIC):
        out.hasDynamic = true
        if let bytes = chunk(ph, limit: 1 << 20) {
          out.pieFlag = dynamicHasPIE(bytes, is64: is64, bigEndian: bigEndian)
        }
      case UInt32(PT_NOTE):
        if let bytes = chunk(ph, limit: 1 << 20) {
          parseNotes(bytes, align: ph.align == 8 ? 8 : 4, bigEndian: bigEndian, into: &out)
        }
      default:
        break
      }
    }
    return out
  }

  static func read(_ b: [UInt8], _ o: Int, _ n: Int, bigEndian: Bool) -> UInt64? {
    guard o >= 0, o + n <= b.count else { return nil }
    var v: UInt64 = 0
    for i in 0..<n { v = v << 8 | UInt64(b[o + (bigEndian ? i : n - 1 - i)]) }
    return v
  }

  static func dynamicHasPIE(_ b: [UInt8], is64: Bool, bigEndian: Bool) -> Bool {
    let w = is64 ? 8 : 4
    var o = 0
    while let tag = read(b, o, w, bigEndian: bigEndian), let val = read(b, o + w, w, bigEndian: bigEndian) {
      if tag == 0 { break }  // DT_NULL
      if tag == 0x6fff_fffb { return val & 0x0800_0000 != 0 }  // DT_FLAGS_1 & DF_1_PIE
      o += 2 * w
    }
    return false
  }

  static func parseNotes(_ b: [UInt8], align: Int, bigEndian: Bool, into out: inout ELFSegments) {
    func up(_ x: Int) -> Int { (x + align - 1) & ~(align - 1) }
    var o = 0
    while let namesz = read(b, o, 4, bigEndian: bigEndian), let descsz = read(b, o + 4, 4, bigEndian: bigEndian),
      let type = read(b, o + 8, 4, bigEndian: bigEndian)
    {
      guard namesz < 1 << 16, descsz < 1 << 16 else { return }
      let nameStart = o + 12
      let descStart = nameStart + up(Int(namesz))
      let end = descStart + up(Int(descsz))
      guard descStart + Int(descsz) <= b.count else { return }
      let name = b[nameStart..<nameStart + Int(namesz)].prefix(while: { $0 != 0 })
      if name.elementsEqual("GNU".utf8) {
        let desc = Array(b[descStart..<descStart + Int(descsz)])
        if type == 3 {  // NT_GNU_BUILD_ID
          out.buildID = desc
        } else if type == 1, desc.count >= 16,  // NT_GNU_ABI_TAG
          let os = read(desc, 0, 4, bigEndian: bigEndian), let a = read(desc, 4, 4, bigEndian: bigEndian),
          let bb = read(desc, 8, 4, bigEndian: bigEndian), let c = read(desc, 12, 4, bigEndian: bigEndian)
        {
          let osName = ["Linux", "GNU Hurd", "Solaris", "FreeBSD"][safe: Int(os)] ?? "OS \(os)"
          out.abiTag = "\(osName) \(a).\(bb).\(c)"
        }
      }
      if end <= o { return }
      o = end
    }
  }
}

/// Owns an `Elf*`; `elf_end` runs exactly once when it goes away.
struct ElfHandle: ~Copyable {
  let elf: OpaquePointer?
  init(fd: Int32) { elf = elf_begin(fd, ELF_C_READ, nil) }
  deinit { if let elf { elf_end(elf) } }

  func withElf<T>(_ body: (OpaquePointer) throws(BinfmtError) -> T) throws(BinfmtError) -> T {
    guard let elf else {
      let msg = elf_errmsg(-1).map { String(cString: $0) } ?? "unknown"
      throw BinfmtError(.invalidInput, "libelf cannot open it: \(msg)")
    }
    return try body(elf)
  }
}

extension Array {
  subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}
