import BinfmtKit
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Changes to the live binfmt_misc table. Every change is one write(2) to one file, as the
/// kernel requires; errors name the entry and say what to do.
public struct BinfmtMisc: Sendable {
  public var paths: SystemPaths
  public init(paths: SystemPaths) { self.paths = paths }

  /// What to write into an entry's file.
  public enum EntryAction: String, Sendable {
    case enable = "1"
    case disable = "0"
    case remove = "-1"
  }

  /// Whether the kernel knows the file system: listed in /proc/filesystems, or a module
  /// that mount(2) would load.
  public func kernelSupport() -> KernelSupport {
    let fs = (try? readSmallFile(paths.path("/proc/filesystems"))) ?? ""
    let listed = fs.split(separator: "\n").contains { $0.hasSuffix("\tbinfmt_misc") }
    if listed { return .yes }
    let release = kernelRelease()
    let dir = paths.path("/lib/modules/\(release)/kernel/fs")
    let candidates = ["binfmt_misc.ko", "binfmt_misc.ko.xz", "binfmt_misc.ko.zst", "binfmt_misc.ko.gz"]
    return candidates.contains { fileExists(dir.appending($0)) } ? .module : .no
  }

  public var isMounted: Bool { fileExists(paths.binfmtMisc.appending("status")) }

  /// What `ensureMounted` found or did.
  public enum MountOutcome: Sendable, Equatable {
    /// It was mounted already (here, or bound in from the host).
    case alreadyMounted
    /// This call mounted it. `newInstance`: the mount created the instance's superblock, so
    /// no other mount of that instance existed anywhere; the kernel drops every entry when
    /// this mount goes (with its mount namespace, e.g. when a container stops).
    case mounted(newInstance: Bool)
  }

  /// mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc, when it is not mounted.
  ///
  /// Whether the mount made a new instance is read from the kernel, not guessed: a mount
  /// reuses the live superblock of its user namespace's instance when one exists, and a new
  /// superblock stamps its root files with the time it was made (`current_time`, the coarse
  /// real-time clock). `status`'s ctime at or after the coarse clock read just before
  /// mount(2) means the superblock is ours; an older one means another mount (the host's)
  /// keeps the instance alive.
  @discardableResult
  public func ensureMounted() throws(BinfmtError) -> MountOutcome {
    if isMounted { return .alreadyMounted }
    let target = paths.binfmtMisc.string
    let flags = UInt(MS_NOSUID) | UInt(MS_NODEV) | UInt(MS_NOEXEC)
    var before = timespec()
    clock_gettime(CLOCK_REALTIME_COARSE, &before)
    guard let e = nothingOrErrno({ mount("binfmt_misc", target, "binfmt_misc", flags, nil) }) else {
      var st = stat()
      guard stat(paths.binfmtMisc.appending("status").string, &st) == 0 else { return .mounted(newInstance: false) }
      let made = st.st_ctim
      let fresh = made.tv_sec > before.tv_sec || (made.tv_sec == before.tv_sec && made.tv_nsec >= before.tv_nsec)
      return .mounted(newInstance: fresh)
    }
    let loc = target
    switch e {
    case Errno(rawValue: ENODEV):
      throw BinfmtError(
        .system, "this kernel has no binfmt_misc (CONFIG_BINFMT_MISC is off and no module)", at: loc,
        cause: .errno(e, call: "mount"), fix: "use a kernel built with CONFIG_BINFMT_MISC=y or =m")
    case .notPermitted, .permissionDenied:
      if !CurrentProcess.isRoot {
        throw BinfmtError(
          .system, "binfmt_misc is not mounted and mounting it needs root", at: loc, cause: .errno(e, call: "mount"),
          fix: "run it with sudo")
      }
      throw BinfmtError(
        .system, "binfmt_misc is not mounted and this root may not mount it (inside a container?)", at: loc,
        cause: .errno(e, call: "mount"),
        fix: "run binfmtctl on the host, or give the container --privileged")
    case .noSuchFileOrDirectory:
      throw BinfmtError(
        .system, "no such directory (is /proc mounted?)", at: loc, cause: .errno(e, call: "mount"),
        fix: "sudo mount -t proc proc /proc")
    default:
      throw BinfmtError(.system, "cannot mount binfmt_misc", at: loc, cause: .errno(e, call: "mount"))
    }
  }

  /// Takes away a mount this process made (lazily: MNT_DETACH), leaving the mount table as
  /// it was found. A failure is ignored: the mount then goes with the mount namespace.
  public func unmount() {
    _ = umount2(paths.binfmtMisc.string, Int32(MNT_DETACH))
  }

  /// echo 1 > status: binfmt_misc on as a whole (`doctor --fix` for globally-disabled).
  public func enableTable() throws(BinfmtError) {
    let path = paths.binfmtMisc.appending("status").string
    switch BinfmtMisc.writeOnce(path, Array("1".utf8), noFollow: true) {
    case nil: return
    case .open(let e)?: throw accessError(e, at: path)
    case .write(let e)?: throw errnoError(e, path: path, action: "cannot write 1 to")
    }
  }

