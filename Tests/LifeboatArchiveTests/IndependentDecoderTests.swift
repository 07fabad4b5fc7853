// Cross-checks Lifeboat's archive writer against scripts/lifeboat-decode.py, a decoder written from docs/format.md
// alone: archives written here must decode byte for byte there, damaged ones must fail with exit status 65, and the
// known-answer vectors in Vectors/kat-*.json (when present) must decode to their plaintext.

import Foundation
import Testing
@testable import LifeboatArchive

@Suite("Independent decoder (scripts/lifeboat-decode.py)")
struct IndependentDecoderTests {
    /// The chunk size of the small-chunk cases: the smallest the format allows, so chunk boundaries are cheap to hit.
    static let chunkSize = 1024

    /// Plaintext shapes: text-like bytes that deflate well, and random bytes that do not.
    enum Content: String, CaseIterable, CustomTestStringConvertible {
        case compressible, random
        var testDescription: String { rawValue }

        func bytes(_ count: Int) -> [UInt8] {
            switch self {
            case .compressible: return DecoderTestData.compressible(count)
            case .random: return DecoderTestData.random(count, seed: UInt64(count) &+ 11)
            }
        }
    }

    @Test("archives of every size around the chunk boundaries decode byte for byte",
          arguments: [0, 1, 1023, 1024, 1025, 3072], Content.allCases)
    func decodesWriterOutput(size: Int, content: Content) throws {
        let dir = try TemporaryDirectory()
        let key = ArchiveKey.generate()
        let keyPath = try dir.keyFile(key)
        let plaintext = content.bytes(size)
        let archive = try writeArchive(plaintext, secret: .key(key), chunkSize: Self.chunkSize, compression: true)

        let result = try runDecoder(archive: archive, in: dir, arguments: ["--key-file", keyPath])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(outputMismatch(result.output, plaintext) == nil)
    }

    @Test("an archive written without compression decodes")
    func decodesUncompressedArchive() throws {
        let dir = try TemporaryDirectory()
        let key = ArchiveKey.generate()
        let plaintext = DecoderTestData.compressible(5 * Self.chunkSize + 17)
        let archive = try writeArchive(plaintext, secret: .key(key), chunkSize: Self.chunkSize, compression: false)
        #expect(archive[11] == 0x00, "the header's compression byte records --no-compression")

        let result = try runDecoder(archive: archive, in: dir, arguments: ["--key-file", try dir.keyFile(key)])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(outputMismatch(result.output, plaintext) == nil)
    }

    @Test("an archive with the default 1 MiB chunk size decodes")
    func decodesDefaultChunkSize() throws {
        let dir = try TemporaryDirectory()
        let key = ArchiveKey.generate()
        let plaintext = DecoderTestData.random(2 * 1_048_576 + 12_345, seed: 3) + DecoderTestData.compressible(300_000)
        var writer = try ArchiveWriter(secret: .key(key))
        var archive = [UInt8]()
        try writer.write(plaintext, into: &archive)
        try writer.finish(into: &archive)

        let result = try runDecoder(archive: archive, in: dir, arguments: ["--key-file", try dir.keyFile(key)])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(outputMismatch(result.output, plaintext) == nil)
    }

    @Test("the decoder picks the matching key among several key files")
    func picksMatchingKey() throws {
        let dir = try TemporaryDirectory()
        let key = ArchiveKey.generate()
        let plaintext = DecoderTestData.compressible(2 * Self.chunkSize)
        let archive = try writeArchive(plaintext, secret: .key(key), chunkSize: Self.chunkSize, compression: true)

        let other = try dir.keyFile(ArchiveKey.generate())
        let result = try runDecoder(archive: archive, in: dir, arguments: ["--key-file", other, "--key-file", try dir.keyFile(key)])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(outputMismatch(result.output, plaintext) == nil)
    }

