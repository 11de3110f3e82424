import BinfmtKit
import LinuxSystem

#if canImport(Glibc)
  import Glibc
#endif

/// `watch`: keeps what `install` would register in place. Every `interval` seconds, and at
/// once on SIGHUP, it plans against the live table with the installer (`Installer.prepare`,
/// the same rules and lock as `install`) and applies what is missing, disabled or drifted.
/// SIGTERM and SIGINT end it with status 0. One line per action on stdout (a JSON object per
/// line with `json`), so `kubectl logs` or `podman logs` show what it did.
public struct Watcher: Sendable {
  public let context: EngineContext
  public var request: EntryRequest
  public var replace: Bool
  public var intervalSeconds: Int
  public var json: Bool

  /// One day: longer than any sensible re-check, and far inside poll(2)'s range.
  public static let maxIntervalSeconds = 86_400

  public init(_ context: EngineContext, request: EntryRequest, replace: Bool, intervalSeconds: Int, json: Bool) {
    self.context = context
    self.request = request
    self.replace = replace
    self.intervalSeconds = intervalSeconds
    self.json = json
  }

  public func run() throws(BinfmtError) -> WatchReport {
    guard (1...Self.maxIntervalSeconds).contains(intervalSeconds) else {
      throw BinfmtError(
        .invalidInput, "must be between 1 and \(Self.maxIntervalSeconds) seconds, not \(intervalSeconds)",
        at: "--interval")
    }
    try BinfmtMisc.requireRoot()
    // Built once: a wrong name or a missing emulator is a configuration error to fail on at
    // start, not to log every interval.
    let wanted = try Installer(context).build(request)
    let signals = try SignalWaiter([SIGHUP, SIGTERM, SIGINT])
    let installer = Installer(context, allowEphemeralMount: true)
    log(
      "start", "watching \(wanted.count) entr\(wanted.count == 1 ? "y" : "ies") every \(intervalSeconds) s",
      ["entries": .array(wanted.map { .string($0.registration.name) }), "interval": .int(intervalSeconds)])
    var cycles = 0
    var lastError: String?
    while true {
      cycles += 1
      do throws(BinfmtError) {
        let prepared = try installer.prepare(wanted, replace: replace)
        var changed = 0
        for o in prepared.execute() {
          if case .unchanged = o.step { continue }
          changed += 1
          let r = o.registration
          var fields: [String: JSON] = [
            "architecture": .string(o.arch), "entry": .string(r.name), "action": .string(o.step.actionText),
            "ok": .bool(o.error == nil), "flags": .string(r.flags.description), "interpreter": .string(r.interpreter),
          ]
          if let e = o.error {
            fields["error"] = .string(e.description)
            log("failed", "\(o.arch): FAILED \(r.name): \(e)", fields)
          } else {
            log("action", "\(o.arch): \(o.step.actionText) \(r.name) (\(r.interpreter), flags \(r.flags))", fields)
          }
        }
        if cycles == 1 && changed == 0 { log("in-place", "all \(wanted.count) in place", [:]) }
        lastError = nil
      } catch {
        // Logged once until it changes: a conflict that lasts is one line, not one a minute.
        let text = "\(error)" + (error.fix.map { "; fix: \($0)" } ?? "")
        if text != lastError { log("error", text, ["error": .string(text)]) }
        lastError = text
      }
      switch signals.wait(seconds: intervalSeconds) {
      case .timeout: continue
      case .signal(SIGHUP): log("signal", "SIGHUP: checking now", ["signal": .string("SIGHUP")])
      case .signal(let s):
        let name = s == SIGINT ? "SIGINT" : "SIGTERM"
        log("exit", "\(name): exiting", ["signal": .string(name)])
        return WatchReport()
      }
    }
  }

  /// One line: text, or a JSON object with `event` and `message`.
  func log(_ event: String, _ message: String, _ fields: [String: JSON]) {
    if json {
      var o = fields
      o["event"] = .string(event)
      o["message"] = .string(message)
      context.output.stdout(JSON.object(o).render(indent: nil) + "\n")
    } else {
      context.output.stdout("watch: \(TerminalText.escape(message))\n")
    }
  }
}

/// Everything `watch` had to say went out line by line while it ran.
public struct WatchReport: CommandReport {
  public var text: String { "" }
  public var partialFailure: Bool { false }
}
