// Helpers shared by the archive tests: seeded randomness, whole-buffer encrypt/decrypt, temp directories.

import Foundation
@testable import LifeboatArchive

/// SplitMix64: deterministic bytes for reproducible test inputs.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            let word = next()
            for shift in stride(from: 0, to: 64, by: 8) where out.count < count { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return out
    }
}

/// Text-like, compressible bytes.
func compressibleBytes(_ count: Int, seed: UInt64 = 7) -> [UInt8] {
    var rng = SeededGenerator(seed: seed)
    let words = ["vault", "raft", "snapshot", "secret", "lifeboat", "leader", "unseal", "\n", " ", "policy"].map { Array($0.utf8) }
    var out = [UInt8]()
    out.reserveCapacity(count)
    while out.count < count { out.append(contentsOf: words[Int(rng.next() % UInt64(words.count))]) }
    return Array(out.prefix(count))
}

/// A fixed key, so failures are reproducible.
func testKey(_ byte: UInt8 = 0x42) -> ArchiveKey {
    try! ArchiveKey(material: SecureBytes([UInt8](repeating: byte, count: 32)))
}

/// Encrypts `plaintext` in pieces of `pieceSize`.
func encrypt(_ plaintext: [UInt8], key: ArchiveKey = testKey(), chunkSize: Int = 1024, compression: Bool = true,
             pieceSize: Int = 777) throws -> [UInt8] {
    var writer = try ArchiveWriter(secret: .key(key), chunkSize: chunkSize, compression: compression)
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

/// Decrypts `archive` fed in pieces of `pieceSize`; throws the reader's error.
func decrypt(_ archive: [UInt8], keyRing: KeyRing = KeyRing(keys: [testKey()]), pieceSize: Int = 1000) throws -> [UInt8] {
    var reader = ArchiveReader(keyRing: keyRing)
    var out: [UInt8] = []
    var offset = 0
    while offset < archive.count {
        let end = min(offset + pieceSize, archive.count)
        try reader.consume(Array(archive[offset..<end]), into: &out)
        offset = end
    }
    try reader.finish()
    return out
}

/// A fresh empty directory under the system temp directory.
func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "lifeboat-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Tests/LifeboatArchiveTests, for the committed vectors.
let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
