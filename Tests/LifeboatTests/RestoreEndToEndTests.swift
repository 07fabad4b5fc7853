// End-to-end restores on a three-node VaultSim cluster over real HTTP: the full --force path after every node lost
// its data, refusals in preflight (tampered backup, too few keys) that leave the cluster untouched, a crash in the
// rebootstrap phase and after initialization followed by --resume, and same-cluster restores.

import Foundation
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
import VaultSim

@Suite("Restore end to end (vault-sim)", .serialized)
struct RestoreEndToEndTests {
    @Test("restore --force after every node was wiped: three unsealed voters, one leader, old token works, temporary token rejected")
    func forcedRestoreAfterDisaster() async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("lifeboat/canary/prod", ["value": "alive"])
            try await f.writeSecret("app/db", ["password": "hunter2"])
            let backupTime = Date().addingTimeInterval(-3600)
            let manifest = try await f.backup(at: backupTime)
            try await f.writeSecret("app/after-backup", ["x": "1"])

            f.wipeAll()
            #expect(f.sim.nodes.allSatisfy { $0.sealed })

            let recording = RecordingVault(f.vault)
            var events: [RestoreEvent] = []
            let eventLog = EventLog()
            var options = f.options(keys: try f.keys(3), hook: f.resetHook(),
                                    canaries: [CanarySecret(path: "lifeboat/canary/prod", requiredKey: "value")])
            options.onEvent = { eventLog.append($0) }
            // The plan's clock is an hour after the backup, however long a loaded machine takes to get here.
            let executor = RestoreExecutor(vault: recording, options: options, now: { backupTime.addingTimeInterval(3600) })
            let source = try await RestoreSource.resolve("latest", in: f.repository)
            #expect(source.id == manifest.id.rawValue)

            let prepared = try await executor.preflight(source)
            #expect(prepared.plan.sealConfig == RestoredSealConfig(type: "shamir", shares: 5, threshold: 3))
            #expect(prepared.plan.wipedNodes == ["vault_1", "vault_2", "vault_3"])
            let text = prepared.plan.render()
            #expect(text.contains("3 of 5 original keys needed, 3 distinct supplied"))
            #expect(text.contains(manifest.id.rawValue))
            #expect(text.contains("raft index \(manifest.raft.index)"))
            #expect(text.contains("1h 00m ago"))
            var mode = stat()
            #expect(stat(prepared.staged.path, &mode) == 0)
            #expect(mode.st_mode & 0o777 == 0o600)

            let report = try await executor.execute(prepared)
            events = eventLog.events
            #expect(report.succeeded)
            #expect(report.phases.map(\.phase) == RestorePhase.allCases)
            #expect(report.totalSeconds > 0)
            #expect(events.contains(.phaseStarted(.rebootstrap)))

            // Three unsealed voters, exactly one leader.
            #expect(f.allUnsealed)
            #expect(f.sim.nodes.filter(\.active).count == 1)
            let leader = try await f.leaderAddress
            let config = try await f.vault.raftConfiguration(at: leader, token: f.rootToken)
            #expect(Set(config.servers.filter(\.voter).map(\.nodeId)) == ["vault_1", "vault_2", "vault_3"])
            #expect(report.nodes.count == 3 && report.nodes.allSatisfy { !$0.sealed && $0.voter })
            #expect(report.nodes.allSatisfy { ($0.appliedIndex ?? 0) >= manifest.raft.index })

            // The data is the backup's, readable with the ORIGINAL root token on every node (standbys forward).
            for node in f.nodes {
                let secret = try await f.readSecret("app/db", at: node.apiAddress)
                #expect(secret?.data?["password"] == .string("hunter2"))
            }
            #expect(try await f.readSecret("app/after-backup") == nil)
            #expect(report.canaries == [RestoreReport.CanaryResult(path: "secret/data/lifeboat/canary/prod", readable: true, detail: "version 1")])

            // The temporary root token of the fresh cluster is gone with it.
            let temporary = recording.temporaryTokens.withLock { $0 }
            #expect(temporary.count == 1)
            #expect(try await f.vault.tokenStatus(at: leader, token: temporary[0]) == 403)
            #expect(try await f.vault.tokenStatus(at: leader, token: f.rootToken) == 200)

