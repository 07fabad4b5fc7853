// Master keys for Lifeboat archives: generation, key ids, and key files (mode 0600, refused when readable by others).

import Foundation

/// A 256-bit master key read from or written to a Lifeboat key file.
public struct ArchiveKey: Sendable {
    public static let length = 32
    static let filePrefix = "lifeboat-key-1:"

    let material: SecureBytes
    /// Eight bytes naming the key, derived from it (HMAC-SHA256(key, "lifeboat-v1 key id")[0..<8]).
    public let id: [UInt8]

    public var idString: String { Hex.encode(id) }

    /// - Parameter material: exactly 32 bytes; any other length throws `CryptoParameterError`.
    public init(material: SecureBytes) throws {
        guard material.count == Self.length else {
            throw CryptoParameterError("a Lifeboat master key is \(Self.length) bytes, got \(material.count)")
        }
        self.init(checked: material)
    }

    /// For material whose length is known to be right.
    private init(checked material: SecureBytes) {
        self.material = material
        self.id = Self.keyID(for: material)
    }

    /// A fresh random key.
    public static func generate() -> ArchiveKey {
        ArchiveKey(checked: SecureBytes(count: length) { SecureRandom.fill($0) })
    }

    static func keyID(for material: SecureBytes) -> [UInt8] {
        material.withUnsafeBytes { key in
            Array("lifeboat-v1 key id".utf8).withUnsafeBytes { Array(HMACSHA256.authenticationCode(key: key, message: $0).prefix(8)) }
        }
    }

    /// The text of a key file: comments, then one `lifeboat-key-1:<64 hex digits>` line.
    public func fileContents(created: Date) -> String {
        let hex = material.withUnsafeBytes { Hex.encode($0) }
        let stamp = ISO8601DateFormatter().string(from: created)
        return """
            # Lifeboat archive key (AES-256). Anyone holding this file can decrypt your Vault backups;
            # without it they cannot be restored. Keep a copy offline, away from the backups.
            # key id: \(idString)
            # created: \(stamp)
            \(Self.filePrefix)\(hex)

            """
    }

    /// Parses a key file's text. `path` is used only in error messages.
    public static func parse(fileContents text: String, path: String) throws -> ArchiveKey {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let keyLines = lines.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard keyLines.count == 1, keyLines[0].hasPrefix(filePrefix) else {
            throw KeyFileError.malformed(path: path, detail: "expected one line `\(filePrefix)<64 hex digits>`")
        }
        let hex = keyLines[0].dropFirst(filePrefix.count)
        guard hex.count == length * 2, var bytes = Hex.decode(hex) else {
            throw KeyFileError.malformed(path: path, detail: "the key must be 64 hex digits (256 bits)")
        }
        defer { wipe(&bytes) }
        return try ArchiveKey(material: SecureBytes(bytes))
    }

    /// Reads a key file, refusing one that group or others can read or write (as ssh does with private keys).
    public static func load(path: String) throws -> ArchiveKey {
        var data = try SecretFile.readPrivate(path: path)
        defer { data.resetBytes(in: 0..<data.count) }
        return try parse(fileContents: String(decoding: data, as: UTF8.self), path: path)
    }

    /// Writes the key file with mode 0600, refusing to overwrite an existing file, and fsyncs it.
    public func write(to path: String, created: Date = Date()) throws {
        var bytes = Array(fileContents(created: created).utf8)
        defer { wipe(&bytes) }
        try SecretFile.createExclusive(path: path, bytes: bytes)
    }
}

/// Problems with a key file; each message says how to fix it.
public enum KeyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooOpen(path: String, mode: UInt32)
    case unreadable(path: String, detail: String)
    case unwritable(path: String, detail: String)
    case exists(path: String)
    case malformed(path: String, detail: String)
    /// A passphrase file (`--passphrase-file`, `keys.passphrase: file:...`) that group or others can read or write.
    case passphraseTooOpen(path: String, mode: UInt32)
    /// A passphrase file that cannot be read.
    case passphraseUnreadable(path: String, detail: String)
    /// A passphrase file whose first line is empty.
    case passphraseEmpty(path: String)

    public var description: String {
        switch self {
        case .tooOpen(let path, let mode):
            return "key file \(path) has mode \(String(mode, radix: 8)) and is readable or writable by other users; run `chmod 600 \(path)` (a key others can read is not secret; mode 0440/0640 is accepted only when the file's group is one of this process's own groups, as with a Kubernetes Secret mounted with fsGroup)"
        case .unreadable(let path, let detail):
            return "cannot read key file \(path): \(detail)"
        case .unwritable(let path, let detail):
            return "cannot write key file \(path): \(detail)"
        case .exists(let path):
            return "\(path) already exists; refusing to overwrite a key (choose another path, or move the old key away if you are sure it is unused)"
        case .malformed(let path, let detail):
            return "\(path) is not a Lifeboat key file: \(detail)"
        case .passphraseTooOpen(let path, let mode):
            return "passphrase file \(path) has mode \(String(mode, radix: 8)) and is readable or writable by other users; run `chmod 600 \(path)` (a passphrase others can read is not secret)"
        case .passphraseUnreadable(let path, let detail):
            return "cannot read passphrase file \(path): \(detail)"
        case .passphraseEmpty(let path):
            return "passphrase file \(path) is empty: its first line must hold the passphrase"
        }
    }
}

/// What decrypts archives: any number of key files (for rotation) and optionally a passphrase.
public struct KeyRing: Sendable {
    public var keys: [ArchiveKey]
    public var passphrase: SecureBytes?
    /// X25519 identities (private keys) for archives encrypted to recipients.
    public var identities: [RecipientIdentity]

    public init(keys: [ArchiveKey] = [], passphrase: SecureBytes? = nil, identities: [RecipientIdentity] = []) {
        self.keys = keys
        self.passphrase = passphrase
        self.identities = identities
    }

    /// A ring of the key and identity files at `paths` (each file is told apart by its contents).
    public init(files paths: [String], passphrase: SecureBytes? = nil) throws {
        self.init(passphrase: passphrase)
        for path in paths {
            switch try DecryptionKeyFile.load(path: path) {
            case .key(let key): keys.append(key)
            case .identity(let identity): identities.append(identity)
            }
        }
    }

    func key(withID id: [UInt8]) -> ArchiveKey? { keys.first { $0.id == id } }
}

/// What encrypts a new archive: the current key file, a passphrase stretched with scrypt, or X25519 recipients
/// (public keys only: the host that encrypts cannot decrypt).
public enum EncryptionSecret: Sendable {
    case key(ArchiveKey)
    case passphrase(SecureBytes, ScryptParameters = .standard)
    case recipients([RecipientPublicKey])
}

/// A passphrase kept in a file: the first line, without its line ending. Same permission rule as key files.
public enum PassphraseFile {
    public static func load(path: String) throws -> SecureBytes {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw KeyFileError.passphraseUnreadable(path: path, detail: String(cString: strerror(errno)))
        }
        guard SecretFileMode.isPrivate(info) else {
            throw KeyFileError.passphraseTooOpen(path: path, mode: UInt32(info.st_mode & 0o777))
        }
        guard var data = FileManager.default.contents(atPath: path) else {
            throw KeyFileError.passphraseUnreadable(path: path, detail: "cannot read the file")
        }
        defer { data.resetBytes(in: 0..<data.count) }
        let line = data.prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        guard !line.isEmpty else { throw KeyFileError.passphraseEmpty(path: path) }
        return SecureBytes(line)
    }
}
