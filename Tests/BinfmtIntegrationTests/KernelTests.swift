import BinfmtKit
import Foundation
import Testing

/// Runs a shell script inside a private binfmt_misc instance (scripts/binfmt-sandbox.sh:
/// unprivileged host uid, new user+mount namespaces, verified fresh mount). Never the host's.
func inSandbox(_ script: String, _ args: [String] = []) throws -> Run {
  let sandbox = Env.packageRoot.appendingPathComponent("scripts/binfmt-sandbox.sh").path
  let r = try run("/bin/sh", [sandbox, "/bin/sh", "-c", script, "sandbox"] + args, timeout: 60)
  try #require(r.status != 77 && r.status != 78, "no private binfmt_misc sandbox: \(r.stderr)")
  return r
}

func hex(_ s: String) -> String { s.utf8.map { Hex.byte($0) }.joined() }

/// Lines of `== name` sections printed by the sandbox script for each entry's status file.
func parseSections(_ text: Substring) -> [String: String] {
  var out: [String: String] = [:]
  var current: String?
  for line in text.split(separator: "\n") {
    if line.hasPrefix("== ") {
      current = String(line.dropFirst(3))
      out[current!] = ""
      continue
    }
    if let c = current { out[c]! += line + "\n" }
  }
  return out
}

let dumpTable = """
  for f in /proc/sys/fs/binfmt_misc/*; do
    n=${f##*/}; [ "$n" = register ] && continue; [ "$n" = status ] && continue
    echo "== $n"; while IFS= read -r l; do echo "$l"; done < "$f"
  done
  """

