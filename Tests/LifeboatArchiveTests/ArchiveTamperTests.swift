// Every kind of damage the reader must detect, each with its own error.

import Testing
@testable import LifeboatArchive

@Suite struct ArchiveTamperTests {
    /// 3 chunks of 1 KiB and a 500-byte final one, stored without compression so offsets are predictable.
    static let plaintext: [UInt8] = {
        var rng = SeededGenerator(seed: 11)
        return rng.bytes(3 * 1024 + 500)
    }()

    static func archive() throws -> [UInt8] { try encrypt(plaintext, chunkSize: 1024, compression: false) }

    /// Offsets where each chunk record starts, and the end.
    static func recordOffsets(_ archive: [UInt8]) -> [Int] {
        var offsets: [Int] = []
        var offset = ArchiveHeader.length
        while offset < archive.count {
            offsets.append(offset)
            let length = archive[(offset + 17)..<(offset + 21)].reduce(0) { $0 << 8 | Int($1) }
            offset += 21 + length
        }
        return offsets
    }

    @Test func everyFlippedBitIsDetected() throws {
        let archive = try Self.archive()
        // Every byte position, one bit each (rotating which bit), must make decryption fail.
        for position in 0..<archive.count {
            var damaged = archive
            damaged[position] ^= UInt8(1 << (position % 8))
            #expect(throws: (any Error).self, "flip at \(position) went undetected") { try decrypt(damaged) }
        }
    }

    @Test func flippedHeaderByteIsAHeaderAuthenticationFailure() throws {
        var archive = try Self.archive()
        archive[15] ^= 0x01  // chunk size 1024 -> 1025: still in range, so only the MAC can catch it
        #expect(throws: ArchiveError.headerAuthenticationFailed) { try decrypt(archive) }
        var saltFlip = try Self.archive()
        saltFlip[40] ^= 0x80
        #expect(throws: ArchiveError.headerAuthenticationFailed) { try decrypt(saltFlip) }
    }

    @Test func flippedBodyByteIsAChunkAuthenticationFailure() throws {
        var archive = try Self.archive()
        let offsets = Self.recordOffsets(archive)
        archive[offsets[1] + 21 + 100] ^= 0x04
        #expect(throws: ArchiveError.chunkAuthenticationFailed(index: 1, offset: UInt64(offsets[1]))) { try decrypt(archive) }
    }

    @Test func flippingTheFinalFlagIsDetected() throws {
        var archive = try Self.archive()
        let offsets = Self.recordOffsets(archive)
        archive[offsets[3] + 16] &= ~0x01  // unmark the final chunk
        #expect(throws: ArchiveError.chunkAuthenticationFailed(index: 3, offset: UInt64(offsets[3]))) { try decrypt(archive) }
        var early = try Self.archive()
        early[offsets[1] + 16] |= 0x01  // mark chunk 1 final, as a truncating attacker would
        #expect(throws: ArchiveError.chunkAuthenticationFailed(index: 1, offset: UInt64(offsets[1]))) { try decrypt(early) }
    }

    @Test func truncationAtEveryChunkBoundary() throws {
        let archive = try Self.archive()
        let offsets = Self.recordOffsets(archive)
        for boundary in offsets {
            let cut = Array(archive[0..<boundary])
            do {
                _ = try decrypt(cut)
                Issue.record("truncation at boundary \(boundary) went undetected")
            } catch let error as ArchiveError {
                guard case .truncated(let offset, let detail) = error else { Issue.record("wrong error \(error)"); continue }
                #expect(offset == UInt64(boundary))
                #expect(detail.contains("chunk boundary"))
            }
        }
    }

    @Test func truncationAtEveryOffset() throws {
        let archive = try Self.archive()
        for length in 0..<archive.count {
            do {
                _ = try decrypt(Array(archive[0..<length]), pieceSize: 97)
                Issue.record("truncation to \(length) bytes went undetected")
            } catch let error as ArchiveError {
                guard case .truncated(let offset, _) = error else { Issue.record("wrong error at \(length): \(error)"); continue }
                #expect(offset == UInt64(length))
            }
        }
    }

