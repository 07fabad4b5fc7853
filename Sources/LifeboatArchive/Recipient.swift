// Public-key (recipient) encryption, as age does it (docs/format.md §1.1, §2.1): X25519 key pairs, their files
// (`lifeboat-identity-1:` private key, mode 0600; `lifeboat-recipient-1:` public key, one line), and the stanza that
// wraps an archive's random file key for one recipient: X25519 with a fresh ephemeral key, HKDF-SHA256, AES-256-GCM.
// Everything goes through OpenSSL's EVP API; each EVP_PKEY has one Swift owner that frees it.

import COpenSSL
import Foundation

/// A recipient's X25519 public key: what a backup host needs to encrypt to it. Not secret.
public struct RecipientPublicKey: Sendable, Equatable, Hashable, CustomStringConvertible {
    public static let prefix = "lifeboat-recipient-1:"
    public static let length = 32

    /// The 32 bytes of the X25519 public key (RFC 7748 u-coordinate).
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.length else {
            throw CryptoParameterError("an X25519 public key is \(Self.length) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Eight bytes naming the recipient in archive headers: SHA-256("lifeboat-v1 recipient id" || public key)[0..<8].
    public var id: [UInt8] { Array(SHA256Digest.hash(Array("lifeboat-v1 recipient id".utf8) + bytes).prefix(8)) }

    public var idString: String { Hex.encode(id) }

    /// `lifeboat-recipient-1:<64 hex digits>`: the one line a recipient file holds.
    public var description: String { Self.prefix + Hex.encode(bytes) }

    /// Parses a recipient: the line itself, or the text of a file holding it (comment lines `#` and blank lines
    /// are ignored). `source` names it in errors.
    public init(parsing text: String, source: String) throws {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let keyLines = lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard keyLines.count == 1, keyLines[0].hasPrefix(Self.prefix) else {
            throw KeyFileError.malformed(path: source, detail: "expected one line `\(Self.prefix)<64 hex digits>` (a recipient's public key)")
        }
        let hex = keyLines[0].dropFirst(Self.prefix.count)
        guard hex.count == Self.length * 2, let bytes = Hex.decode(hex) else {
            throw KeyFileError.malformed(path: source, detail: "the public key must be 64 hex digits")
        }
        try self.init(bytes: bytes)
    }

    /// A recipient given as the line itself, or as the path of a file holding it.
    public static func resolve(_ value: String) throws -> RecipientPublicKey {
        if value.hasPrefix(prefix) { return try RecipientPublicKey(parsing: value, source: "the recipient \"\(value)\"") }
        guard let data = FileManager.default.contents(atPath: value) else {
            throw KeyFileError.unreadable(path: value, detail: "cannot read the recipient file (give a path, or the line `\(prefix)...` itself)")
        }
        return try RecipientPublicKey(parsing: String(decoding: data, as: UTF8.self), source: value)
    }
}

/// A recipient's X25519 private key (an identity file): decrypts archives encrypted to its public key.
public struct RecipientIdentity: Sendable {
    public static let prefix = "lifeboat-identity-1:"

    let privateKey: SecureBytes
    /// The matching public key.
    public let recipient: RecipientPublicKey

    /// - Parameter privateKey: exactly 32 bytes.
    public init(privateKey: SecureBytes) throws {
        guard privateKey.count == 32 else {
            throw CryptoParameterError("an X25519 private key is 32 bytes, got \(privateKey.count)")
        }
        self.privateKey = privateKey
        recipient = try RecipientPublicKey(bytes: try X25519.publicKey(privateKey: privateKey))
    }

    /// A fresh key pair from OpenSSL's generator.
    public static func generate() throws -> RecipientIdentity {
        try RecipientIdentity(privateKey: try X25519.generatePrivateKey())
    }

    /// The identity file's text: comments (with the public key), then one `lifeboat-identity-1:<64 hex>` line.
    public func fileContents(created: Date) -> String {
        let hex = privateKey.withUnsafeBytes { Hex.encode($0) }
        return """
            # Lifeboat identity (X25519 private key). It decrypts every backup encrypted to the recipient below;
            # keep it offline, away from the backups and from the backup host (which needs only the public key).
            # recipient: \(recipient)
            # created: \(ISO8601DateFormatter().string(from: created))
            \(Self.prefix)\(hex)

            """
    }

    /// Parses an identity file's text. `path` is used only in error messages.
    public static func parse(fileContents text: String, path: String) throws -> RecipientIdentity {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let keyLines = lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard keyLines.count == 1, keyLines[0].hasPrefix(prefix) else {
            throw KeyFileError.malformed(path: path, detail: "expected one line `\(prefix)<64 hex digits>`")
        }
        let hex = keyLines[0].dropFirst(prefix.count)
        guard hex.count == 64, var bytes = Hex.decode(hex) else {
            throw KeyFileError.malformed(path: path, detail: "the private key must be 64 hex digits")
        }
        defer { wipe(&bytes) }
        return try RecipientIdentity(privateKey: SecureBytes(bytes))
    }

    /// Writes the identity file with mode 0600 (never overwriting) and fsyncs it.
    public func write(to path: String, created: Date = Date()) throws {
        var bytes = Array(fileContents(created: created).utf8)
        defer { wipe(&bytes) }
        try SecretFile.createExclusive(path: path, bytes: bytes)
    }
}

/// A file that may hold an archive key or an identity (`--key-file`, `keys.key_files`): either decrypts.
public enum DecryptionKeyFile: Sendable {
    case key(ArchiveKey)
    case identity(RecipientIdentity)

    /// Reads a key or identity file, refusing one that group or others can read or write.
    public static func load(path: String) throws -> DecryptionKeyFile {
        var data = try SecretFile.readPrivate(path: path)
        defer { data.resetBytes(in: 0..<data.count) }
        let text = String(decoding: data, as: UTF8.self)
        if text.contains(RecipientIdentity.prefix) { return .identity(try RecipientIdentity.parse(fileContents: text, path: path)) }
        return .key(try ArchiveKey.parse(fileContents: text, path: path))
    }
}

/// Private files holding secrets: read only when no other user may read or write them; created 0600, never
/// overwritten, fsynced. Shared by key files and identity files.
enum SecretFile {
    static func readPrivate(path: String) throws -> Data {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw KeyFileError.unreadable(path: path, detail: String(cString: strerror(errno)))
        }
        guard SecretFileMode.isPrivate(info) else {
            throw KeyFileError.tooOpen(path: path, mode: UInt32(info.st_mode & 0o777))
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KeyFileError.unreadable(path: path, detail: "cannot read the file")
        }
        return data
    }

    static func createExclusive(path: String, bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw KeyFileError.exists(path: path) }
            throw KeyFileError.unwritable(path: path, detail: String(cString: strerror(errno)))
        }
        do {
            try FileDescriptorIO.writeAll(fd, bytes)
            guard fsync(fd) == 0 else { throw KeyFileError.unwritable(path: path, detail: String(cString: strerror(errno))) }
            close(fd)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
    }
}

