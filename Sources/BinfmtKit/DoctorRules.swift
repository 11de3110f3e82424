/// What `doctor` knows about one path, gathered by the engine; the rules below only read it.
public struct PathFacts: Sendable {
  public enum Node: Sendable, Equatable {
    case missing
    /// Exists but is not a regular file: why, in words ("is a directory").
    case notRegular(String)
    case regular
  }
  /// The path as the user gave it (inside `root` when there is one).
  public var path: String
  public var node: Node
  /// st_mode's permission bits, setuid and setgid included.
  public var mode: UInt32 = 0
  public var size: UInt64 = 0
  /// The first 256 bytes: what exec(2) reads.
  public var head: [UInt8] = []
  /// The mount the file is on (from /proc/self/mountinfo).
  public var mount: MountInfoEntry?
  /// For a script: whether its `#!` interpreter is a regular file (inside the root).
  public var scriptInterpreterFound: Bool?
  /// For a script whose interpreter is missing: a program of the same name in the usual
  /// binary directories (inside the root), e.g. /usr/bin/sh for a missing /opt/x/bin/sh.
  public var scriptInterpreterAlternative: String?
  /// The file as this process opens it: `path` under `--root`, else `path`. Fixes that edit
  /// the file name this one.
  public var hostPath: String?
  /// An ELF file libelf could not read past its header (segments past the end of the file).
  public var elfError: String?
  /// The PT_INTERP loader, and whether it is there (inside the root, or under QEMU_LD_PREFIX).
  public var loader: String?
  public var loaderFound: Bool?
  /// QEMU_LD_PREFIX when it is set: qemu looks for the loader there first.
  public var loaderPrefix: String?
  /// busybox, toybox and other programs that act by the name they were called with.
  public var multiCall = false
  /// The ELF program headers (from libelf), for the page-size check.
  public var loads: [ELFProgramHeader] = []

  public init(path: String, node: Node) {
    self.path = path
    self.node = node
  }
}

/// What `doctor` knows about this host and its binfmt_misc table.
public struct HostFacts: Sendable {
  public var hostMachine: String
  public var catalog: Catalog
  public var kernelSupport: KernelSupport
  public var table: TableReport
  /// Persistence problems (`lost-at-reboot` …) with the fix `status` prints.
  public var bootProblems: [Problem]
  public var packages: PackageManager?
  /// `--root`: the root file system the target runs in (nil: this host's).
  public var root: String?
  /// For `--root`: each entry interpreter, and whether it exists inside the root.
  public var interpretersInRoot: [(path: String, found: Bool)]
  /// Catalog architectures whose `qemu-<target>-static` is installed.
  public var emulatorsInstalled: [String]
  /// sysconf(_SC_PAGESIZE).
  public var pageSize: UInt64 = 4096
  /// Set when this process is in a user namespace other than the host's and sees a
  /// binfmt_misc instance of its own: the evidence (namespaces, uid_map, the mount).
  public var privateInstance: String?
  /// For `F` entries: when the entry was registered (its file's ctime in binfmt_misc) and
  /// when its interpreter last changed on disk.
  public var entryTimes: [String: (registered: FileTime, interpreterChanged: FileTime)] = [:]
  /// The boot service beyond `status`'s verdict (systemd: masks, ExecStart, flushers).
  public var boot: BootFacts?

  public init(
    hostMachine: String, catalog: Catalog, kernelSupport: KernelSupport, table: TableReport, bootProblems: [Problem],
    packages: PackageManager?, root: String? = nil, interpretersInRoot: [(path: String, found: Bool)] = [],
    emulatorsInstalled: [String] = []
  ) {
    self.hostMachine = hostMachine
    self.catalog = catalog
    self.kernelSupport = kernelSupport
    self.table = table
    self.bootProblems = bootProblems
    self.packages = packages
    self.root = root
    self.interpretersInRoot = interpretersInRoot
    self.emulatorsInstalled = emulatorsInstalled
  }
}

/// The outcome of the rules: the checks in order, how the target runs when it does, and the
/// architecture whose probe program proves it.
public struct RuleOutcome: Sendable {
  public var findings: [Finding] = []
  public var runsVia: String?
  public var probeArchitecture: Architecture?
  public init() {}

