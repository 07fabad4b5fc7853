// The agent's real jobs over the configured destinations: a backup from the leader to every destination of the
// schedule (or a skip on a standby), retention per destination, verification of the newest backup on each, and
// drills. SIGHUP swaps in a new setup; a job already running keeps the setup it started with.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

/// Jobs the agent runs against the configured destinations (local directories and S3 buckets).
public final class ConfiguredAgentJobs: AgentJobs {
    /// Everything a job needs besides the Vault client; replaced as a whole on reload.
    public struct Setup: Sendable {
        public var destinations: [OpenedDestination]
        public var secret: EncryptionSecret
        public var keyRing: KeyRing
        public var onlyIfLeader: Bool
        public var backupOptions: BackupOptions
        /// Runs a drill of the newest backup, when drills are configured.
        public var drill: DrillRunner?

        public init(destinations: [OpenedDestination], secret: EncryptionSecret, keyRing: KeyRing, onlyIfLeader: Bool,
                    backupOptions: BackupOptions = BackupOptions(), drill: DrillRunner? = nil) {
            self.destinations = destinations
            self.secret = secret
            self.keyRing = keyRing
            self.onlyIfLeader = onlyIfLeader
            self.backupOptions = backupOptions
            self.drill = drill
        }
    }

    public let client: VaultClient
    private let current: PThreadLocked<Setup>
    private let retired: PThreadLocked<[OpenedDestination]>

    public init(client: VaultClient, setup: Setup) {
        self.client = client
        current = PThreadLocked(setup)
        retired = PThreadLocked([])
    }

    /// The setup new jobs use.
    public var setup: Setup { current.withLock { $0 } }

    /// Uses `setup` for jobs started from now on (SIGHUP). The old destinations are closed at ``close()``, since a
    /// running job may still use them.
    public func replace(_ setup: Setup) {
        let old = current.withLock { current in
            defer { current = setup }
            return current.destinations
        }
        retired.withLock { $0 += old }
    }

    /// Closes every destination's connections (at shutdown).
    public func close() async {
        for destination in setup.destinations + retired.withLock({ $0 }) { await destination.close() }
    }

    private func destinations(_ names: [String], in setup: Setup) throws -> [OpenedDestination] {
        let chosen = setup.destinations.filter { names.contains($0.name) }
        guard !chosen.isEmpty else {
            throw AgentJobError(.configuration, "no configured destination is named \(names.joined(separator: ", "))")
        }
        return chosen
    }

    public func runBackup(destinations names: [String]) async throws -> BackupOutcome {
        let setup = self.setup
        if setup.onlyIfLeader {
            // The same decision as `lifeboat backup --only-if-leader`.
            do {
                if case .skip(let leader) = try await LeaderLocator(client: client).onlyIfLeaderVerdict() {
                    return .notLeader(leader: leader)
                }
            } catch let e as LocalNodeNotReady {
                throw AgentJobError(.vaultError, e.message)
            }
        }
        let report = try await ConfiguredBackup.run(
            source: VaultSnapshotSource(client: client), destinations: try destinations(names, in: setup), secret: setup.secret,
            options: setup.backupOptions, applyRetention: false, operation: "agent backup")
        if report.isPartial {
            // An alert, not a success: a copy is missing. Nothing is pruned after this run.
            throw AgentJobError(.storeUnavailable, PartialBackupError(report: report).description)
        }
        let manifest = report.manifest
        return BackupOutcome(status: .stored, leader: manifest.leader.address, originalBytes: UInt64(manifest.originalSize),
                             storedBytes: UInt64(manifest.storedSize), destinations: report.stored,
                             backupID: manifest.id.rawValue, warnings: report.destinations.flatMap(\.warnings))
    }

    public func applyRetention(destination name: String) async throws -> RetentionOutcome {
        guard let destination = setup.destinations.first(where: { $0.name == name }) else {
            throw AgentJobError(.configuration, "no configured destination is named \(name)")
        }
        guard let policy = destination.retention else {
            return RetentionOutcome(kept: try await destination.repository.list().backups.count, removed: 0)
        }
        let lock = try await destination.lock(.exclusive, operation: "agent retention")
        do {
            let run = try await RetentionRun.apply(policy, to: destination.repository, grouping: destination.configuration.groupBy,
                                                   now: Date(), dryRun: false)
            await lock.release()
            return RetentionOutcome(kept: run.kept, removed: run.removed.count)
        } catch {
            await lock.release()
            throw AgentJobError(.retentionFailed, "retention on \(name) failed: \(error)")
        }
    }

