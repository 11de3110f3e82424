import BinfmtKit
import LinuxSystem
import Synchronization
import SystemPackage

/// What `scan` was asked to do.
public struct ScanRequest: Sendable {
  public var paths: [String]
  public var walk: TreeWalkOptions
  /// `--json-lines`: one object per ELF file (and per error) on stdout as the walk goes.
  public var streamFiles: Bool
  /// Each unreadable entry on stderr as it is met (not with `--json-lines`, whose stream
  /// carries them).
  public var errorsToStderr: Bool
  /// A `\r` line with the files read so far, on stderr (only when it is a terminal).
  public var progress: Bool

  public init(paths: [String], walk: TreeWalkOptions, streamFiles: Bool, errorsToStderr: Bool, progress: Bool) {
    self.paths = paths
    self.walk = walk
    self.streamFiles = streamFiles
    self.errorsToStderr = errorsToStderr
    self.progress = progress
  }
}

/// `scan`: walks trees, classifies every ELF file by machine, and tells which of those
/// machines this host cannot run now (from the live binfmt_misc table, read only).
public struct Scanner: Sendable {
  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  public func scan(_ request: ScanRequest) throws(BinfmtError) -> ScanReport {
    var roots: [WalkRoot] = []
    for (i, p) in request.paths.enumerated() { roots.append(try WalkRoot.open(p, index: i)) }
    let output = context.output
    let start = Monotonic.nanoseconds()
    let stream = request.streamFiles ? LineStream(output) : nil
    var progress: (@Sendable (Int) -> Void)?
    if request.progress {
      progress = { (files: Int) in
        let ns = max(Monotonic.nanoseconds() &- start, 1)
        let rate = UInt64(files) &* 1_000_000_000 / ns
        output.stderr("\rscanning: \(files) files, \(rate) files/s ")
      }
    }
    let catalog = context.catalog
    let toStderr = request.errorsToStderr
    // With --json-lines, a reader that went away (`| head`) ends the walk.
    var stop: (@Sendable () -> Bool)?
    if let stream { stop = { stream.broken } }
    let (visitors, counts) = TreeWalk.run(roots, options: request.walk, progress: progress, stop: stop) { _ in
      ScanVisitor(catalog: catalog, stream: stream, output: toStderr ? output : nil, clearsLine: request.progress)
    }
    if progress != nil { output.stderr("\r\u{1B}[K") }
    var tally = ScanTally()
    for v in visitors {
      stream?.write(v.pending)
      tally.merge(v.tally)
    }
    let elapsed = Monotonic.nanoseconds() &- start
    let table = TableSnapshot.read(context).report
    return ScanReport.make(
      roots: request.paths, directoryRoots: roots.map(\.isDirectory), tally: tally, counts: counts,
      nanoseconds: elapsed, table: table, context: context)
  }
}

/// stdout shared by the walking threads: whole batches of lines, one writer at a time.
final class LineStream: Sendable {
  let output: OutputSink
  let lock = Mutex<Void>(())
  let failed = Atomic<Bool>(false)
  init(_ output: OutputSink) { self.output = output }

  /// A write failed (EPIPE: the reader is gone); nothing more is written.
  var broken: Bool { failed.load(ordering: .relaxed) }

  func write(_ text: String) {
    guard !text.isEmpty, !broken else { return }
    lock.withLock { _ in
      output.stdout(text)
      // Every stdout write of the walk is made here, under the lock, so the first error
      // `CurrentProcess` recorded is this one's.
      if CurrentProcess.firstStdoutError != nil { failed.store(true, ordering: .relaxed) }
    }
  }
}

/// One walking thread's view: the tally, and for `--json-lines` its lines not yet written.
struct ScanVisitor: TreeVisitor {
  static let flushSize = 64 * 1024
  /// Enough for the program headers of nearly every file and its loader path, read at once.
  static let programHeaderRead = 4096

