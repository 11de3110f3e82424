import Foundation
import Testing

/// `make install` / `make uninstall` (scripts/install.sh) into a DESTDIR with the binary
/// already built (BINFMTCTL_RELEASE under `make test`): the exact tree, files that work, and
/// uninstall leaving the DESTDIR as it was, including what was there before.
@Suite(.serialized) struct InstallTests {
  var release: String { ProcessInfo.processInfo.environment["BINFMTCTL_RELEASE"] ?? Env.binary }

  func script(_ action: String, destdir: URL, prefix: String) throws -> Run {
    let sh = Env.packageRoot.appendingPathComponent("scripts/install.sh").path
    return try run(
      "/usr/bin/env", ["BIN=\(release)", "PREFIX=\(prefix)", "DESTDIR=\(destdir.path)", sh, action], timeout: 120)
  }

  /// Every path under `root` (directories with a trailing /), with mode, and symlink targets.
  func tree(_ root: URL) throws -> [String: String] {
    var out: [String: String] = [:]
    let fm = FileManager.default
    guard let e = fm.enumerator(atPath: root.path) else { return out }
    while let rel = e.nextObject() as? String {
      let attrs = try fm.attributesOfItem(atPath: root.appendingPathComponent(rel).path)
      let mode = String((attrs[.posixPermissions] as? Int) ?? 0, radix: 8)
      if attrs[.type] as? FileAttributeType == .typeDirectory {
        out[rel + "/"] = mode
      } else {
        out[rel] = mode
      }
    }
    return out
  }

  @Test func installsTheFHSTreeAndUninstallRemovesExactlyIt() throws {
    let dest = try tempDir()
    // Something of someone else's in a directory install shares: it must survive.
    let other = dest.appendingPathComponent("usr/local/share/bash-completion/completions/other")
    try FileManager.default.createDirectory(
      at: other.deletingLastPathComponent(), withIntermediateDirectories: true)
    try "complete -F _other other\n".write(to: other, atomically: true, encoding: .utf8)
    let before = try tree(dest)

    let r = try script("install", destdir: dest, prefix: "/usr/local")
    #expect(r.status == 0, "\(r.stderr)")
    let added = try tree(dest).filter { before[$0.key] == nil }
    #expect(
      added == [
        "usr/local/bin/": "755", "usr/local/bin/binfmtctl": "755",
        "usr/local/share/man/": "755", "usr/local/share/man/man1/": "755",
        "usr/local/share/man/man1/binfmtctl.1.gz": "644",
        "usr/local/share/bash-completion/completions/binfmtctl": "644",
        "usr/local/share/zsh/": "755", "usr/local/share/zsh/site-functions/": "755",
        "usr/local/share/zsh/site-functions/_binfmtctl": "644",
        "usr/local/share/fish/": "755", "usr/local/share/fish/vendor_completions.d/": "755",
        "usr/local/share/fish/vendor_completions.d/binfmtctl.fish": "644",
        "usr/local/lib/": "755", "usr/local/lib/systemd/": "755", "usr/local/lib/systemd/system/": "755",
        "usr/local/lib/systemd/system/binfmtctl.service": "644",
        "usr/local/share/binfmtctl/": "755", "usr/local/share/binfmtctl/install-manifest": "644",
      ], "\(added.keys.sorted())")

    // The files work: the binary runs, the unit runs it from PREFIX and carries no persist
    // marker, the man page decompresses to roff, the bash completion is the generated one.
    let bin = dest.appendingPathComponent("usr/local/bin/binfmtctl").path
    #expect(try run(bin, ["--version"]).stdout.hasPrefix("0.1.0 "))
    let unit = try String(
      contentsOf: dest.appendingPathComponent("usr/local/lib/systemd/system/binfmtctl.service"), encoding: .utf8)
    #expect(
      unit.contains("\nExecStart=/usr/local/bin/binfmtctl boot\n") && unit.hasPrefix("# Installed with binfmtctl"))
    let man = try run(
      "/bin/sh",
      [
        "-c", "gzip -dc \"$1\" | head -c 200", "sh",
        dest.appendingPathComponent(
          "usr/local/share/man/man1/binfmtctl.1.gz"
        ).path,
      ])
    #expect(man.stdout.contains(".TH BINFMTCTL 1"), "\(man.stdout)")
    let bash = try String(
      contentsOf: dest.appendingPathComponent("usr/local/share/bash-completion/completions/binfmtctl"),
      encoding: .utf8)
    let generated = try run(release, ["--generate-completion-script", "bash"]).stdout
    #expect(generated.hasPrefix("#!/bin/bash\n") && bash == generated.drop { $0 != "\n" }.dropFirst())

    let u = try script("uninstall", destdir: dest, prefix: "/usr/local")
    #expect(u.status == 0, "\(u.stderr)")
    #expect(try tree(dest) == before)
  }

  /// Another prefix moves everything, the unit's ExecStart= too; a second install over the
  /// first changes nothing; a bad PREFIX writes nothing.
  @Test func anotherPrefixAndReinstall() throws {
    let dest = try tempDir()
    #expect(try script("install", destdir: dest, prefix: "/opt/binfmtctl").status == 0)
    let first = try tree(dest)
    #expect(first["opt/binfmtctl/bin/binfmtctl"] == "755" && first["usr/"] == nil)
    let unit = try String(
      contentsOf: dest.appendingPathComponent("opt/binfmtctl/lib/systemd/system/binfmtctl.service"), encoding: .utf8)
    #expect(unit.contains("\nExecStart=/opt/binfmtctl/bin/binfmtctl boot\n"))
    #expect(try script("install", destdir: dest, prefix: "/opt/binfmtctl").status == 0)
    #expect(try tree(dest) == first)
    #expect(try script("uninstall", destdir: dest, prefix: "/opt/binfmtctl").status == 0)
    #expect(try tree(dest).isEmpty)
    let bad = try script("install", destdir: dest, prefix: "/opt/with space")
    #expect(bad.status != 0 && bad.stderr.contains("only an absolute path"), "\(bad.stderr)")
    #expect(try tree(dest).isEmpty)
  }
}
