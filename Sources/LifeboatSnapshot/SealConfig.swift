// The plaintext `core/seal-config` storage entry: the seal type and the Shamir shares/threshold of the snapshot's cluster.

import Foundation

/// Vault's seal configuration as stored in `core/seal-config` (plaintext JSON inside state.bin).
///
/// After a restore, unsealing needs `secretThreshold` of the snapshot cluster's `secretShares` keys.
public struct SealConfig: Sendable, Equatable {
    /// The storage key holding this JSON.
    public static let storageKey = "core/seal-config"

    /// "shamir", or the auto-unseal type ("awskms", "transit", ...).
    public var type: String
    public var secretShares: Int
    public var secretThreshold: Int
    public var pgpKeys: [String]?
    public var nonce: String
    public var backup: Bool
    public var storedShares: Int

    public init(type: String = "shamir", secretShares: Int, secretThreshold: Int, pgpKeys: [String]? = nil,
                nonce: String = "", backup: Bool = false, storedShares: Int = 1) {
        self.type = type
        self.secretShares = secretShares
        self.secretThreshold = secretThreshold
        self.pgpKeys = pgpKeys
        self.nonce = nonce
        self.backup = backup
        self.storedShares = storedShares
    }

    /// Parses the JSON value; unknown fields are ignored and missing ones take Go's zero values.
    public static func parse(_ bytes: [UInt8]) throws -> SealConfig {
        struct Wire: Decodable {
            var type: String?
            var secret_shares: Int?
            var secret_threshold: Int?
            var pgp_keys: [String]?
            var nonce: String?
            var backup: Bool?
            var stored_shares: Int?
        }
        do {
            let w = try JSONDecoder().decode(Wire.self, from: Data(bytes))
            return SealConfig(type: w.type ?? "", secretShares: w.secret_shares ?? 0,
                              secretThreshold: w.secret_threshold ?? 0, pgpKeys: w.pgp_keys, nonce: w.nonce ?? "",
                              backup: w.backup ?? false, storedShares: w.stored_shares ?? 0)
        } catch {
            throw SnapshotError(.protobuf, "core/seal-config is not valid seal configuration JSON (\(SnapshotMeta.describe(error)))")
        }
    }

    /// The JSON Vault 1.14 stores, in Go's field order, e.g.
    /// `{"type":"shamir","secret_shares":1,"secret_threshold":1,"pgp_keys":null,"nonce":"","backup":false,"stored_shares":1}`.
    public func vaultJSON() -> [UInt8] {
        var w = GoJSONWriter()
        w.raw("{")
        w.key("type"); w.string(type); w.raw(",")
        w.key("secret_shares"); w.int(secretShares); w.raw(",")
        w.key("secret_threshold"); w.int(secretThreshold); w.raw(",")
        w.key("pgp_keys")
        if let pgpKeys {
            w.raw("[")
            for (i, key) in pgpKeys.enumerated() {
                if i > 0 { w.raw(",") }
                w.string(key)
            }
            w.raw("]")
        } else {
            w.raw("null")
        }
        w.raw(",")
        w.key("nonce"); w.string(nonce); w.raw(",")
        w.key("backup"); w.bool(backup); w.raw(",")
        w.key("stored_shares"); w.int(storedShares)
        w.raw("}")
        return w.bytes
    }
}
