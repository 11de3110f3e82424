import BinfmtKit
import CLinux
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// A system root opened once per operation (a read while planning, the writability check, the
/// batch of changes), and the file operations `persist` and `unpersist` make in it.
///
/// Every path is resolved relative to the root's descriptor with openat2(2) and
/// RESOLVE_IN_ROOT, the way chroot(2) and `systemctl --root` see it: an absolute symlink in an
/// image (`etc -> /data/etc`) starts again at the image's root (IMAGE/data/etc; `etc -> /etc`
/// is a loop there, as under chroot), and `..` stops there. So a symlink
/// that points out of an image is followed to the same path inside it, never outside; when
/// nothing is there inside, it leads nowhere and the operation is refused. The last component
/// of a path is never followed: writes refuse a symlink there, removals look at the link itself.
/// For the root `/` the lookups are ordinary ones (there is nothing to confine them to).
public struct SystemRoot: ~Copyable {
  public let paths: SystemPaths
  let fd: Int32
  /// RESOLVE_IN_ROOT applies: any root but `/`.
  let confined: Bool

  /// Opens `paths.root` (following symlinks, as chroot does for its argument).
  public init(_ paths: SystemPaths) throws(BinfmtError) {
    let root = paths.root.string
    let fd: Int32
    switch valueOrErrno({ open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) {
    case .success(let f): fd = f
    case .failure(let e): throw errnoError(e, path: root, action: "cannot open the root directory")
    }
    let confined = paths.root != FilePath("/")
    if confined {
      switch Self.openat2(fd, ".", O_RDONLY | O_DIRECTORY, confined: true) {
      case .success(let probe):
        close(probe)
      case .failure(.noFunction):
        close(fd)
        throw BinfmtError(
          .system, "this kernel cannot keep lookups inside the root: openat2(2) needs Linux 5.6", at: root,
          cause: .errno(.noFunction, call: "openat2"), fix: "run it on Linux 5.6 or newer")
      case .failure:
        break  // the first real lookup reports it, naming the path
      }
    }
    self.paths = paths
    self.fd = fd
    self.confined = confined
  }

  deinit { close(fd) }

  // MARK: Lookups

  /// openat2(dirfd, path, flags | O_CLOEXEC) with RESOLVE_IN_ROOT (and no magic links) when
  /// `confined`; EAGAIN (a rename raced a `..` lookup) is retried.
  static func openat2(_ dirfd: Int32, _ path: String, _ flags: Int32, mode: mode_t = 0, confined: Bool) -> Result<
    Int32, Errno
  > {
    let resolve = confined ? UInt64(RESOLVE_IN_ROOT) | UInt64(RESOLVE_NO_MAGICLINKS) : 0
    var attempts = 0
    while true {
      let r = valueOrErrno {
        PathBytes.withCString(path) {
          binfmtctl_openat2(dirfd, $0, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), UInt64(mode), resolve)
        }
      }
      switch r {
      case .failure(.resourceTemporarilyUnavailable) where attempts < 16:
        attempts += 1
      case .failure(.noFunction) where !confined:
        // Linux before 5.6, or a seccomp filter that does not know openat2: nothing to confine.
        return valueOrErrno { PathBytes.withCString(path) { openat(dirfd, $0, flags | O_CLOEXEC, mode) } }
      default:
        return r
      }
    }
  }

  /// `absolute` relative to the root ("." for the root itself).
  static func relative(_ absolute: String) -> String {
    if absolute.utf8.count > 1, absolute.utf8.first == UInt8(ascii: "/"), SystemPaths.isClean(absolute) {
      return String(absolute.utf8.dropFirst())!
    }
    // The components joined by single slashes, on bytes ("/" is never inside an escape
    // scalar's UTF-8, so PathBytes strings split the same way).
    var out: [UInt8] = []
    out.reserveCapacity(absolute.utf8.count)
    for part in absolute.utf8.split(separator: UInt8(ascii: "/")) {
      if !out.isEmpty { out.append(UInt8(ascii: "/")) }
      out.append(contentsOf: part)
    }
    return out.isEmpty ? "." : String(decoding: out, as: UTF8.self)
  }

  /// Where `absolute` is on this machine, for messages (what chroot would show is `absolute`).
  public func shown(_ absolute: String) -> String { paths.path(absolute).string }

  /// The directory at `absolute`, every symlink on the way resolved inside the root.
  func directory(_ absolute: String) throws(Errno) -> Descriptor {
    switch Self.openat2(fd, Self.relative(absolute), O_RDONLY | O_DIRECTORY, confined: confined) {
    case .success(let d): return Descriptor(d)
    case .failure(let e): throw e
    }
  }

