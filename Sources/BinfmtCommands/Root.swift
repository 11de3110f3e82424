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
    version: BuildInfo.versionLine,
    subcommands: [
      Status.self, Install.self, Uninstall.self, Enable.self, Disable.self, Probe.self, Persist.self,
      Unpersist.self, Boot.self, Watch.self, Emulators.self, Inspect.self, Scan.self,
      Generate.self, ArchCommand.self, DoctorCommand.self, RegisterRaw.self, PrintUnit.self,
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
      let args = CompatArguments.translate(arguments ?? CurrentProcess.arguments)
      if let route = FastPath.route(args), CurrentProcess.environment(FastPath.disableVariable) == nil {
        // `boot` at every boot, `--version`, `status`, `arch list` and `inspect` in scripts:
        // straight to the engine, without building the parser (FastPath says why).
        status = try route.run(output: output)
      } else {
        var command = try Binfmtctl.parseAsRoot(args)
        if let c = command as? any EngineCommand {
          status = try engine(
            format: c.format, hostMachine: c.globals.hostMachine, lockWaitSeconds: c.lockWaitSeconds,
            commandName: type(of: c).configuration.commandName ?? "binfmtctl", output: output, c.report)
        } else {
          try command.run()
          status = .ok
        }
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

  /// An engine command: one context, one report rendered, the exit status it means.
  static func engine(
    format: OutputFormat, hostMachine: String?, lockWaitSeconds: Int, commandName: String, output: OutputSink,
    _ report: (EngineContext) throws -> any CommandReport
  ) throws -> ExitStatus {
    var context = EngineContext.live(hostMachine: hostMachine, output: output)
    context.lockWait = LockWait(seconds: lockWaitSeconds, command: commandName)
    let r = try report(context)
    Output.emit(r, as: format, to: output)
    if let e = r.trailingError {
      output.error(e)
      return ExitStatus.of(e)
    }
    return r.partialFailure ? .partial : .ok
  }
}

/// tonistiigi/binfmt's arguments, so its image name can be swapped for binfmtctl's where a
/// tool runs it with fixed arguments (buildx's kubernetes driver runs its `qemu.image` with
/// `--install all`): `--install LIST` is `install`, `--uninstall LIST` is `uninstall`, LIST
/// comma-separated, `all` meaning `--all`. Anything else passes through unchanged.
enum CompatArguments {
  static func translate(_ args: [String]) -> [String] {
    guard let first = args.first else { return args }
    var rest = Array(args.dropFirst())
    var list: String
    let command: String
    if let eq = first.firstIndex(of: "="), ["--install", "--uninstall"].contains(String(first[..<eq])) {
      command = first.hasPrefix("--install=") ? "install" : "uninstall"
      list = String(first[first.index(after: eq)...])
    } else if first == "--install" || first == "--uninstall", !rest.isEmpty {
      command = String(first.dropFirst(2))
      list = rest.removeFirst()
    } else {
      return args
    }
    let names = list.split(separator: ",").map(String.init)
    return [command] + (names.contains("all") ? ["--all"] : names) + rest
  }
}
