import BinfmtKit

#if canImport(Glibc)
  import Glibc
#endif

/// Text for people, JSON for scripts. This is the only place that chooses between them.
enum OutputFormat {
  case text
  case json
}

enum Output {
  static func stdout(_ s: String) { writeAll(1, s) }
  static func stderr(_ s: String) { writeAll(2, s) }

  /// write(2) straight to the fd: no stdio buffer to flush before exit().
  static func writeAll(_ fd: Int32, _ s: String) {
    var s = s
    s.withUTF8 { buf in
      var off = 0
      while off < buf.count {
        let n = write(fd, buf.baseAddress! + off, buf.count - off)
        if n < 0 { if errno == EINTR { continue } else { return } }
        off += n
      }
    }
  }

  static func error(_ e: BinfmtError) {
    var line = "binfmtctl: error: \(e)\n"
    if let fix = e.fix { line += "binfmtctl: fix: \(fix)\n" }
    stderr(line)
  }

  static func warning(_ s: String) { stderr("binfmtctl: warning: \(s)\n") }

  /// Renders rows in aligned columns (the last column is not padded).
  static func table(_ rows: [[String]], separator: String = "  ") -> String {
    guard let n = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: n)
    for r in rows { for (i, c) in r.enumerated() where i < r.count - 1 { widths[i] = max(widths[i], c.count) } }
    var out = ""
    for r in rows {
      var line = ""
      for (i, c) in r.enumerated() {
        if i > 0 { line += separator }
        line += i < r.count - 1 ? c.padding(to: widths[i]) : c
      }
      while line.last == " " { line.removeLast() }
      out += line + "\n"
    }
    return out
  }

  static func render(_ results: [InspectResult], as format: OutputFormat) -> String {
    switch format {
    case .json: return JSON.array(results.map(InspectJSON.encode)).render() + "\n"
    case .text: return InspectText.render(results)
    }
  }

  static func render(_ archs: [Architecture], host: String, catalog: Catalog, as format: OutputFormat) -> String {
    switch format {
    case .json:
      return JSON.array(archs.map { ArchJSON.encode($0, native: catalog.isNative($0, unameMachine: host)) })
        .render() + "\n"
    case .text:
      var rows = [["NAME", "FAMILY", "OCI", "DEBIAN", "NATIVE", "ALIASES"]]
      for a in archs {
        rows.append([
          a.name, a.family, a.ociPlatform ?? "-", a.debianArch ?? "-",
          catalog.isNative(a, unameMachine: host) ? "yes" : "-",
          a.aliases.joined(separator: ","),
        ])
      }
      return table(rows)
    }
  }
}

extension String {
  func padding(to n: Int) -> String {
    count >= n ? self : self + String(repeating: " ", count: n - count)
  }
}

enum InspectText {
  static func render(_ results: [InspectResult]) -> String {
    var rows: [[String]] = []
    var tail: [String: [String]] = [:]
    for r in results {
      switch r.body {
      case .failure(let why):
        rows.append([r.path, "error: " + why])
      case .script(let s):
        let line = "#!" + s.interpreter.replacingCR() + (s.argument.map { " " + $0.replacingCR() } ?? "")
        rows.append([r.path, "script", s.problem.map { "error: " + $0 } ?? line])
      case .elf(let e):
        let h = e.header
        var arch = e.architecture?.name ?? h.machineName
        if !e.abi.summary.isEmpty { arch += " " + e.abi.summary }
        if let a = e.architecture {
          let p = a.platform(abi: e.abi)
          let parts = [p.oci, p.debian.map { "Debian " + $0 }].compactMap { $0 }
          if !parts.isEmpty { arch += " (" + parts.joined(separator: ", ") + ")" }
        }
        var link = e.linkage ?? "-"
        if let i = e.segments.interpreter { link += " " + i }
        rows.append([
          r.path, "ELF\(h.elfClass.bits) \(h.byteOrder.short) \(e.kind)", arch, link,
          r.runsVia.map(describe) ?? "",
        ])
      }
      if !r.notes.isEmpty { tail[r.path, default: []] += r.notes }
    }
    var out = Output.table(rows)
    for r in results { for n in tail[r.path] ?? [] { out += "  \(r.path): note: \(n)\n" } }
    return out
  }

  static func describe(_ v: RunsVia) -> String {
    switch v {
    case .native: return "native"
    case .handler(let name, let interp, let nativeToo, let others):
      var s = "runs via: \(name) (\(interp))"
      if !others.isEmpty { s += ", also matched by \(others.joined(separator: ","))" }
      if nativeToo { s += " [native binary routed through an emulator]" }
      return s
    case .noHandler(let reason): return "runs via: no handler (foreign: \(reason))"
    }
  }
}

enum InspectJSON {
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
        "kind": .string(e.kind),
        "machine": .int(Int(h.machine)),
        "machineName": .string(h.machineName),
        "flags": .string("0x" + String(h.flags, radix: 16)),
        "abi": .array(e.abi.tags.map(JSON.string)),
        "architecture": .optional(e.architecture?.name),
        "ociPlatform": .optional(p?.oci),
        "debianArch": .optional(p?.debian),
        "linkage": .optional(e.linkage),
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

enum ArchJSON {
  static func encode(_ a: Architecture, native: Bool) -> JSON {
    .object([
      "name": .string(a.name),
      "entryName": .string(a.entryName),
      "summary": .string(a.summary),
      "family": .string(a.family),
      "class": .int(a.elfClass.bits),
      "byteOrder": .string(a.byteOrder.short),
      "machine": .int(Int(a.machine)),
      "magic": .string(KernelEscape.escape(a.magic)),
      "mask": .string(KernelEscape.escape(a.mask)),
      "interpreter": .string(a.staticInterpreter),
      "ociPlatform": .optional(a.ociPlatform),
      "debianArch": .optional(a.debianArch),
      "aliases": .array(a.aliases.map(JSON.string)),
      "nativeOnThisHost": .bool(native),
    ])
  }
}