    @Test("a wrong key fails with 65 and names the archive's key id")
    func wrongKeyNamesKeyID() throws {
        let dir = try TemporaryDirectory()
        let key = ArchiveKey.generate()
        let archive = try writeArchive(DecoderTestData.random(100, seed: 5), secret: .key(key), chunkSize: Self.chunkSize, compression: true)

        let result = try runDecoder(archive: archive, in: dir, arguments: ["--key-file", try dir.keyFile(ArchiveKey.generate())])
        #expect(result.status == 65)
        #expect(result.stderr.contains("wrong key"))
        #expect(result.stderr.contains(key.idString), "the decoder computes the same key id as Lifeboat: \(result.stderr)")
        #expect(result.output == nil)
    }

    @Test("a passphrase archive decodes with the passphrase and fails with 65 on a wrong one")
    func decodesPassphraseArchive() throws {
        let dir = try TemporaryDirectory()
        let plaintext = DecoderTestData.compressible(3 * Self.chunkSize + 5)
        let secret = EncryptionSecret.passphrase(SecureBytes(Array("pw".utf8)))
        let archive = try writeArchive(plaintext, secret: secret, chunkSize: Self.chunkSize, compression: true)

        let good = try runDecoder(archive: archive, in: dir, arguments: ["--passphrase-env", "LIFEBOAT_TEST_PASSPHRASE"],
                                  environment: ["LIFEBOAT_TEST_PASSPHRASE": "pw"])
        #expect(good.status == 0, "stderr: \(good.stderr)")
        #expect(outputMismatch(good.output, plaintext) == nil)

        let bad = try runDecoder(archive: archive, in: dir, arguments: ["--passphrase-env", "LIFEBOAT_TEST_PASSPHRASE"],
                                 environment: ["LIFEBOAT_TEST_PASSPHRASE": "pW"])
        #expect(bad.status == 65)
        #expect(bad.stderr.contains("wrong passphrase"), "stderr: \(bad.stderr)")
        #expect(bad.output == nil)
    }

    @Test("one flipped byte in a chunk body fails authentication with 65 and publishes nothing")
    func tamperedBodyFails() throws {
        let dir = try TemporaryDirectory()
        let key = ArchiveKey.generate()
        var archive = try writeArchive(DecoderTestData.random(3 * Self.chunkSize, seed: 9), secret: .key(key),
                                       chunkSize: Self.chunkSize, compression: true)
        // Chunk 1's body: header (97) + record 0 (21 + 1024 + 16, random data is stored undeflated) + record header (21).
        archive[97 + 1061 + 21 + 100] ^= 0x01

        let result = try runDecoder(archive: archive, in: dir, arguments: ["--key-file", try dir.keyFile(key)])
        #expect(result.status == 65)
        #expect(result.stderr.contains("authentication failed"), "stderr: \(result.stderr)")
        #expect(result.output == nil, "no plaintext is published when a chunk fails")
        #expect(try dir.leftovers().isEmpty, "the temporary output file is removed")
    }

    @Test("a truncated archive fails with 65 and says so",
          arguments: [50, 97, 97 + 1061, 97 + 1061 + 10, 97 + 3 * 1061 - 1])
    func truncatedArchiveFails(length: Int) throws {
        let dir = try TemporaryDirectory()
        let key = ArchiveKey.generate()
        // Random data is stored undeflated: every record is 21 + 1024 + 16 = 1061 bytes, so the cut points above are
        // inside the header, at record boundaries, inside a record header and inside the final body.
        let archive = try writeArchive(DecoderTestData.random(3 * Self.chunkSize, seed: 13), secret: .key(key),
                                       chunkSize: Self.chunkSize, compression: true)
        #expect(archive.count == 97 + 3 * 1061)

        let result = try runDecoder(archive: Array(archive.prefix(length)), in: dir, arguments: ["--key-file", try dir.keyFile(key)])
        #expect(result.status == 65)
        #expect(result.stderr.contains("truncat"), "stderr: \(result.stderr)")
        #expect(result.output == nil)
        #expect(try dir.leftovers().isEmpty)
    }

