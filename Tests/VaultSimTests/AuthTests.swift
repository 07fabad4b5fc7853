// Tokens (create, lookup-self, renew-self, expiry against an injected clock), ACL enforcement with Vault's two
// 403 wordings, AppRole end to end, KV v2 reads/writes/lists/metadata.

import Foundation
import Testing
@testable import VaultSim

@Suite(.serialized) struct AuthTests {
    @Test func policiesAreEnforced() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        let policy = """
        path "sys/storage/raft/snapshot" { capabilities = ["read"] }
        path "secret/data/app/*" { capabilities = ["read"] }
        path "secret/metadata/app/*" { capabilities = ["list"] }
        path "auth/token/create" { capabilities = ["update"] }
        """
        #expect(try h.put("vault_1", "sys/policy/backup", token: root, .obj(["policy": .string(policy)])).status == 204)
        #expect(try h.put("vault_1", "sys/policy/broken", token: root, .obj(["policy": #"path "x" { capabilities = ["fly"] }"#])).status == 400)
        #expect(try h.get("vault_1", "sys/policy/backup", token: root).json?["data"]?["rules"]?.stringValue == policy)
        #expect(try h.get("vault_1", "sys/policies/acl/backup", token: root).json?["data"]?["policy"]?.stringValue == policy)
        #expect(try h.get("vault_1", "sys/policy", token: root).json?["policies"]?.stringList == ["backup", "default", "response-wrapping", "root"])
        #expect(try h.put("vault_1", "secret/data/app/one", token: root, .obj(["data": .obj(["x": "1"])])).status == 200)

        let created = try h.put("vault_1", "auth/token/create", token: root, .obj(["policies": .strings(["backup"]), "ttl": "1h"]))
        #expect(created.status == 200)
        let auth = try #require(created.json?["auth"])
        #expect(auth["policies"]?.stringList == ["backup", "default"])
        #expect(auth["lease_duration"]?.intValue == 3600)
        let t = try #require(auth["client_token"]?.stringValue)

