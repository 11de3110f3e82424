import ArgumentParser
import BinfmtEngine
import BinfmtKit

/// Hidden: writes raw register strings (hex-encoded) and prints the kernel's answer, one
/// line each. Used by the test suite inside a private binfmt_misc instance; refuses to run
/// in the initial user namespace so it can never touch a host's table.
struct RegisterRaw: EngineCommand {
  static let configuration = CommandConfiguration(commandName: "_register-raw", shouldDisplay: false)

  @Argument var hex: [String]
  @OptionGroup var globals: GlobalOptions

  func report(_ context: EngineContext) throws -> any CommandReport {
    var strings: [[UInt8]] = []
    for h in hex {
      guard let bytes = Hex.parse(Substring(h)) else { throw ValidationError("bad hex: \(h)") }
      strings.append(bytes)
    }
    return try KernelCheck(context).registerRaw(strings)
  }
}

/// Hidden: prints the boot unit `persist` would install (`make units` regenerates units/).
struct PrintUnit: EngineCommand {
  static let configuration = CommandConfiguration(commandName: "_unit", shouldDisplay: false)
  @Argument var kind: String
  @Option var exec: String = Units.defaultExec
  /// The text for a vendor unit directory (`make install`, the .deb), without persist's marker.
  @Flag var packaged = false
  @OptionGroup var globals: GlobalOptions

  func report(_ context: EngineContext) throws -> any CommandReport {
    switch kind {
    case "systemd": return PlainText(text: Units.systemdService(exec: exec, packaged: packaged))
    case "openrc": return PlainText(text: Units.openrcScript(exec: exec))
    default: throw ValidationError("systemd or openrc")
    }
  }
}
