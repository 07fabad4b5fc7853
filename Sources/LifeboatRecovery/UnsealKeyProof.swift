// UnsealKeyProof: the unseal keys proven against the backup itself, offline, before anything is touched. A snapshot
// carries SHA256SUMS.sealed, SHA256SUMS encrypted by the cluster's seal (vault-api.md §8.5): for a Shamir seal a
// go-kms-wrapping BlobInfo whose ciphertext is 12-byte nonce || AES-256-GCM(SHA256SUMS) || tag, no AAD, keyed by the
// combined unseal key. Combining the supplied shares (Shamir over GF(2^8), as Vault does; a 1-of-1 key is the key
// itself) and opening that blob proves the keys will unseal the restored nodes; the tag either verifies or not.

import Foundation
import LifeboatArchive
import LifeboatSnapshot
import LifeboatBase
import LifeboatVault
import LifeboatRepository

/// What the preflight established about the unseal keys (shown by `--plan` and in the confirmation).
public struct UnsealKeyVerdict: Sendable, Codable, Equatable {
    public enum Result: String, Sendable, Codable, Equatable {
        /// The keys reconstruct the key that sealed this backup.
        case verified
        /// A same-cluster restore: the cluster keeps its keys.
        case notNeeded = "not-needed"
        /// Auto-unseal: the blob is sealed by a KMS Lifeboat does not call; the operator must confirm the key.
        case notCheckable = "not-checkable"
    }

    public var result: Result
    /// One line for the plan.
    public var detail: String

    public init(_ result: Result, _ detail: String) {
        self.result = result
        self.detail = detail
    }
}

extension UnsealKeySet {
    /// The most threshold-sized subsets tried before giving up (a file never holds more than a handful of keys).
    static let maximumCombinations = 5000

