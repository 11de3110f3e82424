import BinfmtKit
import ELF
import LinuxSystem

/// What `inspect` found about one path.
public struct InspectResult: Sendable {
  public enum Body: Sendable {
    case elf(ELFReport)
    case script(ScriptLine)
    case failure(String)
  }
  public var path: String
  public var body: Body
  public var runsVia: RunsVia?
  public var notes: [String] = []

  /// The path was inspected and is something exec(2) can start.
  public var ok: Bool {
    switch body {
    case .elf: return true
    case .script(let s): return s.problem == nil
    case .failure: return false
    }
  }
}

public struct ELFReport: Sendable {
  public var header: ELFHeader
  public var abi: ELFABI
  public var architecture: Architecture?
  public var segments: ELFSegments

  public var kind: ELFKind {
    ELFKind(type: header.type, hasInterpreter: segments.interpreter != nil, pieFlag: segments.pieFlag)
  }
  public var linkage: ELFLinkage? {
    ELFLinkage(type: header.type, hasInterpreter: segments.interpreter != nil, pieFlag: segments.pieFlag)
  }
}

public enum RunsVia: Sendable, Equatable {
  case native
  /// A binfmt_misc entry takes it; `others` more entries match too (the newest wins).
  case handler(name: String, interpreter: String, nativeToo: Bool, others: [String])
  case noHandler(reason: String)
}

/// Inspects files: the 256-byte head decides the format; libelf reads the rest of an ELF.
public struct Inspector: Sendable {
  public let context: EngineContext
  let table: BinfmtMiscTable

  public init(_ context: EngineContext) {
    self.context = context
    self.table = BinfmtMiscTable.read(context.paths)
  }

  public func inspect(_ paths: [String]) -> InspectReport {
    InspectReport(results: paths.map(inspect))
  }

  public func inspect(_ path: String) -> InspectResult {
    let head: FileHead
    do { head = try FileHead.read(path) } catch {
      return InspectResult(path: path, body: .failure(error.message))
    }
    switch FileFormat.sniff(head.bytes, size: head.size) {
    case .foreign(let verdict):
      return InspectResult(path: path, body: .failure(verdict))
    case .script(let line):
      var r = InspectResult(path: path, body: .script(line))
      if line.problem == nil, !line.interpreter.hasPrefix("/") {
        r.notes.append(
          "interpreter is not an absolute path: the kernel resolves it from the caller's working directory")
      }
      return r
    case .elf:
      break
    }
    let header: ELFHeader
    do {
      header = try ELFHeader.decode(head.bytes)
      try header.validateProgramHeaders(fileSize: head.size)
    } catch {
      return InspectResult(path: path, body: .failure(error.message))
    }
    let segments: ELFSegments
    do { segments = try LibELF.readSegments(path: path) } catch {
      // The one error here with a fix: libelf1 missing (a binary copied without its Depends).
      return InspectResult(
        path: path, body: .failure(error.fix.map { "\(error.message); fix: \($0)" } ?? error.message))
    }
    let abi = ELFABI.decode(header)
    let arch = context.catalog.architecture(for: header)
    let report = ELFReport(header: header, abi: abi, architecture: arch, segments: segments)
    var result = InspectResult(path: path, body: .elf(report))
    result.notes += abi.notes
    if arch == nil {
      result.notes.append(
        "no qemu-user target in the catalog runs \(header.machineName) ELF\(header.elfClass.bits) \(header.byteOrder.short)"
      )
    }
    if report.kind.runnable {
      let via = runsVia(head: head, arch: arch)
      result.runsVia = via
      if !head.isExecutable { result.notes.append("not marked executable (chmod +x)") }
      if let loader = segments.interpreter, case .handler = via, !context.files.exists(loader) {
        result.notes.append(
          "loader \(loader) is missing on this host: qemu will fail with \"Could not open '\(loader)'\" (install the target's libc, or set QEMU_LD_PREFIX to a sysroot)"
        )
      }
    }
    return result
  }

  func runsVia(head: FileHead, arch: Architecture?) -> RunsVia {
    let native = arch.map { context.catalog.isNative($0, unameMachine: context.hostMachine) } ?? false
    if table.mounted {
      let hits = Handlers.matching(header: head.bytes, path: head.path, in: table.entries, tableEnabled: table.enabled)
      if let first = hits.first {
        return .handler(
          name: first.name, interpreter: first.interpreter, nativeToo: native, others: hits.dropFirst().map(\.name))
      }
    }
    if native { return .native }
    if !table.mounted { return .noHandler(reason: "binfmt_misc is not mounted") }
    if !table.enabled { return .noHandler(reason: "binfmt_misc is disabled") }
    return .noHandler(reason: "no binfmt_misc entry matches")
  }
}

/// `inspect`'s answer for every path it was given.
public struct InspectReport: JSONReport {
  public var results: [InspectResult]

