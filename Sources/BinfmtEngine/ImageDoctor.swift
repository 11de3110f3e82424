import BinfmtKit
import LinuxSystem
import SystemPackage

/// The container engines `doctor --image` asks about a local image.
public enum ContainerEngineKind: String, Sendable, CaseIterable {
  case podman, docker
}

/// One engine's command line client, found on `$PATH`.
struct ContainerEngine: Sendable {
  let kind: ContainerEngineKind
  let executable: String

  var name: String { kind.rawValue }

  func run(_ arguments: [String], seconds: Int = 60) -> ChildResult {
    Spawn.run(executable, [name] + arguments, timeoutMilliseconds: seconds * 1000)
  }

  /// The first line of what a failed run said, for an error's cause.
  static func said(_ r: ChildResult) -> String {
    let text = r.stderr.isEmpty ? r.stdout : r.stderr
    let line = text.split(separator: "\n").first { !$0.allSatisfy { $0 == " " } }.map(String.init)
    switch r.outcome {
    case .exited(let s): return line ?? "exit status \(s)"
    case .execFailed(let e): return "cannot run it: \(e)"
    case .signaled(let s): return "killed by signal \(s)"
    case .timedOut: return "no answer in time"
    }
  }
}

/// `doctor --image REF`: the image's platform from the engine's inspect, its root file system
/// opened for reading (`podman image mount`; otherwise a container is created, exported to a
/// temporary directory and removed), and the program a container of it starts diagnosed the
/// way `--root` diagnoses a path. Whatever was mounted, created or extracted is undone before
/// this returns, error or not.
extension Doctor {
  func diagnoseImage(_ r: Request, image ref: String) throws(BinfmtError) -> Diagnosis {
    let (engine, config) = try inspect(ref, engine: r.engine)
    var rootfsError: BinfmtError?
    var diagnosisError: BinfmtError?
    var diagnosis: Diagnosis?
    do throws(BinfmtError) {
      diagnosis = try CurrentProcess.deferringSignals { () throws(BinfmtError) in
        try withRootfs(ref, config: config, engine: engine) { (root, notes) throws(BinfmtError) in
          do throws(BinfmtError) {
            return try diagnoseProgram(r, ref: ref, config: config, engine: engine, root: root, notes: notes)
          } catch {
            diagnosisError = error
            throw error
          }
        }
      }
    } catch {
      // Only a root file system that could not be read falls back to the platform.
      if let diagnosisError { throw diagnosisError }
      rootfsError = error
    }
    if let diagnosis { return diagnosis }
    // No root file system to look into: the platform alone still says whether binfmt_misc
    // runs the image's programs.
    var d = try platformOnly(r, ref: ref, config: config)
    d.findings.insert(
      Finding(
        .imageRootfsUnreadable, .warning,
        "the root file system of image \(ref) could not be read: its program is not checked",
        evidence: rootfsError.map { "\($0)" } ?? "", fix: []), at: Self.afterMessage(d, r))
    return d
  }

  /// The image's config from the engine that has it: `--engine`'s, or the first of podman and
  /// docker (on `$PATH`) that knows the image.
  func inspect(_ ref: String, engine wanted: ContainerEngineKind?) throws(BinfmtError) -> (
    ContainerEngine, ImageConfig
  ) {
    let kinds = wanted.map { [$0] } ?? ContainerEngineKind.allCases
    var tried: [String] = []
    var installed = 0
    for kind in kinds {
      guard let exe = locate(kind.rawValue) else {
        tried.append("\(kind.rawValue): not installed")
        continue
      }
      installed += 1
      let engine = ContainerEngine(kind: kind, executable: exe)
      let out = engine.run(["image", "inspect", ref])
      guard out.outcome == .exited(0) else {
        tried.append("\(kind.rawValue): \(ContainerEngine.said(out))")
        continue
      }
      return (engine, try ImageConfig(inspect: Array(out.stdout.utf8), engine: kind.rawValue))
    }
    let engines = kinds.map(\.rawValue).joined(separator: " or ")
    if installed == 0 {
      throw BinfmtError(
        .invalidInput, "\(engines) is not installed (not on PATH)", at: "--image",
        cause: .text(tried.joined(separator: "; ")), fix: "install \(engines), or give --engine")
    }
    throw BinfmtError(
      .invalidInput, "no local image \(ref) in \(engines)", at: "--image", cause: .text(tried.joined(separator: "; ")),
      fix: "pull or load it first (podman pull/load, docker pull/load), or give --engine")
  }

