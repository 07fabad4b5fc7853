// BackupRepository: Lifeboat's layout on top of any BackupStore: data/<id>.lbk holds the encrypted snapshot,
// manifests/<id>.json describes it and is written last, so a backup exists exactly when its manifest exists.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

/// Backups in a ``BackupStore``.
///
/// ## Layout
/// - `data/<id>.lbk`: the encrypted snapshot (Lifeboat archive format).
/// - `manifests/<id>.json`: the ``BackupManifest``.
///
/// ## Crash safety
/// A backup is written as: ``begin(_:)`` (a pending data object), stream, `commit()` the data object, then
/// ``commit(_:)`` the manifest. The manifest is written last and is what makes the backup exist: a crash at any
/// point leaves either a complete backup, or a pending object (invisible, removed by orphan cleanup), or a data
/// object without a manifest (not a backup, removed by ``cleanupLeftovers(olderThan:)``). ``delete(_:)`` removes the
/// manifest first, so an interrupted delete also leaves only a leftover data object.
///
/// Concurrent runs on one repository are excluded by ``RepositoryLock`` (local repositories); leftovers are only
/// removed when older than a threshold, so a run in progress elsewhere is not disturbed.
public struct BackupRepository: Sendable {
    /// The store holding the repository.
    public let store: any BackupStore
    /// Manifests already read, by version tag (S3 destinations with a writable state directory); nil reads every
    /// manifest from the store.
    public var manifestCache: ManifestCache?

    /// Prefix of data objects.
    public static let dataPrefix = "data/"
    /// Prefix of manifests.
    public static let manifestPrefix = "manifests/"
    /// Extension of data objects.
    public static let dataExtension = ".lbk"
    /// Extension of manifests.
    public static let manifestExtension = ".json"
    /// How many manifests ``list()`` reads at once (latency-bound stores such as S3 benefit from more).
    public static let listConcurrency = 16

    public init(store: any BackupStore, manifestCache: ManifestCache? = nil) {
        self.store = store
        self.manifestCache = manifestCache
    }

    /// `data/<id>.lbk`
    public static func dataObjectName(for id: BackupID) -> String { dataPrefix + id.rawValue + dataExtension }

    /// `manifests/<id>.json`
    public static func manifestObjectName(for id: BackupID) -> String { manifestPrefix + id.rawValue + manifestExtension }

    /// The id in a data or manifest object name, or nil for any other name.
    public static func backupID(inObjectName name: String) -> BackupID? {
        for (prefix, suffix) in [(dataPrefix, dataExtension), (manifestPrefix, manifestExtension)]
        where name.hasPrefix(prefix) && name.hasSuffix(suffix) {
            return BackupID(rawValue: String(name.dropFirst(prefix.count).dropLast(suffix.count)))
        }
        return nil
    }

    // MARK: Writing

    /// Starts the data object of a new backup. Stream the archive into it, `commit()` it, then call ``commit(_:)``
    /// with the manifest; on any failure `abort()` it. Fails with ``StoreError/Kind-swift.enum/alreadyExists`` when
    /// the id is already used.
    public func begin(_ id: BackupID) async throws -> any PendingObject {
        let manifestName = Self.manifestObjectName(for: id)
        do {
            _ = try await store.stat(manifestName)
            throw StoreError(.alreadyExists, store: store.displayName, operation: "begin backup", object: manifestName)
        } catch let error as StoreError where error.kind == .notFound {
            // The id is free.
        }
        return try await store.createPendingObject(named: Self.dataObjectName(for: id), mode: .createNew)
    }

    /// Publishes a backup by writing its manifest, after checking that its data object is committed with the size the
    /// manifest records. The manifest is never replaced: committing an id twice fails.
    public func commit(_ manifest: BackupManifest) async throws {
        let manifestName = Self.manifestObjectName(for: manifest.id)
        let dataName = Self.dataObjectName(for: manifest.id)
        guard manifest.dataObject == dataName else {
            throw ManifestError.inconsistent(object: manifestName, reason: "data_object is \"\(manifest.dataObject)\", expected \"\(dataName)\"")
        }
        let data: StoreObjectInfo
        do {
            data = try await store.stat(dataName)
        } catch let error as StoreError where error.kind == .notFound {
            throw ManifestError.inconsistent(object: manifestName, reason: "its data object \(dataName) was not committed; nothing was published")
        }
        guard data.size == manifest.storedSize else {
            throw ManifestError.inconsistent(object: manifestName,
                                             reason: "stored_size is \(manifest.storedSize) but \(dataName) holds \(data.size) bytes")
        }
        try await store.put(manifestName, try manifest.encoded(), mode: .createNew)
    }

