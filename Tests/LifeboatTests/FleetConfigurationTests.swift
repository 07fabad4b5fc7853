// Fleet mode's configuration rules: the `clusters:` list merged over the top-level sections (mappings merged,
// lists and scalars replaced), names checked, process-wide keys refused inside a cluster with their position,
// `--cluster` selection, cluster-specific environment variables not applied when every cluster is loaded, and a
// state directory per cluster. A configuration without `clusters:` loads exactly as before.

import Foundation
import LifeboatConfiguration
@testable import LifeboatAgent
import LifeboatBase
import LifeboatSchedule
import Logging
import LifeboatArchive
import Testing

@Suite("Fleet configuration")
struct FleetConfigurationTests {
    static let fleet = """
        keys:
          key_files: [/etc/lifeboat/backup.key]
        vault:
          addresses: [https://shared-2:8200, https://shared-3:8200]
          auth:
            token: env:SHARED_TOKEN
          timeouts:
            request: 45s
        backup:
          tags: [fleet]
        agent:
          state_file: /var/lib/lb/agent-state.json
          schedules:
            backup: every 1h
        destinations:
          - name: shared
            type: local
            path: /srv/shared
        clusters:
          - name: prod
            vault:
              address: https://prod-1:8200
              addresses: [https://prod-2:8200]
            repository: /srv/prod
          - name: staging
            vault:
              address: https://staging-1:8200
              auth:
                token: env:STAGING_TOKEN
            agent:
              schedules:
                backup: every 6h
          - name: dr
            vault:
              address: https://dr-1:8200
            backup:
              tags: [dr, offsite]
        """

    func load(_ yaml: String, _ selection: ClusterSelection, environment: [String: String] = [:],
              overrides: ConfigurationOverrides = ConfigurationOverrides()) throws -> LoadedFleet {
        try ConfigTestSupport.loader(environment).loadClusters(yaml: yaml, file: "/etc/lb/lifeboat.yaml",
                                                              selection: selection, overrides: overrides)
    }

    func errors(_ yaml: String) throws -> [ConfigurationIssue] {
        try ConfigTestSupport.loader().evaluateClusters(yaml: yaml, file: "lifeboat.yaml", fileSource: "test", selection: .all,
                                                        overrides: ConfigurationOverrides()).issues.filter { $0.severity == .error }
    }

    @Test("each cluster inherits the top-level sections; its own keys override, mappings merged, lists replaced")
    func inheritanceAndOverride() throws {
        let fleet = try load(Self.fleet, .all)
        #expect(fleet.isFleet)
        #expect(fleet.clusterNames == ["prod", "staging", "dr"])
        #expect(fleet.clusters.map(\.name) == ["prod", "staging", "dr"])
        let byName = Dictionary(uniqueKeysWithValues: fleet.clusters.compactMap { c in c.name.map { ($0, c.loaded) } })
        let prod = try #require(byName["prod"]?.configuration)
        let staging = try #require(byName["staging"]?.configuration)
        let dr = try #require(byName["dr"]?.configuration)

        // Scalars: the cluster's own; the rest of the mapping inherited.
        #expect(prod.vault.address == "https://prod-1:8200")
        #expect(staging.vault.address == "https://staging-1:8200")
        #expect(prod.vault.timeouts.request == .seconds(45))
        #expect(dr.vault.timeouts.request == .seconds(45))
        // Lists replace, never merge.
        #expect(prod.vault.addresses == ["https://prod-2:8200"])
        #expect(staging.vault.addresses == ["https://shared-2:8200", "https://shared-3:8200"])
        #expect(dr.backup.tags == ["dr", "offsite"])
        #expect(staging.backup.tags == ["fleet"])
        // Nested mappings merge key by key.
        #expect(staging.vault.auth.token == .environment("STAGING_TOKEN"))
        #expect(prod.vault.auth.token == .environment("SHARED_TOKEN"))
        #expect(staging.agent.schedules.backup == "every 6h")
        #expect(prod.agent.schedules.backup == "every 1h")
        #expect(prod.keys.keyFiles == ["/etc/lifeboat/backup.key"])
        // A cluster's own `repository` replaces inherited `destinations` (either form replaces the other).
        #expect(prod.destinations.map(\.name) == ["default"])
        #expect(staging.destinations.map(\.name) == ["shared"])
    }