  /// (directory, name) of `absolute`; nil for the root itself.
  static func split(_ absolute: String) -> (parent: String, name: String)? {
    let p = FilePath(absolute)
    guard let name = p.lastComponent?.string, name != "..", name != "." else { return nil }
    return (p.removingLastComponent().string, name)
  }

  /// Whether `path` leads to a regular file, every symlink on the way (the last one too)
  /// resolved inside the root as under chroot: how the kernel finds a loader (PT_INTERP) when
  /// a program of this root runs in a container or chroot of it. A relative `path` starts at
  /// the root.
  public func leadsToRegularFile(_ path: String) -> Bool {
    guard case .success(let f) = Self.openat2(fd, path.isEmpty ? "." : path, __O_PATH, confined: confined) else {
      return false
    }
    defer { close(f) }
    var st = stat()
    return fstat(f, &st) == 0 && st.st_mode & S_IFMT == S_IFREG
  }

  /// Where `path` leads on this host, every symlink on the way (the last one too) resolved
  /// inside the root as under chroot (openat2 RESOLVE_IN_ROOT, then /proc/self/fd): the file
  /// a program of this root names. nil when it leads nowhere; the errno says why.
  public func hostPath(of path: String) -> Result<String, Errno> {
    switch Self.openat2(fd, path.isEmpty ? "." : path, __O_PATH, confined: confined) {
    case .failure(let e): return .failure(e)
    case .success(let f):
      defer { close(f) }
      guard let p = ConfigFiles.readLink("/proc/self/fd/\(f)") else { return .failure(.noSuchFileOrDirectory) }
      return .success(p)
    }
  }

  /// What is at `absolute`, without following a final symlink; `.absent` when its directory
  /// cannot be reached inside the root.
  public func node(_ absolute: String) -> FileNode {
    guard let (parent, name) = Self.split(absolute), let dir = try? directory(parent) else { return .absent }
    return Self.node(in: dir.raw, name)
  }

