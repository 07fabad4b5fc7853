// libFuzzer target: the streaming snapshot verifier (gzip, tar, meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed)
// and the parsers behind it.
//
// The first input byte picks a mode:
//   0  raw .snap bytes (gzip), fed in pieces, with key statistics and an entry handler;
//   1  the tar inside: the harness gzips the rest, so the tar, member and content checks are reached;
//   2  members: the harness writes a well-formed tar around a fuzzer-chosen state.bin and SHA256SUMS.sealed (with
//      meta.json and SHA256SUMS made to match), so state.bin framing and the final checks are reached;
//   3  one parser directly: SHA256SUMS, meta.json, seal config, tar header, StorageEntry, KeyInfo, BlobInfo.
// Every snapshot that verifies is also run through the conformance check and the inspect renderers.

import FuzzSupport
import LifeboatArchive
@testable import LifeboatSnapshot

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfRequested {
        var seeds: [(String, [UInt8])] = []
        // A small snapshot in Vault's format (the fixtures are larger than the -max_len scripts/fuzz.sh sets).
        let meta = SnapshotMeta(index: 42, term: 3, servers: [RaftServer(suffrage: 0, id: "n1", address: "127.0.0.1:8201")],
                                configurationIndex: 40)
        let entries: [(key: String, value: [UInt8])] = [
            (SealConfig.storageKey, SealConfig(secretShares: 1, secretThreshold: 1).vaultJSON()),
            ("core/keyring", [UInt8](repeating: 0x11, count: 40)), ("logical/a/b/c", Array("value".utf8)),
            ("sys/token/id/h1", [1, 2, 3]), ("sys/token/id/h2", []),
        ]
        let small = try SnapshotWriter.snapshot(meta: meta, modificationTime: 1_700_000_000, entries: entries,
                                                sealHashes: { Array($0.reversed()) }).bytes
        var fixtures = vaultSnapshotFixtures()
        fixtures.insert(("small.snap", small), at: 0)
        for (name, snap) in fixtures {
            seeds.append(("0-" + name, [0, 199, 2] + snap))
            var inflater = try Inflater(format: .gzip)
            var tar: [UInt8] = []
            try snap.withUnsafeBytes { _ = try inflater.decompress($0, into: &tar) }
            seeds.append(("1-" + name, [1, 150, 0] + tar))
            var state: [UInt8] = []
            let summary = try SnapshotVerifier.verify(snap)
            var verifier = try SnapshotVerifier(options: .init()) { key, value in
                state += StorageEntry(key: String(decoding: key, as: UTF8.self), value: Array(value)).delimited()
            }
            try verifier.consume(snap)
            _ = try verifier.finish()
            let sealed = summary.sealedHashes
            seeds.append(("2-" + name, [2, 180, 2, UInt8(sealed.count >> 8), UInt8(sealed.count & 0xff)] + sealed + state))
            seeds.append(("3-sums-" + name, [3, 0, 0] + summary.sha256Sums))
            seeds.append(("3-meta-" + name, [3, 0, 1] + summary.metaJSON))
            if let seal = summary.sealConfigJSON { seeds.append(("3-seal-" + name, [3, 0, 2] + seal)) }
            seeds.append(("3-tar-" + name, [3, 0, 3] + (summary.members.first?.raw ?? [])))
            seeds.append(("3-blob-" + name, [3, 0, 6] + sealed))
        }
        return seeds
    }
    return 0
}

