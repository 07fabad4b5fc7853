// UnsealKeySet: the original cluster's unseal keys (Shamir shares) given to `lifeboat restore` and `lifeboat drill`:
// parsed from a key file in any of the shapes operators have at hand, or passed in by the CLI's no-echo prompt;
// deduplicated by decoded value and checked against the restored threshold. Keys are never printed.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// One unseal key (a Shamir share) exactly as it is submitted to `sys/unseal` (hex or base64 text).
///
/// The text lives in wipeable memory; printing a key shows `<unseal key>`.
public struct UnsealKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The key's text (hex or base64), for the request body only.
    let text: SecureBytes
    /// The decoded share bytes, to recognise the same share given twice (once in hex, once in base64).
    let decoded: SecureBytes

    /// Accepts a share in hex (as `keys` / `unseal_keys_hex`) or base64 (as `keys_base64` / `unseal_keys_b64`).
    /// - Throws: ``RecoveryError`` when the text is neither, or decodes to fewer than 16 or more than 33 bytes
    ///   (Vault's bounds for a share).
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var bytes: [UInt8]
        let isHexText = !trimmed.isEmpty && trimmed.allSatisfy(\.isHexDigit)
        if let hex = Hex.decode(trimmed), (16...33).contains(hex.count) {
            bytes = hex
        } else if let data = Data(base64Encoded: trimmed) {
            bytes = Array(data)
        } else if isHexText && trimmed.count % 2 == 1 {
            throw RecoveryError(.unsealKeysWrong, "an unseal key has an odd number of hex digits (\(trimmed.count)): a digit is missing or extra; copy it again from the init output")
        } else if isHexText {
            throw RecoveryError(.unsealKeysWrong, "an unseal key is \(trimmed.count) hex digits (\(trimmed.count / 2) bytes); Vault's shares are 32 to 66 hex digits: it is truncated or two keys ran together")
        } else if trimmed.count % 4 != 0, Data(base64Encoded: trimmed + String(repeating: "=", count: 4 - trimmed.count % 4)) != nil {
            throw RecoveryError(.unsealKeysWrong, "an unseal key looks like base64 but its length (\(trimmed.count) characters) is not a multiple of 4: it is truncated, or its trailing '=' was lost; copy it again from the init output")
        } else {
            throw RecoveryError(.unsealKeysWrong, "an unseal key is neither hex nor base64: give the keys exactly as `vault operator init` printed them")
        }
        defer { wipe(&bytes) }
        // A hex key encoded again in base64 (or the reverse) decodes to ASCII text.
        if !isHexText, bytes.count >= 32, bytes.allSatisfy({ $0 < 128 && Character(UnicodeScalar($0)).isHexDigit }) {
            throw RecoveryError(.unsealKeysWrong, "an unseal key is the base64 encoding of a hex key (encoded twice): give the hex text itself (unseal_keys_hex) or the base64 key (unseal_keys_b64), not one encoded again")
        }
        guard (16...33).contains(bytes.count) else {
            throw RecoveryError(.unsealKeysWrong, "an unseal key decodes to \(bytes.count) bytes; Vault's shares are 16 to 33 bytes (a key of up to 32 bytes, plus one byte when split): check that the file holds unseal keys, not a token or a key encoded twice")
        }
        self.text = SecureBytes(Array(trimmed.utf8))
        self.decoded = SecureBytes(bytes)
    }

    /// The key text for a JSON request body.
    func withText<R>(_ body: (String) throws -> R) rethrows -> R {
        try text.withUnsafeBytes { try body(String(decoding: $0, as: UTF8.self)) }
    }

    public var description: String { "<unseal key>" }
    public var debugDescription: String { "UnsealKey(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// The unseal keys of the original cluster, distinct by value.
///
/// Empty for auto-unseal clusters (the seal unseals the restored nodes by itself).
public struct UnsealKeySet: Sendable, CustomStringConvertible {
    /// Distinct keys, in the order given.
    public let keys: [UnsealKey]
    /// How many keys were given before duplicates were dropped.
    public let suppliedCount: Int

    /// Keeps the first occurrence of each distinct share (hex and base64 forms of one share are the same key).
    public init(_ keys: [UnsealKey]) {
        var distinct: [UnsealKey] = []
        for key in keys where !distinct.contains(where: { $0.decoded.constantTimeEquals(key.decoded) }) {
            distinct.append(key)
        }
        self.keys = distinct
        suppliedCount = keys.count
    }

    /// Parses key texts (from a prompt, the environment or a test).
    public init(texts: [String]) throws {
        let texts = texts.filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        var keys: [UnsealKey] = []
        for (i, text) in texts.enumerated() {
            do { keys.append(try UnsealKey(text)) } catch var e as RecoveryError {
                e.message = "key \(i + 1) of \(texts.count): " + e.message
                throw e
            }
        }
        self.init(keys)
    }

    /// No keys: for clusters that auto-unseal.
    public static let none = UnsealKeySet([])

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }
    /// Keys given twice (same share, same or other encoding).
    public var duplicateCount: Int { suppliedCount - keys.count }

    public var description: String {
        "\(keys.count) distinct unseal key\(keys.count == 1 ? "" : "s")" + (duplicateCount > 0 ? " (\(duplicateCount) duplicate\(duplicateCount == 1 ? "" : "s") ignored)" : "")
    }

    /// Loads a key file. Accepted shapes:
    /// - `vault operator init -format=json` / `bao operator init -format=json` output: `unseal_keys_b64` (preferred)
    ///   or `unseal_keys_hex`;
    /// - the `sys/init` API answer: `keys_base64` (preferred) or `keys`;
    /// - a JSON array of strings;
    /// - plain text, one key per line (blank lines and `#` comments ignored).
    ///
    /// The file must not be readable or writable by group or others (like key files and ssh keys).
    public static func load(path: String) throws -> UnsealKeySet {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw RecoveryError(.unsealKeys, "cannot read the unseal keys file \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw RecoveryError(.unsealKeys, "the unseal keys file \(path) has mode \(String(info.st_mode & 0o777, radix: 8)) and is readable or writable by other users; run `chmod 600 \(path)` (unseal keys others can read are not secret)")
        }
        guard var data = FileManager.default.contents(atPath: path) else {
            throw RecoveryError(.unsealKeys, "cannot read the unseal keys file \(path)")
        }
        defer { data.resetBytes(in: 0..<data.count) }
        do {
            return try parse(Array(data))
        } catch let error as RecoveryError {
            throw RecoveryError(error.code, "\(path): \(error.message)")
        }
    }

    /// Parses the contents of a key file (see ``load(path:)`` for the shapes).
    public static func parse(_ bytes: [UInt8]) throws -> UnsealKeySet {
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw RecoveryError(.unsealKeys, "the unseal keys file is empty") }
        if text.hasPrefix("{") || text.hasPrefix("[") {
            guard let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
                throw RecoveryError(.unsealKeys, "the unseal keys file starts like JSON but is not valid JSON")
            }
            if let list = json as? [Any] {
                guard let strings = list as? [String] else {
                    throw RecoveryError(.unsealKeys, "the JSON array must hold the keys as strings")
                }
                return try UnsealKeySet(texts: strings)
            }
            guard let object = json as? [String: Any] else {
                throw RecoveryError(.unsealKeys, "unexpected JSON in the unseal keys file")
            }
            // One encoding only: the b64 and hex lists hold the same shares.
            for field in ["unseal_keys_b64", "keys_base64", "unseal_keys_hex", "keys"] {
                if let list = object[field] as? [String], !list.isEmpty { return try UnsealKeySet(texts: list) }
            }
            if object["recovery_keys_b64"] != nil || object["recovery_keys_base64"] != nil {
                throw RecoveryError(.unsealKeys, "the file holds recovery keys only (an auto-unseal cluster): run without unseal keys")
            }
            throw RecoveryError(.unsealKeys, "no unseal keys in the JSON: expected unseal_keys_b64 / unseal_keys_hex (vault operator init -format=json) or keys_base64 / keys (the sys/init API)")
        }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        // `vault operator init` text output: "Unseal Key 1: <key>".
        let keys = lines.map { line -> String in
            if line.lowercased().hasPrefix("unseal key"), let colon = line.firstIndex(of: ":") {
                return String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
            return line
        }.filter { !$0.lowercased().hasPrefix("initial root token") }
        return try UnsealKeySet(texts: keys)
    }

    /// Checks that the keys can unseal a cluster whose restored seal configuration is `shares`/`threshold`.
    /// - Throws: ``RecoveryError`` with code ``RecoveryError/Code/notEnoughUnsealKeys`` naming how many are missing.
    public func check(threshold: Int, shares: Int, sealType: String) throws {
        if sealType != "shamir" && !sealType.isEmpty {
            // Auto-unseal: keys are recovery keys and are not used to unseal.
            return
        }
        if threshold <= 0 { return }
        if keys.isEmpty {
            throw RecoveryError(.notEnoughUnsealKeys, "the backup's cluster needs \(threshold) of its \(shares) unseal keys (a Shamir seal, not auto-unseal), and none were given; nothing was changed: give the ORIGINAL cluster's keys with --unseal-keys-file (not --auto-unseal)")
        }
        guard keys.count >= threshold else {
            let dup = duplicateCount > 0 ? " (\(suppliedCount) given, \(duplicateCount) of them duplicates)" : ""
            throw RecoveryError(.notEnoughUnsealKeys,
                                "the backup's cluster needs \(threshold) of its \(shares) unseal keys, but only \(keys.count) distinct key\(keys.count == 1 ? " was" : "s were") given\(dup); nothing was changed: supply \(threshold - keys.count) more of the ORIGINAL cluster's keys (--unseal-keys-file, or at the prompt)")
        }
    }
}
