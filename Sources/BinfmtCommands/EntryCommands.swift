import ArgumentParser
import BinfmtEngine
import BinfmtKit

/// What `uninstall`, `enable` and `disable` select.
struct EntrySelectionOptions: ParsableArguments {
  @Argument(
    help: "Entry names (as in `binfmtctl status`) or architectures.", completion: Complete.entriesAndArchitectures)
  var names: [String] = []
  @Flag(help: "Every entry binfmtctl manages (qemu entries); never foreign ones.") var all = false
  @Flag(help: "Print what would change; change nothing.") var dryRun = false
  @OptionGroup var output: JSONOption

  func validate() throws {
    try NamesOrAll.validate(names, all: all, plural: "names", singular: "entry or architecture")
  }

  func apply(_ action: EntryEditor.Action, _ context: EngineContext) throws -> any CommandReport {
    try EntryEditor(context).apply(action, names: names, all: all, dryRun: dryRun)
  }
}

/// `uninstall`, `enable` and `disable`: the same selection and lock, one editor action each.
protocol EntryEditCommand: EngineCommand {
  static var action: EntryEditor.Action { get }
  var options: EntrySelectionOptions { get }
  var lock: LockOptions { get }
}

extension EntryEditCommand {
  var format: OutputFormat { options.output.format }
  var lockWaitSeconds: Int { lock.seconds() }
  func report(_ context: EngineContext) throws -> any CommandReport { try options.apply(Self.action, context) }
}

struct Uninstall: EntryEditCommand {
  static let configuration = CommandConfiguration(
    commandName: "uninstall",
    abstract: "Remove binfmt_misc entries by name or architecture (--all: binfmtctl's and qemu's only).",
    discussion:
      "Removing an entry that is not there is not an error. Exit status: 0 done, 1 some removals failed, 4 not allowed (or the lock stayed held longer than --wait)."
  )
  @OptionGroup var options: EntrySelectionOptions
  @OptionGroup var lock: LockOptions
  @OptionGroup var globals: GlobalOptions
  static let action = EntryEditor.Action.remove
}

struct Enable: EntryEditCommand {
  static let configuration = CommandConfiguration(
    commandName: "enable",
    abstract: "Enable binfmt_misc entries by name or architecture.",
    discussion:
      "Exit status: 0 done, 1 some failed, 3 no such entry, 4 not allowed (or the lock stayed held longer than --wait)."
  )
  @OptionGroup var options: EntrySelectionOptions
  @OptionGroup var lock: LockOptions
  @OptionGroup var globals: GlobalOptions
  static let action = EntryEditor.Action.enable
}

struct Disable: EntryEditCommand {
  static let configuration = CommandConfiguration(
    commandName: "disable",
    abstract: "Disable binfmt_misc entries by name or architecture (they stay registered).",
    discussion:
      "Exit status: 0 done, 1 some failed, 3 no such entry, 4 not allowed (or the lock stayed held longer than --wait)."
  )
  @OptionGroup var options: EntrySelectionOptions
  @OptionGroup var lock: LockOptions
  @OptionGroup var globals: GlobalOptions
  static let action = EntryEditor.Action.disable
}
