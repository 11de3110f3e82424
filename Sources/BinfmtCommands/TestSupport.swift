import ArgumentParser
import BinfmtKit
import LinuxSystem

/// Hidden: writes raw register strings (hex-encoded) and prints the kernel's answer, one
/// line each. Used by the test suite inside a private binfmt_misc instance; refuses to run
/// in the initial user namespace so it can never touch a host's table.
struct RegisterRaw: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "_register-raw", shouldDisplay: false)

  @Argument var hex: [String]

  func run() throws {
    guard BinfmtMiscWriter.inNonInitialUserNamespace() else {
      throw BinfmtError(.system, "refusing: only for tests inside a private user namespace", at: "_register-raw")
    }
    var out = ""
    for h in hex {
      guard let bytes = Hex.parse(Substring(h)) else { throw ValidationError("bad hex: \(h)") }
      if let e = BinfmtMiscWriter.registerRaw(bytes, paths: SystemPaths()) {
        out += "ERR \(e.rawValue)\n"
      } else {
        out += "OK\n"
      }
    }
    Output.stdout(out)
  }
}

/// Hidden: prints the boot unit `persist` would install (`make units` regenerates units/).
struct PrintUnit: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "_unit", shouldDisplay: false)
  @Argument var kind: String
  @Option var exec: String = Units.defaultExec

  func run() throws {
    switch kind {
    case "systemd": Output.stdout(Units.systemdService(exec: exec))
    case "openrc": Output.stdout(Units.openrcScript(exec: exec))
    default: throw ValidationError("systemd or openrc")
    }
  }
}
