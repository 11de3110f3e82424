import ArgumentParser
import BinfmtEngine

/// Dynamic shell completion (`--generate-completion-script bash|zsh|fish`): the generated
/// script runs `binfmtctl ---completion …`, which the parser answers with these lists (the
/// shell then keeps those that start with the word typed). FastPath never takes `---completion`.
enum Complete {
  static let architectures = CompletionKind.custom { _, _, _ in
    CompletionCandidates.architectures(context)
  }
  static let entriesAndArchitectures = CompletionKind.custom { _, _, _ in
    CompletionCandidates.entriesAndArchitectures(context)
  }

  /// The running system, made the way main makes it; completion only reads.
  private static var context: EngineContext { EngineContext.live(output: OutputSink { _, _ in }) }
}