  /// Only root (in its user namespace) can change binfmt_misc; say so before anything else.
  public static func requireRoot() throws(BinfmtError) {
    if !CurrentProcess.isRoot {
      throw BinfmtError(
        .system, "changing binfmt_misc needs root", at: "binfmtctl",
        cause: "running as uid \(CurrentProcess.effectiveUID)",
        fix: "run it with sudo")
    }
  }

  /// Fails early (before the first change) when the table cannot be written.
  public func checkWritable() throws(BinfmtError) {
    let path = paths.binfmtMisc.appending("register").string
    switch valueOrErrno({ open(path, O_WRONLY | O_CLOEXEC) }) {
    case .success(let fd): close(fd)
    case .failure(let e): throw accessError(e, at: path)
    }
  }

  func accessError(_ e: Errno, at path: String) -> BinfmtError {
    switch e {
    case .readOnlyFileSystem:
      return BinfmtError(
        .system, "/proc/sys is read-only here (inside a container?)", at: path, cause: .errno(e),
        fix: "run binfmtctl on the host, or give the container --privileged")
    case .permissionDenied, .notPermitted:
      if !CurrentProcess.isRoot {
        return BinfmtError(
          .system, "changing binfmt_misc needs root", at: path, cause: .errno(e), fix: "run it with sudo")
      }
      return BinfmtError(
        .system, "the kernel refused root write access (a container without privileges?)", at: path,
        cause: .errno(e), fix: "run binfmtctl on the host, or give the container --privileged")
    default:
      return errnoError(e, path: path, action: "cannot open for writing")
    }
  }

  /// Registers one entry with a single write(2) of its register string.
  public func register(_ r: Registration) throws(BinfmtError) {
    let path = paths.binfmtMisc.appending("register").string
    let e: Errno
    switch BinfmtMisc.writeOnce(path, PathBytes.bytes(r.registerString())) {
    case nil: return
    case .open(let err)?: throw accessError(err, at: path)
    case .write(let err)?: e = err
    }
    let loc = r.name
    switch e {
    case .fileExists:
      throw BinfmtError(
        .conflict, "an entry with this name already exists", at: loc, cause: .errno(e, call: "register"),
        fix: "binfmtctl status shows it; sudo binfmtctl install --replace replaces it")
    case .invalidArgument:
      // Our parser accepts exactly what the kernel does (tests prove it), so this is a
      // kernel limit we do not model; name the string.
      throw BinfmtError(
        .invalidInput, "the kernel rejected the register string \(r.registerString())", at: loc,
        cause: .errno(e, call: "register"))
    case .noSuchFileOrDirectory:
      throw BinfmtError(
        .notFound, "interpreter \(r.interpreter) does not exist", at: loc, cause: .errno(e, call: "register"),
        fix: "install it (\(Hint.installQemuUserStatic))")
    case .permissionDenied where r.flags.contains(.fixBinary), .notPermitted where r.flags.contains(.fixBinary):
      // The register file opened, so the write failed on the F flag's open of the interpreter.
      var st = stat()
      let why: String
      var fix: String? = nil
      if PathBytes.withCString(r.interpreter, { stat($0, &st) }) != 0 {
        why = "cannot be opened"
      } else if st.st_mode & S_IFMT == S_IFDIR {
        why = "is a directory, not an emulator"
        fix = "give the emulator file itself (e.g. /usr/bin/qemu-aarch64-static), then run the command again"
      } else if st.st_mode & S_IFMT != S_IFREG {
        why = "is not a regular file"
      } else if st.st_mode & 0o111 == 0 {
        why = "is not executable"
        fix = "sudo chmod 755 \(r.interpreter)"
      } else {
        why = "cannot be executed (a noexec mount, or a security module refused it)"
        fix = "findmnt -T \(r.interpreter) shows its mount options"
      }
      throw BinfmtError(
        .invalidInput, "interpreter \(r.interpreter) \(why): the F flag opens it now", at: loc,
        cause: .errno(e, call: "register"), fix: fix)
    default:
      throw accessError(e, at: path).located(loc)
    }
  }

  /// Enables, disables or removes one entry.
  public func apply(_ action: EntryAction, to name: String) throws(BinfmtError) {
    guard Registration.isValidEntryName(name) else {
      throw BinfmtError(.invalidInput, "not an entry name", at: name)
    }
    let path = paths.binfmtMisc.appending(name).string
    switch BinfmtMisc.writeOnce(path, Array(action.rawValue.utf8), noFollow: true) {
    case nil:
      return
    case .open(.noSuchFileOrDirectory)?:
      throw BinfmtError(.notFound, "no such binfmt_misc entry", at: name, fix: "binfmtctl status lists the entries")
    case .write(.noSuchFileOrDirectory)? where action == .remove:
      // Removed between our read and our write (another binfmtctl without the lock, or a
      // person): the result the caller wanted.
      return
    case .open(let e)?, .write(let e)?:
      throw accessError(e, at: path)
    }
  }

