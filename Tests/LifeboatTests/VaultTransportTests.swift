// Vault client tests against a scripted loopback server: request headers, the error envelope and its operator
// messages, connection refused, leader discovery edge cases (unreachable leader_address, empty leader, no leader,
// sealed), the stall timeout (and that a slow consumer is not a stall), empty snapshots, redirect limits, TLS with
// a CA made by openssl (right CA, wrong CA, CA directory, skip-verify, server name) and https-to-http refusal.

import Foundation
import NIOCore
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

private func json(_ s: String) -> [UInt8] { Array(s.utf8) }

private func leaderBody(isSelf: Bool, leader: String) -> [UInt8] {
    json("{\"ha_enabled\":true,\"is_self\":\(isSelf),\"leader_address\":\"\(leader)\",\"leader_cluster_address\":\"\"}")
}

private func makeClient(_ addresses: [String], auth: VaultClientConfiguration.Authentication = .token(VaultSecret("hvs.test")),
                        tls: VaultClientConfiguration.TLS = .init(), namespace: String? = nil,
                        timeouts: VaultClientConfiguration.Timeouts = .init()) throws -> VaultClient {
    try VaultClient(configuration: try VaultClientConfiguration(addresses: addresses, authentication: auth, tls: tls, namespace: namespace, timeouts: timeouts))
}

/// A loopback port with nothing listening.
private func withVaultTestServers(_ servers: [VaultTestServer], _ body: () async throws -> Void) async throws {
    do { try await body() } catch {
        for s in servers { await s.stop() }
        throw error
    }
    for s in servers { await s.stop() }
}

@Suite struct VaultErrorMappingTests {
    @Test func sealed() {
        let e = VaultError.fromResponse(status: 503, body: json("{\"errors\":[\"Vault is sealed\"]}"), method: "GET", path: "sys/storage/raft/snapshot", address: "https://v:8200")
        #expect(e.kind == .sealed)
        #expect(e.statusCode == 503)
        #expect(e.vaultErrors == ["Vault is sealed"])
        #expect(e.message.contains("the cluster is sealed") && e.message.contains("unseal it (vault operator unseal) and run again"))
    }

    @Test func permissionDenied() {
        let e = VaultError.fromResponse(status: 403, body: json("{\"errors\":[\"1 error occurred:\\n\\t* permission denied\\n\\n\"]}"), method: "GET", path: "sys/storage/raft/snapshot", address: "https://v:8200")
        #expect(e.kind == .permissionDenied)
        #expect(e.message.hasPrefix("permission denied: the token lacks read on sys/storage/raft/snapshot; see policies/lifeboat-backup.hcl"))
        let restore = VaultError.fromResponse(status: 403, body: json("{\"errors\":[\"permission denied\"]}"), method: "POST", path: "sys/storage/raft/snapshot-force", address: "a")
        #expect(restore.message.contains("lacks update on sys/storage/raft/snapshot-force"))
    }

    @Test func noLeaderAndNotActive() {
        let e = VaultError.fromResponse(status: 500, body: json("{\"errors\":[\"local node not active but active cluster node not found\"]}"), method: "GET", path: "auth/token/lookup-self", address: "a")
        #expect(e.kind == .noLeader)
        #expect(e.suggestsLeaderChange)
        let n = VaultError.fromResponse(status: 503, body: json("{\"errors\":[\"node is not active\"]}"), method: "GET", path: "sys/storage/raft/snapshot", address: "a")
        #expect(n.kind == .noLeader)
    }

    @Test func restoreErrors() {
        let keys = VaultError.fromResponse(status: 400, body: json("{\"errors\":[\"could not verify hash file, possibly the snapshot is using a different set of unseal keys; use the snapshot-force API to bypass this check\"]}"), method: "POST", path: "sys/storage/raft/snapshot", address: "a")
        #expect(keys.kind == .snapshotKeyMismatch)
        #expect(keys.message.contains("use --force"))
        let integrity = VaultError.fromResponse(status: 500, body: json("{\"errors\":[\"failed to read snapshot file: failed checking integrity of snapshot: hash check failed for \\\"state.bin\\\"\"]}"), method: "POST", path: "sys/storage/raft/snapshot-force", address: "a")
        #expect(integrity.kind == .snapshotIntegrity)
        #expect(integrity.message.contains("hash check failed for \"state.bin\""))
        #expect(!integrity.suggestsLeaderChange)
    }

