/// Where binfmtctl runs, as far as the mount of binfmt_misc is concerned: gathered by
/// `ContainerFacts.detect` (LinuxSystem), decided on here.
public struct ContainerFacts: Sendable, Equatable {
  /// This process is pid 1 of its pid namespace: a container's ENTRYPOINT (`podman run IMAGE
  /// install`), whose exit ends the container and its mount namespace.
  public var isPID1: Bool
  /// What says "inside a container": `/.dockerenv`, `/run/.containerenv`, `$container`.
  public var markers: [String]

  public init(isPID1: Bool, markers: [String]) {
    self.isPID1 = isPID1
    self.markers = markers
  }

  /// Inside a container, or the init of a pid namespace (which is what a container is).
  public var inContainer: Bool { isPID1 || !markers.isEmpty }
}

/// How long entries registered now will stay, judged from the mount binfmtctl had to make.
public enum MountLifetime: String, Sendable, Equatable {
  /// binfmt_misc was mounted already, or another mount keeps the instance: they stay.
  case lasting
  /// Our mount is the instance's only one and lives in this container's mount namespace:
  /// the entries go when the container stops (binfmtctl is not its init, e.g. `exec`).
  case untilContainerStops = "until-container-stops"
  /// Our mount is the only one, and this process is its container's init: the entries go
  /// when binfmtctl exits.
  case untilExit = "until-exit"

  /// `newInstance`: binfmtctl's mount created the instance (no other mount of it existed).
  /// On a host (not pid 1, no container marker) the mount stays in the host's namespace.
  public static func decide(newInstance: Bool, container: ContainerFacts) -> MountLifetime {
    guard newInstance else { return .lasting }
    if container.isPID1 { return .untilExit }
    return container.inContainer ? .untilContainerStops : .lasting
  }

  /// The one text for the `only-mount` problem, install's refusal and watch's warning.
  public static let onlyMountMessage =
    "binfmtctl had to mount binfmt_misc here and no mount outside this container keeps the instance: the kernel drops every entry when its last mount goes, that is, when this container stops"
  /// How to keep them: a mount of the instance outside the container (the host's own, or
  /// its automount triggered), then run it again.
  public static let keepFix =
    "on the host: sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc, then run this container again"
}

extension Problem {
  /// `status`/`doctor`: the instance has no mount outside this container.
  public static var onlyMount: Problem {
    Problem(.onlyMount, entry: nil, MountLifetime.onlyMountMessage, fix: MountLifetime.keepFix)
  }
}
