import BinfmtKit
import CSystemd
import SystemPackage

#if canImport(Glibc)
  import Glibc
#endif

/// The one module that talks to libsystemd: sd-bus (the manager's unit-file calls), the
/// journal, sd_notify and sd_booted. No C type leaves it. The library is loaded on the first
/// call (CSystemd's `bctl_` wrappers), so commands that never reach here never load it.
public enum Systemd {
  /// sd_booted(3): systemd is PID 1 (it checks /run/systemd/system/).
  public static func booted() -> Bool { bctl_sd_booted() > 0 }

  /// sd_notify(3) with one state line (e.g. `STATUS=…`); a no-op outside a service.
  /// Without $NOTIFY_SOCKET there is nobody to tell, and the library is not loaded for it.
  public static func notify(_ state: String) {
    guard getenv("NOTIFY_SOCKET") != nil else { return }
    _ = bctl_sd_notify(0, state)
  }

  /// True when journald's native socket exists: sd_journal_sendv succeeds even without a
  /// listener, so its return value cannot tell whether anyone got the message.
  public static func journalAvailable(root: FilePath = "/") -> Bool {
    var st = stat()
    let path = root.appending(FilePath("/run/systemd/journal/socket").components).string
    return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFSOCK
  }

  /// Priorities of syslog(3), as the journal's PRIORITY= field wants them.
  public enum Priority: Int, Sendable {
    case error = 3
    case warning = 4
    case notice = 5
    case info = 6
  }

  /// sd_journal_sendv(3): one entry with MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and extra
  /// fields (`NAME=value`). Returns false when the journal refused it.
  @discardableResult
  public static func journal(_ message: String, priority: Priority, identifier: String, fields: [String] = []) -> Bool {
    let lines = ["MESSAGE=" + message, "PRIORITY=\(priority.rawValue)", "SYSLOG_IDENTIFIER=" + identifier] + fields
    let copies = lines.map { strdup($0)! }
    defer { for c in copies { free(c) } }
    var iov = copies.map { iovec(iov_base: UnsafeMutableRawPointer($0), iov_len: strlen($0)) }
    return bctl_sd_journal_sendv(&iov, Int32(iov.count)) >= 0
  }
}

/// A change systemd reports for a unit-file call: (type, file, destination).
public struct UnitFileChange: Sendable, Equatable {
  public var type: String
  public var file: String
  public var destination: String
}

/// A connection to the system bus (sd_bus_open_system), closed on deinit.
public struct SystemBus: ~Copyable {
  let bus: OpaquePointer

  public init() throws(BinfmtError) {
    var b: OpaquePointer?
    let r = bctl_sd_bus_open_system(&b)
    if let why = bctl_sd_unavailable() {
      throw BinfmtError(
        .system, "cannot load libsystemd", at: "sd-bus", cause: .text(String(cString: why)),
        fix: "install it (Debian/Ubuntu: apt install libsystemd0)")
    }
    guard r >= 0, let b else {
      throw BinfmtError(
        .system, "cannot connect to the system bus", at: "sd-bus", cause: .errno(Errno(rawValue: -r)),
        fix: "is dbus running? (systemctl status dbus)")
    }
    bus = b
  }

  deinit { bctl_sd_bus_flush_close_unref(bus) }

  static let destination = "org.freedesktop.systemd1"
  static let path = "/org/freedesktop/systemd1"
  static let manager = "org.freedesktop.systemd1.Manager"

  /// Manager.EnableUnitFiles(as files, b runtime, b force) → (b carries_install_info, a(sss) changes)
  public func enableUnitFiles(_ files: [String], runtime: Bool = false, force: Bool = false) throws(BinfmtError)
    -> [UnitFileChange]
  {
    try call("EnableUnitFiles", files: files, bools: [runtime, force], skipLeadingBool: true)
  }

  /// Manager.DisableUnitFiles(as files, b runtime) → (a(sss) changes)
  public func disableUnitFiles(_ files: [String], runtime: Bool = false) throws(BinfmtError) -> [UnitFileChange] {
    try call("DisableUnitFiles", files: files, bools: [runtime], skipLeadingBool: false)
  }