  public var partialFailure: Bool { !results.allSatisfy(\.ok) }

  public var json: JSON { .array(results.map(Self.encode)) }

  public var text: String {
    var rows: [[String]] = []
    var tail: [String: [String]] = [:]
    for r in results {
      switch r.body {
      case .failure(let why):
        rows.append([r.path, "error: " + why])
      case .script(let s):
        // Bytes, not the decoded strings: an invalid UTF-8 byte shows as \xNN, not U+FFFD.
        let line =
          "#!" + TerminalText.escape(s.interpreterBytes) + (s.argumentBytes.map { " " + TerminalText.escape($0) } ?? "")
        rows.append([r.path, "script", s.problem.map { "error: " + $0 } ?? line])
      case .elf(let e):
        let h = e.header
        var arch = e.architecture?.name ?? h.machineName
        if !e.abi.summary.isEmpty { arch += " " + e.abi.summary }
        if let a = e.architecture {
          let p = a.platform(abi: e.abi)
          let parts = [p.oci, p.debian.map { "Debian " + $0 }].compactMap { $0 }
          if !parts.isEmpty { arch += " (" + ByteText.join(parts, ", ") + ")" }
        }
        var link = e.linkage?.rawValue ?? "-"
        if let i = e.segments.interpreterBytes { link += " " + TerminalText.escape(i) }
        rows.append([
          r.path, "ELF\(h.elfClass.bits) \(h.byteOrder.short) \(e.kind)", arch, link,
          r.runsVia.map(Self.describe) ?? "",
        ])
      }
      if !r.notes.isEmpty { tail[r.path, default: []] += r.notes }
    }
    var out = TextTable.render(rows)
    for r in results {
      for n in tail[r.path] ?? [] { out += "  \(TerminalText.escape(r.path)): note: \(TerminalText.escape(n))\n" }
    }
    return out
  }

  static func describe(_ v: RunsVia) -> String {
    switch v {
    case .native: return "native"
    case .handler(let name, let interp, let nativeToo, let others):
      var s = "runs via: \(name) (\(interp))"
      if !others.isEmpty { s += ", also matched by \(ByteText.join(others, ","))" }
      if nativeToo { s += " [native binary routed through an emulator]" }
      return s
    case .noHandler(let reason): return "runs via: no handler (foreign: \(reason))"
    }
  }

  static func encode(_ r: InspectResult) -> JSON {
    var o: [String: JSON] = ["path": .string(r.path), "ok": .bool(r.ok), "notes": .array(r.notes.map(JSON.string))]
    switch r.body {
    case .failure(let why):
      o["format"] = .string("error")
      o["error"] = .string(why)
    case .script(let s):
      o["format"] = .string("script")
      o["script"] = .object([
        "interpreter": .string(s.interpreter), "argument": .optional(s.argument), "crlf": .bool(s.crlf),
      ])
      if let p = s.problem { o["error"] = .string(p) }
    case .elf(let e):
      o["format"] = .string("elf")
      let h = e.header
      let p = e.architecture?.platform(abi: e.abi)
      o["elf"] = .object([
        "class": .int(h.elfClass.bits),
        "byteOrder": .string(h.byteOrder.short),
        "osABI": .string(h.osABIName),
        "osABIValue": .int(Int(h.osABI)),
        "abiVersion": .int(Int(h.abiVersion)),
        "type": .string(h.typeName),
        "kind": .string(e.kind.description),
        "machine": .int(Int(h.machine)),
        "machineName": .string(h.machineName),
        "flags": .string("0x" + String(h.flags, radix: 16)),
        "abi": .array(e.abi.tags.map(JSON.string)),
        "architecture": .optional(e.architecture?.name),
        "ociPlatform": .optional(p?.oci),
        "debianArch": .optional(p?.debian),
        "linkage": .optional(e.linkage?.rawValue),
        "interpreter": .optional(e.segments.interpreter),
        "buildID": .optional(e.segments.buildID.map(Hex.string)),
        "abiTag": .optional(e.segments.abiTag),
        "entry": .string("0x" + String(h.entry, radix: 16)),
        "programHeaders": .int(e.segments.phnum),
      ])
    }
    if let v = r.runsVia {
      switch v {
      case .native: o["runsVia"] = .object(["how": .string("native")])
      case .handler(let name, let interp, let nativeToo, let others):
        o["runsVia"] = .object([
          "how": .string("binfmt_misc"), "entry": .string(name), "interpreter": .string(interp),
          "nativeBinary": .bool(nativeToo), "alsoMatchedBy": .array(others.map(JSON.string)),
        ])
      case .noHandler(let reason):
        o["runsVia"] = .object(["how": .string("none"), "reason": .string(reason)])
      }
    }
    return .object(o)
  }
}
