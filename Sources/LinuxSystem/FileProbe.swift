import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// The first bytes of a file, read the way the kernel's exec does: one read of at most
/// 256 bytes (BINPRM_BUF_SIZE), never blocking and never reading the whole file.
public struct FileHead: Sendable {
  public var path: String
  public var size: UInt64
  public var bytes: [UInt8]
  public var isExecutable: Bool
}

public enum FileKindError {
  static func describe(mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: return "is a directory"
    case S_IFIFO: return "is a FIFO (named pipe), not a regular file"
    case S_IFCHR: return "is a character device, not a regular file"
    case S_IFBLK: return "is a block device, not a regular file"
    case S_IFSOCK: return "is a socket, not a regular file"
    default: return "is not a regular file"
    }
  }
}

extension FileHead {
  public static let readLimit = 256

  /// Opens `path` with O_NONBLOCK (a FIFO must not hang us), refuses anything but a
  /// regular file, and reads at most `readLimit` bytes from offset 0.
  public static func read(_ path: String, limit: Int = readLimit) throws(BinfmtError) -> FileHead {
    let fd: FileDescriptor
    do {
      fd = try FileDescriptor.open(
        FilePath(path), .readOnly, options: [.nonBlocking, .closeOnExec])
    } catch {
      throw errnoError(error, path: path, action: "cannot open")
    }
    defer { try? fd.close() }
    var st = stat()
    guard fstat(fd.rawValue, &st) == 0 else {
      throw errnoError(Errno(rawValue: errno), path: path, action: "cannot stat")
    }
    guard st.st_mode & S_IFMT == S_IFREG else {
      throw BinfmtError(.invalidInput, FileKindError.describe(mode: st.st_mode), at: path)
    }
    let size = UInt64(st.st_size)
    let want = Int(min(UInt64(limit), size))
    var buf = [UInt8](repeating: 0, count: want)
    var got = 0
    do {
      while got < want {
        let n = try buf.withUnsafeMutableBytes { raw in
          try fd.read(
            fromAbsoluteOffset: Int64(got),
            into: UnsafeMutableRawBufferPointer(rebasing: raw[got...]),
            retryOnInterrupt: true)
        }
        if n == 0 { break }
        got += n
      }
    } catch {
      throw errnoError(error, path: path, action: "cannot read")
    }
    buf.removeLast(want - got)
    let exec = st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH) != 0
    return FileHead(path: path, size: size, bytes: buf, isExecutable: exec)
  }
}

func errnoError(_ error: any Error, path: String, action: String) -> BinfmtError {
  let e = error as? Errno
  let why = e.map { String(describing: $0) } ?? String(describing: error)
  var kind: BinfmtError.Kind = .system
  var message = "\(action): \(why)"
  switch e {
  case .noSuchFileOrDirectory?:
    kind = .notFound
    message = "no such file"
  case .permissionDenied?:
    message = "\(action): permission denied"
  case .isDirectory?:
    kind = .invalidInput
    message = "is a directory"
  default: break
  }
  return BinfmtError(kind, message, at: path)
}

/// Whether an ELF executable names a program interpreter (PT_INTERP), from its header and
/// program headers only: a few hundred bytes, not the whole file (emulators are megabytes and
/// `install --all` asks about thirty of them). nil when the file is not ELF or unreadable.
public func elfHasInterpreter(_ path: String) -> Bool? {
  let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
  guard fd >= 0 else { return nil }
  defer { close(fd) }
  var head = [UInt8](repeating: 0, count: 64)
  guard head.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 64, 0) }) == 64,
    let h = try? ELFHeader.decode(head), h.phentsize == UInt16(h.expectedPhentsize), h.phnum < 512
  else { return nil }
  let size = Int(h.phentsize) * Int(h.phnum)
  var ph = [UInt8](repeating: 0, count: size)
  guard size == 0 || ph.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, size, off_t(h.phoff)) }) == size else { return nil }
  for i in 0..<Int(h.phnum) {
    let o = i * Int(h.phentsize)
    let b = ph[o..<(o + 4)].map(UInt32.init)
    let type = h.byteOrder == .little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
    if type == 3 { return true }  // PT_INTERP
  }
  return false
}