  mutating func add(_ f: Finding) { findings.append(f) }
}

/// `doctor`'s rules: pure functions over the facts the engine gathered.
public enum DoctorRules {
  /// Why can't the file at `f.path` run here (or in `host.root`)?
  public static func diagnose(_ f: PathFacts, host: HostFacts) -> RuleOutcome {
    var out = RuleOutcome()
    let shown = f.path
    let inRoot = host.root.map { " inside \($0)" } ?? ""
    switch f.node {
    case .missing:
      out.add(
        Finding(
          .fileMissing, .error, "\(shown) does not exist\(inRoot)",
          evidence: "stat: No such file or directory (a container or chroot sees only its own root)"))
      return out
    case .notRegular(let why):
      out.add(Finding(.notRegularFile, .error, "\(shown) \(why)", evidence: "exec(2) runs regular files only (EACCES)"))
      return out
    case .regular: break
    }
    let perms = "mode " + octal(f.mode & 0o7777)
    if f.mode & 0o111 == 0 {
      out.add(
        Finding(
          .notExecutable, .error, "\(shown) is not executable", evidence: "\(perms): no x bit, exec fails with EACCES",
          fix: ["chmod +x \(shell(shown))"]))
    } else {
      out.add(Finding(.fileOK, .ok, "\(shown) is an executable regular file", evidence: "\(perms), \(f.size) bytes"))
    }
    if let m = f.mount, m.noexec {
      out.add(
        Finding(
          .noexecMount, .error, "\(shown) is on \(m.mountPoint), mounted noexec",
          evidence: "/proc/self/mountinfo: \(m.mountPoint) \(m.fsType) \(m.options.joined(separator: ","))",
          fix: ["sudo mount -o remount,exec \(shell(m.source)) \(shell(m.mountPoint))"]))
    }
    let setid = f.mode & 0o6000 != 0
    if setid, let m = f.mount, m.nosuid {
      out.add(
        Finding(
          .nosuidMount, .warning,
          "\(shown) is setuid/setgid but \(m.mountPoint) is mounted nosuid: it runs without its privileges",
          evidence: "/proc/self/mountinfo: \(m.mountPoint) \(m.options.joined(separator: ","))",
          fix: ["sudo mount -o remount,suid \(shell(m.source)) \(shell(m.mountPoint))"]))
    }
    if f.size == 0 || f.head.isEmpty {
      out.add(Finding(.emptyFile, .error, "\(shown) is empty", evidence: "0 bytes: exec fails with Exec format error"))
      return out
    }
    switch FileFormat.sniff(f.head, size: f.size) {
    case .script(let line):
      script(line, f, host: host, into: &out)
    case .foreign(let verdict):
      foreign(verdict, f, host: host, into: &out)
    case .elf:
      elf(f, host: host, into: &out)
    }
    return out
  }

  static func script(_ line: ScriptLine, _ f: PathFacts, host: HostFacts, into out: inout RuleOutcome) {
    let shown = f.path
    switch line.refusal {
    case .tooLong:
      out.add(
        Finding(
          .scriptLineTooLong, .error, "\(shown)'s #! line is longer than the kernel reads",
          evidence: "no newline and no blank in the first 256 bytes (BINPRM_BUF_SIZE): ENOEXEC",
          fix: ["shorten the #! line of \(shell(shown)), e.g. #!/usr/bin/env NAME"]))
      return
    case .empty:
      out.add(
        Finding(
          .scriptEmptyLine, .error, "\(shown)'s #! line names no interpreter", evidence: "'#!' then nothing: ENOEXEC",
          fix: ["sed -i '1s|^#!.*|#!/bin/sh|' \(shell(shown))"]))
      return
    case nil: break
    }
    let interp = TerminalText.escape(line.interpreterBytes)
    if line.crlf {
      out.add(
        Finding(
          .scriptCRLF, .error, "\(shown) has Windows (CRLF) line endings",
          evidence:
            "the kernel looks for '\(TerminalText.escape(line.argumentBytes ?? line.interpreterBytes))' (a trailing CR): No such file or directory",
          fix: ["sed -i 's/\\r$//' \(shell(shown))"]))
      return
    }
    if f.scriptInterpreterFound == false {
      let inRoot = host.root.map { " inside \($0)" } ?? ""
      var fix = ["install \(interp), or change the first line of \(shell(shown)) to an interpreter that exists"]
      if let alt = f.scriptInterpreterAlternative, let s = repointCommand(from: line.interpreter, to: alt, in: f) {
        fix = [s]
      }
      out.add(
        Finding(
          .scriptInterpreterMissing, .error, "\(shown)'s interpreter \(interp) does not exist\(inRoot)",
          evidence: "#!\(interp)\(line.argument.map { " " + $0 } ?? ""): exec fails with No such file or directory"
            + (f.scriptInterpreterAlternative.map { "; \($0) exists" } ?? ""),
          fix: fix))
      return
    }
    out.add(Finding(.script, .ok, "\(shown) is a script for \(interp)", evidence: "#!\(interp), found"))
    out.runsVia = "through \(interp)"
  }

