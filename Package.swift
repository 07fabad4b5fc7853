// swift-tools-version: 6.1
import PackageDescription

// Linux only (Debian/Ubuntu with zlib1g-dev and libssl-dev): the code calls Glibc directly (signals, fsync, process
// groups, /proc), and nothing is built or tested on macOS.

let package = Package(
    name: "Lifeboat",
    products: [
        .executable(name: "lifeboat", targets: ["lifeboat"]),
        .executable(name: "vault-sim", targets: ["vault-sim"]),
        // Libraries for the fuzz targets in Fuzz/ (a separate package, so the normal build has no fuzzer flags).
        .library(name: "VaultSim", targets: ["VaultSim"]),
        .library(name: "LifeboatArchive", targets: ["LifeboatArchive"]),
        .library(name: "LifeboatSnapshot", targets: ["LifeboatSnapshot"]),
        .library(name: "LifeboatRepository", targets: ["LifeboatRepository"]),
        .library(name: "LifeboatSchedule", targets: ["LifeboatSchedule"]),
        .library(name: "LifeboatConfiguration", targets: ["LifeboatConfiguration"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
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
        // glibc's <malloc.h> (mallopt), part of libc: nothing to link.
        .systemLibrary(name: "CMalloc"),

        // zlib and OpenSSL wrappers, keys and Lifeboat's encrypted envelope.
        .target(name: "LifeboatArchive", dependencies: ["CZlib", "COpenSSL"]),
        // Vault's raft snapshot container: streaming parser, verifier, writer.
        .target(name: "LifeboatSnapshot", dependencies: ["LifeboatArchive"]),
        // The vocabulary every Lifeboat module shares: exit statuses, version, civil time, durations, JSON values.
        .target(name: "LifeboatBase", dependencies: ["LifeboatArchive", "LifeboatSnapshot", "CMalloc", nio("NIOCore")]),
        // Cron expressions and intervals (pure).
        .target(name: "LifeboatSchedule", dependencies: ["LifeboatBase"]),
        // Vault's HTTP API: client, transport, auth, leader discovery, snapshot streaming.
        .target(
            name: "LifeboatVault",
            dependencies: [
                "LifeboatArchive", "LifeboatSnapshot",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                nio("NIOCore"), nio("NIOPosix"), nio("NIOHTTP1"),
            ]
        ),
        // The retention planner: restic's forget semantics plus Lifeboat's rails (pure, no I/O).
        .target(name: "LifeboatRetention", dependencies: ["LifeboatBase"]),
        // The store protocol, the local store, manifests, backup ids and the repository lock.
        .target(name: "LifeboatRepository", dependencies: ["LifeboatBase", "LifeboatArchive", "LifeboatSnapshot", "LifeboatRetention"]),
        // S3-compatible object storage: SigV4, multipart uploads, the S3 store.
        .target(
            name: "LifeboatS3",
            dependencies: [
                "LifeboatBase", "LifeboatArchive", "LifeboatRepository",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                nio("NIOCore"), nio("NIOHTTP1"),
            ]
        ),
        // Taking a backup: snapshot source, archiver, multi-destination runner, export.
        .target(
            name: "LifeboatBackup",
            dependencies: ["LifeboatBase", "LifeboatArchive", "LifeboatSnapshot", "LifeboatVault", "LifeboatRepository", nio("NIOCore")]
        ),
        // Restores and drills: plan, journaled executor, reset hooks, unseal keys, staging.
        .target(
            name: "LifeboatRecovery",
            dependencies: [
                "LifeboatBase", "LifeboatArchive", "LifeboatSnapshot", "LifeboatVault", "LifeboatRepository",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                nio("NIOCore"), nio("NIOHTTP1"),
            ]
        ),
        // The agent: scheduler service, status, metrics, the /metrics /healthz /status listener, webhooks, logs.
        .target(
            name: "LifeboatAgent",
            dependencies: [
                "LifeboatBase", "LifeboatArchive", "LifeboatSchedule", "LifeboatRepository", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                nio("NIOCore"), nio("NIOPosix"), nio("NIOHTTP1"),
            ]
        ),
        // The configuration file (model, parser, validation) and what it turns into at run time.
        .target(
            name: "LifeboatConfiguration",
            dependencies: [
                "LifeboatBase", "LifeboatArchive", "LifeboatSchedule", "LifeboatVault", "LifeboatRetention",
                "LifeboatRepository", "LifeboatS3", "LifeboatBackup", "LifeboatRecovery", "LifeboatAgent",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Test doubles and simulator helpers shared by the tests and `lifeboat demo` (the in-memory store, the
        // in-process scratch cluster). Only the tests and the CLI's demo import it.
        .target(
            name: "LifeboatTesting",
            dependencies: ["LifeboatArchive", "LifeboatVault", "LifeboatRepository", "LifeboatRecovery", "VaultSim"]
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
                "LifeboatConfiguration", "LifeboatAgent", "LifeboatRecovery", "LifeboatBackup",
                "LifeboatRepository", "LifeboatRetention", "LifeboatVault", "LifeboatSchedule", "LifeboatBase",
                "LifeboatArchive", "LifeboatSnapshot", "LifeboatTesting", "VaultSim",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "vault-sim",
            dependencies: [
                "VaultSim", "LifeboatBase",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "LifeboatArchiveTests", dependencies: ["LifeboatArchive"], exclude: ["Vectors"]),
        .testTarget(name: "LifeboatSnapshotTests", dependencies: ["LifeboatSnapshot"]),
        .testTarget(name: "VaultSimTests", dependencies: ["VaultSim", "LifeboatSnapshot"]),
        .testTarget(
            name: "LifeboatTests",
            dependencies: [
                "LifeboatConfiguration", "LifeboatAgent", "LifeboatRecovery", "LifeboatBackup", "LifeboatS3",
                "LifeboatRepository", "LifeboatRetention", "LifeboatVault", "LifeboatSchedule", "LifeboatBase",
                "LifeboatArchive", "LifeboatSnapshot", "LifeboatTesting", "VaultSim",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

/// A product of swift-nio.
func nio(_ name: String) -> Target.Dependency { .product(name: name, package: "swift-nio") }
