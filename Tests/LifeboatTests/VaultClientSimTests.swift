// Vault client tests against VaultSim in-process (3 nodes on loopback): typed endpoints, leader discovery with a
// standby first, --only-if-leader, 307 following with the token, 403 mapping and one re-auth retry, a sealed
// cluster, AppRole login/renewal/re-login against the simulator's own clock, withLeaderRetry after a reset
// stream and its bound, and restore uploads (accepted, foreign key set, damaged).

import Foundation
import LifeboatSnapshot
import NIOCore
import LifeboatArchive
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
@testable import VaultSim

/// A started simulator with an initialized, unsealed cluster.
final class VaultClientSimHarness: @unchecked Sendable {
    let sim: VaultSimulator
    let directory: String
    let root: VaultSecret
    let simClock: ManualClock

    static func start(nodes: Int = 3) async throws -> VaultClientSimHarness {
        let dir = NSTemporaryDirectory() + "lifeboat-vault-sim-" + UUID().uuidString
        var config = VaultSimulator.Configuration(dataDirectory: dir)
        config.nodeCount = nodes
        config.electionDelay = .milliseconds(30)
        config.restoreApplyDelay = .milliseconds(50)
        let clock = ManualClock()
        config.clock = clock
        let sim = try await VaultSimulator.start(config)
        do {
            let result = try await sim.initializeCluster()
            return VaultClientSimHarness(sim: sim, directory: dir, root: VaultSecret(result.rootToken), clock: clock)
        } catch {
            await sim.shutdown()
            throw error
        }
    }

    private init(sim: VaultSimulator, directory: String, root: VaultSecret, clock: ManualClock) {
        self.sim = sim
        self.directory = directory
        self.root = root
        self.simClock = clock
    }

    var leaderID: String { sim.activeNodeID! }
    var leaderAddress: String { sim.apiAddress(leaderID)! }
    var standbyAddresses: [String] { sim.nodes.filter { !$0.active && $0.running && !$0.sealed }.map(\.apiAddress) }

    func client(_ addresses: [String], auth: VaultClientConfiguration.Authentication? = nil, clock: any VaultClock = SystemVaultClock(),
                timeouts: VaultClientConfiguration.Timeouts = .init()) throws -> VaultClient {
        let config = try VaultClientConfiguration(addresses: addresses, authentication: auth ?? .token(root), timeouts: timeouts)
        return try VaultClient(configuration: config, clock: clock)
    }

