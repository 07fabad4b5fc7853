// ClusterDiagnosis: what `lifeboat doctor` concludes from what it saw (pure: node states, the active node's raft
// configuration, the latest backup, the time). Each finding says what it means, what data is at risk, and the
// recoveries in order, least destructive first. A full restore (`restore --force`) is recommended only when no
// node holds the cluster's data, and the diagnosis says so when it does.

import Foundation
import LifeboatBase

/// The raft configuration and autopilot state as the active node reported them (needs a token allowed to read
/// `sys/storage/raft/configuration` and `sys/storage/raft/autopilot/state`).
public struct RaftView: Sendable, Codable, Equatable {
    public struct Server: Sendable, Codable, Equatable {
        public var id: String
        public var address: String
        public var voter: Bool
        public var leader: Bool
        public init(id: String, address: String, voter: Bool, leader: Bool) {
            self.id = id
            self.address = address
            self.voter = voter
            self.leader = leader
        }
    }

    public var servers: [Server]
    /// Autopilot's verdict, when the token could read it.
    public var autopilotHealthy: Bool?
    public var failureTolerance: Int?

    public init(servers: [Server], autopilotHealthy: Bool? = nil, failureTolerance: Int? = nil) {
        self.servers = servers
        self.autopilotHealthy = autopilotHealthy
        self.failureTolerance = failureTolerance
    }

    public var voterIDs: [String] { servers.filter(\.voter).map(\.id) }
}

/// The newest usable backup, for "data at risk" (writes since it).
public struct LatestBackupFacts: Sendable, Codable, Equatable {
    public var id: String
    public var createdAt: Date?
    public var index: UInt64?

    public init(id: String, createdAt: Date?, index: UInt64?) {
        self.id = id
        self.createdAt = createdAt
        self.index = index
    }
}

/// How the commands a diagnosis recommends are spelled for this installation (the flags the operator must add).
public struct RecoveryCommandStyle: Sendable, Equatable {
    /// Flags every recommended command needs, e.g. `--config /etc/lifeboat/lifeboat.yaml` (never a secret).
    public var commonFlags: [String]
    /// The unseal keys file is configured (`restore.unseal_keys_file`); else commands show `--unseal-keys-file KEYS`.
    public var unsealKeysConfigured: Bool
    /// The reset hook is configured (`restore.hooks`); else commands show `--reset-command '...'`.
    public var resetConfigured: Bool

    public init(commonFlags: [String] = [], unsealKeysConfigured: Bool = false, resetConfigured: Bool = false) {
        self.commonFlags = commonFlags
        self.unsealKeysConfigured = unsealKeysConfigured
        self.resetConfigured = resetConfigured
    }

    func command(_ words: [String], keys: Bool = false, reset: Bool = false, peers: Bool = false) -> String {
        var parts = ["lifeboat"] + words + commonFlags
        if keys && !unsealKeysConfigured { parts += ["--unseal-keys-file", "KEYS.json"] }
        if reset && !resetConfigured { parts += ["--reset-command", "'STOP-WIPE-START {node}'"] }
        if peers { parts += ["--peers-command", "'WRITE-PEERS-JSON {node}'", "--restart-command", "'RESTART {node}'"] }
        return parts.joined(separator: " ")
    }
}

/// The verdict of `lifeboat doctor`.
public struct ClusterDiagnosis: Sendable, Codable, Equatable {
    /// The classes of incident, each with its own exit code (README "Exit codes"; usable from monitoring).
    public enum Condition: String, Sendable, Codable, CaseIterable, Comparable {
        case healthy
        /// A node's raft index lags the leader's (catching up, or stuck) or is ahead of it (diverged).
        case staleNode = "stale-node"
        /// Initialized nodes are sealed (after a restart or a power cut); the cluster may still serve.
        case sealed
        /// Nodes are unreachable, empty (not joined) or removed, while the cluster keeps its quorum.
        case nodesDown = "nodes-down"
        /// A node holds another cluster's data (the join trap) or an unsealed node belongs to another cluster.
        case mixedClusters = "mixed-clusters"
        /// No leader and fewer than a majority of the voters can take part: Vault's lost-quorum procedure.
        case quorumLost = "quorum-lost"
        /// No node holds the cluster's data: only a full restore brings it back.
        case totalLoss = "total-loss"

