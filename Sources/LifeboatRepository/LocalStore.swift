// LocalStore: a BackupStore in a local directory. Pending objects are temporary files next to their final
// name (AtomicFileWriter: write, fsync, rename or link, fsync of the directory); listing walks the directory tree.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSnapshot
import LifeboatRetention

/// A ``BackupStore`` in a directory of the local file system (the default repository).
///
/// - An object `data/x.lbk` is the file `<directory>/data/x.lbk`; intermediate directories are created on demand.
/// - Files are created with mode 0600 and directories with mode 0700: backups are readable by their owner only.
/// - A pending object is a file named `.lifeboat-tmp-<name>-<random>` (``AtomicFileWriter/temporaryPrefix``) in the
///   final directory. `commit` fsyncs it, publishes it (`link` for ``StoreWriteMode/createNew``, which fails instead of
///   replacing; `rename` for ``StoreWriteMode/replace``) and fsyncs the directory. Files whose names start with `.`
///   (temporary files, the repository lock) are never listed.
/// - Orphans are temporary files whose modification time is older than the cleanup threshold.
///
/// The file system must support hard links for create-new commits (every local Linux file system does; some network
/// and FAT file systems do not, and a commit there fails with a permission error that names the operation).
///
/// I/O is blocking POSIX I/O on the calling task's thread, in pieces of at most the caller's chunk size.
public struct LocalStore: BackupStore {
    /// The repository directory, absolute and without a trailing `/`.
    public let directory: String

    /// Permission bits of every file the store creates.
    public static let fileMode: mode_t = 0o600
    /// Permission bits of every directory the store creates.
    public static let directoryMode: mode_t = 0o700

    public var displayName: String { "local directory \(directory)" }

    /// Opens the repository directory `directory`.
    ///
    /// - Parameter createIfMissing: create the directory (and missing parents) with mode 0700 when it does not exist;
    ///   otherwise a missing directory fails with ``StoreError/Kind-swift.enum/notFound``.
    public init(directory: String, createIfMissing: Bool = false) throws {
        var path = directory
        if !path.hasPrefix("/") { path = FileManager.default.currentDirectoryPath + "/" + path }
        path = URL(fileURLWithPath: path).standardizedFileURL.path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        self.directory = path

        let name = "local directory \(path)"
        var info = Glibc.stat()
        if systemStat(path, &info) != 0 {
            let code = errno
            guard code == ENOENT, createIfMissing else {
                if code == ENOENT {
                    throw StoreError(.notFound, store: name, operation: "open", object: path,
                                     detail: "the repository directory does not exist; create it or pass the right --repo")
                }
                throw StoreError.posix(code, store: name, operation: "open", object: path)
            }
            try Self.makeDirectories(path, store: name)
        } else if info.st_mode & S_IFMT != S_IFDIR {
            throw StoreError(.corrupt, store: name, operation: "open", object: path, detail: "not a directory")
        }
    }

    // MARK: BackupStore

    public func createPendingObject(named name: String, mode: StoreWriteMode) async throws -> any PendingObject {
        try StoreObjectName.validate(name, store: displayName, operation: "create")
        let path = self.path(of: name)
        try makeObjectDirectories(for: name)
        if mode == .createNew {
            // Fail before streaming gigabytes; commit checks again, atomically.
            var info = Glibc.stat()
            if systemStat(path, &info) == 0 {
                throw StoreError(.alreadyExists, store: displayName, operation: "create", object: path)
            }
        }
        return try LocalPendingObject(name: name, path: path, mode: mode, store: displayName)
    }

    public func openForReading(_ name: String) async throws -> any StoreObjectReader {
        try StoreObjectName.validate(name, store: displayName, operation: "read")
        return try LocalObjectReader(path: path(of: name), store: displayName)
    }

