// SHA-256 and HMAC-SHA256 through OpenSSL's EVP interface, plus hex helpers.

import COpenSSL

/// A streaming SHA-256 hasher.
///
/// Copies share one OpenSSL context: use each hasher from one place only.
public struct SHA256Digest {
    /// One owner for the EVP_MD_CTX; frees it in deinit.
    private final class Context {
        // Invariant: `pointer` is a live EVP_MD_CTX initialised for SHA-256 until deinit frees it.
        let pointer: OpaquePointer

        init() {
            guard let ctx = EVP_MD_CTX_new(), EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else {
                fatalError("EVP_MD_CTX_new/EVP_DigestInit_ex(SHA-256) failed: libcrypto is out of memory")
            }
            pointer = ctx
        }

        deinit { EVP_MD_CTX_free(pointer) }
    }

    private let context = Context()

    public init() {}

    public mutating func update(bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(context.pointer, bytes.baseAddress, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update(bytes: $0) }
    }

    /// The 32-byte digest. The hasher must not be updated afterwards.
    public func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context.pointer, &out, &length)
        return out
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256Digest()
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func hash(bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256Digest()
        hasher.update(bytes: bytes)
        return hasher.finalize()
    }
}

/// HMAC-SHA256 (RFC 2104) through OpenSSL.
public enum HMACSHA256 {
    public static func authenticationCode(key: [UInt8], message: [UInt8]) -> [UInt8] {
        key.withUnsafeBytes { k in message.withUnsafeBytes { m in authenticationCode(key: k, message: m) } }
    }

    public static func authenticationCode(key: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = HMAC(EVP_sha256(), key.baseAddress, Int32(key.count),
                      message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count, &out, &length)
        precondition(ok != nil && length == 32, "HMAC-SHA256 failed")
        return out
    }

    /// Constant-time comparison of two MACs.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) == 0 } }
    }
}

/// Lowercase hexadecimal encoding.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes upper- or lowercase hex; nil for odd length or a non-hex character.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Cryptographically secure random bytes from OpenSSL's DRBG.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        if count > 0 {
            precondition(RAND_bytes(&out, Int32(count)) == 1, "RAND_bytes failed: the system random source is unavailable")
        }
        return out
    }

    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count > 0 else { return }
        precondition(RAND_bytes(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1,
                     "RAND_bytes failed: the system random source is unavailable")
    }
}

/// MD5, only for S3's `Content-MD5` header (an integrity check the server requires on Object Lock uploads; never
/// used as a security primitive).
public enum MD5Digest {
    /// The 16-byte MD5 of `bytes`.
    /// - Throws: ``OpenSSLError`` when libcrypto offers no MD5 (a FIPS-only provider).
    public static func hash(bytes: UnsafeRawBufferPointer) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        // Invariant: EVP_Digest reads `bytes.count` bytes from a live buffer and writes at most 16 bytes into `out`.
        guard EVP_Digest(bytes.baseAddress, bytes.count, &out, &length, EVP_md5(), nil) == 1, length == 16 else {
            throw OpenSSLError("EVP_Digest(MD5) for Content-MD5 (is MD5 disabled, e.g. by a FIPS-only provider?)")
        }
        return out
    }

    public static func hash(_ bytes: [UInt8]) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try hash(bytes: $0) }
    }
}
