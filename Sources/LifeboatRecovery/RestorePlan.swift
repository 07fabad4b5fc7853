// RestorePlan: what a restore will do, as a pure value built after the preflight proved the backup good: which
// backup (time, raft index, age), which nodes, what is wiped, the phases in order, and the warnings. Rendered for
// the operator (`--plan`, the confirmation prompt) and as JSON. Building it touches nothing.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// The phases of a restore, in order. Each is logged with its duration and is safe to repeat.
public enum RestorePhase: String, Sendable, Codable, CaseIterable, Comparable {
    /// Fetch, decrypt, authenticate and verify the backup into a staging file; check the unseal keys.
    case preflight
    /// Run the reset hooks (stop, wipe raft data, start) and wait until the first node is uninitialized.
    case reset
    /// Forced: initialize the first node with a temporary 1-of-1 key, unseal it, POST snapshot-force.
    /// Same-cluster: POST sys/storage/raft/snapshot to the active node.
    case restore
    /// Wait for the asynchronous apply (forced: sealed with the restored seal configuration).
    case apply
    /// Unseal the first node with the original cluster's keys.
    case unseal
    /// Wipe, join and unseal every other node; wait for all voters and a healthy autopilot.
    case rebootstrap
    /// Every node unsealed, one leader, applied index, canary secrets.
    case verify
    /// Per-phase durations and the total recovery time.
    case report

    /// A short human title.
    public var title: String {
        switch self {
        case .preflight: return "preflight"
        case .reset: return "reset"
        case .restore: return "restore"
        case .apply: return "apply"
        case .unseal: return "unseal"
        case .rebootstrap: return "rebootstrap"
        case .verify: return "verify"
        case .report: return "report"
        }
    }

    public static func < (a: RestorePhase, b: RestorePhase) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// How the snapshot is put back.
public enum RestoreMode: String, Sendable, Codable, Equatable {
    /// `--force`: reset every node, initialize the first with a temporary key, snapshot-force, rebootstrap the rest.
    case force
    /// No reset: POST sys/storage/raft/snapshot to the running cluster (same cluster, same unseal keys).
    case sameCluster = "same-cluster"

    /// The phases this mode runs, in order.
    public var phases: [RestorePhase] {
        switch self {
        case .force: return RestorePhase.allCases
        case .sameCluster: return [.preflight, .restore, .apply, .verify, .report]
        }
    }
}

/// A Vault server of the cluster being restored.
public struct RecoveryNode: Sendable, Codable, Equatable, Hashable, CustomStringConvertible {
    /// The name hooks receive as `{node}` (e.g. the compose service or the raft node id: `vault_1`).
    public var name: String
    /// Its API address, e.g. `https://10.0.0.1:8200`.
    public var apiAddress: String

    public init(name: String, apiAddress: String) {
        self.name = name
        var a = apiAddress
        while a.hasSuffix("/") { a.removeLast() }
        self.apiAddress = a
    }

    public var description: String { "\(name) (\(apiAddress))" }
}

/// The backup a restore puts back, as the plan and the report describe it.
public struct RestoreBackupFacts: Sendable, Codable, Equatable {
    public var id: String
    /// Where it came from, e.g. `local directory /var/lib/lifeboat` or a file path.
    public var origin: String
    /// When the backup was taken (nil when unknown, e.g. a bare file).
    public var createdAt: Date?
    /// Raft index and term of the snapshot (meta.json).
    public var snapshotIndex: UInt64
    public var snapshotTerm: UInt64
    /// StorageEntry records in state.bin.
    public var entryCount: Int
    /// Size and SHA-256 of the snapshot (the .snap bytes, as Vault sent them).
    public var snapshotBytes: Int64
    public var snapshotSHA256: String
    /// The raft servers recorded in the snapshot (for information: raft keeps the new cluster's membership).
    public var snapshotServers: [String]

    public init(id: String, origin: String, createdAt: Date?, snapshotIndex: UInt64, snapshotTerm: UInt64, entryCount: Int,
                snapshotBytes: Int64, snapshotSHA256: String, snapshotServers: [String]) {
        self.id = id
        self.origin = origin
        self.createdAt = createdAt
        self.snapshotIndex = snapshotIndex
        self.snapshotTerm = snapshotTerm
        self.entryCount = entryCount
        self.snapshotBytes = snapshotBytes
        self.snapshotSHA256 = snapshotSHA256
        self.snapshotServers = snapshotServers
    }
}

/// The seal configuration restored from the backup's `core/seal-config`.
public struct RestoredSealConfig: Sendable, Codable, Equatable {
    /// "shamir" or an auto-unseal type.
    public var type: String
    public var shares: Int
    public var threshold: Int

    public init(type: String, shares: Int, threshold: Int) {
        self.type = type
        self.shares = shares
        self.threshold = threshold
    }

