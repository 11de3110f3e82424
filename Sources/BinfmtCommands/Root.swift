import ArgumentParser
import BinfmtKit

#if canImport(Glibc)
  import Glibc
#endif

/// Exit codes, documented in the README.
public enum ExitStatus: Int32, Sendable {
  case ok = 0
  /// Some of the inputs failed (e.g. one of several paths is not an executable).
  case partial = 1
  /// Bad usage or invalid input (unknown architecture, malformed register string).
  case usage = 2
  /// Something that should exist does not.
  case notFound = 3
  /// The system refused (permission, read-only, unsupported).
  case system = 4
  /// Conflicts with what is already there.
  case conflict = 5

  static func of(_ e: BinfmtError) -> ExitStatus {
    switch e.kind {
    case .invalidInput: return .usage
    case .notFound: return .notFound
    case .system: return .system
    case .conflict: return .conflict
    }
  }
}

struct Binfmtctl: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "binfmtctl",
    abstract: "Run foreign-architecture binaries through binfmt_misc and qemu-user.",
    version: "0.1.0",
    subcommands: [
      Status.self, Install.self, Uninstall.self, Enable.self, Disable.self, Probe.self, Persist.self,
      Unpersist.self, Boot.self, Emulators.self, Inspect.self,
      Generate.self, ArchCommand.self, RegisterRaw.self, PrintUnit.self,
    ])
}

/// Thrown by commands that already printed their per-item results and only need a status.
struct ExitWith: Error { var status: ExitStatus }

public enum BinfmtctlMain {
  /// The one top-level handler: every error becomes one line on stderr and an exit code.
  public static func run(_ arguments: [String]? = nil) -> Never {
    let status: ExitStatus
    do {
      var command = try Binfmtctl.parseAsRoot(arguments)
      try command.run()
      status = .ok
    } catch let e as BinfmtError {
      Output.error(e)
      status = ExitStatus.of(e)
    } catch let e as ExitWith {
      status = e.status
    } catch {
      let code = Binfmtctl.exitCode(for: error)
      if code == .success {
        Output.stdout(Binfmtctl.fullMessage(for: error) + "\n")
        status = .ok
      } else {
        Output.stderr(Binfmtctl.fullMessage(for: error) + "\n")
        status = .usage
      }
    }
    exit(status.rawValue)
  }
}
