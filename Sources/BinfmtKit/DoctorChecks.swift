/// A file time (stat's st_ctim): registration time of a binfmt_misc entry, change time of its
/// interpreter.
public struct FileTime: Sendable, Comparable, Hashable {
  public var seconds: Int64
  public var nanoseconds: Int64
  public init(seconds: Int64, nanoseconds: Int64) {
    self.seconds = seconds
    self.nanoseconds = nanoseconds
  }
  public static func < (a: FileTime, b: FileTime) -> Bool {
    (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
  }

  /// `2026-11-24 19:40:12.068 UTC` (proleptic Gregorian, no time zone database needed).
  public var utc: String {
    let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
    let secs = seconds - days * 86400
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
    func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
    let ms = min(max(nanoseconds / 1_000_000, 0), 999)
    let milli = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
    return "\(y)-\(two(m))-\(two(d)) \(two(secs / 3600)):\(two(secs % 3600 / 60)):\(two(secs % 60)).\(milli) UTC"
  }
}

/// The checks `doctor` added for the host (namespaces, page size, 32-bit compat) and for
/// entries pinned with `F`: pure, over facts the engine gathered.
extension DoctorRules {
  /// This process sees a binfmt_misc instance of its own user namespace (kernel 6.7+), empty:
  /// the host's registrations are not visible here, and what is registered here stays here.
  static func privateInstance(host: HostFacts, into out: inout RuleOutcome) {
    guard let evidence = host.privateInstance, host.table.mounted, host.table.entries.isEmpty else { return }
    out.add(
      Finding(
        .privateInstance, .warning,
        "this process is in a user namespace with its own, empty binfmt_misc: the host's registrations are not visible here",
        evidence: evidence
          + "; entries registered here apply only inside this namespace, run binfmtctl on the host for the host's"))
  }

  /// An `F` entry whose interpreter changed on disk after it was registered: the kernel keeps
  /// running the file it opened then (the old qemu) until the entry is registered again.
  static func interpreterReplaced(
    _ entry: KernelEntryStatus, arch: Architecture?, host: HostFacts, into out: inout RuleOutcome
  ) {
    guard entry.flags.contains(.fixBinary), let t = host.entryTimes[entry.name], t.interpreterChanged > t.registered
    else { return }
    // `install --replace` keeps an identical entry as it is: only a new registration makes
    // the kernel open the file again. Same flags as now.
    var fix: [String] = []
    if let arch {
      let defaults: BinfmtFlags = [.preserveArgv0, .fixBinary]
      var install = "sudo binfmtctl install \(arch.name)"
      if entry.flags != defaults { install += " --flags \(entry.flags)" }
      if entry.flags.contains(.credentials) { install += " --credentials" }
      fix = ["sudo binfmtctl uninstall \(entry.name)", install]
    }
    out.add(
      Finding(
        .interpreterReplaced, .warning,
        "\(entry.name)'s interpreter \(entry.interpreter) changed on disk after it was registered: the kernel still runs the old file",
        evidence:
          "registered \(t.registered.utc) (ctime of /proc/sys/fs/binfmt_misc/\(entry.name)); \(entry.interpreter) changed \(t.interpreterChanged.utc); flag F holds the file opened at registration",
        fix: fix))
  }

  /// A 32-bit program of the host's own family (i386 on x86_64, arm on aarch64) whose probe
  /// program the kernel refused (ENOEXEC): no IA32 emulation / no AArch32 on this kernel or CPU.
  public static func compat32(_ arch: Architecture, catalog: Catalog, hostMachine: String) -> Finding? {
    guard catalog.isNative(arch, unameMachine: hostMachine),
      let hostArch = catalog.architectures.first(where: { $0.unameMachines.contains(hostMachine) }),
      hostArch.elfClass == .elf64, arch.elfClass == .elf32
    else { return nil }
    let what =
      arch.family == "x86"
      ? "this kernel has no IA32 emulation (CONFIG_IA32_EMULATION off, or ia32_emulation=0 on its command line)"
      : "this CPU or kernel has no AArch32 (32-bit ARM) execution state"
    return Finding(
      .no32BitSupport, .error, "\(arch.name) programs cannot run natively: \(what)",
      evidence: "the \(arch.name) probe program, executed natively, failed with Exec format error (ENOEXEC)",
      fix: ["sudo binfmtctl install --include-native \(arch.name)"])
  }

  /// Loadable segments laid out for smaller pages than this host's (a 4K-page build on a
  /// 16K/64K-page kernel): the kernel cannot map a segment whose p_vaddr and p_offset differ
  /// modulo the page size, and glibc's loader refuses libraries whose p_align is smaller.
  static func segmentAlignment(_ f: PathFacts, host: HostFacts, into out: inout RuleOutcome) {
    let page = host.pageSize
    guard page > 0 else { return }
    let loads = f.loads.filter { $0.type == ELFProgramHeader.load }
    guard let smallest = loads.map(\.align).min(), smallest < page else { return }
    let misplaced = loads.first { ($0.vaddr &- $0.offset) % page != 0 }
    let hex = { (v: UInt64) in "0x" + String(v, radix: 16) }
    if let m = misplaced {
      out.add(
        Finding(
          .segmentAlignment, .error,
          "\(f.path) is laid out for \(smallest)-byte pages; this host's pages are \(page) bytes",
          evidence:
            "PT_LOAD p_align \(hex(m.align)), p_vaddr \(hex(m.vaddr)) and p_offset \(hex(m.offset)) differ by a non-multiple of \(page): the kernel cannot map it (the process is killed at exec)",
          fix: []))
    } else {
      out.add(
        Finding(
          .segmentAlignment, .warning,
          "\(f.path)'s PT_LOAD p_align is \(smallest), smaller than this host's \(page)-byte pages",
          evidence:
            "its segments happen to fall on page boundaries so it loads here; libraries built this way are refused ('ELF load command alignment not page-aligned')"
        ))
    }
  }
}
