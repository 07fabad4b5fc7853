// Retention applied to one repository: plan with the pure planner, then delete what it does not keep. Shared by
// `lifeboat prune`, `lifeboat backup` and the agent. The caller holds the destination's lock.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

/// What one retention pass decided and did.
public struct RetentionRunResult: Sendable {
    /// Every backup with keep or remove and the reasons, newest first.
    public var decisions: [RetentionDecision]
    /// The ids removed (empty on a dry run).
    public var removed: [String]

    /// Backups the policy keeps.
    public var kept: Int { decisions.filter(\.isKept).count }
}

public enum RetentionRun {
    /// Plans `policy` over the backups in `repository` and, unless `dryRun`, removes the backups it does not keep,
    /// `concurrency` at a time (object stores answer each delete after a round trip).
    /// - Throws: ``RetentionError`` for an unusable policy (nothing is removed), store errors while deleting (what
    ///   was removed before the error stays removed; the rest stays).
    public static func apply(
        _ policy: RetentionPolicy, to repository: BackupRepository, now: Date, dryRun: Bool, concurrency: Int = 8
    ) async throws -> RetentionRunResult {
        let listing = try await repository.list()
        // Newest first, so that backups with equal times keep their creation order.
        let decisions = try RetentionPlanner.plan(listing.backups.reversed().map(\.retentionCandidate), policy: policy, now: now)
        guard !dryRun else { return RetentionRunResult(decisions: decisions, removed: []) }
        let doomed = try decisions.filter { !$0.isKept }.map { try BackupID(parsing: $0.candidate.id) }
        var removed: [String] = []
        try await withThrowingTaskGroup(of: String.self) { group in
            for (index, id) in doomed.enumerated() {
                if index >= max(1, concurrency), let done = try await group.next() { removed.append(done) }
                group.addTask {
                    try await repository.delete(id)
                    return id.rawValue
                }
            }
            for try await done in group { removed.append(done) }
        }
        let order = Dictionary(uniqueKeysWithValues: doomed.enumerated().map { ($0.element.rawValue, $0.offset) })
        return RetentionRunResult(decisions: decisions, removed: removed.sorted { order[$0]! < order[$1]! })
    }
}
