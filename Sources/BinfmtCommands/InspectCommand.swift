import ArgumentParser
import BinfmtKit
import LinuxSystem

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Tell what architecture, ABI and loader each file needs, and how this host would run it.",
    discussion: "Exit status: 0 when every path is an ELF file or a sound script, 1 when any path is not.")

  @Argument(help: "Files to inspect.") var paths: [String]
  @Flag(help: "Print JSON (an array, one object per path, sorted keys).") var json = false

  func run() throws {
    let inspector = Inspector()
    let results = paths.map(inspector.inspect)
    Output.stdout(Output.render(results, as: json ? .json : .text))
    if !results.allSatisfy(\.ok) { throw ExitWith(status: .partial) }
  }
}

struct ArchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "arch", abstract: "The architecture catalog.", subcommands: [List.self])

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List every qemu-user target binfmtctl knows, with the names it accepts.")
    @Flag(help: "Print JSON.") var json = false
    @Option(help: .hidden) var hostMachine: String?

    func run() throws {
      let host = hostMachine ?? unameMachine()
      let c = Catalog.standard
      Output.stdout(Output.render(c.architectures, host: host, catalog: c, as: json ? .json : .text))
    }
  }
}
