import BinfmtKit
import Foundation
import Testing

/// `persist --root IMAGE` and `unpersist --root IMAGE` resolve every path inside the image the
/// way chroot(2) (and `systemctl --root`) would: an absolute symlink starts again at the
/// image's root, `..` stops at it. A symlinked `/etc`, `/etc/binfmt.d` or `.wants` directory
/// therefore lands the files inside the image when its target exists there, and is refused
/// (exit 5, nothing written) when it leads nowhere inside; never is a file written or removed
/// outside the image.
///
/// Every escape points at `outside`, an empty directory of the test's own next to the image
/// (never the host's /etc), so a regression writes there and the test sees it.
@Suite(.serialized) struct RootConfinementTests {
  /// `base/d/img` (so `../../outside` from `img/etc` reaches `base/outside` on the host) and
  /// the empty `base/outside`.
  struct Layout {
    var base: URL
    var image: URL
    var outside: URL
    /// The image's path for the host path of `outside`: where chroot sends `etc -> outside`.
    var outsideInImage: URL { image.appendingPathComponent(outside.path) }
  }

  func makeLayout() throws -> Layout {
    let base = try tempDir()
    let image = base.appendingPathComponent("d/img")
    let outside = base.appendingPathComponent("outside")
    let fm = FileManager.default
    for d in ["usr/bin", "lib/systemd"] {
      try fm.createDirectory(at: image.appendingPathComponent(d), withIntermediateDirectories: true)
    }
    try fm.createDirectory(at: outside, withIntermediateDirectories: true)
    _ = fm.createFile(atPath: image.appendingPathComponent("lib/systemd/systemd").path, contents: Data())
    try fm.copyItem(
      atPath: "/usr/bin/qemu-aarch64-static", toPath: image.appendingPathComponent("usr/bin/qemu-aarch64-static").path)
    return Layout(base: base, image: image, outside: outside)
  }

