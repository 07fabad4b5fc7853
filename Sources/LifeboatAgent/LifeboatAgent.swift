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

/// The agent daemon: scheduler + telemetry listener + signal handling.
///
/// ```swift
/// let agent = LifeboatAgent(configuration: agentConfig, jobs: RealAgentJobs(...),
///                           configurationLoader: { try loadAgentConfiguration(path) }, logger: logger)
/// try await agent.run()   // returns after SIGTERM/SIGINT once the running job finished or was cancelled
/// ```
public struct LifeboatAgent: Sendable {
    public let scheduler: AgentScheduler
    public let metrics: AgentMetrics
    public let status: AgentStatusBoard
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
        self.metrics = metrics
        self.status = status
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        scheduler = AgentScheduler(
            configuration: configuration, jobs: jobs, clock: clock, configurationLoader: configurationLoader,
            metrics: metrics, status: status, webhookTransport: webhookTransport, logger: logger)
    }

    /// Runs until SIGTERM or SIGINT (graceful: the running job gets the configured grace period, then is
    /// cancelled) and returns normally, so the process exits 0.
    ///
    /// - Throws: `AgentConfigurationError` for a configuration the agent cannot use, `TelemetryServerError` if
    ///   the listen address is taken.
    public func run() async throws {
        try configuration.validate()
        let server = try await TelemetryServer.bind(
            address: configuration.listen, routes: TelemetryRoutes(metrics: metrics, status: status, clock: clock),
            logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [
                // Shut down in reverse order: the scheduler first, the listener once the scheduler has returned.
                .init(service: server, serviceName: "telemetry"),
                .init(service: scheduler, serviceName: "scheduler"),
            ],
            logger: logger)
        let grace = configuration.shutdownGracePeriod
        groupConfiguration.maximumGracefulShutdownDuration = grace + .seconds(30)
        let group = ServiceGroup(configuration: groupConfiguration)
        // Signals (TerminationSignals, the process's one mechanism): SIGHUP reloads; the first SIGTERM or SIGINT
        // shuts down gracefully; a second one exits at once, removing the running job's temporary files.
        TerminationSignals.install()
        let stopping = StopLatch()
        let previous = TerminationSignals.setHandler { [scheduler] signal in
            if signal == SIGHUP {
                scheduler.requestReload()
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
