import ArgumentParser
import BinfmtEngine
import BinfmtKit

struct Probe: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "probe",
    abstract: "Prove entries work: run a tiny program per architecture through binfmt_misc.",
    discussion: """
      Each probe is a minimal static ELF executable that calls exit(42). It is written to a
      temporary directory and executed the way a user's program is, so the kernel picks the
      handler. Without arguments, probes every architecture a live, enabled entry serves.
      Exit status: 0 when every probe works, 1 when any does not, 2 bad usage, 3 nothing to probe.
      """)

  @Argument(help: "Architectures to probe.", completion: Complete.architectures) var architectures: [String] = []
  @Option(help: "Seconds before a probe counts as hung (1 to \(ProbeRunner.maxTimeoutSeconds)).") var timeout: Int = 10
  @Option(help: "Directory for the probe files (default: $TMPDIR or /tmp; must allow exec).") var dir: String?
  @OptionGroup var output: JSONOption
  @OptionGroup var globals: GlobalOptions
  var format: OutputFormat { output.format }

  func validate() throws {
    guard (1...ProbeRunner.maxTimeoutSeconds).contains(timeout) else {
      throw ValidationError("--timeout must be between 1 and \(ProbeRunner.maxTimeoutSeconds) seconds, not \(timeout)")
    }
  }

  func report(_ context: EngineContext) throws -> any CommandReport {
    try ProbeRunner(context).probe(architectures, directory: dir, timeoutSeconds: timeout)
  }
}