            // The journal says complete; the staged plaintext is gone; nothing secret is in the journal.
            let journal = try #require(try RestoreJournal.load(stateDirectory: f.stateDirectory))
            #expect(journal.status == .complete)
            #expect(!FileManager.default.fileExists(atPath: prepared.staged.path))
            let journalText = try String(contentsOfFile: RestoreJournal.path(in: f.stateDirectory), encoding: .utf8)
            #expect(!journalText.contains(temporary[0].exposedValue))
            #expect(!journalText.contains(f.initResult.rootToken))
            for key in f.initResult.keysBase64 + f.initResult.keysHex { #expect(!journalText.contains(key)) }
            #expect(stat(RestoreJournal.path(in: f.stateDirectory), &mode) == 0 && mode.st_mode & 0o777 == 0o600)

            // Report renderings.
            #expect(report.render().contains("Restore complete"))
            let json = try JSONSerialization.jsonObject(with: Data(try report.json())) as? [String: Any]
            #expect(json?["succeeded"] as? Bool == true)
            #expect((json?["phases"] as? [Any])?.count == 8)
        }
    }

    @Test("a tampered backup is refused in preflight and the cluster is untouched")
    func tamperedBackupRefused() async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("app/db", ["password": "hunter2"])
            let manifest = try await f.backup()
            // Flip one byte in the middle of the encrypted data object.
            let path = f.dataPath(manifest)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            bytes[bytes.count / 2] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let executor = RestoreExecutor(vault: f.vault, options: f.options(keys: try f.keys(3), hook: f.resetHook()))
            let error = await #expect(throws: RecoveryError.self) {
                _ = try await executor.preflight(try await RestoreSource.resolve(manifest.id.rawValue, in: f.repository))
            }
            #expect(error?.code == .backupInvalid)
            #expect(error?.phase == .preflight)
            #expect(error?.description.contains("failed authentication") == true)
            #expect(error?.description.contains("nothing was changed") == true)
            // Untouched: no hook ran, every node still unsealed with its data, nothing staged, no journal.
            #expect(f.resetCalls.withLock { $0 }.isEmpty)
            #expect(f.allUnsealed)
            #expect(try await f.readSecret("app/db")?.data?["password"] == .string("hunter2"))
            let staged = (try? FileManager.default.contentsOfDirectory(atPath: f.stateDirectory + "/staging")) ?? []
            #expect(staged.isEmpty)
            #expect(try RestoreJournal.load(stateDirectory: f.stateDirectory) == nil)
        }
    }

    @Test("too few distinct unseal keys are refused in preflight and the cluster is untouched")
    func tooFewKeysRefused() async throws {
        try await RecoveryFixture.with { f in
            let manifest = try await f.backup()
            // Two keys, one of them given twice (base64 and hex of the same share): 2 distinct of the 3 needed.
            let keys = try UnsealKeySet(texts: [f.initResult.keysBase64[0], f.initResult.keysHex[0], f.initResult.keysBase64[1]])
            #expect(keys.count == 2 && keys.duplicateCount == 1)
            let executor = RestoreExecutor(vault: f.vault, options: f.options(keys: keys, hook: f.resetHook()))
            let error = await #expect(throws: RecoveryError.self) {
                _ = try await executor.preflight(RestoreSource.backup(manifest, in: f.repository.store))
            }
            #expect(error?.code == .notEnoughUnsealKeys)
            #expect(error?.message.contains("needs 3 of its 5 unseal keys, but only 2 distinct keys were given (3 given, 1 of them duplicates)") == true)
            #expect(f.resetCalls.withLock { $0 }.isEmpty)
            #expect(f.allUnsealed)
            let staged = (try? FileManager.default.contentsOfDirectory(atPath: f.stateDirectory + "/staging")) ?? []
            #expect(staged.filter { !$0.hasPrefix(".") }.isEmpty)
        }
    }

    @Test("a crash in the rebootstrap phase, then --resume finishes the job")
    func crashDuringRebootstrapThenResume() async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("app/db", ["password": "hunter2"])
            let manifest = try await f.backup()
            f.wipeAll()

            // vault_3's second reset (the one inside rebootstrap) dies.
            let crashing = f.resetHook { node, count in
                if node == "vault_3" && count == 2 { throw TestFailure("simulated crash while wiping vault_3") }
            }
            let first = RestoreExecutor(vault: f.vault, options: f.options(keys: try f.keys(3), hook: crashing))
            let prepared = try await first.preflight(RestoreSource.backup(manifest, in: f.repository.store))
            let failure = await #expect(throws: RestoreFailed.self) { _ = try await first.execute(prepared) }
            #expect(failure?.error.phase == .rebootstrap)
            #expect(failure?.error.node == "vault_3")
            #expect(failure?.error.code == .hookFailed)
            #expect(failure?.report.succeeded == false)
            #expect(failure?.report.render().contains("lifeboat restore --resume") == true)
            let journal = try #require(try RestoreJournal.load(stateDirectory: f.stateDirectory))
            #expect(journal.status == .failed)
            #expect(journal.failedPhase == .rebootstrap)
            #expect(journal.nodesDone == ["vault_2"])
            #expect(journal.completedPhases.map(\.phase) == [.preflight, .reset, .restore, .apply, .unseal])

            // A new process resumes with the same state directory (no temporary credentials needed any more).
            let resetsBefore = f.resetCalls.withLock { $0 }.count
            let second = RestoreExecutor(vault: f.vault, options: f.options(keys: try f.keys(3), hook: f.resetHook()))
            let report = try await second.resume()
            #expect(report.succeeded)
            #expect(report.attempts == 2)
            #expect(report.phases.first { $0.phase == .reset }?.fromEarlierAttempt == true)
            #expect(report.phases.first { $0.phase == .rebootstrap }?.fromEarlierAttempt == false)
            // Only vault_3 was wiped again: vault_2 (done) and vault_1 (restored) were left alone.
            #expect(Array(f.resetCalls.withLock { $0 }.dropFirst(resetsBefore)) == ["vault_3"])
            #expect(f.allUnsealed)
            #expect(try await f.readSecret("app/db")?.data?["password"] == .string("hunter2"))
            #expect(try RestoreJournal.load(stateDirectory: f.stateDirectory)?.status == .complete)

            // Nothing left to resume.
            let again = await #expect(throws: RecoveryError.self) { _ = try await second.resume() }
            #expect(again?.code == .journal)
        }
    }

    @Test("a crash after initialization loses the temporary credentials; --resume resets the first node and goes on")
    func crashAfterInitializationThenResume() async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("app/db", ["password": "hunter2"])
            let manifest = try await f.backup()
            f.wipeAll()

            let crashing = RecordingVault(f.vault, uploadFailure: { n in
                if n == 1 { throw CancellationError() }
            })
            let first = RestoreExecutor(vault: crashing, options: f.options(keys: try f.keys(3), hook: f.resetHook()))
            let prepared = try await first.preflight(RestoreSource.backup(manifest, in: f.repository.store))
            let failure = await #expect(throws: RestoreFailed.self) { _ = try await first.execute(prepared) }
            #expect(failure?.error.phase == .restore)
            #expect(failure?.error.code == .cancelled)
            // vault_1 is now initialized with a temporary key nobody has any more.
            #expect(try await f.vault.sealStatus(at: f.nodes[0].apiAddress).initialized)

            let resetsBefore = f.resetCalls.withLock { $0 }.count
            let second = RestoreExecutor(vault: crashing, options: f.options(keys: try f.keys(3), hook: f.resetHook()))
            let report = try await second.resume()
            #expect(report.succeeded)
            // The lost-credentials path reset vault_1 again before re-initializing it.
            #expect(f.resetCalls.withLock { $0 }.dropFirst(resetsBefore).first == "vault_1")
            #expect(crashing.temporaryTokens.withLock { $0.count } == 2)
            #expect(f.allUnsealed)
            #expect(try await f.readSecret("app/db")?.data?["password"] == .string("hunter2"))
        }
    }

    @Test("same-cluster restore rolls the data back without a reset")
    func sameClusterRestore() async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("app/db", ["password": "v1"])
            let manifest = try await f.backup()
            try await f.writeSecret("app/db", ["password": "v2"])
            try await f.writeSecret("app/later", ["x": "1"])

            var options = f.options(mode: .sameCluster, keys: .none, hook: nil)
            // The cluster is ahead of the backup: replacing newer data needs the explicit confirmation.
            let refused = await #expect(throws: RecoveryError.self) {
                _ = try await RestoreExecutor(vault: f.vault, options: options).preflight(RestoreSource.backup(manifest, in: f.repository.store))
            }
            #expect(refused?.code == .target)
            #expect(refused?.message.contains("run again with --overwrite-newer") == true)
            options.overwriteNewer = true
            let executor = RestoreExecutor(vault: f.vault, options: options)
            let prepared = try await executor.preflight(RestoreSource.backup(manifest, in: f.repository.store))
            #expect(prepared.plan.wipedNodes.isEmpty)
            let report = try await executor.execute(prepared)
            #expect(report.succeeded)
            #expect(report.phases.map(\.phase) == [.preflight, .restore, .apply, .verify, .report])
            #expect(f.resetCalls.withLock { $0 }.isEmpty)
            #expect(try await f.readSecret("app/db")?.data?["password"] == .string("v1"))
            #expect(try await f.readSecret("app/later") == nil)
        }
    }

    @Test("same-cluster restore of another cluster's snapshot is refused with the --force hint")
    func sameClusterRestoreOfForeignSnapshot() async throws {
        try await RecoveryFixture.with { f in
            let manifest = try await f.backup()
            // The cluster is rebuilt with new keys: the old backup is now "another cluster's".
            f.wipeAll()
            let fresh = try await f.sim.initializeCluster(shares: 1, threshold: 1)
            let token = VaultSecret(fresh.rootToken)
            var options = f.options(mode: .sameCluster, keys: .none, hook: nil)
            options.originalToken = { token }
            let executor = RestoreExecutor(vault: f.vault, options: options)
            let prepared = try await executor.preflight(RestoreSource.backup(manifest, in: f.repository.store))
            let failure = await #expect(throws: RestoreFailed.self) { _ = try await executor.execute(prepared) }
            #expect(failure?.error.code == .uploadRefused)
            #expect(failure?.error.message.contains("this snapshot comes from another cluster or an older key set: use --force") == true)
        }
    }
}

