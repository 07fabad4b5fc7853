// BackupStore: the one protocol every destination implements (local directory, in memory, S3), with its
// contract. The shared conformance suite (Tests/LifeboatTests/StoreConformance.swift) checks it.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

/// A place that holds named objects: Lifeboat's seam between the repository logic and the storage technology.
///
/// ## Contract
///
/// **Names.** Objects are named by ``StoreObjectName`` rules: `/`-separated segments of ASCII letters, digits,
/// `.`, `_` and `-`, no segment empty or starting with `.`. Names starting with `.` are reserved for an
/// implementation's own bookkeeping (temporary files, lock files) and never appear in a listing. A name that breaks
/// the rules fails with ``StoreError/Kind-swift.enum/invalidName`` before anything is touched.
///
/// **Writing is atomic.** ``createPendingObject(named:mode:)`` returns a ``PendingObject``; bytes are streamed into it
/// with ``PendingObject/append(_:)``. Nothing is visible under the final name (not to ``stat(_:)``, ``list(prefix:)``,
/// ``openForReading(_:)``) until ``PendingObject/commit()`` returns; then the whole object is visible at once, and is
/// durable (a local store has fsynced the data and the directory; S3 has completed the upload). ``PendingObject/abort()``
/// removes everything the pending object stored. Any failure during `append` or `commit` aborts the pending object
/// before the error is thrown: after an error nothing partial is kept. A pending object that is neither committed nor
/// aborted (the process was killed) stays invisible and is removed by ``cleanupOrphans(olderThan:)``.
///
/// **No silent replacement.** With ``StoreWriteMode/createNew`` (the default), a commit onto a name that already holds
/// an object fails with ``StoreError/Kind-swift.enum/alreadyExists`` and leaves the existing object untouched.
/// ``StoreWriteMode/replace`` atomically replaces it (readers see the old or the new object, never a mix); it is meant
/// for small metadata that is rewritten, such as a manifest gaining a verification record.
///
/// **Reading streams.** ``openForReading(_:)`` returns a ``StoreObjectReader`` that yields the object's bytes in chunks
/// of at most the requested size, in order, pulling from the store only when asked: memory stays constant whatever
/// the object's size.
///
/// **Listing is complete.** ``list(prefix:)`` returns every committed object whose name starts with the prefix (plain
/// string prefix, as S3 does), sorted by name in byte order. Implementations paginate internally: callers never see
/// a page limit (other tools stop pruning after S3's first 1,000 keys; Lifeboat must not).
///
/// **Deleting is idempotent.** ``delete(_:)`` of a missing object succeeds (S3 cannot tell the difference either).
///
/// **Errors** are ``StoreError`` values; ``StoreError/Kind-swift.enum/notFound`` for missing objects on `stat` and
/// `openForReading`, ``StoreError/Kind-swift.enum/noSpace`` when the destination is full (the pending object was
/// removed), ``StoreError/Kind-swift.enum/permissionDenied`` and ``StoreError/Kind-swift.enum/unavailable`` as named.
///
/// Retries and timeouts are not part of a store: they are decorators around one.
public protocol BackupStore: Sendable {
    /// What this store is, for messages: `local directory /var/lib/lifeboat`, `s3://bucket/prefix`, `memory`.
    var displayName: String { get }

    /// Starts writing an object that becomes visible under `name` only when committed.
    func createPendingObject(named name: String, mode: StoreWriteMode) async throws -> any PendingObject

    /// Opens a committed object for streaming reads.
    func openForReading(_ name: String) async throws -> any StoreObjectReader

    /// Size and modification time of a committed object; ``StoreError/Kind-swift.enum/notFound`` when it does not exist.
    func stat(_ name: String) async throws -> StoreObjectInfo

    /// Every committed object whose name starts with `prefix`, sorted by name. Pending objects are never listed.
    func list(prefix: String) async throws -> [StoreObjectInfo]

    /// Removes a committed object; succeeds when it does not exist.
    func delete(_ name: String) async throws

