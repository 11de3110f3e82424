import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// rm -rf of a directory binfmtctl made (an image's exported root file system): symlinks are
/// removed, never followed (lstat), and a directory the image made read-only is first made
/// writable by its owner, us. Best effort: what cannot be removed stays.
public func removeTree(_ path: String) {
  var st = stat()
  guard PathBytes.withCString(path, { lstat($0, &st) }) == 0 else { return }
  if st.st_mode & S_IFMT == S_IFDIR {
    _ = PathBytes.withCString(path) { chmod($0, 0o700) }
    for name in directoryEntries(path) ?? [] { removeTree(path + "/" + name) }
    _ = PathBytes.withCString(path) { rmdir($0) }
  } else {
    _ = PathBytes.withCString(path) { unlink($0) }
  }
}