  public enum WriteFailure: Error, Equatable {
    case open(Errno)
    case write(Errno)
  }

  /// The one way binfmt_misc files are written: open, one write(2) of all the bytes (the
  /// kernel parses each write on its own), close.
  public static func writeOnce(_ path: String, _ bytes: [UInt8], noFollow: Bool = false) -> WriteFailure? {
    let fd: Int32
    switch valueOrErrno({ open(path, O_WRONLY | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0)) }) {
    case .success(let f): fd = f
    case .failure(let e): return .open(e)
    }
    defer { close(fd) }
    switch bytes.withUnsafeBytes({ raw in valueOrErrno { write(fd, raw.baseAddress, raw.count) } }) {
    case .success(let n): return n == bytes.count ? nil : .write(.ioError)
    case .failure(let e): return .write(e)
    }
  }
}

/// `uname -r`.
public func kernelRelease() -> String {
  var u = utsname()
  guard uname(&u) == 0 else { return "unknown" }
  return utsString(&u.release)
}

/// An exclusive flock(2) on /run/binfmtctl.lock, held until the value goes away, so two
/// binfmtctl runs (a boot unit and a person) never interleave their changes. The holder writes
/// `PID COMMAND` into the file, so a run that has to wait can say whom it waits for.
public struct TableLock: ~Copyable {
  let fd: Int32

  /// How often a waiting run tries the lock again.
  static let pollMicroseconds: UInt32 = 50_000
  /// After how long a waiting run says so (once): shorter waits are not worth a line.
  public static let noticeAfterSeconds = 1.0

  /// Takes the lock, trying LOCK_NB every `pollMicroseconds` (no signal, no busy loop) for up
  /// to `wait.seconds`; `waiting` is called once, with the holder when its file names a live
  /// process, if the lock is still held after `noticeAfterSeconds`. Gives up with a
  /// `.system` error (exit 4) naming the holder.
  public init(paths: SystemPaths, wait: LockWait, waiting: (LockHolder?) -> Void) throws(BinfmtError) {
    let path = paths.path("/run").appending("binfmtctl.lock").string
    let fd: Int32
    switch valueOrErrno({ open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }) {
    case .success(let f): fd = f
    case .failure(let e):
      throw BinfmtError(
        .system, "cannot open the lock file", at: path, cause: .errno(e),
        fix: CurrentProcess.isRoot ? nil : "run it with sudo")
    }
    let start = monotonicSeconds()
    var noticed = false
    while true {
      guard let e = nothingOrErrno({ flock(fd, LOCK_EX | LOCK_NB) }) else { break }
      guard e == .wouldBlock else {
        close(fd)
        throw BinfmtError(.system, "cannot lock", at: path, cause: .errno(e))
      }
      let elapsed = monotonicSeconds() - start
      if elapsed >= Double(wait.seconds) {
        let holder = Self.holder(fd)
        close(fd)
        throw Self.timeout(holder, wait: wait, at: path)
      }
      if !noticed && elapsed >= Self.noticeAfterSeconds {
        noticed = true
        waiting(Self.holder(fd))
      }
      let left = Double(wait.seconds) - elapsed
      usleep(min(Self.pollMicroseconds, UInt32(max(left, 0.001) * 1_000_000)))
    }
    // Ours: say who holds it. A failure here only makes a waiter's line less precise.
    let text = Array(LockHolder(pid: getpid(), command: wait.command).fileText.utf8)
    if ftruncate(fd, 0) == 0 {
      _ = text.withUnsafeBytes { raw in pwrite(fd, raw.baseAddress, raw.count, 0) }
    }
    self.fd = fd
  }

  /// Released, the file names nobody: a stale PID could by then be an unrelated process.
  deinit {
    _ = ftruncate(fd, 0)
    close(fd)
  }

  /// The holder the lock file names, when that process exists.
  static func holder(_ fd: Int32) -> LockHolder? {
    var buf = [UInt8](repeating: 0, count: 64)
    let n = buf.withUnsafeMutableBytes { raw in pread(fd, raw.baseAddress, raw.count, 0) }
    guard n > 0, let h = LockHolder.parse(Array(buf[0..<n])), CurrentProcess.isAlive(h.pid) else { return nil }
    return h
  }

  static func timeout(_ holder: LockHolder?, wait: LockWait, at path: String) -> BinfmtError {
    let who = holder.map { "\($0)" } ?? "another process"
    let message =
      wait.seconds == 0
      ? "the lock is held by \(who) (--wait 0)" : "the lock is still held by \(who) after \(wait.seconds) s"
    let fix =
      holder.map { "let it finish (or stop it: kill \($0.pid)), or wait longer with --wait SECONDS" }
      ?? "let the other binfmtctl finish (fuser \(path) names it), or wait longer with --wait SECONDS"
    return BinfmtError(.system, message, at: path, fix: fix)
  }
}

/// Seconds on CLOCK_MONOTONIC (never jumps with the wall clock).
func monotonicSeconds() -> Double {
  var ts = timespec()
  clock_gettime(CLOCK_MONOTONIC, &ts)
  return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
