import BinfmtKit
import LinuxSystem

/// A qemu-user emulator found on the system.
public struct Emulator: Sendable, Equatable {
  public var target: String
  public var path: String
  /// Where the path leads after symlinks.
  public var resolved: String
  public var isStatic: Bool?
  /// Debian's `/usr/libexec/qemu-binfmt/<target>-binfmt-P` wrapper name.
  public var isBinfmtPWrapper: Bool
  public var version: String?

  /// Architectures of the catalog this emulator runs.
  public func architectures(_ catalog: Catalog) -> [Architecture] {
    catalog.architectures.filter { $0.qemuTarget == target }
  }

  /// P needs either Debian's wrapper name or qemu ≥ 6.0 reading AT_FLAGS (kernel ≥ 5.12).
  public var preserveArgv0: String {
    if isBinfmtPWrapper { return "yes (Debian -binfmt-P name)" }
    guard let v = version, let major = Int(v.split(separator: ".").first ?? "") else { return "unknown" }
    return major >= 6
      ? "yes (qemu \(major) reads AT_FLAGS)" : "no (qemu < 6.0; use Debian's -binfmt-P wrapper or drop P)"
  }
}

/// Finds qemu-user emulators under the context's root.
public struct EmulatorDiscovery: Sendable {
  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  /// Search order: --qemu-dir, /usr/bin, /usr/local/bin, $PATH, Debian's wrapper directory.
  func directories(extra: [String]) -> [String] {
    var dirs = extra + ["/usr/bin", "/usr/local/bin"] + context.searchPath
    dirs.append("/usr/libexec/qemu-binfmt")
    var seen = Set<String>()
    return dirs.filter { seen.insert($0).inserted }
  }

  /// Every emulator, static ones first for each target, then dynamic, then wrappers.
  public func discover(extraDirectories: [String] = []) -> [Emulator] {
    let files = context.files
    let targets = Set(context.catalog.architectures.map(\.qemuTarget))
    var found: [Emulator] = []
    var seenPaths = Set<String>()
    for dir in directories(extra: extraDirectories) {
      for name in (directoryEntries(files.real(dir)) ?? []).sorted() {
        var target: String?
        var wrapper = false
        if name.hasPrefix("qemu-") {
          var t = String(name.dropFirst(5))
          if t.hasSuffix("-static") { t.removeLast(7) }
          if targets.contains(t) { target = t }
        } else if name.hasSuffix("-binfmt-P") {
          let t = String(name.dropLast("-binfmt-P".count))
          if targets.contains(t) {
            target = t
            wrapper = true
          }
        }
        guard let target else { continue }
        let path = dir == "/" ? "/" + name : dir + "/" + name
        guard seenPaths.insert(path).inserted else { continue }
        let f = files.interpreter(path)
        guard f.executable else { continue }
        found.append(
          Emulator(
            target: target, path: path, resolved: files.resolved(path) ?? path, isStatic: f.isStatic,
            isBinfmtPWrapper: wrapper, version: nil))
      }
    }
    func rank(_ e: Emulator) -> Int { e.isBinfmtPWrapper ? 2 : (e.isStatic == true ? 0 : 1) }
    // Stable: directory order within a rank.
    return found.enumerated().sorted { a, b in
      (rank(a.element), a.offset) < (rank(b.element), b.offset)
    }.map(\.element)
  }

  /// `qemu-<target> --version` → "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".
  func version(of e: Emulator) -> String? {
    let r = Spawn.run(context.files.real(e.resolved), [e.resolved, "--version"], timeoutMilliseconds: 5000)
    guard case .exited(0) = r.outcome, let first = r.stdout.split(separator: "\n").first else { return nil }
    let words = first.split(separator: " ", maxSplits: 2)
    guard words.count == 3, words[1] == "version" else { return nil }
    return String(words[2])
  }

