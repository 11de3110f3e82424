import BinfmtKit
import Foundation
import LinuxSystem
import SystemPackage
import Testing

/// `SystemRoot`: every lookup inside a root resolves as under chroot (absolute symlinks start
/// at the root, `..` stops there), so reads, writes and removals never leave it. Escapes
/// point at `outside`, a temporary directory of the test's own, never the host's /etc.
@Suite struct SystemRootTests {
  /// A directory next to the root, where an escape would land.
  final class Outside: @unchecked Sendable {
    // @unchecked: immutable after init.
    let url: URL
    init() throws {
      url = FileManager.default.temporaryDirectory.appendingPathComponent("binfmtctl-outside-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    var path: String { url.path }
    var names: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    func write(_ name: String, _ text: String) throws {
      try text.write(toFile: path + "/" + name, atomically: false, encoding: .utf8)
    }
  }

  func symlink(_ root: TestRoot, _ absolute: String, to target: String) throws {
    try root.mkdir(String(FilePath(absolute).removingLastComponent().string.dropFirst()))
    try FileManager.default.createSymbolicLink(atPath: root.path(absolute).string, withDestinationPath: target)
  }

  @Test func absoluteSymlinkStartsAgainAtTheRoot() throws {
    let root = try TestRoot()
    let outside = try Outside()
    try outside.write("x.conf", "outside\n")
    // etc -> <outside>: inside the root that is root/<outside>, not the host's directory.
    try symlink(root, "/etc2", to: outside.path)
    let files = try SystemRoot(root.paths)
    #expect(files.node("/etc2/x.conf") == .absent, "read through the link out of the root")
    try root.mkdir(String(outside.path.dropFirst()))
    try files.write("inside\n", to: "/etc2/x.conf")
    #expect(root.read(outside.path + "/x.conf") == "inside\n")
    #expect(files.node("/etc2/x.conf") == .file("inside\n"))
    #expect(outside.names == ["x.conf"])
    #expect(try String(contentsOfFile: outside.path + "/x.conf", encoding: .utf8) == "outside\n")
    try files.symlink("/etc/target", at: "/etc2/l")
    #expect(root.link(outside.path + "/l") == "/etc/target")
    #expect(try files.removeFile("/etc2/x.conf", ifOurs: { _ in true }))
    #expect(try files.removeSymlink("/etc2/l", ifPointingTo: "/etc/target"))
    #expect(outside.names == ["x.conf"], "removed outside the root")
    #expect(root.names(outside.path).isEmpty)
  }

  @Test func dotDotStopsAtTheRoot() throws {
    let root = try TestRoot()
    try symlink(root, "/etc/binfmt.d", to: "../../../../../../../../../../d")
    try root.mkdir("d")
    let files = try SystemRoot(root.paths)
    try files.write("text\n", to: "/etc/binfmt.d/a.conf", mode: 0o600)
    #expect(root.read("/d/a.conf") == "text\n")
    let mode = try FileManager.default.attributesOfItem(atPath: root.path("/d/a.conf").string)[.posixPermissions]
    #expect(mode as? Int == 0o600)
    #expect(root.names("/d") == ["a.conf"], "no temp file is left")
  }

  /// A link that leads nowhere inside the root, or loops, or a file on the way: refused
  /// before anything is created, naming the component.
  @Test func refusesWhatIsNotADirectoryOnTheWay() throws {
    let root = try TestRoot()
    let outside = try Outside()
    try symlink(root, "/etc/systemd/system/x.wants", to: outside.path)
    try symlink(root, "/etc/loop", to: "/etc/loop")
    try root.write("/etc/file", "")
    let files = try SystemRoot(root.paths)
    for (path, words) in [
      ("/etc/systemd/system/x.wants/a.service", "is a symlink to \(outside.path) that leads to no directory"),
      ("/etc/loop/a", "loops"), ("/etc/file/a", "exists and is not a directory"),
    ] {
      do {
        try files.checkWritable(forFileAt: path)
        Issue.record("\(path): checkWritable passed")
      } catch {
        #expect(error.kind == .conflict && error.description.contains(words), "\(error)")
      }
      #expect(throws: BinfmtError.self) { try files.symlink("/x", at: path) }
      #expect(throws: BinfmtError.self) { try files.write("x", to: path) }
    }
    #expect(outside.names.isEmpty)
    try files.checkWritable(forFileAt: "/etc/new/dir/a.conf")
  }

  /// The file itself being a symlink is refused, even one that stays inside the root.
  @Test func neverWritesThroughTheTargetSymlink() throws {
    let root = try TestRoot()
    try root.write("/etc/real", "keep\n")
    try symlink(root, "/etc/x.conf", to: "/etc/real")
    let files = try SystemRoot(root.paths)
    do {
      try files.write("new\n", to: "/etc/x.conf")
      Issue.record("wrote through a symlink")
    } catch {
      #expect(error.kind == .conflict && error.message.contains("symlink"))
    }
    #expect(root.read("/etc/real") == "keep\n")
    #expect(try files.removeFile("/etc/x.conf", ifOurs: { _ in true }) == false)
    #expect(root.link("/etc/x.conf") == "/etc/real")
  }

  /// binfmt.d is read inside the root too: a symlinked directory or file is followed there.
  @Test func binfmtDIsScannedInsideTheRoot() throws {
    let root = try TestRoot()
    let outside = try Outside()
    let arm = Catalog.standard.resolve("arm64")!
    try outside.write("zz-binfmtctl-qemu-aarch64.conf", Persistence.fileText(arm.registration(), architecture: arm))
    try symlink(root, "/etc/binfmt.d", to: outside.path)
    #expect(ConfigFiles.scanBinfmtD(root.paths).isEmpty)
    try FileManager.default.removeItem(atPath: root.path("/etc/binfmt.d").string)
    try root.write("/srv/real.conf", ":a:M::ab::/x:\n")
    try symlink(root, "/etc/binfmt.d/a.conf", to: "/srv/real.conf")
    try symlink(root, "/etc/binfmt.d/m.conf", to: "/dev/null")
    try symlink(root, "/etc/binfmt.d/d.conf", to: "/srv/none.conf")
    let found = Dictionary(uniqueKeysWithValues: ConfigFiles.scanBinfmtD(root.paths).map { ($0.name, $0.kind) })
    #expect(
      found == ["a.conf": .text(":a:M::ab::/x:\n"), "m.conf": .mask, "d.conf": .unreadable("dangling symlink")])
  }

