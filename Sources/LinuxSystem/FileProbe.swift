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
  /// The permission bits of st_mode, setuid, setgid and sticky included.
  public var mode: UInt32 = 0
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
        FilePath(pathBytes: path), .readOnly, options: [.nonBlocking, .closeOnExec])
    } catch {
      throw errnoError(error, path: path, action: "cannot open")
    }
    defer { try? fd.close() }
    var st = stat()
    if let e = nothingOrErrno({ fstat(fd.rawValue, &st) }) {
      throw errnoError(e, path: path, action: "cannot stat")
    }
    guard st.st_mode & S_IFMT == S_IFREG else {
      throw BinfmtError(.invalidInput, FileKindError.describe(mode: st.st_mode), at: path)
    }
    let size = UInt64(clamping: st.st_size)  // off_t is signed: never trap on what stat says
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
    return FileHead(path: path, size: size, bytes: buf, isExecutable: exec, mode: UInt32(st.st_mode & 0o7777))
  }
}

/// Whether an ELF executable names a program interpreter (PT_INTERP), from its header and
/// program headers only: a few hundred bytes, not the whole file (emulators are megabytes and
/// `install --all` asks about thirty of them). nil when the file is not ELF or unreadable.
public func elfHasInterpreter(_ path: String) -> Bool? {
  guard
    case .success(let fd) = valueOrErrno({ PathBytes.withCString(path) { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) } }
    )
  else { return nil }
  defer { close(fd) }
  func pread(_ count: Int, at offset: UInt64) -> [UInt8]? {
    guard let off = off_t(exactly: offset) else { return nil }
    var buf = [UInt8](repeating: 0, count: count)
    guard count > 0 else { return buf }
    let n = buf.withUnsafeMutableBytes { raw in valueOrErrno { Glibc.pread(fd, raw.baseAddress, count, off) } }
    guard case .success(count) = n else { return nil }
    return buf
  }
  guard let head = pread(64, at: 0), let h = try? ELFHeader.decode(head), h.phnum < 512,
    let table = pread(Int(h.phentsize) * Int(h.phnum), at: h.phoff),
    let headers = ELFProgramHeader.decodeTable(table, header: h)
  else { return nil }
  return headers.contains { $0.type == ELFProgramHeader.interpreter }
}
