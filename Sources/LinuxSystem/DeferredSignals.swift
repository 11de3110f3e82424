#if canImport(Glibc)
  import Glibc
#endif

extension CurrentProcess {
  /// Runs `body` with SIGINT, SIGTERM and SIGHUP held back, so that what it sets up (an image
  /// mount, a created container) is undone before a Ctrl-C takes effect: a pending signal is
  /// delivered when `body` returns. Children started with `Spawn` still get every signal (it
  /// gives them an empty mask), so a Ctrl-C stops the engine command that is running.
  public static func deferringSignals<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
    var set = sigset_t()
    sigemptyset(&set)
    for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
    var old = sigset_t()
    pthread_sigmask(SIG_BLOCK, &set, &old)
    defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
    return try body()
  }
}