/// X25519 (RFC 7748) through EVP_PKEY.
enum X25519 {
    /// One owner for an EVP_PKEY; frees it in deinit.
    private final class PKey {
        // Invariant: `pointer` is a live EVP_PKEY of type X25519 until deinit frees it.
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
        deinit { EVP_PKEY_free(pointer) }

        static func privateKey(_ key: SecureBytes) throws -> PKey {
            // Invariant: OpenSSL copies the 32 bytes during the call.
            guard let p = key.withUnsafeBytes({ EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count) }) else {
                throw OpenSSLError("EVP_PKEY_new_raw_private_key(X25519)")
            }
            return PKey(p)
        }

        static func publicKey(_ bytes: [UInt8]) throws -> PKey {
            guard let p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, bytes, bytes.count) else {
                throw OpenSSLError("EVP_PKEY_new_raw_public_key(X25519)")
            }
            return PKey(p)
        }
    }

    static func generatePrivateKey() throws -> SecureBytes {
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nil) else { throw OpenSSLError("EVP_PKEY_CTX_new_id(X25519)") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var generated: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_keygen(ctx, &generated) == 1, let generated else {
            throw OpenSSLError("EVP_PKEY_keygen(X25519)")
        }
        let key = PKey(generated)
        return try SecureBytes(count: 32) { out in
            var length = out.count
            guard EVP_PKEY_get_raw_private_key(key.pointer, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length) == 1, length == 32 else {
                throw OpenSSLError("EVP_PKEY_get_raw_private_key(X25519)")
            }
        }
    }

    static func publicKey(privateKey: SecureBytes) throws -> [UInt8] {
        let key = try PKey.privateKey(privateKey)
        var out = [UInt8](repeating: 0, count: 32)
        var length = out.count
        guard EVP_PKEY_get_raw_public_key(key.pointer, &out, &length) == 1, length == 32 else {
            throw OpenSSLError("EVP_PKEY_get_raw_public_key(X25519)")
        }
        return out
    }

    /// X25519(privateKey, peer). Fails (OpenSSL refuses) when the result is all zeros: a low-order peer key.
    static func sharedSecret(privateKey: SecureBytes, peer: [UInt8]) throws -> SecureBytes {
        let mine = try PKey.privateKey(privateKey)
        let theirs = try PKey.publicKey(peer)
        guard let ctx = EVP_PKEY_CTX_new(mine.pointer, nil) else { throw OpenSSLError("EVP_PKEY_CTX_new(X25519)") }
        defer { EVP_PKEY_CTX_free(ctx) }
        guard EVP_PKEY_derive_init(ctx) == 1, EVP_PKEY_derive_set_peer(ctx, theirs.pointer) == 1 else {
            throw OpenSSLError("EVP_PKEY_derive_set_peer(X25519)")
        }
        return try SecureBytes(count: 32) { out in
            var length = out.count
            guard EVP_PKEY_derive(ctx, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length) == 1, length == 32 else {
                throw OpenSSLError("EVP_PKEY_derive(X25519)")
            }
        }
    }
}