/// Verifies `bytes` fed in pieces; on success runs everything that consumes a summary.
func verify(_ bytes: [UInt8], pieceSize: Int, options: UInt8) {
    let depth: Int? = options & 3 == 3 ? nil : Int(options & 3)
    var entries = 0
    let handler: SnapshotEntryHandler? = options & 4 == 0 ? nil : { _, _ in entries += 1 }
    do {
        var verifier = try SnapshotVerifier(options: .init(keyStatisticsDepth: depth, keyStatisticsFilter: options & 8 == 0 ? "" : "core/"),
                                            entryHandler: handler)
        try feedInPieces(bytes, pieceSize: pieceSize) { try verifier.consume($0) }
        let summary = try verifier.finish()
        fuzzInvariant(summary.byteCount == Int64(bytes.count), "summary byte count \(summary.byteCount) for \(bytes.count) bytes")
        fuzzInvariant(handler == nil || entries == summary.entryCount, "the entry handler saw \(entries) of \(summary.entryCount) entries")
        _ = SnapshotConformance.vaultFormatDeviations(of: summary)
        let inspection = SnapshotInspection(summary: summary)
        _ = inspection.renderTable()
        _ = inspection.renderJSON()
    } catch is SnapshotError {
    } catch {
        fuzzInvariant(false, "the verifier threw a non-snapshot error: \(error)")
    }
}

/// One deflater for the whole run (compressWhole resets it): setting one up per input dominated the run time.
nonisolated(unsafe) var gzipDeflater = try! Deflater(format: .gzip, level: 1)

func gzip(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    do {
        try bytes.withUnsafeBytes { try gzipDeflater.compressWhole($0, into: &out) }
    } catch {
        fuzzInvariant(false, "gzip failed: \(error)")
    }
    return out
}

/// A tar member as Go's archive/tar writes it.
func member(_ name: String, _ data: [UInt8]) -> [UInt8] {
    TarMemberHeader.goUSTAR(name: name, size: Int64(data.count), modificationTime: 1_700_000_000) + data
        + [UInt8](repeating: 0, count: TarMemberHeader.padding(forSize: Int64(data.count)))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSnapshot(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzReader(fuzzBytes(data, size))
    let mode = input.byte() % 4
    let pieces = pieceSize(input.byte())
    let options = input.byte()
    switch mode {
    case 0:
        verify(input.rest(), pieceSize: pieces, options: options)
    case 1:
        verify(gzip(input.rest()), pieceSize: pieces, options: options)
    case 2:
        let sealed = input.take(input.u16())
        let state = input.rest()
        let meta = SnapshotMeta(index: UInt64(options), term: 2, servers: [RaftServer(suffrage: 0, id: "n1", address: "n1:8201")],
                                configurationIndex: 1, size: Int64(state.count)).goJSON()
        let sums = SHA256Sums(metaJSON: SHA256Digest.hash(meta), stateBin: SHA256Digest.hash(state)).encoded()
        let tar = member("meta.json", meta) + member("state.bin", state) + member("SHA256SUMS", sums)
            + member("SHA256SUMS.sealed", sealed) + [UInt8](repeating: 0, count: 2 * TarMemberHeader.blockSize)
        verify(gzip(tar), pieceSize: pieces, options: options)
    default:
        let bytes = input.rest()
        switch options % 8 {
        case 0: _ = try? SHA256Sums.parse(bytes)
        case 1: _ = try? SnapshotMeta.parse(bytes).goJSON()
        case 2: _ = try? SealConfig.parse(bytes).vaultJSON()
        case 3:
            var block = Array(bytes.prefix(TarMemberHeader.blockSize))
            _ = try? block.withUnsafeBytes { try TarMemberHeader.parse($0, memberNumber: 1) }
            block += [UInt8](repeating: 0, count: TarMemberHeader.blockSize - block.count)
            _ = try? block.withUnsafeBytes { try TarMemberHeader.parse($0, memberNumber: 1) }
        case 4: _ = try? StorageEntry(decoding: bytes).encoded()
        case 5: _ = try? KeyInfo(decoding: bytes).encoded()
        default: _ = try? BlobInfo(decoding: bytes).encoded()
        }
    }
    return 0
}

/// The program's entry point (see Fuzz/Package.swift): libFuzzer's driver with this target's callback.
@_cdecl("fuzz_snapshot_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzSnapshot)
}
