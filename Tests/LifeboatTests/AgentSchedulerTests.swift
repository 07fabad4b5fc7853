// The scheduler daemon under a manual clock and fake jobs: runs at the right times over hours of fake time,
// per-destination schedules sharing one run, retention after each backup, the overlap skip, missed-run catch-up,
// jitter, verify and drill schedules, SIGHUP reloads, and graceful shutdown through a real ServiceGroup.

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
import ServiceLifecycle
import LifeboatArchive
import Testing

@Suite("Agent scheduler")
struct AgentSchedulerTests {
    let start = agentDate("2025-01-06T00:30:00Z")

    func hour(_ n: Int) -> Date { agentDate("2025-01-06T00:00:00Z").addingTimeInterval(TimeInterval(n * 3600)) }

    @Test("an hourly backup fires on the hour for six hours of fake time, with retention after each")
    func hourlyAcrossSixHours() async throws {
        let h = AgentHarness(configuration: .single(try Schedule(every: .seconds(3600))), start: start)
        for n in 1...6 {
            let next = try await h.nextRun("backup:local")
            #expect(next == hour(n))
            h.clock.advance(to: next)
            try await h.wait("backup \(n)") { $0.backupRunsFinished == n }
        }
        #expect(h.jobs.backupTimes == (1...6).map(hour))
        let retention = h.jobs.record.retention
        #expect(retention.map(\.time) == (1...6).map(hour))
        #expect(retention.allSatisfy { $0.destination == "local" })
        let status = h.status.current
        #expect(status.job("backup:local")?.record.lastSuccess == hour(6))
        #expect(status.job("backup:local")?.nextRun == hour(7))
        #expect(status.backupsStored["local"] == 5)
        try await h.stop()
    }

    @Test("per-destination schedules: hourly local, daily S3 at 03:00 share one run to both; retention on every destination")
    func perDestinationSchedules() async throws {
        let configuration = AgentConfiguration(
            destinations: ["local", "s3"],
            backupGroups: [
                .init(name: "hourly", schedule: try Schedule(every: .seconds(3600)), destinations: ["local"]),
                .init(name: "daily", schedule: try Schedule.parse("0 3 * * *", timeZone: "UTC"), destinations: ["s3"]),
            ])
        let h = AgentHarness(configuration: configuration, start: start)
        for n in 1...4 {
            let next = try await h.earliestNextRun()
            #expect(next == hour(n))
            h.clock.advance(to: next)
            try await h.wait("backup \(n)") { $0.backupRunsFinished == n }
        }
        let calls = h.jobs.record.backups
        #expect(calls.map(\.time) == (1...4).map(hour))
        #expect(calls.map(\.destinations) == [["local"], ["local"], ["local", "s3"], ["local"]])
        let retention = h.jobs.record.retention
        #expect(retention.count == 8)
        #expect(retention.filter { $0.time == hour(3) }.map(\.destination) == ["local", "s3"])
        let status = h.status.current
        #expect(status.job("backup:daily")?.record.lastSuccess == hour(3))
        #expect(status.job("backup:daily")?.nextRun == hour(27))
        #expect(status.job("backup:hourly")?.record.lastSuccess == hour(4))
        try await h.stop()
    }

    @Test("a tick that finds the backup still running is skipped and counted; the next free tick runs")
    func overlapSkip() async throws {
        let gate = AgentTestGate()
        let clock = ManualAgentClock(start: start)
        let jobs = FakeAgentJobs(clock: clock, backups: [.block(gate)])
        let h = AgentHarness(
            configuration: .single(try Schedule(every: .seconds(3600))), start: start, clock: clock, jobs: jobs)
        h.clock.advance(to: try await h.nextRun("backup:local"))
        try await h.wait("the first backup to be running") { $0.job("backup:local")?.running == true }
        h.clock.advance(to: hour(2))
        try await h.wait("one skipped tick") { $0.ticksSkipped["backup"] == 1 }
        h.clock.advance(to: hour(3))
        try await h.wait("two skipped ticks") { $0.ticksSkipped["backup"] == 2 }
        gate.open()
        try await h.wait("the long backup to finish") { $0.backupRunsFinished == 1 }
        #expect(try await h.nextRun("backup:local") == hour(4))
        h.clock.advance(to: hour(4))
        try await h.wait("the next backup") { $0.backupRunsFinished == 2 }
        #expect(h.jobs.record.backups.count == 2)
        let samples = try PrometheusText.parse(h.scheduler.metrics.exposition())
        #expect(samples.value("lifeboat_ticks_skipped_total", ["job": "backup"]) == 2)
        try await h.stop()
    }

