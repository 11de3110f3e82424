import BinfmtKit
import LinuxSystem
import SystemPackage

/// How one probe ended; the raw values are the JSON contract.
public enum ProbeStatus: String, Sendable {
  case works
  case execFormatError = "exec-format-error"
  case interpreterMissing = "interpreter-missing"
  case emulatorCrashed = "emulator-crashed"
  case wrongResult = "wrong-result"
  case timedOut = "timed-out"
  case noProbeProgram = "no-probe-program"
  case cannotRun = "cannot-run"
}

public struct ProbeResult: Sendable {
  public var arch: String
  public var status: ProbeStatus
  public var via: String
  public var detail: String
  /// Where the program ran: "an empty root (a private mount namespace, chrooted)" when it was
  /// confined as a container runtime would; else "this root", with why not when it was asked.
  public var proof: String = "this root"
  public var ok: Bool { status == .works }
}

/// Runs a tiny program per architecture through binfmt_misc: proof that an entry works.
public struct ProbeRunner: Sendable {
  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  /// Every probe program calls exit(42).
  public static let expected: UInt8 = 42
  /// The longest `--timeout` accepted: an hour is already far past any hung emulator.
  public static let maxTimeoutSeconds = 3600

  /// `architectures` empty: every architecture an enabled live entry serves. `directory`:
  /// where the probe files go (nil: $TMPDIR or /tmp). `timeoutSeconds` per probe.
  public func probe(_ architectures: [String], directory: String?, timeoutSeconds: Int) throws(BinfmtError)
    -> ProbeReport
  {
    let catalog = context.catalog
    let mount = ContainerMount(context)
    let table = BinfmtMiscTable.read(context.paths)
    _ = consume mount
    var archs: [Architecture]
    if architectures.isEmpty {
      let served = Set(
        table.entries.filter(\.enabled).flatMap {
          TableAnalysis.architectures(served: $0.registration, catalog: catalog)
        })
      archs = catalog.architectures.filter { served.contains($0.name) }
      if archs.isEmpty {
        throw BinfmtError(
          .notFound, "no live entry serves any architecture, so there is nothing to probe", at: "probe",
          fix: "name architectures (binfmtctl probe arm64) or install some (sudo binfmtctl install arm64)")
      }
    } else {
      archs = try catalog.resolve(names: architectures)
    }
    guard (1...Self.maxTimeoutSeconds).contains(timeoutSeconds) else {
      throw BinfmtError(
        .invalidInput, "must be between 1 and \(Self.maxTimeoutSeconds) seconds, not \(timeoutSeconds)", at: "--timeout"
      )
    }
    let tmp = CurrentProcess.environment("TMPDIR").flatMap { $0.isEmpty ? nil : $0 }
    let workdir = try TemporaryDirectory(in: directory ?? tmp ?? "/tmp", prefix: "binfmtctl-probe")
    var results: [ProbeResult] = []
    for a in archs {
      results.append(probe(a, in: workdir, table: table, timeoutSeconds: timeoutSeconds))
    }
    return ProbeReport(results: results)
  }

  /// With `confine`, the probe runs chrooted into its otherwise empty directory in a private
  /// mount namespace (buildkit's check does the same): "works" then means "works in a
  /// container without qemu in it". Only for native programs and entries with F: without F
  /// the kernel looks the interpreter up in the program's root, and this host's root is
  /// where the caller asked about.
  static let emptyRoot = "an empty root (private mount namespace, chroot)"

