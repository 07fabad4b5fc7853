// RecoveryError: every failure of a restore or a drill, with a code (for exit statuses and metric labels), the
// phase it happened in, the node concerned, and a message that says what happened and what to do next.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// A restore or drill failure. `message` is one or two sentences for the operator at 3 a.m.
public struct RecoveryError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    /// What failed; bounded, so it can be a metric label.
    public enum Code: String, Sendable, Equatable, Codable, CaseIterable {
        /// The unseal keys file is unreadable, malformed or too open.
        case unsealKeys
        /// Fewer distinct keys than the restored threshold.
        case notEnoughUnsealKeys
        /// The keys do not reconstruct the key that sealed the backup, or a key is malformed (truncated, mixed sets,
        /// hex/base64 mix-up): proven offline in preflight.
        case unsealKeysWrong
        /// The backup's SHA256SUMS.sealed cannot be opened in a form Lifeboat reads, so the keys cannot be proven.
        case unsealKeysUnverifiable
        /// The credential a later phase uses lacks a capability (checked with sys/capabilities-self in preflight).
        case credentials
        /// The target is not the cluster the operator meant, or holds newer data than the backup.
        case target
        /// The backup could not be fetched, decrypted or verified (preflight): nothing was touched.
        case backupInvalid
        /// The staging directory or file could not be written.
        case staging
        /// The options or configuration contradict each other (no nodes, no token, ...).
        case configuration
        /// A reset hook command failed or timed out.
        case hookFailed
        /// Vault did not reach the expected state in time (uninitialized, sealed with the restored config, voters...).
        case timeout
        /// Vault answered an unexpected or refusing response during a phase.
        case vault
        /// The snapshot upload was refused by Vault.
        case uploadRefused
        /// The asynchronous apply failed (the node sealed with the temporary configuration or never resealed).
        case applyFailed
        /// The original unseal keys did not unseal a restored node.
        case unsealFailed
        /// A node did not join the new cluster (e.g. it still held old data).
        case joinFailed
        /// The final checks failed (leader, indexes, canaries).
        case verificationFailed
        /// The journal is missing, unreadable, complete already, or belongs to another restore.
        case journal
        /// The operator declined the confirmation.
        case declined
        /// The run was cancelled (Ctrl-C); the journal allows `--resume`.
        case cancelled
        /// Creating or destroying the drill's scratch cluster failed.
        case scratchCluster
    }

    public var code: Code
    public var message: String
    /// The phase that failed, when a phase was running.
    public var phase: RestorePhase?
    /// The node concerned, when one is.
    public var node: String?

    public init(_ code: Code, _ message: String, phase: RestorePhase? = nil, node: String? = nil) {
        self.code = code
        self.message = message
        self.phase = phase
        self.node = node
    }

    public var description: String {
        var prefix = ""
        if let phase { prefix += "\(phase.title) failed" + (node.map { " on \($0)" } ?? "") + ": " }
        return prefix + message
    }

    public var exitStatus: ExitStatus {
        switch code {
        case .backupInvalid: return .dataError
        case .staging: return .ioError
        case .unsealKeys, .configuration: return .configuration
        case .notEnoughUnsealKeys: return .usage
        case .unsealKeysWrong, .unsealKeysUnverifiable: return .dataError
        case .credentials: return .configuration
        case .target: return .usage
        default: return .failure
        }
    }

    /// This error, attributed to `phase` (and `node`) unless it already names one.
    func attributed(to phase: RestorePhase?, node: String? = nil) -> RecoveryError {
        var e = self
        if e.phase == nil { e.phase = phase }
        if e.node == nil { e.node = node }
        return e
    }

    /// Wraps any error of a phase into a RecoveryError (keeping RecoveryErrors as they are).
    static func wrap(_ error: any Error, phase: RestorePhase?, node: String? = nil,
                     resumeCommand: String = "lifeboat restore --resume") -> RecoveryError {
        if let r = error as? RecoveryError { return r.attributed(to: phase, node: node) }
        if error is CancellationError {
            return RecoveryError(.cancelled, "the run was interrupted; run `\(resumeCommand)` to continue where it stopped", phase: phase, node: node)
        }
        if let v = error as? VaultError {
            let code: Code = v.kind == .snapshotKeyMismatch || v.kind == .snapshotIntegrity ? .uploadRefused : .vault
            return RecoveryError(code, v.message, phase: phase, node: node)
        }
        return RecoveryError(.vault, String(describing: error), phase: phase, node: node)
    }
}
