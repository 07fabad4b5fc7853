// StoreLock: the repository lock kept in the store itself (an S3 bucket), so that runs on different hosts exclude
// each other. restic's model: readers (verify, list, export, restore) take shared locks and do not block each other
// or a backup; a backup takes the write lock (one writer at a time); prune takes the exclusive lock, which waits for
// readers. Each lock object records its holder and a refresh deadline; it is refreshed while the run lasts and is
// stale once its deadline passes, and only then taken over. A refresh rewrites the object only while it is still the
// version this run read (S3 `If-Match`), so a run that was presumed dead never writes its lock back over the run that
// took it over.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

/// What a run needs of a repository.
public enum LockMode: String, Sendable, Codable, Equatable {
    /// Reading (verify, list, export, restore): many at once, beside a backup; excluded only by prune.
    case shared
    /// Adding backups (backup, import): one writer at a time; readers go on.
    case write
    /// Removing backups (prune, retention): nobody else.
    case exclusive
}

/// A lock held on one destination (``RepositoryLock`` for a local directory, ``StoreLock`` for an object store).
public protocol DestinationLock: AnyObject, Sendable {
    /// The mode held now.
    var mode: LockMode { get }
    /// Who held the lock before and did not release it (its run died): worth a warning.
    var previousHolderSummary: String? { get }
    /// Turns a write lock into an exclusive one when no reader holds a shared lock; false (and still a write lock)
    /// when some do.
    func upgrade() async throws -> Bool
    /// Releases the lock. Idempotent.
    func release() async
}

/// The body of a lock object: who holds it and until when it counts as alive.
public struct LockRecord: Codable, Sendable, Equatable {
    public var host: String
    public var pid: Int32
    /// A random id of the run, unique across hosts.
    public var runID: String
    public var operation: String
    public var mode: LockMode
    public var startedAt: Date
    public var refreshedAt: Date
    /// The lock is stale (its holder presumed dead) after this instant unless refreshed before.
    public var deadline: Date
    public var lifeboatVersion: String

    enum CodingKeys: String, CodingKey {
        case host, pid, operation, mode, deadline
        case runID = "run_id"
        case startedAt = "started_at"
        case refreshedAt = "refreshed_at"
        case lifeboatVersion = "lifeboat_version"
    }

    /// `backup (pid 1234 on host db1, run 5f.., since 2026-11-28T23:15:00Z, alive until 23:20:00Z)`
    public var summary: String {
        "\(operation) (pid \(pid) on host \(host), run \(runID), since \(Self.utc(startedAt)), refreshed until \(Self.utc(deadline)))"
    }

    static func utc(_ date: Date) -> String { ManifestTimestamp(date: date, utcOffsetSeconds: 0).utcDescription }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .secondsSince1970
        return Array(try encoder.encode(self))
    }

    static func decode(_ bytes: [UInt8]) -> LockRecord? {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return try? decoder.decode(LockRecord.self, from: Data(bytes))
    }
}

/// How store locks behave in time. Injected clock and sleep, so tests need no real minutes.
public struct StoreLockTiming: Sendable {
    /// A lock not refreshed for this long is stale.
    public var staleAfter: TimeInterval
    /// How often a held lock is refreshed (well inside `staleAfter`).
    public var refreshInterval: TimeInterval
    /// How long to keep trying when the lock is held (0: fail at once).
    public var wait: TimeInterval
    /// Pause between tries while waiting.
    public var pollInterval: TimeInterval
    public var clock: @Sendable () -> Date
    public var sleep: @Sendable (TimeInterval) async throws -> Void

    public static let defaultStaleAfter: TimeInterval = 900

    public init(staleAfter: TimeInterval = StoreLockTiming.defaultStaleAfter, refreshInterval: TimeInterval? = nil,
                wait: TimeInterval = 0, pollInterval: TimeInterval? = nil,
                clock: @escaping @Sendable () -> Date = { Date() },
                sleep: @escaping @Sendable (TimeInterval) async throws -> Void = { try await Task.sleep(for: .milliseconds(Int64(max(0, $0) * 1000))) }) {
        self.staleAfter = max(1, staleAfter)
        self.refreshInterval = refreshInterval ?? max(0.2, staleAfter / 5)
        self.wait = max(0, wait)
        self.pollInterval = pollInterval ?? min(5, max(0.1, staleAfter / 20))
        self.clock = clock
        self.sleep = sleep
    }
}

/// A lock held in a store (see the file comment for the model).
///
/// Objects: `locks/exclusive.json` is the writer's lock (a backup's `write` or a prune's `exclusive`), created with
/// create-if-absent (S3 `If-None-Match: *`), so at most one run holds it; `locks/shared-<run>.json` are readers'
/// locks. A reader writes its object and then checks that no exclusive holder is alive; prune writes its object and
/// then checks that no reader is alive; each backs off when it finds the other, so at least one of two racing runs
/// sees the other. A stale writer's lock is taken over by one run only: the taker first creates
/// `locks/takeover-<stale run>.json` (create-if-absent), then deletes the stale object if it is still that run's.
public final class StoreLock: DestinationLock {
    public static let exclusiveName = "locks/exclusive.json"
    static let prefix = "locks/"

