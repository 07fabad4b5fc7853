// RepositoryLock: keeps two Lifeboat runs off one local repository. The kernel's flock on `.lifeboat.lock` is the
// lock (released automatically when the holder dies, even by kill -9); the JSON inside only says who holds it.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

/// An exclusive lock on a local repository directory.
///
/// The lock file is `<repository>/.lifeboat.lock` (mode 0600, never listed as a store object). Acquiring takes a
/// non-blocking `flock(LOCK_EX)` on it and then writes a JSON body naming the holder (host, pid, start time, what it
/// runs). Because the kernel releases a flock when its holder exits in any way, a lock left by a crashed run is taken
/// over race-free: the next run simply gets the flock, and the stale body it finds is reported as ``previousHolder``.
/// The file is never deleted (deleting a flocked file lets two runs lock two different files); releasing empties it.
///
/// Caveat: on network file systems flock is only as good as the server's lock support (NFSv4 supports it; some
/// older setups lock per client only). Use a local repository directory for the lock, or one repository per host.
///
/// Modes (``LockMode``): `write` (backup) takes `flock(LOCK_EX)` on `.lifeboat.lock`; `exclusive` (prune) also takes
/// `LOCK_EX` on `.lifeboat.readers.lock`; `shared` (verify, list, export, restore) takes `LOCK_SH` on
/// `.lifeboat.readers.lock` only. So readers run beside a backup and beside each other, and prune waits for them.
public final class RepositoryLock: DestinationLock {
    /// Name of the lock file inside the repository directory.
    public static let fileName = ".lifeboat.lock"
    /// Name of the readers' lock file.
    public static let readersFileName = ".lifeboat.readers.lock"

    /// Who holds (or held) a lock, as written in the lock file.
    public struct Holder: Codable, Sendable, Equatable {
        public var host: String
        public var pid: Int32
        public var startedAt: ManifestTimestamp
        /// What the holder runs (`backup`, `prune`, ...).
        public var operation: String
        public var lifeboatVersion: String

        public init(host: String, pid: Int32, startedAt: ManifestTimestamp, operation: String,
                    lifeboatVersion: String = LifeboatVersion.current) {
            self.host = host
            self.pid = pid
            self.startedAt = startedAt
            self.operation = operation
            self.lifeboatVersion = lifeboatVersion
        }

        enum CodingKeys: String, CodingKey {
            case host, pid, operation
            case startedAt = "started_at"
            case lifeboatVersion = "lifeboat_version"
        }

        /// `pid 1234 on host db1, since 2026-11-28T23:15:00Z`
        public var summary: String {
            "pid \(pid) on host \(host), since \(startedAt.utcDescription)"
        }
    }

    /// The path of the lock file.
    public let path: String
    /// What this lock wrote into the lock file.
    public let holder: Holder
    /// The holder recorded in the lock file when this lock was taken, if it was not released cleanly (its process
    /// died): worth a warning, since that run was interrupted.
    public let previousHolder: Holder?

    /// The open lock file; -1 once released (or for a shared lock, which holds only the readers' file).
    private let descriptor: PThreadLocked<Int32>
    /// The open readers' lock file (shared or exclusive), -1 when not held.
    private let readers: PThreadLocked<Int32>
    private let currentMode: PThreadLocked<LockMode>

    private init(path: String, holder: Holder, previousHolder: Holder?, descriptor: Int32, readers: Int32 = -1, mode: LockMode = .write) {
        self.path = path
        self.holder = holder
        self.previousHolder = previousHolder
        self.descriptor = PThreadLocked(descriptor)
        self.readers = PThreadLocked(readers)
        self.currentMode = PThreadLocked(mode)
    }

    deinit { release() }

    public var mode: LockMode { currentMode.withLock { $0 } }
    public var previousHolderSummary: String? { previousHolder?.summary }

    /// Takes the lock in `mode`, trying again every `poll` seconds for up to `wait` seconds while it is held.
    public static func acquire(directory: String, mode: LockMode, operation: String, wait: TimeInterval = 0,
                               poll: TimeInterval = 0.5) async throws -> RepositoryLock {
        let giveUp = Date().addingTimeInterval(wait)
        while true {
            do {
                return try acquire(directory: directory, mode: mode, operation: operation, now: Date())
            } catch let error as RepositoryLockError where error.exitStatus == .lockHeld {
                guard Date() < giveUp else { throw error }
                try await Task.sleep(for: .milliseconds(Int64(poll * 1000)))
            }
        }
    }

