import ArgumentParser
import BinfmtEngine
import BinfmtKit

extension InitSystem: ExpressibleByArgument {}

struct Persist: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "persist",
    abstract: "Register entries now and at every boot (binfmt.d files plus a boot service).",
    discussion: """
      Writes /etc/binfmt.d/zz-binfmtctl-<entry>.conf per entry (after distributions' qemu-*.conf
      in systemd-binfmt's order, so ours win), installs and enables the boot service for the
      init system (systemd unit via sd-bus, OpenRC script, or WSL's [boot] command), then
      registers the entries now. Without architectures, persists exactly the qemu entries that
      are live. With --root, writes into an offline image and registers nothing; paths in it
      resolve as under chroot (a symlink such as etc -> /data/etc leads to IMAGE/data/etc, never
      out of the image), and one that leads nowhere inside is refused before the first write.
      Exit status: 0 done, 1 files written but some live registrations failed, 2 bad usage,
      3 no emulator, 4 the system refused (or another binfmtctl held the lock longer than
      --wait; it is held from the first read of the table to the last write), 5 a conflicting file or entry (nothing changed).
      """)

  @OptionGroup var entries: EntryDefinitionOptions
  @Option(help: "Root of an offline system image to write into (registers nothing).") var root: String?
  @Option(help: "Init system: systemd, openrc, wsl or none (default: detected).") var `init`: InitSystem?
  @Option(
    help:
      "Path of binfmtctl that the boot service runs (default: this binary; with --root: /usr/local/bin/binfmtctl).")
  var execPath: String?
  @Flag(help: "Replace differing persisted files and live entries.") var replace = false
  @Flag(help: "Write the files but do not register now.") var noRegister = false
  @Flag(help: "Print what would change; change nothing.") var dryRun = false
  @OptionGroup var lock: LockOptions
  @OptionGroup var output: JSONOption
  @OptionGroup var globals: GlobalOptions
  var format: OutputFormat { output.format }
  var lockWaitSeconds: Int { lock.seconds() }

  func validate() throws {
    if root != nil && entries.request == nil {
      throw ValidationError("with --root, name architectures or --all (the live table is not the image's)")
    }
  }

  func report(_ context: EngineContext) throws -> any CommandReport {
    try Persister(context).persist(
      Persister.Request(
        entries: entries.request, root: root, initSystem: `init`, execPath: execPath, replace: replace,
        noRegister: noRegister, dryRun: dryRun))
  }
}
