// The transit secrets engine at any mount: named aes256-gcm96 keys with versions (create, read, list, config,
// rotate, delete), encrypt/decrypt/rewrap with Vault's `vault:v<N>:<base64(nonce || ciphertext || tag)>` format,
// batch_input, and the keys in barrier storage (`logical/<uuid>/policy/<name>`) so snapshots carry them.

import Foundation
import LifeboatArchive

/// One named transit key with all its versions.
struct TransitKey {
    var name: String
    var versions: [Int: (key: [UInt8], created: Date)]
    var latestVersion: Int
    var minDecryptionVersion: Int
    var minEncryptionVersion: Int
    var deletionAllowed: Bool
    var exportable: Bool
    var allowPlaintextBackup: Bool

    static let type = "aes256-gcm96"

    init(name: String, now: Date) {
        self.name = name
        versions = [1: (SecureRandom.bytes(Barrier.keyLength), now)]
        latestVersion = 1
        minDecryptionVersion = 1
        minEncryptionVersion = 0
        deletionAllowed = false
        exportable = false
        allowPlaintextBackup = false
    }

    init?(json j: JSONValue) {
        guard let name = j["name"]?.stringValue, let list = j["keys"]?.objectValue else { return nil }
        var versions: [Int: (key: [UInt8], created: Date)] = [:]
        for (k, v) in list {
            guard let n = Int(k), let b64 = v["key"]?.stringValue, let d = Data(base64Encoded: b64), d.count == Barrier.keyLength else {
                return nil
            }
            let t: Double
            switch v["creation_time"] {
            case .double(let x)?: t = x
            case .int(let x)?: t = Double(x)
            default: t = 0
            }
            versions[n] = (Array(d), Date(timeIntervalSince1970: t))
        }
        guard let latest = versions.keys.max() else { return nil }
        self.name = name
        self.versions = versions
        latestVersion = latest
        minDecryptionVersion = max(1, j["min_decryption_version"]?.intValue ?? 1)
        minEncryptionVersion = max(0, j["min_encryption_version"]?.intValue ?? 0)
        deletionAllowed = j["deletion_allowed"]?.boolValue ?? false
        exportable = j["exportable"]?.boolValue ?? false
        allowPlaintextBackup = j["allow_plaintext_backup"]?.boolValue ?? false
    }

    var json: JSONValue {
        .object([
            ("name", .string(name)), ("type", .string(TransitKey.type)),
            ("keys", .object(versions.keys.sorted().map { n in
                (String(n), .object([("key", .string(Data(versions[n]?.key ?? []).base64EncodedString())),
                                     ("creation_time", .double(versions[n]?.created.timeIntervalSince1970 ?? 0))]))
            })),
            ("latest_version", .int(latestVersion)), ("min_decryption_version", .int(minDecryptionVersion)),
            ("min_encryption_version", .int(minEncryptionVersion)), ("deletion_allowed", .bool(deletionAllowed)),
            ("exportable", .bool(exportable)), ("allow_plaintext_backup", .bool(allowPlaintextBackup)),
        ])
    }

    /// The fields of `GET transit/keys/<name>` (Vault's `formatKeyPolicy` for a symmetric key).
    var info: JSONValue {
        .object([
            ("allow_plaintext_backup", .bool(allowPlaintextBackup)), ("auto_rotate_period", .int(0)),
            ("deletion_allowed", .bool(deletionAllowed)), ("derived", .bool(false)), ("exportable", .bool(exportable)),
            ("imported_key", .bool(false)),
            ("keys", .object(versions.keys.sorted().map { (String($0), .int(GoDuration.clamped(versions[$0]?.created.timeIntervalSince1970 ?? 0))) })),
            ("latest_version", .int(latestVersion)), ("min_available_version", .int(0)),
            ("min_decryption_version", .int(minDecryptionVersion)), ("min_encryption_version", .int(minEncryptionVersion)),
            ("name", .string(name)), ("supports_decryption", .bool(true)), ("supports_derivation", .bool(true)),
            ("supports_encryption", .bool(true)), ("supports_signing", .bool(false)), ("type", .string(TransitKey.type)),
        ])
    }

    /// `vault:v<version>:` + base64(nonce || ciphertext || tag).
    func encrypt(_ plaintext: [UInt8], version: Int? = nil) throws(TransitError) -> (String, Int) {
        let v = version ?? latestVersion
        guard v >= 1, v <= latestVersion, v >= minEncryptionVersion, let key = versions[v]?.key else {
            throw TransitError("invalid key version")
        }
        let nonce = SecureRandom.bytes(12)
        do {
            try Barrier.checkKey(key)
            let sealed = try AESGCM.seal(key: key, nonce: nonce, plaintext: plaintext)
            return ("vault:v\(v):" + Data(nonce + sealed).base64EncodedString(), v)
        } catch { throw TransitError("failed to encrypt: \(error)") }
    }

