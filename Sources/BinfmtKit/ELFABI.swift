/// What e_flags (and class/byte order) say about the ABI, in the words people use:
/// "EABI5 hard-float", "o32 mips32r2", "ELFv2", "lp64d rvc".
public struct ELFABI: Hashable, Sendable {
  /// Short human description, empty when the flags say nothing for this machine.
  public var summary: String
  /// Individual facts, stable identifiers for JSON (`eabi5`, `hard-float`, `n32`, `elfv2` …).
  public var tags: [String]
  /// Remarks that change which emulator or CPU model is needed.
  public var notes: [String]

  public static func decode(_ h: ELFHeader) -> ELFABI {
    let f = h.flags
    var tags: [String] = []
    var notes: [String] = []
    switch h.machine {
    case EM.arm:
      let eabi = f >> 24
      if eabi == 0 {
        tags.append("oabi")
        notes.append("old ARM ABI (pre-EABI): current qemu and kernels do not run it")
      } else {
        tags.append("eabi\(eabi)")
      }
      if f & 0x400 != 0 { tags.append("hard-float") } else if f & 0x200 != 0 { tags.append("soft-float") }
      if f & 0x0080_0000 != 0 { tags.append("be8") }
    case EM.mips:
      if h.elfClass == .elf64 {
        tags.append("n64")
      } else if f & ELFFlags.mipsABI2 != 0 {
        tags.append("n32")
      } else {
        switch f & 0xf000 {
        case 0x2000: tags.append("o64")
        case 0x3000: tags.append("eabi32")
        case 0x4000: tags.append("eabi64")
        default: tags.append("o32")
        }
      }
      let isa = [
        "mips1", "mips2", "mips3", "mips4", "mips5", "mips32", "mips64", "mips32r2",
        "mips64r2", "mips32r6", "mips64r6",
      ]
      let level = Int(f >> 28)
      if level < isa.count { tags.append(isa[level]) }
      if level >= 9 {
        notes.append("MIPS Release 6: qemu needs an R6 CPU model (-cpu I6400 / I6500 / mips32r6-generic)")
      }
      if f & 0x400 != 0 { tags.append("nan2008") }
      if f & 0x200 != 0 { tags.append("fp64") }
    case EM.riscv:
      let lp = h.elfClass == .elf64 ? "lp64" : "ilp32"
      switch f & 0x6 {
      case 0x2: tags.append(lp + "f")
      case 0x4: tags.append(lp + "d")
      case 0x6: tags.append(lp + "q")
      default: tags.append(f & 0x8 != 0 ? "ilp32e" : lp)
      }
      if f & 0x1 != 0 { tags.append("rvc") }
      if f & 0x10 != 0 { tags.append("tso") }
    case EM.ppc64:
      switch f & 0x3 {
      case 1: tags.append("elfv1")
      case 2: tags.append("elfv2")
      default: tags.append(h.byteOrder == .little ? "elfv2" : "elfv1")
      }
    case EM.sparc32plus:
      tags.append("v8plus")
      if f & 0x200 != 0 { tags.append("ultrasparc1") }
      if f & 0x800 != 0 { tags.append("ultrasparc3") }
    case EM.sparcv9:
      tags.append(["tso", "pso", "rmo", "mm3"][Int(f & 0x3)])
    case EM.loongarch:
      switch f & 0x7 {
      case 1: tags.append("soft-float")
      case 2: tags.append("single-float")
      case 3: tags.append("double-float")
      default: break
      }
      tags.append("objabi-v\((f >> 6) & 0x3)")
    default:
      break
    }
    return ELFABI(summary: summarize(h.machine, tags), tags: tags, notes: notes)
  }

  static func summarize(_ machine: UInt16, _ tags: [String]) -> String {
    let words = tags.map { t -> String in
      switch t {
      case let e where e.hasPrefix("eabi") && machine == EM.arm: return "EABI" + e.dropFirst(4)
      case "oabi": return "OABI"
      case "elfv1": return "ELFv1"
      case "elfv2": return "ELFv2"
      case "v8plus": return "V8+"
      default: return t
      }
    }
    return ByteText.join(words, " ")
  }
}

extension Catalog {
  /// The catalog entry for an ELF header by its fields (class, byte order, machine, and the
  /// n32 bit for 32-bit MIPS), whatever its type: relocatable objects and core files too.
  public func architecture(for h: ELFHeader) -> Architecture? { architecture(for: MachineKey(h)) }

  /// The catalog entry for the fields `MachineKey` keeps (what `scan` counts by).
  public func architecture(for key: MachineKey) -> Architecture? {
    architectures.first { a in
      guard a.elfClass == key.elfClass, a.byteOrder == key.byteOrder, a.machine == key.machine else {
        return false
      }
      if let n32 = a.mipsN32 { return n32 == key.mipsN32 }
      return true
    }
  }
}

/// The fields of an ELF header that decide its catalog architecture: class, byte order,
/// machine (the old MicroBlaze number folded into the new one) and, for 32-bit MIPS, the n32
/// bit of e_flags. Small and hashable, so `scan` counts files by it and looks the
/// architecture up once per key, not once per file.
public struct MachineKey: Hashable, Sendable {
  public var elfClass: ELFClass
  public var byteOrder: ByteOrder
  public var machine: UInt16
  /// EF_MIPS_ABI2 of a 32-bit MIPS file; false for every other machine.
  public var mipsN32: Bool

  public init(_ h: ELFHeader) {
    elfClass = h.elfClass
    byteOrder = h.byteOrder
    machine = h.machine == EM.microblazeOld ? EM.microblaze : h.machine
    mipsN32 = machine == EM.mips && h.elfClass == .elf32 && h.flags & ELFFlags.mipsABI2 != 0
  }

  /// "AArch64 ELF64 LSB": how a machine without a catalog entry is named.
  public var description: String { "\(ELFNames.machine(machine)) ELF\(elfClass.bits) \(byteOrder.short)" }
}

extension Architecture {
  /// OCI platform and Debian architecture, refined by the ABI where one catalog entry serves
  /// several (32-bit ARM: hard-float is Debian armhf / linux/arm/v7, soft-float armel / v5).
  public func platform(abi: ELFABI) -> (oci: String?, debian: String?) {
    if name == "arm" && abi.tags.contains("soft-float") { return ("linux/arm/v5", "armel") }
    return (ociPlatform, debianArch)
  }
}
