import Foundation
import Testing

/// `make run` (scripts/demo.sh) with the built binary: foreign busyboxes refused, then run
/// through qemu in the private binfmt_misc, every probe works, and the real-host commands end
/// the output.
@Suite struct DemoTests {
  @Test func demoRunsForeignBusyboxesInAPrivateInstance() throws {
    _ = try Env.allFixtures()
    let release = ProcessInfo.processInfo.environment["BINFMTCTL_RELEASE"] ?? Env.binary
    let demo = Env.packageRoot.appendingPathComponent("scripts/demo.sh").path
    let started = Date()
    let r = try run("/usr/bin/env", ["BIN=\(release)", demo], timeout: 120)
    try #require(r.status != 77 && r.status != 78, "no private binfmt_misc sandbox: \(r.stderr)")
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("$ ./busybox-arm64 uname -m\n") && r.stderr.contains("Exec format error"), "\(r.stderr)")
    for machine in ["aarch64", "armv7l", "s390x", "ppc64le", "mips64"] {
      #expect(r.stdout.contains("uname -m\n\(machine)\n"), "\(machine)")
    }
    let probes = r.stdout.split(separator: "\n").filter { $0.contains("exit 42 as expected") }
    #expect(probes.count == 5 && probes.allSatisfy { $0.contains(" works ") }, "\(probes)")
    #expect(r.stdout.contains("[loader-missing]"))
    #expect(r.stdout.hasSuffix("binfmtctl status && binfmtctl probe        # check\n"))
    #expect(
      r.stdout.contains("  sudo binfmtctl install --all ") && r.stdout.contains("  sudo binfmtctl persist --all "))
    #expect(Date().timeIntervalSince(started) < 30)
  }
}