  let catalog: Catalog
  let stream: LineStream?
  let output: OutputSink?
  /// A progress line may stand on the terminal: each message starts by erasing it.
  let clearsLine: Bool
  var tally = ScanTally()
  var pending = ""
  var scratch = [UInt8](repeating: 0, count: ScanVisitor.programHeaderRead)
  /// Architecture names by machine, looked up once per machine for the lines.
  var names: [(MachineKey, String?)] = []

  init(catalog: Catalog, stream: LineStream?, output: OutputSink?, clearsLine: Bool) {
    self.catalog = catalog
    self.stream = stream
    self.output = output
    self.clearsLine = clearsLine
  }

  mutating func file(_ file: borrowing OpenedFile, head: UnsafeRawBufferPointer) {
    tally.files += 1
    // The magic first: most files are not ELF, and they cost nothing more.
    guard head.count >= 4, head[0] == 0x7f, head[1] == 0x45, head[2] == 0x4c, head[3] == 0x46 else { return }
    guard let h = try? ELFHeader.decode(Array(head)) else {
      tally.invalidELF += 1
      return
    }
    let key = MachineKey(h)
    var loader: [UInt8]?
    var hasInterpreter = false
    if ELFRole.mayHaveInterpreter(type: h.type) {
      (hasInterpreter, loader) = interpreter(of: file, header: h)
    }
    let role = ELFRole(type: h.type, hasInterpreter: hasInterpreter)
    tally.add(key, role: role)
    if let loader { loader.withUnsafeBytes { tally.addLoader($0, machine: key, root: file.root) } }
    if stream != nil { line(file, header: h, key: key, role: role, loader: loader) }
  }

  /// Whether the program headers hold PT_INTERP, and the loader path it names: one more
  /// pread of the first 4 KiB (the table and, nearly always, the path), a third only when
  /// the path lies further on.
  mutating func interpreter(of file: borrowing OpenedFile, header h: ELFHeader) -> (Bool, [UInt8]?) {
    guard h.phnum > 0, (try? h.validateProgramHeaders(fileSize: file.size)) != nil else { return (false, nil) }
    let tableSize = Int(h.phnum) * Int(h.phentsize)
    let tableEnd = Int(h.phoff) + tableSize  // validated: inside the file
    let inFirstPage = tableEnd <= Self.programHeaderRead
    let start = inFirstPage ? 0 : Int(h.phoff)
    let want = inFirstPage ? min(Self.programHeaderRead, Int(file.size)) : tableSize
    if scratch.count < want { scratch = [UInt8](repeating: 0, count: want) }
    let got = scratch.withUnsafeMutableBytes { buf in
      file.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<want]), at: UInt64(start))
    }
    guard case .success(let n) = got, n == want else { return (false, nil) }
    let tableStart = Int(h.phoff) - start
    guard
      let headers = ELFProgramHeader.decodeTable(Array(scratch[tableStart..<tableStart + tableSize]), header: h),
      let ph = headers.first(where: { $0.type == ELFProgramHeader.interpreter })
    else { return (false, nil) }
    // A loader path is at most PATH_MAX; longer segments are cut there.
    let size = Int(min(ph.fileSize, 4096))
    let (end, overflow) = ph.offset.addingReportingOverflow(UInt64(size))
    guard size > 0, !overflow, end <= file.size else { return (true, nil) }
    if inFirstPage && end <= UInt64(n) {
      return (true, ELFProgramHeader.loaderPath(fromSegment: Array(scratch[Int(ph.offset)..<Int(end)])))
    }
    var segment = [UInt8](repeating: 0, count: size)
    let r = segment.withUnsafeMutableBytes { file.read(into: $0, at: ph.offset) }
    guard case .success(size) = r else { return (true, nil) }
    return (true, ELFProgramHeader.loaderPath(fromSegment: segment))
  }

  mutating func failed(path: [UInt8], error: BinfmtError) {
    var why = error
    why.location = nil
    let e = ScanError(path: PathBytes.string(path), message: why.description)
    tally.addError(e)
    if stream != nil {
      append(.object(["record": .string("error"), "path": .string(e.path), "error": .string(e.message)]))
    } else if let output {
      say(output, "warning: " + TerminalText.escape(path) + ": " + TerminalText.escape(e.message))
    }
  }

  mutating func loop(path: [UInt8]) {
    if stream != nil {
      append(.object(["record": .string("loop"), "path": .string(PathBytes.string(path))]))
    } else if let output {
      say(
        output,
        "\(TerminalText.escape(path)): file system loop (a followed symlink leads to an ancestor): not entered")
    }
  }

  /// One stderr line in `OutputSink`'s words (`binfmtctl: …`), one write(2), erasing the
  /// progress line first when there may be one.
  func say(_ output: OutputSink, _ text: String) {
    output.stderr((clearsLine ? "\r\u{1B}[K" : "") + "binfmtctl: " + text + "\n")
  }

  mutating func line(
    _ file: borrowing OpenedFile, header h: ELFHeader, key: MachineKey, role: ELFRole, loader: [UInt8]?
  ) {
    let name: String?
    if let known = names.first(where: { $0.0 == key }) {
      name = known.1
    } else {
      name = catalog.architecture(for: key)?.name
      names.append((key, name))
    }
    append(
      .object([
        "record": .string("elf"),
        "path": .string(PathBytes.string(file.pathBytes)),
        "architecture": .optional(name),
        "machine": .int(Int(h.machine)),
        "machineName": .string(h.machineName),
        "class": .int(h.elfClass.bits),
        "byteOrder": .string(h.byteOrder.short),
        "type": .string(h.typeName),
        "linkage": .string(role.rawValue),
        "interpreter": .optional(loader.map { PathBytes.string($0) }),
      ]))
  }

  mutating func append(_ record: JSON) {
    pending += record.render(indent: nil)
    pending += "\n"
    if pending.utf8.count >= Self.flushSize {
      stream?.write(pending)
      pending = ""
    }
  }
}

