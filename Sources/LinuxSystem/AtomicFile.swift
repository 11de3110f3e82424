import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Writes files the way a crash cannot half-do: a temp file in the same directory, fsync,
/// rename over the target, fsync the directory. Never follows a symlink at the target.
public enum AtomicFile {
  /// Writes `path`, following symlinks in its directory's path (`generate --output`; files
  /// under a system root go through `SystemRoot.write`).
  ///
  /// `beforeRename` is a test seam: it runs when the new text is on disk in the temp file and
  /// the old file is still in place, the moment a crash would hurt most.
  public static func write(
    _ contents: String, to path: FilePath, mode: mode_t = 0o644, beforeRename: (FilePath) -> Void = { _ in }
  ) throws(BinfmtError) {
    let dir = path.removingLastComponent()
    let fd: Int32
    switch valueOrErrno({ open(dir.string, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) {
    case .success(let f): fd = f
    case .failure(let e): throw errnoError(e, path: dir.string, action: "cannot open directory")
    }
    defer { close(fd) }
    try write(
      contents, in: fd, name: path.lastComponent?.string ?? "", shownAs: path, mode: mode, beforeRename: beforeRename)
  }

  /// The one atomic write: `name` in the open directory `dir`. `path` names it in messages.
  static func write(
    _ contents: String, in dir: Int32, name: String, shownAs path: FilePath, mode: mode_t,
    beforeRename: (FilePath) -> Void
  ) throws(BinfmtError) {
    var st = stat()
    if fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
      if st.st_mode & S_IFMT == S_IFLNK {
        throw BinfmtError(
          .conflict, "is a symlink; refusing to write through it", at: path.string,
          fix: "remove the link if it is not meant to be there")
      }
      if st.st_mode & S_IFMT != S_IFREG {
        throw BinfmtError(.conflict, "exists and is not a regular file", at: path.string)
      }
    }
    let tmpName = temporaryName(for: name, pid: getpid())
    let tmp = path.removingLastComponent().appending(tmpName)
    let file: FileDescriptor
    switch valueOrErrno({ openat(dir, tmpName, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode) }) {
    case .success(let f): file = FileDescriptor(rawValue: f)
    case .failure(let e): throw errnoError(e, path: tmp.string, action: "cannot create")
    }
    do {
      try file.closeAfter {
        _ = try file.writeAll(PathBytes.bytes(contents))
        if let e = nothingOrErrno({ fsync(file.rawValue) }) { throw e }
        // The umask may have narrowed the mode; the caller asked for exactly this one.
        if let e = nothingOrErrno({ fchmod(file.rawValue, mode) }) { throw e }
      }
    } catch {
      unlinkat(dir, tmpName, 0)
      throw errnoError(error, path: tmp.string, action: "cannot write")
    }
    beforeRename(tmp)
    if let e = nothingOrErrno({ renameat(dir, tmpName, dir, name) }) {
      unlinkat(dir, tmpName, 0)
      throw errnoError(e, path: path.string, action: "cannot rename into place")
    }
    fsync(dir)
  }

  /// The hidden temp file of a write of `name` by process `pid`: `.NAME.tmp.PID`.
  public static func temporaryName(for name: String, pid: Int32) -> String { ".\(name).tmp.\(pid)" }

  /// `temporaryName` read back: (NAME, PID) for exactly that pattern (PID decimal, no
  /// leading zero, a valid pid), nil for anything else.
  public static func parseTemporaryName(_ entry: String) -> (name: String, pid: Int32)? {
    let u = Array(entry.utf8)
    let marker = Array(".tmp.".utf8)
    guard u.first == UInt8(ascii: "."), u.count >= 1 + 1 + marker.count + 1 else { return nil }
    // The last ".tmp." splits NAME from PID: a name may itself contain ".tmp.".
    var i = u.count - marker.count
    while i >= 2 && !u[i..<(i + marker.count)].elementsEqual(marker) { i -= 1 }
    guard i >= 2 else { return nil }
    let digits = u[(i + marker.count)...]
    guard let first = digits.first, first != UInt8(ascii: "0"), digits.count <= 10,
      digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
      let pid = Int32(String(decoding: digits, as: UTF8.self))
    else { return nil }
    return (String(decoding: u[1..<i], as: UTF8.self), pid)
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
