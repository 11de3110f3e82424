extension ErrorMessage {
  /// The platform a container engine's warning names in the same output: podman's
  /// `image platform ({arm64 linux  [] v8}) does not match …` and docker's `The requested
  /// image's platform (linux/arm64/v8) does not match …`. Returned as an OCI platform
  /// (`linux/arm64/v8`), or nil when the text names none.
  public static func platform(in text: String) -> String? {
    let lower = lowered(Array(text.utf8))
    if let i = offset(of: "image platform ({", in: lower) {
      // {ARCH OS OSVERSION [OSFEATURES] VARIANT}: Go's %v of the platform struct.
      let rest = text.utf8.dropFirst(i + 17).prefix { $0 != UInt8(ascii: "}") }
      let words = rest.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
      guard words.count >= 2, !words[0].isEmpty, !words[1].isEmpty else { return nil }
      let variant = words.count >= 3 && !words.last!.hasPrefix("[") && !words.last!.hasSuffix("]") ? words.last : nil
      return "\(words[1])/\(words[0])" + (variant.map { "/" + $0 } ?? "")
    }
    if let i = offset(of: "image's platform (", in: lower) {
      let p = String(decoding: text.utf8.dropFirst(i + 18).prefix { $0 != UInt8(ascii: ")") }, as: UTF8.self)
      return p.contains("/") && !p.contains(" ") ? p : nil
    }
    return nil
  }
}

extension DoctorRules {
  /// What a container of the target's platform needs beyond a plain program: the emulator
  /// inside its root, so an entry without `F` stops it (`--platform`, which asks about
  /// containers, and a container engine's message).
  public static func forContainers(_ findings: [Finding]) -> [Finding] {
    findings.map { f in
      var f = f
      if f.code == .noFixBinary && f.severity == .warning { f.severity = .error }
      return f
    }
  }

  /// What the message the user saw proves: the warning that explains it becomes the error
  /// that stopped the program, and qemu's missing-loader message is a finding of its own
  /// when the checks could not see the program.
  public static func confirmed(_ findings: [Finding], by m: ErrorMessage) -> [Finding] {
    var out = findings
    let proven: Set<Finding.Code>
    switch m.family {
    case .setuidIgnored: proven = [.setuidWithoutC, .nosuidMount]
    case .notFoundInContainer, .requiredFileNotFound: proven = [.noFixBinary]
    default: proven = []
    }
    for i in out.indices where proven.contains(out[i].code) && out[i].severity == .warning {
      out[i].severity = .error
    }
    if m.family == .qemuLoaderMissing, !out.contains(where: { $0.code == .loaderMissing }) {
      let loader = m.subject ?? "its dynamic loader"
      out.append(
        Finding(
          .loaderMissing, .error, "the program's loader \(loader) is missing where qemu looked",
          evidence:
            "qemu said \"Could not open '\(loader)'\": binfmt_misc and qemu work; the program's root file system (or QEMU_LD_PREFIX) lacks its C library"
        ))
    }
    return out
  }
}
