import BinfmtKit
import LinuxSystem
import SystemPackage
import Systemd

/// Where persisted files go on a system root, for each init system.
public struct PersistLayout: Sendable {
  public var paths: SystemPaths
  public init(paths: SystemPaths) { self.paths = paths }

  public static let unitPath = "/etc/systemd/system/" + Units.systemdName
  public static let wantsLink = "/etc/systemd/system/\(Units.wantedBy).wants/" + Units.systemdName
  public static let openrcScript = "/etc/init.d/binfmtctl"
  public static let openrcLink = "/etc/runlevels/boot/binfmtctl"
  public static let wslConf = "/etc/wsl.conf"

  /// What is at `absolute` inside the root, resolved as under chroot (`SystemRoot`).
  public func node(_ absolute: String) -> FileNode {
    guard let root = try? SystemRoot(paths) else { return .absent }
    return root.node(absolute)
  }

  /// Whether `name` in `directory` is a file persist writes (atomically, so a killed run may
  /// have left its `.NAME.tmp.PID` there).
  static func writes(_ name: String, in directory: String) -> Bool {
    if directory == Persistence.etcDirectory { return Persistence.entryName(fileName: name) != nil }
    return [unitPath, openrcScript, wslConf].contains(directory + "/" + name)
  }

  /// Where a package (`/lib`, `/usr/lib`) or `make install` (`/usr/local/lib`) puts the unit,
  /// in systemd's order of precedence (all below /etc/systemd/system, where persist writes).
  public static let vendorUnitDirectories = [
    "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system",
  ]

  /// The paths of the installed (vendor) unit, in precedence order; empty when there is none.
  /// On a merged-/usr system /lib/systemd/system and /usr/lib/systemd/system are one file.
  public var packagedUnits: [String] {
    Self.vendorUnitDirectories.map { $0 + "/" + Units.systemdName }.filter {
      if case .file = node($0) { return true }
      return false
    }
  }

  /// The packaged unit systemd loads when /etc/systemd/system has no unit of that name.
  public var packagedUnit: String? { packagedUnits.first }

  func isOurUnit(_ absolute: String) -> Bool {
    if case .file(let text) = node(absolute) { return Units.isOurs(text) }
    return false
  }

  func links(_ link: String, to target: String) -> Bool { node(link) == .symlink(to: target) }

  /// Our boot service for `initSystem`: (installed, enabled).
  func bootService(_ initSystem: InitSystem) -> (installed: Bool, linked: Bool) {
    switch initSystem {
    case .systemd:
      // Ours in /etc, or the packaged one (which `persist` enables instead of writing a copy).
      let ours = isOurUnit(Self.unitPath)
      let units = (ours ? [Self.unitPath] : []) + packagedUnits
      guard case .symlink(let to) = node(Self.wantsLink) else { return (!units.isEmpty, false) }
      return (!units.isEmpty, units.contains(to))
    case .openrc:
      return (isOurUnit(Self.openrcScript), links(Self.openrcLink, to: Self.openrcScript))
    case .wsl:
      var text = ""
      if case .file(let x) = node(Self.wslConf) { text = x }
      let on = (WSLConf.bootCommand(text) ?? "").contains("binfmtctl boot")
      return (on, on)
    case .none:
      return (false, false)
    }
  }
}

/// `persist` and `unpersist`: plan every file change, refuse conflicts before the first
/// write, write atomically, enable the boot service, and register now.
public struct Persister: Sendable {
  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  public struct Request: Sendable {
    /// nil: the qemu entries that are live now.
    public var entries: EntryRequest?
    public var root: String?
    public var initSystem: InitSystem?
    public var execPath: String?
    public var replace: Bool
    public var noRegister: Bool
    public var dryRun: Bool
    public init(
      entries: EntryRequest?, root: String?, initSystem: InitSystem?, execPath: String?, replace: Bool,
      noRegister: Bool, dryRun: Bool
    ) {
      self.entries = entries
      self.root = root
      self.initSystem = initSystem
      self.execPath = execPath
      self.replace = replace
      self.noRegister = noRegister
      self.dryRun = dryRun
    }
  }

