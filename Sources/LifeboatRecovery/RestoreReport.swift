// RestoreReport: what a restore did and how long each phase took; the total is the recovery time an operator
// quotes in the incident review. Rendered as text and as JSON (`--json`).

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// The outcome of a restore.
public struct RestoreReport: Sendable, Codable, Equatable {
    /// One phase's timing. `seconds` is the last successful attempt; `resumed` is true when it ran in an earlier attempt.
    public struct PhaseTiming: Sendable, Codable, Equatable {
        public var phase: RestorePhase
        public var seconds: Double
        public var fromEarlierAttempt: Bool
    }

    /// What the verification found on one node.
    public struct NodeState: Sendable, Codable, Equatable {
        public var name: String
        public var address: String
        public var sealed: Bool
        public var active: Bool
        public var voter: Bool
        public var appliedIndex: UInt64?
    }

    /// One canary secret's check.
    public struct CanaryResult: Sendable, Codable, Equatable {
        public var path: String
        public var readable: Bool
        public var detail: String
    }

    public var runID: String
    public var mode: RestoreMode
    public var backupID: String
    public var snapshotIndex: UInt64
    public var succeeded: Bool
    public var phases: [PhaseTiming]
    /// Sum of the phase durations (the recovery time, resumes included).
    public var totalSeconds: Double
    /// Wall-clock time of this attempt only.
    public var attemptSeconds: Double
    public var attempts: Int
    public var nodes: [NodeState]
    public var leader: String?
    public var canaries: [CanaryResult]
    /// The failure, when `succeeded` is false.
    public var error: String?
    public var failedPhase: RestorePhase?

    /// The report for people.
    public func render() -> String {
        var lines: [String] = []
        lines.append(succeeded ? "Restore complete: backup \(backupID) (raft index \(snapshotIndex)) is live."
                               : "Restore FAILED\(failedPhase.map { " in \($0.title)" } ?? ""): \(error ?? "unknown error")")
        lines.append("  run:        \(runID) (\(mode.rawValue), attempt \(attempts))")
        for p in phases {
            lines.append("  \(p.phase.title.padding(toLength: 12, withPad: " ", startingAt: 0))\(DurationText.format(seconds: p.seconds).padding(toLength: 10, withPad: " ", startingAt: 0))\(p.fromEarlierAttempt ? " (earlier attempt)" : "")")
        }
        lines.append("  total:      \(DurationText.format(seconds: totalSeconds)) recovery time" + (attempts > 1 ? " (this attempt \(DurationText.format(seconds: attemptSeconds)))" : ""))
        if !nodes.isEmpty {
            lines.append("  nodes:      " + nodes.map { n in
                "\(n.name) \(n.sealed ? "SEALED" : "unsealed")\(n.active ? " leader" : "")\(n.voter ? " voter" : "")" + (n.appliedIndex.map { " index \($0)" } ?? "")
            }.joined(separator: "; "))
        }
        for c in canaries {
            lines.append("  canary:     \(c.path): \(c.readable ? "ok" : "FAILED") \(c.detail)")
        }
        if !succeeded {
            lines.append("  next:       fix the cause above, then run `lifeboat restore --resume` to continue at \(failedPhase?.title ?? "the failed phase")")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The report as JSON.
    public func json() throws -> [UInt8] {
        try OutputJSON.encode(self)
    }
}
