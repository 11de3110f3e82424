import ArgumentParser
import BinfmtEngine
import BinfmtKit
import LinuxSystem

struct Scan: EngineCommand {
  static let configuration = CommandConfiguration(
    commandName: "scan",
    abstract: "Classify every ELF file under the paths by architecture, and tell what this host cannot run.",
    discussion: """
      Counts ELF files per architecture (static, dynamic, shared objects), lists the loaders \
      (PT_INTERP) they need and whether each is in the tree (resolved inside it, as under chroot), \
      and says which architectures this host cannot run now, with the fix. Symlinks are not \
      followed unless -L; FIFOs and devices are never opened.
      Exit status: 0 when every architecture found can run here, 1 when some cannot, 2 on bad \
      usage, 3 when a path does not exist, 4 when a path cannot be read.
      """)

  @Argument(help: "Directories (each scanned as a root file system) or files.") var paths: [String]
  @Flag(name: [.customShort("L"), .long], help: "Follow symlinks (a link back to an ancestor is not entered twice).")
  var follow = false
  @Flag(name: [.customShort("x"), .long], help: "Stay on the file system of each path.") var oneFileSystem = false
  @Option(
    name: [.customShort("j"), .long], help: "Threads that read directories (default: the processors, at most 8).")
  var jobs: Int?
  @Flag(help: "Print the summary as one JSON object (sorted keys).") var json = false
  @Flag(
    help: "Print one JSON object per line: one per ELF file and per unreadable entry, then the summary.")
  var jsonLines = false
  @OptionGroup var globals: GlobalOptions

  var format: OutputFormat { jsonLines ? .jsonLines : json ? .json : .text }

  func validate() throws {
    if json && jsonLines { throw ValidationError("give --json or --json-lines, not both") }
    if let jobs, !(1...64).contains(jobs) { throw ValidationError("--jobs takes 1 to 64, not \(jobs)") }
  }

  func report(_ context: EngineContext) throws -> any CommandReport {
    let walk = TreeWalkOptions(
      followSymlinks: follow, oneFileSystem: oneFileSystem, workers: jobs ?? min(CurrentProcess.processors, 8))
    return try Scanner(context).scan(
      ScanRequest(
        paths: paths, walk: walk, streamFiles: jsonLines, errorsToStderr: !jsonLines,
        progress: CurrentProcess.isTerminal(2)))
  }
}
