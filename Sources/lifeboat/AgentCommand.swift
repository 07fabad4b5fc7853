// `lifeboat agent`: the scheduling daemon. Backups on a cron or interval schedule, retention after each one,
// verification on its own schedule, /metrics /healthz /status, webhooks; SIGTERM finishes cleanly, SIGHUP re-reads.

import ArgumentParser
import Foundation
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase
import Logging

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run as a daemon: scheduled backups, retention, verification, metrics and notifications.",
        discussion: """
            Schedules are cron expressions (five fields, @hourly, @daily, @weekly) in --time-zone, or intervals \
            ("every 15m"). After downtime a missed backup is taken once at start-up. With --only-if-leader, run one \
            agent per Vault node: only the active node's agent backs up. See docs/operations.md and docs/metrics.md.

            Everything can come from the configuration file (destinations with their own schedules and retention, \
            schedules, listener, webhooks); the flags below override it. SIGHUP re-reads the file: a configuration \
            that does not load or validate is rejected with a log line and the running one is kept.

            Example:
              lifeboat agent --config /etc/lifeboat/lifeboat.yaml
              lifeboat agent --schedule '17 * * * *' --verify-schedule '@daily' --keep-hourly 24 --keep-daily 7 \\
                --key-file /etc/lifeboat/backup.key --only-if-leader --log-format json
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions
    @OptionGroup(title: "Vault and archive options") var vaultAndArchive: VaultAndArchiveOptions
    @OptionGroup var noCompression: NoCompressionOption

    @Option(help: ArgumentHelp("When to back up the destinations without their own schedule: a cron expression or an interval (agent.schedules.backup, default @hourly).", valueName: "schedule"))
    var schedule: String?

    @Option(name: .customLong("verify-schedule"), help: ArgumentHelp("When to verify the newest backup on each destination (agent.schedules.verify, default @daily).", valueName: "schedule"))
    var verifySchedule: String?

    @Option(name: .customLong("drill-schedule"), help: ArgumentHelp("When to run a drill of the newest backup (agent.schedules.drill; needs the drill section or the drill options below).", valueName: "schedule"))
    var drillSchedule: String?

    @OptionGroup(title: "Drill options (with --drill-schedule)") var drill: DrillSettings

    @Option(name: .customLong("time-zone"), help: ArgumentHelp("Time zone of cron schedules (agent.time_zone, default UTC).", valueName: "zone"))
    var timeZone: String?

    @Option(help: ArgumentHelp("Random delay up to this long before each run, e.g. 5m (agent.jitter).", valueName: "duration"))
    var jitter: String?

    @OptionGroup(title: "Retention rules (replace every destination's `retention`)") var rules: RetentionFlags

    @Flag(name: .customLong("only-if-leader"), help: "Back up only while the first Vault address is the active node.")
    var onlyIfLeader = false

    @Option(help: ArgumentHelp("Address of /metrics, /healthz and /status (agent.listen, default 127.0.0.1:9731).", valueName: "host:port"))
    var listen: String?

    @Option(name: .customLong("state-file"), help: ArgumentHelp("Where last runs are remembered (agent.state_file; default: <repo>/../agent-state.json beside the first local repository).", valueName: "path"))
    var stateFile: String?

    @Option(name: .customLong("webhook-file"), help: ArgumentHelp("A file (mode 0600) holding a URL notified on failure and on recovery (repeatable; added to notifications.webhooks). Webhook URLs often embed a credential, so they never go on the command line.", valueName: "path"))
    var webhookFiles: [String] = []

    @Option(name: .customLong("webhook-env"), help: ArgumentHelp("The name of an environment variable holding such a URL (repeatable).", valueName: "name"))
    var webhookEnvironment: [String] = []

    @Flag(name: .customLong("slack"), help: "Send the --webhook-file / --webhook-env URLs Slack-compatible {\"text\": ...} payloads.")
    var slack = false

    @Option(name: .customLong("log-format"), help: "human or json (agent.log_format).")
    var logFormat: LifeboatConfiguration.LogFormat?

    func run() async throws {
        do {
            let (context, agentConfiguration) = try load()
            LifeboatLogHandler.bootstrap(format: context.configuration.agent.logFormat == .json ? .json : .human)
            let logger = Logger(label: "lifeboat.agent")
            // Hook output and drill phases go to the log (in its format), not as bare lines on standard error.
            let hookLogger = Logger(label: "lifeboat.hook")
            CommandRunner.setDefaultOutput { line in hookLogger.info("\(line.trimmingCharacters(in: .whitespaces))") }
            try await context.withVaultClient { client in
                let jobs = ConfiguredAgentJobs(client: client, setup: try await setup(context, client: client))
                let agent = LifeboatAgent(configuration: agentConfiguration, jobs: jobs, configurationLoader: {
                    // SIGHUP: the file is read again with the same flags on top; nothing changes unless all of it is usable.
                    let (reloaded, configuration) = try load()
                    try configuration.validate()
                    if reloaded.configuration.vault != context.configuration.vault {
                        logger.warning("the vault settings change only at the next start")
                    }
                    jobs.replace(try await setup(reloaded, client: client))
                    return configuration
                }, logger: logger)
                do {
                    try await agent.run()
                } catch {
                    await jobs.close()
                    throw error
                }
                await jobs.close()
            }
        } catch {
            throw fail(error)
        }
    }

    /// The configuration with this command's flags on top, and the agent settings made from it.
    func load() throws -> (CommandContext, AgentConfiguration) {
        var context = try repository.context(secrets: secrets, overrides: ConfigurationOverrides(
            onlyIfLeader: onlyIfLeader ? true : nil, listen: listen, logFormat: logFormat, timeZone: timeZone),
            flags: [vaultAndArchive, noCompression])
        var configuration = context.configuration
        typealias Agent = LifeboatConfiguration.Agent
        if let schedule { configuration.agent.schedules.backup = Agent.scheduleSetting(schedule) }
        if let verifySchedule { configuration.agent.schedules.verify = Agent.scheduleSetting(verifySchedule) }
        if let drillSchedule { configuration.agent.schedules.drill = Agent.scheduleSetting(drillSchedule) }
        if let jitter {
            do { configuration.agent.jitter = try Schedule.parseDuration(jitter) } catch { throw UsageError(description: "--jitter: \(error)") }
            if let value = configuration.agent.jitter, let problem = DurationLimits.problem(value, key: "agent.jitter", name: "--jitter") {
                throw UsageError(description: problem)
            }
        }
        if let policy = try rules.policy() {
            for index in configuration.destinations.indices { configuration.destinations[index].retention = policy }
        }
        let webhookURLs = webhookFiles.map { SecretReference.file(URL(fileURLWithPath: $0).standardized.path) }
            + webhookEnvironment.map(SecretReference.environment)
        configuration.notifications.webhooks += webhookURLs.map { .init(url: $0, format: slack ? .slack : .json) }
        if let stateFile {
            configuration.agent.stateFile = stateFile
        } else if context.loaded.origin(of: "agent.state_file") == .defaultValue {
            configuration.agent.stateFile = context.stateDirectory + "/agent-state.json"
        }
        context.loaded.configuration = configuration
        let agent = try configuration.agentConfiguration(
            statePath: configuration.agent.stateFile, environment: context.environment, drillAvailable: drill.givesScratchCluster)
        return (context, agent)
    }

    /// What the jobs use: the opened destinations, the keys, and the drill runner when drills are scheduled.
    func setup(_ context: CommandContext, client: VaultClient) async throws -> ConfiguredAgentJobs.Setup {
        let configuration = context.configuration
        let drillRunner = configuration.agent.schedules.drill == nil ? nil : try drill.runner(client: client, context: context, progress: Self.logDrillEvent)
        let backup = configuration.backup
        return ConfiguredAgentJobs.Setup(
            destinations: try await configuration.openDestinations(create: true, environment: context.environment,
                                                                   manifestCacheRoot: context.stateDirectory + "/manifest-cache"),
            secret: try context.encryptionSecret(), keyRing: try context.keyRing(), onlyIfLeader: backup.onlyIfLeader,
            backupOptions: BackupOptions(tags: backup.tags, compression: backup.compression, chunkSize: backup.chunkSize),
            drill: drillRunner)
    }
}

extension AgentCommand {
    /// A scheduled drill's phases, in the agent's log.
    @Sendable static func logDrillEvent(_ event: RestoreEvent) {
        let logger = Logger(label: "lifeboat.drill")
        switch event {
        case .phaseStarted(let phase): logger.info("drill phase started", metadata: ["phase": "\(phase.rawValue)"])
        case .phaseFinished(let phase, let seconds): logger.info("drill phase finished", metadata: ["phase": "\(phase.rawValue)", "seconds": "\(seconds)"])
        case .phaseSkipped(let phase): logger.info("drill phase skipped", metadata: ["phase": "\(phase.rawValue)"])
        case .phaseFailed(let phase, let message): logger.error("drill phase failed", metadata: ["phase": "\(phase.rawValue)", "error": "\(message)"])
        case .note(let phase, let text): logger.info("\(text)", metadata: ["phase": "\(phase.rawValue)"])
        }
    }
}

extension LifeboatConfiguration.LogFormat: ExpressibleByArgument {}
