/// Tiny static executables that do nothing but exit with a chosen code, one per instruction
/// set, for `binfmtctl probe`.
///
/// Running one through the kernel proves the whole path at once: binfmt_misc matched the
/// header, the interpreter was found and started, and the emulator ran foreign code and
/// passed a system call through. The exit code (not just "it exited") tells that the value
/// really came from the guest program.
///
/// Each file is an ELF header, one PT_LOAD program header and three to five instructions,
/// built here rather than shipped, so there is nothing to download and every byte is
/// explained. The instruction set is chosen from the ELF identity of the catalog entry
/// (e_machine, class, byte order, MIPS n32 bit), so the header is the one that entry's
/// binfmt_misc magic matches by construction.
///
/// The encodings were checked against each target's GNU as/objdump (llvm-mc for Hexagon;
/// qemu's own disassembler for LoongArch, MicroBlaze, Nios II and CRIS, which Debian has no
/// binutils for), and every program was run under qemu-user with several exit codes.
public enum ProbeProgram {
  /// A minimal static ELF executable (ET_EXEC, one PT_LOAD) for `arch` that calls the exit
  /// syscall with `exitCode`, or nil when we have no code for that architecture.
  public static func executable(for arch: Architecture, exitCode: UInt8) -> [UInt8]? {
    guard let program = program(for: arch, exitCode: exitCode) else { return nil }
    return image(arch, program)
  }

  /// Names of catalog architectures that have a probe.
  public static var supported: [String] {
    Catalog.standard.architectures.filter { program(for: $0, exitCode: 0) != nil }.map(\.name)
  }

  /// Where the segment is mapped: 4 MiB on every target. It is 64 KiB-aligned, so the file
  /// (p_offset 0) maps with any page size, including the 64 KiB pages aarch64, ppc64 and
  /// loongarch64 kernels may use; it is far above vm.mmap_min_addr, inside every 32-bit
  /// address space, and it is GNU ld's default for x86-64, aarch64 and MIPS.
  static let loadAddress: UInt64 = 0x40_0000

  /// A segment alignment no kernel or qemu page size exceeds.
  static let segmentAlignment: UInt64 = 0x1_0000

  struct Program {
    /// e_flags: the ABI the code is written for, as that target's toolchain records it.
    var flags: UInt32 = 0
    var code: [UInt8]
    /// 64-bit PowerPC ELFv1: e_entry points at a function descriptor, not at code.
    var entryIsDescriptor = false
  }

