import ArgumentParser
import BinfmtEngine
import BinfmtKit

struct Install: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "install",
    abstract: "Register qemu-user emulators for foreign architectures in binfmt_misc (now; `persist` keeps them).",
    discussion: """
      Every entry is built and checked before the first write. An entry that is already live with
      the same definition is left alone. One with the same name, or another entry matching the
      same architecture, is refused with the difference unless --replace, which replaces exactly
      those entries. Default flags: PF (see README).
      Exit status: 0 done (or nothing to do), 1 some entries failed, 2 bad usage, 3 no emulator,
      4 the system refused (not root, read-only /proc/sys; the lock stayed held by another
      binfmtctl longer than --wait; or, as a container's init, its own mount of binfmt_misc
      would be the only one, so the entries would vanish on exit), 5 conflicts with live entries.
      `--install all` and `--install arm64,riscv64` (tonistiigi/binfmt's arguments, as buildx's
      kubernetes driver passes them to its qemu.image) mean `install --all` and `install arm64 riscv64`.
      """)

  @OptionGroup var entries: EntryDefinitionOptions
  @Flag(help: "Replace live entries that differ or match the same architecture.") var replace = false
  @Flag(help: "Print what would be written; change nothing.") var dryRun = false
  @Flag(
    help:
      "Register even when binfmtctl's own mount of binfmt_misc is the only one and it is its container's init (the entries vanish when it exits)."
  )
  var ephemeral = false
  @OptionGroup var lock: LockOptions
  @OptionGroup var output: JSONOption
  @OptionGroup var globals: GlobalOptions
  var format: OutputFormat { output.format }
  var lockWaitSeconds: Int { lock.seconds() }

  func validate() throws {
    try NamesOrAll.validate(entries.architectures, all: entries.all, plural: "architectures", singular: "architecture")
  }

  func report(_ context: EngineContext) throws -> any CommandReport {
    guard let request = entries.request else { throw ValidationError("name at least one architecture, or --all") }
    return try Installer(context, allowEphemeralMount: ephemeral).install(request, replace: replace, dryRun: dryRun)
  }
}