  /// The system root `--root` names (the context's own without it), whether that is an
  /// offline image, and the init system and binary path the boot files will name.
  struct Target {
    var context: EngineContext
    var offline: Bool
    var initSystem: InitSystem
    var exec: String
    var layout: PersistLayout { PersistLayout(paths: context.paths) }
  }

  func target(root: String?, initSystem: InitSystem?, exec: String?) throws(BinfmtError) -> Target {
    if let root, !root.hasPrefix("/") { throw BinfmtError(.invalidInput, "must be an absolute path", at: "--root") }
    let offline = root != nil && root != "/"
    let ctx = offline ? context.rooted(at: SystemPaths(root: FilePath(root!))) : context
    if offline && !ConfigFiles.isDirectory(ctx.paths.root) {
      throw BinfmtError(.notFound, "no such directory", at: root!)
    }
    let initSystem = initSystem ?? InitSystem.detect(ctx.paths, offline: offline)
    let execPath = exec ?? (offline ? Units.defaultExec : CurrentProcess.executablePath ?? Units.defaultExec)
    if !execPath.hasPrefix("/") { throw BinfmtError(.invalidInput, "must be an absolute path", at: "--exec-path") }
    // It lands in a shell script (OpenRC), a unit's ExecStart= and wsl.conf: only characters
    // that mean themselves in all three, so nothing needs quoting and nothing can run.
    if let bad = execPath.unicodeScalars.first(where: { !Self.execPathAllowed($0) }) {
      throw BinfmtError(
        .invalidInput,
        "contains \(bad.properties.generalCategory == .control ? "a control character (0x\(String(bad.value, radix: 16)))" : "'\(bad)'"); the boot files can carry only letters, digits and / . _ - + @ , =",
        at: "--exec-path",
        fix: "install binfmtctl at a plain path (e.g. /usr/local/bin/binfmtctl) and pass that")
    }
    return Target(context: ctx, offline: offline, initSystem: initSystem, exec: execPath)
  }

  static func execPathAllowed(_ c: Unicode.Scalar) -> Bool {
    switch c {
    case "a"..."z", "A"..."Z", "0"..."9", "/", ".", "_", "-", "+", "@", ",", "=": return true
    default: return false
    }
  }

  /// The table lock for a command that changes files on the running system, where the files
  /// and the table must agree. An offline image (`--root`) has no table here: the host's lock
  /// is not its business (and the image's /run is not trusted to hold one).
  func lock(_ t: Target) throws(BinfmtError) -> TableLock? {
    if t.offline { return nil }
    try BinfmtMisc.requireRoot()
    return try context.lockTable()
  }

