// Round trips through ArchiveWriter and ArchiveReader at the sizes where chunking can go wrong.

import Testing
@testable import LifeboatArchive

@Suite struct ArchiveRoundTripTests {
    static let chunk = 1024

    @Test(arguments: [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk, 300 * chunk, 300 * chunk + 17])
    func randomBytesRoundTrip(size: Int) throws {
        var rng = SeededGenerator(seed: UInt64(size) + 1)
        let plaintext = rng.bytes(size)
        let archive = try encrypt(plaintext, chunkSize: Self.chunk)
        #expect(try decrypt(archive) == plaintext)
    }

    @Test(arguments: [0, 1, chunk, chunk + 1, 3 * chunk, 300 * chunk])
    func compressibleBytesRoundTripAndShrink(size: Int) throws {
        let plaintext = compressibleBytes(size)
        let archive = try encrypt(plaintext, chunkSize: Self.chunk)
        #expect(try decrypt(archive) == plaintext)
        if size >= 3 * Self.chunk {
            #expect(archive.count < plaintext.count, "compressible input must be stored deflated")
        }
    }

    @Test func chunkCounterPasses255() throws {
        // 300 chunks: the nonce's counter carries into its second byte.
        var rng = SeededGenerator(seed: 99)
        let plaintext = rng.bytes(300 * Self.chunk + 5)
        let archive = try encrypt(plaintext, chunkSize: Self.chunk, compression: false, pieceSize: 65536)
        #expect(try decrypt(archive, pieceSize: 65536) == plaintext)
        #expect(archive[archive.count - 37 - 5 + 8 ..< archive.count - 37 - 5 + 16] == [0, 0, 0, 0, 0, 0, 1, 44])
    }

    @Test func randomSizesAndPieceSizesFromSeed() throws {
        var rng = SeededGenerator(seed: 2026)
        for _ in 0..<40 {
            let size = Int(rng.next() % 20_000)
            let chunkSize = 1024 + Int(rng.next() % 3000)
            let plaintext = rng.next() % 2 == 0 ? rng.bytes(size) : compressibleBytes(size, seed: rng.next())
            let archive = try encrypt(plaintext, chunkSize: chunkSize, pieceSize: 1 + Int(rng.next() % 5000))
            #expect(try decrypt(archive, pieceSize: 1 + Int(rng.next() % 5000)) == plaintext)
        }
    }

    @Test func incompressibleChunksAreStoredAsTheyAre() throws {
        var rng = SeededGenerator(seed: 5)
        var writer = try ArchiveWriter(secret: .key(testKey()), chunkSize: 4096, compression: true)
        var out: [UInt8] = []
        try writer.write(rng.bytes(4096 * 4), into: &out)
        try writer.write(compressibleBytes(4096 * 2), into: &out)
        try writer.finish(into: &out)
        #expect(writer.storedChunks == 4)
        #expect(writer.deflatedChunks == 2)
        // Record overhead only: header + 6 * (21 + 16) + 4 raw chunks + 2 small deflated ones.
        #expect(out.count < ArchiveHeader.length + 6 * 37 + 4 * 4096 + 2 * 1024)
    }

    @Test func emptyInputIsAValidArchive() throws {
        let archive = try encrypt([], chunkSize: Self.chunk)
        #expect(archive.count == ArchiveHeader.length + 21 + 16)
        #expect(try decrypt(archive) == [])
    }

    @Test func passphraseArchiveRoundTrips() throws {
        let passphrase = SecureBytes(Array("correct horse battery staple".utf8))
        var writer = try ArchiveWriter(secret: .passphrase(passphrase, ScryptParameters(log2N: 10, r: 8, p: 1)), chunkSize: 1024)
        var archive: [UInt8] = []
        let plaintext = compressibleBytes(5000)
        try writer.write(plaintext, into: &archive)
        try writer.finish(into: &archive)
        #expect(writer.header.kdf == .passphrase)
        #expect(try decrypt(archive, keyRing: KeyRing(passphrase: passphrase)) == plaintext)
        #expect(throws: ArchiveError.wrongPassphrase) {
            try decrypt(archive, keyRing: KeyRing(passphrase: SecureBytes(Array("wrong".utf8))))
        }
        #expect(throws: ArchiveError.missingSecret("a passphrase, not a key file")) {
            try decrypt(archive, keyRing: KeyRing(keys: [testKey()]))
        }
    }

    @Test func keyRotationDecryptsWithAnyConfiguredKey() throws {
        let old = testKey(1), current = testKey(2)
        let archive = try encrypt(Array("written with the old key".utf8), key: old)
        #expect(try decrypt(archive, keyRing: KeyRing(keys: [current, old])) == Array("written with the old key".utf8))
    }

    @Test func eachArchiveHasItsOwnSalt() throws {
        let a = try encrypt([1, 2, 3]), b = try encrypt([1, 2, 3])
        #expect(a != b)
        #expect(Array(a[24..<56]) != Array(b[24..<56]))
    }
}
