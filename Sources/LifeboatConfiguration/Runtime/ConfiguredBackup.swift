// A backup to the configured destinations, the way `lifeboat backup` and the agent take it: lock every
// destination, clean leftovers of interrupted runs, stream one verified snapshot to all of them at once, then apply
// each destination's retention only where the new backup was stored. A destination that fails does not stop the
// others, and is never pruned.

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

/// What happened on one destination.
public struct DestinationBackupReport: Sendable, Encodable {
    /// The destination's name.
    public var destination: String
    /// The backup is stored there.
    public var stored: Bool
    /// Why it is not (nil when stored).
    public var error: String?
    /// Backups left after retention (nil when retention did not run).
    public var kept: Int?
    /// Backups retention removed.
    public var removed: [String]
    /// Why retention failed, if it did (the backup itself is stored).
    public var retentionError: String?
    /// What the operator should know although the backup is stored (e.g. a new cluster series started here).
    public var warnings: [String] = []

    enum CodingKeys: String, CodingKey {
        case destination, stored, error, kept, removed, warnings
        case retentionError = "retention_error"
    }
}

/// The outcome of a backup to several destinations; at least one holds the backup.
public struct ConfiguredBackupReport: Sendable {
    public var manifest: BackupManifest
    /// One report per destination, in configuration order.
    public var destinations: [DestinationBackupReport]

    /// The destinations that hold the backup.
    public var stored: [String] { destinations.filter(\.stored).map(\.destination) }
    /// Some destination does not hold the backup.
    public var isPartial: Bool { destinations.contains { !$0.stored } }
}

/// Some destinations hold the backup and some do not: exit status 3, and the report says which.
public struct PartialBackupError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public var report: ConfiguredBackupReport

    public init(report: ConfiguredBackupReport) {
        self.report = report
    }

    public var description: String {
        let failed = report.destinations.filter { !$0.stored }.map { "\($0.destination) (\($0.error ?? "failed"))" }
        return "backup \(report.manifest.id) is stored on \(report.stored.joined(separator: ", ")) but NOT on "
            + failed.joined(separator: "; ") + "; fix those destinations and run `lifeboat backup` again"
    }

    public var exitStatus: ExitStatus { .partial }
}

public enum ConfiguredBackup {
    /// Takes one backup to `destinations`.
    /// - Parameters:
    ///   - applyRetention: apply each destination's retention policy after the backup (only where it was stored).
    ///   - leftoverAge: temporary objects of interrupted runs older than this are removed first.
    /// - Throws: the snapshot's error (nothing stored), the destination's own error when there is one destination,
    ///   ``DestinationsFailedError`` when none of several could store it.
    public static func run(
        source: any SnapshotSource, destinations: [OpenedDestination], secret: EncryptionSecret,
        options: BackupOptions = BackupOptions(), applyRetention: Bool = true, operation: String = "backup",
        leftoverAge: TimeInterval = 3600, now: @escaping @Sendable () -> Date = { Date() },
        onRetry: (_ attempt: Int, _ error: any Error) -> Void = { _, _ in },
        progress: (@Sendable (Int64) -> Void)? = nil
    ) async throws -> ConfiguredBackupReport {
        var locks: [String: any DestinationLock] = [:]
        do {
            let report = try await run(source: source, destinations: destinations, secret: secret, options: options,
                                       applyRetention: applyRetention, operation: operation, leftoverAge: leftoverAge,
                                       now: now, onRetry: onRetry, progress: progress, locks: &locks)
            for lock in locks.values { await lock.release() }
            return report
        } catch {
            for lock in locks.values { await lock.release() }
            throw error
        }
    }

