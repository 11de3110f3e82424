/// How long a changing command waits for the table lock that another binfmtctl holds, and
/// the name it leaves in the lock file for the next one to show.
public struct LockWait: Sendable, Equatable {
  /// 0: fail at once.
  public var seconds: Int
  /// The command ("persist", "boot"), written after the PID into the lock file.
  public var command: String

  public init(seconds: Int = LockWait.defaultSeconds, command: String = "binfmtctl") {
    self.seconds = seconds
    self.command = command
  }

  public static let defaultSeconds = 60
  /// `--wait` above this is a usage error: an hour is already far past "someone forgot it".
  public static let maximumSeconds = 3600
}

/// Who holds the table lock, as the lock file says: `PID COMMAND\n`.
public struct LockHolder: Sendable, Equatable, CustomStringConvertible {
  public var pid: Int32
  public var command: String

  public init(pid: Int32, command: String) {
    self.pid = pid
    self.command = command
  }

  public var description: String { "PID \(pid) (\(command))" }

  /// What the holder writes into the lock file.
  public var fileText: String { "\(pid) \(command)\n" }

  /// The lock file's bytes read back; nil for anything but `PID COMMAND` (a decimal PID above
  /// 0, a command of 1 to 32 letters, digits, `-` or `_`, one optional newline): another
  /// program's lock file, a half-written one, or nothing yet.
  public static func parse(_ bytes: [UInt8]) -> LockHolder? {
    var b = bytes[...]
    if b.last == UInt8(ascii: "\n") { b = b.dropLast() }
    guard let space = b.firstIndex(of: UInt8(ascii: " ")) else { return nil }
    let digits = b[..<space]
    let name = b[(space + 1)...]
    guard digits.count >= 1, digits.count <= 10, digits.first != UInt8(ascii: "0"),
      digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
      let pid = Int32(String(decoding: digits, as: UTF8.self)),
      name.count >= 1, name.count <= 32,
      name.allSatisfy({ c in
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
          || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_")
      })
    else { return nil }
    return LockHolder(pid: pid, command: String(decoding: name, as: UTF8.self))
  }
}
