import BinfmtKit
import LinuxSystem
import Systemd

/// The boot-time reconcile, run by the systemd unit, the OpenRC script or WSL's boot command.
/// Reads only binfmtctl's own files in /etc/binfmt.d: nothing the boot case does not need.
public struct BootReconciler: Sendable {
  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  /// Registers what is persisted and not live (replacing drifted entries), logging as it goes.
  public func run() -> BootReport {
    let paths = context.paths
    let log = BootLog(context)
    let files = ConfigFiles.scanBinfmtD(paths, directories: [Persistence.etcDirectory])
    let config = BootConfiguration.resolve(files, directories: [Persistence.etcDirectory])
    // Our files only (systemd-binfmt applies the rest); a bad line never hides the good ones.
    let broken = config.errors.filter { $0.file.name.isEmpty || Persistence.entryName(fileName: $0.file.name) != nil }
    for e in broken {
      let p = PersistenceReport.brokenFile(e.file, e.error, catalog: context.catalog)
      log.problem(p.message + (p.fix.map { "; fix: \($0)" } ?? ""), priority: .error)
    }
    let persisted = config.ours.map(\.registration)
    if persisted.isEmpty {
      let why =
        broken.isEmpty
        ? "" : ", \(broken.count) unusable line\(broken.count == 1 ? "" : "s") or file\(broken.count == 1 ? "" : "s")"
      log.summary("nothing persisted in \(Persistence.etcDirectory)\(why)", failed: !broken.isEmpty)
      return BootReport(failed: [], unusable: broken.count)
    }
    let bm = BinfmtMisc(paths: paths)
    var registered: [String] = []
    var replaced: [String] = []
    var ok = 0
    var failed: [String] = []
    do throws(BinfmtError) {
      try BinfmtMisc.requireRoot()
      let lock = try context.lockTable()
      defer { _ = lock }
      try bm.ensureMounted()
      let live = BinfmtMiscTable.read(paths)
      if !live.enabled { log.problem("binfmt_misc is disabled as a whole; entries are registered but unused") }
      for r in persisted {
        let current = live.entries.first { $0.name == r.name }
        do throws(BinfmtError) {
          if let c = current, InstallPlan.sameDefinition(c.registration, r) {
            if !c.enabled { log.problem("\(r.name) is live but disabled; left as it is (binfmtctl enable \(r.name))") }
            ok += 1
          } else if let c = current {
            let diff = InstallPlan.differences(live: c.registration, wanted: r).joined(separator: "; ")
            try bm.apply(.remove, to: r.name)
            try bm.register(r)
            log.problem(
              "\(r.name) differed from its persisted definition and was replaced (\(diff))", priority: .notice)
            replaced.append(r.name)
          } else {
            try bm.register(r)
            registered.append(r.name)
            // The newest entry wins in the kernel: say whose executables ours just took. An
            // empty table (the usual boot) has nobody to take from, so nothing is sampled.
            let others = live.entries.filter { $0.name != r.name && $0.enabled }
            if others.isEmpty { continue }
            let served = context.catalog.architectures.filter { r.matches($0) }
            for e in others {
              let taken = served.filter { e.registration.matches($0) }.map(\.name)
              if taken.isEmpty { continue }
              log.problem(
                "\(r.name) now takes \(taken.joined(separator: ", ")) executables from the live entry \(e.name) (\(e.interpreter)), registered by another tool: the newest entry wins",
                priority: .warning)
            }
          }
        } catch {
          failed.append(r.name)
          log.problem("\(r.name): \(error)" + (error.fix.map { "; fix: \($0)" } ?? ""), priority: .error)
        }
      }
    } catch {
      failed = persisted.map(\.name)
      log.problem("\(error)" + (error.fix.map { "; fix: \($0)" } ?? ""), priority: .error)
    }
    var s = "\(persisted.count) persisted: \(ok) already live, \(registered.count) registered"
    if !replaced.isEmpty { s += ", \(replaced.count) replaced" }
    s += ", \(failed.count) failed"
    if !failed.isEmpty { s += " (\(failed.joined(separator: ", ")))" }
    if !broken.isEmpty {
      s += ", \(broken.count) unusable line\(broken.count == 1 ? "" : "s") or file\(broken.count == 1 ? "" : "s")"
    }
    log.summary(s, failed: !failed.isEmpty || !broken.isEmpty)
    return BootReport(failed: failed, unusable: broken.count)
  }
}

/// `boot` prints nothing on stdout: its lines went to the journal (or stderr) as it ran.
public struct BootReport: CommandReport {
  /// Persisted entries that could not be registered.
  public var failed: [String]
  /// Lines or files of ours that could not be applied (each logged with file:line).
  public var unusable: Int
  public var text: String { "" }
  public var partialFailure: Bool { !failed.isEmpty || unusable > 0 }
}

/// Journal when journald listens, stderr otherwise; STATUS= for systemd either way.
struct BootLog {
  let context: EngineContext
  let journal: Bool

  init(_ context: EngineContext) {
    self.context = context
    journal = Systemd.journalAvailable(root: context.paths.root)
  }

  func problem(_ message: String, priority: Systemd.Priority = .warning) {
    emit(message, priority: priority)
  }

  func summary(_ message: String, failed: Bool) {
    emit(message, priority: failed ? .error : .info)
    Systemd.notify("STATUS=" + message)
  }

  func emit(_ message: String, priority: Systemd.Priority) {
    if journal && Systemd.journal(message, priority: priority, identifier: "binfmtctl") { return }
    context.output.stderr("binfmtctl boot: \(message)\n")
  }
}
