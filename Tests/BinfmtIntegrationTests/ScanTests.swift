import Foundation
import Testing

/// `scan` on real trees: the fixtures in nested folders with a symlink loop, a FIFO, a
/// truncated ELF, a name that is not UTF-8 and 10,000 small files, counted against readelf;
/// unreadable entries as an unprivileged user; a real Debian arm64 root file system in a
/// private binfmt_misc table.
@Suite(.serialized) struct ScanTests {
  /// readelf's Machine names of the fixtures' machines (and the host's), as e_machine.
  static let readelfMachines = [
    "AArch64": 183, "ARM": 40, "Intel 80386": 3, "PowerPC64": 21, "IBM S/390": 22, "MIPS R3000": 8,
    "Advanced Micro Devices X86-64": 62,
  ]

  /// Builds the tree under `dir` with a shell (a FIFO and a `\xff` byte in a name are beyond
  /// FileManager).
  static func buildTree(_ dir: URL) throws {
    let script = """
      set -e
      T="$1"; F="$2"
      mkdir -p "$T/a/b/c" "$T/deep/1/2/3/4/5" "$T/many"
      cp "$F/busybox-arm64" "$F/hello-armhf" "$T/a/"
      cp "$F/busybox-armhf" "$T/a/b/"
      cp "$F/busybox-armel" "$T/a/b/c/"
      cp "$F/busybox-i386" "$T/deep/1/"
      cp "$F/busybox-ppc64el" "$T/deep/1/2/3/"
      cp "$F/busybox-s390x" "$T/deep/1/2/3/4/5/"
      cp "$F/busybox-mips64el" "$F/busybox-mipsel" "$T/"
      cp "$F/hello-arm64" "$T/odd$(printf '\\377')name"
      cp /bin/true "$T/deep/host-true"
      ln -s ../.. "$T/a/b/up"
      ln -s busybox-arm64 "$T/a/link-to-elf"
      mkfifo "$T/a/fifo"
      printf '\\177ELF\\002\\001\\001' > "$T/a/short-magic"
      head -c 60 "$F/busybox-arm64" > "$T/a/truncated"
      i=0
      while [ $i -lt 10000 ]; do
        d="$T/many/$((i % 100))"
        [ -d "$d" ] || mkdir "$d"
        echo "$i" > "$d/f$i"
        i=$((i + 1))
      done
      """
    let r = try run("/bin/sh", ["-c", script, "build", dir.path, Env.fixtures.path], timeout: 120)
    try #require(r.status == 0, "building the tree: \(r.stderr)")
  }

  /// "machine/class/order" → files, from `scan --json`.
  static func scanCounts(_ summary: [String: Any]) -> [String: Int] {
    var out: [String: Int] = [:]
    for case let a as [String: Any] in summary["architectures"] as? [Any] ?? [] {
      let key = "\(a["machine"] ?? "?")/\(a["class"] ?? "?")/\(a["byteOrder"] ?? "?")"
      out[key, default: 0] += a["files"] as? Int ?? 0
    }
    return out
  }

  /// The same from `readelf -h` over every regular file that `find` sees (it does not follow
  /// symlinks either).
  static func readelfCounts(_ dir: URL) throws -> [String: Int] {
    let r = try run(
      "/bin/sh", ["-c", "find \"$1\" -type f -exec readelf -h {} + 2>/dev/null; true", "count", dir.path],
      timeout: 300)
    var out: [String: Int] = [:]
    var bits = "?"
    var order = "?"
    for raw in r.stdout.split(separator: "\n") {
      let line = raw.trimmingCharacters(in: .whitespaces)
      func value() -> String {
        String(line.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces)
      }
      if line.hasPrefix("Class:") {
        bits = value() == "ELF64" ? "64" : value() == "ELF32" ? "32" : "?"
      } else if line.hasPrefix("Data:") {
        order = value().contains("little endian") ? "LSB" : value().contains("big endian") ? "MSB" : "?"
      } else if line.hasPrefix("Machine:") {
        let m = readelfMachines[value()].map(String.init) ?? value()
        out["\(m)/\(bits)/\(order)", default: 0] += 1
      }
    }
    return out
  }

