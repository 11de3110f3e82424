/// One qemu-user target and how binfmt_misc recognises its ELF files.
///
/// The magic and mask are *derived* from ELF fields (class, byte order, e_machine, and for
/// MIPS the n32 bit of e_flags), not copied as strings, so the catalog says why each byte is
/// compared. `Tests/…/CatalogTests` checks the result against Debian's qemu-user-static tables
/// and lists every deliberate difference.
public struct Architecture: Hashable, Sendable {
  /// Canonical name: the qemu target (`qemu-<name>-static`).
  public var name: String
  public var elfClass: ELFClass
  public var byteOrder: ByteOrder
  public var machine: UInt16
  /// Mask applied to EI_OSABI (byte 7). qemu's tables accept any OS ABI (0x00) for most
  /// targets, but only SYSV/HPUX/NetBSD/GNU (0xfc) for some; we keep qemu's choice per target
  /// so entries are interchangeable with what distributions register.
  public var osabiMask: UInt8
  /// Mask applied to EI_ABIVERSION (byte 8): 0xff, 0xfe for MIPS (ABI versions 0/1 are both
  /// used by glibc), 0x00 for LoongArch (ABI version varies with the toolchain).
  public var abiVersionMask: UInt8
  /// For 32-bit MIPS: whether EF_MIPS_ABI2 (n32) must be set (true) or clear (false).
  public var mipsN32: Bool?
  /// Architectures of one family run each other's binaries natively on suitable hosts
  /// (x86_64 runs i386); an entry for the host's own family would send native programs
  /// through qemu.
  public var family: String
  /// `uname -m` values of hosts of this architecture.
  public var unameMachines: [String]
  public var ociPlatform: String?
  public var debianArch: String?
  /// Other names people type; matched case-insensitively.
  public var aliases: [String]
  public var summary: String

  /// The qemu-user target that runs it: the name, except i486, which qemu-i386 runs.
  public var qemuTarget: String { name == "i486" ? "i386" : name }
  public var entryName: String { "qemu-" + name }
  public var staticInterpreter: String { "/usr/bin/qemu-\(qemuTarget)-static" }

  /// Bytes compared: the 16 e_ident bytes, e_type and e_machine (20 bytes); 32-bit MIPS
  /// also compares e_flags (up to byte 40) to tell o32 from n32.
  public var magic: [UInt8] { Array(fullMagic.prefix(comparedLength)) }
  public var mask: [UInt8] { Array(fullMask.prefix(comparedLength)) }

  /// Trailing bytes the mask ignores are left out: for little-endian MIPS the n32 bit is in
  /// byte 36, so 37 bytes are compared; for big-endian, byte 39 (40 bytes).
  var comparedLength: Int {
    let m = fullMask
    return (m.lastIndex(where: { $0 != 0 }) ?? (m.count - 1)) + 1
  }

  var fullMagic: [UInt8] {
    var m: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, elfClass.rawValue, byteOrder.rawValue, 1, 0]
    m += [UInt8](repeating: 0, count: 8)
    m += byteOrder.bytes(UInt16(2))  // ET_EXEC; the mask lets ET_DYN (3) through
    m += byteOrder.bytes(machine)
    if let n32 = mipsN32 {
      m += [UInt8](repeating: 0, count: 16)  // e_version … e_shoff: not compared
      m += byteOrder.bytes(UInt32(n32 ? ELFFlags.mipsABI2 : 0))
    }
    return m
  }

  var fullMask: [UInt8] {
    var m: [UInt8] = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, osabiMask, abiVersionMask]
    m += [UInt8](repeating: 0xff, count: 7)
    m += byteOrder.bytes(UInt16(0xfffe))  // e_type: 2 or 3
    m += [0xff, 0xff]
    if mipsN32 != nil {
      m += [UInt8](repeating: 0, count: 16)
      m += byteOrder.bytes(UInt32(ELFFlags.mipsABI2))
    }
    return m
  }

  public func registration(
    interpreter: String? = nil, flags: BinfmtFlags = Architecture.defaultFlags
  ) -> Registration {
    Registration(
      name: entryName, match: .magic(offset: 0, magic: magic, mask: mask),
      interpreter: interpreter ?? staticInterpreter, flags: flags)
  }

  /// `F` so the entry works inside containers and chroots whose root has no qemu;
  /// `P` so programs that look at argv[0] (busybox, multi-call binaries) keep working.
  /// `C` is never a default: it runs the interpreter with a setuid binary's privileges.
  public static let defaultFlags: BinfmtFlags = [.preserveArgv0, .fixBinary]

  /// All names that resolve to this entry (canonical, qemu-, aliases, OCI, Debian).
  public var allNames: [String] {
    var n = [name, entryName] + aliases
    if let ociPlatform { n.append(ociPlatform) }
    if let debianArch { n.append(debianArch) }
    var seen = Set<String>()
    return n.filter { seen.insert($0.lowercased()).inserted }
  }
}