  /// A pid no process can have: above the kernel's pid_max.
  func deadPID() throws -> Int32 {
    let max = try String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8)
    return try #require(Int32(max.trimmingCharacters(in: .whitespacesAndNewlines))) + 1
  }

  @Test func temporaryNames() {
    #expect(AtomicFile.temporaryName(for: "a.conf", pid: 12) == ".a.conf.tmp.12")
    #expect(AtomicFile.parseTemporaryName(".a.conf.tmp.12")! == ("a.conf", 12))
    #expect(AtomicFile.parseTemporaryName(".a.tmp.b.tmp.7")! == ("a.tmp.b", 7))
    #expect(AtomicFile.parseTemporaryName(".a.tmp.1")! == ("a", 1))
    for bad in [
      "a.conf.tmp.12", ".a.conf.tmp.", ".a.conf.tmp.012", ".a.conf.tmp.0", ".a.conf.tmp.12x", ".a.conf.tmp.-1",
      ".a.conf.tmp.99999999999", "..tmp.1", ".tmp.1", ".a.conf",
    ] {
      #expect(AtomicFile.parseTemporaryName(bad) == nil, "\(bad)")
    }
  }

  /// Only `.NAME.tmp.PID` regular files, for owned names, of processes that are gone.
  @Test func staleTemporariesOfDeadProcessesGo() throws {
    let root = try TestRoot()
    let me = ProcessInfo.processInfo.processIdentifier
    let dead = try deadPID()
    let dir = "/etc/binfmt.d"
    let names = [
      ".ours.conf.tmp.\(dead)", ".ours.conf.tmp.\(me)", ".theirs.conf.tmp.\(dead)", ".ours.conf.tmp.\(dead).bak",
      "ours.conf.tmp.\(dead)",
    ]
    for n in names { try root.write(dir + "/" + n, "half") }
    try symlink(root, dir + "/.ours2.conf.tmp.\(dead)", to: "/etc/passwd")
    let files = try SystemRoot(root.paths)
    let removed = files.removeStaleTemporaries(in: dir) { $0 == "ours.conf" || $0 == "ours2.conf" }
    #expect(removed == [dir + "/.ours.conf.tmp.\(dead)"])
    #expect(root.names(dir) == (names.dropFirst() + [".ours2.conf.tmp.\(dead)"]).sorted())
    #expect(files.removeStaleTemporaries(in: "/no/such/dir") { _ in true }.isEmpty)
  }
}