  // swift-format-ignore
  static func program(for arch: Architecture, exitCode: UInt8) -> Program? {
    let c = UInt32(exitCode)
    let order = arch.byteOrder
    switch (arch.machine, arch.elfClass, order) {
    case (EM.x86_64, .elf64, .little):
      return Program(code: [
        0xbf, exitCode, 0, 0, 0,  // mov $code, %edi
        0xb8, 60, 0, 0, 0,        // mov $60, %eax          (exit)
        0x0f, 0x05,               // syscall
      ])

    // EM_486 is the same instruction set; qemu-i386 and the kernel's ia32 loader take both.
    case (EM.i386, .elf32, .little), (EM.i486, .elf32, .little):
      return Program(code: [
        0xbb, exitCode, 0, 0, 0,  // mov $code, %ebx
        0xb8, 1, 0, 0, 0,         // mov $1, %eax           (exit)
        0xcd, 0x80,               // int $0x80
      ])

    // A64 instructions are little-endian even on big-endian (aarch64_be) systems.
    case (EM.aarch64, .elf64, _):
      return Program(code: words(.little, [
        0xd280_0000 | c << 5,  // mov x0, #code
        0xd280_0ba8,           // mov x8, #93            (exit)
        0xd400_0001,           // svc #0
      ]))

    // EABI version 5. Big-endian without EF_ARM_BE8 is BE32: code is big-endian like data.
    case (EM.arm, .elf32, _):
      return Program(flags: 0x0500_0000, code: words(order, [
        0xe3a0_0000 | c,  // mov r0, #code
        0xe3a0_7001,      // mov r7, #1              (exit)
        0xef00_0000,      // svc #0
      ]))

    case (EM.ppc, .elf32, .big):
      return Program(code: words(order, ppcExit(c)))

    // Big-endian is ELFv1 (e_flags 1: entry is a function descriptor), little-endian ELFv2.
    case (EM.ppc64, .elf64, _):
      return Program(
        flags: order == .big ? 1 : 2, code: words(order, ppcExit(c)), entryIsDescriptor: order == .big)

    case (EM.s390, .elf64, .big):
      return Program(code: [
        0xa7, 0x29, 0x00, exitCode,  // lghi %r2, code
        0x0a, 0x01,                  // svc 1                  (exit)
      ])

    // e_flags 0: soft-float ABI, no compressed instructions (the code uses neither).
    case (EM.riscv, _, .little):
      return Program(code: words(order, [
        0x0000_0513 | c << 20,  // li a0, code
        0x05d0_0893,            // li a7, 93               (exit)
        0x0000_0073,            // ecall
      ]))

    // o32: EF_MIPS_ARCH_32R2 | EF_MIPS_ABI_O32 | EF_MIPS_NOREORDER; syscalls from 4000.
    // n32: EF_MIPS_ARCH_64R2 | EF_MIPS_ABI2 | EF_MIPS_NOREORDER; syscalls from 6000.
    // n64: EF_MIPS_ARCH_64R2 | EF_MIPS_NOREORDER; syscalls from 5000.
    case (EM.mips, .elf32, _) where arch.mipsN32 != true:
      return Program(flags: 0x7000_1001, code: words(order, mipsExit(4001, c)))
    case (EM.mips, .elf32, _):
      return Program(flags: 0x8000_0001 | ELFFlags.mipsABI2, code: words(order, mipsExit(6058, c)))
    case (EM.mips, .elf64, _):
      return Program(flags: 0x8000_0001, code: words(order, mipsExit(5058, c)))

    // EF_LOONGARCH_ABI_DOUBLE_FLOAT | EF_LOONGARCH_OBJABI_V1 (lp64d), as GCC writes.
    case (EM.loongarch, .elf64, .little):
      return Program(flags: 0x43, code: words(order, [
        0x0380_0004 | c << 10,  // ori $a0, $zero, code
        0x0381_740b,            // ori $a7, $zero, 93      (exit)
        0x002b_0000,            // syscall 0
      ]))

    case (EM.sparc, .elf32, .big):
      return Program(code: words(order, sparcExit(c, trap: 0x10)))
    // V8+ (EF_SPARC_32PLUS): the 32-bit ABI, so the 32-bit system call trap.
    case (EM.sparc32plus, .elf32, .big):
      return Program(flags: 0x100, code: words(order, sparcExit(c, trap: 0x10)))
    case (EM.sparcv9, .elf64, .big):
      return Program(code: words(order, sparcExit(c, trap: 0x6d)))

    // moveq and SuperH's mov #imm sign-extend 8 bits; the kernel keeps only the low 8 bits
    // of an exit status, so codes 128...255 still come back as given.
    case (EM.m68k, .elf32, .big):
      return Program(code: halfwords(order, [
        0x7001,                     // moveq #1, %d0          (exit)
        0x7200 | UInt16(exitCode),  // moveq #code, %d1
        0x4e40,                     // trap #0
      ]))

    case (EM.sh, .elf32, _):
      return Program(code: halfwords(order, [
        0xe301,                    // mov #1, r3             (exit)
        0xe400 | UInt16(exitCode), // mov #code, r4
        0xc311,                    // trapa #0x11
      ]))

    case (EM.alpha, .elf64, .little):
      return Program(code: words(order, [
        0x201f_0001,      // lda $0, 1($31)          (exit)
        0x221f_0000 | c,  // lda $16, code($31)
        0x0000_0083,      // call_pal 0x83           (callsys)
      ]))

    // PA-RISC 1.1 (e_flags 0x210). System calls branch into the gateway page; the number is
    // set in the branch's delay slot, as glibc does.
    case (EM.parisc, .elf32, .big):
      return Program(flags: 0x210, code: words(order, [
        0x341a_0000 | c << 1,  // ldi code, %r26
        0xe400_8200,           // be,l 0x100(%sr2, %r0), %sr0, %r31
        0x3414_0002,           // ldi 1, %r20            (exit, in the delay slot)
      ]))

    case (EM.microblaze, .elf32, _):
      return Program(code: words(order, [
        0x3180_0001,      // addik r12, r0, 1        (exit)
        0x30a0_0000 | c,  // addik r5, r0, code
        0xb9cc_0008,      // brki r14, 0x8
      ]))

    case (EM.or1k, .elf32, .big):
      return Program(code: words(order, [
        0x9d60_005d,      // l.addi r11, r0, 93      (exit)
        0x9c60_0000 | c,  // l.addi r3, r0, code
        0x2000_0001,      // l.sys 1
      ]))

    // 24-bit instructions whose fields are laid out mirrored on big-endian cores.
    case (EM.xtensa, .elf32, _):
      return Program(code: [
        xtensaMovi(order, 2, 118),  // movi a2, 118           (exit)
        xtensaMovi(order, 6, c),    // movi a6, code
        xtensaSyscall(order),       // syscall
      ].flatMap { $0 })

    // Hexagon V67 (qemu's CPU). Each instruction is a packet of its own (parse bits 0b11).
    case (EM.hexagon, .elf32, .little):
      return Program(flags: 0x67, code: words(order, [
        0x7800_cba6,           // { r6 = #93 }            (exit)
        0x7800_c000 | c << 5,  // { r0 = #code }
        0x5400_c004,           // { trap0(#1) }
      ]))

    case (EM.nios2, .elf32, .little):
      return Program(code: words(order, [
        0x0080_1744,           // movi r2, 93             (exit)
        0x0100_0004 | c << 6,  // movi r4, code
        0x003b_683a,           // trap
      ]))

    // moveq takes 6 signed bits, so the code is built from two nibbles.
    case (EM.cris, .elf32, .little):
      return Program(code: halfwords(order, [
        0x9241,                          // moveq 1, $r9            (exit)
        0xa240 | UInt16(exitCode >> 4),  // moveq code >> 4, $r10
        0xa3c4,                          // lslq 4, $r10
        0xa200 | UInt16(exitCode & 15),  // addq code & 15, $r10
        0xe93d,                          // break 13
      ]))

    default:
      return nil
    }
  }

