// libFuzzer target: the configuration file (Yams and LifeboatConfiguration's reader, parser, fleet split and
// validator), the YAML an operator, a configuration-management tool or a compromised repository writes. Every input
// is read as a single-cluster file and as a fleet; each must give a configuration or issues, never trap.
// Oracles: every issue has a message; a configuration exists exactly when there are no errors.

import Foundation
import FuzzSupport
import LifeboatConfiguration

/// No real environment: the process's variables must not change what a given input does. Paths point nowhere, so
/// checks of key files and directories see "missing" and report it.
let loader = ConfigurationLoader(environment: ["HOME": "/nonexistent/lifeboat-fuzz-home"],
                                 currentDirectory: "/nonexistent/lifeboat-fuzz-cfg", isRoot: false)

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfRequested {
        var seeds: [(String, [UInt8])] = []
        if let reference = readFile(repositoryRoot + "/scripts/cluster/lifeboat.yaml") { seeds.append(("reference-cluster", reference)) }
        // Every YAML example of the configuration reference (the full example, fleet mode, destinations).
        if let document = readFile(repositoryRoot + "/docs/configuration.md") {
            let text = String(decoding: document, as: UTF8.self)
            for (index, block) in text.components(separatedBy: "```yaml\n").dropFirst().enumerated() {
                guard let end = block.range(of: "```") else { continue }
                seeds.append(("docs-\(index)", Array(block[..<end.lowerBound].utf8)))
            }
        }
        seeds.append(("anchors", Array("""
            version: 1
            vault: &v
              address: https://vault.example:8200
            clusters:
              - name: a
                vault: *v
              - name: b
                vault: {address: "https://b:8200", timeouts: {request: 999999999d}}
            schedule: {every: 1h30m, jitter: 5m}
            retention: {keep_last: 3, keep_daily: 7, keep_tags: [pre-upgrade]}
            destinations:
              - {type: local, path: ~/backups}
              - {type: s3, bucket: b, prefix: lifeboat/, region: us-east-1, object_lock: {mode: COMPLIANCE, days: 30}}
            """.utf8)))
        return seeds
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfiguration(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let yaml = String(decoding: fuzzBytes(data, size), as: UTF8.self)
    let single = loader.evaluate(yaml: yaml, file: "fuzz.yaml", fileSource: "fuzz", overrides: ConfigurationOverrides())
    check(single)
    if let fleet = try? loader.evaluateClusters(yaml: yaml, file: "fuzz.yaml", fileSource: "fuzz", selection: .all,
                                                 overrides: ConfigurationOverrides()) {
        for (_, evaluation) in fleet.clusters { check(evaluation) }
    }
    return 0
}

func check(_ evaluation: ConfigurationLoader.Evaluation) {
    for issue in evaluation.issues {
        fuzzInvariant(!issue.message.isEmpty, "an issue without a message at \(issue.keyPath)")
    }
    fuzzInvariant((evaluation.loaded != nil) == evaluation.errors.isEmpty,
                  "a configuration \(evaluation.loaded == nil ? "missing without" : "built despite") errors: \(evaluation.errors.map(\.message))")
}

/// The program's entry point (see Fuzz/Package.swift): libFuzzer's driver with this target's callback.
@_cdecl("fuzz_configuration_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzConfiguration)
}