  public func persist(_ request: Request) throws(BinfmtError) -> PersistReport {
    let t = try target(root: request.root, initSystem: request.initSystem, exec: request.execPath)
    // One critical section: the live table read, the plan, the files and the registration.
    var held: TableLock? = request.dryRun ? nil : try lock(t)
    // 1. What to persist: built from the image's emulators, or the live qemu entries.
    let wanted: [WantedEntry]
    if let entries = request.entries {
      wanted = try Installer(t.context).build(entries)
    } else {
      let live = TableSnapshot.read(context).report.entries.filter(\.managed)
      if live.isEmpty {
        throw BinfmtError(
          .notFound, "no qemu entry is live, so there is nothing to persist", at: "persist",
          fix: "name architectures: sudo binfmtctl persist arm64")
      }
      wanted = live.compactMap { e in
        context.catalog.architectures.first { $0.name == e.architectures.first }.map {
          WantedEntry(arch: $0, registration: e.entry.registration)
        }
      }
    }
    // 2. Every file change, planned before any is made (throws on any conflict).
    var changes: [FileChange] = []
    for w in wanted {
      let path = Persistence.etcDirectory + "/" + Persistence.fileName(entry: w.registration.name)
      let text = try Persistence.fileText(w.registration, architecture: w.arch)
      changes.append(
        try FilePlan.persistedEntry(path, text: text, existing: t.layout.node(path), replace: request.replace))
    }
    changes += try mechanismChanges(t)
    let registerNow = !t.offline && !request.noRegister
    if request.dryRun {
      return PersistReport(target: t, files: changes, registered: [], dryRun: true)
    }
    // 3. Registering now: under the lock, planned once against the live table, conflicts
    //    refused before the first file is written.
    var prepared: PreparedInstall? = nil
    if registerNow {
      guard let lock = held.take() else {
        throw BinfmtError(.system, "the table lock was not taken", at: "persist")
      }
      prepared = try Installer(context).prepare(wanted, replace: request.replace, holding: lock)
    }
    // 4. Files, then the service. A failure after the first write says what was written.
    let files = FileChanges(t.context)
    try files.checkWritable(changes)
    var written: [FileChange] = []
    do throws(BinfmtError) {
      try files.perform(changes, done: &written)
    } catch {
      throw Self.afterWrites(error, written: written, root: t.offline ? t.context.paths.root.string : "")
    }
    var notes: [String] = []
    if t.initSystem == .systemd {
      do throws(BinfmtError) {
        notes.append(try enableSystemd(t))
      } catch {
        throw Self.afterWrites(error, written: written, root: "")
      }
    }
    if t.initSystem == .none {
      notes.append(
        "no init system detected: /etc/binfmt.d is read by systemd-binfmt or OpenRC only; run `\(t.exec) boot` at startup yourself (or pass --init)"
      )
    }
    // Which file wins at boot, for the entries just persisted (e.g. Debian's qemu-*.conf).
    let config = BootConfiguration.resolve(ConfigFiles.scanBinfmtD(t.context.paths))
    let names = Set(wanted.map(\.registration.name))
    let report = PersistenceReport.make(config: config, live: [], managed: [], systemdApplies: true)
    notes += report.notes.filter { $0.entry.map(names.contains) ?? false }.map(\.text)
    for n in notes { context.output.note(n) }
    // 5. Register now.
    let outcomes = prepared.take()?.execute() ?? []
    _ = held.take()
    return PersistReport(target: t, files: changes, registered: outcomes, dryRun: false)
  }

  /// An error after some files were changed: which ones, so nobody has to guess the state.
  static func afterWrites(_ e: BinfmtError, written: [FileChange], root: String) -> BinfmtError {
    let done = written.filter { $0.verb != .unchanged }
    guard !done.isEmpty else { return e }
    let list = done.map { "\($0.verb.rawValue) \(root)\($0.path)" }.joined(separator: ", ")
    var out = e
    out.message += "; already done before it failed: \(list) (nothing was registered)"
    return out
  }

  /// The boot mechanism's files for the chosen init system.
  func mechanismChanges(_ t: Target) throws(BinfmtError) -> [FileChange] {
    let l = t.layout
    switch t.initSystem {
    case .systemd:
      if let packaged = l.packagedUnit { return try packagedUnitChanges(t, packaged: packaged) }
      var out = [
        try FilePlan.ownFile(
          PersistLayout.unitPath, text: Units.systemdService(exec: t.exec), mode: 0o644,
          existing: l.node(PersistLayout.unitPath), isOurs: Units.isOurs)
      ]
      // Enabling happens after the writes: over sd-bus when systemd runs, else this link.
      if t.offline || !context.systemdBooted {
        out.append(
          try FilePlan.link(
            PersistLayout.wantsLink, to: PersistLayout.unitPath, existing: l.node(PersistLayout.wantsLink)))
      }
      return out
    case .openrc:
      return [
        try FilePlan.ownFile(
          PersistLayout.openrcScript, text: Units.openrcScript(exec: t.exec), mode: 0o755,
          existing: l.node(PersistLayout.openrcScript), isOurs: Units.isOurs),
        try FilePlan.link(
          PersistLayout.openrcLink, to: PersistLayout.openrcScript, existing: l.node(PersistLayout.openrcLink)),
      ]
    case .wsl:
      let path = PersistLayout.wslConf
      let old: String
      switch l.node(path) {
      case .absent: old = ""
      case .file(let text): old = text
      default: throw BinfmtError(.conflict, "is not a regular file; refusing to edit it", at: path)
      }
      let new = try WSLConf.add(WSLConf.command(exec: t.exec), to: old, file: path)
      if WSLConf.systemdEnabled(old) {
        context.output.warning("\(path) enables systemd: the systemd unit is the better mechanism (use --init systemd)")
      }
      return [
        new == old
          ? FileChange(path: path, kind: .keep, verb: .unchanged)
          : FileChange(path: path, kind: .write(new, mode: 0o644), verb: old.isEmpty ? .write : .update)
      ]
    case .none:
      return []
    }
  }

