import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Reading binfmt.d directories.
public enum ConfigFiles {
  /// Every `*.conf` in systemd's binfmt.d search path under `paths.root`, classified the way
  /// systemd does: a symlink to /dev/null or an empty file masks. Paths resolve inside the
  /// root (`SystemRoot`), as systemd-binfmt in that root would see them.
  public static func scanBinfmtD(_ paths: SystemPaths, directories: [String] = Persistence.searchDirectories)
    -> [ConfFile]
  {
    guard let root = try? SystemRoot(paths) else { return [] }
    var out: [ConfFile] = []
    for dir in directories {
      switch root.confFiles(in: dir) {
      case .success(let files):
        for f in files { out.append(ConfFile(directory: dir, name: f.name, kind: f.kind)) }
      case .failure(let e):
        // Absent is normal; anything else means files systemd-binfmt may apply are unseen.
        if e != .noSuchFileOrDirectory && e != .notDirectory {
          out.append(ConfFile(directory: dir, name: "", kind: .unreadable("cannot read the directory: \(e)")))
        }
      }
    }
    return out
  }

  /// stat(2) says a directory (following symlinks, as chroot would for the root itself).
  public static func isDirectory(_ path: FilePath) -> Bool {
    var st = stat()
    return PathBytes.withCString(path.string, { stat($0, &st) }) == 0 && st.st_mode & S_IFMT == S_IFDIR
  }

  public static func readLink(_ path: String) -> String? {
    var buf = [CChar](repeating: 0, count: 4097)
    let n = PathBytes.withCString(path) { readlink($0, &buf, 4096) }
    guard n >= 0 else { return nil }
    return PathBytes.string(buf[0..<n].map { UInt8(bitPattern: $0) })
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
    // WSL2 kernels name themselves: "5.15.153.1-microsoft-standard-WSL2".
    for file in ["/proc/sys/kernel/osrelease", "/proc/version"] {
      let v = (try? readSmallFile(paths.path(file))) ?? ""
      if ByteText.contains(v, "microsoft") || ByteText.contains(v, "Microsoft") { return true }
    }
    return false
  }
}
