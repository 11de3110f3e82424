/// What `doctor` knows about the next boot beyond `status`'s verdict: masked units, the boot
/// service's ExecStart, units that flush binfmt_misc after ours. Gathered by the engine on the
/// system root; the rules below only read it.
public struct BootFacts: Sendable, Equatable {
  public var initSystem: InitSystem
  /// binfmtctl's own binfmt.d files.
  public var persistedFiles: Int
  /// /etc/systemd/system/binfmtctl.service is a link to /dev/null.
  public var ourUnitMasked = false
  /// /etc/systemd/system/systemd-binfmt.service is a link to /dev/null.
  public var systemdBinfmtMasked = false
  /// binfmtctl.service (persist's copy or the packaged unit) is linked into its WantedBy target.
  public var ourUnitEnabled = false
  /// The binfmtctl.service file systemd loads (persist's copy in /etc, or the packaged one).
  public var ourUnitFile = "/etc/systemd/system/" + Units.systemdName
  /// The program binfmtctl.service's ExecStart runs, and whether it exists.
  public var ourExec: String?
  public var ourExecFound = true
  /// An enabled unit (or drop-in) that empties the table after binfmtctl.service: the unit,
  /// the file and the line that does it.
  public struct Flusher: Sendable, Equatable {
    public var unit: String
    public var file: String
    public var line: String
    public init(unit: String, file: String, line: String) {
      self.unit = unit
      self.file = file
      self.line = line
    }
  }
  public var flushers: [Flusher] = []

  public init(initSystem: InitSystem, persistedFiles: Int) {
    self.initSystem = initSystem
    self.persistedFiles = persistedFiles
  }

  /// Whether an Exec line of a unit empties binfmt_misc: `-1` into its status file, or a tool's
  /// reset/unregister/uninstall switch on a binfmt command line.
  public static func flushes(_ line: String) -> Bool {
    let l = line.lowercased()
    if l.contains("binfmt_misc/status") && l.contains("-1") { return true }
    guard l.contains("binfmt") else { return false }
    return ["--reset", "--unregister", "--uninstall", "--unpersist"].contains { l.contains($0) }
  }

  /// The first word of an `ExecStart=` line, without systemd's `-@:+!` prefixes.
  public static func execProgram(_ unitText: String) -> String? {
    for raw in unitText.split(separator: "\n") {
      let line = raw.drop { $0 == " " || $0 == "\t" }
      guard line.hasPrefix("ExecStart=") else { continue }
      var cmd = line.dropFirst("ExecStart=".count).drop { $0 == " " }
      while let c = cmd.first, "-@:+!".contains(c) { cmd = cmd.dropFirst() }
      return cmd.split(separator: " ").first.map(String.init)
    }
    return nil
  }
}

extension DoctorRules {
  /// Persisted, but the boot service will not fire, or something empties the table after it.
  public static func boot(_ b: BootFacts) -> [Finding] {
    guard b.initSystem == .systemd, b.persistedFiles > 0 else { return [] }
    var out: [Finding] = []
    let unit = Units.systemdName
    if b.ourUnitMasked {
      out.append(
        Finding(
          .bootServiceMasked, .warning, "\(unit) is masked: it will not run at boot",
          evidence: "/etc/systemd/system/\(unit) is a link to /dev/null",
          fix: ["sudo systemctl unmask \(unit)", "sudo binfmtctl persist"]))
    }
    if b.systemdBinfmtMasked && (!b.ourUnitEnabled || b.ourUnitMasked) {
      out.append(
        Finding(
          .bootServiceMasked, .warning,
          "systemd-binfmt.service is masked and \(unit) is not enabled: nothing registers /etc/binfmt.d at boot",
          evidence: "/etc/systemd/system/systemd-binfmt.service is a link to /dev/null",
          fix: b.ourUnitMasked ? [] : ["sudo binfmtctl persist"]))
    }
    if let exec = b.ourExec, !b.ourExecFound, !b.ourUnitMasked {
      out.append(
        Finding(
          .bootServiceExecMissing, .warning,
          "\(unit) runs \(exec), which does not exist: it fails at boot",
          evidence: "ExecStart=\(exec) boot in \(b.ourUnitFile)",
          fix: ["sudo binfmtctl persist"]))
    }
    for f in b.flushers {
      out.append(
        Finding(
          .tableFlushedAtBoot, .warning,
          "\(f.unit) empties binfmt_misc after \(unit) at boot: the entries come back only until it runs",
          evidence: "\(f.file): \(f.line)",
          fix: f.file.hasSuffix(".conf") ? ["sudo rm \(shell(f.file))"] : ["sudo systemctl disable \(f.unit)"]))
    }
    return out
  }
}