/// One machine found in the trees, with what this host makes of it.
public struct ScanArchitecture: Sendable {
  public var key: MachineKey
  /// The catalog's name; nil for a machine no qemu-user target runs.
  public var name: String?
  public var counts: ELFCounts
  public var support: HostSupport
  /// It has executables or shared objects: the verdict depends on it (relocatable objects
  /// and core files alone are never run).
  public var needed: Bool { counts.runnable > 0 }
  public var blocked: Bool {
    if case .blocked = support { return needed }
    return false
  }
  public var label: String { name ?? key.description }
}

/// One loader the ELF files of an operand ask for, and whether it is there.
public struct ScanLoader: Sendable {
  public var path: String
  public var root: String
  public var architecture: String
  public var files: Int
  /// Found inside the operand (a directory, resolved as under chroot) or, for a file operand,
  /// on this host.
  public var present: Bool
  public var onHost: Bool
}

/// `scan`'s summary.
public struct ScanReport: JSONReport {
  public var roots: [String]
  public var tally: ScanTally
  public var counts: TreeWalkCounts
  public var architectures: [ScanArchitecture]
  public var loaders: [ScanLoader]
  public var nanoseconds: UInt64

  /// Some architecture a program in the trees needs cannot run here now: exit 1.
  public var partialFailure: Bool { architectures.contains(where: \.blocked) }

