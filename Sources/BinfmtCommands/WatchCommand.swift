import ArgumentParser
import BinfmtEngine
import BinfmtKit

struct Watch: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "watch",
    abstract: "Keep entries registered: re-apply what is missing, disabled or drifted, at an interval and on SIGHUP.",
    discussion: """
      Takes install's arguments and registers the same way (the same plan, conflicts and lock),
      then checks again every --interval seconds and at once on SIGHUP; SIGTERM or SIGINT end it
      with exit status 0. Prints one line per action on stdout (--json: one JSON object per
      line, with `event`: start, in-place, action, failed, error, signal, exit). Meant as a
      container's long-running process (deploy/kubernetes/) or a service.
      Exit status: 0 stopped by a signal; 2 bad usage; 3 no emulator; 4 not root.
      """)

  @OptionGroup var entries: EntryDefinitionOptions
  @Flag(help: "Replace live entries that differ or match the same architecture.") var replace = false
  @Option(
    help: ArgumentHelp(
      "Seconds between checks: 1 to \(Watcher.maxIntervalSeconds) (default 60).", valueName: "seconds"))
  var interval: Int = 60
  @Flag(help: "One JSON object per line on stdout.") var json = false
  @OptionGroup var lock: LockOptions
  @OptionGroup var globals: GlobalOptions
  var lockWaitSeconds: Int { lock.seconds() }

  func validate() throws {
    try NamesOrAll.validate(entries.architectures, all: entries.all, plural: "architectures", singular: "architecture")
    guard (1...Watcher.maxIntervalSeconds).contains(interval) else {
      throw ValidationError("--interval must be between 1 and \(Watcher.maxIntervalSeconds) seconds, not \(interval)")
    }
  }

  func report(_ context: EngineContext) throws -> any CommandReport {
    guard let request = entries.request else { throw ValidationError("name at least one architecture, or --all") }
    return try Watcher(context, request: request, replace: replace, intervalSeconds: interval, json: json).run()
  }
}