    public var isShamir: Bool { type == "shamir" || type.isEmpty }
}

/// What a restore will do. A pure value: building and rendering it touches nothing.
public struct RestorePlan: Sendable, Codable, Equatable {
    /// One step of the plan with what it does to the cluster.
    public struct Step: Sendable, Codable, Equatable {
        public var phase: RestorePhase
        public var summary: String
        /// True when this step destroys or replaces data.
        public var destructive: Bool
    }

    public var mode: RestoreMode
    public var backup: RestoreBackupFacts
    /// When the plan was made (the backup's age is measured from it).
    public var plannedAt: Date
    public var sealConfig: RestoredSealConfig
    /// Distinct unseal keys supplied.
    public var unsealKeysSupplied: Int
    /// Every node, the first one first (it is initialized and receives the snapshot).
    public var nodes: [RecoveryNode]
    /// Nodes whose raft data is wiped (all of them for `--force`, none for a same-cluster restore).
    public var wipedNodes: [String]
    public var steps: [Step]
    /// KV v2 paths read with the original token at the end (`secret/data/...` or `mount:path`).
    public var canaries: [String]
    /// The verified snapshot waiting in the staging directory.
    public var stagingPath: String
    /// Things the operator should know before confirming (an old backup, a missing token...).
    public var warnings: [String]
    /// What the preflight proved about the unseal keys.
    public var unsealKeyVerdict: UnsealKeyVerdict? = nil
    /// The target nodes as the preflight saw them.
    public var target: TargetAssessment? = nil
    /// Which credential each later phase uses, and whether it was checked.
    public var credentials: [String] = []
    /// The backup's cluster identity and the node / Vault version it was taken from (from its manifest).
    public var backupCluster: BackupManifest.Cluster? = nil
    public var backupTakenFrom: String = ""

    /// Seconds between the backup and the plan (nil when the backup time is unknown).
    public var backupAgeSeconds: Double? { backup.createdAt.map { plannedAt.timeIntervalSince($0) } }

    /// Builds the plan from verified facts.
    public static func make(mode: RestoreMode, backup: RestoreBackupFacts, sealConfig: RestoredSealConfig, unsealKeys: Int,
                            nodes: [RecoveryNode], canaries: [String], stagingPath: String, now: Date,
                            hasResetHook: Bool, staleAfter: TimeInterval = 24 * 3600) -> RestorePlan {
        let first = nodes.first?.name ?? "?"
        let others = nodes.dropFirst().map(\.name)
        var steps: [Step] = []
        switch mode {
        case .force:
            steps = [
                Step(phase: .preflight, summary: "decrypt, authenticate and verify backup \(backup.id) into the staging file (done)", destructive: false),
                Step(phase: .reset, summary: "run the reset hook on \(nodes.map(\.name).joined(separator: ", ")) (stop, WIPE raft data, start); wait until \(first) is uninitialized", destructive: true),
                Step(phase: .restore, summary: "initialize \(first) with a temporary 1-of-1 key (memory only), unseal it, POST snapshot-force (\(ByteCountText.format(backup.snapshotBytes)))", destructive: true),
                Step(phase: .apply, summary: "wait until \(first) reseals with the restored seal configuration (\(sealConfig.threshold) of \(sealConfig.shares))", destructive: false),
                Step(phase: .unseal, summary: sealConfig.isShamir ? "unseal \(first) with \(sealConfig.threshold) of the original keys" : "wait for \(first) to auto-unseal (\(sealConfig.type))", destructive: false),
                Step(phase: .rebootstrap, summary: others.isEmpty ? "no other node" : "for \(others.joined(separator: ", ")): wipe, join \(first), unseal with the original keys; wait for \(nodes.count) voters and a healthy autopilot", destructive: !others.isEmpty),
                Step(phase: .verify, summary: "every node unsealed, one leader, applied index >= \(backup.snapshotIndex)" + (canaries.isEmpty ? "" : ", \(canaries.count) canary secret\(canaries.count == 1 ? "" : "s") readable with the original token"), destructive: false),
                Step(phase: .report, summary: "per-phase durations and the total recovery time", destructive: false),
            ]
        case .sameCluster:
            steps = [
                Step(phase: .preflight, summary: "decrypt, authenticate and verify backup \(backup.id) into the staging file (done)", destructive: false),
                Step(phase: .restore, summary: "POST sys/storage/raft/snapshot to the active node: the cluster's data is REPLACED by the backup's", destructive: true),
                Step(phase: .apply, summary: "wait until the cluster is active again with applied index >= \(backup.snapshotIndex)", destructive: false),
                Step(phase: .verify, summary: "every node unsealed, one leader" + (canaries.isEmpty ? "" : ", \(canaries.count) canary secret\(canaries.count == 1 ? "" : "s")"), destructive: false),
                Step(phase: .report, summary: "per-phase durations and the total", destructive: false),
            ]
        }
        var warnings: [String] = []
        if let created = backup.createdAt {
            let age = now.timeIntervalSince(created)
            if age > staleAfter {
                warnings.append("the backup is \(DurationText.format(seconds: age)) old: everything written since \(ISO8601DateFormatter().string(from: created)) will be lost")
            } else if age < -300 {
                warnings.append("the backup's time is in the future (clock skew on the machine that took it?)")
            }
        }
        if mode == .force && !hasResetHook {
            warnings.append("no reset hook is configured: the nodes must already be wiped, running and uninitialized")
        }
        if mode == .force && !sealConfig.isShamir {
            warnings.append("the backup's cluster uses auto-unseal (\(sealConfig.type)): the restored nodes unseal only with the same KMS key")
        }
        if canaries.isEmpty {
            warnings.append("no canary secrets are configured: the restored data is checked only through Vault's health")
        }
        return RestorePlan(mode: mode, backup: backup, plannedAt: now, sealConfig: sealConfig, unsealKeysSupplied: unsealKeys,
                           nodes: nodes, wipedNodes: mode == .force ? nodes.map(\.name) : [], steps: steps, canaries: canaries,
                           stagingPath: stagingPath, warnings: warnings)
    }