    @Test("bytes after the final chunk fail with 65")
    func trailingDataFails() throws {
        let dir = try TemporaryDirectory()
        let key = ArchiveKey.generate()
        let archive = try writeArchive(DecoderTestData.compressible(1500), secret: .key(key), chunkSize: Self.chunkSize, compression: true)

        let result = try runDecoder(archive: archive + [0], in: dir, arguments: ["--key-file", try dir.keyFile(key)])
        #expect(result.status == 65)
        #expect(result.stderr.contains("trailing data"), "stderr: \(result.stderr)")
        #expect(result.output == nil)
    }

    @Test("a passphrase header with r = 1 and log2N >= 16 (RFC 7914 forbids N >= 2^(16 r)) fails with 65 before scrypt",
          arguments: [16, 21])
    func rfc7914ScryptBoundRefused(log2N: Int) throws {
        let dir = try TemporaryDirectory()
        let archive = HostileArchive.passphraseHeader(log2N: UInt8(log2N), r: 1, p: 1)
        let result = try runDecoder(archive: archive, in: dir, arguments: ["--passphrase-env", "LIFEBOAT_TEST_PASSPHRASE"],
                                    environment: ["LIFEBOAT_TEST_PASSPHRASE": "x"])
        #expect(result.status == 65, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("log2N < 16*r (RFC 7914)"), "stderr: \(result.stderr)")
        #expect(result.output == nil)
    }

    @Test("known-answer vectors decode to their plaintext", .enabled(if: !knownAnswerVectors().isEmpty),
          arguments: knownAnswerVectors())
    func decodesKnownAnswerVector(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let masterKey = try #require((json["master_key_hex"] as? String).flatMap { Hex.decode($0) })
        let salt = try #require((json["salt_hex"] as? String).flatMap { Hex.decode($0) })
        let plaintext = try #require((json["plaintext_hex"] as? String).flatMap { Hex.decode($0) })
        let archive = try #require((json["archive_hex"] as? String).flatMap { Hex.decode($0) })
        let chunkSize = try #require((json["chunk_size"] as? NSNumber)?.intValue)
        let compression = try #require((json["compression"] as? NSNumber)?.intValue)
        #expect(masterKey.count == 32)

        // The vector's fields agree with its archive header.
        try #require(archive.count >= 97)
        #expect(Array(archive[24..<56]) == salt)
        #expect(Int(archive[11]) == compression)
        #expect(archive[12..<16].reduce(0) { $0 << 8 | Int($1) } == chunkSize)

        let dir = try TemporaryDirectory()
        let keyPath = try dir.rawKeyFile(masterKey)
        let result = try runDecoder(archive: archive, in: dir, arguments: ["--key-file", keyPath])
        #expect(result.status == 0, "\(path): \(result.stderr)")
        #expect(outputMismatch(result.output, plaintext) == nil)
    }
}

// MARK: - Recipient archives (§1.1, §2.1)

extension IndependentDecoderTests {
    @Test("recipient archives at the chunk-boundary sizes decode with the identity file", arguments: [0, 1, 1023, 1024, 1025, 3072])
    func decodesRecipientArchives(size: Int) throws {
        let dir = try TemporaryDirectory()
        let identities = try [RecipientIdentity.generate(), RecipientIdentity.generate()]
        let plaintext = DecoderTestData.compressible(size)
        let archive = try writeArchive(plaintext, secret: .recipients(identities.map(\.recipient)), chunkSize: Self.chunkSize, compression: true)
        for identity in identities {
            let result = try runDecoder(archive: archive, in: dir, arguments: ["--identity-file", try dir.identityFile(identity)])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(outputMismatch(result.output, plaintext) == nil)
        }
        let stranger = try runDecoder(archive: archive, in: dir, arguments: ["--identity-file", try dir.identityFile(try RecipientIdentity.generate())])
        #expect(stranger.status == 65)
        #expect(stranger.stderr.contains("wrong key"), "stderr: \(stranger.stderr)")
    }