    public func get(_ name: String, limit: Int) async throws -> [UInt8] {
        try StoreObjectName.validate(name, store: displayName, operation: "read")
        let path = self.path(of: name)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.posix(errno, store: displayName, operation: "read", object: path) }
        defer { Glibc.close(fd) }
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw StoreError(.corrupt, store: displayName, operation: "read", object: path, detail: "not a regular file")
        }
        guard info.st_size <= limit else {
            throw StoreError(.corrupt, store: displayName, operation: "read", object: path,
                             detail: "larger than the \(limit)-byte limit for this kind of object")
        }
        // Sized by fstat, plus room to notice a file that grows while it is read (only outside tampering does that:
        // the store replaces files by rename, never in place).
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var count = 0
        do {
            while true {
                if count == bytes.count {
                    guard count <= limit else {
                        throw StoreError(.corrupt, store: displayName, operation: "read", object: path,
                                         detail: "larger than the \(limit)-byte limit for this kind of object")
                    }
                    bytes += [UInt8](repeating: 0, count: min(bytes.count, limit + 1 - count))
                }
                let n = try bytes.withUnsafeMutableBytes { buffer in
                    try FileDescriptorIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[count...]), path: path)
                }
                if n == 0 { break }
                count += n
            }
        } catch let error as FileIOError {
            throw StoreError.file(error, store: displayName, operation: "read", object: path)
        }
        guard count <= limit else {
            throw StoreError(.corrupt, store: displayName, operation: "read", object: path,
                             detail: "larger than the \(limit)-byte limit for this kind of object")
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }

    public func stat(_ name: String) async throws -> StoreObjectInfo {
        try StoreObjectName.validate(name, store: displayName, operation: "stat")
        let path = self.path(of: name)
        var info = Glibc.stat()
        guard systemStat(path, &info) == 0 else {
            throw StoreError.posix(errno, store: displayName, operation: "stat", object: path)
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw StoreError(.corrupt, store: displayName, operation: "stat", object: path, detail: "not a regular file")
        }
        return StoreObjectInfo(name: name, size: Int64(info.st_size), modified: Self.modificationDate(info),
                               versionTag: Self.versionTag(info))
    }

    public func list(prefix: String) async throws -> [StoreObjectInfo] {
        try StoreObjectName.validatePrefix(prefix, store: displayName)
        var base = ""
        if let slash = prefix.lastIndex(of: "/") { base = String(prefix[...slash]) }
        var results: [StoreObjectInfo] = []
        try walk(relativeDirectory: base, operation: "list", missingIsEmpty: true) { relativeName, info in
            guard relativeName.hasPrefix(prefix), StoreObjectName.isValid(relativeName) else { return }
            results.append(StoreObjectInfo(name: relativeName, size: Int64(info.st_size), modified: Self.modificationDate(info)))
        } descend: { relativeDirectory in
            // Enter a directory only if names below it can still match the prefix.
            relativeDirectory.hasPrefix(prefix) || prefix.hasPrefix(relativeDirectory)
        }
        results.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return results
    }

    public func delete(_ name: String) async throws {
        try StoreObjectName.validate(name, store: displayName, operation: "delete")
        let path = self.path(of: name)
        if unlink(path) != 0 {
            let code = errno
            if code == ENOENT { return }
            throw StoreError.posix(code, store: displayName, operation: "delete", object: path)
        }
        try syncDirectory(of: path, operation: "delete")
    }

    public func cleanupOrphans(olderThan cutoff: Date) async throws -> [String] {
        var orphans: [String] = []
        try walk(relativeDirectory: "", operation: "cleanup", missingIsEmpty: false, includeTemporary: true) { relativeName, info in
            let fileName = (relativeName as NSString).lastPathComponent
            guard fileName.hasPrefix(AtomicFileWriter.temporaryPrefix), Self.modificationDate(info) < cutoff else { return }
            orphans.append(relativeName)
        } descend: { _ in true }
        var removed: [String] = []
        for relativeName in orphans.sorted() {
            let path = directory + "/" + relativeName
            if unlink(path) != 0 {
                let code = errno
                if code == ENOENT { continue }
                throw StoreError.posix(code, store: displayName, operation: "cleanup", object: path)
            }
            try syncDirectory(of: path, operation: "cleanup")
            removed.append(relativeName)
        }
        return removed
    }

    // MARK: Helpers

    /// The file system path of an object.
    public func path(of name: String) -> String { directory + "/" + name }

    /// A file's version: every commit renames a new file into place, so the inode changes with each replacement;
    /// size and modification time catch a file rewritten in place by hand.
    static func versionTag(_ info: Glibc.stat) -> String {
        "\(info.st_ino)-\(info.st_size)-\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    static func modificationDate(_ info: Glibc.stat) -> Date {
        Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
    }

    private func syncDirectory(of path: String, operation: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        do {
            try FileDescriptorIO.syncDirectory(parent)
        } catch let error as FileIOError {
            throw StoreError.file(error, store: displayName, operation: operation, object: parent)
        }
    }

    /// Creates the directories an object name needs below the repository directory (mode 0700), fsyncing each parent
    /// that gained an entry. Never recreates the repository directory itself: if it vanished, that is an error.
    private func makeObjectDirectories(for name: String) throws {
        var current = directory
        for component in name.split(separator: "/").dropLast() {
            let parent = current
            current += "/" + component
            if mkdir(current, Self.directoryMode) == 0 {
                do {
                    try FileDescriptorIO.syncDirectory(parent)
                } catch let error as FileIOError {
                    throw StoreError.file(error, store: displayName, operation: "create directory", object: parent)
                }
                continue
            }
            let code = errno
            switch code {
            case EEXIST:
                var info = Glibc.stat()
                guard systemStat(current, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                    throw StoreError(.corrupt, store: displayName, operation: "create directory", object: current,
                                     detail: "exists and is not a directory")
                }
            case ENOENT where parent == directory:
                throw StoreError(.notFound, store: displayName, operation: "create", object: directory,
                                 detail: "the repository directory does not exist any more; check the path and whether its file system is mounted")
            default:
                throw StoreError.posix(code, store: displayName, operation: "create directory", object: current)
            }
        }
    }

    /// Creates `path` and its missing parents with mode 0700, fsyncing each parent that gained an entry.
    static func makeDirectories(_ path: String, store: String) throws {
        var info = Glibc.stat()
        if systemStat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw StoreError(.corrupt, store: store, operation: "create directory", object: path, detail: "not a directory")
            }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if parent != path && !parent.isEmpty { try makeDirectories(parent, store: store) }
        if mkdir(path, directoryMode) != 0 {
            let code = errno
            if code == EEXIST { return try makeDirectories(path, store: store) }
            throw StoreError.posix(code, store: store, operation: "create directory", object: path)
        }
        do {
            try FileDescriptorIO.syncDirectory(parent)
        } catch let error as FileIOError {
            throw StoreError.file(error, store: store, operation: "create directory", object: parent)
        }
    }

    /// Visits the regular files below `relativeDirectory` (relative to the repository, ending in `/` or empty),
    /// skipping names that start with `.` unless `includeTemporary` lets temporary files through.
    func walk(relativeDirectory: String, operation: String, missingIsEmpty: Bool, includeTemporary: Bool = false,
                      visit: (String, Glibc.stat) throws -> Void, descend: (String) -> Bool) throws {
        let absolute = relativeDirectory.isEmpty ? directory : directory + "/" + relativeDirectory
        guard let handle = opendir(absolute) else {
            let code = errno
            if code == ENOENT && (missingIsEmpty || !relativeDirectory.isEmpty) { return }
            throw StoreError.posix(code, store: displayName, operation: operation, object: absolute)
        }
        defer { closedir(handle) }
        let descriptor = dirfd(handle)
        var subdirectories: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                if errno != 0 { throw StoreError.posix(errno, store: displayName, operation: operation, object: absolute) }
                break
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            if name.hasPrefix(".") && !(includeTemporary && name.hasPrefix(AtomicFileWriter.temporaryPrefix)) { continue }
            var info = Glibc.stat()
            guard fstatat(descriptor, name, &info, 0) == 0 else {
                let code = errno
                if code == ENOENT { continue }  // removed while we listed
                throw StoreError.posix(code, store: displayName, operation: operation, object: absolute + "/" + name)
            }
            let relativeName = relativeDirectory + name
            switch info.st_mode & S_IFMT {
            case S_IFREG: try visit(relativeName, info)
            case S_IFDIR: if descend(relativeName + "/") { subdirectories.append(relativeName + "/") }
            default: continue
            }
        }
        for subdirectory in subdirectories {
            try walk(relativeDirectory: subdirectory, operation: operation, missingIsEmpty: true,
                     includeTemporary: includeTemporary, visit: visit, descend: descend)
        }
    }
}

