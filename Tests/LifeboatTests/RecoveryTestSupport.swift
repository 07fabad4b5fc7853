// Shared setup for the restore and drill tests: a three-node VaultSim cluster on loopback (real HTTP), secrets
// planted through the API, a backup taken with GET sys/storage/raft/snapshot and stored as an encrypted archive in
// a LocalStore repository, in-process reset hooks that wipe simulator nodes, a Vault API decorator that records
// the temporary credentials and injects failures, and a VaultSim-backed scratch cluster for drills.

import Foundation
import LifeboatArchive
import LifeboatSnapshot
import NIOHTTP1
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
import VaultSim

/// A running simulated production cluster with a repository beside it.
final class RecoveryFixture: @unchecked Sendable {
    let sim: VaultSimulator
    let directory: String
    let initResult: VaultSimulator.InitResult
    let client: VaultClient
    let vault: VaultRecoveryClient
    let archiveKey: ArchiveKey
    let repository: BackupRepository
    let repositoryDirectory: String
    /// Every reset hook call, in order (node names).
    let resetCalls = PThreadLocked<[String]>([])

    var rootToken: VaultSecret { VaultSecret(initResult.rootToken) }
    var nodes: [RecoveryNode] { sim.nodes.map { RecoveryNode(name: $0.id, apiAddress: $0.apiAddress) } }
    var stateDirectory: String { directory + "/state" }

    static func start(nodes: Int = 3, shares: Int = 5, threshold: Int = 3) async throws -> RecoveryFixture {
        let dir = NSTemporaryDirectory() + "lifeboat-recovery-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let sim = try await startSimulator(nodes: nodes, directory: dir + "/sim")
        let result = try await sim.initializeCluster(shares: shares, threshold: threshold)
        for id in sim.nodes.map(\.id) where sim.nodes.first(where: { $0.id == id })?.sealed == true {
            try sim.unseal(id, keys: result.keysBase64)
        }
        let config = try VaultClientConfiguration(addresses: sim.nodes.map(\.apiAddress),
                                                  authentication: .token(VaultSecret(result.rootToken)))
        let client = try VaultClient(configuration: config)
        let repoDir = dir + "/repo"
        let store = try LocalStore(directory: repoDir, createIfMissing: true)
        return RecoveryFixture(sim: sim, directory: dir, initResult: result, client: client, archiveKey: ArchiveKey.generate(),
                               repository: BackupRepository(store: store), repositoryDirectory: repoDir)
    }

    /// Runs `body` with a started fixture and always stops it afterwards.
    static func with(nodes: Int = 3, shares: Int = 5, threshold: Int = 3, _ body: (RecoveryFixture) async throws -> Void) async throws {
        let f = try await start(nodes: nodes, shares: shares, threshold: threshold)
        do {
            try await body(f)
        } catch {
            await f.stop()
            throw error
        }
        await f.stop()
    }

    static func startSimulator(nodes: Int, directory: String) async throws -> VaultSimulator {
        var config = VaultSimulator.Configuration(dataDirectory: directory)
        config.nodeCount = nodes
        config.electionDelay = .milliseconds(30)
        config.restoreApplyDelay = .milliseconds(60)
        config.controlPort = nil
        return try await VaultSimulator.start(config)
    }

    private init(sim: VaultSimulator, directory: String, initResult: VaultSimulator.InitResult, client: VaultClient,
                 archiveKey: ArchiveKey, repository: BackupRepository, repositoryDirectory: String) {
        self.sim = sim
        self.directory = directory
        self.initResult = initResult
        self.client = client
        self.vault = VaultRecoveryClient(client: client)
        self.archiveKey = archiveKey
        self.repository = repository
        self.repositoryDirectory = repositoryDirectory
    }

