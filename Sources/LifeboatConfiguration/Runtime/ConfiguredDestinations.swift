// From the configuration to open stores: each destination (`local` directory or `s3` bucket) becomes a
// BackupRepository with its retention policy and the directory its lock lives in.

import Foundation
import Logging
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

/// One configured destination, opened.
public struct OpenedDestination: Sendable {
    /// The destination's configuration (name, storage, retention, schedule).
    public let configuration: LifeboatConfiguration.Destination
    /// The repository on the destination's store.
    public let repository: BackupRepository
    /// The local directory holding the destination's lock files (the repository itself for `local`; unused for `s3`,
    /// whose locks are objects in the bucket).
    public let lockDirectory: String
    /// How long to wait for a lock another run holds (0: fail at once with exit 75).
    public var lockWait: TimeInterval = 0
    /// Clock and sleep of store locks (injected by tests).
    public var lockClock: @Sendable () -> Date = { Date() }

    public init(configuration: LifeboatConfiguration.Destination, repository: BackupRepository, lockDirectory: String) {
        self.configuration = configuration
        self.repository = repository
        self.lockDirectory = lockDirectory
    }

    /// The destination's name.
    public var name: String { configuration.name }
    /// The destination's retention policy (nil keeps every backup).
    public var retention: RetentionPolicy? { configuration.retention }
    /// The store's description, e.g. `local directory /var/lib/lifeboat/repository` or `s3://bucket/prefix/`.
    public var displayName: String { repository.store.displayName }

    /// Takes the destination's lock for `operation`: `write` for a backup, `exclusive` for prune and retention,
    /// `shared` for reading. A local directory locks with flock on files in it; an S3 bucket with lock objects in
    /// it (StoreLock), so runs on different hosts exclude each other.
    public func lock(_ mode: LockMode, operation: String) async throws -> any DestinationLock {
        switch configuration.storage {
        case .local:
            let lock = try await RepositoryLock.acquire(directory: lockDirectory, mode: mode, operation: operation, wait: lockWait)
            // The previous holder was killed: say so and, holding the lock that excludes writers, remove what it left.
            if let previous = lock.previousHolder, mode != .shared {
                FileHandle.standardError.write(Data((Self.interruptedRunNotice(previous, store: repository.store) + "\n").utf8))
            }
            return lock
        case .s3(let s3):
            let timing = StoreLockTiming(staleAfter: s3.lockStaleAfter, wait: lockWait, clock: lockClock)
            let lock = try await StoreLock.acquire(store: repository.store, mode: mode, operation: operation, timing: timing)
            // A stale lock was taken over: its run stopped refreshing it (killed, or its host lost) and is presumed dead.
            if let previous = lock.previousHolderSummary {
                FileHandle.standardError.write(Data(("lifeboat: warning: took over the stale lock of \(displayName): \(previous) "
                    + "stopped refreshing it and is presumed dead; what it left is cleaned up under this lock\n").utf8))
            }
            return lock
        }
    }

    /// A shared lock for reading, or nil where the store does not let this run write a lock (read-only credentials):
    /// then the run reads without one, as nothing it does changes the repository.
    public func readLock(operation: String) async throws -> (any DestinationLock)? {
        do {
            return try await lock(.shared, operation: operation)
        } catch let error as StoreError where error.kind == .permissionDenied {
            return nil
        }
    }

    /// `lifeboat: warning: the previous run (pid N, started T) was interrupted; ...`, after removing what it left.
    static func interruptedRunNotice(_ previous: RepositoryLock.Holder, store: any BackupStore) -> String {
        let operation = previous.operation.isEmpty ? "" : " \(previous.operation)"
        var text = "lifeboat: warning: the previous\(operation) run (pid \(previous.pid), started \(previous.startedAt.utcDescription)) was interrupted"
        if let local = store as? LocalStore {
            do {
                let removed = try local.removeAbandonedPendingObjects()
                if removed.names.isEmpty {
                    text += "; it left no temporary files"
                } else {
                    let megabytes = String(format: "%.1f", Double(removed.bytes) / 1_048_576)
                    text += "; removed the \(removed.names.count) temporary file\(removed.names.count == 1 ? "" : "s") it left (\(megabytes) MB)"
                }
            } catch {
                text += "; its temporary files could not be removed (\(error))"
            }
        }
        return text
    }

