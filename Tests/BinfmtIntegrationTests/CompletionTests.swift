import Foundation
import Testing

/// Shell completion from swift-argument-parser's generated scripts, run by the real shells:
/// bash through its completion function (COMP_WORDS/COMP_CWORD as bash sets them on TAB),
/// zsh and fish by loading the scripts.
@Suite(.serialized) struct CompletionTests {
  let live = LiveTests()

  /// A bash snippet that sources the generated script and prints COMPREPLY, one per line,
  /// for the words in `$@` (the last one is the word being completed).
  static let completeInBash = #"""
    src=$1; shift
    . "$src"
    COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _binfmtctl "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    [ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
    """#

  func script(_ shell: String) throws -> String {
    let r = try binfmtctl("--generate-completion-script", shell)
    try #require(r.status == 0 && !r.stdout.isEmpty, "\(shell): \(r.stderr)")
    let file = try tempDir().appendingPathComponent(shell == "zsh" ? "_binfmtctl" : "binfmtctl.\(shell)")
    try r.stdout.write(to: file, atomically: true, encoding: .utf8)
    return file.path
  }

  func complete(_ words: [String]) throws -> [String] {
    let r = try run("/bin/bash", ["-c", Self.completeInBash, "complete", try script("bash"), Env.binary] + words)
    #expect(r.status == 0, "\(r.stderr)")
    return r.stdout.split(separator: "\n").map(String.init)
  }

  /// `binfmtctl install ar<TAB>`: the catalog's names that start with "ar" (arm64 is aarch64's
  /// Debian name), nothing else.
  @Test func bashCompletesArchitectureNames() throws {
    let reply = try complete(["install", "ar"])
    #expect(reply.contains("arm") && reply.contains("arm64") && reply.contains("armhf"), "\(reply)")
    #expect(!reply.isEmpty && reply.allSatisfy { $0.hasPrefix("ar") }, "\(reply)")
    let probe = try complete(["probe", "s3"])
    #expect(probe == ["s390x"], "\(probe)")
    // Subcommands and flags still come from the parser's own lists.
    #expect(try complete(["pers"]) == ["persist"])
    #expect(try complete(["install", "--repl"]) == ["--replace"])
  }

  /// enable/disable/uninstall complete the entries registered now: in a private binfmt_misc
  /// with two entries installed, `uninstall qemu-<TAB>` offers exactly those two.
  @Test func bashCompletesLiveEntryNames() throws {
    let src = try script("bash")
    let runner = (src as NSString).deletingLastPathComponent + "/complete.sh"
    try Self.completeInBash.write(toFile: runner, atomically: true, encoding: .utf8)
    let complete = "/bin/bash '\(runner)' '\(src)' \"$B\""
    let r = try live.sandboxed(
      """
      echo "@before=$(\(complete) uninstall qemu- | tr '\\n' ' ')"
      "$B" install aarch64 s390x >/dev/null || exit 9
      echo "@uninstall=$(\(complete) uninstall qemu- | tr '\\n' ' ')"
      echo "@disable=$(\(complete) disable qemu-s | tr '\\n' ' ')"
      """)
    let m = live.marks(r)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(m["before"] == "", "\(r.stdout)")
    #expect(m["uninstall"] == "qemu-aarch64 qemu-s390x ", "\(r.stdout) \(r.stderr)")
    #expect(m["disable"] == "qemu-s390x ", "\(r.stdout)")
  }

  /// The zsh and fish scripts load without a syntax error.
  @Test func zshAndFishScriptsLoad() throws {
    let zsh = try script("zsh")
    let dir = (zsh as NSString).deletingLastPathComponent
    let z = try run("/usr/bin/zsh", ["-fc", "fpath=('\(dir)' $fpath); autoload -Uz +X _binfmtctl"])
    #expect(z.status == 0 && z.stderr.isEmpty, "\(z.stderr)")
    let f = try run("/usr/bin/fish", ["--no-config", "-n", try script("fish")])
    #expect(f.status == 0 && f.stderr.isEmpty, "\(f.stderr)")
  }
}