    func stop() async {
        try? await client.shutdown()
        await sim.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var leaderAddress: String {
        get async throws {
            let id = try await sim.waitForActive()
            return sim.apiAddress(id)!
        }
    }

    /// Writes a KV v2 secret with the root token (through the active node).
    func writeSecret(_ path: String, _ data: [String: String], token: VaultSecret? = nil) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["data": data])
        var headers = HTTPHeaders()
        headers.add(name: "X-Vault-Token", value: (token ?? rootToken).exposedValue)
        let address = try await leaderAddress
        let r = try await client.transport.send(.POST, url: address + "/v1/secret/data/" + path, headers: headers, body: Array(body),
                                                timeout: .seconds(10), address: address, path: "secret/data/" + path)
        guard r.status == 200 else { throw TestFailure("writing secret/data/\(path) answered \(r.status): \(String(decoding: r.body, as: UTF8.self))") }
    }

    /// Reads a KV v2 secret with `token` from `address` (or the leader): nil on 404.
    func readSecret(_ path: String, token: VaultSecret? = nil, at address: String? = nil) async throws -> VaultKVSecret? {
        let a: String
        if let address { a = address } else { a = try await leaderAddress }
        return try await vault.readKV(at: a, mount: "secret", path: path, token: token ?? rootToken)
    }

    /// Takes a snapshot from the leader and stores it, encrypted, as a backup in the repository.
    @discardableResult
    func backup(at date: Date = Date()) async throws -> BackupManifest {
        let address = try await leaderAddress
        var headers = HTTPHeaders()
        headers.add(name: "X-Vault-Token", value: rootToken.exposedValue)
        let r = try await client.transport.send(.GET, url: address + "/v1/sys/storage/raft/snapshot", headers: headers, body: nil,
                                                timeout: .seconds(30), address: address, path: "sys/storage/raft/snapshot")
        guard r.status == 200 else { throw TestFailure("snapshot answered \(r.status)") }
        var archiver = try SnapshotArchiver(secret: .key(archiveKey))
        var archive: [UInt8] = []
        try r.body.withUnsafeBytes { try archiver.consume($0, into: &archive) }
        let summary = try await archiver.finish(into: &archive)
        var generator = SystemRandomNumberGenerator()
        let id = BackupID.generate(at: date, using: &generator)
        let pending = try await repository.begin(id)
        try await pending.append(archive)
        try await pending.commit()
        let manifest = BackupManifest(id: id, createdAt: ManifestTimestamp(date: date, utcOffsetSeconds: 0), summary: summary,
                                      storedSize: Int64(archive.count), archiveKeyID: archiveKey.idString, durationSeconds: 0.1)
        try await repository.commit(manifest)
        return manifest
    }

    /// The disaster: every node loses its raft data.
    func wipeAll() {
        for n in sim.nodes { sim.wipeNode(n.id) }
    }

    /// A reset hook wiping simulator nodes in-process (recorded in `resetCalls`); `failure` may throw for a call.
    func resetHook(failure: (@Sendable (String, Int) throws -> Void)? = nil) -> ClosureResetHook {
        ClosureResetHook(description: "vault-sim wipe (in-process)") { [self] node in
            let count = self.resetCalls.withLock { calls -> Int in
                calls.append(node.name)
                return calls.filter { $0 == node.name }.count
            }
            try failure?(node.name, count)
            self.sim.wipeNode(node.name)
        }
    }

    /// The first `count` original keys, base64.
    func keys(_ count: Int) throws -> UnsealKeySet {
        try UnsealKeySet(texts: Array(initResult.keysBase64.prefix(count)))
    }

    func options(mode: RestoreMode = .force, keys: UnsealKeySet, hook: (any ResetHook)?, canaries: [CanarySecret] = [],
                 stateDirectory: String? = nil) -> RestoreOptions {
        let token = rootToken
        return RestoreOptions(mode: mode, nodes: nodes, unsealKeys: keys, keyRing: KeyRing(keys: [archiveKey]), resetHook: hook,
                              stateDirectory: stateDirectory ?? self.stateDirectory, canaries: canaries,
                              timeouts: .fast, originalToken: { token })
    }

    /// The data object's path in the repository directory.
    func dataPath(_ manifest: BackupManifest) -> String { repositoryDirectory + "/" + manifest.dataObject }

    /// Node states straight from the simulator.
    var allUnsealed: Bool { sim.nodes.allSatisfy { $0.running && !$0.sealed } }
}

