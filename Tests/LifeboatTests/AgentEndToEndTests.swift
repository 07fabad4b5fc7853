// `lifeboat agent` as a process against a vault-sim process: it backs up on schedule, applies retention, serves
// /metrics and /healthz, and exits 0 on SIGTERM leaving only complete backups.

import Foundation
import Testing

@Suite struct AgentEndToEndTests {
    func fetch(_ url: String) async throws -> ProcessResult {
        try await runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "-w", "\n%{http_code}", url])
    }

    @Test func scheduledBackupsMetricsAndCleanShutdown() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let arguments = ["agent", "--repo", workspace.repository, "--key-file", workspace.keyFile, "--schedule", "every 1s",
                         "--keep-last", "2", "--listen", "127.0.0.1:0", "--log-format", "json"]
        var environment = ProcessInfo.processInfo.environment
        environment["VAULT_ADDR"] = sim.nodes[0].api_addr
        environment["LIFEBOAT_VAULT_ADDRS"] = sim.nodes.map(\.api_addr).joined(separator: ",")
        environment["VAULT_TOKEN"] = sim.rootToken
        let log = workspace.directory + "/agent.log"
        let agent = try startLifeboat(arguments, environment: environment, log: log)
        defer { if agent.isRunning { kill(agent.processIdentifier, SIGKILL) } }
        let port = try await telemetryPort(of: agent, log: log)

        // Wait (bounded) until three backups were stored, which also means retention ran twice.
        var metrics = ""
        for _ in 0..<120 {
            try await Task.sleep(for: .milliseconds(250))
            metrics = await (try? fetch("http://127.0.0.1:\(port)/metrics").stdout) ?? ""
            if metrics.contains("lifeboat_backup_last_success_timestamp_seconds"),
               let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix("lifeboat_backup_runs_total") || $0.hasPrefix("lifeboat_backups_stored{") }),
               line.hasPrefix("lifeboat_backups_stored{"), (Double(line.split(separator: " ").last ?? "") ?? 0) >= 2 {
                break
            }
        }
        #expect(metrics.contains(#"lifeboat_backups_stored{destination="default"} 2"#), "\(metrics.prefix(2000))")
        let health = try await fetch("http://127.0.0.1:\(port)/healthz")
        #expect(health.stdout.hasSuffix("200"))

        kill(agent.processIdentifier, SIGTERM)
        await agent.exited()
        #expect(agent.terminationReason == .exit && agent.terminationStatus == 0)
        let logText = try String(contentsOfFile: log, encoding: .utf8)
        #expect(!logText.contains(sim.rootToken), "the token must never be logged")

        // Retention kept two; everything listed is complete and verifies.
        let verified = try await lifeboat(["verify", "--all", "--repo", workspace.repository, "--key-file", workspace.keyFile])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(verified.stdout.components(separatedBy: "ok ").count - 1 == 2)
    }
}
