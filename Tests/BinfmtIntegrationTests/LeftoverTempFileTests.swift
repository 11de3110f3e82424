import Foundation
import Testing

/// A pid no process can have: one above the kernel's pid_max.
func deadPID() throws -> Int32 {
  let max = try String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8)
  return try #require(Int32(max.trimmingCharacters(in: .whitespacesAndNewlines))) + 1
}

/// The pid of a child that has exited and been reaped: a realistic pid nothing has any more.
func reapedPID() throws -> Int32 {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: "/bin/true")
  try p.run()
  p.waitUntilExit()
  return p.processIdentifier
}

/// Temp files (`.NAME.tmp.PID`) that a killed `persist` left behind are removed by the next
/// run that writes into the directory, when PID is gone; nothing else is.
@Suite struct LeftoverTempFileTests {
  @Test func persistRemovesTempFilesOfDeadRunsOnly() throws {
    let image = try tempDir()
    let fm = FileManager.default
    for d in ["usr/bin", "lib/systemd", "etc/binfmt.d", "etc/systemd/system"] {
      try fm.createDirectory(at: image.appendingPathComponent(d), withIntermediateDirectories: true)
    }
    _ = fm.createFile(atPath: image.appendingPathComponent("lib/systemd/systemd").path, contents: Data())
    try fm.copyItem(
      atPath: "/usr/bin/qemu-aarch64-static", toPath: image.appendingPathComponent("usr/bin/qemu-aarch64-static").path)
    let dead = try deadPID()
    let reaped = try reapedPID()
    let alive = ProcessInfo.processInfo.processIdentifier
    let binfmtD = image.appendingPathComponent("etc/binfmt.d")
    let units = image.appendingPathComponent("etc/systemd/system")
    func plant(_ dir: URL, _ names: [String]) throws {
      for n in names { try "half-written".write(to: dir.appendingPathComponent(n), atomically: false, encoding: .utf8) }
    }
    func names(_ dir: URL) -> Set<String> { Set((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []) }
    let gone = [
      ".zz-binfmtctl-qemu-aarch64.conf.tmp.\(dead)", ".zz-binfmtctl-qemu-aarch64.conf.tmp.\(reaped)",
      ".zz-binfmtctl-qemu-s390x.conf.tmp.\(dead)",
    ]
    let kept = [
      ".zz-binfmtctl-qemu-aarch64.conf.tmp.\(alive)", ".qemu-aarch64.conf.tmp.\(dead)",
      ".zz-binfmtctl-qemu-aarch64.conf.tmp.\(dead).swp", "zz-binfmtctl-qemu-aarch64.conf.tmp.\(dead)",
    ]
    try plant(binfmtD, gone + kept)
    try plant(units, [".binfmtctl.service.tmp.\(dead)", ".other.service.tmp.\(dead)"])

    let dry = try binfmtctl(
      "persist", "--root", image.path, "--no-register", "--init", "systemd", "aarch64", "--dry-run")
    #expect(dry.status == 0 && names(binfmtD).isSuperset(of: gone), "a dry run removes nothing")

    let p = try binfmtctl("persist", "--root", image.path, "--no-register", "--init", "systemd", "aarch64")
    #expect(p.status == 0, "\(p.stderr)")
    #expect(names(binfmtD) == Set(kept + ["zz-binfmtctl-qemu-aarch64.conf"]), "\(names(binfmtD))")
    #expect(
      names(units).contains(".other.service.tmp.\(dead)") && !names(units).contains(".binfmtctl.service.tmp.\(dead)"))
    #expect(
      p.stderr.contains(
        "binfmtctl: removed \(binfmtD.path)/.zz-binfmtctl-qemu-aarch64.conf.tmp.\(dead), left by an interrupted binfmtctl"
      ),
      "\(p.stderr)")

    // unpersist sweeps too: it leaves the directory as persist found it.
    try plant(binfmtD, [".zz-binfmtctl-qemu-aarch64.conf.tmp.\(dead)"])
    let u = try binfmtctl("unpersist", "--root", image.path, "--all")
    #expect(u.status == 0, "\(u.stderr)")
    #expect(names(binfmtD) == Set(kept), "\(names(binfmtD))")
  }
}
