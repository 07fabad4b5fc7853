// The offline unseal-key proof against SHA256SUMS.sealed (vault-api.md §8.5): a BlobInfo whose ciphertext is
// nonce || AES-256-GCM(SHA256SUMS) || tag under the combined Shamir key, built here with the same Shamir code
// vault-sim uses and real OpenSSL AES-GCM.

import Foundation
import LifeboatArchive
import LifeboatSnapshot
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatAgent
@testable import LifeboatRecovery
@testable import LifeboatBackup
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention
@testable import LifeboatVault
@testable import LifeboatSchedule
@testable import LifeboatBase
import LifeboatTesting

struct SealedBackup {
    let key: [UInt8]
    let sums: [UInt8]
    let sealed: [UInt8]

    init(key: [UInt8] = SecureRandom.bytes(32), wrapped: Bool = false, sealedSums: [UInt8]? = nil) throws {
        self.key = key
        sums = SHA256Sums(metaJSON: SHA256Digest.hash(Array("meta".utf8)), stateBin: SHA256Digest.hash(Array("state".utf8))).encoded()
        let nonce = SecureRandom.bytes(12)
        sealed = BlobInfo(ciphertext: nonce + (try AESGCM.seal(key: key, nonce: nonce, plaintext: sealedSums ?? sums)), wrapped: wrapped).encoded()
    }

    func prove(_ shares: [[UInt8]], threshold: Int, of total: Int, type: String = "shamir") throws -> UnsealKeyVerdict {
        let keys = try UnsealKeySet(texts: shares.map { Data($0).base64EncodedString() })
        return try keys.prove(sealedHashes: sealed, sha256Sums: sums, seal: RestoredSealConfig(type: type, shares: total, threshold: threshold),
                              cluster: "the backup's cluster")
    }
}

@Suite struct UnsealKeyProofTests {
    func code(_ body: () throws -> Void) -> (RecoveryError.Code?, String) {
        do { try body() } catch let e as RecoveryError { return (e.code, e.message) } catch { return (nil, "\(error)") }
        return (nil, "no error")
    }

    @Test("1 of 1: the key itself opens the backup; another key or a split share does not")
    func oneOfOne() throws {
        let backup = try SealedBackup()
        #expect(try backup.prove([backup.key], threshold: 1, of: 1).result == .verified)
        let (wrong, message) = code { _ = try backup.prove([SecureRandom.bytes(32)], threshold: 1, of: 1) }
        #expect(wrong == .unsealKeysWrong)
        #expect(message.contains("does not open the backup's SHA256SUMS.sealed"))
        let (split, splitMessage) = code { _ = try backup.prove([SecureRandom.bytes(33)], threshold: 1, of: 1) }
        #expect(split == .unsealKeysWrong)
        #expect(splitMessage.contains("a share of a key split in several parts"))
        #expect(RecoveryError(.unsealKeysWrong, "").exitStatus == .dataError)
    }

    @Test("3 of 5: any three shares, or all five, are verified; two are too few (exit 64)")
    func threshold() throws {
        let backup = try SealedBackup()
        let shares = try Shamir.split(backup.key, parts: 5, threshold: 3)
        #expect(try backup.prove(Array(shares.prefix(3)), threshold: 3, of: 5).result == .verified)
        #expect(try backup.prove([shares[4], shares[1], shares[3]], threshold: 3, of: 5).result == .verified)
        #expect(try backup.prove(shares, threshold: 3, of: 5).detail.contains("the 5 keys given are shares"))
        let (few, message) = code { _ = try backup.prove(Array(shares.prefix(2)), threshold: 3, of: 5) }
        #expect(few == .notEnoughUnsealKeys)
        #expect(message.contains("needs 3 of its 5 unseal keys"))
        #expect(RecoveryError(.notEnoughUnsealKeys, "").exitStatus == .usage)
        let (none, noneMessage) = code { _ = try backup.prove([], threshold: 3, of: 5) }
        #expect(none == .notEnoughUnsealKeys)
        #expect(noneMessage.contains("a Shamir seal, not auto-unseal"))
    }

