// The incident recoveries' plan, journal and report: what `lifeboat recover unseal|node|quorum --plan` shows
// (the nodes as they are, the verdict, each step), what the journal keeps across crashes for `--resume` (the plan
// and the steps done; never a key or a token), and what a finished run reports.

import Foundation
import LifeboatBase

/// The three recoveries short of a full restore.
public enum IncidentOperation: String, Sendable, Codable, Equatable, CaseIterable {
    /// Unseal every sealed node with the keys.
    case unseal
    /// Replace one lost or corrupt node: reset, join, unseal, wait until it is a healthy voter, drop its old raft id.
    case node
    /// Vault's lost-quorum procedure: peers.json on the survivor(s), restart, unseal, verify, rejoin the rest.
    case quorum
}

/// What a recovery will do, decided by its preflight (which touches nothing).
public struct IncidentPlan: Sendable, Codable, Equatable {
    public struct Step: Sendable, Codable, Equatable {
        /// `kind:argument`, e.g. `reset:vault_2` (the journal records these).
        public var id: String
        public var description: String
        /// Deletes or replaces data (a node's raft directory, its raft configuration).
        public var destructive: Bool
    }

    public var operation: IncidentOperation
    /// `recover node`: the node replaced.
    public var target: String?
    public var nodes: [RecoveryNode]
    /// Every node as the preflight saw it.
    public var observed: [TargetNodeState]
    public var steps: [Step]
    /// `recover quorum`: the survivors that keep their data (the highest committed index), and that index.
    public var survivors: [String] = []
    public var survivorIndex: UInt64?
    /// `recover quorum`: the peers.json written on each survivor.
    public var peersJSON: String?
    /// `recover node`: the raft id the replaced node had, removed after it rejoined when it differs.
    public var oldRaftID: String?
    /// Whether a leader is expected at the end (`recover unseal` without enough nodes for a quorum: no).
    public var expectsLeader: Bool = true
    /// What the preflight concluded, one line each.
    public var checks: [String] = []
    /// What the preflight could not check, and how the run copes.
    public var notes: [String] = []
    public var warnings: [String] = []
    public var createdAt: Date

    public var destructive: Bool { steps.contains(where: \.destructive) }

    /// The command that continues this recovery after a failure or a crash.
    public var resumeCommand: String {
        switch operation {
        case .unseal: return "lifeboat recover unseal --resume"
        case .node: return "lifeboat recover node \(target ?? "NAME") --resume"
        case .quorum: return "lifeboat recover quorum --resume"
        }
    }

    public func render() -> String {
        var lines: [String] = []
        let title: String
        switch operation {
        case .unseal: title = "Recovery plan: unseal the sealed nodes"
        case .node: title = "Recovery plan: replace node \(target ?? "?")"
        case .quorum: title = "Recovery plan: recover the lost quorum"
        }
        lines.append(title)
        lines.append("")
        lines.append("Nodes now:")
        for node in observed {
            var line = "  " + node.line
            if let c = node.committedIndex { line += ", committed index \(c)" }
            lines.append(line)
        }
        if !survivors.isEmpty {
            lines.append("")
            lines.append("Survivor(s) kept: \(survivors.joined(separator: ", "))" + (survivorIndex.map { " (committed index \($0), the highest)" } ?? ""))
        }
        if let peersJSON {
            lines.append("peers.json written on each survivor (raft/peers.json in its data directory, through the peers hook):")
            lines.append("  " + peersJSON)
        }
        if !checks.isEmpty {
            lines.append("")
            lines.append("Checks:")
            for check in checks { lines.append("  ok: \(check)") }
            for note in notes { lines.append("  not checked: \(note)") }
        }
        lines.append("")
        lines.append("Steps:")
        for (i, step) in steps.enumerated() {
            lines.append("  \(i + 1). \(step.description)\(step.destructive ? " [destructive]" : "")")
        }
        for warning in warnings { lines.append("WARNING: \(warning)") }
        lines.append("")
        lines.append(destructive ? "Verdict: ready; the destructive steps touch only the nodes named, never the data the survivors hold"
                                 : "Verdict: ready; nothing is deleted")
        return lines.joined(separator: "\n")
    }

    public func json() throws -> [UInt8] { try OutputJSON.encode(self) }
}

/// The persistent record of one incident recovery (mode 0600 JSON in the state directory; no secrets).
public struct IncidentJournal: Sendable, Codable, Equatable {
    public static let currentVersion = 1
    public static let fileName = "recover-journal.json"

    public var version: Int
    public var runID: String
    public var plan: IncidentPlan
    /// Step ids done, in order.
    public var completed: [String]
    public var status: RestoreJournal.Status
    public var lastError: String?
    public var failedStep: String?
    public var attempts: Int
    public var startedAt: Date
    public var updatedAt: Date

    public init(runID: String, plan: IncidentPlan, now: Date) {
        version = Self.currentVersion
        self.runID = runID
        self.plan = plan
        completed = []
        status = .running
        attempts = 1
        startedAt = now
        updatedAt = now
    }

    public var remaining: [IncidentPlan.Step] { plan.steps.filter { !completed.contains($0.id) } }

    public static func path(in stateDirectory: String) -> String { stateDirectory + "/" + fileName }

    public static func load(stateDirectory: String) throws -> IncidentJournal? {
        try JournalFile.load(IncidentJournal.self, path: path(in: stateDirectory), what: "recovery journal",
                             startAgain: "start the recovery again without --resume", currentVersion: currentVersion) { $0.version }
    }

    public func save(stateDirectory: String) throws {
        try JournalFile.save(self, stateDirectory: stateDirectory, fileName: Self.fileName, what: "recovery journal")
    }
}

/// How a recovery ended.
public struct IncidentReport: Sendable, Codable, Equatable {
    public var operation: IncidentOperation
    public var target: String?
    public var runID: String
    public var completed: [String]
    public var nodes: [TargetNodeState]
    /// The active node at the end.
    public var leader: String?
    public var seconds: Double
    public var error: String?
    public var resumeCommand: String?

    public var succeeded: Bool { error == nil }

    public func render() -> String {
        var lines: [String] = []
        lines.append(succeeded ? "Recovery complete (\(operation.rawValue)\(target.map { " \($0)" } ?? ""))" : "Recovery FAILED (\(operation.rawValue)\(target.map { " \($0)" } ?? ""))")
        lines.append("Steps done: \(completed.isEmpty ? "none" : completed.joined(separator: ", "))")
        if let leader { lines.append("Active node: \(leader)") }
        for node in nodes { lines.append("  " + node.line) }
        lines.append("Took \(DurationText.format(seconds: seconds))")
        if let error { lines.append("Error: \(error)") }
        if let resumeCommand, !succeeded { lines.append("To continue after fixing the cause: \(resumeCommand)") }
        return lines.joined(separator: "\n")
    }

    public func json() throws -> [UInt8] { try OutputJSON.encode(self) }
}

/// A recovery that failed in a step; `--resume` continues at it.
public struct IncidentFailed: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public var error: RecoveryError
    public var report: IncidentReport
    public var description: String { error.description }
    public var exitStatus: ExitStatus { error.exitStatus }
}
