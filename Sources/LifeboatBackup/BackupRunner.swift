// One backup, start to finish: stream the leader's snapshot through the archiver into a pending repository object,
// commit the data only when the snapshot verified, write the manifest last. On any failure nothing becomes visible.

import Foundation
import LifeboatArchive
import LifeboatSnapshot
import NIOCore
import LifeboatBase
import LifeboatVault
import LifeboatRepository

/// Where a snapshot came from: recorded in the manifest.
public struct SnapshotOrigin: Sendable, Equatable {
    public var leaderAddress: String?
    public var leaderNodeID: String?
    public var clusterName: String?
    public var clusterID: String?
    public var vaultVersion: String?

    public init(leaderAddress: String? = nil, leaderNodeID: String? = nil, clusterName: String? = nil,
                clusterID: String? = nil, vaultVersion: String? = nil) {
        self.leaderAddress = leaderAddress
        self.leaderNodeID = leaderNodeID
        self.clusterName = clusterName
        self.clusterID = clusterID
        self.vaultVersion = vaultVersion
    }
}

/// Something that produces one complete Vault snapshot stream per call (the active node's
/// `GET sys/storage/raft/snapshot`, or a file for `import`).
public protocol SnapshotSource: Sendable {
    /// Streams one snapshot into `consume`, piece by piece, and says where it came from. A failure part-way
    /// through throws; the caller discards everything consumed so far.
    func streamSnapshot(_ consume: (ByteBuffer) async throws -> Void) async throws -> SnapshotOrigin
}

/// How to take a backup.
public struct BackupOptions: Sendable {
    public var tags: [String]
    public var compression: Bool
    public var chunkSize: Int
    /// How many times a stream that fails because the leader changed (or the connection dropped) is retried
    /// from the start, with backoff.
    public var attempts: Int
    public var retryBackoff: Duration
    /// The cluster to record when the source does not tell (`lifeboat import --cluster NAME`).
    public var cluster: BackupManifest.Cluster?

    public init(tags: [String] = [], compression: Bool = true, chunkSize: Int = ArchiveHeader.defaultChunkSize,
                attempts: Int = 3, retryBackoff: Duration = .seconds(2), cluster: BackupManifest.Cluster? = nil) {
        self.cluster = cluster
        self.tags = tags
        self.compression = compression
        self.chunkSize = chunkSize
        self.attempts = attempts
        self.retryBackoff = retryBackoff
    }
}

/// A backup that did not complete. Whatever the case, nothing was stored.
public enum BackupError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    /// The snapshot failed a verification check: it would not restore.
    case snapshotRejected(SnapshotError)
    /// Taking the snapshot failed after every attempt.
    case sourceFailed(attempts: Int, lastError: String, retryable: Bool)

    public var description: String {
        switch self {
        case .snapshotRejected(let error):
            return "\(error.description); nothing was stored"
        case .sourceFailed(let attempts, let last, _):
            return attempts > 1 ? "snapshot failed after \(attempts) attempts: \(last); nothing was stored"
                                : "\(last); nothing was stored"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .snapshotRejected: return .dataError
        case .sourceFailed: return .failure
        }
    }

    /// A bounded label for metrics and logs.
    public var reason: String {
        switch self {
        case .snapshotRejected(let error): return error.isIncomplete ? "incomplete_snapshot" : "invalid_snapshot"
        case .sourceFailed: return "vault_unavailable"
        }
    }
}

/// Errors a source throws when retrying from the start may succeed (the leader changed, the connection dropped).
public protocol RetryableSnapshotError: Error {
    var isRetryable: Bool { get }
}

/// One destination of a backup run: a name for messages and results, and the repository behind it.
public struct BackupTarget: Sendable {
    public var name: String
    public var repository: BackupRepository
    /// Called with the finished manifest after the data object is committed and before the manifest is: throwing
    /// refuses the backup on this target (its data object is removed), e.g. a destination pinned to another cluster.
    public var admit: (@Sendable (BackupManifest) async throws -> Void)?

    public init(name: String, repository: BackupRepository, admit: (@Sendable (BackupManifest) async throws -> Void)? = nil) {
        self.name = name
        self.repository = repository
        self.admit = admit
    }
}

/// A destination that did not receive a backup, and why.
public struct DestinationFailure: Error, Sendable, CustomStringConvertible {
    public var destination: String
    public var error: any Error

    public init(destination: String, error: any Error) {
        self.destination = destination
        self.error = error
    }

    public var description: String { "\(destination): \(error)" }
}