  /// `sed -i '1s|^#!OLD|#!NEW|' FILE`, when both paths are plain enough to sit in that
  /// expression unquoted (no `|`, quote, backslash or regex character but `.`).
  static func repointCommand(from old: String, to new: String, in f: PathFacts) -> String? {
    let plain: (String) -> Bool = { p in
      !p.isEmpty
        && p.utf8.allSatisfy { c in
          (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
            || "/._-+@,=:%".utf8.contains(c)
        }
    }
    guard plain(old), plain(new) else { return nil }
    return "sed -i '1s|^#!\(old)|#!\(new)|' \(shell(f.hostPath ?? f.path))"
  }

  static func foreign(_ verdict: String, _ f: PathFacts, host: HostFacts, into out: inout RuleOutcome) {
    // Any format runs when an entry takes it (WSLInterop for PE, a java or wasm entry).
    if host.table.mounted,
      let h = Handlers.matching(
        header: f.head, path: f.path, in: host.table.entries.map(\.entry), tableEnabled: host.table.enabled
      ).first
    {
      out.add(
        Finding(
          .handler, .ok, "runs via binfmt_misc entry \(h.name) (\(h.interpreter))", evidence: verdict))
      out.runsVia = "via \(h.name) (\(h.interpreter))"
      return
    }
    let b = f.head
    let code: Finding.Code
    var fix: [String] = []
    if b.starts(with: [0x4d, 0x5a]) {
      code = .windowsPE
    } else if verdict.hasPrefix("Mach-O") {
      code = .machO
    } else if verdict.hasPrefix("Java") || verdict.hasPrefix("zip") {
      code = .java
      if verdict.hasPrefix("Java") { fix = ["java -cp \(shell(dirname(f.path))) CLASSNAME"] }
      if verdict.hasPrefix("zip") { fix = ["java -jar \(shell(f.path))"] }
    } else if verdict.hasPrefix("WebAssembly") {
      code = .webAssembly
    } else if verdict.hasPrefix("text without") {
      code = .noShebang
      fix = ["sed -i '1i #!/bin/sh' \(shell(f.path))"]
    } else if verdict.hasPrefix("truncated ELF") {
      code = .corruptELF
    } else {
      code = .notAnExecutable
    }
    out.add(Finding(code, .error, "\(f.path): \(verdict)", evidence: "first bytes " + hexPrefix(b), fix: fix))
  }

  static func elf(_ f: PathFacts, host: HostFacts, into out: inout RuleOutcome) {
    let shown = f.path
    let header: ELFHeader
    do {
      header = try ELFHeader.decode(f.head)
      try header.validateProgramHeaders(fileSize: f.size)
    } catch {
      out.add(
        Finding(
          .corruptELF, .error, "\(shown) is a damaged ELF file", evidence: error.message,
          fix: ["copy or download \(shell(shown)) again"]))
      return
    }
    if let e = f.elfError {
      out.add(
        Finding(
          .corruptELF, .error, "\(shown) is a damaged ELF file", evidence: e,
          fix: ["copy or download \(shell(shown)) again"]))
      return
    }
    guard header.type == 2 || header.type == 3 else {
      out.add(
        Finding(
          .notAProgram, .error, "\(shown) is an ELF \(header.typeName), not a program",
          evidence: "e_type \(header.type): exec(2) starts only executables (ET_EXEC, ET_DYN)"))
      return
    }
    let arch = host.catalog.architecture(for: header)
    let linkage = f.loader.map { "dynamic, loader \($0)" } ?? "static"
    let archName = arch?.name ?? header.machineName
    // EI_OSABI: 0 (System V) and 3 (GNU/Linux) are Linux's; others are another system's.
    if header.osABI != 0 && header.osABI != 3 {
      out.add(
        Finding(
          .otherOSABI, .error, "\(shown) is built for \(header.osABIName), not Linux",
          evidence: "EI_OSABI \(header.osABI) (\(header.osABIName)): its system calls are not Linux's",
          fix: []))
      return
    }
    let platform = arch.map { a in a.platform(abi: ELFABI.decode(header)).oci ?? a.name } ?? header.machineName
    out.add(
      Finding(
        .elfOK, .ok, "ELF\(header.elfClass.bits) \(header.byteOrder.short) \(archName) program (\(platform))",
        evidence: linkage))
    guard let arch else {
      if !handlerTakes(f.head, f.path, host: host, into: &out) {
        out.add(
          Finding(
            .noQemuTarget, .error, "no qemu-user target runs \(header.machineName) programs",
            evidence: "e_machine \(header.machine), ELF\(header.elfClass.bits) \(header.byteOrder.short)"))
      }
      return
    }
    if host.catalog.isNative(arch, unameMachine: host.hostMachine) { segmentAlignment(f, host: host, into: &out) }
    handler(
      header: f.head, path: f.path, arch: arch, setid: f.mode & 0o6000 != 0, multiCall: f.multiCall, host: host,
      into: &out)
    loader(f, arch: arch, host: host, into: &out)
  }

  /// When an entry (not a catalog architecture) takes the file anyway.
  static func handlerTakes(_ head: [UInt8], _ path: String, host: HostFacts, into out: inout RuleOutcome) -> Bool {
    guard host.table.mounted,
      let h = Handlers.matching(
        header: head, path: path, in: host.table.entries.map(\.entry), tableEnabled: host.table.enabled
      ).first
    else { return false }
    out.add(Finding(.handler, .ok, "runs via binfmt_misc entry \(h.name) (\(h.interpreter))", evidence: "matches"))
    out.runsVia = "via \(h.name) (\(h.interpreter))"
    return true
  }

  /// Can a `platform` (linux/arm64) run here: binfmt_misc for its executables.
  /// `setid`: the user's message says a setuid program of that platform lost its privileges.
  public static func platform(_ arch: Architecture, host: HostFacts, setid: Bool = false) -> RuleOutcome {
    var out = RuleOutcome()
    handler(header: arch.sampleHeader, path: "", arch: arch, setid: setid, multiCall: false, host: host, into: &out)
    return out
  }

  /// Which entry runs `header`, and everything that stops it.
  static func handler(
    header: [UInt8], path: String, arch: Architecture, setid: Bool, multiCall: Bool, host: HostFacts,
    into out: inout RuleOutcome
  ) {
    let table = host.table
    let entries = table.entries.map(\.entry)
    let native = host.catalog.isNative(arch, unameMachine: host.hostMachine)
    let hits =
      table.mounted ? Handlers.matching(header: header, path: path, in: entries, tableEnabled: table.enabled) : []
    if native {
      if let w = hits.first {
        out.add(
          Finding(
            .nativeEntry, .warning,
            "this \(host.hostMachine) host runs \(arch.name) natively, but binfmt_misc entry \(w.name) takes it first",
            evidence:
              "binfmt_misc is consulted before the kernel's own ELF loader: it runs slower through \(w.interpreter)",
            fix: ["sudo binfmtctl uninstall \(w.name)"]))
        out.runsVia = "via \(w.name) (\(w.interpreter))"
      } else {
        out.add(
          Finding(
            .native, .ok, "\(arch.name) runs natively on this \(host.hostMachine) host",
            evidence: "uname -m: \(host.hostMachine)"))
        out.runsVia = "natively"
      }
      out.probeArchitecture = arch
      return
    }
    let emulatorFix = PackageManager.emulatorHint(host.packages, target: arch.qemuTarget)
    let installFix = host.emulatorsInstalled.contains(arch.name) ? [] : [emulatorFix]
    if !table.mounted {
      if host.kernelSupport == .no {
        out.add(
          Finding(
            .binfmtMiscNotInKernel, .error, "binfmt_misc is not in this kernel",
            evidence: "not in /proc/filesystems and no binfmt_misc module to load",
            fix: ["sudo modprobe binfmt_misc"] + installFix + ["sudo binfmtctl install \(arch.name)"]))
      } else {
        out.add(
          Finding(
            .notMounted, .error, "binfmt_misc is not mounted",
            evidence: "no binfmt_misc file system at /proc/sys/fs/binfmt_misc",
            fix: installFix + ["sudo binfmtctl install \(arch.name)"]))
      }
      return
    }
    if !table.enabled {
      out.add(
        Finding(
          .globallyDisabled, .error, "binfmt_misc is disabled as a whole",
          evidence: "/proc/sys/fs/binfmt_misc/status: disabled",
          fix: [RepairAction.enableTableCommand]))
      return
    }
    guard let winner = hits.first, let report = table.entries.first(where: { $0.entry.name == winner.name }) else {
      if let off = table.entries.first(where: {
        !$0.entry.enabled && $0.entry.registration.matches(header: header, path: path)
      }) {
        out.add(
          Finding(
            .disabled, .error, "binfmt_misc entry \(off.entry.name) would run \(arch.name) programs but is disabled",
            evidence: "/proc/sys/fs/binfmt_misc/\(off.entry.name): disabled",
            fix: ["sudo binfmtctl enable \(off.entry.name)"]))
      } else {
        privateInstance(host: host, into: &out)
        out.add(
          Finding(
            .noHandler, .error, "no binfmt_misc entry runs \(arch.name) programs",
            evidence:
              "\(table.entries.count) entr\(table.entries.count == 1 ? "y" : "ies") in /proc/sys/fs/binfmt_misc; none matches the ELF header",
            fix: installFix + ["sudo binfmtctl install \(arch.name)"]))
      }
      return
    }
    let flags = winner.flags
    let f = report.interpreter
    let others = hits.dropFirst()
    let fine = others.first { o in
      table.entries.first { $0.entry.name == o.name }.map { $0.interpreter.exists && $0.interpreter.executable }
        ?? false
    }
    let via = "via \(winner.name) (\(winner.interpreter))"
    var blocked = false
    if !f.exists || (!f.executable && !flags.contains(.fixBinary)) {
      let what = !f.exists ? "does not exist" : "is not executable"
      if flags.contains(.fixBinary) {
        out.add(
          Finding(
            .interpreterMissing, .warning, "\(winner.name)'s interpreter \(winner.interpreter) \(what) any more",
            evidence: "flag F: the kernel still holds the file it opened at registration, until the next reboot",
            fix: installFix + ["sudo binfmtctl install --replace \(arch.name)"]))
      } else if let fine {
        out.add(
          Finding(
            .winnerBroken, .error,
            "\(winner.name) wins for \(arch.name) but its interpreter \(winner.interpreter) \(what); older entry \(fine.name) works",
            evidence: "the newest matching entry wins; \(hits.count) match",
            fix: ["sudo binfmtctl uninstall \(winner.name)"]))
        blocked = true
      } else if !f.exists {
        out.add(
          Finding(
            .interpreterMissing, .error, "\(winner.name)'s interpreter \(winner.interpreter) does not exist",
            evidence: "no F flag: the kernel opens it at every exec and gets No such file or directory",
            fix: installFix + ["sudo binfmtctl install --replace \(arch.name)"]))
        blocked = true
      } else {
        out.add(
          Finding(
            .interpreterNotExecutable, .error, "\(winner.name)'s interpreter \(winner.interpreter) is not executable",
            evidence: "no x bit: exec fails with Permission denied",
            fix: ["sudo chmod 755 \(shell(winner.interpreter))"]))
        blocked = true
      }
    }
    if let wrong = emulatorTarget(of: winner.interpreter), wrong != arch.qemuTarget {
      out.add(
        Finding(
          .interpreterWrongTarget, .error,
          "\(winner.name) hands \(arch.name) programs to \(winner.interpreter), an emulator for \(wrong)",
          evidence: "qemu says 'Invalid ELF image for this architecture'",
          fix: ["sudo binfmtctl install --replace \(arch.name)"]))
      blocked = true
    }
    if !flags.contains(.fixBinary) {
      if let root = host.root {
        let found = host.interpretersInRoot.first { $0.path == winner.interpreter }?.found ?? false
        if !found {
          out.add(
            Finding(
              .interpreterMissingInRoot, .error,
              "\(winner.name) has no F flag and \(winner.interpreter) is not inside \(root)",
              evidence:
                "without F the kernel opens the interpreter at exec time, in the program's root: No such file or directory",
              fix: ["sudo binfmtctl install --replace \(arch.name)"]))
          blocked = true
        }
      } else {
        out.add(
          Finding(
            .noFixBinary, .warning, "\(winner.name) has no F flag: containers and chroots of \(arch.name) fail",
            evidence: "flags '\(flags)': the kernel looks for \(winner.interpreter) inside the container's root",
            fix: ["sudo binfmtctl install --replace \(arch.name)"]))
      }
    } else if f.isStatic == false {
      out.add(
        Finding(
          .dynamicWithF, host.root == nil ? .warning : .error,
          "\(winner.name)'s interpreter \(winner.interpreter) is dynamically linked",
          evidence: "with F it runs inside foreign roots, where its own loader and libraries are missing",
          fix: installFix + ["sudo binfmtctl install --replace \(arch.name)"]))
      if host.root != nil { blocked = true }
    }
    if f.exists { interpreterReplaced(report.entry, arch: arch, host: host, into: &out) }
    if setid && !flags.contains(.credentials) {
      out.add(
        Finding(
          .setuidWithoutC, .warning,
          "the program is setuid/setgid and \(winner.name) has no C flag: it runs without its privileges",
          evidence: "flags '\(flags)': the emulator runs with the caller's credentials (sudo and su fail)",
          fix: ["sudo binfmtctl install --replace --flags POCF --credentials \(arch.name)"]))
    }
    if multiCall && !flags.contains(.preserveArgv0) {
      out.add(
        Finding(
          .multiCallWithoutP, .warning,
          "a multi-call program and \(winner.name) has no P flag: it sees the emulator's argv[0]",
          evidence: "flags '\(flags)': busybox-style programs choose what to do by argv[0]",
          fix: ["sudo binfmtctl install --replace \(arch.name)"]))
    }
    if !blocked {
      out.add(
        Finding(
          .handler, .ok, "runs \(via)",
          evidence: "flags '\(flags)'" + (others.isEmpty ? "" : "; newest of \(hits.count) matching entries")))
      out.runsVia = via
      out.probeArchitecture = arch
    }
    if !host.bootProblems.contains(where: { $0.entry == winner.name }), let b = host.boot {
      for f in boot(b) { out.add(f) }
    }
    for p in host.bootProblems where p.entry == winner.name {
      guard let code = Finding.Code(rawValue: p.code.rawValue) else { continue }
      out.add(
        Finding(
          code, .warning, "\(winner.name): \(p.message)",
          evidence: "\(p.code.rawValue): what binfmt.d and the boot service register at the next boot differs from now",
          fix: p.fix.map { [$0] } ?? []))
    }
  }

  static func loader(_ f: PathFacts, arch: Architecture, host: HostFacts, into out: inout RuleOutcome) {
    guard let loader = f.loader, let found = f.loaderFound else { return }
    let whereText =
      host.root.map { "inside \($0)" }
      ?? (f.loaderPrefix.map { "under QEMU_LD_PREFIX=\($0) or on this host" } ?? "on this host")
    if found {
      out.add(Finding(.loaderOK, .ok, "its loader \(loader) is there", evidence: "found \(whereText)"))
      return
    }
    let native = host.catalog.isNative(arch, unameMachine: host.hostMachine)
    var fix: [String] = []
    if host.root == nil, !native, let pm = host.packages,
      let cmds = pm.installForeignLibc(debianArch: arch.debianArch)
    {
      fix = cmds
    }
    let alternatives =
      native
      ? "the C library of this system is missing or the program was built elsewhere"
      : "qemu fails with \"Could not open '\(loader)'\": install the \(arch.debianArch.map { "libc6:" + $0 } ?? arch.name + " C library") sysroot, set QEMU_LD_PREFIX to one, or run it inside its own root file system"
    out.add(
      Finding(
        .loaderMissing, .error, "the program's loader \(loader) is missing \(whereText)", evidence: alternatives,
        fix: fix))
    out.probeArchitecture = nil
    out.runsVia = nil
  }

  /// The whole system (`doctor` without a target): `status`'s problems as findings.
  public static func system(host: HostFacts) -> RuleOutcome {
    var out = RuleOutcome()
    let t = host.table
    if !t.mounted && host.kernelSupport == .no {
      out.add(
        Finding(
          .binfmtMiscNotInKernel, .error, "binfmt_misc is not in this kernel", evidence: "not in /proc/filesystems",
          fix: ["sudo modprobe binfmt_misc"]))
      return out
    }
    for p in t.problems + host.bootProblems {
      guard let code = Finding.Code(rawValue: p.code.rawValue) else { continue }
      let severe: Set<Finding.Code> = [.notMounted, .globallyDisabled, .interpreterNotExecutable]
      var sev: Severity = severe.contains(code) ? .error : .warning
      if code == .interpreterMissing, let e = t.entries.first(where: { $0.entry.name == p.entry }),
        !e.entry.flags.contains(.fixBinary)
      {
        sev = .error
      }
      // `status` names two ways; doctor prints commands to run, in order.
      let fix = code == .notMounted ? [mountCommand] : p.fix.map { [$0] } ?? []
      out.add(
        Finding(
          code, sev, (p.entry.map { p.message.hasPrefix($0) ? "" : $0 + ": " } ?? "") + p.message,
          evidence: "binfmtctl status: \(p.code.rawValue)",
          fix: fix))
    }
    if let b = host.boot { for f in boot(b) { out.add(f) } }
    privateInstance(host: host, into: &out)
    for e in t.entries where e.interpreter.exists {
      let served = TableAnalysis.architectures(served: e.entry.registration, catalog: host.catalog)
      interpreterReplaced(
        e.entry, arch: served.count == 1 ? host.catalog.resolve(served[0]) : nil, host: host, into: &out)
    }
    if t.mounted {
      let live = t.entries.filter(\.entry.enabled).count
      out.add(
        Finding(
          .handler, .ok, "binfmt_misc is mounted\(t.enabled ? " and enabled" : "")",
          evidence: "\(t.entries.count) entr\(t.entries.count == 1 ? "y" : "ies"), \(live) enabled"))
    }
    return out
  }

  public static let mountCommand = "sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"

  /// The qemu target an emulator's file name says it is (`qemu-arm-static` → arm; Debian's
  /// `aarch64-binfmt-P` → aarch64), or nil for other interpreters.
  public static func emulatorTarget(of interpreter: String) -> String? {
    let base = String(interpreter.split(separator: "/").last ?? "")
    if base.hasPrefix("qemu-") {
      var t = String(base.dropFirst(5))
      if t.hasSuffix("-static") { t = String(t.dropLast(7)) }
      return t.isEmpty ? nil : t
    }
    if base.hasSuffix("-binfmt-P") { return String(base.dropLast(9)) }
    return nil
  }

  static func octal(_ v: UInt32) -> String {
    let s = String(v, radix: 8)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
  }

  static func hexPrefix(_ b: [UInt8]) -> String {
    b.prefix(4).map { Hex.byte($0) }.joined(separator: " ")
  }

  static func dirname(_ p: String) -> String {
    guard let slash = p.lastIndex(of: "/") else { return "." }
    return slash == p.startIndex ? "/" : String(p[..<slash])
  }

  /// `s` as one shell word: unchanged when it holds only safe characters, else single-quoted.
  public static func shell(_ s: String) -> String {
    let safe = s.utf8.allSatisfy { c in
      (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
        || "/._-+@,=:%".utf8.contains(c)
    }
    if safe && !s.isEmpty { return s }
    var out = "'"
    for c in s { out += c == "'" ? "'\\''" : String(c) }
    return out + "'"
  }
}