        /// `lifeboat doctor`'s exit status for this condition.
        public var exitCode: Int32 {
            switch self {
            case .healthy: return 0
            case .sealed: return 10
            case .nodesDown: return 11
            case .staleNode: return 12
            case .quorumLost: return 13
            case .mixedClusters: return 14
            case .totalLoss: return 15
            }
        }

        var severity: Int {
            switch self {
            case .healthy: return 0
            case .staleNode: return 1
            case .sealed: return 2
            case .nodesDown: return 3
            case .mixedClusters: return 4
            case .quorumLost: return 5
            case .totalLoss: return 6
            }
        }

        public static func < (a: Condition, b: Condition) -> Bool { a.severity < b.severity }
    }

    /// One recovery step an operator can take.
    public struct Action: Sendable, Codable, Equatable {
        /// The exact command, when Lifeboat (or a shell) runs it; nil for something only the operator can do.
        public var command: String?
        /// What it does and when it applies.
        public var explanation: String
        /// Whether it deletes data anywhere (a node's raft directory, the whole cluster's data).
        public var destructive: Bool
    }

    public struct Finding: Sendable, Codable, Equatable {
        public var condition: Condition
        public var nodes: [String]
        /// What happened and what it means.
        public var meaning: String
        /// What a recovery could lose.
        public var dataAtRisk: String
        /// Least destructive first.
        public var actions: [Action]
    }

    public var condition: Condition
    public var findings: [Finding]
    public var nodes: [TargetNodeState]
    public var raft: RaftView?
    public var latestBackup: LatestBackupFacts?
    /// The highest raft committed index a node reported.
    public var clusterIndex: UInt64?
    /// Writes since the latest backup: raft indexes and time (nil when either side is unknown).
    public var indexesSinceBackup: UInt64?
    public var secondsSinceBackup: Double?
    /// The command to run first (the first command of the worst finding), nil when healthy.
    public var recommendedCommand: String?
    /// Whether a full restore is the recommendation, and why (or why not).
    public var restoreVerdict: String
    /// Things doctor could not see (e.g. the token cannot read the raft configuration).
    public var notes: [String]

    public var exitCode: Int32 { condition.exitCode }

    /// How far behind the leader's committed index a standby may be before it is reported as stale.
    public static let defaultStaleLag: UInt64 = 1000

    // MARK: Classification

