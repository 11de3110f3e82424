import BinfmtKit
import ELF
import LinuxSystem
import SystemPackage

/// `doctor`: gathers the facts (the file, its mount, the live table, persistence, the
/// distribution), lets `DoctorRules` decide, and proves a "can run" with a probe program.
/// It only reads: no registration, no mount, no file is changed (the probe program lives in a
/// temporary directory that is removed).
public struct Doctor: Sendable {
  public struct Request: Sendable {
    public var path: String?
    public var root: String?
    public var platform: String?
    public var message: String?
    public var probe: Bool
    /// `--probe-target`: run PATH itself (inside `root`) as the proof, not the probe program.
    public var probeTarget: Bool
    /// `--image REF` (ImageDoctor.swift) and the engine to ask (nil: podman, then docker).
    public var image: String? = nil
    public var engine: ContainerEngineKind? = nil
    /// How findings name `root` (an image's root file system is a temporary path).
    public var rootShownAs: String? = nil
    public init(
      path: String?, root: String?, platform: String?, message: String?, probe: Bool, probeTarget: Bool = false
    ) {
      self.path = path
      self.root = root
      self.platform = platform
      self.message = message
      self.probe = probe
      self.probeTarget = probeTarget
    }
  }

  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  public func diagnose(_ r: Request) throws(BinfmtError) -> Diagnosis {
    if let image = r.image { return try diagnoseImage(r, image: image) }
    var findings: [Finding] = []
    let said = r.message.map(ErrorMessage.classify)
    if let e = said {
      let about = e.subject.map { " about \($0)" } ?? ""
      findings.append(
        Finding(
          .message, .warning, "the message is \(e.family.rawValue), printed by \(e.source)\(about)", evidence: e.meaning
        ))
    }
    let outcome: RuleOutcome
    let target: String
    if let path = r.path {
      target = path
      let facts = pathFacts(path, root: r.root)
      let arch = (try? ELFHeader.decode(facts.head)).flatMap { context.catalog.architecture(for: $0) }
      var host = hostFacts(root: r.root, arch: arch)
      if let shown = r.rootShownAs { host.root = shown }
      outcome = DoctorRules.diagnose(facts, host: host)
    } else if let platform = r.platform ?? r.message.flatMap(ErrorMessage.platform(in:)) {
      // A container engine's message names the image's platform: diagnose that.
      let arch = try resolve(platform: platform)
      target = platform
      outcome = DoctorRules.platform(
        arch, host: hostFacts(root: r.root, arch: arch), setid: said?.family == .setuidIgnored)
    } else {
      target = Diagnosis.wholeSystem
      outcome = DoctorRules.system(host: hostFacts(root: r.root, arch: nil))
    }
    // A platform is asked about for its containers (the issue's contract for --platform).
    findings +=
      r.path == nil && target != Diagnosis.wholeSystem ? DoctorRules.forContainers(outcome.findings) : outcome.findings
    if let said { findings = DoctorRules.confirmed(findings, by: said) }
    var summary = ProbeSummary.notRun
    let blocked = findings.contains { $0.severity == .error }
    if !r.probe {
      summary = .skipped
    } else if r.probeTarget, !blocked, let path = r.path {
      let (finding, s) = proof(target: path, root: r.root)
      findings.append(finding)
      summary = s
    } else if !blocked, let arch = outcome.probeArchitecture {
      let (finding, s) = proof(arch)
      findings.append(finding)
      summary = s
    }
    return Diagnosis(target: target, findings: findings, probe: summary, runsVia: outcome.runsVia)
  }

