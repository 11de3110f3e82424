import ArgumentParser
import BinfmtKit
import LinuxSystem
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

struct Probe: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Prove entries work: run a tiny program per architecture through binfmt_misc.",
    discussion: """
      Each probe is a minimal static ELF executable that calls exit(42). It is written to a
      temporary directory and executed the way a user's program is, so the kernel picks the
      handler. Without arguments, probes every architecture a live, enabled entry serves.
      Exit status: 0 when every probe works, 1 when any does not, 2 bad usage, 3 nothing to probe.
      """)

  @Argument(help: "Architectures to probe.") var architectures: [String] = []
  @Option(help: "Seconds before a probe counts as hung.") var timeout: Int = 10
  @Option(help: "Directory for the probe files (default: $TMPDIR or /tmp; must allow exec).") var dir: String?
  @Flag(help: "Print JSON on stdout.") var json = false
  @Option(help: .hidden) var hostMachine: String?

  static let expected: UInt8 = 42

  struct Result {
    var arch: String
    /// works, exec-format-error, interpreter-missing, emulator-crashed, wrong-result, timed-out,
    /// no-probe-program, cannot-run
    var result: String
    var via: String
    var detail: String
    var ok: Bool { result == "works" }
  }

  func run() throws {
    let catalog = Catalog.standard
    let host = hostMachine ?? unameMachine()
    let table = BinfmtMiscTable.read(SystemPaths())
    var archs: [Architecture]
    if architectures.isEmpty {
      let served = Set(table.entries.filter(\.enabled).flatMap { TableAnalysis.architectures(served: $0.registration, catalog: catalog) })
      archs = catalog.architectures.filter { served.contains($0.name) }
      if archs.isEmpty {
        throw BinfmtError(
          .notFound, "no live entry serves any architecture, so there is nothing to probe", at: "probe",
          fix: "name architectures (binfmtctl probe arm64) or install some (sudo binfmtctl install arm64)")
      }
    } else {
      archs = try catalog.resolve(names: architectures)
    }
    let base = dir ?? (getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp")
    var template = Array((base + "/binfmtctl-probe.XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else {
      throw BinfmtError(.system, "cannot create a temporary directory", at: base, cause: "\(Errno(rawValue: errno))")
    }
    let workdir = String(cString: made)
    defer { rmdir(workdir) }
    var results: [Result] = []
    for a in archs {
      results.append(probe(a, in: workdir, table: table, catalog: catalog, host: host))
    }
    Output.stdout(Output.render(results, as: json ? .json : .text))
    if !results.allSatisfy(\.ok) { throw ExitWith(status: .partial) }
  }

  func probe(_ a: Architecture, in workdir: String, table: BinfmtMiscTable, catalog: Catalog, host: String) -> Result {
    guard let elf = ProbeProgram.executable(for: a, exitCode: Probe.expected) else {
      return Result(arch: a.name, result: "no-probe-program", via: "-", detail: "binfmtctl has no probe program for \(a.name)")
    }
    // What the kernel will choose: the first enabled entry that matches, else native.
    let handler = table.enabled ? table.entries.first { $0.enabled && $0.registration.matches(header: elf) } : nil
    let native = catalog.isNative(a, unameMachine: host)
    let via = handler.map { "\($0.name) (\($0.interpreter))" } ?? (native ? "native" : "-")
    let path = workdir + "/" + a.name
    defer { unlink(path) }
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o755)
    guard fd >= 0 else {
      return Result(arch: a.name, result: "cannot-run", via: via, detail: "cannot create \(path): \(Errno(rawValue: errno))")
    }
    let written = elf.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    fchmod(fd, 0o755)
    close(fd)
    guard written == elf.count else {
      return Result(arch: a.name, result: "cannot-run", via: via, detail: "cannot write \(path)")
    }
    let r = Spawn.run(path, ["probe-" + a.name], environment: [], timeoutMilliseconds: timeout * 1000)
    switch r.outcome {
    case .exited(let code) where code == Int32(Probe.expected):
      return Result(arch: a.name, result: "works", via: via, detail: "exit \(code) as expected")
    case .exited(let code):
      let err = r.stderr.split(separator: "\n").first.map { ": " + $0 } ?? ""
      return Result(arch: a.name, result: "wrong-result", via: via, detail: "exit \(code), expected \(Probe.expected)\(err)")
    case .signaled(let sig):
      return Result(arch: a.name, result: "emulator-crashed", via: via, detail: "killed by signal \(sig)")
    case .timedOut:
      return Result(arch: a.name, result: "timed-out", via: via, detail: "no exit after \(timeout) s")
    case .execFailed(let e):
      switch e {
      case Errno(rawValue: ENOEXEC):
        return Result(
          arch: a.name, result: "exec-format-error", via: "-",
          detail: "Exec format error: no enabled binfmt_misc entry matches; fix: sudo binfmtctl install \(a.name)")
      case .noSuchFileOrDirectory:
        return Result(
          arch: a.name, result: "interpreter-missing", via: via,
          detail: "the interpreter \(handler?.interpreter ?? "?") was not found\(handler?.flags.contains(.fixBinary) == false ? " (no F flag: it is looked up at exec time)" : "")")
      case .permissionDenied:
        return Result(arch: a.name, result: "cannot-run", via: via, detail: "permission denied: is \(workdir) mounted noexec? try --dir")
      default:
        return Result(arch: a.name, result: "cannot-run", via: via, detail: "exec: \(e)")
      }
    }
  }
}

extension Output {
  static func render(_ results: [Probe.Result], as format: OutputFormat) -> String {
    switch format {
    case .json:
      return JSON.array(
        results.map { r in
          .object(["architecture": .string(r.arch), "result": .string(r.result), "via": .string(r.via), "detail": .string(r.detail), "ok": .bool(r.ok)])
        }
      ).render() + "\n"
    case .text:
      var rows = [["ARCH", "RESULT", "VIA", "DETAIL"]]
      for r in results { rows.append([r.arch, r.result, r.via, r.detail]) }
      return table(rows)
    }
  }
}
