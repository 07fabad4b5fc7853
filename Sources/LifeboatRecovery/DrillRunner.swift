// DrillRunner: proves a backup restores. Restores it (`--force` path, the same executor as an incident) into a
// scratch cluster created for the purpose, checks the canaries and that the restored data holds at least the keys
// the manifest recorded, measures the recovery time, tears the cluster down whatever happened, and writes a JSON
// and a Markdown report. The verdict is pass or fail with reasons; the CLI exits non-zero on fail.

import Foundation
import LifeboatArchive
import Logging
import LifeboatBase
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// The settings of a drill.
public struct DrillOptions: Sendable {
    public var scratch: any ScratchCluster
    /// The original cluster's unseal keys (the restored scratch nodes need them).
    public var unsealKeys: UnsealKeySet
    public var keyRing: KeyRing
    /// The drill's own state directory (staging file and journal; separate from real restores').
    public var stateDirectory: String
    /// Where `drill-<time>-<random>.json` and `.md` are written.
    public var reportDirectory: String
    public var canaries: [CanarySecret]
    /// A token of the original cluster (valid in the restored scratch cluster).
    public var originalToken: @Sendable () async throws -> VaultSecret?
    public var timeouts: RestoreTimeouts
    /// Keys the restored cluster may lack compared with the manifest's count before the drill fails (default 0).
    public var missingKeyTolerance: Int
    /// What the drill rehearses after the restore (default: the total loss the restore itself is).
    public var scenario: DrillScenario = .total
    public var onEvent: (@Sendable (RestoreEvent) -> Void)?

    public init(scratch: any ScratchCluster, unsealKeys: UnsealKeySet, keyRing: KeyRing, stateDirectory: String,
                reportDirectory: String, canaries: [CanarySecret], timeouts: RestoreTimeouts = RestoreTimeouts(),
                missingKeyTolerance: Int = 0, originalToken: @escaping @Sendable () async throws -> VaultSecret?) {
        self.scratch = scratch
        self.unsealKeys = unsealKeys
        self.keyRing = keyRing
        self.stateDirectory = stateDirectory
        self.reportDirectory = reportDirectory
        self.canaries = canaries
        self.timeouts = timeouts
        self.missingKeyTolerance = missingKeyTolerance
        self.originalToken = originalToken
    }
}

/// The incident a drill rehearses on the restored scratch cluster (docs/runbooks/incidents.md).
public enum DrillScenario: String, Sendable, Codable, CaseIterable {
    /// The restore itself (every node lost).
    case total
    /// After the restore, one node is reset (its data lost); doctor must name `recover node`, which must heal it.
    case nodeLoss = "node-loss"
    /// After the restore, every node but the first is reset (a majority lost); doctor must name `recover quorum`,
    /// which must bring the cluster back from the survivor (needs the scratch cluster's peers and restart hooks).
    case quorumLoss = "quorum-loss"
}

/// The result of one drill.
public struct DrillReport: Sendable, Codable, Equatable {
    public var drillID: String
    public var backupID: String
    public var backupCreatedAt: Date?
    public var startedAt: Date
    public var finishedAt: Date
    public var passed: Bool
    /// Why it failed (empty when it passed).
    public var reasons: [String]
    /// The restore's total (the recovery time); nil when the restore did not finish.
    public var recoverySeconds: Double?
    /// The whole drill, scratch cluster creation and teardown included.
    public var drillSeconds: Double
    public var phases: [RestoreReport.PhaseTiming]
    public var canaries: [RestoreReport.CanaryResult]
    /// Keys recorded in the manifest (or found in the backup when there is no manifest).
    public var expectedKeys: Int?
    /// Keys in a snapshot taken from the restored scratch cluster.
    public var restoredKeys: Int?
    public var snapshotIndex: UInt64?
    public var scratchCluster: String
    public var tornDown: Bool
    /// The rehearsed scenario, doctor's classification of it, and the recovery's steps (nil for `total`).
    public var scenario: DrillScenario?
    public var diagnosed: String?
    public var recoverySteps: [String]?
    /// The report files written (filled after writing).
    public var reportFiles: [String]

    /// The report as JSON.
    public func json() throws -> [UInt8] {
        try OutputJSON.encode(self)
    }