  /// With a packaged unit (the .deb's /lib/systemd/system, `make install`'s
  /// /usr/local/lib/systemd/system), persist enables that unit and writes no copy: a copy an
  /// earlier persist left in /etc would shadow it, so it goes (with its link). The packaged
  /// file itself is never written or removed.
  func packagedUnitChanges(_ t: Target, packaged: String) throws(BinfmtError) -> [FileChange] {
    let l = t.layout
    var out: [FileChange] = []
    var link = l.node(PersistLayout.wantsLink)
    if l.isOurUnit(PersistLayout.unitPath) {
      if link == .symlink(to: PersistLayout.unitPath) {
        out.append(
          FileChange(path: PersistLayout.wantsLink, kind: .removeSymlink(PersistLayout.unitPath), verb: .unlink))
        link = .absent
      }
      out.append(FileChange(path: PersistLayout.unitPath, kind: .remove, verb: .remove))
    }
    // Enabling happens after the writes: over sd-bus when systemd runs, else this link
    // (what `systemctl enable` writes). A link to any path of the packaged unit is enabled.
    if t.offline || !context.systemdBooted {
      if case .symlink(let to) = link, l.packagedUnits.contains(to) {
        out.append(FileChange(path: PersistLayout.wantsLink, kind: .keep, verb: .unchanged))
      } else {
        out.append(try FilePlan.link(PersistLayout.wantsLink, to: packaged, existing: link))
      }
    }
    return out
  }

  /// Enables the unit: over sd-bus when systemd is PID 1 (and we are not writing an image).
  func enableSystemd(_ t: Target) throws(BinfmtError) -> String {
    let unit = t.layout.packagedUnit ?? PersistLayout.unitPath
    guard !t.offline && context.systemdBooted else {
      return "enabled \(Units.systemdName) (\(PersistLayout.wantsLink) -> \(unit))"
    }
    let bus = try SystemBus()
    try bus.reload()
    let changes = try bus.enableUnitFiles([Units.systemdName])
    try bus.reload()
    let what = changes.map { "\($0.type) \($0.file) -> \($0.destination)" }.joined(separator: "; ")
    let packaged = t.layout.packagedUnit.map { " (the installed unit \($0))" } ?? ""
    return "enabled \(Units.systemdName)\(packaged) through systemd"
      + (what.isEmpty ? " (already enabled)" : ": " + what)
  }

