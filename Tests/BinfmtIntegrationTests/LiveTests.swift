import BinfmtKit
import Foundation
import Testing

/// `install`, `status`, `enable`/`disable`, `uninstall`, `probe` against the real kernel and
/// the real qemu, each test in its own private binfmt_misc instance (scripts/binfmt-sandbox.sh).
@Suite(.serialized) struct LiveTests {
  /// Debian fixture arch → qemu catalog name and what `busybox uname -m` prints under qemu.
  static let busyboxes: [(debian: String, arch: String, machine: String)] = [
    ("arm64", "aarch64", "aarch64"), ("armhf", "arm", "armv7l"), ("armel", "arm", "armv7l"),
    ("ppc64el", "ppc64le", "ppc64le"), ("s390x", "s390x", "s390x"), ("mips64el", "mips64el", "mips64"),
    ("mipsel", "mipsel", "mips"),
  ]

  /// Runs `script` in a fresh sandbox with $B = binfmtctl and $F = the fixtures directory.
  func sandboxed(_ script: String, env: [String: String] = [:]) throws -> Run {
    let prefix = env.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    let sandbox = Env.packageRoot.appendingPathComponent("scripts/binfmt-sandbox.sh").path
    let r = try run(
      "/usr/bin/env",
      (prefix.isEmpty ? [] : env.map { "\($0.key)=\($0.value)" }) + [
        "/bin/sh", sandbox, "/bin/sh", "-c", "B=\"$1\"; F=\"$2\"; " + script, "sandbox", Env.binary,
        Env.fixtures.path,
      ], timeout: 180)
    try #require(r.status != 77 && r.status != 78, "no private binfmt_misc sandbox: \(r.stderr)")
    return r
  }

  /// Lines `key=value` printed by a script, in order.
  func marks(_ r: Run) -> [String: String] {
    var out: [String: String] = [:]
    for line in r.stdout.split(separator: "\n") where line.hasPrefix("@") {
      let kv = line.dropFirst().split(separator: "=", maxSplits: 1)
      out[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
    }
    return out
  }

  @Test func lifecycleWithRealBusyboxes() throws {
    _ = try Env.allFixtures()
    var script = ""
    for b in Self.busyboxes {
      let d = b.debian
      script += """
        out=$("$F/busybox-\(d)" uname -m 2>&1); echo "@before-\(d)=$?:$out"
        """ + "\n"
    }
    let archs = Set(Self.busyboxes.map(\.arch)).sorted().joined(separator: " ")
    script += "\"$B\" install \(archs) >/dev/null; echo \"@install=$?\"\n"
    for (phase, cmd) in [
      ("installed", ""), ("disabled", "disable"), ("enabled", "enable"), ("uninstalled", "uninstall"),
    ] {
      if !cmd.isEmpty { script += "\"$B\" \(cmd) \(archs) >/dev/null; echo \"@\(cmd)=$?\"\n" }
      for b in Self.busyboxes {
        script += "out=$(\"$F/busybox-\(b.debian)\" uname -m 2>&1); echo \"@\(phase)-\(b.debian)=$?:$out\"\n"
      }
    }
    let r = try sandboxed(script)
    let m = marks(r)
    #expect(
      m["install"] == "0" && m["disable"] == "0" && m["enable"] == "0" && m["uninstall"] == "0",
      "\(r.stdout)\(r.stderr)")
    for b in Self.busyboxes {
      for phase in ["before", "disabled", "uninstalled"] {
        let v = m["\(phase)-\(b.debian)"] ?? "missing"
        #expect(v.hasPrefix("126:") && v.contains("Exec format error"), "\(phase) \(b.debian): \(v)")
      }
      for phase in ["installed", "enabled"] {
        #expect(m["\(phase)-\(b.debian)"] == "0:\(b.machine)", "\(phase) \(b.debian)")
      }
    }
  }

