import ArgumentParser
import BinfmtKit
import LinuxSystem
import SystemPackage
import Systemd

#if canImport(Glibc)
  import Glibc
#endif

extension InitSystem: ExpressibleByArgument {}

/// One change to a file or link that persist/unpersist makes, planned before any is made.
struct FileAction {
  enum Kind { case keep, write(String, mode: mode_t), symlink(String), remove, removeSymlink(String) }
  var path: String  // absolute, inside the system root
  var kind: Kind
  /// "write", "unchanged", "update", "link", "remove" … for the report.
  var verb: String
}

/// Where files go: the system root (`--root` for images) and the init system.
struct PersistTarget {
  var paths: SystemPaths
  var offline: Bool
  var initSystem: InitSystem
  var exec: String

  static func make(root: String?, initOverride: InitSystem?, exec: String?) throws(BinfmtError) -> PersistTarget {
    if let root, !root.hasPrefix("/") { throw BinfmtError(.invalidInput, "must be an absolute path", at: "--root") }
    let paths = SystemPaths(root: FilePath(root ?? "/"))
    let offline = root != nil && root != "/"
    if offline {
      var st = stat()
      guard stat(paths.root.string, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
        throw BinfmtError(.notFound, "no such directory", at: root!)
      }
    }
    let initSystem = initOverride ?? InitSystem.detect(paths, offline: offline)
    let execPath = exec ?? (offline ? Units.defaultExec : selfExecutable() ?? Units.defaultExec)
    if !execPath.hasPrefix("/") { throw BinfmtError(.invalidInput, "must be an absolute path", at: "--exec-path") }
    if execPath.contains(where: { $0 == " " || $0 == "\n" || $0 == "\"" || $0 == "\\" || $0 == "%" }) {
      throw BinfmtError(.invalidInput, "the binary's path must not contain spaces, quotes, backslashes or %", at: execPath)
    }
    return PersistTarget(paths: paths, offline: offline, initSystem: initSystem, exec: execPath)
  }

  func real(_ p: String) -> FilePath { paths.path(p) }

  var unitPath: String { "/etc/systemd/system/" + Units.systemdName }
  var wantsLink: String { "/etc/systemd/system/\(Units.wantedBy).wants/" + Units.systemdName }
  var openrcScript: String { "/etc/init.d/binfmtctl" }
  var openrcLink: String { "/etc/runlevels/boot/binfmtctl" }
  var wslConf: String { "/etc/wsl.conf" }
}

func selfExecutable() -> String? { ConfigFiles.readLink("/proc/self/exe") }

