import BinfmtKit
import LinuxSystem

/// What shell completion offers, read-only: nothing here writes, mounts or locks.
public enum CompletionCandidates {
  /// Architecture arguments (`install`, `persist`, `probe`, `generate`, `emulators --arch`).
  public static func architectures(_ context: EngineContext) -> [String] {
    context.catalog.completionNames
  }

  /// The entries registered now: the binfmt_misc directory's names other than its two
  /// control files. Nothing when it is not mounted or cannot be read.
  public static func liveEntries(_ context: EngineContext) -> [String] {
    (directoryEntries(context.paths.binfmtMisc.string) ?? [])
      .filter(Registration.isValidEntryName).sorted()
  }

  /// `uninstall`, `enable`, `disable`, `unpersist`: live entry names, then architectures.
  public static func entriesAndArchitectures(_ context: EngineContext) -> [String] {
    liveEntries(context) + architectures(context)
  }
}