    func stop() async {
        await sim.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Records backoff waits instead of sleeping.
final class VaultRecordingSleeper: VaultSleeper {
    let delays = PThreadLocked<[Duration]>([])
    func sleep(for duration: Duration) async throws { delays.withLock { $0.append(duration) } }
    var recorded: [Duration] { delays.withLock { $0 } }
}

/// Runs `body` with a harness and a client, always cleaning up.
func withVaultSim(nodes: Int = 3, _ body: (VaultClientSimHarness) async throws -> Void) async throws {
    let h = try await VaultClientSimHarness.start(nodes: nodes)
    do { try await body(h) } catch {
        await h.stop()
        throw error
    }
    await h.stop()
}

func withVaultClient(_ client: VaultClient, _ body: (VaultClient) async throws -> Void) async throws {
    do { try await body(client) } catch {
        try? await client.shutdown()
        throw error
    }
    try await client.shutdown()
}

/// Downloads a whole snapshot into memory.
func vaultDownloadSnapshot(_ client: VaultClient, from leader: String? = nil) async throws -> ([UInt8], VaultSnapshotDownload) {
    var bytes: [UInt8] = []
    let result = try await client.streamSnapshot(from: leader) { chunk in bytes.append(contentsOf: chunk.readableBytesView) }
    return (bytes, result)
}

@Suite(.serialized) struct VaultClientSimTests {
    @Test func typedEndpointsAgainstTheSimulator() async throws {
        try await withVaultSim { h async throws in
            let standby = h.standbyAddresses[0]
            try await withVaultClient(try h.client([h.leaderAddress] + h.standbyAddresses)) { c async throws in
                let (activeStatus, activeHealth) = try await c.health(at: h.leaderAddress)
                #expect(activeStatus == 200)
                #expect(activeHealth.initialized && !activeHealth.sealed && !activeHealth.standby)
                let (standbyStatus, standbyHealth) = try await c.health(at: standby)
                #expect(standbyStatus == 429)
                #expect(standbyHealth.standby)
                #expect(try await c.health(at: standby, query: .init(standbyOK: true)).status == 200)
                #expect(try await c.health(at: standby, query: .init(standbyCode: 299)).status == 299)

                let seal = try await c.sealStatus(at: standby)
                #expect(seal.initialized && !seal.sealed && seal.t == 1 && seal.n == 1)
                #expect(try await c.isInitialized(at: standby))

                let me = try await c.lookupSelf()
                #expect(me.policies == ["root"])
                #expect(me.ttl == 0)

                let raft = try await c.raftConfiguration(at: standby)
                #expect(raft.servers.count == 3)
                #expect(raft.servers.filter(\.leader).count == 1)
                let autopilot = try await c.autopilotState()
                #expect(autopilot.servers?.count == 3)

                let version = try await c.kvWrite("lifeboat/test", data: ["answer": .number(42), "name": .string("ok")])
                #expect(version == 1)
                let read = try #require(try await c.kvRead("lifeboat/test"))
                #expect(read.data?["name"] == .string("ok"))
                #expect(read.data?["answer"] == .number(42))
                #expect(read.metadata.version == 1)
                #expect(try await c.kvRead("lifeboat/missing") == nil)

                try await c.writePolicy(name: "lifeboat-backup", hcl: "path \"sys/storage/raft/snapshot\" { capabilities = [\"read\"] }")
            }
        }
    }

    @Test func leaderDiscoveryWhenTheFirstAddressIsAStandby() async throws {
        try await withVaultSim { h async throws in
            let standby = h.standbyAddresses[0]
            try await withVaultClient(try h.client([standby, h.leaderAddress])) { c async throws in
                let leader = try await LeaderLocator(client: c).locate()
                #expect(leader.address == h.leaderAddress)
                #expect(leader.discoveredVia == standby)
                #expect(c.lastKnownLeader == h.leaderAddress)
                #expect(try await LeaderLocator(client: c).onlyIfLeaderVerdict() == .skip(leaderAddress: h.leaderAddress))
            }
            // Only the standby configured: the reported leader_address is used as given.
            try await withVaultClient(try h.client([standby])) { c async throws in
                #expect(try await LeaderLocator(client: c).locate().address == h.leaderAddress)
            }
            try await withVaultClient(try h.client([h.leaderAddress, standby])) { c async throws in
                #expect(try await LeaderLocator(client: c).onlyIfLeaderVerdict() == .run)
            }
        }
    }

    @Test func snapshotFromAStandbyFollowsThe307WithTheToken() async throws {
        try await withVaultSim { h async throws in
            let standby = h.standbyAddresses[0]
            try await withVaultClient(try h.client([standby])) { c async throws in
                let (bytes, result) = try await vaultDownloadSnapshot(c, from: standby)
                #expect(result.redirects == 1)
                #expect(result.address == h.leaderAddress)
                #expect(result.bytes == Int64(bytes.count))
                let summary = try SnapshotVerifier.verify(bytes)
                #expect(summary.meta.version == 1)
                // Discovered leader: no redirect at all.
                let (_, direct) = try await vaultDownloadSnapshot(c)
                #expect(direct.redirects == 0)
                #expect(direct.address == h.leaderAddress)
            }
        }
    }

    @Test func permissionDeniedIsMappedAndRetriedOnceForAppRole() async throws {
        try await withVaultSim { h async throws in
            try await withVaultClient(try h.client([h.leaderAddress], auth: .token(VaultSecret("hvs.not-a-real-token")))) { c async throws in
                await #expect {
                    _ = try await vaultDownloadSnapshot(c)
                } throws: { e in
                    guard let v = e as? VaultError else { return false }
                    return v.kind == .permissionDenied && v.statusCode == 403
                        && v.message.contains("permission denied: the token lacks read on sys/storage/raft/snapshot; see policies/lifeboat-backup.hcl")
                }
            }
            // An AppRole token without the snapshot policy: 403, one re-login, 403 again.
            try await withVaultClient(try h.client([h.leaderAddress])) { admin async throws in
                try await admin.enableAuthMethod(path: "approle", type: "approle")
                try await admin.writeAppRole(name: "weak", policies: ["default"], tokenTTL: 600)
                let roleID = try await admin.appRoleRoleID(name: "weak")
                let secretID = try await admin.createAppRoleSecretID(name: "weak")
                let auth = VaultClientConfiguration.Authentication.appRole(.init(roleID: .value(VaultSecret(roleID)), secretID: .value(secretID)))
                try await withVaultClient(try h.client([h.leaderAddress], auth: auth)) { c async throws in
                    await #expect(throws: VaultError.self) { _ = try await vaultDownloadSnapshot(c) }
                    #expect(await c.auth.statistics.logins == 2)
                    // lookup-self is in the default policy: the AppRole token works there.
                    #expect(try await c.lookupSelf().policies?.contains("default") == true)
                }
            }
        }
    }

    @Test func sealedClusterGivesTheUnsealAdvice() async throws {
        try await withVaultSim { h async throws in
            let addresses = h.sim.nodes.map(\.apiAddress)
            for n in h.sim.nodes { h.sim.sealNode(n.id) }
            try await withVaultClient(try h.client(addresses)) { c async throws in
                await #expect {
                    _ = try await LeaderLocator(client: c).locate()
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .sealed && v!.message.contains("the cluster is sealed") && v!.message.contains("vault operator unseal")
                }
                await #expect {
                    _ = try await c.lookupSelf(at: addresses[0])
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .sealed && v?.statusCode == 503 && v!.message.contains("unseal it (vault operator unseal) and run again")
                }
                let notReady = await #expect(throws: LocalNodeNotReady.self) { _ = try await LeaderLocator(client: c).onlyIfLeaderVerdict() }
                #expect(notReady?.message.contains("is sealed; no backup was taken") == true)
            }
        }
    }

    @Test func appRoleLoginRenewalAndReloginAgainstTheSimulator() async throws {
        try await withVaultSim { h async throws in
            let clock = ManualVaultClock(start: h.simClock.now())
            func advance(_ s: TimeInterval) { h.simClock.advance(by: s); clock.advance(by: s) }
            try await withVaultClient(try h.client([h.leaderAddress])) { admin async throws in
                try await admin.enableAuthMethod(path: "approle", type: "approle")
                try await admin.writePolicy(name: "lifeboat-backup", hcl: "path \"sys/storage/raft/snapshot\" { capabilities = [\"read\"] }")
                try await admin.writeAppRole(name: "backup", policies: ["lifeboat-backup"], tokenTTL: 60, tokenMaxTTL: 600)
                let roleID = try await admin.appRoleRoleID(name: "backup")
                let secretID = try await admin.createAppRoleSecretID(name: "backup")
                let auth = VaultClientConfiguration.Authentication.appRole(.init(roleID: .value(VaultSecret(roleID)), secretID: .value(secretID)))
                try await withVaultClient(try h.client([h.standbyAddresses[0], h.leaderAddress], auth: auth, clock: clock)) { c async throws in
                    let first = try await c.lookupSelf()
                    #expect(first.ttl == 60)
                    #expect(await c.auth.statistics.logins == 1)
                    advance(31)
                    let renewed = try await c.lookupSelf()
                    #expect(await c.auth.statistics.renewals == 1)
                    #expect(renewed.ttl == 60)
                    #expect(renewed.accessor == first.accessor)
                    // The token expires mid-run: the next request logs in again and works.
                    advance(200)
                    let (bytes, _) = try await vaultDownloadSnapshot(c)
                    #expect(!bytes.isEmpty)
                    #expect(await c.auth.statistics.logins == 2)
                    #expect(try await c.lookupSelf().accessor != first.accessor)
                }
            }
        }
    }

    @Test func leaderRetryRecoversFromAResetStream() async throws {
        try await withVaultSim { h async throws in
            try await withVaultClient(try h.client([h.standbyAddresses[0], h.leaderAddress])) { c async throws in
                h.sim.inject(.resetNextSnapshot(afterBytes: 64))
                let sleeper = VaultRecordingSleeper()
                var attempts = 0
                var failures: [VaultError.Kind] = []
                let bytes = try await c.withLeaderRetry(maxAttempts: 3, sleeper: sleeper,
                                                        onRetry: { _, e, _ in failures.append((e as? VaultError)?.kind ?? .api) }) { leader in
                    attempts += 1
                    var got: [UInt8] = []
                    try await c.streamSnapshot(from: leader.address) { got.append(contentsOf: $0.readableBytesView) }
                    return got
                }
                #expect(attempts == 2)
                #expect(failures == [.connectionLost])
                #expect(sleeper.recorded == [.seconds(1)])
                _ = try SnapshotVerifier.verify(bytes)
            }
        }
    }

    @Test func leaderRetryIsBounded() async throws {
        try await withVaultSim { h async throws in
            try await withVaultClient(try h.client([h.leaderAddress])) { c async throws in
                h.sim.inject(.failRequests(path: "sys/storage/raft/snapshot", status: 503, count: 10, message: "node is not active"))
                let sleeper = VaultRecordingSleeper()
                var attempts = 0
                await #expect {
                    try await c.withLeaderRetry(maxAttempts: 3, backoff: VaultBackoff(initial: .seconds(2)), sleeper: sleeper) { leader in
                        attempts += 1
                        try await c.streamSnapshot(from: leader.address) { _ in }
                    }
                } throws: { e in
                    let v = e as? VaultError
                    return v?.kind == .noLeader && v!.message.contains("gave up after 3 attempts")
                }
                #expect(attempts == 3)
                #expect(sleeper.recorded == [.seconds(2), .seconds(4)])
                h.sim.inject(.clearAll)
            }
        }
    }

    @Test func restoreUploads() async throws {
        try await withVaultSim { h async throws in
            let dir = h.directory + "/lifeboat-restore"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try await withVaultClient(try h.client([h.standbyAddresses[0], h.leaderAddress])) { c async throws in
                let (bytes, _) = try await vaultDownloadSnapshot(c)
                let own = dir + "/own.snap"
                try Data(bytes).write(to: URL(fileURLWithPath: own))
                // Sent to a standby: the 307 to the active node is followed and the file sent again.
                try await uploadSnapshot(c, file: own, force: false, to: h.standbyAddresses[0])
                _ = try await h.sim.waitForActive()

                // A snapshot of another cluster (the real Vault 1.14.3 fixture) needs --force.
                let foreign = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/vault-1.14.3/backup.snap").standardized.path
                try await withVaultClient(try h.client([h.leaderAddress])) { c2 async throws in
                    await #expect {
                        try await uploadSnapshot(c2, file: foreign, force: false, to: h.leaderAddress)
                    } throws: { e in
                        let v = e as? VaultError
                        return v?.kind == .snapshotKeyMismatch && v?.statusCode == 400
                            && v!.message.contains("this snapshot comes from another cluster or an older key set: use --force")
                    }
                    // A damaged snapshot: integrity error with Vault's message.
                    var damaged = bytes
                    damaged[damaged.count / 2] ^= 0xff
                    let bad = dir + "/damaged.snap"
                    try Data(damaged).write(to: URL(fileURLWithPath: bad))
                    await #expect {
                        try await uploadSnapshot(c2, file: bad, force: true, to: h.leaderAddress)
                    } throws: { e in
                        let v = e as? VaultError
                        return v?.kind == .snapshotIntegrity && v?.statusCode == 500 && !(v?.vaultErrors.isEmpty ?? true)
                    }
                }
            }
        }
    }
}

/// Uploads a snapshot file the way `restore` does (VaultRecoveryClient.uploadSnapshot), with the client's own token.
func uploadSnapshot(_ client: VaultClient, file: String, force: Bool, to address: String) async throws {
    let size = try #require((try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value)
    try await VaultRecoveryClient(client: client).uploadSnapshot(
        at: address, file: file, size: size, force: force, token: try await client.requireToken(), timeout: .seconds(120))
}