/// The file key of an archive wrapped for one recipient (docs/format.md §2.1): 88 bytes.
struct RecipientStanza: Equatable {
    static let length = 88
    static let wrapInfo = Array("lifeboat-v1 x25519 wrap".utf8)

    /// The recipient's id (``RecipientPublicKey/id``).
    var recipientID: [UInt8]
    /// The ephemeral X25519 public key of this stanza.
    var ephemeralPublicKey: [UInt8]
    /// AES-256-GCM of the 32-byte file key under the wrap key, zero nonce, the recipient id as associated data:
    /// 32 bytes of ciphertext and the 16-byte tag.
    var wrappedKey: [UInt8]

    var encoded: [UInt8] { recipientID + ephemeralPublicKey + wrappedKey }

    /// Splits 88 bytes (length checked by the caller).
    init(parsing bytes: ArraySlice<UInt8>) {
        let start = bytes.startIndex
        recipientID = Array(bytes[start..<start + 8])
        ephemeralPublicKey = Array(bytes[start + 8..<start + 40])
        wrappedKey = Array(bytes[start + 40..<start + 88])
    }

    /// wrap key = HKDF-SHA256(ikm = X25519 shared secret, salt = ephemeral public key || recipient public key,
    /// info = "lifeboat-v1 x25519 wrap", 32 bytes).
    private static func wrapKey(shared: SecureBytes, ephemeral: [UInt8], recipient: [UInt8]) throws -> SecureBytes {
        try HKDF.deriveKey(from: shared, salt: ephemeral + recipient, info: wrapInfo, length: 32)
    }

    /// Wraps `fileKey` for `recipient` with a fresh (or, for known-answer vectors, the given) ephemeral key.
    init(wrapping fileKey: SecureBytes, for recipient: RecipientPublicKey, ephemeralPrivateKey: SecureBytes? = nil) throws {
        let ephemeral = try ephemeralPrivateKey ?? X25519.generatePrivateKey()
        let ephemeralPublic = try X25519.publicKey(privateKey: ephemeral)
        let shared = try X25519.sharedSecret(privateKey: ephemeral, peer: recipient.bytes)
        let key = try Self.wrapKey(shared: shared, ephemeral: ephemeralPublic, recipient: recipient.bytes)
        let context = try AESGCMContext(key: key)
        var wrapped = [UInt8](repeating: 0, count: 32 + AESGCMContext.tagLength)
        let nonce = [UInt8](repeating: 0, count: AESGCMContext.nonceLength)
        let id = recipient.id
        try fileKey.withUnsafeBytes { plain in
            try nonce.withUnsafeBytes { n in
                try id.withUnsafeBytes { aad in
                    try wrapped.withUnsafeMutableBytes { out in try context.seal(nonce: n, aad: aad, plaintext: plain, into: out) }
                }
            }
        }
        recipientID = id
        ephemeralPublicKey = ephemeralPublic
        wrappedKey = wrapped
    }

    /// The file key, when `identity` opens this stanza; nil when the wrapped key does not authenticate under it (or
    /// the ephemeral key is a low-order point).
    func unwrap(with identity: RecipientIdentity) -> SecureBytes? {
        guard let shared = try? X25519.sharedSecret(privateKey: identity.privateKey, peer: ephemeralPublicKey),
              let key = try? Self.wrapKey(shared: shared, ephemeral: ephemeralPublicKey, recipient: identity.recipient.bytes),
              let context = try? AESGCMContext(key: key) else {
            clearOpenSSLErrors()
            return nil
        }
        let nonce = [UInt8](repeating: 0, count: AESGCMContext.nonceLength)
        guard wrappedKey.count == 32 + AESGCMContext.tagLength else { return nil }
        do {
            return try SecureBytes(count: 32) { out in
                try nonce.withUnsafeBytes { n in
                    try recipientID.withUnsafeBytes { aad in
                        try wrappedKey.withUnsafeBytes { c in try context.open(nonce: n, aad: aad, ciphertextAndTag: c, into: out) }
                    }
                }
            }
        } catch {
            clearOpenSSLErrors()
            return nil
        }
    }
}