    /// Classifies the cluster. Pure: the same inputs give the same diagnosis.
    public static func classify(nodes: [TargetNodeState], raft: RaftView?, latestBackup: LatestBackupFacts?, now: Date,
                                style: RecoveryCommandStyle = RecoveryCommandStyle(), staleLag: UInt64 = defaultStaleLag,
                                notes: [String] = []) -> ClusterDiagnosis {
        var findings: [Finding] = []
        let clusterIndex = nodes.compactMap { $0.committedIndex ?? $0.appliedIndex }.max()
        let risk = DataAtRiskText(backup: latestBackup, clusterIndex: clusterIndex, now: now)
        let voterCount = max(raft?.voterIDs.count ?? nodes.count, 1)
        let majority = voterCount / 2 + 1
        let actives = nodes.filter { $0.state == .active }
        let primaryID = actives.first?.clusterID
            ?? mostCommon(nodes.filter(\.isUnsealed).compactMap(\.clusterID))
        func isMember(_ node: TargetNodeState) -> Bool? {
            guard let raft else { return nil }
            return raft.servers.contains { $0.id == node.name }
        }

        // Nodes of another cluster: unsealed with another cluster id, or holding data the raft configuration does
        // not list (sealed and not a member: a join to this cluster would be a no-op).
        // A sealed node whose seal configuration (t of n) differs from the active cluster's was initialized on its own.
        let primarySeal = actives.first.flatMap { a in a.sealThreshold.map { ($0, a.sealShares ?? 0) } }
        let foreign = nodes.filter { n in
            if n.isUnsealed, let id = n.clusterID, let primaryID { return id != primaryID }
            if n.state == .sealed, isMember(n) == false, !actives.isEmpty { return true }
            if n.state == .sealed, let ps = primarySeal, let nt = n.sealThreshold, nt != ps.0 || (n.sealShares ?? ps.1) != ps.1 { return true }
            return false
        }
        let inCluster = nodes.filter { n in !foreign.contains { $0.name == n.name } }
        let live = inCluster.filter(\.isUnsealed)
        let sealed = inCluster.filter { $0.state == .sealed }
        let unreachable = inCluster.filter { $0.state == .unreachable }
        let empty = inCluster.filter { $0.state == .uninitialized }
        let removed = inCluster.filter { $0.state == .removed }
        let initialized = nodes.filter { ![.unreachable, .uninitialized].contains($0.state) }

        // Total loss: every node answered and none holds data.
        if !nodes.isEmpty && nodes.allSatisfy({ $0.state == .uninitialized }) {
            findings.append(Finding(
                condition: .totalLoss, nodes: nodes.map(\.name),
                meaning: "every node answered uninitialized: no node holds the cluster's data any more",
                dataAtRisk: risk.sinceBackup(prefix: "lost already, unless another copy of the raft data exists: "),
                actions: [
                    Action(command: nil, explanation: "if any node's raft directory survives somewhere (a disk, a volume snapshot), bring that node back first: it holds newer data than any backup", destructive: false),
                    Action(command: style.command(["restore", "latest", "--force", "--plan"], keys: true, reset: true),
                           explanation: "a full restore of the latest backup; run with --plan first, then without it", destructive: true),
                ]))
            return finish(findings, nodes: nodes, raft: raft, backup: latestBackup, clusterIndex: clusterIndex, risk: risk, notes: notes,
                          verdict: "restore --force is the only way back: no node holds the cluster's data")
        }
        if initialized.isEmpty {
            // Nobody holds data that we can see, but some nodes did not answer: they may.
            let silent = nodes.filter { $0.state == .unreachable }.map(\.name)
            findings.append(Finding(
                condition: .nodesDown, nodes: silent,
                meaning: "no node answered with data: \(silent.joined(separator: ", ")) did not answer" + (empty.isEmpty ? "" : "; \(empty.map(\.name).joined(separator: ", ")) answered uninitialized (empty)"),
                dataAtRisk: "none yet: the nodes that did not answer may still hold every write",
                actions: [
                    Action(command: nil, explanation: "start the nodes that did not answer (they come back sealed), then run `lifeboat doctor` again", destructive: false),
                    Action(command: style.command(["recover", "unseal"], keys: true), explanation: "once they answer sealed: unseal them", destructive: false),
                    Action(command: style.command(["restore", "latest", "--force", "--plan"], keys: true, reset: true),
                           explanation: "only if every node's data turns out to be lost", destructive: true),
                ]))
            return finish(findings, nodes: nodes, raft: raft, backup: latestBackup, clusterIndex: clusterIndex, risk: risk, notes: notes,
                          verdict: "restore --force is not recommended: nodes that did not answer may still hold the cluster's data")
        }

        // Quorum: a leader exists, or enough voters could take part.
        let hasLeader = !actives.isEmpty
        if !hasLeader {
            let couldVote = live.count + sealed.count
            if live.count >= majority {
                findings.append(Finding(
                    condition: .quorumLost, nodes: live.map(\.name),
                    meaning: "no active node, but \(live.count) of \(voterCount) voters are unsealed: an election should be under way",
                    dataAtRisk: "none",
                    actions: [Action(command: style.command(["doctor"]), explanation: "wait a few seconds and look again; if it stays without a leader, check the nodes' logs (clocks, network between the cluster ports)", destructive: false)]))
            } else if couldVote >= majority {
                // Sealed nodes, once unsealed, restore the quorum: nothing destructive is needed.
                findings.append(Finding(
                    condition: .sealed, nodes: sealed.map(\.name),
                    meaning: "no active node: \(sealed.count) node(s) are sealed (\(sealed.map(\.name).joined(separator: ", "))), and unsealing them brings back a quorum of \(majority) of \(voterCount) voters" + thresholdText(sealed),
                    dataAtRisk: "none: every node keeps its data while sealed",
                    actions: [Action(command: style.command(["recover", "unseal"], keys: true), explanation: "submit the unseal keys to every sealed node (checked against the first node before the others)", destructive: false)]))
            } else {
                let survivors = (live + sealed).sorted { ($0.committedIndex ?? 0) > ($1.committedIndex ?? 0) }
                let best = survivors.first
                let lost = inCluster.filter { n in !survivors.contains { $0.name == n.name } }.map(\.name)
                var actions: [Action] = []
                if !unreachable.isEmpty {
                    actions.append(Action(command: nil, explanation: "if \(unreachable.map(\.name).joined(separator: ", ")) can start with their data (machine down, disk intact), start them and run `lifeboat recover unseal`: the quorum comes back by itself", destructive: false))
                }
                if !sealed.isEmpty {
                    actions.append(Action(command: style.command(["recover", "unseal"], keys: true), explanation: "unseal the sealed survivors first (needed anyway)", destructive: false))
                }
                actions.append(Action(
                    command: style.command(["recover", "quorum", "--plan"], keys: true, reset: true, peers: true),
                    explanation: "Vault's lost-quorum procedure: peers.json on the survivor(s) with the highest committed index" + (best.map { " (\($0.name), index \($0.committedIndex.map(String.init) ?? "unknown while sealed"))" } ?? "") + ", restart and unseal them, then wipe and rejoin the others; run with --plan first",
                    destructive: true))
                findings.append(Finding(
                    condition: .quorumLost, nodes: lost,
                    meaning: "no active node and only \(survivors.count) of \(voterCount) voters can take part (a quorum needs \(majority)): the cluster cannot elect a leader; lost: \(lost.joined(separator: ", "))",
                    dataAtRisk: "nothing the survivors hold: a write is committed only once a majority holds it, and the survivor with the highest committed index is kept; the lost nodes' raft data is wiped when they rejoin",
                    actions: actions))
            }
        }

        // Nodes that are down, empty, or removed while a cluster exists.
        if hasLeader {
            for node in unreachable {
                findings.append(Finding(
                    condition: .nodesDown, nodes: [node.name],
                    meaning: "\(node.name) does not answer (\(node.detail ?? "unreachable")); the cluster keeps its quorum with \(live.count) of \(voterCount) voters",
                    dataAtRisk: "none of the cluster's data: the other nodes hold every committed write; \(node.name)'s own copy is wiped",
                    actions: [
                        Action(command: nil, explanation: "if \(node.name) only stopped (disk intact), start it: it catches up by itself and comes back sealed (then `lifeboat recover unseal`)", destructive: false),
                        Action(command: style.command(["recover", "node", node.name, "--plan"], keys: true, reset: true),
                               explanation: "if its disk or raft data is lost or corrupt (it refuses to start): reset it, join it to the active node, unseal it, wait until it is a healthy voter, drop its old raft id", destructive: true),
                    ]))
            }
            for node in empty {
                findings.append(Finding(
                    condition: .nodesDown, nodes: [node.name],
                    meaning: "\(node.name) answers uninitialized: it is empty and not joined to the cluster",
                    dataAtRisk: "none: it holds nothing",
                    actions: [Action(command: style.command(["recover", "node", node.name], keys: true, reset: true),
                                     explanation: "join it to the active node and unseal it (the reset is harmless on an empty node)", destructive: false)]))
            }
        }
        for node in removed {
            findings.append(Finding(
                condition: .nodesDown, nodes: [node.name],
                meaning: "\(node.name) was removed from the raft configuration but still holds old data (health 530): it cannot unseal or join until it is wiped",
                dataAtRisk: "none of the cluster's data: \(node.name) is no longer a member",
                actions: [Action(command: style.command(["recover", "node", node.name, "--plan"], keys: true, reset: true),
                                 explanation: "reset it and join it again", destructive: true)]))
        }
        if !foreign.isEmpty {
            let names = foreign.map(\.name)
            findings.append(Finding(
                condition: .mixedClusters, nodes: names,
                meaning: "\(names.joined(separator: ", ")) hold(s) another cluster's data (initialized on their own, or left over from an old configuration): a raft join answers joined:true and does nothing (the join trap)",
                dataAtRisk: "that other cluster's data on \(names.joined(separator: ", ")) is wiped by the recovery: make sure nobody needs it",
                actions: foreign.map { node in
                    let flags = node.isUnsealed ? ["--discard-foreign-data"] : []
                    return Action(command: style.command(["recover", "node", node.name] + flags + ["--plan"], keys: true, reset: true),
                                  explanation: "wipe \(node.name) and join it to this cluster" + (node.isUnsealed ? " (--discard-foreign-data: it is unsealed in its own cluster, whose data is lost)" : ""), destructive: true)
                }))
        }
        // Sealed nodes while a leader exists.
        if hasLeader && !sealed.isEmpty {
            findings.append(Finding(
                condition: .sealed, nodes: sealed.map(\.name),
                meaning: "\(sealed.map(\.name).joined(separator: ", ")) \(sealed.count == 1 ? "is" : "are") sealed (restarted, or sealed by an operator); the cluster serves from the others" + thresholdText(sealed),
                dataAtRisk: "none: a sealed node keeps its data and catches up once unsealed",
                actions: [Action(command: style.command(["recover", "unseal"], keys: true), explanation: "submit the unseal keys to every sealed node", destructive: false)]))
        }
        // Stale standbys.
        if let leaderIndex = actives.first?.committedIndex {
            for node in live where node.state == .standby {
                guard let applied = node.appliedIndex else { continue }
                let behind = leaderIndex > applied && leaderIndex - applied > staleLag
                // A follower can never be ahead of its leader's commit index: ahead means diverged raft data.
                let ahead = applied > leaderIndex && applied - leaderIndex > staleLag
                guard behind || ahead else { continue }
                findings.append(Finding(
                    condition: .staleNode, nodes: [node.name],
                    meaning: behind ? "\(node.name) has applied raft index \(applied), \(leaderIndex - applied) behind the leader's \(leaderIndex): it is catching up, or stuck"
                                    : "\(node.name) reports raft index \(applied), AHEAD of the leader's committed \(leaderIndex): its raft data has diverged",
                    dataAtRisk: "none of the cluster's data: the leader holds it",
                    actions: [
                        Action(command: style.command(["doctor"]), explanation: "look again in a minute: a node catching up closes the gap", destructive: false),
                        Action(command: style.command(["recover", "node", node.name, "--rebuild", "--plan"], keys: true, reset: true),
                               explanation: "if the gap does not close (diverged or damaged raft data): rebuild \(node.name) from the leader", destructive: true),
                    ]))
            }
        }
        var allNotes = notes
        if let raft, raft.autopilotHealthy == false, findings.isEmpty {
            allNotes.append("autopilot reports the cluster unhealthy although every node answered as expected: look at `vault operator raft autopilot state`")
        }
        let verdict = "restore --force is not needed: " + (hasLeader ? "the cluster has an active node holding its data" : "nodes still hold the cluster's data (\(initialized.map(\.name).joined(separator: ", ")))")
        return finish(findings, nodes: nodes, raft: raft, backup: latestBackup, clusterIndex: clusterIndex, risk: risk, notes: allNotes, verdict: verdict)
    }