    /// Proves the keys against the backup's `SHA256SUMS.sealed`, offline.
    ///
    /// - Throws: ``RecoveryError`` with a distinct code and message for each way keys are wrong: too few
    ///   (``RecoveryError/Code/notEnoughUnsealKeys``, exit 64), truncated or of the wrong size, shares of two key
    ///   sets, keys that do not open the backup, some keys that do not belong (``RecoveryError/Code/unsealKeysWrong``,
    ///   exit 65), a sealed hash file that cannot be read (``RecoveryError/Code/unsealKeysUnverifiable``, exit 65).
    public func prove(sealedHashes: [UInt8], sha256Sums: [UInt8], seal: RestoredSealConfig, cluster: String) throws -> UnsealKeyVerdict {
        guard seal.isShamir else {
            var detail = "NOT checked: the backup's cluster auto-unseals (\(seal.type)); its SHA256SUMS.sealed is encrypted by that KMS, which Lifeboat does not call. The restored nodes unseal only if they reach the SAME KMS key: confirm that before going ahead"
            if !keys.isEmpty { detail += " (the \(keys.count) key\(keys.count == 1 ? "" : "s") given are recovery keys: not used by a restore, not checked)" }
            return UnsealKeyVerdict(.notCheckable, detail)
        }
        let threshold = max(seal.threshold, 1)
        try check(threshold: threshold, shares: seal.shares, sealType: seal.type)
        let info: BlobInfo
        do { info = try BlobInfo(decoding: sealedHashes) } catch {
            throw RecoveryError(.unsealKeysUnverifiable, "the backup's SHA256SUMS.sealed is not a single-seal BlobInfo (\(sealedHashes.count) bytes; Vault Enterprise seal HA?), so the unseal keys cannot be proven against it; nothing was changed. Lifeboat does not restore with keys it could not prove")
        }
        let ciphertext = info.ciphertext
        guard ciphertext.count >= 12 + 16 else {
            throw RecoveryError(.unsealKeysUnverifiable, "the backup's SHA256SUMS.sealed holds \(ciphertext.count) bytes of ciphertext, too short for nonce and tag: the snapshot is damaged; use another backup")
        }
        let expected: Set<String>
        do { expected = Set(try SHA256Sums.parse(sha256Sums).lines.map { Hex.encode($0.digest) + " " + $0.name }) } catch {
            throw RecoveryError(.backupInvalid, "the backup's SHA256SUMS cannot be read: \(error)")
        }

        // Decoded shares, wiped when done.
        var shares = keys.map { key in key.decoded.withUnsafeBytes { Array($0) } }
        defer { for i in shares.indices { wipe(&shares[i]) } }
        func number(_ i: Int) -> String { "key \(i + 1)" }

        /// Opens the blob with a candidate key: true when the GCM tag verifies.
        func opens(_ key: [UInt8]) throws -> Bool {
            guard key.count == 32 else { return false }
            guard var plain = try? AESGCM.open(key: key, nonce: Array(ciphertext[0..<12]), ciphertextAndTag: Array(ciphertext[12...])) else {
                return false
            }
            defer { wipe(&plain) }
            // The tag verified: the key is right. The content must be this snapshot's hash list (any line order).
            let lines = (try? SHA256Sums.parse(plain).lines.map { Hex.encode($0.digest) + " " + $0.name }).map(Set.init)
            guard lines == expected else {
                throw RecoveryError(.backupInvalid, "the unseal keys open the backup's SHA256SUMS.sealed, but it lists other hashes than SHA256SUMS: the snapshot was altered; use another backup")
            }
            return true
        }

        if threshold == 1 {
            // 1-of-1: the key is the unseal key itself (32 bytes).
            for (i, share) in shares.enumerated() {
                if share.count == 32, try opens(share) {
                    let others = shares.indices.filter { $0 != i }
                    guard others.isEmpty else {
                        throw RecoveryError(.unsealKeysWrong, "\(number(i)) is the backup's unseal key, but \(others.map(number).joined(separator: ", ")) \(others.count == 1 ? "is" : "are") not (a 1-of-1 cluster has exactly one key); nothing was changed: remove the others from the file")
                    }
                    return UnsealKeyVerdict(.verified, "verified against the backup (1 of 1 key; it opens the backup's SHA256SUMS.sealed)")
                }
            }
            if let i = shares.firstIndex(where: { $0.count != 32 }) {
                let what = shares[i].count == 33 ? "a share of a key split in several parts (a cluster initialized with more than one key share)" : "truncated or damaged"
                throw RecoveryError(.unsealKeysWrong, "\(number(i)) decodes to \(shares[i].count) bytes, but the backup's cluster has a single 32-byte unseal key (1 of 1): the key given is \(what); nothing was changed: use the key printed when \(cluster) was initialized")
            }
            throw RecoveryError(.unsealKeysWrong, "the unseal key\(shares.count == 1 ? " does" : "s do") not open the backup's SHA256SUMS.sealed: \(shares.count == 1 ? "it is not" : "none is") the key of \(cluster) (another cluster's key, a key from before or after a rekey, or a mistyped character); nothing was changed: use the key printed when that cluster was initialized")
        }

        // Shares of a split key: 32-byte key + 1 x-coordinate byte each.
        let shareLength = 33
        let wrongLength = shares.indices.filter { shares[$0].count != shareLength }
        if !wrongLength.isEmpty {
            let detail = wrongLength.map { "\(number($0)) is \(shares[$0].count) bytes" }.joined(separator: ", ")
            let reason = wrongLength.count == shares.count && Set(shares.map(\.count)) == [32]
                ? "these are 1-of-1 keys, not shares: they belong to a cluster initialized with a single key, not \(cluster) (\(threshold) of \(seal.shares))"
                : "a share of \(cluster) is \(shareLength) bytes: \(wrongLength.count == 1 ? "that key is" : "those keys are") truncated or damaged (copy \(wrongLength.count == 1 ? "it" : "them") again from the init output)"
            throw RecoveryError(.unsealKeysWrong, "\(detail): \(reason); nothing was changed")
        }
        var byX: [UInt8: Int] = [:]
        for (i, share) in shares.enumerated() {
            let x = share[shareLength - 1]
            if let j = byX[x] {
                throw RecoveryError(.unsealKeysWrong, "\(number(j)) and \(number(i)) are different shares with the same share number: they come from two different key sets (init outputs of two clusters, or from before and after a rekey, mixed up); nothing was changed: use only the keys of \(cluster)")
            }
            byX[x] = i
        }

        func combineOpens(_ indices: [Int]) throws -> Bool {
            guard var key = try? Shamir.combine(indices.map { shares[$0] }, expectedLength: shareLength) else { return false }
            defer { wipe(&key) }
            return try opens(key)
        }

        // Find threshold keys that open the blob; then check that every other key belongs to the same key set.
        var found: [Int]?
        var tried = 0
        var subset = Array(0..<threshold)
        search: while true {
            tried += 1
            if try combineOpens(subset) {
                found = subset
                break
            }
            guard tried < Self.maximumCombinations else { break }
            // Next combination in lexicographic order.
            var i = threshold - 1
            while i >= 0 && subset[i] == shares.count - threshold + i { i -= 1 }
            if i < 0 { break search }
            subset[i] += 1
            for j in (i + 1)..<threshold { subset[j] = subset[j - 1] + 1 }
        }
        guard let found else {
            let given = shares.count == threshold ? "the \(shares.count) keys given do not reconstruct" : "no \(threshold) of the \(shares.count) keys given reconstruct"
            throw RecoveryError(.unsealKeysWrong, "\(given) the key that sealed this backup (its SHA256SUMS.sealed does not open): they are not shares of the unseal key of \(cluster). Another cluster's keys, a key set from before or after a rekey, or a share with a mistyped character (it still decodes) all look like this; nothing was changed: find the keys printed when \(cluster) was initialized")
        }
        let base = Array(found.dropLast())
        let strangers = try shares.indices.filter { !found.contains($0) }.filter { try !combineOpens(base + [$0]) }
        guard strangers.isEmpty else {
            throw RecoveryError(.unsealKeysWrong, "\(strangers.map(number).joined(separator: ", ")) (of \(shares.count) given) \(strangers.count == 1 ? "is not a share" : "are not shares") of the backup's unseal key; the other \(shares.count - strangers.count) are. Vault would fail the unseal if \(strangers.count == 1 ? "it" : "one") were submitted among the first \(threshold); nothing was changed: remove \(strangers.count == 1 ? "it" : "them") from the keys file")
        }
        return UnsealKeyVerdict(.verified, "verified against the backup (\(threshold) of \(seal.shares) needed; the \(shares.count) keys given are shares of the key that opens the backup's SHA256SUMS.sealed)")
    }
}