    /// Takes the lock in `mode` at once or fails (see the type's description).
    public static func acquire(directory: String, mode: LockMode, operation: String, now: Date = Date()) throws -> RepositoryLock {
        let readersPath = (directory.hasSuffix("/") ? directory : directory + "/") + readersFileName
        func lockReaders(_ operation: Int32) throws -> Int32 {
            let fd = open(readersPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw RepositoryLockError.io(path: readersPath, operation: "open", code: errno) }
            while flock(fd, operation | LOCK_NB) != 0 {
                let code = errno
                if code == EINTR { continue }
                close(fd)
                if code == EWOULDBLOCK { throw RepositoryLockError.held(nil, path: readersPath, holderIsRunning: true) }
                throw RepositoryLockError.io(path: readersPath, operation: "lock", code: code)
            }
            return fd
        }
        switch mode {
        case .shared:
            let holder = Holder(host: currentHost(), pid: getpid(), startedAt: ManifestTimestamp(date: now, timeZone: .current), operation: operation)
            let fd: Int32
            do {
                fd = try lockReaders(LOCK_SH)
            } catch RepositoryLockError.io(_, "open", let code) where code == EROFS || code == EACCES {
                // A read-only repository: no writer on this host can change it either.
                return RepositoryLock(path: readersPath, holder: holder, previousHolder: nil, descriptor: -1, readers: -1, mode: .shared)
            } catch RepositoryLockError.held(_, let path, _) {
                throw RepositoryLockError.readersExcluded(path: path, operation: operation)
            }
            return RepositoryLock(path: readersPath, holder: holder, previousHolder: nil, descriptor: -1, readers: fd, mode: .shared)
        case .write:
            return try acquire(directory: directory, operation: operation, now: now)
        case .exclusive:
            let lock = try acquire(directory: directory, operation: operation, now: now)
            do {
                let fd = try lockReaders(LOCK_EX)
                lock.readers.withLock { $0 = fd }
                lock.currentMode.withLock { $0 = .exclusive }
            } catch RepositoryLockError.held(_, let path, _) {
                lock.release()
                throw RepositoryLockError.readersActive(path: path, operation: operation)
            }
            return lock
        }
    }

    public func upgrade() async throws -> Bool {
        switch mode {
        case .exclusive: return true
        case .shared: return false
        case .write:
            let directory = (path as NSString).deletingLastPathComponent
            let readersPath = directory + "/" + Self.readersFileName
            let fd = open(readersPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw RepositoryLockError.io(path: readersPath, operation: "open", code: errno) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                return false
            }
            readers.withLock { $0 = fd }
            currentMode.withLock { $0 = .exclusive }
            return true
        }
    }

    public func release() async { releaseDescriptors() }