    /// Reads a small object whole (a manifest). Fails with ``StoreError/Kind-swift.enum/corrupt`` when it is larger
    /// than `limit` bytes, so a damaged or hostile object cannot exhaust memory. A default implementation streams
    /// through ``openForReading(_:)``; stores implement it when one request is cheaper.
    func get(_ name: String, limit: Int) async throws -> [UInt8]

    /// Removes pending objects left behind by killed runs that were started before `cutoff`, and returns a description
    /// of each one removed (a path, an upload id). Pending objects started at or after `cutoff` are left alone: they may
    /// belong to a run still in progress.
    func cleanupOrphans(olderThan cutoff: Date) async throws -> [String]

    /// The write-once lock (S3 Object Lock) that protects the current version of a committed object, or nil when it
    /// has none or the store cannot lock objects (the default). ``StoreError/Kind-swift.enum/notFound`` when the
    /// object does not exist. A locked object cannot be removed before ``StoreObjectLock/retainUntil``: ``delete(_:)``
    /// of it fails with ``StoreError/Kind-swift.enum/permissionDenied``.
    func objectLock(of name: String) async throws -> StoreObjectLock?
}

/// A write-once retention lock on a stored object (S3 Object Lock): nobody can remove the object before
/// `retainUntil`, not even the credentials that wrote it (`compliance`), or only credentials allowed to bypass
/// governance retention (`governance`, which Lifeboat never asks for).
public struct StoreObjectLock: Sendable, Equatable, Hashable, CustomStringConvertible {
    public enum Mode: String, Sendable, Equatable, Hashable, CaseIterable {
        case governance
        case compliance
    }

    public var mode: Mode
    /// The instant until which the object cannot be removed (whole seconds).
    public var retainUntil: Date

    public init(mode: Mode, retainUntil: Date) {
        self.mode = mode
        self.retainUntil = Date(timeIntervalSince1970: retainUntil.timeIntervalSince1970.rounded(.down))
    }

    /// True while the lock holds at `now`.
    public func holds(at now: Date) -> Bool { retainUntil > now }

    /// `compliance until 2026-12-04T10:00:00Z`
    public var description: String {
        "\(mode.rawValue) until \(ManifestTimestamp(date: retainUntil, utcOffsetSeconds: 0).utcDescription)"
    }
}

/// What a commit does when the name already holds an object.
public enum StoreWriteMode: Sendable, Equatable {
    /// Fail with ``StoreError/Kind-swift.enum/alreadyExists``; the existing object is untouched.
    case createNew
    /// Replace the existing object atomically.
    case replace
    /// Replace the object only while its ``StoreObjectInfo/versionTag`` (from ``BackupStore/stat(_:)``) is still
    /// `versionTag`; otherwise fail with ``StoreError/Kind-swift.enum/changed`` and leave it untouched. S3 sends
    /// `If-Match`, which the server checks atomically; a local directory compares just before its rename (its writers
    /// are serialised by the directory's lock file).
    case replaceIfUnchanged(versionTag: String)
}

/// An object being written: invisible until ``commit()``, gone after ``abort()``.
public protocol PendingObject: Sendable {
    /// The name the object will have once committed.
    var name: String { get }
    /// Appends bytes. On failure the pending object is aborted before the error is thrown.
    func append(_ bytes: [UInt8]) async throws
    /// Publishes the object under its name (see ``BackupStore`` for atomicity and durability). On failure the pending
    /// object is aborted before the error is thrown. Calling it twice, or after `abort`, is a programming error.
    @discardableResult
    func commit() async throws -> StoreObjectInfo
    /// Removes everything stored so far. Idempotent; never throws (a failure to remove is left to orphan cleanup).
    func abort() async
}

/// Streams a committed object's bytes.
public protocol StoreObjectReader: Sendable {
    /// The next chunk of at most `maxCount` bytes (never empty), or `nil` at the end of the object.
    func read(maxCount: Int) async throws -> [UInt8]?
    /// Releases the reader's resources. Idempotent; reading after `close` returns `nil`.
    func close() async
}

