import BinfmtKit
import Foundation
import Testing

/// The probe programs, checked against the catalog's own matching and then run for real
/// under each qemu-user emulator, with several exit codes so a constant cannot pass.
@Suite struct ProbeProgramTests {
  static let required = [
    "aarch64", "arm", "armeb", "i386", "x86_64", "ppc64le", "ppc64", "s390x", "riscv64", "riscv32",
    "mips", "mipsel", "mips64", "mips64el", "loongarch64",
  ]

  static func arch(_ name: String) throws -> Architecture {
    try #require(Catalog.standard.resolve(name), "\(name) is not in the catalog")
  }

  @Test func coversTheRequiredArchitectures() {
    let supported = ProbeProgram.supported
    for name in Self.required { #expect(supported.contains(name), "no probe for \(name)") }
    let catalogOrder = Catalog.standard.architectures.map(\.name).filter(supported.contains)
    #expect(supported == catalogOrder)
    for a in Catalog.standard.architectures where !supported.contains(a.name) {
      #expect(ProbeProgram.executable(for: a, exitCode: 0) == nil)
    }
  }

  /// The kernel would hand the file to this entry's interpreter and to no other's.
  @Test(arguments: ProbeProgram.supported)
  func matchesOnlyItsOwnEntry(name: String) throws {
    let arch = try Self.arch(name)
    let bytes = try #require(ProbeProgram.executable(for: arch, exitCode: 42))
    #expect(arch.registration().matches(header: bytes))
    #expect(Catalog.standard.match(header: bytes).map(\.name) == [name])

    let header = try ELFHeader.decode(bytes)
    #expect(Catalog.standard.architecture(for: header) == arch)
    #expect(header.type == 2 && header.phnum == 1 && header.shnum == 0)
    #expect(Int(header.phentsize) == header.expectedPhentsize)
    try header.validateProgramHeaders(fileSize: UInt64(bytes.count))
    #expect(header.entry >= 0x40_0000 && header.entry < 0x40_0000 + UInt64(bytes.count))
  }

  /// The exit code is an instruction operand: it changes code bytes, never the headers.
  @Test(arguments: ProbeProgram.supported)
  func exitCodeOnlyChangesCode(name: String) throws {
    let arch = try Self.arch(name)
    let a = try #require(ProbeProgram.executable(for: arch, exitCode: 42))
    let b = try #require(ProbeProgram.executable(for: arch, exitCode: 7))
    #expect(a.count == b.count)
    let headers = arch.elfClass == .elf64 ? 64 + 56 : 52 + 32
    let changed = a.indices.filter { a[$0] != b[$0] }
    #expect(!changed.isEmpty)
    #expect(changed.allSatisfy { $0 >= headers }, "\(name): bytes \(changed) differ")
  }

  /// e_flags say the ABI the code is written for, in the terms ELFABI reports.
  @Test(arguments: [
    ("arm", "eabi5"), ("armeb", "eabi5"), ("ppc64", "elfv1"), ("ppc64le", "elfv2"), ("mips", "o32"),
    ("mipsel", "o32"), ("mipsn32", "n32"), ("mipsn32el", "n32"), ("mips64", "n64"),
    ("mips64el", "n64"), ("loongarch64", "double-float"), ("sparc32plus", "v8plus"),
  ])
  func flagsNameTheABI(name: String, tag: String) throws {
    let bytes = try #require(ProbeProgram.executable(for: try Self.arch(name), exitCode: 0))
    #expect(ELFABI.decode(try ELFHeader.decode(bytes)).tags.contains(tag))
  }

  /// Probes whose emulator is installed; the rest are reported by `emulatorsInstalled`.
  static let runnable = ProbeProgram.supported.filter {
    Catalog.standard.resolve($0).map {
      FileManager.default.isExecutableFile(atPath: $0.staticInterpreter)
    } ?? false
  }

  /// The real test: qemu loads the file and the guest's exit code comes back.
  @Test(arguments: runnable)
  func runsUnderQemu(name: String) throws {
    let arch = try Self.arch(name)
    try expectExitCodes(arch, emulator: arch.staticInterpreter)
  }

  /// A probe that could not run is a skip with its reason, never a silent pass.
  @Test func emulatorsInstalled() throws {
    let missing = ProbeProgram.supported.filter { !Self.runnable.contains($0) }
    if !missing.isEmpty {
      let paths = try missing.map { try Self.arch($0).staticInterpreter }
      try Test.cancel("not run, emulator missing: \(paths.joined(separator: ", "))")
    }
  }

  /// On an x86-64 host the kernel runs the x86-64 probe itself, no emulator involved.
  @Test func x86_64RunsNatively() throws {
    #if arch(x86_64)
      try expectExitCodes(try Self.arch("x86_64"), emulator: nil)
    #else
      try Test.cancel("the host is not x86-64")
    #endif
  }

  /// Writes the probe for each code and runs it, under `emulator` or else directly.
  /// 255 has the high bit set: the targets whose immediates sign-extend must still get it.
  func expectExitCodes(_ arch: Architecture, emulator: String?) throws {
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    for code: UInt8 in [42, 7, 255] {
      let bytes = try #require(ProbeProgram.executable(for: arch, exitCode: code))
      let path = dir.appendingPathComponent("probe-\(arch.name)-\(code)").path
      try #require(
        FileManager.default.createFile(
          atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o755]))
      let r = try emulator.map { try run($0, [path], timeout: 30) } ?? run(path, [], timeout: 30)
      #expect(
        r.status == Int32(code), "\(arch.name) probe exited \(r.status), want \(code): \(r.stderr)")
    }
  }
}