/// A pending object of a ``LocalStore``: an ``AtomicFileWriter`` fed by a write-behind thread, owned by an actor.
///
/// `append` queues the bytes and returns, so the caller (encryption, verification) keeps working while the kernel
/// blocks a write on the disk; at most ``WriteBehind/depth`` buffers wait. A write error is thrown by the next
/// `append` or by `commit`, and the temporary file is removed.
actor LocalPendingObject: PendingObject {
    nonisolated let name: String
    private let path: String
    private let mode: StoreWriteMode
    private let store: String
    private var queue: WriteBehind?
    private var size: Int64 = 0

    init(name: String, path: String, mode: StoreWriteMode, store: String) throws {
        self.name = name
        self.path = path
        self.mode = mode
        self.store = store
        do {
            queue = WriteBehind(try AtomicFileWriter(path: path, mode: LocalStore.fileMode))
        } catch let error as FileIOError {
            throw StoreError.file(error, store: store, operation: "create", object: path)
        }
    }

    func append(_ bytes: [UInt8]) async throws {
        guard let queue else {
            throw StoreError(.ioFailure, store: store, operation: "write", object: path, detail: "the pending object was already committed or aborted")
        }
        do {
            try await queue.enqueue(bytes)
            size += Int64(bytes.count)
        } catch let error as FileIOError {
            // AtomicFileWriter removed the temporary file before throwing.
            self.queue = nil
            queue.abandon()
            throw StoreError.file(error, store: store, operation: "write", object: path)
        }
    }

    deinit {
        // Dropped without commit or abort (a cancelled backup): the thread stops and removes the temporary file.
        queue?.abandon()
    }

    @discardableResult
    func commit() async throws -> StoreObjectInfo {
        guard let queue else {
            throw StoreError(.ioFailure, store: store, operation: "commit", object: path, detail: "the pending object was already committed or aborted")
        }
        self.queue = nil
        if case .replaceIfUnchanged(let expected) = mode {
            // Checked just before the rename: the directory's lock file serialises the writers of a local repository.
            var current = Glibc.stat()
            guard systemStat(path, &current) == 0, LocalStore.versionTag(current) == expected else {
                await queue.abort()
                throw StoreError(.changed, store: store, operation: "commit", object: path)
            }
        }
        do {
            try await queue.commit(exclusive: mode == .createNew)
        } catch let error as FileIOError {
            throw StoreError.file(error, store: store, operation: queue.failedWriting ? "write" : "commit", object: path)
        }
        var info = Glibc.stat()
        let modified = systemStat(path, &info) == 0 ? LocalStore.modificationDate(info) : Date()
        return StoreObjectInfo(name: name, size: size, modified: modified)
    }

    func abort() async {
        let queue = self.queue
        self.queue = nil
        await queue?.abort()
    }
}

