// The incidents short of a total loss, end to end on a three-node vault-sim cluster over real HTTP: for each one
// the doctor's classification and recommended command, the recovery it recommends, and that a marker written AFTER
// the latest backup survives (a full restore would have lost it). Also: the journal and --resume after a failed
// step, the refusals that protect data, and the healthy cluster's exit 0.

import Foundation
import LifeboatArchive
import Testing
@testable import LifeboatRecovery
@testable import LifeboatVault
import LifeboatTesting
@testable import VaultSim

@Suite(.serialized) struct IncidentRecoveryEndToEndTests {
    /// A backup, then a marker the backup does not hold.
    static func backupThenMarker(_ f: RecoveryFixture) async throws {
        try await f.writeSecret("lifeboat/before", ["v": "in the backup"])
        try await f.backup()
        try await f.writeSecret("lifeboat/marker", ["v": "after the backup"])
    }

    static func expectMarker(_ f: RecoveryFixture, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let marker = try await f.readSecret("lifeboat/marker")
        #expect(marker?.data?["v"]?.stringValue == "after the backup", "the write after the latest backup was lost", sourceLocation: sourceLocation)
    }

    static func doctor(_ f: RecoveryFixture) async throws -> ClusterDiagnosis {
        let latest = try await f.repository.list().backups.last
        let facts = latest.map { LatestBackupFacts(id: $0.id.rawValue, createdAt: $0.createdAt.date, index: $0.raft.index) }
        let token = f.rootToken
        return await ClusterDoctor(vault: f.vault, nodes: f.nodes, token: { token }).diagnose(latestBackup: facts, now: Date())
    }

    /// Stops, wipes and starts a simulator node (what scripts/cluster/reset-node.sh does to a container).
    static func resetHook(_ f: RecoveryFixture, failFirst: String? = nil) -> ClosureResetHook {
        let failures = PThreadLocked(0)
        return ClosureResetHook(description: "vault-sim stop, wipe, start (in-process)") { node in
            if node.name == failFirst, failures.withLock({ $0 += 1; return $0 }) == 1 {
                throw RecoveryError(.hookFailed, "simulated hook failure on \(node.name)")
            }
            f.sim.stopNode(node.name)
            f.sim.wipeNode(node.name)
            try f.sim.startNode(node.name)
        }
    }

    static func options(_ f: RecoveryFixture, keys: Int = 3, hook: (any ResetHook)? = nil, quorum: (any QuorumHooks)? = nil) throws -> IncidentOptions {
        let token = f.rootToken
        return IncidentOptions(nodes: f.nodes, unsealKeys: try f.keys(keys), resetHook: hook, quorumHooks: quorum,
                               stateDirectory: f.stateDirectory, timeouts: .fast, token: { token })
    }

    static func voters(_ f: RecoveryFixture) async throws -> [String] {
        let leader = try await f.leaderAddress
        return try await f.vault.raftConfiguration(at: leader, token: f.rootToken).servers.filter(\.voter).map(\.nodeId).sorted()
    }

    @Test func healthyClusterIsHealthy() async throws {
        try await RecoveryFixture.with { f in
            try await Self.backupThenMarker(f)
            let d = try await Self.doctor(f)
            #expect(d.condition == .healthy, "\(d.render())")
            #expect(d.exitCode == 0)
            #expect(d.findings.isEmpty)
            #expect(d.recommendedCommand == nil)
            #expect(d.raft?.servers.count == 3)
            #expect((d.indexesSinceBackup ?? 0) > 0, "the marker was written after the backup")
        }
    }

