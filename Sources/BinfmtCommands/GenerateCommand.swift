import ArgumentParser
import BinfmtKit
import LinuxSystem
import SystemPackage

struct Generate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Generate binfmt.d(5) files or kernel register strings for qemu-user.",
    discussion: """
      Without --output, prints to stdout. --all leaves out the host's own family (on x86_64:
      x86_64, i386, i486) unless --include-native: such an entry would send native programs
      through qemu.
      """)

  enum Format: String, ExpressibleByArgument, CaseIterable {
    case register
    case binfmtd = "binfmt.d"
  }

  @Argument(help: "Architectures (any name `binfmtctl arch list` shows).") var architectures: [String] = []
  @Flag(help: "Every catalog architecture.") var all = false
  @Flag(help: "Also generate entries for the host's own family.") var includeNative = false
  @Option(help: "binfmt_misc flags, from POCF (default: PF). C needs --credentials.") var flags: String?
  @Flag(help: "Allow the C flag (the interpreter runs with a setuid binary's privileges).") var credentials = false
  @Option(help: "Interpreter path (one architecture only).") var interpreter: String?
  @Option(help: "Directory holding qemu-<arch>-static (default: /usr/bin).") var interpreterDir: String?
  @Option(help: "Write one binfmt.d file per architecture into this directory.") var output: String?
  @Option(help: "Output format on stdout: register or binfmt.d.") var format: Format = .binfmtd
  @Option(help: .hidden) var hostMachine: String?

  func validate() throws {
    if all && !architectures.isEmpty { throw ValidationError("give architectures or --all, not both") }
    if !all && architectures.isEmpty { throw ValidationError("name at least one architecture, or --all") }
    if interpreter != nil && interpreterDir != nil {
      throw ValidationError("--interpreter and --interpreter-dir exclude each other")
    }
    if interpreter != nil && (all || architectures.count != 1) {
      throw ValidationError("--interpreter names one file, so it needs exactly one architecture")
    }
  }

  func run() throws {
    let catalog = Catalog.standard
    let host = hostMachine ?? unameMachine()
    let flagSet = try BinfmtFlags.option(flags, credentials: credentials)
    var archs = all ? catalog.architectures : try catalog.resolve(names: architectures)
    if all && !includeNative {
      let skipped = archs.filter { catalog.isNative($0, unameMachine: host) }
      archs.removeAll { catalog.isNative($0, unameMachine: host) }
      if !skipped.isEmpty {
        Output.warning(
          "skipped \(skipped.map(\.name).joined(separator: ", ")): native on this \(host) host (--include-native adds them)")
      }
    } else if !includeNative {
      for a in archs where catalog.isNative(a, unameMachine: host) {
        Output.warning("\(a.name) is native on this \(host) host: installing it would send native programs through qemu")
      }
    }
    // Build and validate every entry before writing anything.
    var files: [(Architecture, Registration, String)] = []
    for a in archs {
      let interp = interpreter ?? interpreterDir.map { FilePath($0).appending("qemu-\(a.qemuTarget)-static").string }
      let reg = a.registration(interpreter: interp, flags: flagSet)
      let line = reg.registerString()
      do throws(BinfmtError) {
        guard try Registration.parse(line) == reg else {
          throw BinfmtError(.invalidInput, "does not round-trip", at: a.name)
        }
      } catch { throw error.located(a.name) }
      if !reg.interpreter.hasPrefix("/") {
        throw BinfmtError(.invalidInput, "interpreter '\(reg.interpreter)' is not an absolute path", at: a.name)
      }
      files.append((a, reg, BinfmtD.file(for: a, registration: reg, catalog: catalog)))
    }
    if let output {
      let dir = FilePath(output)
      try AtomicFile.makeDirectories(dir)
      for (a, _, text) in files {
        try AtomicFile.write(text, to: dir.appending(BinfmtD.fileName(for: a)))
      }
      Output.stderr("wrote \(files.count) file(s) to \(output)\n")
      return
    }
    switch format {
    case .register: Output.stdout(files.map { $0.1.registerString() + "\n" }.joined())
    case .binfmtd: Output.stdout(files.map(\.2).joined(separator: "\n"))
    }
  }
}

/// The text of the binfmt.d files binfmtctl writes.
enum BinfmtD {
  static func fileName(for a: Architecture) -> String { "qemu-\(a.name).conf" }

  static func file(for a: Architecture, registration: Registration, catalog: Catalog) -> String {
    let hosts = catalog.architectures.filter { $0.family == a.family && !$0.unameMachines.isEmpty }.map(\.name)
    var flagWords: [String] = []
    if registration.flags.contains(.preserveArgv0) { flagWords.append("P keeps argv[0]") }
    if registration.flags.contains(.openBinary) { flagWords.append("O passes an open fd") }
    if registration.flags.contains(.credentials) { flagWords.append("C uses the binary's credentials") }
    if registration.flags.contains(.fixBinary) { flagWords.append("F opens the interpreter now, so containers work") }
    return """
      # binfmtctl: run \(a.name) (\(a.summary)) programs with qemu-user.
      # Flags: \(flagWords.isEmpty ? "none" : flagWords.joined(separator: "; ")).
      # Do not install on hosts of the \(a.family) family (\(hosts.joined(separator: ", "))): native programs would go through qemu.
      \(registration.registerString())

      """
  }
}
