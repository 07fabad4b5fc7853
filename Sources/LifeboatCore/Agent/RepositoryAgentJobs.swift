// The agent's real jobs for a local repository: a backup from the leader (or a skip on a standby), retention with
// the configured policy, and verification of the newest backup.

import Foundation
import LifeboatArchive

/// Jobs the agent runs against one local repository, named `local` in its configuration.
public struct RepositoryAgentJobs: AgentJobs {
    public static let destinationName = "local"

    public let client: VaultClient
    public let repositoryPath: String
    public let secret: EncryptionSecret
    public let keyRing: KeyRing
    public let retention: RetentionPolicy?
    public let onlyIfLeader: Bool
    public let backupOptions: BackupOptions
    /// Runs a drill of the newest backup, when drills are configured.
    public let drill: DrillRunner?

    public init(client: VaultClient, repositoryPath: String, secret: EncryptionSecret, keyRing: KeyRing,
                retention: RetentionPolicy?, onlyIfLeader: Bool, backupOptions: BackupOptions = BackupOptions(),
                drill: DrillRunner? = nil) {
        self.client = client
        self.repositoryPath = repositoryPath
        self.secret = secret
        self.keyRing = keyRing
        self.retention = retention
        self.onlyIfLeader = onlyIfLeader
        self.backupOptions = backupOptions
        self.drill = drill
    }

    private func repository(create: Bool) throws -> BackupRepository {
        BackupRepository(store: try LocalStore(directory: repositoryPath, createIfMissing: create))
    }

    public func runBackup(destinations: [String]) async throws -> BackupOutcome {
        if onlyIfLeader {
            switch try await LeaderLocator(client: client).localNodeRole() {
            case .active: break
            case .standby(let leader): return .notLeader(leader: leader.isEmpty ? nil : leader)
            case .sealed: throw AgentJobError(.vaultError, "the local Vault node is sealed: unseal it")
            }
        }
        let repository = try repository(create: true)
        let lock = try RepositoryLock.acquire(directory: repositoryPath, operation: "agent backup")
        defer { lock.release() }
        _ = try? await repository.cleanupLeftovers(olderThan: Date().addingTimeInterval(-3600))
        let manifest = try await BackupRunner.run(source: VaultSnapshotSource(client: client), repository: repository,
                                                  secret: secret, options: backupOptions)
        return BackupOutcome(status: .stored, leader: manifest.leader.address, originalBytes: UInt64(manifest.originalSize),
                             storedBytes: UInt64(manifest.storedSize), destinations: [Self.destinationName],
                             backupID: manifest.id.rawValue)
    }

    public func applyRetention(destination: String) async throws -> RetentionOutcome {
        let repository = try repository(create: false)
        let backups = try await repository.list().backups
        guard let retention else { return RetentionOutcome(kept: backups.count, removed: 0) }
        let lock = try RepositoryLock.acquire(directory: repositoryPath, operation: "agent retention")
        defer { lock.release() }
        // Newest first, so that backups with equal times keep their creation order.
        let decisions = try RetentionPlanner.plan(backups.reversed().map(\.retentionCandidate), policy: retention, now: Date())
        var removed = 0
        for decision in decisions where !decision.isKept {
            try await repository.delete(try BackupID(parsing: decision.candidate.id))
            removed += 1
        }
        return RetentionOutcome(kept: decisions.count - removed, removed: removed)
    }

    public func runVerify(destinations: [String]) async throws -> VerifyOutcome {
        let repository = try repository(create: false)
        guard let newest = try await repository.list().backups.last else {
            return VerifyOutcome(backupsChecked: 0, summary: "no backups yet")
        }
        let now = ManifestTimestamp(date: Date(), timeZone: .current)
        do {
            try await BackupExporter.read(newest, from: repository, keyRing: keyRing)
        } catch {
            _ = try? await repository.recordVerification(.init(verifiedAt: now, result: .damaged, detail: "\(error)"), for: newest.id)
            throw AgentJobError(.verificationFailed, "backup \(newest.id) is damaged: \(error)")
        }
        _ = try await repository.recordVerification(.init(verifiedAt: now, result: .ok), for: newest.id)
        return VerifyOutcome(backupsChecked: 1, summary: "backup \(newest.id) ok")
    }

    public func runDrill() async throws -> DrillOutcome {
        guard let drill else {
            throw AgentJobError(.configuration, "drills are not configured for this agent; give the drill options or run `lifeboat drill` from cron")
        }
        let report = try await drill.run(try await RestoreSource.resolve("latest", in: try repository(create: false)))
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

extension StoreError: AgentFailureClassifying {
    public var agentFailureReason: AgentFailureReason { .storeUnavailable }
}
