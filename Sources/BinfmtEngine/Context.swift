import BinfmtKit
import LinuxSystem
import Systemd

/// Where text goes: stdout for results, stderr for every note, warning and error line.
/// Tests inject one that collects.
public struct OutputSink: Sendable {
  public enum Stream: Sendable { case stdout, stderr }
  let write: @Sendable (Stream, String) -> Void

  public init(write: @escaping @Sendable (Stream, String) -> Void) { self.write = write }

  /// File descriptors 1 and 2, written with write(2): nothing buffered to lose at exit.
  public static let standard = OutputSink { stream, text in
    CurrentProcess.write(text, to: stream == .stdout ? 1 : 2)
  }

  public func stdout(_ text: String) { write(.stdout, text) }
  /// The one way a line reaches stderr.
  public func stderr(_ text: String) { write(.stderr, text) }
  /// A human note: stderr, so JSON on stdout stays clean.
  public func note(_ s: String) { stderr("binfmtctl: \(s)\n") }
  public func warning(_ s: String) { stderr("binfmtctl: warning: \(s)\n") }
  public func error(_ e: BinfmtError) {
    var line = "binfmtctl: error: \(e)\n"
    if let fix = e.fix { line += "binfmtctl: fix: \(fix)\n" }
    stderr(line)
  }
}

/// Everything an operation needs to know about the system it runs on, made once in main and
/// handed down: nothing below builds its own paths or asks uname.
public struct EngineContext: Sendable {
  /// The system root: `/` in production, a temporary directory in tests.
  public var paths: SystemPaths
  /// `uname -m` (or the hidden `--host-machine`).
  public var hostMachine: String
  public var catalog: Catalog
  public var output: OutputSink
  /// systemd is PID 1 (sd_booted(3)): units are enabled over sd-bus. Asked only when needed
  /// (`persist`, `unpersist`), so other commands never load libsystemd.
  public var systemdBooted: Bool { isSystemdBooted() }
  let isSystemdBooted: @Sendable () -> Bool
  /// `$PATH`'s absolute directories, searched for emulators after /usr/bin and /usr/local/bin.
  public var searchPath: [String]
  /// How long to wait for another binfmtctl's table lock (`--wait`), and this command's name
  /// for the lock file.
  public var lockWait = LockWait()

  public init(
    paths: SystemPaths, hostMachine: String, catalog: Catalog = .standard, output: OutputSink = .standard,
    systemdBooted: Bool, searchPath: [String]
  ) {
    self.init(
      paths: paths, hostMachine: hostMachine, catalog: catalog, output: output, isSystemdBooted: { systemdBooted },
      searchPath: searchPath)
  }

  init(
    paths: SystemPaths, hostMachine: String, catalog: Catalog, output: OutputSink,
    isSystemdBooted: @escaping @Sendable () -> Bool, searchPath: [String]
  ) {
    self.paths = paths
    self.hostMachine = hostMachine
    self.catalog = catalog
    self.output = output
    self.isSystemdBooted = isSystemdBooted
    self.searchPath = searchPath
  }

  /// The running system.
  public static func live(hostMachine: String? = nil, output: OutputSink = .standard) -> EngineContext {
    EngineContext(
      paths: SystemPaths(binfmtMisc: binfmtMiscOverride() ?? SystemPaths.defaultBinfmtMisc),
      hostMachine: hostMachine ?? unameMachine(), catalog: .standard, output: output,
      isSystemdBooted: { Systemd.booted() },
      searchPath: ByteText.split(CurrentProcess.environment("PATH") ?? "", UInt8(ascii: ":")).filter {
        $0.hasPrefix("/")
      })
  }

  /// `$BINFMTCTL_BINFMT_MISC`, when it names an absolute path.
  static func binfmtMiscOverride() -> String? {
    guard let v = CurrentProcess.environment(SystemPaths.binfmtMiscVariable), v.hasPrefix("/") else { return nil }
    return v
  }

  /// The table lock, waited for as `lockWait` says; after a second of waiting, one note says
  /// whom for. Every command that changes the table takes it here.
  public func lockTable() throws(BinfmtError) -> TableLock {
    try TableLock(paths: paths, wait: lockWait) { holder in
      output.note(
        "waiting for the lock held by \(holder.map(\.description) ?? "another process"), up to \(lockWait.seconds) s")
    }
  }

  /// Whether this process is a container's init or inside one (marker files under the root).
  public var container: ContainerFacts { ContainerFacts.detect(paths) }

  /// Files under the root: interpreters, emulators, writability.
  public var files: FileFacts { FileFacts(paths: paths) }

  /// The same context for another system root (`persist --root IMAGE`).
  public func rooted(at paths: SystemPaths) -> EngineContext {
    var c = self
    c.paths = paths
    return c
  }
}
