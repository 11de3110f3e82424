/// The ELF file header, decoded in pure Swift from the first 52/64 bytes.
///
/// This is the fast path (one 64-byte read decides most verdicts); libelf reads the program
/// headers and notes, and a test checks both agree on every fixture.
public struct ELFHeader: Hashable, Sendable {
  public var elfClass: ELFClass
  public var byteOrder: ByteOrder
  public var identVersion: UInt8
  public var osABI: UInt8
  public var abiVersion: UInt8
  public var type: UInt16
  public var machine: UInt16
  public var version: UInt32
  public var entry: UInt64
  public var phoff: UInt64
  public var shoff: UInt64
  public var flags: UInt32
  public var ehsize: UInt16
  public var phentsize: UInt16
  public var phnum: UInt16
  public var shentsize: UInt16
  public var shnum: UInt16
  public var shstrndx: UInt16

  public static let magic: [UInt8] = [0x7f, 0x45, 0x4c, 0x46]

  /// Decodes the header; `bytes` may hold more than the header. Errors are one-line
  /// verdicts that say which byte or field is wrong.
  public static func decode(_ bytes: [UInt8]) throws(BinfmtError) -> ELFHeader {
    guard bytes.count >= 4, Array(bytes[0..<4]) == magic else {
      throw BinfmtError(.invalidInput, "not an ELF file")
    }
    guard bytes.count >= 6 else {
      throw BinfmtError(.invalidInput, "truncated ELF header: \(bytes.count) bytes, e_ident needs 16")
    }
    guard let cls = ELFClass(rawValue: bytes[4]) else {
      throw BinfmtError(.invalidInput, "invalid ELF class \(bytes[4]) in e_ident[EI_CLASS] (1 = 32-bit, 2 = 64-bit)")
    }
    guard let order = ByteOrder(rawValue: bytes[5]) else {
      throw BinfmtError(.invalidInput, "invalid byte order \(bytes[5]) in e_ident[EI_DATA] (1 = LSB, 2 = MSB)")
    }
    guard bytes.count >= cls.headerSize else {
      throw BinfmtError(
        .invalidInput, "truncated ELF header: \(bytes.count) of \(cls.headerSize) bytes (ELF\(cls.bits))")
    }
    let r = ByteReader(bytes: bytes, order: order)
    var h = ELFHeader(
      elfClass: cls, byteOrder: order, identVersion: bytes[6], osABI: bytes[7], abiVersion: bytes[8],
      type: r.u16(16), machine: r.u16(18), version: r.u32(20), entry: 0, phoff: 0, shoff: 0, flags: 0,
      ehsize: 0, phentsize: 0, phnum: 0, shentsize: 0, shnum: 0, shstrndx: 0)
    var o = 24
    if cls == .elf64 {
      h.entry = r.u64(o)
      h.phoff = r.u64(o + 8)
      h.shoff = r.u64(o + 16)
      o += 24
    } else {
      h.entry = UInt64(r.u32(o))
      h.phoff = UInt64(r.u32(o + 4))
      h.shoff = UInt64(r.u32(o + 8))
      o += 12
    }
    h.flags = r.u32(o)
    h.ehsize = r.u16(o + 4)
    h.phentsize = r.u16(o + 6)
    h.phnum = r.u16(o + 8)
    h.shentsize = r.u16(o + 10)
    h.shnum = r.u16(o + 12)
    h.shstrndx = r.u16(o + 14)
    if h.identVersion != 1 {
      throw BinfmtError(.invalidInput, "invalid ELF version \(h.identVersion) in e_ident[EI_VERSION] (must be 1)")
    }
    return h
  }

  /// Size of one program header entry the spec requires for this class.
  public var expectedPhentsize: Int { elfClass == .elf64 ? 56 : 32 }

