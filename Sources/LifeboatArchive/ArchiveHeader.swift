// The fixed 97-byte header of a Lifeboat archive (docs/format.md §2): parsing, encoding, key derivation.

/// How the master key of an archive was obtained.
public enum KeyDerivationKind: UInt8, Sendable {
    /// A 32-byte key from a key file.
    case keyFile = 1
    /// scrypt over a passphrase, with the parameters stored in the header.
    case passphrase = 2
    /// A random file key wrapped for each of 1 ... 64 X25519 recipients in stanzas after the fixed header.
    case recipients = 3
}

/// The archive header. Every field is covered by `mac`.
public struct ArchiveHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("LIFEBOAT".utf8)
    public static let currentVersion: UInt8 = 1
    public static let aeadAES256GCM: UInt8 = 1
    public static let compressionZlib: UInt8 = 1
    public static let compressionNone: UInt8 = 0
    /// Length of the fixed header; a recipients header is followed by `recipientCount` stanzas of 88 bytes.
    public static let length = 97
    /// Recipients an archive may be encrypted to.
    public static let recipientCountRange = 1...64
    public static let chunkSizeRange = 1024...(16 * 1024 * 1024)
    public static let defaultChunkSize = 1024 * 1024

    public var kdf: KeyDerivationKind
    /// 0 (never compressed) or 1 (zlib, per chunk when smaller).
    public var compression: UInt8
    public var chunkSize: Int
    public var keyID: [UInt8]
    public var salt: [UInt8]
    public var scrypt: ScryptParameters?
    public var mac: [UInt8]
    /// For ``KeyDerivationKind/recipients``: how many stanzas follow the fixed header (bytes 61-64); 0 otherwise.
    public var recipientCount: Int = 0
    /// The recipient stanzas, once read (``KeyDerivationKind/recipients`` only).
    var stanzas: [RecipientStanza] = []

    /// The ids of the recipients the archive is encrypted to (hex), in header order.
    public var recipientIDs: [String] { stanzas.map { Hex.encode($0.recipientID) } }

    /// Bytes of the stanzas that follow the fixed header.
    public var stanzaBytes: Int { recipientCount * RecipientStanza.length }

    /// The first 8 bytes of the salt, repeated in every chunk record to detect splicing.
    var archiveTag: ArraySlice<UInt8> { salt[0..<8] }

    /// What the MAC covers: the 65 fixed bytes, then every stanza.
    var authenticatedBytes: [UInt8] { fixedBytes + stanzas.flatMap(\.encoded) }

    /// Bytes 0-64 of the header.
    var fixedBytes: [UInt8] {
        var out = Self.magic
        out.append(Self.currentVersion)
        out.append(Self.aeadAES256GCM)
        out.append(kdf.rawValue)
        out.append(compression)
        out.appendBigEndian(UInt32(chunkSize))
        out.append(contentsOf: keyID)
        out.append(contentsOf: salt)
        out.append(scrypt?.log2N ?? 0)
        out.appendBigEndian(scrypt?.r ?? 0)
        out.appendBigEndian(kdf == .recipients ? UInt32(recipientCount) : scrypt?.p ?? 0)
        return out
    }

    /// The header as stored: fixed bytes, MAC, then the stanzas.
    var encoded: [UInt8] { fixedBytes + mac + stanzas.flatMap(\.encoded) }

    /// Checks magic and version from the first 9 bytes, so an unknown version is reported even if the rest differs.
    static func checkPrefix(_ bytes: ArraySlice<UInt8>) throws {
        let magicPart = bytes.prefix(magic.count)
        guard magicPart.elementsEqual(magic.prefix(magicPart.count)) else { throw ArchiveError.notAnArchive }
        if bytes.count > magic.count {
            let version = bytes[bytes.startIndex + magic.count]
            guard version == currentVersion else { throw ArchiveError.unsupportedVersion(version) }
        }
    }

    /// Parses exactly `length` bytes. Does not authenticate: see `ArchiveKeys.open(header:keyRing:)`.
    static func parse(_ bytes: ArraySlice<UInt8>) throws -> ArchiveHeader {
        guard bytes.count == length else {
            throw ArchiveError.malformedHeader("the header is \(bytes.count) bytes, not \(length)")
        }
        try checkPrefix(bytes)
        var reader = ByteReader(bytes)
        reader.skip(9)
        let aead = reader.u8()
        guard aead == aeadAES256GCM else { throw ArchiveError.unsupportedAlgorithm(field: "cipher", value: aead) }
        let kdfRaw = reader.u8()
        guard let kdf = KeyDerivationKind(rawValue: kdfRaw) else {
            throw ArchiveError.unsupportedAlgorithm(field: "key derivation", value: kdfRaw)
        }
        let compression = reader.u8()
        guard compression == compressionNone || compression == compressionZlib else {
            throw ArchiveError.unsupportedAlgorithm(field: "compression", value: compression)
        }
        let chunkSize = Int(reader.u32())
        guard chunkSizeRange.contains(chunkSize) else {
            throw ArchiveError.malformedHeader("chunk size \(chunkSize) is outside \(chunkSizeRange)")
        }
        let keyID = reader.bytes(8)
        let salt = reader.bytes(32)
        let log2N = reader.u8()
        let r = reader.u32()
        let p = reader.u32()
        var scrypt: ScryptParameters?
        switch kdf {
        case .keyFile:
            guard log2N == 0, r == 0, p == 0 else { throw ArchiveError.malformedHeader("scrypt parameters set for a key-file archive") }
        case .recipients:
            guard log2N == 0, r == 0 else { throw ArchiveError.malformedHeader("scrypt parameters set for a recipients archive") }
            guard recipientCountRange.contains(Int(p)) else {
                throw ArchiveError.malformedHeader("recipient count \(p) is outside \(recipientCountRange)")
            }
        case .passphrase:
            let params = ScryptParameters(log2N: log2N, r: r, p: p)
            guard params.isAcceptable else {
                throw ArchiveError.malformedHeader("scrypt parameters log2N=\(log2N) r=\(r) p=\(p) are outside the accepted bounds (10 <= log2N <= 22, 1 <= r <= 32, 1 <= p <= 16, 128 * r * 2^log2N * p <= 256 MiB, and log2N < 16 * r as RFC 7914 requires)")
            }
            scrypt = params
        }
        let mac = reader.bytes(32)
        return ArchiveHeader(kdf: kdf, compression: compression, chunkSize: chunkSize, keyID: keyID, salt: salt,
                             scrypt: scrypt, mac: mac, recipientCount: kdf == .recipients ? Int(p) : 0)
    }

    /// Reads the `recipientCount` stanzas that follow the fixed header (exactly ``stanzaBytes`` bytes). Two stanzas
    /// for the same recipient are refused.
    mutating func parseStanzas(_ bytes: ArraySlice<UInt8>) throws {
        guard bytes.count == stanzaBytes else {
            throw ArchiveError.malformedHeader("the recipient stanzas are \(bytes.count) bytes, not \(stanzaBytes)")
        }
        var parsed: [RecipientStanza] = []
        var ids = Set<[UInt8]>()
        for index in 0..<recipientCount {
            let start = bytes.startIndex + index * RecipientStanza.length
            let stanza = RecipientStanza(parsing: bytes[start..<start + RecipientStanza.length])
            guard ids.insert(stanza.recipientID).inserted else {
                throw ArchiveError.malformedHeader("recipient \(Hex.encode(stanza.recipientID)) has two stanzas")
            }
            parsed.append(stanza)
        }
        stanzas = parsed
    }
}