    @Test("after downtime, a missed run is taken once at start-up, then the schedule continues; state file is 0600")
    func missedRunCatchUp() async throws {
        let directory = try agentTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("agent-state.json").path
        try AgentStateFile(path: path).save(AgentState(jobs: ["backup:local": .init(lastRun: hour(1), lastSuccess: hour(1))]))
        let now = agentDate("2025-01-06T06:30:00Z")
        let h = AgentHarness(configuration: .single(try Schedule(every: .seconds(3600)), statePath: path), start: now)
        try await h.wait("the catch-up backup") { $0.backupRunsFinished == 1 }
        #expect(h.jobs.backupTimes == [now])
        #expect(try await h.nextRun("backup:local") == hour(7))
        h.clock.advance(to: hour(7))
        try await h.wait("the scheduled backup") { $0.backupRunsFinished == 2 }
        try await h.stop()
        #expect(h.jobs.backupTimes == [now, hour(7)])

        let saved = try AgentStateFile(path: path).load()
        #expect(saved.jobs["backup:local"]?.lastRun == hour(7))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // A restart before the next slot catches nothing up.
        let again = AgentHarness(
            configuration: .single(try Schedule(every: .seconds(3600)), statePath: path),
            start: agentDate("2025-01-06T07:10:00Z"))
        #expect(try await again.nextRun("backup:local") == hour(8))
        try await again.stop()
        #expect(again.jobs.record.backups.isEmpty)
    }

    @Test("a fresh installation (no state) starts on schedule without a catch-up run")
    func freshInstallationNoCatchUp() async throws {
        let h = AgentHarness(configuration: .single(try Schedule(every: .seconds(3600))), start: start)
        #expect(try await h.nextRun("backup:local") == hour(1))
        try await h.stop()
        #expect(h.jobs.record.backups.isEmpty)
    }

    @Test("jitter delays each run by the seeded draw, never before its slot, and does not accumulate")
    func jitterIsSeededAndBounded() async throws {
        let schedule = try Schedule(every: .seconds(3600), maxJitter: .seconds(300))
        let h = AgentHarness(
            configuration: .single(schedule), start: start, random: SeededRandomNumberGenerator(seed: 42))
        for n in 1...4 {
            h.clock.advance(to: try await h.nextRun("backup:local"))
            try await h.wait("backup \(n)") { $0.backupRunsFinished == n }
        }
        try await h.stop()
        var generator = SeededRandomNumberGenerator(seed: 42)
        let expected = (1...4).map { n in hour(n).addingTimeInterval(TimeInterval(schedule.drawJitter(using: &generator).components.seconds)) }
        #expect(h.jobs.backupTimes == expected)
        for (n, time) in h.jobs.backupTimes.enumerated() {
            #expect(time >= hour(n + 1) && time <= hour(n + 1).addingTimeInterval(300))
        }
    }

