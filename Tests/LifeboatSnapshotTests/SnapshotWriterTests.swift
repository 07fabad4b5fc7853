// SnapshotWriter: Vault's exact structure (checked by the same code as the real snapshots), streaming round trips,
// bounded output pieces, misuse errors, and the protobuf helpers the simulator needs.

import LifeboatArchive
@testable import LifeboatSnapshot
import Testing

/// What "same structure" means between two snapshots, independent of their content.
struct StructuralProfile: Equatable {
    struct Header: Equatable {
        var name: String
        var mode: Int64
        var uid: Int64
        var gid: Int64
        var typeflag: UInt8
        var magic: [UInt8]
        var version: [UInt8]
        var uname: String
        var gname: String
        var linkname: String
        var checksumTail: [UInt8]
        var devFields: [UInt8]
    }

    var gzipHeader: [UInt8]
    var headers: [Header]
    var metaKeyOrder: [String]
    var metaEndsWithNewline: Bool
    var sumsLineShapes: [String]
    var firstRecordShape: [UInt8]

    init(_ summary: SnapshotSummary, stateBin: [UInt8]) {
        gzipHeader = summary.gzipHeader
        headers = summary.members.map {
            Header(name: $0.name, mode: $0.mode, uid: $0.uid, gid: $0.gid, typeflag: $0.typeflag, magic: $0.magic,
                   version: $0.version, uname: $0.uname, gname: $0.gname, linkname: $0.linkname,
                   checksumTail: Array($0.raw[154..<156]), devFields: Array($0.raw[329..<345]))
        }
        // Distinct JSON keys in order of first appearance.
        let text = String(decoding: summary.metaJSON, as: UTF8.self)
        var keys: [String] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "\"") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "\"") else { break }
            let word = String(after[..<close])
            let next = after[after.index(after: close)...]
            if next.first == ":" && !keys.contains(word) { keys.append(word) }
            rest = next
        }
        metaKeyOrder = keys
        metaEndsWithNewline = summary.metaJSON.last == UInt8(ascii: "\n")
        // Each SHA256SUMS line reduced to its shape: hex digits as "x", then the rest verbatim.
        sumsLineShapes = String(decoding: summary.sha256Sums, as: UTF8.self).split(separator: "\n").map {
            String(repeating: "x", count: $0.prefix(while: { $0.isHexDigit && !$0.isUppercase }).count) + $0.dropFirst(64)
        }.sorted()
        // First record: varint length, tag 0x0a, key length, key bytes..., then tag 0x12.
        var offset = 0
        let shape: [UInt8] = stateBin.withUnsafeBytes { p in
            _ = Uvarint.read(p, at: &offset)
            let tag1 = p[offset]
            offset += 1
            let keyLength = Int(Uvarint.read(p, at: &offset)!)
            offset += keyLength
            return [tag1, p[offset]]
        }
        firstRecordShape = shape
    }
}

@Suite("SnapshotWriter")
struct SnapshotWriterTests {
    static let servers = [
        RaftServer(suffrage: 0, id: "node-1", address: "127.0.0.1:8201"),
        RaftServer(suffrage: 0, id: "node-2", address: "127.0.0.1:8202"),
        RaftServer(suffrage: 1, id: "node-3", address: "127.0.0.1:8203"),
    ]

    /// Entries shaped like the simulator's: barrier-style ciphertext values plus a plaintext core/seal-config.
    static func simulatorEntries(count: Int, seed: UInt64 = 1) -> [(key: String, value: [UInt8])] {
        var random = SeededBytes(state: seed)
        var entries: [(key: String, value: [UInt8])] = [
            ("core/seal-config", SealConfig(secretShares: 5, secretThreshold: 3).vaultJSON()),
            ("core/keyring", [0, 0, 0, 1, 2] + random.bytes(12 + 200)),
        ]
        for i in 0..<count {
            let value = [0, 0, 0, 1, 2] + random.bytes(12 + 16 + Int(random.next() % 300))
            entries.append(("logical/\(i % 7)/secret/key-\(i)", value))
        }
        return entries
    }

    static func writeSimulatorSnapshot(entryCount: Int = 500) throws -> [UInt8] {
        let meta = SnapshotMeta(index: 120, term: 4, servers: servers, configurationIndex: 99)
        return try SnapshotWriter.snapshot(meta: meta, modificationTime: 1_760_000_000,
                                           entries: simulatorEntries(count: entryCount), sealHashes: testSeal).bytes
    }