    @Test func everyNodeSealedAfterAPowerCutIsUnsealed() async throws {
        try await RecoveryFixture.with { f in
            try await Self.backupThenMarker(f)
            for n in f.sim.nodes.map(\.id) { f.sim.stopNode(n) }
            for n in f.sim.nodes.map(\.id) { try f.sim.startNode(n) }

            let d = try await Self.doctor(f)
            #expect(d.condition == .sealed, "\(d.render())")
            #expect(d.exitCode == 10)
            #expect(d.recommendedCommand == "lifeboat recover unseal --unseal-keys-file KEYS.json")
            #expect(d.findings.first?.meaning.contains("needs 3 keys of 5") == true, "\(d.render())")
            #expect(!d.render().contains("restore latest --force"))

            // Too few keys: refused before any node is touched.
            let short = IncidentRecovery(vault: f.vault, options: try Self.options(f, keys: 2))
            await #expect(throws: RecoveryError.self) { _ = try await short.prepare(.unseal) }

            // --plan without keys: the plan says how many are needed instead of refusing.
            var planOnly = try Self.options(f)
            planOnly.unsealKeys = .none
            planOnly.planOnly = true
            let shown = try await IncidentRecovery(vault: f.vault, options: planOnly).prepare(.unseal)
            #expect(shown.checks.contains("no unseal keys given (--plan): the run needs 3 of 5"))

            let recovery = IncidentRecovery(vault: f.vault, options: try Self.options(f))
            let plan = try await recovery.prepare(.unseal)
            #expect(plan.steps.map(\.id) == ["unseal:vault_1", "unseal:vault_2", "unseal:vault_3", "leader", "verify"])
            #expect(!plan.destructive)
            let report = try await recovery.execute(plan)
            #expect(report.succeeded)
            #expect(f.allUnsealed)
            try await Self.expectMarker(f)
            #expect(try await Self.doctor(f).condition == .healthy)
        }
    }

    @Test func wrongKeysStopAtTheFirstNode() async throws {
        try await RecoveryFixture.with { f in
            for n in f.sim.nodes.map(\.id) { f.sim.sealNode(n) }
            let other = try await RecoveryFixture.startSimulator(nodes: 1, directory: f.directory + "/other")
            defer { other.shutdownBlocking() }
            let foreign = try await other.initializeCluster(shares: 5, threshold: 3)
            var options = try Self.options(f)
            options.unsealKeys = try UnsealKeySet(texts: Array(foreign.keysBase64.prefix(3)))
            let recovery = IncidentRecovery(vault: f.vault, options: options)
            let plan = try await recovery.prepare(.unseal)
            do {
                _ = try await recovery.execute(plan)
                Issue.record("foreign keys must be refused")
            } catch let failed as IncidentFailed {
                #expect(failed.error.code == .unsealFailed)
                #expect(failed.description.contains("vault_1"))
                #expect(failed.report.resumeCommand == "lifeboat recover unseal --resume")
            }
            // The other nodes got no key: their progress is untouched (zero).
            let s2 = try await f.vault.sealStatus(at: f.sim.apiAddress("vault_2")!)
            #expect(s2.sealed && s2.progress == 0)
            // The right keys, through --resume.
            let resumed = IncidentRecovery(vault: f.vault, options: try Self.options(f))
            let report = try await resumed.resume(expecting: .unseal)
            #expect(report.succeeded)
            #expect(f.allUnsealed)
        }
    }