extension RestoreTimeouts {
    /// Short waits and fast polling for the simulator (its delays are tens of milliseconds).
    static var fast: RestoreTimeouts {
        var t = RestoreTimeouts()
        t.nodeReset = .seconds(10)
        t.activation = .seconds(10)
        t.apply = .seconds(10)
        t.cluster = .seconds(15)
        t.pollInterval = .milliseconds(20)
        t.uploadBase = .seconds(30)
        return t
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Forwards to a real client, records the temporary credentials and lets a test fail one call.
final class RecordingVault: RecoveryVaultAPI, @unchecked Sendable {
    let inner: any RecoveryVaultAPI
    /// The temporary credentials of every `initialize` (test-only: production never keeps them).
    let temporaryTokens = PThreadLocked<[VaultSecret]>([])
    /// Called before each upload with its number (1-based); may throw to simulate a crash.
    let uploadFailure: (@Sendable (Int) throws -> Void)?
    private let uploads = PThreadLocked(0)

    init(_ inner: any RecoveryVaultAPI, uploadFailure: (@Sendable (Int) throws -> Void)? = nil) {
        self.inner = inner
        self.uploadFailure = uploadFailure
    }

    func health(at address: String) async throws -> (status: Int, health: VaultHealth) { try await inner.health(at: address) }
    func sealStatus(at address: String) async throws -> VaultSealStatus { try await inner.sealStatus(at: address) }
    func initialize(at address: String, shares: Int, threshold: Int, autoUnseal: Bool) async throws -> TemporaryCredentials {
        let c = try await inner.initialize(at: address, shares: shares, threshold: threshold, autoUnseal: autoUnseal)
        temporaryTokens.withLock { $0.append(c.rootToken) }
        return c
    }
    func unseal(at address: String, key: UnsealKey) async throws -> VaultSealStatus { try await inner.unseal(at: address, key: key) }
    func resetUnseal(at address: String) async throws { try await inner.resetUnseal(at: address) }
    func join(at address: String, leaderAPIAddress: String) async throws -> Bool { try await inner.join(at: address, leaderAPIAddress: leaderAPIAddress) }
    func leader(at address: String) async throws -> VaultLeaderStatus { try await inner.leader(at: address) }
    func raftConfiguration(at address: String, token: VaultSecret) async throws -> VaultRaftConfiguration {
        try await inner.raftConfiguration(at: address, token: token)
    }
    func autopilotState(at address: String, token: VaultSecret) async throws -> VaultAutopilotState {
        try await inner.autopilotState(at: address, token: token)
    }
    func readKV(at address: String, mount: String, path: String, token: VaultSecret) async throws -> VaultKVSecret? {
        try await inner.readKV(at: address, mount: mount, path: path, token: token)
    }
    func uploadSnapshot(at address: String, file: String, size: Int64, force: Bool, token: VaultSecret, timeout: Duration) async throws {
        let n = uploads.withLock { $0 += 1; return $0 }
        try uploadFailure?(n)
        try await inner.uploadSnapshot(at: address, file: file, size: size, force: force, token: token, timeout: timeout)
    }
    func snapshotSummary(at address: String, token: VaultSecret, timeout: Duration) async throws -> SnapshotSummary {
        try await inner.snapshotSummary(at: address, token: token, timeout: timeout)
    }
    func tokenStatus(at address: String, token: VaultSecret) async throws -> Int { try await inner.tokenStatus(at: address, token: token) }
}

/// A drill's scratch cluster: a fresh in-process VaultSimulator, wiped through its API, shut down and deleted.
/// The in-process scratch cluster with the tests' short election and restore delays.
func SimScratchCluster(nodes: Int = 3) -> SimulatorScratchCluster {
    SimulatorScratchCluster(nodes: nodes) { config in
        config.electionDelay = .milliseconds(30)
        config.restoreApplyDelay = .milliseconds(60)
    }
}
