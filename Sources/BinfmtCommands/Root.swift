import ArgumentParser
import BinfmtEngine
import BinfmtKit
import LinuxSystem

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

/// A subcommand: flags in, one engine call on the context main made, a report out.
protocol EngineCommand: ParsableCommand {
  var globals: GlobalOptions { get }
  /// Text unless the command has `--json` and it was given.
  var format: OutputFormat { get }
  /// How long the table lock is waited for (`--wait`, on the commands that take it).
  var lockWaitSeconds: Int { get }
  func report(_ context: EngineContext) throws -> any CommandReport
}

extension EngineCommand {
  var format: OutputFormat { .text }
  var lockWaitSeconds: Int { LockWait.defaultSeconds }
}

public enum BinfmtctlMain {
  /// The one top-level handler: builds the context once, runs the command, renders its
  /// report, and turns every error into one line on stderr and an exit code.
  public static func run(_ arguments: [String]? = nil) -> Never {
    CurrentProcess.ignoreBrokenPipe()
    let output = OutputSink.standard
    var status: ExitStatus
    do {
      var command = try Binfmtctl.parseAsRoot(arguments ?? CurrentProcess.arguments)
      if let c = command as? any EngineCommand {
        var context = EngineContext.live(hostMachine: c.globals.hostMachine, output: output)
        context.lockWait = LockWait(
          seconds: c.lockWaitSeconds, command: type(of: c).configuration.commandName ?? "binfmtctl")
        let report = try c.report(context)
        Output.emit(report, as: c.format, to: output)
        if let e = report.trailingError {
          output.error(e)
          status = ExitStatus.of(e)
        } else {
          status = report.partialFailure ? .partial : .ok
        }
      } else {
        try command.run()
        status = .ok
      }
    } catch let e as BinfmtError {
      output.error(e)
      status = ExitStatus.of(e)
    } catch {
      if Binfmtctl.exitCode(for: error) == .success {
        output.stdout(Binfmtctl.fullMessage(for: error) + "\n")
        status = .ok
      } else {
        output.stderr(Binfmtctl.fullMessage(for: error) + "\n")
        status = .usage
      }
    }
    if let e = CurrentProcess.firstStdoutError, status == .ok || status == .partial {
      // The work is done, but whoever reads stdout did not get the report.
      output.stderr("binfmtctl: error: cannot write the report to stdout: \(e)\n")
      status = .system
    }
    CurrentProcess.exit(status.rawValue)
  }
}
