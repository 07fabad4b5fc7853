// Plain POSIX file I/O used by the archive commands and the repository: full reads and writes, fsync, and
// atomic publication of a file (temp name, fsync, rename, fsync of the directory).

import Foundation

/// An I/O failure with the path and the operation that failed.
public struct FileIOError: Error, Equatable, Sendable, CustomStringConvertible {
    public let path: String
    public let operation: String
    public let code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    /// The disk or quota is full.
    public var isNoSpace: Bool { code == ENOSPC || code == EDQUOT }

    public var description: String {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOSPC, EDQUOT:
            return "\(operation) \(path): \(reason); free space on that file system (nothing partial was kept)"
        case EACCES, EPERM:
            return "\(operation) \(path): \(reason); check the ownership and permissions of the file and its directory"
        case ENOENT:
            return "\(operation) \(path): \(reason); check that the path exists"
        default:
            return "\(operation) \(path): \(reason)"
        }
    }
}

public enum FileDescriptorIO {
    /// Writes every byte, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String = "") throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(path: path, operation: "write", code: errno)
            }
            offset += n
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String = "") throws {
        try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    /// Reads up to `buffer.count` bytes, retrying EINTR; returns 0 at end of file.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String = "") throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileIOError(path: path, operation: "read", code: errno)
            }
            return n
        }
    }

    /// Asks the kernel to start writing `count` bytes at `offset` back to disk without waiting for it
    /// (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`). Only a hint: durability still comes from fsync. Does
    /// nothing where the call is not available.
    public static func startWriteback(_ fd: Int32, offset: Int64, count: Int64) {
        guard let syncFileRange = SyncFileRange.function else { return }
        _ = syncFileRange(fd, offset, count, SyncFileRange.write)
    }

    /// fsyncs the directory holding `path`, so a rename inside it is durable.
    public static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(path: directory, operation: "open directory", code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileIOError(path: directory, operation: "fsync directory", code: errno) }
    }
}

/// A file written under a temporary name in its final directory and published by `commit()` with
/// fsync + rename + directory fsync. Until then nothing exists at the final path; `abort()` (or deinit
/// without commit) removes the temporary file.
public final class AtomicFileWriter {
    public let finalPath: String
    public let temporaryPath: String
    private var fd: Int32
    private var done = false
    /// Bytes written so far, and how many of them the kernel was already asked to write back.
    private var written: Int64 = 0
    private var writebackStarted: Int64 = 0

    /// Writeback is started every this many bytes, so `commit`'s fsync finds little left to flush and large files
    /// do not pile up dirty pages (which makes later writes stall all at once).
    static let writebackInterval: Int64 = 8 << 20

    /// Prefix of temporary names, so leftovers of a crashed run can be recognised and removed.
    public static let temporaryPrefix = ".lifeboat-tmp-"

    /// - Parameters:
    ///   - mode: permission bits of the final file (0600 for anything holding backups or secrets).
    public init(path: String, mode: mode_t = 0o600) throws {
        finalPath = path
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        // A run killed with SIGKILL left its partial file for this name behind (its flock is gone with it): remove it.
        TemporaryFiles.removeAbandoned(in: directory, named: url.lastPathComponent)
        temporaryPath = directory + "/" + Self.temporaryPrefix + url.lastPathComponent + "-" + Hex.encode(SecureRandom.bytes(6))
        // Created flocked (the lock tells other runs this file's writer lives) and tracked (an interrupted run
        // removes it before exiting).
        fd = try TemporaryFiles.createLocked(temporaryPath, mode: mode)
    }

    deinit { abort() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try FileDescriptorIO.writeAll(fd, bytes, path: temporaryPath)
        } catch {
            abort()
            throw error
        }
        written += Int64(bytes.count)
        if written - writebackStarted >= Self.writebackInterval {
            FileDescriptorIO.startWriteback(fd, offset: writebackStarted, count: written - writebackStarted)
            writebackStarted = written
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Publishes the file. With `exclusive`, fails if something already exists at the final path.
    public func commit(exclusive: Bool = false) throws {
        precondition(!done, "AtomicFileWriter used after commit or abort")
        guard fsync(fd) == 0 else {
            let code = errno
            abort()
            throw FileIOError(path: temporaryPath, operation: "fsync", code: code)
        }
        // The descriptor (and its flock) stays open until the file is published: without the lock, another run
        // would take the temporary file for an abandoned one.
        defer {
            close(fd)
            fd = -1
        }
        if exclusive {
            // link() fails with EEXIST instead of replacing, unlike rename().
            guard link(temporaryPath, finalPath) == 0 else {
                let code = errno
                abort()
                throw FileIOError(path: finalPath, operation: "publish", code: code)
            }
            unlink(temporaryPath)
        } else {
            guard rename(temporaryPath, finalPath) == 0 else {
                let code = errno
                abort()
                throw FileIOError(path: finalPath, operation: "rename", code: code)
            }
        }
        TemporaryFiles.forget(temporaryPath)
        done = true
        try FileDescriptorIO.syncDirectory(URL(fileURLWithPath: finalPath).deletingLastPathComponent().path)
    }

    /// Removes the temporary file; the final path is untouched.
    public func abort() {
        guard !done else { return }
        done = true
        unlink(temporaryPath)
        TemporaryFiles.forget(temporaryPath)
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }
}

/// glibc's `sync_file_range`, looked up at run time: Swift's Glibc module does not declare it (it needs _GNU_SOURCE).
private enum SyncFileRange {
    typealias Function = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32
    /// SYNC_FILE_RANGE_WRITE
    static let write: UInt32 = 2

    static let function: Function? = {
        #if os(Linux)
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
        #else
        return nil
        #endif
    }()
}
