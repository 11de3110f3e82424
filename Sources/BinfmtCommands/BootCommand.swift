import ArgumentParser
import BinfmtEngine
import BinfmtKit

struct Boot: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "boot",
    abstract: "Register the persisted entries that are not live (run at boot by the service).",
    discussion: """
      Entries that are live with the persisted definition are left alone; missing ones are
      registered (mounting binfmt_misc if needed); a live entry of the same name with another
      definition is replaced. Logs a summary and one line per problem to the journal (stderr
      without journald) and reports STATUS= to systemd.
      Waits up to \(Units.bootLockWait) s (--wait) for another binfmtctl's lock, well inside the
      unit's \(Units.startTimeoutSeconds) s start timeout; giving up counts as not registered.
      Exit status: 0 when everything persisted is live, 1 when something could not be registered.
      """)

  @OptionGroup var lock: LockOptions
  @OptionGroup var globals: GlobalOptions
  var lockWaitSeconds: Int { lock.seconds(or: Units.bootLockWait) }

  func report(_ context: EngineContext) throws -> any CommandReport {
    BootReconciler(context).run()
  }
}
