import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Runs a libc call that returns -1 and sets errno on failure; reads errno at once and
/// retries on EINTR (swift-system's `valueOrErrno`).
@inline(__always)
func valueOrErrno<I: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ call: () -> I) -> Result<I, Errno> {
  while true {
    let r = call()
    if r != -1 { return .success(r) }
    let e = Errno(rawValue: Glibc.errno)
    if retryOnInterrupt && e == .interrupted { continue }
    return .failure(e)
  }
}

/// `valueOrErrno` for calls whose only success value is 0.
@inline(__always)
func nothingOrErrno<I: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ call: () -> I) -> Errno? {
  switch valueOrErrno(retryOnInterrupt: retryOnInterrupt, call) {
  case .success: return nil
  case .failure(let e): return e
  }
}

/// An error of a file operation, naming the file: ENOENT is "no such file" (not found), a
/// directory is bad input, anything else is the system's refusal. The errno stays in `cause`.
func errnoError(_ error: any Error, path: String, action: String) -> BinfmtError {
  guard let e = error as? Errno else {
    return BinfmtError(.system, "\(action): \(error)", at: path)
  }
  switch e {
  case .noSuchFileOrDirectory: return BinfmtError(.notFound, "no such file", at: path, cause: .said(e))
  case .permissionDenied: return BinfmtError(.system, "\(action): permission denied", at: path, cause: .said(e))
  case .isDirectory: return BinfmtError(.invalidInput, "is a directory", at: path, cause: .said(e))
  default: return BinfmtError(.system, "\(action): \(e)", at: path, cause: .said(e))
  }
}

/// The running process: who it is and how it leaves.
public enum CurrentProcess {
  /// Root in its user namespace: the only one binfmt_misc lets change the table.
  public static var isRoot: Bool { geteuid() == 0 }
  public static var effectiveUID: UInt32 { geteuid() }

  /// getpid(2): 1 when this process is the init of its pid namespace (a container's
  /// ENTRYPOINT), whose exit ends the container.
  public static var pid: Int32 { getpid() }

  /// The executable's path (`/proc/self/exe`).
  public static var executablePath: String? { ConfigFiles.readLink("/proc/self/exe") }

  /// The command-line arguments after argv[0], each byte kept (`PathBytes`): a path that is
  /// not UTF-8 must name the same file (`CommandLine.arguments` would hold U+FFFD instead).
  public static var arguments: [String] {
    (1..<Int(CommandLine.argc)).map { i in
      guard let p = CommandLine.unsafeArgv[i] else { return "" }
      return PathBytes.string(cString: p)
    }
  }

  /// `$NAME`, nil when unset.
  public static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

  /// Standard input up to `limit` bytes (read(2), retrying EINTR), decoded as UTF-8; what
  /// `doctor --message -` reads. Empty when stdin is closed or unreadable.
  public static func readStandardInput(limit: Int) -> String {
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 4096)
    while out.count < limit {
      let r = buf.withUnsafeMutableBytes { raw in valueOrErrno { Glibc.read(0, raw.baseAddress, raw.count) } }
      guard case .success(let n) = r, n > 0 else { break }
      out += buf[0..<n]
    }
    return String(decoding: out.prefix(limit), as: UTF8.self)
  }

  /// Writes every byte to the file descriptor (write(2), retrying short writes and EINTR;
  /// no stdio buffer to flush before exit).
  @discardableResult
  public static func write(_ s: String, to fd: Int32) -> Errno? {
    // Plain text straight from its UTF-8 storage; a PathBytes string (a path or entry name
    // that is not UTF-8) as its bytes.
    if PathBytes.holdsEscapes(s) { return write(PathBytes.bytes(s), to: fd) }
    var s = s
    return s.withUTF8 { buf in write(buf, to: fd) }
  }

  static func write(_ bytes: [UInt8], to fd: Int32) -> Errno? {
    bytes.withUnsafeBufferPointer { write($0, to: fd) }
  }

  static func write(_ buf: UnsafeBufferPointer<UInt8>, to fd: Int32) -> Errno? {
    var off = 0
    while off < buf.count {
      switch valueOrErrno({ Glibc.write(fd, buf.baseAddress! + off, buf.count - off) }) {
      case .success(let n): off += n
      case .failure(let e):
        if fd == 1 && firstStdoutError == nil { firstStdoutError = e }
        return e
      }
    }
    return nil
  }

  /// The first error writing to stdout (EPIPE when the reader went away): main turns it into
  /// a failing exit status, since a script then never saw the report.
  nonisolated(unsafe) public private(set) static var firstStdoutError: Errno?

  /// SIG_IGN for SIGPIPE: a closed pipe on stdout or stderr must not kill binfmtctl between
  /// writing a file and registering an entry; writes fail with EPIPE instead, and are reported.
  public static func ignoreBrokenPipe() { _ = signal(SIGPIPE, SIG_IGN) }

  public static func exit(_ status: Int32) -> Never { Glibc.exit(status) }

  /// Whether process `pid` exists (kill(2) with signal 0: EPERM means it does, as another
  /// user's; only ESRCH means it does not).
  public static func isAlive(_ pid: Int32) -> Bool {
    guard pid > 0 else { return false }
    return nothingOrErrno({ kill(pid, 0) }) != .noSuchProcess
  }
}

extension ContainerFacts {
  /// The running process's facts, with the marker files looked up under `paths`' root.
  public static func detect(_ paths: SystemPaths) -> ContainerFacts {
    var markers: [String] = []
    for f in ["/.dockerenv", "/run/.containerenv"] where fileExists(paths.path(f)) { markers.append(f) }
    if let c = CurrentProcess.environment("container"), !c.isEmpty { markers.append("container=\(c)") }
    return ContainerFacts(isPID1: CurrentProcess.pid == 1, markers: markers)
  }
}
