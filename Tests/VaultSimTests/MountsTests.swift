// Mounts as Vault has them (sys/mounts, KV v1/v2 at any path, the mount table and data in barrier storage so a
// restore brings them back), the transit engine, the LIST verb, and where secret/ exists (dev mode only).

import Foundation
import Testing
@testable import VaultSim

@Suite(.serialized) struct MountsTests {
    static func start(nodes: Int = 1, devMode: Bool) async throws -> SimHarness {
        try await SimHarness.start(nodes: nodes, devMode: devMode)
    }

    @Test func nonDevClustersStartWithoutSecretAndDevModeMountsIt() async throws {
        let h = try await Self.start(devMode: false)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        let mounts = try h.get("vault_1", "sys/mounts", token: root)
        #expect(mounts.status == 200)
        let data = try #require(mounts.json?["data"]?.objectValue)
        #expect(Set(data.map(\.0)) == ["cubbyhole/", "identity/", "sys/"])
        #expect(mounts.json?["sys/"] != nil, "the top-level copy Vault keeps for old clients")
        #expect(try h.get("vault_1", "secret/data/x", token: root).status == 404)
        let dev = try await Self.start(devMode: true)
        defer { dev.stopNow() }
        let devRoot = try await dev.sim.initializeCluster().rootToken
        let devMounts = try dev.get("vault_1", "sys/mounts", token: devRoot).json?["data"]
        #expect(devMounts?["secret/"]?["type"] == .string("kv"))
        #expect(devMounts?["secret/"]?["options"]?["version"] == .string("2"))
    }

    @Test func enableReadTuneDisableWithVaultsStatusCodes() async throws {
        let h = try await Self.start(devMode: false)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        #expect(try h.put("vault_1", "sys/mounts/kv", token: root, .obj(["type": "kv", "options": .obj(["version": "2"])])).status == 204)
        #expect(try h.put("vault_1", "sys/mounts/kv1", token: root, .obj(["type": "kv"])).status == 204)
        let read = try h.get("vault_1", "sys/mounts/kv", token: root)
        #expect(read.status == 200 && read.json?["data"]?["type"] == .string("kv"))
        #expect(read.json?["data"]?["uuid"]?.stringValue?.count == 36)
        #expect(try h.get("vault_1", "sys/mounts/kv1", token: root).json?["data"]?["options"]?["version"] == .string("1"))
        let inUse = try h.put("vault_1", "sys/mounts/kv", token: root, .obj(["type": "kv"]))
        #expect(inUse.status == 409 && inUse.errors == ["path is already in use at kv/"])
        #expect(try h.put("vault_1", "sys/mounts/kv/sub", token: root, .obj(["type": "kv"])).status == 409)
        let badType = try h.put("vault_1", "sys/mounts/x", token: root, .obj(["type": "nope"]))
        #expect(badType.status == 400 && badType.errors == ["plugin not found in the catalog: nope"])
        #expect(try h.put("vault_1", "sys/mounts/x", token: root, .obj([:])).errors == ["backend type must be specified as a string"])
        #expect(try h.put("vault_1", "sys/mounts/sys/x", token: root, .obj(["type": "kv"])).status == 403)
        #expect(try h.put("vault_1", "sys/mounts/cub", token: root, .obj(["type": "cubbyhole"])).status == 403)
        #expect(try h.get("vault_1", "sys/mounts/missing", token: root).errors == ["No secret engine mount at missing/"])
        #expect(try TestHTTP.send("DELETE", h.url("vault_1", "sys/mounts/missing"), token: root).status == 204)
        #expect(try TestHTTP.send("DELETE", h.url("vault_1", "sys/mounts/sys"), token: root).errors == ["cannot unmount \"sys/\""])
        // Tune.
        let tune = try h.get("vault_1", "sys/mounts/kv1/tune", token: root)
        #expect(tune.json?["data"]?["default_lease_ttl"] == .int(2_764_800))
        #expect(try h.put("vault_1", "sys/mounts/kv1/tune", token: root, .obj(["default_lease_ttl": "1h"])).status == 204)
        #expect(try h.get("vault_1", "sys/mounts/kv1/tune", token: root).json?["data"]?["default_lease_ttl"] == .int(3600))
        // Upgrading v1 to v2 keeps the data as version 1.
        #expect(try h.put("vault_1", "kv1/a", token: root, .obj(["x": "1"])).status == 204)
        #expect(try h.put("vault_1", "sys/mounts/kv1/tune", token: root, .obj(["options": .obj(["version": "2"])])).status == 204)
        #expect(try h.get("vault_1", "kv1/data/a", token: root).json?["data"]?["data"]?["x"] == .string("1"))
        // Disable removes the data with the mount.
        #expect(try h.put("vault_1", "kv/data/p", token: root, .obj(["data": .obj(["v": "1"])])).status == 200)
        let uuid = try #require(try h.get("vault_1", "sys/mounts/kv", token: root).json?["data"]?["uuid"]?.stringValue)
        #expect(!h.sim.core.groups.values.flatMap { $0.store.keys(withPrefix: "logical/\(uuid)/") }.isEmpty)
        #expect(try TestHTTP.send("DELETE", h.url("vault_1", "sys/mounts/kv"), token: root).status == 204)
        #expect(h.sim.core.groups.values.flatMap { $0.store.keys(withPrefix: "logical/\(uuid)/") }.isEmpty)
        #expect(try h.get("vault_1", "kv/data/p", token: root).status == 404)
    }