  /// Checks that the program header table lies inside a file of `fileSize` bytes, so a
  /// corrupt header gets a verdict instead of a read past the end.
  public func validateProgramHeaders(fileSize: UInt64) throws(BinfmtError) {
    if phnum == 0 { return }
    if Int(phentsize) != expectedPhentsize {
      throw BinfmtError(
        .invalidInput,
        "corrupt ELF header: e_phentsize is \(phentsize), ELF\(elfClass.bits) needs \(expectedPhentsize)")
    }
    if phnum == 0xffff {
      throw BinfmtError(.invalidInput, "corrupt ELF header: e_phnum is PN_XNUM (0xffff), not supported")
    }
    let (end, overflow) = phoff.addingReportingOverflow(UInt64(phnum) * UInt64(phentsize))
    if overflow || end > fileSize {
      throw BinfmtError(
        .invalidInput,
        "corrupt ELF header: \(phnum) program headers at offset \(phoff) (e_phoff) end past the file's \(fileSize) bytes"
      )
    }
  }

  public var typeName: String {
    switch type {
    case 0: return "none"
    case 1: return "rel"
    case 2: return "exec"
    case 3: return "dyn"
    case 4: return "core"
    default: return String(format0x: type)
    }
  }

  public var osABIName: String { ELFNames.osABI(osABI) }
  public var machineName: String { ELFNames.machine(machine) }
}

extension String {
  init<T: BinaryInteger>(format0x v: T) {
    self = "0x" + String(v, radix: 16)
  }
}

/// Big- and little-endian integers out of a byte buffer: the one reader every ELF decoder
/// uses (the header, program headers, notes, the dynamic section).
public struct ByteReader: Sendable {
  public let bytes: [UInt8]
  public let order: ByteOrder
  public init(bytes: [UInt8], order: ByteOrder) {
    self.bytes = bytes
    self.order = order
  }

  /// The `size`-byte unsigned integer at `offset`, or nil when it does not fit in the buffer.
  public func uint(at offset: Int, size: Int) -> UInt64? {
    guard offset >= 0, size >= 0, size <= 8, offset <= bytes.count - size else { return nil }
    var v: UInt64 = 0
    for i in 0..<size {
      v = v << 8 | UInt64(bytes[offset + (order == .little ? size - 1 - i : i)])
    }
    return v
  }

  // Callers that checked the length first (the header decoder checks the header size).
  func u16(_ o: Int) -> UInt16 { UInt16(truncatingIfNeeded: uint(at: o, size: 2) ?? 0) }
  func u32(_ o: Int) -> UInt32 { UInt32(truncatingIfNeeded: uint(at: o, size: 4) ?? 0) }
  func u64(_ o: Int) -> UInt64 { uint(at: o, size: 8) ?? 0 }
}

public enum ELFNames {
  public static func osABI(_ v: UInt8) -> String {
    switch v {
    case 0: return "SYSV"
    case 1: return "HP-UX"
    case 2: return "NetBSD"
    case 3: return "GNU/Linux"
    case 6: return "Solaris"
    case 7: return "AIX"
    case 8: return "IRIX"
    case 9: return "FreeBSD"
    case 10: return "Tru64"
    case 11: return "Modesto"
    case 12: return "OpenBSD"
    case 64: return "ARM EABI"
    case 97: return "ARM"
    case 255: return "standalone"
    default: return "osabi \(v)"
    }
  }

  public static func machine(_ m: UInt16) -> String {
    switch m {
    case EM.sparc: return "SPARC"
    case EM.i386: return "Intel 80386"
    case EM.m68k: return "Motorola 68000"
    case EM.i486: return "Intel 80486"
    case EM.mips: return "MIPS"
    case EM.parisc: return "PA-RISC"
    case EM.sparc32plus: return "SPARC32PLUS"
    case EM.ppc: return "PowerPC"
    case EM.ppc64: return "PowerPC64"
    case EM.s390: return "IBM S/390"
    case EM.arm: return "ARM"
    case EM.sh: return "SuperH"
    case EM.sparcv9: return "SPARC V9"
    case EM.x86_64: return "x86-64"
    case EM.cris: return "Axis CRIS"
    case EM.or1k: return "OpenRISC"
    case EM.xtensa: return "Xtensa"
    case EM.nios2: return "Nios II"
    case EM.hexagon: return "Hexagon"
    case EM.aarch64: return "AArch64"
    case EM.microblaze, EM.microblazeOld: return "MicroBlaze"
    case EM.riscv: return "RISC-V"
    case EM.loongarch: return "LoongArch"
    case EM.alpha: return "Alpha"
    case 0: return "none"
    case 50: return "IA-64"
    default: return "machine \(m)"
    }
  }
}
