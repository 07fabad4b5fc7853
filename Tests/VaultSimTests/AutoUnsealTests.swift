// Transit auto-unseal: a cluster sealed by another simulator's transit key. Init gives recovery keys, nodes unseal
// themselves (after init, a join, a restart, a foreign force restore with the same transit key), SHA256SUMS.sealed
// goes through the seal, and an unreachable KMS leaves the nodes sealed with Vault's messages.

import Foundation
import Testing
import LifeboatArchive
import LifeboatSnapshot
@testable import VaultSim

/// A one-node dev-mode KMS cluster with a transit key and a token limited to encrypt/decrypt with it.
struct KMS {
    let harness: SimHarness
    let sealToken: String
    var rootToken = ""
    var unsealKeys: [String] = []
    var address: String { harness.sim.apiAddress("vault_1") ?? "" }

    static func start(key: String = "autounseal", directory: String? = nil) async throws -> KMS {
        let h = try await SimHarness.start(nodes: 1, directory: directory)
        let initResult = try await h.sim.initializeCluster()
        let root = initResult.rootToken
        #expect(try h.put("vault_1", "sys/mounts/transit", token: root, .obj(["type": "transit"])).status == 204)
        #expect(try h.put("vault_1", "transit/keys/\(key)", token: root, .obj([:])).status == 200)
        let policy = "path \"transit/encrypt/\(key)\" { capabilities = [\"update\"] }\npath \"transit/decrypt/\(key)\" { capabilities = [\"update\"] }"
        #expect(try h.put("vault_1", "sys/policies/acl/seal", token: root, .obj(["policy": .string(policy)])).status == 204)
        let token = try #require(try h.put("vault_1", "auth/token/create", token: root,
                                           .obj(["policies": .array(["seal"]), "period": "24h"])).json?["auth"]?["client_token"]?.stringValue)
        #expect(try h.put("vault_1", "transit/keys/other", token: root, .obj([:])).status == 200)
        return KMS(harness: h, sealToken: token, rootToken: root, unsealKeys: initResult.keysBase64)
    }

    func seal(key: String = "autounseal") -> VaultSimSeal {
        .transit(address: address, token: sealToken, mountPath: "transit/", keyName: key)
    }
}

@Suite(.serialized) struct AutoUnsealTests {
    static func sealed(_ kms: KMS, nodes: Int, key: String = "autounseal", directory: String? = nil) async throws -> SimHarness {
        try await SimHarness.start(nodes: nodes, directory: directory, seal: kms.seal(key: key))
    }