    /// Appends a verification record to a backup's manifest (replacing the manifest atomically) and returns it.
    @discardableResult
    public func recordVerification(_ record: BackupManifest.Verification, for id: BackupID) async throws -> BackupManifest {
        var updated = try await manifest(id)
        updated.recordVerification(record)
        try await store.put(Self.manifestObjectName(for: id), try updated.encoded(), mode: .replace)
        return updated
    }

    /// Replaces a backup's tags (e.g. pinning it with `pre-upgrade`) and returns the updated manifest.
    @discardableResult
    public func setTags(_ tags: [String], for id: BackupID) async throws -> BackupManifest {
        var updated = try await manifest(id)
        updated.tags = tags
        try await store.put(Self.manifestObjectName(for: id), try updated.encoded(), mode: .replace)
        return updated
    }

    // MARK: Reading

    /// The manifest of one backup; ``ManifestError/backupNotFound(_:store:)`` when there is none.
    public func manifest(_ id: BackupID) async throws -> BackupManifest {
        let name = Self.manifestObjectName(for: id)
        let bytes: [UInt8]
        do {
            bytes = try await store.get(name)
        } catch let error as StoreError where error.kind == .notFound {
            throw ManifestError.backupNotFound(id, store: store.displayName)
        }
        return try checked(BackupManifest.decode(bytes, object: name), name: name)
    }

    /// Every backup, sorted by id (oldest first), with the problems found on the way: unreadable manifests, manifests
    /// whose data object is missing or has another size. A damaged backup is still listed (verify will say more); an
    /// unreadable manifest is only reported.
    public func list() async throws -> BackupListing {
        async let manifestObjects = store.list(prefix: Self.manifestPrefix)
        async let dataObjects = store.list(prefix: Self.dataPrefix)
        let objects = try await manifestObjects.filter { $0.name.hasSuffix(Self.manifestExtension) }
        let names = objects.map(\.name)
        let tags = objects.map(\.versionTag)
        var dataSizes: [String: Int64] = [:]
        for object in try await dataObjects { dataSizes[object.name] = object.size }

        var backups: [BackupManifest] = []
        var problems: [RepositoryProblem] = []
        backups.reserveCapacity(names.count)
        try await withThrowingTaskGroup(of: Result<BackupManifest, ManifestReadFailure>.self) { group in
            var next = 0
            func addTask() {
                let name = names[next]
                let tag = tags[next]
                next += 1
                group.addTask { [store, manifestCache] in
                    do {
                        // A manifest read before, unchanged since (same tag), comes from the cache; it is decoded and
                        // checked all the same. A cached copy that no longer decodes is fetched again.
                        if let tag, let cached = manifestCache?.bytes(of: name, tag: tag),
                           let manifest = try? checked(BackupManifest.decode(cached, object: name), name: name) {
                            return .success(manifest)
                        }
                        let bytes = try await store.get(name)
                        let manifest = try checked(BackupManifest.decode(bytes, object: name), name: name)
                        if let tag { manifestCache?.store(bytes, of: name, tag: tag) }
                        return .success(manifest)
                    } catch let error as ManifestError {
                        return .failure(ManifestReadFailure(name: name, error: error))
                    } catch let error as StoreError where error.kind == .notFound {
                        return .failure(ManifestReadFailure(name: name, error: nil))  // deleted while listing
                    }
                }
            }
            while next < min(names.count, Self.listConcurrency) { addTask() }
            while let result = try await group.next() {
                switch result {
                case .success(let manifest): backups.append(manifest)
                case .failure(let failure):
                    if let error = failure.error {
                        problems.append(RepositoryProblem(kind: .unreadableManifest, object: failure.name,
                                                          id: Self.backupID(inObjectName: failure.name), detail: error.description))
                    }
                }
                if next < names.count { addTask() }
            }
        }
        manifestCache?.retain(only: Set(names))
        backups.sort { $0.id < $1.id }
        for manifest in backups {
            let name = Self.manifestObjectName(for: manifest.id)
            if let size = dataSizes[manifest.dataObject] {
                if size != manifest.storedSize {
                    problems.append(RepositoryProblem(kind: .dataSizeMismatch, object: manifest.dataObject, id: manifest.id,
                                                      detail: "\(manifest.dataObject) holds \(size) bytes, the manifest says \(manifest.storedSize)"))
                }
            } else {
                problems.append(RepositoryProblem(kind: .dataMissing, object: manifest.dataObject, id: manifest.id,
                                                  detail: "\(name) names \(manifest.dataObject), which does not exist"))
            }
        }
        problems.sort { $0.object.utf8.lexicographicallyPrecedes($1.object.utf8) }
        return BackupListing(backups: backups, problems: problems)
    }

