import BinfmtEngine
import BinfmtKit
import Foundation
import Testing

@Suite(.serialized) struct CLITests {
  /// Every kind of bad input gets its own one-line verdict, the good path in the same call
  /// still gets its answer, nothing hangs, and the exit code says something failed.
  /// libsystemd and libelf are loaded on first use (dlopen), not at start: `--version`,
  /// `arch list` and `status` load neither; `inspect` loads libelf and still reads the notes.
  @Test func librariesAreLoadedOnlyWhereUsed() throws {
    for args in [["--version"], ["arch", "list"], ["status", "--json"]] {
      let r = try run("/usr/bin/env", ["LD_DEBUG=libs", Env.binary] + args)
      #expect(!r.stderr.contains("libsystemd.so.0") && !r.stderr.contains("libelf.so.1"), "\(args)")
    }
    let fixture = try Env.fixture("busybox-arm64")
    let r = try run("/usr/bin/env", ["LD_DEBUG=libs", Env.binary, "inspect", "--json", fixture])
    #expect(r.status == 0 && r.stderr.contains("libelf.so.1") && r.stdout.contains("\"buildID\""), "\(r.stdout)")
  }

  /// `--version` names the release and the commit make wrote into Sources/CBuildInfo/commit.h
  /// (`git describe --always --dirty`); a build without make says "unknown".
  @Test func versionNamesTheCommit() throws {
    let header = Env.packageRoot.appendingPathComponent("Sources/CBuildInfo/commit.h").path
    var commit = "unknown"
    if let text = try? String(contentsOfFile: header, encoding: .utf8),
      let open = text.firstIndex(of: "\""), let close = text.lastIndex(of: "\""), open < close
    {
      commit = String(text[text.index(after: open)..<close])
    }
    for binary in [Env.binary, ProcessInfo.processInfo.environment["BINFMTCTL_RELEASE"] ?? Env.binary] {
      let r = try run(binary, ["--version"])
      #expect(r.status == 0 && r.stdout == "0.1.0 (commit \(commit))\n", "\(binary): \(r.stdout)")
    }
  }

  /// binfmtctl(1) is generated from the command definitions and renders without a warning.
  @Test func manPageRendersWithoutWarnings() throws {
    let release = ProcessInfo.processInfo.environment["BINFMTCTL_RELEASE"] ?? Env.binary
    let script = Env.packageRoot.appendingPathComponent("scripts/gen-man.py").path
    let page = try tempDir().appendingPathComponent("binfmtctl.1").path
    let g = try run("/bin/sh", ["-c", "'\(script)' '\(release)' > '\(page)'"])
    try #require(g.status == 0, "gen-man.py: \(g.stderr)")
    let r = try run("/usr/bin/env", ["MANWIDTH=80", "LC_ALL=C.UTF-8", "man", "--warnings", "-l", page])
    #expect(r.status == 0 && r.stderr.isEmpty, "man warnings: \(r.stderr)")
    for heading in ["NAME", "SYNOPSIS", "COMMANDS", "EXIT STATUS", "FILES", "BINFMT.D PRECEDENCE", "EXAMPLES"] {
      #expect(r.stdout.contains("\n" + heading + "\n"), "no \(heading) section")
    }
    for command in ["install", "persist", "scan", "inspect", "arch list"] {
      #expect(r.stdout.contains("binfmtctl \(command)"), "no usage line for \(command)")
    }
  }

  /// `--version`, `status`, `arch list` and `inspect` skip the argument parser (FastPath);
  /// each answers exactly as through the parser: stdout, stderr and exit status.
  @Test func fastPathMatchesTheParser() throws {
    let arm = try Env.fixture("busybox-arm64")
    let hello = try Env.fixture("hello-armhf")
    let cases: [[String]] = [
      ["--version"], ["arch", "list"], ["arch", "list", "--json"], ["status"], ["status", "--json"],
      ["inspect", arm], ["inspect", "--json", arm, hello], ["inspect", arm, "--json", "--", "-not-an-option", hello],
      ["inspect", "/nonexistent/x", arm], ["inspect", "--", "--json"],
      // Not fast-path shapes: the parser answers both ways (and says what is wrong).
      ["inspect"], ["inspect", "--json", "--json", arm], ["status", "--bogus"], ["inspect", "-", arm],
    ]
    for args in cases {
      let fast = try run(Env.binary, args)
      let parsed = try run("/usr/bin/env", ["BINFMTCTL_NO_FAST_PATH=1", Env.binary] + args)
      #expect(fast.status == parsed.status, "\(args): exit \(fast.status) vs \(parsed.status)")
      #expect(fast.stdout == parsed.stdout, "\(args): stdout differs:\n\(fast.stdout)\n---\n\(parsed.stdout)")
      #expect(fast.stderr == parsed.stderr, "\(args): stderr differs:\n\(fast.stderr)\n---\n\(parsed.stderr)")
    }
  }