  static func make(
    roots: [String], directoryRoots: [Bool], tally: ScanTally, counts: TreeWalkCounts, nanoseconds: UInt64,
    table: TableReport, context: EngineContext
  ) -> ScanReport {
    var archs = tally.machines.map { m in
      let name = context.catalog.architecture(for: m.key)?.name
      return ScanArchitecture(
        key: m.key, name: name, counts: m.counts,
        support: HostSupport.decide(m.key, table: table, catalog: context.catalog, hostMachine: context.hostMachine))
    }
    archs.sort { a, b in
      if a.counts.files != b.counts.files { return a.counts.files > b.counts.files }
      return a.label < b.label
    }
    var loaders: [ScanLoader] = []
    for root in Set(tally.loaders.map(\.root)).sorted() {
      let uses = tally.loaders.filter { $0.root == root }
      // A directory is the root its programs see; a file operand's loader is this host's.
      let isDirectory = directoryRoots[root]
      let paths = isDirectory ? SystemPaths(root: FilePath(pathBytes: roots[root])) : context.paths
      let present = Self.present(uses.map { PathBytes.string($0.path) }, under: paths)
      for (l, found) in zip(uses, present) {
        let arch = archs.first { $0.key == l.machine }?.label ?? l.machine.description
        loaders.append(
          ScanLoader(
            path: PathBytes.string(l.path), root: roots[root], architecture: arch, files: l.files, present: found,
            onHost: !isDirectory))
      }
    }
    loaders.sort { ($0.root, $0.path) < ($1.root, $1.path) }
    return ScanReport(
      roots: roots, tally: tally, counts: counts, architectures: archs, loaders: loaders, nanoseconds: nanoseconds)
  }

  /// Which of `loaders` lead to a regular file inside the root (all false when it cannot be opened).
  static func present(_ loaders: [String], under paths: SystemPaths) -> [Bool] {
    do {
      let root = try SystemRoot(paths)
      return loaders.map { root.leadsToRegularFile($0) }
    } catch {
      return loaders.map { _ in false }
    }
  }

  /// Files read per second (the wall clock of the walk).
  public var filesPerSecond: Int { Int(UInt64(tally.files) &* 1_000_000_000 / max(nanoseconds, 1)) }

  public var json: JSON {
    .object([
      "roots": .array(roots.map(JSON.string)),
      "files": .int(tally.files),
      "directories": .int(counts.directories),
      "elfFiles": .int(tally.elfFiles),
      "invalidELF": .int(tally.invalidELF),
      "symlinks": .int(counts.symlinks),
      "special": .int(counts.special),
      "otherFileSystems": .int(counts.otherFileSystems),
      "loops": .int(counts.loops),
      "errors": .int(tally.errors),
      "errorSamples": .array(
        tally.errorSamples.map { .object(["path": .string($0.path), "error": .string($0.message)]) }),
      "architectures": .array(architectures.map(Self.encode)),
      "loaders": .array(
        loaders.map { l in
          .object([
            "path": .string(l.path), "root": .string(l.root), "architecture": .string(l.architecture),
            "files": .int(l.files), "present": .bool(l.present), "lookedUp": .string(l.onHost ? "host" : "tree"),
          ])
        }),
      "canRun": .bool(!partialFailure),
      "cannotRun": .array(architectures.filter(\.blocked).map { .string($0.label) }),
    ])
  }

  static func encode(_ a: ScanArchitecture) -> JSON {
    var o: [String: JSON] = [
      "architecture": .optional(a.name),
      "machine": .int(Int(a.key.machine)),
      "machineName": .string(ELFNames.machine(a.key.machine)),
      "class": .int(a.key.elfClass.bits),
      "byteOrder": .string(a.key.byteOrder.short),
      "files": .int(a.counts.files),
      "static": .int(a.counts.staticExecutables),
      "dynamic": .int(a.counts.dynamicExecutables),
      "sharedObjects": .int(a.counts.sharedObjects),
      "other": .int(a.counts.other),
      "needed": .bool(a.needed),
      "runs": .string(a.support.runs),
      "entry": .null,
      "interpreter": .null,
      "problem": .null,
    ]
    switch a.support {
    case .native: break
    case .emulated(let entry, let interpreter):
      o["entry"] = .string(entry)
      o["interpreter"] = .string(interpreter)
    case .blocked(let p):
      o["problem"] = .object([
        "code": .string(p.code.rawValue), "entry": .optional(p.entry), "message": .string(p.message),
        "fix": .optional(p.fix),
      ])
    }
    return .object(o)
  }

