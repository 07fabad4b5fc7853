// Fleet mode as processes: three vault-sim clusters, one configuration naming all three, one `lifeboat agent`.
// Each cluster's backups land in its own destination, /metrics labels every series with its cluster, and with one
// cluster's Vault stopped the other two keep backing up while the stopped one reports its failure in its own series
// and /status. A VAULT_ADDR in the agent's environment is not applied to any cluster. The CLI's --cluster rules
// (missing or unknown name: exit 64) are checked on the same configuration.

import Foundation
import Testing

@Suite struct FleetEndToEndTests {
    static let names = ["a", "b", "c"]

    func configuration(_ workspace: E2EWorkspace, sims: [VaultSimProcess]) -> String {
        var text = """
            keys:
              key_files: [\(workspace.keyFile)]
            agent:
              listen: 127.0.0.1:0
              log_format: json
              state_file: \(workspace.directory)/state/agent-state.json
              schedules:
                backup: every 1s
                verify: null
            clusters:

            """
        for (name, sim) in zip(Self.names, sims) {
            text += """
                  - name: \(name)
                    vault:
                      address: \(sim.nodes[0].api_addr)
                      auth:
                        token: env:LB_TEST_TOKEN_\(name.uppercased())
                    destinations:
                      - name: local
                        type: local
                        path: \(workspace.directory)/\(name)/repo
                        retention:
                          keep_last: 3

                """
        }
        return text
    }

