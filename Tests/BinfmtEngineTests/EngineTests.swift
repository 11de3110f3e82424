import BinfmtEngine
import BinfmtKit
import Foundation
import LinuxSystem
import SystemPackage
import Testing

/// The engine's operations on temporary roots: a fake binfmt_misc made of plain files, real
/// files under /etc, the real lock, the real file writer. The kernel itself is tested in the
/// integration tests' private binfmt_misc instances.
@Suite(.serialized) struct EngineTests {
  let catalog = Catalog.standard
  var arm64: Architecture { catalog.resolve("arm64")! }
  var s390x: Architecture { catalog.resolve("s390x")! }

  @Test func statusReadsTheFakeTableAndPersistence() throws {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    try root.liveEntry(arm64.registration())
    try root.liveEntry(s390x.registration(interpreter: "/usr/bin/qemu-s390x-static", flags: [.preserveArgv0]))
    try root.write(
      "/etc/binfmt.d/" + Persistence.fileName(entry: "qemu-aarch64"),
      try Persistence.fileText(arm64.registration(), architecture: arm64))
    let snap = TableSnapshot.read(root.context(), withPersistence: true)
    #expect(snap.kernelSupport == .yes && snap.report.mounted && snap.report.enabled)
    let codes = Set(snap.problems.map(\.code))
    #expect(codes == [.interpreterMissing, .noFixBinary, .lostAtReboot, .bootServiceOff], "\(snap.problems)")
    let missing = snap.problems.first { $0.code == .interpreterMissing }
    #expect(missing?.fix?.contains(Hint.installQemuUserStatic) == true)
    #expect(snap.boot?.initSystem == InitSystem.none)
    #expect(snap.boot?.persistence.live["qemu-aarch64"]?.drift == .both)
    let json = StatusReport(snapshot: snap).json.render()
    #expect(json.contains("\"bootService\": \"absent\""))
  }

  @Test func initSystemIsDetectedUnderTheRoot() throws {
    let root = try TestRoot()
    #expect(InitSystem.detect(root.paths, offline: false) == InitSystem.none)
    try root.mkdir("run/openrc")
    #expect(InitSystem.detect(root.paths, offline: false) == .openrc)
    try root.mkdir("run/systemd/system")
    #expect(InitSystem.detect(root.paths, offline: false) == .systemd)
    try root.write("/lib/systemd/systemd", "")
    #expect(InitSystem.detect(root.paths, offline: true) == .systemd)
  }

  @Test func buildChoosesTheStaticEmulatorAndExplainsTheRest() throws {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    let ctx = root.context()
    let wanted = try Installer(ctx).build(EntryRequest(names: ["arm64"]))
    #expect(wanted.map(\.registration.interpreter) == ["/usr/bin/qemu-aarch64-static"])
    #expect(wanted.first?.registration.flags == Architecture.defaultFlags)
    // Named but no emulator: not found, with the package to install.
    do {
      _ = try Installer(ctx).build(EntryRequest(names: ["s390x"]))
      Issue.record("no emulator, no error")
    } catch {
      #expect(error.kind == .notFound && error.fix?.contains(Hint.installQemuUserStatic) == true)
    }
    // Native: refused unless asked for.
    #expect(throws: BinfmtError.self) { try Installer(ctx).build(EntryRequest(names: ["x86_64"])) }
    // --all: what has an emulator, the rest skipped with a note on stderr.
    let all = try Installer(ctx).build(EntryRequest(names: nil))
    #expect(all.map(\.arch.name) == ["aarch64"])
    #expect(root.stderr.contains("binfmtctl: skipped s390x: no qemu-s390x emulator installed"))
    #expect(root.stderr.contains("binfmtctl: skipped x86_64: native on this host"))
  }

  @Test func installPlansRefusesConflictsAndRegisters() throws {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    let ctx = root.context()
    let request = EntryRequest(names: ["arm64"])
    let dry = try Installer(ctx).install(request, replace: false, dryRun: true)
    #expect(dry.outcomes.map(\.step) == [.register(arm64.registration())])
    #expect(root.read("/proc/sys/fs/binfmt_misc/register") == "", "a dry run writes nothing")
    let done = try Installer(ctx).install(request, replace: false, dryRun: false)
    #expect(!done.partialFailure)
    #expect(root.read("/proc/sys/fs/binfmt_misc/register") == arm64.registration().registerString())
    // A same-name entry with another definition: refused with the difference, nothing written.
    try root.write("/proc/sys/fs/binfmt_misc/register", "")
    try root.liveEntry(arm64.registration(interpreter: "/usr/bin/other"))
    do {
      _ = try Installer(ctx).install(request, replace: false, dryRun: false)
      Issue.record("conflict not refused")
    } catch {
      #expect(error.kind == .conflict)
    }
    #expect(root.stderr.contains("interpreter: /usr/bin/other → /usr/bin/qemu-aarch64-static"))
    #expect(root.read("/proc/sys/fs/binfmt_misc/register") == "")
    let replaced = try Installer(ctx).install(request, replace: true, dryRun: true)
    #expect(replaced.outcomes.first?.step.actionText == "replaced")
  }