    @Test("real Vault snapshots and a writer snapshot have the same structure, by the same code")
    func sameStructureAsVault() throws {
        var profiles: [String: StructuralProfile] = [:]
        let inputs: [(String, [UInt8])] = [
            ("backup.snap", try Fixture.backup.bytes),
            ("ellie.snap", try Fixture.ellie.bytes),
            ("writer", try Self.writeSimulatorSnapshot()),
        ]
        for (name, bytes) in inputs {
            let summary = try SnapshotVerifier.verify(bytes)
            #expect(SnapshotConformance.vaultFormatDeviations(of: summary) == [], "\(name)")
            let tar = try SnapshotBytes.gunzip(bytes)
            let stateBin = SnapshotBytes.members(ofTar: tar)[1].data
            profiles[name] = StructuralProfile(summary, stateBin: stateBin)
        }
        let vault = try #require(profiles["backup.snap"])
        #expect(profiles["ellie.snap"] == vault)
        #expect(profiles["writer"] == vault)
        #expect(vault.metaKeyOrder == ["Version", "ID", "Index", "Term", "Peers", "Configuration", "Servers", "Suffrage",
                                       "Address", "ConfigurationIndex", "Size"])
        #expect(vault.sumsLineShapes == [String(repeating: "x", count: 64) + "  meta.json",
                                         String(repeating: "x", count: 64) + "  state.bin"])
        #expect(vault.firstRecordShape == [0x0a, 0x12])
        #expect(vault.headers.allSatisfy { $0.mode == 0o600 && $0.checksumTail == [0, 0x20] })
    }

    @Test("conformance reports deviations it is meant to catch")
    func conformanceCatchesDeviations() throws {
        let bytes = try Self.writeSimulatorSnapshot(entryCount: 10)
        var summary = try SnapshotVerifier.verify(bytes)
        summary.gzipHeader[9] = 3
        summary.members[2].raw[100] = UInt8(ascii: "1")
        summary.metaJSON = Array(String(decoding: summary.metaJSON, as: UTF8.self).replacingOccurrences(of: "\n", with: "").utf8)
        summary.keysAscending = false
        let problems = SnapshotConformance.vaultFormatDeviations(of: summary)
        #expect(problems.count == 4, "\(problems)")
    }

    @Test("meta.json gets Size from the size pass and Go's byte layout")
    func metaJSONLayout() throws {
        let entries: [(key: String, value: [UInt8])] = [("a", [1, 2, 3]), ("b", [])]
        let meta = SnapshotMeta(index: 7, term: 2, servers: [RaftServer(suffrage: 0, id: "n<1>", address: "a&b:1")],
                                configurationIndex: 5)
        let (bytes, result) = try SnapshotWriter.snapshot(meta: meta, modificationTime: 1, entries: entries, sealHashes: testSeal)
        // Records: 08 0a 01 'a' 12 03 01 02 03 (9 bytes) and 03 0a 01 'b' (4 bytes): empty values are omitted.
        #expect(result.meta.size == 13)
        let summary = try SnapshotVerifier.verify(bytes)
        #expect(String(decoding: summary.metaJSON, as: UTF8.self) ==
            #"{"Version":1,"ID":"bolt-snapshot","Index":7,"Term":2,"Peers":null,"Configuration":{"Servers":[{"Suffrage":0,"ID":"n\u003c1\u003e","Address":"a\u0026b:1"}]},"ConfigurationIndex":5,"Size":13}"# + "\n")
        let stateBin = SnapshotBytes.members(ofTar: try SnapshotBytes.gunzip(bytes))[1].data
        #expect(stateBin == [0x08, 0x0a, 0x01, 0x61, 0x12, 0x03, 1, 2, 3, 0x03, 0x0a, 0x01, 0x62])
        #expect(summary.entryCount == 2)
        #expect(result.byteCount == Int64(bytes.count))
        #expect(result.sha256 == SHA256Digest.hash(bytes))
    }

    @Test("round trip: many entries and an 8 MiB value streamed in small pieces, bounded output pieces")
    func streamingRoundTrip() throws {
        var random = SeededBytes(state: 42)
        let small = (0..<20_000).map { i in (key: String(format: "logical/%05d", i), value: random.bytes(Int(random.next() % 100))) }
        let bigKey = "sys/zz-large"
        let pieceSize = 1000
        let bigLength = 8 << 20
        var bigHasher = SHA256Digest()
        var bigGenerator = SeededBytes(state: 7)
        var bigPieces = 0

        var maximumPiece = 0
        var output: [UInt8] = []
        let meta = SnapshotMeta(index: 1_000_000, term: 9, servers: Self.servers, configurationIndex: 3)
        let result = try SnapshotWriter.write(
            meta: meta, modificationTime: 1_760_000_000, compressionLevel: 1,
            entries: { emitter in
                for entry in small { try emitter.add(key: entry.key, value: entry.value) }
                try emitter.begin(key: bigKey, valueLength: bigLength)
                guard emitter.isWritingValues else { return }
                bigGenerator = SeededBytes(state: 7)
                var written = 0
                while written < bigLength {
                    let piece = bigGenerator.bytes(min(pieceSize, bigLength - written))
                    bigHasher.update(piece)
                    bigPieces += 1
                    try emitter.appendValue(piece)
                    written += piece.count
                }
            },
            sealHashes: testSeal,
            sink: { piece in
                maximumPiece = max(maximumPiece, piece.count)
                output.append(contentsOf: piece)
            })
        #expect(bigPieces == (bigLength + pieceSize - 1) / pieceSize)
        #expect(maximumPiece <= 128 * 1024)
        #expect(result.entryCount == 20_001)

        var seen = 0
        var bigValueHash: [UInt8] = []
        var mismatches = 0
        var options = SnapshotVerifier.Options()
        options.keyStatisticsDepth = 1
        var verifier = try SnapshotVerifier(options: options) { key, value in
            let k = String(decoding: key, as: UTF8.self)
            if k == bigKey {
                bigValueHash = SHA256Digest.hash(bytes: value)
            } else if small[seen].key != k || small[seen].value != Array(value) {
                mismatches += 1
            }
            seen += 1
        }
        try output.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                let end = min(all.count, offset + 3333)
                try verifier.consume(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
            }
        }
        let summary = try verifier.finish()
        #expect(mismatches == 0)
        #expect(seen == 20_001)
        #expect(bigValueHash == bigHasher.finalize())
        #expect(summary.entryCount == 20_001)
        #expect(summary.meta.size == result.meta.size)
        #expect(summary.sha256 == result.sha256)
        #expect(summary.byteCount == result.byteCount)
        #expect(summary.keyStatistics?.map(\.name) == ["logical", "sys"])
        #expect(SnapshotConformance.vaultFormatDeviations(of: summary) == [])
    }

    @Test("edge cases: no entries at all, an empty key, an empty value")
    func edgeCases() throws {
        let meta = SnapshotMeta(index: 1, term: 1, servers: Self.servers, configurationIndex: 1)
        let (empty, emptyResult) = try SnapshotWriter.snapshot(meta: meta, modificationTime: 0, entries: [], sealHashes: testSeal)
        let emptySummary = try SnapshotVerifier.verify(empty)
        #expect(emptyResult.meta.size == 0)
        #expect(emptySummary.entryCount == 0)
        #expect(emptySummary.members.map(\.size)[1] == 0)
        #expect(SnapshotConformance.vaultFormatDeviations(of: emptySummary) == [])

        var seen: [(String, [UInt8])] = []
        let (bytes, _) = try SnapshotWriter.snapshot(meta: meta, modificationTime: 0,
                                                     entries: [("", [1]), ("k", [])], sealHashes: testSeal)
        var verifier = try SnapshotVerifier { key, value in seen.append((String(decoding: key, as: UTF8.self), Array(value))) }
        try verifier.consume(bytes)
        let summary = try verifier.finish()
        #expect(summary.entryCount == 2)
        #expect(seen.map(\.0) == ["", "k"])
        #expect(seen.map(\.1) == [[1], []])
        #expect(summary.stateByteCount == 4 + 4)  // 03 12 01 01 | 03 0a 01 6b
    }

    @Test("the writer refuses unsorted keys, short or long values, and entries that change between passes")
    func writerMisuse() throws {
        let meta = SnapshotMeta(index: 1, term: 1, servers: Self.servers, configurationIndex: 1)
        func attempt(_ entries: (inout SnapshotEntryEmitter) throws -> Void) -> SnapshotError? {
            do {
                _ = try SnapshotWriter.write(meta: meta, modificationTime: 0, entries: entries, sealHashes: testSeal, sink: { _ in })
                return nil
            } catch {
                return error as? SnapshotError
            }
        }
        let unsorted = attempt { e in
            try e.add(key: "b", value: [1])
            try e.add(key: "a", value: [1])
        }
        #expect(unsorted?.kind == .writer)
        #expect(unsorted?.detail.contains("ascending") == true)
        let duplicate = attempt { e in
            try e.add(key: "a", value: [1])
            try e.add(key: "a", value: [2])
        }
        #expect(duplicate?.kind == .writer)
        let short = attempt { e in
            try e.begin(key: "a", valueLength: 10)
            try e.appendValue([1, 2, 3])
        }
        #expect(short?.kind == .writer)
        let long = attempt { e in
            try e.begin(key: "a", valueLength: 2)
            try e.appendValue([1, 2, 3])
        }
        #expect(long?.kind == .writer)
        var pass = 0
        let changing = attempt { e in
            pass += 1
            try e.add(key: "a", value: [UInt8](repeating: 1, count: pass))
        }
        #expect(changing?.kind == .writer)
        #expect(changing?.detail.contains("between the size pass and the write pass") == true)
    }

    @Test("StorageEntry, BlobInfo and KeyInfo encode and decode")
    func protobufHelpers() throws {
        let entry = StorageEntry(key: "core/lock", value: Array("abc".utf8), sealWrap: true)
        #expect(entry.encoded() == [0x0a, 0x09] + Array("core/lock".utf8) + [0x12, 0x03] + Array("abc".utf8) + [0x18, 0x01])
        #expect(try StorageEntry(decoding: entry.encoded()) == entry)
        #expect(entry.delimited().first == UInt8(entry.encoded().count))

        let ciphertext = [UInt8](repeating: 0xab, count: 180)
        let vault114 = BlobInfo(ciphertext: ciphertext).encoded()
        #expect(vault114 == [0x0a, 0xb4, 0x01] + ciphertext + [0x2a, 0x00])
        #expect(try BlobInfo(decoding: vault114) == BlobInfo(ciphertext: ciphertext, keyInfo: KeyInfo()))

        let full = BlobInfo(ciphertext: [1], iv: [2], hmac: [3], wrapped: true,
                            keyInfo: KeyInfo(mechanism: 1, hmacMechanism: 2, keyID: "k", hmacKeyID: "h", wrappedKey: [9], flags: 4),
                            valuePath: "core/x", plaintext: [5])
        #expect(try BlobInfo(decoding: full.encoded()) == full)
        #expect(BlobInfo(ciphertext: [1], keyInfo: nil).encoded() == [0x0a, 0x01, 0x01])

        #expect(throws: SnapshotError.self) { try BlobInfo(decoding: [0x0a, 0x05, 0x01]) }
        #expect(throws: SnapshotError.self) { try BlobInfo(decoding: [0x0b]) }
    }

    static let uvarints: [(UInt64, [UInt8])] = [
        (0, [0x00]), (1, [0x01]), (127, [0x7f]), (128, [0x80, 0x01]), (300, [0xac, 0x02]),
        (16273, [0x91, 0x7f]), (UInt64.max, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ]

    @Test("uvarints match Go's PutUvarint", arguments: uvarints)
    func uvarint(_ value: UInt64, _ bytes: [UInt8]) {
        var out: [UInt8] = []
        Uvarint.append(value, to: &out)
        #expect(out == bytes)
        #expect(Uvarint.length(value) == bytes.count)
        var offset = 0
        #expect(bytes.withUnsafeBytes { Uvarint.read($0, at: &offset) } == value)
        #expect(offset == bytes.count)
    }

    @Test("seal config JSON in Vault's field order")
    func sealConfigJSON() throws {
        let config = SealConfig(secretShares: 5, secretThreshold: 3)
        #expect(String(decoding: config.vaultJSON(), as: UTF8.self) ==
            #"{"type":"shamir","secret_shares":5,"secret_threshold":3,"pgp_keys":null,"nonce":"","backup":false,"stored_shares":1}"#)
        #expect(try SealConfig.parse(config.vaultJSON()) == config)
        let summary = try SnapshotVerifier.verify(try Self.writeSimulatorSnapshot(entryCount: 3))
        #expect(summary.sealConfig == config)
    }
}
