// `--only-if-leader` (backup and agent, one code path): with one scheduled job per Vault node, only the job on the
// active node backs up. Skipping is right only on evidence that another node is taking the backup: the local node
// answers as an initialized, unsealed standby AND the cluster has an active node (the leader it names answers
// sys/health as active, or the standby's heartbeat to it is healthy). A sealed, uninitialized or unreachable local
// node, or a standby without a working leader, is a failure: otherwise every node's job skips and nothing alerts
// while the cluster is down.

import Foundation
import LifeboatBase
import LifeboatVault

/// What `--only-if-leader` decided.
public enum OnlyIfLeaderVerdict: Sendable, Equatable {
    /// The local node is the active node: back up.
    case run
    /// The local node is an unsealed standby of an active cluster whose leader is `leaderAddress`: skip.
    case skip(leaderAddress: String)
}

/// The local node cannot be the one that backs up, and no evidence says another node does.
public struct LocalNodeNotReady: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public var message: String
    public var description: String { message }
    public var exitStatus: ExitStatus { .unavailable }
}

extension LeaderLocator {
    /// Decides `--only-if-leader` for the local node (the first configured address), on evidence.
    /// - Throws: ``LocalNodeNotReady`` (exit 69) when the node is sealed, uninitialized or unreachable, or is a
    ///   standby of a cluster without a working active node.
    public func onlyIfLeaderVerdict() async throws -> OnlyIfLeaderVerdict {
        let local = client.configuration.localAddress
        let answer: (status: Int, health: VaultHealth)
        do {
            answer = try await client.health(at: local)
        } catch let e as VaultError {
            throw LocalNodeNotReady(message: "--only-if-leader: the local Vault node \(local) does not answer (\(e.message)); no backup was taken. A node that cannot be seen is not a standby: check that Vault runs there")
        }
        let (status, health) = answer
        if status == 501 || !health.initialized {
            throw LocalNodeNotReady(message: "--only-if-leader: the local Vault node \(local) is uninitialized; no backup was taken. Initialize or restore the cluster, or point the first Vault address at a node of the running cluster")
        }
        if health.sealed {
            throw LocalNodeNotReady(message: "--only-if-leader: the local Vault node \(local) is sealed; no backup was taken. Unseal it (vault operator unseal); while it is sealed this job cannot tell whether any node backs up")
        }
        if status == 200 { return .run }
        // A standby (429, or 473 performance standby). Which leader does it follow, and is it active?
        let leader: String
        do { leader = try await client.leaderStatus(at: local).leaderAddress } catch let e as VaultError {
            throw LocalNodeNotReady(message: "--only-if-leader: the local Vault node \(local) is a standby but sys/leader failed (\(e.message)); no backup was taken")
        }
        guard !leader.isEmpty else {
            throw LocalNodeNotReady(message: "--only-if-leader: the local Vault node \(local) is a standby that knows no active node (no leader elected, or quorum lost); no node can take a backup: check `vault operator raft list-peers`")
        }
        if health.haConnectionHealthy == false {
            throw LocalNodeNotReady(message: "--only-if-leader: the local Vault node \(local) is a standby that cannot reach its active node \(leader); no backup was taken: check the cluster")
        }
        if let leaderAnswer = try? await client.health(at: leader), leaderAnswer.status == 200 {
            return .skip(leaderAddress: leader)
        }
        if health.haConnectionHealthy == true {
            // The leader is not reachable from here under that name, but the standby's heartbeat to it is healthy.
            return .skip(leaderAddress: leader)
        }
        throw LocalNodeNotReady(message: "--only-if-leader: the local Vault node \(local) is a standby of \(leader), which does not answer as the active node from here; no backup was taken: check the leader")
    }
}
