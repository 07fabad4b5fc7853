// The HTTP listener over real loopback HTTP on a port chosen at run time: /metrics, /healthz (200, then 503 once
// the last backup is older than the configured maximum age), /status JSON, and 404s.

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
import Logging
import Testing

@Suite("Telemetry HTTP listener")
struct TelemetryServerTests {
    let start = agentDate("2025-01-06T00:30:00Z")
    func hour(_ n: Int) -> Date { agentDate("2025-01-06T00:00:00Z").addingTimeInterval(TimeInterval(n * 3600)) }

    @Test("/metrics, /healthz and /status over HTTP")
    func endpoints() async throws {
        let h = AgentHarness(
            configuration: .single(try Schedule(every: .seconds(3600)), healthMaxAge: .seconds(7200)), start: start)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = try await TelemetryServer.bind(
            address: ListenAddress(host: "127.0.0.1", port: 0),
            routes: TelemetryRoutes(metrics: h.scheduler.metrics, status: h.status, clock: h.clock), logger: logger)
        #expect(server.address.port != 0)
        let port = server.address.port

        h.clock.advance(to: try await h.nextRun("backup:local"))
        try await h.wait("a backup") { $0.backupRunsFinished == 1 }

        let metrics = try await rawHTTPGet(port: port, path: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = try PrometheusText.parse(metrics.body)
        #expect(text.value("lifeboat_backup_last_success_timestamp_seconds", ["group": "local"]) == hour(1).timeIntervalSince1970)

        let healthy = try await rawHTTPGet(port: port, path: "/healthz")
        #expect(healthy.status == 200)

        let status = try await rawHTTPGet(port: port, path: "/status")
        #expect(status.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.body)) as? [String: Any])
        #expect(json["scheduler"] as? String == "running")
        #expect(json["healthy"] as? Bool == true)
        let leader = try #require(json["leader"] as? [String: Any])
        #expect(leader["address"] as? String == "10.0.0.1:8200")
        let jobs = try #require(json["jobs"] as? [[String: Any]])
        #expect(jobs.count == 1)
        #expect(jobs.first?["job"] as? String == "backup:local")
        #expect(jobs.first?["last_result"] as? String == "success")
        #expect(jobs.first?["next_run"] as? String == "2025-01-06T02:00:00Z")
        let destinations = try #require(json["destinations"] as? [[String: Any]])
        #expect(destinations.first?["backups_stored"] as? Int == 1)

        // Two hours and a bit later with no new backup (the next ones fail): unhealthy.
        h.jobs.script(backups: [.fail(.vaultUnreachable), .fail(.vaultUnreachable)])
        h.clock.advance(to: hour(2))
        try await h.wait("a failed backup") { $0.backupRunsFinished == 2 }
        h.clock.advance(to: hour(3))
        try await h.wait("another failed backup") { $0.backupRunsFinished == 3 }
        h.clock.advance(to: hour(3).addingTimeInterval(60))
        let stale = try await rawHTTPGet(port: port, path: "/healthz")
        #expect(stale.status == 503)
        #expect(String(decoding: stale.body, as: UTF8.self).contains("older than the maximum age 2h"))

        let missing = try await rawHTTPGet(port: port, path: "/nope")
        #expect(missing.status == 404)

        try await h.stop()
        let stopped = try await rawHTTPGet(port: port, path: "/healthz")
        #expect(stopped.status == 503, "a stopped scheduler must not look healthy")
        await server.close()
    }

    @Test("health: fresh agent without a backup is healthy until the maximum age passes since start")
    func healthBeforeFirstBackup() {
        var status = AgentStatus()
        status.schedulerRunning = true
        status.startedAt = start
        status.healthMaxAge = .seconds(3600)
        #expect(status.health(now: start.addingTimeInterval(3599)).healthy)
        let verdict = status.health(now: start.addingTimeInterval(3601))
        #expect(!verdict.healthy)
        #expect(verdict.reason.contains("no successful backup since the agent started"))
        status.healthMaxAge = nil
        #expect(status.health(now: start.addingTimeInterval(999_999)).healthy)
    }
}
