// Hostile requests (issue 15): each one used to kill the whole simulator (every node) with a trap. Each is sent
// over HTTP to a running simulator and must be answered with an error while the simulator keeps serving.

import Foundation
import Testing
import LifeboatArchive
@testable import VaultSim
import LifeboatSnapshot

@Suite(.serialized) struct HostileInputTests {
    /// The simulator still answers (the process did not trap).
    static func alive(_ h: SimHarness, _ node: String = "vault_1") throws {
        let r = try h.get(node, "sys/seal-status")
        #expect(r.status == 200)
    }

    @Test func unsealKeysOfEveryBadLengthOnOneOfOne() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let keys = try await h.sim.initializeCluster(shares: 1, threshold: 1)
        h.sim.sealNode("vault_1")
        for n in [16, 20, 24, 31, 33] {
            let key = Data(SecureRandom.bytes(n)).base64EncodedString()
            let r = try h.put("vault_1", "sys/unseal", .obj(["key": .string(key)]))
            #expect(r.status == 400, "a \(n)-byte key")
            if [16, 24].contains(n) {
                #expect(r.errors == ["Unseal failed, invalid key"])
            } else {
                #expect(r.errors == ["invalid key: failed to setup unseal key: crypto/aes: invalid key size \(n)"])
            }
            try Self.alive(h)
        }
        // Hex of 33 bytes too (hex is tried first).
        let hex = Hex.encode(SecureRandom.bytes(33))
        #expect(try h.put("vault_1", "sys/unseal", .obj(["key": .string(hex)])).status == 400)
        let ok = try h.put("vault_1", "sys/unseal", .obj(["key": .string(keys.keysBase64[0])]))
        #expect(ok.status == 200 && ok.json?["sealed"] == .bool(false))
    }

    @Test func equalLengthSharesOfTheWrongLength() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let keys = try await h.sim.initializeCluster(shares: 3, threshold: 2)
        h.sim.sealNode("vault_1")
        for n in [2, 17, 20, 25, 32] {
            var a = SecureRandom.bytes(n), b = SecureRandom.bytes(n)
            a[n - 1] = 1
            b[n - 1] = 2
            _ = try h.put("vault_1", "sys/unseal", .obj(["key": .string(Data(a).base64EncodedString())]))
            let r = try h.put("vault_1", "sys/unseal", .obj(["key": .string(Data(b).base64EncodedString())]))
            #expect(r.status == 400, "\(n)-byte shares")
            try Self.alive(h)
        }
        // And the library function itself on such shares: a result, not a trap.
        #expect(try Shamir.combine([[1, 2, 3, 4, 9], [5, 6, 7, 8, 10]]).count == 4)
        try h.sim.unseal("vault_1", keys: Array(keys.keysBase64.prefix(2)))
        #expect(h.sim.nodes[0].sealed == false)
    }

    @Test func loneSurrogatesDecodeAsGoDoes() async throws {
        #expect(JSONValue.parse(Array(#""\uD800\u0041""#.utf8)) == .string("\u{FFFD}A"))
        #expect(JSONValue.parse(Array(#""\uD83D\uDE00""#.utf8)) == .string("😀"))
        #expect(JSONValue.parse(Array(#""\uDC00x""#.utf8)) == .string("\u{FFFD}x"))
        #expect(JSONValue.parse(Array(#""\uD800""#.utf8)) == .string("\u{FFFD}"))
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        let body = Array(#"{"data":{"v":"\uD800\u0041"}}"#.utf8)
        #expect(try h.put("vault_1", "secret/data/s", token: root, body: body).status == 200)
        let r = try h.get("vault_1", "secret/data/s", token: root)
        #expect(r.json?["data"]?["data"]?["v"] == .string("\u{FFFD}A"))
    }

    @Test func hugeNumbersAreErrors() async throws {
        #expect(JSONValue.double(1e19).intValue == nil)
        #expect(JSONValue.double(-1e300).intValue == nil)
        #expect(GoDuration.seconds(from: 1e19 as Double) == nil)
        #expect(GoDuration.seconds(from: "99999999999999999999h") == nil)
        #expect(GoDuration.seconds(from: "9223372036854775807") == nil)
        #expect(GoDuration.seconds(from: Int.min) == nil)
        // Go refuses a number beyond float64 (strconv: value out of range); so does the parser (not infinity).
        #expect(JSONValue.parse(Array("1e400".utf8)) == nil)
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        #expect(try h.put("vault_1", "sys/init", body: Array(#"{"secret_shares":1e19,"secret_threshold":1}"#.utf8)).status == 400)
        let root = try await h.sim.initializeCluster().rootToken
        for field in ["ttl", "explicit_max_ttl", "period"] {
            let r = try h.put("vault_1", "auth/token/create", token: root, body: Array(#"{"\#(field)":1e19}"#.utf8))
            #expect(r.status == 400, "\(field)")
            let s = try h.put("vault_1", "auth/token/create", token: root, body: Array(#"{"\#(field)":"99999999999999h"}"#.utf8))
            #expect(s.status == 400, "\(field) as a string")
        }
        #expect(try h.put("vault_1", "auth/token/renew-self", token: root, body: Array(#"{"increment":1e19}"#.utf8)).status == 400)
        #expect(try h.put("vault_1", "secret/data/n", token: root, body: Array(#"{"options":{"cas":1e19},"data":{"a":1}}"#.utf8)).status == 400)
        try Self.alive(h)
    }

    @Test func hostileFaultAndSeedRequestsAndHealthCodes() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        _ = try await h.sim.initializeCluster()
        let control = try #require(h.sim.controlAddress)
        for body in [#"{"type":"fail","path":"sys/health","status":-1}"#, #"{"type":"fail","path":"sys/health","status":1e19}"#,
                     #"{"type":"fail","path":"sys/health","status":1000}"#,
                     #"{"type":"delay-first-byte","path":"sys/health","delay_ms":9223372036854775807}"#,
                     #"{"type":"delay-first-byte","path":"sys/health","delay_ms":-5}"#,
                     #"{"type":"truncate-next-snapshot","after_bytes":-1}"#, #"{"type":"throttle","bytes_per_second":-1}"#] {
            let r = try TestHTTP.send("POST", control + "/faults", body: Array(body.utf8))
            #expect(r.status == 400, "\(body)")
        }
        for body in [#"{"bytes":9223372036854775807}"#, #"{"bytes":1024,"value_size":-1}"#, #"{"bytes":1e19}"#] {
            #expect(try TestHTTP.send("POST", control + "/seed", body: Array(body.utf8)).status == 400, "\(body)")
        }
        // A status no HTTP response can carry, injected in-process: the connection drops (as Go's net/http does
        // on an invalid WriteHeader code), the simulator stays up.
        h.sim.inject(.failRequests(path: "sys/leader", status: -5, count: 1, message: "x"))
        let dropped = try? h.get("vault_1", "sys/leader")
        #expect(dropped == nil || dropped?.connectionError == true || dropped?.status == 0)
        #expect(try h.get("vault_1", "sys/leader").status == 200)
        for code in ["-1", "99", "1000", "99999999999999999999"] {
            let r = try? h.get("vault_1", "sys/health?activecode=" + code)
            #expect(r == nil || r?.status == 400 || r?.connectionError == true || r?.status == 0, "activecode=\(code)")
        }
        try Self.alive(h)
    }

    @Test func uploadedKeyringWithAKeyOfTheWrongLength() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        let rootKey = try #require(h.sim.core.lock.withLock { h.sim.core.node("vault_1")?.keys?.rootKey })
        // A keyring that opens with this cluster's root key but holds a 16-byte barrier key.
        let ring = Barrier.keyringJSON(rootKey: rootKey, keys: [1: SecureRandom.bytes(16)], installTime: "2026-01-01T00:00:00Z")
        let value = try Barrier.encrypt(key: rootKey, term: 1, path: Barrier.keyringPath, plaintext: ring)
        let state = StateBin.entryPrefix(key: Barrier.keyringPath, valueLength: value.count) + value
        let meta = Array(#"{"Version":1,"ID":"x","Index":50,"Term":2,"Size":\#(state.count)}"#.utf8) + [0x0a]
        let snap = try ArchiveKit.gzip(ArchiveKit.tar([("meta.json", meta), ("state.bin", state),
                                                      ("SHA256SUMS", ArchiveKit.sums(meta: meta, state: state))]))
        let r = try TestHTTP.send("POST", h.url("vault_1", "sys/storage/raft/snapshot-force"), token: root, body: snap)
        #expect(r.status == 204)
        try await h.waitUntil("the node seals (its keyring no longer opens)") { try h.get("vault_1", "sys/seal-status").json?["sealed"] == .bool(true) }
        try Self.alive(h)
        // Likewise a state.bin whose frame length claims 2^64-1 bytes.
        #expect(throws: (any Error).self) {
            let path = h.directory + "/bad-state.bin"
            try Data([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x0a]).write(to: URL(fileURLWithPath: path))
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            _ = try ValueStore.indexStateFile(fd: fd)
        }
    }

    /// Deterministic xorshift64* generator (seeded, so a failure reproduces).
    struct Xorshift: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    /// Every handler gets hostile bodies and queries (wrong types, huge and negative numbers, lone surrogates,
    /// deep nesting, garbage bytes): each answers with a status, none traps.
    @Test func randomHostileRequestsToEveryHandlerNeverTrap() async throws {
        let h = try await SimHarness.start(nodes: 2)
        defer { h.stopNow() }
        let initResult = try await h.sim.initializeCluster()
        let root = initResult.rootToken
        for (path, body) in [("sys/mounts/kv1", #"{"type":"kv"}"#), ("sys/mounts/tr", #"{"type":"transit"}"#),
                             ("tr/keys/k", "{}"), ("sys/auth/approle", #"{"type":"approle"}"#), ("auth/approle/role/r", "{}")] {
            #expect([200, 204].contains(try h.put("vault_1", path, token: root, body: Array(body.utf8)).status), "\(path)")
        }
        let paths = ["sys/init", "sys/unseal", "sys/seal", "sys/health", "sys/leader", "sys/seal-status", "sys/storage/raft/join",
                     "sys/storage/raft/remove-peer", "sys/mounts", "sys/mounts/x", "sys/mounts/kv1/tune", "sys/mounts/secret",
                     "sys/policy/p", "sys/policies/acl/p", "sys/auth/approle", "auth/token/create", "auth/token/renew-self",
                     "auth/token/lookup-self", "auth/approle/role/r", "auth/approle/role/r/secret-id", "auth/approle/role/r/role-id",
                     "auth/approle/login", "secret/data/a", "secret/metadata/a", "secret/delete/a", "secret/undelete/a",
                     "secret/destroy/a", "secret/config", "kv1/a", "tr/keys/k", "tr/keys/k/config", "tr/keys/k/rotate",
                     "tr/encrypt/k", "tr/decrypt/k", "tr/rewrap/k", "tr/encrypt/new", "nomount/x"]
        let methods = ["GET", "PUT", "POST", "DELETE", "LIST"]
        let atoms = [#"1e19"#, #"-1e19"#, #"-1"#, #"0"#, #"9223372036854775807"#, #"-9223372036854775808"#, #"1.5"#, #"1e400"#,
                     #""\uD800\u0041""#, #""\uDFFF""#, #""%%%""#, #""vault:v1:""#, #""vault:v99999999999999999999:AA==""#, #"null"#,
                     #"true"#, #""""#, #""99999999999999h""#, #"[]"#, #"{}"#, #"[1e19,"x",null]"#, #""AAAA""#,
                     #""\u0000""#, String(repeating: "[", count: 600) + String(repeating: "]", count: 600)]
        let keys = ["key", "reset", "secret_shares", "secret_threshold", "recovery_shares", "stored_shares", "pgp_keys", "type",
                    "options", "config", "version", "versions", "data", "cas", "max_versions", "plaintext", "ciphertext",
                    "key_version", "batch_input", "min_decryption_version", "ttl", "period", "explicit_max_ttl", "policies",
                    "policy", "rules", "role_id", "secret_id", "leader_api_addr", "retry", "server_id", "increment",
                    "token_ttl", "num_uses", "default_lease_ttl", "max_lease_ttl", "description", "metadata", "deletion_allowed"]
        var rng = Xorshift(state: 0x9E37_79B9_7F4A_7C15)
        func value(_ depth: Int) -> String {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0 where depth < 3: return "{" + (0..<Int.random(in: 0...3, using: &rng)).map { _ in "\"\(keys.randomElement(using: &rng)!)\":\(value(depth + 1))" }.joined(separator: ",") + "}"
            case 1 where depth < 3: return "[" + (0..<Int.random(in: 0...3, using: &rng)).map { _ in value(depth + 1) }.joined(separator: ",") + "]"
            default: return atoms.randomElement(using: &rng)!
            }
        }
        var served = 0
        for i in 0..<3000 {
            let path = paths.randomElement(using: &rng)!
            let method = methods.randomElement(using: &rng)!
            var body: [UInt8]
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: body = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1: body = []
            default:
                body = Array(("{" + (0..<Int.random(in: 1...5, using: &rng)).map { _ in "\"\(keys.randomElement(using: &rng)!)\":\(value(0))" }.joined(separator: ",") + "}").utf8)
            }
            let query = Bool.random(using: &rng) ? "list=" + ["true", "1", "x", ""].randomElement(using: &rng)! + "&version=" + atoms.randomElement(using: &rng)! : nil
            let node = Bool.random(using: &rng) ? "vault_1" : "vault_2"
            let token: String? = Int.random(in: 0..<5, using: &rng) == 0 ? nil : root
            var headers: [(String, String)] = []
            if let token { headers.append(("X-Vault-Token", token)) }
            let r = h.sim.core.handle(nodeID: node, request: SimRequest(method: method, path: "/v1/" + path, rawQuery: query,
                                                                       headers: headers, body: body, bodyFile: nil))
            #expect(r.resetImmediately || (100...599).contains(r.status), "request \(i): \(method) \(path)")
            if r.status != 503 { served += 1 }
            // Keep the cluster usable: unseal whatever a sys/seal request sealed.
            for n in h.sim.nodes where n.sealed && n.running { try? h.sim.unseal(n.id, keys: initResult.keysBase64) }
        }
        #expect(served > 2000, "most requests reached a handler (\(served) of 3000)")
        try Self.alive(h)
    }
}
