// libFuzzer target: a backup's manifest (BackupManifest.decode, the JSON every list, prune and restore reads from
// the store). What decodes must encode and decode again to an equal manifest.

import FuzzSupport
@testable import LifeboatRepository

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfRequested {
        guard let id = BackupID(rawValue: "20261128T221500Z-7f3a"),
              let verified = ManifestTimestamp(parsing: "2026-11-29T08:00:00+01:00") else { return [] }
        // A complete manifest, as the test suite's golden JSON has it.
        let manifest = BackupManifest(
            id: id, createdAt: ManifestTimestamp(date: id.date, utcOffsetSeconds: 3600),
            cluster: .init(name: "vault-cluster-6a1f", id: "0b4b5a2e-9c1d-4c7e-8d7a-3f1e2d9c0a11"),
            leader: .init(nodeID: "node1", address: "https://10.0.0.1:8200"), vaultVersion: "1.14.3",
            raft: .init(index: 36, term: 3, configurationIndex: 1, servers: [
                .init(id: "node1", address: "10.0.0.1:8201", suffrage: "voter"),
                .init(id: "node2", address: "10.0.0.2:8201", suffrage: "nonvoter"),
            ]),
            entryCount: 30, originalSize: 10_000, originalSHA256: String(repeating: "ab", count: 32),
            storedSize: 10_250, archiveKeyID: "00112233445566778899aabbccddeeff", archiveFormatVersion: 1,
            lifeboatVersion: "0.1.0", durationSeconds: 1.5, tags: ["pre-upgrade", "weekly"],
            verifications: [.init(verifiedAt: verified, result: .ok)])
        return [("complete", try manifest.encoded()),
                ("escapes", Array(#"{"manifest_version":1,"id":"20261128T221500Z-7f3a","tags":["\ud83d\udee5","a\"b"]}"#.utf8))]
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let manifest = try? BackupManifest.decode(bytes, object: "fuzz.json") else { return 0 }
    do {
        let again = try BackupManifest.decode(try manifest.encoded(), object: "again.json")
        fuzzInvariant(again == manifest, "a decoded manifest encodes to one that decodes differently")
    } catch {
        fuzzInvariant(false, "a decoded manifest does not encode and decode again: \(error)")
    }
    return 0
}

/// The program's entry point (see Fuzz/Package.swift): libFuzzer's driver with this target's callback.
@_cdecl("fuzz_manifest_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzManifest)
}
