import BinfmtKit
import LinuxSystem

/// Inside a container (`podman run --privileged IMAGE status`) /proc is new and binfmt_misc
/// is not mounted in it, though the host's instance is live. As root and the container's init
/// (pid 1: the image's ENTRYPOINT), `status`, `probe` and `uninstall` mount it for the time
/// they run and take that mount away again when this value goes, leaving the container's
/// mounts as they were. Anywhere else nothing is mounted (container markers alone do not
/// count: a host that is itself a container would have its own table mounted and unmounted):
/// those commands only read (and say "not mounted").
struct ContainerMount: ~Copyable {
  let table: BinfmtMisc
  /// This value mounted it (and unmounts it).
  let mountedHere: Bool
  /// The mount made a new instance: nothing outside this container has binfmt_misc mounted,
  /// so the table is empty and what is registered now goes with this mount (`only-mount`).
  let newInstance: Bool

  /// `enabled` false: does nothing (the caller does not want a mount now).
  init(_ context: EngineContext, enabled: Bool = true) {
    table = BinfmtMisc(paths: context.paths)
    var mounted = false
    var fresh = false
    if enabled && !table.isMounted && CurrentProcess.isRoot && context.container.isPID1,
      case .mounted(let n)? = try? table.ensureMounted()
    {
      mounted = true
      fresh = n
    }
    mountedHere = mounted
    newInstance = fresh
  }

  deinit {
    if mountedHere { table.unmount() }
  }
}
