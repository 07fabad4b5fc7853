// Snapshots: the simulator's archives pass the same structural checks as the two real Vault 1.14.3 snapshots;
// restore validation answers with Vault's status codes and messages; same-cluster restore rolls data and tokens
// back; a foreign force restore seals every member and only the snapshot's keys and tokens work afterwards.

import Foundation
import Testing
import LifeboatArchive
import LifeboatSnapshot
@testable import VaultSim

/// Tar/gzip helpers for building and taking apart test archives.
enum ArchiveKit {
    static func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var inflater = try Inflater(format: .gzip)
        var out: [UInt8] = []
        _ = try bytes.withUnsafeBytes { try inflater.decompress($0, into: &out) }
        return out
    }

    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var d = try Deflater(format: .gzip, level: 6)
        var out: [UInt8] = []
        try bytes.withUnsafeBytes { try d.compress($0, into: &out) }
        try d.finish(into: &out)
        return out
    }

    static func members(_ tar: [UInt8]) -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        var p = 0
        while p + 512 <= tar.count, !tar[p..<(p + 512)].allSatisfy({ $0 == 0 }) {
            let name = String(decoding: tar[p..<(p + 100)].prefix { $0 != 0 }, as: UTF8.self)
            let size = Int(String(decoding: tar[(p + 124)..<(p + 135)], as: UTF8.self), radix: 8)!
            out.append((name, Array(tar[(p + 512)..<(p + 512 + size)])))
            p += 512 + (size + 511) / 512 * 512
        }
        return out
    }

    static func tar(_ members: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, data) in members {
            out += TarMemberHeader.goUSTAR(name: name, size: Int64(data.count), modificationTime: 1_700_000_000)
            out += data
            out += [UInt8](repeating: 0, count: TarMemberHeader.padding(forSize: Int64(data.count)))
        }
        return out + [UInt8](repeating: 0, count: 1024)
    }

    static func sums(meta: [UInt8], state: [UInt8]) -> [UInt8] {
        Array("\(Hex.encode(SHA256Digest.hash(meta)))  meta.json\n\(Hex.encode(SHA256Digest.hash(state)))  state.bin\n".utf8)
    }
}

