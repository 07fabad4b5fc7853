// The copy-avoiding paths of the archive layer: the writer seals whole chunks straight from a large input, the reader
// decrypts whole records in place and buffers only a record split across calls, and the inflater hands its output
// out piece by piece. Each must give the same bytes and the same errors as the buffered paths.

import Testing
@testable import LifeboatArchive

@Suite struct ArchiveZeroCopyTests {
    static let salt = [UInt8](repeating: 0x17, count: 32)

    /// Encrypts with a fixed salt (so two runs are byte-identical), feeding the plaintext in pieces of `pieceSize`.
    static func fixedSaltArchive(_ plaintext: [UInt8], chunkSize: Int, compression: Bool, pieceSize: Int) throws -> [UInt8] {
        var writer = try ArchiveWriter(secret: .key(testKey()), chunkSize: chunkSize, compression: compression, salt: salt)
        var out: [UInt8] = []
        var offset = 0
        while offset < plaintext.count {
            let end = min(offset + pieceSize, plaintext.count)
            try writer.write(Array(plaintext[offset..<end]), into: &out)
            offset = end
        }
        try writer.finish(into: &out)
        return out
    }

    @Test(arguments: [false, true])
    func writerOutputDoesNotDependOnPieceSizes(compression: Bool) throws {
        var rng = SeededGenerator(seed: 31)
        // Random chunks, then compressible ones, then a short tail: both the stored and the deflated path.
        let plaintext = rng.bytes(5 * 1024) + compressibleBytes(4 * 1024) + rng.bytes(300)
        let reference = try Self.fixedSaltArchive(plaintext, chunkSize: 1024, compression: compression, pieceSize: 1)
        for pieceSize in [7, 1023, 1024, 1025, 2048, 4097, plaintext.count] {
            let archive = try Self.fixedSaltArchive(plaintext, chunkSize: 1024, compression: compression, pieceSize: pieceSize)
            #expect(archive == reference, "piece size \(pieceSize)")
        }
        #expect(try decrypt(reference) == plaintext)
    }

    @Test func writerSealsExactMultiplesWithTheLastChunkFinal() throws {
        var rng = SeededGenerator(seed: 32)
        let plaintext = rng.bytes(4 * 1024)
        // One write of exactly four chunks: three are sealed from the input, the fourth waits and becomes final.
        let archive = try Self.fixedSaltArchive(plaintext, chunkSize: 1024, compression: false, pieceSize: plaintext.count)
        let offsets = ArchiveTamperTests.recordOffsets(archive)
        #expect(offsets.count == 4)
        #expect(offsets.map { archive[$0 + 16] } == [0, 0, 0, 1])
        #expect(try decrypt(archive, pieceSize: archive.count) == plaintext)
    }

    @Test(arguments: [1, 20, 21, 22, 1024 + 36, 1024 + 37, 1024 + 38, 5000, 1 << 20])
    func readerGivesTheSameBytesForAnySplit(pieceSize: Int) throws {
        var rng = SeededGenerator(seed: 33)
        let plaintext = rng.bytes(6 * 1024 + 11) + compressibleBytes(3 * 1024)
        let archive = try encrypt(plaintext, chunkSize: 1024)
        #expect(try decrypt(archive, pieceSize: pieceSize) == plaintext)
    }

    @Test(arguments: [1, 100, 1 << 20])
    func failedChunkLeavesOnlyAuthenticatedPlaintextInTheOutput(pieceSize: Int) throws {
        var archive = try ArchiveTamperTests.archive()
        let offsets = ArchiveTamperTests.recordOffsets(archive)
        archive[offsets[2] + 21 + 5] ^= 0x80
        var reader = ArchiveReader(keyRing: KeyRing(keys: [testKey()]))
        var out: [UInt8] = []
        var offset = 0
        var failure: ArchiveError?
        while offset < archive.count {
            let end = min(offset + pieceSize, archive.count)
            do {
                try reader.consume(Array(archive[offset..<end]), into: &out)
            } catch let error as ArchiveError {
                failure = error
                break
            }
            offset = end
        }
        #expect(failure == .chunkAuthenticationFailed(index: 2, offset: UInt64(offsets[2])))
        // The two chunks before the damaged one, and not one byte of the damaged chunk's decryption.
        #expect(out == Array(ArchiveTamperTests.plaintext[0..<2048]))
    }

    @Test(arguments: [1, 9, 50, 1 << 20])
    func trailingBytesAreReportedAtTheirOffsetForAnySplit(pieceSize: Int) throws {
        let archive = try ArchiveTamperTests.archive()
        #expect(throws: ArchiveError.trailingData(offset: UInt64(archive.count))) {
            try decrypt(archive + [1, 2, 3], pieceSize: pieceSize)
        }
    }

    @Test func inflaterHandsOutTheSameBytesPieceByPiece() throws {
        let plaintext = compressibleBytes(3 << 20, seed: 9)
        var deflater = try Deflater(format: .gzip, level: 6)
        var compressed: [UInt8] = []
        try plaintext.withUnsafeBytes { try deflater.compress($0, into: &compressed) }
        try deflater.finish(into: &compressed)

        var inflater = try Inflater(format: .gzip)
        var pieces: [UInt8] = []
        var largest = 0
        let used = try compressed.withUnsafeBytes { input in
            try inflater.decompress(input) { piece in
                largest = max(largest, piece.count)
                pieces.append(contentsOf: piece)
            }
        }
        #expect(used == compressed.count)
        #expect(inflater.isFinished)
        #expect(pieces == plaintext)
        // Bounded by zlib's scratch space, however large the input.
        #expect(largest <= 256 * 1024)

        var limited = try Inflater(format: .gzip)
        #expect(throws: ZlibError.self) {
            try compressed.withUnsafeBytes { try limited.decompress($0, limit: 1 << 20) { _ in } }
        }
    }
}
