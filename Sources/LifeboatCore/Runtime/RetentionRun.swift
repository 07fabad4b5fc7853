// Retention applied to one repository: plan with the pure planner, then delete what it does not keep. Shared by
// `lifeboat prune`, `lifeboat backup` and the agent. The caller holds the destination's lock.

import Foundation

/// What one retention pass decided and did.
public struct RetentionRunResult: Sendable {
    /// Every backup with keep or remove and the reasons, newest first.
    public var decisions: [RetentionDecision]
    /// The ids removed (empty on a dry run).
    public var removed: [String]

    /// Backups the policy keeps.
    public var kept: Int { decisions.filter(\.isKept).count }
    /// Backups the policy does not keep (removed, or to be removed on a dry run).
    public var toRemove: Int { decisions.count - kept }
}

public enum RetentionRun {
    /// Plans `policy` over the backups in `repository` and, unless `dryRun`, removes the backups it does not keep.
    /// - Throws: ``RetentionError`` for an unusable policy (nothing is removed), store errors while deleting (what
    ///   was removed before the error stays removed; the rest stays).
    public static func apply(
        _ policy: RetentionPolicy, to repository: BackupRepository, now: Date, dryRun: Bool
    ) async throws -> RetentionRunResult {
        let listing = try await repository.list()
        // Newest first, so that backups with equal times keep their creation order.
        let decisions = try RetentionPlanner.plan(listing.backups.reversed().map(\.retentionCandidate), policy: policy, now: now)
        var removed: [String] = []
        if !dryRun {
            for decision in decisions where !decision.isKept {
                try await repository.delete(try BackupID(parsing: decision.candidate.id))
                removed.append(decision.candidate.id)
            }
        }
        return RetentionRunResult(decisions: decisions, removed: removed)
    }
}