@Suite(.serialized) struct SnapshotTests {
    static let fixtures: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("Tests/Fixtures/vault-1.14.3").standardized.path
    }()

    static func metaKeyOrder(_ json: [UInt8]) -> [String] {
        let text = String(decoding: json, as: UTF8.self)
        var seen: [String] = []
        let regex = try! NSRegularExpression(pattern: "\"([A-Za-z]+)\":")
        for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let k = String(text[Range(m.range(at: 1), in: text)!])
            if !seen.contains(k) { seen.append(k) }
        }
        return seen
    }

    @Test func simulatorSnapshotsMatchRealVaultStructure() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        let active = try #require(h.sim.activeNodeID)
        _ = try h.put(active, "secret/data/canary", token: root, .obj(["data": .obj(["v": "1"])]))
        let r = try h.get(active, "sys/storage/raft/snapshot", token: root)
        #expect(r.status == 200)
        #expect(r.header("Content-Type") == "application/gzip")
        #expect(r.header("Content-Disposition") == "attachment")
        #expect(r.header("Content-Length") == nil)
        #expect(r.header("Transfer-Encoding")?.lowercased() == "chunked")
        #expect(r.complete)
        let ours = try SnapshotVerifier.verify(r.body)
        for name in ["backup.snap", "ellie.snap"] {
            let real = try SnapshotVerifier.verify(Array(try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/" + name))))
            for s in [ours, real] {
                #expect(s.members.map(\.name) == ["meta.json", "state.bin", "SHA256SUMS", "SHA256SUMS.sealed"])
                #expect(s.keysAscending)
                #expect(s.sealConfig != nil)
                #expect(s.sha256Sums.count == 152)
                let lines = String(decoding: s.sha256Sums, as: UTF8.self).split(separator: "\n")
                #expect(lines.allSatisfy { $0.range(of: "^[0-9a-f]{64}  (meta\\.json|state\\.bin)$", options: .regularExpression) != nil })
                let blob = try BlobInfo(decoding: s.sealedHashes)
                #expect(blob.ciphertext.count == 12 + 152 + 16)
                #expect(s.sealedHashes.count == 185 && Array(s.sealedHashes.suffix(2)) == [0x2a, 0x00])
                #expect(s.tarByteCount == s.members.reduce(Int64(1024)) { $0 + 512 + ($1.size + 511) / 512 * 512 })
                #expect(s.metaJSON.last == 0x0a)
                #expect(s.meta.version == 1 && s.meta.id == "bolt-snapshot")
            }
            #expect(ours.gzipHeader == real.gzipHeader)
            for (a, b) in zip(ours.members, real.members) {
                #expect(a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.typeflag == b.typeflag)
                #expect(a.magic == b.magic && a.version == b.version && a.uname == b.uname && a.gname == b.gname)
                #expect(a.linkname == b.linkname)
            }
            #expect(Self.metaKeyOrder(ours.metaJSON) == Self.metaKeyOrder(real.metaJSON))
        }
        #expect(ours.meta.servers.count == 3 && ours.meta.servers.allSatisfy { $0.isVoter })
        #expect(ours.sealConfig?.secretShares == 1)
        // Rendered once per raft index: a second download is byte-identical.
        #expect(try h.get(active, "sys/storage/raft/snapshot", token: root).body == r.body)
    }

    @Test func restoreValidationMessages() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        let good = try h.get("vault_1", "sys/storage/raft/snapshot", token: root).body
        func restore(_ body: [UInt8], force: Bool = false) throws -> TestResponse {
            try TestHTTP.send("POST", h.url("vault_1", force ? "sys/storage/raft/snapshot-force" : "sys/storage/raft/snapshot"), token: root, body: body)
        }
        var r = try restore([])
        #expect(r.status == 500 && r.errors == ["failed to decompress snapshot: EOF"])
        r = try restore(Array("this is not a gzip stream".utf8))
        #expect(r.status == 500 && r.errors == ["failed to decompress snapshot: gzip: invalid header"])
        r = try restore(Array(good.prefix(good.count / 2)))
        #expect(r.status == 500 && r.errors?.first?.hasPrefix("failed to read snapshot file:") == true)
        #expect(r.errors?.first?.hasSuffix("unexpected EOF") == true)

        let members = ArchiveKit.members(try ArchiveKit.gunzip(good))
        r = try restore(try ArchiveKit.gzip(ArchiveKit.tar(members + [("nope", [1])])))
        #expect(r.status == 500 && r.errors == ["failed to read snapshot file: unexpected file \"nope\" in snapshot"])
        var tampered = members
        tampered[1].1[tampered[1].1.count - 1] ^= 0xff
        r = try restore(try ArchiveKit.gzip(ArchiveKit.tar(tampered)))
        #expect(r.status == 500)
        #expect(r.errors == ["failed to read snapshot file: failed checking integrity of snapshot: hash check failed for \"state.bin\""])
        r = try restore(try ArchiveKit.gzip(ArchiveKit.tar(Array(members.dropLast()))))
        #expect(r.status == 400 && r.errors == [SnapshotUploadValidator.sealedHashesMessage])
        r = try restore(try ArchiveKit.gzip(ArchiveKit.tar([members[0], members[1]])), force: true)
        #expect(r.status == 500 && r.errors == ["failed to read snapshot file: failed checking integrity of snapshot: file missing for \"meta.json\""]
                || r.errors == ["failed to read snapshot file: failed checking integrity of snapshot: file missing for \"state.bin\""])
        let real = Array(try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/backup.snap")))
        r = try restore(real)
        #expect(r.status == 400 && r.errors == [SnapshotUploadValidator.sealedHashesMessage])
        #expect(try h.get("vault_1", "sys/health").status == 200)

        // Async phase: a meta.Size that disagrees with state.bin passes validation, then seals the node.
        let meta = String(decoding: members[0].1, as: UTF8.self)
        let badMeta = Array(meta.replacingOccurrences(of: "\"Size\":", with: "\"Size\":1").utf8)
        let lying = [("meta.json", badMeta), members[1], ("SHA256SUMS", ArchiveKit.sums(meta: badMeta, state: members[1].1))]
        r = try restore(try ArchiveKit.gzip(ArchiveKit.tar(lying)), force: true)
        #expect(r.status == 204)
        try await h.waitUntil("node to seal after the failed apply") { try h.get("vault_1", "sys/health").status == 503 }
    }

    @Test func sameClusterRestoreRollsBackDataAndTokens() async throws {
        // The restore applies 2 s after it is accepted (as Vault's, asynchronously): long enough that the read right
        // after the 204 sees the old data even on a loaded machine or under a sanitizer (50 ms was not).
        let h = try await SimHarness.start(restoreApplyDelay: .seconds(2))
        defer { h.stopNow() }
        let keys = try await h.sim.initializeCluster()
        let active = try #require(h.sim.activeNodeID)
        _ = try h.put(active, "secret/data/canary", token: keys.rootToken, .obj(["data": .obj(["v": "before"])]))
        let snap = try h.get(active, "sys/storage/raft/snapshot", token: keys.rootToken).body
        _ = try h.put(active, "secret/data/canary", token: keys.rootToken, .obj(["data": .obj(["v": "after"])]))
        let later = try #require(try h.put(active, "auth/token/create", token: keys.rootToken, .obj([:])).json?["auth"]?["client_token"]?.stringValue)
        let before = try #require(try h.get(active, "sys/leader").json?["raft_applied_index"]?.intValue)
        let r = try TestHTTP.send("POST", h.url(active, "sys/storage/raft/snapshot"), token: keys.rootToken, body: snap)
        #expect(r.status == 204)
        #expect(try h.get(active, "secret/data/canary", token: keys.rootToken).json?["data"]?["data"]?["v"]?.stringValue == "after")  // not yet applied
        try await h.waitUntil("restore applied") {
            try h.get(active, "secret/data/canary", token: keys.rootToken).json?["data"]?["data"]?["v"]?.stringValue == "before"
        }
        #expect(try h.get(active, "auth/token/lookup-self", token: later).status == 403)
        #expect(h.sim.nodes.allSatisfy { !$0.sealed })
        #expect((try h.get(active, "sys/leader").json?["raft_applied_index"]?.intValue ?? 0) > before)
    }

    @Test func foreignForceRestoreSealsEveryMember() async throws {
        // The "original" cluster: one node, 3 shares / threshold 2, with a canary.
        let old = try await SimHarness.start(nodes: 1)
        let oldKeys = try await old.sim.initializeCluster(shares: 3, threshold: 2)
        _ = try old.put("vault_1", "secret/data/canary", token: oldKeys.rootToken, .obj(["data": .obj(["v": "original"])]))
        let snap = try old.get("vault_1", "sys/storage/raft/snapshot", token: oldKeys.rootToken).body
        await old.stop()

        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let newKeys = try await h.sim.initializeCluster()
        let active = try #require(h.sim.activeNodeID)
        let refused = try TestHTTP.send("POST", h.url(active, "sys/storage/raft/snapshot"), token: newKeys.rootToken, body: snap)
        #expect(refused.status == 400 && refused.errors == [SnapshotUploadValidator.sealedHashesMessage])
        let r = try TestHTTP.send("POST", h.url(active, "sys/storage/raft/snapshot-force"), token: newKeys.rootToken, body: snap)
        #expect(r.status == 204)
        try await h.waitUntil("every member sealed") { h.sim.nodes.allSatisfy { $0.sealed } }
        for n in h.sim.nodes {
            let s = try h.get(n.id, "sys/seal-status").json
            #expect(s?["t"]?.intValue == 2 && s?["n"]?.intValue == 3 && s?["initialized"]?.boolValue == true)
        }
        // The new cluster's key is now one share towards a threshold of 2, and cannot unseal.
        let partial = try h.put("vault_1", "sys/unseal", .obj(["key": .string(newKeys.keysBase64[0])]))
        #expect(partial.status == 200 && partial.json?["progress"]?.intValue == 1)
        let wrong = try h.put("vault_1", "sys/unseal", .obj(["key": .string(oldKeys.keysBase64[0])]))
        #expect(wrong.status == 400 && wrong.errors == ["Unseal failed, invalid key"])
        try h.sim.unseal("vault_1", keys: Array(oldKeys.keysHex.prefix(2)))
        try h.sim.unseal("vault_2", keys: Array(oldKeys.keysBase64.suffix(2)))
        let leader = try await h.sim.waitForActive()
        #expect(try h.get(leader, "secret/data/canary", token: oldKeys.rootToken).json?["data"]?["data"]?["v"]?.stringValue == "original")
        #expect(try h.get(leader, "auth/token/lookup-self", token: newKeys.rootToken).status == 403)
        let members = try h.get(leader, "sys/storage/raft/configuration", token: oldKeys.rootToken).json?["data"]?["config"]?["servers"]?.arrayValue
        #expect(members?.compactMap { $0["node_id"]?.stringValue }.sorted() == ["vault_1", "vault_2", "vault_3"])
        // The restored cluster's own snapshots verify under the original keys (non-force succeeds).
        let again = try h.get(leader, "sys/storage/raft/snapshot", token: oldKeys.rootToken).body
        #expect(try TestHTTP.send("POST", h.url(leader, "sys/storage/raft/snapshot"), token: oldKeys.rootToken, body: again).status == 204)
    }
}
