import CBuildInfo

/// What `binfmtctl --version` prints: the release and the commit it was built from.
enum BuildInfo {
  static let version = "0.1.0"
  static var commit: String { String(cString: bctl_build_commit()) }
  static var versionLine: String { "\(version) (commit \(commit))" }
}
