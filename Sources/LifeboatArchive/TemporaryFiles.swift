// TemporaryFiles: every temporary file Lifeboat creates (an AtomicFileWriter's `.lifeboat-tmp-*` file, a staging
// file not yet adopted by a journal) is known to the process, so that an interrupted run removes all of them before it
// exits (TerminationSignals in LifeboatBase), and every such file carries an flock while its creator lives, so that a
// later run tells a file of a killed run (lock free: remove it) from one of a live run (lock held: leave it) exactly.

import Foundation

/// The temporary files of this process, and the abandoned ones of dead processes.
public enum TemporaryFiles {
    private struct State {
        var paths: Set<String> = []
        /// The process is exiting on a signal: nothing new may be created.
        var exiting = false
    }

    private static let state = PThreadLocked(State())

    /// Creates `path` exclusively (`O_CREAT | O_EXCL`, mode `mode`), takes an exclusive flock on it and tracks it.
    /// The lock says "my creator is alive" to ``removeAbandoned(in:named:)`` of other processes; it lasts as long as
    /// the returned descriptor is open.
    ///
    /// Creation and tracking happen under the same lock that ``removeAllForExit()`` holds while it exits, so a file is
    /// either tracked (and removed by it) or never created.
    static func createLocked(_ path: String, mode: mode_t) throws(FileIOError) -> Int32 {
        // Another process's removeAbandoned may unlink the name between our open and our flock (it saw no lock);
        // then the file we hold is nameless: create it again. It holds its own flock while unlinking, so once our
        // flock is granted the name is ours for good.
        for _ in 0..<8 {
            let result: Result<Int32?, FileIOError> = state.withLock { state in
                if state.exiting { return .success(nil) }
                let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
                guard fd >= 0 else { return .failure(FileIOError(path: path, operation: "create", code: errno)) }
                state.paths.insert(path)
                return .success(fd)
            }
            guard let fd = try result.get() else {
                // Exiting on a signal: this thread only has to wait for the exit.
                while true { pause() }
            }
            while flock(fd, LOCK_EX) != 0 {
                if errno == EINTR { continue }
                break  // file systems without flock: the file is still tracked and removed on exit
            }
            var info = stat()
            if fstat(fd, &info) == 0, info.st_nlink == 0 {
                close(fd)
                forget(path)
                continue
            }
            return fd
        }
        throw FileIOError(path: path, operation: "create", code: EAGAIN)
    }

    /// Tracks an existing file to remove if the process is interrupted (a staging file until a journal adopts it).
    public static func track(_ path: String) {
        state.withLock { _ = $0.paths.insert(path) }
    }

    /// Stops tracking `path` (it was published, removed, or adopted by something that outlives the process).
    public static func forget(_ path: String) {
        state.withLock { _ = $0.paths.remove(path) }
    }

    /// Removes `path` and stops tracking it.
    public static func remove(_ path: String) {
        unlink(path)
        forget(path)
    }

    /// The files tracked now (for tests and the exit message).
    public static var tracked: Set<String> { state.withLock { $0.paths } }

    /// For a process about to exit on a signal: removes every tracked file and then never returns. The lock stays
    /// held, so no thread can create another temporary file; `exit` runs with it held (it does not return either).
    ///
    /// - Parameter exit: called with the number of files removed; must end the process.
    public static func removeAllForExit(then exit: (Int) -> Never) -> Never {
        state.withLock { state -> Never in
            state.exiting = true
            var removed = 0
            for path in state.paths where unlink(path) == 0 { removed += 1 }
            exit(removed)
        }
    }

    /// Removes the temporary files in `directory` whose creator is gone: `.lifeboat-tmp-*` files (or, with `named`,
    /// only `.lifeboat-tmp-<named>-*`) on which an exclusive flock can be taken. A file a live process is writing
    /// holds its creator's flock and is never touched, whatever its age; this process's own files included.
    ///
    /// - Returns: the names removed (without the directory) and their total size in bytes.
    @discardableResult
    public static func removeAbandoned(in directory: String, named: String? = nil) -> (names: [String], bytes: Int64) {
        let prefix = AtomicFileWriter.temporaryPrefix + (named.map { $0 + "-" } ?? "")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return ([], 0) }
        var removed: [String] = []
        var bytes: Int64 = 0
        for name in names.sorted() where name.hasPrefix(prefix) {
            if let size = removeIfAbandoned(directory + "/" + name) {
                removed.append(name)
                bytes += size
            }
        }
        if !removed.isEmpty { try? FileDescriptorIO.syncDirectory(directory) }
        return (removed, bytes)
    }

    /// Removes the file at `path` if it is a regular file nobody holds a flock on; returns its size then.
    public static func removeIfAbandoned(_ path: String) -> Int64? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink > 0 else { return nil }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return nil }
        // Still the same file under that name (not replaced since we opened it)?
        var current = stat()
        guard lstat(path, &current) == 0, current.st_ino == info.st_ino, current.st_dev == info.st_dev else { return nil }
        guard unlink(path) == 0 else { return nil }
        return Int64(info.st_size)
    }
}