    @Test("each cluster keeps its local state in clusters/NAME beside the top-level state file")
    func statePerCluster() throws {
        let fleet = try load(Self.fleet, .all)
        #expect(fleet.clusters.map(\.loaded.configuration.agent.stateFile) == [
            "/var/lib/lb/clusters/prod/agent-state.json", "/var/lib/lb/clusters/staging/agent-state.json",
            "/var/lib/lb/clusters/dr/agent-state.json",
        ])
        #expect(fleet.clusters.map(\.loaded.clusterStateDirectory) == [
            "/var/lib/lb/clusters/prod", "/var/lib/lb/clusters/staging", "/var/lib/lb/clusters/dr",
        ])
        // Without a state file in the file: the built-in default directory, still one per cluster.
        let defaulted = try load(Self.fleet.replacingOccurrences(of: "  state_file: /var/lib/lb/agent-state.json\n", with: ""),
                                 .one("dr"))
        #expect(defaulted.clusters.first?.loaded.configuration.agent.stateFile
            == "/home/op/.local/state/lifeboat/clusters/dr/agent-state.json")
    }

    @Test("a configuration without `clusters:` loads exactly as before, as one unnamed cluster")
    func singleClusterUnchanged() throws {
        let yaml = """
            vault:
              address: https://vault-1:8200
            repository: /srv/backups
            """
        let fleet = try load(yaml, .all, environment: ["VAULT_ADDR": "https://from-env:8200"])
        #expect(!fleet.isFleet)
        #expect(fleet.ignoredEnvironment.isEmpty)
        let single = try ConfigTestSupport.loader(["VAULT_ADDR": "https://from-env:8200"])
            .load(yaml: yaml, file: "/etc/lb/lifeboat.yaml")
        #expect(fleet.clusters.count == 1)
        #expect(fleet.clusters.first?.name == nil)
        #expect(fleet.clusters.first?.loaded.configuration == single.configuration)
        #expect(fleet.clusters.first?.loaded.clusterStateDirectory == nil)
        #expect(single.configuration.vault.address == "https://from-env:8200", "the environment still applies")
    }

    @Test("a fleet of several clusters needs --cluster; an unknown name is refused with a suggestion (exit 64)")
    func selection() throws {
        #expect(throws: ClusterSelectionError(message:
            "this configuration names 3 clusters (prod, staging, dr); choose one with --cluster NAME")) {
            try load(Self.fleet, .one(nil))
        }
        #expect(throws: ClusterSelectionError(message:
            "--cluster prd: no such cluster; did you mean prod? this configuration names 3 clusters (prod, staging, dr)")) {
            try load(Self.fleet, .one("prd"))
        }
        #expect(ClusterSelectionError(message: "x").exitStatus == .usage)
        let staging = try load(Self.fleet, .one("staging"))
        #expect(staging.clusters.map(\.name) == ["staging"])
        // A fleet of one needs no --cluster.
        let one = try load("""
            clusters:
              - name: only
                repository: /srv/only
            """, .one(nil))
        #expect(one.clusters.map(\.name) == ["only"])
    }

    @Test("cluster-specific environment variables apply only to the cluster chosen with --cluster")
    func environmentRule() throws {
        let environment = ["VAULT_ADDR": "https://shell:8200", "BAO_NAMESPACE": "ns", "LIFEBOAT_LOG_FORMAT": "json",
                           "SHARED_TOKEN": "t"]
        let all = try load(Self.fleet, .all, environment: environment)
        #expect(all.clusters.map(\.loaded.configuration.vault.address)
            == ["https://prod-1:8200", "https://staging-1:8200", "https://dr-1:8200"])
        #expect(all.clusters.allSatisfy { $0.loaded.configuration.vault.namespace == nil })
        #expect(all.clusters.allSatisfy { $0.loaded.configuration.agent.logFormat == .json }, "process-wide variables apply")
        #expect(all.ignoredEnvironment.sorted() == ["BAO_NAMESPACE", "VAULT_ADDR"])
        let notice = try #require(all.ignoredEnvironmentNotice)
        #expect(notice.contains("VAULT_ADDR") && notice.contains("--cluster NAME"), "\(notice)")

        let chosen = try load(Self.fleet, .one("dr"), environment: environment)
        #expect(chosen.clusters.first?.loaded.configuration.vault.address == "https://shell:8200")
        #expect(chosen.clusters.first?.loaded.origin(of: "vault.address") == .environment("VAULT_ADDR"))
        #expect(chosen.ignoredEnvironment.isEmpty)
    }

    @Test("flags that describe one cluster are refused when several clusters are loaded")
    func clusterFlagsNeedOneCluster() throws {
        #expect(throws: ClusterSelectionError.self) {
            try load(Self.fleet, .all, overrides: ConfigurationOverrides(vaultAddress: "https://x:8200"))
        }
        let one = try load(Self.fleet, .one("prod"), overrides: ConfigurationOverrides(vaultAddress: "https://x:8200"))
        #expect(one.clusters.first?.loaded.configuration.vault.address == "https://x:8200")
        // Flags that are not about one cluster apply to every one.
        let all = try load(Self.fleet, .all, overrides: ConfigurationOverrides(logFormat: .json))
        #expect(all.clusters.allSatisfy { $0.loaded.configuration.agent.logFormat == .json })
    }

    @Test("names must be present, usable and unique")
    func names() throws {
        let issues = try errors("""
            repository: /srv/x
            clusters:
              - name: prod
              - name: Prod_1
              - vault: {address: "https://a:8200"}
              - name: prod
            """)
        #expect(issues.count == 3, "\(issues)")
        let messages = issues.map(\.description)
        #expect(messages.contains { $0.hasPrefix("lifeboat.yaml:4:11: clusters[1].name: cluster name \"Prod_1\" is not usable") })
        #expect(messages.contains { $0.hasPrefix("lifeboat.yaml:5:5: clusters[2].name: missing key `name`") })
        #expect(messages.contains {
            $0.hasPrefix("lifeboat.yaml:6:11: clusters[3].name: cluster name \"prod\" is used twice (also clusters[0])")
        })
        #expect(try errors("clusters: []\n").first?.message.contains("expected a list of clusters") == true)
    }

    @Test("process-wide keys are refused inside a cluster, at their position")
    func processWideKeys() throws {
        let issues = try errors("""
            clusters:
              - name: a
                agent:
                  listen: 127.0.0.1:9999
                  state_file: /tmp/a.json
              - name: b
                version: 1
            """)
        let messages = issues.map(\.description)
        #expect(issues.count == 3, "\(messages)")
        #expect(messages.contains {
            $0.hasPrefix("lifeboat.yaml:4:7: clusters[0].agent.listen: `agent.listen` is process-wide and cannot be set for one cluster")
        })
        #expect(messages.contains { $0.hasPrefix("lifeboat.yaml:5:7: clusters[0].agent.state_file: `agent.state_file` is process-wide") })
        #expect(messages.contains { $0.hasPrefix("lifeboat.yaml:7:5: clusters[1].version: `version` is process-wide") })
    }

    @Test("errors inside a cluster, or inherited by several, keep their file position and are reported once")
    func errorPositions() throws {
        let issues = try errors("""
            backup:
              chunk_size: 12
            clusters:
              - name: a
                vault:
                  address: vault-a:8200
              - name: b
                vault:
                  adress: https://b:8200
            """)
        let messages = issues.map(\.description)
        #expect(issues.count == 3, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("lifeboat.yaml:2:3: backup.chunk_size: chunk_size must be between") })
        #expect(messages.contains { $0.hasPrefix("lifeboat.yaml:6:7: vault.address: invalid Vault address \"vault-a:8200\"") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("lifeboat.yaml:9:7: vault.adress: unknown key `adress` in vault; did you mean `address`?") })
    }

    @Test("the fleet example in docs/configuration.md loads, and inherits as the text says")
    func documentedExample() throws {
        let yaml = try #require(try ConfigDocumentationTests.yamlBlocks().first { $0.contains("\nclusters:\n") })
        let fleet = try load(yaml, .all)
        #expect(fleet.clusterNames == ["prod", "staging", "dr"])
        let warnings = fleet.clusters.flatMap(\.loaded.warnings).filter { !$0.message.contains("has no retention") }
        #expect(warnings.isEmpty, "\(warnings)")
        let byName = Dictionary(uniqueKeysWithValues: fleet.clusters.compactMap { c in c.name.map { ($0, c.loaded.configuration) } })
        let prod = try #require(byName["prod"])
        let staging = try #require(byName["staging"])
        let dr = try #require(byName["dr"])
        #expect(prod.destinations.map(\.name) == ["local", "offsite"])
        #expect(dr.destinations.map(\.name) == ["offsite"], "inherited")
        #expect(staging.vault.auth.roleID == .file("/etc/lifeboat/role-id"), "merged into the inherited auth")
        #expect(staging.vault.auth.secretID == .environment("STAGING_SECRET_ID"))
        #expect(staging.agent.schedules.backup == "every 6h")
        #expect(staging.agent.schedules.verify == "@daily", "merged into the inherited schedules")
        #expect(dr.restore.nodes.map(\.name) == ["dr-1"])
        #expect(fleet.clusters.map(\.loaded.configuration.agent.stateFile)
            == ["prod", "staging", "dr"].map { "/var/lib/lifeboat/clusters/\($0)/agent-state.json" })
    }

    @Test("config check covers every cluster, each effective configuration under its name")
    func configCheck() throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { ConfigTestSupport.cleanup(directory) }
        let file = directory + "/lifeboat.yaml"
        // An inherited problem (the missing key file) is reported once, not once per cluster.
        try Self.fleet.write(toFile: file, atomically: true, encoding: .utf8)
        let broken = try ConfigurationCheck.run(loader: ConfigTestSupport.loader(["SHARED_TOKEN": "t", "STAGING_TOKEN": "s"]),
                                                configFlag: file, selection: .all)
        #expect(broken.errors.filter { $0.keyPath.hasPrefix("keys.key_files") }.count == 1, "\(broken.errors)")
        #expect(broken.clusters.isEmpty && !broken.isValid)
        try Self.fleet.replacingOccurrences(of: "keys:\n  key_files: [/etc/lifeboat/backup.key]\n", with: "")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let loader = ConfigTestSupport.loader(["SHARED_TOKEN": "t", "STAGING_TOKEN": "s", "VAULT_ADDR": "https://shell:8200"])
        let result = try ConfigurationCheck.run(loader: loader, configFlag: file, selection: .all)
        #expect(result.clusters.map(\.cluster) == ["prod", "staging", "dr"])
        for name in ["prod", "staging", "dr"] { #expect(result.text.contains("# cluster \(name)\n")) }
        #expect(result.text.contains("https://staging-1:8200") && !result.text.contains("https://shell:8200"))
        #expect(result.warnings.contains { $0.message.contains("VAULT_ADDR") }, "\(result.warnings)")
        let one = try ConfigurationCheck.run(loader: loader, configFlag: file, selection: .one("dr"))
        #expect(one.clusters.map(\.cluster) == ["dr"])
        #expect(one.text.contains("https://shell:8200"), "the environment applies to the chosen cluster")
    }
}

