// One backup, start to finish: stream the leader's snapshot through the archiver into a pending repository object,
// commit the data only when the snapshot verified, write the manifest last. On any failure nothing becomes visible.

import Foundation
import LifeboatArchive
import LifeboatSnapshot
import NIOCore

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

    public init(tags: [String] = [], compression: Bool = true, chunkSize: Int = ArchiveHeader.defaultChunkSize,
                attempts: Int = 3, retryBackoff: Duration = .seconds(2)) {
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
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await runOnce(source: source, repository: repository, secret: secret, options: options,
                                         timeZone: timeZone, now: now)
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

    private static func runOnce(source: any SnapshotSource, repository: BackupRepository, secret: EncryptionSecret,
                                options: BackupOptions, timeZone: TimeZone, now: () -> Date) async throws -> BackupManifest {
        let started = now()
        let id = BackupID.generate(at: started)
        let pending = try await repository.begin(id)
        do {
            var archiver = try SnapshotArchiver(secret: secret, chunkSize: options.chunkSize, compression: options.compression)
            var archive: [UInt8] = []
            archive.reserveCapacity(2 * options.chunkSize + 4096)
            let flushAt = options.chunkSize
            let origin = try await source.streamSnapshot { buffer in
                try buffer.withUnsafeReadableBytes { try archiver.consume($0, into: &archive) }
                if archive.count >= flushAt {
                    try await pending.append(archive)
                    archive.removeAll(keepingCapacity: true)
                }
            }
            let summary = try archiver.finish(into: &archive)
            try await pending.append(archive)
            let stored = try await pending.commit()
            let manifest = BackupManifest(
                id: id, createdAt: ManifestTimestamp(date: started, timeZone: timeZone), summary: summary,
                cluster: .init(name: origin.clusterName, id: origin.clusterID),
                leader: .init(nodeID: origin.leaderNodeID, address: origin.leaderAddress),
                vaultVersion: origin.vaultVersion, storedSize: stored.size,
                archiveKeyID: Hex.encode(archiver.header.keyID), durationSeconds: now().timeIntervalSince(started),
                tags: options.tags)
            do {
                try await repository.commit(manifest)
            } catch {
                // The data object is committed but no manifest points at it: remove it now (cleanup would later).
                try? await repository.store.delete(manifest.dataObject)
                throw error
            }
            return manifest
        } catch {
            await pending.abort()
            throw error
        }
    }
}