  /// `unpersist`: removes exactly what `persist` wrote for the named entries or
  /// architectures; with `all`, the boot service too.
  public func unpersist(names: [String], all: Bool, root: String?, dryRun: Bool) throws(BinfmtError) -> PersistReport {
    let t = try target(root: root, initSystem: nil, exec: nil)
    let held: TableLock? = dryRun ? nil : try lock(t)
    defer { _ = held }
    let l = t.layout
    let config = BootConfiguration.resolve(
      ConfigFiles.scanBinfmtD(t.context.paths, directories: [Persistence.etcDirectory]),
      directories: [Persistence.etcDirectory])
    let ours = config.ours
    // Ours by name and marker even when no line parses (what status's broken-config fix names).
    let ourFiles = config.effective.filter { f in
      guard Persistence.entryName(fileName: f.name) != nil, case .regular(let b) = f.kind else { return false }
      return Persistence.isOurs(bytes: b)
    }
    var selected: [String] = []
    if all {
      selected = ours.map(\.file.name) + ourFiles.map(\.name)
    } else {
      for n in names {
        let byName =
          ours.filter { $0.registration.name == n }.map(\.file.name)
          + ourFiles.filter { Persistence.entryName(fileName: $0.name) == n }.map(\.name)
        if !byName.isEmpty {
          selected += byName
          continue
        }
        guard let a = context.catalog.resolve(n) else {
          if !Registration.isValidEntryName(n) {
            throw BinfmtError(.invalidInput, "not an entry name or architecture", at: n)
          }
          context.output.note("\(n): not persisted by binfmtctl")
          continue
        }
        let byArch = ours.filter { $0.registration.matches(a) }
        if byArch.isEmpty { context.output.note("\(n): not persisted by binfmtctl") }
        selected += byArch.map(\.file.name)
      }
    }
    var changes = Set(selected).sorted().map {
      FileChange(path: Persistence.etcDirectory + "/" + $0, kind: .remove, verb: .remove)
    }
    var disableOverBus = false
    if all {
      // Whatever of ours exists, for every mechanism: exactly what persist may have added.
      if l.isOurUnit(PersistLayout.unitPath) {
        disableOverBus = !t.offline && context.systemdBooted
        if l.links(PersistLayout.wantsLink, to: PersistLayout.unitPath) {
          changes.append(
            FileChange(path: PersistLayout.wantsLink, kind: .removeSymlink(PersistLayout.unitPath), verb: .unlink))
        }
        changes.append(FileChange(path: PersistLayout.unitPath, kind: .remove, verb: .remove))
      }
      // The packaged unit is disabled (its link removed), never deleted: the package owns it.
      let packaged = l.packagedUnits
      if !packaged.isEmpty {
        if case .symlink(let to) = l.node(PersistLayout.wantsLink), packaged.contains(to) {
          disableOverBus = disableOverBus || (!t.offline && context.systemdBooted)
          changes.append(FileChange(path: PersistLayout.wantsLink, kind: .removeSymlink(to), verb: .unlink))
        }
      }
      if l.isOurUnit(PersistLayout.openrcScript) {
        if l.links(PersistLayout.openrcLink, to: PersistLayout.openrcScript) {
          changes.append(
            FileChange(path: PersistLayout.openrcLink, kind: .removeSymlink(PersistLayout.openrcScript), verb: .unlink))
        }
        changes.append(FileChange(path: PersistLayout.openrcScript, kind: .remove, verb: .remove))
      }
      if case .file(let text) = l.node(PersistLayout.wslConf) {
        let new = WSLConf.remove(from: text)
        if new != text {
          changes.append(FileChange(path: PersistLayout.wslConf, kind: .write(new, mode: 0o644), verb: .update))
        }
      }
    }
    if dryRun { return PersistReport(target: t, files: changes, registered: [], dryRun: true) }
    let files = FileChanges(t.context)
    try files.checkWritable(changes)
    if disableOverBus {
      let bus = try SystemBus()
      _ = try bus.disableUnitFiles([Units.systemdName])
    }
    var written: [FileChange] = []
    do throws(BinfmtError) {
      try files.perform(changes, done: &written)
      if disableOverBus { try SystemBus().reload() }
    } catch {
      throw Self.afterWrites(error, written: written, root: t.offline ? t.context.paths.root.string : "")
    }
    if changes.isEmpty { context.output.note("nothing persisted by binfmtctl to remove") }
    return PersistReport(target: t, files: changes, registered: [], dryRun: false)
  }
}