    /// The report as Markdown (for a ticket, a wiki page, an auditor).
    public func markdown() -> String {
        let iso = ISO8601DateFormatter()
        var md = "# Lifeboat restore drill \(drillID): \(passed ? "PASSED" : "FAILED")\n\n"
        md += "| | |\n|---|---|\n"
        md += "| Backup | `\(backupID)`\(backupCreatedAt.map { " taken \(iso.string(from: $0))" } ?? "") |\n"
        if let i = snapshotIndex { md += "| Snapshot raft index | \(i) |\n" }
        md += "| Started | \(iso.string(from: startedAt)) |\n"
        md += "| Recovery time | \(recoverySeconds.map { DurationText.format(seconds: $0) } ?? "not reached") |\n"
        md += "| Whole drill | \(DurationText.format(seconds: drillSeconds)) |\n"
        md += "| Keys (manifest / restored) | \(expectedKeys.map(String.init) ?? "?") / \(restoredKeys.map(String.init) ?? "?") |\n"
        md += "| Scratch cluster | \(scratchCluster) (\(tornDown ? "torn down" : "NOT torn down")) |\n"
        if let scenario, scenario != .total {
            md += "| Scenario | \(scenario.rawValue): doctor said \(diagnosed ?? "nothing"); recovery steps \((recoverySteps ?? []).joined(separator: ", ")) |\n"
        }
        md += "\n"
        if !reasons.isEmpty {
            md += "## Why it failed\n\n" + reasons.map { "- \($0)\n" }.joined() + "\n"
        }
        if !phases.isEmpty {
            md += "## Phases\n\n| Phase | Duration |\n|---|---|\n"
            md += phases.map { "| \($0.phase.title) | \(DurationText.format(seconds: $0.seconds)) |\n" }.joined() + "\n"
        }
        if !canaries.isEmpty {
            md += "## Canaries\n\n| Secret | Result |\n|---|---|\n"
            md += canaries.map { "| `\($0.path)` | \($0.readable ? "ok" : "FAILED"): \($0.detail) |\n" }.joined()
        }
        return md
    }
}

/// Runs drills.
public final class DrillRunner: Sendable {
    private let vault: any RecoveryVaultAPI
    private let options: DrillOptions
    private let logger: Logger
    private let sleeper: any VaultSleeper
    private let now: @Sendable () -> Date