  public var text: String {
    var out = ""
    if !architectures.isEmpty {
      var rows = [["ARCHITECTURE", "ELF", "FILES", "STATIC", "DYNAMIC", "SHARED", "OTHER", "RUNS HERE"]]
      for a in architectures {
        let c = a.counts
        let runs: String
        switch a.support {
        case .native: runs = "native"
        case .emulated(let entry, let interpreter): runs = "via \(entry) (\(interpreter))"
        case .blocked(let p): runs = a.needed ? "NO: \(p.message)" : "no (nothing here to run)"
        }
        rows.append([
          a.name ?? ELFNames.machine(a.key.machine), "ELF\(a.key.elfClass.bits) \(a.key.byteOrder.short)", "\(c.files)",
          "\(c.staticExecutables)",
          "\(c.dynamicExecutables)", "\(c.sharedObjects)", "\(c.other)", runs,
        ])
      }
      out += TextTable.render(rows)
    }
    if !loaders.isEmpty {
      out += "\n"
      let many = roots.count > 1
      var rows = [["LOADER", "ARCHITECTURE", "FILES", "FOUND"] + (many ? ["ROOT"] : [])]
      for l in loaders {
        let found = (l.present ? "present" : "MISSING") + (l.onHost ? " on this host" : " in the tree")
        rows.append([l.path, l.architecture, "\(l.files)", found] + (many ? [l.root] : []))
      }
      out += TextTable.render(rows)
    }
    if !out.isEmpty { out += "\n" }
    out +=
      "\(Self.count(tally.files, "file", "files")) (\(tally.elfFiles) ELF) in \(Self.count(counts.directories, "directory", "directories")), "
    out += "\(Self.seconds(nanoseconds)) s, \(filesPerSecond) files/s"
    var skipped: [String] = []
    if counts.symlinks > 0 { skipped.append("\(counts.symlinks) symlinks not followed") }
    if counts.special > 0 { skipped.append("\(counts.special) FIFOs, sockets or devices skipped") }
    if counts.otherFileSystems > 0 { skipped.append("\(counts.otherFileSystems) mount points not crossed") }
    if counts.loops > 0 { skipped.append("\(counts.loops) file system loops") }
    if tally.invalidELF > 0 { skipped.append("\(tally.invalidELF) invalid ELF headers") }
    if tally.errors > 0 { skipped.append("\(tally.errors) unreadable (errors)") }
    out += skipped.isEmpty ? "\n" : "; " + skipped.joined(separator: ", ") + "\n"
    for a in architectures where a.blocked {
      guard case .blocked(let p) = a.support else { continue }
      out += "cannot run \(TerminalText.escape(a.label)) now: \(TerminalText.escape(p.message))\n"
      if let fix = p.fix { out += "  fix: \(TerminalText.escape(fix))\n" }
    }
    for l in loaders where !l.present {
      let place = l.onHost ? "on this host" : "in \(TerminalText.escape(l.root))"
      out +=
        "loader \(TerminalText.escape(l.path)) (\(l.architecture)) is missing \(place): \(Self.count(l.files, "program", "programs")) cannot start there\n"
    }
    if partialFailure {
      let n = architectures.filter(\.blocked).count
      out += "verdict: this host cannot run \(n == 1 ? "one architecture" : "\(n) architectures") of it now\n"
    } else if architectures.contains(where: \.needed) {
      out += "verdict: this host can run every architecture in it\n"
    } else {
      out += "verdict: no executables or shared objects found\n"
    }
    if tally.errors > 0 { out += "note: \(tally.errors) entries could not be read: the verdict covers the rest\n" }
    return out
  }

  /// "1 program", "2 programs".
  static func count(_ n: Int, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }

  /// "0.123": nanoseconds as seconds with three decimals (no Foundation formatting).
  static func seconds(_ ns: UInt64) -> String {
    let ms = ns / 1_000_000
    let frac = String(ms % 1000)
    return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
  }
}