    func manifests(_ directory: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory + "/manifests")) ?? []).count
    }

    func eventually(_ what: String, seconds: Double = 60, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !(try await condition()) {
            guard Date() < deadline else { throw E2EError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// The value of the series `name{labels}` in a Prometheus text exposition (labels in the order rendered).
    func value(_ metrics: String, _ series: String) -> Double? {
        metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func threeClustersOneDownTheOthersContinue() async throws {
        var sims: [VaultSimProcess] = []
        for _ in Self.names { sims.append(try await VaultSimProcess.start(nodes: 1)) }
        defer { for sim in sims { sim.stop() } }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let configPath = workspace.directory + "/lifeboat.yaml"
        try configuration(workspace, sims: sims).write(toFile: configPath, atomically: true, encoding: .utf8)

        // The --cluster rules, on the same configuration.
        let tokens = Dictionary(uniqueKeysWithValues: zip(Self.names, sims).map { ("LB_TEST_TOKEN_\($0.0.uppercased())", $0.1.rootToken) })
        let missing = try await lifeboat(["list", "--config", configPath], environment: tokens)
        #expect(missing.status == 64, "\(missing.stderr)")
        #expect(missing.stderr.contains("this configuration names 3 clusters (a, b, c); choose one with --cluster NAME"), "\(missing.stderr)")
        let unknown = try await lifeboat(["backup", "--config", configPath, "--cluster", "bb"], environment: tokens)
        #expect(unknown.status == 64, "\(unknown.stderr)")
        #expect(unknown.stderr.contains("--cluster bb: no such cluster; did you mean b?"), "\(unknown.stderr)")
        let flagForAll = try await lifeboat(["agent", "--config", configPath, "--vault-addr", sims[0].nodes[0].api_addr], environment: tokens)
        #expect(flagForAll.status == 64, "\(flagForAll.stderr)")

        var environment = ProcessInfo.processInfo.environment
        for name in ["VAULT_TOKEN", "LIFEBOAT_VAULT_ADDRS", "LIFEBOAT_REPO", "BAO_ADDR"] { environment[name] = nil }
        // Points at cluster a: were it applied to every cluster, b would keep "succeeding" after its Vault stops.
        environment["VAULT_ADDR"] = sims[0].nodes[0].api_addr
        environment.merge(tokens) { $1 }
        let log = workspace.directory + "/agent.log"
        let agent = try startLifeboat(["agent", "--config", configPath], environment: environment, log: log)
        defer { if agent.isRunning { kill(agent.processIdentifier, SIGKILL) } }
        let port = try await telemetryPort(of: agent, log: log)
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        func metrics() async -> String { await (try? AgentEndToEndTests().fetch("http://127.0.0.1:\(port)/metrics").stdout) ?? "" }

        // Every cluster backs up into its own destination.
        try await eventually("a backup of every cluster in its own destination") {
            guard agent.isRunning else { throw E2EError("the agent exited: \(logText())") }
            return Self.names.allSatisfy { manifests(workspace.directory + "/\($0)/repo") >= 1 }
        }
        #expect(logText().contains("VAULT_ADDR"), "the ignored variable is named in a notice")
        var text = ""
        try await eventually("every cluster's last result labelled in /metrics") {
            text = await metrics()
            return Self.names.allSatisfy { value(text, "lifeboat_backup_last_result{cluster=\"\($0)\",group=\"default\"}") == 1 }
        }
        #expect(text.contains(#"lifeboat_backup_failures_total{cluster="b",reason="vault_unreachable"} 0"#), "\(text.prefix(3000))")
        #expect(!text.contains("lifeboat_backup_last_result{group="), "no unlabelled per-cluster series")
        // Each destination holds only its own cluster's backups: three series, three distinct cluster ids.
        var ids: [String] = []
        for name in Self.names {
            let listed = try await lifeboat(["list", "--config", configPath, "--cluster", name, "--json"], environment: tokens)
            #expect(listed.status == 0, "\(listed.stderr)")
            let document = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any]
            let backups = document?["backups"] as? [[String: Any]] ?? []
            let clusterIDs = Set(backups.compactMap { ($0["cluster"] as? [String: Any])?["id"] as? String })
            #expect(!backups.isEmpty && clusterIDs.count == 1, "\(name): \(listed.stdout.prefix(500))")
            ids += clusterIDs
        }
        #expect(Set(ids).count == 3, "three clusters, three identities: \(ids)")

        // Cluster b's Vault goes away: only b fails; a and c keep backing up.
        sims[1].stop()
        try await eventually("cluster b's failure in its own series") {
            text = await metrics()
            return value(text, #"lifeboat_backup_last_result{cluster="b",group="default"}"#) == 0
        }
        #expect((value(text, #"lifeboat_backup_failures_total{cluster="b",reason="vault_unreachable"}"#) ?? 0) >= 1, "\(text.prefix(3000))")
        let before = ["a", "c"].map { value(text, "lifeboat_backup_last_success_timestamp_seconds{cluster=\"\($0)\",group=\"default\"}") ?? 0 }
        try await eventually("new backups of a and c after b went down") {
            text = await metrics()
            let after = ["a", "c"].map { value(text, "lifeboat_backup_last_success_timestamp_seconds{cluster=\"\($0)\",group=\"default\"}") ?? 0 }
            return zip(before, after).allSatisfy { $1 > $0 }
                && ["a", "c"].allSatisfy { value(text, "lifeboat_backup_last_result{cluster=\"\($0)\",group=\"default\"}") == 1 }
        }
        #expect((value(text, #"lifeboat_backup_failures_total{cluster="a",reason="vault_unreachable"}"#) ?? -1) == 0)
        #expect((value(text, #"lifeboat_backup_failures_total{cluster="c",reason="vault_unreachable"}"#) ?? -1) == 0)

        // /status shows each cluster; b's backup job reports the failure.
        let status = try await AgentEndToEndTests().fetch("http://127.0.0.1:\(port)/status").stdout
        let body = String(status.split(separator: "\n", omittingEmptySubsequences: false).dropLast().joined(separator: "\n"))
        let document = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let clusters = document?["clusters"] as? [String: Any]
        #expect(clusters?.keys.sorted() == Self.names, "\(status.prefix(2000))")
        let bJobs = (clusters?["b"] as? [String: Any])?["jobs"] as? [[String: Any]] ?? []
        #expect(bJobs.first { $0["job"] as? String == "backup:default" }?["last_result"] as? String == "failure", "\(status.prefix(3000))")
        let aJobs = (clusters?["a"] as? [String: Any])?["jobs"] as? [[String: Any]] ?? []
        #expect(aJobs.first { $0["job"] as? String == "backup:default" }?["last_result"] as? String == "success")
        for name in Self.names {
            #expect(FileManager.default.fileExists(atPath: workspace.directory + "/state/clusters/\(name)/agent-state.json"),
                    "cluster \(name) keeps its own state file")
        }

        // SIGHUP re-reads the file for every cluster (b's Vault being down does not stop its reload).
        kill(agent.processIdentifier, SIGHUP)
        try await eventually("every cluster's reload") {
            logText().components(separatedBy: "configuration reloaded").count - 1 == 3
        }
        #expect(agent.isRunning)

        kill(agent.processIdentifier, SIGTERM)
        await agent.exited()
        #expect(agent.terminationReason == .exit && agent.terminationStatus == 0, "\(logText().suffix(2000))")
        for sim in sims where sim.process.isRunning {
            #expect(!logText().contains(sim.rootToken), "a token must never be logged")
        }
    }

    @Test func clusterFlagWithoutFleet() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let configPath = workspace.directory + "/lifeboat.yaml"
        try "repository: \(workspace.repository)\nkeys:\n  key_files: [\(workspace.keyFile)]\n"
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: workspace.repository, withIntermediateDirectories: true)
        // `list --cluster` keeps its filter meaning; a command that acts on a cluster refuses it.
        let listed = try await lifeboat(["list", "--config", configPath, "--cluster", "prod"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("no backups of cluster prod"), "\(listed.stdout)")
        let pruned = try await lifeboat(["prune", "--config", configPath, "--cluster", "prod", "--keep-last", "1"])
        #expect(pruned.status == 64, "\(pruned.stderr)")
        #expect(pruned.stderr.contains("the configuration names no clusters"), "\(pruned.stderr)")
    }
}