@Suite("Fleet agent metrics")
struct FleetMetricsTests {
    @Test("one registry: every per-cluster series carries cluster=NAME, build info once; a failure stays in its cluster")
    func labelledSeries() throws {
        let metrics = AgentMetrics.fleet(clusters: ["a", "b", "c"], version: "9.9.9")
        #expect(metrics.map(\.cluster) == ["a", "b", "c"])
        let start = agentDate("2025-01-06T00:30:00Z")
        let outcome = BackupOutcome(originalBytes: 10, storedBytes: 12, destinations: ["local"])
        metrics[0].backupSucceeded(groups: ["default"], at: start, duration: .seconds(1), outcome: outcome)
        metrics[1].backupFailed(groups: ["default"], at: start, duration: .seconds(1), reason: .vaultUnreachable)
        metrics[2].backupSucceeded(groups: ["default"], at: start, duration: .seconds(1), outcome: outcome)
        let text = try PrometheusText.parse(metrics[2].exposition())
        #expect(text.value("lifeboat_build_info", ["version": "9.9.9"]) == 1)
        for cluster in ["a", "c"] {
            #expect(text.value("lifeboat_backup_last_result", ["cluster": cluster, "group": "default"]) == 1)
            #expect(text.value("lifeboat_backup_failures_total", ["cluster": cluster, "reason": "vault_unreachable"]) == 0)
        }
        #expect(text.value("lifeboat_backup_last_result", ["cluster": "b", "group": "default"]) == 0)
        #expect(text.value("lifeboat_backup_failures_total", ["cluster": "b", "reason": "vault_unreachable"]) == 1)
        #expect(text.value("lifeboat_backup_last_result", ["group": "default"]) == nil, "no unlabelled series in a fleet")
    }