  /// `inspect` over many paths takes time in proportion to them: 8 times the paths, at most
  /// about 8 times the time (the parser's quadratic handling made it 40 times: 140 ms at
  /// 2,000 paths, 6.2 s at 16,000). The bound leaves room for a noisy machine.
  @Test func inspectIsLinearInThePaths() throws {
    let release = ProcessInfo.processInfo.environment["BINFMTCTL_RELEASE"] ?? Env.binary
    let arm = try Env.fixture("busybox-arm64")
    func seconds(_ n: Int) throws -> Double {
      var best = Double.infinity
      for _ in 0..<3 {
        let t0 = Date()
        let r = try run(release, ["inspect"] + Array(repeating: arm, count: n))
        best = min(best, Date().timeIntervalSince(t0))
        #expect(r.status == 0)
      }
      return best
    }
    let small = try seconds(2_000)
    let large = try seconds(16_000)
    #expect(large / small < 16, "2,000 paths: \(small) s, 16,000 paths: \(large) s")
  }

  @Test func badInputsGetVerdicts() throws {
    let d = try tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let good = try Env.fixture("busybox-arm64")
    let real = try Data(contentsOf: URL(fileURLWithPath: good))
    func file(_ name: String, _ data: Data) -> String {
      let p = d.appendingPathComponent(name).path
      _ = FileManager.default.createFile(atPath: p, contents: data)
      return p
    }
    var bogus = real.prefix(4096)
    bogus.replaceSubrange(32..<40, with: [0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0])  // e_phoff far away
    var manyPh = real.prefix(4096)
    manyPh.replaceSubrange(56..<58, with: [0xfe, 0xff])  // e_phnum 65534
    let fifo = d.appendingPathComponent("fifo").path
    #expect(mkfifo(fifo, 0o644) == 0)
    let sparse = d.appendingPathComponent("sparse").path
    _ = FileManager.default.createFile(atPath: sparse, contents: real.prefix(64))
    #expect(truncate(sparse, 2 << 30) == 0)
    var rng = SystemRandomNumberGenerator()
    let cases: [(String, String)] = [
      (d.appendingPathComponent("missing").path, "no such file"),
      (d.path, "is a directory"),
      (file("empty", Data()), "empty file"),
      (file("trunc10", real.prefix(10)), "truncated ELF header: 10 of 64 bytes"),
      (file("trunc63", real.prefix(63)), "truncated ELF header: 63 of 64 bytes"),
      (file("random", Data((0..<4096).map { _ in UInt8.random(in: 1...255, using: &rng) })), ""),
      (file("bogus-phoff", bogus), "e_phoff"),
      (file("bogus-phnum", manyPh), "program headers"),
      (fifo, "FIFO"),
      ("/dev/zero", "character device"),
      (file("pe.exe", Data([0x4d, 0x5a, 0x90, 0, 3] + [UInt8](repeating: 0, count: 60))), "PE/DOS"),
      (file("macho", Data([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1] + [UInt8](repeating: 0, count: 24))), "Mach-O 64-bit"),
      (
        file("Main.class", Data([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 61] + [UInt8](repeating: 0, count: 24))), "Java class"
      ),
      (file("crlf.sh", Data("#!/bin/sh\r\necho hi\r\n".utf8)), "CRLF"),
    ]
    let started = Date()
    // The 2 GB sparse file has a real ELF header and zeros after it: a valid (if empty)
    // ELF that must be answered without reading 2 GB.
    let r = try run(Env.binary, ["inspect"] + cases.map(\.0) + [sparse, good], timeout: 20)
    #expect(
      Date().timeIntervalSince(started) < 10, "inspect took too long: a FIFO, /dev/zero or a sparse file was read")
    #expect(r.status == 1)
    let lines = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("  ") }
    #expect(lines.count == cases.count + 2, "\(r.stdout)")
    #expect(lines.contains { $0.hasPrefix(sparse + " ") && $0.contains("ELF64 LSB executable") })
    for (path, expected) in cases {
      let line = try #require(lines.first { $0.hasPrefix(path + " ") }, "no line for \(path)")
      #expect(line.contains("error: "), "\(line)")
      if !expected.isEmpty { #expect(line.contains(expected), "\(line)") }
    }
    #expect(lines.last!.hasPrefix(good) && lines.last!.contains("aarch64"))
  }

  @Test func inspectJSONAndExitCodes() throws {
    let r = try binfmtctl("inspect", "--json", try Env.fixture("hello-arm64"))
    #expect(r.status == 0)
    let items = try #require(try json(r.stdout) as? [[String: Any]])
    let elf = try #require(items.first?["elf"] as? [String: Any])
    #expect(elf["architecture"] as? String == "aarch64")
    #expect(elf["linkage"] as? String == "dynamic")
    #expect(elf["interpreter"] as? String == "/lib/ld-linux-aarch64.so.1")
    #expect(elf["ociPlatform"] as? String == "linux/arm64/v8")
    let armel = try binfmtctl("inspect", "--json", try Env.fixture("busybox-armel"))
    let e2 = try #require((try json(armel.stdout) as? [[String: Any]])?.first?["elf"] as? [String: Any])
    #expect(e2["abi"] as? [String] == ["eabi5", "soft-float"])
    #expect(e2["debianArch"] as? String == "armel")
    let none = try binfmtctl("inspect", "/nonexistent-\(UUID())")
    #expect(none.status == 1)
    let usage = try binfmtctl("inspect")
    #expect(usage.status == 2 && usage.stderr.contains("Missing expected argument"))
  }

  @Test func generateRegisterStringsAndErrors() throws {
    let r = try binfmtctl("generate", "arm64", "--format", "register")
    #expect(r.status == 0)
    #expect(r.stdout == Catalog.standard.resolve("aarch64")!.registration().registerString() + "\n")
    #expect(r.stdout.hasSuffix(":/usr/bin/qemu-aarch64-static:PF\n"))
    let dir = try binfmtctl(
      "generate", "riscv64", "--interpreter-dir", "/opt/q", "--flags", "F", "--format", "register")
    #expect(dir.stdout.hasSuffix(":/opt/q/qemu-riscv64-static:F\n"))
    let unknown = try binfmtctl("generate", "arm65")
    #expect(
      unknown.status == 2 && unknown.stderr.contains("unknown architecture 'arm65'") && unknown.stderr.contains("arm64")
    )
    let cred = try binfmtctl("generate", "arm64", "--flags", "POCF")
    #expect(cred.status == 2 && cred.stderr.contains("--credentials"))
    #expect(
      try binfmtctl("generate", "arm64", "--flags", "POCF", "--credentials", "--format", "register").stdout.hasSuffix(
        ":POCF\n"))
    let badFlag = try binfmtctl("generate", "arm64", "--flags", "PX")
    #expect(badFlag.status == 2 && badFlag.stderr.contains("--flags"))
    // --all leaves out the host's own family unless asked.
    let all = try binfmtctl("generate", "--all", "--format", "register", "--host-machine", "x86_64")
    #expect(!all.stdout.contains(":qemu-x86_64:") && !all.stdout.contains(":qemu-i386:"))
    #expect(all.stderr.contains("skipped"))
    let arm = try binfmtctl("generate", "--all", "--format", "register", "--host-machine", "aarch64")
    #expect(
      arm.stdout.contains(":qemu-x86_64:") && !arm.stdout.contains(":qemu-aarch64:")
        && !arm.stdout.contains(":qemu-arm:"))
  }

  /// The committed binfmt.d/ is exactly what generate produces today.
  @Test func committedBinfmtDIsCurrent() throws {
    let d = try tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let r = try binfmtctl("generate", "--all", "--include-native", "--output", d.path)
    #expect(r.status == 0, "\(r.stderr)")
    let committed = Env.packageRoot.appendingPathComponent("binfmt.d")
    let fm = FileManager.default
    let want = try fm.contentsOfDirectory(atPath: d.path).sorted()
    let have = try fm.contentsOfDirectory(atPath: committed.path).sorted()
    #expect(want == have, "regenerate with `make binfmt.d`")
    #expect(want.count == Catalog.standard.architectures.count)
    for f in want {
      let a = try Data(contentsOf: d.appendingPathComponent(f))
      let b = try? Data(contentsOf: committed.appendingPathComponent(f))
      #expect(a == b, "binfmt.d/\(f) is stale: run `make binfmt.d`")
      let text = String(decoding: a, as: UTF8.self)
      #expect(BinfmtDFile.parse(text, file: f).entries.count == 1)
    }
  }

  @Test func archListJSON() throws {
    let r = try binfmtctl("arch", "list", "--json")
    let items = try #require(try json(r.stdout) as? [[String: Any]])
    #expect(items.count == Catalog.standard.architectures.count)
    let a = try #require(items.first { $0["name"] as? String == "aarch64" })
    #expect((a["aliases"] as? [String])?.contains("arm64") == true)
    #expect(a["debianArch"] as? String == "arm64")
  }
}

@Suite struct SpeedTests {
  /// `inspect` of one file in a release build: the median of 31 runs is under 15 ms.
  @Test func releaseInspectIsFast() throws {
    let bin =
      ProcessInfo.processInfo.environment["BINFMTCTL_RELEASE"]
      ?? Env.packageRoot.appendingPathComponent(".build/release/binfmtctl").path
    try #require(FileManager.default.isExecutableFile(atPath: bin), "no release build at \(bin): make test builds it")
    let f = try Env.fixture("busybox-arm64")
    var times: [Double] = []
    for _ in 0..<31 {
      let t = Date()
      let r = try run(bin, ["inspect", f])
      times.append(Date().timeIntervalSince(t) * 1000)
      #expect(r.status == 0)
    }
    let median = times.sorted()[15]
    #expect(median < 15, "median \(median) ms")
  }
}
