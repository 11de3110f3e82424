import BinfmtKit
import LinuxSystem

/// What `install --emulator`/`persist --emulator` check before trusting a file to run every
/// foreign program: an ELF executable for this host that starts and says it is qemu for the
/// target asked for. A wrong target is refused (unless forced); unsafe ownership is a warning
/// (and a refusal with the C flag, elsewhere).
public struct EmulatorCheck: Sendable {
  public let context: EngineContext
  public init(_ context: EngineContext) { self.context = context }

  /// How long `EMULATOR -version` may take.
  static let versionTimeoutMilliseconds = 5000

  public func check(_ path: String, for a: Architecture, force: Bool) throws(BinfmtError) {
    let real = context.paths.path(path).string
    let head = try FileHead.read(real)
    let at = path.debugDescription.dropFirst().dropLast()
    let format = FileFormat.sniff(head.bytes, size: head.size)
    guard case .elf = format else {
      let what: String
      switch format {
      case .script(let s): what = "a script (#!\(s.interpreter))"
      case .foreign(let v): what = v
      case .elf: what = "ELF"
      }
      throw BinfmtError(
        .invalidInput, "is not an emulator: \(what)", at: String(at),
        fix: "give the qemu-user binary itself, e.g. --emulator /usr/bin/qemu-\(a.qemuTarget)-static")
    }
    let h: ELFHeader
    do throws(BinfmtError) {
      h = try ELFHeader.decode(head.bytes)
      try h.validateProgramHeaders(fileSize: head.size)
    } catch {
      throw error.located(String(at))
    }
    let hostArchs = context.catalog.architectures.filter { $0.unameMachines.contains(context.hostMachine) }
    if !hostArchs.isEmpty, !hostArchs.contains(where: { $0.machine == h.machine && $0.elfClass == h.elfClass }) {
      throw BinfmtError(
        .invalidInput,
        "is an ELF\(h.elfClass.bits) \(h.machineName) program; this \(context.hostMachine) host cannot run it natively",
        at: String(at), fix: "give an emulator built for this host (\(Hint.installQemuUserStatic))")
    }
    guard context.paths.root.string == "/" else { return }  // an image's emulator is not run here
    let r = Spawn.run(real, [real, "-version"], environment: [], timeoutMilliseconds: Self.versionTimeoutMilliseconds)
    let firstLine = r.stdout.split(separator: "\n").first.map(String.init) ?? ""
    switch r.outcome {
    case .exited(0):
      break
    case .exited(let code):
      throw BinfmtError(
        .invalidInput, "does not run: `\(path) -version` exited \(code)", at: String(at),
        fix: "check the emulator: \(path) -version")
    default:
      throw BinfmtError(
        .invalidInput, "does not run: `\(path) -version` \(r.outcome)", at: String(at),
        fix: "check the emulator: \(path) -version")
    }
    // qemu-user prints "qemu-<target> version X.Y.Z (…)"; other emulators are accepted as they are.
    guard firstLine.hasPrefix("qemu-"), let space = firstLine.firstIndex(of: " ") else {
      context.output.warning(
        "\(path) does not say it is qemu-user (`-version`: \(firstLine.debugDescription)); trusting it")
      return
    }
    let target = String(firstLine[firstLine.index(firstLine.startIndex, offsetBy: 5)..<space])
    if target != a.qemuTarget {
      let message = "is qemu-\(target), not qemu-\(a.qemuTarget): \(a.name) programs would fail to start"
      if force {
        context.output.warning("\(path) \(message) (--force)")
      } else {
        throw BinfmtError(
          .invalidInput, message, at: String(at),
          fix: "use /usr/bin/qemu-\(a.qemuTarget)-static, or add --force if this emulator really runs \(a.name)")
      }
    }
    if let why = context.files.untrustedReason(path) {
      context.output.warning("\(path): \(why); whoever can change it controls every \(a.name) program run")
    }
  }
}
