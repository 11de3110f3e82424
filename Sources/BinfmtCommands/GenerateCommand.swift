import ArgumentParser
import BinfmtEngine
import BinfmtKit

extension Generator.Syntax: ExpressibleByArgument {}

struct Generate: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "generate",
    abstract: "Generate binfmt.d(5) files or kernel register strings for qemu-user.",
    discussion: """
      Without --output, prints to stdout. --all leaves out the host's own family (on x86_64:
      x86_64, i386, i486) unless --include-native: such an entry would send native programs
      through qemu.
      """)

  @Argument(help: "Architectures (any name `binfmtctl arch list` shows).", completion: Complete.architectures)
  var architectures: [String] = []
  @Flag(help: "Every catalog architecture.") var all = false
  @Flag(help: "Also generate entries for the host's own family.") var includeNative = false
  @Option(help: "binfmt_misc flags, from POCF (default: PF). C needs --credentials.") var flags: String?
  @Flag(help: "Allow the C flag (the interpreter runs with a setuid binary's privileges).") var credentials = false
  @Option(help: "Interpreter path (one architecture only).") var interpreter: String?
  @Option(help: "Directory holding qemu-<arch>-static (default: /usr/bin).") var interpreterDir: String?
  @Option(help: "Write one binfmt.d file per architecture into this directory.") var output: String?
  @Option(help: "Output format on stdout: register or binfmt.d.") var format: Generator.Syntax = .binfmtd
  @OptionGroup var globals: GlobalOptions

  func validate() throws {
    try NamesOrAll.validate(architectures, all: all, plural: "architectures", singular: "architecture")
    if interpreter != nil && interpreterDir != nil {
      throw ValidationError("--interpreter and --interpreter-dir exclude each other")
    }
    if interpreter != nil && (all || architectures.count != 1) {
      throw ValidationError("--interpreter names one file, so it needs exactly one architecture")
    }
  }

  func report(_ context: EngineContext) throws -> any CommandReport {
    try Generator(context).generate(
      Generator.Request(
        names: all ? nil : architectures, includeNative: includeNative, flags: flags, credentials: credentials,
        interpreter: interpreter, interpreterDir: interpreterDir), syntax: format, outputDirectory: output)
  }
}
