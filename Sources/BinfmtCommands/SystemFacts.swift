import BinfmtKit
import LinuxSystem
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Facts about files on the system that the pure core needs: interpreters and emulators.
struct SystemFacts {
  var paths: SystemPaths
  var catalog = Catalog.standard

  /// The path of an absolute system path under the injected root.
  func real(_ absolute: String) -> String { paths.path(absolute).string }

  func interpreter(_ path: String) -> InterpreterFacts {
    var st = stat()
    let p = real(path)
    guard stat(p, &st) == 0 else { return InterpreterFacts(exists: false, executable: false, isStatic: nil) }
    let exec = st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o111 != 0
    var isStatic: Bool?
    if exec, let interp = elfHasInterpreter(p) { isStatic = !interp }
    return InterpreterFacts(exists: true, executable: exec, isStatic: isStatic)
  }

  /// A `C` interpreter runs with the privileges of the setuid program it starts, so it must
  /// be a file only root can change: owned by root, not group/other writable, and so is every
  /// directory on its path (the path as given and where its symlinks lead).
  func untrustedReason(_ path: String) -> String? {
    let p = real(path)
    var candidates = [p]
    if let r = realpath(p, nil) {
      candidates.append(String(cString: r))
      free(r)
    } else {
      return "\(path) does not exist"
    }
    for c in candidates {
      var st = stat()
      guard stat(c, &st) == 0 else { return "\(c) does not exist" }
      if st.st_uid != 0 { return "\(c) is owned by uid \(st.st_uid), not root" }
      if st.st_mode & 0o022 != 0 { return "\(c) is writable by group or others" }
      var dir = FilePath(c).removingLastComponent()
      while true {
        var d = stat()
        guard lstat(dir.string, &d) == 0 else { return "\(dir) cannot be read" }
        if d.st_uid != 0 { return "directory \(dir) is owned by uid \(d.st_uid), not root" }
        if d.st_mode & S_IFMT != S_IFLNK && d.st_mode & 0o022 != 0 {
          return "directory \(dir) is writable by group or others"
        }
        if dir.components.isEmpty { break }
        dir.removeLastComponent()
      }
    }
    return nil
  }
}

/// A qemu-user emulator found on the system.
struct Emulator: Sendable, Equatable {
  var target: String
  var path: String
  /// Where the path leads after symlinks.
  var resolved: String
  var isStatic: Bool?
  /// Debian's `/usr/libexec/qemu-binfmt/<target>-binfmt-P` wrapper name.
  var isBinfmtPWrapper: Bool
  var version: String?

  /// Architectures of the catalog this emulator runs.
  func architectures(_ catalog: Catalog) -> [Architecture] {
    catalog.architectures.filter { $0.qemuTarget == target }
  }

  /// P needs either Debian's wrapper name or qemu ≥ 6.0 reading AT_FLAGS (kernel ≥ 5.12).
  var preserveArgv0: String {
    if isBinfmtPWrapper { return "yes (Debian -binfmt-P name)" }
    guard let v = version, let major = Int(v.split(separator: ".").first ?? "") else { return "unknown" }
    return major >= 6 ? "yes (qemu \(major) reads AT_FLAGS)" : "no (qemu < 6.0; use Debian's -binfmt-P wrapper or drop P)"
  }
}

enum EmulatorDiscovery {
  /// Search order: --qemu-dir, /usr/bin, /usr/local/bin, $PATH, Debian's wrapper directory.
  static func directories(extra: [String]) -> [String] {
    var dirs = extra + ["/usr/bin", "/usr/local/bin"]
    if let path = getenv("PATH") {
      dirs += String(cString: path).split(separator: ":").map(String.init).filter { $0.hasPrefix("/") }
    }
    dirs.append("/usr/libexec/qemu-binfmt")
    var seen = Set<String>()
    return dirs.filter { seen.insert($0).inserted }
  }

  /// Every emulator, static ones first for each target, then dynamic, then wrappers.
  static func discover(facts: SystemFacts, extraDirectories: [String] = []) -> [Emulator] {
    let targets = Set(facts.catalog.architectures.map(\.qemuTarget))
    var found: [Emulator] = []
    var seenPaths = Set<String>()
    for dir in directories(extra: extraDirectories) {
      for name in (directoryEntries(facts.real(dir)) ?? []).sorted() {
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
        let f = facts.interpreter(path)
        guard f.executable else { continue }
        var resolved = path
        if let r = realpath(facts.real(path), nil) {
          resolved = String(cString: r)
          free(r)
          let root = facts.paths.root.string
          if root != "/" && resolved.hasPrefix(root) { resolved = String(resolved.dropFirst(root.count)) }
        }
        found.append(
          Emulator(
            target: target, path: path, resolved: resolved, isStatic: f.isStatic, isBinfmtPWrapper: wrapper,
            version: nil))
      }
    }
    func rank(_ e: Emulator) -> Int { e.isBinfmtPWrapper ? 2 : (e.isStatic == true ? 0 : 1) }
    // Stable: directory order within a rank.
    return found.enumerated().sorted { a, b in
      (rank(a.element), a.offset) < (rank(b.element), b.offset)
    }.map(\.element)
  }

  /// `qemu-<target> --version` → "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".
  static func version(of e: Emulator, facts: SystemFacts) -> String? {
    let r = Spawn.run(facts.real(e.resolved), [e.resolved, "--version"], timeoutMilliseconds: 5000)
    guard case .exited(0) = r.outcome, let first = r.stdout.split(separator: "\n").first else { return nil }
    let words = first.split(separator: " ", maxSplits: 2)
    guard words.count == 3, words[1] == "version" else { return nil }
    return String(words[2])
  }
}

extension EmulatorDiscovery {
  /// The emulator `install` uses for `arch` without listing whole directories: the first
  /// static `qemu-<target>-static` (or static `qemu-<target>`), then a dynamic one, then
  /// Debian's wrapper. Static first, because with F the interpreter also runs inside
  /// containers whose root has none of its libraries.
  static func choose(for arch: Architecture, facts: SystemFacts, extraDirectories: [String]) -> (
    path: String, isStatic: Bool?
  )? {
    let t = arch.qemuTarget
    let dirs = directories(extra: extraDirectories).filter { $0 != "/usr/libexec/qemu-binfmt" }
    var dynamic: (String, Bool?)?
    for name in ["qemu-\(t)-static", "qemu-\(t)"] {
      for d in dirs {
        let p = d + "/" + name
        let f = facts.interpreter(p)
        guard f.executable else { continue }
        if f.isStatic == true { return (p, true) }
        if dynamic == nil { dynamic = (p, f.isStatic) }
      }
    }
    if let dynamic { return dynamic }
    let wrapper = "/usr/libexec/qemu-binfmt/\(t)-binfmt-P"
    let f = facts.interpreter(wrapper)
    return f.executable ? (wrapper, f.isStatic) : nil
  }
}
