import BinfmtKit
import Foundation
import LinuxSystem
import SystemPackage
import Testing

@Suite struct AtomicFileTests {
  /// At the moment a crash would hurt most (new text fsynced in the temp file, not yet
  /// renamed), the target still holds the old text whole.
  @Test func oldFileIsWholeUntilTheRename() throws {
    let root = try TestRoot()
    let target = root.path("/etc/binfmt.d/x.conf")
    try AtomicFile.makeDirectories(target.removingLastComponent())
    try AtomicFile.write("old\n", to: target)
    var seen: (target: String, temp: String)?
    try AtomicFile.write("new\n", to: target) { tmp in
      seen = (root.read(target) ?? "<none>", root.read(tmp) ?? "<none>")
    }
    #expect(seen?.target == "old\n")
    #expect(seen?.temp == "new\n")
    #expect(root.read(target) == "new\n")
    #expect(root.names("/etc/binfmt.d") == ["x.conf"], "the temp file is gone after the rename")
  }
}
