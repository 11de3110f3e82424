import ArgumentParser
import BinfmtEngine
import BinfmtKit
import LinuxSystem

extension ContainerEngineKind: ExpressibleByArgument {}

struct DoctorCommand: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "doctor",
    abstract: "Say why a file, a platform or this system cannot run foreign programs, prove it, and print the fix.",
    discussion: """
      PATH: why can't this file run here (with --root, inside that root file system)?
      --platform linux/arm64: can this host run that platform's programs and containers?
      No argument: the whole system (binfmt_misc, every entry, persistence).
      --image REF: a local podman or docker image: its platform, and the program its
      containers start (entrypoint/cmd, or PATH), checked inside its root file system
      (an image mount or a temporary container, undone before it exits).
      --message TEXT (or - for stdin): the error a user saw, explained before the checks.
      When the answer is "can run", a probe program for the architecture is executed
      (--no-probe skips it). Nothing is changed: no registration, no mount, no file,
      unless --fix: it applies the fixes that are binfmtctl's own, prints the others, and
      diagnoses again (the exit status is the second diagnosis's).
      Exit status: 0 can run now (warnings allowed), 1 cannot, 2 bad usage.
      """)

  @Argument(help: "The file to diagnose.", completion: .file()) var path: String?
  @Option(help: ArgumentHelp("The root file system PATH runs in (a container rootfs, a chroot).", valueName: "dir"))
  var root: String?
  @Option(help: ArgumentHelp("An OCI platform: linux/arm64, linux/arm/v7, linux/s390x …", valueName: "os/arch"))
  var platform: String?
  @Option(help: ArgumentHelp("A local podman or docker image (PATH, if given, is inside it).", valueName: "ref"))
  var image: String?
  @Option(
    help: ArgumentHelp(
      "The engine that has --image: podman or docker (default: the first that knows it).", valueName: "engine"))
  var engine: ContainerEngineKind?
  @Option(help: ArgumentHelp("The error message you saw; - reads it from stdin.", valueName: "text"))
  var message: String?
  @Flag(help: "Do not run the probe program.") var noProbe = false
  @Flag(help: "Prove it by running PATH itself (no arguments, stdin /dev/null; inside --root when given).")
  var probeTarget = false
  @Flag(help: "Apply binfmtctl's own fixes (install, enable, replace, persist, mount), then diagnose again.")
  var fix = false
  @OptionGroup var output: JSONOption
  @OptionGroup var globals: GlobalOptions
  var format: OutputFormat { output.format }

  func validate() throws {
    if path != nil && platform != nil { throw ValidationError("give PATH or --platform, not both") }
    if root != nil && path == nil { throw ValidationError("--root needs a PATH inside it") }
    if probeTarget && (path == nil || noProbe) {
      throw ValidationError("--probe-target needs a PATH, and no --no-probe")
    }
    if image != nil && (root != nil || platform != nil || probeTarget) {
      throw ValidationError(
        "--image brings its own root file system and platform: not with --root, --platform or --probe-target")
    }
    if engine != nil && image == nil { throw ValidationError("--engine needs --image") }
    // The engines would take it for an option.
    if let image, image.isEmpty || image.hasPrefix("-") {
      throw ValidationError("--image: '\(image)' is not an image reference")
    }
  }

  func report(_ context: EngineContext) throws -> any CommandReport {
    var text = message
    if message == "-" { text = CurrentProcess.readStandardInput(limit: 1 << 16) }
    var request = Doctor.Request(
      path: path, root: root, platform: platform, message: text, probe: !noProbe, probeTarget: probeTarget)
    request.image = image
    request.engine = engine
    if fix { return try Doctor(context).repair(request) }
    return try Doctor(context).diagnose(request)
  }
}