/// What a backup to one or more destinations achieved. At least one destination holds it.
public struct BackupResult: Sendable {
    /// The manifest, identical on every destination that holds the backup.
    public var manifest: BackupManifest
    /// The destinations that hold the backup, in the order they were given.
    public var stored: [String]
    /// The destinations that do not, with the reason.
    public var failures: [DestinationFailure]

    public init(manifest: BackupManifest, stored: [String], failures: [DestinationFailure]) {
        self.manifest = manifest
        self.stored = stored
        self.failures = failures
    }

    /// True when some destination failed.
    public var isPartial: Bool { !failures.isEmpty }
}

/// No destination could store the backup (the snapshot itself was fine). Nothing was stored anywhere.
public struct DestinationsFailedError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public var failures: [DestinationFailure]

    public init(failures: [DestinationFailure]) {
        self.failures = failures
    }

    public var description: String {
        "no destination could store the backup; nothing was stored: "
            + failures.map(\.description).joined(separator: "; ")
            + ". Fix each destination as its reason says and run the backup again"
    }

    /// 75 when every destination is locked by another run (try again later), otherwise 74 (fix the storage).
    public var exitStatus: ExitStatus {
        failures.allSatisfy({ ($0.error as? any ExitCodeProviding)?.exitStatus == .lockHeld }) ? .lockHeld : .ioError
    }
}

public enum BackupRunner {
    /// Takes one backup into `repository`. Returns the committed manifest.
    ///
    /// - Parameters:
    ///   - now: the clock; the backup id and created time come from its first reading.
    ///   - sleep: waits between attempts (injected so tests do not wait).
    public static func run(source: any SnapshotSource, repository: BackupRepository, secret: EncryptionSecret,
                           options: BackupOptions = BackupOptions(), timeZone: TimeZone = .current,
                           now: @Sendable () -> Date = { Date() },
                           sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                           onRetry: (_ attempt: Int, _ error: any Error) -> Void = { _, _ in }) async throws -> BackupManifest {
        do {
            return try await run(source: source, targets: [BackupTarget(name: repository.store.displayName, repository: repository)],
                                 secret: secret, options: options, timeZone: timeZone, now: now, sleep: sleep,
                                 onRetry: onRetry).manifest
        } catch let error as DestinationsFailedError where error.failures.count == 1 {
            throw error.failures[0].error  // one destination: its own error, with its own exit status
        }
    }

