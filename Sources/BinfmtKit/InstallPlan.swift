/// Decides what `install` writes, before anything is written.
public enum InstallStep: Sendable, Equatable {
  /// The same definition is live and enabled: nothing to do.
  case unchanged(Registration)
  /// The same definition is live but disabled: enable it.
  case enable(Registration)
  /// Nothing serves this architecture yet.
  case register(Registration)
  /// `--replace`: remove these entries, then register.
  case replace(removing: [String], with: Registration)
  /// `--replace`: ours is live already; remove other entries that match the same architecture.
  case removeOthers([String], keeping: Registration)

  public var registration: Registration {
    switch self {
    case .unchanged(let r), .enable(let r), .register(let r), .replace(_, let r), .removeOthers(_, let r): return r
    }
  }
}

/// A live entry that stands in the way of one we want.
public struct InstallConflict: Sendable, Equatable {
  public var wanted: Registration
  public var existing: KernelEntryStatus
  /// "same name" or "also matches <arch>".
  public var reason: String
  /// One line per field that differs: `field: live → wanted`.
  public var differences: [String]
}

public struct InstallPlan: Sendable, Equatable {
  public var steps: [InstallStep]
  public var conflicts: [InstallConflict]

  /// Two definitions are the same when the kernel would treat them the same: flags compare
  /// as sets with C implying O, as the kernel stores them.
  public static func sameDefinition(_ a: Registration, _ b: Registration) -> Bool {
    a.name == b.name && a.match == b.match && a.interpreter == b.interpreter
      && normalized(a.flags) == normalized(b.flags)
  }

  static func normalized(_ f: BinfmtFlags) -> BinfmtFlags {
    f.contains(.credentials) ? f.union(.openBinary) : f
  }

  public static func differences(live: Registration, wanted: Registration) -> [String] {
    var d: [String] = []
    if live.name != wanted.name { d.append("name: \(live.name) → \(wanted.name)") }
    switch (live.match, wanted.match) {
    case (.magic(let lo, let lm, let lk), .magic(let wo, let wm, let wk)):
      if lo != wo { d.append("offset: \(lo) → \(wo)") }
      if lm != wm { d.append("magic: \(Hex.string(lm)) → \(Hex.string(wm))") }
      if lk != wk { d.append("mask: \(lk.map(Hex.string) ?? "none") → \(wk.map(Hex.string) ?? "none")") }
    case (.fileExtension(let l), .fileExtension(let w)):
      if l != w { d.append("extension: .\(l) → .\(w)") }
    default:
      d.append("type: \(live.match.typeLetter) → \(wanted.match.typeLetter)")
    }
    if live.interpreter != wanted.interpreter { d.append("interpreter: \(live.interpreter) → \(wanted.interpreter)") }
    if normalized(live.flags) != normalized(wanted.flags) {
      d.append("flags: \(live.flags.description.isEmpty ? "(none)" : live.flags.description) → \(wanted.flags)")
    }
    return d
  }

  /// `wanted`: one registration per architecture, in order. `live`: the table in kernel order.
  public static func make(
    wanted: [(arch: Architecture, registration: Registration)], live: [KernelEntryStatus], replace: Bool
  ) -> InstallPlan {
    var plan = InstallPlan(steps: [], conflicts: [])
    for (arch, reg) in wanted {
      let sameName = live.first { $0.name == reg.name }
      let ours = sameName.map { sameDefinition($0.registration, reg) } ?? false
      var blocking: [(KernelEntryStatus, String)] = []
      if let s = sameName, !ours { blocking.append((s, "has the same name")) }
      // Another entry for the same architecture takes its executables (or loses them to
      // ours, depending on order): either way two tools fight over them.
      for e in live where e.name != reg.name && e.registration.matches(arch) {
        blocking.append((e, "also matches \(arch.name) executables"))
      }
      if ours, let s = sameName {
        if blocking.isEmpty {
          plan.steps.append(s.enabled ? .unchanged(reg) : .enable(reg))
        } else if replace {
          plan.steps.append(.removeOthers(blocking.map(\.0.name), keeping: reg))
        } else {
          for (e, why) in blocking {
            plan.conflicts.append(
              InstallConflict(
                wanted: reg, existing: e, reason: why, differences: differences(live: e.registration, wanted: reg)))
          }
        }
        continue
      }
      if blocking.isEmpty {
        plan.steps.append(.register(reg))
      } else if replace {
        plan.steps.append(.replace(removing: blocking.map(\.0.name), with: reg))
      } else {
        for (e, why) in blocking {
          plan.conflicts.append(
            InstallConflict(
              wanted: reg, existing: e, reason: why,
              differences: differences(live: e.registration, wanted: reg)))
        }
      }
    }
    return plan
  }
}

extension Registration.Match {
  public var typeLetter: String {
    switch self {
    case .magic: return "M"
    case .fileExtension: return "E"
    }
  }
}

extension Registration {
  /// A name that can only mean an entry's file under binfmt_misc: not `register` or `status`,
  /// no `/`, not `.` or `..`.
  public static func isValidEntryName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && name != "register" && name != "status"
      && !name.contains("/") && name.utf8.count <= maxNameLength
  }
}
