import ArgumentParser
import BinfmtKit
import LinuxSystem
import SystemPackage
import Systemd

struct Unpersist: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Stop registering entries at boot: remove exactly the files `persist` wrote.",
    discussion: """
      Removes /etc/binfmt.d/zz-binfmtctl-<entry>.conf for the named entries or architectures
      (only files carrying binfmtctl's marker). --all also disables and removes the boot
      service (systemd unit, OpenRC script and runlevel link, WSL [boot] command). Live entries
      stay until the next reboot; `binfmtctl uninstall` removes them now.
      Exit status: 0 done (or nothing to do), 2 bad usage, 4 the system refused.
      """)

  @Argument(help: "Entry names or architectures.") var names: [String] = []
  @Flag(help: "Everything persist added, including the boot service.") var all = false
  @Option(help: "Root of an offline system image.") var root: String?
  @Flag(help: "Print what would change; change nothing.") var dryRun = false
  @Flag(help: "Print JSON on stdout.") var json = false

  func validate() throws {
    if all && !names.isEmpty { throw ValidationError("give names or --all, not both") }
    if !all && names.isEmpty { throw ValidationError("name at least one entry or architecture, or --all") }
  }

  func run() throws {
    let t = try PersistTarget.make(root: root, initOverride: nil, exec: nil)
    let catalog = Catalog.standard
    let config = BootConfiguration.resolve(ConfigFiles.scanBinfmtD(t.paths, directories: [Persistence.etcDirectory]), directories: [Persistence.etcDirectory])
    let ours = config.ours
    var actions: [FileAction] = []
    var selected: [String] = []
    if all {
      selected = ours.map(\.file.name)
    } else {
      for n in names {
        let byName = ours.filter { $0.registration.name == n }
        if !byName.isEmpty {
          selected += byName.map(\.file.name)
          continue
        }
        guard let a = catalog.resolve(n) else {
          if !Registration.isValidEntryName(n) { throw BinfmtError(.invalidInput, "not an entry name or architecture", at: n) }
          Output.stderr("binfmtctl: \(n): not persisted by binfmtctl\n")
          continue
        }
        let byArch = ours.filter { $0.registration.matches(header: a.sampleHeader) }
        if byArch.isEmpty { Output.stderr("binfmtctl: \(n): not persisted by binfmtctl\n") }
        selected += byArch.map(\.file.name)
      }
    }
    for f in Set(selected).sorted() {
      actions.append(FileAction(path: Persistence.etcDirectory + "/" + f, kind: .remove, verb: "remove"))
    }
    var disableOverBus = false
    if all {
      // Whatever of ours exists, for every mechanism: exactly what persist may have added.
      if case .file(let text) = ConfigFiles.node(t.real(t.unitPath)), Units.isOurs(text) {
        if !t.offline && Systemd.booted() {
          disableOverBus = true
        }
        if case .symlink(let to) = ConfigFiles.node(t.real(t.wantsLink)), to == t.unitPath {
          actions.append(FileAction(path: t.wantsLink, kind: .removeSymlink(t.unitPath), verb: "unlink"))
        }
        actions.append(FileAction(path: t.unitPath, kind: .remove, verb: "remove"))
      }
      if case .file(let text) = ConfigFiles.node(t.real(t.openrcScript)), Units.isOurs(text) {
        if case .symlink(let to) = ConfigFiles.node(t.real(t.openrcLink)), to == t.openrcScript {
          actions.append(FileAction(path: t.openrcLink, kind: .removeSymlink(t.openrcScript), verb: "unlink"))
        }
        actions.append(FileAction(path: t.openrcScript, kind: .remove, verb: "remove"))
      }
      if case .file(let text) = ConfigFiles.node(t.real(t.wslConf)) {
        let new = WSLConf.remove(from: text)
        if new != text { actions.append(FileAction(path: t.wslConf, kind: .write(new, mode: 0o644), verb: "update")) }
      }
    }
    if dryRun {
      Output.stdout(Output.render(actions, target: t, registered: [], dryRun: true, as: json ? .json : .text))
      return
    }
    try Persist.checkWritable(actions, target: t)
    if disableOverBus {
      let bus = try SystemBus()
      _ = try bus.disableUnitFiles([Units.systemdName])
    }
    try Persist.perform(actions, target: t)
    if disableOverBus { try SystemBus().reload() }
    if actions.isEmpty { Output.stderr("binfmtctl: nothing persisted by binfmtctl to remove\n") }
    Output.stdout(Output.render(actions, target: t, registered: [], dryRun: false, as: json ? .json : .text))
  }
}
