import BinfmtEngine
import BinfmtKit
import Foundation
import LinuxSystem
import SystemPackage
import Testing

/// `doctor`'s boot checks on temporary roots with systemd installed: persisted entries whose
/// service is masked, runs a missing binary, or is undone by a unit that empties the table.
@Suite struct DoctorBootTests {
  let arm64 = Catalog.standard.resolve("arm64")!

  /// A root where arm64 is persisted (binfmt.d file, binfmtctl.service, its wants link) and
  /// live, with the binary the unit runs in place.
  func persistedRoot() throws -> TestRoot {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    try root.mkdir("run/systemd/system")
    try root.write("/usr/bin/binfmtctl", "", mode: 0o755)
    _ = try Persister(root.context()).persist(
      Persister.Request(
        entries: EntryRequest(names: ["arm64"]), root: nil, initSystem: nil, execPath: "/usr/bin/binfmtctl",
        replace: false, noRegister: true, dryRun: false))
    try root.liveEntry(arm64.registration())
    return root
  }

  func codes(_ root: TestRoot) throws -> [String] {
    let d = try Doctor(root.context()).diagnose(
      .init(path: nil, root: nil, platform: nil, message: nil, probe: false))
    return d.findings.filter { $0.severity != .ok }.map(\.code.rawValue)
  }

  func finding(_ root: TestRoot, _ code: Finding.Code, platform: String? = nil) throws -> Finding? {
    let d = try Doctor(root.context()).diagnose(
      .init(path: nil, root: nil, platform: platform, message: nil, probe: false))
    return d.findings.first { $0.code == code }
  }

  func symlink(_ root: TestRoot, _ absolute: String, to target: String) throws {
    try? FileManager.default.removeItem(atPath: root.path(absolute).string)
    try root.mkdir(String(FilePath(absolute).removingLastComponent().string.dropFirst()))
    try FileManager.default.createSymbolicLink(atPath: root.path(absolute).string, withDestinationPath: target)
  }

  @Test func healthyPersistedRootHasNoBootFinding() throws {
    #expect(try codes(try persistedRoot()) == [])
  }

  @Test func serviceRunningAMissingBinary() throws {
    let root = try persistedRoot()
    try FileManager.default.removeItem(atPath: root.path("/usr/bin/binfmtctl").string)
    let f = try #require(try finding(root, .bootServiceExecMissing))
    #expect(f.message == "binfmtctl.service runs /usr/bin/binfmtctl, which does not exist: it fails at boot")
    #expect(f.fix == ["sudo binfmtctl persist"])
    // The same finding for a platform the entry serves.
    #expect(try finding(root, .bootServiceExecMissing, platform: "linux/arm64") != nil)
  }

  /// With the packaged unit (the .deb's /lib/systemd/system) enabled by persist, the boot
  /// checks read that unit: its ExecStart, and its wants link as "enabled".
  @Test func packagedUnitIsTheBootService() throws {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    try root.mkdir("run/systemd/system")
    try root.write("/usr/bin/binfmtctl", "", mode: 0o755)
    let vendor = "/lib/systemd/system/binfmtctl.service"
    try root.write(vendor, Units.systemdService(exec: "/usr/bin/binfmtctl", packaged: true))
    _ = try Persister(root.context()).persist(
      Persister.Request(
        entries: EntryRequest(names: ["arm64"]), root: nil, initSystem: nil, execPath: "/usr/bin/binfmtctl",
        replace: false, noRegister: true, dryRun: false))
    try root.liveEntry(arm64.registration())
    #expect(root.read(PersistLayout.unitPath) == nil && root.link(PersistLayout.wantsLink) == vendor)
    #expect(try codes(root) == [])
    // systemd-binfmt masked: the packaged unit is enabled, so the boot still registers.
    try symlink(root, "/etc/systemd/system/systemd-binfmt.service", to: "/dev/null")
    #expect(try codes(root) == [])
    // Its ExecStart's binary gone: found through the packaged unit.
    try FileManager.default.removeItem(atPath: root.path("/usr/bin/binfmtctl").string)
    let f = try #require(try finding(root, .bootServiceExecMissing))
    #expect(f.evidence == "ExecStart=/usr/bin/binfmtctl boot in \(vendor)")
  }

  @Test func maskedServices() throws {
    let root = try persistedRoot()
    try symlink(root, PersistLayout.unitPath, to: "/dev/null")
    let f = try #require(try finding(root, .bootServiceMasked))
    #expect(f.evidence == "/etc/systemd/system/binfmtctl.service is a link to /dev/null")
    #expect(f.fix == ["sudo systemctl unmask binfmtctl.service", "sudo binfmtctl persist"])
    #expect(try codes(root).filter { $0 == "boot-service-masked" }.count == 1)
    // systemd-binfmt masked too, and ours not enabled: nothing applies binfmt.d at boot.
    let other = try persistedRoot()
    try symlink(other, "/etc/systemd/system/systemd-binfmt.service", to: "/dev/null")
    #expect(try codes(other).isEmpty, "ours still fires")
    try FileManager.default.removeItem(atPath: other.path(PersistLayout.wantsLink).string)
    let g = try #require(try finding(other, .bootServiceMasked))
    #expect(g.message.contains("nothing registers /etc/binfmt.d at boot") && g.fix == ["sudo binfmtctl persist"])
  }