    @Test func initGivesRecoveryKeysAndNodesUnsealThemselves() async throws {
        let kms = try await KMS.start()
        defer { kms.harness.stopNow() }
        let h = try await Self.sealed(kms, nodes: 3)
        defer { h.stopNow() }
        let before = try h.get("vault_1", "sys/seal-status").json
        #expect(before?["type"] == .string("transit") && before?["initialized"] == .bool(false) && before?["recovery_seal"] == .bool(true))
        let refused = try h.put("vault_1", "sys/init", .obj(["secret_shares": 1, "secret_threshold": 1]))
        #expect(refused.status == 400 && refused.errors == ["parameters secret_shares,secret_threshold not applicable to seal type transit"])
        let result = try await h.sim.initializeCluster(shares: 3, threshold: 2)
        #expect(result.keysBase64.isEmpty && result.recoveryKeysBase64.count == 3 && result.recoveryKeysHex.count == 3)
        #expect(String(decoding: result.operatorInitJSON(), as: UTF8.self).contains("\"recovery_keys_shares\":3"))
        #expect(h.sim.nodes.allSatisfy { !$0.sealed })
        let status = try h.get("vault_2", "sys/seal-status").json
        #expect(status?["t"] == .int(2) && status?["n"] == .int(3) && status?["sealed"] == .bool(false))
        let group = try #require(h.sim.core.groups.values.first)
        let cfg = try #require(group.store.get(Barrier.sealConfigPath).flatMap { JSONValue.parse($0) })
        #expect(cfg["type"] == .string("transit"))
        // SHA256SUMS.sealed went through the KMS: a BlobInfo holding a vault:v1: ciphertext.
        let snap = try h.get("vault_1", "sys/storage/raft/snapshot", token: result.rootToken)
        let verified = try SnapshotVerifier.verify(snap.body)
        let blob = try BlobInfo(decoding: verified.sealedHashes)
        #expect(String(decoding: blob.ciphertext, as: UTF8.self).hasPrefix("vault:v1:"))
        #expect(blob.keyInfo?.keyID == "autounseal")
        // A node sealed by request stays sealed through a restore: only members the restore itself seals (a foreign
        // keyring) unseal themselves afterwards.
        h.sim.sealNode("vault_3")
        // A same-cluster restore validates SHA256SUMS.sealed through the KMS.
        #expect(try TestHTTP.send("POST", h.url("vault_1", "sys/storage/raft/snapshot"), token: result.rootToken, body: snap.body).status == 204)
        try await h.waitUntil("restore applied") {
            (try h.get("vault_1", "sys/leader").json?["raft_applied_index"]?.intValue ?? 0) > Int(verified.meta.index)
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(h.sim.nodes.first { $0.id == "vault_3" }?.sealed == true, "the restore unsealed a node sealed by request")
        // Recovery keys unseal it again (through the KMS).
        let one = try h.put("vault_3", "sys/unseal", .obj(["key": .string(result.recoveryKeysBase64[0])]))
        #expect(one.json?["progress"] == .int(1) && one.json?["sealed"] == .bool(true))
        let wrong = try h.put("vault_3", "sys/unseal", .obj(["key": .string(Data(SecureRandom.bytes(33)).base64EncodedString())]))
        #expect(wrong.status == 400 && wrong.errors == ["invalid recovery key"], "\(wrong.status) \(wrong.errors)")
        _ = try h.put("vault_3", "sys/unseal", .obj(["key": .string(result.recoveryKeysBase64[0])]))
        let two = try h.put("vault_3", "sys/unseal", .obj(["key": .string(result.recoveryKeysBase64[1])]))
        #expect(two.status == 200 && two.json?["sealed"] == .bool(false))
    }

    @Test func restartUnsealsThroughTheKMSAndAnUnreachableKMSLeavesNodesSealed() async throws {
        let kmsDir = NSTemporaryDirectory() + "vaultsim-kms-" + UUID().uuidString
        var kms = try await KMS.start(directory: kmsDir)
        let dir = NSTemporaryDirectory() + "vaultsim-auto-" + UUID().uuidString
        var h = try await Self.sealed(kms, nodes: 2, directory: dir)
        let root = try await h.sim.initializeCluster(shares: 1, threshold: 1).rootToken
        #expect(try h.put("vault_1", "sys/mounts/kv", token: root, .obj(["type": "kv-v2"])).status == 204)
        #expect(try h.put("vault_1", "kv/data/canary", token: root, .obj(["data": .obj(["v": "ok"])])).status == 200)
        // Restart: the nodes come back and unseal themselves.
        h.stopNow(removeData: false)
        h = try await Self.sealed(kms, nodes: 2, directory: dir)
        try await h.waitUntil("both nodes auto-unsealed") { h.sim.nodes.allSatisfy { !$0.sealed } }
        _ = try await h.sim.waitForActive()
        #expect(try h.get("vault_2", "kv/data/canary", token: root).json?["data"]?["data"]?["v"] == .string("ok"))
        // KMS down: a restart leaves every node sealed; recovery keys do not help; Vault's message says why.
        let kmsAddress = kms.address
        kms.harness.stopNow(removeData: false)
        h.stopNow(removeData: false)
        h = try await Self.sealed(KMS(harness: kms.harness, sealToken: kms.sealToken), nodes: 2, directory: dir)
        defer { h.stopNow() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(h.sim.nodes.allSatisfy { $0.sealed })
        let health = try h.get("vault_1", "sys/health")
        #expect(health.status == 503 && health.json?["initialized"] == .bool(true))
        #expect(try h.get("vault_1", "kv/data/canary", token: root).errors == ["Vault is sealed"])
        // The KMS comes back on its port: the retry loop unseals the nodes without any request.
        kms = KMS(harness: try await SimHarness.start(nodes: 1, directory: kmsDir), sealToken: kms.sealToken, unsealKeys: kms.unsealKeys)
        defer { kms.harness.stopNow() }
        try kms.harness.sim.unseal("vault_1", keys: kms.unsealKeys)
        #expect(kms.address == kmsAddress, "the KMS restarted on its old port")
        try await h.waitUntil("auto-unseal after the KMS is back", timeout: .seconds(20)) { h.sim.nodes.allSatisfy { !$0.sealed } }
    }

    @Test func anotherClustersSnapshotRestoresOnlyWithTheSameTransitKey() async throws {
        let kms = try await KMS.start()
        defer { kms.harness.stopNow() }
        let a = try await Self.sealed(kms, nodes: 1)
        defer { a.stopNow() }
        let aRoot = try await a.sim.initializeCluster(shares: 1, threshold: 1).rootToken
        #expect(try a.put("vault_1", "sys/mounts/kv", token: aRoot, .obj(["type": "kv-v2"])).status == 204)
        #expect(try a.put("vault_1", "kv/data/from-a", token: aRoot, .obj(["data": .obj(["v": "a"])])).status == 200)
        let snap = try a.get("vault_1", "sys/storage/raft/snapshot", token: aRoot).body
        // Same transit key: the restored stored keys open through the KMS and the node unseals itself.
        let b = try await Self.sealed(kms, nodes: 1)
        defer { b.stopNow() }
        let bRoot = try await b.sim.initializeCluster(shares: 1, threshold: 1).rootToken
        // SHA256SUMS.sealed opens through the same KMS key, so even the checked restore accepts it (as Vault's does).
        #expect(try TestHTTP.send("POST", b.url("vault_1", "sys/storage/raft/snapshot"), token: bRoot, body: snap).status == 204)
        try await b.waitUntil("b serves a's data with a's token") {
            (try? b.get("vault_1", "kv/data/from-a", token: aRoot))?.json?["data"]?["data"]?["v"] == .string("a")
        }
        // Another transit key: after the force restore the node seals and stays sealed (the restored stored keys
        // do not open with it), and says so.
        let d = try await SimHarness.start(nodes: 1, seal: .transit(address: kms.address, token: kms.rootToken, mountPath: "transit", keyName: "other"))
        defer { d.stopNow() }
        let dRoot = try await d.sim.initializeCluster(shares: 1, threshold: 1).rootToken
        let checked = try TestHTTP.send("POST", d.url("vault_1", "sys/storage/raft/snapshot"), token: dRoot, body: snap)
        #expect(checked.status == 400 && checked.errors == [SnapshotUploadValidator.sealedHashesMessage])
        #expect(try TestHTTP.send("POST", d.url("vault_1", "sys/storage/raft/snapshot-force"), token: dRoot, body: snap).status == 204)
        try await d.waitUntil("d seals") { d.sim.nodes[0].sealed }
        try await Task.sleep(for: .milliseconds(300))
        #expect(d.sim.nodes[0].sealed, "a snapshot sealed by another transit key stays sealed")
        let unseal = try d.put("vault_1", "sys/unseal", .obj(["key": .string(Data(SecureRandom.bytes(32)).base64EncodedString())]))
        #expect(unseal.status == 500 && (unseal.errors?.first ?? "").contains("failed to decrypt encrypted stored keys"))
    }

    @Test func restoreWhileTheKMSIsUnreachableIsRefusedAndChangesNothing() async throws {
        let kms = try await KMS.start()
        let h = try await Self.sealed(kms, nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster(shares: 1, threshold: 1).rootToken
        #expect(try h.put("vault_1", "sys/mounts/kv", token: root, .obj(["type": "kv-v2"])).status == 204)
        let snap = try h.get("vault_1", "sys/storage/raft/snapshot", token: root).body
        #expect(try h.put("vault_1", "kv/data/after", token: root, .obj(["data": .obj(["v": "kept"])])).status == 200)
        kms.harness.stopNow()
        let refused = try TestHTTP.send("POST", h.url("vault_1", "sys/storage/raft/snapshot"), token: root, body: snap)
        #expect(refused.status == 400 && refused.errors == [SnapshotUploadValidator.sealedHashesMessage])
        // A render needs the KMS too (SHA256SUMS.sealed goes through it): 500, and the node stays up and unsealed.
        #expect(try h.put("vault_1", "kv/data/more", token: root, .obj(["data": .obj(["v": "x"])])).status == 200)
        #expect(try h.get("vault_1", "sys/storage/raft/snapshot", token: root).status == 500)
        #expect(try h.get("vault_1", "kv/data/after", token: root).json?["data"]?["data"]?["v"] == .string("kept"))
        #expect(h.sim.nodes[0].sealed == false)
    }
}
