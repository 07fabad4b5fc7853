// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Lifeboat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lifeboat", targets: ["lifeboat"]),
        .executable(name: "vault-sim", targets: ["vault-sim"]),
        .library(name: "LifeboatCore", targets: ["LifeboatCore"]),
        .library(name: "VaultSim", targets: ["VaultSim"]),
        .library(name: "LifeboatArchive", targets: ["LifeboatArchive"]),
        .library(name: "LifeboatSnapshot", targets: ["LifeboatSnapshot"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C libraries, reached only through LifeboatArchive.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // zlib and OpenSSL wrappers, keys and Lifeboat's encrypted envelope.
        .target(name: "LifeboatArchive", dependencies: ["CZlib", "COpenSSL"]),
        // Vault's raft snapshot container: streaming parser, verifier, writer.
        .target(name: "LifeboatSnapshot", dependencies: ["LifeboatArchive"]),
        // Everything else the CLI does: Vault client, repository, retention, schedule, recovery, config.
        .target(
            name: "LifeboatCore",
            dependencies: [
                "LifeboatArchive",
                "LifeboatSnapshot",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The Vault Raft cluster simulator (library, used in-process by tests and `lifeboat demo`).
        .target(
            name: "VaultSim",
            dependencies: [
                "LifeboatArchive",
                "LifeboatSnapshot",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "lifeboat",
            dependencies: [
                "LifeboatCore",
                "LifeboatArchive",
                "VaultSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "vault-sim",
            dependencies: [
                "VaultSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "LifeboatArchiveTests", dependencies: ["LifeboatArchive"], exclude: ["Vectors"]),
        .testTarget(name: "LifeboatSnapshotTests", dependencies: ["LifeboatSnapshot"]),
        .testTarget(name: "VaultSimTests", dependencies: ["VaultSim", "LifeboatSnapshot"]),
        .testTarget(name: "LifeboatCoreTests", dependencies: ["LifeboatCore", "VaultSim"]),
    ],
    swiftLanguageModes: [.v6]
)
