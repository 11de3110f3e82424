import BinfmtKit
import CLinux
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// Signals read as data: the given signals are blocked and delivered through a signalfd(2),
/// which `wait` polls with a time-out. No handler runs, so nothing is shared with the
/// signal's context (Swift 6's concurrency checking has nothing to object to), and a signal
/// that arrives while work is under way is read at the next `wait`, not lost.
public struct SignalWaiter: ~Copyable {
  let fd: Int32
  var previous = sigset_t()

  /// What ended a wait.
  public enum Wake: Equatable, Sendable {
    case timeout
    case signal(Int32)
  }

  /// Blocks `signals` in this thread (the only one: call it before starting others) and
  /// opens the signalfd that receives them.
  public init(_ signals: [Int32]) throws(BinfmtError) {
    var set = sigset_t()
    sigemptyset(&set)
    for s in signals { sigaddset(&set, s) }
    var old = sigset_t()
    let r = pthread_sigmask(SIG_BLOCK, &set, &old)
    if r != 0 {
      throw BinfmtError(.system, "cannot block signals", at: "pthread_sigmask", cause: .errno(Errno(rawValue: r)))
    }
    switch valueOrErrno({ signalfd(-1, &set, Int32(SFD_CLOEXEC)) }) {
    case .success(let f): fd = f
    case .failure(let e):
      _ = pthread_sigmask(SIG_SETMASK, &old, nil)
      throw BinfmtError(.system, "cannot open a signalfd", at: "signalfd", cause: .errno(e))
    }
    previous = old
  }

  deinit {
    close(fd)
    var old = previous
    _ = pthread_sigmask(SIG_SETMASK, &old, nil)
  }

  /// Waits up to `seconds` for one of the signals; returns the first one pending.
  public func wait(seconds: Int) -> Wake {
    var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    let deadline = monotonicSeconds() + Double(seconds)
    while true {
      let left = deadline - monotonicSeconds()
      if left <= 0 { return .timeout }
      let ms = Int32(min(left * 1000, Double(Int32.max)).rounded(.up))
      // EINTR (a signal outside the set, e.g. SIGCHLD, or a stop and continue): poll again
      // for what is left of the interval.
      switch valueOrErrno(retryOnInterrupt: false, { poll(&p, 1, ms) }) {
      case .failure: continue
      case .success(0): return .timeout
      case .success:
        var info = signalfd_siginfo()
        let n = withUnsafeMutableBytes(of: &info) { raw in Glibc.read(fd, raw.baseAddress, raw.count) }
        if n == MemoryLayout<signalfd_siginfo>.size { return .signal(Int32(info.ssi_signo)) }
      }
    }
  }
}