  @Test func countsMatchReadelfAndNothingBlocks() throws {
    _ = try Env.allFixtures()
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    try Self.buildTree(dir)
    // A FIFO in the tree: a scan that opened it for reading would hang here (timeout).
    let r = try binfmtctl("scan", "--json", dir.path, timeout: 60)
    #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
    let summary = try #require(try json(r.stdout) as? [String: Any])
    let want = try Self.readelfCounts(dir)
    #expect(want["183/64/LSB"] == 2, "readelf saw: \(want)")
    #expect(Self.scanCounts(summary) == want)
    // 10,000 small files, 11 ELF, 3 more files (short magic, truncated, the FIFO is not one).
    #expect(summary["files"] as? Int == 10_000 + 11 + 2)
    #expect(summary["elfFiles"] as? Int == 11)
    #expect(summary["invalidELF"] as? Int == 1, "the 60-byte ELF64 header")
    #expect(summary["special"] as? Int == 1, "the FIFO")
    #expect(summary["symlinks"] as? Int == 2)
    #expect(summary["errors"] as? Int == 0)
    #expect(summary["directories"] as? Int == 1 + 3 + 6 + 1 + 100)

    // -L: the file link is followed, the link to an ancestor is not entered twice.
    let followed = try binfmtctl("scan", "--json", "-L", dir.path, timeout: 60)
    let f = try #require(try json(followed.stdout) as? [String: Any])
    #expect(f["loops"] as? Int == 1 && f["symlinks"] as? Int == 0)
    #expect(Self.scanCounts(f)["183/64/LSB"] == 3)
    #expect(f["files"] as? Int == 10_000 + 11 + 2 + 1)
    #expect(followed.stderr.contains("file system loop"), "\(followed.stderr)")

    // One thread counts what two do.
    let one = try binfmtctl("scan", "--json", "-j", "1", dir.path, timeout: 60)
    #expect(Self.scanCounts(try #require(try json(one.stdout) as? [String: Any])) == want)

    // Human output: a table and the verdict lines; the name's byte shown as \xff nowhere
    // needed, but the loader of the arm64 programs is named.
    let text = try binfmtctl("scan", dir.path, timeout: 60)
    #expect(text.stdout.contains("ARCHITECTURE") && text.stdout.contains("aarch64"), "\(text.stdout)")
    #expect(text.stdout.contains("/lib/ld-linux-aarch64.so.1"))
    #expect(text.stdout.contains("verdict: "))
    #expect(text.status == (text.stdout.contains("cannot run") ? 1 : 0))
  }

  @Test func jsonShapes() throws {
    _ = try Env.allFixtures()
    let dir = try tempDir()
    defer { try? FileManager.default.removeItem(at: dir) }
    try Self.buildTree(dir)
    let r = try binfmtctl("scan", "--json", dir.path, timeout: 60)
    // Sorted keys at every level the renderer writes.
    let keys = r.stdout.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map {
      String($0.dropFirst(3).prefix { $0 != "\"" })
    }
    #expect(!keys.isEmpty && keys == keys.sorted(), "\(keys)")
    for k in ["architectures", "canRun", "cannotRun", "errors", "files", "loaders", "roots"] {
      #expect(keys.contains(k), "\(k)")
    }

    let lines = try binfmtctl("scan", "--json-lines", dir.path, timeout: 60)
    let objects = try lines.stdout.split(separator: "\n").map { line in
      try #require(try json(String(line)) as? [String: Any], "not an object: \(line)")
    }
    let elves = objects.filter { $0["record"] as? String == "elf" }
    let summary = try #require(objects.last)
    #expect(summary["record"] as? String == "summary")
    #expect(objects.dropLast().allSatisfy { $0["record"] as? String != "summary" })
    #expect(elves.count == 11 && summary["elfFiles"] as? Int == 11)
    // The name that is not UTF-8: JSON carries U+FFFD for the byte.
    let odd = try #require(elves.first { ($0["path"] as? String)?.hasSuffix("odd\u{FFFD}name") == true })
    #expect(odd["architecture"] as? String == "aarch64")
    #expect(odd["interpreter"] as? String == "/lib/ld-linux-aarch64.so.1")
    #expect(odd["linkage"] as? String == "dynamic" && ["dyn", "exec"].contains(odd["type"] as? String ?? ""))
    let s390 = try #require(elves.first { $0["architecture"] as? String == "s390x" })
    #expect(s390["linkage"] as? String == "static" && s390["interpreter"] is NSNull)
    #expect(s390["byteOrder"] as? String == "MSB" && s390["class"] as? Int == 64)
    #expect(lines.stderr.isEmpty, "errors are records in the stream: \(lines.stderr)")
  }

