import ArgumentParser
import BinfmtEngine
import BinfmtKit

struct ArchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "arch", abstract: "The architecture catalog.", subcommands: [List.self])

  struct List: EngineCommand {
    static let configuration = CommandConfiguration(
      commandName: "list", abstract: "List every qemu-user target binfmtctl knows, with the names it accepts.")
    @OptionGroup var output: JSONOption
    @OptionGroup var globals: GlobalOptions
    var format: OutputFormat { output.format }

    func report(_ context: EngineContext) throws -> any CommandReport {
      ArchitectureList(context)
    }
  }
}
