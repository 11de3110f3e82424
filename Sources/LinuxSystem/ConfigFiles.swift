import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Reading binfmt.d directories and managing the few files and symlinks `persist` owns.
public enum ConfigFiles {
  /// Every `*.conf` in systemd's binfmt.d search path under `paths.root`, classified the way
  /// systemd does: a symlink to /dev/null or an empty file masks.
  public static func scanBinfmtD(_ paths: SystemPaths, directories: [String] = Persistence.searchDirectories)
    -> [ConfFile]
  {
    var out: [ConfFile] = []
    for dir in directories {
      let real = paths.path(dir).string
      let names: [String]
      switch directoryListing(real) {
      case .success(let n): names = n
      case .failure(let e):
        // Absent is normal; anything else means files systemd-binfmt may apply are unseen.
        if e != .noSuchFileOrDirectory && e != .notDirectory {
          out.append(ConfFile(directory: dir, name: "", kind: .unreadable("cannot read the directory: \(e)")))
        }
        continue
      }
      for name in names {
        guard name.hasSuffix(".conf"), !name.hasPrefix(".") else { continue }
        out.append(ConfFile(directory: dir, name: name, kind: classify(real + "/" + name)))
      }
    }
    return out
  }

  static func classify(_ path: String) -> ConfFile.Kind {
    var st = stat()
    if lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK {
      if readLink(path) == "/dev/null" { return .mask }
    }
    guard stat(path, &st) == 0 else { return .unreadable("dangling symlink") }
    if st.st_mode & S_IFMT == S_IFCHR { return .mask }
    if st.st_mode & S_IFMT == S_IFREG && st.st_size == 0 { return .mask }
    guard st.st_mode & S_IFMT == S_IFREG else { return .unreadable("not a regular file") }
    do {
      return .regular(try readSmallFileBytes(FilePath(path), limit: 1 << 20))
    } catch {
      return .unreadable(error.description)
    }
  }

  /// stat(2) says a directory (following symlinks, as chroot would for the root itself).
  public static func isDirectory(_ path: FilePath) -> Bool {
    var st = stat()
    return stat(path.string, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
  }

  public static func readLink(_ path: String) -> String? {
    var buf = [CChar](repeating: 0, count: 4097)
    let n = readlink(path, &buf, 4096)
    guard n >= 0 else { return nil }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  public static func node(_ path: FilePath) -> FileNode {
    var st = stat()
    guard lstat(path.string, &st) == 0 else { return .absent }
    switch st.st_mode & S_IFMT {
    case S_IFLNK: return .symlink(to: readLink(path.string) ?? "")
    case S_IFREG: return (try? readSmallFile(path)).map(FileNode.file) ?? .other
    default: return .other
    }
  }

  /// Creates `link` → `target`, as `systemctl enable` and `rc-update add` do. An existing
  /// identical link is fine; anything else there is refused.
  public static func symlink(_ target: String, at link: FilePath) throws(BinfmtError) {
    switch node(link) {
    case .symlink(let t) where t == target: return
    case .absent: break
    default:
      throw BinfmtError(.conflict, "exists and is not a symlink to \(target); refusing to replace it", at: link.string)
    }
    try AtomicFile.makeDirectories(link.removingLastComponent())
    if let e = nothingOrErrno({ Glibc.symlink(target, link.string) }) {
      throw errnoError(e, path: link.string, action: "cannot create symlink")
    }
    AtomicFile.syncDirectory(link.removingLastComponent())
  }

  /// Removes `link` only if it is a symlink to `target`. Returns whether it removed it.
  @discardableResult
  public static func removeSymlink(_ link: FilePath, ifPointingTo target: String) throws(BinfmtError) -> Bool {
    guard case .symlink(let t) = node(link), t == target else { return false }
    if let e = nothingOrErrno({ unlink(link.string) }) {
      throw errnoError(e, path: link.string, action: "cannot remove")
    }
    AtomicFile.syncDirectory(link.removingLastComponent())
    return true
  }

  /// Removes a regular file only when `isOurs` says its text is ours. Returns whether it did.
  @discardableResult
  public static func removeFile(_ path: FilePath, ifOurs isOurs: (String) -> Bool) throws(BinfmtError) -> Bool {
    guard case .file(let text) = node(path), isOurs(text) else { return false }
    if let e = nothingOrErrno({ unlink(path.string) }) {
      throw errnoError(e, path: path.string, action: "cannot remove")
    }
    AtomicFile.syncDirectory(path.removingLastComponent())
    return true
  }
}

extension InitSystem {
  /// On the running system (`root` is "/"): systemd when it is PID 1 (/run/systemd/system,
  /// as sd_booted checks); WSL without systemd; OpenRC; else none. For an offline root
  /// (--root), what the image has installed.
  public static func detect(_ paths: SystemPaths, offline: Bool) -> InitSystem {
    func exists(_ p: String) -> Bool { fileExists(paths.path(p)) }
    if offline {
      if exists("/lib/systemd/systemd") || exists("/usr/lib/systemd/systemd") { return .systemd }
      if exists("/sbin/openrc-run") || exists("/usr/sbin/openrc-run") { return .openrc }
      if exists("/etc/wsl.conf") { return .wsl }
      return .none
    }
    if exists("/run/systemd/system") { return .systemd }
    if isWSL(paths) { return .wsl }
    if exists("/run/openrc") || exists("/sbin/openrc-run") { return .openrc }
    return .none
  }

  public static func isWSL(_ paths: SystemPaths) -> Bool {
    if fileExists(paths.path("/proc/sys/fs/binfmt_misc/WSLInterop")) || fileExists(paths.path("/run/WSL")) {
      return true
    }
    let v = (try? readSmallFile(paths.path("/proc/version"))) ?? ""
    return v.contains("microsoft") || v.contains("Microsoft")
  }
}
