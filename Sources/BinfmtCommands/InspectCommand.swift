import ArgumentParser
import BinfmtEngine
import BinfmtKit

struct Inspect: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "inspect",
    abstract: "Tell what architecture, ABI and loader each file needs, and how this host would run it.",
    discussion: "Exit status: 0 when every path is an ELF file or a sound script, 1 when any path is not.")

  @Argument(help: "Files to inspect.", completion: .file()) var paths: [String]
  @OptionGroup var output: JSONOption
  @OptionGroup var globals: GlobalOptions
  var format: OutputFormat { output.format }

  func report(_ context: EngineContext) throws -> any CommandReport {
    Inspector(context).inspect(paths)
  }
}