  /// The emulator `install` uses for `arch` without listing whole directories: the first
  /// static `qemu-<target>-static` (or static `qemu-<target>`), then a dynamic one, then
  /// Debian's wrapper. Static first, because with F the interpreter also runs inside
  /// containers whose root has none of its libraries.
  public func choose(for arch: Architecture, extraDirectories: [String]) -> (path: String, isStatic: Bool?)? {
    let files = context.files
    let t = arch.qemuTarget
    let dirs = directories(extra: extraDirectories).filter { $0 != "/usr/libexec/qemu-binfmt" }
    var dynamic: (String, Bool?)?
    for name in ["qemu-\(t)-static", "qemu-\(t)"] {
      for d in dirs {
        let p = d + "/" + name
        let f = files.interpreter(p)
        guard f.executable else { continue }
        if f.isStatic == true { return (p, true) }
        if dynamic == nil { dynamic = (p, f.isStatic) }
      }
    }
    if let dynamic { return dynamic }
    let wrapper = "/usr/libexec/qemu-binfmt/\(t)-binfmt-P"
    let f = files.interpreter(wrapper)
    return f.executable ? (wrapper, f.isStatic) : nil
  }

  /// `emulators`: every emulator found (plus `extra`, a file the user names for one
  /// architecture), each with its version asked once per distinct file.
  public func report(extraDirectories: [String], extra: (path: String, arch: String)?) throws(BinfmtError)
    -> EmulatorsReport
  {
    var list = discover(extraDirectories: extraDirectories)
    if let extra {
      let a = try context.catalog.resolve(names: [extra.arch])[0]
      let f = context.files.interpreter(extra.path)
      guard f.exists else { throw BinfmtError(.notFound, "no such file", at: extra.path) }
      guard f.executable else { throw BinfmtError(.invalidInput, "not an executable file", at: extra.path) }
      list.insert(
        Emulator(
          target: a.qemuTarget, path: extra.path, resolved: extra.path, isStatic: f.isStatic, isBinfmtPWrapper: false,
          version: nil),
        at: 0)
    }
    // One --version per distinct file (wrappers and -static names often share one).
    var versions: [String: String?] = [:]
    for i in list.indices {
      let key = list[i].resolved
      if versions[key] == nil { versions[key] = .some(version(of: list[i])) }
      list[i].version = versions[key] ?? nil
    }
    return EmulatorsReport(emulators: list, catalog: context.catalog)
  }
}

public struct EmulatorsReport: JSONReport {
  public var emulators: [Emulator]
  let catalog: Catalog

  /// Printed after the (empty) list when nothing was found.
  public var trailingError: BinfmtError? {
    emulators.isEmpty
      ? BinfmtError(.notFound, "no qemu-user emulator found", at: "emulators", fix: Hint.installQemuUserStatic) : nil
  }

  public var json: JSON {
    .array(
      emulators.map { e in
        .object([
          "target": .string(e.target), "path": .string(e.path), "resolved": .string(e.resolved),
          "static": e.isStatic.map(JSON.bool) ?? .null, "version": .optional(e.version),
          "binfmtPWrapper": .bool(e.isBinfmtPWrapper), "preserveArgv0": .string(e.preserveArgv0),
          "architectures": .array(e.architectures(catalog).map { .string($0.name) }),
        ])
      })
  }

  public var text: String {
    guard !emulators.isEmpty else { return "" }
    var rows = [["TARGET", "PATH", "LINKAGE", "VERSION", "P", "ARCHITECTURES"]]
    for e in emulators {
      rows.append([
        e.target, e.path == e.resolved ? e.path : "\(e.path) -> \(e.resolved)",
        e.isStatic.map { $0 ? "static" : "dynamic" } ?? "?",
        e.version.map { String($0.split(separator: " ").first ?? "") } ?? "?",
        e.preserveArgv0.hasPrefix("yes") ? "yes" : (e.preserveArgv0.hasPrefix("no") ? "no" : "?"),
        e.architectures(catalog).map(\.name).joined(separator: ","),
      ])
    }
    return TextTable.render(rows)
  }
}