    @Test("a webhook names its cluster; a single-cluster payload is unchanged")
    func webhookNamesCluster() throws {
        let date = agentDate("2025-01-06T00:30:00Z")
        let fleet = AgentNotification(event: .failure, job: "backup", groups: ["default"], reason: .vaultUnreachable,
                                      message: "refused", timestamp: date, host: "h", cluster: "b")
        #expect(fleet.text == "Lifeboat on h: cluster b: backup (default) FAILED [vault_unreachable]: refused")
        #expect(String(decoding: fleet.payload(format: .json), as: UTF8.self).contains(#""cluster":"b""#))
        let single = AgentNotification(event: .failure, job: "backup", groups: ["default"], reason: .vaultUnreachable,
                                       message: "refused", timestamp: date, host: "h")
        #expect(!String(decoding: single.payload(format: .json), as: UTF8.self).contains("cluster"))
    }

    @Test("/healthz and /status of a fleet cover every cluster")
    func fleetStatus() throws {
        let now = agentDate("2025-01-06T00:30:00Z")
        var up = AgentStatus()
        up.schedulerRunning = true
        var down = AgentStatus()
        down.schedulerRunning = false
        let verdict = AgentStatus.fleetHealth([("a", up), ("b", down)], now: now)
        #expect(!verdict.healthy)
        #expect(verdict.reason == "cluster b: the scheduler is not running")
        #expect(AgentStatus.fleetHealth([("a", up), ("c", up)], now: now).healthy)
        let json = try JSONSerialization.jsonObject(with: Data(AgentStatus.fleetStatusJSON([("a", up), ("b", down)], now: now)))
        let clusters = (json as? [String: Any])?["clusters"] as? [String: Any]
        #expect(clusters?.keys.sorted() == ["a", "b"])
    }