    @Test("another cluster's shares, one stranger among good shares, two key sets mixed, a truncated share: distinct messages")
    func wrongShares() throws {
        let backup = try SealedBackup()
        let shares = try Shamir.split(backup.key, parts: 5, threshold: 3)
        let other = try Shamir.split(SecureRandom.bytes(32), parts: 5, threshold: 3)

        let (a, otherMessage) = code { _ = try backup.prove(Array(other.prefix(4)), threshold: 3, of: 5) }
        #expect(a == .unsealKeysWrong)
        #expect(otherMessage.contains("no 3 of the 4 keys given reconstruct the key that sealed this backup"), "\(otherMessage)")

        // A stranger with an x-coordinate none of the good shares has: found and named by position.
        let usedX = Set(shares.prefix(3).map { $0[32] })
        let stranger = try #require(other.first { !usedX.contains($0[32]) })
        let (b, strangerMessage) = code { _ = try backup.prove([shares[0], stranger, shares[1], shares[2]], threshold: 3, of: 5) }
        #expect(b == .unsealKeysWrong)
        #expect(strangerMessage.contains("key 2 (of 4 given) is not a share of the backup's unseal key; the other 3 are"), "\(strangerMessage)")

        // A damaged copy of a share keeps its x-coordinate: two different shares with one share number.
        var damaged = shares[1]
        damaged[0] ^= 0xff
        let (c, mixedMessage) = code { _ = try backup.prove([shares[0], shares[1], damaged], threshold: 3, of: 5) }
        #expect(c == .unsealKeysWrong)
        #expect(mixedMessage.contains("key 2 and key 3 are different shares with the same share number"), "\(mixedMessage)")

        let (d, truncatedMessage) = code { _ = try backup.prove([shares[0], Array(shares[1].prefix(30)), shares[2]], threshold: 3, of: 5) }
        #expect(d == .unsealKeysWrong)
        #expect(truncatedMessage.contains("key 2 is 30 bytes"), "\(truncatedMessage)")
        #expect(truncatedMessage.contains("truncated or damaged"))

        let (e, singleMessage) = code { _ = try backup.prove([SecureRandom.bytes(32), SecureRandom.bytes(32), SecureRandom.bytes(32)], threshold: 3, of: 5) }
        #expect(e == .unsealKeysWrong)
        #expect(singleMessage.contains("these are 1-of-1 keys, not shares"), "\(singleMessage)")
    }

    @Test("hex and base64 mix-ups are named")
    func encodings() throws {
        let share = try Shamir.split(SecureRandom.bytes(32), parts: 3, threshold: 2)[0]
        let hex = Hex.encode(share)
        let base64 = Data(share).base64EncodedString()
        func message(_ texts: [String]) -> String {
            do { _ = try UnsealKeySet(texts: texts) } catch let e as RecoveryError { return "\(e.code.rawValue): \(e.message)" } catch { return "\(error)" }
            return "accepted"
        }
        #expect(message([hex, base64]) == "accepted")
        #expect(message([base64, String(hex.dropLast())]).hasPrefix("unsealKeysWrong: key 2 of 2: an unseal key has an odd number of hex digits (65)"))
        #expect(message([Data(Array(hex.utf8)).base64EncodedString()]).contains("the base64 encoding of a hex key (encoded twice)"))
        let unpadded = Data(share.prefix(31)).base64EncodedString().replacingOccurrences(of: "=", with: "")
        #expect(message([unpadded]).contains("its trailing '=' was lost"), "\(message([unpadded]))")
    }

    @Test("auto-unseal cannot be checked and says so; a tampered hash list with the right key is a bad backup; Vault 1.15's wrapped flag is read")
    func otherCases() throws {
        let backup = try SealedBackup()
        let verdict = try backup.prove([], threshold: 1, of: 1, type: "transit")
        #expect(verdict.result == .notCheckable)
        #expect(verdict.detail.contains("NOT checked") && verdict.detail.contains("SAME KMS key"))

        let tampered = try SealedBackup(sealedSums: Array("0000000000000000000000000000000000000000000000000000000000000000  meta.json\n".utf8))
        let (t, message) = code { _ = try tampered.prove([tampered.key], threshold: 1, of: 1) }
        #expect(t == .backupInvalid)
        #expect(message.contains("the snapshot was altered"))

        let wrapped = try SealedBackup(wrapped: true)
        #expect(try wrapped.prove([wrapped.key], threshold: 1, of: 1).result == .verified)

        let (u, unreadable) = code {
            _ = try UnsealKeySet(texts: [Data(backup.key).base64EncodedString()])
                .prove(sealedHashes: [0xff, 0xff, 0xff], sha256Sums: backup.sums, seal: RestoredSealConfig(type: "shamir", shares: 1, threshold: 1), cluster: "c")
        }
        #expect(u == .unsealKeysUnverifiable, "\(unreadable)")
    }

    @Test("Shamir.combine throws on malformed input instead of trapping")
    func combineMalformed() throws {
        let shares = try Shamir.split(SecureRandom.bytes(32), parts: 3, threshold: 2)
        #expect(throws: Shamir.Failure.self) { try Shamir.combine([shares[0]]) }
        #expect(throws: Shamir.Failure.self) { try Shamir.combine([shares[0], Array(shares[1].prefix(20))]) }
        #expect(throws: Shamir.Failure.self) { try Shamir.combine([shares[0], shares[0]]) }
        #expect(throws: Shamir.Failure.self) { try Shamir.combine([shares[0], shares[1]], expectedLength: 17) }
        #expect(throws: Shamir.Failure.self) { try Shamir.combine([[], []]) }
        #expect(try Shamir.combine([shares[0], shares[1]], expectedLength: 33).count == 32)
    }
}
