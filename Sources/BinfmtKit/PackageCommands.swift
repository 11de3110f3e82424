/// The distribution's package manager, from os-release(5) `ID` and `ID_LIKE`, and the exact
/// commands that install what a fix needs.
public enum PackageManager: String, Sendable, Equatable, CaseIterable {
  case apt, dnf, pacman, zypper, apk

  /// `ID` first, then each `ID_LIKE` word; nil when none is known.
  public static func detect(osRelease: [UInt8]) -> PackageManager? {
    let fields = OSRelease.parse(osRelease)
    let ids = [fields.id] + fields.idLike
    for id in ids {
      switch id {
      case "debian", "ubuntu", "raspbian", "linuxmint", "pop", "kali", "devuan": return .apt
      case "fedora", "rhel", "centos", "rocky", "almalinux", "amzn", "ol": return .dnf
      case "arch", "manjaro", "endeavouros", "artix": return .pacman
      case "opensuse", "opensuse-leap", "opensuse-tumbleweed", "suse", "sles": return .zypper
      case "alpine", "postmarketos": return .apk
      default: continue
      }
    }
    return nil
  }

  /// The command that installs qemu-user emulators (for `target`, a qemu target name, on
  /// distributions that package them one by one).
  public func installEmulator(target: String) -> String {
    switch self {
    case .apt: return "sudo apt-get install -y qemu-user-static"
    case .dnf: return "sudo dnf install -y qemu-user-static"
    case .pacman: return "sudo pacman -S --noconfirm qemu-user-static"
    case .zypper: return "sudo zypper install -y qemu-linux-user"
    case .apk: return "sudo apk add qemu-\(target)"
    }
  }

  /// Commands that put the C library (and its loader) of a foreign Debian architecture on
  /// this host, or nil where the distribution has no such package.
  public func installForeignLibc(debianArch: String?) -> [String]? {
    guard self == .apt, let arch = debianArch else { return nil }
    return [
      "sudo dpkg --add-architecture \(arch)", "sudo apt-get update", "sudo apt-get install -y libc6:\(arch)",
    ]
  }

  /// The package command for an unknown distribution: the hint every command already prints.
  public static func emulatorHint(_ pm: PackageManager?, target: String) -> String {
    pm?.installEmulator(target: target) ?? "install qemu-user-static (\(Hint.installQemuUserStatic))"
  }
}

/// The two os-release fields the package choice needs.
public struct OSRelease: Sendable, Equatable {
  public var id: String
  public var idLike: [String]

  /// `KEY=value` lines, values optionally in single or double quotes; `#` comments.
  public static func parse(_ bytes: [UInt8]) -> OSRelease {
    var r = OSRelease(id: "linux", idLike: [])
    for line in bytes.split(separator: UInt8(ascii: "\n")) {
      guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
      let key = String(decoding: line[..<eq], as: UTF8.self)
      var value = Array(line[(eq + 1)...])
      while value.last == 13 || value.last == 32 { value.removeLast() }
      if value.count >= 2, let q = value.first, q == UInt8(ascii: "\"") || q == UInt8(ascii: "'"), value.last == q {
        value = Array(value.dropFirst().dropLast())
      }
      let text = String(decoding: value, as: UTF8.self)
      switch key {
      case "ID": r.id = text
      case "ID_LIKE": r.idLike = text.split(separator: " ").map(String.init)
      default: break
      }
    }
    return r
  }
}
