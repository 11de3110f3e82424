import Testing

@testable import BinfmtKit

/// A minimal ELF header for an architecture, as a compiler for it would write.
func syntheticHeader(_ a: Architecture, type: UInt16 = 2) -> [UInt8] {
  var h = [UInt8](repeating: 0, count: a.elfClass.headerSize)
  h[0...3] = [0x7f, 0x45, 0x4c, 0x46]
  h[4] = a.elfClass.rawValue
  h[5] = a.byteOrder.rawValue
  h[6] = 1
  h[7] = a.osabiMask == 0 ? 3 : 0
  func put(_ o: Int, _ bytes: [UInt8]) { for (i, b) in bytes.enumerated() { h[o + i] = b } }
  put(16, a.byteOrder.bytes(type))
  put(18, a.byteOrder.bytes(a.machine))
  put(20, a.byteOrder.bytes(UInt32(1)))
  if a.mipsN32 == true { put(36, a.byteOrder.bytes(UInt32(0x2000_0020))) }
  if a.mipsN32 == false { put(36, a.byteOrder.bytes(UInt32(0x7000_1000))) }
  return h
}

@Suite struct CatalogTests {
  let c = Catalog.standard

  @Test func coversEveryQemuUserTarget() {
    let required = [
      "i386", "i486", "x86_64", "aarch64", "aarch64_be", "arm", "armeb", "alpha", "hppa", "m68k",
      "microblaze", "microblazeel", "mips", "mipsel", "mipsn32", "mipsn32el", "mips64", "mips64el", "or1k",
      "ppc", "ppc64", "ppc64le", "riscv32", "riscv64", "s390x", "sh4", "sh4eb", "sparc", "sparc32plus",
      "sparc64", "xtensa", "xtensaeb", "loongarch64", "hexagon",
    ]
    for r in required { #expect(c.architectures.contains { $0.name == r }, "\(r)") }
  }

  /// The sample header is the magic the catalog derives, zero-padded to 64 bytes, and
  /// matching an architecture without building it agrees with matching the built header.
  @Test func sampleMatchingAgreesWithTheBuiltHeader() throws {
    for a in c.architectures {
      #expect(a.sampleHeader == a.fullMagic + [UInt8](repeating: 0, count: 64 - a.fullMagic.count), "\(a.name)")
    }
    var regs = c.architectures.map { $0.registration() }
    // An offset, a short mask and no mask at all.
    regs.append(try Registration.parse(":o:M:18:\\xb7::/q:"))
    regs.append(try Registration.parse(":s:M::\\x7fELF\\x02\\x01\\x01:\\xff\\xff\\xff\\xff\\x00\\xff\\xff:/q:"))
    regs.append(try Registration.parse(":e:E::elf::/q:"))
    for r in regs {
      for a in c.architectures {
        #expect(r.matches(a) == r.matches(header: a.sampleHeader), "\(r.name) \(a.name)")
      }
    }
  }

  @Test func namesAreUnambiguous() {
    var owner: [String: String] = [:]
    for a in c.architectures {
      for n in a.allNames {
        let k = Catalog.normalize(n)
        #expect(owner[k] == nil || owner[k] == a.name, "\(n) is claimed by \(owner[k] ?? "") and \(a.name)")
        owner[k] = a.name
      }
    }
  }

  @Test(arguments: [
    ("arm64", "aarch64"), ("linux/arm64/v8", "aarch64"), ("amd64", "x86_64"), ("386", "i386"),
    ("ppc64el", "ppc64le"), ("mips64le", "mips64el"), ("loong64", "loongarch64"), ("armhf", "arm"),
    ("armv7", "arm"), ("linux/arm/v7", "arm"), ("armel", "arm"), ("qemu-riscv64", "riscv64"),
    ("AMD64", "x86_64"), ("linux/386", "i386"), ("qemu-s390x-static", "s390x"), ("powerpc", "ppc"),
  ])
  func resolvesAliases(name: String, expected: String) {
    #expect(c.resolve(name)?.name == expected)
  }

  @Test func unknownNameSuggests() {
    #expect {
      try c.resolve(names: ["arm65"])
    } throws: { e in
      (e as? BinfmtError)?.fix?.contains("arm64") == true
    }
  }

  @Test func magicAndMaskAreConsistent() {
    for a in c.architectures {
      #expect(a.magic.count == a.mask.count, "\(a.name)")
      #expect(zip(a.magic, a.mask).allSatisfy { $0 & ~$1 == 0 }, "\(a.name): magic has bits outside its mask")
    }
  }

  /// Every architecture's header is taken by its own entry and by no other: the kernel's
  /// masked compare, as binfmt_misc does it (ET_EXEC and ET_DYN both).
  @Test func eachHeaderMatchesExactlyItsOwnEntry() {
    for a in c.architectures {
      for type: UInt16 in [2, 3] {
        let h = syntheticHeader(a, type: type)
        #expect(c.match(header: h).map(\.name) == [a.name], "\(a.name) type \(type)")
        let decoded = try? ELFHeader.decode(h)
        #expect(decoded.flatMap { c.architecture(for: $0) }?.name == a.name)
      }
      // Relocatable objects and core files are not handed to an interpreter.
      #expect(c.match(header: syntheticHeader(a, type: 1)).isEmpty)
    }
  }