    /// Takes the lock of the repository in `directory`, or fails at once with ``RepositoryLockError/held(_:path:holderIsRunning:)``
    /// naming the holder.
    ///
    /// - Parameters:
    ///   - operation: what this run does, recorded for whoever finds the lock held.
    ///   - now: the start time recorded in the lock.
    ///   - host: this machine's name (defaults to `gethostname`).
    ///   - pid: this process's id (defaults to `getpid`).
    public static func acquire(directory: String, operation: String, now: Date = Date(), timeZone: TimeZone = .current,
                               host: String = RepositoryLock.currentHost(), pid: Int32 = getpid()) throws -> RepositoryLock {
        let path = (directory.hasSuffix("/") ? directory : directory + "/") + fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw RepositoryLockError.io(path: path, operation: "open", code: errno) }

        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            let holder = readHolder(fd)
            close(fd)
            if code == EWOULDBLOCK {
                let running = holder.map { isRunning($0, localHost: host) } ?? true
                throw RepositoryLockError.held(holder, path: path, holderIsRunning: running)
            }
            throw RepositoryLockError.io(path: path, operation: "lock", code: code)
        }

        let previous = readHolder(fd)
        let holder = Holder(host: host, pid: pid, startedAt: ManifestTimestamp(date: now, timeZone: timeZone), operation: operation)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var body = Array(try encoder.encode(holder))
            body.append(UInt8(ascii: "\n"))
            guard ftruncate(fd, 0) == 0 else { throw RepositoryLockError.io(path: path, operation: "truncate", code: errno) }
            var offset = 0
            while offset < body.count {
                let written = body.withUnsafeBytes { pwrite(fd, $0.baseAddress! + offset, $0.count - offset, off_t(offset)) }
                if written < 0 {
                    if errno == EINTR { continue }
                    throw RepositoryLockError.io(path: path, operation: "write", code: errno)
                }
                offset += written
            }
        } catch {
            close(fd)  // also releases the flock
            throw error
        }
        return RepositoryLock(path: path, holder: holder, previousHolder: previous, descriptor: fd)
    }

    /// Empties the lock file and releases the lock. Idempotent; also done when the lock is deallocated.
    public func release() { releaseDescriptors() }

    private func releaseDescriptors() {
        readers.withLock { fd in
            guard fd >= 0 else { return }
            _ = flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            _ = ftruncate(fd, 0)
            _ = flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    /// True until ``release()``.
    public var isHeld: Bool { descriptor.withLock { $0 >= 0 } }

    /// This machine's host name.
    public static func currentHost() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `holder`'s process still runs: checked with `kill(pid, 0)` on this host; assumed for other hosts.
    static func isRunning(_ holder: Holder, localHost: String) -> Bool {
        guard holder.host == localHost, holder.pid > 0 else { return true }
        return kill(holder.pid, 0) == 0 || errno == EPERM
    }

    /// The holder recorded in the lock file, or nil when it is empty or not ours to read.
    private static func readHolder(_ fd: Int32) -> Holder? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var offset: off_t = 0
        while bytes.count < 64 * 1024 {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
            offset += off_t(n)
        }
        guard !bytes.isEmpty else { return nil }
        return try? JSONDecoder().decode(Holder.self, from: Data(bytes))
    }
}

/// Why a repository lock could not be taken.
public enum RepositoryLockError: Error, Sendable, Equatable, CustomStringConvertible, ExitCodeProviding {
    /// Another run holds the lock. `holder` is nil when its details are not readable (it is still writing them).
    /// `holderIsRunning` is false when the recorded process is gone on this host, yet the lock is still held: another
    /// process inherited the lock file.
    case held(RepositoryLock.Holder?, path: String, holderIsRunning: Bool)
    /// The lock file could not be opened, locked or written.
    case io(path: String, operation: String, code: Int32)
    /// A reader (verify, list, export, restore) could not start: a prune holds the repository.
    case readersExcluded(path: String, operation: String)
    /// A prune could not start: readers (verify, list, export, restore) hold shared locks.
    case readersActive(path: String, operation: String)

    public var description: String {
        switch self {
        case .held(let holder, let path, let running):
            guard let holder else {
                return "another lifeboat run holds the repository lock \(path) (its details are not written yet); wait for it to finish"
            }
            let who = holder.operation.isEmpty ? "another lifeboat run" : "another lifeboat \(holder.operation)"
            var text = "\(who) (\(holder.summary)) holds the repository lock"
            if running {
                text += "; wait for it to finish, or stop it if it is stuck"
            } else {
                text += "; that process is no longer running but the lock file \(path) is still locked by a process that inherited it"
                    + " (find it with `fuser \(path)`)"
            }
            return text
        case .readersExcluded(let path, let operation):
            return "cannot \(operation): a prune holds the repository (\(path)); wait for it to finish (give --lock-wait to wait)"
        case .readersActive(let path, let operation):
            return "cannot \(operation): other lifeboat runs are reading the repository (verify, list, export or restore; \(path)); "
                + "wait for them to finish (give --lock-wait to wait)"
        case .io(let path, let operation, let code):
            let reason = String(cString: strerror(code))
            return "cannot \(operation) the repository lock \(path): \(reason); check that the repository directory exists and is writable"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .held, .readersExcluded, .readersActive: return .lockHeld
        case .io: return .ioError
        }
    }
}
