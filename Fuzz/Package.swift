// swift-tools-version: 6.1
// libFuzzer targets for Lifeboat's parsers of untrusted bytes (docs/fuzzing.md). A separate package, so the normal
// build and test runs never see -sanitize=fuzzer. Build and run everything with scripts/fuzz.sh.
//
// Each fuzz target is one executable with LLVMFuzzerTestOneInput. SwiftPM links executables with
// `--defsym main=<module>_main`, so libFuzzer's own main is never used: each harness defines `<module>_main`, which
// hands LLVMFuzzerTestOneInput to LLVMFuzzerRunDriver (declared in CLibFuzzer).
// Adding a target: one line in `fuzzTargets` below, a folder Sources/<name>/ with the harness, and one line in
// scripts/fuzz.sh naming its seed corpus.

import Foundation
import PackageDescription

/// The root package is a dependency by path; its identity is its directory name (wt-*, main, lifeboat, ...).
let rootIdentity = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

func lifeboat(_ product: String) -> Target.Dependency { .product(name: product, package: rootIdentity) }

/// name, and the root package's library products it links.
let fuzzTargets: [(String, [String])] = [
    ("fuzz-archive-header", ["LifeboatArchive"]),
    ("fuzz-archive-reader", ["LifeboatArchive"]),
    ("fuzz-snapshot", ["LifeboatArchive", "LifeboatSnapshot"]),
    // vault-sim's JSONValue.swift is compiled in through a symlink (the same file, not a copy): the type is internal
    // and linking VaultSim would build SwiftNIO with fuzzer instrumentation. It writes strings with LifeboatSnapshot's
    // Go quoting.
    ("fuzz-vault-sim-json", ["LifeboatArchive", "LifeboatSnapshot"]),
    ("fuzz-manifest", ["LifeboatRepository"]),
    ("fuzz-schedule", ["LifeboatSchedule"]),
    // S3XML.swift is compiled in through a symlink, as JSONValue above: LifeboatS3 would bring AsyncHTTPClient.
    ("fuzz-s3-xml", []),
    // The router needs the simulator itself (SwiftNIO is built with the fuzzer's instrumentation for it).
    ("fuzz-vault-sim-router", ["VaultSim"]),
    // The configuration reaches every module's settings (and with them AsyncHTTPClient, NIOSSL): the largest build.
    ("fuzz-configuration", ["LifeboatConfiguration"]),
]

let package = Package(
    name: "LifeboatFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [.target(name: "CLibFuzzer"), .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"])] + fuzzTargets.map { name, products in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport"] + products.map(lifeboat),
            // No main: libFuzzer's main calls LLVMFuzzerTestOneInput.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    },
    swiftLanguageModes: [.v6]
)