/// The per-archive keys derived from the master key and the header's salt.
struct ArchiveKeys {
    let payload: AESGCMContext
    let headerMAC: SecureBytes

    static let payloadInfo = Array("lifeboat-v1 payload key".utf8)
    static let headerInfo = Array("lifeboat-v1 header key".utf8)

    init(master: SecureBytes, salt: [UInt8]) throws {
        payload = try AESGCMContext(key: try HKDF.deriveKey(from: master, salt: salt, info: Self.payloadInfo, length: 32))
        headerMAC = try HKDF.deriveKey(from: master, salt: salt, info: Self.headerInfo, length: 32)
    }

    func mac(for header: ArchiveHeader) -> [UInt8] {
        headerMAC.withUnsafeBytes { key in header.authenticatedBytes.withUnsafeBytes { HMACSHA256.authenticationCode(key: key, message: $0) } }
    }

    /// Derives the master key for `secret` and a fresh salt and builds the header of a new archive.
    /// `fileKey` and `ephemeralKeys` (one per recipient) fix the random choices of a recipients archive, for
    /// known-answer vectors only.
    static func create(secret: EncryptionSecret, chunkSize: Int, compression: Bool,
                       salt: [UInt8] = SecureRandom.bytes(32), fileKey: SecureBytes? = nil,
                       ephemeralKeys: [SecureBytes]? = nil) throws -> (ArchiveHeader, ArchiveKeys) {
        let master: SecureBytes
        let kdf: KeyDerivationKind
        var scrypt: ScryptParameters?
        var stanzas: [RecipientStanza] = []
        switch secret {
        case .recipients(let recipients):
            guard ArchiveHeader.recipientCountRange.contains(recipients.count) else {
                throw CryptoParameterError("an archive is encrypted to \(ArchiveHeader.recipientCountRange) recipients, not \(recipients.count)")
            }
            guard Set(recipients).count == recipients.count else {
                throw CryptoParameterError("a recipient is listed twice")
            }
            master = fileKey ?? SecureBytes(count: 32) { SecureRandom.fill($0) }
            kdf = .recipients
            stanzas = try recipients.enumerated().map { index, recipient in
                try RecipientStanza(wrapping: master, for: recipient, ephemeralPrivateKey: ephemeralKeys?[index])
            }
        case .key(let key):
            master = key.material
            kdf = .keyFile
        case .passphrase(let passphrase, let params):
            master = try Scrypt.deriveKey(passphrase: passphrase, salt: salt, parameters: params, length: 32)
            kdf = .passphrase
            scrypt = params
        }
        let keys = try ArchiveKeys(master: master, salt: salt)
        var header = ArchiveHeader(kdf: kdf, compression: compression ? ArchiveHeader.compressionZlib : ArchiveHeader.compressionNone,
                                   chunkSize: chunkSize, keyID: ArchiveKey.keyID(for: master), salt: salt, scrypt: scrypt,
                                   mac: [], recipientCount: stanzas.count, stanzas: stanzas)
        header.mac = keys.mac(for: header)
        return (header, keys)
    }

