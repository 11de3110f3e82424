import BinfmtKit
import ELF
import Foundation
import LinuxSystem
import Testing

/// `readelf`'s view of a file, parsed from `readelf -h -l -n -W`.
struct ReadelfView {
  var cls = "", data = "", type = "", machine = "", flags = "", interp: String?, buildID: String?

  init(_ path: String) throws {
    let r = try run("/usr/bin/readelf", ["-h", "-l", "-n", "-W", path])
    for line in r.stdout.split(separator: "\n") {
      let t = line.trimmingCharacters(in: .whitespaces)
      func value() -> String {
        String(t[t.index(after: t.firstIndex(of: ":")!)...]).trimmingCharacters(in: .whitespaces)
      }
      if t.hasPrefix("Class:") { cls = value() }
      if t.hasPrefix("Data:") { data = value() }
      if t.hasPrefix("Type:") { type = value() }
      if t.hasPrefix("Flags:") { flags = value() }
      if t.hasPrefix("Machine:") { machine = value() }
      if t.hasPrefix("[Requesting program interpreter:") {
        interp = String(t.dropFirst("[Requesting program interpreter: ".count).dropLast())
      }
      if let r = t.range(of: "Build ID: ") { buildID = String(t[r.upperBound...]) }
    }
  }
}

@Suite struct FixtureTests {
  let catalog = Catalog.standard

  /// inspect agrees with readelf -h / -l / -n on every real binary.
  @Test func inspectAgreesWithReadelf() throws {
    let paths = try Env.allFixtures() + ["/bin/ls", "/usr/bin/qemu-aarch64-static"]
    let r = try run(Env.binary, ["inspect", "--json"] + paths)
    #expect(r.status == 0, "\(r.stderr)")
    let items = try #require(try json(r.stdout) as? [[String: Any]])
    #expect(items.count == paths.count)
    for item in items {
      let path = item["path"] as! String
      let elf = try #require(item["elf"] as? [String: Any], "\(path)")
      let re = try ReadelfView(path)
      #expect(re.cls == "ELF\(elf["class"] as! Int)", "\(path)")
      #expect(re.data.contains(elf["byteOrder"] as! String == "LSB" ? "little endian" : "big endian"), "\(path)")
      let type = elf["type"] as! String
      #expect(re.type.hasPrefix(type == "exec" ? "EXEC" : "DYN"), "\(path)")
      #expect(re.flags.hasPrefix(elf["flags"] as! String), "\(path): readelf \(re.flags)")
      #expect(re.interp == elf["interpreter"] as? String, "\(path)")
      #expect(re.buildID == elf["buildID"] as? String, "\(path)")
      #expect(elf["architecture"] is String, "\(path)")
    }
  }

  /// The Swift header decoder and libelf read the same values from every fixture.
  @Test func swiftDecoderAgreesWithLibelf() throws {
    for path in try Env.allFixtures() + ["/bin/ls", "/usr/bin/qemu-aarch64-static"] {
      let head = try FileHead.read(path)
      let h = try ELFHeader.decode(head.bytes)
      let s = try LibELF.readSegments(path: path)
      #expect(h.type == s.type && h.machine == s.machine && h.flags == s.flags, "\(path)")
      #expect(h.phoff == s.phoff && Int(h.phnum) == s.phnum && h.entry == s.entry, "\(path)")
      // The light program-header reader `status` and `install` use on emulators agrees too.
      let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
      let table = Array(bytes.dropFirst(Int(h.phoff)).prefix(Int(h.phnum) * Int(h.phentsize)))
      #expect(ELFProgramHeader.decodeTable(table, header: h) == s.programHeaders, "\(path)")
      #expect(elfHasInterpreter(path) == (s.interpreter != nil), "\(path)")
    }
  }

  /// Each real binary is taken by its own catalog entry and no other (the kernel's masked
  /// compare over the file's first 256 bytes).
  @Test(arguments: [
    ("busybox-arm64", "aarch64"), ("busybox-armhf", "arm"), ("busybox-armel", "arm"), ("busybox-i386", "i386"),
    ("busybox-ppc64el", "ppc64le"), ("busybox-s390x", "s390x"), ("busybox-mips64el", "mips64el"),
    ("busybox-mipsel", "mipsel"), ("hello-arm64", "aarch64"), ("hello-armhf", "arm"),
  ])
  func realBinaryMatchesOnlyItsEntry(file: String, arch: String) throws {
    let head = try FileHead.read(try Env.fixture(file))
    #expect(catalog.match(header: head.bytes).map(\.name) == [arch])
    #expect(catalog.architecture(for: try ELFHeader.decode(head.bytes))?.name == arch)
  }

  /// Compares the catalog with the files Debian's qemu-user-static installs. Every
  /// difference must be one of the deliberate ones listed here.
  @Test func catalogAgreesWithDebianTables() throws {
    let dir = "/usr/lib/binfmt.d"
    let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
      $0.hasPrefix("qemu-") && $0.hasSuffix(".conf")
    }
    try #require(files.count >= 25, "qemu-user-static's binfmt.d files are missing (make test-deps)")
    let deliberate: [String: String] = [
      // Debian matches the pre-standard EM 0xbaab; binutils writes EM_MICROBLAZE (189).
      "microblaze": "magic",
      // qemu's table ignores e_machine's high byte for ppc64le; we compare all of it.
      "ppc64le": "mask",
    ]
    var compared = 0
    for f in files {
      let text = try String(contentsOfFile: "\(dir)/\(f)", encoding: .utf8)
      let entry = try #require(BinfmtDFile.parse(text, file: f).entries.first).registration
      let name = String(entry.name.dropFirst("qemu-".count))
      guard let a = catalog.resolve(name), a.name == name else {
        Issue.record("Debian has \(entry.name), the catalog does not")
        continue
      }
      guard case .magic(_, let magic, let mask) = entry.match else { continue }
      let why = deliberate[name]
      #expect(magic == a.magic || why == "magic", "\(name): magic differs from Debian")
      #expect(mask == a.mask || why == "mask", "\(name): mask differs from Debian")
      if let why { #expect((why == "magic" ? magic != a.magic : mask != a.mask), "\(name): listed difference is gone") }
      compared += 1
    }
    #expect(compared >= 25)
  }
}
