import BinfmtKit
import CLinux
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// How a child process ended.
public enum ChildOutcome: Sendable, Equatable {
  /// execve(2) itself failed with this errno (ENOEXEC: no handler for the format).
  case execFailed(Errno)
  case exited(Int32)
  case signaled(Int32)
  /// Killed after the time limit.
  case timedOut
}

public struct ChildResult: Sendable {
  public var outcome: ChildOutcome
  public var stdout: String
  public var stderr: String
}

/// Runs a program directly (posix_spawn, no shell) and collects its output.
public enum Spawn {
  /// `argv[0]` is `arguments[0]`; `path` is what is executed.
  public static func run(
    _ path: String, _ arguments: [String], environment: [String]? = nil, timeoutMilliseconds: Int = 10_000
  ) -> ChildResult {
    var outPipe: [Int32] = [-1, -1]
    var errPipe: [Int32] = [-1, -1]
    if let e = nothingOrErrno({ pipe(&outPipe) }) ?? nothingOrErrno({ pipe(&errPipe) }) {
      return ChildResult(outcome: .execFailed(e), stdout: "", stderr: "")
    }
    // pipe2 is not exported to Swift; the dup2 in the child clears FD_CLOEXEC on 1 and 2.
    for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    // Children start with default signal handling, whatever ours is.
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attr, &all)
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    let env = environment ?? currentEnvironment()
    var pid: pid_t = 0
    let rc = withCStrings(arguments) { argv in
      withCStrings(env) { envp in PathBytes.withCString(path) { posix_spawn(&pid, $0, &actions, &attr, argv, envp) } }
    }
    close(outPipe[1])
    close(errPipe[1])
    defer {
      close(outPipe[0])
      close(errPipe[0])
    }
    // glibc's posix_spawn (clone with CLONE_VFORK) returns execve's errno itself.
    if rc != 0 { return ChildResult(outcome: .execFailed(Errno(rawValue: rc)), stdout: "", stderr: "") }
    return collect(pid: pid, out: outPipe[0], err: errPipe[0], timeoutMilliseconds: timeoutMilliseconds)
  }

  /// Runs `path` (a path inside `root`) chrooted into `root`, in a new private mount
  /// namespace, as a container runtime would: nothing but `root` and what the kernel holds
  /// open is reachable. Needs CAP_SYS_ADMIN and CAP_SYS_CHROOT (root, or root in a user
  /// namespace); throws when the confinement itself cannot be made, so the caller can say so.
  public static func runInRoot(
    _ root: String, _ path: String, _ arguments: [String], environment: [String] = [],
    timeoutMilliseconds: Int = 10_000
  ) throws(BinfmtError) -> ChildResult {
    var outPipe: [Int32] = [-1, -1]
    var errPipe: [Int32] = [-1, -1]
    if let e = nothingOrErrno({ pipe(&outPipe) }) ?? nothingOrErrno({ pipe(&errPipe) }) {
      throw BinfmtError(.system, "cannot make a pipe", at: root, cause: .errno(e, call: "pipe"))
    }
    for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var stage: Int32 = 0
    var err: Int32 = 0
    let pid = withCStrings(arguments) { argv in
      withCStrings(environment) { envp in
        PathBytes.withCString(root) { r in
          PathBytes.withCString(path) { p in
            binfmtctl_spawn_in_root(
              r, p, UnsafeMutablePointer(mutating: argv), UnsafeMutablePointer(mutating: envp), outPipe[1],
              errPipe[1], &stage, &err)
          }
        }
      }
    }
    close(outPipe[1])
    close(errPipe[1])
    defer {
      close(outPipe[0])
      close(errPipe[0])
    }
    if pid < 0 {
      let e = Errno(rawValue: err)
      if stage == 5 { return ChildResult(outcome: .execFailed(e), stdout: "", stderr: "") }
      let call = [1: "unshare(CLONE_NEWNS)", 2: "mount(MS_PRIVATE)", 3: "chroot", 4: "chdir", 6: "fork"][Int(stage)]
      throw BinfmtError(
        .system, "cannot start a process in an empty root here", at: root,
        cause: .errno(e, call: call ?? "spawn"))
    }
    return collect(pid: pid, out: outPipe[0], err: errPipe[0], timeoutMilliseconds: timeoutMilliseconds)
  }

  /// Reads the child's stdout and stderr until both close (or the time limit kills it), then
  /// reaps it.
  static func collect(pid: pid_t, out outFD: Int32, err errFD: Int32, timeoutMilliseconds: Int) -> ChildResult {
    var out: [UInt8] = []
    var err: [UInt8] = []
    var fds = [
      pollfd(fd: outFD, events: Int16(POLLIN), revents: 0),
      pollfd(fd: errFD, events: Int16(POLLIN), revents: 0),
    ]
    let deadline = monotonicMilliseconds() + timeoutMilliseconds
    var timedOut = false
    var buf = [UInt8](repeating: 0, count: 4096)
    while fds.contains(where: { $0.fd >= 0 }) {
      let left = deadline - monotonicMilliseconds()
      if left <= 0 {
        timedOut = true
        kill(pid, SIGKILL)
        break
      }
      guard case .success(let n) = valueOrErrno({ poll(&fds, nfds_t(fds.count), Int32(min(left, 1000))) }), n > 0
      else { continue }
      for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
        switch valueOrErrno({ read(fds[i].fd, &buf, buf.count) }) {
        case .success(let r) where r > 0:
          if i == 0 { out += buf[0..<r] } else { err += buf[0..<r] }
          // Bound what a runaway child can make us hold.
          if out.count > 1 << 20 || err.count > 1 << 20 { fds[i].fd = -1 }
        default:
          fds[i].fd = -1
        }
      }
    }
    var status: Int32 = 0
    reap: while true {
      if timedOut {
        _ = valueOrErrno { waitpid(pid, &status, 0) }
        break
      }
      switch valueOrErrno({ waitpid(pid, &status, WNOHANG) }) {
      case .success(pid), .failure: break reap
      case .success: break
      }
      if monotonicMilliseconds() >= deadline {
        kill(pid, SIGKILL)
        timedOut = true
        continue
      }
      usleep(1000)
    }
    let outcome: ChildOutcome
    if timedOut {
      outcome = .timedOut
    } else if status & 0x7f == 0 {
      outcome = .exited((status >> 8) & 0xff)
    } else {
      outcome = .signaled(status & 0x7f)
    }
    return ChildResult(
      outcome: outcome, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
  }

  static func monotonicMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
  }

  static func currentEnvironment() -> [String] {
    var out: [String] = []
    var p = environ
    while let s = p.pointee {
      out.append(String(cString: s))
      p += 1
    }
    return out
  }

  static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { s in PathBytes.withCString(s) { strdup($0) } }
    pointers.append(nil)
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
  }
}