    /// Finds the master key for `header` in `keyRing` (by key id, before any decryption) and authenticates the header.
    static func open(header: ArchiveHeader, keyRing: KeyRing) throws -> ArchiveKeys {
        let master: SecureBytes
        switch header.kdf {
        case .recipients:
            let available = Dictionary(header.stanzas.map { ($0.recipientID, $0) }, uniquingKeysWith: { a, _ in a })
            guard let (identity, stanza) = keyRing.identities.lazy.compactMap({ identity in
                available[identity.recipient.id].map { (identity, $0) }
            }).first else {
                if keyRing.identities.isEmpty {
                    throw ArchiveError.missingSecret("X25519 recipients \(header.recipientIDs.joined(separator: ", ")), not a key file or "
                        + "passphrase: the identity file (private key) of one of them")
                }
                throw ArchiveError.wrongIdentity(archiveRecipients: header.recipientIDs,
                                                 configuredRecipients: keyRing.identities.map(\.recipient.idString))
            }
            guard let fileKey = stanza.unwrap(with: identity) else {
                throw ArchiveError.recipientStanzaAuthenticationFailed(recipient: identity.recipient.idString)
            }
            guard ArchiveKey.keyID(for: fileKey) == header.keyID else { throw ArchiveError.headerAuthenticationFailed }
            master = fileKey
        case .keyFile:
            guard let key = keyRing.key(withID: header.keyID) else {
                if keyRing.keys.isEmpty && keyRing.passphrase != nil {
                    throw ArchiveError.missingSecret("key file \(Hex.encode(header.keyID)), not a passphrase")
                }
                throw ArchiveError.wrongKey(archiveKeyID: Hex.encode(header.keyID), configuredKeyIDs: keyRing.keys.map(\.idString))
            }
            master = key.material
        case .passphrase:
            guard let passphrase = keyRing.passphrase, let params = header.scrypt else {
                throw ArchiveError.missingSecret("a passphrase, not a key file")
            }
            master = try Scrypt.deriveKey(passphrase: passphrase, salt: header.salt, parameters: params, length: 32)
            guard ArchiveKey.keyID(for: master) == header.keyID else { throw ArchiveError.wrongPassphrase }
        }
        let keys = try ArchiveKeys(master: master, salt: header.salt)
        guard HMACSHA256.equal(keys.mac(for: header), header.mac) else { throw ArchiveError.headerAuthenticationFailed }
        return keys
    }
}

/// Big-endian cursor over a byte slice whose length the caller has already checked.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    mutating func skip(_ n: Int) { position += n }

    mutating func u8() -> UInt8 {
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u32() -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 { value = value << 8 | UInt32(u8()) }
        return value
    }

    mutating func u64() -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(u8()) }
        return value
    }

    mutating func bytes(_ n: Int) -> [UInt8] {
        defer { position += n }
        return Array(bytes[position..<position + n])
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
