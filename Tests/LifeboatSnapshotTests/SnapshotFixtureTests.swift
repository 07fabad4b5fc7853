// The two real Vault 1.14.3 snapshots: verification results, seal config, BlobInfo framing, and a byte-exact rewrite.

import LifeboatArchive
@testable import LifeboatSnapshot
import Testing

@Suite("Real Vault 1.14.3 snapshots")
struct SnapshotFixtureTests {
    struct Expected: Sendable {
        var fixture: Fixture
        var byteCount: Int64
        var sha256: String
        var index: UInt64
        var term: UInt64
        var configurationIndex: UInt64
        var stateSize: Int64
        var entryCount: Int
        var entryBytes: Int64
        var suffrages: [Int]
    }

    static let expected: [Expected] = [
        Expected(fixture: .backup, byteCount: 16551,
                 sha256: "9f4225fe2e736daa56d3f7b99e0f8e6b53c5dc55daef5b16d96f4afcaabe53de",
                 index: 36, term: 3, configurationIndex: 36, stateSize: 16273, entryCount: 30, entryBytes: 16222,
                 suffrages: [0, 1, 1]),
        Expected(fixture: .ellie, byteCount: 18619,
                 sha256: "25d7fb87db15f4711ea42feae5a456521d8d3231732c323427017b474b19f85f",
                 index: 45, term: 3, configurationIndex: 38, stateSize: 18740, entryCount: 36, entryBytes: 18677,
                 suffrages: [0, 0, 0]),
    ]

    @Test("verifies with the documented facts", arguments: expected)
    func verifiesFixture(_ e: Expected) throws {
        let summary = try SnapshotVerifier.verifyFile(atPath: e.fixture.path)
        #expect(summary.byteCount == e.byteCount)
        #expect(summary.sha256Hex == e.sha256)
        #expect(summary.meta.version == 1)
        #expect(summary.meta.id == "bolt-snapshot")
        #expect(summary.meta.index == e.index)
        #expect(summary.meta.term == e.term)
        #expect(summary.meta.configurationIndex == e.configurationIndex)
        #expect(summary.meta.size == e.stateSize)
        #expect(summary.meta.servers.map(\.id) == ["vault-0", "vault-1", "vault-2"])
        #expect(summary.meta.servers.map(\.address) == ["vault-0:8201", "vault-1:8201", "vault-2:8201"])
        #expect(summary.meta.servers.map(\.suffrage) == e.suffrages)
        #expect(summary.stateByteCount == e.stateSize)
        #expect(summary.entryCount == e.entryCount)
        #expect(summary.entryBytes == e.entryBytes)
        #expect(summary.keysAscending)
        #expect(summary.members.map(\.name) == ["meta.json", "state.bin", "SHA256SUMS", "SHA256SUMS.sealed"])
        #expect(summary.sealedHashes.count == 185)
        #expect(summary.sha256Sums.count == 152)
        #expect(summary.keyStatistics == nil)
    }

    @Test("chunk size does not change the result", arguments: Fixture.allCases)
    func chunkingIsInvisible(_ fixture: Fixture) throws {
        let bytes = try fixture.bytes
        let whole = try SnapshotVerifier.verify(bytes, chunkSize: bytes.count)
        for size in [1, 7, 511, 512, 513, 4096] {
            #expect(try SnapshotVerifier.verify(bytes, chunkSize: size) == whole)
        }
    }

    @Test("core/seal-config is read: Shamir 1 of 1", arguments: Fixture.allCases)
    func sealConfig(_ fixture: Fixture) throws {
        let summary = try SnapshotVerifier.verifyFile(atPath: fixture.path)
        let config = try #require(summary.sealConfig)
        #expect(config == SealConfig(type: "shamir", secretShares: 1, secretThreshold: 1, pgpKeys: nil, nonce: "",
                                     backup: false, storedShares: 1))
        #expect(summary.sealConfigJSON == config.vaultJSON())
    }

    @Test("SHA256SUMS.sealed is a Vault 1.14 Shamir BlobInfo and re-encodes byte for byte", arguments: Fixture.allCases)
    func sealedBlobInfo(_ fixture: Fixture) throws {
        let summary = try SnapshotVerifier.verifyFile(atPath: fixture.path)
        let blob = try BlobInfo(decoding: summary.sealedHashes)
        #expect(blob.ciphertext.count == 12 + 152 + 16)
        #expect(blob.keyInfo == KeyInfo())
        #expect(blob.wrapped == false)
        #expect(Array(summary.sealedHashes.prefix(3)) == [0x0a, 0xb4, 0x01])
        #expect(Array(summary.sealedHashes.suffix(2)) == [0x2a, 0x00])
        #expect(blob.encoded() == summary.sealedHashes)
    }

    @Test("meta.json is Go's encoding of its fields", arguments: Fixture.allCases)
    func metaRoundTrip(_ fixture: Fixture) throws {
        let summary = try SnapshotVerifier.verifyFile(atPath: fixture.path)
        #expect(summary.metaJSON == summary.meta.goJSON())
        #expect(summary.metaJSON.last == UInt8(ascii: "\n"))
        #expect(try SnapshotMeta.parse(summary.metaJSON) == summary.meta)
    }

    @Test("entries reach the entry handler, in order, with their values", arguments: Fixture.allCases)
    func entryHandler(_ fixture: Fixture) throws {
        var keys: [String] = []
        var sealConfig: [UInt8] = []
        let summary = try SnapshotVerifier.verifyFile(atPath: fixture.path) { key, value in
            let k = String(decoding: key, as: UTF8.self)
            keys.append(k)
            if k == "core/seal-config" { sealConfig = Array(value) }
        }
        #expect(keys.count == summary.entryCount)
        #expect(keys.first == "core/audit")
        #expect(keys == keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(sealConfig == summary.sealConfigJSON)
    }

    /// The strongest writer test: feeding a fixture's own entries, meta, mtime and sealed bytes to the writer
    /// reproduces Vault's uncompressed tar exactly (headers, meta.json, state.bin framing, SHA256SUMS).
    @Test("the writer reproduces Vault's tar byte for byte", arguments: Fixture.allCases)
    func writerReproducesFixtureTar(_ fixture: Fixture) throws {
        let original = try fixture.bytes
        var entries: [(key: String, value: [UInt8])] = []
        let summary = try SnapshotVerifier.verifyFile(atPath: fixture.path) { key, value in
            entries.append((String(decoding: key, as: UTF8.self), Array(value)))
        }
        var meta = summary.meta
        meta.size = 0
        var sealInput: [UInt8] = []
        let (bytes, result) = try SnapshotWriter.snapshot(
            meta: meta, modificationTime: summary.members[0].modificationTime, entries: entries,
            sealHashes: { sums in sealInput = sums; return summary.sealedHashes })
        #expect(sealInput == summary.sha256Sums)
        #expect(result.meta == summary.meta)
        #expect(result.stateSHA256 == summary.stateSHA256)
        #expect(try SnapshotBytes.gunzip(bytes) == SnapshotBytes.gunzip(original))
        #expect(Array(bytes.prefix(10)) == Array(original.prefix(10)))
    }
}