  @Test func disableWritesZeroToTheEntry() throws {
    let root = try TestRoot()
    try root.liveEntry(arm64.registration())
    let r = try EntryEditor(root.context()).apply(.disable, names: ["arm64"], all: false, dryRun: false)
    #expect(r.results.map(\.entry) == ["qemu-aarch64"] && !r.partialFailure)
    #expect(root.read("/proc/sys/fs/binfmt_misc/qemu-aarch64")?.hasPrefix("0") == true)
    do {
      _ = try EntryEditor(root.context()).apply(.enable, names: ["nope"], all: false, dryRun: false)
      Issue.record("enabling nothing succeeded")
    } catch {
      #expect(error.kind == .notFound)
    }
  }

  /// The whole trip of `persist` on a root with systemd installed (not running): files,
  /// the enabling link, then the registration, planned once; `unpersist --all` undoes it.
  @Test func persistAndUnpersistOnARoot() throws {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    try root.mkdir("run/systemd/system")
    let ctx = root.context()
    let report = try Persister(ctx).persist(
      Persister.Request(
        entries: EntryRequest(names: ["arm64"]), root: nil, initSystem: nil, execPath: "/usr/bin/binfmtctl",
        replace: false, noRegister: false, dryRun: false))
    #expect(report.initSystem == .systemd)
    #expect(report.files.map(\.verb) == [.write, .write, .link])
    #expect(report.registered.map(\.step) == [.register(arm64.registration())])
    let file = "/etc/binfmt.d/zz-binfmtctl-qemu-aarch64.conf"
    #expect(try root.read(file) == Persistence.fileText(arm64.registration(), architecture: arm64))
    #expect(root.read(PersistLayout.unitPath) == Units.systemdService(exec: "/usr/bin/binfmtctl"))
    #expect(root.link(PersistLayout.wantsLink) == PersistLayout.unitPath)
    #expect(root.read("/proc/sys/fs/binfmt_misc/register") == arm64.registration().registerString())
    // Now the status of this root says persisted, and the service enabled.
    try root.liveEntry(arm64.registration())
    let snap = TableSnapshot.read(ctx, withPersistence: true)
    #expect(snap.boot?.verdict.state == .enabled && snap.problems.isEmpty, "\(snap.problems)")
    let un = try Persister(ctx).unpersist(names: [], all: true, root: nil, dryRun: false)
    #expect(un.files.map(\.verb) == [.remove, .unlink, .remove])
    #expect(root.names("/etc/binfmt.d").isEmpty && root.read(PersistLayout.unitPath) == nil)
  }

