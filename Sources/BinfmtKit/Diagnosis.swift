/// How much a finding matters: `error` means the target cannot run now. The raw values are
/// the JSON contract.
public enum Severity: String, Sendable, Equatable {
  case ok, warning, error

  /// The mark a person sees in front of the check.
  public var mark: String {
    switch self {
    case .ok: return "✓"
    case .warning: return "!"
    case .error: return "✗"
    }
  }
}

/// One check of `doctor`: what was found, the one line that proves it, and the commands that
/// fix it, in the order to run them.
public struct Finding: Sendable, Equatable {
  /// Stable, kebab-case: scripts and the README rely on them. Codes shared with `status`
  /// (`Problem.Code`) have the same raw value and mean the same thing.
  public enum Code: String, Sendable, Equatable, CaseIterable {
    // What the user saw (--message).
    case message
    // The container image (--image).
    case image
    case imageNoCommand = "image-no-command"
    case imagePlatformMismatch = "image-platform-mismatch"
    case imageRootfsUnreadable = "image-rootfs-unreadable"
    // The file itself.
    case fileOK = "file"
    case fileMissing = "file-missing"
    case notRegularFile = "not-regular-file"
    case notExecutable = "not-executable"
    case noexecMount = "noexec-mount"
    case nosuidMount = "nosuid-mount"
    case script
    case scriptInterpreterMissing = "script-interpreter-missing"
    case scriptCRLF = "script-crlf"
    case scriptLineTooLong = "script-line-too-long"
    case scriptEmptyLine = "script-empty-line"
    case noShebang = "no-shebang"
    case windowsPE = "windows-pe"
    case machO = "mach-o"
    case java
    case webAssembly = "webassembly"
    case notAnExecutable = "not-an-executable"
    case emptyFile = "empty-file"
    case corruptELF = "corrupt-elf"
    case notAProgram = "not-a-program"
    case otherOSABI = "other-os-abi"
    case elfOK = "elf"
    case noQemuTarget = "no-qemu-target"
    // The host and binfmt_misc.
    case native
    case binfmtMiscNotInKernel = "binfmt-misc-not-in-kernel"
    case notMounted = "not-mounted"
    case onlyMount = "only-mount"
    case globallyDisabled = "globally-disabled"
    case privateInstance = "private-binfmt-misc"
    case no32BitSupport = "no-compat-mode"
    case segmentAlignment = "segment-alignment"
    case noHandler = "no-handler"
    case disabled
    case handler
    case winnerBroken = "winner-broken"
    case interpreterMissing = "interpreter-missing"
    case interpreterNotExecutable = "interpreter-not-executable"
    case interpreterWrongTarget = "interpreter-wrong-target"
    case nativeEntry = "native-entry"
    case noFixBinary = "no-F-flag"
    case interpreterMissingInRoot = "interpreter-missing-in-root"
    case dynamicWithF = "dynamic-interpreter-with-F"
    case interpreterReplaced = "interpreter-replaced"
    case shadowed
    case unreadable
    // Running.
    case loaderMissing = "loader-missing"
    case loaderOK = "loader"
    case setuidWithoutC = "setuid-without-C"
    case multiCallWithoutP = "multi-call-without-P"
    // Reboot.
    case lostAtReboot = "lost-at-reboot"
    case missingNow = "missing-now"
    case differsFromPersisted = "differs-from-persisted"
    case bootServiceOff = "boot-service-off"
    case bootServiceMasked = "boot-service-masked"
    case bootServiceExecMissing = "boot-service-exec-missing"
    case tableFlushedAtBoot = "table-flushed-at-boot"
    case brokenConfig = "broken-config"
    // Proof.
    case probe
  }

  public var code: Code
  public var severity: Severity
  public var message: String
  public var evidence: String
  public var fix: [String]

  public init(_ code: Code, _ severity: Severity, _ message: String, evidence: String, fix: [String] = []) {
    self.code = code
    self.severity = severity
    self.message = message
    self.evidence = evidence
    self.fix = fix
  }

  var json: JSON {
    .object([
      "code": .string(code.rawValue), "severity": .string(severity.rawValue), "message": .string(message),
      "evidence": .string(evidence), "fix": .array(fix.map(JSON.string)),
    ])
  }
}

/// The proof `doctor` made, or why it made none.
public struct ProbeSummary: Sendable, Equatable {
  public var ran: Bool
  /// `works`, a probe failure (`ProbeStatus`'s raw values), `skipped` (`--no-probe`) or
  /// `not-run` (the target cannot run, or there is nothing to run).
  public var result: String
  public init(ran: Bool, result: String) {
    self.ran = ran
    self.result = result
  }
  public static let skipped = ProbeSummary(ran: false, result: "skipped")
  public static let notRun = ProbeSummary(ran: false, result: "not-run")
}

/// `doctor`'s answer: can the target run here now, every check that says why, and the fixes.
public struct Diagnosis: JSONReport, Equatable {
  public var target: String
  public var findings: [Finding]
  public var probe: ProbeSummary
  /// How it runs when it can ("via qemu-aarch64 (/usr/bin/qemu-aarch64-static)", "natively").
  public var runsVia: String?

  public init(target: String, findings: [Finding], probe: ProbeSummary, runsVia: String?) {
    self.target = target
    self.findings = findings
    self.probe = probe
    self.runsVia = runsVia
  }

  public var canRun: Bool { !findings.contains { $0.severity == .error } }

  /// Every fix command, in the order of the findings, each once.
  public var fix: [String] {
    var out: [String] = []
    for f in findings where f.severity != .ok {
      for c in f.fix where !out.contains(c) { out.append(c) }
    }
    return out
  }

  /// One line: the answer first. Without a target (`doctor` alone) it speaks of foreign
  /// programs in general.
  public var verdict: String {
    let whole = target == Diagnosis.wholeSystem
    if let first = findings.first(where: { $0.severity == .error }) {
      return whole
        ? "this system cannot run foreign programs: \(first.message)" : "\(target) cannot run here: \(first.message)"
    }
    let warnings = findings.filter { $0.severity == .warning && $0.code != .message }.count
    var s = whole ? "binfmt_misc on this system works" : "\(target) can run here now"
    if let runsVia, !whole { s += " " + runsVia }
    if warnings > 0 { s += " (\(warnings) warning\(warnings == 1 ? "" : "s"))" }
    return s
  }

  /// The target name of a diagnosis of the whole system.
  public static let wholeSystem = "this system"

  public var partialFailure: Bool { !canRun }

  public var json: JSON {
    .object([
      "target": .string(target), "canRun": .bool(canRun), "verdict": .string(verdict),
      "findings": .array(findings.map(\.json)), "fix": .array(fix.map(JSON.string)),
      "probe": .object(["ran": .bool(probe.ran), "result": .string(probe.result)]),
    ])
  }

  public var text: String {
    var out = TerminalText.escape(verdict) + "\n"
    for f in findings {
      out += "\(f.severity.mark) \(TerminalText.escape(f.message)) [\(f.code.rawValue)]\n"
      if !f.evidence.isEmpty { out += "    \(TerminalText.escape(f.evidence))\n" }
    }
    let fixes = fix
    if !fixes.isEmpty {
      out += "Fix:\n"
      for c in fixes { out += "  \(TerminalText.escape(c))\n" }
    }
    return out
  }
}
