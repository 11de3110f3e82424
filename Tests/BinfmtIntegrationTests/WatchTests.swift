import BinfmtKit
import Foundation
import Testing

/// `watch` and the only-mount refusal against the real kernel, each in a private binfmt_misc
/// instance (scripts/binfmt-sandbox.sh).
@Suite(.serialized) struct WatchTests {
  let live = LiveTests()

  /// Flushed, the table is back within the interval; SIGHUP re-checks at once; SIGTERM ends
  /// it with status 0 at once; one line per action.
  @Test func watchRestoresReactsToSIGHUPAndStopsOnSIGTERM() throws {
    let r = try live.sandboxed(
      """
      log=$(mktemp)
      "$B" watch arm64 s390x --interval 2 > "$log" 2>/dev/null &
      p=$!
      for i in $(seq 50); do [ -e /proc/sys/fs/binfmt_misc/qemu-s390x ] && break; sleep 0.1; done
      echo "@started=$(ls /proc/sys/fs/binfmt_misc | grep -c qemu-)"
      echo -1 > /proc/sys/fs/binfmt_misc/status
      t0=$(date +%s%N)
      for i in $(seq 40); do [ -e /proc/sys/fs/binfmt_misc/qemu-s390x ] && break; sleep 0.1; done
      echo "@restored-ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
      echo "@restored=$(ls /proc/sys/fs/binfmt_misc | grep -c qemu-)"
      sleep 0.5
      echo 0 > /proc/sys/fs/binfmt_misc/qemu-aarch64
      kill -HUP $p
      for i in $(seq 20); do grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 && break; sleep 0.05; done
      echo "@after-hup=$(head -n 1 /proc/sys/fs/binfmt_misc/qemu-aarch64)"
      t0=$(date +%s%N)
      kill -TERM $p; wait $p; echo "@rc=$?"
      echo "@stop-ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
      echo "@lines=$(grep -c . "$log")"
      grep -q 'SIGHUP: checking now' "$log" && echo "@hup-logged=yes"
      grep -q 'enabled (was disabled) qemu-aarch64' "$log" && echo "@enable-logged=yes"
      tail -n 1 "$log" | grep -q 'SIGTERM: exiting' && echo "@term-logged=yes"
      "$B" watch arm64 --interval 0 2>/dev/null; echo "@zero=$?"
      """)
    let m = live.marks(r)
    #expect(m["started"] == "2", "\(r.stdout)\(r.stderr)")
    #expect(m["restored"] == "2", "\(r.stdout)")
    #expect((Int(m["restored-ms"] ?? "") ?? 99_999) <= 2_500, "\(r.stdout)")
    #expect(m["after-hup"] == "enabled", "\(r.stdout)")
    #expect(m["hup-logged"] == "yes" && m["enable-logged"] == "yes" && m["term-logged"] == "yes", "\(r.stdout)")
    #expect(m["rc"] == "0")
    #expect((Int(m["stop-ms"] ?? "") ?? 99_999) < 1_000, "\(r.stdout)")
    // start, 2 installed, 2 re-installed after the flush, SIGHUP, 1 enabled, SIGTERM.
    #expect(m["lines"] == "8", "\(r.stdout)")
    #expect(m["zero"] == "2")
  }

  /// As the init of its own pid and mount namespace (a container's ENTRYPOINT) with nothing
  /// else mounting the instance, install refuses and leaves nothing; --ephemeral registers,
  /// and the entries are gone once it exits, as the kernel drops an instance with its last
  /// mount. With a mount outside (the host's), the same install succeeds and lasts.
  @Test func onlyMountAsContainerInit() throws {
    let r = try live.sandboxed(
      """
      bm=/proc/sys/fs/binfmt_misc
      unshare --pid --fork --mount "$B" install arm64 2>"$TMPDIR/err"; echo "@refused=$?"
      grep -q 'nothing registered' "$TMPDIR/err" && grep -q 'sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc' "$TMPDIR/err" && echo "@fix=yes"
      unshare --pid --fork --mount "$B" install arm64 --ephemeral >/dev/null 2>&1; echo "@ephemeral=$?"
      mount -t binfmt_misc binfmt_misc $bm
      echo "@left=$(ls -A $bm | tr '\\n' ' ')"
      unshare --pid --fork --mount "$B" install arm64 >/dev/null 2>&1; echo "@with-host-mount=$?"
      echo "@kept=$(ls $bm | grep -c qemu-)"
      umount $bm
      unshare --pid --fork --mount "$B" status > "$TMPDIR/status"; echo "@status=$?"
      grep -q 'no mount outside this container keeps the instance' "$TMPDIR/status" && echo "@status-says=yes"
      """, env: ["BINFMT_SANDBOX_NO_MOUNT": "1", "TMPDIR": "/tmp"])
    let m = live.marks(r)
    #expect(m["refused"] == "4", "\(r.stdout)\(r.stderr)")
    #expect(m["fix"] == "yes", "\(r.stdout)")
    #expect(m["ephemeral"] == "0", "\(r.stdout)")
    #expect(m["left"] == "register status ", "\(r.stdout)")
    #expect(m["with-host-mount"] == "0" && m["kept"] == "1", "\(r.stdout)")
    #expect(m["status"] == "1" && m["status-says"] == "yes", "\(r.stdout)")
  }

  /// tonistiigi/binfmt's arguments, as buildx's kubernetes driver passes them: the same plan
  /// as install's own (dry: nothing is read but the table, nothing written).
  @Test func tonistiigiArgumentsMeanInstall() throws {
    let list = try binfmtctl("--install", "arm64,s390x", "--dry-run", "--host-machine", "x86_64")
    let own = try binfmtctl("install", "arm64", "s390x", "--dry-run", "--host-machine", "x86_64")
    #expect(list.status == 0 && list.stdout == own.stdout, "\(list.stdout)\(list.stderr)")
    #expect(list.stdout.contains("aarch64: would be installed") && list.stdout.contains("s390x: would be installed"))
    let all = try binfmtctl("--install=all", "--dry-run", "--json", "--host-machine", "x86_64")
    let ownAll = try binfmtctl("install", "--all", "--dry-run", "--json", "--host-machine", "x86_64")
    #expect(all.status == ownAll.status && all.stdout == ownAll.stdout)
    let un = try binfmtctl("--uninstall", "arm64", "--dry-run")
    #expect(un.status == 0, "\(un.stderr)")
  }
}
