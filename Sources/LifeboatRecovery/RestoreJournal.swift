// RestoreJournal: the restore's memory across crashes. A small JSON file (mode 0600, replaced atomically after
// every change) in the state directory recording the non-secret facts a `--resume` needs: which backup, where the
// verified snapshot is staged and its SHA-256, the nodes, which phases and which nodes are done, and how the last
// attempt ended. It never holds a key or a token.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// The persistent record of one restore run.
public struct RestoreJournal: Sendable, Codable, Equatable {
    /// Layout version of the file.
    public static let currentVersion = 1
    /// The file name inside the state directory.
    public static let fileName = "restore-journal.json"

    public enum Status: String, Sendable, Codable, Equatable {
        /// Phases are running (or the process died while they were).
        case running
        /// A phase failed; `--resume` continues at it.
        case failed
        /// Every phase completed: nothing to resume.
        case complete
    }

    /// A finished phase and how long it took (the last successful attempt).
    public struct PhaseRecord: Sendable, Codable, Equatable {
        public var phase: RestorePhase
        public var seconds: Double
        public var completedAt: Date
    }

    public var version: Int
    /// A random id for this restore (shown in logs and reports).
    public var runID: String
    public var mode: RestoreMode
    public var backupID: String
    public var backupOrigin: String
    public var stagingPath: String
    public var stagingSHA256: String
    public var snapshotIndex: UInt64
    public var nodes: [RecoveryNode]
    public var startedAt: Date
    public var updatedAt: Date
    public var status: Status
    public var completedPhases: [PhaseRecord]
    /// Nodes of the rebootstrap phase that have joined and unsealed.
    public var nodesDone: [String]
    /// The phase that failed last, and why (no secrets: messages never contain keys or tokens).
    public var failedPhase: RestorePhase?
    public var lastError: String?
    /// How many times the run was started (1 + resumes).
    public var attempts: Int

    public init(runID: String, mode: RestoreMode, backupID: String, backupOrigin: String, stagingPath: String, stagingSHA256: String,
                snapshotIndex: UInt64, nodes: [RecoveryNode], now: Date) {
        version = Self.currentVersion
        self.runID = runID
        self.mode = mode
        self.backupID = backupID
        self.backupOrigin = backupOrigin
        self.stagingPath = stagingPath
        self.stagingSHA256 = stagingSHA256
        self.snapshotIndex = snapshotIndex
        self.nodes = nodes
        startedAt = now
        updatedAt = now
        status = .running
        completedPhases = []
        nodesDone = []
        attempts = 1
    }

    /// True when `phase` completed in an earlier attempt or this one.
    public func isComplete(_ phase: RestorePhase) -> Bool { completedPhases.contains { $0.phase == phase } }

    /// The first phase of the mode that has not completed (nil when all have).
    public var nextPhase: RestorePhase? { mode.phases.first { !isComplete($0) } }

    mutating func complete(_ phase: RestorePhase, seconds: Double, at now: Date) {
        completedPhases.removeAll { $0.phase == phase }
        completedPhases.append(PhaseRecord(phase: phase, seconds: seconds, completedAt: now))
        completedPhases.sort { $0.phase < $1.phase }
        updatedAt = now
    }

    /// Forgets `phase` and every later one (used when a resume must redo earlier work).
    mutating func reopen(from phase: RestorePhase, at now: Date) {
        completedPhases.removeAll { $0.phase >= phase }
        if phase <= .rebootstrap { nodesDone = [] }
        updatedAt = now
    }

    // MARK: File

    /// The journal's path in `stateDirectory`.
    public static func path(in stateDirectory: String) -> String { stateDirectory + "/" + fileName }

    /// Reads the journal in `stateDirectory`; nil when there is none.
    public static func load(stateDirectory: String) throws -> RestoreJournal? {
        try JournalFile.load(RestoreJournal.self, path: path(in: stateDirectory), what: "restore journal",
                             startAgain: "start the restore again without --resume", currentVersion: currentVersion) { $0.version }
    }

    /// Writes the journal atomically with mode 0600 (temporary file, fsync, rename).
    public func save(stateDirectory: String) throws {
        try JournalFile.save(self, stateDirectory: stateDirectory, fileName: Self.fileName, what: "restore journal")
    }
}