  @Test func idempotentConflictReplace() throws {
    let r = try sandboxed(
      """
      "$B" install arm64 >/dev/null; echo "@first=$?"
      before=$(cat /proc/sys/fs/binfmt_misc/qemu-aarch64)
      out=$("$B" install arm64); echo "@second=$?:$out"
      [ "$before" = "$(cat /proc/sys/fs/binfmt_misc/qemu-aarch64)" ] && echo "@unchanged=yes"
      "$B" install arm64 --flags F >/dev/null 2>/tmp/err.$$; echo "@conflict=$?"; echo "@conflict-err=$(tr '\\n' '|' </tmp/err.$$)"
      echo "@after-conflict=$(grep flags /proc/sys/fs/binfmt_misc/qemu-aarch64)"
      "$B" install arm64 --flags F --replace >/dev/null; echo "@replace=$?"
      echo "@after-replace=$(grep flags /proc/sys/fs/binfmt_misc/qemu-aarch64)"
      printf ':other-arm64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00::/bin/false:' > /proc/sys/fs/binfmt_misc/register
      "$B" install s390x arm64 --flags F 2>/tmp/err.$$ >/dev/null; echo "@other=$?"; echo "@other-err=$(tr '\\n' '|' </tmp/err.$$)"
      [ -e /proc/sys/fs/binfmt_misc/qemu-s390x ] || echo "@s390x-not-written=yes"
      "$B" install s390x arm64 --flags F --replace >/dev/null; echo "@other-replace=$?"
      echo "@left=$(echo $(ls /proc/sys/fs/binfmt_misc))"
      """)
    let m = marks(r)
    #expect(m["first"] == "0")
    #expect(m["second"]?.hasPrefix("0:aarch64: already installed") == true, "\(m)")
    #expect(m["unchanged"] == "yes")
    #expect(m["conflict"] == "5")
    #expect(m["conflict-err"]?.contains("flags: PF → F") == true, "\(m)")
    #expect(m["after-conflict"] == "flags: PF")
    #expect(m["replace"] == "0")
    #expect(m["after-replace"] == "flags: F")
    // A differently named entry matching the same architecture also blocks, and a refused
    // install writes nothing, not even the unrelated s390x entry.
    #expect(m["other"] == "5")
    #expect(m["other-err"]?.contains("other-arm64 also matches aarch64") == true, "\(m)")
    #expect(m["s390x-not-written"] == "yes")
    #expect(m["other-replace"] == "0")
    #expect(m["left"] == "qemu-aarch64 qemu-s390x register status", "\(r.stdout)\(r.stderr)")
  }