    /// Backups that store and report a new-series warning, as ConfiguredAgentJobs does.
    struct WarningJobs: AgentJobs {
        func runBackup(destinations: [String]) async throws -> BackupOutcome {
            BackupOutcome(destinations: destinations, warnings: ["destination local holds backups of cluster x; this backup of cluster y starts a series of its own there"])
        }
        func applyRetention(destination: String) async throws -> RetentionOutcome { RetentionOutcome(kept: 1, removed: 0) }
        func runVerify(destinations: [String]) async throws -> VerifyOutcome { VerifyOutcome(backupsChecked: 0, summary: "") }
        func runDrill() async throws -> DrillOutcome { DrillOutcome(summary: "") }
    }

    @Test("the agent logs a backup's warnings (a new cluster series on a destination), like `lifeboat backup` prints them")
    func backupWarningsAreLogged() async throws {
        let lines = PThreadLocked<[String]>([])
        let logger = Logger(label: "lifeboat.agent") { label in
            LifeboatLogHandler(label: label, format: .json, level: .info, sink: { line in lines.withLock { $0.append(line) } })
        }
        let start = agentDate("2025-01-06T00:30:00Z")
        let clock = ManualAgentClock(start: start)
        let scheduler = AgentScheduler(configuration: .single(try Schedule(every: .seconds(3600))), jobs: WarningJobs(),
                                       clock: clock, logger: logger)
        let run = Task { try await scheduler.run() }
        defer { run.cancel() }
        let status = scheduler.status
        let planned = try await withAgentTimeout(20, "a planned backup") {
            await status.waitUntil { $0.schedulerRunning && $0.job("backup:local")?.nextRun != nil }.job("backup:local")?.nextRun
        }
        clock.advance(to: try #require(planned))
        _ = try await withAgentTimeout(20, "the backup") { await status.waitUntil { $0.backupRunsFinished == 1 } }
        let logged = lines.withLock { $0 }
        #expect(logged.contains { $0.contains("starts a series of its own there") && $0.contains("warning") }, "\(logged)")
    }
}
