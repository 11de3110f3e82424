import BinfmtEngine
import BinfmtKit
import Foundation
import LinuxSystem
import SystemPackage
import Testing

/// The table lock in one process: flock(2) locks belong to the open file, so a second
/// TableLock on the same file waits for the first like another process would.
@Suite(.serialized) struct TableLockTests {
  func lockFile(_ root: TestRoot) -> String? { root.read("/run/binfmtctl.lock") }

  @Test func holderWritesItselfAndReleaseClears() throws {
    let root = try TestRoot()
    do {
      let lock = try TableLock(paths: root.paths, wait: LockWait(seconds: 0, command: "persist")) { _ in }
      #expect(lockFile(root) == "\(getpid()) persist\n")
      _ = consume lock
    }
    #expect(lockFile(root) == "")
  }

  @Test func heldLockFailsAtOnceWithWaitZeroNamingTheHolder() throws {
    let root = try TestRoot()
    let held = try TableLock(paths: root.paths, wait: LockWait(seconds: 0, command: "install")) { _ in }
    var noticed = false
    let start = Date()
    do {
      _ = try TableLock(paths: root.paths, wait: LockWait(seconds: 0, command: "boot")) { _ in noticed = true }
      Issue.record("took a held lock")
    } catch {
      #expect(error.kind == .system)
      #expect(error.message == "the lock is held by PID \(getpid()) (install) (--wait 0)", "\(error)")
      #expect(error.fix?.contains("kill \(getpid())") == true && error.fix?.contains("--wait") == true)
    }
    #expect(!noticed && Date().timeIntervalSince(start) < 0.5)
    _ = consume held
  }

  /// Still held after the notice time: `waiting` is called once, with the holder; the wait
  /// ends at the bound.
  @Test func boundedWaitNoticesOnceAndGivesUp() throws {
    let root = try TestRoot()
    let held = try TableLock(paths: root.paths, wait: LockWait(command: "persist")) { _ in }
    var notices: [LockHolder?] = []
    let start = Date()
    do {
      _ = try TableLock(paths: root.paths, wait: LockWait(seconds: 2, command: "boot")) { notices.append($0) }
      Issue.record("took a held lock")
    } catch {
      #expect(error.message == "the lock is still held by PID \(getpid()) (persist) after 2 s", "\(error)")
    }
    let took = Date().timeIntervalSince(start)
    #expect(took >= 2 && took < 3, "\(took)")
    #expect(notices == [LockHolder(pid: getpid(), command: "persist")])
    _ = consume held
  }

  /// A lock file another program wrote, or a holder that is gone: the wait says "another
  /// process" rather than a wrong PID.
  @Test func garbageOrDeadHolderIsAnotherProcess() throws {
    let root = try TestRoot()
    let held = try TableLock(paths: root.paths, wait: LockWait(command: "persist")) { _ in }
    let max = try String(contentsOfFile: "/proc/sys/kernel/pid_max", encoding: .utf8)
    let dead = Int(max.trimmingCharacters(in: .whitespacesAndNewlines))! + 1
    for text in ["garbage\u{0}\u{1}", "", "\(dead) persist\n", "12 rm -rf /\n"] {
      try root.write("/run/binfmtctl.lock", text, mode: 0o600)
      do {
        _ = try TableLock(paths: root.paths, wait: LockWait(seconds: 0)) { _ in }
        Issue.record("took a held lock")
      } catch {
        #expect(error.message == "the lock is held by another process (--wait 0)", "\(text): \(error)")
      }
    }
    _ = consume held
  }

  @Test func holderText() {
    #expect(LockHolder.parse(Array("1234 persist\n".utf8)) == LockHolder(pid: 1234, command: "persist"))
    #expect(LockHolder.parse(Array("7 boot".utf8)) == LockHolder(pid: 7, command: "boot"))
    for bad in ["", "\n", "persist", "0 x", "01 x", "-1 x", "1 ", "1  x", "1 x y", "99999999999 x", "1 x\n\n", "1 ü"] {
      #expect(LockHolder.parse(Array(bad.utf8)) == nil, "\(bad)")
    }
  }

  /// `boot` gives up on the lock well before systemd would kill it.
  @Test func bootWaitIsInsideTheUnitTimeout() {
    #expect(Units.systemdService(exec: "/x").contains("TimeoutStartSec=\(Units.startTimeoutSeconds)s\n"))
    #expect(Units.bootLockWait * 2 <= Units.startTimeoutSeconds)
  }

  /// The engine's lock: the context's wait and command, and one note while waiting.
  @Test func contextLockNotesTheWait() throws {
    let root = try TestRoot()
    let held = try TableLock(paths: root.paths, wait: LockWait(command: "persist")) { _ in }
    var ctx = root.context()
    ctx.lockWait = LockWait(seconds: 2, command: "install")
    #expect(throws: BinfmtError.self) { _ = try ctx.lockTable() }
    #expect(root.stderr == "binfmtctl: waiting for the lock held by PID \(getpid()) (persist), up to 2 s\n")
    _ = consume held
  }
}
