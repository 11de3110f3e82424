import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// The live binfmt_misc table, read from procfs (read-only here).
public struct BinfmtMiscTable: Sendable {
  /// `status` exists: binfmt_misc is mounted at the path.
  public var mounted: Bool
  /// The global switch (`status` says enabled).
  public var enabled: Bool
  /// Entries in directory order; on current kernels that is newest first.
  public var entries: [KernelEntryStatus]
  /// Entries whose status file could not be read or parsed, with why.
  public var unreadable: [(name: String, error: BinfmtError)]

  public static func read(_ paths: SystemPaths) -> BinfmtMiscTable {
    let dir = paths.binfmtMisc
    var table = BinfmtMiscTable(mounted: false, enabled: false, entries: [], unreadable: [])
    guard let statusText = try? readSmallFile(dir.appending("status")) else { return table }
    table.mounted = true
    table.enabled = statusText.hasPrefix("enabled")
    for name in directoryEntries(dir.string) ?? [] {
      if name == "register" || name == "status" { continue }
      do {
        let bytes = try readSmallFileBytes(dir.appending(name))
        table.entries.append(try KernelEntryStatus.parse(name: name, bytes: bytes))
      } catch {
        table.unreadable.append((name, error))
      }
    }
    return table
  }
}

/// Reads a small file (procfs, config) whole, refusing anything over `limit` bytes. Every
/// byte is kept (`PathBytes`): a file written back from this text is the same file.
public func readSmallFile(_ path: FilePath, limit: Int = 1 << 20) throws(BinfmtError) -> String {
  PathBytes.string(try readSmallFileBytes(path, limit: limit))
}

/// The same, as bytes: for files whose bytes matter (binfmt.d lines, procfs entries, paths).
public func readSmallFileBytes(_ path: FilePath, limit: Int = 1 << 20) throws(BinfmtError) -> [UInt8] {
  let fd: Int32
  switch valueOrErrno({ PathBytes.withCString(path.string) { open($0, O_RDONLY | O_CLOEXEC | O_NONBLOCK) } }) {
  case .success(let f): fd = f
  case .failure(let e): throw errnoError(e, path: path.string, action: "cannot open")
  }
  defer { close(fd) }
  return try readSmallFileBytes(fd: fd, shownAs: path.string, limit: limit)
}

/// `readSmallFile` of an open file, from its current offset; `path` names it in messages.
func readSmallFile(fd: Int32, shownAs path: String, limit: Int = 1 << 20) throws(BinfmtError) -> String {
  PathBytes.string(try readSmallFileBytes(fd: fd, shownAs: path, limit: limit))
}

/// `readSmallFileBytes` of an open file, from its current offset.
/// `path` is only for messages: built only when one is thrown.
func readSmallFileBytes(fd: Int32, shownAs path: @autoclosure () -> String, limit: Int = 1 << 20) throws(BinfmtError)
  -> [UInt8]
{
  let file = FileDescriptor(rawValue: fd)
  var out: [UInt8] = []
  // An uninitialised scratch buffer: zero-filling 4 KiB per file showed up in status.
  return try withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 16) { (buf) throws(BinfmtError) -> [UInt8] in
    while true {
      let n: Int
      do {
        n = try file.read(into: buf, retryOnInterrupt: true)
      } catch {
        throw errnoError(error, path: path(), action: "cannot read")
      }
      if n == 0 { break }
      out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[0..<n]))
      if out.count > limit {
        throw BinfmtError(.invalidInput, "larger than \(limit) bytes", at: path())
      }
    }
    return out
  }
}

/// Names in a directory, in readdir(3) order, without `.` and `..`; nil if it cannot be opened.
public func directoryEntries(_ path: String) -> [String]? {
  try? directoryListing(path).get()
}

/// The same, with why open(2) failed.
public func directoryListing(_ path: String) -> Result<[String], Errno> {
  let fd: Int32
  switch valueOrErrno({ PathBytes.withCString(path) { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } }) {
  case .success(let f): fd = f
  case .failure(let e): return .failure(e)
  }
  defer { close(fd) }
  return directoryListing(fd: fd)
}

/// `directoryEntries` of an open directory (which stays open, and is read from the start).
func directoryEntries(fd: Int32) -> [String]? {
  try? directoryListing(fd: fd).get()
}

/// The same, with why it could not be read.
func directoryListing(fd: Int32) -> Result<[String], Errno> {
  let copy: Int32
  switch valueOrErrno({ dup(fd) }) {
  case .success(let c): copy = c
  case .failure(let e): return .failure(e)
  }
  guard let d = fdopendir(copy) else {
    let e = Errno(rawValue: errno)
    close(copy)
    return .failure(e)
  }
  defer { closedir(d) }
  rewinddir(d)
  var out: [String] = []
  while let ent = readdir(d) {
    // d_name is NUL-terminated (a Slice of the raw tuple would go through generic code).
    let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
      PathBytes.string(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
    }
    if name != "." && name != ".." { out.append(name) }
  }
  return .success(out)
}

/// access(2) for existence without following into the file.
public func fileExists(_ path: FilePath) -> Bool {
  var st = stat()
  return PathBytes.withCString(path.string, { stat($0, &st) }) == 0
}