  /// `doctor --fix`: diagnoses, applies each printed fix that is binfmtctl's own (each under
  /// the table lock, as the command it stands for takes it), leaves the rest to the user, and
  /// diagnoses again; the second diagnosis decides the exit status.
  /// A fixed state can reveal the next finding (binfmt_misc on, then the entry is disabled;
  /// installed, then lost at reboot), so it goes round again, each command at most once.
  public func repair(_ r: Request) throws(BinfmtError) -> RepairReport {
    var quick = r
    quick.probe = false
    var applied: [RepairReport.Applied] = []
    var notDone: [String] = []
    for _ in 0..<Self.repairRounds {
      let fresh = try diagnose(quick).fix.filter { c in !applied.contains { $0.command == c } && !notDone.contains(c) }
      var progressed = false
      for command in fresh {
        // The C flag hands setuid privileges to the emulator: a decision --fix leaves to a person.
        guard let action = RepairAction.parse(command), !action.grantsCredentials else {
          notDone.append(command)
          continue
        }
        do throws(BinfmtError) {
          try apply(action)
          applied.append(.init(command: command, error: nil))
          progressed = true
        } catch {
          applied.append(.init(command: command, error: error.message))
        }
      }
      if !progressed { break }
    }
    let after = try diagnose(r)
    // What the last diagnosis still asks for and --fix did not do is the user's.
    for c in after.fix where !notDone.contains(c) && !applied.contains(where: { $0.command == c && $0.error == nil }) {
      if RepairAction.parse(c).map(\.grantsCredentials) ?? true { notDone.append(c) }
    }
    return RepairReport(applied: applied, notDone: notDone, after: after)
  }

  static let repairRounds = 4

  func apply(_ action: RepairAction) throws(BinfmtError) {
    switch action {
    case .install(let names, let replace, let flags, let credentials, let includeNative):
      _ = try Installer(context).install(
        EntryRequest(names: names, includeNative: includeNative, flags: flags, credentials: credentials),
        replace: replace, dryRun: false)
    case .uninstall(let name):
      _ = try EntryEditor(context).apply(.remove, names: [name], all: false, dryRun: false)
    case .enable(let name):
      _ = try EntryEditor(context).apply(.enable, names: [name], all: false, dryRun: false)
    case .persist(let names, let replace, let includeNative):
      _ = try Persister(context).persist(
        Persister.Request(
          entries: names.isEmpty ? nil : EntryRequest(names: names, includeNative: includeNative), root: nil,
          initSystem: nil, execPath: nil, replace: replace, noRegister: false, dryRun: false))
    case .mount:
      try BinfmtMisc.requireRoot()
      let lock = try context.lockTable()
      defer { _ = lock }
      try BinfmtMisc(paths: context.paths).ensureMounted()
    case .enableTable:
      try BinfmtMisc.requireRoot()
      let lock = try context.lockTable()
      defer { _ = lock }
      try BinfmtMisc(paths: context.paths).enableTable()
    }
  }

  /// `linux/arm64`, `linux/arm/v7`, `arm64`: an OCI platform or any catalog name.
  func resolve(platform: String) throws(BinfmtError) -> Architecture {
    let parts = platform.split(separator: "/", omittingEmptySubsequences: false)
    if parts.count >= 2, parts[0] != "linux" {
      throw BinfmtError(
        .invalidInput, "only linux/… platforms run through binfmt_misc, not \(parts[0])", at: "--platform")
    }
    let catalog = context.catalog
    if let a = catalog.resolve(platform) ?? catalog.architectures.first(where: { $0.ociPlatform == platform }) {
      return a
    }
    // linux/arm64/v8 and friends: the variant is implied by the architecture.
    if parts.count == 3, let a = catalog.resolve(parts[0...1].joined(separator: "/")) { return a }
    return try catalog.resolve(names: [platform])[0]
  }

