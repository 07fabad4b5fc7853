// `lifeboat doctor` and `lifeboat recover` as processes against a `vault-sim serve` process, the way an operator
// (or a monitoring check) runs them: exit codes per incident class, the recommended command, and the recoveries with
// shell hooks (the peers hook writes its stdin into the node's raft/peers.json, the restart hook restarts the node
// through vault-sim's control API). A marker written after the backup survives every recovery.

import Foundation
import Testing

@Suite(.serialized) struct DoctorProcessEndToEndTests {
    struct Cluster {
        let sim: VaultSimProcess
        let workspace: E2EWorkspace
        let environment: [String: String]
        let nodeFlags: [String]
        let keysFile: String
        let vaultSim = productsDirectory.appendingPathComponent("vault-sim").path

        var control: String { "VAULT_SIM_CONTROL=\(sim.ready.control_addr) \(vaultSim)" }
        var resetCommand: String { "\(control) node stop {node}; \(control) node wipe {node} && \(control) node start {node}" }

        func doctor(_ extra: [String] = []) async throws -> ProcessResult {
            try await lifeboat(["doctor", "--repo", workspace.repository] + nodeFlags + extra, environment: environment)
        }

        func recover(_ arguments: [String]) async throws -> ProcessResult {
            try await lifeboat(["recover"] + arguments + ["--repo", workspace.repository, "--unseal-keys-file", keysFile, "--yes",
                                                    "--state-dir", workspace.directory + "/state"] + nodeFlags, environment: environment)
        }

        func curl(_ arguments: [String]) async throws -> String {
            try await runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "-H", "X-Vault-Token: \(sim.rootToken)"] + arguments).stdout
        }

        /// Reads the marker from whichever node is active.
        func marker() async throws -> String? {
            guard let active = try await sim.activeNode() else { return nil }
            let body = try await curl([sim.address(active) + "/v1/secret/data/lifeboat/marker"])
            let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            return ((json?["data"] as? [String: Any])?["data"] as? [String: Any])?["v"] as? String
        }
    }

    static func start() async throws -> Cluster {
        let sim = try await VaultSimProcess.start(shares: 3, threshold: 2, electionDelayMilliseconds: 100)
        let workspace = try await E2EWorkspace()
        let addresses = sim.nodes.map(\.api_addr)
        let environment = ["VAULT_ADDR": addresses[0], "LIFEBOAT_VAULT_ADDRS": addresses.joined(separator: ","), "VAULT_TOKEN": sim.rootToken]
        let keysFile = sim.directory + "/keys.json"
        chmod(keysFile, 0o600)
        let cluster = Cluster(sim: sim, workspace: workspace, environment: environment,
                              nodeFlags: sim.nodes.flatMap { ["--node", "\($0.id)=\($0.api_addr)"] }, keysFile: keysFile)
        // A backup, then a marker it does not hold.
        let backup = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: environment)
        guard backup.status == 0 else { throw E2EError("backup failed: \(backup.stderr)") }
        let status = try await cluster.curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", addresses[0] + "/v1/secret/data/lifeboat/marker",
                                       "-d", #"{"data":{"v":"after the backup"}}"#])
        guard status == "200" else { throw E2EError("marker write answered \(status)") }
        return cluster
    }

    static func diagnosis(_ result: ProcessResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout) \(result.stderr)")
    }

    @Test func nodeLossThenQuorumLossThenPowerCut() async throws {
        let c = try await Self.start()
        defer { c.sim.stop(); c.workspace.remove() }

        // Healthy: exit 0, JSON for monitoring.
        let healthy = try await c.doctor(["--json"])
        #expect(healthy.status == 0, "\(healthy.stdout)\(healthy.stderr)")
        let h = try Self.diagnosis(healthy)
        #expect(h["condition"] as? String == "healthy")
        #expect((h["indexesSinceBackup"] as? Int ?? 0) > 0, "the marker was written after the backup")

        // 1. Node loss: a standby's raft data is corrupt (it refuses to start).
        let active = try await #require(try c.sim.activeNode())
        let victim = try #require(c.sim.nodes.map(\.id).first { $0 != active })
        try await c.sim.control(["node", "corrupt", victim])
        let refused = try await runProcess(URL(fileURLWithPath: c.vaultSim), ["node", "start", victim], environment: ["VAULT_SIM_CONTROL": c.sim.ready.control_addr])
        #expect(refused.status != 0)
        #expect(refused.stdout.contains("failed to open bolt file: invalid database"))
        let down = try await c.doctor()
        #expect(down.status == 11, "\(down.stdout)\(down.stderr)")
        #expect(down.stdout.contains("Next: lifeboat recover node \(victim) --plan"), "\(down.stdout)")
        let planned = try await c.recover(["node", victim, "--plan", "--reset-command", c.resetCommand])
        #expect(planned.status == 0, "\(planned.stderr)")
        #expect(planned.stdout.contains("Recovery plan: replace node \(victim)"))
        await #expect(try c.doctor().status == 11, "--plan changes nothing")
        let replaced = try await c.recover(["node", victim, "--reset-command", c.resetCommand])
        #expect(replaced.status == 0, "\(replaced.stdout)\(replaced.stderr)")
        #expect(replaced.stdout.contains("Recovery complete (node \(victim))"))
        await #expect(try c.doctor().status == 0)
        await #expect(try c.marker() == "after the backup")

        // 2. Quorum loss: two of three nodes lost.
        let survivor = try await #require(try c.sim.activeNode())
        let lost = c.sim.nodes.map(\.id).filter { $0 != survivor }
        for n in lost { try await c.sim.control(["node", "corrupt", n]) }
        for _ in 0..<100 {
            if try await c.sim.activeNode() == nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let noQuorum = try await c.doctor(["--json"])
        #expect(noQuorum.status == 13, "\(noQuorum.stdout)\(noQuorum.stderr)")
        #expect((try Self.diagnosis(noQuorum)["recommendedCommand"] as? String)?.contains("lifeboat recover quorum --plan") == true)
        let raftDir = c.sim.directory + "/data/nodes/{node}/raft"
        let quorumFlags = ["--reset-command", c.resetCommand, "--peers-command", "cat > \(raftDir)/peers.json",
                           "--restart-command", "\(c.control) node stop {node} && \(c.control) node start {node}"]
        let quorumPlan = try await c.recover(["quorum", "--plan"] + quorumFlags)
        #expect(quorumPlan.status == 0, "\(quorumPlan.stderr)")
        #expect(quorumPlan.stdout.contains("Survivor(s) kept: \(survivor)"))
        let recovered = try await c.recover(["quorum"] + quorumFlags)
        #expect(recovered.status == 0, "\(recovered.stdout)\(recovered.stderr)")
        #expect(!FileManager.default.fileExists(atPath: c.sim.directory + "/data/nodes/\(survivor)/raft/peers.json"))
        await #expect(try c.doctor().status == 0)
        await #expect(try c.marker() == "after the backup")

        // 3. Power cut: every node sealed.
        for n in c.sim.nodes.map(\.id) { try await c.sim.control(["node", "stop", n]) }
        for n in c.sim.nodes.map(\.id) { try await c.sim.control(["node", "start", n]) }
        let sealed = try await c.doctor()
        #expect(sealed.status == 10, "\(sealed.stdout)\(sealed.stderr)")
        #expect(sealed.stdout.contains("Next: lifeboat recover unseal"))
        let unsealed = try await c.recover(["unseal"])
        #expect(unsealed.status == 0, "\(unsealed.stdout)\(unsealed.stderr)")
        await #expect(try c.doctor().status == 0)
        await #expect(try c.marker() == "after the backup")
    }
}