/// The one executor of planned file changes, under a system root: every path resolved inside
/// it as under chroot (`SystemRoot`), so a symlink in an image never leads a write or a
/// removal out of it.
struct FileChanges {
  let context: EngineContext
  init(_ context: EngineContext) { self.context = context }

  /// Checks every target directory first, then makes the changes.
  func apply(_ changes: [FileChange]) throws(BinfmtError) {
    try checkWritable(changes)
    try perform(changes)
  }

  func checkWritable(_ changes: [FileChange]) throws(BinfmtError) {
    let root = try SystemRoot(context.paths)
    for c in changes {
      if case .keep = c.kind { continue }
      try root.checkWritable(forFileAt: c.path)
    }
  }

  func perform(_ changes: [FileChange]) throws(BinfmtError) {
    var done: [FileChange] = []
    try perform(changes, done: &done)
  }

  /// `done` gets each change once it is made, so a failure part-way can say what was.
  func perform(_ changes: [FileChange], done: inout [FileChange]) throws(BinfmtError) {
    let root = try SystemRoot(context.paths)
    var swept: Set<String> = []
    for c in changes {
      if case .keep = c.kind { continue }
      // Temp files a killed run left in a directory we change, once per directory.
      let dir = FilePath(c.path).removingLastComponent().string
      if swept.insert(dir).inserted {
        for p in root.removeStaleTemporaries(in: dir, owned: { PersistLayout.writes($0, in: dir) }) {
          context.output.note("removed \(context.paths.path(p)), left by an interrupted binfmtctl")
        }
      }
      switch c.kind {
      case .keep:
        break
      case .write(let text, let mode):
        try root.write(text, to: c.path, mode: mode)
      case .symlink(let to):
        try root.symlink(to, at: c.path)
      case .remove:
        // Only files that carry our marker, whatever the plan said.
        let binfmtD = c.path.hasPrefix(Persistence.etcDirectory + "/")
        try root.removeFile(c.path, ifOurs: { text in binfmtD ? Persistence.isOurs(text) : Units.isOurs(text) })
      case .removeSymlink(let to):
        try root.removeSymlink(c.path, ifPointingTo: to)
      }
      done.append(c)
    }
  }
}

/// What `persist` and `unpersist` changed (or, dry, would change).
public struct PersistReport: JSONReport {
  public var root: String
  public var offline: Bool
  public var initSystem: InitSystem
  public var files: [FileChange]
  public var registered: [InstallOutcome]
  public var dryRun: Bool

  init(target t: Persister.Target, files: [FileChange], registered: [InstallOutcome], dryRun: Bool) {
    root = t.context.paths.root.string
    offline = t.offline
    initSystem = t.initSystem
    self.files = files
    self.registered = registered
    self.dryRun = dryRun
  }

  /// Files were written, but some registrations failed.
  public var partialFailure: Bool { registered.contains { $0.error != nil } }

  public var json: JSON {
    .object([
      "root": .string(root), "init": .string(initSystem.rawValue), "dryRun": .bool(dryRun),
      "files": .array(files.map { .object(["path": .string($0.path), "action": .string($0.verb.rawValue)]) }),
      "registered": .array(
        registered.map {
          .object([
            "architecture": .string($0.arch), "entry": .string($0.registration.name),
            "action": .string($0.step.actionText), "ok": .bool($0.error == nil),
            "error": .optional($0.error?.description),
          ])
        }),
    ])
  }

  public var text: String {
    var out = ""
    let prefix = offline ? root : ""
    for c in files {
      out +=
        (dryRun && c.verb != .unchanged ? "would \(c.verb.rawValue)" : c.verb.rawValue) + " "
        + TerminalText.escape(prefix + c.path) + "\n"
    }
    for o in registered {
      if let e = o.error {
        out += "\(o.arch): FAILED: \(e)\n"
      } else {
        out += "\(o.arch): \(o.step.actionText) \(o.registration.name) (live now)\n"
      }
    }
    return out
  }
}
