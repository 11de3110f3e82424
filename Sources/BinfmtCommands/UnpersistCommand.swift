import ArgumentParser
import BinfmtEngine
import BinfmtKit

struct Unpersist: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "unpersist",
    abstract: "Stop registering entries at boot: remove exactly the files `persist` wrote.",
    discussion: """
      Removes /etc/binfmt.d/zz-binfmtctl-<entry>.conf for the named entries or architectures
      (only files carrying binfmtctl's marker). --all also disables and removes the boot
      service (systemd unit, OpenRC script and runlevel link, WSL [boot] command). Live entries
      stay until the next reboot; `binfmtctl uninstall` removes them now. With --root, paths in
      the image resolve as under chroot: nothing outside it is ever removed.
      Holds the table lock from its first read to its last removal (see --wait).
      Exit status: 0 done (or nothing to do), 2 bad usage, 4 the system refused (or another
      binfmtctl held the lock longer than --wait).
      """)

  @Argument(help: "Entry names or architectures.", completion: Complete.entriesAndArchitectures) var names: [String] =
    []
  @Flag(help: "Everything persist added, including the boot service.") var all = false
  @Option(help: "Root of an offline system image.") var root: String?
  @Flag(help: "Print what would change; change nothing.") var dryRun = false
  @OptionGroup var lock: LockOptions
  @OptionGroup var output: JSONOption
  @OptionGroup var globals: GlobalOptions
  var format: OutputFormat { output.format }
  var lockWaitSeconds: Int { lock.seconds() }

  func validate() throws {
    try NamesOrAll.validate(names, all: all, plural: "names", singular: "entry or architecture")
  }

  func report(_ context: EngineContext) throws -> any CommandReport {
    try Persister(context).unpersist(names: names, all: all, root: root, dryRun: dryRun)
  }
}
