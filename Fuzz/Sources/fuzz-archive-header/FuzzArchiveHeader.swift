// libFuzzer target: the 97-byte archive header (docs/format.md §2) and, in recipient mode, the X25519 stanzas after
// it — prefix check, field parsing and bounds, the encode/parse round trip, and key selection + header
// authentication (scrypt only when its parameters are cheap; X25519 unwrapping for the harness's identity).

import FuzzSupport
@testable import LifeboatArchive

/// A fixed X25519 identity (recipient mode).
let identity = try! RecipientIdentity(privateKey: SecureBytes((0..<32).map { UInt8(0x40 + $0) }))
/// The known-answer vectors' master key, a passphrase and the identity.
let keyRing = KeyRing(keys: [try! ArchiveKey(material: SecureBytes((0..<32).map { UInt8($0) }))],
                      passphrase: SecureBytes(Array("fuzz".utf8)), identities: [identity])

/// scrypt runs only when 128 * r * N * p is at most this (the bounds allow 256 MiB, far too slow per input).
let cheapScryptBytes: UInt64 = 1 << 20

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfRequested {
        var seeds = knownAnswerVectors().map { ("kat-" + $0.name, Array($0.archive.prefix(ArchiveHeader.length))) }
        let salt = [UInt8](repeating: 0x5a, count: 32)
        let tiny = ScryptParameters(log2N: 10, r: 1, p: 1)
        let (header, _) = try ArchiveKeys.create(secret: .passphrase(SecureBytes(Array("fuzz".utf8)), tiny),
                                                 chunkSize: 1024, compression: true, salt: salt)
        seeds.append(("passphrase-tiny", header.encoded))
        var rfc = header.encoded
        rfc[56] = 16  // issue 15: r = 1, log2N = 16
        seeds.append(("issue15-rfc7914", rfc))
        // Recipient mode: the fixed header and its 88-byte stanzas, for the identity alone and with another recipient.
        let other = try RecipientIdentity(privateKey: SecureBytes([UInt8](repeating: 0x77, count: 32))).recipient
        for (name, recipients) in [("recipient-1", [identity.recipient]), ("recipients-2", [other, identity.recipient])] {
            let (header, _) = try ArchiveKeys.create(secret: .recipients(recipients), chunkSize: 1024, compression: true, salt: salt)
            seeds.append((name, header.encoded))
        }
        return seeds
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzArchiveHeader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    _ = try? ArchiveHeader.checkPrefix(bytes.prefix(9))
    _ = try? ArchiveHeader.parse(bytes[...])
    var exact = Array(bytes.prefix(ArchiveHeader.length))
    exact += [UInt8](repeating: 0, count: ArchiveHeader.length - exact.count)
    guard var header = try? ArchiveHeader.parse(exact[...]) else { return 0 }
    fuzzInvariant(header.encoded == exact, "a parsed header re-encodes to other bytes")
    if header.recipientCount > 0 {
        // The stanzas that follow (the input may be short: the reader asks for exactly stanzaBytes).
        let stanzas = bytes.dropFirst(ArchiveHeader.length).prefix(header.stanzaBytes)
        guard (try? header.parseStanzas(stanzas)) != nil else { return 0 }
        fuzzInvariant(header.encoded == exact + Array(stanzas), "a parsed recipients header re-encodes to other bytes")
    }
    if let params = header.scrypt {
        fuzzInvariant(params.isAcceptable && params.satisfiesRFC7914, "parse accepted scrypt parameters outside the bounds")
        guard 128 * UInt64(params.r) * (UInt64(1) << UInt64(params.log2N)) * UInt64(params.p) <= cheapScryptBytes else { return 0 }
    }
    // Key selection and authentication cost far more than parsing (HKDF set-up in OpenSSL 3, and ~1 ms for even the
    // cheapest scrypt): run them for one header in 16, chosen by a MAC byte, so the parser runs at full speed.
    // fuzz-archive-reader runs them on every input.
    guard header.mac[0] & 0x0f == 0 else { return 0 }
    do {
        _ = try ArchiveKeys.open(header: header, keyRing: keyRing)
    } catch is ArchiveError {
    } catch {
        fuzzInvariant(false, "header authentication threw a non-archive error: \(error)")
    }
    return 0
}

/// The program's entry point (see Fuzz/Package.swift): libFuzzer's driver with this target's callback.
@_cdecl("fuzz_archive_header_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzArchiveHeader)
}
