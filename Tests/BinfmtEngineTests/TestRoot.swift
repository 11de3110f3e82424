import BinfmtEngine
import BinfmtKit
import Foundation
import LinuxSystem
import SystemPackage
import Testing

/// A temporary system root for the engine: a fake binfmt_misc directory (plain files the
/// test reads back), /etc, /run, /usr/bin. It fails loudly when a test escapes it: at the end
/// it checks that the host's own files binfmtctl could touch did not change.
final class TestRoot: @unchecked Sendable {
  // @unchecked: used by one test at a time; `collected` is guarded by `lock`.
  let url: URL
  let paths: SystemPaths
  private let lock = NSLock()
  private var collected: [(OutputSink.Stream, String)] = []
  private let hostBefore: [String: String]

  /// Host paths an escaped write would land on.
  static let hostWatch = [
    "/etc/binfmt.d", "/etc/systemd/system/binfmtctl.service", "/etc/systemd/system/sysinit.target.wants",
    "/etc/init.d/binfmtctl", "/etc/runlevels/boot", "/etc/wsl.conf", "/run/binfmtctl.lock", "/proc/sys/fs/binfmt_misc",
  ]

  init(binfmtMisc: Bool = true) throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("binfmtctl-root-\(UUID().uuidString)")
    paths = SystemPaths(root: FilePath(url.path))
    hostBefore = Self.snapshotHost()
    for d in ["etc", "run", "usr/bin", "proc/sys/fs/binfmt_misc"] { try mkdir(d) }
    if binfmtMisc {
      try write("/proc/sys/fs/binfmt_misc/status", "enabled\n")
      try write("/proc/sys/fs/binfmt_misc/register", "")
    }
  }

  deinit {
    let after = Self.snapshotHost()
    for (k, v) in hostBefore where after[k] != v {
      Issue.record("a test escaped its root: the host's \(k) changed (\(v) -> \(after[k] ?? "gone"))")
    }
    try? FileManager.default.removeItem(at: url)
  }

  /// What exists at each watched host path: names in a directory, or size and mtime.
  static func snapshotHost() -> [String: String] {
    var out: [String: String] = [:]
    let fm = FileManager.default
    for p in hostWatch {
      if let names = try? fm.contentsOfDirectory(atPath: p) {
        out[p] = names.sorted().joined(separator: ",")
      } else if let a = try? fm.attributesOfItem(atPath: p) {
        out[p] = "\(a[.size] ?? 0) \((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
      } else {
        out[p] = "absent"
      }
    }
    return out
  }

  /// A context on this root that collects its output.
  func context(host: String = "x86_64", systemdBooted: Bool = false) -> EngineContext {
    EngineContext(
      paths: paths, hostMachine: host,
      output: OutputSink { [self] stream, text in
        lock.lock()
        collected.append((stream, text))
        lock.unlock()
      }, systemdBooted: systemdBooted, searchPath: [])
  }

  var stderr: String {
    lock.lock()
    defer { lock.unlock() }
    return collected.filter { $0.0 == .stderr }.map(\.1).joined()
  }

  func path(_ absolute: String) -> FilePath { paths.path(absolute) }

  func mkdir(_ relative: String) throws {
    try FileManager.default.createDirectory(
      at: url.appendingPathComponent(relative), withIntermediateDirectories: true)
  }

  func write(_ absolute: String, _ text: String, mode: Int = 0o644) throws {
    let p = path(absolute).string
    try FileManager.default.createDirectory(
      atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: p, atomically: false, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: p)
  }

  func writeBytes(_ absolute: String, _ bytes: [UInt8], mode: Int = 0o755) throws {
    let p = path(absolute).string
    try FileManager.default.createDirectory(
      atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: p)
  }

  func read(_ p: FilePath) -> String? { try? String(contentsOfFile: p.string, encoding: .utf8) }
  func read(_ absolute: String) -> String? { read(path(absolute)) }

  func names(_ absolute: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path(absolute).string)) ?? []).sorted()
  }

  func link(_ absolute: String) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: path(absolute).string)
  }

  /// A live entry in the fake table, in the kernel's status format.
  func liveEntry(_ r: Registration, enabled: Bool = true) throws {
    var text = (enabled ? "enabled" : "disabled") + "\ninterpreter \(r.interpreter)\nflags: \(r.flags)\n"
    if case .magic(let offset, let magic, let mask) = r.match {
      text += "offset \(offset)\nmagic \(Hex.string(magic))\n"
      if let mask { text += "mask \(Hex.string(mask))\n" }
    }
    try write("/proc/sys/fs/binfmt_misc/\(r.name)", text)
  }

  /// A static executable that stands in for an emulator (the x86_64 probe program).
  func fakeEmulator(_ absolute: String) throws {
    let x86 = Catalog.standard.resolve("x86_64")!
    try writeBytes(absolute, ProbeProgram.executable(for: x86, exitCode: 0)!)
  }
}
