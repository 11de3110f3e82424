import ArgumentParser
import BinfmtKit
import LinuxSystem

struct Emulators: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List the qemu-user emulators installed: version, static or not, architectures, P support.",
    discussion: "Exit status: 0 when at least one emulator was found, 3 when none was.")

  @Option(help: "Also look in this directory (repeatable).") var qemuDir: [String] = []
  @Option(help: "Also report this emulator file (for one architecture: --arch).") var emulator: String?
  @Option(help: "The architecture --emulator runs.") var arch: String?
  @Flag(help: "Print JSON on stdout.") var json = false

  func validate() throws {
    if (emulator == nil) != (arch == nil) { throw ValidationError("--emulator and --arch go together") }
  }

  func run() throws {
    let facts = SystemFacts(paths: SystemPaths())
    var list = EmulatorDiscovery.discover(facts: facts, extraDirectories: qemuDir)
    if let emulator, let arch {
      guard let a = facts.catalog.resolve(arch) else {
        _ = try facts.catalog.resolve(names: [arch])
        return
      }
      let f = facts.interpreter(emulator)
      guard f.exists else { throw BinfmtError(.notFound, "no such file", at: emulator) }
      guard f.executable else { throw BinfmtError(.invalidInput, "not an executable file", at: emulator) }
      list.insert(
        Emulator(target: a.qemuTarget, path: emulator, resolved: emulator, isStatic: f.isStatic, isBinfmtPWrapper: false, version: nil),
        at: 0)
    }
    // One --version per distinct file (wrappers and -static names often share one).
    var versions: [String: String?] = [:]
    for i in list.indices {
      let key = list[i].resolved
      if versions[key] == nil { versions[key] = .some(EmulatorDiscovery.version(of: list[i], facts: facts)) }
      list[i].version = versions[key] ?? nil
    }
    Output.stdout(Output.render(list, catalog: facts.catalog, as: json ? .json : .text))
    if list.isEmpty {
      throw BinfmtError(
        .notFound, "no qemu-user emulator found", at: "emulators",
        fix: "Debian/Ubuntu: apt install qemu-user-static; Fedora: dnf install qemu-user-static; Arch: pacman -S qemu-user-static")
    }
  }
}

extension Output {
  static func render(_ list: [Emulator], catalog: Catalog, as format: OutputFormat) -> String {
    switch format {
    case .json:
      return JSON.array(
        list.map { e in
          .object([
            "target": .string(e.target), "path": .string(e.path), "resolved": .string(e.resolved),
            "static": e.isStatic.map(JSON.bool) ?? .null, "version": .optional(e.version),
            "binfmtPWrapper": .bool(e.isBinfmtPWrapper), "preserveArgv0": .string(e.preserveArgv0),
            "architectures": .array(e.architectures(catalog).map { .string($0.name) }),
          ])
        }
      ).render() + "\n"
    case .text:
      var rows = [["TARGET", "PATH", "LINKAGE", "VERSION", "P", "ARCHITECTURES"]]
      for e in list {
        rows.append([
          e.target, e.path == e.resolved ? e.path : "\(e.path) -> \(e.resolved)",
          e.isStatic.map { $0 ? "static" : "dynamic" } ?? "?",
          e.version.map { String($0.split(separator: " ").first ?? "") } ?? "?",
          e.preserveArgv0.hasPrefix("yes") ? "yes" : (e.preserveArgv0.hasPrefix("no") ? "no" : "?"),
          e.architectures(catalog).map(\.name).joined(separator: ","),
        ])
      }
      return list.isEmpty ? "" : table(rows)
    }
  }
}
