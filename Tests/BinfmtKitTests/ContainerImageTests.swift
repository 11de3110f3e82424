import Foundation
import Testing

@testable import BinfmtKit

/// `doctor --image`'s pure parts: the JSON reader, the image config an engine's inspect
/// prints, where a runtime looks for the program, the platform in an engine's message, and
/// what a container message proves.
struct ContainerImageTests {
  // MARK: JSON

  @Test func parsesWhatEnginesPrint() throws {
    let text =
      #" [ {"a": [1, -2, 3.5, 1e3, true, false, null], "s": "x\"\\\/\b\f\n\r\tq\u00e9\ud83d\ude00", "o": {}} ] "#
    let v = try JSON.parse(Array(text.utf8))
    guard case .array(let a) = v, a.count == 1 else {
      Issue.record("not an array: \(v)")
      return
    }
    #expect(a[0]["a"] == .array([.int(1), .int(-2), .string("3.5"), .string("1e3"), .bool(true), .bool(false), .null]))
    #expect(a[0]["s"]?.stringValue == "x\"\\/\u{8}\u{c}\n\r\tqé😀")
    #expect(a[0]["o"] == .object([:]))
    #expect(a[0]["missing"] == nil)
  }

  @Test(arguments: ["", "[", "[1,]", "{\"a\" 1}", "\"unterminated", "tru", "[1] x", "\"\\x\"", "\"a\u{1}\"", "-"])
  func refusesBrokenJSON(_ text: String) {
    #expect(throws: BinfmtError.self) { try JSON.parse(Array(text.utf8)) }
  }

  @Test func refusesDeepNesting() {
    let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
    #expect(throws: BinfmtError.self) { try JSON.parse(Array(deep.utf8)) }
  }

  // MARK: image config

