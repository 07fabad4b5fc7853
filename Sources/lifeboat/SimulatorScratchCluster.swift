// `drill.simulator: true`: the drill's scratch cluster is an in-process vault-sim cluster on loopback, created for
// the drill, wiped node by node through the simulator and deleted afterwards. It proves that a backup decrypts,
// verifies and restores end to end on a machine without a spare Vault cluster.

import Foundation
import LifeboatCore
import Synchronization
import VaultSim

final class SimulatorScratchCluster: ScratchCluster {
    let directory: String
    let nodeCount: Int
    private let simulator = Mutex<VaultSimulator?>(nil)

    init(nodes: Int = 3) {
        directory = NSTemporaryDirectory() + "lifeboat-drill-sim-" + UUID().uuidString
        nodeCount = nodes
    }

    var description: String { "in-process vault-sim (\(nodeCount) nodes)" }

    func create() async throws -> ScratchClusterInstance {
        var configuration = VaultSimulator.Configuration(dataDirectory: directory)
        configuration.nodeCount = nodeCount
        configuration.controlPort = nil
        let sim = try await VaultSimulator.start(configuration)
        simulator.withLock { $0 = sim }
        let hook = ClosureResetHook(description: "vault-sim wipe (in-process)") { node in sim.wipeNode(node.name) }
        return ScratchClusterInstance(nodes: sim.nodes.map { RecoveryNode(name: $0.id, apiAddress: $0.apiAddress) }, resetHook: hook)
    }

    func destroy() async throws {
        let sim = simulator.withLock { sim -> VaultSimulator? in defer { sim = nil }; return sim }
        await sim?.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