    public init(vault: any RecoveryVaultAPI, options: DrillOptions, logger: Logger = Logger(label: "lifeboat.drill"),
                sleeper: any VaultSleeper = TaskVaultSleeper(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.vault = vault
        self.options = options
        self.logger = logger
        self.sleeper = sleeper
        self.now = now
    }

    /// Runs a drill of `source` and writes its report. Drill failures are in the report (`passed == false`); this
    /// throws only when the report itself cannot be written.
    public func run(_ source: RestoreSource) async throws -> DrillReport {
        let started = now()
        let clockStart = ContinuousClock.now
        let stamp = Self.stamp(started)
        var report = DrillReport(drillID: stamp + "-" + Hex.encode(SecureRandom.bytes(2)), backupID: source.id,
                                 backupCreatedAt: source.createdAt, startedAt: started, finishedAt: started, passed: false,
                                 reasons: [], recoverySeconds: nil, drillSeconds: 0, phases: [], canaries: [],
                                 expectedKeys: source.expectedEntryCount, restoredKeys: nil, snapshotIndex: nil,
                                 scratchCluster: options.scratch.description, tornDown: false, reportFiles: [])
        // A drill never resumes an earlier drill: start from a clean state directory.
        try? FileManager.default.removeItem(atPath: RestoreJournal.path(in: options.stateDirectory))
        do {
            options.onEvent?(.note(.preflight, "creating the scratch cluster: \(options.scratch.description)"))
            let instance = try await createScratch()
            options.onEvent?(.note(.preflight, "scratch cluster up: \(instance.nodes.map(\.description).joined(separator: ", "))"))
            var restoreOptions = RestoreOptions(mode: .force, nodes: instance.nodes, unsealKeys: options.unsealKeys, keyRing: options.keyRing,
                                                resetHook: instance.resetHook, stateDirectory: options.stateDirectory,
                                                canaries: options.canaries, raftNodeIDs: instance.raftNodeIDs, timeouts: options.timeouts,
                                                originalToken: options.originalToken)
            restoreOptions.onEvent = options.onEvent
            // A scratch cluster may come up initialized (it is wiped anyway); production never passes for one.
            restoreOptions.overwriteNewer = true
            restoreOptions.scratchTarget = true
            let executor = RestoreExecutor(vault: vault, options: restoreOptions, logger: logger, sleeper: sleeper, now: now)
            let prepared = try await executor.preflight(source)
            report.snapshotIndex = prepared.staged.summary.meta.index
            if report.expectedKeys == nil { report.expectedKeys = prepared.staged.summary.entryCount }
            let restore: RestoreReport
            do {
                restore = try await executor.execute(prepared)
            } catch let failed as RestoreFailed {
                report.phases = failed.report.phases
                report.canaries = failed.report.canaries
                throw failed.error
            }
            report.phases = restore.phases
            report.canaries = restore.canaries
            report.recoverySeconds = restore.totalSeconds
            try await checkKeyCount(&report, restore: restore, nodes: instance.nodes)
            if options.scenario != .total {
                report.scenario = options.scenario
                try await rehearse(options.scenario, on: instance, report: &report)
            }
        } catch {
            let message = (error as? RecoveryError)?.description ?? String(describing: error)
            report.reasons.append(message)
        }
        // Always: a failed creation may have left part of a cluster behind.
        options.onEvent?(.note(.report, "destroying the scratch cluster"))
        do {
            try await options.scratch.destroy()
            report.tornDown = true
        } catch {
            report.reasons.append("tearing down the scratch cluster failed: \(error); remove it by hand")
        }
        // The staged plaintext snapshot is not kept after a drill.
        if let files = try? FileManager.default.contentsOfDirectory(atPath: options.stateDirectory + "/staging") {
            for f in files { unlink(options.stateDirectory + "/staging/" + f) }
        }
        report.passed = report.reasons.isEmpty
        report.finishedAt = now()
        let d = ContinuousClock.now - clockStart
        report.drillSeconds = d.secondsValue
        try write(&report)
        logger.info("drill finished", metadata: ["passed": "\(report.passed)", "backup": "\(report.backupID)",
                                                 "recovery_seconds": "\(report.recoverySeconds ?? -1)"])
        return report
    }

    /// Causes the incident on the restored scratch cluster, checks that doctor classifies it and names the right
    /// recovery, runs that recovery, and checks that the cluster is healthy and the canaries are readable again.
    private func rehearse(_ scenario: DrillScenario, on instance: ScratchClusterInstance, report: inout DrillReport) async throws {
        let nodes = instance.nodes
        guard nodes.count >= 3 else {
            throw RecoveryError(.configuration, "the \(scenario.rawValue) scenario needs a scratch cluster of at least 3 nodes (it has \(nodes.count))")
        }
        let lost: [RecoveryNode] = scenario == .nodeLoss ? [nodes[nodes.count - 1]] : Array(nodes.dropFirst())
        let expected: ClusterDiagnosis.Condition = scenario == .nodeLoss ? .nodesDown : .quorumLost
        let command = scenario == .nodeLoss ? "lifeboat recover node \(lost[0].name)" : "lifeboat recover quorum"
        if scenario == .quorumLoss && instance.quorumHooks == nil {
            throw RecoveryError(.configuration, "the quorum-loss scenario needs the scratch cluster's peers and restart commands (drill --peers-command, --restart-command)")
        }
        for node in lost {
            options.onEvent?(.note(.verify, "scenario \(scenario.rawValue): losing \(node.name) (reset hook)"))
            _ = try await instance.resetHook.reset(node)
        }
        let doctor = ClusterDoctor(vault: vault, nodes: nodes, token: options.originalToken)
        var diagnosis = await doctor.diagnose(latestBackup: nil, now: now())
        // The leader notices lost voters after an election timeout: look again until the classification settles.
        let deadline = ContinuousClock.now + options.timeouts.cluster
        while diagnosis.condition != expected && ContinuousClock.now < deadline {
            try await sleeper.sleep(for: options.timeouts.pollInterval)
            diagnosis = await doctor.diagnose(latestBackup: nil, now: now())
        }
        report.diagnosed = diagnosis.condition.rawValue + (diagnosis.recommendedCommand.map { " -> \($0)" } ?? "")
        guard diagnosis.condition == expected, diagnosis.recommendedCommand?.hasPrefix(command) == true else {
            throw RecoveryError(.verificationFailed, "scenario \(scenario.rawValue): doctor classified the cluster as \(diagnosis.condition.rawValue) and recommended \(diagnosis.recommendedCommand ?? "nothing"), expected \(expected.rawValue) and `\(command)`")
        }
        var incident = IncidentOptions(nodes: nodes, unsealKeys: options.unsealKeys, resetHook: instance.resetHook, quorumHooks: instance.quorumHooks,
                                       stateDirectory: options.stateDirectory + "/scenario", timeouts: options.timeouts, token: options.originalToken)
        incident.raftNodeIDs = instance.raftNodeIDs
        let onEvent = options.onEvent
        incident.onProgress = { onEvent?(.note(.verify, $0)) }
        try? FileManager.default.removeItem(atPath: IncidentJournal.path(in: incident.stateDirectory))
        let recovery = IncidentRecovery(vault: vault, options: incident, logger: logger, sleeper: sleeper, now: now)
        let plan = try await recovery.prepare(scenario == .nodeLoss ? .node : .quorum, target: scenario == .nodeLoss ? lost[0].name : nil)
        let outcome: IncidentReport
        do {
            outcome = try await recovery.execute(plan)
        } catch let failed as IncidentFailed {
            report.recoverySteps = failed.report.completed
            throw failed.error
        }
        report.recoverySteps = outcome.completed
        let after = await doctor.diagnose(latestBackup: nil, now: now())
        guard after.condition == .healthy else {
            throw RecoveryError(.verificationFailed, "scenario \(scenario.rawValue): after the recovery doctor says \(after.condition.rawValue), not healthy")
        }
        guard let token = try await options.originalToken(), let leader = after.nodes.first(where: { $0.state == .active }) else { return }
        for canary in options.canaries {
            if try await vault.readKV(at: leader.address, mount: canary.mount, path: canary.path, token: token) == nil {
                throw RecoveryError(.verificationFailed, "scenario \(scenario.rawValue): the canary \(canary) is gone after the recovery")
            }
        }
    }

    private func createScratch() async throws -> ScratchClusterInstance {
        do { return try await options.scratch.create() } catch let e as RecoveryError {
            throw e
        } catch {
            throw RecoveryError(.scratchCluster, "creating the scratch cluster failed: \(error)")
        }
    }

    /// Takes a snapshot of the restored cluster and compares its key count with the manifest's.
    private func checkKeyCount(_ report: inout DrillReport, restore: RestoreReport, nodes: [RecoveryNode]) async throws {
        guard let leaderName = restore.leader, let leader = nodes.first(where: { $0.name == leaderName }) else {
            report.reasons.append("no leader to take a snapshot from for the key count")
            return
        }
        guard let token = try await options.originalToken() else { return }
        let summary = try await vault.snapshotSummary(at: leader.apiAddress, token: token, timeout: options.timeouts.upload(bytes: 0) * 5)
        report.restoredKeys = summary.entryCount
        if let expected = report.expectedKeys, summary.entryCount + options.missingKeyTolerance < expected {
            report.reasons.append("the restored cluster holds \(summary.entryCount) keys, the manifest recorded \(expected): \(expected - summary.entryCount) keys are missing after the restore")
        }
    }

    private func write(_ report: inout DrillReport) throws {
        try SnapshotStager.makePrivateDirectory(options.reportDirectory)
        let base = options.reportDirectory + "/drill-" + report.drillID
        report.reportFiles = [base + ".json", base + ".md"]
        do {
            let json = try AtomicFileWriter(path: base + ".json", mode: 0o600)
            try json.write(try report.json())
            try json.commit()
            let md = try AtomicFileWriter(path: base + ".md", mode: 0o600)
            try md.write(Array(report.markdown().utf8))
            try md.commit()
        } catch {
            throw RecoveryError(.staging, "cannot write the drill report in \(options.reportDirectory): \(error)")
        }
    }

    /// `20261128T231500Z` (UTC).
    static func stamp(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: date)
    }
}
