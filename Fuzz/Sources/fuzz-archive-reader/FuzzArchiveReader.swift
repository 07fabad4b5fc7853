// libFuzzer target: the whole archive decrypt path (ArchiveReader), fed in pieces of fuzzer-chosen size.
//
// The first input byte picks a mode:
//   0  raw archive bytes, key-file key ring (the known-answer vectors' key);
//   1  raw archive bytes, passphrase key ring (seeds use scrypt log2N 10, r 1, p 1; heavier headers are skipped);
//   2  records forged with the real key: the fuzzer chooses flags, index, lengths and plaintext (also invalid
//      deflate data) and the harness seals them, so chunk checks and inflate run past authentication;
//   3  round trip: the rest of the input is encrypted by ArchiveWriter and must decrypt to itself.

import FuzzSupport
@testable import LifeboatArchive

let masterKey = try! ArchiveKey(material: SecureBytes((0..<32).map { UInt8($0) }))
let passphrase = SecureBytes(Array("fuzz".utf8))
let tiny = ScryptParameters(log2N: 10, r: 1, p: 1)
let salt = [UInt8](repeating: 0xa5, count: 32)
let keyFileRing = KeyRing(keys: [masterKey])
let passphraseRing = KeyRing(passphrase: passphrase)
let cheapScryptBytes: UInt64 = 1 << 20

/// Encrypts `plaintext` with the harness's fixed salt (deterministic, so crashes reproduce).
func encrypt(_ plaintext: [UInt8], secret: EncryptionSecret, chunkSize: Int, compression: Bool, pieceSize: Int) throws -> [UInt8] {
    var writer = try ArchiveWriter(secret: secret, chunkSize: chunkSize, compression: compression, salt: salt)
    var out: [UInt8] = []
    try feedInPieces(plaintext, pieceSize: pieceSize) { try writer.write($0, into: &out) }
    try writer.finish(into: &out)
    return out
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfRequested {
        var seeds: [(String, [UInt8])] = knownAnswerVectors().map { ("0-" + $0.name, [0, 7] + $0.archive) }
        let text = Array(String(repeating: "vault raft snapshot lifeboat ", count: 120).utf8)
        for (name, plain, compression) in [("empty", [UInt8](), true), ("text", text, true), ("text-stored", text, false)] {
            let archive = try encrypt(plain, secret: .passphrase(passphrase, tiny), chunkSize: 1024, compression: compression, pieceSize: 333)
            seeds.append(("1-passphrase-" + name, [1, 100] + archive))
        }
        // Mode 2: flags, index delta, compress?, length (2 bytes), plaintext; the final record last.
        seeds.append(("2-records", [2, 50] + [0x02, 0, 1, 0x04, 0x00] + Array(text.prefix(1024)) + [0x03, 0, 1, 0x00, 0x20] + Array(text.prefix(32))))
        seeds.append(("3-roundtrip", [3, 9, 0x41] + text))
        return seeds
    }
    return 0
}

/// Decrypts `archive` fed in pieces; returns the plaintext when the whole archive authenticated.
@discardableResult
func decrypt(_ archive: [UInt8], keyRing: KeyRing, pieceSize: Int) -> [UInt8]? {
    var reader = ArchiveReader(keyRing: keyRing)
    var output: [UInt8] = []
    do {
        try feedInPieces(archive, pieceSize: pieceSize) { piece in
            let before = output.count
            try reader.consume(piece, into: &output)
            fuzzInvariant(output.count >= before, "consume removed plaintext it had released")
        }
        try reader.finish()
    } catch is ArchiveError {
        fuzzInvariant(UInt64(output.count) == reader.plaintextBytes, "released plaintext differs from plaintextBytes after an error")
        return nil
    } catch {
        fuzzInvariant(false, "decrypt threw a non-archive error: \(error)")
    }
    fuzzInvariant(reader.sawFinalChunk, "finish() succeeded without the final chunk")
    fuzzInvariant(UInt64(output.count) == reader.plaintextBytes, "plaintextBytes differs from the output")
    return output
}

