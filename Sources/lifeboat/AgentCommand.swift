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

            With `clusters:` in the configuration (fleet mode) the agent runs every cluster's jobs, each on its own \
            schedules, with metrics labelled `cluster`; --cluster NAME runs only that one. Flags that describe one \
            cluster (--vault-addr, --repo, --key-file, ...) then need --cluster, and VAULT_* variables are not \
            applied to any cluster (docs/configuration.md, "Fleet mode").

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
            let (clusters, notice) = try load()
            guard let first = clusters.first else {
                throw UsageError(description: "the configuration names no cluster to run; add one to `clusters:`")
            }
            LifeboatLogHandler.bootstrap(format: first.context.configuration.agent.logFormat == .json ? .json : .human)
            let logger = Logger(label: "lifeboat.agent")
            if let notice { logger.notice("\(notice)") }
            // Hook output and drill phases go to the log (in its format), not as bare lines on standard error.
            let hookLogger = Logger(label: "lifeboat.hook")
            CommandRunner.setDefaultOutput { line in hookLogger.info("\(line.trimmingCharacters(in: .whitespaces))") }
            var running: [ConfiguredAgentJobs] = []
            do {
                var members: [LifeboatAgent.Cluster] = []
                for cluster in clusters {
                    let client = try cluster.context.makeVaultClient()
                    let jobs: ConfiguredAgentJobs
                    do {
                        jobs = ConfiguredAgentJobs(client: client, setup: try await setup(cluster.context, client: client))
                    } catch {
                        try? await client.shutdown()
                        throw error
                    }
                    running.append(jobs)
                    members.append(LifeboatAgent.Cluster(
                        name: cluster.name ?? "", configuration: cluster.agent, jobs: jobs,
                        configurationLoader: reloader(cluster: cluster.name, started: cluster.context, jobs: jobs, logger: logger)))
                }
                let agent: LifeboatAgent
                if first.name == nil, let only = members.first {
                    agent = LifeboatAgent(configuration: only.configuration, jobs: only.jobs,
                                          configurationLoader: only.configurationLoader, logger: logger)
                } else if let head = members.first {
                    agent = LifeboatAgent(first: head, others: Array(members.dropFirst()), logger: logger)
                } else {
                    throw UsageError(description: "the configuration names no cluster to run; add one to `clusters:`")
                }
                try await agent.run()
            } catch {
                await Self.close(running)
                throw error
            }
            await Self.close(running)
        } catch {
            throw fail(error)
        }
    }

    /// One cluster the agent runs (name nil: a configuration without `clusters:`).
    struct LoadedCluster {
        var name: String?
        var context: CommandContext
        var agent: AgentConfiguration
    }

    /// SIGHUP for one cluster: the file is read again with the same flags on top; nothing changes unless all of the
    /// cluster's configuration is usable. Clusters added to or removed from the file take effect at the next start.
    func reloader(cluster name: String?, started: CommandContext, jobs: ConfiguredAgentJobs, logger: Logger)
        -> AgentScheduler.ConfigurationLoader
    {
        { [self] in
            guard let reloaded = try load().clusters.first(where: { $0.name == name }) else {
                throw AgentConfigurationError(message: "cluster \(name ?? "") is no longer in the configuration; "
                    + "clusters are added or removed when the agent starts again (it keeps running this one until then)")
            }
            try reloaded.agent.validate()
            if reloaded.context.configuration.vault != started.configuration.vault {
                logger.warning("the vault settings change only at the next start", metadata: name.map { ["cluster": "\($0)"] } ?? [:])
            }
            jobs.replace(try await setup(reloaded.context, client: jobs.client))
            return reloaded.agent
        }
    }

    static func close(_ jobs: [ConfiguredAgentJobs]) async {
        for job in jobs {
            await job.close()
            try? await job.client.shutdown()
        }
    }

    /// The configuration of every cluster to run (the one `--cluster` names; all without it) with this command's
    /// flags on top, the agent settings made from each, and the notice about environment variables not applied.
    func load() throws -> (clusters: [LoadedCluster], notice: String?) {
        let (contexts, fleet) = try repository.contexts(secrets: secrets, overrides: ConfigurationOverrides(
            onlyIfLeader: onlyIfLeader ? true : nil, listen: listen, logFormat: logFormat, timeZone: timeZone),
            flags: [vaultAndArchive, noCompression], selection: repository.clusterOption.selection(allByDefault: true))
        if fleet.isFleet, stateFile != nil {
            throw UsageError(description: "--state-file cannot be used with a configuration that names clusters: each cluster "
                + "keeps its state in clusters/NAME/ beside the top-level agent.state_file; set that in the file instead")
        }
        let clusters = try contexts.map { context in
            var context = context
            let agent = try apply(to: &context)
            return LoadedCluster(name: context.loaded.cluster, context: context, agent: agent)
        }
        return (clusters, fleet.ignoredEnvironmentNotice)
    }

    /// This command's flags over one cluster's configuration, and the agent settings made from it.
    func apply(to context: inout CommandContext) throws -> AgentConfiguration {
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
        return try configuration.agentConfiguration(
            statePath: configuration.agent.stateFile, environment: context.environment, drillAvailable: drill.givesScratchCluster)
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
