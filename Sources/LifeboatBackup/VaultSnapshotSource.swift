// The active node's GET sys/storage/raft/snapshot as a snapshot source, with the facts the manifest records.

import Foundation
import NIOCore
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

extension VaultError: RetryableSnapshotError {
    public var isRetryable: Bool { suggestsLeaderChange }
}

/// Takes snapshots from the current leader of the configured cluster.
public struct VaultSnapshotSource: SnapshotSource {
    public let client: VaultClient

    public init(client: VaultClient) {
        self.client = client
    }

    public func streamSnapshot(_ consume: (ByteBuffer) async throws -> Void) async throws -> SnapshotOrigin {
        let leader = try await LeaderLocator(client: client).locate()
        var origin = SnapshotOrigin(leaderAddress: leader.reportedAddress)
        // Cluster name, id and version come from the leader's sys/health; the node id from raft configuration.
        // Both are best effort: a backup does not fail because the token may not read the configuration.
        if let (_, health) = try? await client.health(at: leader.address) {
            origin.clusterName = health.clusterName
            origin.clusterID = health.clusterId
            origin.vaultVersion = health.version
        }
        if let configuration = try? await client.raftConfiguration(at: leader.address) {
            origin.leaderNodeID = configuration.servers.first(where: \.leader)?.nodeId
        }
        let download = try await client.streamSnapshot(from: leader.address) { chunk in
            try await consume(chunk)
        }
        origin.leaderAddress = download.address
        return origin
    }
}

extension VaultError: ExitCodeProviding {
    /// Configuration mistakes (no address, bad TLS files, missing credentials) exit 78; everything else 1.
    public var exitStatus: ExitStatus { kind == .configuration ? .configuration : .failure }
}
