// ClusterDoctor: the read-only look behind `lifeboat doctor`. Asks every configured node (sys/health,
// sys/seal-status, sys/leader: unauthenticated) and, through the active node with the token where it allows,
// the raft configuration and autopilot state; then hands what it saw to ClusterDiagnosis. It never writes.

import Foundation
import LifeboatBase
import LifeboatVault

/// Observes a cluster and diagnoses it.
public struct ClusterDoctor: Sendable {
    public var vault: any RecoveryVaultAPI
    public var nodes: [RecoveryNode]
    /// The token for the raft configuration and autopilot (nil: those are skipped and the diagnosis says so).
    public var token: (@Sendable () async throws -> VaultSecret?)?
    public var style: RecoveryCommandStyle
    public var staleLag: UInt64 = ClusterDiagnosis.defaultStaleLag

    public init(vault: any RecoveryVaultAPI, nodes: [RecoveryNode], token: (@Sendable () async throws -> VaultSecret?)?,
                style: RecoveryCommandStyle = RecoveryCommandStyle()) {
        self.vault = vault
        self.nodes = nodes
        self.token = token
        self.style = style
    }

    /// Looks at the cluster now and diagnoses it against `latestBackup`.
    public func diagnose(latestBackup: LatestBackupFacts?, now: Date) async -> ClusterDiagnosis {
        let observed = await TargetNodeState.observe(nodes, vault: vault)
        var notes: [String] = []
        let raft = await raftView(observed, notes: &notes)
        return ClusterDiagnosis.classify(nodes: observed, raft: raft, latestBackup: latestBackup, now: now, style: style,
                                         staleLag: staleLag, notes: notes)
    }

    /// The active node's raft configuration and autopilot state, when the token may read them.
    func raftView(_ observed: [TargetNodeState], notes: inout [String]) async -> RaftView? {
        guard let active = observed.first(where: { $0.state == .active }) else { return nil }
        let secret: VaultSecret?
        do {
            secret = try await token?()
        } catch {
            notes.append("no token for the raft configuration (\(error)); membership was judged from the node list alone")
            return nil
        }
        guard let secret else {
            notes.append("no token: the raft configuration and autopilot state were not read; membership was judged from the node list alone")
            return nil
        }
        let config: VaultRaftConfiguration
        do {
            config = try await vault.raftConfiguration(at: active.address, token: secret)
        } catch {
            notes.append("the raft configuration could not be read from \(active.name) (\(Self.short(error))): the token needs read on sys/storage/raft/configuration (policies/lifeboat-restore.hcl)")
            return nil
        }
        var view = RaftView(servers: config.servers.map { RaftView.Server(id: $0.nodeId, address: $0.address, voter: $0.voter, leader: $0.leader) })
        do {
            let autopilot = try await vault.autopilotState(at: active.address, token: secret)
            view.autopilotHealthy = autopilot.healthy
            view.failureTolerance = autopilot.failureTolerance
        } catch {
            notes.append("autopilot state not read from \(active.name) (\(Self.short(error)))")
        }
        return view
    }

    static func short(_ error: any Error) -> String {
        if let v = error as? VaultError { return v.message }
        return String(describing: error)
    }
}