    /// The write-once lock that keeps a backup from being removed, as the store reports it now: of its data object and
    /// its manifest's current version, the one that lasts longer (a manifest rewritten with a verification record is
    /// locked again from that moment). Nil when neither is locked.
    public func objectLock(of manifest: BackupManifest) async throws -> StoreObjectLock? {
        async let data = store.objectLock(of: manifest.dataObject)
        async let current = store.objectLock(of: Self.manifestObjectName(for: manifest.id))
        let locks = [try await data, try await current].compactMap { $0 }
        return locks.max { $0.retainUntil < $1.retainUntil }
    }

    /// The encrypted data of a backup as chunks read on demand (for verify, export, restore).
    public func dataChunks(of manifest: BackupManifest, chunkSize: Int = 1024 * 1024) -> StoreObjectChunks {
        store.chunks(of: manifest.dataObject, chunkSize: chunkSize)
    }

    // MARK: Removing

    /// Deletes a backup: the manifest first (the backup stops existing), then its data object.
    /// ``ManifestError/backupNotFound(_:store:)`` when there is no manifest for `id`. An unreadable manifest is
    /// deleted too.
    public func delete(_ id: BackupID) async throws {
        let manifestName = Self.manifestObjectName(for: id)
        var dataName = Self.dataObjectName(for: id)
        do {
            dataName = try await manifest(id).dataObject
        } catch ManifestError.backupNotFound {
            throw ManifestError.backupNotFound(id, store: store.displayName)
        } catch is ManifestError {
            // Unreadable: remove it with the data object of the standard layout.
        }
        try await store.delete(manifestName)
        try await store.delete(dataName)
    }

    /// Removes what interrupted runs left behind, when it is older than `cutoff`: pending objects (temporary files,
    /// unfinished uploads) and data objects without a manifest. Complete backups are never touched.
    public func cleanupLeftovers(olderThan cutoff: Date) async throws -> LeftoverCleanup {
        let orphans = try await store.cleanupOrphans(olderThan: cutoff)
        let manifests = Set(try await store.list(prefix: Self.manifestPrefix).map(\.name))
        var removed: [String] = []
        for object in try await store.list(prefix: Self.dataPrefix) {
            guard let id = Self.backupID(inObjectName: object.name), object.name == Self.dataObjectName(for: id),
                  !manifests.contains(Self.manifestObjectName(for: id)), object.modified < cutoff else { continue }
            try await store.delete(object.name)
            removed.append(object.name)
        }
        return LeftoverCleanup(pendingObjects: orphans, dataWithoutManifest: removed)
    }

    private func checked(_ manifest: BackupManifest, name: String) throws -> BackupManifest {
        guard Self.manifestObjectName(for: manifest.id) == name else {
            throw ManifestError.inconsistent(object: name, reason: "it describes backup \(manifest.id)")
        }
        return manifest
    }
}

private struct ManifestReadFailure: Error {
    let name: String
    let error: ManifestError?
}

/// The result of ``BackupRepository/list()``.
public struct BackupListing: Sendable, Equatable {
    /// Every backup whose manifest could be read, sorted by id (oldest first).
    public var backups: [BackupManifest]
    /// What is wrong in the repository, sorted by object name. Empty for a healthy repository.
    public var problems: [RepositoryProblem]

    public init(backups: [BackupManifest], problems: [RepositoryProblem]) {
        self.backups = backups
        self.problems = problems
    }
}

/// Something wrong found while listing a repository.
public struct RepositoryProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// A manifest that is not valid, from a newer Lifeboat, or stored under another id's name.
        case unreadableManifest = "unreadable_manifest"
        /// A manifest whose data object does not exist.
        case dataMissing = "data_missing"
        /// A manifest whose data object has another size than recorded.
        case dataSizeMismatch = "data_size_mismatch"
    }

    public var kind: Kind
    /// The object concerned.
    public var object: String
    /// The backup concerned, when the name tells.
    public var id: BackupID?
    public var detail: String

    public init(kind: Kind, object: String, id: BackupID?, detail: String) {
        self.kind = kind
        self.object = object
        self.id = id
        self.detail = detail
    }

    public var description: String { detail }
}

/// What ``BackupRepository/cleanupLeftovers(olderThan:)`` removed.
public struct LeftoverCleanup: Sendable, Equatable {
    /// Pending objects of interrupted runs, as the store describes them.
    public var pendingObjects: [String]
    /// Data objects that never got a manifest (or whose delete was interrupted).
    public var dataWithoutManifest: [String]

    public var isEmpty: Bool { pendingObjects.isEmpty && dataWithoutManifest.isEmpty }
}