    public func runVerify(destinations names: [String]) async throws -> VerifyOutcome {
        let setup = self.setup
        var checked = 0
        var lines: [String] = []
        for destination in try destinations(names, in: setup) {
            // Under a shared lock: prune cannot remove the backup while it is read and its verdict recorded.
            let lock = try await destination.readLock(operation: "agent verify")
            do {
                let line = try await verifyNewest(on: destination, keyRing: setup.keyRing)
                await lock?.release()
                if line.checked { checked += 1 }
                lines.append(line.text)
            } catch {
                await lock?.release()
                throw error
            }
        }
        return VerifyOutcome(backupsChecked: checked, summary: lines.joined(separator: "; "))
    }

    private func verifyNewest(on destination: OpenedDestination, keyRing: KeyRing) async throws -> (checked: Bool, text: String) {
        let repository = destination.repository
        guard let newest = try await repository.list().backups.last else {
            return (false, "\(destination.name): no backups yet")
        }
        let now = ManifestTimestamp(date: Date(), timeZone: .current)
        do {
            try await BackupExporter.read(newest, from: repository, keyRing: keyRing)
        } catch {
            _ = try? await repository.recordVerification(.init(verifiedAt: now, result: .damaged, detail: "\(error)"), for: newest.id)
            throw AgentJobError(.verificationFailed, "backup \(newest.id) on \(destination.name) is damaged: \(error)")
        }
        _ = try await repository.recordVerification(.init(verifiedAt: now, result: .ok), for: newest.id)
        return (true, "\(destination.name): backup \(newest.id) ok")
    }

    public func runDrill() async throws -> DrillOutcome {
        let setup = self.setup
        guard let drill = setup.drill else {
            throw AgentJobError(.configuration, "drills are not configured for this agent; configure `drill` or run `lifeboat drill` from cron")
        }
        let source = try await BackupLocator.restoreSource(in: setup.destinations)
        let report = try await drill.run(source)
        guard report.passed else {
            throw AgentJobError(.drillFailed, "drill of backup \(report.backupID) failed: \(report.reasons.joined(separator: "; "))")
        }
        return DrillOutcome(summary: "drill of backup \(report.backupID) passed", recoveryTime: report.recoverySeconds.map { .seconds($0) })
    }
}

extension BackupError: AgentFailureClassifying {
    public var agentFailureReason: AgentFailureReason {
        switch self {
        case .snapshotRejected: return .snapshotInvalid
        case .sourceFailed: return .vaultUnreachable
        }
    }
}

extension VaultError: AgentFailureClassifying {
    public var agentFailureReason: AgentFailureReason {
        switch kind {
        case .unreachable, .connectionLost, .noLeader, .tls: return .vaultUnreachable
        case .permissionDenied, .authentication: return .vaultAuth
        case .timeout, .stalled: return .timeout
        case .configuration: return .configuration
        default: return .vaultError
        }
    }
}

extension RepositoryLockError: AgentFailureClassifying {
    public var agentFailureReason: AgentFailureReason { .lockHeld }
}

extension StoreLockError: AgentFailureClassifying {
    public var agentFailureReason: AgentFailureReason { .lockHeld }
}

extension StoreError: AgentFailureClassifying {
    public var agentFailureReason: AgentFailureReason { .storeUnavailable }
}

extension DestinationsFailedError: AgentFailureClassifying {
    public var agentFailureReason: AgentFailureReason { exitStatus == .lockHeld ? .lockHeld : .storeUnavailable }
}

extension ConfigurationError: AgentFailureClassifying {
    public var agentFailureReason: AgentFailureReason { .configuration }
}

extension MissingKeyError: AgentFailureClassifying {
    public var agentFailureReason: AgentFailureReason { .configuration }
}
