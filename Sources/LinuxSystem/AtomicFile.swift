import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Writes files the way a crash cannot half-do: a temp file in the same directory, fsync,
/// rename over the target, fsync the directory. Never follows a symlink at the target.
public enum AtomicFile {
  /// `beforeRename` is a test seam: it runs when the new text is on disk in the temp file and
  /// the old file is still in place, the moment a crash would hurt most.
  public static func write(
    _ contents: String, to path: FilePath, mode: mode_t = 0o644, beforeRename: (FilePath) -> Void = { _ in }
  ) throws(BinfmtError) {
    let dir = path.removingLastComponent()
    let name = path.lastComponent?.string ?? ""
    var st = stat()
    if lstat(path.string, &st) == 0 {
      if st.st_mode & S_IFMT == S_IFLNK {
        throw BinfmtError(
          .conflict, "is a symlink; refusing to write through it", at: path.string,
          fix: "remove the link if it is not meant to be there")
      }
      if st.st_mode & S_IFMT != S_IFREG {
        throw BinfmtError(.conflict, "exists and is not a regular file", at: path.string)
      }
    }
    let tmp = dir.appending(".\(name).tmp.\(getpid())")
    let fd: FileDescriptor
    do {
      fd = try FileDescriptor.open(
        tmp, .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec],
        permissions: FilePermissions(rawValue: mode))
    } catch {
      throw errnoError(error, path: tmp.string, action: "cannot create")
    }
    do {
      try fd.closeAfter {
        _ = try fd.writeAll(Array(contents.utf8))
        if let e = nothingOrErrno({ fsync(fd.rawValue) }) { throw e }
        // The umask may have narrowed the mode; the caller asked for exactly this one.
        if let e = nothingOrErrno({ fchmod(fd.rawValue, mode) }) { throw e }
      }
    } catch {
      unlink(tmp.string)
      throw errnoError(error, path: tmp.string, action: "cannot write")
    }
    beforeRename(tmp)
    if let e = nothingOrErrno({ rename(tmp.string, path.string) }) {
      unlink(tmp.string)
      throw errnoError(e, path: path.string, action: "cannot rename into place")
    }
    syncDirectory(dir)
  }

  public static func syncDirectory(_ dir: FilePath) {
    let fd = open(dir.string, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
      fsync(fd)
      close(fd)
    }
  }

  /// mkdir -p, refusing to pass through a symlinked component it did not expect.
  public static func makeDirectories(_ dir: FilePath, mode: mode_t = 0o755) throws(BinfmtError) {
    var current = dir.root.map { FilePath(root: $0) } ?? FilePath(".")
    for c in dir.components {
      current.append(c)
      var st = stat()
      if lstat(current.string, &st) == 0 {
        if st.st_mode & S_IFMT == S_IFDIR { continue }
        if st.st_mode & S_IFMT == S_IFLNK, stat(current.string, &st) == 0, st.st_mode & S_IFMT == S_IFDIR {
          continue  // an existing symlinked directory (e.g. /etc -> /private/etc) is the system's choice
        }
        throw BinfmtError(.conflict, "exists and is not a directory", at: current.string)
      }
      if let e = nothingOrErrno({ mkdir(current.string, mode) }), e != .fileExists {
        throw errnoError(e, path: current.string, action: "cannot create directory")
      }
    }
  }
}