    /// Decrypts a `vault:vN:...` ciphertext with Vault's error texts.
    func decrypt(_ ciphertext: String) throws(TransitError) -> (plaintext: [UInt8], version: Int) {
        guard ciphertext.hasPrefix("vault:") else { throw TransitError("invalid ciphertext: no prefix") }
        let parts = ciphertext.dropFirst("vault:".count).split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw TransitError("invalid ciphertext: wrong number of fields") }
        guard parts[0].hasPrefix("v"), let parsed = Int(parts[0].dropFirst()) else {
            throw TransitError("invalid ciphertext: version number could not be decoded")
        }
        let v = parsed == 0 ? 1 : parsed
        guard v <= latestVersion else { throw TransitError("invalid ciphertext: version is too new") }
        guard v >= minDecryptionVersion else { throw TransitError("ciphertext or signature version is disallowed by policy (too old)") }
        guard let raw = Data(base64Encoded: String(parts[1])) else { throw TransitError("invalid ciphertext: could not decode base64") }
        let bytes = Array(raw)
        guard bytes.count >= 12 + 16, let key = versions[v]?.key else { throw TransitError("cipher: message authentication failed") }
        do {
            try Barrier.checkKey(key)
            return (try AESGCM.open(key: key, nonce: Array(bytes[0..<12]), ciphertextAndTag: Array(bytes[12...])), v)
        } catch { throw TransitError("cipher: message authentication failed") }
    }
}

struct TransitError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

extension SimCore {
    func transitKeyPath(_ m: MountEntry, _ name: String) -> String { m.storagePrefix + "policy/" + name }

    func transitKey(_ g: RaftGroup, keys: UnsealedKeys, _ m: MountEntry, _ name: String) -> TransitKey? {
        readJSON(g, keys: keys, transitKeyPath(m, name)).flatMap(TransitKey.init(json:))
    }

    func storeTransitKey(_ g: RaftGroup, keys: UnsealedKeys, _ m: MountEntry, _ k: TransitKey) throws {
        try writeJSON(g, keys: keys, transitKeyPath(m, k.name), k.json)
    }

    /// Encrypting with a key that does not exist creates it: Vault's existence check asks for `create` then.
    func transitWriteCapability(_ g: RaftGroup, mount m: MountEntry, rest: String) -> String {
        guard rest.hasPrefix("encrypt/") else { return "update" }
        return g.store.contains(transitKeyPath(m, String(rest.dropFirst("encrypt/".count)))) ? "update" : "create"
    }