    @Test func corruptNodeIsReplacedAndTheMarkerSurvives() async throws {
        try await RecoveryFixture.with { f in
            try await Self.backupThenMarker(f)
            let victim = try #require(f.sim.nodes.first { !$0.active }?.id)
            f.sim.corruptNode(victim)

            let d = try await Self.doctor(f)
            #expect(d.condition == .nodesDown, "\(d.render())")
            #expect(d.exitCode == 11)
            #expect(d.recommendedCommand == "lifeboat recover node \(victim) --plan --unseal-keys-file KEYS.json --reset-command 'STOP-WIPE-START {node}'")
            #expect(d.restoreVerdict.contains("not needed"))

            // Without the hook nothing starts; a healthy member is refused.
            let noHook = IncidentRecovery(vault: f.vault, options: try Self.options(f))
            await #expect(throws: RecoveryError.self) { _ = try await noHook.prepare(.node, target: victim) }
            let healthy = try #require(f.sim.nodes.first { $0.id != victim && !$0.active }?.id)
            let refuse = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f)))
            do {
                _ = try await refuse.prepare(.node, target: healthy)
                Issue.record("a healthy member must not be replaced without --rebuild")
            } catch let e as RecoveryError {
                #expect(e.code == .target)
                #expect(e.message.contains("--rebuild"))
            }

            // The first reset fails: the journal keeps the place, --resume finishes.
            let recovery = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f, failFirst: victim)))
            let plan = try await recovery.prepare(.node, target: victim)
            #expect(plan.steps.map(\.id) == ["reset:\(victim)", "join:\(victim)", "healthy:\(victim)", "verify"])
            do {
                _ = try await recovery.execute(plan)
                Issue.record("the first reset was made to fail")
            } catch let failed as IncidentFailed {
                #expect(failed.error.code == .hookFailed)
                #expect(failed.report.resumeCommand == "lifeboat recover node \(victim) --resume")
            }
            let journal = try #require(try IncidentJournal.load(stateDirectory: f.stateDirectory))
            #expect(journal.status == .failed)
            #expect(journal.failedStep == "reset:\(victim)")
            let resumed = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f)))
            await #expect(throws: RecoveryError.self) { _ = try await resumed.resume(expecting: .quorum) }
            let report = try await resumed.resume(expecting: .node, target: victim)
            #expect(report.succeeded)
            #expect(try IncidentJournal.load(stateDirectory: f.stateDirectory)?.status == .complete)
            #expect(f.allUnsealed)
            #expect(try await Self.voters(f) == ["vault_1", "vault_2", "vault_3"])
            try await Self.expectMarker(f)
            #expect(try await Self.doctor(f).condition == .healthy)
        }
    }

    @Test func stuckFollowerIsReportedStaleAndRebuilt() async throws {
        try await RecoveryFixture.with { f in
            try await Self.backupThenMarker(f)
            let victim = try #require(f.sim.nodes.first { !$0.active }?.id)
            f.sim.lagNode(victim)
            for i in 0..<5 { try await f.writeSecret("lifeboat/after-lag-\(i)", ["v": "\(i)"]) }
            let latest = try await f.repository.list().backups.last
            let facts = latest.map { LatestBackupFacts(id: $0.id.rawValue, createdAt: $0.createdAt.date, index: $0.raft.index) }
            let token = f.rootToken
            var doctor = ClusterDoctor(vault: f.vault, nodes: f.nodes, token: { token })
            doctor.staleLag = 2
            let d = await doctor.diagnose(latestBackup: facts, now: Date())
            #expect(d.condition == .staleNode, "\(d.render())")
            #expect(d.exitCode == 12)
            #expect(d.findings.first?.nodes == [victim])
            #expect(d.findings.first?.actions.last?.command?.hasPrefix("lifeboat recover node \(victim) --rebuild --plan") == true)
            // A running member is rebuilt only with --rebuild.
            var options = try Self.options(f, hook: Self.resetHook(f))
            await #expect(throws: RecoveryError.self) { _ = try await IncidentRecovery(vault: f.vault, options: options).prepare(.node, target: victim) }
            options.rebuild = true
            let recovery = IncidentRecovery(vault: f.vault, options: options)
            let plan = try await recovery.prepare(.node, target: victim)
            #expect(plan.warnings.contains { $0.contains("--rebuild") })
            #expect(try await recovery.execute(plan).succeeded)
            let after = await doctor.diagnose(latestBackup: facts, now: Date())
            #expect(after.condition == .healthy, "\(after.render())")
            try await Self.expectMarker(f)
        }
    }

    @Test func removedPeerIsRejoined() async throws {
        try await RecoveryFixture.with { f in
            try await Self.backupThenMarker(f)
            let victim = try #require(f.sim.nodes.first { !$0.active }?.id)
            try await f.vault.removePeer(at: try await f.leaderAddress, serverID: victim, token: f.rootToken)
            let d = try await Self.doctor(f)
            #expect(d.condition == .nodesDown, "\(d.render())")
            #expect(d.nodes.first { $0.name == victim }?.state == .removed)
            #expect(d.findings.first?.meaning.contains("removed from the raft configuration") == true)
            #expect(d.recommendedCommand?.hasPrefix("lifeboat recover node \(victim) --plan") == true)
            let recovery = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f)))
            let report = try await recovery.execute(try await recovery.prepare(.node, target: victim))
            #expect(report.succeeded)
            #expect(try await Self.voters(f) == ["vault_1", "vault_2", "vault_3"])
            try await Self.expectMarker(f)
            #expect(try await Self.doctor(f).condition == .healthy)
        }
    }

    @Test func replacedNodesOldRaftIDIsRemoved() async throws {
        try await RecoveryFixture.with { f in
            try await Self.backupThenMarker(f)
            let victim = try #require(f.sim.nodes.first { !$0.active }?.id)
            f.sim.corruptNode(victim)
            // The raft configuration knows the lost node under another id (a node id generated at its first start).
            f.sim.core.lock.withLock {
                for g in f.sim.core.groups.values {
                    if let i = g.members.firstIndex(where: { $0.id == victim }) { g.members[i].id = "old-\(victim)-id" }
                    g.persist()
                }
            }
            let recovery = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f)))
            let plan = try await recovery.prepare(.node, target: victim)
            #expect(plan.oldRaftID == "old-\(victim)-id")
            #expect(plan.steps.map(\.id) == ["reset:\(victim)", "join:\(victim)", "remove-peer:old-\(victim)-id", "healthy:\(victim)", "verify"])
            let report = try await recovery.execute(plan)
            #expect(report.succeeded)
            let leader = try await f.leaderAddress
            let ids = try await f.vault.raftConfiguration(at: leader, token: f.rootToken).servers.map(\.nodeId).sorted()
            #expect(ids == ["vault_1", "vault_2", "vault_3"], "the old id is gone, the node is back under its own")
            try await Self.expectMarker(f)
        }
    }

    /// Writes peers.json into the simulator node's raft directory and restarts the node (what a hook does on a host).
    static func quorumHooks(_ f: RecoveryFixture, written: PThreadLocked<[String]>) -> ClosureQuorumHooks {
        ClosureQuorumHooks(description: "vault-sim peers.json and restart (in-process)", writePeers: { node, json in
            let dir = try #require(f.sim.raftDirectory(node.name))
            written.withLock { $0.append(String(decoding: json, as: UTF8.self)) }
            guard FileManager.default.createFile(atPath: dir + "/peers.json", contents: Data(json)) else {
                throw TestFailure("cannot write \(dir)/peers.json")
            }
        }, restart: { node in
            f.sim.stopNode(node.name)
            try f.sim.startNode(node.name)
        })
    }

    @Test func lostQuorumIsRecoveredFromTheSurvivorAndTheMarkerSurvives() async throws {
        try await RecoveryFixture.with { f in
            try await Self.backupThenMarker(f)
            let survivor = try #require(f.sim.activeNodeID)
            let lost = f.sim.nodes.map(\.id).filter { $0 != survivor }
            for n in lost { f.sim.corruptNode(n) }
            for _ in 0..<200 where f.sim.activeNodeID != nil { try await Task.sleep(for: .milliseconds(10)) }
            #expect(f.sim.activeNodeID == nil, "two of three voters gone: no leader")

            let d = try await Self.doctor(f)
            #expect(d.condition == .quorumLost, "\(d.render())")
            #expect(d.exitCode == 13)
            #expect(d.recommendedCommand?.hasPrefix("lifeboat recover quorum --plan") == true, "\(d.render())")
            #expect(d.findings.first?.nodes.sorted() == lost.sorted())
            #expect(d.restoreVerdict.contains("not needed"))

            // recover node cannot work without a leader; it says which recovery fits.
            let nodeRecovery = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f)))
            do {
                _ = try await nodeRecovery.prepare(.node, target: lost[0])
                Issue.record("recover node needs a leader")
            } catch let e as RecoveryError {
                #expect(e.message.contains("recover quorum"))
            }

            let written = PThreadLocked<[String]>([])
            let recovery = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f), quorum: Self.quorumHooks(f, written: written)))
            let plan = try await recovery.prepare(.quorum)
            #expect(plan.survivors == [survivor])
            #expect(plan.survivorIndex != nil)
            let port = try #require(URLComponents(string: f.sim.apiAddress(survivor)!)?.port)
            #expect(plan.peersJSON == "[{\"id\":\"\(survivor)\",\"address\":\"127.0.0.1:\(port + 1)\",\"non_voter\":false}]")
            let head: [String] = ["peers:\(survivor)", "restart:\(survivor)", "unseal:\(survivor)", "leader", "index"]
            let rejoins: [String] = lost.flatMap { name -> [String] in ["reset:\(name)", "join:\(name)"] }
            let expectedSteps: [String] = head + rejoins + ["verify"]
            #expect(plan.steps.map(\.id) == expectedSteps)
            #expect(plan.render().contains("Survivor(s) kept: \(survivor)"))
            var asked = false
            let declined = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f), quorum: Self.quorumHooks(f, written: written)))
            await #expect(throws: RecoveryError.self) { _ = try await declined.execute(plan) { _ in asked = true; return false } }
            #expect(asked)
            #expect(written.withLock { $0.isEmpty }, "declined: nothing written")

            let report = try await recovery.execute(plan)
            #expect(report.succeeded)
            #expect(written.withLock { $0.count } == 1)
            #expect(!FileManager.default.fileExists(atPath: f.sim.raftDirectory(survivor)! + "/peers.json"), "applied and deleted")
            #expect(f.allUnsealed)
            #expect(try await Self.voters(f) == ["vault_1", "vault_2", "vault_3"])
            try await Self.expectMarker(f)
            let before = try await f.readSecret("lifeboat/before")
            #expect(before?.data?["v"]?.stringValue == "in the backup")
            #expect(try await Self.doctor(f).condition == .healthy)
        }
    }

    @Test func nodeOfAnotherClusterIsTheJoinTrapAndIsReplacedOnlyWhenAllowed() async throws {
        try await RecoveryFixture.with { f in
            try await Self.backupThenMarker(f)
            let victim = try #require(f.sim.nodes.first { !$0.active }?.id)
            // Someone ran `vault operator init` on a wiped node: it is a cluster of its own, unsealed.
            f.sim.wipeNode(victim)
            let own = try await f.vault.initialize(at: f.sim.apiAddress(victim)!, shares: 1, threshold: 1, autoUnseal: false)
            _ = try await f.vault.unseal(at: f.sim.apiAddress(victim)!, key: try #require(own.key))
            for _ in 0..<200 {
                if (try? await f.vault.health(at: f.sim.apiAddress(victim)!).status) == 200 { break }
                try await Task.sleep(for: .milliseconds(10))
            }

            let d = try await Self.doctor(f)
            #expect(d.condition == .mixedClusters, "\(d.render())")
            #expect(d.exitCode == 14)
            #expect(d.recommendedCommand == "lifeboat recover node \(victim) --discard-foreign-data --plan --unseal-keys-file KEYS.json --reset-command 'STOP-WIPE-START {node}'")

            let careful = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f)))
            do {
                _ = try await careful.prepare(.node, target: victim)
                Issue.record("another cluster's data must not be wiped without --discard-foreign-data")
            } catch let e as RecoveryError {
                #expect(e.code == .target)
                #expect(e.message.contains("--discard-foreign-data"))
            }
            var options = try Self.options(f, hook: Self.resetHook(f))
            options.discardForeignData = true
            let recovery = IncidentRecovery(vault: f.vault, options: options)
            let plan = try await recovery.prepare(.node, target: victim)
            #expect(plan.warnings.contains { $0.contains("--discard-foreign-data") })
            let report = try await recovery.execute(plan)
            #expect(report.succeeded)
            #expect(try await Self.voters(f) == ["vault_1", "vault_2", "vault_3"])
            try await Self.expectMarker(f)
            #expect(try await Self.doctor(f).condition == .healthy)
        }
    }

    @Test func totalLossIsTheOnlyCaseForRestoreForce() async throws {
        try await RecoveryFixture.with { f in
            try await Self.backupThenMarker(f)
            f.wipeAll()
            let d = try await Self.doctor(f)
            #expect(d.condition == .totalLoss, "\(d.render())")
            #expect(d.exitCode == 15)
            #expect(d.recommendedCommand?.hasPrefix("lifeboat restore latest --force --plan") == true)
            #expect(d.restoreVerdict.contains("only way back"))
            #expect(d.findings.first?.dataAtRisk.contains("since backup") == true)
            // The recoveries refuse: nothing to recover from.
            let recovery = IncidentRecovery(vault: f.vault, options: try Self.options(f, hook: Self.resetHook(f), quorum: Self.quorumHooks(f, written: PThreadLocked<[String]>([]))))
            do {
                _ = try await recovery.prepare(.quorum)
                Issue.record("no survivor: recover quorum must refuse")
            } catch let e as RecoveryError {
                #expect(e.message.contains("restore latest --force"))
            }
        }
    }
}
