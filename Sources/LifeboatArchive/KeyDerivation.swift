// HKDF-SHA256 (RFC 5869) and scrypt (RFC 7914) through OpenSSL.

import COpenSSL

public enum HKDF {
    /// HKDF-SHA256 extract-and-expand of `key` with `salt` and `info` into `length` bytes.
    public static func deriveKey(from key: SecureBytes, salt: [UInt8], info: [UInt8], length: Int) throws -> SecureBytes {
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nil) else { throw OpenSSLError("EVP_PKEY_CTX_new_id(HKDF)") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_derive_init(ctx) == 1, EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 else {
            throw OpenSSLError("EVP_PKEY_derive_init(HKDF)")
        }
        let configured = key.withUnsafeBytes { ikm in
            salt.withUnsafeBufferPointer { s in
                info.withUnsafeBufferPointer { i in
                    EVP_PKEY_CTX_set1_hkdf_salt(ctx, s.baseAddress, Int32(s.count)) == 1
                        && EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(ikm.count)) == 1
                        && EVP_PKEY_CTX_add1_hkdf_info(ctx, i.baseAddress, Int32(i.count)) == 1
                }
            }
        }
        guard configured else { throw OpenSSLError("EVP_PKEY_CTX_set1_hkdf_*") }
        return try SecureBytes(count: length) { out in
            var outLength = out.count
            guard EVP_PKEY_derive(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &outLength) == 1, outLength == length else {
                throw OpenSSLError("EVP_PKEY_derive(HKDF)")
            }
        }
    }
}

/// scrypt parameters as stored in an archive header.
public struct ScryptParameters: Equatable, Sendable {
    public var log2N: UInt8
    public var r: UInt32
    public var p: UInt32

    /// N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s on a current CPU.
    public static let standard = ScryptParameters(log2N: 15, r: 8, p: 1)

    public init(log2N: UInt8, r: UInt32, p: UInt32) {
        self.log2N = log2N
        self.r = r
        self.p = p
    }

    /// Bounds a reader accepts, so a hostile (not yet authenticated) header cannot demand gigabytes of memory:
    /// 10 <= log2N <= 22, 1 <= r <= 32, 1 <= p <= 16, 128 * r * N * p <= 256 MiB, and RFC 7914's N < 2^(16 * r)
    /// (which only excludes log2N >= 16 with r = 1 here; OpenSSL refuses such parameters).
    public var isAcceptable: Bool {
        (10...22).contains(log2N) && (1...32).contains(r) && (1...16).contains(p) && satisfiesRFC7914
            && 128 * UInt64(r) * (UInt64(1) << UInt64(log2N)) * UInt64(p) <= 256 * 1024 * 1024
    }

    /// RFC 7914 §2: N is a power of two greater than 1 and less than 2^(128 * r / 8); r and p are at least 1.
    public var satisfiesRFC7914: Bool {
        log2N >= 1 && r >= 1 && p >= 1 && UInt64(log2N) < 16 * UInt64(r)
    }

    /// Memory scrypt needs, 128 * r * N * p, plus slack; nil when that does not fit in 64 bits.
    var memoryBound: UInt64? {
        guard log2N < 64 else { return nil }
        let (rn, o1) = (128 * UInt64(r)).multipliedReportingOverflow(by: UInt64(1) << UInt64(log2N))
        let (rnp, o2) = rn.multipliedReportingOverflow(by: UInt64(p))
        let (total, o3) = rnp.addingReportingOverflow(16 * 1024 * 1024)
        return o1 || o2 || o3 ? nil : total
    }
}

/// Key-derivation, cipher or archive parameters that cannot be used (a key of the wrong length, impossible scrypt
/// parameters, a chunk size out of range). Thrown instead of trapping, because such values can come from files,
/// configuration and requests.
public struct CryptoParameterError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

public enum Scrypt {
    public static func deriveKey(passphrase: SecureBytes, salt: [UInt8], parameters: ScryptParameters, length: Int) throws -> SecureBytes {
        guard parameters.satisfiesRFC7914, let memoryBound = parameters.memoryBound else {
            throw CryptoParameterError("scrypt parameters log2N=\(parameters.log2N) r=\(parameters.r) p=\(parameters.p) are invalid (RFC 7914 needs 1 <= log2N < 16 * r, r >= 1, p >= 1)")
        }
        return try SecureBytes(count: length) { out in
            let ok = passphrase.withUnsafeBytes { pass in
                salt.withUnsafeBufferPointer { s in
                    EVP_PBE_scrypt(pass.baseAddress?.assumingMemoryBound(to: CChar.self), pass.count, s.baseAddress, s.count,
                                   UInt64(1) << UInt64(parameters.log2N), UInt64(parameters.r), UInt64(parameters.p),
                                   memoryBound, out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count)
                }
            }
            guard ok == 1 else { throw OpenSSLError("EVP_PBE_scrypt") }
        }
    }
}