    @Test func genericAndNonJSON() {
        let e = VaultError.fromResponse(status: 404, body: json("{\"errors\":[]}"), method: "GET", path: "secret/data/x", address: "a")
        #expect(e.kind == .api)
        #expect(e.vaultErrors.isEmpty)
        #expect(e.message.contains("404"))
        let html = VaultError.fromResponse(status: 502, body: json("<html>bad gateway</html>"), method: "GET", path: "sys/leader", address: "a")
        #expect(html.vaultErrors == ["<html>bad gateway</html>"])
        #expect(html.suggestsLeaderChange)
    }

    @Test func backoffIsExponentialAndBounded() {
        let b = VaultBackoff(initial: .seconds(1), maximum: .seconds(30))
        #expect((1...7).map { b.delay(afterAttempt: $0) } == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), .seconds(30)])
    }
}

@Suite struct VaultTransportTests {
    @Test func requestsCarryVaultHeaders() async throws {
        let server = try await VaultTestServer.start { req in
            .full(status: 200, headers: [("Content-Type", "application/json")],
                  body: json("{\"data\":{\"ttl\":0,\"policies\":[\"root\"]}}"))
        }
        try await withVaultTestServers([server]) {
            try await withVaultClient(try makeClient([server.address], namespace: "team-a")) { c async throws in
                let me = try await c.lookupSelf()
                #expect(me.policies == ["root"])
            }
            let r = try #require(server.requests.first)
            #expect(r.uri == "/v1/auth/token/lookup-self")
            #expect(r.header("X-Vault-Token") == "hvs.test")
            #expect(r.header("X-Vault-Request") == "true")
            #expect(r.header("X-Vault-Namespace") == "team-a")
        }
    }