  func symlink(_ at: URL, to target: String) throws {
    try FileManager.default.createDirectory(at: at.deletingLastPathComponent(), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(atPath: at.path, withDestinationPath: target)
  }

  func mkdir(_ at: URL) throws {
    try FileManager.default.createDirectory(at: at, withIntermediateDirectories: true)
  }

  /// Every file, symlink and directory under `dir`, never following a symlink: contents,
  /// link targets, or "dir".
  func tree(_ dir: URL) -> [String: String] {
    var out: [String: String] = [:]
    func walk(_ u: URL, _ rel: String) {
      for name in (try? FileManager.default.contentsOfDirectory(atPath: u.path)) ?? [] {
        let p = u.appendingPathComponent(name)
        let r = rel.isEmpty ? name : rel + "/" + name
        if let dest = try? FileManager.default.destinationOfSymbolicLink(atPath: p.path) {
          out[r] = "-> " + dest
        } else if (try? FileManager.default.attributesOfItem(atPath: p.path))?[.type] as? FileAttributeType
          == .typeDirectory
        {
          out[r] = "dir"
          walk(p, r)
        } else {
          out[r] = (try? String(contentsOf: p, encoding: .utf8)) ?? "<unreadable>"
        }
      }
    }
    walk(dir, "")
    return out
  }

  /// What a persist of aarch64 would have put in a directory, planted outside the image: an
  /// unpersist that follows the escape would remove it.
  func plantOurs(in dir: URL, binfmtD: Bool = false, unit: Bool = false, wantsLink: Bool = false) throws {
    let arm = Catalog.standard.resolve("aarch64")!
    if binfmtD {
      try Persistence.fileText(arm.registration(), architecture: arm).write(
        to: dir.appendingPathComponent(Persistence.fileName(entry: "qemu-aarch64")), atomically: false,
        encoding: .utf8)
    }
    if unit {
      try Units.systemdService(exec: Units.defaultExec).write(
        to: dir.appendingPathComponent(Units.systemdName), atomically: false, encoding: .utf8)
    }
    if wantsLink {
      try symlink(dir.appendingPathComponent(Units.systemdName), to: "/etc/systemd/system/" + Units.systemdName)
    }
  }

  func persist(_ l: Layout, _ initSystem: String = "systemd") throws -> Run {
    try binfmtctl("persist", "--root", l.image.path, "--no-register", "--init", initSystem, "aarch64")
  }

  func unpersistAll(_ l: Layout) throws -> Run {
    try binfmtctl("unpersist", "--root", l.image.path, "--all")
  }

  /// The files a systemd persist of aarch64 leaves, relative to the image's `/etc` as chroot
  /// resolves it.
  static let systemdFiles = [
    "binfmt.d/zz-binfmtctl-qemu-aarch64.conf", "systemd/system/binfmtctl.service",
    "systemd/system/sysinit.target.wants/binfmtctl.service",
  ]
  static let openrcFiles = ["init.d/binfmtctl", "runlevels/boot/binfmtctl"]

  /// `etc -> /abs/outside` with that directory present inside the image: chroot semantics,
  /// the files land in `img/abs/outside`; the host's `outside` stays empty, and unpersist
  /// leaves alone files of ours planted there.
  @Test func etcAbsoluteSymlinkResolvesInsideTheImage() throws {
    let l = try makeLayout()
    try symlink(l.image.appendingPathComponent("etc"), to: l.outside.path)
    try mkdir(l.outsideInImage)
    let p = try persist(l)
    #expect(p.status == 0, "\(p.stderr)")
    #expect(tree(l.outside).isEmpty, "persist wrote outside the image: \(tree(l.outside))")
    let inside = tree(l.outsideInImage)
    for f in Self.systemdFiles { #expect(inside[f] != nil, "\(f) not inside the image: \(inside.keys.sorted())") }
    #expect(
      inside["systemd/system/sysinit.target.wants/binfmtctl.service"] == "-> /etc/systemd/system/binfmtctl.service")
    let o = try persist(l, "openrc")
    #expect(o.status == 0, "\(o.stderr)")
    #expect(tree(l.outside).isEmpty)
    let openrc = tree(l.outsideInImage)
    for f in Self.openrcFiles { #expect(openrc[f] != nil, "\(f) not inside the image") }

    try plantOurs(in: l.outside, binfmtD: true, unit: true)
    let planted = tree(l.outside)
    let u = try unpersistAll(l)
    #expect(u.status == 0, "\(u.stderr)")
    #expect(tree(l.outside) == planted, "unpersist removed files outside the image")
    let left = tree(l.outsideInImage)
    for f in Self.systemdFiles + Self.openrcFiles { #expect(left[f] == nil, "\(f) was not removed") }
  }

  /// `etc -> /abs/outside` when the image has no such directory: the link leads nowhere
  /// inside, so persist refuses before its first write (exit 5) and names the link.
  @Test func etcAbsoluteSymlinkLeadingNowhereIsRefused() throws {
    let l = try makeLayout()
    try symlink(l.image.appendingPathComponent("etc"), to: l.outside.path)
    let before = tree(l.image)
    let p = try persist(l)
    #expect(p.status == 5, "\(p.stdout)\(p.stderr)")
    #expect(p.stderr.contains(l.image.path + "/etc") && p.stderr.contains("symlink"), "\(p.stderr)")
    #expect(tree(l.outside).isEmpty, "persist wrote outside the image: \(tree(l.outside))")
    #expect(tree(l.image) == before)

    try plantOurs(in: l.outside, binfmtD: true, unit: true)
    let planted = tree(l.outside)
    let u = try unpersistAll(l)
    #expect(u.status == 0, "\(u.stderr)")
    #expect(tree(l.outside) == planted, "unpersist removed files outside the image")
  }

  /// `etc -> ../../outside`: `..` stops at the image's root, as in chroot, so it is
  /// `img/outside`.
  @Test func etcRelativeSymlinkStopsAtTheImageRoot() throws {
    let l = try makeLayout()
    try symlink(l.image.appendingPathComponent("etc"), to: "../../outside")
    let inImage = l.image.appendingPathComponent("outside")
    try mkdir(inImage)
    for initSystem in ["systemd", "openrc"] {
      let p = try persist(l, initSystem)
      #expect(p.status == 0, "\(p.stderr)")
    }
    #expect(tree(l.outside).isEmpty, "persist wrote outside the image: \(tree(l.outside))")
    let inside = tree(inImage)
    for f in Self.systemdFiles + Self.openrcFiles { #expect(inside[f] != nil, "\(f) not inside the image") }

    try plantOurs(in: l.outside, binfmtD: true, unit: true)
    let planted = tree(l.outside)
    let u = try unpersistAll(l)
    #expect(u.status == 0, "\(u.stderr)")
    #expect(tree(l.outside) == planted, "unpersist removed files outside the image")
    #expect(tree(inImage).values.allSatisfy { $0 == "dir" }, "\(tree(inImage))")
  }

  /// `etc/binfmt.d -> /abs/outside`, nowhere inside: refused before any write (not even the
  /// unit); `etc/binfmt.d -> ../../../outside` lands in `img/outside`.
  @Test func binfmtDSymlinkOutside() throws {
    let l = try makeLayout()
    let link = l.image.appendingPathComponent("etc/binfmt.d")
    try symlink(link, to: l.outside.path)
    let before = tree(l.image)
    let p = try persist(l)
    #expect(p.status == 5, "\(p.stdout)\(p.stderr)")
    #expect(p.stderr.contains(link.path), "\(p.stderr)")
    #expect(tree(l.outside).isEmpty, "persist wrote outside the image: \(tree(l.outside))")
    #expect(tree(l.image) == before, "something was written before the refusal")

    try plantOurs(in: l.outside, binfmtD: true)
    let planted = tree(l.outside)
    let u = try unpersistAll(l)
    #expect(u.status == 0, "\(u.stderr)")
    #expect(tree(l.outside) == planted, "unpersist removed files outside the image")

    try FileManager.default.removeItem(at: link)
    try symlink(link, to: "../../../outside")
    try mkdir(l.image.appendingPathComponent("outside"))
    try FileManager.default.removeItem(at: l.outside)
    try mkdir(l.outside)
    let q = try persist(l)
    #expect(q.status == 0, "\(q.stderr)")
    #expect(tree(l.outside).isEmpty, "persist wrote outside the image: \(tree(l.outside))")
    #expect(tree(l.image.appendingPathComponent("outside")).keys.sorted() == ["zz-binfmtctl-qemu-aarch64.conf"])
    #expect(try unpersistAll(l).status == 0)
    #expect(tree(l.image.appendingPathComponent("outside")).isEmpty)
  }

  /// The `.wants` directory (and OpenRC's runlevel directory) pointing out of the image: the
  /// enabling link is never made outside; with the target present inside, it lands there.
  @Test func enablingLinkDirectorySymlinkOutside() throws {
    let l = try makeLayout()
    let wants = l.image.appendingPathComponent("etc/systemd/system/\(Units.wantedBy).wants")
    try symlink(wants, to: l.outside.path)
    let before = tree(l.image)
    let p = try persist(l)
    #expect(p.status == 5, "\(p.stdout)\(p.stderr)")
    #expect(p.stderr.contains(wants.path), "\(p.stderr)")
    #expect(tree(l.outside).isEmpty, "persist wrote outside the image: \(tree(l.outside))")
    #expect(tree(l.image) == before, "something was written before the refusal")

    // Present inside: the link lands there.
    try mkdir(l.outsideInImage)
    let q = try persist(l)
    #expect(q.status == 0, "\(q.stderr)")
    #expect(tree(l.outside).isEmpty)
    #expect(tree(l.outsideInImage) == [Units.systemdName: "-> /etc/systemd/system/\(Units.systemdName)"])

    // unpersist removes the one inside and leaves a planted one outside.
    try plantOurs(in: l.outside, wantsLink: true)
    let planted = tree(l.outside)
    let u = try unpersistAll(l)
    #expect(u.status == 0, "\(u.stderr)")
    #expect(tree(l.outside) == planted, "unpersist removed the link outside the image")
    #expect(tree(l.outsideInImage).isEmpty)

    // OpenRC's boot runlevel the same way.
    let boot = l.image.appendingPathComponent("etc/runlevels/boot")
    try symlink(boot, to: l.outside.path)
    let o = try persist(l, "openrc")
    #expect(o.status == 0, "\(o.stderr)")
    #expect(tree(l.outside) == planted, "persist wrote outside the image")
    #expect(tree(l.outsideInImage) == ["binfmtctl": "-> /etc/init.d/binfmtctl"])
    #expect(try unpersistAll(l).status == 0)
    #expect(tree(l.outside) == planted)
  }
}