    @Test func kvVersion1And2AtAnyPathWithTheListVerbAndPolicies() async throws {
        let h = try await Self.start(nodes: 3, devMode: false)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        #expect(try h.put("vault_1", "sys/mounts/secrets/team", token: root, .obj(["type": "kv-v2"])).status == 204)
        #expect(try h.put("vault_1", "sys/mounts/v1", token: root, .obj(["type": "kv", "options": .obj(["version": "1"])])).status == 204)
        let standby = h.standbyID
        // KV v1 through a standby (forwarded).
        #expect(try h.put(standby, "v1/app/db", token: root, .obj(["u": "x"])).status == 204)
        let v1 = try h.get(standby, "v1/app/db", token: root)
        #expect(v1.json?["data"]?["u"] == .string("x") && v1.json?["lease_duration"] == .int(2_764_800))
        #expect(try TestHTTP.send("LIST", h.url("vault_1", "v1/app"), token: root).json?["data"]?["keys"] == .array(["db"]))
        // KV v2: versions, delete/undelete/destroy, metadata.
        for v in 1...3 {
            #expect(try h.put("vault_1", "secrets/team/data/c", token: root, .obj(["data": .obj(["v": .int(Int64(v))])])).status == 200)
        }
        #expect(try h.put("vault_1", "secrets/team/delete/c", token: root, .obj(["versions": .array([3])])).status == 204)
        #expect(try h.get("vault_1", "secrets/team/data/c", token: root).status == 404)
        #expect(try h.put("vault_1", "secrets/team/undelete/c", token: root, .obj(["versions": .array([3])])).status == 204)
        #expect(try h.get("vault_1", "secrets/team/data/c", token: root).json?["data"]?["data"]?["v"] == .int(3))
        #expect(try h.put("vault_1", "secrets/team/destroy/c", token: root, .obj(["versions": .array([1])])).status == 204)
        let md = try h.get("vault_1", "secrets/team/metadata/c", token: root)
        #expect(md.json?["data"]?["versions"]?["1"]?["destroyed"] == .bool(true))
        #expect(try h.get("vault_1", "secrets/team/data/c?version=1", token: root).status == 404)
        #expect(try h.put("vault_1", "secrets/team/delete/c", token: root, .obj([:])).errors == ["no version number provided"])
        let list = try TestHTTP.send("LIST", h.url("vault_1", "secrets/team/metadata/"), token: root)
        #expect(list.status == 200 && list.json?["data"]?["keys"] == .array(["c"]))
        // Policies apply to the new paths.
        #expect(try h.put("vault_1", "sys/policies/acl/team", token: root,
                          .obj(["policy": "path \"secrets/team/data/*\" { capabilities = [\"read\"] }"])).status == 204)
        let t = try #require(try h.put("vault_1", "auth/token/create", token: root, .obj(["policies": .array(["team"])])).json?["auth"]?["client_token"]?.stringValue)
        #expect(try h.get("vault_1", "secrets/team/data/c", token: t).status == 200)
        #expect(try h.put("vault_1", "secrets/team/data/c", token: t, .obj(["data": .obj([:])])).status == 403)
        #expect(try h.get("vault_1", "v1/app/db", token: t).status == 403)
        // A path under no mount.
        #expect(try h.get("vault_1", "nomount/x", token: root).errors == ["no handler for route \"nomount/x\". route entry not found."])
    }

    @Test func mountsAndTransitKeysSurviveSnapshotAndRestore() async throws {
        let h = try await Self.start(devMode: false)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        #expect(try h.put("vault_1", "sys/mounts/kv", token: root, .obj(["type": "kv-v2"])).status == 204)
        #expect(try h.put("vault_1", "sys/mounts/transit", token: root, .obj(["type": "transit"])).status == 204)
        #expect(try h.put("vault_1", "kv/data/keep", token: root, .obj(["data": .obj(["v": "1"])])).status == 200)
        #expect(try h.put("vault_1", "transit/keys/k", token: root, .obj([:])).status == 200)
        let plain = Data("hello".utf8).base64EncodedString()
        let ct = try #require(try h.put("vault_1", "transit/encrypt/k", token: root, .obj(["plaintext": .string(plain)])).json?["data"]?["ciphertext"]?.stringValue)
        #expect(ct.hasPrefix("vault:v1:"))
        let snap = try h.get("vault_1", "sys/storage/raft/snapshot", token: root).body
        #expect(try TestHTTP.send("DELETE", h.url("vault_1", "sys/mounts/kv"), token: root).status == 204)
        #expect(try h.put("vault_1", "transit/keys/k/rotate", token: root, .obj([:])).json?["data"]?["latest_version"] == .int(2))
        #expect(try TestHTTP.send("POST", h.url("vault_1", "sys/storage/raft/snapshot"), token: root, body: snap).status == 204)
        try await h.waitUntil("the restore to bring kv/ back") {
            try h.get("vault_1", "kv/data/keep", token: root).json?["data"]?["data"]?["v"] == .string("1")
        }
        #expect(try h.get("vault_1", "transit/keys/k", token: root).json?["data"]?["latest_version"] == .int(1))
        let back = try h.put("vault_1", "transit/decrypt/k", token: root, .obj(["ciphertext": .string(ct)]))
        #expect(back.json?["data"]?["plaintext"] == .string(plain))
        // Transit errors with Vault's texts.
        #expect(try h.put("vault_1", "transit/decrypt/k", token: root, .obj(["ciphertext": "vault:v9:AAAA"])).errors == ["invalid ciphertext: version is too new"])
        #expect(try h.put("vault_1", "transit/decrypt/nokey", token: root, .obj(["ciphertext": .string(ct)])).errors == ["encryption key not found"])
        #expect(try h.put("vault_1", "transit/encrypt/k", token: root, .obj(["plaintext": "%%%"])).errors == ["failed to base64-decode plaintext"])
        #expect(try TestHTTP.send("DELETE", h.url("vault_1", "transit/keys/k"), token: root).errors == ["deletion is not allowed for this key"])
    }
}
