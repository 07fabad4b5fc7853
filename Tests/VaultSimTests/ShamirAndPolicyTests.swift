// Pure pieces: Shamir splitting over GF(256), the ACL policy parser and Vault's path-matching priority rules.
import Foundation

import Testing
@testable import VaultSim
@testable import LifeboatSnapshot
import LifeboatArchive

@Suite struct ShamirTests {
    @Test(arguments: [(2, 2), (3, 5), (5, 5), (2, 10)])
    func anyThresholdSubsetRecoversTheSecret(threshold: Int, parts: Int) throws {
        let secret = SecureRandom.bytes(32)
        let shares = try Shamir.split(secret, parts: parts, threshold: threshold)
        #expect(shares.count == parts)
        #expect(shares.allSatisfy { $0.count == 33 })
        #expect(Set(shares.map { $0[32] }).count == parts)
        #expect(try Shamir.combine(Array(shares.prefix(threshold))) == secret)
        #expect(try Shamir.combine(Array(shares.suffix(threshold).reversed())) == secret)
        if threshold > 2 {
            #expect(try Shamir.combine(Array(shares.prefix(threshold - 1))) != secret)
        }
    }

    @Test func rejectsBadParameters() {
        #expect(throws: Shamir.Failure.self) { try Shamir.split([1, 2, 3], parts: 2, threshold: 3) }
        #expect(throws: Shamir.Failure.self) { try Shamir.split([1, 2, 3], parts: 256, threshold: 3) }
        #expect(throws: Shamir.Failure.self) { try Shamir.combine([[1, 2, 9], [3, 4, 9]]) }
    }

    @Test func fieldArithmetic() {
        for a in 1...255 { #expect(Shamir.mul(UInt8(a), Shamir.inverse(UInt8(a))) == 1) }
        #expect(Shamir.mul(0x57, 0x83) == 0xc1)  // FIPS-197 example
    }
}

@Suite struct ACLPolicyTests {
    let text = """
    # backup role
    path "sys/storage/raft/snapshot" { capabilities = ["read"] }
    path "secret/data/app/*" {
      capabilities = ["read", "list"]
    }
    path "secret/data/app/locked" { capabilities = ["deny"] }
    path "secret/data/+/shared" { capabilities = ["create", "update"] }
    path "sys/seal" { capabilities = ["update", "sudo"] }
    """

    @Test func parsesAndMatches() throws {
        let p = try ACLPolicy.parse(name: "t", text: text)
        #expect(p.rules.count == 5)
        let acl = ACL(policies: [p], isRoot: false)
        #expect(acl.capabilities(for: "sys/storage/raft/snapshot") == ["read"])
        #expect(acl.capabilities(for: "sys/storage/raft/snapshot-force").isEmpty)
        #expect(acl.allows("read", on: "secret/data/app/x/y"))
        #expect(!acl.allows("update", on: "secret/data/app/x"))
        #expect(acl.capabilities(for: "secret/data/app/locked").isEmpty)
        #expect(acl.allows("create", on: "secret/data/team/shared"))
        #expect(!acl.allows("create", on: "secret/data/team/x/shared"))
        #expect(acl.allows("sudo", on: "sys/seal"))
    }

    @Test func mostSpecificRuleWins() throws {
        let p = try ACLPolicy.parse(name: "t", text: """
        path "secret/*" { capabilities = ["read"] }
        path "secret/data/*" { capabilities = ["update"] }
        path "secret/data/+/x" { capabilities = ["delete"] }
        """)
        let acl = ACL(policies: [p], isRoot: false)
        // Same first-wildcard position: the pattern not ending in `*` wins (Vault's rule 2).
        #expect(acl.capabilities(for: "secret/data/a/x") == ["delete"])
        #expect(acl.capabilities(for: "secret/data/a/y") == ["update"])
        #expect(acl.capabilities(for: "secret/metadata/a") == ["read"])
    }

    @Test func unionAcrossPoliciesAndDeny() throws {
        let a = try ACLPolicy.parse(name: "a", text: #"path "kv/x" { capabilities = ["read"] }"#)
        let b = try ACLPolicy.parse(name: "b", text: #"path "kv/x" { capabilities = ["update"] }"#)
        let d = try ACLPolicy.parse(name: "d", text: #"path "kv/x" { capabilities = ["deny"] }"#)
        #expect(ACL(policies: [a, b], isRoot: false).capabilities(for: "kv/x") == ["read", "update"])
        #expect(ACL(policies: [a, b, d], isRoot: false).capabilities(for: "kv/x").isEmpty)
        #expect(ACL(policies: [], isRoot: true).allows("sudo", on: "anything"))
    }

    @Test func rejectsInvalidCapabilities() {
        #expect(throws: PolicyParseError.self) { try ACLPolicy.parse(name: "x", text: #"path "a" { capabilities = ["fly"] }"#) }
        #expect(throws: PolicyParseError.self) { try ACLPolicy.parse(name: "x", text: #"path "a" { capabilities = ["read"] "#) }
    }
}

@Suite struct ValueStoreTests {
    @Test func persistsPutsDeletesAndReplaces() throws {
        let dir = NSTemporaryDirectory() + "vs-store-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let s = try ValueStore(directory: dir)
            try s.put("b", [2, 2])
            try s.put("a", [1])
            try s.put("c", Array(repeating: 7, count: 100_000))
            try s.delete("b")
            try s.put("empty", [])
        }
        let s = try ValueStore(directory: dir)
        #expect(s.sortedKeys == ["a", "c", "empty"])
        #expect(s.get("a") == [1])
        #expect(s.get("c")?.count == 100_000)
        #expect(s.get("empty") == [])
        // Export to state.bin framing and read it back as a replacement base.
        let view = s.view()
        var state: [UInt8] = []
        for (k, loc) in view.entries {
            state += StateBin.entryPrefix(key: k, valueLength: loc.length)
            state += try view.value(loc)
        }
        #expect(state.count == view.stateSize)
        let file = dir + "/import.bin"
        try ValueStore.writeAtomically(path: file, bytes: state)
        try s.put("z", [9])
        try s.replace(withStateFile: file)
        #expect(s.sortedKeys == ["a", "c", "empty"])
        #expect(s.get("c") == Array(repeating: 7, count: 100_000))
        let again = try ValueStore(directory: dir)
        #expect(again.sortedKeys == ["a", "c", "empty"])
        try ValueStore.writeAtomically(path: file, bytes: [0x05, 0x0a, 0x09])
        #expect(throws: (any Error).self) { try again.replace(withStateFile: file) }
    }
}