  /// Unreadable entries as a user who cannot read them (tests run as root, which reads
  /// everything): reported on stderr, counted, and the walk goes on.
  @Test func unreadableEntriesAreReportedAndSkipped() throws {
    _ = try Env.allFixtures()
    let dir = try tempDir()
    defer {
      _ = try? run("/bin/chmod", ["-R", "u+rwx", dir.path])
      try? FileManager.default.removeItem(at: dir)
    }
    let script = """
      set -e
      T="$1"; F="$2"
      chmod 755 "$T"
      mkdir -p "$T/closed" "$T/open"
      cp "$F/busybox-arm64" "$T/open/"
      cp "$F/busybox-s390x" "$T/closed/"
      cp "$F/busybox-armhf" "$T/secret"
      chmod 000 "$T/closed" "$T/secret"
      """
    let setup = try run("/bin/sh", ["-c", script, "setup", dir.path, Env.fixtures.path])
    try #require(setup.status == 0, "\(setup.stderr)")
    let asNobody = ["--reuid=65534", "--regid=65534", "--clear-groups", Env.binary]
    let r = try run("/usr/bin/setpriv", asNobody + ["scan", "--json", dir.path], timeout: 60)
    try #require(!r.stderr.contains("setpriv:"), "setpriv cannot drop privileges here: \(r.stderr)")
    #expect(r.status == 0 || r.status == 1, "\(r.stderr)")
    let summary = try #require(try json(r.stdout) as? [String: Any], "\(r.stdout)\(r.stderr)")
    #expect(summary["errors"] as? Int == 2)
    #expect(summary["files"] as? Int == 1 && summary["elfFiles"] as? Int == 1)
    let samples = (summary["errorSamples"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
    #expect(Set(samples) == [dir.appendingPathComponent("closed").path, dir.appendingPathComponent("secret").path])
    #expect(r.stderr.contains("closed: cannot open the directory: permission denied"), "\(r.stderr)")
    #expect(r.stderr.contains("secret: cannot open: permission denied"), "\(r.stderr)")

    // The operand itself: unreadable is exit 4, missing 3, a FIFO is not a tree (2).
    let root = try run("/usr/bin/setpriv", asNobody + ["scan", dir.appendingPathComponent("closed").path])
    #expect(root.status == 4, "\(root.stderr)")
    #expect(try binfmtctl("scan", dir.appendingPathComponent("nothing").path).status == 3)
    let fifo = dir.appendingPathComponent("fifo").path
    #expect(mkfifo(fifo, 0o644) == 0)
    let f = try binfmtctl("scan", fifo, timeout: 30)
    #expect(f.status == 2 && f.stderr.contains("FIFO"), "\(f.stderr)")
    #expect(try binfmtctl("scan", "--json", "--json-lines", dir.path).status == 2)
  }

  /// `-x` in a private mount namespace: a tmpfs mounted inside the tree is not entered.
  @Test func oneFileSystemStopsAtMountPoints() throws {
    _ = try Env.allFixtures()
    let live = LiveTests()
    let r = try live.sandboxed(
      """
      T=/run/scan-x; mkdir -p "$T/sub"; cp "$F/busybox-arm64" "$T/"
      mount -t tmpfs scan-x "$T/sub" || { echo "@mount=failed"; exit 0; }
      cp "$F/busybox-s390x" "$F/busybox-armhf" "$T/sub/"
      echo "@all=$("$B" scan --json "$T" 2>/dev/null | tr -d '\n')"
      echo "@one=$("$B" scan --json -x "$T" 2>/dev/null | tr -d '\n')"
      """)
    let m = live.marks(r)
    try #require(m["mount"] == nil, "no tmpfs mount in the sandbox: \(r.stderr)")
    let all = try #require(try json(m["all"] ?? "") as? [String: Any], "\(r.stdout)\(r.stderr)")
    let one = try #require(try json(m["one"] ?? "") as? [String: Any], "\(r.stdout)\(r.stderr)")
    #expect(all["elfFiles"] as? Int == 3 && all["otherFileSystems"] as? Int == 0)
    #expect(one["elfFiles"] as? Int == 1 && one["otherFileSystems"] as? Int == 1)
    #expect(one["directories"] as? Int == 1 && all["directories"] as? Int == 2)
  }

  /// A real Debian arm64 root file system (`make fixtures`: mmdebstrap --variant=extract),
  /// judged against a private binfmt_misc table: empty, then with aarch64 installed, then
  /// with it disabled.
  @Test func debianArm64RootFileSystem() throws {
    let rootfs = Env.packageRoot.appendingPathComponent(".fixtures/rootfs-arm64")
    try #require(
      FileManager.default.fileExists(atPath: rootfs.appendingPathComponent("usr/bin").path),
      "missing \(rootfs.path): run `make fixtures` (scripts/fetch-rootfs.sh)")
    let live = LiveTests()
    let r = try live.sandboxed(
      """
      R="$ROOTFS"
      "$B" scan "$R" > /run/o 2>/run/e; echo "@empty=$?"
      echo "@emptyout=$(tr '\\n' '|' < /run/o)"
      "$B" scan --json "$R" > /run/j 2>/dev/null; echo "@emptyjson=$(tr -d '\\n' < /run/j)"
      "$B" install aarch64 >/dev/null 2>&1; echo "@install=$?"
      "$B" scan --json "$R" > /run/j 2>/dev/null; echo "@after=$?"
      echo "@afterjson=$(tr -d '\\n' < /run/j)"
      "$B" disable aarch64 >/dev/null 2>&1; echo "@disable=$?"
      "$B" scan "$R" > /run/o 2>/dev/null; echo "@disabled=$?"
      echo "@disabledout=$(tr '\\n' '|' < /run/o)"
      """, env: ["ROOTFS": rootfs.path])
    let m = live.marks(r)
    #expect(m["empty"] == "1", "\(r.stdout)\(r.stderr)")
    let out = m["emptyout"] ?? ""
    #expect(out.contains("cannot run aarch64 now: no binfmt_misc entry runs aarch64 executables"), "\(out)")
    #expect(out.contains("  fix: sudo binfmtctl install aarch64"), "\(out)")
    #expect(out.contains("/lib/ld-linux-aarch64.so.1") && out.contains("present in the tree"), "\(out)")

    let empty = try #require(try json(m["emptyjson"] ?? "") as? [String: Any], "\(m)")
    let archs = empty["architectures"] as? [[String: Any]] ?? []
    let arm = try #require(archs.first { $0["architecture"] as? String == "aarch64" }, "\(archs)")
    #expect(arm["runs"] as? String == "no" && (arm["dynamic"] as? Int ?? 0) > 50)
    #expect((arm["problem"] as? [String: Any])?["fix"] as? String == "sudo binfmtctl install aarch64")
    #expect(archs.count == 1, "only arm64 in an arm64 root: \(archs)")
    #expect(empty["cannotRun"] as? [String] == ["aarch64"])
    let loaders = empty["loaders"] as? [[String: Any]] ?? []
    let ld = try #require(loaders.first { $0["path"] as? String == "/lib/ld-linux-aarch64.so.1" }, "\(loaders)")
    #expect(ld["present"] as? Bool == true && ld["lookedUp"] as? String == "tree")
    #expect(loaders.allSatisfy { $0["present"] as? Bool == true }, "\(loaders)")

    #expect(m["install"] == "0" && m["after"] == "0", "\(m)")
    let after = try #require(try json(m["afterjson"] ?? "") as? [String: Any], "\(m)")
    let arm2 = (after["architectures"] as? [[String: Any]] ?? []).first { $0["architecture"] as? String == "aarch64" }
    #expect(arm2?["runs"] as? String == "binfmt_misc" && arm2?["entry"] as? String == "qemu-aarch64")
    #expect(after["canRun"] as? Bool == true)

    #expect(m["disable"] == "0" && m["disabled"] == "1", "\(m)")
    #expect(m["disabledout"]?.contains("fix: sudo binfmtctl enable qemu-aarch64") == true, "\(m)")
  }
}