    @Test("a changed stanza, MAC or recipient count fails the decoder with 65, publishing nothing",
          arguments: [61 + 3, 70, 97 + 3, 97 + 20, 97 + 60])
    func recipientHeaderTamper(offset: Int) throws {
        let dir = try TemporaryDirectory()
        let identity = try RecipientIdentity.generate()
        var archive = try writeArchive(DecoderTestData.compressible(1500), secret: .recipients([identity.recipient]),
                                       chunkSize: Self.chunkSize, compression: true)
        archive[offset] ^= 0x01
        let result = try runDecoder(archive: archive, in: dir, arguments: ["--identity-file", try dir.identityFile(identity)])
        #expect(result.status == 65, "stderr: \(result.stderr)")
        #expect(result.output == nil)
    }

    @Test("recipient known-answer vectors decode with each of their identities", .enabled(if: !recipientVectors().isEmpty),
          arguments: recipientVectors())
    func decodesRecipientVector(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let vector = try JSONDecoder().decode(RecipientArchiveTests.Vector.self, from: data)
        let archive = try #require(Hex.decode(vector.archive_hex))
        let dir = try TemporaryDirectory()
        for hex in vector.identity_private_keys_hex {
            let identity = try RecipientIdentity(privateKey: SecureBytes(try #require(Hex.decode(hex))))
            let result = try runDecoder(archive: archive, in: dir, arguments: ["--identity-file", try dir.identityFile(identity)])
            #expect(result.status == 0, "\(path): \(result.stderr)")
            #expect(outputMismatch(result.output, try #require(Hex.decode(vector.plaintext_hex))) == nil)
        }
    }
}

/// Paths of the rkat-*.json recipient vectors, sorted.
private func recipientVectors() -> [String] {
    let directory = packageRoot().appendingPathComponent("Tests/LifeboatArchiveTests/Vectors")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasPrefix("rkat-") && $0.hasSuffix(".json") }.sorted().map { directory.appendingPathComponent($0).path }
}

// MARK: - Running the decoder

/// The package root: this file is Tests/LifeboatArchiveTests/IndependentDecoderTests.swift.
private func packageRoot(file: String = #filePath) -> URL {
    URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

/// Paths of the kat-*.json vectors, sorted; empty when the lead has not added any yet.
private func knownAnswerVectors() -> [String] {
    let directory = packageRoot().appendingPathComponent("Tests/LifeboatArchiveTests/Vectors")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasPrefix("kat-") && $0.hasSuffix(".json") }.sorted().map { directory.appendingPathComponent($0).path }
}

/// Writes `plaintext` through Lifeboat's writer, in uneven pieces so the writer's buffering is exercised too.
private func writeArchive(_ plaintext: [UInt8], secret: EncryptionSecret, chunkSize: Int, compression: Bool) throws -> [UInt8] {
    var writer = try ArchiveWriter(secret: secret, chunkSize: chunkSize, compression: compression)
    var archive = [UInt8]()
    var start = 0
    while start < plaintext.count {
        let end = min(start + 700, plaintext.count)
        try writer.write(Array(plaintext[start..<end]), into: &archive)
        start = end
    }
    try writer.finish(into: &archive)
    return archive
}

/// nil when the decoder published exactly `expected`, else a short description (not a dump of both buffers).
private func outputMismatch(_ output: [UInt8]?, _ expected: [UInt8]) -> String? {
    guard let output else { return "no output file was published" }
    if output == expected { return nil }
    let firstDifference = zip(output, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(output.count, expected.count)
    return "output has \(output.count) bytes, expected \(expected.count); first difference at byte \(firstDifference)"
}

/// What one decoder run produced: its exit status, its stderr, and the output file if it was published.
private struct DecoderResult {
    var status: Int32
    var stderr: String
    var output: [UInt8]?
}

/// Writes `archive` to a file, runs `python3 scripts/lifeboat-decode.py --input <file> --output <file>` and collects
/// the result. stdout/stderr go to files, not pipes, so a chatty process can never block on a full pipe.
private func runDecoder(archive: [UInt8], in dir: TemporaryDirectory, arguments: [String],
                        environment: [String: String] = [:]) throws -> DecoderResult {
    let input = dir.path("archive.lifeboat")
    let output = dir.path("plaintext.out")
    let stdoutPath = dir.path("decoder.stdout")
    let stderrPath = dir.path("decoder.stderr")
    try Data(archive).write(to: URL(fileURLWithPath: input))
    FileManager.default.createFile(atPath: stdoutPath, contents: nil)
    FileManager.default.createFile(atPath: stderrPath, contents: nil)
    let stdoutHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
    let stderrHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
    defer {
        try? stdoutHandle.close()
        try? stderrHandle.close()
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", packageRoot().appendingPathComponent("scripts/lifeboat-decode.py").path]
        + arguments + ["--input", input, "--output", output]
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = stdoutHandle
    process.standardError = stderrHandle
    try process.run()
    process.waitUntilExit()

    let stderr = String(decoding: try Data(contentsOf: URL(fileURLWithPath: stderrPath)), as: UTF8.self)
    let published = FileManager.default.fileExists(atPath: output)
    let result = DecoderResult(status: process.terminationStatus, stderr: stderr,
                               output: published ? Array(try Data(contentsOf: URL(fileURLWithPath: output))) : nil)
    for name in ["archive.lifeboat", "plaintext.out", "decoder.stdout", "decoder.stderr"] {
        try? FileManager.default.removeItem(atPath: dir.path(name))
    }
    return result
}

/// A fresh directory under the system temporary directory, removed when the value is dropped.
private final class TemporaryDirectory {
    let url: URL
    private var keyFiles = 0

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-decoder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// A key file written by Lifeboat itself (mode 0600).
    func keyFile(_ key: ArchiveKey) throws -> String {
        keyFiles += 1
        let path = path("key-\(keyFiles).lifeboat-key")
        try key.write(to: path)
        return path
    }

    /// An identity file written by Lifeboat itself (mode 0600).
    func identityFile(_ identity: RecipientIdentity) throws -> String {
        keyFiles += 1
        let path = path("identity-\(keyFiles)")
        try identity.write(to: path)
        return path
    }

    /// A key file for raw key bytes, in the format.md §1 syntax, mode 0600.
    func rawKeyFile(_ bytes: [UInt8]) throws -> String {
        keyFiles += 1
        let path = path("key-\(keyFiles).lifeboat-key")
        let text = "# known-answer vector key\nlifeboat-key-1:" + bytes.map { String(format: "%02x", $0) }.joined() + "\n"
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown)
        }
        return path
    }

    /// Files other than key files: a decoder that failed must leave none (no temporary output behind).
    func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).filter { !$0.hasSuffix(".lifeboat-key") }
    }
}

// MARK: - Test data

private enum DecoderTestData {
    /// Deterministic incompressible bytes (SplitMix64).
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            for shift in stride(from: 0, to: 64, by: 8) where out.count < count {
                out.append(UInt8(truncatingIfNeeded: z >> UInt64(shift)))
            }
        }
        return out
    }

    /// Text-like bytes that deflate well, with a little variation so they are not one repeated block.
    static func compressible(_ count: Int) -> [UInt8] {
        let words = ["vault ", "raft ", "snapshot ", "leader ", "unseal\n", "policy ", "lifeboat ", "secret "].map { Array($0.utf8) }
        let picks = random(count, seed: 99)
        var out = [UInt8]()
        out.reserveCapacity(count + 16)
        var index = 0
        while out.count < count {
            out.append(contentsOf: words[Int(picks[index % max(picks.count, 1)]) % words.count])
            index += 1
        }
        return Array(out.prefix(count))
    }
}