  @Test func nativeFamilies() {
    let x86 = c.architectures.filter { c.isNative($0, unameMachine: "x86_64") }.map(\.name)
    #expect(Set(x86) == ["i386", "i486", "x86_64"])
    let arm = c.architectures.filter { c.isNative($0, unameMachine: "aarch64") }.map(\.name)
    #expect(Set(arm) == ["aarch64", "arm"])
  }

  @Test func abiDecoding() throws {
    var h = try ELFHeader.decode(syntheticHeader(c.resolve("arm")!))
    h.flags = 0x0500_0400
    #expect(ELFABI.decode(h).summary == "EABI5 hard-float")
    h.flags = 0x0500_0200
    #expect(ELFABI.decode(h).summary == "EABI5 soft-float")
    var m = try ELFHeader.decode(syntheticHeader(c.resolve("mipsn32")!))
    #expect(ELFABI.decode(m).tags.prefix(2) == ["n32", "mips3"])
    m.flags = 0x9000_1400
    #expect(ELFABI.decode(m).tags == ["o32", "mips32r6", "nan2008"])
    #expect(!ELFABI.decode(m).notes.isEmpty)
    var r = try ELFHeader.decode(syntheticHeader(c.resolve("riscv64")!))
    r.flags = 0x5
    #expect(ELFABI.decode(r).summary == "lp64d rvc")
    var p = try ELFHeader.decode(syntheticHeader(c.resolve("ppc64")!))
    p.flags = 2
    #expect(ELFABI.decode(p).summary == "ELFv2")
  }

  @Test func truncatedAndCorruptHeaders() {
    let h = syntheticHeader(c.resolve("aarch64")!)
    #expect(throws: BinfmtError.self) { try ELFHeader.decode(Array(h.prefix(10))) }
    #expect(throws: BinfmtError.self) { try ELFHeader.decode(Array(h.prefix(63))) }
    var bad = h
    bad[4] = 7
    #expect(throws: BinfmtError.self) { try ELFHeader.decode(bad) }
    var hdr = try! ELFHeader.decode(h)
    hdr.phoff = UInt64.max - 10
    hdr.phnum = 3
    hdr.phentsize = 56
    #expect(throws: BinfmtError.self) { try hdr.validateProgramHeaders(fileSize: 100) }
  }

  @Test func fileFormats() {
    #expect(FileFormat.sniff([0x4d, 0x5a, 0x90, 0], size: 4) != .elf)
    if case .foreign(let v) = FileFormat.sniff([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 61], size: 8) {
      #expect(v.hasPrefix("Java class file (class version 61)"))
    } else {
      Issue.record("not foreign")
    }
    if case .foreign(let v) = FileFormat.sniff([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2], size: 8) {
      #expect(v.hasPrefix("Mach-O universal"))
    } else {
      Issue.record("not foreign")
    }
    if case .script(let s) = FileFormat.sniff(Array("#!/bin/sh\r\necho\r\n".utf8), size: 17) {
      #expect(s.interpreter == "/bin/sh\r" && s.crlf && s.problem != nil)
    } else {
      Issue.record("not a script")
    }
    if case .script(let s) = FileFormat.sniff(Array("#! /usr/bin/env  python3 -u \n".utf8), size: 29) {
      #expect(s.interpreter == "/usr/bin/env" && s.argument == "python3 -u" && s.problem == nil)
    } else {
      Issue.record("not a script")
    }
  }

  @Test func jsonIsSortedAndEscaped() {
    let j = JSON.object(["b": .int(1), "a": .string("x\"\n\u{1}")])
    #expect(j.render(indent: nil) == "{\"a\":\"x\\\"\\n\\u0001\",\"b\":1}")
  }

  /// The byte-level escaper against a scalar-by-scalar statement of the rule, over every
  /// scalar up to U+0200, the escape scalars of non-UTF-8 bytes and their neighbours, and
  /// multi-byte text around them.
  @Test func jsonEscapesExactlyTheRule() {
    func reference(_ s: String) -> String {
      var out = "\""
      for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where u.value < 0x20 || (0x7f...0x9f).contains(u.value):
          let h = String(u.value, radix: 16)
          out += "\\u00" + (h.count == 1 ? "0" + h : h)
        case _ where (0xF780...0xF7FF).contains(u.value): out += "\\ufffd"
        default: out.unicodeScalars.append(u)
        }
      }
      return out + "\""
    }
    var scalars = (0..<0x200).compactMap(Unicode.Scalar.init)
    scalars += [0xF77F, 0xF780, 0xF7AB, 0xF7FF, 0xF800, 0xFFFD, 0x1F600, 0x2028].compactMap(Unicode.Scalar.init)
    for u in scalars {
      for s in [String(u), "a" + String(u) + "é", String(u) + String(u) + "z"] {
        #expect(JSON.string(s).render(indent: nil) == reference(s), "U+\(String(u.value, radix: 16))")
      }
    }
  }
}
