/// An error text a user saw (`doctor --message`), recognised: which failure it is, who printed
/// it, what it names, and what it means, before any check is made.
public struct ErrorMessage: Sendable, Equatable {
  /// The raw values are the JSON contract (they appear in the `message` finding's evidence).
  public enum Family: String, Sendable, Equatable, CaseIterable {
    /// ENOEXEC: no binfmt_misc entry (or none enabled) took a foreign binary, or the file is
    /// not a format the kernel knows.
    case execFormatError = "exec-format-error"
    /// ENOENT from a container runtime's exec: the program, its loader, or (entry without
    /// `F`) the emulator is not inside the container.
    case notFoundInContainer = "not-found-in-container"
    /// bash 5.1+: exec said ENOENT for a file that exists: a missing `#!` interpreter or ELF
    /// loader, or an emulator an entry without `F` names.
    case requiredFileNotFound = "required-file-not-found"
    /// qemu ran, but the program's dynamic loader is not where it looks.
    case qemuLoaderMissing = "qemu-loader-missing"
    /// An emulator for another architecture got the binary.
    case wrongEmulator = "wrong-emulator"
    /// A setuid program ran without its privileges: a nosuid mount, or an entry without `C`.
    case setuidIgnored = "setuid-ignored"
    /// A `#!` interpreter that does not exist.
    case badInterpreter = "bad-interpreter"
    /// A `#!` line ending in CR (a script saved with Windows line endings).
    case badInterpreterCRLF = "bad-interpreter-crlf"
    /// A shell ran an ENOEXEC binary as a script (env, timeout, xargs and sh retry that way).
    case binaryRunAsScript = "binary-run-as-script"
    case unknown
  }

  public var family: Family
  /// Who printed it: "podman/crun", "docker/runc", "runc (1.0 release candidates)", "bash",
  /// "qemu", "sudo", "the kernel (errno)"…
  public var source: String
  /// The path the message names (the program, the loader, the interpreter), when it names one.
  public var subject: String?

  /// What it means, in one sentence.
  public var meaning: String {
    let s = subject.map { "'\($0)'" } ?? "the program"
    switch family {
    case .execFormatError:
      return
        "the kernel refused to start \(s) (ENOEXEC): it is a binary for another architecture with no enabled binfmt_misc entry to hand it to qemu, or not an executable format at all"
    case .notFoundInContainer:
      return
        "exec of \(s) inside the container failed with ENOENT: the file, its dynamic loader, or the emulator of a binfmt_misc entry without the F flag is missing inside the container"
    case .requiredFileNotFound:
      return
        "\(s) exists but exec said 'no such file': its #! interpreter or ELF loader is missing, or a binfmt_misc entry without F names an emulator that is not there"
    case .qemuLoaderMissing:
      return
        "binfmt_misc and qemu work; the program is dynamically linked and its loader \(s) is not on this host (install the target's libc, set QEMU_LD_PREFIX to a sysroot, or run it inside its own root file system)"
    case .wrongEmulator:
      return
        "a binfmt_misc entry hands this binary to the emulator of another architecture (an entry with a wrong interpreter or a too-loose mask)"
    case .setuidIgnored:
      return
        "a setuid program ran with the caller's uid: its file system is mounted nosuid, or it runs through a binfmt_misc entry without the C flag"
    case .badInterpreter:
      return "the script's #! line names \(s), which does not exist"
    case .badInterpreterCRLF:
      return
        "the script has Windows line endings: the kernel looks for an interpreter whose name ends in a carriage return (\(s))"
    case .binaryRunAsScript:
      return
        "a shell was handed a binary the kernel refused (ENOEXEC) and read it as a script: an Exec format error in disguise"
    case .unknown:
      return "not a message binfmtctl recognises; the checks below still apply"
    }
  }

