import ArgumentParser
import BinfmtEngine
import BinfmtKit

struct Emulators: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "emulators",
    abstract: "List the qemu-user emulators installed: version, static or not, architectures, P support.",
    discussion: "Exit status: 0 when at least one emulator was found, 3 when none was.")

  @Option(help: "Also look in this directory (repeatable).") var qemuDir: [String] = []
  @Option(help: "Also report this emulator file (for one architecture: --arch).") var emulator: String?
  @Option(help: "The architecture --emulator runs.", completion: Complete.architectures) var arch: String?
  @OptionGroup var output: JSONOption
  @OptionGroup var globals: GlobalOptions
  var format: OutputFormat { output.format }

  func validate() throws {
    if (emulator == nil) != (arch == nil) { throw ValidationError("--emulator and --arch go together") }
  }

  func report(_ context: EngineContext) throws -> any CommandReport {
    let extra = emulator.flatMap { e in arch.map { (path: e, arch: $0) } }
    return try EmulatorDiscovery(context).report(extraDirectories: qemuDir, extra: extra)
  }
}