    /// Takes one backup and stores the same archive, under the same id, on every target at once: the snapshot is
    /// streamed and verified once, and each encrypted piece is written to all targets in parallel. A target that
    /// fails (full disk, S3 error, lock held) is dropped with its pending object aborted; the others go on.
    ///
    /// - Returns: the manifest and which targets hold the backup.
    /// - Throws: ``BackupError`` when the snapshot fails (nothing is stored anywhere), ``DestinationsFailedError``
    ///   when no target could store it.
    public static func run(source: any SnapshotSource, targets: [BackupTarget], secret: EncryptionSecret,
                           options: BackupOptions = BackupOptions(), timeZone: TimeZone = .current,
                           now: @Sendable () -> Date = { Date() },
                           sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                           onRetry: (_ attempt: Int, _ error: any Error) -> Void = { _, _ in },
                           progress: (@Sendable (Int64) -> Void)? = nil,
                           identify: (@Sendable (BackupManifest) async -> BackupManifest.Cluster?)? = nil) async throws -> BackupResult {
        precondition(!targets.isEmpty, "a backup needs at least one target")
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await runOnce(source: source, targets: targets, secret: secret, options: options,
                                         timeZone: timeZone, now: now, progress: progress, identify: identify)
            } catch let error as SnapshotError {
                // A stream cut short usually means the leader failed mid-stream: a new leader may serve a whole one.
                guard error.isIncomplete, attempt < options.attempts else { throw BackupError.snapshotRejected(error) }
                onRetry(attempt, error)
                try await sleep(options.retryBackoff * (1 << (attempt - 1)))
            } catch let error as any RetryableSnapshotError where error.isRetryable {
                guard attempt < options.attempts else {
                    throw BackupError.sourceFailed(attempts: attempt, lastError: String(describing: error), retryable: true)
                }
                onRetry(attempt, error)
                try await sleep(options.retryBackoff * (1 << (attempt - 1)))
            }
        }
    }

    private static func runOnce(source: any SnapshotSource, targets: [BackupTarget], secret: EncryptionSecret,
                                options: BackupOptions, timeZone: TimeZone, now: () -> Date,
                                progress: (@Sendable (Int64) -> Void)?,
                                identify: (@Sendable (BackupManifest) async -> BackupManifest.Cluster?)?) async throws -> BackupResult {
        let started = now()
        let id = BackupID.generate(at: started)
        let writers = TargetWriters()
        for target in targets {
            do {
                writers.live.append((target, try await target.repository.begin(id)))
            } catch {
                writers.failures.append(DestinationFailure(destination: target.name, error: error))
            }
        }
        guard !writers.live.isEmpty else { throw DestinationsFailedError(failures: writers.failures) }
        do {
            var archiver = try SnapshotArchiver(secret: secret, chunkSize: options.chunkSize, compression: options.compression)
            var archive: [UInt8] = []
            archive.reserveCapacity(2 * options.chunkSize + 4096)
            let flushAt = options.chunkSize
            var received: Int64 = 0
            let origin = try await source.streamSnapshot { buffer in
                try await archiver.consume(buffer, into: &archive)
                received += Int64(buffer.readableBytes)
                if archive.count >= flushAt {
                    try await writers.append(archive)
                    archive.removeAll(keepingCapacity: true)
                }
                progress?(received)
            }
            let summary = try await archiver.finish(into: &archive)
            try await writers.append(archive)
            var stored: [String] = []
            var manifest: BackupManifest?
            for (target, pending) in writers.live {
                do {
                    let object = try await pending.commit()
                    var finished = manifest ?? BackupManifest(
                        id: id, createdAt: ManifestTimestamp(date: started, timeZone: timeZone), summary: summary,
                        cluster: .init(name: origin.clusterName, id: origin.clusterID),
                        leader: .init(nodeID: origin.leaderNodeID, address: origin.leaderAddress),
                        vaultVersion: origin.vaultVersion, storedSize: object.size,
                        archiveKeyID: Hex.encode(archiver.header.keyID), durationSeconds: now().timeIntervalSince(started),
                        tags: options.tags)
                    finished.archiveRecipients = archiver.header.recipientIDs
                    if manifest == nil, finished.clusterSeries == nil {
                        // The source does not say which cluster: the operator's --cluster, else what the snapshot's
                        // raft servers tell (identical on every target, so decided once).
                        if let cluster = options.cluster {
                            finished.cluster = cluster
                        } else if let identify, let cluster = await identify(finished) {
                            finished.cluster = cluster
                        }
                    }
                    manifest = finished
                    // The lock is this destination's own (none on a store without Object Lock).
                    finished.objectLock = object.lock
                    do {
                        try await target.admit?(finished)
                        try await target.repository.commit(finished)
                    } catch {
                        // The data object is committed but no manifest points at it: remove it now (cleanup would later).
                        try? await target.repository.store.delete(finished.dataObject)
                        throw error
                    }
                    stored.append(target.name)
                } catch {
                    writers.failures.append(DestinationFailure(destination: target.name, error: error))
                }
            }
            writers.live.removeAll()
            guard let manifest, !stored.isEmpty else { throw DestinationsFailedError(failures: writers.failures) }
            let order = targets.map(\.name)
            let failures = writers.failures.sorted { order.firstIndex(of: $0.destination)! < order.firstIndex(of: $1.destination)! }
            return BackupResult(manifest: manifest, stored: stored, failures: failures)
        } catch {
            for (_, pending) in writers.live { await pending.abort() }
            throw error
        }
    }
}

/// The pending data objects of one backup run: every piece goes to all of them at once; one that fails is aborted
/// and dropped. Used from one task at a time (the snapshot stream's consumer).
private final class TargetWriters: @unchecked Sendable {
    var live: [(BackupTarget, any PendingObject)] = []
    var failures: [DestinationFailure] = []

    /// Appends `bytes` to every live object; throws ``DestinationsFailedError`` when none is left.
    func append(_ bytes: [UInt8]) async throws {
        try Task.checkCancellation()
        if live.count == 1 {
            do {
                try await live[0].1.append(bytes)
            } catch {
                await drop(0, error)
            }
        } else {
            let results = await withTaskGroup(of: (Int, (any Error)?).self) { group in
                for (index, entry) in live.enumerated() {
                    let pending = entry.1
                    group.addTask {
                        do {
                            try await pending.append(bytes)
                            return (index, nil)
                        } catch {
                            return (index, error)
                        }
                    }
                }
                var results: [(Int, any Error)] = []
                for await case let (index, error?) in group { results.append((index, error)) }
                return results
            }
            for (index, error) in results.sorted(by: { $0.0 > $1.0 }) { await drop(index, error) }
        }
        try Task.checkCancellation()
        guard !live.isEmpty else { throw DestinationsFailedError(failures: failures) }
    }

    private func drop(_ index: Int, _ error: any Error) async {
        let (target, pending) = live.remove(at: index)
        await pending.abort()
        failures.append(DestinationFailure(destination: target.name, error: error))
    }
}
