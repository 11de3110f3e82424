import BinfmtKit
import CLibelf
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// What libelf reads past the file header: program headers, the loader, notes, dynamic flags.
public struct ELFSegments: Sendable, Hashable {
  /// The header as libelf decoded it (gelf_getehdr), for cross-checking the Swift decoder.
  public var type: UInt16
  public var machine: UInt16
  public var flags: UInt32
  public var phoff: UInt64
  public var phnum: Int
  public var entry: UInt64
  public var programHeaders: [ELFProgramHeader]
  /// PT_INTERP's bytes, without its NUL: any bytes at all, as the kernel passes them on.
  public var interpreterBytes: [UInt8]?
  public var hasDynamic: Bool
  /// DT_FLAGS_1 has DF_1_PIE.
  public var pieFlag: Bool
  /// NT_GNU_BUILD_ID.
  public var buildID: [UInt8]?
  /// NT_GNU_ABI_TAG: OS and minimum kernel version ("Linux 3.2.0").
  public var abiTag: String?

  /// PT_INTERP as text (for JSON and messages; text output escapes `interpreterBytes`).
  public var interpreter: String? { interpreterBytes.map(PathBytes.string) }
}

/// The libelf wrapper: the only file that imports CLibelf. Handles never leave it.
public enum LibELF {
  static let initialized: Bool = bctl_elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE)

  /// Reads program headers, PT_INTERP, notes and PT_DYNAMIC with `ELF_C_READ` (no mmap, so
  /// a file that shrinks under us is an error, not a SIGBUS) and `elf_getdata_rawchunk`,
  /// which reads only the bytes asked for. A segment that ends past the end of the file is a
  /// verdict (`ELFProgramHeader.validateSegments`) before any segment is read.
  public static func readSegments(path: String) throws(BinfmtError) -> ELFSegments {
    guard initialized else {
      if let why = bctl_elf_unavailable() {
        throw BinfmtError(
          .system, "cannot load libelf: \(String(cString: why))", at: path,
          fix: "install it (Debian/Ubuntu: apt install libelf1)")
      }
      throw BinfmtError(.system, "libelf refused EV_CURRENT", at: path)
    }
    let fd: FileDescriptor
    do {
      fd = try FileDescriptor.open(FilePath(pathBytes: path), .readOnly, options: [.nonBlocking, .closeOnExec])
    } catch {
      throw BinfmtError(.system, "cannot open: \(error)", at: path)
    }
    defer { try? fd.close() }
    // The size of the file libelf reads, not of the one FileHead read earlier (it can change).
    let size: Int64
    do {
      size = try fd.seek(offset: 0, from: .end)
      _ = try fd.seek(offset: 0, from: .start)
    } catch {
      throw BinfmtError(.system, "cannot seek: \(error)", at: path)
    }
    let handle = ElfHandle(fd: fd.rawValue)
    return try handle.withElf { elf throws(BinfmtError) in
      try segments(elf, path: path, fileSize: UInt64(clamping: size))
    }
  }

  static func libelfError(_ path: String, _ what: String) -> BinfmtError {
    let msg = bctl_elf_errmsg(-1).map { String(cString: $0) } ?? "unknown libelf error"
    return BinfmtError(.invalidInput, "\(what): \(msg)", at: path)
  }

  static func segments(_ elf: OpaquePointer, path: String, fileSize: UInt64) throws(BinfmtError) -> ELFSegments {
    guard bctl_elf_kind(elf) == ELF_K_ELF else {
      throw BinfmtError(.invalidInput, "libelf does not see an ELF file", at: path)
    }
    var ehdr = GElf_Ehdr()
    guard bctl_gelf_getehdr(elf, &ehdr) != nil else { throw libelfError(path, "cannot read ELF header") }
    var phnum = 0
    guard bctl_elf_getphdrnum(elf, &phnum) == 0 else { throw libelfError(path, "cannot count program headers") }
    let order: ByteOrder = ehdr.e_ident.5 == UInt8(ELFDATA2MSB) ? .big : .little
    let is64 = ehdr.e_ident.4 == UInt8(ELFCLASS64)

    var out = ELFSegments(
      type: ehdr.e_type, machine: ehdr.e_machine, flags: ehdr.e_flags, phoff: ehdr.e_phoff,
      phnum: phnum, entry: ehdr.e_entry, programHeaders: [], interpreterBytes: nil, hasDynamic: false,
      pieFlag: false, buildID: nil, abiTag: nil)
    for i in 0..<phnum {
      var ph = GElf_Phdr()
      // PN_XNUM lets the count come from section 0 (32 bits): never trap on it.
      guard let index = Int32(exactly: i), bctl_gelf_getphdr(elf, index, &ph) != nil else {
        throw libelfError(path, "cannot read program header \(i)")
      }
      out.programHeaders.append(
        .init(type: ph.p_type, offset: ph.p_offset, fileSize: ph.p_filesz, align: ph.p_align, vaddr: ph.p_vaddr))
    }
    do { try ELFProgramHeader.validateSegments(out.programHeaders, fileSize: fileSize) } catch {
      throw error.located(path)
    }

    func chunk(_ ph: ELFProgramHeader, limit: UInt64) -> [UInt8]? {
      guard ph.fileSize > 0, ph.fileSize <= limit else { return nil }
      guard let data = bctl_elf_getdata_rawchunk(elf, Int64(bitPattern: ph.offset), Int(ph.fileSize), ELF_T_BYTE),
        let buf = data.pointee.d_buf
      else { return nil }
      return Array(UnsafeRawBufferPointer(start: buf, count: data.pointee.d_size))
    }

    for ph in out.programHeaders {
      switch ph.type {
      case ELFProgramHeader.interpreter:
        guard let bytes = chunk(ph, limit: 4096) else {
          throw BinfmtError(
            .invalidInput, "PT_INTERP segment (\(ph.fileSize) bytes at offset \(ph.offset)) cannot be read",
            at: path)
        }
        out.interpreterBytes = ELFProgramHeader.loaderPath(fromSegment: bytes)
      case ELFProgramHeader.dynamic:
        out.hasDynamic = true
        if let bytes = chunk(ph, limit: 1 << 20) {
          out.pieFlag = ELFSegmentContents.dynamicHasPIE(ByteReader(bytes: bytes, order: order), is64: is64)
        }
      case ELFProgramHeader.note:
        if let bytes = chunk(ph, limit: 1 << 20) {
          let notes = ELFSegmentContents.notes(ByteReader(bytes: bytes, order: order), align: ph.align == 8 ? 8 : 4)
          if let id = notes.buildID { out.buildID = id }
          if let tag = notes.abiTag { out.abiTag = tag }
        }
      default:
        break
      }
    }
    return out
  }
}

/// Owns an `Elf*`; `elf_end` runs exactly once when it goes away.
struct ElfHandle: ~Copyable {
  let elf: OpaquePointer?
  init(fd: Int32) { elf = bctl_elf_begin(fd, ELF_C_READ, nil) }
  deinit { if let elf { bctl_elf_end(elf) } }

  func withElf<T>(_ body: (OpaquePointer) throws(BinfmtError) -> T) throws(BinfmtError) -> T {
    guard let elf else {
      let msg = bctl_elf_errmsg(-1).map { String(cString: $0) } ?? "unknown"
      throw BinfmtError(.invalidInput, "libelf cannot open it: \(msg)")
    }
    return try body(elf)
  }
}
