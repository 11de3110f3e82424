import ArgumentParser
import BinfmtEngine
import BinfmtKit

struct Status: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show every binfmt_misc entry, what it serves, and what is wrong with it.",
    discussion: "Exit status: 0 when no problem was found, 1 when problems are listed.")

  @OptionGroup var output: JSONOption
  @OptionGroup var globals: GlobalOptions
  var format: OutputFormat { output.format }

  func report(_ context: EngineContext) throws -> any CommandReport {
    StatusReport(snapshot: TableSnapshot.read(context, withPersistence: true, mountInContainer: true))
  }
}