public enum ELFClass: UInt8, Sendable, Hashable {
  case elf32 = 1
  case elf64 = 2
  public var bits: Int { self == .elf32 ? 32 : 64 }
  public var headerSize: Int { self == .elf32 ? 52 : 64 }
}

public enum ByteOrder: UInt8, Sendable, Hashable {
  case little = 1
  case big = 2
  public var short: String { self == .little ? "LSB" : "MSB" }

  func bytes(_ v: UInt16) -> [UInt8] {
    self == .little ? [UInt8(v & 0xff), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xff)]
  }
  func bytes(_ v: UInt32) -> [UInt8] {
    let b = [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)]
    return self == .little ? b : b.reversed()
  }
}

/// e_machine values (ELF gABI and the psABIs).
public enum EM {
  public static let sparc: UInt16 = 2
  public static let i386: UInt16 = 3
  public static let m68k: UInt16 = 4
  public static let i486: UInt16 = 6
  public static let mips: UInt16 = 8
  public static let parisc: UInt16 = 15
  public static let sparc32plus: UInt16 = 18
  public static let ppc: UInt16 = 20
  public static let ppc64: UInt16 = 21
  public static let s390: UInt16 = 22
  public static let arm: UInt16 = 40
  public static let sh: UInt16 = 42
  public static let sparcv9: UInt16 = 43
  // swift-format-ignore: AlwaysUseLowerCamelCase
  public static let x86_64: UInt16 = 62
  public static let cris: UInt16 = 76
  public static let or1k: UInt16 = 92
  public static let xtensa: UInt16 = 94
  public static let nios2: UInt16 = 113
  public static let hexagon: UInt16 = 164
  public static let aarch64: UInt16 = 183
  public static let microblaze: UInt16 = 189
  public static let riscv: UInt16 = 243
  public static let loongarch: UInt16 = 258
  public static let alpha: UInt16 = 0x9026  // unofficial, used by all Linux/alpha toolchains
  public static let microblazeOld: UInt16 = 0xbaab
}

public enum ELFFlags {
  public static let mipsABI2: UInt32 = 0x20
}

public struct Catalog: Sendable {
  public let architectures: [Architecture]

  public static let standard = Catalog(architectures: Catalog.entries)

  /// Resolves anything a person might type: `arm64`, `linux/arm64/v8`, `qemu-aarch64`,
  /// `ppc64el`, `AMD64` … to one entry.
  public func resolve(_ name: String) -> Architecture? {
    let key = Catalog.normalize(name)
    return architectures.first { $0.allNames.contains { Catalog.normalize($0) == key } }
  }

  public func resolve(names: [String]) throws(BinfmtError) -> [Architecture] {
    var out: [Architecture] = []
    for n in names {
      guard let a = resolve(n) else {
        let suggestion = suggest(n).map { "; did you mean '\($0)'?" } ?? ""
        throw BinfmtError(
          .invalidInput, "unknown architecture '\(n)'", at: "argument",
          fix: "binfmtctl arch list shows the known names\(suggestion)")
      }
      if !out.contains(a) { out.append(a) }
    }
    return out
  }

  func suggest(_ name: String) -> String? {
    let key = Catalog.normalize(name)
    var best: (String, Int)?
    for a in architectures {
      for n in a.allNames {
        let d = editDistance(key, Catalog.normalize(n))
        if d <= 2, best == nil || d < best!.1 { best = (n, d) }
      }
    }
    return best?.0
  }

  /// The entry whose magic/mask match this header, as the kernel would decide.
  public func match(header: [UInt8]) -> [Architecture] {
    architectures.filter { $0.registration().matches(header: header) }
  }

  /// The family the host runs natively, from `uname -m`.
  public func hostFamily(unameMachine: String) -> String? {
    architectures.first { $0.unameMachines.contains(unameMachine) }?.family
  }

  public func isNative(_ arch: Architecture, unameMachine: String) -> Bool {
    hostFamily(unameMachine: unameMachine) == arch.family
  }

  static func normalize(_ s: String) -> String {
    var t = s.lowercased()
    if t.hasPrefix("linux/") { t.removeFirst(6) }
    if t.hasSuffix("-static") { t.removeLast(7) }
    return t
  }
}

func editDistance(_ a: String, _ b: String) -> Int {
  let a = Array(a.utf8)
  let b = Array(b.utf8)
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var prev = Array(0...b.count)
  var cur = prev
  for i in 1...a.count {
    cur[0] = i
    for j in 1...b.count {
      cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
    }
    swap(&prev, &cur)
  }
  return prev[b.count]
}

extension Catalog {
  /// The names shell completion offers for an architecture argument: each canonical name and
  /// its Debian name (`aarch64`, `arm64`; `arm`, `armhf`), once each, sorted. Aliases and OCI
  /// platforms resolve too but would bury the short list under spellings of the same thing.
  public var completionNames: [String] {
    var seen = Set<String>()
    return architectures.flatMap { [$0.name] + ($0.debianArch.map { [$0] } ?? []) }
      .filter { seen.insert($0).inserted }.sorted()
  }
}
