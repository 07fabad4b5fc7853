// From the configuration to archive keys: `keys.key_files` (the first encrypts) and `keys.passphrase`.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

/// No key is configured where one is needed.
public struct MissingKeyError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public var description: String {
        "no encryption key configured: set keys.key_files in the configuration (or LIFEBOAT_KEY_FILE, or --key-file PATH); "
            + "create a key with `lifeboat key generate --output PATH`"
    }

    public var exitStatus: ExitStatus { .configuration }
}

/// Only recipients (public keys) are configured: enough to encrypt, not to decrypt.
public struct MissingIdentityError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public var description: String {
        "only recipients (public keys) are configured, which encrypt but cannot decrypt: give the identity file (private key "
            + "from `lifeboat key generate --recipient`) of one of them with --key-file or keys.key_files"
    }

    public var exitStatus: ExitStatus { .configuration }
}

/// The variable that should hold the passphrase is not set.
public struct MissingPassphraseError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public var variable: String

    public var description: String {
        "the environment variable \(variable), which should hold the passphrase, is not set or empty: export it "
            + "(or keep the passphrase in a 0600 file and use --passphrase-file / keys.passphrase: file:/path)"
    }

    public var exitStatus: ExitStatus { .configuration }
}

extension LifeboatConfiguration.Keys {
    /// Every configured key and the passphrase, to decrypt with.
    /// - Throws: ``MissingKeyError`` when nothing is configured; key file and secret errors otherwise.
    public func keyRing(environment: [String: String]) throws -> KeyRing {
        guard !keyFiles.isEmpty || passphrase != nil else {
            if !recipients.isEmpty { throw MissingIdentityError() }
            throw MissingKeyError()
        }
        return try KeyRing(files: keyFiles, passphrase: try loadPassphrase(environment: environment))
    }

    /// What new backups are encrypted with: the recipients, else the first key file, else the passphrase.
    public func encryptionSecret(environment: [String: String]) throws -> EncryptionSecret {
        if !recipients.isEmpty { return .recipients(try recipients.map(RecipientPublicKey.resolve)) }
        if let first = keyFiles.first {
            guard case .key(let key) = try DecryptionKeyFile.load(path: first) else {
                throw KeyFileError.malformed(path: first, detail: "it is an identity (X25519 private key), which only decrypts; "
                    + "encrypt to its recipient with keys.recipients or --recipient, or list a key file first")
            }
            return .key(key)
        }
        guard let passphrase = try loadPassphrase(environment: environment) else { throw MissingKeyError() }
        return .passphrase(passphrase)
    }

    private func loadPassphrase(environment: [String: String]) throws -> SecureBytes? {
        switch passphrase {
        case nil:
            return nil
        case .file(let path):
            return try PassphraseFile.load(path: path)
        case .environment(let name):
            // Taken as set, not trimmed: the passphrase is exactly what the variable holds.
            guard let value = environment[name], !value.isEmpty else { throw MissingPassphraseError(variable: name) }
            return SecureBytes(Array(value.utf8))
        case .literal(let value):
            return SecureBytes(Array(value.utf8))
        }
    }
}
