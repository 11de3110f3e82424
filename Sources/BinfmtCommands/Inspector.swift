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

  public var kind: String {
    switch header.type {
    case 1: return "relocatable"
    case 2: return "executable"
    case 3: return segments.interpreter != nil || segments.pieFlag ? "pie executable" : "shared object"
    case 4: return "core"
    default: return "type \(header.type)"
    }
  }

  public var linkage: String? {
    switch header.type {
    case 2, 3:
      if segments.interpreter != nil { return "dynamic" }
      if header.type == 3 { return segments.pieFlag ? "static-pie" : "dynamic" }
      return "static"
    default: return nil
    }
  }

  public var runnable: Bool { header.type == 2 || (header.type == 3 && kind == "pie executable") }
}

public enum RunsVia: Sendable, Equatable {
  case native
  /// A binfmt_misc entry takes it; `others` more entries match too (the newest wins).
  case handler(name: String, interpreter: String, nativeToo: Bool, others: [String])
  case noHandler(reason: String)
}

/// Inspects files: the 256-byte head decides the format; libelf reads the rest of an ELF.
public struct Inspector: Sendable {
  public var paths: SystemPaths
  public var catalog: Catalog
  public var hostMachine: String
  let table: BinfmtMiscTable

  public init(paths: SystemPaths = SystemPaths(), catalog: Catalog = .standard, hostMachine: String? = nil) {
    self.paths = paths
    self.catalog = catalog
    self.hostMachine = hostMachine ?? unameMachine()
    self.table = BinfmtMiscTable.read(paths)
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
        r.notes.append("interpreter is not an absolute path: the kernel resolves it from the caller's working directory")
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
      return InspectResult(path: path, body: .failure(error.message))
    }
    let abi = ELFABI.decode(header)
    let arch = catalog.architecture(for: header)
    let report = ELFReport(header: header, abi: abi, architecture: arch, segments: segments)
    var result = InspectResult(path: path, body: .elf(report))
    result.notes += abi.notes
    if arch == nil {
      result.notes.append("no qemu-user target in the catalog runs \(header.machineName) ELF\(header.elfClass.bits) \(header.byteOrder.short)")
    }
    if report.runnable {
      let via = runsVia(head: head, arch: arch)
      result.runsVia = via
      if !head.isExecutable { result.notes.append("not marked executable (chmod +x)") }
      if let loader = segments.interpreter, case .handler = via, !fileExists(paths.path(loader)) {
        result.notes.append(
          "loader \(loader) is missing on this host: qemu will fail with \"Could not open '\(loader)'\" (install the target's libc, or set QEMU_LD_PREFIX to a sysroot)")
      }
    }
    return result
  }

  func runsVia(head: FileHead, arch: Architecture?) -> RunsVia {
    let native = arch.map { catalog.isNative($0, unameMachine: hostMachine) } ?? false
    if table.mounted && table.enabled {
      let hits = table.entries.filter { $0.enabled && $0.registration.matches(header: head.bytes, path: head.path) }
      if let first = hits.first {
        return .handler(
          name: first.name, interpreter: first.interpreter, nativeToo: native,
          others: hits.dropFirst().map(\.name))
      }
    }
    if native { return .native }
    if !table.mounted { return .noHandler(reason: "binfmt_misc is not mounted") }
    if !table.enabled { return .noHandler(reason: "binfmt_misc is disabled") }
    return .noHandler(reason: "no binfmt_misc entry matches")
  }
}
