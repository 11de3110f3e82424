/// What is at a path, without following a final symlink (read by the system layer).
public enum FileNode: Equatable, Sendable {
  case absent
  case symlink(to: String)
  case file(String)
  case other
}

/// One change to a file or link that persist/unpersist makes, planned before any is made.
public struct FileChange: Sendable, Equatable {
  public enum Kind: Sendable, Equatable {
    case keep
    case write(String, mode: UInt32)
    case symlink(String)
    case remove
    case removeSymlink(String)
  }
  /// What the report says; the raw values are the JSON contract.
  public enum Verb: String, Sendable {
    case write, unchanged, update, link, remove, unlink
  }
  /// Absolute, inside the system root.
  public var path: String
  public var kind: Kind
  public var verb: Verb
  public init(path: String, kind: Kind, verb: Verb) {
    self.path = path
    self.kind = kind
    self.verb = verb
  }
}

/// The rules that turn "this should be there" plus "this is there" into a change or a refusal.
public enum FilePlan {
  /// A file binfmtctl owns (a unit, an OpenRC script): written when absent, updated when
  /// ours and different, refused when someone else's.
  public static func ownFile(
    _ path: String, text: String, mode: UInt32, existing: FileNode, isOurs: (String) -> Bool
  ) throws(BinfmtError) -> FileChange {
    switch existing {
    case .absent: return FileChange(path: path, kind: .write(text, mode: mode), verb: .write)
    case .file(let old) where old == text: return FileChange(path: path, kind: .keep, verb: .unchanged)
    case .file(let old) where isOurs(old): return FileChange(path: path, kind: .write(text, mode: mode), verb: .update)
    default:
      throw BinfmtError(.conflict, "exists and was not written by binfmtctl; refusing to replace it", at: path)
    }
  }

  /// A persisted binfmt.d file: like `ownFile`, but a different definition of ours needs
  /// `replace`, and a mask is named as one.
  public static func persistedEntry(
    _ path: String, text: String, existing: FileNode, replace: Bool
  ) throws(BinfmtError) -> FileChange {
    switch existing {
    case .absent:
      return FileChange(path: path, kind: .write(text, mode: 0o644), verb: .write)
    case .file(let old) where old == text:
      return FileChange(path: path, kind: .keep, verb: .unchanged)
    case .file(let old) where Persistence.isOurs(old):
      guard replace else {
        throw BinfmtError(
          .conflict, "already persisted with another definition", at: path,
          fix: "add --replace to persist the new one (binfmtctl status shows both)")
      }
      return FileChange(path: path, kind: .write(text, mode: 0o644), verb: .update)
    case .symlink(let to) where to == "/dev/null":
      throw BinfmtError(
        .conflict, "is masked (a symlink to /dev/null); refusing to unmask it", at: path,
        fix: "remove the mask if it is not wanted: rm \(path)")
    default:
      throw BinfmtError(
        .conflict, "exists and was not written by binfmtctl; refusing to replace it", at: path,
        fix: "move it away, then persist again")
    }
  }

  /// An enabling symlink (`systemctl enable`, `rc-update add`).
  public static func link(_ path: String, to target: String, existing: FileNode) throws(BinfmtError) -> FileChange {
    switch existing {
    case .absent: return FileChange(path: path, kind: .symlink(target), verb: .link)
    case .symlink(let to) where to == target: return FileChange(path: path, kind: .keep, verb: .unchanged)
    default: throw BinfmtError(.conflict, "exists and is not a symlink to \(target)", at: path)
    }
  }
}
