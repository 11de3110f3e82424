// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]
let system = Target.Dependency.product(name: "SystemPackage", package: "swift-system")

let package = Package(
  name: "binfmtctl",
  platforms: [.macOS(.v13)],
  products: [.executable(name: "binfmtctl", targets: ["binfmtctl"])],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
  ],
  targets: [
    // main only: parse, hand the command one context, exit.
    .executableTarget(name: "binfmtctl", dependencies: ["BinfmtCommands"], swiftSettings: strict),
    // One file per subcommand: flags → one engine call → render.
    .target(
      name: "BinfmtCommands",
      dependencies: [
        "BinfmtKit", "BinfmtEngine", "LinuxSystem", "CBuildInfo",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict),
    // The operations every command shares (inspect, status, install, persist, boot, probe…),
    // on one Sendable context. No libc: system calls go through LinuxSystem and the wrappers.
    .target(
      name: "BinfmtEngine", dependencies: ["BinfmtKit", "LinuxSystem", "ELF", "Systemd", system],
      swiftSettings: strict),
    // Pure model: catalog, register strings, binfmt.d, ELF decoding, planning, rules. No I/O.
    .target(name: "BinfmtKit", dependencies: [system], swiftSettings: strict),
    // procfs, files, atomic writes, processes: the only place that makes system calls.
    .target(name: "LinuxSystem", dependencies: ["BinfmtKit", "CLinux", system], swiftSettings: strict),
    // The kernel calls glibc does not wrap (openat2), as C functions; only LinuxSystem imports it.
    .systemLibrary(name: "CLinux"),
    // The one module that imports libelf.
    .target(name: "ELF", dependencies: ["BinfmtKit", "CLibelf", system], swiftSettings: strict),
    // libelf's headers (libelf-dev) and wrappers that dlopen libelf.so.1 on first use.
    .target(name: "CLibelf", dependencies: ["CLazyLoad"]),
    // The one module that imports libsystemd (sd-bus, journal, sd_notify).
    .target(name: "Systemd", dependencies: ["BinfmtKit", "CSystemd", system], swiftSettings: strict),
    // libsystemd's headers (libsystemd-dev) and wrappers that dlopen libsystemd.so.0 on first use.
    .target(name: "CSystemd", dependencies: ["CLazyLoad"]),
    // dlopen on first use, shared by CLibelf and CSystemd.
    .target(name: "CLazyLoad"),
    // The commit the binary was built from (commit.h, written by make).
    .target(name: "CBuildInfo"),
    .testTarget(name: "BinfmtKitTests", dependencies: ["BinfmtKit"], swiftSettings: strict),
    // LinuxSystem and the engine on temporary roots (no kernel, no sandbox needed).
    .testTarget(
      name: "BinfmtEngineTests", dependencies: ["BinfmtKit", "BinfmtEngine", "LinuxSystem", system],
      swiftSettings: strict),
    .testTarget(
      name: "BinfmtIntegrationTests",
      dependencies: ["BinfmtKit", "BinfmtEngine", "ELF", "LinuxSystem"],
      swiftSettings: strict),
  ]
)
