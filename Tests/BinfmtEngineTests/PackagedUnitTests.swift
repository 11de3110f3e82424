import BinfmtEngine
import BinfmtKit
import Foundation
import LinuxSystem
import Testing

/// With a packaged unit (the .deb's /lib/systemd/system, `make install`'s
/// /usr/local/lib/systemd/system), `persist` enables it instead of writing a copy into /etc,
/// `unpersist --all` disables it and never deletes it, and `status` counts it as the boot
/// service. Without one, the copy in /etc (PersistTests, EngineTests).
@Suite(.serialized) struct PackagedUnitTests {
  let arm64 = Catalog.standard.resolve("arm64")!
  let vendor = "/lib/systemd/system/binfmtctl.service"
  let packagedText = Units.systemdService(exec: "/usr/bin/binfmtctl", packaged: true)

  func request(_ names: [String]) -> Persister.Request {
    Persister.Request(
      entries: EntryRequest(names: names), root: nil, initSystem: nil, execPath: "/usr/bin/binfmtctl",
      replace: false, noRegister: false, dryRun: false)
  }

  func systemdRoot() throws -> TestRoot {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    try root.mkdir("run/systemd/system")
    return root
  }

  @Test func persistEnablesThePackagedUnitAndUnpersistOnlyDisablesIt() throws {
    let root = try systemdRoot()
    try root.write(vendor, packagedText)
    #expect(!Units.isOurs(packagedText))
    let ctx = root.context()
    let report = try Persister(ctx).persist(request(["arm64"]))
    #expect(report.files.map(\.path) == ["/etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf", PersistLayout.wantsLink])
    #expect(report.files.map(\.verb) == [.write, .link])
    #expect(root.read(PersistLayout.unitPath) == nil, "no copy in /etc")
    #expect(root.link(PersistLayout.wantsLink) == vendor)
    #expect(
      root.stderr.contains("enabled binfmtctl.service (\(PersistLayout.wantsLink) -> \(vendor))"), "\(root.stderr)")
    try root.liveEntry(arm64.registration())
    let snap = TableSnapshot.read(ctx, withPersistence: true)
    #expect(snap.boot?.verdict.state == .enabled && snap.problems.isEmpty, "\(snap.problems)")
    // Again: nothing changes.
    let again = try Persister(ctx).persist(request(["arm64"]))
    #expect(again.files.map(\.verb) == [.unchanged, .unchanged])

    let un = try Persister(ctx).unpersist(names: [], all: true, root: nil, dryRun: false)
    #expect(un.files.map(\.verb) == [.remove, .unlink])
    #expect(root.link(PersistLayout.wantsLink) == nil && root.names("/etc/binfmt.d").isEmpty)
    #expect(root.read(vendor) == packagedText, "the packaged unit is never deleted")
  }

  /// The packaged unit installed but not enabled, with a persisted file: status says the
  /// service is disabled and prints `persist` as the fix, which then enables it.
  @Test func statusSeesTheDisabledPackagedUnit() throws {
    let root = try systemdRoot()
    try root.write("/usr/local/lib/systemd/system/binfmtctl.service", packagedText)
    try root.write(
      "/etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf",
      try Persistence.fileText(arm64.registration(), architecture: arm64))
    try root.liveEntry(arm64.registration())
    let ctx = root.context()
    let snap = TableSnapshot.read(ctx, withPersistence: true)
    #expect(snap.boot?.verdict.state == .disabled)
    #expect(snap.problems.map(\.code) == [.bootServiceOff] && snap.problems.first?.fix == "sudo binfmtctl persist")
    _ = try Persister(ctx).persist(request(["arm64"]))
    #expect(root.link(PersistLayout.wantsLink) == "/usr/local/lib/systemd/system/binfmtctl.service")
    #expect(TableSnapshot.read(ctx, withPersistence: true).boot?.verdict.state == .enabled)
  }

  /// A copy an earlier `persist` wrote into /etc would shadow the packaged unit (and may name
  /// another binary): the next `persist` removes it and its link and enables the packaged one.
  @Test func anEarlierCopyInEtcMakesWayForThePackagedUnit() throws {
    let root = try systemdRoot()
    let ctx = root.context()
    _ = try Persister(ctx).persist(request(["arm64"]))
    #expect(root.link(PersistLayout.wantsLink) == PersistLayout.unitPath)
    try root.write(vendor, packagedText)
    let r = try Persister(ctx).persist(request(["arm64"]))
    #expect(r.files.map(\.verb) == [.unchanged, .unlink, .remove, .link], "\(r.files)")
    #expect(root.read(PersistLayout.unitPath) == nil && root.link(PersistLayout.wantsLink) == vendor)
    #expect(root.read(vendor) == packagedText)
  }

  /// A WantedBy link that leads somewhere else is refused before anything is written.
  @Test func foreignLinkIsRefusedBeforeTheFirstWrite() throws {
    let root = try systemdRoot()
    try root.write(vendor, packagedText)
    try root.mkdir("etc/systemd/system/sysinit.target.wants")
    try FileManager.default.createSymbolicLink(
      atPath: root.path(PersistLayout.wantsLink).string, withDestinationPath: "/opt/other.service")
    #expect(throws: BinfmtError.self) { try Persister(root.context()).persist(request(["arm64"])) }
    #expect(root.names("/etc/binfmt.d").isEmpty)
  }
}
