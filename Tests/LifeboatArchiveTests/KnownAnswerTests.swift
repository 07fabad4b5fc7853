// Known-answer vectors: a fixed key, salt and input must give exactly the committed archive bytes.
// Set LIFEBOAT_WRITE_KAT=1 to (re)write Vectors/ after a deliberate format change.

import Foundation
import Testing
@testable import LifeboatArchive

@Suite struct KnownAnswerTests {
    struct Vector: Codable {
        var name: String
        var master_key_hex: String
        var salt_hex: String
        var chunk_size: Int
        var compression: Int
        var plaintext_hex: String
        var archive_hex: String
    }

    static func make(name: String, plaintext: [UInt8], chunkSize: Int, compression: Bool) throws -> Vector {
        let master = (0..<32).map { UInt8($0) }
        let salt = (0..<32).map { UInt8(0xa0 &+ $0) }
        var writer = try ArchiveWriter(secret: .key(ArchiveKey(material: SecureBytes(master))), chunkSize: chunkSize,
                                       compression: compression, salt: salt)
        var out: [UInt8] = []
        try writer.write(plaintext, into: &out)
        try writer.finish(into: &out)
        return Vector(name: name, master_key_hex: Hex.encode(master), salt_hex: Hex.encode(salt), chunk_size: chunkSize,
                      compression: compression ? 1 : 0, plaintext_hex: Hex.encode(plaintext), archive_hex: Hex.encode(out))
    }

    static func current() throws -> [Vector] {
        [
            try make(name: "empty", plaintext: [], chunkSize: 1024, compression: true),
            try make(name: "short", plaintext: Array("Lifeboat known-answer vector".utf8), chunkSize: 1024, compression: false),
            try make(name: "three-chunks-deflated", plaintext: compressibleBytes(2500), chunkSize: 1024, compression: true),
            try make(name: "exact-two-chunks", plaintext: (0..<2048).map { UInt8(truncatingIfNeeded: $0 &* 31) }, chunkSize: 1024,
                     compression: false),
        ]
    }

    @Test func writerReproducesCommittedVectors() throws {
        let directory = testsDirectory.appendingPathComponent("Vectors")
        let vectors = try Self.current()
        if ProcessInfo.processInfo.environment["LIFEBOAT_WRITE_KAT"] == "1" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            for vector in vectors {
                try encoder.encode(vector).write(to: directory.appendingPathComponent("kat-\(vector.name).json"))
            }
        }
        for vector in vectors {
            let data = try Data(contentsOf: directory.appendingPathComponent("kat-\(vector.name).json"))
            let committed = try JSONDecoder().decode(Vector.self, from: data)
            #expect(committed.archive_hex == vector.archive_hex, "vector \(vector.name) changed: the format is frozen")
            let archive = try #require(Hex.decode(committed.archive_hex))
            let key = try ArchiveKey(material: SecureBytes(try #require(Hex.decode(committed.master_key_hex))))
            #expect(try decrypt(archive, keyRing: KeyRing(keys: [key])) == Hex.decode(committed.plaintext_hex))
        }
    }
}