  /// `--probe-target`: runs the file itself, with no arguments and stdin from /dev/null (inside
  /// `root`: chrooted there in a private mount namespace). Whatever it then does, the kernel
  /// started it; only an exec failure is a failed proof.
  func proof(target path: String, root: String?) -> (Finding, ProbeSummary) {
    let r: ChildResult
    let place: String
    if let root {
      do throws(BinfmtError) {
        r = try Spawn.runInRoot(
          root, path, [path], environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
      } catch {
        return (
          Finding(
            .probe, .warning, "\(path) was not run inside \(root): \(error.message)",
            evidence: error.cause.map { "\($0)" } ?? error.message),
          ProbeSummary(ran: false, result: ProbeStatus.cannotRun.rawValue)
        )
      }
      place = "inside \(root) (private mount namespace, chroot)"
    } else {
      r = Spawn.run(path, [path])
      place = "on this host"
    }
    let said = (r.stdout + r.stderr).split(separator: "\n").first.map { "; it printed: \($0.prefix(120))" } ?? ""
    switch r.outcome {
    case .exited(let code):
      return (
        Finding(.probe, .ok, "proof: \(path) itself ran \(place)", evidence: "exit status \(code)\(said)"),
        ProbeSummary(ran: true, result: ProbeStatus.works.rawValue)
      )
    case .signaled(let sig):
      return (
        Finding(
          .probe, .ok, "proof: \(path) itself started \(place)", evidence: "it was killed by signal \(sig)\(said)"),
        ProbeSummary(ran: true, result: ProbeStatus.works.rawValue)
      )
    case .timedOut:
      return (
        Finding(.probe, .ok, "proof: \(path) itself started \(place)", evidence: "still running after 10 s; stopped"),
        ProbeSummary(ran: true, result: ProbeStatus.works.rawValue)
      )
    case .execFailed(let e):
      let status: ProbeStatus =
        e == .execFormatError ? .execFormatError : e == .noSuchFileOrDirectory ? .interpreterMissing : .cannotRun
      return (
        Finding(.probe, .error, "\(path) itself did not start \(place): \(e)", evidence: "execve(2) failed"),
        ProbeSummary(ran: true, result: status.rawValue)
      )
    }
  }

  /// Runs the probe program for `arch` through the kernel, as `probe` does.
  func proof(_ arch: Architecture) -> (Finding, ProbeSummary) {
    let table = BinfmtMiscTable.read(context.paths)
    let tmp = CurrentProcess.environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    let result: ProbeResult
    do {
      let dir = try TemporaryDirectory(in: tmp, prefix: "binfmtctl-doctor")
      result = ProbeRunner(context).probe(arch, in: dir, table: table, timeoutSeconds: 10, confine: true)
    } catch {
      return (
        Finding(
          .probe, .warning, "no proof made: \(error.message)", evidence: "the probe program could not be written"),
        ProbeSummary(ran: false, result: ProbeStatus.cannotRun.rawValue)
      )
    }
    let summary = ProbeSummary(ran: true, result: result.status.rawValue)
    if result.status == .execFormatError,
      let f = DoctorRules.compat32(arch, catalog: context.catalog, hostMachine: context.hostMachine)
    {
      return (f, summary)
    }
    switch result.status {
    case .works:
      return (
        Finding(
          .probe, .ok,
          "proof: binfmtctl's \(arch.name) probe program ran \(result.via == "native" ? "natively" : "via " + result.via) in \(result.proof)",
          evidence: result.detail), summary
      )
    case .cannotRun, .noProbeProgram:
      return (Finding(.probe, .warning, "no proof made for \(arch.name)", evidence: result.detail), summary)
    default:
      return (
        Finding(
          .probe, .error, "the \(arch.name) probe program failed: \(result.status.rawValue)", evidence: result.detail,
          fix: ["binfmtctl probe \(arch.name)"]), summary
      )
    }
  }

  // MARK: Facts

  func hostFacts(root: String?, arch: Architecture?) -> HostFacts {
    let snap = TableSnapshot.read(context, withPersistence: true)
    let boot = (snap.boot?.persistence.problems ?? []) + (snap.boot?.verdict.problem.map { [$0] } ?? [])
    var os: [UInt8] = []
    for p in ["/etc/os-release", "/usr/lib/os-release"] {
      if let b = try? readSmallFileBytes(context.paths.path(p)) {
        os = b
        break
      }
    }
    var inRoot: [(path: String, found: Bool)] = []
    if let root {
      for e in snap.report.entries where !e.entry.flags.contains(.fixBinary) {
        inRoot.append((e.entry.interpreter, found(e.entry.interpreter, root: root)))
      }
    }
    var emulators: [String] = []
    if let arch, EmulatorDiscovery(context).choose(for: arch, extraDirectories: []) != nil { emulators = [arch.name] }
    var facts = HostFacts(
      hostMachine: context.hostMachine, catalog: context.catalog, kernelSupport: snap.kernelSupport, table: snap.report,
      bootProblems: boot, packages: PackageManager.detect(osRelease: os), root: root, interpretersInRoot: inRoot,
      emulatorsInstalled: emulators)
    facts.pageSize = Namespaces.pageSize
    if let view = snap.boot { facts.boot = bootFacts(view) }
    if snap.report.mounted && snap.report.entries.isEmpty {
      facts.privateInstance = Namespaces.userNamespaceEvidence(context.paths)
    }
    for e in snap.report.entries where e.entry.flags.contains(.fixBinary) {
      guard let registered = changeTime(context.paths.binfmtMisc.appending(e.entry.name)),
        let changed = changeTime(context.paths.path(e.entry.interpreter))
      else { continue }
      facts.entryTimes[e.entry.name] = (registered, changed)
    }
    return facts
  }

  /// Masks, ExecStart and flushing units of a systemd system (nothing for other inits).
  func bootFacts(_ view: TableSnapshot.BootView) -> BootFacts {
    var b = BootFacts(initSystem: view.initSystem, persistedFiles: view.ourFiles.count)
    guard view.initSystem == .systemd, !view.ourFiles.isEmpty, let root = try? SystemRoot(context.paths) else {
      return b
    }
    let etc = "/etc/systemd/system"
    let layout = PersistLayout(paths: context.paths)
    b.ourUnitMasked = root.node(PersistLayout.unitPath) == .symlink(to: "/dev/null")
    b.systemdBinfmtMasked = root.node("\(etc)/systemd-binfmt.service") == .symlink(to: "/dev/null")
    b.ourUnitEnabled = layout.bootService(.systemd).linked
    // The unit file systemd loads: persist's copy in /etc, else the packaged one.
    var loaded = layout.packagedUnit
    if case .file = root.node(PersistLayout.unitPath) { loaded = PersistLayout.unitPath }
    if let unit = loaded, case .file(let text) = root.node(unit), let exec = BootFacts.execProgram(text) {
      b.ourUnitFile = unit
      b.ourExec = exec
      b.ourExecFound = root.leadsToRegularFile(exec)
    }
    // Enabled units: the links in /etc/systemd/system/*.wants (a few dozen files at most).
    var seen: Set<String> = [Units.systemdName, "systemd-binfmt.service"]
    for dir in (root.directoryEntries(etc) ?? []).sorted() where dir.hasSuffix(".wants") {
      for name in (root.directoryEntries("\(etc)/\(dir)") ?? []).sorted() where name.hasSuffix(".service") {
        guard seen.insert(name).inserted else { continue }
        let file =
          ["\(etc)/\(name)", "/usr/lib/systemd/system/\(name)", "/lib/systemd/system/\(name)"].first {
            if case .file = root.node($0) { return true }
            return false
          } ?? "\(etc)/\(dir)/\(name)"
        guard case .file(let text) = root.node(file), !text.contains("Before=\(Units.systemdName)") else { continue }
        for line in text.split(separator: "\n") where line.hasPrefix("Exec") && BootFacts.flushes(String(line)) {
          b.flushers.append(.init(unit: name, file: file, line: String(line)))
          break
        }
      }
    }
    // A drop-in that orders systemd-binfmt (which flushes when it starts) after ours.
    let dropins = "\(etc)/systemd-binfmt.service.d"
    for name in (root.directoryEntries(dropins) ?? []).sorted() where name.hasSuffix(".conf") {
      guard case .file(let text) = root.node("\(dropins)/\(name)") else { continue }
      for line in text.split(separator: "\n") where line.hasPrefix("After=") && line.contains(Units.systemdName) {
        b.flushers.append(.init(unit: "systemd-binfmt.service", file: "\(dropins)/\(name)", line: String(line)))
        break
      }
    }
    return b
  }

  /// Whether `path` leads to a regular file inside `root` (nil: this system's root), every
  /// symlink resolved there as under chroot.
  func found(_ path: String, root: String?) -> Bool {
    let paths = root.map { SystemPaths(root: FilePath(pathBytes: $0)) } ?? context.paths
    do {
      let r = try SystemRoot(paths)
      return r.leadsToRegularFile(path)
    } catch {
      return false
    }
  }

  /// Where a missing `#!` interpreter's namesake is looked for, in the order of a default PATH.
  static let binaryDirectories = ["/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"]

  func pathFacts(_ path: String, root: String?) -> PathFacts {
    var real = path
    var f = PathFacts(path: path, node: .regular)
    if let root {
      // As an exec inside the root sees it: symlinks resolved there (openat2 RESOLVE_IN_ROOT).
      let resolved: Result<String, Errno>
      do {
        resolved = try SystemRoot(SystemPaths(root: FilePath(pathBytes: root))).hostPath(of: path)
      } catch {
        f.node = .notRegular("cannot be looked up: \(error.message)")
        return f
      }
      switch resolved {
      case .success(let p): real = p
      case .failure(let e) where e == .noSuchFileOrDirectory || e == .notDirectory:
        f.node = .missing
        return f
      case .failure(let e):
        f.node = .notRegular("cannot be opened inside \(root): \(e)")
        return f
      }
    }
    f.hostPath = real
    let head: FileHead
    do { head = try FileHead.read(real) } catch {
      if error.errno == .noSuchFileOrDirectory || error.errno == .notDirectory {
        f.node = .missing
      } else {
        f.node = .notRegular(error.message)
      }
      return f
    }
    f.mode = head.mode
    f.size = head.size
    f.head = head.bytes
    if let mi = try? readSmallFileBytes(context.paths.path("/proc/self/mountinfo"), limit: 16 << 20) {
      f.mount = MountInfo.mount(
        containing: context.files.resolved(real) ?? real, in: MountInfo.parse(mi))
    }
    let base = path.split(separator: "/").last.map(String.init) ?? path
    let resolvedBase = context.files.resolved(real)?.split(separator: "/").last.map(String.init) ?? base
    f.multiCall = [base, resolvedBase].contains { $0.hasPrefix("busybox") || $0.hasPrefix("toybox") }
    switch FileFormat.sniff(head.bytes, size: head.size) {
    case .script(let line) where line.problem == nil:
      let present = found(line.interpreter, root: root)
      f.scriptInterpreterFound = present
      if !present, let name = line.interpreter.split(separator: "/").last {
        f.scriptInterpreterAlternative = Self.binaryDirectories.lazy.map { "\($0)/\(name)" }.first {
          $0 != line.interpreter && found($0, root: root)
        }
      }
    case .elf:
      guard let h = try? ELFHeader.decode(head.bytes) else { break }
      let segments: ELFSegments
      do { segments = try LibELF.readSegments(path: real) } catch {
        f.elfError = error.message
        break
      }
      f.loads = segments.programHeaders.filter { $0.type == ELFProgramHeader.load }
      guard let loader = segments.interpreter else { break }
      f.loader = loader
      var present = found(loader, root: root)
      let native = context.catalog.architecture(for: h).map {
        context.catalog.isNative($0, unameMachine: context.hostMachine)
      }
      if native != true, root == nil, let prefix = CurrentProcess.environment("QEMU_LD_PREFIX"), !prefix.isEmpty {
        f.loaderPrefix = prefix
        present = present || found(loader, root: prefix)
      }
      f.loaderFound = present
    default: break
    }
    return f
  }
}