  /// Manager.Reload(): re-reads unit files (systemctl daemon-reload).
  public func reload() throws(BinfmtError) {
    var m: OpaquePointer?
    var r = bctl_sd_bus_message_new_method_call(bus, &m, Self.destination, Self.path, Self.manager, "Reload")
    guard r >= 0, let m else { throw busError("Reload", r, nil) }
    defer { bctl_sd_bus_message_unref(m) }
    var err = sd_bus_error()
    defer { bctl_sd_bus_error_free(&err) }
    var reply: OpaquePointer?
    r = bctl_sd_bus_call(bus, m, 0, &err, &reply)
    if reply != nil { bctl_sd_bus_message_unref(reply) }
    if r < 0 { throw busError("Reload", r, err) }
  }

  func call(_ method: String, files: [String], bools: [Bool], skipLeadingBool: Bool) throws(BinfmtError)
    -> [UnitFileChange]
  {
    var m: OpaquePointer?
    var r = bctl_sd_bus_message_new_method_call(bus, &m, Self.destination, Self.path, Self.manager, method)
    guard r >= 0, let m else { throw busError(method, r, nil) }
    defer { bctl_sd_bus_message_unref(m) }
    // Variadic sd_bus_message_append is not callable from Swift: strv + append_basic.
    var copies: [UnsafeMutablePointer<CChar>?] = files.map { strdup($0) }
    copies.append(nil)
    r = copies.withUnsafeMutableBufferPointer { bctl_sd_bus_message_append_strv(m, $0.baseAddress) }
    for c in copies { free(c) }
    guard r >= 0 else { throw busError(method, r, nil) }
    for b in bools {
      var v: Int32 = b ? 1 : 0
      r = bctl_sd_bus_message_append_basic(m, CChar(UInt8(ascii: "b")), &v)
      guard r >= 0 else { throw busError(method, r, nil) }
    }
    var err = sd_bus_error()
    defer { bctl_sd_bus_error_free(&err) }
    var replyOpt: OpaquePointer?
    r = bctl_sd_bus_call(bus, m, 0, &err, &replyOpt)
    guard r >= 0, let reply = replyOpt else { throw busError(method, r, err) }
    defer { bctl_sd_bus_message_unref(reply) }
    if skipLeadingBool {
      var carries: Int32 = 0
      r = bctl_sd_bus_message_read_basic(reply, CChar(UInt8(ascii: "b")), &carries)
      guard r >= 0 else { throw busError(method, r, nil) }
    }
    var changes: [UnitFileChange] = []
    r = bctl_sd_bus_message_enter_container(reply, CChar(UInt8(ascii: "a")), "(sss)")
    guard r >= 0 else { throw busError(method, r, nil) }
    while true {
      r = bctl_sd_bus_message_enter_container(reply, CChar(UInt8(ascii: "r")), "sss")
      if r == 0 { break }
      guard r > 0 else { throw busError(method, r, nil) }
      var fields: [String] = []
      for _ in 0..<3 {
        var s: UnsafePointer<CChar>?
        r = bctl_sd_bus_message_read_basic(reply, CChar(UInt8(ascii: "s")), &s)
        guard r >= 0, let s else { throw busError(method, r, nil) }
        fields.append(String(cString: s))
      }
      changes.append(UnitFileChange(type: fields[0], file: fields[1], destination: fields[2]))
      _ = bctl_sd_bus_message_exit_container(reply)
    }
    _ = bctl_sd_bus_message_exit_container(reply)
    return changes
  }

  func busError(_ method: String, _ r: Int32, _ err: sd_bus_error?) -> BinfmtError {
    var cause = BinfmtError.Cause.errno(Errno(rawValue: -r))
    if let err, let name = err.name {
      cause = .text(String(cString: name) + (err.message.map { ": " + String(cString: $0) } ?? ""))
    }
    return BinfmtError(.system, "systemd refused \(method)", at: "sd-bus", cause: cause)
  }
}
