import BinfmtEngine
import BinfmtKit

/// The invocations that run at every boot and in every CI job, recognised without
/// swift-argument-parser. The parser builds every command's argument set through reflection
/// and dynamic casts (each first cast scans every protocol conformance in the binary), which
/// cost `--version` three quarters of its instructions, and it handles many positional
/// arguments in quadratic time (`inspect` over thousands of paths). Only argument lists made
/// entirely of what a command below takes are routed here; anything else (help, an unknown or
/// repeated flag, a path that starts with `-` before `--`, a hidden option) goes to the
/// parser, which says what is wrong. `CLITests.fastPathMatchesTheParser` runs each route both
/// ways and compares stdout, stderr and the exit status.
enum FastPath: Equatable {
  case version
  case boot
  case status(json: Bool)
  case archList(json: Bool)
  case inspect(json: Bool, paths: [String])

  /// Set to any value, every invocation goes through the parser (the test's other side).
  static let disableVariable = "BINFMTCTL_NO_FAST_PATH"

  static func route(_ args: [String]) -> FastPath? {
    guard let first = args.first else { return nil }
    switch first {
    case "--version" where args.count == 1:
      return .version
    case "boot" where args.count == 1:
      return .boot
    case "status":
      return onlyJSONFlag(args.dropFirst()).map { .status(json: $0) }
    case "arch" where args.count >= 2 && args[1] == "list":
      return onlyJSONFlag(args.dropFirst(2)).map { .archList(json: $0) }
    case "inspect":
      return inspectArguments(args.dropFirst())
    default:
      return nil
    }
  }

  /// Nothing, or `--json` once.
  private static func onlyJSONFlag(_ rest: ArraySlice<String>) -> Bool? {
    if rest.isEmpty { return false }
    return rest.count == 1 && rest.first == "--json" ? true : nil
  }

  /// Paths, `--json` at most once anywhere before `--`, and paths after `--`. At least one path.
  private static func inspectArguments(_ rest: ArraySlice<String>) -> FastPath? {
    var json = false
    var paths: [String] = []
    paths.reserveCapacity(rest.count)
    var i = rest.startIndex
    while i < rest.endIndex {
      let a = rest[i]
      i += 1
      if a == "--" {
        paths.append(contentsOf: rest[i...])
        break
      }
      if a == "--json" {
        if json { return nil }
        json = true
      } else if a.utf8.first == UInt8(ascii: "-") {
        return nil
      } else {
        paths.append(a)
      }
    }
    return paths.isEmpty ? nil : .inspect(json: json, paths: paths)
  }

  /// Runs the route as the parser's command would, with the same context and report.
  func run(output: OutputSink) throws -> ExitStatus {
    func engine(
      _ json: Bool, _ name: String, wait: Int = LockWait.defaultSeconds,
      _ r: (EngineContext) throws -> any CommandReport
    )
      throws -> ExitStatus
    {
      try BinfmtctlMain.engine(
        format: json ? .json : .text, hostMachine: nil, lockWaitSeconds: wait, commandName: name, output: output, r)
    }
    switch self {
    case .version:
      output.stdout(BuildInfo.versionLine + "\n")
      return .ok
    case .boot:
      return try engine(false, "boot", wait: Units.bootLockWait) { BootReconciler($0).run() }
    case .status(let json):
      return try engine(json, "status") {
        StatusReport(snapshot: TableSnapshot.read($0, withPersistence: true, mountInContainer: true))
      }
    case .archList(let json):
      return try engine(json, "list") { ArchitectureList($0) }
    case .inspect(let json, let paths):
      return try engine(json, "inspect") { Inspector($0).inspect(paths) }
    }
  }
}
