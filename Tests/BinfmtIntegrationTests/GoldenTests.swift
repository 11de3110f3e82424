import Foundation
import Testing

/// Every command's text and `--json` output, exit code and stderr, byte for byte against a
/// committed transcript (Tests/golden/transcript.txt), in a private binfmt_misc sandbox.
/// `BINFMTCTL_UPDATE_GOLDEN=1 make test` rewrites the transcript; review its diff.
@Suite(.serialized) struct GoldenTests {
  static let golden = Env.packageRoot.appendingPathComponent("Tests/golden")

  /// Parts of the transcript that come from the machine, not from binfmtctl: qemu's version
  /// what Debian's build of the fixtures holds (build IDs, entry points) and where the clone is.
  static func normalize(_ s: String) -> String {
    var out = s.replacingOccurrences(of: Env.packageRoot.path, with: "<package>")
    let rules: [(String, String)] = [
      (#""version" : "[^"]*""#, #""version" : "<qemu-version>""#),
      (#""version": "[^"]*""#, #""version": "<qemu-version>""#),
      (#"[0-9]+\.[0-9]+\.[0-9]+ +(yes|no|\?) "#, "<ver> $1 "),
      (#""buildID": "[0-9a-f]*""#, #""buildID": "<build-id>""#),
      (#""entry": "0x[0-9a-f]*""#, #""entry": "<entry>""#),
      (#"\(commit [^)]*\)"#, "(commit <commit>)"),
    ]
    for (pattern, template) in rules {
      let re = try! NSRegularExpression(pattern: pattern)
      out = re.stringByReplacingMatches(
        in: out, range: NSRange(out.startIndex..., in: out), withTemplate: template)
    }
    return out
  }

  @Test func transcriptIsUnchanged() throws {
    _ = try Env.allFixtures()
    let sandbox = Env.packageRoot.appendingPathComponent("scripts/binfmt-sandbox.sh").path
    let scenario = Self.golden.appendingPathComponent("scenario.sh").path
    let r = try run("/bin/sh", [sandbox, "/bin/sh", scenario, Env.binary, Env.fixtures.path], timeout: 240)
    try #require(r.status != 77 && r.status != 78, "no private binfmt_misc sandbox: \(r.stderr)")
    #expect(r.status == 0, "\(r.stderr)")
    let got = Self.normalize(r.stdout)
    let file = Self.golden.appendingPathComponent("transcript.txt")
    if ProcessInfo.processInfo.environment["BINFMTCTL_UPDATE_GOLDEN"] == "1" {
      try got.write(to: file, atomically: true, encoding: .utf8)
      return
    }
    let want = try String(contentsOf: file, encoding: .utf8)
    if got != want {
      let a = want.split(separator: "\n", omittingEmptySubsequences: false)
      let b = got.split(separator: "\n", omittingEmptySubsequences: false)
      let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
      let section = a[..<min(i, a.count)].last { $0.hasPrefix("### ") } ?? "(start)"
      Issue.record(
        "transcript differs at line \(i + 1) in \(section):\n  want: \(i < a.count ? a[i] : "<end>")\n  got:  \(i < b.count ? b[i] : "<end>")"
      )
    }
  }
}
