/// One entry of the program header table, as both readers (libelf, and the few-hundred-byte
/// reader that `status` and `install` use on emulators) hand it over.
public struct ELFProgramHeader: Sendable, Hashable {
  public var type: UInt32
  public var offset: UInt64
  public var fileSize: UInt64
  public var align: UInt64
  /// p_vaddr: with p_offset, it must be congruent modulo the page size for mmap(2) to map it.
  public var vaddr: UInt64
  public init(type: UInt32, offset: UInt64, fileSize: UInt64, align: UInt64, vaddr: UInt64 = 0) {
    self.type = type
    self.offset = offset
    self.fileSize = fileSize
    self.align = align
    self.vaddr = vaddr
  }

  public static let load: UInt32 = 1
  public static let dynamic: UInt32 = 2
  /// PT_INTERP: the program interpreter (the dynamic loader) the kernel starts first.
  public static let interpreter: UInt32 = 3
  public static let note: UInt32 = 4

  /// Decodes a raw program header table (`header.phnum` entries at `header.phentsize`).
  /// Returns nil when the bytes are too short or the entry size is not the class's.
  public static func decodeTable(_ bytes: [UInt8], header h: ELFHeader) -> [ELFProgramHeader]? {
    guard Int(h.phentsize) == h.expectedPhentsize else { return nil }
    let r = ByteReader(bytes: bytes, order: h.byteOrder)
    var out: [ELFProgramHeader] = []
    out.reserveCapacity(Int(h.phnum))
    for i in 0..<Int(h.phnum) {
      let o = i * Int(h.phentsize)
      let ph: ELFProgramHeader?
      if h.elfClass == .elf64 {
        // p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
        ph = r.uint(at: o, size: 4).flatMap { t in
          r.uint(at: o + 8, size: 8).flatMap { off in
            r.uint(at: o + 32, size: 8).flatMap { fs in
              r.uint(at: o + 48, size: 8).flatMap { al in
                r.uint(at: o + 16, size: 8).map { va in
                  ELFProgramHeader(type: UInt32(t), offset: off, fileSize: fs, align: al, vaddr: va)
                }
              }
            }
          }
        }
      } else {
        // p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align
        ph = r.uint(at: o, size: 4).flatMap { t in
          r.uint(at: o + 4, size: 4).flatMap { off in
            r.uint(at: o + 16, size: 4).flatMap { fs in
              r.uint(at: o + 28, size: 4).flatMap { al in
                r.uint(at: o + 8, size: 4).map { va in
                  ELFProgramHeader(type: UInt32(t), offset: off, fileSize: fs, align: al, vaddr: va)
                }
              }
            }
          }
        }
      }
      guard let ph else { return nil }
      out.append(ph)
    }
    return out
  }

  /// The loader path a PT_INTERP segment holds: its bytes up to the first NUL.
  public static func loaderPath(fromSegment bytes: [UInt8]) -> [UInt8] {
    Array(bytes.prefix(while: { $0 != 0 }))
  }

  /// p_type as readelf names it ("PT_LOAD"), or its number.
  public static func typeName(_ type: UInt32) -> String {
    switch type {
    case 0: return "PT_NULL"
    case load: return "PT_LOAD"
    case dynamic: return "PT_DYNAMIC"
    case interpreter: return "PT_INTERP"
    case note: return "PT_NOTE"
    case 5: return "PT_SHLIB"
    case 6: return "PT_PHDR"
    case 7: return "PT_TLS"
    case 0x6474_e550: return "PT_GNU_EH_FRAME"
    case 0x6474_e551: return "PT_GNU_STACK"
    case 0x6474_e552: return "PT_GNU_RELRO"
    case 0x6474_e553: return "PT_GNU_PROPERTY"
    default: return "p_type 0x" + String(type, radix: 16)
    }
  }

  /// Checks that every segment with bytes in the file (p_filesz > 0) lies inside a file of
  /// `fileSize` bytes. A file cut short (a failed download, a full disk) keeps its headers
  /// and loses what they point at: exec would map pages past the end (SIGBUS on first
  /// touch), and a PT_INTERP or PT_NOTE there cannot be read. PT_NULL entries are unused, so
  /// their fields mean nothing.
  public static func validateSegments(_ headers: [ELFProgramHeader], fileSize: UInt64) throws(BinfmtError) {
    for (i, ph) in headers.enumerated() where ph.type != 0 && ph.fileSize > 0 {
      let name = typeName(ph.type)
      let (end, overflow) = ph.offset.addingReportingOverflow(ph.fileSize)
      if overflow {
        throw BinfmtError(
          .invalidInput,
          "corrupt ELF: segment \(i) (\(name)) has p_offset \(ph.offset) + p_filesz \(ph.fileSize), past 2^64 bytes")
      }
      if end > fileSize {
        throw BinfmtError(
          .invalidInput,
          "truncated ELF: segment \(i) (\(name)) covers bytes \(ph.offset)..<\(end), past the end of the file's \(fileSize) bytes"
        )
      }
    }
  }
}

/// What kind of ELF object a file is, named the way `inspect` prints it.
public enum ELFKind: Sendable, Hashable, CustomStringConvertible {
  case relocatable, executable, pieExecutable, sharedObject, core
  case other(UInt16)

  /// ET_DYN is a PIE executable when it names a loader or carries DF_1_PIE.
  public init(type: UInt16, hasInterpreter: Bool, pieFlag: Bool) {
    switch type {
    case 1: self = .relocatable
    case 2: self = .executable
    case 3: self = hasInterpreter || pieFlag ? .pieExecutable : .sharedObject
    case 4: self = .core
    default: self = .other(type)
    }
  }

  public var description: String {
    switch self {
    case .relocatable: return "relocatable"
    case .executable: return "executable"
    case .pieExecutable: return "pie executable"
    case .sharedObject: return "shared object"
    case .core: return "core"
    case .other(let t): return "type \(t)"
    }
  }

  /// exec(2) can start it.
  public var runnable: Bool { self == .executable || self == .pieExecutable }
}

/// How a runnable ELF object gets its libraries; the raw values are the JSON contract.
public enum ELFLinkage: String, Sendable, Hashable {
  case `static`
  case dynamic
  case staticPIE = "static-pie"

  /// nil for objects that are not executables or shared objects.
  public init?(type: UInt16, hasInterpreter: Bool, pieFlag: Bool) {
    switch type {
    case 2, 3:
      if hasInterpreter {
        self = .dynamic
      } else if type == 3 {
        self = pieFlag ? .staticPIE : .dynamic
      } else {
        self = .static
      }
    default: return nil
    }
  }
}
