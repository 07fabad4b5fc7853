// ClusterDiagnosis.classify as a table: node states in, condition, exit code and the first recommended command out;
// a full restore only when no node holds data; data at risk measured against the latest backup.

import Foundation
import Testing
@testable import LifeboatRecovery

@Suite struct ClusterDiagnosisTests {
    static func node(_ name: String, _ state: TargetNodeState.State, cluster: String? = "c1", index: UInt64? = 100,
                     t: Int? = 3, n: Int? = 5) -> TargetNodeState {
        var s = TargetNodeState(name: name, address: "http://10.0.0.\(name.last ?? "0"):8200", state: state)
        if state == .active || state == .standby {
            s.clusterID = cluster
            s.committedIndex = index
            s.appliedIndex = index
        }
        if state != .uninitialized && state != .unreachable {
            s.sealThreshold = t
            s.sealShares = n
        }
        return s
    }

    static let members = RaftView(servers: ["v1", "v2", "v3"].map { RaftView.Server(id: $0, address: "\($0):8201", voter: true, leader: $0 == "v1") },
                                  autopilotHealthy: true, failureTolerance: 1)

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var nodes: [TargetNodeState]
        var raft: RaftView?
        var condition: ClusterDiagnosis.Condition
        var exit: Int32
        var command: String?
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "healthy", nodes: [node("v1", .active), node("v2", .standby), node("v3", .standby)], raft: members,
             condition: .healthy, exit: 0, command: nil),
        Case(label: "one node sealed, leader present", nodes: [node("v1", .active), node("v2", .standby), node("v3", .sealed)], raft: members,
             condition: .sealed, exit: 10, command: "lifeboat recover unseal --unseal-keys-file KEYS.json"),
        Case(label: "power cut: every node sealed", nodes: [node("v1", .sealed), node("v2", .sealed), node("v3", .sealed)], raft: nil,
             condition: .sealed, exit: 10, command: "lifeboat recover unseal --unseal-keys-file KEYS.json"),
        Case(label: "one node down", nodes: [node("v1", .active), node("v2", .standby), node("v3", .unreachable)], raft: members,
             condition: .nodesDown, exit: 11, command: "lifeboat recover node v3 --plan --unseal-keys-file KEYS.json --reset-command 'STOP-WIPE-START {node}'"),
        Case(label: "one node empty (not joined)", nodes: [node("v1", .active), node("v2", .standby), node("v3", .uninitialized)], raft: members,
             condition: .nodesDown, exit: 11, command: "lifeboat recover node v3 --unseal-keys-file KEYS.json --reset-command 'STOP-WIPE-START {node}'"),
        Case(label: "removed node", nodes: [node("v1", .active), node("v2", .standby), node("v3", .removed)], raft: members,
             condition: .nodesDown, exit: 11, command: "lifeboat recover node v3 --plan --unseal-keys-file KEYS.json --reset-command 'STOP-WIPE-START {node}'"),
        Case(label: "stale standby", nodes: [node("v1", .active, index: 50_000), node("v2", .standby, index: 50_000), node("v3", .standby, index: 10)],
             raft: members, condition: .staleNode, exit: 12, command: "lifeboat doctor"),
        Case(label: "diverged standby (ahead of the leader)", nodes: [node("v1", .active, index: 500), node("v2", .standby, index: 500), node("v3", .standby, index: 90_000)],
             raft: members, condition: .staleNode, exit: 12, command: "lifeboat doctor"),
        Case(label: "quorum lost: two of three gone", nodes: [node("v1", .standby, index: 900), node("v2", .unreachable), node("v3", .unreachable)],
             raft: nil, condition: .quorumLost, exit: 13,
             command: "lifeboat recover quorum --plan --unseal-keys-file KEYS.json --reset-command 'STOP-WIPE-START {node}' --peers-command 'WRITE-PEERS-JSON {node}' --restart-command 'RESTART {node}'"),
        Case(label: "no leader but a quorum unsealed: an election", nodes: [node("v1", .standby), node("v2", .standby), node("v3", .unreachable)],
             raft: nil, condition: .quorumLost, exit: 13, command: "lifeboat doctor"),
        Case(label: "one sealed, one gone, one standby: unsealing restores quorum", nodes: [node("v1", .standby), node("v2", .sealed), node("v3", .unreachable)],
             raft: nil, condition: .sealed, exit: 10, command: "lifeboat recover unseal --unseal-keys-file KEYS.json"),
        Case(label: "a node unsealed in another cluster", nodes: [node("v1", .active), node("v2", .standby), node("v3", .active, cluster: "c2")], raft: members,
             condition: .mixedClusters, exit: 14,
             command: "lifeboat recover node v3 --discard-foreign-data --plan --unseal-keys-file KEYS.json --reset-command 'STOP-WIPE-START {node}'"),
        Case(label: "a sealed node with another seal configuration", nodes: [node("v1", .active), node("v2", .standby), node("v3", .sealed, t: 1, n: 1)], raft: members,
             condition: .mixedClusters, exit: 14,
             command: "lifeboat recover node v3 --plan --unseal-keys-file KEYS.json --reset-command 'STOP-WIPE-START {node}'"),
        Case(label: "total loss", nodes: [node("v1", .uninitialized), node("v2", .uninitialized), node("v3", .uninitialized)], raft: nil,
             condition: .totalLoss, exit: 15,
             command: "lifeboat restore latest --force --plan --unseal-keys-file KEYS.json --reset-command 'STOP-WIPE-START {node}'"),
        Case(label: "nothing answers: never a restore first", nodes: [node("v1", .unreachable), node("v2", .unreachable), node("v3", .uninitialized)], raft: nil,
             condition: .nodesDown, exit: 11, command: "lifeboat recover unseal --unseal-keys-file KEYS.json"),
    ]

    @Test(arguments: cases)
    func classification(_ c: Case) {
        let d = ClusterDiagnosis.classify(nodes: c.nodes, raft: c.raft, latestBackup: nil, now: Date())
        #expect(d.condition == c.condition, "\(d.render())")
        #expect(d.exitCode == c.exit)
        #expect(d.recommendedCommand == c.command, "\(d.render())")
        // Never restore --force while a node holds data.
        let holdsData = c.nodes.contains { ![.uninitialized, .unreachable].contains($0.state) }
        let mentionsRestore = d.findings.flatMap(\.actions).contains { $0.command?.contains("restore") == true && $0.command?.contains("--force") == true }
        if holdsData {
            #expect(!mentionsRestore, "restore --force recommended although nodes hold data:\n\(d.render())")
        }
        if c.condition != .totalLoss { #expect(d.recommendedCommand?.contains("restore") != true) }
        if c.condition == .totalLoss { #expect(d.restoreVerdict.contains("only way back")) }
    }

    @Test func everyConditionHasItsOwnExitCode() {
        let codes = ClusterDiagnosis.Condition.allCases.map(\.exitCode)
        #expect(Set(codes).count == codes.count)
        #expect(ClusterDiagnosis.Condition.healthy.exitCode == 0)
        // None collides with Lifeboat's other documented codes.
        #expect(Set(codes).isDisjoint(with: [1, 3, 64, 65, 69, 74, 75, 78, 129, 130, 143]))
    }

    @Test func dataAtRiskIsMeasuredAgainstTheLatestBackup() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let backup = LatestBackupFacts(id: "20260101T000000Z-abcd", createdAt: now.addingTimeInterval(-3600), index: 400)
        let d = ClusterDiagnosis.classify(nodes: [Self.node("v1", .uninitialized), Self.node("v2", .uninitialized)], raft: nil,
                                          latestBackup: backup, now: now)
        #expect(d.secondsSinceBackup == 3600)
        #expect(d.findings.first?.dataAtRisk.contains("20260101T000000Z-abcd") == true)
        let live = ClusterDiagnosis.classify(nodes: [Self.node("v1", .active, index: 1000), Self.node("v2", .unreachable)], raft: nil,
                                             latestBackup: backup, now: now)
        #expect(live.indexesSinceBackup == 600)
        #expect(live.render().contains("600 raft index(es) written since"))
    }

    @Test func commandsCarryTheInvocationsFlagsAndNoPlaceholdersWhenConfigured() {
        let style = RecoveryCommandStyle(commonFlags: ["--config", "/etc/lifeboat.yaml"], unsealKeysConfigured: true, resetConfigured: true)
        let d = ClusterDiagnosis.classify(nodes: [Self.node("v1", .active), Self.node("v2", .unreachable), Self.node("v3", .standby)],
                                          raft: Self.members, latestBackup: nil, now: Date(), style: style)
        #expect(d.recommendedCommand == "lifeboat recover node v2 --plan --config /etc/lifeboat.yaml")
    }
}