    private static func finish(_ findings: [Finding], nodes: [TargetNodeState], raft: RaftView?, backup: LatestBackupFacts?,
                               clusterIndex: UInt64?, risk: DataAtRiskText, notes: [String], verdict: String) -> ClusterDiagnosis {
        let ordered = findings.enumerated().sorted { a, b in
            a.element.condition != b.element.condition ? a.element.condition > b.element.condition : a.offset < b.offset
        }.map(\.element)
        let condition = ordered.first?.condition ?? .healthy
        return ClusterDiagnosis(condition: condition, findings: ordered, nodes: nodes, raft: raft, latestBackup: backup,
                                clusterIndex: clusterIndex, indexesSinceBackup: risk.indexes, secondsSinceBackup: risk.seconds,
                                recommendedCommand: ordered.first?.actions.compactMap(\.command).first,
                                restoreVerdict: verdict, notes: notes)
    }

    private static func thresholdText(_ sealed: [TargetNodeState]) -> String {
        guard let t = sealed.compactMap(\.sealThreshold).max() else { return "" }
        let n = sealed.compactMap(\.sealShares).max()
        return "; unsealing needs \(t) key\(t == 1 ? "" : "s")" + (n.map { " of \($0)" } ?? "")
    }

    private static func mostCommon(_ values: [String]) -> String? {
        var counts: [String: Int] = [:]
        for v in values { counts[v, default: 0] += 1 }
        return counts.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }?.key
    }

    // MARK: Output

    /// The report for a terminal.
    public func render() -> String {
        var lines: [String] = []
        lines.append("Cluster: \(condition.rawValue) (exit \(exitCode))")
        lines.append("")
        lines.append("Nodes:")
        for node in nodes {
            var line = "  " + node.line
            if node.state == .sealed, let t = node.sealThreshold {
                line += ", unseal progress \(node.unsealProgress ?? 0) of \(t)"
            }
            if let raft, !raft.servers.isEmpty {
                if let s = raft.servers.first(where: { $0.id == node.name }) {
                    line += s.voter ? ", raft voter" : ", raft non-voter"
                } else if node.state != .unreachable {
                    line += ", not in the raft configuration"
                }
            }
            lines.append(line)
        }
        if let raft {
            lines.append("Raft configuration: " + raft.servers.map { "\($0.id)\($0.leader ? " (leader)" : "")\($0.voter ? "" : " (non-voter)")" }.joined(separator: ", ")
                         + (raft.autopilotHealthy.map { ", autopilot \($0 ? "healthy" : "UNHEALTHY")" } ?? "")
                         + (raft.failureTolerance.map { ", failure tolerance \($0)" } ?? ""))
        }
        if let backup = latestBackup {
            var text = "Latest backup: \(backup.id)"
            if let index = backup.index { text += " at raft index \(index)" }
            if let indexes = indexesSinceBackup { text += "; \(indexes) raft index(es) written since" }
            if let seconds = secondsSinceBackup { text += ", \(DurationText.format(seconds: seconds)) ago" }
            lines.append(text)
        } else {
            lines.append("Latest backup: none found (data at risk cannot be measured)")
        }
        for note in notes { lines.append("Note: \(note)") }
        if findings.isEmpty {
            lines.append("")
            lines.append("Healthy: every node is an unsealed member and the cluster has a leader.")
        }
        for (i, finding) in findings.enumerated() {
            lines.append("")
            lines.append("\(i + 1). \(finding.condition.rawValue): \(finding.meaning)")
            lines.append("   data at risk: \(finding.dataAtRisk)")
            for (j, action) in finding.actions.enumerated() {
                let tag = action.destructive ? " [destructive]" : ""
                if let command = action.command {
                    lines.append("   \(j + 1)) \(command)\(tag)")
                    lines.append("      \(action.explanation)")
                } else {
                    lines.append("   \(j + 1)) \(action.explanation)\(tag)")
                }
            }
        }
        lines.append("")
        lines.append(restoreVerdict)
        if let recommendedCommand {
            lines.append("Next: \(recommendedCommand)")
        }
        return lines.joined(separator: "\n")
    }

    /// The diagnosis as JSON (sorted keys, ISO 8601 dates).
    public func json() throws -> [UInt8] { try OutputJSON.encode(self) }
}

/// The "writes since the latest backup" numbers and sentence.
struct DataAtRiskText {
    var indexes: UInt64?
    var seconds: Double?
    var backupID: String?

    init(backup: LatestBackupFacts?, clusterIndex: UInt64?, now: Date) {
        backupID = backup?.id
        if let b = backup?.index, let c = clusterIndex { indexes = c > b ? c - b : 0 }
        if let created = backup?.createdAt { seconds = max(0, now.timeIntervalSince(created)) }
    }

    func sinceBackup(prefix: String) -> String {
        guard let backupID else { return prefix + "everything (no backup found)" }
        var text = prefix + "every write since backup \(backupID)"
        var parts: [String] = []
        if let indexes { parts.append("\(indexes) raft index(es)") }
        if let seconds { parts.append("taken \(DurationText.format(seconds: seconds)) ago") }
        if !parts.isEmpty { text += " (" + parts.joined(separator: ", ") + ")" }
        return text
    }
}
