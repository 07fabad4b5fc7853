// The simulated security barrier: Vault's value framing (term || 0x02 || nonce || AES-GCM with the storage path
// as AAD), the keyring encrypted under the root key, and the root key wrapped in a BlobInfo under the unseal key.

import Foundation
import LifeboatArchive
import LifeboatSnapshot

enum BarrierError: Error { case malformed, authentication, unknownTerm(UInt32), keyLength(Int) }

/// Key material held by an unsealed node.
struct UnsealedKeys {
    /// The seal "Access": the combined Shamir key, or the transit seal.
    var seal: SealAccess
    var rootKey: [UInt8]
    var barrierKeys: [UInt32: [UInt8]]
    var activeTerm: UInt32
}

enum Barrier {
    static let keyringPath = "core/keyring"
    static let unsealKeysPath = "core/hsm/barrier-unseal-keys"
    static let sealConfigPath = "core/seal-config"
    /// Every key the simulator encrypts with is AES-256 (Vault's barrier and Shamir KEK are too).
    static let keyLength = 32

    /// Checked before any key reaches LifeboatArchive's AES-GCM (whose context must never see another length):
    /// a key of the wrong length from a request or an uploaded snapshot is an error, not a trap.
    static func checkKey(_ key: [UInt8]) throws {
        guard key.count == keyLength else { throw BarrierError.keyLength(key.count) }
    }

    /// `term(4, BE) || 0x02 || nonce(12) || ciphertext || tag`, AAD = path.
    static func encrypt(key: [UInt8], term: UInt32, path: String, plaintext: [UInt8]) throws -> [UInt8] {
        try checkKey(key)
        let nonce = SecureRandom.bytes(12)
        let sealed = try AESGCM.seal(key: key, nonce: nonce, plaintext: plaintext, aad: Array(path.utf8))
        var out: [UInt8] = [UInt8(term >> 24 & 0xff), UInt8(term >> 16 & 0xff), UInt8(term >> 8 & 0xff), UInt8(term & 0xff), 0x02]
        out.reserveCapacity(17 + sealed.count)
        out += nonce
        out += sealed
        return out
    }

    static func term(of blob: [UInt8]) -> UInt32? {
        guard blob.count >= 5 + 12 + 16 else { return nil }
        return UInt32(blob[0]) << 24 | UInt32(blob[1]) << 16 | UInt32(blob[2]) << 8 | UInt32(blob[3])
    }

    static func decrypt(keys: [UInt32: [UInt8]], path: String, blob: [UInt8]) throws -> [UInt8] {
        guard let term = term(of: blob) else { throw BarrierError.malformed }
        guard let key = keys[term] else { throw BarrierError.unknownTerm(term) }
        return try decrypt(key: key, path: path, blob: blob)
    }

    static func decrypt(key: [UInt8], path: String, blob: [UInt8]) throws -> [UInt8] {
        try checkKey(key)
        guard blob.count >= 5 + 12 + 16 else { throw BarrierError.malformed }
        let aad: [UInt8] = blob[4] == 0x02 ? Array(path.utf8) : []
        do {
            return try AESGCM.open(key: key, nonce: Array(blob[5..<17]), ciphertextAndTag: Array(blob[17...]), aad: aad)
        } catch { throw BarrierError.authentication }
    }

    // MARK: BlobInfo (go-kms-wrapping): field 1 ciphertext = nonce || AES-GCM(key, plaintext), field 5 empty KeyInfo.

    static func sealBlob(key: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
        try checkKey(key)
        let nonce = SecureRandom.bytes(12)
        return BlobInfo(ciphertext: nonce + (try AESGCM.seal(key: key, nonce: nonce, plaintext: plaintext))).encoded()
    }

    static func openBlob(key: [UInt8], blob: [UInt8]) throws -> [UInt8] {
        try checkKey(key)
        guard let info = try? BlobInfo(decoding: blob), info.ciphertext.count >= 28 else { throw BarrierError.malformed }
        let ct = info.ciphertext
        do {
            return try AESGCM.open(key: key, nonce: Array(ct[0..<12]), ciphertextAndTag: Array(ct[12...]))
        } catch { throw BarrierError.authentication }
    }

    // MARK: Keyring

    static func keyringJSON(rootKey: [UInt8], keys: [UInt32: [UInt8]], installTime: String) -> [UInt8] {
        JSONValue.object([
            ("MasterKey", .string(Data(rootKey).base64EncodedString())),
            ("Keys", .array(keys.keys.sorted().map { term in
                .object([("Term", .int(Int(term))), ("Version", .int(1)),
                         ("Value", .string(Data(keys[term] ?? []).base64EncodedString())),
                         ("InstallTime", .string(installTime)), ("Encryptions", .int(0))])
            })),
            ("RotationConfig", .object([("MaxOperations", .int(0)), ("Interval", .int(0))])),
        ]).bytes
    }

    /// Decrypts `core/keyring` with the root key; throws when the root key does not match.
    static func openKeyring(_ blob: [UInt8], rootKey: [UInt8]) throws -> (keys: [UInt32: [UInt8]], active: UInt32) {
        let plain = try decrypt(key: rootKey, path: keyringPath, blob: blob)
        guard let json = JSONValue.parse(plain), let list = json["Keys"]?.arrayValue else { throw BarrierError.malformed }
        var keys: [UInt32: [UInt8]] = [:]
        for k in list {
            guard let t = k["Term"]?.intValue, let term = UInt32(exactly: t), let v = k["Value"]?.stringValue,
                  let d = Data(base64Encoded: v) else {
                throw BarrierError.malformed
            }
            try checkKey(Array(d))  // a keyring from an uploaded snapshot can hold anything
            keys[term] = Array(d)
        }
        guard let active = keys.keys.max() else { throw BarrierError.malformed }
        return (keys, active)
    }

    /// Unwraps the root key from `core/hsm/barrier-unseal-keys` with the combined unseal key.
    static func rootKey(fromUnsealKeysBlob blob: [UInt8], unsealKey: [UInt8]) throws -> [UInt8] {
        let plain = try openBlob(key: unsealKey, blob: blob)
        guard let json = JSONValue.parse(plain), let first = json.arrayValue?.first?.stringValue,
              let d = Data(base64Encoded: first) else { throw BarrierError.malformed }
        try checkKey(Array(d))
        return Array(d)
    }
}