  /// `name` on `$PATH`: the first executable regular file.
  func locate(_ name: String) -> String? {
    let dirs = context.searchPath.isEmpty ? ["/usr/local/bin", "/usr/bin", "/bin"] : context.searchPath
    for d in dirs {
      let p = (d.hasSuffix("/") ? d : d + "/") + name
      if context.files.interpreter(p).executable { return p }
    }
    return nil
  }

  /// Runs `body` on the image's root file system (with notes on how it was made readable),
  /// and undoes whatever made it readable.
  func withRootfs<R>(
    _ ref: String, config: ImageConfig, engine: ContainerEngine,
    _ body: (_ root: String, _ notes: [String]) throws(BinfmtError) -> R
  ) throws(BinfmtError) -> R {
    var notes: [String] = []
    if engine.kind == .podman {
      let m = engine.run(["image", "mount", ref])
      let dir = m.stdout.split(separator: "\n").last.map(String.init) ?? ""
      if m.outcome == .exited(0), dir.hasPrefix("/") {
        defer { _ = engine.run(["image", "unmount", ref]) }
        notes.append("root file system: podman image mount")
        return try body(dir, notes)
      }
      // Rootless podman mounts only inside `podman unshare`: export instead.
      notes.append("podman image mount: \(ContainerEngine.said(m))")
    }
    let tmp = CurrentProcess.environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    let work = try TemporaryDirectory(in: tmp, prefix: "binfmtctl-image")
    defer { removeTree(work.path + "/rootfs") }
    // A container is created (never started) only to be exported; without a command of its
    // own the engine refuses to create one, so it is given one that never runs.
    var create = ["create", "--pull=never", "--network", "none", ref]
    if config.command.isEmpty { create.append("/binfmtctl-never-runs") }
    let c = engine.run(create)
    let id = c.stdout.split(separator: "\n").last.map(String.init) ?? ""
    guard c.outcome == .exited(0), !id.isEmpty, Hex.parse(Substring(id)) != nil else {
      throw BinfmtError(.system, "\(engine.name) create \(ref) failed", cause: .text(ContainerEngine.said(c)))
    }
    defer { _ = engine.run(["rm", "-f", id]) }
    let tar = work.path + "/rootfs.tar"
    let e = engine.run(["export", "-o", tar, id], seconds: 300)
    guard e.outcome == .exited(0) else {
      throw BinfmtError(.system, "\(engine.name) export of \(ref) failed", cause: .text(ContainerEngine.said(e)))
    }
    let rootfs = work.path + "/rootfs"
    // Modes as in the image (setuid bits included: the doctor checks them), owned by us. tar's
    // complaints (device nodes it may not make) go to a file: the rest is still worth reading.
    let x = Spawn.run(
      "/bin/sh",
      [
        "sh", "-c",
        "mkdir -m 700 \"$1\" && tar -x -p --no-same-owner --delay-directory-restore -f \"$2\" -C \"$1\" 2>\"$3\"",
        "sh", rootfs, tar, work.path + "/tar.err",
      ], timeoutMilliseconds: 300_000)
    removeTree(tar)
    guard fileExists(FilePath(rootfs + "/.")) else {
      throw BinfmtError(.system, "cannot unpack the export of \(ref)", cause: .text(ContainerEngine.said(x)))
    }
    notes.append("root file system: \(engine.name) create + export, unpacked to a temporary directory")
    if x.outcome != .exited(0), let err = try? readSmallFile(FilePath(work.path + "/tar.err"), limit: 1 << 16) {
      notes.append("tar: " + (err.split(separator: "\n").first.map(String.init) ?? "exit status \(x.outcome)"))
    }
    return try body(rootfs, notes)
  }

