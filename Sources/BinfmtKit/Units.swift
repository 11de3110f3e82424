/// The boot-time units `persist` installs. `units/` in the repository holds these texts for
/// the default path; a test keeps them equal.
public enum Units {
  public static let systemdName = "binfmtctl.service"
  /// systemd's WantedBy target (see `[Install]`).
  public static let wantedBy = "sysinit.target"
  public static let defaultExec = "/usr/local/bin/binfmtctl"
  public static let systemdMarker = "# binfmtctl-managed:"
  /// The unit's TimeoutStartSec: systemd kills `binfmtctl boot` after this.
  public static let startTimeoutSeconds = 90
  /// How long `boot` waits for another binfmtctl's lock by default: well inside
  /// `startTimeoutSeconds`, leaving time for the registrations and a clear failure in the
  /// journal instead of systemd's kill.
  public static let bootLockWait = 30

  /// The first line of the unit installed with the binary (the .deb, `make install`): no
  /// marker, so nothing in binfmtctl ever deletes or rewrites it.
  public static let packagedHeader =
    "# Installed with binfmtctl: `binfmtctl persist` enables it, `binfmtctl unpersist --all` disables it."

  /// `packaged`: the text for a vendor unit directory instead of the copy `persist` writes.
  public static func systemdService(exec: String, packaged: Bool = false) -> String {
    let header =
      packaged
      ? packagedHeader
      : "\(systemdMarker) written by `binfmtctl persist`; `binfmtctl unpersist --all` removes it."
    // The literal drops its last newline; files end with one.
    return """
      \(header)
      [Unit]
      Description=Register persisted foreign-architecture binfmt_misc entries (binfmtctl)
      Documentation=man:binfmt.d(5) https://docs.kernel.org/admin-guide/binfmt-misc.html
      # Early boot, like systemd-binfmt itself: no default dependencies on basic.target.
      DefaultDependencies=no
      Conflicts=shutdown.target
      # systemd-binfmt flushes the table when it starts (and unregisters everything when it
      # stops), so reconcile after it; PartOf re-runs us when it is restarted.
      After=systemd-binfmt.service
      PartOf=systemd-binfmt.service
      After=proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount
      # The emulators live on local file systems that may be mounted late (/usr, /opt).
      After=local-fs.target
      # Container engines must find the emulators registered before their first foreign image.
      Before=sysinit.target shutdown.target
      Before=docker.service containerd.service podman.service buildkit.service

      [Service]
      Type=oneshot
      RemainAfterExit=yes
      ExecStart=\(exec) boot
      TimeoutStartSec=\(startTimeoutSeconds)s

      [Install]
      WantedBy=sysinit.target

      """
  }

  public static func openrcScript(exec: String) -> String {
    #"""
    #!/sbin/openrc-run
    # OpenRC service for binfmtctl: at boot, registers in binfmt_misc the qemu-user emulators
    # persisted in /etc/binfmt.d (`binfmtctl persist --init openrc` installs this file as
    # /etc/init.d/binfmtctl and links it into the boot runlevel).
    #
    # Optional settings in /etc/conf.d/binfmtctl:
    #   binfmtctl_bin=\#(exec)   # the binary
    #   binfmtctl_opts=""                        # extra arguments to `binfmtctl boot`

    description="Register the persisted qemu-user binfmt_misc entries"

    : "${binfmtctl_bin:=\#(exec)}"

    depend()
    {
    	# File systems first: /etc/binfmt.d and the emulators must be readable. Debian has no
    	# localmount (its sysinit runlevel runs mountall.sh); OpenRC ignores names it lacks.
    	after localmount mountall
    	# OpenRC's own procfs (mounts binfmt_misc) and binfmt (reads binfmt.d, re-registers
    	# entries of the same name) services, where the distribution ships them (Alpine,
    	# Gentoo; not Debian): run after them so ours is the last word.
    	after procfs binfmt
    	# Container engines need the emulators before their first foreign image.
    	before docker containerd podman buildkitd
    	# No container keywords on purpose: since Linux 6.7 a container with its own user
    	# namespace has its own binfmt_misc, and `binfmtctl boot` decides what it may do.
    	keyword -prefix
    }

    start()
    {
    	ebegin "Registering binfmt_misc entries (binfmtctl boot)"
    	# shellcheck disable=SC2086  # binfmtctl_opts is a word list
    	"$binfmtctl_bin" boot ${binfmtctl_opts}
    	eend $? "binfmtctl boot failed"
    }

    """#
  }

  /// Our units start with the marker comment (systemd) or are our OpenRC script.
  public static func isOurs(_ text: String) -> Bool {
    text.hasPrefix(systemdMarker) || (text.hasPrefix("#!/sbin/openrc-run\n# OpenRC service for binfmtctl"))
  }
}
