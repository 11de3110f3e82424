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
    /// `--image REF` (ImageDoctor.swift) and the engine to ask (nil: podman, then docker).
    public var image: String? = nil
    public var engine: ContainerEngineKind? = nil
    /// How findings name `root` (an image's root file system is a temporary path).
    public var rootShownAs: String? = nil
    public init(path: String?, root: String?, platform: String?, message: String?, probe: Bool) {
      self.path = path
      self.root = root
      self.platform = platform
      self.message = message
      self.probe = probe
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
    } else if !blocked, let arch = outcome.probeArchitecture {
      let (finding, s) = proof(arch)
      findings.append(finding)
      summary = s
    }
    return Diagnosis(target: target, findings: findings, probe: summary, runsVia: outcome.runsVia)
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

  /// Runs the probe program for `arch` through the kernel, as `probe` does.
  func proof(_ arch: Architecture) -> (Finding, ProbeSummary) {
    let table = BinfmtMiscTable.read(context.paths)
    let tmp = CurrentProcess.environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    let result: ProbeResult
    do {
      let dir = try TemporaryDirectory(in: tmp, prefix: "binfmtctl-doctor")
      result = ProbeRunner(context).probe(arch, in: dir, table: table, timeoutSeconds: 10)
    } catch {
      return (
        Finding(
          .probe, .warning, "no proof made: \(error.message)", evidence: "the probe program could not be written"),
        ProbeSummary(ran: false, result: ProbeStatus.cannotRun.rawValue)
      )
    }
    let summary = ProbeSummary(ran: true, result: result.status.rawValue)
    switch result.status {
    case .works:
      return (
        Finding(
          .probe, .ok,
          "proof: binfmtctl's \(arch.name) probe program ran \(result.via == "native" ? "natively" : "via " + result.via)",
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
    return HostFacts(
      hostMachine: context.hostMachine, catalog: context.catalog, kernelSupport: snap.kernelSupport, table: snap.report,
      bootProblems: boot, packages: PackageManager.detect(osRelease: os), root: root, interpretersInRoot: inRoot,
      emulatorsInstalled: emulators)
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

  func pathFacts(_ path: String, root: String?) -> PathFacts {
    let real: String
    if let root {
      real = (root.hasSuffix("/") ? String(root.dropLast()) : root) + (path.hasPrefix("/") ? path : "/" + path)
    } else {
      real = path
    }
    var f = PathFacts(path: path, node: .regular)
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
      f.scriptInterpreterFound = found(line.interpreter, root: root)
    case .elf:
      guard let h = try? ELFHeader.decode(head.bytes) else { break }
      let segments: ELFSegments
      do { segments = try LibELF.readSegments(path: real) } catch {
        f.elfError = error.message
        break
      }
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
