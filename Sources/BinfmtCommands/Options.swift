import ArgumentParser
import BinfmtEngine
import BinfmtKit

/// Options every command takes: the hidden host override the tests use.
struct GlobalOptions: ParsableArguments {
  @Option(help: .hidden) var hostMachine: String?
}

/// `--wait`, for every command that changes the table (and so takes its lock).
struct LockOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Seconds to wait for another binfmtctl's lock: 0 (fail at once) to \(LockWait.maximumSeconds); default \(LockWait.defaultSeconds), boot \(Units.bootLockWait).",
      valueName: "seconds"))
  var wait: Int?

  func validate() throws {
    if let wait, !(0...LockWait.maximumSeconds).contains(wait) {
      throw ValidationError("--wait takes 0 to \(LockWait.maximumSeconds) seconds, not \(wait)")
    }
  }

  /// The wait, `fallback` when not given.
  func seconds(or fallback: Int = LockWait.defaultSeconds) -> Int { wait ?? fallback }
}

/// `--json`, for every command whose output a script would parse.
struct JSONOption: ParsableArguments {
  @Flag(help: "Print JSON on stdout (sorted keys); notes go to stderr.") var json = false
  var format: OutputFormat { json ? .json : .text }
}

/// "Name some, or --all": one rule for every command that selects.
enum NamesOrAll {
  /// `plural`/`singular` name what is selected ("architectures"/"architecture").
  static func validate(_ names: [String], all: Bool, plural: String, singular: String, required: Bool = true) throws {
    if all && !names.isEmpty { throw ValidationError("give \(plural) or --all, not both") }
    if required && !all && names.isEmpty { throw ValidationError("name at least one \(singular), or --all") }
  }
}

/// What `install` and `persist` build entries from.
struct EntryDefinitionOptions: ParsableArguments {
  @Argument(help: "Architectures (any name `binfmtctl arch list` shows).", completion: Complete.architectures)
  var architectures: [String] = []
  @Flag(help: "Every architecture that has an emulator installed.") var all = false
  @Flag(help: "Also the host's own family (e.g. i386 on x86_64).") var includeNative = false
  @Option(help: "binfmt_misc flags, from POCF (default: PF). C needs --credentials.") var flags: String?
  @Flag(help: "Allow the C flag (the interpreter runs with a setuid binary's privileges).") var credentials = false
  @Option(help: "Emulator to use (one architecture only).") var emulator: String?
  @Option(help: "Look for qemu-<arch>[-static] here first.") var qemuDir: [String] = []
  @Flag(help: "Accept an --emulator that says it is qemu for another target.") var force = false

  func validate() throws {
    try NamesOrAll.validate(architectures, all: all, plural: "architectures", singular: "architecture", required: false)
    if emulator != nil && (all || architectures.count != 1) {
      throw ValidationError("--emulator names one file, so it needs exactly one architecture")
    }
  }

  /// nil when neither names nor --all were given.
  var request: EntryRequest? {
    guard all || !architectures.isEmpty else { return nil }
    return EntryRequest(
      names: all ? nil : architectures, includeNative: includeNative, flags: flags, credentials: credentials,
      emulator: emulator, qemuDirs: qemuDir, force: force)
  }
}