  /// Recognises `text` (the whole message, any case, surrounding noise allowed).
  public static func classify(_ text: String) -> ErrorMessage {
    let bytes = Array(text.utf8)
    let lower = lowered(bytes)
    func has(_ s: String) -> Bool { offset(of: s, in: lower) != nil }
    // qemu-aarch64-static: Could not open '/lib/ld-linux-aarch64.so.1': No such file or directory
    if has("could not open '") && has("qemu") {
      return ErrorMessage(family: .qemuLoaderMissing, source: "qemu", subject: between(text, "'", "'"))
    }
    if has("invalid elf image for this architecture") {
      return ErrorMessage(family: .wrongEmulator, source: "qemu", subject: nil)
    }
    // busybox su: "must be suid to work properly"
    if has("effective uid is not 0") || has("'nosuid' option") || has("must be setuid root") || has("must be suid") {
      return ErrorMessage(family: .setuidIgnored, source: has("must be suid") ? "busybox su" : "sudo", subject: nil)
    }
    if has("bad interpreter") {
      // bash: ./run.sh: /bin/sh^M: bad interpreter: No such file or directory
      let interp = fieldBefore(text, ": bad interpreter")
      let crlf = has("^m: bad interpreter") || has("\r: bad interpreter")
      return ErrorMessage(family: crlf ? .badInterpreterCRLF : .badInterpreter, source: "bash", subject: interp)
    }
    if has("required file not found") {
      // bash: ./prog: cannot execute: required file not found
      return ErrorMessage(
        family: .requiredFileNotFound, source: "bash", subject: fieldBefore(text, ": cannot execute"))
    }
    if has("syntax error: word unexpected") || has("syntax error: \"(\" unexpected") {
      return ErrorMessage(family: .binaryRunAsScript, source: "sh", subject: nil)
    }
    let enoexec = has("exec format error")
    let enoent = has("no such file or directory")
    guard enoexec || enoent else {
      return ErrorMessage(family: .unknown, source: "unknown", subject: nil)
    }
    var source = "the kernel (\(enoexec ? "ENOEXEC" : "ENOENT"))"
    var subject: String?
    if has("exec container process") {
      // crun: exec container process `/bin/uname`: Exec format error
      source = "podman/crun"
      subject = between(text, "`", "`")
    } else if has("exec user process caused") {
      // runc 1.0-rc: standard_init_linux.go:228: exec user process caused: exec format error
      source = "runc (1.0 release candidates)"
    } else if has("cannot execute binary file") {
      source = "bash"
      subject = fieldBefore(text, ": cannot execute")
    } else if let r = offset(of: "exec ", in: bytes) {
      // runc 1.1: exec /bin/uname: exec format error
      let rest = bytes[(r + 5)...]
      if rest.first == UInt8(ascii: "/"), let colon = rest.firstIndex(of: UInt8(ascii: ":")) {
        source = "docker/runc"
        subject = String(decoding: rest[..<colon], as: UTF8.self)
      }
    }
    let inContainer = source != "bash" && !source.hasPrefix("the kernel")
    if enoexec { return ErrorMessage(family: .execFormatError, source: source, subject: subject) }
    return ErrorMessage(
      family: inContainer ? .notFoundInContainer : .requiredFileNotFound, source: source, subject: subject)
  }

  /// The text between the first `open` and the next `close`.
  static func between(_ text: String, _ open: Character, _ close: Character) -> String? {
    guard let a = text.firstIndex(of: open) else { return nil }
    let rest = text[text.index(after: a)...]
    guard let b = rest.firstIndex(of: close) else { return nil }
    return String(rest[..<b])
  }

  /// The `: `-separated field just before `marker`: "bash: ./x: /bin/sh^M: bad interpreter"
  /// gives "/bin/sh^M".
  static func fieldBefore(_ text: String, _ marker: String) -> String? {
    let bytes = Array(text.utf8)
    guard let end = offset(of: marker, in: lowered(bytes)) else { return nil }
    var start = end
    while start > 1 && !(bytes[start - 1] == UInt8(ascii: " ") && bytes[start - 2] == UInt8(ascii: ":")) { start -= 1 }
    if start <= 1 { start = 0 }
    return start < end ? String(decoding: bytes[start..<end], as: UTF8.self) : nil
  }

  static func lowered(_ b: [UInt8]) -> [UInt8] { b.map { $0 >= 0x41 && $0 <= 0x5a ? $0 | 0x20 : $0 } }

  /// Where `needle` (ASCII, lower case) first occurs in `haystack`.
  static func offset(of needle: String, in haystack: [UInt8]) -> Int? {
    let n = Array(needle.utf8)
    guard !n.isEmpty, haystack.count >= n.count else { return nil }
    for i in 0...(haystack.count - n.count) where haystack[i] == n[0] {
      if haystack[i..<(i + n.count)].elementsEqual(n) { return i }
    }
    return nil
  }
}
