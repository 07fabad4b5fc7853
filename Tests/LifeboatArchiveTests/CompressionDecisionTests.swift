// Which chunks the writer deflates: random data is recognised by its byte entropy and stored without trying
// deflate; anything with less entropy (text, base64, JSON) still goes through the deflate sample. Also the atomic
// file writer's early writeback, which must not change what ends up in the file.

import Foundation
import Testing
@testable import LifeboatArchive

@Suite struct CompressionDecisionTests {
    static func entropy(_ bytes: [UInt8]) -> Double {
        bytes.withUnsafeBytes { ArchiveWriter.entropy($0) }
    }

    @Test func entropyOfKnownDistributions() {
        #expect(Self.entropy([]) == 0)
        #expect(Self.entropy([UInt8](repeating: 7, count: 4096)) == 0)
        #expect(abs(Self.entropy((0..<4096).map { UInt8($0 % 2) }) - 1) < 1e-9)
        #expect(abs(Self.entropy((0..<4096).map { UInt8($0 % 256) }) - 8) < 1e-9)
        var rng = SeededGenerator(seed: 41)
        // 4 KiB of random bytes: just under 8 bits, above the skip threshold.
        let random = Self.entropy(rng.bytes(4096))
        #expect(random >= ArchiveWriter.entropySkipBits && random < 8)
    }

    /// Base64 of random bytes: 6 bits per byte, compresses by ~25 %.
    static func base64Text(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        return Array(Data(rng.bytes(count * 3 / 4 + 3)).base64EncodedData().prefix(count))
    }

    @Test func lowEntropyChunksAreStillDeflatedAndRandomOnesStored() throws {
        var rng = SeededGenerator(seed: 42)
        let text = Self.base64Text(16384 * 2, seed: 43)
        #expect(Self.entropy(Array(text.prefix(4096))) < ArchiveWriter.entropySkipBits)
        var writer = try ArchiveWriter(secret: .key(testKey()), chunkSize: 16384, compression: true)
        var out: [UInt8] = []
        try writer.write(text, into: &out)
        try writer.write(rng.bytes(16384 * 3), into: &out)
        try writer.write(compressibleBytes(16384), into: &out)
        try writer.finish(into: &out)
        #expect(writer.deflatedChunks == 3)
        #expect(writer.storedChunks == 3)
        #expect(try decrypt(out) == text + { var r = SeededGenerator(seed: 42); return r.bytes(16384 * 3) }() + compressibleBytes(16384))
    }

    @Test func shortChunksSkipTheEntropyTestAndUseTheSample() throws {
        // Below 4 KiB the histogram says little; the deflate sample decides (compressible text of 1000 bytes).
        var writer = try ArchiveWriter(secret: .key(testKey()), chunkSize: 1024, compression: true)
        var out: [UInt8] = []
        try writer.write(compressibleBytes(1000), into: &out)
        try writer.finish(into: &out)
        #expect(writer.deflatedChunks == 1)
    }

    @Test func atomicWriterWithEarlyWritebackKeepsEveryByte() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var rng = SeededGenerator(seed: 44)
        let content = rng.bytes(Int(AtomicFileWriter.writebackInterval) * 2 + 12345)
        let writer = try AtomicFileWriter(path: directory + "/big")
        var offset = 0
        var piece = 1
        while offset < content.count {
            let end = min(content.count, offset + piece)
            try content[offset..<end].withUnsafeBytes { try writer.write($0) }
            offset = end
            piece = piece * 3 + 1
        }
        try writer.commit()
        #expect(FileManager.default.contents(atPath: directory + "/big") == Data(content))
    }
}