  static func node(in dir: Int32, _ name: String) -> FileNode {
    var st = stat()
    guard PathBytes.withCString(name, { fstatat(dir, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return .absent }
    switch st.st_mode & S_IFMT {
    case S_IFLNK: return .symlink(to: readLink(in: dir, name) ?? "")
    case S_IFREG:
      guard
        case .success(let f) = valueOrErrno({
          PathBytes.withCString(name) { openat(dir, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        })
      else { return .other }
      defer { close(f) }
      return (try? readSmallFile(fd: f, shownAs: name)).map(FileNode.file) ?? .other
    default: return .other
    }
  }

  static func readLink(in dir: Int32, _ name: String) -> String? {
    var buf = [CChar](repeating: 0, count: 4097)
    let n = PathBytes.withCString(name) { readlinkat(dir, $0, &buf, 4096) }
    guard n >= 0 else { return nil }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Names in the directory at `absolute`; nil when it cannot be opened.
  public func directoryEntries(_ absolute: String) -> [String]? {
    try? directoryListing(absolute).get()
  }

  /// The same, with why it could not be opened or read.
  public func directoryListing(_ absolute: String) -> Result<[String], Errno> {
    let dir: Descriptor
    do { dir = try directory(absolute) } catch { return .failure(error) }
    return LinuxSystem.directoryListing(fd: dir.raw)
  }

  /// The `*.conf` files of a binfmt.d directory (hidden ones skipped, as systemd does), each
  /// classified; the directory is opened once.
  public func confFiles(in absolute: String) -> Result<[(name: String, kind: ConfFile.Kind)], Errno> {
    let dir: Descriptor
    do { dir = try directory(absolute) } catch { return .failure(error) }
    let raw = dir.raw
    let names: [String]
    switch LinuxSystem.directoryListing(fd: raw) {
    case .success(let n): names = n
    case .failure(let e): return .failure(e)
    }
    return .success(
      names.compactMap { name in
        guard name.hasSuffix(".conf"), !name.hasPrefix(".") else { return nil }
        return (name, classifyConf(absolute + "/" + name, in: raw, name: name))
      })
  }

  /// A binfmt.d file, classified the way systemd-binfmt does: a symlink to /dev/null, a
  /// character device or an empty file masks; a symlink is followed (inside the root).
  public func classifyConf(_ absolute: String) -> ConfFile.Kind {
    guard let (parent, name) = Self.split(absolute), let dir = try? directory(parent) else {
      return .unreadable("cannot open its directory")
    }
    return classifyConf(absolute, in: dir.raw, name: name)
  }

  /// The same for `name` in the already open directory `dir` (whose path `absolute` ends in
  /// it): a directory of binfmt.d files is opened once, not once per file.
  func classifyConf(_ absolute: String, in dir: Int32, name: String) -> ConfFile.Kind {
    // A symlink to /dev/null masks (lstat only: the file itself is read once, below).
    var lst = stat()
    if PathBytes.withCString(name, { fstatat(dir, $0, &lst, AT_SYMLINK_NOFOLLOW) }) == 0,
      lst.st_mode & S_IFMT == S_IFLNK, Self.readLink(in: dir, name) == "/dev/null"
    {
      return .mask
    }
    // Opened from the root, so a symlinked file is followed inside it.
    let f: Int32
    switch Self.openat2(fd, Self.relative(absolute), O_RDONLY | O_NONBLOCK, confined: confined) {
    case .success(let x):
      f = x
    case .failure(.noSuchFileOrDirectory), .failure(.tooManySymbolicLinkLevels):
      return .unreadable("dangling symlink")
    case .failure(.noSuchAddressOrDevice):
      return .unreadable("not a regular file")
    case .failure(let e):
      return .unreadable(errnoError(e, path: shown(absolute), action: "cannot open").description)
    }
    defer { close(f) }
    var st = stat()
    guard fstat(f, &st) == 0 else { return .unreadable("cannot stat") }
    if st.st_mode & S_IFMT == S_IFCHR { return .mask }
    if st.st_mode & S_IFMT == S_IFREG && st.st_size == 0 { return .mask }
    guard st.st_mode & S_IFMT == S_IFREG else { return .unreadable("not a regular file") }
    do {
      return .regular(try readSmallFileBytes(fd: f, shownAs: shown(absolute)))
    } catch {
      return .unreadable(error.description)
    }
  }

  // MARK: Changes

  /// A component on the way to a directory that is not one (inside the root); `link` is its
  /// text when it is a symlink.
  func notADirectory(_ e: Errno, _ absolute: String, link: String?) -> BinfmtError {
    let inside = confined ? " inside \(paths.root.string) (symlinks resolve as under chroot)" : ""
    let what = link.map { "is a symlink to \($0)" } ?? "exists"
    switch e {
    case .noSuchFileOrDirectory:
      return BinfmtError(
        .conflict, "\(what) that leads to no directory\(inside); refusing to create through it",
        at: shown(absolute), cause: .said(e),
        fix: "create its target\(confined ? " in the image" : ""), or remove the link")
    case .notDirectory:
      return BinfmtError(
        .conflict, "\(what) and is not a directory\(link == nil ? "" : inside)", at: shown(absolute), cause: .said(e))
    case .tooManySymbolicLinkLevels:
      return BinfmtError(
        .conflict, "\(what) that loops\(inside)", at: shown(absolute), cause: .said(e),
        fix: "make it point to a directory\(confined ? " in the image" : "")")
    default:
      return errnoError(e, path: shown(absolute), action: "cannot open directory")
    }
  }

  /// Walks `absolute` from the root: the deepest directory that exists, and the path of the
  /// first component that does not (nil when all do). Throws when a component exists but
  /// does not lead to a directory (a file, a dangling or looping symlink).
  func deepestDirectory(_ absolute: String) throws(BinfmtError) -> Walk {
    var path = "/"
    var dir: Descriptor
    do { dir = try directory("/") } catch { throw errnoError(error, path: shown("/"), action: "cannot open") }
    for c in FilePath(absolute).components {
      let next = path == "/" ? "/" + c.string : path + "/" + c.string
      do {
        dir = try directory(next)
      } catch {
        var st = stat()
        // Nothing there at all: it (and what follows) can be created.
        if error == .noSuchFileOrDirectory
          && PathBytes.withCString(c.string, { fstatat(dir.raw, $0, &st, AT_SYMLINK_NOFOLLOW) }) != 0
        {
          return Walk(dir: dir, path: path, missing: next)
        }
        throw notADirectory(error, next, link: Self.readLink(in: dir.raw, c.string))
      }
      path = next
    }
    return Walk(dir: dir, path: path, missing: nil)
  }

  /// Where `deepestDirectory` stopped.
  struct Walk: ~Copyable {
    var dir: Descriptor
    var path: String
    var missing: String?
  }

  /// Before the first write: the directory a file goes in (or the deepest one that exists,
  /// which the rest would be created in) can be reached inside the root and written.
  public func checkWritable(forFileAt absolute: String) throws(BinfmtError) {
    guard let (parent, _) = Self.split(absolute) else { return }
    let walk = try deepestDirectory(parent)
    if let e = nothingOrErrno({ faccessat(walk.dir.raw, ".", W_OK, 0) }) {
      throw BinfmtError(
        .system, "cannot write here", at: shown(walk.path), cause: .errno(e),
        fix: CurrentProcess.isRoot ? nil : "run it with sudo")
    }
  }

  /// mkdir -p inside the root; returns the directory, open.
  func makeDirectories(_ absolute: String, mode: mode_t = 0o755) throws(BinfmtError) -> Descriptor {
    var walk = try deepestDirectory(absolute)
    while let next = walk.missing {
      let name = FilePath(next).lastComponent?.string ?? ""
      if let e = nothingOrErrno({ mkdirat(walk.dir.raw, name, mode) }), e != .fileExists {
        throw errnoError(e, path: shown(next), action: "cannot create directory")
      }
      walk = try deepestDirectory(absolute)
    }
    return walk.dir
  }

  /// Writes `contents` atomically (AtomicFile) at `absolute`, creating its directories.
  public func write(
    _ contents: String, to absolute: String, mode: mode_t = 0o644, beforeRename: (FilePath) -> Void = { _ in }
  ) throws(BinfmtError) {
    guard let (parent, name) = Self.split(absolute) else {
      throw BinfmtError(.invalidInput, "is not a file path", at: absolute)
    }
    let dir = try makeDirectories(parent)
    try AtomicFile.write(
      contents, in: dir.raw, name: name, shownAs: paths.path(absolute), mode: mode, beforeRename: beforeRename)
  }

  /// Creates `absolute` → `target`, as `systemctl enable` and `rc-update add` do. An existing
  /// identical link is fine; anything else there is refused.
  public func symlink(_ target: String, at absolute: String) throws(BinfmtError) {
    guard let (parent, name) = Self.split(absolute) else {
      throw BinfmtError(.invalidInput, "is not a file path", at: absolute)
    }
    let dir = try makeDirectories(parent)
    switch Self.node(in: dir.raw, name) {
    case .symlink(let t) where t == target: return
    case .absent: break
    default:
      throw BinfmtError(
        .conflict, "exists and is not a symlink to \(target); refusing to replace it", at: shown(absolute))
    }
    if let e = nothingOrErrno({ symlinkat(target, dir.raw, name) }) {
      throw errnoError(e, path: shown(absolute), action: "cannot create symlink")
    }
    fsync(dir.raw)
  }

  /// Removes `absolute` only if it is a symlink to `target`. Returns whether it did.
  @discardableResult
  public func removeSymlink(_ absolute: String, ifPointingTo target: String) throws(BinfmtError) -> Bool {
    guard let (parent, name) = Self.split(absolute), let dir = try? directory(parent) else { return false }
    guard case .symlink(let t) = Self.node(in: dir.raw, name), t == target else { return false }
    try unlinkEntry(name, in: dir, shownAs: absolute)
    return true
  }

  /// Removes a regular file only when `isOurs` says its text is ours. Returns whether it did.
  @discardableResult
  public func removeFile(_ absolute: String, ifOurs isOurs: (String) -> Bool) throws(BinfmtError) -> Bool {
    guard let (parent, name) = Self.split(absolute), let dir = try? directory(parent) else { return false }
    guard case .file(let text) = Self.node(in: dir.raw, name), isOurs(text) else { return false }
    try unlinkEntry(name, in: dir, shownAs: absolute)
    return true
  }

  func unlinkEntry(_ name: String, in dir: borrowing Descriptor, shownAs absolute: String) throws(BinfmtError) {
    if let e = nothingOrErrno({ PathBytes.withCString(name) { unlinkat(dir.raw, $0, 0) } }) {
      throw errnoError(e, path: shown(absolute), action: "cannot remove")
    }
    fsync(dir.raw)
  }

  /// Removes the temporary files (`.NAME.tmp.PID`, AtomicFile's) that a killed run left in
  /// `directory`: only regular files of exactly that pattern, only for names `owned` accepts,
  /// and only when process PID no longer exists. Returns their paths.
  public func removeStaleTemporaries(in directory: String, owned: (String) -> Bool) -> [String] {
    guard let dir = try? self.directory(directory) else { return [] }
    var removed: [String] = []
    for entry in LinuxSystem.directoryEntries(fd: dir.raw) ?? [] {
      guard let (name, pid) = AtomicFile.parseTemporaryName(entry), owned(name), !CurrentProcess.isAlive(pid)
      else { continue }
      var st = stat()
      guard PathBytes.withCString(entry, { fstatat(dir.raw, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0,
        st.st_mode & S_IFMT == S_IFREG
      else { continue }
      if PathBytes.withCString(entry, { unlinkat(dir.raw, $0, 0) }) == 0 {
        removed.append(FilePath(directory).appending(entry).string)
      }
    }
    if !removed.isEmpty { fsync(dir.raw) }
    return removed
  }
}

/// A file descriptor, closed when the value goes away.
struct Descriptor: ~Copyable {
  let raw: Int32
  init(_ raw: Int32) { self.raw = raw }
  deinit { close(raw) }
}