@Suite("Restore failure modes and size (vault-sim)", .serialized)
struct RestoreFailureModeTests {
    @Test("a reset hook that does not wipe a node is caught before the join (the joined:true trap)")
    func hookThatDoesNotWipe() async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("app/db", ["password": "hunter2"])
            let manifest = try await f.backup()
            // The old cluster keeps running on vault_2 and vault_3: the hook only really wipes vault_1.
            let calls = PThreadLocked<[String]>([])
            let lazyHook = ClosureResetHook(description: "wipes vault_1 only") { [sim = f.sim] node in
                calls.withLock { $0.append(node.name) }
                if node.name == "vault_1" { sim.wipeNode(node.name) }
            }
            var options = f.options(keys: try f.keys(3), hook: lazyHook)
            options.timeouts.nodeReset = .milliseconds(800)
            options.overwriteNewer = true  // the cluster is running: wiping it is confirmed
            let executor = RestoreExecutor(vault: f.vault, options: options)
            let prepared = try await executor.preflight(RestoreSource.backup(manifest, in: f.repository.store))
            let failure = await #expect(throws: RestoreFailed.self) { _ = try await executor.execute(prepared) }
            #expect(failure?.error.phase == .rebootstrap)
            #expect(failure?.error.node == "vault_2")
            #expect(failure?.error.code == .timeout)
            #expect(failure?.error.message.contains("did not wipe its raft data") == true)
            // Nothing was joined on top of old data: vault_2 still holds its own (old) cluster, not the restored one.
            let leader = f.nodes[0].apiAddress
            let config = try await f.vault.raftConfiguration(at: leader, token: f.rootToken)
            #expect(config.servers.map(\.nodeId) == ["vault_1"])
        }
    }

    @Test("a multi-megabyte snapshot is staged and uploaded in pieces and restores")
    func largerSnapshot() async throws {
        let megabytes = Int(ProcessInfo.processInfo.environment["LIFEBOAT_RESTORE_BENCH_MB"] ?? "") ?? 4
        try await RecoveryFixture.with { f in
            try await f.writeSecret("app/db", ["password": "hunter2"])
            try f.sim.seed(bytes: megabytes << 20, valueSize: 256 * 1024)
            let manifest = try await f.backup()
            #expect(manifest.originalSize > Int64(megabytes) << 20)
            f.wipeAll()
            let events = EventLog()
            var options = f.options(keys: try f.keys(3), hook: f.resetHook())
            options.onEvent = { events.append($0) }
            let executor = RestoreExecutor(vault: f.vault, options: options)
            let prepared = try await executor.preflight(RestoreSource.backup(manifest, in: f.repository.store))
            let report = try await executor.execute(prepared)
            #expect(report.succeeded)
            #expect(try await f.readSecret("app/db")?.data?["password"] == .string("hunter2"))
            if ProcessInfo.processInfo.environment["LIFEBOAT_RESTORE_BENCH_MB"] != nil {
                print("snapshot \(ByteCountText.format(manifest.originalSize)); preflight \(DurationText.format(seconds: executor.preflightSeconds))")
                print(report.render())
            }
        }
    }
}

/// Collects restore events from the executor's callback.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [RestoreEvent] = []
    func append(_ e: RestoreEvent) { lock.withLock { list.append(e) } }
    var events: [RestoreEvent] { lock.withLock { list } }
}