  // swift-format-ignore
  static func ppcExit(_ c: UInt32) -> [UInt32] {
    [
      0x3800_0001,      // li r0, 1                (exit)
      0x3860_0000 | c,  // li r3, code
      0x4400_0002,      // sc
    ]
  }

  // swift-format-ignore
  static func mipsExit(_ number: UInt32, _ c: UInt32) -> [UInt32] {
    [
      0x2402_0000 | number,  // li $v0, number    (exit for this ABI)
      0x2404_0000 | c,       // li $a0, code
      0x0000_000c,           // syscall
    ]
  }

  // swift-format-ignore
  static func sparcExit(_ c: UInt32, trap: UInt32) -> [UInt32] {
    [
      0x8210_2001,         // mov 1, %g1             (exit)
      0x9010_2000 | c,     // mov code, %o0
      0x91d0_2000 | trap,  // ta trap                (0x10: 32-bit ABI, 0x6d: 64-bit)
    ]
  }

  /// Xtensa `movi at, imm12`: RRI8 format, op0 2, r 0xa, imm12's high nibble in s. The
  /// fields run from the low end on little-endian cores and from the high end on big-endian.
  static func xtensaMovi(_ order: ByteOrder, _ at: UInt32, _ imm12: UInt32) -> [UInt8] {
    let s = imm12 >> 8 & 0xf
    let imm8 = imm12 & 0xff
    return order == .little
      ? bytes24(order, imm8 << 16 | 0xa << 12 | s << 8 | at << 4 | 2)
      : bytes24(order, 2 << 20 | at << 16 | s << 12 | 0xa << 8 | imm8)
  }

  /// Xtensa `syscall`: RRR format, every field 0 but r = 5.
  static func xtensaSyscall(_ order: ByteOrder) -> [UInt8] {
    bytes24(order, order == .little ? 5 << 12 : 5 << 8)
  }

