// The OpenSSL and zlib wrappers against published test vectors.

import Foundation
import Testing
@testable import LifeboatArchive

@Suite struct PrimitiveTests {
    @Test func sha256OfABC() {
        #expect(Hex.encode(SHA256Digest.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var streaming = SHA256Digest()
        for byte in "abc".utf8 { streaming.update([byte]) }
        #expect(Hex.encode(streaming.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func hmacSHA256RFC4231Case2() {
        let mac = HMACSHA256.authenticationCode(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func hkdfRFC5869Case1() throws {
        let ikm = SecureBytes([UInt8](repeating: 0x0b, count: 22))
        let okm = try HKDF.deriveKey(from: ikm, salt: Hex.decode("000102030405060708090a0b0c")!,
                                     info: Hex.decode("f0f1f2f3f4f5f6f7f8f9")!, length: 42)
        #expect(okm.withUnsafeBytes { Hex.encode($0) }
            == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test func scryptRFC7914Case2() throws {
        let key = try Scrypt.deriveKey(passphrase: SecureBytes(Array("password".utf8)), salt: Array("NaCl".utf8),
                                       parameters: ScryptParameters(log2N: 10, r: 8, p: 16), length: 64)
        #expect(key.withUnsafeBytes { Hex.encode($0) }
            == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640")
    }

    @Test func aesGCMNISTVector() throws {
        // NIST GCM test case 14 (AES-256, 16 zero bytes, zero key and IV).
        let key = [UInt8](repeating: 0, count: 32), nonce = [UInt8](repeating: 0, count: 12)
        let sealed = try AESGCM.seal(key: key, nonce: nonce, plaintext: [UInt8](repeating: 0, count: 16))
        #expect(Hex.encode(sealed) == "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919")
        #expect(try AESGCM.open(key: key, nonce: nonce, ciphertextAndTag: sealed) == [UInt8](repeating: 0, count: 16))
        var tampered = sealed
        tampered[3] ^= 1
        #expect(throws: AuthenticationFailure.self) { try AESGCM.open(key: key, nonce: nonce, ciphertextAndTag: tampered) }
        #expect(throws: AuthenticationFailure.self) { try AESGCM.open(key: key, nonce: nonce, ciphertextAndTag: sealed, aad: [1]) }
    }

    @Test(arguments: [ZlibFormat.zlib, .gzip, .raw])
    func deflateInflateRoundTrip(format: ZlibFormat) throws {
        let input = compressibleBytes(300_000)
        var deflater = try Deflater(format: format, level: 6)
        var compressed: [UInt8] = []
        for piece in stride(from: 0, to: input.count, by: 10_000) {
            try input.withUnsafeBytes { try deflater.compress(UnsafeRawBufferPointer(rebasing: $0[piece..<min(piece + 10_000, input.count)]), into: &compressed) }
        }
        try deflater.finish(into: &compressed)
        #expect(compressed.count < input.count / 3)
        var inflater = try Inflater(format: format)
        var output: [UInt8] = []
        var offset = 0
        while offset < compressed.count {
            let end = min(offset + 999, compressed.count)
            let used = try compressed.withUnsafeBytes { try inflater.decompress(UnsafeRawBufferPointer(rebasing: $0[offset..<end]), into: &output) }
            #expect(used == end - offset)
            offset = end
        }
        #expect(inflater.isFinished)
        #expect(output == input)
    }

    @Test func gzipTrailerIsChecked() throws {
        var deflater = try Deflater(format: .gzip)
        var compressed: [UInt8] = []
        try Array("some text that will be gzipped".utf8).withUnsafeBytes { try deflater.compress($0, into: &compressed) }
        try deflater.finish(into: &compressed)
        compressed[compressed.count - 6] ^= 0xff  // CRC32
        var inflater = try Inflater(format: .gzip)
        var output: [UInt8] = []
        #expect(throws: ZlibError.self) { try compressed.withUnsafeBytes { _ = try inflater.decompress($0, into: &output) } }
    }

    @Test func inflaterStopsAtStreamEndAndReportsConsumed() throws {
        var deflater = try Deflater(format: .zlib)
        var compressed: [UInt8] = []
        try deflater.compressWhole(UnsafeRawBufferPointer(start: nil, count: 0), into: &compressed)
        let streamLength = compressed.count
        compressed += [9, 9, 9]
        var inflater = try Inflater(format: .zlib)
        var output: [UInt8] = []
        let used = try compressed.withUnsafeBytes { try inflater.decompress($0, into: &output) }
        #expect(used == streamLength)
        #expect(inflater.isFinished)
    }

    @Test func inflateLimitStopsBombs() throws {
        var deflater = try Deflater(format: .zlib, level: 9)
        var compressed: [UInt8] = []
        try [UInt8](repeating: 0, count: 1_000_000).withUnsafeBytes { try deflater.compressWhole($0, into: &compressed) }
        var inflater = try Inflater(format: .zlib)
        var output: [UInt8] = []
        #expect(throws: ZlibError.self) { try compressed.withUnsafeBytes { _ = try inflater.decompress($0, into: &output, limit: 4096) } }
    }
}
