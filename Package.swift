// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
  name: "binfmtctl",
  platforms: [.macOS(.v13)],
  products: [.executable(name: "binfmtctl", targets: ["binfmtctl"])],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
  ],
  targets: [
    .executableTarget(name: "binfmtctl", dependencies: ["BinfmtCommands"], swiftSettings: strict),
    .target(
      name: "BinfmtCommands",
      dependencies: [
        "BinfmtKit", "LinuxSystem", "ELF", "Systemd",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict),
    // Pure model: catalog, register strings, binfmt.d, ELF header decoding. No I/O.
    .target(name: "BinfmtKit", swiftSettings: strict),
    // procfs, files, atomic writes: the only place that touches the system.
    .target(
      name: "LinuxSystem",
      dependencies: ["BinfmtKit", .product(name: "SystemPackage", package: "swift-system")],
      swiftSettings: strict),
    // The one module that imports libelf.
    .target(name: "ELF", dependencies: ["BinfmtKit", "CLibelf", "LinuxSystem"], swiftSettings: strict),
    .systemLibrary(name: "CLibelf", pkgConfig: "libelf", providers: [.apt(["libelf-dev"])]),
    // The one module that imports libsystemd (sd-bus, journal, sd_notify).
    .target(
      name: "Systemd", dependencies: ["BinfmtKit", "CSystemd", .product(name: "SystemPackage", package: "swift-system")],
      swiftSettings: strict),
    .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
    .testTarget(name: "BinfmtKitTests", dependencies: ["BinfmtKit"], swiftSettings: strict),
    .testTarget(
      name: "BinfmtIntegrationTests",
      dependencies: ["BinfmtKit", "ELF", "LinuxSystem", "BinfmtCommands"],
      swiftSettings: strict),
  ]
)
