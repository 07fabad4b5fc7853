// `lifeboat agent` in one call: the scheduler and the HTTP listener in a ServiceGroup that shuts down gracefully
// on SIGTERM and SIGINT, with SIGHUP wired to a configuration reload. The CLI builds the jobs and the loader and
// calls `run()`; everything here is testable without a process.

import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// The agent daemon: scheduler + telemetry listener + signal handling. A fleet agent runs one scheduler per
/// cluster in the same service group: each cluster's jobs, state, status and webhooks are its own (one cluster's
/// failing Vault fails only its jobs), one registry holds every cluster's metrics labelled `cluster`.
///
/// ```swift
/// let agent = LifeboatAgent(configuration: agentConfig, jobs: RealAgentJobs(...),
///                           configurationLoader: { try loadAgentConfiguration(path) }, logger: logger)
/// try await agent.run()   // returns after SIGTERM/SIGINT once the running job finished or was cancelled
/// ```
public struct LifeboatAgent: Sendable {
    /// One cluster of a fleet agent.
    public struct Cluster: Sendable {
        public var name: String
        public var configuration: AgentConfiguration
        public var jobs: any AgentJobs
        /// Re-reads this cluster's configuration on SIGHUP.
        public var configurationLoader: AgentScheduler.ConfigurationLoader?

        public init(name: String, configuration: AgentConfiguration, jobs: any AgentJobs,
                    configurationLoader: AgentScheduler.ConfigurationLoader? = nil) {
            self.name = name
            self.configuration = configuration
            self.jobs = jobs
            self.configurationLoader = configurationLoader
        }
    }

    /// The first (for a single-cluster agent, the only) cluster's scheduler, metrics and status.
    public let scheduler: AgentScheduler
    public let metrics: AgentMetrics
    public let status: AgentStatusBoard
    /// Every cluster's scheduler (name nil: a single-cluster agent).
    public let schedulers: [(name: String?, scheduler: AgentScheduler)]
    /// The listener, grace period and state path come from here (process-wide settings).
    private let configuration: AgentConfiguration
    private let clock: any AgentClock
    private let logger: Logger

    /// - Parameters:
    ///   - configuration: the agent settings mapped from the configuration file.
    ///   - jobs: the real backup runner, retention, verifier and drill engine behind `AgentJobs`.
    ///   - configurationLoader: re-reads and maps the configuration file on SIGHUP.
    ///   - clock: the wall clock unless testing.
    public init(
        configuration: AgentConfiguration, jobs: any AgentJobs,
        configurationLoader: AgentScheduler.ConfigurationLoader? = nil,
        clock: any AgentClock = SystemAgentClock(),
        webhookTransport: any WebhookTransport = HTTPClientWebhookTransport(),
        logger: Logger = Logger(label: "lifeboat.agent")
    ) {
        let metrics = AgentMetrics()
        let status = AgentStatusBoard()
        let scheduler = AgentScheduler(
            configuration: configuration, jobs: jobs, clock: clock, configurationLoader: configurationLoader,
            metrics: metrics, status: status, webhookTransport: webhookTransport, logger: logger)
        self.init(schedulers: [(nil, scheduler)], first: scheduler, configuration: configuration, clock: clock, logger: logger)
    }

    /// A fleet agent: `first` and `others` each run on their own; the listener and grace period are `first`'s
    /// (process-wide keys, the same for every cluster).
    public init(
        first: Cluster, others: [Cluster], clock: any AgentClock = SystemAgentClock(),
        webhookTransport: any WebhookTransport = HTTPClientWebhookTransport(),
        logger: Logger = Logger(label: "lifeboat.agent")
    ) {
        let clusters = [first] + others
        let metrics = AgentMetrics.fleet(clusters: clusters.map(\.name))
        let schedulers = zip(clusters, metrics).map { cluster, metrics -> (name: String?, scheduler: AgentScheduler) in
            var clusterLogger = logger
            clusterLogger[metadataKey: "cluster"] = "\(cluster.name)"
            return (cluster.name, AgentScheduler(
                configuration: cluster.configuration, jobs: cluster.jobs, clock: clock,
                configurationLoader: cluster.configurationLoader, metrics: metrics, status: AgentStatusBoard(),
                webhookTransport: webhookTransport, logger: clusterLogger))
        }
        // zip over two non-empty arrays of equal length: `schedulers` has `first`'s scheduler first.
        let firstScheduler = schedulers.first?.scheduler ?? AgentScheduler(configuration: first.configuration, jobs: first.jobs)
        self.init(schedulers: schedulers, first: firstScheduler, configuration: first.configuration, clock: clock, logger: logger)
    }

    private init(schedulers: [(name: String?, scheduler: AgentScheduler)], first: AgentScheduler,
                 configuration: AgentConfiguration, clock: any AgentClock, logger: Logger) {
        self.schedulers = schedulers
        scheduler = first
        metrics = first.metrics
        status = first.status
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    private var routes: TelemetryRoutes {
        let named = schedulers.compactMap { entry in entry.name.map { (name: $0, status: entry.scheduler.status) } }
        guard !named.isEmpty else { return TelemetryRoutes(metrics: metrics, status: status, clock: clock) }
        return TelemetryRoutes(metrics: metrics, clusters: named, clock: clock)
    }

    /// Runs until SIGTERM or SIGINT (graceful: the running job gets the configured grace period, then is
    /// cancelled) and returns normally, so the process exits 0.
    ///
    /// - Throws: `AgentConfigurationError` for a configuration the agent cannot use, `TelemetryServerError` if
    ///   the listen address is taken.
    public func run() async throws {
        for (_, scheduler) in schedulers { try scheduler.validateConfiguration() }
        let server = try await TelemetryServer.bind(address: configuration.listen, routes: routes, logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            // Shut down in reverse order: the schedulers first, the listener once they have returned.
            services: [.init(service: server, serviceName: "telemetry")] + schedulers.map { entry in
                .init(service: entry.scheduler, serviceName: entry.name.map { "scheduler \($0)" } ?? "scheduler")
            },
            logger: logger)
        let grace = configuration.shutdownGracePeriod
        groupConfiguration.maximumGracefulShutdownDuration = grace + .seconds(30)
        let group = ServiceGroup(configuration: groupConfiguration)
        // Signals (TerminationSignals, the process's one mechanism): SIGHUP reloads; the first SIGTERM or SIGINT
        // shuts down gracefully; a second one exits at once, removing the running job's temporary files.
        TerminationSignals.install()
        let stopping = StopLatch()
        let previous = TerminationSignals.setHandler { [schedulers] signal in
            if signal == SIGHUP {
                for (_, scheduler) in schedulers { scheduler.requestReload() }
                return .handled
            }
            guard !stopping.flag.exchange(true, ordering: .relaxed) else { return .exit }
            Task { await group.triggerGracefulShutdown() }
            return .handled
        }
        defer { TerminationSignals.setHandler(previous) }
        try await group.run()
    }
}

/// Set by the first SIGTERM/SIGINT.
private final class StopLatch: Sendable {
    let flag = Atomic<Bool>(false)
}