  /// The members `docker image inspect` (20.10) and `podman image inspect` (4.3) print for the
  /// test images (systemtests/containers/build-images.sh), trimmed to what is read.
  static let docker = #"""
    [{"Id":"sha256:3f1e","RepoTags":["localhost/binfmtctl-test-bb-arm64:1"],"Os":"linux","Architecture":"arm64",
      "Variant":"v8","Config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      "Cmd":["/bin/uname","-m"],"Entrypoint":null,"WorkingDir":"","Labels":null},"Size":1846504}]
    """#
  static let podman = #"""
    [
        {
            "Id": "3f1e",
            "Config": {
                "Env": ["PATH=/opt/bin:/bin"],
                "Entrypoint": ["/entry.sh"],
                "Cmd": ["serve", "--port", "80"],
                "WorkingDir": "/srv"
            },
            "Architecture": "arm",
            "Os": "linux"
        }
    ]
    """#

  @Test func readsDockerInspect() throws {
    let c = try ImageConfig(inspect: Array(Self.docker.utf8), engine: "docker")
    #expect(c.platform == "linux/arm64/v8")
    #expect(c.command == ["/bin/uname", "-m"])
    #expect(c.workingDirectory == "/")
    #expect(c.candidates(for: "uname") == ImageConfig.defaultPath.split(separator: ":").map { "\($0)/uname" })
  }

  @Test func readsPodmanInspect() throws {
    let c = try ImageConfig(inspect: Array(Self.podman.utf8), engine: "podman")
    #expect(c.platform == "linux/arm")
    #expect(c.command == ["/entry.sh", "serve", "--port", "80"])
    #expect(c.searchPath == "/opt/bin:/bin")
    #expect(c.candidates(for: "sh") == ["/opt/bin/sh", "/bin/sh"])
    // A name with a slash is not searched: relative to the working directory.
    #expect(c.candidates(for: "./run") == ["/srv/run"])
    #expect(c.candidates(for: "bin/../app") == ["/srv/bin/../app"])
  }

  @Test func emptyAndRelativePathElementsAreTheWorkingDirectory() {
    let c = ImageConfig(architecture: "amd64", env: ["PATH=:tools:/bin"], workingDir: "/w")
    #expect(c.candidates(for: "x") == ["/w/x", "/w/tools/x", "/bin/x"])
  }

  @Test(arguments: [
    "[]", "[{}]", "{\"Architecture\":\"\"}", "[{\"Architecture\":\"arm64\"},{\"Architecture\":\"arm64\"}]", "not json",
  ])
  func refusesInspectWithoutOneImage(_ text: String) {
    #expect(throws: BinfmtError.self) { try ImageConfig(inspect: Array(text.utf8), engine: "podman") }
  }

  // MARK: the platform in an engine's message

  /// Every message of the real corpus that carries the engine's platform warning names the
  /// platform its image was built with (build-images.sh).
  @Test func platformOfEveryCorpusMessage() throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Fixtures/engine-messages.tsv")
    let rows = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
      .dropFirst()
    let want = [
      "bb-arm64": "linux/arm64/v8", "bb-s390x": "linux/s390x", "bb-ppc64le": "linux/ppc64le",
      "bb-armv7": "linux/arm/v7",
      "bb-arm64-suid": "linux/arm64/v8", "hello-noloader": "linux/arm64/v8",
    ]
    #expect(rows.count >= 10)
    for row in rows {
      let f = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      let message = f[6].replacingOccurrences(of: "\\n", with: "\n")
      #expect(ErrorMessage.platform(in: message) == want[f[4]], "\(f[0]) \(f[3]) \(f[4])")
    }
  }

  @Test func noPlatformWithoutTheWarning() {
    #expect(ErrorMessage.platform(in: "exec /bin/uname: exec format error") == nil)
    #expect(ErrorMessage.platform(in: "image platform ({}) does not match") == nil)
    #expect(ErrorMessage.platform(in: "The requested image's platform (who knows) does not match") == nil)
    #expect(ErrorMessage.platform(in: "image platform ({s390x linux  [] }) does not") == "linux/s390x")
  }

  @Test func busyboxSuIsASetuidMessage() {
    let m = ErrorMessage.classify("su: must be suid to work properly")
    #expect(m.family == .setuidIgnored && m.source == "busybox su")
  }

  // MARK: what a message proves

  func f(_ c: Finding.Code, _ s: Severity) -> Finding { Finding(c, s, "m", evidence: "e") }

  @Test func containersNeedF() {
    let out = DoctorRules.forContainers([f(.noFixBinary, .warning), f(.lostAtReboot, .warning)])
    #expect(out.map(\.severity) == [.error, .warning])
  }

  @Test func aMessageConfirmsItsCause() {
    let suid = ErrorMessage.classify("su: must be suid to work properly")
    #expect(
      DoctorRules.confirmed([f(.setuidWithoutC, .warning), f(.noFixBinary, .warning)], by: suid).map(\.severity) == [
        .error, .warning,
      ])
    let enoent = ErrorMessage.classify("exec /bin/uname: no such file or directory")
    #expect(DoctorRules.confirmed([f(.noFixBinary, .warning)], by: enoent).map(\.severity) == [.error])
    let loader = ErrorMessage.classify(
      "qemu-aarch64-static: Could not open '/lib/ld-linux-aarch64.so.1': No such file or directory")
    let added = DoctorRules.confirmed([f(.handler, .ok)], by: loader)
    #expect(added.map(\.code) == [.handler, .loaderMissing])
    #expect(added.last?.message.contains("/lib/ld-linux-aarch64.so.1") == true)
    // Already found by the checks: not twice.
    #expect(DoctorRules.confirmed([f(.loaderMissing, .error)], by: loader).count == 1)
    // An unrelated message changes nothing.
    #expect(
      DoctorRules.confirmed([f(.noFixBinary, .warning)], by: ErrorMessage.classify("hello")) == [
        f(.noFixBinary, .warning)
      ])
  }
}
