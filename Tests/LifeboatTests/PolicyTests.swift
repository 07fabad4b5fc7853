// The policies shipped in policies/ loaded into vault-sim: each role can do its job and nothing more.

import Foundation
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatS3
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase
import LifeboatTesting
import NIOCore
import Testing
import VaultSim

@Suite struct PolicyTests {
    static let policiesDirectory = coreTestsDirectory.appendingPathComponent("../../policies").standardized

    /// Starts a one-node cluster, loads `policy`, and returns a client whose token carries only that policy.
    func clusterWithRoleToken(policy: String) async throws -> (VaultSimulator, VaultClient, VaultClient, String) {
        var configuration = VaultSimulator.Configuration(dataDirectory: NSTemporaryDirectory() + "lifeboat-policy-" + UUID().uuidString)
        configuration.nodeCount = 1
        let sim = try await VaultSimulator.start(configuration)
        let keys = try await sim.initializeCluster(shares: 1, threshold: 1)
        let address = sim.nodes[0].apiAddress
        let root = try VaultClient(configuration: try VaultClientConfiguration(addresses: [address], authentication: .token(VaultSecret(keys.rootToken))))
        let hcl = try String(contentsOf: Self.policiesDirectory.appendingPathComponent("\(policy).hcl"), encoding: .utf8)
        try await root.writePolicy(name: policy, hcl: hcl)
        let (response, _) = try await root.request(.POST, "auth/token/create",
                                                    body: Array(#"{"policies":["\#(policy)"],"no_default_policy":true}"#.utf8))
        let created = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        let token = try #require((created?["auth"] as? [String: Any])?["client_token"] as? String)
        let role = try VaultClient(configuration: try VaultClientConfiguration(addresses: [address], authentication: .token(VaultSecret(token))))
        return (sim, root, role, address)
    }

    @Test func backupRoleCanSnapshotButCannotRestore() async throws {
        let (sim, root, role, address) = try await clusterWithRoleToken(policy: "lifeboat-backup")
        defer { sim.shutdownBlocking() }
        let snapshotPath = NSTemporaryDirectory() + "lifeboat-policy-" + UUID().uuidString + ".snap"
        defer { unlink(snapshotPath) }
        var bytes: [UInt8] = []
        try await role.streamSnapshot { bytes.append(contentsOf: $0.readableBytesView) }
        #expect(bytes.count > 100)
        try Data(bytes).write(to: URL(fileURLWithPath: snapshotPath))
        _ = try await role.raftConfiguration()
        for force in [false, true] {
            let error = await #expect(throws: VaultError.self) { try await uploadSnapshot(role, file: snapshotPath, force: force, to: address) }
            #expect(error?.statusCode == 403)
        }
        // Nor can it read secrets or write policies.
        await #expect(throws: VaultError.self) { _ = try await role.kvRead("anything") }
        await #expect(throws: VaultError.self) { try await role.writePolicy(name: "escalate", hcl: #"path "*" { capabilities = ["sudo"] }"#) }
        try? await role.shutdown()
        try? await root.shutdown()
    }

    @Test func restoreRoleCanRestoreButCannotTakeSnapshots() async throws {
        let (sim, root, role, address) = try await clusterWithRoleToken(policy: "lifeboat-restore")
        defer { sim.shutdownBlocking() }
        let snapshotPath = NSTemporaryDirectory() + "lifeboat-policy-" + UUID().uuidString + ".snap"
        defer { unlink(snapshotPath) }
        var bytes: [UInt8] = []
        try await root.streamSnapshot { bytes.append(contentsOf: $0.readableBytesView) }
        try Data(bytes).write(to: URL(fileURLWithPath: snapshotPath))
        await #expect(throws: VaultError.self) { try await role.streamSnapshot { _ in } }
        try await uploadSnapshot(role, file: snapshotPath, force: false, to: address)
        try? await role.shutdown()
        try? await root.shutdown()
    }
}