/// The write-behind thread of a pending local object: writes queued buffers to an ``AtomicFileWriter`` in order.
///
/// Only the thread ever blocks (waiting for work, and in write(2)); the async side never does: when the queue is full
/// or it waits for the end, it suspends on a continuation that the thread resumes, so the cooperative pool keeps
/// running while the disk is slow.
final class WriteBehind: @unchecked Sendable {
    /// Buffers queued before `enqueue` waits.
    static let depth = 4

    // Invariant: every `var` is read and written only with `condition` locked; `writer` is used only by the thread
    // (it publishes or removes the file itself before exiting).
    private let condition = AsyncCondition()
    private let writer: AtomicFileWriter
    private var queued: [[UInt8]] = []
    private var ended = false
    /// Stop and remove the temporary file (abort, or dropped without commit).
    private var abandoned = false
    private var running = true
    private var failure: FileIOError?
    /// Publish the file once the queue is written (`exclusive`: never replace), and how that failed.
    private var commitRequest: Bool?
    private var commitFailure: FileIOError?

    init(_ writer: AtomicFileWriter) {
        self.writer = writer
        let thread = Thread { [self] in run() }
        thread.name = "lifeboat-writer"
        thread.start()
    }

    /// True when the thread stopped because a write failed.
    var failedWriting: Bool {
        condition.lock()
        defer { condition.unlock() }
        return failure != nil
    }

    /// Suspends until `ready` holds (checked with the lock held; the thread broadcasts after every change).
    private func wait(until ready: () -> Bool) async {
        await condition.wait(until: ready)
    }

