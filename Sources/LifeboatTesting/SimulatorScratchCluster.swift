// `drill.simulator: true`: the drill's scratch cluster is an in-process vault-sim cluster on loopback, created for
// the drill, wiped node by node through the simulator and deleted afterwards. It proves that a backup decrypts,
// verifies and restores end to end on a machine without a spare Vault cluster.

import Foundation
import LifeboatRecovery
import LifeboatArchive
import VaultSim

public final class SimulatorScratchCluster: ScratchCluster {
    public let directory: String
    public let nodeCount: Int
    /// Applied to the simulator's configuration before it starts (tests shorten elections and restores).
    private let tune: @Sendable (inout VaultSimulator.Configuration) -> Void
    private let simulator = PThreadLocked<VaultSimulator?>(nil)
    private let destroyedFlag = PThreadLocked(false)
    /// Whether `destroy()` ran (tests check that a drill cleans up).
    public var destroyed: Bool { destroyedFlag.withLock { $0 } }

    public init(nodes: Int = 3, tune: @escaping @Sendable (inout VaultSimulator.Configuration) -> Void = { _ in }) {
        directory = NSTemporaryDirectory() + "lifeboat-drill-sim-" + UUID().uuidString
        nodeCount = nodes
        self.tune = tune
    }

    public var description: String { "in-process vault-sim (\(nodeCount) nodes)" }

    public func create() async throws -> ScratchClusterInstance {
        var configuration = VaultSimulator.Configuration(dataDirectory: directory)
        configuration.nodeCount = nodeCount
        configuration.controlPort = nil
        tune(&configuration)
        let sim = try await VaultSimulator.start(configuration)
        simulator.withLock { $0 = sim }
        let hook = ClosureResetHook(description: "vault-sim wipe (in-process)") { node in sim.wipeNode(node.name) }
        let quorum = ClosureQuorumHooks(description: "vault-sim raft/peers.json and restart (in-process)", writePeers: { node, json in
            guard let raft = sim.raftDirectory(node.name),
                  FileManager.default.createFile(atPath: raft + "/peers.json", contents: Data(json)) else {
                throw RecoveryError(.hookFailed, "cannot write peers.json for \(node.name)", node: node.name)
            }
        }, restart: { node in
            sim.stopNode(node.name)
            try sim.startNode(node.name)
        })
        return ScratchClusterInstance(nodes: sim.nodes.map { RecoveryNode(name: $0.id, apiAddress: $0.apiAddress) }, resetHook: hook,
                                      quorumHooks: quorum)
    }

    public func destroy() async throws {
        let sim = simulator.withLock { sim -> VaultSimulator? in defer { sim = nil }; return sim }
        await sim?.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
        destroyedFlag.withLock { $0 = true }
    }
}