  @Test func unitsThatEmptyTheTableAfterOurs() throws {
    let root = try persistedRoot()
    try root.write(
      "/usr/lib/systemd/system/qemu-reset.service",
      "[Service]\nType=oneshot\nExecStart=/usr/bin/qemu-binfmt-conf.sh --qemu-path /usr/bin --reset\n")
    try symlink(
      root, "/etc/systemd/system/multi-user.target.wants/qemu-reset.service",
      to: "/usr/lib/systemd/system/qemu-reset.service")
    try root.write(
      "/etc/systemd/system/flush.service",
      "[Service]\nExecStartPost=/bin/sh -c 'echo -1 > /proc/sys/fs/binfmt_misc/status'\n")
    try symlink(root, "/etc/systemd/system/sysinit.target.wants/flush.service", to: "/etc/systemd/system/flush.service")
    // Ordered before ours: harmless.
    try root.write(
      "/etc/systemd/system/early.service",
      "[Unit]\nBefore=binfmtctl.service\n[Service]\nExecStart=/bin/sh -c 'echo -1 > /proc/sys/fs/binfmt_misc/status'\n")
    try symlink(root, "/etc/systemd/system/sysinit.target.wants/early.service", to: "/etc/systemd/system/early.service")
    try root.write("/etc/systemd/system/systemd-binfmt.service.d/order.conf", "[Unit]\nAfter=binfmtctl.service\n")
    let d = try Doctor(root.context()).diagnose(.init(path: nil, root: nil, platform: nil, message: nil, probe: false))
    let flush = d.findings.filter { $0.code == .tableFlushedAtBoot }
    #expect(flush.count == 3, "\(d.findings)")
    #expect(
      flush.map { $0.fix } == [
        ["sudo systemctl disable qemu-reset.service"], ["sudo systemctl disable flush.service"],
        ["sudo rm /etc/systemd/system/systemd-binfmt.service.d/order.conf"],
      ], "\(flush)")
    #expect(flush[0].evidence.hasPrefix("/usr/lib/systemd/system/qemu-reset.service: ExecStart="))
    #expect(d.canRun, "warnings: the table is fine now")
  }

  @Test func flushPatterns() {
    #expect(BootFacts.flushes("ExecStart=/bin/sh -c 'echo -1 >/proc/sys/fs/binfmt_misc/status'"))
    #expect(BootFacts.flushes("ExecStart=/usr/bin/qemu-binfmt-conf.sh --reset"))
    #expect(BootFacts.flushes("ExecStop=/lib/systemd/systemd-binfmt --unregister"))
    #expect(!BootFacts.flushes("ExecStart=/bin/sh -c 'echo 1 > /proc/sys/fs/binfmt_misc/status'"))
    #expect(!BootFacts.flushes("ExecStart=/usr/bin/podman system reset"))
    #expect(
      BootFacts.execProgram("[Service]\nExecStart=-/usr/local/bin/binfmtctl boot\n") == "/usr/local/bin/binfmtctl")
  }
}

/// A WSL2-like root: the kernel's osrelease says microsoft, no systemd runs, /etc/wsl.conf has
/// no boot command. A live entry is lost at the next `wsl --shutdown`; the fix doctor prints
/// (persist) adds binfmtctl's boot command, and the warning goes.
@Suite struct DoctorWSLTests {
  @Test func wslWithoutSystemdAndWithoutABootCommand() throws {
    let arm64 = Catalog.standard.resolve("arm64")!
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    try root.write("/proc/sys/kernel/osrelease", "5.15.153.1-microsoft-standard-WSL2\n")
    try root.write("/etc/wsl.conf", "[automount]\nenabled = true\n")
    try root.liveEntry(arm64.registration())
    #expect(InitSystem.detect(root.paths, offline: false) == .wsl)
    let doctor = Doctor(root.context())
    let before = try doctor.diagnose(.init(path: nil, root: nil, platform: "linux/arm64", message: nil, probe: false))
    let lost = try #require(before.findings.first { $0.code == .lostAtReboot }, "\(before.findings)")
    #expect(lost.fix == ["sudo binfmtctl persist qemu-aarch64"])
    #expect(before.canRun)
    _ = try Persister(root.context()).persist(
      Persister.Request(
        entries: EntryRequest(names: ["qemu-aarch64"]), root: nil, initSystem: nil, execPath: "/usr/bin/binfmtctl",
        replace: false, noRegister: true, dryRun: false))
    #expect(root.read("/etc/wsl.conf")?.contains("binfmtctl boot") == true, "\(root.read("/etc/wsl.conf") ?? "")")
    let after = try doctor.diagnose(.init(path: nil, root: nil, platform: "linux/arm64", message: nil, probe: false))
    #expect(after.findings.filter { $0.severity != .ok }.isEmpty, "\(after.findings)")
  }
}
