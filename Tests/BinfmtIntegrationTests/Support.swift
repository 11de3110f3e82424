import Foundation
import Testing

/// Paths and process helpers shared by the integration tests.
enum Env {
  static let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static var fixtures: URL { packageRoot.appendingPathComponent(".fixtures/bin") }
  static var binary: String {
    ProcessInfo.processInfo.environment["BINFMTCTL"]
      ?? packageRoot.appendingPathComponent(".build/debug/binfmtctl").path
  }
  static let debianArchs = ["arm64", "armhf", "armel", "i386", "ppc64el", "s390x", "mips64el", "mipsel"]

  /// The real foreign binaries `make fixtures` downloads. Missing ones fail the test:
  /// run `make fixtures` (make test does).
  static func fixture(_ name: String) throws -> String {
    let p = fixtures.appendingPathComponent(name).path
    try #require(FileManager.default.fileExists(atPath: p), "missing fixture \(p): run `make fixtures`")
    return p
  }

  static func allFixtures() throws -> [String] {
    try debianArchs.map { try fixture("busybox-\($0)") } + [try fixture("hello-arm64"), try fixture("hello-armhf")]
  }
}

struct Run {
  var status: Int32
  var stdout: String
  var stderr: String
}

@discardableResult
func run(_ exe: String, _ args: [String], timeout: TimeInterval = 60) throws -> Run {
  let p = Process()
  p.executableURL = URL(fileURLWithPath: exe)
  p.arguments = args
  let out = Pipe()
  let err = Pipe()
  p.standardOutput = out
  p.standardError = err
  p.standardInput = FileHandle.nullDevice
  try p.run()
  // Read both pipes concurrently so a full pipe cannot stall the child.
  nonisolated(unsafe) var errData = Data()
  let group = DispatchGroup()
  group.enter()
  DispatchQueue.global().async {
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.leave()
  }
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  let deadline = Date().addingTimeInterval(timeout)
  while p.isRunning && Date() < deadline { usleep(2000) }
  if p.isRunning {
    p.terminate()
    Issue.record("\(exe) \(args) did not finish in \(timeout)s")
  }
  p.waitUntilExit()
  group.wait()
  return Run(
    status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
    stderr: String(decoding: errData, as: UTF8.self))
}

func binfmtctl(_ args: String..., timeout: TimeInterval = 60) throws -> Run {
  try run(Env.binary, args, timeout: timeout)
}

func json(_ s: String) throws -> Any {
  try JSONSerialization.jsonObject(with: Data(s.utf8))
}

func tempDir() throws -> URL {
  let u = FileManager.default.temporaryDirectory.appendingPathComponent("binfmtctl-test-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
  return u
}
