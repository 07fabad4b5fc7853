// `lifeboat agent`: the scheduling daemon. Backups on a cron or interval schedule, retention after each one,
// verification on its own schedule, /metrics /healthz /status, webhooks; SIGTERM finishes cleanly, SIGHUP re-reads.

import ArgumentParser
import Foundation
import LifeboatCore
import Logging

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run as a daemon: scheduled backups, retention, verification, metrics and notifications.",
        discussion: """
            Schedules are cron expressions (five fields, @hourly, @daily, @weekly) in --time-zone, or intervals \
            ("every 15m"). After downtime a missed backup is taken once at start-up. With --only-if-leader, run one \
            agent per Vault node: only the active node's agent backs up. See docs/operations.md and docs/metrics.md.

            Example:
              lifeboat agent --schedule '17 * * * *' --verify-schedule '@daily' --keep-hourly 24 --keep-daily 7 \\
                --key-file /etc/lifeboat/backup.key --only-if-leader --log-format json
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions

    @Option(help: ArgumentHelp("When to back up: a cron expression or an interval.", valueName: "schedule"))
    var schedule = "@hourly"

    @Option(name: .customLong("verify-schedule"), help: ArgumentHelp("When to verify the newest backup (default: never).", valueName: "schedule"))
    var verifySchedule: String?

    @Option(name: .customLong("drill-schedule"), help: ArgumentHelp("When to run a drill of the newest backup (needs the drill options below).", valueName: "schedule"))
    var drillSchedule: String?

    @OptionGroup(title: "Drill options (with --drill-schedule)") var drill: DrillSettings

    @Option(name: .customLong("time-zone"), help: ArgumentHelp("Time zone of cron schedules (default UTC).", valueName: "zone"))
    var timeZone: String?

    @Option(help: ArgumentHelp("Random delay up to this long before each run, e.g. 5m.", valueName: "duration"))
    var jitter: String?

    @Option(name: .customLong("keep-last")) var keepLast: Int?
    @Option(name: .customLong("keep-hourly")) var keepHourly: Int?
    @Option(name: .customLong("keep-daily")) var keepDaily: Int?
    @Option(name: .customLong("keep-weekly")) var keepWeekly: Int?
    @Option(name: .customLong("keep-monthly")) var keepMonthly: Int?

    @Flag(name: .customLong("only-if-leader"), help: "Back up only while the first Vault address is the active node.")
    var onlyIfLeader = false

    @Option(help: ArgumentHelp("Address of /metrics, /healthz and /status.", valueName: "host:port"))
    var listen = "127.0.0.1:9731"

    @Option(name: .customLong("state-file"), help: ArgumentHelp("Where last runs are remembered (default: <repo>/../agent-state.json).", valueName: "path"))
    var stateFile: String?

    @Option(name: .customLong("webhook"), help: ArgumentHelp("URL notified on failure and on recovery (repeatable).", valueName: "url"))
    var webhooks: [String] = []

    @Flag(name: .customLong("slack"), help: "Send webhooks as Slack-compatible {\"text\": ...} payloads.")
    var slack = false

    @Option(name: .customLong("log-format"), help: "human or json.")
    var logFormat = "human"

    func run() async throws {
        LifeboatLogHandler.bootstrap(format: logFormat == "json" ? .json : .human)
        do {
            let backupSchedule = try Schedule.parse(schedule, timeZone: timeZone, jitter: jitter)
            let verify = try verifySchedule.map { try Schedule.parse($0, timeZone: timeZone, jitter: jitter) }
            let drillAt = try drillSchedule.map { try Schedule.parse($0, timeZone: timeZone, jitter: jitter) }
            let counts = [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly].map { $0.map(RetentionCount.limited) }
            let retention = counts.allSatisfy { $0 == nil } ? nil
                : RetentionPolicy(keepLast: counts[0], keepHourly: counts[1], keepDaily: counts[2], keepWeekly: counts[3], keepMonthly: counts[4])
            try retention?.validate()
            let local = RepositoryAgentJobs.destinationName
            let configuration = AgentConfiguration(
                destinations: [local], backupGroups: [.init(name: local, schedule: backupSchedule, destinations: [local])],
                verify: verify.map { .init(schedule: $0) }, drill: drillAt,
                statePath: stateFile ?? URL(fileURLWithPath: repository.path).deletingLastPathComponent().path + "/agent-state.json",
                listen: try ListenAddress.parse(listen),
                webhooks: webhooks.map { WebhookConfiguration(url: $0, format: slack ? .slack : .json) })
            let keyRing = try secrets.keyRing()
            let secret = try secrets.encryptionSecret()
            try await withVaultClient { client in
                let drillRunner = drillAt == nil ? nil : try drill.runner(client: client, keyRing: keyRing, repositoryPath: repository.path)
                let jobs = RepositoryAgentJobs(client: client, repositoryPath: repository.path, secret: secret, keyRing: keyRing,
                                               retention: retention, onlyIfLeader: onlyIfLeader, drill: drillRunner)
                try await LifeboatAgent(configuration: configuration, jobs: jobs).run()
            }
        } catch {
            throw fail(error)
        }
    }
}