    @Test func agentSinkTokenIsReReadAfterA403() async throws {
        let sink = NSTemporaryDirectory() + "lifeboat-sink-" + UUID().uuidString
        try "hvs.old".write(toFile: sink, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: sink) }
        // The agent rotates the token while the old one is being refused.
        let server = try await VaultTestServer.start { req in
            if req.header("X-Vault-Token") == "hvs.new" {
                return .full(status: 200, headers: [], body: json("{\"data\":{\"ttl\":100}}"))
            }
            try? "hvs.new".write(toFile: sink, atomically: true, encoding: .utf8)
            return .full(status: 403, headers: [], body: json("{\"errors\":[\"permission denied\"]}"))
        }
        try await withVaultTestServers([server]) {
            try await withVaultClient(try makeClient([server.address], auth: .agentSink(sink))) { c async throws in
                #expect(try await c.lookupSelf().ttl == 100)
                #expect(await c.auth.statistics.fileReads == 2)
            }
            #expect(server.requests.map { $0.header("X-Vault-Token") } == ["hvs.old", "hvs.new"])
        }
    }

    @Test func connectionRefused() async throws {
        try await withRefusingLoopbackPort { port in
            let addr = "http://127.0.0.1:\(port)"
            try await withVaultClient(try makeClient([addr])) { c async throws in
                await #expect {
                    _ = try await c.leaderStatus(at: addr)
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .unreachable && v!.message.hasPrefix("cannot reach Vault at \(addr): connection refused")
                }
            }
        }
    }

    @Test func leaderAddressUnreachableFallsBackToTheConfiguredActiveNode() async throws {
        try await withRefusingLoopbackPort { port in
            let dead = "http://127.0.0.1:\(port)"
            let standby = try await VaultTestServer.start { _ in .full(status: 200, headers: [], body: leaderBody(isSelf: false, leader: dead)) }
            let active = try await VaultTestServer.start { _ in .full(status: 200, headers: [], body: leaderBody(isSelf: true, leader: dead)) }
            try await withVaultTestServers([standby, active]) {
                try await withVaultClient(try makeClient([standby.address, active.address])) { c async throws in
                    let leader = try await LeaderLocator(client: c).locate()
                    #expect(leader.address == active.address)
                    #expect(leader.reportedAddress == dead)
                }
                // Without the active node configured: a clear error naming the unusable leader.
                try await withVaultClient(try makeClient([standby.address])) { c async throws in
                    await #expect {
                        _ = try await LeaderLocator(client: c).locate()
                    } throws: { e in
                        let v = e as? VaultError
                        return v?.kind == .noLeader && v!.message.contains(dead) && v!.message.contains("LIFEBOAT_VAULT_ADDRS")
                    }
                }
            }
        }
    }

    @Test func noLeaderStates() async throws {
        let empty = try await VaultTestServer.start { _ in .full(status: 200, headers: [], body: leaderBody(isSelf: false, leader: "")) }
        let noActive = try await VaultTestServer.start { _ in
            .full(status: 500, headers: [], body: json("{\"errors\":[\"local node not active but active cluster node not found\"]}"))
        }
        let sealed = try await VaultTestServer.start { _ in .full(status: 503, headers: [], body: json("{\"errors\":[\"Vault is sealed\"]}")) }
        try await withVaultTestServers([empty, noActive, sealed]) {
            try await withVaultClient(try makeClient([empty.address])) { c async throws in
                await #expect {
                    _ = try await LeaderLocator(client: c).locate()
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .noLeader && v!.message.contains("leader_address is empty")
                }
            }
            try await withVaultClient(try makeClient([noActive.address, sealed.address])) { c async throws in
                await #expect {
                    _ = try await LeaderLocator(client: c).locate()
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .noLeader && v!.message.contains("knows no leader") && v!.message.contains("sealed")
                }
            }
            try await withVaultClient(try makeClient([sealed.address])) { c async throws in
                await #expect(throws: LocalNodeNotReady.self) { _ = try await LeaderLocator(client: c).onlyIfLeaderVerdict() }
            }
        }
    }

    @Test func stalledStreamIsCut() async throws {
        let server = try await VaultTestServer.start { _ in .stallAfter(status: 200, body: [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]) }
        try await withVaultTestServers([server]) {
            var t = VaultClientConfiguration.Timeouts()
            t.snapshotStall = .seconds(1)
            try await withVaultClient(try makeClient([server.address], timeouts: t)) { c async throws in
                var received = 0
                await #expect {
                    try await c.streamSnapshot(from: server.address) { received += $0.readableBytes }
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .stalled && v!.message.hasPrefix("snapshot stream stalled: no data for 1 s from \(server.address)")
                }
                #expect(received == 8)
            }
        }
    }

    @Test func slowConsumerIsNotAStall() async throws {
        let payload = [UInt8](repeating: 7, count: 300_000)
        let server = try await VaultTestServer.start { _ in .full(status: 200, headers: [], body: payload) }
        try await withVaultTestServers([server]) {
            var t = VaultClientConfiguration.Timeouts()
            t.snapshotStall = .milliseconds(300)
            try await withVaultClient(try makeClient([server.address], timeouts: t)) { c async throws in
                var received = 0
                var calls = 0
                let result = try await c.streamSnapshot(from: server.address) { chunk in
                    calls += 1
                    if calls == 1 { try await Task.sleep(for: .milliseconds(900)) }
                    received += chunk.readableBytes
                }
                #expect(received == payload.count)
                #expect(result.bytes == Int64(payload.count))
            }
        }
    }

    @Test func emptySnapshotIsAnError() async throws {
        let server = try await VaultTestServer.start { _ in .full(status: 200, headers: [], body: []) }
        try await withVaultTestServers([server]) {
            try await withVaultClient(try makeClient([server.address])) { c async throws in
                await #expect {
                    try await c.streamSnapshot(from: server.address) { _ in }
                } throws: { e in
                    (e as? VaultError).map { $0.message.contains("without sending a byte") && $0.suggestsLeaderChange } == true
                }
            }
        }
    }

    @Test func redirectLoopsAreBounded() async throws {
        let server = try await VaultTestServer.start { req in
            .full(status: 307, headers: [("Location", req.uri)], body: [])
        }
        try await withVaultTestServers([server]) {
            try await withVaultClient(try makeClient([server.address])) { c async throws in
                await #expect {
                    try await c.streamSnapshot(from: server.address) { _ in }
                } throws: { e in
                    (e as? VaultError)?.message.contains("more than 3 redirects") == true
                }
                #expect(server.requests.count == 4)
                #expect(server.requests.allSatisfy { $0.header("X-Vault-Token") == "hvs.test" })
            }
        }
    }
}