    /// Queues `bytes` (suspending while `depth` buffers are queued); throws the first write error.
    func enqueue(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        await wait { queued.count < Self.depth || failure != nil || !running }
        try append(bytes)
    }

    private func append(_ bytes: [UInt8]) throws {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        guard running && !ended else {
            throw FileIOError(path: writer.temporaryPath, operation: "write", code: EBADF)
        }
        queued.append(bytes)
        condition.broadcast()
    }

    /// Ends the input; with `commit`, the thread publishes the file after the queue (else it removes it).
    private func end(commit exclusive: Bool) {
        condition.lock()
        ended = true
        commitRequest = exclusive
        condition.broadcast()
        condition.unlock()
    }

    private var firstFailure: FileIOError? {
        condition.lock()
        defer { condition.unlock() }
        return failure ?? commitFailure
    }

    /// Waits until everything queued is written, then has the thread publish the file (fsync, rename or link,
    /// directory fsync: the slow part stays off the cooperative pool); throws the first write or commit error.
    func commit(exclusive: Bool) async throws {
        end(commit: exclusive)
        await wait { !running }
        if let failure = firstFailure { throw failure }
    }

    /// Stops after the buffer being written (dropping the rest); the thread then removes the temporary file. Does not
    /// wait (for `deinit`).
    func abandon() {
        condition.lock()
        queued.removeAll()
        ended = true
        abandoned = true
        condition.broadcast()
        condition.unlock()
    }

    /// ``abandon()``, then waits until the thread removed the temporary file.
    func abort() async {
        abandon()
        await wait { !running }
    }

    private func run() {
        while true {
            condition.lock()
            while queued.isEmpty && !ended { condition.wait() }
            if queued.isEmpty {
                let abort = abandoned
                let commit = abort ? nil : commitRequest
                condition.unlock()
                var commitError: FileIOError?
                if abort {
                    writer.abort()
                } else if let exclusive = commit {
                    do { try writer.commit(exclusive: exclusive) } catch {
                        commitError = (error as? FileIOError) ?? FileIOError(path: writer.finalPath, operation: "commit", code: EIO)
                    }
                } else {
                    writer.abort()
                }
                condition.lock()
                commitFailure = commitError
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            let bytes = queued.removeFirst()
            condition.broadcast()
            condition.unlock()
            do {
                try writer.write(bytes)
            } catch {
                // AtomicFileWriter removed its temporary file before throwing.
                condition.lock()
                failure = (error as? FileIOError) ?? FileIOError(path: writer.temporaryPath, operation: "write", code: EIO)
                queued.removeAll()
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
        }
    }
}

/// Streams a file of a ``LocalStore``.
actor LocalObjectReader: StoreObjectReader {
    private var descriptor: Int32
    private let path: String
    private let store: String

    init(path: String, store: String) throws {
        self.path = path
        self.store = store
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StoreError.posix(errno, store: store, operation: "read", object: path) }
        var info = Glibc.stat()
        if fstat(descriptor, &info) != 0 || info.st_mode & S_IFMT != S_IFREG {
            Glibc.close(descriptor)
            throw StoreError(.corrupt, store: store, operation: "read", object: path, detail: "not a regular file")
        }
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
    }

    func read(maxCount: Int) async throws -> [UInt8]? {
        precondition(maxCount > 0, "read(maxCount:) needs a positive count")
        guard descriptor >= 0 else { return nil }
        let fd = descriptor
        var failure: FileIOError?
        let chunk = [UInt8](unsafeUninitializedCapacity: maxCount) { buffer, count in
            do {
                count = try FileDescriptorIO.read(fd, into: UnsafeMutableRawBufferPointer(buffer), path: path)
            } catch let error as FileIOError {
                failure = error
                count = 0
            } catch {
                count = 0
            }
        }
        if let failure { throw StoreError.file(failure, store: store, operation: "read", object: path) }
        return chunk.isEmpty ? nil : chunk
    }

    func close() async {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }
}

/// stat(2) under another name: inside the store types, `stat` means ``BackupStore/stat(_:)``.
private func systemStat(_ path: String, _ info: inout stat) -> Int32 {
    stat(path, &info)
}
