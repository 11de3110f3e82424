import BinfmtKit
import Foundation
import Testing

/// The table lock: a held lock is named (PID and command, from the lock file) instead of
/// blocking without a word; `--wait` bounds the wait (exit 4 naming the holder); the bound is
/// checked as usage. The holder is a shell under flock(1) in the sandbox's private /run.
@Suite(.serialized) struct LockTests {
  /// Runs `commands` in the sandbox while a child holds /run/binfmtctl.lock for `hold`
  /// seconds, having written "PID persist" into it as binfmtctl does; `@holder=PID` is printed.
  func withHeldLock(hold: Int, _ commands: String) throws -> (Run, [String: String]) {
    let script = """
      B="$1"
      flock /run/binfmtctl.lock sh -c 'echo "$$ persist" > /run/binfmtctl.lock; echo $$ > /run/holder; exec sleep \(hold)' &
      while [ ! -s /run/holder ]; do sleep 0.05; done
      echo "@holder=$(cat /run/holder)"
      \(commands)
      wait
      """
    let r = try inSandbox(script, [Env.binary])
    var m: [String: String] = [:]
    for line in r.stdout.split(separator: "\n") where line.hasPrefix("@") {
      let kv = line.dropFirst().split(separator: "=", maxSplits: 1)
      m[String(kv[0])] = kv.count > 1 ? String(kv[1]) : ""
    }
    return (r, m)
  }

  /// Held for 3 s: `install` says once, after about a second, who it waits for, then does
  /// its work when the lock is free, and leaves its own PID and name in the lock file.
  @Test func waitsAndNamesTheHolder() throws {
    let (r, m) = try withHeldLock(
      hold: 3,
      """
      "$B" install arm64 --wait 20 >/dev/null 2>/run/err; echo "@install=$?"
      echo "@lines=$(grep -c 'waiting for the lock' /run/err)"
      echo "@file=$(cat /run/binfmtctl.lock)"
      cat /run/err >&2
      """)
    let holder = try #require(m["holder"], "\(r.stdout)\(r.stderr)")
    #expect(m["install"] == "0", "\(r.stderr)")
    #expect(
      r.stderr.contains("binfmtctl: waiting for the lock held by PID \(holder) (persist)"), "\(r.stderr)")
    #expect(m["lines"] == "1", "the waiting line is printed once")
    // Released, the lock file says nobody (a stale PID could be a new, unrelated process).
    #expect(m["file"] == "", "\(m)")
  }

  /// `--wait 1` gives up after about a second with exit 4, naming the holder and the fix;
  /// `--wait 0` at once; every changing command takes the option.
  @Test func boundedWaitExitsFourNamingTheHolder() throws {
    let (r, m) = try withHeldLock(
      hold: 20,
      """
      mount -t tmpfs lock-test /etc/binfmt.d || exit 77
      s=$(date +%s%N); "$B" uninstall --all --wait 1 2>/run/e1; echo "@uninstall=$?"; e=$(date +%s%N)
      echo "@ms=$(( (e - s) / 1000000 ))"
      s=$(date +%s%N); "$B" install arm64 --wait 0 2>/run/e2; echo "@install=$?"; e=$(date +%s%N)
      echo "@ms0=$(( (e - s) / 1000000 ))"
      "$B" enable arm64 --wait 0 2>/dev/null; echo "@enable=$?"
      "$B" disable arm64 --wait 0 2>/dev/null; echo "@disable=$?"
      "$B" persist arm64 --init none --wait 0 2>/dev/null; echo "@persist=$?"
      "$B" unpersist arm64 --wait 0 2>/dev/null; echo "@unpersist=$?"
      echo "@e1=$(tr '\\n' '|' < /run/e1)"
      echo "@e2=$(tr '\\n' '|' < /run/e2)"
      kill $(cat /run/holder)
      """)
    let holder = try #require(m["holder"], "\(r.stdout)\(r.stderr)")
    #expect(m["uninstall"] == "4", "\(r.stdout)")
    let ms = try #require(Int(m["ms"] ?? ""))
    #expect(ms >= 900 && ms < 3000, "--wait 1 took \(ms) ms")
    #expect(m["e1"]?.contains("PID \(holder) (persist)") == true, "\(m)")
    #expect(m["e1"]?.contains("binfmtctl: fix: ") == true && m["e1"]?.contains("--wait") == true, "\(m)")
    #expect(m["install"] == "4" && Int(m["ms0"] ?? "") ?? 9999 < 900, "\(m)")
    #expect(m["e2"]?.contains("PID \(holder) (persist)") == true, "\(m)")
    #expect(m["e2"]?.contains("waiting") == false, "--wait 0 does not wait: \(m)")
    for c in ["enable", "disable", "persist", "unpersist"] { #expect(m[c] == "4", "\(c): \(m)") }
  }

  /// Out-of-range and huge `--wait` values are usage errors (exit 2) that say the range;
  /// `boot` takes the option too. Run in the sandbox (and dry where there is a dry run), so a
  /// regression that accepted them could never change the host's table.
  @Test func waitIsBounded() throws {
    for args in [
      ["install", "arm64", "--dry-run", "--wait", "3601"], ["uninstall", "--all", "--dry-run", "--wait=-1"],
      ["persist", "arm64", "--dry-run", "--wait", "99999999999999999999"], ["boot", "--wait", "100000"],
      ["enable", "arm64", "--dry-run", "--wait", "1e9"], ["unpersist", "arm64", "--dry-run", "--wait", "3601"],
    ] {
      let r = try inSandbox(#"b="$1"; shift; "$b" "$@""#, [Env.binary] + args)
      #expect(r.status == 2, "\(args): \(r.status) \(r.stderr)")
      #expect(r.stderr.contains("--wait") && r.stderr.contains("3600"), "\(args): \(r.stderr)")
    }
    for c in ["install", "uninstall", "enable", "disable", "persist", "unpersist", "boot"] {
      let h = try binfmtctl(c, "--help")
      #expect(h.stdout.contains("--wait <seconds>"), "\(c) --help: \(h.stdout)")
    }
  }
}