    @Test func bytesAfterTheFinalChunkAreRejected() throws {
        let archive = try Self.archive()
        #expect(throws: ArchiveError.trailingData(offset: UInt64(archive.count))) { try decrypt(archive + [0]) }
        #expect(throws: ArchiveError.trailingData(offset: UInt64(archive.count))) { try decrypt(archive + archive) }
    }

    @Test func swappedChunksAreReportedAsReordered() throws {
        let archive = try Self.archive()
        let o = Self.recordOffsets(archive)
        let swapped = Array(archive[0..<o[0]]) + Array(archive[o[1]..<o[2]]) + Array(archive[o[0]..<o[1]]) + Array(archive[o[2]...])
        #expect(throws: ArchiveError.chunkOutOfOrder(expected: 0, found: 1, offset: UInt64(o[0]))) { try decrypt(swapped) }
    }

    @Test func duplicatedChunkIsReportedAsDuplicated() throws {
        let archive = try Self.archive()
        let o = Self.recordOffsets(archive)
        let duplicated = Array(archive[0..<o[2]]) + Array(archive[o[1]..<o[2]]) + Array(archive[o[2]...])
        let error = #expect(throws: ArchiveError.self) { try decrypt(duplicated) }
        #expect(error == .chunkOutOfOrder(expected: 2, found: 1, offset: UInt64(o[2])))
        #expect(error?.description.contains("duplicated") == true)
    }

    @Test func chunkSplicedFromAnotherArchiveIsNamed() throws {
        let a = try Self.archive(), b = try Self.archive()  // same key, different salts
        let oa = Self.recordOffsets(a), ob = Self.recordOffsets(b)
        let spliced = Array(a[0..<oa[1]]) + Array(b[ob[1]..<ob[2]]) + Array(a[oa[2]...])
        #expect(throws: ArchiveError.chunkFromAnotherArchive(index: 1, offset: UInt64(oa[1]))) { try decrypt(spliced) }
    }

    @Test func wrongKeyIsNamedBeforeDecryption() throws {
        let archive = try Self.archive()
        let other = testKey(0x99)
        #expect(throws: ArchiveError.wrongKey(archiveKeyID: testKey().idString, configuredKeyIDs: [other.idString])) {
            try decrypt(archive, keyRing: KeyRing(keys: [other]))
        }
    }

    @Test func unknownVersionIsReportedEvenWithAShortHeader() throws {
        var archive = try Self.archive()
        archive[8] = 2
        #expect(throws: ArchiveError.unsupportedVersion(2)) { try decrypt(archive) }
        #expect(throws: ArchiveError.unsupportedVersion(2)) { try decrypt(Array(archive[0..<9])) }
    }

    @Test func notAnArchive() throws {
        #expect(throws: ArchiveError.notAnArchive) { try decrypt(Array("hello, world".utf8)) }
        #expect(throws: ArchiveError.notAnArchive) { try decrypt([0x1f, 0x8b, 0x08]) }
    }

    @Test func errorsAreDistinctAndActionable() {
        let errors: [ArchiveError] = [
            .notAnArchive, .unsupportedVersion(9), .wrongKey(archiveKeyID: "a", configuredKeyIDs: ["b"]), .wrongPassphrase,
            .headerAuthenticationFailed, .truncated(offset: 1, detail: "x"), .trailingData(offset: 1),
            .chunkOutOfOrder(expected: 2, found: 3, offset: 4), .chunkFromAnotherArchive(index: 1, offset: 2),
            .chunkAuthenticationFailed(index: 1, offset: 2), .malformedChunk(index: 1, offset: 2, detail: "x"),
        ]
        let firstWords = Set(errors.map { $0.description.split(separator: ":").first.map(String.init) ?? "" })
        #expect(firstWords.count == errors.count)
        for error in errors { #expect(error.description.contains(";"), "\(error) should say what to do") }
    }
}