/// A committed object's name, size and modification time.
public struct StoreObjectInfo: Sendable, Equatable, Hashable {
    public var name: String
    public var size: Int64
    /// When the object was last written (committed). Used for age thresholds, never for ordering backups.
    public var modified: Date
    /// The write-once lock applied when the object was committed (stores with Object Lock), else nil.
    public var lock: StoreObjectLock?
    /// What changes whenever the object's bytes change (S3's ETag; a local file's inode, size and modification time),
    /// when the store gives one; keys the local ManifestCache and conditions ``StoreWriteMode/replaceIfUnchanged(versionTag:)``.
    public var versionTag: String?

    public init(name: String, size: Int64, modified: Date, lock: StoreObjectLock? = nil, versionTag: String? = nil) {
        self.name = name
        self.size = size
        self.modified = modified
        self.lock = lock
        self.versionTag = versionTag
    }
}

extension BackupStore {
    /// Starts writing a new object (``StoreWriteMode/createNew``).
    public func createPendingObject(named name: String) async throws -> any PendingObject {
        try await createPendingObject(named: name, mode: .createNew)
    }

    /// Writes a small object in one go (a manifest): create, append, commit.
    @discardableResult
    public func put(_ name: String, _ bytes: [UInt8], mode: StoreWriteMode = .createNew) async throws -> StoreObjectInfo {
        let pending = try await createPendingObject(named: name, mode: mode)
        do {
            try await pending.append(bytes)
            return try await pending.commit()
        } catch {
            await pending.abort()
            throw error
        }
    }

    /// Reads a small object whole, up to 16 MiB (see ``get(_:limit:)``).
    public func get(_ name: String) async throws -> [UInt8] {
        try await get(name, limit: Self.defaultGetLimit)
    }

    /// The largest object ``get(_:)`` reads.
    public static var defaultGetLimit: Int { 16 * 1024 * 1024 }

    /// The default ``get(_:limit:)``: streams through ``openForReading(_:)``.
    public func get(_ name: String, limit: Int) async throws -> [UInt8] {
        let reader = try await openForReading(name)
        var bytes: [UInt8] = []
        do {
            while let chunk = try await reader.read(maxCount: 256 * 1024) {
                if bytes.count + chunk.count > limit {
                    throw StoreError(.corrupt, store: displayName, operation: "read", object: name,
                                     detail: "larger than the \(limit)-byte limit for this kind of object")
                }
                bytes.append(contentsOf: chunk)
            }
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        return bytes
    }

    /// Stores without write-once locks: every object is unlocked (after checking that it exists).
    public func objectLock(of name: String) async throws -> StoreObjectLock? {
        _ = try await stat(name)
        return nil
    }

    /// The object's bytes as an async sequence of chunks of at most `chunkSize` bytes, read on demand.
    public func chunks(of name: String, chunkSize: Int = 1024 * 1024) -> StoreObjectChunks {
        StoreObjectChunks(store: self, name: name, chunkSize: chunkSize)
    }
}

/// A committed object as an `AsyncSequence` of byte chunks. The object is opened when iteration starts and closed at
/// its end or on an error (a loop left early releases the reader when the iterator is dropped); each `next()` reads
/// one chunk, so memory stays at one chunk.
public struct StoreObjectChunks: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    let store: any BackupStore
    let name: String
    let chunkSize: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(store: store, name: name, chunkSize: chunkSize)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let store: any BackupStore
        let name: String
        let chunkSize: Int
        var reader: (any StoreObjectReader)?
        var finished = false

        init(store: any BackupStore, name: String, chunkSize: Int) {
            self.store = store
            self.name = name
            self.chunkSize = chunkSize
        }

        public mutating func next() async throws -> [UInt8]? {
            if finished { return nil }
            if reader == nil { reader = try await store.openForReading(name) }
            do {
                if let chunk = try await reader!.read(maxCount: chunkSize) { return chunk }
            } catch {
                finished = true
                await reader?.close()
                throw error
            }
            finished = true
            await reader?.close()
            return nil
        }
    }
}