    /// Dispatch of a request inside a transit mount (authorization already done).
    func transit(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, mount m: MountEntry, rest: String, list: Bool) -> SimResponse {
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let isWrite = req.method == "POST" || req.method == "PUT"
        let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body)
        guard let body, body.objectValue != nil else { return .errors(400, ["failed to parse JSON input: invalid character"]) }
        switch (parts.first ?? "", parts.count) {
        case ("keys", 1) where list, ("keys", 2) where list && parts[1].isEmpty:
            let names = g.store.keys(withPrefix: m.storagePrefix + "policy/").map { String($0.dropFirst((m.storagePrefix + "policy/").count)) }
            return names.isEmpty ? .notFoundEmpty : .envelope(data: .object([("keys", .strings(names.sorted()))]))
        case ("keys", 2) where !parts[1].isEmpty:
            let name = parts[1]
            switch req.method {
            case "GET":
                guard let k = transitKey(g, keys: keys, m, name) else { return .notFoundEmpty }
                return .envelope(data: k.info)
            case "POST", "PUT":
                if let existing = transitKey(g, keys: keys, m, name) { return .envelope(data: existing.info) }
                let type = body["type"]?.stringValue ?? TransitKey.type
                guard type == TransitKey.type else {
                    return .errors(400, ["vault-sim simulates only \(TransitKey.type) transit keys, not \"\(type)\""])
                }
                if body["derived"]?.boolValue == true || body["convergent_encryption"]?.boolValue == true {
                    return .errors(400, ["vault-sim does not simulate derived or convergent transit keys"])
                }
                var k = TransitKey(name: name, now: now)
                k.exportable = body["exportable"]?.boolValue ?? false
                k.allowPlaintextBackup = body["allow_plaintext_backup"]?.boolValue ?? false
                do { try storeTransitKey(g, keys: keys, m, k) } catch { return .errors(500, ["\(error)"]) }
                return .envelope(data: k.info)
            case "DELETE":
                guard let k = transitKey(g, keys: keys, m, name) else { return .noContent() }
                guard k.deletionAllowed else { return .errors(400, ["deletion is not allowed for this key"]) }
                try? deleteEntries(g, [transitKeyPath(m, name)])
                return .noContent()
            default:
                return .errors(405, ["unsupported operation"])
            }
        case ("keys", 3) where parts[2] == "rotate" && isWrite:
            guard var k = transitKey(g, keys: keys, m, parts[1]) else { return .errors(400, ["key not found"]) }
            guard k.latestVersion < Int.max else { return .errors(400, ["key version overflow"]) }
            k.latestVersion += 1
            k.versions[k.latestVersion] = (SecureRandom.bytes(Barrier.keyLength), now)
            do { try storeTransitKey(g, keys: keys, m, k) } catch { return .errors(500, ["\(error)"]) }
            return .envelope(data: k.info)
        case ("keys", 3) where parts[2] == "config" && isWrite:
            guard var k = transitKey(g, keys: keys, m, parts[1]) else { return .errors(400, ["no existing key named \(parts[1]) could be found"]) }
            if let raw = body["min_decryption_version"] {
                guard let v = raw.intValue, v >= 0 else { return .errors(400, ["min decryption version must be a non-negative integer"]) }
                if v > k.latestVersion { return .errors(400, ["cannot set min decryption version of \(v), latest key version is \(k.latestVersion)"]) }
                k.minDecryptionVersion = max(1, v)
            }
            if let raw = body["min_encryption_version"] {
                guard let v = raw.intValue, v >= 0, v <= k.latestVersion else {
                    return .errors(400, ["cannot set min encryption version of \(raw.serialized()), latest key version is \(k.latestVersion)"])
                }
                k.minEncryptionVersion = v
            }
            if let b = body["deletion_allowed"]?.boolValue { k.deletionAllowed = b }
            if let b = body["exportable"]?.boolValue { k.exportable = k.exportable || b }
            if let b = body["allow_plaintext_backup"]?.boolValue { k.allowPlaintextBackup = k.allowPlaintextBackup || b }
            do { try storeTransitKey(g, keys: keys, m, k) } catch { return .errors(500, ["\(error)"]) }
            return .envelope(data: k.info)
        case ("encrypt", 2) where isWrite && !parts[1].isEmpty:
            var k = transitKey(g, keys: keys, m, parts[1])
            if k == nil {
                // Vault creates the key on first encrypt (upsert).
                let created = TransitKey(name: parts[1], now: now)
                do { try storeTransitKey(g, keys: keys, m, created) } catch { return .errors(500, ["\(error)"]) }
                k = created
            }
            guard let key = k else { return .errors(500, ["upsert failed"]) }
            let version = body["key_version"]?.intValue
            if let batch = body["batch_input"]?.arrayValue {
                let results: [JSONValue] = batch.map { item in
                    guard let p = item["plaintext"]?.stringValue, let d = Data(base64Encoded: p) else {
                        return .object([("error", .string("failed to base64-decode plaintext"))])
                    }
                    do {
                        let (c, v) = try key.encrypt(Array(d), version: item["key_version"]?.intValue ?? version)
                        return .object([("ciphertext", .string(c)), ("key_version", .int(v))])
                    } catch { return .object([("error", .string("\(error)"))]) }
                }
                return .envelope(data: .object([("batch_results", .array(results))]))
            }
            guard let p = body["plaintext"]?.stringValue else { return .errors(400, ["missing plaintext to encrypt"]) }
            guard let d = Data(base64Encoded: p) else { return .errors(400, ["failed to base64-decode plaintext"]) }
            do {
                let (c, v) = try key.encrypt(Array(d), version: version)
                return .envelope(data: .object([("ciphertext", .string(c)), ("key_version", .int(v))]))
            } catch { return .errors(400, ["\(error)"]) }
        case ("decrypt", 2) where isWrite && !parts[1].isEmpty:
            guard let key = transitKey(g, keys: keys, m, parts[1]) else { return .errors(400, ["encryption key not found"]) }
            if let batch = body["batch_input"]?.arrayValue {
                let results: [JSONValue] = batch.map { item in
                    guard let c = item["ciphertext"]?.stringValue else { return .object([("error", .string("missing ciphertext to decrypt"))]) }
                    do { return .object([("plaintext", .string(Data(try key.decrypt(c).plaintext).base64EncodedString()))]) }
                    catch { return .object([("error", .string("\(error)"))]) }
                }
                return .envelope(data: .object([("batch_results", .array(results))]))
            }
            guard let c = body["ciphertext"]?.stringValue, !c.isEmpty else { return .errors(400, ["missing ciphertext to decrypt"]) }
            do {
                let plain = try key.decrypt(c).plaintext
                return .envelope(data: .object([("plaintext", .string(Data(plain).base64EncodedString()))]))
            } catch { return .errors(400, ["\(error)"]) }
        case ("rewrap", 2) where isWrite && !parts[1].isEmpty:
            guard let key = transitKey(g, keys: keys, m, parts[1]) else { return .errors(400, ["encryption key not found"]) }
            guard let c = body["ciphertext"]?.stringValue, !c.isEmpty else { return .errors(400, ["missing ciphertext to decrypt"]) }
            do {
                let plain = try key.decrypt(c).plaintext
                let (nc, v) = try key.encrypt(plain, version: body["key_version"]?.intValue)
                return .envelope(data: .object([("ciphertext", .string(nc)), ("key_version", .int(v))]))
            } catch { return .errors(400, ["\(error)"]) }
        default:
            return .errors(405, ["unsupported operation"])
        }
    }
}
