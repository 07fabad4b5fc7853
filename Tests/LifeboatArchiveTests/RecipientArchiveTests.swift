// Public-key (recipient) archives, docs/format.md §1.1 and §2.1: round trips at the chunk-boundary sizes with one and
// several recipients, key rotation across recipients and symmetric keys, X25519 against RFC 7748's vector, known-answer
// vectors (Vectors/rkat-*.json; LIFEBOAT_WRITE_KAT=1 rewrites them), every header byte tampered, truncation inside the
// stanzas, and the structure-only check that needs no key.

import Foundation
import Testing
@testable import LifeboatArchive

@Suite("Recipient archives (X25519)")
struct RecipientArchiveTests {
    static func identity(_ byte: UInt8) throws -> RecipientIdentity {
        try RecipientIdentity(privateKey: SecureBytes((0..<32).map { UInt8(truncatingIfNeeded: Int(byte) &* 7 &+ $0) }))
    }

    static func write(_ plaintext: [UInt8], to recipients: [RecipientPublicKey], chunkSize: Int = 1024,
                      compression: Bool = true) throws -> [UInt8] {
        var writer = try ArchiveWriter(secret: .recipients(recipients), chunkSize: chunkSize, compression: compression)
        var out: [UInt8] = []
        var offset = 0
        while offset < plaintext.count {
            let end = min(offset + 777, plaintext.count)
            try writer.write(Array(plaintext[offset..<end]), into: &out)
            offset = end
        }
        try writer.finish(into: &out)
        return out
    }

    @Test("X25519 through EVP matches RFC 7748 §6.1")
    func rfc7748() throws {
        let alicePrivate = try #require(Hex.decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let bobPublic = try #require(Hex.decode("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        #expect(Hex.encode(try X25519.publicKey(privateKey: SecureBytes(alicePrivate)))
                == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        let shared = try X25519.sharedSecret(privateKey: SecureBytes(alicePrivate), peer: bobPublic)
        #expect(shared.withUnsafeBytes { Hex.encode($0) } == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        // A low-order peer point gives an all-zero secret, which OpenSSL refuses: no stanza can be forced open that way.
        #expect(throws: OpenSSLError.self) { try X25519.sharedSecret(privateKey: SecureBytes(alicePrivate), peer: [UInt8](repeating: 0, count: 32)) }
    }

    @Test("round trips at the chunk-boundary sizes; every recipient's identity decrypts", arguments: [0, 1, 1023, 1024, 1025, 3072], [1, 3])
    func roundTrip(size: Int, recipients count: Int) throws {
        let identities = try (0..<count).map { try Self.identity(UInt8($0 + 1)) }
        let plaintext = compressibleBytes(size)
        let archive = try Self.write(plaintext, to: identities.map(\.recipient))
        #expect(archive[10] == 3)
        #expect(archive[61..<65].reduce(0) { $0 << 8 | Int($1) } == count)
        for identity in identities {
            #expect(try decrypt(archive, keyRing: KeyRing(identities: [identity])) == plaintext)
        }
        // Also in pieces that cut the header, the stanzas and every record at odd places.
        #expect(try decrypt(archive, keyRing: KeyRing(identities: [identities[count - 1]]), pieceSize: 13) == plaintext)
    }

    @Test("rotation: one ring of key files and identities decrypts archives of either kind")
    func rotation() throws {
        let identity = try Self.identity(9)
        let key = testKey(0x11)
        let ring = KeyRing(keys: [testKey(0x22), key], identities: [try Self.identity(8), identity])
        let plaintext = compressibleBytes(2500)
        #expect(try decrypt(try Self.write(plaintext, to: [identity.recipient]), keyRing: ring) == plaintext)
        #expect(try decrypt(try encrypt(plaintext, key: key), keyRing: ring) == plaintext)
    }