    public static func sharedName(_ runID: String) -> String { "locks/shared-\(runID).json" }
    static func takeoverName(_ runID: String) -> String { "locks/takeover-\(runID).json" }

    public let store: any BackupStore
    private let state: PThreadLocked<State>
    private let timing: StoreLockTiming
    private let refresher = PThreadLocked<Task<Void, Never>?>(nil)

    struct State {
        var record: LockRecord
        var released = false
        var lost = false
    }

    public let previousHolderSummary: String?

    public var mode: LockMode { state.withLock { $0.record.mode } }
    /// The record this lock wrote.
    public var record: LockRecord { state.withLock { $0.record } }
    /// True when a refresh found the lock object gone or taken over (this run was presumed dead).
    public var isLost: Bool { state.withLock { $0.lost } }

    private init(store: any BackupStore, record: LockRecord, timing: StoreLockTiming, previous: LockRecord?) {
        self.store = store
        self.state = PThreadLocked(State(record: record))
        self.timing = timing
        self.previousHolderSummary = previous?.summary
    }

    /// The object this lock holds.
    var objectName: String {
        let record = self.record
        return record.mode == .shared ? Self.sharedName(record.runID) : Self.exclusiveName
    }

    /// Takes the lock, trying again every `timing.pollInterval` for up to `timing.wait` seconds while another run
    /// holds it; then fails with ``StoreLockError/held(_:store:)`` naming the holder.
    public static func acquire(store: any BackupStore, mode: LockMode, operation: String, timing: StoreLockTiming = StoreLockTiming(),
                               host: String = RepositoryLock.currentHost(), pid: Int32 = getpid(),
                               runID: String = StoreLock.newRunID()) async throws -> StoreLock {
        let started = timing.clock()
        let giveUp = started.addingTimeInterval(timing.wait)
        while true {
            let now = timing.clock()
            let record = LockRecord(host: host, pid: pid, runID: runID, operation: operation, mode: mode, startedAt: started,
                                    refreshedAt: now, deadline: now.addingTimeInterval(timing.staleAfter),
                                    lifeboatVersion: LifeboatVersion.current)
            switch try await attempt(store: store, record: record, timing: timing) {
            case .acquired(let previous):
                let lock = StoreLock(store: store, record: record, timing: timing, previous: previous)
                lock.startRefreshing()
                return lock
            case .held(let holder):
                guard timing.clock() < giveUp else { throw StoreLockError.held(holder, store: store.displayName) }
                try await timing.sleep(timing.pollInterval)
            }
        }
    }

    /// A fresh random run id (16 hex digits).
    public static func newRunID() -> String {
        let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }

    enum Attempt {
        case acquired(previous: LockRecord?)
        case held(LockRecord?)
    }

    private static func attempt(store: any BackupStore, record: LockRecord, timing: StoreLockTiming) async throws -> Attempt {
        let body = try record.encoded()
        if record.mode == .shared {
            let name = sharedName(record.runID)
            try await store.put(name, body, mode: .replace)
            if let holder = try await read(exclusiveName, in: store), holder.mode == .exclusive, holder.deadline >= timing.clock() {
                try? await store.delete(name)
                return .held(holder)
            }
            return .acquired(previous: nil)
        }
        var previous: LockRecord?
        // Create the writer's lock; a stale one is taken over (once) and the create tried again.
        for _ in 0..<4 {
            do {
                try await store.put(exclusiveName, body, mode: .createNew)
            } catch let error as StoreError where error.kind == .alreadyExists {
                guard let holder = try await read(exclusiveName, in: store) else { continue }  // released meanwhile
                guard holder.deadline < timing.clock() else { return .held(holder) }
                if await takeOver(holder, in: store) { previous = holder }
                continue
            }
            if record.mode == .exclusive, let reader = try await liveReaders(in: store, now: timing.clock()).first {
                try? await store.delete(exclusiveName)
                return .held(reader)
            }
            return .acquired(previous: previous)
        }
        return .held(try await read(exclusiveName, in: store))
    }

    /// Removes a stale writer's lock, as the only run doing so; false when another run is taking it over.
    private static func takeOver(_ stale: LockRecord, in store: any BackupStore) async -> Bool {
        let marker = takeoverName(stale.runID)
        do {
            try await store.put(marker, Array("{}".utf8), mode: .createNew)
        } catch {
            return false
        }
        if let current = try? await read(exclusiveName, in: store), current.runID == stale.runID {
            try? await store.delete(exclusiveName)
        }
        try? await store.delete(marker)
        return true
    }

    /// Shared locks whose deadline has not passed; stale ones are removed on the way.
    static func liveReaders(in store: any BackupStore, now: Date) async throws -> [LockRecord] {
        var live: [LockRecord] = []
        for object in try await store.list(prefix: prefix) where object.name.hasPrefix("locks/shared-") {
            guard let record = try await read(object.name, in: store) else { continue }
            if record.deadline >= now { live.append(record) } else { try? await store.delete(object.name) }
        }
        return live
    }