/// True when the header in `archive` asks for scrypt heavier than `cheapScryptBytes` (within the accepted bounds).
func needsHeavyScrypt(_ archive: [UInt8]) -> Bool {
    guard archive.count >= 65, archive[10] == KeyDerivationKind.passphrase.rawValue else { return false }
    let log2N = UInt64(archive[56])
    let r = archive[57..<61].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    let p = archive[61..<65].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    guard log2N <= 22, r <= 32, p <= 16 else { return false }  // refused by the bounds before scrypt
    return 128 * r * (UInt64(1) << log2N) * p > cheapScryptBytes
}

/// Mode 2: a valid header for the fixed key, then records the fuzzer describes and the harness seals.
func forgedArchive(_ input: inout FuzzReader) throws -> [UInt8] {
    let (header, keys) = try ArchiveKeys.create(secret: .key(masterKey), chunkSize: 1024, compression: input.byte() & 1 == 0, salt: salt)
    var out = header.encoded
    var index: UInt64 = 0
    var deflater: Deflater?
    while !input.isAtEnd {
        let flags = input.byte()
        let delta = input.byte()
        // Mostly the expected index; sometimes another one (reordering, duplicates, huge values).
        let recordIndex = delta == 0 ? index : (delta == 0xff ? UInt64.max - UInt64(input.byte()) : index &+ UInt64(delta) &- 1)
        let mode = input.byte()
        var plain = input.take(input.u16() % 2100)
        if flags & ChunkRecordHeader.deflatedFlag != 0 && mode & 1 == 1 {
            var compressed: [UInt8] = []
            if deflater == nil { deflater = try Deflater(format: .zlib, level: 1) }
            try plain.withUnsafeBytes { try deflater?.compressWhole($0, into: &compressed) }
            plain = compressed
        }
        let record = ChunkRecordHeader(archiveTag: header.archiveTag, index: recordIndex, flags: flags,
                                       bodyLength: plain.count + AESGCMContext.tagLength)
        let aad = record.encoded
        let nonce = ChunkRecordHeader.nonce(index: recordIndex, final: record.isFinal)
        var body = [UInt8](repeating: 0, count: record.bodyLength)
        try nonce.withUnsafeBytes { n in
            try aad.withUnsafeBytes { a in
                try plain.withUnsafeBytes { p in
                    try body.withUnsafeMutableBytes { b in try keys.payload.seal(nonce: n, aad: a, plaintext: p, into: b) }
                }
            }
        }
        out += aad
        out += body
        if mode & 2 == 2, let last = out.indices.last { out[last - Int(mode >> 2) % max(out.count, 1)] ^= 1 }
        index &+= 1
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArchiveReader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzReader(fuzzBytes(data, size))
    let mode = input.byte() % 4
    let pieces = pieceSize(input.byte())
    do {
        switch mode {
        case 0:
            decrypt(input.rest(), keyRing: keyFileRing, pieceSize: pieces)
        case 1:
            let archive = input.rest()
            guard !needsHeavyScrypt(archive) else { return 0 }
            decrypt(archive, keyRing: passphraseRing, pieceSize: pieces)
        case 2:
            decrypt(try forgedArchive(&input), keyRing: keyFileRing, pieceSize: pieces)
        default:
            let options = input.byte()
            let chunkSize = 1024 + Int(options >> 1) * 97
            let plaintext = input.rest()
            let archive = try encrypt(plaintext, secret: .key(masterKey), chunkSize: chunkSize, compression: options & 1 == 1,
                                      pieceSize: pieces)
            let decrypted = decrypt(archive, keyRing: keyFileRing, pieceSize: pieceSize(UInt8(truncatingIfNeeded: plaintext.count)))
            fuzzInvariant(decrypted == plaintext, "round trip changed \(plaintext.count) bytes (chunk size \(chunkSize))")
        }
    } catch {
        fuzzInvariant(false, "the harness's own encryption failed: \(error)")
    }
    return 0
}

/// The program's entry point (see Fuzz/Package.swift): libFuzzer's driver with this target's callback.
@_cdecl("fuzz_archive_reader_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzArchiveReader)
}