  /// With `confine`, the probe runs chrooted into its otherwise empty directory in a private
  /// mount namespace (buildkit's check does the same): "works" then means "works in a
  /// container without qemu in it". Only for native programs and entries with F: without F
  /// the kernel looks the interpreter up in the program's root.
  func probe(
    _ a: Architecture, in workdir: borrowing TemporaryDirectory, table: BinfmtMiscTable, timeoutSeconds: Int,
    confine: Bool = false
  ) -> ProbeResult {
    guard let elf = ProbeProgram.executable(for: a, exitCode: Self.expected) else {
      return ProbeResult(
        arch: a.name, status: .noProbeProgram, via: "-", detail: "binfmtctl has no probe program for \(a.name)")
    }
    // What the kernel will choose: the first enabled entry that matches, else native.
    let handler = Handlers.matching(header: elf, in: table.entries, tableEnabled: table.enabled).first
    let native = context.catalog.isNative(a, unameMachine: context.hostMachine)
    let via = handler.map { "\($0.name) (\($0.interpreter))" } ?? (native ? "native" : "-")
    let path: String
    do { path = try workdir.writeExecutable(a.name, elf) } catch {
      return ProbeResult(arch: a.name, status: .cannotRun, via: via, detail: error.message)
    }
    var proof = "this root"
    var r: ChildResult
    if confine && (handler == nil ? native : handler!.flags.contains(.fixBinary)) {
      do throws(BinfmtError) {
        r = try Spawn.runInRoot(
          workdir.path, "/" + a.name, ["probe-" + a.name], timeoutMilliseconds: timeoutSeconds * 1000)
        proof = Self.emptyRoot
      } catch {
        r = Spawn.run(path, ["probe-" + a.name], environment: [], timeoutMilliseconds: timeoutSeconds * 1000)
        proof = "this root (no empty root: \(error.message))"
      }
    } else {
      r = Spawn.run(path, ["probe-" + a.name], environment: [], timeoutMilliseconds: timeoutSeconds * 1000)
      if confine, let handler, !handler.flags.contains(.fixBinary) {
        proof = "this root (\(handler.name) has no F flag: in an empty root the kernel would not find its interpreter)"
      }
    }
    var result = classify(
      r, a, via: via, handler: handler, table: table, workdir: workdir, elf: elf, timeoutSeconds: timeoutSeconds)
    result.proof = proof
    return result
  }

  func classify(
    _ r: ChildResult, _ a: Architecture, via: String, handler: KernelEntryStatus?, table: BinfmtMiscTable,
    workdir: borrowing TemporaryDirectory, elf: [UInt8], timeoutSeconds: Int
  ) -> ProbeResult {
    switch r.outcome {
    case .exited(let code) where code == Int32(Self.expected):
      return ProbeResult(arch: a.name, status: .works, via: via, detail: "exit \(code) as expected")
    case .exited(let code):
      let err = r.stderr.split(separator: "\n").first.map { ": " + $0 } ?? ""
      return ProbeResult(
        arch: a.name, status: .wrongResult, via: via, detail: "exit \(code), expected \(Self.expected)\(err)")
    case .signaled(let sig):
      return ProbeResult(arch: a.name, status: .emulatorCrashed, via: via, detail: "killed by signal \(sig)")
    case .timedOut:
      return ProbeResult(arch: a.name, status: .timedOut, via: via, detail: "no exit after \(timeoutSeconds) s")
    case .execFailed(let e):
      switch e {
      case .execFormatError where !table.enabled && table.mounted:
        return ProbeResult(
          arch: a.name, status: .execFormatError, via: "-",
          detail:
            "Exec format error: binfmt_misc is disabled as a whole; fix: echo 1 | sudo tee \(context.paths.binfmtMisc)/status"
        )
      case .execFormatError:
        let disabled = table.entries.first { !$0.enabled && $0.registration.matches(header: elf) }
        let fix = disabled.map { "sudo binfmtctl enable \($0.name)" } ?? "sudo binfmtctl install \(a.name)"
        return ProbeResult(
          arch: a.name, status: .execFormatError, via: "-",
          detail: "Exec format error: no enabled binfmt_misc entry matches; fix: \(fix)")
      case .noSuchFileOrDirectory:
        let noF = handler?.flags.contains(.fixBinary) == false ? " (no F flag: it is looked up at exec time)" : ""
        return ProbeResult(
          arch: a.name, status: .interpreterMissing, via: via,
          detail: "the interpreter \(handler?.interpreter ?? "?") was not found\(noF)")
      case .permissionDenied:
        return ProbeResult(
          arch: a.name, status: .cannotRun, via: via,
          detail: "permission denied: is \(workdir.path) mounted noexec? try --dir")
      default:
        return ProbeResult(arch: a.name, status: .cannotRun, via: via, detail: "exec: \(e)")
      }
    }
  }
}

public struct ProbeReport: JSONReport {
  public var results: [ProbeResult]

  public var partialFailure: Bool { !results.allSatisfy(\.ok) }

  public var json: JSON {
    .array(
      results.map { r in
        .object([
          "architecture": .string(r.arch), "result": .string(r.status.rawValue), "via": .string(r.via),
          "detail": .string(r.detail), "ok": .bool(r.ok),
        ])
      })
  }

  public var text: String {
    var rows = [["ARCH", "RESULT", "VIA", "DETAIL"]]
    for r in results { rows.append([r.arch, r.status.rawValue, r.via, r.detail]) }
    return TextTable.render(rows)
  }
}
