// MemoryStore: a BackupStore held in memory by an actor, for tests. It follows the same contract as the local and
// S3 stores (the conformance suite runs against it) and can simulate a full destination and abandoned uploads.

import Foundation
import LifeboatRepository
import LifeboatRecovery
import VaultSim

/// An in-memory ``BackupStore`` for tests.
///
/// A pending object that is dropped without `commit` or `abort` stays in the store, invisible, exactly like an
/// abandoned S3 multipart upload or the temporary file of a killed process, until ``cleanupOrphans(olderThan:)``
/// removes it. The clock is injected so age thresholds can be tested without waiting.
public actor MemoryStore: BackupStore {
    public nonisolated let displayName: String

    private struct Stored {
        var bytes: [UInt8]
        var modified: Date
        /// Counts commits: every replacement gets a new version.
        var version: Int
    }

    private struct Pending {
        var name: String
        var mode: StoreWriteMode
        var bytes: [UInt8]
        var started: Date
    }

    private var objects: [String: Stored] = [:]
    private var pending: [Int: Pending] = [:]
    private var nextPendingID = 0
    private var nextVersion = 0
    private let clock: @Sendable () -> Date
    private let capacity: Int?

    /// - Parameters:
    ///   - capacity: total bytes (committed plus pending) the store accepts; an append beyond it fails with
    ///     ``StoreError/Kind-swift.enum/noSpace`` and removes the pending object. `nil` for no limit.
    ///   - clock: the time recorded as objects' modification time and pending objects' start time.
    public init(name: String = "memory", capacity: Int? = nil, clock: @escaping @Sendable () -> Date = { Date() }) {
        displayName = name
        self.capacity = capacity
        self.clock = clock
    }

    // MARK: BackupStore

    public func createPendingObject(named name: String, mode: StoreWriteMode) async throws -> any PendingObject {
        try StoreObjectName.validate(name, store: displayName, operation: "create")
        if mode == .createNew && objects[name] != nil {
            throw StoreError(.alreadyExists, store: displayName, operation: "create", object: name)
        }
        let id = nextPendingID
        nextPendingID += 1
        pending[id] = Pending(name: name, mode: mode, bytes: [], started: clock())
        return MemoryPendingObject(store: self, id: id, name: name)
    }

    public func openForReading(_ name: String) async throws -> any StoreObjectReader {
        try StoreObjectName.validate(name, store: displayName, operation: "read")
        guard let stored = objects[name] else {
            throw StoreError(.notFound, store: displayName, operation: "read", object: name)
        }
        return MemoryObjectReader(bytes: stored.bytes)
    }

    public func stat(_ name: String) async throws -> StoreObjectInfo {
        try StoreObjectName.validate(name, store: displayName, operation: "stat")
        guard let stored = objects[name] else {
            throw StoreError(.notFound, store: displayName, operation: "stat", object: name)
        }
        return StoreObjectInfo(name: name, size: Int64(stored.bytes.count), modified: stored.modified,
                               versionTag: String(stored.version))
    }

    public func list(prefix: String) async throws -> [StoreObjectInfo] {
        try StoreObjectName.validatePrefix(prefix, store: displayName)
        return objects
            .filter { $0.key.hasPrefix(prefix) }
            .map { StoreObjectInfo(name: $0.key, size: Int64($0.value.bytes.count), modified: $0.value.modified) }
            .sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    public func delete(_ name: String) async throws {
        try StoreObjectName.validate(name, store: displayName, operation: "delete")
        objects[name] = nil
    }

    public func cleanupOrphans(olderThan cutoff: Date) async throws -> [String] {
        let orphaned = pending.filter { $0.value.started < cutoff }.sorted { $0.key < $1.key }
        for (id, _) in orphaned { pending[id] = nil }
        return orphaned.map { "pending upload \($0.key) of \($0.value.name)" }
    }

    // MARK: Test helpers

    /// Pending objects neither committed nor aborted (nor cleaned up).
    public var pendingObjectCount: Int { pending.count }

    /// The stored bytes of a committed object, bypassing the store's interface (to check or damage it in tests).
    public func rawBytes(of name: String) -> [UInt8]? { objects[name]?.bytes }

    /// Replaces a committed object's bytes without touching its modification time (to simulate bit rot in tests).
    public func setRawBytes(of name: String, to bytes: [UInt8]) {
        guard objects[name] != nil else { return }
        objects[name]!.bytes = bytes
    }

    /// Sets a committed object's modification time (to test age thresholds).
    public func setModified(of name: String, to date: Date) {
        guard objects[name] != nil else { return }
        objects[name]!.modified = date
    }

    // MARK: Pending objects

    private var usedBytes: Int {
        objects.values.reduce(0) { $0 + $1.bytes.count } + pending.values.reduce(0) { $0 + $1.bytes.count }
    }

    fileprivate func append(_ bytes: [UInt8], to id: Int) throws {
        guard let entry = pending[id] else {
            throw StoreError(.ioFailure, store: displayName, operation: "write", object: "pending object",
                             detail: "the pending object was already committed, aborted or cleaned up")
        }
        if let capacity, usedBytes + bytes.count > capacity {
            pending[id] = nil
            throw StoreError(.noSpace, store: displayName, operation: "write", object: entry.name,
                             detail: "capacity of \(capacity) bytes reached")
        }
        pending[id]!.bytes.append(contentsOf: bytes)
    }

    fileprivate func commit(_ id: Int) throws -> StoreObjectInfo {
        guard let entry = pending.removeValue(forKey: id) else {
            throw StoreError(.ioFailure, store: displayName, operation: "commit", object: "pending object",
                             detail: "the pending object was already committed, aborted or cleaned up")
        }
        if entry.mode == .createNew && objects[entry.name] != nil {
            throw StoreError(.alreadyExists, store: displayName, operation: "commit", object: entry.name)
        }
        if case .replaceIfUnchanged(let expected) = entry.mode, objects[entry.name].map({ String($0.version) }) != expected {
            throw StoreError(.changed, store: displayName, operation: "commit", object: entry.name)
        }
        let now = clock()
        nextVersion += 1
        objects[entry.name] = Stored(bytes: entry.bytes, modified: now, version: nextVersion)
        return StoreObjectInfo(name: entry.name, size: Int64(entry.bytes.count), modified: now)
    }

    fileprivate func abort(_ id: Int) {
        pending[id] = nil
    }
}

/// A pending object of a ``MemoryStore``; its bytes live in the store.
final class MemoryPendingObject: PendingObject {
    let store: MemoryStore
    let id: Int
    let name: String

    init(store: MemoryStore, id: Int, name: String) {
        self.store = store
        self.id = id
        self.name = name
    }

    func append(_ bytes: [UInt8]) async throws { try await store.append(bytes, to: id) }

    @discardableResult
    func commit() async throws -> StoreObjectInfo { try await store.commit(id) }

    func abort() async { await store.abort(id) }
}

/// Streams a snapshot of a ``MemoryStore`` object taken when it was opened.
actor MemoryObjectReader: StoreObjectReader {
    private var bytes: [UInt8]
    private var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func read(maxCount: Int) async throws -> [UInt8]? {
        precondition(maxCount > 0, "read(maxCount:) needs a positive count")
        guard offset < bytes.count else { return nil }
        let end = min(bytes.count, offset + maxCount)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    func close() async {
        bytes = []
        offset = 0
    }
}
