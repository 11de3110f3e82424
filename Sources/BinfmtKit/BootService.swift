/// The init system that will run things at the next boot.
public enum InitSystem: String, Sendable, CaseIterable {
  case systemd, openrc, wsl, none
}

/// Whether the kernel can provide binfmt_misc; the raw values are the JSON contract.
public enum KernelSupport: String, Sendable {
  /// Mounted, or listed in /proc/filesystems.
  case yes
  /// Not loaded, but a module that mount(2) would load is installed.
  case module
  case no
}

/// binfmtctl's boot service for the detected init system; the raw values are the JSON contract.
public enum BootServiceState: String, Sendable {
  case enabled, disabled, absent
}

/// Will the persisted entries come back at the next boot, and if not, what to do.
public struct BootServiceVerdict: Sendable, Equatable {
  public var state: BootServiceState
  public var firesAtBoot: Bool
  public var problem: Problem?

  /// `installed`: our unit/script/boot command is there; `linked`: it is enabled (the
  /// WantedBy or runlevel link; for WSL the boot command is both). `persistedFiles`: how many
  /// of our binfmt.d files there are.
  public static func decide(
    initSystem: InitSystem, installed: Bool, linked: Bool, persistedFiles: Int
  ) -> BootServiceVerdict {
    let state: BootServiceState =
      initSystem == .none || !installed ? .absent : (linked ? .enabled : .disabled)
    let fires: Bool
    switch initSystem {
    // systemd-binfmt applies /etc/binfmt.d by itself; the unit adds the reconcile.
    case .systemd: fires = persistedFiles > 0
    case .openrc, .wsl: fires = state == .enabled && persistedFiles > 0
    case .none: fires = false
    }
    var problem: Problem?
    if persistedFiles > 0 && state != .enabled {
      switch initSystem {
      case .none:
        problem = Problem(
          .bootServiceOff, entry: nil,
          "no init system binfmtctl knows (systemd, OpenRC, WSL) was found: persisted entries will not come back at boot",
          fix: "run `binfmtctl boot` at startup, or persist with --init systemd|openrc|wsl")
      case .systemd:
        problem = Problem(
          .bootServiceOff, entry: nil,
          "binfmtctl.service is \(state.rawValue): systemd-binfmt still applies the files at boot, without the reconcile",
          fix: "sudo binfmtctl persist")
      case .openrc, .wsl:
        problem = Problem(
          .bootServiceOff, entry: nil,
          "the \(initSystem.rawValue) boot service of binfmtctl is \(state.rawValue): persisted entries will not come back at boot",
          fix: "sudo binfmtctl persist")
      }
    }
    return BootServiceVerdict(state: state, firesAtBoot: fires, problem: problem)
  }
}