@Suite(.serialized) struct KernelTests {
  /// The sandbox refuses to run the test helper outside a user namespace, and the host's
  /// table is untouched by a sandboxed run.
  @Test func sandboxIsPrivate() throws {
    let before = try FileManager.default.contentsOfDirectory(atPath: "/proc/sys/fs/binfmt_misc")
    let r = try inSandbox(
      #""$1" _register-raw \#(hex(":sbx:M::ab::/x:")) && ls /proc/sys/fs/binfmt_misc"#, [Env.binary])
    #expect(r.stdout == "OK\nregister\nsbx\nstatus\n", "\(r.stderr)")
    let after = try FileManager.default.contentsOfDirectory(atPath: "/proc/sys/fs/binfmt_misc")
    #expect(before == after)
    #expect(!after.contains("sbx"))
    let outside = try binfmtctl("_register-raw", hex(":sbx:M::ab::/x:"))
    #expect(outside.status != 0 && outside.stderr.contains("refusing"))
  }

  /// Our parser accepts exactly what the kernel accepts, case by case.
  @Test func parserAgreesWithKernel() throws {
    var cases = [
      ":k%d:M::ab::/x:", ":k%d:M::ab::/x", ":k%d:M::ab::/x:F:", ":k%d:M::ab::/x:P\n", ":k%d:M::ab::/x:P\n\n",
      ":k%d:M::ab::/x:Z", ":k%d:M::ab::/x:POC", ":k%d:M::ab::/x:PPOO", ":k%d:X::ab::/x:", ":k%d:MM::ab::/x:",
      ":k%d:M:x:ab::/x:", ":k%d:M: 1:ab::/x:", ":k%d:M:+1:ab::/x:", ":k%d:M:-1:ab::/x:", ":k%d:M:-0:ab::/x:",
      ":k%d:M:0x1:ab::/x:", ":k%d:M:1\n:ab::/x:", ":k%d:M:99999999999:ab::/x:", ":k%d:M::::/x:",
      ":k%d:M::ab\\x4::/x:", ":k%d:M::ab\\xg1::/x:", ":k%d:M::ab\\q::/x:", ":k%d:M::ab\\::/x:",
      ":k%d:M::abc:\\xff\\xff:/x:", ":k%d:M::abc:\\xff\\xff\\xff:/x:", ":k%d:M:250:abcdef::/x:",
      ":k%d:M:251:abcdef::/x:", ":k%d:E::a/b::/x:", ":k%d:E::::/x:", ":k%d:E:zz:ext:yy:/x:",
      ":k%d:M::ab:::", "|k%d|M|0|\\x7fELF||/x|", ":k%d:M::\\x3a::/x:", ":k%d:M:",
      ":k%d:M::" + String(repeating: "\\x41", count: 257) + "::/x:",
      ":k%d:M::ab::/" + String(repeating: "y", count: 1900) + ":",
    ]
    cases += [
      ":.:M::ab::/x:", ":a/b:M::ab::/x:", "::M::ab::/x:", ":" + String(repeating: "n", count: 256) + ":M::ab::/x:",
    ]
    let strings = cases.enumerated().map { i, c in c.replacingOccurrences(of: "%d", with: String(i)) }
    let r = try inSandbox(#"b="$1"; shift; "$b" _register-raw "$@""#, [Env.binary] + strings.map(hex))
    let answers = r.stdout.split(separator: "\n")
    try #require(answers.count == strings.count, "\(r.stdout) \(r.stderr)")
    for (s, answer) in zip(strings, answers) {
      let ours = (try? Registration.parse(s)) != nil
      let kernel = answer == "OK"
      #expect(ours == kernel, "\(s.debugDescription): kernel says \(answer), parser says \(ours ? "ok" : "invalid")")
    }
  }

  /// A magic and mask too long to write as \xHH within 1920 bytes are written with their
  /// visible bytes raw: the kernel takes that string and shows exactly the entry back.
  @Test func longMagicIsWrittenCompactly() throws {
    let magic =
      Array(repeating: UInt8(ascii: "A"), count: 236) + [0x00, 0x0a, 0x0d, 0x01, 0x3a, 0x5c, 0xff]
      + Array("x\\x41".utf8)
    let mask = Array(repeating: UInt8(ascii: "B"), count: magic.count)
    let r = Registration(
      name: "long", match: .magic(offset: 0, magic: magic, mask: mask), interpreter: "/x", flags: [])
    let line = r.registerString()
    #expect(PathBytes.bytes(line).count <= Registration.maxRegisterLength && line.contains("AAAA"), "\(line)")
    try r.checkRoundTrip(at: "test")
    let k = try inSandbox(
      #""$1" _register-raw "$2" >/dev/null && cat /proc/sys/fs/binfmt_misc/long"#,
      [Env.binary, PathBytes.bytes(line).map { Hex.byte($0) }.joined()])
    let back = try KernelEntryStatus.parse(name: "long", text: k.stdout)
    #expect(back.registration == r, "\(k.stdout) \(k.stderr)")
  }

  /// Every catalog entry is accepted by the kernel, and the kernel's own view of it (the
  /// status file) parses back to the same definition.
  @Test func kernelViewEqualsCatalog() throws {
    let regs = Catalog.standard.architectures.map {
      $0.registration(interpreter: "/bin/true", flags: [.preserveArgv0, .fixBinary])
    }
    // Registering x86_64 sends every later exec to /bin/true, so the script reads the
    // status files with shell built-ins only.
    let r = try inSandbox(
      #"b="$1"; shift; "$b" _register-raw "$@"; "# + dumpTable, [Env.binary] + regs.map { hex($0.registerString()) })
    let okLines = r.stdout.split(separator: "\n").prefix(regs.count)
    #expect(okLines.allSatisfy { $0 == "OK" }, "\(r.stdout)")
    let sections = parseSections(r.stdout[...])
    #expect(sections.count == regs.count)
    for reg in regs {
      let text = try #require(sections[reg.name], "\(reg.name) missing from the kernel's table")
      let status = try KernelEntryStatus.parse(name: reg.name, text: text)
      #expect(status.registration == reg, "\(reg.name)")
      #expect(status.render() == text, "\(reg.name)")
      #expect(status.enabled)
    }
  }
}
