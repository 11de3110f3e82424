/// What `doctor --image` needs from a container image: its platform and the program a
/// container of it starts, read from `podman image inspect` or `docker image inspect` (both
/// print a JSON array of one object with the same member names).
public struct ImageConfig: Sendable, Equatable {
  public var id: String
  public var os: String
  public var architecture: String
  public var variant: String?
  public var entrypoint: [String]
  public var cmd: [String]
  public var env: [String]
  public var workingDir: String

  public init(
    id: String = "", os: String = "linux", architecture: String, variant: String? = nil, entrypoint: [String] = [],
    cmd: [String] = [], env: [String] = [], workingDir: String = ""
  ) {
    self.id = id
    self.os = os
    self.architecture = architecture
    self.variant = variant
    self.entrypoint = entrypoint
    self.cmd = cmd
    self.env = env
    self.workingDir = workingDir
  }

  /// From the engine's inspect output. `engine` names it in errors.
  public init(inspect output: [UInt8], engine: String) throws(BinfmtError) {
    let json: JSON
    do { json = try JSON.parse(output) } catch {
      throw BinfmtError(.system, "cannot read \(engine) image inspect's output", cause: .text(error.description))
    }
    let image: JSON
    switch json {
    case .array(let a) where a.count == 1: image = a[0]
    case .object: image = json
    default: throw BinfmtError(.system, "\(engine) image inspect printed no single image")
    }
    guard let arch = image["Architecture"]?.stringValue, !arch.isEmpty else {
      throw BinfmtError(.system, "\(engine) image inspect names no Architecture for the image")
    }
    let config = image["Config"] ?? .null
    self.init(
      id: image["Id"]?.stringValue ?? "", os: image["Os"]?.stringValue ?? "linux", architecture: arch,
      variant: image["Variant"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
      entrypoint: config["Entrypoint"]?.stringArray ?? [], cmd: config["Cmd"]?.stringArray ?? [],
      env: config["Env"]?.stringArray ?? [], workingDir: config["WorkingDir"]?.stringValue ?? "")
  }

  /// The OCI platform: `linux/arm64/v8`, `linux/s390x`.
  public var platform: String { [os, architecture].joined(separator: "/") + (variant.map { "/" + $0 } ?? "") }

  /// What a container of the image runs: Entrypoint, then Cmd (as arguments to it, or the
  /// whole command without an Entrypoint).
  public var command: [String] { entrypoint + cmd }

  /// The engines' PATH when the image sets none.
  public static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

  /// The container's working directory (`/` when the image names none).
  public var workingDirectory: String { workingDir.isEmpty ? "/" : workingDir }

  /// `$PATH` inside a container of the image: the last PATH= of Env, or the engines' default.
  public var searchPath: String {
    env.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? Self.defaultPath
  }

  /// Where the runtime looks for `program` (argv[0]) inside the root, in order, as runc's and
  /// crun's exec do: a name with a slash is taken as it is (relative to the working directory),
  /// a bare name is searched in `$PATH` (an empty or relative element is relative to the
  /// working directory).
  public func candidates(for program: String) -> [String] {
    if program.contains("/") { return [absolute(program)] }
    return searchPath.split(separator: ":", omittingEmptySubsequences: false).map { dir in
      absolute(dir.isEmpty ? "." : String(dir)) + "/" + program
    }.map(Self.clean)
  }

  func absolute(_ p: String) -> String {
    Self.clean(p.hasPrefix("/") ? p : workingDirectory + "/" + p)
  }

  /// `/a//b/./c/` → `/a/b/c` (`..` is left to the lookup, which resolves it inside the root).
  public static func clean(_ p: String) -> String {
    let parts = p.split(separator: "/").filter { $0 != "." }
    return "/" + parts.joined(separator: "/")
  }
}
