// Shared helpers for the snapshot tests: fixture loading, gzip/tar assembly of hand-made or tampered snapshots.

import Foundation
import LifeboatArchive
@testable import LifeboatSnapshot

enum Fixture: String, CaseIterable, CustomStringConvertible {
    case backup = "backup.snap"
    case ellie = "ellie.snap"

    var description: String { rawValue }

    /// Tests/Fixtures/vault-1.14.3 relative to the package root (three levels above this file).
    var path: String {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/Fixtures/vault-1.14.3/\(rawValue)").standardizedFileURL.path
    }

    var bytes: [UInt8] {
        get throws { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    }
}

/// One member of a hand-assembled tar.
struct TarPart {
    var name: String
    var data: [UInt8]
    var header: [UInt8]? = nil
}

enum SnapshotBytes {
    static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var inflater = try Inflater(format: .gzip)
        var out: [UInt8] = []
        _ = try bytes.withUnsafeBytes { try inflater.decompress($0, into: &out) }
        precondition(inflater.isFinished, "test input is not a complete gzip stream")
        return out
    }

    /// Gzip with Go's header bytes; `finish: false` leaves the stream without its end (a leader dying mid-stream).
    static func gzip(_ bytes: [UInt8], finish: Bool = true) throws -> [UInt8] {
        var deflater = try Deflater(format: .gzip, level: 6)
        var out: [UInt8] = []
        try bytes.withUnsafeBytes { try deflater.compress($0, into: &out) }
        if finish { try deflater.finish(into: &out) }
        if out.count >= 10 { out[8] = 0; out[9] = 0xff }
        return out
    }

    /// Splits an uncompressed snapshot tar into its members (names and data), ignoring the end blocks.
    static func members(ofTar tar: [UInt8]) -> [TarPart] {
        var parts: [TarPart] = []
        var offset = 0
        while offset + 512 <= tar.count {
            let block = Array(tar[offset..<(offset + 512)])
            if block.allSatisfy({ $0 == 0 }) { break }
            let header = try! block.withUnsafeBytes { try TarMemberHeader.parse($0, memberNumber: parts.count + 1) }
            let start = offset + 512
            parts.append(TarPart(name: header.name, data: Array(tar[start..<(start + Int(header.size))])))
            offset = start + Int(header.size) + TarMemberHeader.padding(forSize: header.size)
        }
        return parts
    }

    /// A tar in Go's layout from parts, with `endBlocks` zero blocks at the end.
    static func tar(_ parts: [TarPart], mtime: Int64 = 1_700_000_000, endBlocks: Int = 2) -> [UInt8] {
        var out: [UInt8] = []
        for part in parts {
            out += part.header ?? TarMemberHeader.goUSTAR(name: part.name, size: Int64(part.data.count), modificationTime: mtime)
            out += part.data
            out += [UInt8](repeating: 0, count: TarMemberHeader.padding(forSize: Int64(part.data.count)))
        }
        out += [UInt8](repeating: 0, count: 512 * endBlocks)
        return out
    }

    /// The members of a real fixture, for tampering.
    static func fixtureParts(_ fixture: Fixture) throws -> [TarPart] {
        members(ofTar: try gunzip(fixture.bytes))
    }

    /// Recomputes SHA256SUMS for (possibly modified) meta.json and state.bin parts.
    static func resum(_ parts: inout [TarPart]) {
        let meta = parts.first { $0.name == "meta.json" }!.data
        let state = parts.first { $0.name == "state.bin" }!.data
        let sums = SHA256Sums(metaJSON: SHA256Digest.hash(meta), stateBin: SHA256Digest.hash(state)).encoded()
        if let i = parts.firstIndex(where: { $0.name == "SHA256SUMS" }) { parts[i].data = sums }
    }

    static func verify(_ bytes: [UInt8], chunkSize: Int = 4096) -> Result<SnapshotSummary, SnapshotError> {
        do {
            return .success(try SnapshotVerifier.verify(bytes, chunkSize: chunkSize))
        } catch let error as SnapshotError {
            return .failure(error)
        } catch {
            fatalError("unexpected error type \(error)")
        }
    }
}

/// A stand-in for the Shamir seal: a Vault 1.14 `BlobInfo` around fake AES-GCM-shaped bytes (nonce + text + tag).
func testSeal(_ sums: [UInt8]) -> [UInt8] {
    BlobInfo(ciphertext: [UInt8](repeating: 7, count: 12) + sums.map { $0 ^ 0x5a } + [UInt8](repeating: 9, count: 16)).encoded()
}

/// Deterministic pseudo-random bytes (SplitMix64).
struct SeededBytes {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            var v = next()
            for _ in 0..<min(8, count - out.count) {
                out.append(UInt8(truncatingIfNeeded: v))
                v >>= 8
            }
        }
        return out
    }
}