    /// The plan as the operator reads it.
    public func render() -> String {
        var lines: [String] = []
        lines.append(mode == .force ? "Restore plan (--force: reset -> restore -> rebootstrap)" : "Restore plan (same cluster, no reset)")
        var when = backup.createdAt.map { ISO8601DateFormatter().string(from: $0) } ?? "unknown time"
        if let age = backupAgeSeconds { when += " (\(DurationText.format(seconds: max(0, age))) ago)" }
        lines.append("  backup:      \(backup.id) from \(backup.origin)")
        lines.append("  taken:       \(when)")
        lines.append("  snapshot:    raft index \(backup.snapshotIndex), term \(backup.snapshotTerm), \(backup.entryCount) keys, \(ByteCountText.format(backup.snapshotBytes)), sha256 \(backup.snapshotSHA256.prefix(16))...")
        if let backupCluster {
            lines.append("  cluster:     \(RestoreExecutor.clusterText(backupCluster))" + (backupTakenFrom.isEmpty ? "" : " (taken from \(backupTakenFrom))"))
        }
        lines.append("  verified:    every chunk authenticated, snapshot checksums and structure valid; staged at \(stagingPath)")
        if let unsealKeyVerdict {
            lines.append("  unseal keys: \(unsealKeyVerdict.detail)")
        }
        if let target {
            lines.append("  target:      \(target.summary)")
            for node in target.nodes { lines.append("               \(node.line)") }
        }
        for (i, line) in credentials.enumerated() {
            lines.append((i == 0 ? "  credentials: " : "               ") + line)
        }
        if mode == .sameCluster {
            lines.append("  unseal:      not needed (the cluster keeps its keys and stays unsealed)")
        } else if sealConfig.isShamir {
            lines.append("  unseal:      \(sealConfig.threshold) of \(sealConfig.shares) original keys needed, \(unsealKeysSupplied) distinct supplied")
        } else {
            lines.append("  unseal:      auto-unseal (\(sealConfig.type))")
        }
        lines.append("  nodes:       " + nodes.enumerated().map { i, n in i == 0 ? "\(n.name) [first] \(n.apiAddress)" : "\(n.name) \(n.apiAddress)" }.joined(separator: ", "))
        lines.append("  wiped:       " + (wipedNodes.isEmpty ? "nothing (the running cluster's data is replaced in place)" : wipedNodes.joined(separator: ", ") + " (ALL raft data on these nodes is destroyed)"))
        if !canaries.isEmpty { lines.append("  canaries:    " + canaries.joined(separator: ", ")) }
        lines.append("  phases:")
        for (i, step) in steps.enumerated() {
            lines.append("    \(i + 1). \(step.phase.title.padding(toLength: 12, withPad: " ", startingAt: 0)) \(step.destructive ? "[destructive] " : "")\(step.summary)")
        }
        for w in warnings { lines.append("  warning:     \(w)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The plan as JSON (sorted keys, ISO-8601 dates).
    public func json() throws -> [UInt8] {
        try OutputJSON.encode(self)
    }
}

/// Human durations: `850ms`, `12.4s`, `3m 05s`, `2h 10m`, `3d 4h`.
public enum DurationText {
    public static func format(seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let s = Int(seconds.rounded())
        if s < 3600 { return String(format: "%dm %02ds", s / 60, s % 60) }
        if s < 86400 { return String(format: "%dh %02dm", s / 3600, s / 60 % 60) }
        return "\(s / 86400)d \(s / 3600 % 24)h"
    }
}

/// Human byte counts: `512 B`, `16.2 KiB`, `1.5 GiB`.
public enum ByteCountText {
    public static func format(_ bytes: Int64) -> String {
        if bytes < 1024 { return "\(bytes) B" }
        let units = ["KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes) / 1024
        var i = 0
        while value >= 1024 && i < units.count - 1 {
            value /= 1024
            i += 1
        }
        return String(format: "%.1f", value) + " " + units[i]
    }
}