  /// --all: every architecture with an emulator, none of the host's family; the kernel's view
  /// of each equals the catalog definition.
  @Test func installAllSkipsNative() throws {
    let r = try sandboxed(
      #""$B" install --all --json > /tmp/out.$$ 2>/tmp/err.$$; echo "@rc=$?"; "$B" status --json; cat /tmp/err.$$ >&2"#)
    #expect(r.stdout.hasPrefix("@rc=0\n"), "\(r.stdout)\(r.stderr)")
    let statusJSON = String(r.stdout.dropFirst("@rc=0\n".count))
    let obj = try #require(try json(statusJSON) as? [String: Any])
    let entries = try #require(obj["entries"] as? [[String: Any]])
    let names = Set(entries.compactMap { $0["name"] as? String })
    let host = unameMachineForTests()
    let c = Catalog.standard
    let expected = Set(
      c.architectures.filter { a in
        !c.isNative(a, unameMachine: host) && FileManager.default.isExecutableFile(atPath: a.staticInterpreter)
      }.map(\.entryName))
    #expect(names == expected)
    #expect(!names.contains("qemu-x86_64") && !names.contains("qemu-i386"))
    #expect(expected.count >= 30)
    for e in entries {
      #expect(e["enabled"] as? Bool == true)
      #expect(e["managed"] as? Bool == true)
      #expect((e["architectures"] as? [String])?.count == 1, "\(e)")
      #expect((e["problems"] as? [String])?.isEmpty == true, "\(e)")
      let name = e["name"] as! String
      let a = try #require(c.resolve(name))
      #expect(e["registerString"] as? String == a.registration().registerString())
    }
    #expect(r.stderr.contains("skipped x86_64: native on this host"))
  }

  /// Debian's systemd-binfmt is the oracle: for each /usr/lib/binfmt.d/qemu-*.conf, the entry
  /// it registers (in one private instance) and the one `binfmtctl install` registers (in
  /// another) read back the same from the kernel, apart from the listed deliberate choices.
  @Test func kernelViewMatchesSystemdBinfmt() throws {
    let files = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/binfmt.d").filter {
      $0.hasPrefix("qemu-") && $0.hasSuffix(".conf")
    }
    try #require(files.count >= 25, "Debian's qemu-user-static binfmt.d files are missing")
    let theirs = parseSections(
      try sandboxed("/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-*.conf; echo @rc=$?;" + dumpTable).stdout[...])
    let ours = parseSections(try sandboxed(#""$B" install --all >/dev/null 2>&1; "# + dumpTable).stdout[...])
    #expect(theirs.count == files.count)
    for (name, t) in theirs.sorted(by: { $0.key < $1.key }) {
      guard let o = ours[name] else {
        Issue.record("binfmtctl did not install \(name)")
        continue
      }
      let tl = t.split(separator: "\n")
      let ol = o.split(separator: "\n")
      for (a, b) in zip(tl, ol) where a != b {
        let arch = String(name.dropFirst(5))
        let deliberate: Bool
        if a.hasPrefix("interpreter ") {
          // Debian points at its -binfmt-P wrapper name; qemu ≥ 6 reads P from AT_FLAGS.
          deliberate =
            a == "interpreter /usr/libexec/qemu-binfmt/\(arch)-binfmt-P"
            && b == "interpreter /usr/bin/qemu-\(arch)-static"
        } else if a.hasPrefix("flags:") {
          // O (open-binary) is not needed with F and qemu; we leave it out.
          deliberate = a == "flags: POF" && b == "flags: PF"
        } else if a.hasPrefix("magic ") {
          deliberate = name == "qemu-microblaze" || name == "qemu-microblazeel"  // EM_MICROBLAZE, not 0xbaab
        } else if a.hasPrefix("mask ") {
          deliberate = name == "qemu-ppc64le"  // both e_machine bytes compared
        } else {
          deliberate = false
        }
        #expect(deliberate, "\(name): systemd-binfmt '\(a)' vs binfmtctl '\(b)'")
      }
      #expect(tl.count == ol.count, "\(name)")
    }
  }

  @Test func probeWorksForInstalledAndNotForOthers() throws {
    let r = try sandboxed(
      """
      "$B" install aarch64 arm armeb ppc64le ppc64 s390x riscv64 riscv32 mips mipsel mips64 mips64el loongarch64 >/dev/null
      "$B" probe --json; echo "@rc=$?"
      "$B" probe sparc64 x86_64 >/dev/null; echo "@rc2=$?"
      "$B" probe sparc64 x86_64 --json
      """)
    let parts = r.stdout.components(separatedBy: "@rc=")
    let first = try #require(try json(parts[0]) as? [[String: Any]], "\(r.stdout)\(r.stderr)")
    #expect(first.count == 13)
    for p in first { #expect(p["result"] as? String == "works", "\(p)") }
    #expect(r.stdout.contains("@rc=0\n") && r.stdout.contains("@rc2=1\n"))
    let second = try #require(try json(r.stdout.components(separatedBy: "@rc2=1\n")[1]) as? [[String: Any]])
    #expect(second[0]["result"] as? String == "exec-format-error")
    #expect(second[1]["result"] as? String == "works" && second[1]["via"] as? String == "native")
  }

  @Test func foreignEntriesSurviveUninstallAll() throws {
    let r = try sandboxed(
      """
      printf ':WSLInterop:M::MZ::/init:P' > /proc/sys/fs/binfmt_misc/register
      printf ':python3.11:M::\\xa7\\x0d\\x0d\\x0a::/usr/bin/python3.11:' > /proc/sys/fs/binfmt_misc/register
      "$B" install arm64 s390x >/dev/null
      "$B" uninstall --all 2>/tmp/err.$$; echo "@rc=$?"; echo "@err=$(cat /tmp/err.$$)"
      echo "@left=$(echo $(ls /proc/sys/fs/binfmt_misc))"
      "$B" uninstall WSLInterop >/dev/null; echo "@named=$?"
      echo "@left2=$(echo $(ls /proc/sys/fs/binfmt_misc))"
      """)
    let m = marks(r)
    #expect(m["rc"] == "0")
    #expect(m["left"] == "WSLInterop python3.11 register status", "\(r.stdout)\(r.stderr)")
    #expect(m["err"]?.contains("left alone") == true)
    #expect(m["named"] == "0")
    #expect(m["left2"] == "python3.11 register status")
  }

  /// Two `install --all` at once end in exactly one correct entry per architecture.
  @Test func concurrentInstallsAreConsistent() throws {
    let r = try sandboxed(
      """
      "$B" install --all >/tmp/a.$$ 2>&1 & a=$!
      "$B" install --all >/tmp/b.$$ 2>&1 & b=$!
      wait $a; echo "@a=$?"; wait $b; echo "@b=$?"
      echo "@count=$(ls /proc/sys/fs/binfmt_misc | grep -c '^qemu-')"
      echo "@installed=$(cat /tmp/a.$$ /tmp/b.$$ | grep -c ': installed')"
      echo "@already=$(cat /tmp/a.$$ /tmp/b.$$ | grep -c ': already installed')"
      "$B" status >/dev/null; echo "@status=$?"
      echo "@codes=$("$B" status --json | grep '"code"' | sort -u | tr -d ' \\n')"
      """)
    let m = marks(r)
    let expected = Catalog.standard.architectures.filter {
      !Catalog.standard.isNative($0, unameMachine: unameMachineForTests())
        && FileManager.default.isExecutableFile(atPath: $0.staticInterpreter)
    }.count
    #expect(m["a"] == "0" && m["b"] == "0", "\(r.stdout)")
    #expect(m["count"] == String(expected))
    // The lock serialises them: one run installs everything, the other finds it done.
    #expect(m["installed"] == String(expected) && m["already"] == String(expected), "\(r.stdout)")
    // Live but not persisted: the only problem status finds.
    #expect(m["status"] == "1")
    #expect(m["codes"] == #""code":"lost-at-reboot","#, "\(r.stdout)")
  }

  /// When binfmt_misc is not mounted, install mounts it (here: a private instance).
  @Test func installMountsBinfmtMisc() throws {
    let r = try sandboxed(
      """
      [ -e /proc/sys/fs/binfmt_misc/register ] || echo "@unmounted=yes"
      "$B" status >/dev/null; echo "@status-before=$?"
      "$B" install arm64 >/dev/null; echo "@install=$?"
      out=$("$F/busybox-arm64" uname -m); echo "@run=$out"
      """, env: ["BINFMT_SANDBOX_NO_MOUNT": "1"])
    let m = marks(r)
    #expect(m["unmounted"] == "yes")
    #expect(m["status-before"] == "1")
    #expect(m["install"] == "0", "\(r.stderr)")
    #expect(m["run"] == "aarch64")
  }

  @Test func errorsAPersonCanActOn() throws {
    // Read-only /proc/sys, as inside an unprivileged container.
    let ro = try sandboxed(
      """
      mount -o remount,bind,ro /proc/sys/fs/binfmt_misc 2>/dev/null || mount --bind -o ro /proc/sys/fs/binfmt_misc /proc/sys/fs/binfmt_misc
      "$B" install arm64; echo "@rc=$?"
      """)
    #expect(marks(ro)["rc"] == "4", "\(ro.stdout)\(ro.stderr)")
    #expect(ro.stderr.contains("read-only") && ro.stderr.contains("--privileged"), "\(ro.stderr)")

    // Not root: an unprivileged user in a user namespace without a root mapping.
    let user = try run(
      "/usr/bin/setpriv",
      [
        "--reuid=65534", "--regid=65534", "--clear-groups", "unshare", "--user", "--mount", Env.binary, "install",
        "arm64",
      ])
    #expect(user.status == 4, "\(user.stderr)")
    #expect(user.stderr.contains("needs root") && user.stderr.contains("sudo"), "\(user.stderr)")

    let missing = try sandboxed(#""$B" install arm64 --emulator /nonexistent/qemu; echo "@rc=$?""#)
    #expect(marks(missing)["rc"] == "3" && missing.stderr.contains("/nonexistent/qemu"))

    let noC = try sandboxed(#""$B" install arm64 --flags PFC; echo "@rc=$?""#)
    #expect(marks(noC)["rc"] == "2" && noC.stderr.contains("--credentials"))

    // C with an interpreter that others could replace is refused, and nothing is written.
    let untrusted = try sandboxed(
      """
      d=$(mktemp -d); cp /usr/bin/qemu-aarch64-static "$d/"; chmod 777 "$d"
      "$B" install arm64 --flags PFC --credentials --emulator "$d/qemu-aarch64-static"; echo "@rc=$?"
      echo "@left=$(echo $(ls /proc/sys/fs/binfmt_misc))"; rm -rf "$d"
      """)
    #expect(marks(untrusted)["rc"] == "2", "\(untrusted.stderr)")
    #expect(untrusted.stderr.contains("refusing the C flag"), "\(untrusted.stderr)")
    #expect(marks(untrusted)["left"] == "register status")

    let unknown = try sandboxed(#""$B" install arm65; echo "@rc=$?""#)
    #expect(marks(unknown)["rc"] == "2" && unknown.stderr.contains("did you mean"))
  }

  /// `emulators` finds Debian's static qemu and its version; P (preserve argv[0]) really works
  /// with the emulator it picks: busybox started with argv[0] `uname` acts as uname.
  @Test func emulatorsAndPreserveArgv0() throws {
    let e = try binfmtctl("emulators", "--json")
    #expect(e.status == 0)
    let list = try #require(try json(e.stdout) as? [[String: Any]])
    let arm = try #require(list.first { $0["target"] as? String == "aarch64" })
    #expect(arm["path"] as? String == "/usr/bin/qemu-aarch64-static")
    #expect(arm["static"] as? Bool == true)
    #expect((arm["version"] as? String)?.hasPrefix("7.2") == true)
    #expect((arm["preserveArgv0"] as? String)?.hasPrefix("yes") == true)
    #expect(Set(list.compactMap { $0["target"] as? String }).count >= 30)
    let wrapper = list.first { ($0["path"] as? String)?.hasSuffix("aarch64-binfmt-P") == true }
    #expect(wrapper?["binfmtPWrapper"] as? Bool == true)
    let missing = try binfmtctl("emulators", "--emulator", "/nonexistent", "--arch", "arm64")
    #expect(missing.status == 3)

    _ = try Env.fixture("busybox-arm64")
    let r = try sandboxed(
      """
      "$B" install arm64 >/dev/null; echo "@P=$(bash -c 'exec -a uname "$0" -m' "$F/busybox-arm64" 2>&1 | head -1)"
      "$B" install arm64 --replace --flags F >/dev/null; echo "@noP=$(bash -c 'exec -a uname "$0" -m' "$F/busybox-arm64" 2>&1 | head -1)"
      """)
    #expect(marks(r)["P"] == "aarch64")
    // Without P, qemu gets the file's path as argv[0] and busybox does not act as uname.
    #expect(marks(r)["noP"] != "aarch64", "\(r.stdout)")
  }

  @Test func statusReportsProblems() throws {
    let r = try sandboxed(
      """
      "$B" install arm64 >/dev/null
      printf ':box-arm64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:/gone/box64:' > /proc/sys/fs/binfmt_misc/register
      printf ':qemu-i386:M::\\x7fELF\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x03\\x00::/usr/bin/qemu-i386-static:F' > /proc/sys/fs/binfmt_misc/register
      "$B" install s390x >/dev/null; "$B" disable s390x >/dev/null
      "$B" status --json; echo "@rc=$?"
      """)
    let parts = r.stdout.components(separatedBy: "@rc=")
    #expect(parts.count == 2 && parts[1] == "1\n", "\(r.stdout)\(r.stderr)")
    let obj = try #require(try json(parts[0]) as? [String: Any])
    let problems = try #require(obj["problems"] as? [[String: Any]])
    func has(_ code: String, _ entry: String) -> Bool {
      problems.contains { $0["code"] as? String == code && $0["entry"] as? String == entry }
    }
    #expect(has("interpreter-missing", "box-arm64"))
    #expect(has("no-F-flag", "box-arm64"))
    #expect(has("shadowed", "qemu-aarch64"))  // box-arm64 was registered later: it wins
    #expect(has("native", "qemu-i386"))
    #expect(has("disabled", "qemu-s390x"))
    #expect((obj["winners"] as? [String: String])?["aarch64"] == "box-arm64")
    let entries = try #require(obj["entries"] as? [[String: Any]])
    #expect(entries.first { $0["name"] as? String == "box-arm64" }?["managed"] as? Bool == false)
  }
}

func unameMachineForTests() -> String {
  var u = utsname()
  uname(&u)
  return withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
}