        #expect(try h.get("vault_1", "secret/data/app/one", token: t).status == 200)
        #expect(try h.get("vault_1", "secret/metadata/app/?list=true", token: t).json?["data"]?["keys"]?.stringList == ["one"])
        let write = try h.put("vault_1", "secret/data/app/one", token: t, .obj(["data": .obj(["x": "2"])]))
        #expect(write.status == 403)
        #expect(write.errors == ["1 error occurred:\n\t* permission denied\n\n"])
        #expect(try h.put("vault_1", "sys/storage/raft/snapshot-force", token: t, body: [0]).status == 403)
        #expect(try h.get("vault_1", "sys/storage/raft/configuration", token: t).status == 403)
        #expect(try h.get("vault_1", "auth/token/lookup-self", token: t).status == 200)  // default policy
        #expect(try h.get("vault_1", "sys/storage/raft/snapshot", token: t).status == 200)
        let none = try h.get("vault_1", "secret/data/app/one")
        #expect(none.status == 403 && none.errors == ["permission denied"])
        // Child tokens cannot exceed their parent's policies.
        let escalate = try h.put("vault_1", "auth/token/create", token: t, .obj(["policies": .strings(["root"])]))
        #expect(escalate.status == 400 && escalate.errors == ["child policies must be subset of parent"])
        #expect(try h.put("vault_1", "auth/token/create", token: t, .obj(["policies": .strings(["backup"])])).status == 200)
    }

    @Test func tokensExpireAgainstTheInjectedClock() async throws {
        let clock = ManualClock()
        let h = try await SimHarness.start(nodes: 1, clock: clock)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        let t = try #require(try h.put("vault_1", "auth/token/create", token: root, .obj(["ttl": "60s", "explicit_max_ttl": "120s"])).json?["auth"]?["client_token"]?.stringValue)
        var look = try h.get("vault_1", "auth/token/lookup-self", token: t).json?["data"]
        #expect(look?["ttl"]?.intValue == 60 && look?["creation_ttl"]?.intValue == 60)
        #expect(look?["expire_time"]?.stringValue != nil && look?["renewable"]?.boolValue == true)
        clock.advance(by: 50)
        #expect(try h.get("vault_1", "auth/token/lookup-self", token: t).json?["data"]?["ttl"]?.intValue == 10)
        let renewed = try h.put("vault_1", "auth/token/renew-self", token: t, .obj(["increment": "60s"]))
        #expect(renewed.status == 200)
        #expect(renewed.json?["auth"]?["client_token"]?.stringValue == t)
        #expect(renewed.json?["auth"]?["lease_duration"]?.intValue == 60)
        clock.advance(by: 50)
        // Capped at explicit_max_ttl (120 s after creation, now 100 s in).
        let capped = try h.put("vault_1", "auth/token/renew-self", token: t, .obj(["increment": 3600]))
        #expect(capped.json?["auth"]?["lease_duration"]?.intValue == 20)
        #expect(capped.json?["warnings"]?.stringList?.first?.contains("TTL value is capped accordingly") == true)
        clock.advance(by: 21)
        let expired = try h.get("vault_1", "auth/token/lookup-self", token: t)
        #expect(expired.status == 403 && expired.errors == ["permission denied"])
        look = try h.get("vault_1", "auth/token/lookup-self", token: root).json?["data"]
        #expect(look?["ttl"]?.intValue == 0)
        #expect(try h.put("vault_1", "auth/token/renew-self", token: root).status == 400)
    }

    @Test func appRoleLogin() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        let standby = h.standbyID  // everything below is forwarded
        #expect(try h.put(standby, "auth/approle/login", .obj(["role_id": "x", "secret_id": "y"])).status == 403)
        #expect(try h.put(standby, "sys/auth/approle", token: root, .obj(["type": "approle"])).status == 204)
        #expect(try h.put(standby, "sys/auth/approle", token: root, .obj(["type": "approle"])).status == 400)
        #expect(try h.get(standby, "sys/auth", token: root).json?["data"]?["approle/"]?["type"]?.stringValue == "approle")
        #expect(try h.put(standby, "sys/policy/snap", token: root, .obj(["policy": #"path "sys/storage/raft/snapshot" { capabilities = ["read"] }"#])).status == 204)
        #expect(try h.put(standby, "auth/approle/role/backup", token: root, .obj(["token_policies": "snap", "token_ttl": "20m"])).status == 204)
        let roleID = try #require(try h.get(standby, "auth/approle/role/backup/role-id", token: root).json?["data"]?["role_id"]?.stringValue)
        let sid = try h.put(standby, "auth/approle/role/backup/secret-id", token: root)
        let secretID = try #require(sid.json?["data"]?["secret_id"]?.stringValue)
        #expect(sid.json?["data"]?["secret_id_accessor"]?.stringValue?.isEmpty == false)

        let login = try h.put(standby, "auth/approle/login", .obj(["role_id": .string(roleID), "secret_id": .string(secretID)]))
        #expect(login.status == 200)
        let auth = try #require(login.json?["auth"])
        #expect(auth["policies"]?.stringList == ["default", "snap"])
        #expect(auth["token_policies"]?.stringList == ["default", "snap"])
        #expect(auth["metadata"]?["role_name"]?.stringValue == "backup")
        #expect(auth["lease_duration"]?.intValue == 1200)
        #expect(auth["renewable"]?.boolValue == true && auth["orphan"]?.boolValue == true && auth["token_type"]?.stringValue == "service")
        let token = try #require(auth["client_token"]?.stringValue)
        #expect(try h.get(standby, "auth/token/lookup-self", token: token).json?["data"]?["role"]?.stringValue == "backup")
        let wrong = try h.put(standby, "auth/approle/login", .obj(["role_id": .string(roleID), "secret_id": "nope"]))
        #expect(wrong.status == 400 && wrong.errors == ["invalid role or secret ID"])
        #expect(try h.put(standby, "auth/approle/login", .obj(["role_id": "nope", "secret_id": .string(secretID)])).errors == ["invalid role or secret ID"])
    }

    @Test func kvVersion2() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        #expect(try h.get("vault_1", "secret/data/missing", token: root).status == 404)
        #expect(try h.get("vault_1", "secret/data/missing", token: root).errors == [])
        let w1 = try h.put("vault_1", "secret/data/team/a", token: root, .obj(["data": .obj(["v": "1"])]))
        #expect(w1.json?["data"]?["version"]?.intValue == 1)
        _ = try h.put("vault_1", "secret/data/team/a", token: root, .obj(["data": .obj(["v": "2"])]))
        _ = try h.put("vault_1", "secret/data/team/sub/b", token: root, .obj(["data": .obj(["v": "3"])]))
        let cas = try h.put("vault_1", "secret/data/team/a", token: root, .obj(["data": .obj(["v": "x"]), "options": .obj(["cas": 1])]))
        #expect(cas.status == 400)
        #expect(try h.get("vault_1", "secret/data/team/a", token: root).json?["data"]?["data"]?["v"]?.stringValue == "2")
        #expect(try h.get("vault_1", "secret/data/team/a?version=1", token: root).json?["data"]?["data"]?["v"]?.stringValue == "1")
        #expect(try h.get("vault_1", "secret/metadata/team?list=true", token: root).json?["data"]?["keys"]?.stringList == ["a", "sub/"])
        let meta = try h.get("vault_1", "secret/metadata/team/a", token: root).json?["data"]
        #expect(meta?["current_version"]?.intValue == 2)
        #expect(meta?["versions"]?["1"]?["destroyed"]?.boolValue == false)
        #expect(try TestHTTP.send("DELETE", h.url("vault_1", "secret/data/team/a"), token: root).status == 204)
        #expect(try h.get("vault_1", "secret/data/team/a", token: root).status == 404)
        #expect(try TestHTTP.send("DELETE", h.url("vault_1", "secret/metadata/team/a"), token: root).status == 204)
        #expect(try h.get("vault_1", "secret/metadata/team/a", token: root).status == 404)
    }
}
