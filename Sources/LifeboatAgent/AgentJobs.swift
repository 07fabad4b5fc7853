// The seam between the agent daemon and the work it schedules: the daemon decides *when*, an `AgentJobs`
// conformance does the backup, retention, verification and drill. Tests plug in fakes; the CLI plugs in the real
// backup runner, retention executor, verifier and drill engine.

import Foundation
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// The work the agent schedules. Every method must honour task cancellation: when the agent shuts down and its
/// grace period has passed, the running job's task is cancelled, and the job must stop without leaving a partial
/// backup visible (commit nothing, delete temporary objects) and then return or throw promptly.
public protocol AgentJobs: Sendable {
    /// Takes one snapshot and stores it on every destination in `destinations` (names from the configuration).
    func runBackup(destinations: [String]) async throws -> BackupOutcome
    /// Applies the destination's retention policy after a successful backup and reports what is left.
    func applyRetention(destination: String) async throws -> RetentionOutcome
    /// Verifies the newest backup (or a sample) on each of `destinations`.
    func runVerify(destinations: [String]) async throws -> VerifyOutcome
    /// Runs one disaster-recovery drill.
    func runDrill() async throws -> DrillOutcome
}

/// What one backup run achieved.
public struct BackupOutcome: Sendable, Equatable {
    /// How the run ended without an error.
    public enum Status: String, Sendable, Equatable, Codable {
        /// A snapshot was taken, verified and committed to the destinations.
        case stored
        /// This node is not the active node and the agent runs with `--only-if-leader`: nothing to do, and not a
        /// failure (another node's agent takes the backup).
        case skippedNotLeader = "skipped_not_leader"
    }

    public var status: Status
    /// The address of the active node as seen during the run (for /status; never a metric label).
    public var leader: String?
    /// Bytes of the Vault snapshot.
    public var originalBytes: UInt64
    /// Bytes written per destination (the encrypted, possibly compressed archive).
    public var storedBytes: UInt64
    /// The destinations that received the backup.
    public var destinations: [String]
    /// The backup's identifier, for logs and /status only.
    public var backupID: String?
    /// What the operator should know although the backup is stored (e.g. it started a new cluster series on a
    /// destination); logged as warnings.
    public var warnings: [String] = []

    public init(
        status: Status = .stored, leader: String? = nil, originalBytes: UInt64 = 0, storedBytes: UInt64 = 0,
        destinations: [String] = [], backupID: String? = nil, warnings: [String] = []
    ) {
        self.warnings = warnings
        self.status = status
        self.leader = leader
        self.originalBytes = originalBytes
        self.storedBytes = storedBytes
        self.destinations = destinations
        self.backupID = backupID
    }

    /// The outcome of a run that found this node is not the leader.
    public static func notLeader(leader: String?) -> BackupOutcome {
        BackupOutcome(status: .skippedNotLeader, leader: leader)
    }
}

/// What retention left on one destination.
public struct RetentionOutcome: Sendable, Equatable {
    /// Backups kept on the destination after this pass.
    public var kept: Int
    /// Backups removed by this pass.
    public var removed: Int

    public init(kept: Int, removed: Int) {
        self.kept = kept
        self.removed = removed
    }
}

/// A verification that passed. A verification that finds a bad backup throws (with reason
/// `.verificationFailed`).
public struct VerifyOutcome: Sendable, Equatable {
    /// How many backups were checked.
    public var backupsChecked: Int
    /// One line for logs and /status.
    public var summary: String

    public init(backupsChecked: Int, summary: String) {
        self.backupsChecked = backupsChecked
        self.summary = summary
    }
}

/// A drill that passed. A failed drill throws (with reason `.drillFailed` or the failing step's reason).
public struct DrillOutcome: Sendable, Equatable {
    /// One line for logs and /status.
    public var summary: String
    /// Time from the start of the restore to a verified, unsealed cluster, if measured.
    public var recoveryTime: Duration?

    public init(summary: String, recoveryTime: Duration? = nil) {
        self.summary = summary
        self.recoveryTime = recoveryTime
    }
}

/// Why a job failed: the closed set of labels that `lifeboat_backup_failures_total{reason}` and the webhooks use.
/// Adding a case is a documented change (docs/metrics.md); anything unclassified is `.other`.
public enum AgentFailureReason: String, Sendable, Equatable, Codable, CaseIterable {
    /// Vault did not answer (connection refused, DNS, TLS, timeout talking to Vault).
    case vaultUnreachable = "vault_unreachable"
    /// Vault refused the credentials or the policy does not allow the snapshot.
    case vaultAuth = "vault_auth"
    /// Vault answered with an error or no leader could be found.
    case vaultError = "vault_error"
    /// The snapshot failed verification (truncated, checksum mismatch, missing files).
    case snapshotInvalid = "snapshot_invalid"
    /// Encryption or key handling failed (missing or unreadable key).
    case encryption = "encryption"
    /// A destination could not be written or read (disk full, permission, S3 error).
    case storeUnavailable = "store_unavailable"
    /// Another run holds the repository lock.
    case lockHeld = "lock_held"
    /// A step exceeded its time limit.
    case timeout = "timeout"
    /// The configuration does not allow the job to run.
    case configuration = "configuration"
    /// A verification found a damaged or unreadable backup.
    case verificationFailed = "verification_failed"
    /// A drill did not reach a verified, unsealed cluster.
    case drillFailed = "drill_failed"
    /// Retention could not be applied.
    case retentionFailed = "retention_failed"
    /// Anything else.
    case other = "other"

    /// The reason for an arbitrary error: the error's own classification if it provides one, otherwise `.other`.
    public static func classify(_ error: any Error) -> AgentFailureReason {
        if let classified = error as? any AgentFailureClassifying { return classified.agentFailureReason }
        return .other
    }
}

/// Errors that know their bounded failure reason. The backup runner's, verifier's and drill engine's errors
/// conform so that the agent's metrics and webhooks name the right reason.
public protocol AgentFailureClassifying: Error {
    var agentFailureReason: AgentFailureReason { get }
}

/// A job failure with an explicit reason and an operator-facing message; handy for jobs that wrap other errors.
public struct AgentJobError: Error, Sendable, Equatable, CustomStringConvertible, AgentFailureClassifying {
    public var reason: AgentFailureReason
    public var message: String

    public init(_ reason: AgentFailureReason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var agentFailureReason: AgentFailureReason { reason }
    public var description: String { message }
}