    /// Releases the store's connections (S3); local stores hold none.
    public func close() async {
        if let s3 = repository.store as? S3Store { try? await s3.shutdown() }
    }
}

extension LifeboatConfiguration {
    /// Opens every configured destination, in order.
    /// - Parameters:
    ///   - create: create a missing local repository directory (0700); otherwise a missing one is an error.
    ///   - manifestCacheRoot: where S3 destinations keep their ManifestCache (one directory each); nil or an
    ///     unwritable directory reads every manifest from the bucket.
    public func openDestinations(
        create: Bool, environment: [String: String], logger: Logger? = nil, manifestCacheRoot: String? = nil
    ) async throws -> [OpenedDestination] {
        var opened: [OpenedDestination] = []
        do {
            for destination in destinations {
                opened.append(try open(destination, create: create, environment: environment, logger: logger,
                                       manifestCacheRoot: manifestCacheRoot))
            }
        } catch {
            for destination in opened { await destination.close() }
            throw error
        }
        return opened
    }

    /// Opens one destination.
    public func open(
        _ destination: Destination, create: Bool, environment: [String: String], logger: Logger? = nil,
        manifestCacheRoot: String? = nil
    ) throws -> OpenedDestination {
        switch destination.storage {
        case .local(let local):
            let store = try LocalStore(directory: local.path, createIfMissing: create)
            return OpenedDestination(configuration: destination, repository: BackupRepository(store: store), lockDirectory: store.directory)
        case .s3(let s3):
            let configuration = try s3.storeConfiguration(environment: environment)
            let store = try S3Store(
                configuration: configuration,
                resolver: S3CredentialResolver(environment: environment, homeDirectory: environment["HOME"]), logger: logger)
            let cache = manifestCacheRoot.flatMap { root in
                ManifestCache(directory: ManifestCache.directory(
                    root: root, storeIdentity: "\(configuration.endpoint) \(configuration.bucket) \(configuration.prefix)"))
            }
            // The locks of an S3 destination are objects in the bucket: no local directory is needed.
            return OpenedDestination(configuration: destination, repository: BackupRepository(store: store, manifestCache: cache),
                                     lockDirectory: "")
        }
    }
}

extension LifeboatConfiguration.S3Storage {
    /// The S3 store settings: AWS's regional endpoint when none is given; credentials from the configuration
    /// (resolved now), else `profile` in the shared credentials file, else the AWS environment variables and then
    /// the shared file.
    public func storeConfiguration(environment: [String: String]) throws -> S3Configuration {
        let resolver = SecretResolver(environment: environment)
        let credentials: S3CredentialSource
        if let accessKeyID, let secretAccessKey {
            credentials = .explicit(S3Credentials(
                accessKeyID: try resolver.resolve(accessKeyID, keyPath: "access_key_id").exposedValue,
                secretAccessKey: try resolver.resolve(secretAccessKey, keyPath: "secret_access_key").exposedValue,
                sessionToken: try sessionToken.map { try resolver.resolve($0, keyPath: "session_token").exposedValue }))
        } else if let profile {
            credentials = .sharedFile(path: nil, profile: profile)
        } else {
            credentials = .defaultChain
        }
        let encryption: S3ServerSideEncryption
        switch sse?.type {
        case nil: encryption = .none
        case .aes256: encryption = .s3Managed
        case .kms: encryption = .kms(keyID: sse?.kmsKeyID)
        }
        let configuration = S3Configuration(
            endpoint: endpoint ?? "https://s3.\(region).amazonaws.com", region: region, bucket: bucket, prefix: prefix,
            addressing: pathStyle ? .pathStyle : .virtualHosted, caFile: caCert, credentials: credentials,
            serverSideEncryption: encryption,
            objectLock: objectLock.map { S3ObjectLockSetting(mode: $0.mode, days: $0.days) })
        _ = try configuration.validate()
        return configuration
    }
}