  /// The image's program (its entrypoint/cmd, or PATH) resolved inside `root` and diagnosed
  /// with `--root` semantics; the target is the image.
  func diagnoseProgram(
    _ r: Request, ref: String, config: ImageConfig, engine: ContainerEngine, root: String, notes: [String]
  ) throws(BinfmtError) -> Diagnosis {
    let argv = r.path.map { [$0] } ?? config.command
    let shownRoot = "image \(ref)"
    let about = "image \(ref) (\(config.platform), \(engine.name))"
    guard let program = argv.first, !program.isEmpty else {
      var d = try platformOnly(r, ref: ref, config: config)
      d.findings.insert(
        Finding(
          .imageNoCommand, .error, "\(about) has no Entrypoint and no Cmd",
          evidence: "\(engine.name) run needs a command after the image name", fix: []), at: Self.afterMessage(d, r))
      return d
    }
    let systemRoot = try SystemRoot(SystemPaths(root: .init(pathBytes: root)))
    let candidates = config.candidates(for: program)
    guard let hit = candidates.first(where: { systemRoot.leadsToRegularFile($0) }) else {
      var d = try platformOnly(r, ref: ref, config: config)
      let searched = program.contains("/") ? candidates[0] : "PATH=\(config.searchPath)"
      d.findings.insert(
        Finding(
          .fileMissing, .error, "\(program) does not exist inside \(shownRoot)",
          evidence: "looked for \(searched) (working directory \(config.workingDirectory))", fix: []),
        at: Self.afterMessage(d, r))
      return d
    }
    var path = Self.canonical(hit, in: systemRoot)
    var how = argv.joined(separator: " ")
    if path != program { how += " → \(path)" }
    // A script: the kernel runs its #! interpreter, whose binary is what binfmt_misc sees.
    if let head = try? FileHead.read(root + path),
      case .script(let line) = FileFormat.sniff(head.bytes, size: head.size),
      line.refusal == nil, !line.crlf, systemRoot.leadsToRegularFile(line.interpreter)
    {
      let interp = Self.canonical(line.interpreter, in: systemRoot)
      how += ", a script for \(line.interpreter)" + (interp != line.interpreter ? " → \(interp)" : "")
      path = interp
    }
    var sub = r
    sub.image = nil
    sub.path = path
    sub.root = root
    sub.rootShownAs = shownRoot
    var d = try diagnose(sub)
    d.target = ref
    var evidence = "runs \(how)"
    for n in notes { evidence += "; \(n)" }
    d.findings.insert(Finding(.image, .ok, about, evidence: evidence), at: Self.afterMessage(d, r))
    if let mismatch = platformMismatch(root + path, config: config) {
      d.findings.insert(mismatch, at: Self.afterMessage(d, r) + 1)
    }
    return d
  }

  /// `path` with every symlink on the way resolved inside the root, as chroot would (an
  /// absolute link starts again at the root, `..` stops there): what is left has no symlink,
  /// so the root's directory + it names the same file on this machine. 40 links at most, as
  /// the kernel allows.
  static func canonical(_ path: String, in root: borrowing SystemRoot) -> String {
    var done: [Substring] = []
    var todo: [Substring] = path.split(separator: "/").reversed()
    var links = 0
    while let c = todo.popLast() {
      if c == "." { continue }
      if c == ".." {
        _ = done.popLast()
        continue
      }
      let here = "/" + (done + [c]).joined(separator: "/")
      guard links < 40, case .symlink(let to) = root.node(here) else {
        done.append(c)
        continue
      }
      links += 1
      if to.hasPrefix("/") { done = [] }
      todo.append(contentsOf: to.split(separator: "/").reversed())
    }
    return "/" + done.joined(separator: "/")
  }

  /// The image says one platform and its program is built for another.
  func platformMismatch(_ real: String, config: ImageConfig) -> Finding? {
    guard let head = try? FileHead.read(real), let h = try? ELFHeader.decode(head.bytes),
      let arch = context.catalog.architecture(for: h), let said = try? resolve(platform: config.platform),
      arch.name != said.name
    else { return nil }
    return Finding(
      .imagePlatformMismatch, .warning,
      "the image says \(config.platform) but its program is built for \(arch.name)",
      evidence: "engines choose emulation by the program's ELF header, not by the image's platform")
  }

  /// Where the image's own findings go: first, after what `--message` means.
  static func afterMessage(_ d: Diagnosis, _ r: Request) -> Int {
    r.message == nil || d.findings.first?.code != .message ? 0 : 1
  }

  /// `--platform` of the image's platform, the target named as the image.
  func platformOnly(_ r: Request, ref: String, config: ImageConfig) throws(BinfmtError) -> Diagnosis {
    var sub = r
    sub.image = nil
    sub.path = nil
    sub.root = nil
    sub.platform = config.platform
    var d = try diagnose(sub)
    d.target = ref
    return d
  }
}