    @Test("a missing or wrong identity is reported before any decryption, naming the recipients")
    func wrongIdentity() throws {
        let archive = try Self.write(Array("secret".utf8), to: [try Self.identity(1).recipient, try Self.identity(2).recipient])
        #expect {
            try decrypt(archive, keyRing: KeyRing(keys: [testKey()]))
        } throws: { error in
            guard case ArchiveError.missingSecret(let what) = error else { return false }
            return what.contains(try! Self.identity(1).recipient.idString)
        }
        #expect {
            try decrypt(archive, keyRing: KeyRing(identities: [try Self.identity(3)]))
        } throws: { error in
            guard case ArchiveError.wrongIdentity(let recipients, let configured) = error else { return false }
            return recipients.count == 2 && configured == [try! Self.identity(3).recipient.idString]
        }
    }

    @Test("encrypting refuses no recipient, more than 64, and a recipient listed twice")
    func recipientCountBounds() throws {
        let one = try Self.identity(1).recipient
        #expect(throws: CryptoParameterError.self) { try ArchiveWriter(secret: .recipients([])) }
        #expect(throws: CryptoParameterError.self) { try ArchiveWriter(secret: .recipients([one, one])) }
        let many = try (0..<65).map { try Self.identity(UInt8($0)).recipient }
        #expect(throws: CryptoParameterError.self) { try ArchiveWriter(secret: .recipients(many)) }
    }

    @Test("every byte of a two-recipient header, changed, fails with the check that guards it")
    func tamperEveryHeaderByte() throws {
        let first = try Self.identity(1), second = try Self.identity(2)
        let archive = try Self.write(compressibleBytes(1500), to: [first.recipient, second.recipient])
        let headerLength = ArchiveHeader.length + 2 * RecipientStanza.length
        for offset in 0..<headerLength {
            var damaged = archive
            damaged[offset] ^= 0x01
            do {
                _ = try decrypt(damaged, keyRing: KeyRing(identities: [second]))
                Issue.record("a change at header byte \(offset) went unnoticed")
            } catch let error as ArchiveError {
                let expected: (ArchiveError) -> Bool
                switch offset {
                case 0..<8: expected = { $0 == .notAnArchive }
                case 8: expected = { if case .unsupportedVersion = $0 { return true } else { return false } }
                case 9, 10, 11:  // unknown ids, or another valid one (compression 00) that the MAC then refuses
                    expected = { if case .unsupportedAlgorithm = $0 { return true }; if case .malformedHeader = $0 { return true }
                        return $0 == .headerAuthenticationFailed }
                case 56..<65: expected = { if case .malformedHeader = $0 { return true }; if case .truncated = $0 { return true }; return $0 == .headerAuthenticationFailed }
                case 97 + 88..<97 + 88 + 8:  // the second stanza's recipient id: no stanza for this identity any more
                    expected = { if case .wrongIdentity = $0 { return true } else { return false } }
                case 97 + 88 + 8..<headerLength:  // its ephemeral key or wrapped file key
                    expected = { if case .recipientStanzaAuthenticationFailed = $0 { return true } else { return false } }
                default:  // chunk size, key id, salt, MAC, the first stanza: the MAC (or the key id) does not verify
                    expected = { $0 == .headerAuthenticationFailed || { if case .malformedHeader = $0 { return true } else { return false } }($0) }
                }
                #expect(expected(error), "byte \(offset): \(error)")
            }
        }
    }

    @Test("an input ending inside the stanzas is truncated, at any length")
    func truncatedInsideStanzas() throws {
        let archive = try Self.write(Array("x".utf8), to: [try Self.identity(1).recipient, try Self.identity(2).recipient])
        for length in [97, 98, 97 + 88, 97 + 175] {
            #expect {
                try decrypt(Array(archive.prefix(length)), keyRing: KeyRing(identities: [try Self.identity(1)]))
            } throws: { error in
                guard case ArchiveError.truncated(_, let detail) = error else { return false }
                return detail.contains("recipient stanzas")
            }
        }
    }

    @Test("structure check without a key: accepts intact archives, finds framing damage, cannot see body changes")
    func structureOnly() throws {
        let plaintext = compressibleBytes(3000)
        let archive = try Self.write(plaintext, to: [try Self.identity(1).recipient])
        func check(_ bytes: [UInt8]) throws -> UInt64 {
            var reader = ArchiveReader(checkingStructureOnly: ())
            var out: [UInt8] = []
            try reader.consume(bytes, into: &out)
            try reader.finish()
            #expect(out.isEmpty, "no plaintext without a key")
            return reader.chunkCount
        }
        #expect(try check(archive) == 3)
        #expect(try check(try encrypt(plaintext)) == 3, "symmetric archives too")
        #expect(throws: ArchiveError.self) { try check(Array(archive.dropLast())) }
        #expect(throws: ArchiveError.self) { try check(archive + [0]) }
        var reordered = archive
        reordered[97 + 88 + 15] ^= 0x01  // chunk 0's index
        #expect(throws: ArchiveError.self) { try check(reordered) }
        // What only the key can tell: a flipped body byte passes the structure check and fails authentication.
        var flipped = archive
        flipped[archive.count - 5] ^= 0x01
        #expect(try check(flipped) == 3)
        #expect(throws: ArchiveError.self) { try decrypt(flipped, keyRing: KeyRing(identities: [try Self.identity(1)])) }
    }

    @Test("identity and recipient files: written 0600, read back, refused when open to others, told apart from key files")
    func files() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let identity = try RecipientIdentity.generate()
        let path = dir + "/identity"
        try identity.write(to: path)
        #expect(throws: KeyFileError.self) { try identity.write(to: path) }
        guard case .identity(let loaded) = try DecryptionKeyFile.load(path: path) else {
            Issue.record("an identity file was not recognised")
            return
        }
        #expect(loaded.recipient == identity.recipient)
        let ring = try KeyRing(files: [path])
        #expect(ring.identities.count == 1 && ring.keys.isEmpty)
        chmod(path, 0o644)
        #expect(throws: KeyFileError.self) { try DecryptionKeyFile.load(path: path) }
        #expect(try RecipientPublicKey.resolve(identity.recipient.description) == identity.recipient)
        #expect(throws: KeyFileError.self) { try RecipientPublicKey(parsing: "lifeboat-recipient-1:00", source: "x") }
    }

    // MARK: Known-answer vectors

    struct Vector: Codable {
        var name: String
        var identity_private_keys_hex: [String]
        var ephemeral_private_keys_hex: [String]
        var file_key_hex: String
        var salt_hex: String
        var chunk_size: Int
        var compression: Int
        var plaintext_hex: String
        var archive_hex: String
    }

    static func vector(name: String, plaintext: [UInt8], recipients: Int) throws -> Vector {
        let identities = try (0..<recipients).map { try identity(UInt8(0x30 + $0)) }
        let ephemeral = (0..<recipients).map { n in (0..<32).map { UInt8(truncatingIfNeeded: 0x90 &+ n &* 3 &+ $0) } }
        let fileKey = (0..<32).map { UInt8(0x50 &+ $0) }
        let salt = (0..<32).map { UInt8(0xa0 &+ $0) }
        var writer = try ArchiveWriter(secret: .recipients(identities.map(\.recipient)), chunkSize: 1024, compression: true,
                                       salt: salt, fileKey: SecureBytes(fileKey), ephemeralKeys: ephemeral.map { SecureBytes($0) })
        var out: [UInt8] = []
        try writer.write(plaintext, into: &out)
        try writer.finish(into: &out)
        return Vector(name: name, identity_private_keys_hex: identities.map { $0.privateKey.withUnsafeBytes { Hex.encode($0) } },
                      ephemeral_private_keys_hex: ephemeral.map { Hex.encode($0) }, file_key_hex: Hex.encode(fileKey),
                      salt_hex: Hex.encode(salt), chunk_size: 1024, compression: 1, plaintext_hex: Hex.encode(plaintext),
                      archive_hex: Hex.encode(out))
    }

    static func currentVectors() throws -> [Vector] {
        [
            try vector(name: "one-recipient", plaintext: Array("Lifeboat recipient known-answer vector".utf8), recipients: 1),
            try vector(name: "two-recipients-two-chunks", plaintext: compressibleBytes(1500), recipients: 2),
        ]
    }

    @Test("the writer reproduces the committed recipient vectors, and each identity decrypts them")
    func knownAnswerVectors() throws {
        let directory = testsDirectory.appendingPathComponent("Vectors")
        let vectors = try Self.currentVectors()
        if ProcessInfo.processInfo.environment["LIFEBOAT_WRITE_KAT"] == "1" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            for vector in vectors {
                try encoder.encode(vector).write(to: directory.appendingPathComponent("rkat-\(vector.name).json"))
            }
        }
        for vector in vectors {
            let data = try Data(contentsOf: directory.appendingPathComponent("rkat-\(vector.name).json"))
            let committed = try JSONDecoder().decode(Vector.self, from: data)
            #expect(committed.archive_hex == vector.archive_hex, "vector \(vector.name) changed: the format is frozen")
            let archive = try #require(Hex.decode(committed.archive_hex))
            for hex in committed.identity_private_keys_hex {
                let identity = try RecipientIdentity(privateKey: SecureBytes(try #require(Hex.decode(hex))))
                #expect(try decrypt(archive, keyRing: KeyRing(identities: [identity])) == Hex.decode(committed.plaintext_hex))
            }
        }
    }
}
