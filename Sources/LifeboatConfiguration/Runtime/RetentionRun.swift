// Retention applied to one repository: group the backups into series (per cluster by default, restic's
// `--group-by`), plan each series with the pure planner, then delete what it does not keep. Shared by
// `lifeboat prune`, `lifeboat backup` and the agent. The caller holds the destination's exclusive lock.

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

/// The decisions for one series.
public struct RetentionGroupResult: Sendable, Encodable {
    /// The series (a cluster name or id); nil for backups without cluster identity, and for `group_by: none`.
    public var series: String?
    /// Every backup of the series with keep or remove and the reasons, newest first.
    public var decisions: [RetentionDecision]

    enum CodingKeys: String, CodingKey { case series = "cluster", decisions }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(series, forKey: .series)
        try c.encode(decisions, forKey: .decisions)
    }
}

/// What one retention pass decided and did.
public struct RetentionRunResult: Sendable {
    /// How the backups were grouped.
    public var grouping: RetentionGrouping
    /// One entry per series, ordered by series name (the series without identity first).
    public var groups: [RetentionGroupResult]
    /// The ids removed (empty on a dry run).
    public var removed: [String]

    /// Every decision of every series.
    public var decisions: [RetentionDecision] { groups.flatMap(\.decisions) }
    /// Backups the policy keeps.
    public var kept: Int { decisions.filter(\.isKept).count }
}

public enum RetentionRun {
    /// Groups the backups in `repository` by `grouping`, plans `policy` over each series on its own and, unless
    /// `dryRun`, removes the backups it does not keep, `concurrency` at a time (object stores answer each delete
    /// after a round trip).
    /// - Throws: ``RetentionError`` for an unusable policy (nothing is removed), store errors while deleting (what
    ///   was removed before the error stays removed; the rest stays).
    public static func apply(
        _ policy: RetentionPolicy, to repository: BackupRepository, grouping: RetentionGrouping = .cluster,
        now: Date, dryRun: Bool, concurrency: Int = 8
    ) async throws -> RetentionRunResult {
        let listing = try await repository.list()
        var backups = listing.backups
        var groups = try plan(backups, policy: policy, grouping: grouping, now: now)
        // Object Lock: on a destination configured with `object_lock`, ask the store about each backup the plan would
        // remove (only those: two HEADs each on S3). One still locked is kept with "locked until T" (the planner's
        // rail), and removed by the first prune after. Elsewhere the manifests' own lock records suffice: a prune must
        // not cost two requests per old backup on every bucket (docs/security.md, "Object Lock in practice").
        let lockAware = (repository.store as? S3Store)?.configuration.objectLock != nil
        let candidates = lockAware ? Set(groups.flatMap(\.decisions).filter { !$0.isKept }.map(\.candidate.id)) : []
        if !candidates.isEmpty {
            let locks = try await lockedUntil(of: backups.filter { candidates.contains($0.id.rawValue) }, in: repository,
                                              concurrency: concurrency)
            if !locks.isEmpty {
                for index in backups.indices {
                    guard let until = locks[backups[index].id.rawValue] else { continue }
                    let recorded = backups[index].objectLock?.retainUntil ?? .distantPast
                    backups[index].objectLock = StoreObjectLock(mode: backups[index].objectLock?.mode ?? .compliance,
                                                                retainUntil: max(until, recorded))
                }
                groups = try plan(backups, policy: policy, grouping: grouping, now: now)
            }
        }
        guard !dryRun else { return RetentionRunResult(grouping: grouping, groups: groups, removed: []) }
        let doomed = try groups.flatMap(\.decisions).filter { !$0.isKept }.map { try BackupID(parsing: $0.candidate.id) }
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
        return RetentionRunResult(grouping: grouping, groups: groups,
                                  removed: removed.sorted { (order[$0] ?? 0) < (order[$1] ?? 0) })
    }

    /// The store's lock expiry of each backup in `backups` that has one (missing objects count as unlocked).
    static func lockedUntil(of backups: [BackupManifest], in repository: BackupRepository, concurrency: Int) async throws -> [String: Date] {
        var result: [String: Date] = [:]
        try await withThrowingTaskGroup(of: (String, Date?).self) { group in
            for (index, manifest) in backups.enumerated() {
                if index >= max(1, concurrency), let (id, until) = try await group.next() { result[id] = until }
                group.addTask {
                    do {
                        return (manifest.id.rawValue, try await repository.objectLock(of: manifest)?.retainUntil)
                    } catch let error as StoreError where error.kind == .notFound {
                        return (manifest.id.rawValue, nil)
                    }
                }
            }
            for try await (id, until) in group { result[id] = until }
        }
        return result.compactMapValues { $0 }
    }

    /// The plan of every series (pure): `backups` oldest first, as ``BackupRepository/list()`` returns them.
    public static func plan(
        _ backups: [BackupManifest], policy: RetentionPolicy, grouping: RetentionGrouping, now: Date
    ) throws -> [RetentionGroupResult] {
        var series: [String?: [BackupManifest]] = [:]
        for manifest in backups { series[manifest.series(grouping), default: []].append(manifest) }
        let names = series.keys.sorted { ($0 ?? "") < ($1 ?? "") || ($0 == nil && $1 != nil) }
        return try names.map { name in
            // Newest first, so that backups with equal times keep their creation order.
            let members = series[name] ?? []
            return RetentionGroupResult(
                series: name,
                decisions: try RetentionPlanner.plan(members.reversed().map(\.retentionCandidate), policy: policy, now: now))
        }
    }
}
