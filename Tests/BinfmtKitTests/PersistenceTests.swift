import Testing

@testable import BinfmtKit

struct PersistenceTests {
  let arm64 = Catalog.standard.resolve("arm64")!

  @Test func wslConfKeepsEverythingElseByteForByte() throws {
    let original =
      "# my settings\r\n[network]\r\nhostname = box ; inline\r\n\r\n[boot]\r\nsystemd=false\r\n[user]\r\ndefault=me\r\n"
    let added = try WSLConf.add("/usr/local/bin/binfmtctl boot", to: original, file: "wsl.conf")
    #expect(
      added.contains("[boot]\r\n" + WSLConf.marker + "\r\ncommand = /usr/local/bin/binfmtctl boot\r\nsystemd=false"))
    #expect(WSLConf.bootCommand(added) == "/usr/local/bin/binfmtctl boot")
    #expect(try WSLConf.add("/usr/local/bin/binfmtctl boot", to: added, file: "wsl.conf") == added)  // idempotent
    #expect(WSLConf.remove(from: added) == original)

    // No [boot] section: one is added at the end and removed again, even without a final newline.
    let plain = "[automount]\nenabled = true"
    let withBoot = try WSLConf.add("/x boot", to: plain, file: "wsl.conf")
    #expect(withBoot.hasSuffix("[boot]\n" + WSLConf.sectionMarker + "\n" + WSLConf.marker + "\ncommand = /x boot\n"))
    #expect(WSLConf.remove(from: withBoot) == plain + "\n")
    #expect(WSLConf.remove(from: try WSLConf.add("/x boot", to: "", file: "w")) == "")

    // Someone else's boot command: refused, not overwritten.
    #expect(throws: BinfmtError.self) {
      try WSLConf.add("/x boot", to: "[boot]\ncommand = service docker start\n", file: "w")
    }
    #expect(WSLConf.systemdEnabled("[boot]\nsystemd = true\n"))
    #expect(!WSLConf.systemdEnabled("[other]\nsystemd = true\n"))
  }

  @Test func precedenceMaskingAndOrder() throws {
    let debian = ":qemu-aarch64:M::\\x7fELF::/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF\n"
    let ours = try Persistence.fileText(arm64.registration(), architecture: arm64)
    let files = [
      ConfFile(directory: "/usr/lib/binfmt.d", name: "qemu-aarch64.conf", kind: .text(debian)),
      ConfFile(directory: "/etc/binfmt.d", name: Persistence.fileName(entry: "qemu-aarch64"), kind: .text(ours)),
      ConfFile(directory: "/usr/lib/binfmt.d", name: "qemu-s390x.conf", kind: .text(":qemu-s390x:M::ab::/x:F\n")),
      ConfFile(directory: "/etc/binfmt.d", name: "qemu-s390x.conf", kind: .mask),
      ConfFile(directory: "/usr/lib/binfmt.d", name: "qemu-arm.conf", kind: .text(":qemu-arm:M::ab::/usr:F\n")),
      ConfFile(directory: "/run/binfmt.d", name: "qemu-arm.conf", kind: .text(":qemu-arm:M::ab::/run:F\n")),
    ]
    let c = BootConfiguration.resolve(files)
    #expect(
      c.effective.map(\.path) == [
        "/usr/lib/binfmt.d/qemu-aarch64.conf", "/run/binfmt.d/qemu-arm.conf",
        "/etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf",
      ])
    #expect(c.masked.map(\.file.path) == ["/usr/lib/binfmt.d/qemu-s390x.conf"])
    #expect(c.overridden.map(\.file.path) == ["/usr/lib/binfmt.d/qemu-arm.conf"])
    #expect(c.ours.map(\.registration) == [arm64.registration()])
    // Ours sorts after Debian's, so it is what systemd-binfmt leaves live.
    #expect(c.definitions(of: "qemu-aarch64").last?.file.directory == "/etc/binfmt.d")
    let r = PersistenceReport.make(config: c, live: [], managed: [], systemdApplies: true)
    #expect(
      r.notes.contains {
        $0.entry == "qemu-aarch64"
          && $0.text.hasPrefix(
            "qemu-aarch64: defined in /usr/lib/binfmt.d/qemu-aarch64.conf, then /etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf, applied in that order at boot; ours wins"
          )
      })
    #expect(
      r.notes.contains(
        PersistenceNote(
          entry: "qemu-s390x", "/usr/lib/binfmt.d/qemu-s390x.conf is masked by /etc/binfmt.d/qemu-s390x.conf")))
    #expect(r.missingNow.map(\.entry) == ["qemu-aarch64"])
  }

  @Test func driftStates() throws {
    let reg = arm64.registration()
    let c = BootConfiguration.resolve([
      ConfFile(
        directory: "/etc/binfmt.d", name: Persistence.fileName(entry: reg.name),
        kind: .text(try Persistence.fileText(reg, architecture: arm64)))
    ])
    func live(_ r: Registration) -> KernelEntryStatus {
      KernelEntryStatus(name: r.name, enabled: true, interpreter: r.interpreter, flags: r.flags, match: r.match)
    }
    var changed = reg
    changed.flags = [.fixBinary]
    let s390 = Catalog.standard.resolve("s390x")!.registration()
    let same = PersistenceReport.make(
      config: c, live: [live(reg), live(s390)], managed: [s390.name], systemdApplies: true)
    #expect(same.live[reg.name]?.drift == .both)
    #expect(same.live[s390.name]?.drift == .liveOnly)
    #expect(same.problems.map(\.code) == [.lostAtReboot])
    let differs = PersistenceReport.make(config: c, live: [live(changed)], managed: [], systemdApplies: true)
    #expect(differs.live[reg.name]?.drift == .differs)
    #expect(differs.problems.map(\.code) == [.differsFromPersisted])
    // A file without our marker is not ours, whatever its name.
    let foreign = BootConfiguration.resolve([
      ConfFile(
        directory: "/etc/binfmt.d", name: Persistence.fileName(entry: reg.name),
        kind: .text(reg.registerString() + "\n"))
    ])
    #expect(foreign.ours.isEmpty)
  }

  @Test func ourFileNamesRoundTrip() throws {
    #expect(Persistence.entryName(fileName: "zz-binfmtctl-qemu-aarch64.conf") == "qemu-aarch64")
    #expect(Persistence.entryName(fileName: "qemu-aarch64.conf") == nil)
    #expect(Persistence.entryName(fileName: "zz-binfmtctl-status.conf") == nil)
    #expect(Persistence.isOurs(try Persistence.fileText(arm64.registration(), architecture: arm64)))
    #expect(!Persistence.isOurs("# hello\n" + Persistence.marker + "\n"))
  }
}
