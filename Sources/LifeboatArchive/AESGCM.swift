// AES-256-GCM through OpenSSL's EVP cipher interface.

import COpenSSL

/// AES-256-GCM authentication failed: wrong key, wrong nonce or associated data, or modified ciphertext.
public struct AuthenticationFailure: Error, Sendable {}

/// An AES-256-GCM key bound to one reusable OpenSSL cipher context.
///
/// Not thread-safe: one context per stream.
public final class AESGCMContext {
    public static let tagLength = 16
    public static let nonceLength = 12

    // Invariant: `context` is a live EVP_CIPHER_CTX owned by this object and freed in deinit.
    private let context: OpaquePointer
    private let key: SecureBytes

    public static let keyLength = 32

    /// - Parameter key: exactly 32 bytes; any other length throws `CryptoParameterError` (keys can come from
    ///   files and requests, so a wrong length is an error, not a trap).
    public init(key: SecureBytes) throws {
        guard key.count == Self.keyLength else {
            throw CryptoParameterError("AES-256-GCM needs a \(Self.keyLength)-byte key, got \(key.count) bytes")
        }
        guard let ctx = EVP_CIPHER_CTX_new() else { throw OpenSSLError("EVP_CIPHER_CTX_new") }
        self.context = ctx
        self.key = key
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Encrypts `plaintext`, writing ciphertext followed by the 16-byte tag into `output`
    /// (which must hold `plaintext.count + 16` bytes).
    public func seal(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
                     into output: UnsafeMutableRawBufferPointer) throws {
        try Self.checkNonce(nonce)
        guard output.count >= plaintext.count + Self.tagLength else {
            throw CryptoParameterError("AES-256-GCM output buffer of \(output.count) bytes is too small for \(plaintext.count) bytes and the tag")
        }
        try Self.checkLength(plaintext.count)
        try start(encrypt: true, nonce: nonce)
        try feedAAD(aad)
        var written: Int32 = 0
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        if plaintext.count > 0 {
            guard EVP_EncryptUpdate(context, out, &written, plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                    Int32(plaintext.count)) == 1 else { throw OpenSSLError("EVP_EncryptUpdate") }
        }
        var tail: Int32 = 0
        guard EVP_EncryptFinal_ex(context, out + Int(written), &tail) == 1 else { throw OpenSSLError("EVP_EncryptFinal_ex") }
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagLength),
                                  out + plaintext.count) == 1 else { throw OpenSSLError("EVP_CTRL_GCM_GET_TAG") }
    }

    /// Decrypts and authenticates `ciphertextAndTag`, writing the plaintext into `output`
    /// (which must hold `ciphertextAndTag.count - 16` bytes). Nothing in `output` may be used if this throws.
    public func open(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, ciphertextAndTag: UnsafeRawBufferPointer,
                     into output: UnsafeMutableRawBufferPointer) throws {
        guard ciphertextAndTag.count >= Self.tagLength else { throw AuthenticationFailure() }
        let bodyCount = ciphertextAndTag.count - Self.tagLength
        try Self.checkNonce(nonce)
        guard output.count >= bodyCount else {
            throw CryptoParameterError("AES-256-GCM output buffer of \(output.count) bytes is too small for \(bodyCount) bytes")
        }
        try Self.checkLength(bodyCount)
        guard output.baseAddress != nil else {
            // An empty output without storage (empty plaintext): OpenSSL still wants a pointer.
            return try withUnsafeTemporaryAllocation(byteCount: 1, alignment: 1) { spare in
                try open(nonce: nonce, aad: aad, ciphertextAndTag: ciphertextAndTag, into: spare)
            }
        }
        try start(encrypt: false, nonce: nonce)
        try feedAAD(aad)
        let input = ciphertextAndTag.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var written: Int32 = 0
        if bodyCount > 0 {
            guard EVP_DecryptUpdate(context, out, &written, input, Int32(bodyCount)) == 1 else {
                throw OpenSSLError("EVP_DecryptUpdate")
            }
        }
        // EVP_CTRL_GCM_SET_TAG takes a non-const pointer but only reads the tag.
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagLength),
                                  UnsafeMutableRawPointer(mutating: input + bodyCount)) == 1 else {
            throw OpenSSLError("EVP_CTRL_GCM_SET_TAG")
        }
        var tail: Int32 = 0
        guard EVP_DecryptFinal_ex(context, out + Int(written), &tail) == 1 else {
            clearOpenSSLErrors()
            throw AuthenticationFailure()
        }
    }

    /// OpenSSL's update calls take an `int` length.
    private static func checkLength(_ count: Int) throws {
        guard count <= Int(Int32.max) else {
            throw CryptoParameterError("AES-256-GCM input of \(count) bytes exceeds OpenSSL's limit of \(Int32.max) bytes per call")
        }
    }

    private static func checkNonce(_ nonce: UnsafeRawBufferPointer) throws {
        guard nonce.count == nonceLength else {
            throw CryptoParameterError("AES-256-GCM needs a \(nonceLength)-byte nonce, got \(nonce.count) bytes")
        }
    }

    private func start(encrypt: Bool, nonce: UnsafeRawBufferPointer) throws {
        let ok = key.withUnsafeBytes { k -> Int32 in
            let kp = k.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let np = nonce.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return encrypt ? EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, kp, np)
                           : EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, kp, np)
        }
        guard ok == 1 else { throw OpenSSLError(encrypt ? "EVP_EncryptInit_ex" : "EVP_DecryptInit_ex") }
    }

    private func feedAAD(_ aad: UnsafeRawBufferPointer) throws {
        guard aad.count > 0 else { return }
        try Self.checkLength(aad.count)
        var ignored: Int32 = 0
        guard EVP_CipherUpdate(context, nil, &ignored, aad.baseAddress!.assumingMemoryBound(to: UInt8.self),
                               Int32(aad.count)) == 1 else { throw OpenSSLError("EVP_CipherUpdate(aad)") }
    }
}

/// One-shot AES-256-GCM on arrays, for small messages (seal blobs, simulator storage values).
public enum AESGCM {
    /// Returns ciphertext || 16-byte tag.
    public static func seal(key: [UInt8], nonce: [UInt8], plaintext: [UInt8], aad: [UInt8] = []) throws -> [UInt8] {
        let ctx = try AESGCMContext(key: SecureBytes(key))
        var out = [UInt8](repeating: 0, count: plaintext.count + AESGCMContext.tagLength)
        try nonce.withUnsafeBytes { n in
            try aad.withUnsafeBytes { a in
                try plaintext.withUnsafeBytes { p in
                    try out.withUnsafeMutableBytes { o in try ctx.seal(nonce: n, aad: a, plaintext: p, into: o) }
                }
            }
        }
        return out
    }

    /// Throws `AuthenticationFailure` when the tag does not verify.
    public static func open(key: [UInt8], nonce: [UInt8], ciphertextAndTag: [UInt8], aad: [UInt8] = []) throws -> [UInt8] {
        guard ciphertextAndTag.count >= AESGCMContext.tagLength else { throw AuthenticationFailure() }
        let ctx = try AESGCMContext(key: SecureBytes(key))
        var out = [UInt8](repeating: 0, count: ciphertextAndTag.count - AESGCMContext.tagLength)
        try nonce.withUnsafeBytes { n in
            try aad.withUnsafeBytes { a in
                try ciphertextAndTag.withUnsafeBytes { c in
                    try out.withUnsafeMutableBytes { o in try ctx.open(nonce: n, aad: a, ciphertextAndTag: c, into: o) }
                }
            }
        }
        return out
    }
}
