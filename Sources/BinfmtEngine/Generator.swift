import BinfmtKit
import LinuxSystem
import SystemPackage

/// `generate`: binfmt.d files or register strings for catalog architectures, built and
/// checked before anything is printed or written.
public struct Generator: Sendable {
  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  public enum Syntax: String, Sendable, CaseIterable {
    case register
    case binfmtd = "binfmt.d"
  }

  public struct Request: Sendable {
    /// nil: every catalog architecture.
    public var names: [String]?
    public var includeNative: Bool
    public var flags: String?
    public var credentials: Bool
    public var interpreter: String?
    public var interpreterDir: String?
    public init(
      names: [String]?, includeNative: Bool, flags: String?, credentials: Bool, interpreter: String?,
      interpreterDir: String?
    ) {
      self.names = names
      self.includeNative = includeNative
      self.flags = flags
      self.credentials = credentials
      self.interpreter = interpreter
      self.interpreterDir = interpreterDir
    }
  }

  /// Builds every file; with `outputDirectory`, writes them there (one per architecture,
  /// atomically) and prints nothing on stdout.
  public func generate(_ request: Request, syntax: Syntax, outputDirectory: String? = nil) throws(BinfmtError)
    -> GenerateReport
  {
    let catalog = context.catalog
    let host = context.hostMachine
    let flagSet = try BinfmtFlags.option(request.flags, credentials: request.credentials)
    var archs =
      try request.names.map { names throws(BinfmtError) in try catalog.resolve(names: names) } ?? catalog.architectures
    if request.names == nil && !request.includeNative {
      let skipped = archs.filter { catalog.isNative($0, unameMachine: host) }
      archs.removeAll { catalog.isNative($0, unameMachine: host) }
      if !skipped.isEmpty {
        context.output.warning(
          "skipped \(skipped.map(\.name).joined(separator: ", ")): native on this \(host) host (--include-native adds them)"
        )
      }
    } else if !request.includeNative {
      for a in archs where catalog.isNative(a, unameMachine: host) {
        context.output.warning(
          "\(a.name) is native on this \(host) host: installing it would send native programs through qemu")
      }
    }
    var files: [GenerateReport.File] = []
    for a in archs {
      let interp =
        request.interpreter
        ?? request.interpreterDir.map { FilePath($0).appending("qemu-\(a.qemuTarget)-static").string }
      let reg = a.registration(interpreter: interp, flags: flagSet)
      try Registration.checkInterpreterPath(
        reg.interpreter, option: request.interpreter != nil ? "--interpreter" : "--interpreter-dir")
      try reg.checkRoundTrip(at: a.name)
      // The same rule as install's: a C interpreter must be root's alone. Generated files are
      // often for another machine: a path absent here is noted, not refused.
      if flagSet.contains(.credentials) {
        if !context.files.exists(reg.interpreter) {
          context.output.note(
            "\(reg.interpreter) is not on this host: check on the target that it and its directories are root-owned and not writable by others (C flag)"
          )
        } else {
          try Installer.refuseUntrustedCredentials(reg.interpreter, for: a, files: context.files)
        }
      }
      files.append(
        GenerateReport.File(
          name: BinfmtD.fileName(for: a), registration: reg,
          text: try BinfmtD.generated(for: a, registration: reg, catalog: catalog)))
    }
    if let outputDirectory {
      let dir = FilePath(outputDirectory)
      try AtomicFile.makeDirectories(dir)
      for f in files { try AtomicFile.write(f.text, to: dir.appending(f.name)) }
      context.output.stderr("wrote \(files.count) file(s) to \(outputDirectory)\n")
      return GenerateReport(files: files, syntax: syntax, written: true)
    }
    return GenerateReport(files: files, syntax: syntax, written: false)
  }
}

public struct GenerateReport: CommandReport {
  public struct File: Sendable {
    public var name: String
    public var registration: Registration
    public var text: String
  }
  public var files: [File]
  public var syntax: Generator.Syntax
  /// The files went to a directory: nothing for stdout.
  public var written: Bool

  public var text: String {
    if written { return "" }
    switch syntax {
    case .register: return files.map { $0.registration.registerString() + "\n" }.joined()
    case .binfmtd: return files.map(\.text).joined(separator: "\n")
    }
  }
}

/// `arch list`: the catalog, and which entries are native here.
public struct ArchitectureList: JSONReport {
  public var architectures: [Architecture]
  public var native: Set<String>

  public init(_ context: EngineContext) {
    architectures = context.catalog.architectures
    native = Set(architectures.filter { context.catalog.isNative($0, unameMachine: context.hostMachine) }.map(\.name))
  }

  public var json: JSON {
    .array(
      architectures.map { a in
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
          "nativeOnThisHost": .bool(native.contains(a.name)),
        ])
      })
  }

  public var text: String {
    var rows = [["NAME", "FAMILY", "OCI", "DEBIAN", "NATIVE", "ALIASES"]]
    for a in architectures {
      rows.append([
        a.name, a.family, a.ociPlatform ?? "-", a.debianArch ?? "-", native.contains(a.name) ? "yes" : "-",
        ByteText.join(a.aliases, ","),
      ])
    }
    return TextTable.render(rows)
  }
}