  /// A conflicting live entry stops `persist` before its first file.
  @Test func persistWritesNothingWhenRegisteringWouldConflict() throws {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    try root.liveEntry(arm64.registration(interpreter: "/usr/bin/other"))
    #expect(throws: BinfmtError.self) {
      try Persister(root.context()).persist(
        Persister.Request(
          entries: EntryRequest(names: ["arm64"]), root: nil, initSystem: InitSystem.none, execPath: "/b",
          replace: false, noRegister: false, dryRun: false))
    }
    #expect(root.names("/etc").isEmpty)
  }

  @Test func bootRegistersWhatIsPersistedAndLogsBadFiles() throws {
    let root = try TestRoot()
    try root.write(
      "/etc/binfmt.d/" + Persistence.fileName(entry: "qemu-aarch64"),
      try Persistence.fileText(arm64.registration(), architecture: arm64))
    try root.write(
      "/etc/binfmt.d/" + Persistence.fileName(entry: "qemu-bad"), Persistence.marker + "\n:qemu-bad:Q::x::/x:\n")
    let r = BootReconciler(root.context()).run()
    #expect(r.failed.isEmpty)
    #expect(root.read("/proc/sys/fs/binfmt_misc/register") == arm64.registration().registerString())
    #expect(root.stderr.contains("binfmtctl boot: /etc/binfmt.d/zz-binfmtctl-qemu-bad.conf:2"), "\(root.stderr)")
    #expect(root.stderr.contains("binfmtctl boot: 1 persisted: 0 already live, 1 registered, 0 failed"))
  }

  /// A real exec of the host's own probe program, from a temporary directory that is gone after.
  @Test func probeRunsTheNativeProgram() throws {
    let root = try TestRoot()
    try root.mkdir("tmp")
    let r = try ProbeRunner(root.context()).probe(["x86_64"], directory: root.path("/tmp").string, timeoutSeconds: 10)
    #expect(r.results.map(\.status) == [.works] && r.results.first?.via == "native")
    #expect(root.names("/tmp").isEmpty)
  }

  @Test func emulatorsAreFoundStaticFirst() throws {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/local/bin/qemu-aarch64-static")
    try root.write("/usr/bin/qemu-aarch64", "#!/bin/sh\n", mode: 0o755)
    try root.write("/usr/bin/qemu-s390x-static", "not executable", mode: 0o644)
    try root.fakeEmulator("/usr/libexec/qemu-binfmt/aarch64-binfmt-P")
    let list = EmulatorDiscovery(root.context()).discover()
    #expect(
      list.map(\.path) == [
        "/usr/local/bin/qemu-aarch64-static", "/usr/bin/qemu-aarch64", "/usr/libexec/qemu-binfmt/aarch64-binfmt-P",
      ])
    #expect(list.map(\.isStatic) == [true, nil, true])
    #expect(
      EmulatorDiscovery(root.context()).choose(for: arm64, extraDirectories: [])?.path
        == "/usr/local/bin/qemu-aarch64-static")
  }
}

/// LinuxSystem on its own, on temporary roots.
@Suite struct LinuxSystemTests {
  @Test func errnoIsCatchable() throws {
    let root = try TestRoot()
    do {
      _ = try readSmallFile(root.path("/nope"))
      Issue.record("read a missing file")
    } catch {
      #expect(error.errno == .noSuchFileOrDirectory && error.kind == .notFound)
      #expect(error.description == root.path("/nope").string + ": no such file")
    }
    do {
      _ = try TableLock(paths: SystemPaths(root: root.path("/no/such/dir")), wait: LockWait()) { _ in }
      Issue.record("locked in a missing directory")
    } catch {
      #expect(error.errno == .noSuchFileOrDirectory)
    }
  }

  @Test func fileFacts() throws {
    let root = try TestRoot()
    try root.fakeEmulator("/usr/bin/qemu-aarch64-static")
    try root.write("/usr/bin/script", "#!/bin/sh\n", mode: 0o755)
    try root.write("/usr/bin/data", "x", mode: 0o644)
    let f = FileFacts(paths: root.paths)
    #expect(
      f.interpreter("/usr/bin/qemu-aarch64-static") == InterpreterFacts(exists: true, executable: true, isStatic: true))
    #expect(f.interpreter("/usr/bin/script") == InterpreterFacts(exists: true, executable: true, isStatic: nil))
    #expect(f.interpreter("/usr/bin/data").executable == false)
    #expect(f.interpreter("/usr/bin/none").exists == false)
    // The temp root lives under world-writable /tmp: never trusted with C.
    #expect(f.untrustedReason("/usr/bin/qemu-aarch64-static")?.contains("writable by group or others") == true)
    #expect(f.untrustedReason("/usr/bin/none") == "/usr/bin/none does not exist")
    try f.checkWritable(forFileAt: "/etc/binfmt.d/new/file.conf")
  }

  @Test func nodesAndLinks() throws {
    let root = try TestRoot()
    try root.write("/etc/a", "text")
    let files = try SystemRoot(root.paths)
    try files.symlink("/etc/a", at: "/etc/l")
    #expect(files.node("/etc/a") == .file("text"))
    #expect(files.node("/etc/l") == .symlink(to: "/etc/a"))
    #expect(files.node("/etc/none") == .absent)
    #expect(try files.removeSymlink("/etc/l", ifPointingTo: "/etc/b") == false)
    #expect(try files.removeFile("/etc/a", ifOurs: { _ in false }) == false)
    #expect(root.names("/etc") == ["a", "l"])
  }

  @Test func temporaryDirectoryCleansUp() throws {
    let root = try TestRoot()
    try root.mkdir("tmp")
    var made = ""
    do {
      let t = try TemporaryDirectory(in: root.path("/tmp").string, prefix: "t")
      made = try t.writeExecutable("x", [1, 2, 3])
      #expect(FileManager.default.isExecutableFile(atPath: made))
    }
    #expect(!FileManager.default.fileExists(atPath: made) && root.names("/tmp").isEmpty)
  }
}
