import Testing

@testable import BinfmtKit

/// When entries registered through binfmtctl's own mount would vanish, and what status says.
struct MountLifetimeTests {
  let host = ContainerFacts(isPID1: false, markers: [])
  let entrypoint = ContainerFacts(isPID1: true, markers: ["/run/.containerenv"])
  let exec = ContainerFacts(isPID1: false, markers: ["/.dockerenv"])

  @Test func anotherMountKeepsTheEntries() {
    for c in [host, entrypoint, exec] {
      #expect(MountLifetime.decide(newInstance: false, container: c) == .lasting)
    }
  }

  @Test func aNewInstanceLastsAsLongAsItsMountNamespace() {
    // On a host the mount stays in the host's namespace after binfmtctl exits.
    #expect(MountLifetime.decide(newInstance: true, container: host) == .lasting)
    #expect(MountLifetime.decide(newInstance: true, container: exec) == .untilContainerStops)
    #expect(MountLifetime.decide(newInstance: true, container: entrypoint) == .untilExit)
    // pid 1 of a pid namespace without markers (unshare --pid --fork) is a container too.
    #expect(MountLifetime.decide(newInstance: true, container: ContainerFacts(isPID1: true, markers: [])) == .untilExit)
  }

  @Test func statusReportsOnlyMountInsteadOfNotMounted() {
    let report = TableAnalysis.analyze(
      mounted: true, enabled: true, entries: [],
      facts: { _ in InterpreterFacts(exists: true, executable: true, isStatic: true) }, catalog: .standard,
      hostMachine: "x86_64", onlyMount: true)
    #expect(report.problems.map(\.code) == [.onlyMount])
    #expect(report.problems[0].fix?.contains("sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc") == true)
    let plain = TableAnalysis.analyze(
      mounted: false, enabled: false, entries: [],
      facts: { _ in InterpreterFacts(exists: true, executable: true, isStatic: true) }, catalog: .standard,
      hostMachine: "x86_64")
    #expect(plain.problems.map(\.code) == [.notMounted])
  }
}
