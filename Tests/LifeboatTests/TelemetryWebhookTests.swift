// Webhook notifications: a receiver on loopback gets exactly one failure and one recovery message across
// fail -> fail -> success; Slack payloads; retries with backoff; an unreachable webhook never fails the backup.

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
import LifeboatArchive
import Testing

@Suite("Telemetry webhooks")
struct TelemetryWebhookTests {
    let start = agentDate("2025-01-06T00:30:00Z")

    private func runBackups(
        _ steps: [FakeAgentJobs.Step], webhooks: [WebhookConfiguration], transport: any WebhookTransport
    ) async throws -> AgentHarness {
        let clock = ManualAgentClock(start: start)
        let jobs = FakeAgentJobs(clock: clock, backups: steps)
        let h = AgentHarness(
            configuration: .single(try Schedule(every: .seconds(3600)), webhooks: webhooks), start: start,
            clock: clock, jobs: jobs, transport: transport)
        for n in 1...steps.count {
            h.clock.advance(to: try await h.nextRun("backup:local"))
            try await h.wait("backup \(n)") { $0.backupRunsFinished == n }
        }
        // Shutdown returns only after pending deliveries have finished: the count below is final.
        try await h.stop()
        return h
    }

    @Test("fail -> fail -> success sends exactly one failure and one recovery to a real HTTP receiver")
    func failureAndRecoveryOverHTTP() async throws {
        let receiver = try await WebhookReceiver.start()
        let webhook = WebhookConfiguration(url: "http://127.0.0.1:\(receiver.port)/hooks/lifeboat")
        let h = try await runBackups(
            [.fail(.vaultUnreachable), .fail(.vaultUnreachable), .succeed, .succeed], webhooks: [webhook],
            transport: HTTPClientWebhookTransport())
        let messages = receiver.receivedJSON
        await receiver.close()
        #expect(messages.count == 2)
        #expect(messages.map { $0["event"] as? String } == ["failure", "recovery"])
        #expect(messages.first?["reason"] as? String == "vault_unreachable")
        #expect(messages.first?["job"] as? String == "backup")
        #expect(messages.first?["groups"] as? [String] == ["local"])
        #expect(messages.first?["host"] as? String == "node-1")
        #expect(h.status.current.job("backup:local")?.record.consecutiveFailures == 0)
    }

    @Test("Slack format posts {\"text\": ...} only; success notifications only when asked")
    func slackAndSuccess() async throws {
        let transport = RecordingWebhookTransport()
        let webhook = WebhookConfiguration(url: "https://hooks.example.test/services/T000/B000/XXXX", format: .slack,
                                           notifyOnSuccess: true)
        _ = try await runBackups([.succeed, .fail(.storeUnavailable), .succeed], webhooks: [webhook], transport: transport)
        let bodies = transport.received.map { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: String] }
        #expect(bodies.count == 3)
        #expect(bodies.allSatisfy { $0?.keys.sorted() == ["text"] })
        #expect(bodies[0]?["text"]?.contains("succeeded") == true)
        #expect(bodies[1]?["text"]?.contains("FAILED [store_unavailable]") == true)
        #expect(bodies[2]?["text"]?.contains("recovered") == true)
    }

    @Test("an unreachable webhook is retried, logged and counted, and the backup still succeeds")
    func unreachableWebhook() async throws {
        // A port that was free a moment ago: connections are refused.
        let receiver = try await WebhookReceiver.start()
        let port = receiver.port
        await receiver.close()
        let webhook = WebhookConfiguration(
            url: "http://127.0.0.1:\(port)/x", notifyOnSuccess: true, timeout: .milliseconds(500), maxAttempts: 3)
        let h = try await runBackups([.succeed], webhooks: [webhook], transport: HTTPClientWebhookTransport())
        #expect(h.status.current.job("backup:local")?.record.lastResult == .success)
        let text = try PrometheusText.parse(h.scheduler.metrics.exposition())
        #expect(text.value("lifeboat_webhook_failures_total", [:]) == 1)
        #expect(text.total("lifeboat_backup_failures_total") == 0)
    }

    @Test("retries: 5xx and 429 are retried with doubling backoff; other 4xx are not")
    func retries() async throws {
        let slept = PThreadLocked<[Duration]>([])
        let notification = AgentNotification(
            event: .failure, job: "backup", groups: ["local"], reason: .timeout, message: "m", timestamp: start, host: "h")
        let webhook = WebhookConfiguration(url: "http://127.0.0.1:1/", maxAttempts: 4, initialBackoff: .seconds(1))
        var logger = Logger(label: "test")
        logger.logLevel = .critical

        let flaky = RecordingWebhookTransport(statuses: [503, 429, 200])
        let notifier = WebhookNotifier(webhooks: [webhook], transport: flaky, sleep: { d in slept.withLock { $0.append(d) } }, logger: logger)
        #expect(await notifier.deliver(notification, to: webhook))
        #expect(flaky.received.count == 3)
        #expect(slept.withLock { $0 } == [.seconds(1), .seconds(2)])

        let failures = PThreadLocked(0)
        let rejecting = RecordingWebhookTransport(statuses: [404])
        let strict = WebhookNotifier(webhooks: [webhook], transport: rejecting, sleep: { _ in }, logger: logger,
                                     onFailure: { failures.withLock { $0 += 1 } })
        await strict.deliver(notification)
        #expect(rejecting.received.count == 1)
        #expect(failures.withLock { $0 } == 1)
    }

    @Test("notification decisions", arguments: [
        (true, [0], false, nil),
        (true, [0], true, AgentNotification.Event.success),
        (true, [2], false, .recovery),
        (false, [0], false, .failure),
        (false, [1], false, nil),
        (false, [1, 0], false, .failure),
        (true, [0, 3], true, .recovery),
    ] as [(Bool, [Int], Bool, AgentNotification.Event?)])
    func decisions(succeeded: Bool, previous: [Int], onSuccess: Bool, expected: AgentNotification.Event?) {
        #expect(AgentNotification.decide(succeeded: succeeded, previousFailures: previous, notifyOnSuccess: onSuccess) == expected)
    }

    @Test("webhook URLs are redacted to scheme and host for logs; bad URLs are rejected")
    func redactedURL() throws {
        let webhook = WebhookConfiguration(url: "https://hooks.slack.com/services/T000/B000/SECRETPART")
        #expect(webhook.redactedURL == "https://hooks.slack.com/…")
        var configuration = AgentConfiguration.single(try Schedule(every: .seconds(60)))
        configuration.webhooks = [WebhookConfiguration(url: "ftp://x/y")]
        #expect(throws: AgentConfigurationError.self) { try configuration.validate() }
    }
}
