import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Facts about files under the system root that the pure core and the engine need:
/// interpreters, emulators, directories.
public struct FileFacts: Sendable {
  public var paths: SystemPaths
  public init(paths: SystemPaths) { self.paths = paths }

  /// The path of an absolute system path under the injected root.
  public func real(_ absolute: String) -> String { paths.path(absolute).string }

  /// Exists, is an executable regular file, and whether it is statically linked.
  public func interpreter(_ path: String) -> InterpreterFacts {
    var st = stat()
    let p = real(path)
    guard PathBytes.withCString(p, { stat($0, &st) }) == 0 else {
      return InterpreterFacts(exists: false, executable: false, isStatic: nil)
    }
    let exec = st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o111 != 0
    var isStatic: Bool?
    if exec, let interp = elfHasInterpreter(p) { isStatic = !interp }
    return InterpreterFacts(exists: true, executable: exec, isStatic: isStatic)
  }

  public func exists(_ absolute: String) -> Bool { fileExists(paths.path(absolute)) }

  /// Where `absolute` leads after every symlink (realpath(3)), as a path inside the root.
  public func resolved(_ absolute: String) -> String? {
    guard let r = PathBytes.withCString(real(absolute), { realpath($0, nil) }) else { return nil }
    defer { free(r) }
    var s = PathBytes.string(cString: r)
    let root = paths.root.string
    if root != "/" && s.hasPrefix(root) { s = String(s.dropFirst(root.count)) }
    return s
  }

  /// A `C` interpreter runs with the privileges of the setuid program it starts, so it must
  /// be a file only root can change: owned by root, not group/other writable, and so is every
  /// directory on its path (the path as given and where its symlinks lead).
  public func untrustedReason(_ path: String) -> String? { untrusted(path)?.why }

  /// Why `path` cannot be trusted to run with privileges, and which file or directory is the
  /// culprit (so a fix can name it): not root-owned, or writable by group or others, itself
  /// or any directory above it (symlinks resolved too).
  public func untrusted(_ path: String) -> (culprit: String, why: String)? {
    let p = real(path)
    var candidates = [p]
    if let r = PathBytes.withCString(p, { realpath($0, nil) }) {
      candidates.append(
        PathBytes.string(cString: r))
      free(r)
    } else {
      return (path, "\(path) does not exist")
    }
    for c in candidates {
      var st = stat()
      guard PathBytes.withCString(c, { stat($0, &st) }) == 0 else { return (c, "\(c) does not exist") }
      if st.st_uid != 0 { return (c, "\(c) is owned by uid \(st.st_uid), not root") }
      if st.st_mode & 0o022 != 0 { return (c, "\(c) is writable by group or others") }
      var dir = FilePath(c).removingLastComponent()  // escapes stay as they are: `c` is a PathBytes string
      while true {
        var d = stat()
        guard PathBytes.withCString(dir.string, { lstat($0, &d) }) == 0 else {
          return (dir.string, "\(dir) cannot be read")
        }
        if d.st_uid != 0 { return (dir.string, "directory \(dir) is owned by uid \(d.st_uid), not root") }
        if d.st_mode & S_IFMT != S_IFLNK && d.st_mode & 0o022 != 0 {
          return (dir.string, "directory \(dir) is writable by group or others")
        }
        if dir.components.isEmpty { break }
        dir.removeLastComponent()
      }
    }
    return nil
  }

  /// Before the first write: the directory a file will go in (or its nearest existing
  /// ancestor, which it would be created in) must be writable, so a run without permission
  /// fails cleanly instead of half-way. Resolved inside the root (`SystemRoot`).
  public func checkWritable(forFileAt absolute: String) throws(BinfmtError) {
    try SystemRoot(paths).checkWritable(forFileAt: absolute)
  }
}

/// A private directory for short-lived files (mkdtemp(3)), removed with what is left in it
/// when the value goes away.
public struct TemporaryDirectory: ~Copyable {
  public let path: String

  /// `base/prefix.XXXXXX`.
  public init(in base: String, prefix: String) throws(BinfmtError) {
    var template = Array((base + "/" + prefix + ".XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else {
      throw BinfmtError(
        .system, "cannot create a temporary directory", at: base, cause: .errno(Errno(rawValue: errno)))
    }
    path = String(cString: made)
  }

  deinit {
    for name in directoryEntries(path) ?? [] { unlink(path + "/" + name) }
    rmdir(path)
  }

  /// Creates `name` with `bytes` and mode 0755 (never through a symlink, never over a file).
  public func writeExecutable(_ name: String, _ bytes: [UInt8]) throws(BinfmtError) -> String {
    let p = path + "/" + name
    let fd: Int32
    switch valueOrErrno({ open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o755) }) {
    case .success(let f): fd = f
    case .failure(let e): throw BinfmtError(.system, "cannot create \(p): \(e)", at: p, cause: .said(e))
    }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { raw in valueOrErrno { write(fd, raw.baseAddress, raw.count) } }
    guard case .success(bytes.count) = written else { throw BinfmtError(.system, "cannot write \(p)", at: p) }
    _ = fchmod(fd, 0o755)
    return p
  }
}

/// stat(2)'s st_ctim of `path` (symlinks followed), or nil when it cannot be stat'ed. In
/// binfmt_misc an entry file's ctime is when it was registered.
public func changeTime(_ path: FilePath) -> FileTime? {
  var st = stat()
  guard PathBytes.withCString(path.string, { stat($0, &st) }) == 0 else { return nil }
  return FileTime(seconds: Int64(st.st_ctim.tv_sec), nanoseconds: Int64(st.st_ctim.tv_nsec))
}

/// The namespaces this process is in, for `doctor`'s private-instance check.
public enum Namespaces {
  /// sysconf(_SC_PAGESIZE): the page size exec(2) maps segments with.
  public static var pageSize: UInt64 { UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 0)) }

  /// When this process runs in a user namespace other than the initial one: one line of
  /// evidence (its namespace against pid 1's when readable, and its uid_map). nil in the
  /// initial user namespace.
  public static func userNamespaceEvidence(_ paths: SystemPaths) -> String? {
    guard let map = try? readSmallFile(paths.path("/proc/self/uid_map")) else { return nil }
    let lines = map.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
    if lines.count == 1, lines[0] == ["0", "0", "4294967295"] { return nil }
    let mine = ConfigFiles.readLink(paths.path("/proc/self/ns/user").string)
    let init1 = ConfigFiles.readLink(paths.path("/proc/1/ns/user").string)
    if let mine, let init1, mine == init1 { return nil }
    let ns =
      "/proc/self/ns/user \(mine ?? "unreadable")"
      + (init1.map { " ≠ /proc/1/ns/user \($0)" } ?? " (/proc/1/ns/user unreadable)")
    let shown = lines.map { $0.joined(separator: " ") }.joined(separator: ", ")
    return "\(ns); uid_map \(shown)"
  }
}
