// /metrics as a Prometheus scraper reads it: parsed by the test's own text-format parser, values checked after a
// failed and then a successful backup, with bounded labels only.

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
import Testing

@Suite("Telemetry metrics")
struct TelemetryMetricsTests {
    let start = agentDate("2025-01-06T00:30:00Z")
    func hour(_ n: Int) -> Date { agentDate("2025-01-06T00:00:00Z").addingTimeInterval(TimeInterval(n * 3600)) }

    @Test("fresh metrics: build info, every failure reason at zero, HELP and TYPE lines")
    func freshMetrics() throws {
        let metrics = AgentMetrics(version: "9.9.9")
        let text = try PrometheusText.parse(metrics.exposition())
        #expect(text.value("lifeboat_build_info", ["version": "9.9.9"]) == 1)
        for reason in AgentFailureReason.allCases {
            #expect(text.value("lifeboat_backup_failures_total", ["reason": reason.rawValue]) == 0)
        }
        #expect(text.types["lifeboat_backup_failures_total"] == "counter")
        #expect(text.types["lifeboat_build_info"] == "gauge")
        #expect(text.help["lifeboat_backup_failures_total"]?.isEmpty == false)
    }

    @Test("after a failure and then a success, /metrics shows both, with bounded labels")
    func failureThenSuccess() async throws {
        let clock = ManualAgentClock(start: start)
        let jobs = FakeAgentJobs(clock: clock, backups: [.fail(.storeUnavailable)])
        let h = AgentHarness(
            configuration: .single(try Schedule(every: .seconds(3600))), start: start, clock: clock, jobs: jobs)

        h.clock.advance(to: try await h.nextRun("backup:local"))
        try await h.wait("the failed backup") { $0.backupRunsFinished == 1 }
        var text = try PrometheusText.parse(h.scheduler.metrics.exposition())
        #expect(text.value("lifeboat_backup_failures_total", ["reason": "store_unavailable"]) == 1)
        #expect(text.total("lifeboat_backup_failures_total") == 1)
        #expect(text.value("lifeboat_backup_last_result", ["group": "local"]) == 0)
        #expect(text.value("lifeboat_backup_last_attempt_timestamp_seconds", ["group": "local"]) == hour(1).timeIntervalSince1970)
        #expect(text.value("lifeboat_backup_last_success_timestamp_seconds", ["group": "local"]) == nil)
        #expect(text.value("lifeboat_next_run_timestamp_seconds", ["job": "backup:local"]) == hour(2).timeIntervalSince1970)
        #expect(h.jobs.record.retention.isEmpty, "retention must not run after a failed backup")

        h.clock.advance(to: hour(2))
        try await h.wait("the successful backup") { $0.backupRunsFinished == 2 }
        text = try PrometheusText.parse(h.scheduler.metrics.exposition())
        #expect(text.value("lifeboat_backup_failures_total", ["reason": "store_unavailable"]) == 1)
        #expect(text.value("lifeboat_backup_last_result", ["group": "local"]) == 1)
        #expect(text.value("lifeboat_backup_last_success_timestamp_seconds", ["group": "local"]) == hour(2).timeIntervalSince1970)
        #expect(text.value("lifeboat_backup_bytes", ["kind": "original"]) == 1_000)
        #expect(text.value("lifeboat_backup_bytes", ["kind": "stored"]) == 600)
        #expect(text.value("lifeboat_backups_stored", ["destination": "local"]) == 1)
        #expect(text.value("lifeboat_next_run_timestamp_seconds", ["job": "backup:local"]) == hour(3).timeIntervalSince1970)
        #expect(text.value("lifeboat_backup_duration_seconds_count", [:]) == 2)
        #expect(text.types["lifeboat_backup_duration_seconds"] == "histogram")
        #expect(text.value("lifeboat_build_info", ["version": LifeboatVersion.current]) == 1)

        // No label carries a path, a backup id or an address.
        let allowed: Set<String> = ["group", "kind", "reason", "destination", "job", "version", "result", "le"]
        for sample in text.samples {
            #expect(Set(sample.labels.keys).isSubset(of: allowed), "unexpected label on \(sample.name): \(sample.labels)")
            for value in sample.labels.values {
                #expect(!value.contains("/") && !value.contains("10.0.0.1") && !value.contains("abcdef"))
            }
        }
        try await h.stop()
    }

    @Test("a not-leader run is not a failure and is counted separately")
    func notLeader() async throws {
        let clock = ManualAgentClock(start: start)
        let jobs = FakeAgentJobs(clock: clock, backups: [.notLeader])
        let h = AgentHarness(
            configuration: .single(try Schedule(every: .seconds(3600))), start: start, clock: clock, jobs: jobs)
        h.clock.advance(to: try await h.nextRun("backup:local"))
        try await h.wait("the run") { $0.backupRunsFinished == 1 }
        let text = try PrometheusText.parse(h.scheduler.metrics.exposition())
        #expect(text.total("lifeboat_backup_failures_total") == 0)
        #expect(text.value("lifeboat_backup_skipped_not_leader_total", [:]) == 1)
        #expect(h.jobs.record.retention.isEmpty)
        #expect(h.status.current.leader?.address == "10.0.0.2:8200")
        #expect(h.status.current.job("backup:local")?.record.lastResult == .skippedNotLeader)
        try await h.stop()
    }
}