    private static func run(
        source: any SnapshotSource, destinations: [OpenedDestination], secret: EncryptionSecret, options: BackupOptions,
        applyRetention: Bool, operation: String, leftoverAge: TimeInterval, now: @escaping @Sendable () -> Date,
        onRetry: (_ attempt: Int, _ error: any Error) -> Void, progress: (@Sendable (Int64) -> Void)?,
        locks: inout [String: any DestinationLock]
    ) async throws -> ConfiguredBackupReport {
        var targets: [BackupTarget] = []
        var lockFailures: [DestinationFailure] = []
        let series = ClusterSeriesGate()
        for destination in destinations {
            do {
                locks[destination.name] = try await destination.lock(.write, operation: operation)
                // object_lock: the bucket must be able to lock, else this destination fails before anything is written.
                if let s3 = destination.repository.store as? S3Store { try await s3.checkObjectLock() }
                targets.append(BackupTarget(name: destination.name, repository: destination.repository,
                                            admit: { manifest in try await series.admit(manifest, into: destination) }))
            } catch {
                lockFailures.append(DestinationFailure(destination: destination.name, error: error))
            }
        }
        if targets.isEmpty {
            if lockFailures.count == 1 { throw lockFailures[0].error }
            throw DestinationsFailedError(failures: lockFailures)
        }
        for target in targets {
            // Unfinished uploads and temporary objects of interrupted runs (a short listing of pending objects only).
            // The full scan for data without a manifest lists every backup, so it runs only when the lock shows that
            // a run died holding it (and in every prune): a backup's cost must not grow with the backups stored.
            let cutoff = now().addingTimeInterval(-leftoverAge)
            if locks[target.name]?.previousHolderSummary != nil {
                _ = try? await target.repository.cleanupLeftovers(olderThan: cutoff)
            } else {
                _ = try? await target.repository.store.cleanupOrphans(olderThan: cutoff)
            }
        }
        let result: BackupResult
        do {
            let repositories = targets.map(\.repository)
            result = try await BackupRunner.run(source: source, targets: targets, secret: secret, options: options,
                                                now: now, onRetry: onRetry, progress: progress,
                                                identify: { manifest in await series.identify(manifest, in: repositories) })
        } catch let error as DestinationsFailedError {
            let all = error.failures + lockFailures
            if destinations.count == 1, let only = all.first { throw only.error }
            throw DestinationsFailedError(failures: destinations.compactMap { d in all.first { $0.destination == d.name } })
        }
        let failures = result.failures + lockFailures
        var reports: [DestinationBackupReport] = []
        for destination in destinations {
            if let failure = failures.first(where: { $0.destination == destination.name }) {
                reports.append(DestinationBackupReport(destination: destination.name, stored: false, error: "\(failure.error)", removed: []))
                continue
            }
            var report = DestinationBackupReport(destination: destination.name, stored: true, removed: [])
            report.warnings = series.warnings(for: destination.name)
            if applyRetention, let policy = destination.retention {
                do {
                    // Removing backups needs the exclusive lock: readers (verify, restore) must not lose what they read.
                    guard try await locks[destination.name]?.upgrade() ?? false else {
                        report.warnings.append("retention on \(destination.name) was skipped: other runs are reading it "
                            + "(verify, list, export or restore); `lifeboat prune` applies it later")
                        reports.append(report)
                        continue
                    }
                    let run = try await RetentionRun.apply(policy, to: destination.repository, grouping: destination.configuration.groupBy,
                                                           now: now(), dryRun: false)
                    report.kept = run.kept
                    report.removed = run.removed
                } catch {
                    report.retentionError = "\(error)"
                }
            }
            reports.append(report)
        }
        return ConfiguredBackupReport(manifest: result.manifest, destinations: reports)
    }
}


/// The cluster checks of one backup run: a destination pinned to a cluster (`cluster: NAME`) refuses others; a
/// cluster new to a destination that holds another's backups starts its own series, with a warning; the
/// destination's cluster registry (`clusters.json`) records it. Runs under each destination's exclusive lock.
final class ClusterSeriesGate: Sendable {
    private let notes = PThreadLocked<[String: [String]]>([:])

    /// The warnings recorded for `destination`.
    func warnings(for destination: String) -> [String] { notes.withLock { $0[destination] ?? [] } }

    func admit(_ manifest: BackupManifest, into destination: OpenedDestination) async throws {
        let series = manifest.clusterSeries
        if let pinned = destination.configuration.cluster, series != pinned {
            throw ClusterPinError(destination: destination.name, pinned: pinned, found: series)
        }
        var (registry, stored) = try await destination.repository.clusterRegistry()
        if registry.entry(for: series) == nil, !registry.clusters.isEmpty {
            let others = registry.seriesNames.joined(separator: ", ")
            let warning = "destination \(destination.name) holds backups of cluster \(others); this backup of cluster "
                + "\(series ?? "unknown") starts a series of its own there (retention applies to each cluster's series "
                + "separately). Pin the destination with `cluster: NAME` to refuse other clusters"
            notes.withLock { $0[destination.name, default: []].append(warning) }
        }
        if registry.record(manifest) || !stored {
            try await destination.repository.saveClusterRegistry(registry)
        }
    }

    /// The cluster of a snapshot without identity, from the destinations' registries: the one cluster whose raft
    /// servers (id and address) the snapshot names. Nil when none or more than one match.
    func identify(_ manifest: BackupManifest, in repositories: [BackupRepository]) async -> BackupManifest.Cluster? {
        var found: [ClusterRegistry.Entry] = []
        for repository in repositories {
            guard let registry = try? await repository.clusterRegistry().registry,
                  let entry = registry.identify(nodes: manifest.raftNodeKeys) else { continue }
            if !found.contains(where: { $0.series == entry.series }) { found.append(entry) }
        }
        guard found.count == 1 else { return nil }
        return BackupManifest.Cluster(name: found[0].name, id: found[0].id)
    }
}
