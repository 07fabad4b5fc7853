// The agent's memory across restarts: per job, when it last ran and how it went, and the leader last seen. Kept
// in a small JSON file, mode 0600, replaced atomically (temporary file, fsync, rename, fsync of the directory), so
// that a crash leaves either the old or the new state, never half of one.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// How a job's last run ended.
public enum AgentJobResult: String, Sendable, Equatable, Codable {
    case success
    case failure
    /// The backup found this node is not the leader (with `--only-if-leader`); not a failure.
    case skippedNotLeader = "skipped_not_leader"
}

/// What the agent remembers between runs.
public struct AgentState: Sendable, Equatable, Codable {
    /// One job's history (jobs are `backup:<group>`, `verify`, `drill`).
    public struct JobRecord: Sendable, Equatable, Codable {
        /// The start of the last run that finished (its scheduled time, or the start-up time for a catch-up run).
        /// Missed-run detection at start-up compares the schedule against this.
        public var lastRun: Date?
        /// When the last run finished.
        public var lastFinished: Date?
        /// When the last successful run finished.
        public var lastSuccess: Date?
        public var lastResult: AgentJobResult?
        public var lastFailureReason: AgentFailureReason?
        /// One line about the last run (a summary, or the error message).
        public var lastMessage: String?
        /// Failures since the last success; drives failure and recovery notifications.
        public var consecutiveFailures: Int

        public init(
            lastRun: Date? = nil, lastFinished: Date? = nil, lastSuccess: Date? = nil, lastResult: AgentJobResult? = nil,
            lastFailureReason: AgentFailureReason? = nil, lastMessage: String? = nil, consecutiveFailures: Int = 0
        ) {
            self.lastRun = lastRun
            self.lastFinished = lastFinished
            self.lastSuccess = lastSuccess
            self.lastResult = lastResult
            self.lastFailureReason = lastFailureReason
            self.lastMessage = lastMessage
            self.consecutiveFailures = consecutiveFailures
        }
    }

    /// The active node as a backup last saw it.
    public struct LeaderSighting: Sendable, Equatable, Codable {
        public var address: String
        public var seenAt: Date

        public init(address: String, seenAt: Date) {
            self.address = address
            self.seenAt = seenAt
        }
    }

    /// The file format version.
    public var version: Int
    public var jobs: [String: JobRecord]
    public var leader: LeaderSighting?

    public init(jobs: [String: JobRecord] = [:], leader: LeaderSighting? = nil) {
        version = 1
        self.jobs = jobs
        self.leader = leader
    }
}

/// Reads and writes the state file.
public struct AgentStateFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The saved state; an empty state if the file does not exist yet.
    ///
    /// - Throws: `AgentStateFileError` if the file exists but cannot be read or parsed.
    public func load() throws(AgentStateFileError) -> AgentState {
        guard FileManager.default.fileExists(atPath: path) else { return AgentState() }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AgentStateFileError(path: path, message: "cannot read the agent state file \(path): \(error.localizedDescription)")
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .secondsSince1970
            let state = try decoder.decode(AgentState.self, from: data)
            guard state.version == 1 else {
                throw AgentStateFileError(
                    path: path, message: "the agent state file \(path) has version \(state.version); this lifeboat reads version 1")
            }
            return state
        } catch let error as AgentStateFileError {
            throw error
        } catch {
            throw AgentStateFileError(
                path: path, message: "the agent state file \(path) is not valid JSON (\(error)); move it aside to start afresh")
        }
    }

    /// Replaces the file with `state`, atomically, readable by the owner only.
    ///
    /// - Throws: `AgentStateFileError` saying which step failed.
    public func save(_ state: AgentState) throws(AgentStateFileError) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let bytes: [UInt8]
        do {
            bytes = Array(try encoder.encode(state)) + [0x0A]
        } catch {
            throw AgentStateFileError(path: path, message: "cannot encode the agent state: \(error)")
        }
        let directory = (path as NSString).deletingLastPathComponent
        // A fleet cluster's directory (clusters/NAME) does not exist before its first save; private like the file.
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let temporary = path + ".tmp.\(getpid())"
        func failure(_ step: String) -> AgentStateFileError {
            let reason = String(cString: strerror(errno))
            return AgentStateFileError(path: path, message: "cannot write the agent state file \(path) (\(step): \(reason))")
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("create \(temporary)") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                let error = failure("write")
                close(fd)
                unlink(temporary)
                throw error
            }
            written += n
        }
        // O_CREAT's mode is filtered by the umask and ignored for an existing file: set it explicitly.
        guard fchmod(fd, 0o600) == 0, fsync(fd) == 0 else {
            let error = failure("fsync")
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let error = failure("rename")
            unlink(temporary)
            throw error
        }
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }
}

/// The state file could not be read or written.
public struct AgentStateFileError: Error, Sendable, Equatable, CustomStringConvertible, ExitCodeProviding {
    public var path: String
    public var message: String

    public var description: String { message }
    public var exitStatus: ExitStatus { .ioError }
}