    @Test("verify and drill run on their own schedules, alongside a running backup")
    func verifyAndDrillSchedules() async throws {
        let gate = AgentTestGate()
        let clock = ManualAgentClock(start: start)
        let configuration = AgentConfiguration(
            destinations: ["local"],
            backupGroups: [.init(name: "local", schedule: try Schedule(every: .seconds(3600)), destinations: ["local"])],
            verify: .init(schedule: try Schedule(every: .seconds(7200))),
            drill: try Schedule.parse("15 1 * * *"))
        let jobs = FakeAgentJobs(clock: clock, backups: [.block(gate)], drills: [.fail(.drillFailed)])
        let h = AgentHarness(configuration: configuration, start: start, clock: clock, jobs: jobs)
        #expect(try await h.nextRun("drill") == hour(1).addingTimeInterval(900))
        h.clock.advance(to: hour(1))
        try await h.wait("the blocked backup") { $0.job("backup:local")?.running == true }
        h.clock.advance(to: hour(1).addingTimeInterval(900))
        try await h.wait("the drill") { $0.job("drill")?.record.lastResult == .failure }
        h.clock.advance(to: hour(2))
        try await h.wait("the verification") { $0.job("verify")?.record.lastResult == .success }
        gate.open()
        try await h.wait("the backup") { $0.backupRunsFinished == 1 }
        try await h.stop()
        #expect(h.jobs.record.drills == [hour(1).addingTimeInterval(900)])
        #expect(h.jobs.record.verifies == [hour(2)])
        let samples = try PrometheusText.parse(h.scheduler.metrics.exposition())
        #expect(samples.value("lifeboat_drill_last_result", [:]) == 0)
        #expect(samples.value("lifeboat_verify_last_result", [:]) == 1)
        #expect(samples.value("lifeboat_verify_last_timestamp_seconds", [:]) == hour(2).timeIntervalSince1970)
        #expect(samples.value("lifeboat_ticks_skipped_total", ["job": "backup"]) == 1)
    }