  static func bytes24(_ order: ByteOrder, _ v: UInt32) -> [UInt8] {
    Array(order.bytes(v).dropFirst(order == .big ? 1 : 0).prefix(3))
  }

  static func words(_ order: ByteOrder, _ ws: [UInt32]) -> [UInt8] {
    ws.flatMap { order.bytes($0) }
  }

  static func halfwords(_ order: ByteOrder, _ hs: [UInt16]) -> [UInt8] {
    hs.flatMap { order.bytes($0) }
  }

  /// The file: ELF header, one program header, code (and for ELFv1 the descriptor), mapped
  /// read+execute as one segment from file offset 0.
  static func image(_ arch: Architecture, _ program: Program) -> [UInt8] {
    var out = ELFWriter(arch.elfClass, arch.byteOrder)
    let is64 = arch.elfClass == .elf64
    let headerSize = arch.elfClass.headerSize
    let phentsize = is64 ? 56 : 32
    let codeOffset = headerSize + phentsize  // 84 or 120: aligned for every instruction set
    var body = program.code
    var entry = loadAddress + UInt64(codeOffset)
    if program.entryIsDescriptor {
      // { code address, TOC pointer (unused), environment (unused) }, 8-byte aligned.
      body += [UInt8](repeating: 0, count: (8 - body.count % 8) % 8)
      let descriptor = loadAddress + UInt64(codeOffset + body.count)
      for v in [entry, 0, 0] { body += bytes64(arch.byteOrder, v) }
      entry = descriptor
    }
    let fileSize = UInt64(codeOffset + body.count)

    // e_ident: magic, class, byte order, EV_CURRENT, ELFOSABI_SYSV, ABI version 0, padding.
    out.raw([0x7f, 0x45, 0x4c, 0x46, arch.elfClass.rawValue, arch.byteOrder.rawValue, 1, 0, 0])
    out.raw([UInt8](repeating: 0, count: 7))
    out.u16(2)  // e_type: ET_EXEC
    out.u16(arch.machine)
    out.u32(1)  // e_version
    out.addr(entry)  // e_entry
    out.addr(UInt64(headerSize))  // e_phoff
    out.addr(0)  // e_shoff: no section headers
    out.u32(program.flags)
    out.u16(UInt16(headerSize))  // e_ehsize
    out.u16(UInt16(phentsize))
    out.u16(1)  // e_phnum
    out.u16(0)  // e_shentsize
    out.u16(0)  // e_shnum
    out.u16(0)  // e_shstrndx: SHN_UNDEF

    // The program header's field order differs between the classes (p_flags moves).
    let pfRX: UInt32 = 0x5  // PF_R | PF_X
    out.u32(1)  // p_type: PT_LOAD
    if is64 { out.u32(pfRX) }
    out.addr(0)  // p_offset
    out.addr(loadAddress)  // p_vaddr
    out.addr(loadAddress)  // p_paddr
    out.addr(fileSize)  // p_filesz
    out.addr(fileSize)  // p_memsz
    if !is64 { out.u32(pfRX) }
    out.addr(segmentAlignment)  // p_align

    out.raw(body)
    return out.bytes
  }

  /// Appends ELF fields in one class and byte order.
  struct ELFWriter {
    let elfClass: ELFClass
    let order: ByteOrder
    var bytes: [UInt8] = []

    init(_ elfClass: ELFClass, _ order: ByteOrder) {
      self.elfClass = elfClass
      self.order = order
    }

    mutating func raw(_ b: [UInt8]) { bytes += b }
    mutating func u16(_ v: UInt16) { bytes += order.bytes(v) }
    mutating func u32(_ v: UInt32) { bytes += order.bytes(v) }
    mutating func u64(_ v: UInt64) { bytes += ProbeProgram.bytes64(order, v) }
    /// An address, offset or size: Elf32_Addr/Off/Word or Elf64_Addr/Off/Xword.
    mutating func addr(_ v: UInt64) {
      if elfClass == .elf64 { u64(v) } else { u32(UInt32(truncatingIfNeeded: v)) }
    }
  }

  static func bytes64(_ order: ByteOrder, _ v: UInt64) -> [UInt8] {
    let little = (0..<8).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
    return order == .little ? little : little.reversed()
  }
}