struct Persist: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Register entries now and at every boot (binfmt.d files plus a boot service).",
    discussion: """
      Writes /etc/binfmt.d/zz-binfmtctl-<entry>.conf per entry (after distributions' qemu-*.conf
      in systemd-binfmt's order, so ours win), installs and enables the boot service for the
      init system (systemd unit via sd-bus, OpenRC script, or WSL's [boot] command), then
      registers the entries now. Without architectures, persists exactly the qemu entries that
      are live. With --root, writes into an offline image and registers nothing.
      Exit status: 0 done, 1 files written but some live registrations failed, 2 bad usage,
      3 no emulator, 4 the system refused, 5 a conflicting file or entry (nothing changed).
      """)

  @OptionGroup var entries: Install.EntryDefinitionOptions
  @Option(help: "Root of an offline system image to write into (registers nothing).") var root: String?
  @Option(help: "Init system: systemd, openrc, wsl or none (default: detected).") var `init`: InitSystem?
  @Option(help: "Path of binfmtctl that the boot service runs (default: this binary; with --root: /usr/local/bin/binfmtctl).") var execPath: String?
  @Flag(help: "Replace differing persisted files and live entries.") var replace = false
  @Flag(help: "Write the files but do not register now.") var noRegister = false
  @Flag(help: "Print what would change; change nothing.") var dryRun = false
  @Flag(help: "Print JSON on stdout.") var json = false

  func validate() throws {
    if root != nil && !entries.all && entries.architectures.isEmpty {
      throw ValidationError("with --root, name architectures or --all (the live table is not the image's)")
    }
  }

  func run() throws {
    let target = try PersistTarget.make(root: root, initOverride: `init`, exec: execPath)
    let facts = SystemFacts(paths: target.paths)
    // 1. What to persist.
    var wanted: [(arch: Architecture, registration: Registration)]
    if entries.all || !entries.architectures.isEmpty {
      wanted = try entries.build(facts: facts).entries
    } else {
      let live = StatusSnapshot.read(paths: SystemPaths(), hostMachine: entries.host).report.entries.filter(\.managed)
      if live.isEmpty {
        throw BinfmtError(
          .notFound, "no qemu entry is live, so there is nothing to persist", at: "persist",
          fix: "name architectures: sudo binfmtctl persist arm64")
      }
      wanted = live.compactMap { e in
        guard let a = facts.catalog.architectures.first(where: { $0.name == e.architectures.first }) else { return nil }
        return (a, e.entry.registration)
      }
    }
    // 2. Plan every file change (throws on any conflict before the first write).
    var actions: [FileAction] = []
    for (arch, reg) in wanted {
      let path = Persistence.etcDirectory + "/" + Persistence.fileName(entry: reg.name)
      let text = Persistence.fileText(reg, architecture: arch)
      switch ConfigFiles.node(target.real(path)) {
      case .absent:
        actions.append(FileAction(path: path, kind: .write(text, mode: 0o644), verb: "write"))
      case .file(let old) where old == text:
        actions.append(FileAction(path: path, kind: .keep, verb: "unchanged"))
      case .file(let old) where Persistence.isOurs(old):
        guard replace else {
          throw BinfmtError(
            .conflict, "already persisted with another definition", at: path,
            fix: "add --replace to persist the new one (binfmtctl status shows both)")
        }
        actions.append(FileAction(path: path, kind: .write(text, mode: 0o644), verb: "update"))
      case .symlink(let to) where to == "/dev/null":
        throw BinfmtError(.conflict, "is masked (a symlink to /dev/null); refusing to unmask it", at: path, fix: "remove the mask if it is not wanted: rm \(path)")
      default:
        throw BinfmtError(.conflict, "exists and was not written by binfmtctl; refusing to replace it", at: path, fix: "move it away, then persist again")
      }
    }
    actions += try Persist.mechanismActions(target)
    // 3. Registering now: plan against the live table, conflicts refused before any write.
    let registerNow = !target.offline && !noRegister
    if registerNow && !dryRun {
      let live = BinfmtMiscTable.read(SystemPaths())
      let plan = InstallPlan.make(wanted: wanted, live: live.entries, replace: replace)
      try Install.throwConflicts(plan)
      try BinfmtMisc.requireRoot()
    }
    if dryRun {
      Output.stdout(Output.render(actions, target: target, registered: [], dryRun: true, as: json ? .json : .text))
      return
    }
    // 4. Write files, then enable the service.
    try Persist.checkWritable(actions, target: target)
    try Persist.perform(actions, target: target)
    var notes: [String] = []
    if target.initSystem == .systemd {
      notes.append(try Persist.enableSystemd(target))
    }
    if target.initSystem == .none {
      notes.append("no init system detected: /etc/binfmt.d is read by systemd-binfmt or OpenRC only; run `\(target.exec) boot` at startup yourself (or pass --init)")
    }
    // Which file wins at boot, for the entries just persisted (e.g. Debian's qemu-*.conf).
    let config = BootConfiguration.resolve(ConfigFiles.scanBinfmtD(target.paths))
    let names = Set(wanted.map(\.registration.name))
    let report = PersistenceReport.make(config: config, live: [], managed: [], systemdApplies: true)
    notes += report.notes.filter { n in names.contains { n.hasPrefix($0 + ":") || n.contains("/" + $0 + ".conf") || n.contains(Persistence.fileName(entry: $0)) } }
    for n in notes { Output.stderr("binfmtctl: \(n)\n") }
    // 5. Register now.
    var outcomes: [Install.Outcome] = []
    if registerNow {
      outcomes = try Install.apply(wanted, replace: replace, dryRun: false, paths: SystemPaths())
    }
    Output.stdout(Output.render(actions, target: target, registered: outcomes, dryRun: false, as: json ? .json : .text))
    if outcomes.contains(where: { $0.error != nil }) { throw ExitWith(status: .partial) }
  }

  /// The boot mechanism's files for the chosen init system.
  static func mechanismActions(_ t: PersistTarget) throws(BinfmtError) -> [FileAction] {
    var out: [FileAction] = []
    func file(_ path: String, _ text: String, mode: mode_t, isOurs: (String) -> Bool) throws(BinfmtError) {
      switch ConfigFiles.node(t.real(path)) {
      case .absent: out.append(FileAction(path: path, kind: .write(text, mode: mode), verb: "write"))
      case .file(let old) where old == text: out.append(FileAction(path: path, kind: .keep, verb: "unchanged"))
      case .file(let old) where isOurs(old): out.append(FileAction(path: path, kind: .write(text, mode: mode), verb: "update"))
      default:
        throw BinfmtError(.conflict, "exists and was not written by binfmtctl; refusing to replace it", at: path)
      }
    }
    func link(_ path: String, to target: String) throws(BinfmtError) {
      switch ConfigFiles.node(t.real(path)) {
      case .absent: out.append(FileAction(path: path, kind: .symlink(target), verb: "link"))
      case .symlink(let to) where to == target: out.append(FileAction(path: path, kind: .keep, verb: "unchanged"))
      default: throw BinfmtError(.conflict, "exists and is not a symlink to \(target)", at: path)
      }
    }
    switch t.initSystem {
    case .systemd:
      try file(t.unitPath, Units.systemdService(exec: t.exec), mode: 0o644, isOurs: Units.isOurs)
      // Enabling happens after the writes: over sd-bus when systemd runs, else this link.
      if t.offline || !Systemd.booted() { try link(t.wantsLink, to: t.unitPath) }
    case .openrc:
      try file(t.openrcScript, Units.openrcScript(exec: t.exec), mode: 0o755, isOurs: Units.isOurs)
      try link(t.openrcLink, to: t.openrcScript)
    case .wsl:
      let path = t.wslConf
      let old: String
      switch ConfigFiles.node(t.real(path)) {
      case .absent: old = ""
      case .file(let text): old = text
      default: throw BinfmtError(.conflict, "is not a regular file; refusing to edit it", at: path)
      }
      let new = try WSLConf.add(WSLConf.command(exec: t.exec), to: old, file: path)
      if WSLConf.systemdEnabled(old) {
        Output.warning("\(path) enables systemd: the systemd unit is the better mechanism (use --init systemd)")
      }
      out.append(
        new == old
          ? FileAction(path: path, kind: .keep, verb: "unchanged")
          : FileAction(path: path, kind: .write(new, mode: 0o644), verb: old.isEmpty ? "write" : "update"))
    case .none:
      break
    }
    return out
  }

  /// Before the first write: every directory we will write in (or its nearest existing
  /// ancestor, which we would create it in) must be writable, so a non-root run fails
  /// cleanly instead of half-way.
  static func checkWritable(_ actions: [FileAction], target t: PersistTarget) throws(BinfmtError) {
    for a in actions {
      if case .keep = a.kind { continue }
      var dir = t.real(a.path).removingLastComponent()
      while !fileExists(dir) && !dir.components.isEmpty { dir.removeLastComponent() }
      if access(dir.string, W_OK) != 0 {
        throw BinfmtError(
          .system, "cannot write here", at: dir.string, cause: "\(Errno(rawValue: errno))",
          fix: geteuid() != 0 ? "run it with sudo" : nil)
      }
    }
  }

  /// Makes the planned changes; callers run `checkWritable` first.
  static func perform(_ actions: [FileAction], target t: PersistTarget) throws(BinfmtError) {
    for a in actions {
      let p = t.real(a.path)
      switch a.kind {
      case .keep:
        break
      case .write(let text, let mode):
        try AtomicFile.makeDirectories(p.removingLastComponent())
        try AtomicFile.write(text, to: p, mode: mode)
      case .symlink(let to):
        try ConfigFiles.symlink(to, at: p)
      case .remove:
        // Only files that carry our marker, whatever the plan said.
        let binfmtD = a.path.hasPrefix(Persistence.etcDirectory + "/")
        try ConfigFiles.removeFile(p, ifOurs: { text in binfmtD ? Persistence.isOurs(text) : Units.isOurs(text) })
      case .removeSymlink(let to):
        try ConfigFiles.removeSymlink(p, ifPointingTo: to)
      }
    }
  }

  /// Enables the unit: over sd-bus when systemd is PID 1 (and we are not writing an image).
  static func enableSystemd(_ t: PersistTarget) throws(BinfmtError) -> String {
    guard !t.offline && Systemd.booted() else {
      return "enabled \(Units.systemdName) (\(t.wantsLink) -> \(t.unitPath))"
    }
    let bus = try SystemBus()
    try bus.reload()
    let changes = try bus.enableUnitFiles([Units.systemdName])
    try bus.reload()
    let what = changes.map { "\($0.type) \($0.file) -> \($0.destination)" }.joined(separator: "; ")
    return "enabled \(Units.systemdName) through systemd" + (what.isEmpty ? " (already enabled)" : ": " + what)
  }
}

extension Output {
  static func render(_ actions: [FileAction], target: PersistTarget, registered: [Install.Outcome], dryRun: Bool, as format: OutputFormat) -> String {
    switch format {
    case .json:
      return JSON.object([
        "root": .string(target.paths.root.string), "init": .string(target.initSystem.rawValue), "dryRun": .bool(dryRun),
        "files": .array(actions.map { .object(["path": .string($0.path), "action": .string($0.verb)]) }),
        "registered": .array(
          registered.map {
            .object(["architecture": .string($0.arch), "entry": .string($0.registration.name), "action": .string($0.action), "ok": .bool($0.error == nil), "error": .optional($0.error?.description)])
          }),
      ]).render() + "\n"
    case .text:
      var out = ""
      let prefix = target.offline ? target.paths.root.string : ""
      for a in actions {
        out += (dryRun && a.verb != "unchanged" ? "would \(a.verb)" : a.verb) + " " + prefix + a.path + "\n"
      }
      for o in registered {
        if let e = o.error { out += "\(o.arch): FAILED: \(e)\n" } else { out += "\(o.arch): \(o.action) \(o.registration.name) (live now)\n" }
      }
      return out
    }
  }
}
