// A lost quorum on a cluster that auto-unseals through another cluster's transit engine, with real processes:
// doctor classifies it, `lifeboat recover quorum` runs without any unseal keys (the survivor unseals itself after
// its restart, the rejoined nodes after their join), and the data written after the backup survives.

import Foundation
import Testing

@Suite(.serialized) struct AutoUnsealIncidentEndToEndTests {
    @Test func lostQuorumOnAnAutoUnsealCluster() async throws {
        let scene = try await AutoUnsealRestoreEndToEndTests.Scene.start()
        defer { scene.stop() }
        try await scene.writeSecret("lifeboat/marker", value: "after the backup")
        let prod = scene.prod
        let survivor = try await #require(try prod.activeNode())
        let lost = prod.nodes.map(\.id).filter { $0 != survivor }
        for n in lost { try await prod.control(["node", "corrupt", n]) }
        for _ in 0..<100 {
            if try await prod.activeNode() == nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let nodeFlags = prod.nodes.flatMap { ["--node", "\($0.id)=\($0.api_addr)"] }
        let doctor = try await lifeboat(["doctor", "--repo", scene.workspace.repository] + nodeFlags, environment: scene.environment)
        #expect(doctor.status == 13, "\(doctor.stdout)\(doctor.stderr)")

        let vaultSim = productsDirectory.appendingPathComponent("vault-sim").path
        let control = "VAULT_SIM_CONTROL=\(prod.ready.control_addr) \(vaultSim)"
        let raftDir = prod.directory + "/data/nodes/{node}/raft"
        let recovered = try await lifeboat(["recover", "quorum", "--yes", "--repo", scene.workspace.repository,
                                      "--state-dir", scene.workspace.directory + "/state",
                                      "--reset-command", "\(control) node stop {node}; \(control) node wipe {node} && \(control) node start {node}",
                                      "--peers-command", "cat > \(raftDir)/peers.json",
                                      "--restart-command", "\(control) node stop {node} && \(control) node start {node}"] + nodeFlags,
                                     environment: scene.environment)
        #expect(recovered.status == 0, "\(recovered.stdout)\(recovered.stderr)")
        #expect(recovered.stdout.contains("Recovery complete (quorum)"))
        await #expect(try scene.sealed() == [false, false, false])
        await #expect(try scene.readSecret("lifeboat/marker") == "after the backup")
        let after = try await lifeboat(["doctor", "--repo", scene.workspace.repository] + nodeFlags, environment: scene.environment)
        #expect(after.status == 0, "\(after.stdout)")
    }
}
