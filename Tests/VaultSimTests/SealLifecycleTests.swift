// sys/init, sys/unseal, sys/seal-status, sys/health, sys/leader and sys/seal over real HTTP: every status code
// and message docs/vault-behaviour.md §2-§4 lists.

import Foundation
import Testing
@testable import VaultSim

@Suite(.serialized) struct SealLifecycleTests {
    @Test func uninitializedNodeAnswersLikeVault() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let health = try h.get("vault_1", "sys/health")
        #expect(health.status == 501)
        #expect(health.json?["initialized"]?.boolValue == false)
        #expect(health.json?["sealed"]?.boolValue == true)
        #expect(health.json?["standby"]?.boolValue == true)
        #expect(health.header("Cache-Control") == "no-store")
        #expect(try h.get("vault_1", "sys/health?uninitcode=299").status == 299)
        let status = try h.get("vault_1", "sys/seal-status").json
        #expect(status?["initialized"]?.boolValue == false)
        #expect(status?["t"]?.intValue == 0 && status?["n"]?.intValue == 0 && status?["nonce"]?.stringValue == "")
        #expect(try h.get("vault_1", "sys/init").json?["initialized"]?.boolValue == false)
        #expect(try h.get("vault_1", "sys/leader").status == 503)
        let sealed = try h.get("vault_1", "sys/storage/raft/configuration", token: "x")
        #expect(sealed.status == 503)
        #expect(sealed.errors == ["Vault is sealed"])
    }

    @Test(arguments: [
        (0, 1, "invalid seal configuration: shares must be at least one"),
        (1, 0, "invalid seal configuration: threshold must be at least one"),
        (3, 1, "invalid seal configuration: threshold must be greater than one for multiple shares"),
        (256, 3, "invalid seal configuration: shares must be less than 256"),
        (2, 3, "invalid seal configuration: threshold cannot be larger than shares"),
    ])
    func initValidation(shares: Int, threshold: Int, message: String) async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let r = try h.put("vault_1", "sys/init", .obj(["secret_shares": .int(shares), "secret_threshold": .int(threshold)]))
        #expect(r.status == 400)
        #expect(r.errors == [message])
    }

    @Test func initUnsealAndStatusProgression() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let recovery = try h.put("vault_1", "sys/init", .obj(["secret_shares": 5, "secret_threshold": 3, "recovery_shares": 2]))
        #expect(recovery.status == 400)
        #expect(recovery.errors == ["parameters recovery_shares not applicable to seal type shamir"])

        let r = try h.put("vault_1", "sys/init", .obj(["secret_shares": 5, "secret_threshold": 3]))
        #expect(r.status == 200)
        let hex = try #require(r.json?["keys"]?.stringList)
        let b64 = try #require(r.json?["keys_base64"]?.stringList)
        #expect(hex.count == 5 && b64.count == 5)
        #expect(hex.allSatisfy { $0.count == 66 })
        #expect(b64.allSatisfy { $0.count == 44 })
        #expect(r.json?["root_token"]?.stringValue?.hasPrefix("hvs.") == true)
        let again = try h.put("vault_1", "sys/init", .obj(["secret_shares": 1, "secret_threshold": 1]))
        #expect(again.status == 400 && again.errors == ["Vault is already initialized"])

        var s = try h.get("vault_1", "sys/seal-status").json
        #expect(s?["sealed"]?.boolValue == true && s?["t"]?.intValue == 3 && s?["n"]?.intValue == 5 && s?["progress"]?.intValue == 0)
        #expect(try h.get("vault_1", "sys/health").status == 503)

        // Errors on the key itself.
        #expect(try h.put("vault_1", "sys/unseal", .obj([:])).errors == ["'key' must be specified in request body as JSON, or 'reset' set to true"])
        #expect(try h.put("vault_1", "sys/unseal", .obj(["key": "%%%"])).errors == ["'key' must be a valid hex or base64 string"])
        #expect(try h.put("vault_1", "sys/unseal", .obj(["key": "abcd"])).errors == ["invalid key: key is shorter than minimum 16 bytes"])
        let long = Data(repeating: 1, count: 40).base64EncodedString()
        #expect(try h.put("vault_1", "sys/unseal", .obj(["key": .string(long)])).errors == ["invalid key: key is longer than maximum 33 bytes"])
        #expect(try TestHTTP.send("GET", h.url("vault_1", "sys/unseal")).status == 405)

        // Progress, nonce, repeated share ignored, reset.
        s = try h.put("vault_1", "sys/unseal", .obj(["key": .string(hex[0])])).json
        #expect(s?["progress"]?.intValue == 1)
        let nonce = try #require(s?["nonce"]?.stringValue)
        #expect(!nonce.isEmpty)
        s = try h.put("vault_1", "sys/unseal", .obj(["key": .string(b64[0])])).json  // same share, base64 form
        #expect(s?["progress"]?.intValue == 1 && s?["nonce"]?.stringValue == nonce)
        s = try h.put("vault_1", "sys/unseal", .obj(["reset": true])).json
        #expect(s?["progress"]?.intValue == 0 && s?["nonce"]?.stringValue == "")

        // A wrong share set fails only at the threshold, and resets progress.
        let wrong = Data(Array(Data(base64Encoded: b64[2])!.dropLast()).map { $0 ^ 0x55 } + [Data(base64Encoded: b64[2])!.last!]).base64EncodedString()
        _ = try h.put("vault_1", "sys/unseal", .obj(["key": .string(b64[0])]))
        _ = try h.put("vault_1", "sys/unseal", .obj(["key": .string(b64[1])]))
        let bad = try h.put("vault_1", "sys/unseal", .obj(["key": .string(wrong)]))
        #expect(bad.status == 400)
        #expect(bad.errors == ["Unseal failed, invalid key"])
        #expect(try h.get("vault_1", "sys/seal-status").json?["progress"]?.intValue == 0)

        for k in [hex[4], b64[1], hex[3]] { s = try h.put("vault_1", "sys/unseal", .obj(["key": .string(k)])).json }
        #expect(s?["sealed"]?.boolValue == false && s?["progress"]?.intValue == 0)
        #expect(s?["cluster_name"]?.stringValue?.hasPrefix("vault-cluster-") == true)
        #expect(try h.put("vault_1", "sys/unseal", .obj(["reset": true])).errors == ["vault is unsealed"])
        _ = try await h.sim.waitForActive()
        let health = try h.get("vault_1", "sys/health")
        #expect(health.status == 200)
        #expect(health.json?["cluster_id"]?.stringValue?.isEmpty == false)
        let leader = try h.get("vault_1", "sys/leader").json
        #expect(leader?["is_self"]?.boolValue == true)
        #expect(leader?["leader_address"]?.stringValue == h.sim.apiAddress("vault_1"))
        #expect((leader?["raft_applied_index"]?.intValue ?? 0) > 0)
    }

    @Test func healthCodesAndParameters() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        _ = try await h.sim.initializeCluster()
        let active = try #require(h.sim.activeNodeID)
        let standby = h.standbyID
        #expect(try h.get(active, "sys/health").status == 200)
        #expect(try h.get(standby, "sys/health").status == 429)
        #expect(try h.get(standby, "sys/health?standbyok=true").status == 200)
        #expect(try h.get(standby, "sys/health?standbycode=299").status == 299)
        #expect(try h.get(active, "sys/health?activecode=204").status == 204)
        let bad = try h.get(active, "sys/health?standbycode=abc")
        #expect(bad.status == 400 && bad.errors == [])
        #expect(try h.get(active, "sys/health?standbyok=maybe").status == 400)
        let head = try TestHTTP.send("HEAD", h.url(standby, "sys/health"))
        #expect(head.status == 429 && head.body.isEmpty)
        let standbyLeader = try h.get(standby, "sys/leader").json
        #expect(standbyLeader?["is_self"]?.boolValue == false)
        #expect(standbyLeader?["active_time"]?.stringValue == "0001-01-01T00:00:00Z")
        #expect(standbyLeader?["leader_address"]?.stringValue == h.sim.apiAddress(active))
        h.sim.sealNode(standby)
        #expect(try h.get(standby, "sys/health").status == 503)
        #expect(try h.get(standby, "sys/health?sealedcode=299").status == 299)
        let sealedLeader = try h.get(standby, "sys/leader")
        #expect(sealedLeader.status == 503 && sealedLeader.errors == ["Vault is sealed"])
    }

    @Test func sealNeedsSudoAndIsRefusedOnStandby() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let keys = try await h.sim.initializeCluster()
        let active = try #require(h.sim.activeNodeID)
        let standby = h.standbyID
        #expect(try h.put(active, "sys/seal").status == 403)
        // A token with update but not sudo on sys/seal gets the multierror 403.
        #expect(try h.put(active, "sys/policy/sealer", token: keys.rootToken, .obj(["policy": #"path "sys/seal" { capabilities = ["update"] }"#])).status == 204)
        let t = try h.put(active, "auth/token/create", token: keys.rootToken, .obj(["policies": .strings(["sealer"])])).json?["auth"]?["client_token"]?.stringValue
        let denied = try h.put(active, "sys/seal", token: t)
        #expect(denied.status == 403 && denied.errors == ["1 error occurred:\n\t* permission denied\n\n"])
        let onStandby = try h.put(standby, "sys/seal", token: keys.rootToken)
        #expect(onStandby.status == 500)
        #expect(onStandby.errors == ["vault cannot seal when in standby mode; please restart instead"])
        let ok = try h.put(active, "sys/seal", token: keys.rootToken)
        #expect(ok.status == 204 && ok.body.isEmpty)
        #expect(ok.header("Content-Type") == "application/json")
        #expect(try h.get(active, "sys/seal-status").json?["sealed"]?.boolValue == true)
        #expect(try h.put(active, "sys/seal", token: keys.rootToken).status == 204)  // already sealed: no-op
    }

    @Test func namespaceHeaderIsEchoedAndBearerTokensWork() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let keys = try await h.sim.initializeCluster()
        let r = try h.get("vault_1", "auth/token/lookup-self", headers: [("Authorization", "Bearer " + keys.rootToken), ("X-Vault-Namespace", "team-a/")])
        #expect(r.status == 200)
        #expect(r.header("X-Vault-Namespace") == "team-a/")
        #expect(r.json?["data"]?["policies"]?.stringList == ["root"])
        #expect(r.json?["data"]?["expire_time"] == .null)
        #expect(r.json?["data"]?["path"]?.stringValue == "auth/token/root")
        let unknown = try h.get("vault_1", "auth/token/lookup-self", token: "hvs.nope")
        #expect(unknown.status == 403 && unknown.errors == ["permission denied"])
        #expect(try h.get("vault_1", "no/such/mount", token: keys.rootToken).status == 404)
    }
}