    @Test("SIGHUP reload: a bad configuration is rejected and the old one kept; a good one changes the schedule")
    func reload() async throws {
        let next = PThreadLocked<Result<AgentConfiguration, AgentConfigurationError>>(
            .success(.single(try Schedule(every: .seconds(3600)))))
        let loader: AgentScheduler.ConfigurationLoader = { try next.withLock { $0 }.get() }
        let h = AgentHarness(configuration: .single(try Schedule(every: .seconds(3600))), start: start, loader: loader)
        #expect(try await h.nextRun("backup:local") == hour(1))

        // Invalid: a group naming an unknown destination.
        var bad = AgentConfiguration.single(try Schedule(every: .seconds(900)))
        bad.backupGroups[0].destinations = ["nowhere"]
        next.withLock { $0 = .success(bad) }
        h.scheduler.requestReload()
        let metrics = h.scheduler.metrics
        try await withAgentTimeout(20, "the rejected reload to be counted") {
            while try PrometheusText.parse(metrics.exposition()).value("lifeboat_config_reloads_total", ["result": "failure"]) != 1 {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        #expect(h.status.current.job("backup:local")?.nextRun == hour(1))
        #expect(h.status.current.job("backup:local")?.schedule == "every 1h")

        // A loader error (unreadable file) is rejected too.
        next.withLock { $0 = .failure(AgentConfigurationError(message: "cannot parse lifeboat.yaml line 3")) }
        h.scheduler.requestReload()
        try await withAgentTimeout(20, "the second rejected reload") {
            while try PrometheusText.parse(metrics.exposition()).value("lifeboat_config_reloads_total", ["result": "failure"]) != 2 {
                try await Task.sleep(for: .milliseconds(5))
            }
        }

        next.withLock { $0 = .success(.single(try! Schedule(every: .seconds(900)))) }
        h.scheduler.requestReload()
        try await h.wait("the new schedule") { $0.job("backup:local")?.schedule == "every 15m" }
        #expect(h.status.current.job("backup:local")?.nextRun == agentDate("2025-01-06T00:45:00Z"))
        h.clock.advance(to: agentDate("2025-01-06T00:45:00Z"))
        try await h.wait("a backup on the new schedule") { $0.backupRunsFinished == 1 }
        try await h.stop()
        #expect(try PrometheusText.parse(metrics.exposition()).value("lifeboat_config_reloads_total", ["result": "success"]) == 1)
    }

    @Test("graceful shutdown during a backup waits for it to finish, records it, and run() returns")
    func shutdownWaitsForRunningBackup() async throws {
        let gate = AgentTestGate()
        let clock = ManualAgentClock(start: start)
        let jobs = FakeAgentJobs(clock: clock, backups: [.block(gate)])
        let scheduler = AgentScheduler(
            configuration: .single(try Schedule(every: .seconds(3600))), jobs: jobs, clock: clock,
            webhookSleep: { _ in }, hostName: "node-1", logger: Self.quietLogger)
        let group = ServiceGroup(configuration: .init(services: [scheduler], logger: Self.quietLogger))
        let running = Task { try await group.run() }
        await scheduler.status.waitUntil { $0.job("backup:local")?.nextRun != nil }
        clock.advance(to: hour(1))
        await scheduler.status.waitUntil { $0.job("backup:local")?.running == true }
        await group.triggerGracefulShutdown()
        await scheduler.status.waitUntil { $0.shuttingDown }
        gate.open()
        try await withAgentTimeout(20, "the service group to return") { try await running.value }
        #expect(jobs.record.cancelledBackups == 0)
        #expect(jobs.record.successfulBackups == 1)
        #expect(scheduler.status.current.job("backup:local")?.record.lastResult == .success)
        #expect(scheduler.status.current.schedulerRunning == false)
    }

    @Test("graceful shutdown past the grace period cancels the running backup, records no run, and returns")
    func shutdownCancelsAfterGrace() async throws {
        let directory = try agentTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("state.json").path
        let gate = AgentTestGate()
        let clock = ManualAgentClock(start: start)
        let jobs = FakeAgentJobs(clock: clock, backups: [.block(gate)])
        var configuration = AgentConfiguration.single(try Schedule(every: .seconds(3600)), statePath: path)
        configuration.shutdownGracePeriod = .seconds(120)
        let scheduler = AgentScheduler(
            configuration: configuration, jobs: jobs, clock: clock, webhookSleep: { _ in }, hostName: "node-1",
            logger: Self.quietLogger)
        let group = ServiceGroup(configuration: .init(services: [scheduler], logger: Self.quietLogger))
        let running = Task { try await group.run() }
        await scheduler.status.waitUntil { $0.job("backup:local")?.nextRun != nil }
        clock.advance(to: hour(1))
        await scheduler.status.waitUntil { $0.job("backup:local")?.running == true }
        await group.triggerGracefulShutdown()
        await scheduler.status.waitUntil { $0.shuttingDown }
        clock.advance(by: 60)
        #expect(jobs.record.cancelledBackups == 0, "cancelled before the grace period was over")
        clock.advance(by: 61)
        try await withAgentTimeout(20, "the service group to return") { try await running.value }
        #expect(jobs.record.cancelledBackups == 1)
        #expect(jobs.record.successfulBackups == 0)
        #expect(scheduler.status.current.backupRunsFinished == 0)
        // Nothing recorded: the next start will catch the run up.
        let saved = try AgentStateFile(path: path).load()
        #expect(saved.jobs["backup:local"]?.lastRun == nil)
        let samples = try PrometheusText.parse(scheduler.metrics.exposition())
        #expect(samples.total("lifeboat_backup_failures_total") == 0)
    }

    @Test("configuration validation names the problem")
    func configurationValidation() throws {
        var configuration = AgentConfiguration.single(try Schedule(every: .seconds(3600)))
        configuration.backupGroups.append(.init(name: "local", schedule: try Schedule(every: .seconds(60)), destinations: ["local"]))
        #expect(throws: AgentConfigurationError.self) { try configuration.validate() }
        configuration.backupGroups.removeLast()
        configuration.backupGroups[0].name = "has space"
        do {
            try configuration.validate()
            Issue.record("a name with a space was accepted")
        } catch {
            #expect(error.message.contains("has space"))
        }
        #expect(try ListenAddress.parse("127.0.0.1:9731") == .defaultAddress)
        #expect(try ListenAddress.parse("[::1]:0") == ListenAddress(host: "::1", port: 0))
        #expect(throws: AgentConfigurationError.self) { try ListenAddress.parse("localhost") }
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "lifeboat.agent.test")
        logger.logLevel = .critical
        return logger
    }
}