@Suite(.serialized) struct VaultTLSTests {
    @Test func testCAIsTrustedAndAWrongCAIsRefused() async throws {
        let pki = try VaultTestPKI.make(names: ["localhost"], ipSAN: true)
        defer { pki.remove() }
        let server = try await VaultTestServer.start(tls: (pki.serverCert, pki.serverKey)) { _ in
            .full(status: 200, headers: [], body: leaderBody(isSelf: true, leader: ""))
        }
        try await withVaultTestServers([server]) {
            #expect(server.address.hasPrefix("https://"))
            try await withVaultClient(try makeClient([server.address], tls: .init(caCertFile: pki.caCert))) { c async throws in
                #expect(try await c.leaderStatus(at: server.address).isSelf)
            }
            let caDir = pki.directory + "/cadir"
            try FileManager.default.createDirectory(atPath: caDir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: pki.caCert, toPath: caDir + "/ca.pem")
            try FileManager.default.copyItem(atPath: pki.otherCACert, toPath: caDir + "/other.pem")
            try await withVaultClient(try makeClient([server.address], tls: .init(caPath: caDir))) { c async throws in
                #expect(try await c.leaderStatus(at: server.address).isSelf)
            }
            try await withVaultClient(try makeClient([server.address], tls: .init(caCertFile: pki.otherCACert))) { c async throws in
                await #expect {
                    _ = try await c.leaderStatus(at: server.address)
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .tls && v!.message.contains(pki.otherCACert) && v!.message.contains("VAULT_CACERT")
                        && v!.message.contains(server.address)
                }
            }
            // The system store does not know the test CA either.
            try await withVaultClient(try makeClient([server.address])) { c async throws in
                await #expect {
                    _ = try await c.leaderStatus(at: server.address)
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .tls && v!.message.contains("system trust store")
                }
            }
            try await withVaultClient(try makeClient([server.address], tls: .init(skipVerify: true))) { c async throws in
                #expect(try await c.leaderStatus(at: server.address).isSelf)
            }
        }
    }

    @Test func serverNameOverride() async throws {
        let pki = try VaultTestPKI.make(names: ["vault.test"], ipSAN: false)
        defer { pki.remove() }
        let server = try await VaultTestServer.start(tls: (pki.serverCert, pki.serverKey)) { _ in
            .full(status: 200, headers: [], body: leaderBody(isSelf: true, leader: ""))
        }
        try await withVaultTestServers([server]) {
            try await withVaultClient(try makeClient([server.address], tls: .init(caCertFile: pki.caCert))) { c async throws in
                await #expect {
                    _ = try await c.leaderStatus(at: server.address)
                } throws: { e in (e as? VaultError)?.kind == .tls }
            }
            try await withVaultClient(try makeClient([server.address], tls: .init(caCertFile: pki.caCert, serverName: "vault.test"))) { c async throws in
                #expect(try await c.leaderStatus(at: server.address).isSelf)
            }
        }
    }

    @Test func unreadableCAFileIsAConfigurationError() throws {
        #expect {
            _ = try makeClient(["https://127.0.0.1:8200"], tls: .init(caCertFile: "/nonexistent/ca.pem"))
        } throws: { e in
            let v = e as? VaultError
            return v?.kind == .configuration && v!.message.contains("/nonexistent/ca.pem") && v!.message.contains("no such file")
        }
    }

    @Test func httpsToHTTPRedirectIsRefused() async throws {
        let pki = try VaultTestPKI.make(names: ["localhost"], ipSAN: true)
        defer { pki.remove() }
        let plain = try await VaultTestServer.start { _ in .full(status: 200, headers: [], body: [1, 2, 3]) }
        let tlsServer = try await VaultTestServer.start(tls: (pki.serverCert, pki.serverKey)) { req in
            .full(status: 307, headers: [("Location", plain.address + req.uri)], body: [])
        }
        try await withVaultTestServers([plain, tlsServer]) {
            try await withVaultClient(try makeClient([tlsServer.address], tls: .init(caCertFile: pki.caCert))) { c async throws in
                await #expect {
                    try await c.streamSnapshot(from: tlsServer.address) { _ in }
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .redirect && v!.message.contains("from https to http")
                }
            }
            #expect(plain.requests.isEmpty)
            #expect(tlsServer.requests.count == 1)
        }
    }
}
