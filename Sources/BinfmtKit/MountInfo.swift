/// One line of /proc/self/mountinfo (proc(5)): where a file system is mounted and with which
/// per-mount options.
public struct MountInfoEntry: Sendable, Equatable {
  public var mountPoint: String
  public var options: [String]
  public var fsType: String
  public var source: String

  public var noexec: Bool { options.contains("noexec") }
  public var nosuid: Bool { options.contains("nosuid") }
}

public enum MountInfo {
  /// Every line that has the fields it should; others are skipped. Mount points are
  /// unescaped (`\040` is a blank) back to their bytes.
  public static func parse(_ bytes: [UInt8]) -> [MountInfoEntry] {
    var out: [MountInfoEntry] = []
    for line in bytes.split(separator: UInt8(ascii: "\n")) {
      let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
      guard fields.count >= 10, let dash = fields.firstIndex(where: { $0.elementsEqual([UInt8(ascii: "-")]) }),
        dash >= 6, dash + 2 < fields.count
      else { continue }
      out.append(
        MountInfoEntry(
          mountPoint: PathBytes.string(unescape(fields[4])),
          options: fields[5].split(separator: UInt8(ascii: ",")).map { String(decoding: $0, as: UTF8.self) },
          fsType: String(decoding: fields[dash + 1], as: UTF8.self),
          source: String(decoding: fields[dash + 2], as: UTF8.self)))
    }
    return out
  }

  /// The mount `path` (absolute, symlinks already resolved) is on: the longest mount point
  /// that contains it, the later line when two are equal (a mount on top of another).
  public static func mount(containing path: String, in entries: [MountInfoEntry]) -> MountInfoEntry? {
    var best: MountInfoEntry?
    for e in entries {
      let m = e.mountPoint
      let inside = m == "/" || path == m || path.hasPrefix(m.hasSuffix("/") ? m : m + "/")
      guard inside else { continue }
      if m.utf8.count >= (best?.mountPoint.utf8.count ?? -1) { best = e }
    }
    return best
  }

  /// The kernel writes blank, tab, newline and backslash as three octal digits.
  static func unescape(_ field: ArraySlice<UInt8>) -> [UInt8] {
    var out: [UInt8] = []
    var i = field.startIndex
    while i < field.endIndex {
      if field[i] == UInt8(ascii: "\\"), field.endIndex - i >= 4 {
        let d = field[(i + 1)...(i + 3)]
        if d.allSatisfy({ $0 >= 0x30 && $0 <= 0x37 }) {
          out.append(d.reduce(0) { $0 &* 8 &+ ($1 - 0x30) })
          i += 4
          continue
        }
      }
      out.append(field[i])
      i += 1
    }
    return out
  }
}
