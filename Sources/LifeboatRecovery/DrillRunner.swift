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
        md += "| Scratch cluster | \(scratchCluster) (\(tornDown ? "torn down" : "NOT torn down")) |\n\n"
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
