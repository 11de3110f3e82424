import BinfmtKit
import LinuxSystem

/// Text that is already what stdout should show (a unit file, the kernel's answers).
public struct PlainText: CommandReport {
  public var text: String
  public init(text: String) { self.text = text }
}

/// For the test suite: raw register strings straight to the kernel, inside a private
/// binfmt_misc instance only.
public struct KernelCheck: Sendable {
  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  /// One line per string: `OK`, or `ERR <errno>` as the kernel answered.
  public func registerRaw(_ strings: [[UInt8]]) throws(BinfmtError) -> PlainText {
    guard BinfmtMiscWriter.inNonInitialUserNamespace() else {
      throw BinfmtError(.system, "refusing: only for tests inside a private user namespace", at: "_register-raw")
    }
    var out = ""
    for bytes in strings {
      if let e = BinfmtMiscWriter.registerRaw(bytes, paths: context.paths) {
        out += "ERR \(e.rawValue)\n"
      } else {
        out += "OK\n"
      }
    }
    return PlainText(text: out)
  }
}
