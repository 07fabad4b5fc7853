// `lifeboat agent --config` as a process: destinations with their own schedules, and SIGHUP reloads — a broken
// configuration is rejected with a log line while the agent keeps running on the old one, a good one takes effect.

import Foundation
import Testing

@Suite struct AgentConfigEndToEndTests {
    func configuration(_ workspace: E2EWorkspace, sim: VaultSimProcess, slowSchedule: String, extra: String = "") -> String {
        """
        vault:
          address: \(sim.nodes[0].api_addr)
          addresses: [\(sim.nodes.dropFirst().map(\.api_addr).joined(separator: ", "))]
          auth:
            token: env:LB_TEST_VAULT_TOKEN
        keys:
          key_files: [\(workspace.keyFile)]
        destinations:
          - name: fast
            type: local
            path: \(workspace.repository)
            schedule: every 1s
            retention:
              keep_last: 2
          - name: slow
            type: local
            path: \(workspace.directory)/slow
            schedule: \(slowSchedule)
        agent:
          listen: 127.0.0.1:0
          log_format: json
          state_file: \(workspace.directory)/agent-state.json
          schedules:
            verify: null
        \(extra)
        """
    }

    func manifests(_ directory: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/manifests")) ?? []).count
    }

    /// Waits (bounded) until `condition` holds.
    func eventually(_ what: String, seconds: Double = 30, _ condition: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < deadline else { throw E2EError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    @Test func perDestinationSchedulesAndSighupReload() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let configPath = workspace.directory + "/lifeboat.yaml"
        try configuration(workspace, sim: sim, slowSchedule: "\"@daily\"").write(toFile: configPath, atomically: true, encoding: .utf8)

        var environment = ProcessInfo.processInfo.environment
        for name in ["VAULT_ADDR", "VAULT_TOKEN", "LIFEBOAT_VAULT_ADDRS", "LIFEBOAT_REPO"] { environment[name] = nil }
        environment["LB_TEST_VAULT_TOKEN"] = sim.rootToken
        let log = workspace.directory + "/agent.log"
        let agent = try startLifeboat(["agent", "--config", configPath], environment: environment, log: log)
        defer { if agent.isRunning { kill(agent.processIdentifier, SIGKILL) } }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        // The fast destination is backed up every second and pruned to two; the daily one gets nothing yet.
        try await eventually("three backups to the fast destination") {
            logText().components(separatedBy: "backup stored").count - 1 >= 3
        }
        // (A next backup may be between its commit and its retention, so wait for the count to settle at two.)
        try await eventually("retention to two backups") { manifests(workspace.repository) == 2 }
        #expect(manifests(workspace.directory + "/slow") == 0)

        // A broken configuration: rejected, the agent keeps running on the old one.
        try (configuration(workspace, sim: sim, slowSchedule: "every 1s") + "\nbogus_section: true\n")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        kill(agent.processIdentifier, SIGHUP)
        try await eventually("the rejected reload in the log") { logText().contains("configuration reload rejected") }
        #expect(logText().contains("bogus_section"), "the log line says why")
        #expect(agent.isRunning)
        try await Task.sleep(for: .seconds(2))
        #expect(manifests(workspace.directory + "/slow") == 0, "the rejected configuration must not take effect")

        // A good one: the slow destination now runs every second too.
        try configuration(workspace, sim: sim, slowSchedule: "every 1s").write(toFile: configPath, atomically: true, encoding: .utf8)
        kill(agent.processIdentifier, SIGHUP)
        try await eventually("the reload") { logText().contains("configuration reloaded") }
        try await eventually("a backup on the slow destination") { manifests(workspace.directory + "/slow") >= 1 }

        kill(agent.processIdentifier, SIGTERM)
        await agent.exited()
        #expect(agent.terminationReason == .exit && agent.terminationStatus == 0)
        #expect(!logText().contains(sim.rootToken), "the token must never be logged")
    }
}