    static func read(_ name: String, in store: any BackupStore) async throws -> LockRecord? {
        do {
            return LockRecord.decode(try await store.get(name, limit: 64 * 1024))
        } catch let error as StoreError where error.kind == .notFound {
            return nil
        }
    }

    /// The holders of the store's locks now (for messages and tests).
    public static func holders(in store: any BackupStore) async throws -> [LockRecord] {
        var all: [LockRecord] = []
        for object in try await store.list(prefix: prefix) {
            if let record = try await read(object.name, in: store) { all.append(record) }
        }
        return all
    }

    public func upgrade() async throws -> Bool {
        guard record.mode == .write else { return record.mode == .exclusive }
        guard try await replaceOwnObject({ $0.mode = .exclusive }) else { throw lostError() }
        if try await Self.liveReaders(in: store, now: timing.clock()).isEmpty { return true }
        guard try await replaceOwnObject({ $0.mode = .write }) else { throw lostError() }
        return false
    }

    private func lostError() -> StoreLockError {
        state.withLock { $0.lost = true }
        return .lost(store: store.displayName)
    }

    /// Rewrites this run's lock object with `update` applied to the current record, only while the object is still
    /// this run's: conditional on the version just read (S3 `If-Match`), so a run that was presumed dead and taken
    /// over never writes its lock back over the new holder's. False when the object is gone or another run's.
    private func replaceOwnObject(_ update: (inout LockRecord) -> Void) async throws -> Bool {
        let name = objectName
        for _ in 0..<5 {
            // The version first, then the content: a change between the two fails the conditional replace.
            let info: StoreObjectInfo
            do {
                info = try await store.stat(name)
            } catch let error as StoreError where error.kind == .notFound {
                return false
            }
            var record = self.record
            guard let current = try await Self.read(name, in: store), current.runID == record.runID else { return false }
            update(&record)
            let mode = info.versionTag.map { StoreWriteMode.replaceIfUnchanged(versionTag: $0) } ?? .replace
            do {
                try await store.put(name, try record.encoded(), mode: mode)
                state.withLock { $0.record = record }
                return true
            } catch let error as StoreError where error.kind == .changed {
                continue  // replaced meanwhile (this run's own refresh or upgrade, or a takeover): look again
            }
        }
        throw StoreError(.changed, store: store.displayName, operation: "refresh lock", object: name,
                         detail: "the lock object kept changing while this run rewrote it")
    }

    private func startRefreshing() {
        let task = Task { [weak self, timing] in
            while !Task.isCancelled {
                do { try await timing.sleep(timing.refreshInterval) } catch { return }
                guard let self, !Task.isCancelled else { return }
                await self.refresh()
            }
        }
        refresher.withLock { $0 = task }
    }

    /// Moves the deadline on; marks the lock lost when its object is gone or another run's. A failure to reach the
    /// store is tried again at the next refresh (the deadline leaves several).
    func refresh() async {
        if state.withLock({ $0.released || $0.lost }) { return }
        let now = timing.clock()
        do {
            if try await !replaceOwnObject({ $0.refreshedAt = now; $0.deadline = now.addingTimeInterval(timing.staleAfter) }) {
                state.withLock { $0.lost = true }
            }
        } catch {
            return
        }
    }

    public func release() async {
        let task = refresher.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        task?.cancel()
        await task?.value
        let (first, record) = state.withLock { s -> (Bool, LockRecord) in
            defer { s.released = true }
            return (!s.released, s.record)
        }
        guard first else { return }
        let name = objectName
        // Only our own object: after a takeover the object is another run's.
        if let current = try? await Self.read(name, in: store), current.runID == record.runID {
            try? await store.delete(name)
        }
    }

    deinit {
        refresher.withLock { $0?.cancel() }
    }
}

/// Another run holds a store lock.
public enum StoreLockError: Error, Sendable, Equatable, CustomStringConvertible, ExitCodeProviding {
    case held(LockRecord?, store: String)
    /// This run's lock went stale (it could not refresh it in time) and another run took it over.
    case lost(store: String)

    public var description: String {
        switch self {
        case .held(let holder, let store):
            guard let holder else {
                return "another lifeboat run holds the lock of \(store) (its details are not readable yet); wait for it to finish"
            }
            return "another lifeboat \(holder.summary) holds the lock of \(store); wait for it to finish (give --lock-wait to wait), "
                + "or, if that run is dead, wait until its deadline passes: the lock is then stale and taken over"
        case .lost(let store):
            return "this run lost the lock of \(store): it could not refresh the lock before its deadline (lock_stale_after), "
                + "so another run presumed it dead and took the lock over; nothing more was changed. Run again, and raise "
                + "lock_stale_after if the store is slow to answer"
        }
    }

    public var exitStatus: ExitStatus { .lockHeld }
}
