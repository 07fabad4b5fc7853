// Hostile bytes never trap (issue 15): a passphrase header whose scrypt parameters break RFC 7914, the SecureBytes
// error path that freed its buffer twice, and byte-taking initialisers that used to stop the process on a bad length.

import Foundation
import Testing
@testable import LifeboatArchive

/// Archive bytes an attacker with write access to storage can plant.
enum HostileArchive {
    /// The reproducer of issue 15: a 97-byte passphrase-mode header (chunk size 1 MiB, random key id, salt and MAC)
    /// with the given scrypt parameters, and nothing after it.
    static func passphraseHeader(log2N: UInt8, r: UInt32, p: UInt32, seed: UInt64 = 15) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        var out = Array("LIFEBOAT".utf8) + [0x01, 0x01, 0x02, 0x01]
        out.appendBigEndian(UInt32(1 << 20))
        out += rng.bytes(40)
        out.append(log2N)
        out.appendBigEndian(r)
        out.appendBigEndian(p)
        out += rng.bytes(32)
        return out
    }
}

private struct FillFailed: Error {}

@Suite("Hostile input: scrypt bounds, SecureBytes, key lengths")
struct HostileInputTests {
    @Test("SecureBytes frees its buffer exactly once when fill throws (was a double free: deinit ran too)")
    func secureBytesFillThrows() {
        // glibc aborts on the second free of a tcache chunk; repeating makes the reuse pattern certain to trip it.
        for count in [0, 1, 32, 64, 4096] {
            for _ in 0..<200 {
                #expect(throws: FillFailed.self) {
                    _ = try SecureBytes(count: count) { buffer in
                        if !buffer.isEmpty { buffer.storeBytes(of: 0xff, toByteOffset: 0, as: UInt8.self) }
                        throw FillFailed()
                    }
                }
                // Allocations of the same size right after: a freed-twice chunk would be handed out twice here.
                let a = SecureBytes([UInt8](repeating: 1, count: count))
                let b = SecureBytes([UInt8](repeating: 2, count: count))
                #expect(a.count == count && b.count == count)
                #expect(count == 0 || !a.constantTimeEquals(b))
            }
        }
        let filled = SecureBytes(count: 4) { $0.copyBytes(from: [1, 2, 3, 4]) }
        #expect(filled.withUnsafeBytes { Array($0) } == [1, 2, 3, 4])
    }

    @Test("a failing EVP_PBE_scrypt call throws OpenSSLError through SecureBytes' error path")
    func scryptFailureInOpenSSL() {
        // r * p beyond OpenSSL's 2^30 - 1 limit: RFC 7914's N rule holds, OpenSSL refuses before allocating.
        let params = ScryptParameters(log2N: 1, r: 1 << 16, p: 1 << 15)
        #expect(params.satisfiesRFC7914)
        for _ in 0..<50 {
            #expect(throws: OpenSSLError.self) {
                _ = try Scrypt.deriveKey(passphrase: SecureBytes(Array("x".utf8)), salt: [UInt8](repeating: 0, count: 32),
                                         parameters: params, length: 32)
            }
        }
    }

    @Test("scrypt parameters that break RFC 7914 are refused before OpenSSL is called")
    func scryptRFC7914Refused() {
        for params in [ScryptParameters(log2N: 16, r: 1, p: 1), ScryptParameters(log2N: 21, r: 1, p: 1),
                       ScryptParameters(log2N: 0, r: 8, p: 1), ScryptParameters(log2N: 10, r: 0, p: 1),
                       ScryptParameters(log2N: 10, r: 8, p: 0), ScryptParameters(log2N: 200, r: 32, p: 1),
                       ScryptParameters(log2N: 63, r: .max, p: .max)] {
            #expect(!params.satisfiesRFC7914 || params.memoryBound == nil, "\(params)")
            let error = #expect(throws: CryptoParameterError.self) {
                _ = try Scrypt.deriveKey(passphrase: SecureBytes(Array("x".utf8)), salt: [1, 2, 3], parameters: params, length: 32)
            }
            #expect(error?.description.contains("RFC 7914") == true)
        }
    }

    @Test("the header bounds include RFC 7914: r = 1 allows log2N <= 15 only")
    func headerBounds() {
        for log2N in UInt8(10)...22 {
            #expect(ScryptParameters(log2N: log2N, r: 1, p: 1).isAcceptable == (log2N <= 15), "log2N \(log2N), r 1")
            // r = 2 allows N < 2^32: every log2N in the range, as far as the 256 MiB memory bound allows.
            #expect(ScryptParameters(log2N: log2N, r: 2, p: 1).isAcceptable == (log2N <= 20), "log2N \(log2N), r 2")
        }
        #expect(ScryptParameters.standard.isAcceptable)
    }

    @Test("the issue 15 reproducer is a malformed header (exit 65 class), not a crash", arguments: Array(UInt8(16)...21))
    func reproducerHeaderRefused(log2N: UInt8) throws {
        let archive = HostileArchive.passphraseHeader(log2N: log2N, r: 1, p: 1)
        let error = #expect(throws: ArchiveError.self) { try ArchiveHeader.parse(archive[...]) }
        guard case .malformedHeader(let detail) = error else {
            Issue.record("expected malformedHeader, got \(String(describing: error))")
            return
        }
        #expect(detail.contains("log2N=\(log2N) r=1 p=1"))
        #expect(detail.contains("RFC 7914"))

        // The whole reader, as `lifeboat decrypt --passphrase-env` drives it.
        var reader = ArchiveReader(keyRing: KeyRing(passphrase: SecureBytes(Array("x".utf8))))
        var output: [UInt8] = []
        #expect(throws: ArchiveError.malformedHeader(detail)) { try reader.consume(archive, into: &output) }
        #expect(output.isEmpty)
    }

    @Test("a header at the edge of the bounds runs scrypt and reports a wrong passphrase")
    func edgeHeaderRunsScrypt() {
        var reader = ArchiveReader(keyRing: KeyRing(passphrase: SecureBytes(Array("x".utf8))))
        var output: [UInt8] = []
        #expect(throws: ArchiveError.wrongPassphrase) {
            try reader.consume(HostileArchive.passphraseHeader(log2N: 15, r: 1, p: 1), into: &output)
        }
    }

    @Test("AES-256-GCM keys and nonces of the wrong length throw instead of trapping")
    func aesGCMLengths() throws {
        for length in [0, 1, 16, 31, 33, 64] {
            #expect(throws: CryptoParameterError.self) { _ = try AESGCMContext(key: SecureBytes([UInt8](repeating: 7, count: length))) }
            #expect(throws: CryptoParameterError.self) {
                _ = try AESGCM.seal(key: [UInt8](repeating: 7, count: length), nonce: [UInt8](repeating: 0, count: 12), plaintext: [1])
            }
            #expect(throws: CryptoParameterError.self) {
                _ = try AESGCM.open(key: [UInt8](repeating: 7, count: length), nonce: [UInt8](repeating: 0, count: 12),
                                    ciphertextAndTag: [UInt8](repeating: 0, count: 20))
            }
        }
        let error = #expect(throws: CryptoParameterError.self) { _ = try AESGCMContext(key: SecureBytes([UInt8](repeating: 7, count: 33))) }
        #expect(error?.description == "AES-256-GCM needs a 32-byte key, got 33 bytes")

        let key = [UInt8](repeating: 7, count: 32)
        for nonceLength in [0, 11, 13, 16] {
            #expect(throws: CryptoParameterError.self) {
                _ = try AESGCM.seal(key: key, nonce: [UInt8](repeating: 0, count: nonceLength), plaintext: [1, 2])
            }
            #expect(throws: CryptoParameterError.self) {
                _ = try AESGCM.open(key: key, nonce: [UInt8](repeating: 0, count: nonceLength), ciphertextAndTag: [UInt8](repeating: 0, count: 18))
            }
        }
        // An empty plaintext (tag only) opens into an empty output without needing its storage.
        let nonce = [UInt8](repeating: 0, count: 12)
        let sealed = try AESGCM.seal(key: key, nonce: nonce, plaintext: [])
        #expect(try AESGCM.open(key: key, nonce: nonce, ciphertextAndTag: sealed) == [])
        var forged = sealed
        forged[0] ^= 1
        #expect(throws: AuthenticationFailure.self) { _ = try AESGCM.open(key: key, nonce: nonce, ciphertextAndTag: forged) }
        let context = try AESGCMContext(key: SecureBytes(key))
        try nonce.withUnsafeBytes { n in
            try sealed.withUnsafeBytes { c in
                try context.open(nonce: n, aad: UnsafeRawBufferPointer(start: nil, count: 0), ciphertextAndTag: c,
                                 into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
            }
        }
        // An output buffer too small for the plaintext is an error, not a write past its end.
        let sealed4 = try AESGCM.seal(key: key, nonce: nonce, plaintext: [1, 2, 3, 4])
        var small = [UInt8](repeating: 0, count: 3)
        #expect(throws: CryptoParameterError.self) {
            try nonce.withUnsafeBytes { n in
                try sealed4.withUnsafeBytes { c in
                    try small.withUnsafeMutableBytes { o in
                        try context.open(nonce: n, aad: UnsafeRawBufferPointer(start: nil, count: 0), ciphertextAndTag: c, into: o)
                    }
                }
            }
        }
    }

    @Test("a master key or chunk size of the wrong size throws")
    func keyAndChunkSize() throws {
        for length in [0, 31, 33] {
            #expect(throws: CryptoParameterError.self) { _ = try ArchiveKey(material: SecureBytes([UInt8](repeating: 1, count: length))) }
        }
        for chunkSize in [0, -1, 1023, 16 * 1024 * 1024 + 1, Int.max] {
            #expect(throws: CryptoParameterError.self) { _ = try ArchiveWriter(secret: .key(testKey()), chunkSize: chunkSize) }
        }
        #expect(throws: ArchiveError.self) { _ = try ArchiveHeader.parse(HostileArchive.passphraseHeader(log2N: 15, r: 8, p: 1).prefix(96)) }
    }
}
