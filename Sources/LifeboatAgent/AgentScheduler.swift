// The scheduling daemon: a ServiceLifecycle `Service` whose `run()` is an event loop. Timers, finished jobs,
// SIGHUP reloads and graceful shutdown arrive as events and are handled one at a time, so all scheduling state
// lives in one task; jobs run as child tasks. Decisions (what is due, what was missed, whether a tick overlaps a
// running backup, which notification to send) come from the pure functions in Schedule/ and AgentJob.swift.

import Foundation
import Logging
import ServiceLifecycle
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// Runs backups, retention, verification and drills on their schedules until graceful shutdown.
///
/// - One backup at a time: backup schedules due at the same moment share one run (one snapshot to the union of
///   their destinations); a tick that finds a backup still running is skipped and counted.
/// - After a successful backup, retention runs on every configured destination.
/// - At start-up, a run missed while the agent was down is taken once, at once.
/// - Graceful shutdown (SIGTERM/SIGINT through `ServiceGroup`, or `requestShutdown()`): no new runs; a running
///   job gets `shutdownGracePeriod` to finish, then its task is cancelled and awaited; `run()` returns normally.
/// - `requestReload()` (SIGHUP): the loader's new configuration replaces the old one if it validates; otherwise
///   the old one stays and the log says why.
///
/// `run()` may be called once per instance (its event stream is consumed by that call).
public final class AgentScheduler: Service, Sendable {
    /// Loads and returns a new configuration (for SIGHUP); throws with an operator-facing message if it is bad.
    public typealias ConfigurationLoader = @Sendable () async throws -> AgentConfiguration

    private enum Event: Sendable {
        case timer(generation: UInt64)
        case finished(JobReport)
        case reload
        case shutdown
        case graceExpired
    }

    private let initialConfiguration: AgentConfiguration
    private let jobs: any AgentJobs
    private let clock: any AgentClock
    private let loader: ConfigurationLoader?
    private let webhookTransport: any WebhookTransport
    private let webhookSleep: @Sendable (Duration) async throws -> Void
    private let hostName: String
    private let random: PThreadLocked<any RandomNumberGenerator & Sendable>
    private let logger: Logger
    private let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation

    /// The live status (read by the HTTP listener; tests wait on it).
    public let status: AgentStatusBoard
    /// The metrics (rendered by the HTTP listener).
    public let metrics: AgentMetrics

    /// - Parameters:
    ///   - configuration: the starting configuration; validated when `run()` starts.
    ///   - jobs: the work (real runner, or fakes in tests).
    ///   - clock: the time source (`SystemAgentClock` in production, `ManualAgentClock` in tests).
    ///   - configurationLoader: re-reads the configuration on `requestReload()`; nil ignores reload requests.
    ///   - metrics, status: shared with the HTTP listener.
    ///   - webhookTransport, webhookSleep: the webhook HTTP seam and its backoff sleeper.
    ///   - random: draws jitter (inject a `SeededRandomNumberGenerator` for reproducible tests).
    ///   - hostName: named in notifications.
    public init(
        configuration: AgentConfiguration,
        jobs: any AgentJobs,
        clock: any AgentClock = SystemAgentClock(),
        configurationLoader: ConfigurationLoader? = nil,
        metrics: AgentMetrics = AgentMetrics(),
        status: AgentStatusBoard = AgentStatusBoard(),
        webhookTransport: any WebhookTransport = HTTPClientWebhookTransport(),
        webhookSleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
        hostName: String = ProcessInfo.processInfo.hostName,
        logger: Logger = Logger(label: "lifeboat.agent")
    ) {
        initialConfiguration = configuration
        self.jobs = jobs
        self.clock = clock
        loader = configurationLoader
        self.metrics = metrics
        self.status = status
        self.webhookTransport = webhookTransport
        self.webhookSleep = webhookSleep
        self.random = PThreadLocked(random)
        self.hostName = hostName
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(of: Event.self)
    }

    /// Checks the starting configuration (as `run()` does first), so a fleet agent refuses a bad one before anything runs.
    public func validateConfiguration() throws(AgentConfigurationError) {
        try initialConfiguration.validate()
    }

    /// Asks the scheduler to reload its configuration (wire SIGHUP here).
    public func requestReload() {
        continuation.yield(.reload)
    }

    /// Asks the scheduler to stop as on SIGTERM (for use outside a `ServiceGroup`).
    public func requestShutdown() {
        continuation.yield(.shutdown)
    }

    // MARK: - The loop

    /// What one finished job reports back to the loop.
    private struct JobReport: Sendable {
        enum Result: Sendable {
            case backup(BackupOutcome, retention: [RetentionResult])
            case verify(VerifyOutcome)
            case drill(DrillOutcome)
            case failed(AgentFailureReason, String)
            case cancelled
        }

        struct RetentionResult: Sendable {
            var destination: String
            var outcome: RetentionOutcome?
            var problem: String?
        }

        var kind: String
        /// The jobs the run covered, each with the time recorded as its run (nominal slot or catch-up start).
        var runs: [AgentJob: Date]
        var started: Date
        var finished: Date
        var result: Result
    }

    /// Scheduling state owned by the loop.
    private struct LoopState {
        var configuration: AgentConfiguration
        var state: AgentState
        var plans: [AgentJob: PlannedRun] = [:]
        /// Catch-up runs to take at the first tick, with the time to record as their run.
        var catchUp: Set<AgentJob> = []
        /// Kinds with a run in flight, and the jobs that run covers.
        var inFlight: [String: [AgentJob]] = [:]
        var skipped: [String: Int] = [:]
        var timer: Task<Void, Never>?
        var timerGeneration: UInt64 = 0
        var graceTimer: Task<Void, Never>?
        var shuttingDown = false
        /// Notifications go through one queue so that a recovery never overtakes its failure.
        var notifications: AsyncStream<PendingNotification>.Continuation?
    }

    private struct PendingNotification: Sendable {
        var notification: AgentNotification
        var notifier: WebhookNotifier
    }

    public func run() async throws {
        do {
            try initialConfiguration.validate()
        } catch {
            logger.error("agent configuration rejected: \(error.message)")
            throw error
        }
        let start = clock.now()
        var loop = LoopState(configuration: initialConfiguration, state: loadState(initialConfiguration))
        status.update {
            $0.startedAt = start
            $0.schedulerRunning = true
            $0.shuttingDown = false
            $0.healthMaxAge = initialConfiguration.healthMaxAge
            $0.leader = loop.state.leader
        }
        defer {
            status.update {
                $0.schedulerRunning = false
                for index in $0.jobs.indices { $0.jobs[index].running = false }
            }
        }
        for group in initialConfiguration.backupGroups {
            if let success = loop.state.jobs[AgentJob.backup(group: group.name).name]?.lastSuccess {
                metrics.restoreLastSuccess(group: group.name, at: success)
            }
        }
        let continuation = self.continuation
        logger.info("agent started", metadata: [
            "jobs": "\(initialConfiguration.scheduledJobs.map(\.job.name).joined(separator: ","))",
            "version": "\(LifeboatVersion.current)",
        ])

        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                let (pending, notifications) = AsyncStream.makeStream(of: PendingNotification.self)
                loop.notifications = notifications
                group.addTask {
                    for await item in pending { await item.notifier.deliver(item.notification) }
                }
                planAll(&loop, now: start, keepUnchanged: nil)
                let missed = AgentPlanner.missedJobs(
                    configuration: loop.configuration, lastRuns: loop.state.jobs.compactMapValues(\.lastRun), now: start)
                for (job, slot) in missed {
                    logger.notice("run missed while the agent was down; taking it once now", metadata: [
                        "job": "\(job.name)", "missed_slot": "\(slot.formatted(.iso8601))",
                    ])
                    loop.catchUp.insert(job)
                }
                tick(&loop, group: &group)
                arm(&loop)

                for await event in events {
                    switch event {
                    case .timer(let generation):
                        guard generation == loop.timerGeneration, !loop.shuttingDown else { break }
                        tick(&loop, group: &group)
                        arm(&loop)
                    case .finished(let report):
                        finish(report, loop: &loop)
                    case .reload:
                        guard !loop.shuttingDown else { break }
                        await reload(&loop)
                        arm(&loop)
                    case .shutdown:
                        guard !loop.shuttingDown else { break }
                        beginShutdown(&loop, continuation: continuation)
                    case .graceExpired:
                        let running = loop.inFlight.values.flatMap { $0 }.map(\.name).sorted()
                        logger.warning("shutdown grace period over; cancelling the running job (nothing partial is kept)",
                                       metadata: ["jobs": "\(running.joined(separator: ","))"])
                        group.cancelAll()
                    }
                    if loop.shuttingDown && loop.inFlight.isEmpty { break }
                }
                loop.timer?.cancel()
                loop.graceTimer?.cancel()
                // Deliveries already queued still go out (each is bounded by its timeout and retries).
                notifications.finish()
                // Cancellation of run() itself ends the loop above; cancel the children then as well.
                if Task.isCancelled { group.cancelAll() }
            }
        } onGracefulShutdown: {
            continuation.yield(.shutdown)
        }
        logger.info("agent stopped")
    }

    // MARK: Planning

    private func loadState(_ configuration: AgentConfiguration) -> AgentState {
        guard let path = configuration.statePath else { return AgentState() }
        do {
            return try AgentStateFile(path: path).load()
        } catch {
            logger.error("starting without the saved agent state (missed runs cannot be detected this time)",
                         metadata: ["problem": "\(error.message)"])
            return AgentState()
        }
    }

    private func nextPlan(_ schedule: Schedule, after date: Date) -> PlannedRun? {
        random.withLock { generator in schedule.nextRun(after: date, using: &generator) }
    }

    /// Plans every job from `now`; with `keepUnchanged`, jobs whose schedule equals the old one keep their plan.
    private func planAll(_ loop: inout LoopState, now: Date, keepUnchanged old: AgentConfiguration?) {
        var plans: [AgentJob: PlannedRun] = [:]
        for (job, schedule) in loop.configuration.scheduledJobs {
            if let old, old.schedule(of: job) == schedule, let existing = loop.plans[job] {
                plans[job] = existing
            } else if let plan = nextPlan(schedule, after: now) {
                plans[job] = plan
            }
        }
        loop.plans = plans
        loop.catchUp = loop.catchUp.filter { plans[$0] != nil || loop.configuration.schedule(of: $0) != nil }
        publishPlans(loop)
    }

    private func publishPlans(_ loop: LoopState) {
        let scheduled = loop.configuration.scheduledJobs
        for (job, _) in scheduled { metrics.nextRun(job: job.name, at: loop.plans[job]?.startAt) }
        let running = Set(loop.inFlight.values.flatMap { $0 })
        status.update { status in
            status.jobs = scheduled.map { job, schedule in
                AgentStatus.Job(
                    name: job.name, kind: job.kind, schedule: schedule.description, nextRun: loop.plans[job]?.startAt,
                    running: running.contains(job), record: loop.state.jobs[job.name] ?? AgentState.JobRecord())
            }.sorted { $0.name < $1.name }
            status.ticksSkipped = loop.skipped
            status.leader = loop.state.leader
            status.healthMaxAge = loop.configuration.healthMaxAge
        }
    }

    private func arm(_ loop: inout LoopState) {
        loop.timer?.cancel()
        loop.timerGeneration &+= 1
        guard !loop.shuttingDown, let wake = AgentPlanner.nextWake(plans: loop.plans) else {
            loop.timer = nil
            return
        }
        let generation = loop.timerGeneration
        let clock = self.clock
        let continuation = self.continuation
        loop.timer = Task {
            do {
                try await clock.sleep(until: wake)
                continuation.yield(.timer(generation: generation))
            } catch {}
        }
    }

    // MARK: Ticks

    private func tick(_ loop: inout LoopState, group: inout TaskGroup<Void>) {
        let now = clock.now()
        var runTimes: [AgentJob: Date] = [:]
        for job in loop.catchUp { runTimes[job] = now }
        loop.catchUp = []
        for job in AgentPlanner.dueJobs(plans: loop.plans, now: now) {
            guard let plan = loop.plans[job], let schedule = loop.configuration.schedule(of: job) else { continue }
            runTimes[job] = plan.scheduled
            if let next = nextPlan(schedule, after: now) {
                loop.plans[job] = next
            } else {
                loop.plans.removeValue(forKey: job)
            }
        }
        guard !runTimes.isEmpty else { return }

        for kind in ["backup", "verify", "drill"] {
            let due = runTimes.filter { $0.key.kind == kind }
            guard !due.isEmpty else { continue }
            let decision = TickDecision.decide(backupInFlight: loop.inFlight[kind] != nil, skippedSoFar: loop.skipped[kind] ?? 0)
            switch decision {
            case .skipStillRunning(let total):
                loop.skipped[kind] = total
                metrics.tickSkipped(kind: kind)
                logger.warning("skipping a scheduled run: the previous \(kind) is still running", metadata: [
                    "jobs": "\(due.keys.sorted().map(\.name).joined(separator: ","))", "skipped_total": "\(total)",
                ])
            case .start:
                start(kind: kind, runs: due, loop: &loop, group: &group)
            }
        }
        publishPlans(loop)
    }

    private func start(kind: String, runs: [AgentJob: Date], loop: inout LoopState, group: inout TaskGroup<Void>) {
        loop.inFlight[kind] = runs.keys.sorted()
        let configuration = loop.configuration
        let jobs = self.jobs
        let clock = self.clock
        let logger = self.logger
        let continuation = self.continuation
        let started = clock.now()
        let groups = runs.keys.compactMap { job -> String? in
            if case .backup(let group) = job { return group }
            return nil
        }.sorted()
        logger.info("\(kind) started", metadata: ["jobs": "\(runs.keys.sorted().map(\.name).joined(separator: ","))"])
        group.addTask {
            let result: JobReport.Result
            do {
                switch kind {
                case "backup":
                    let destinations = configuration.destinations(forBackupGroups: groups)
                    let outcome = try await jobs.runBackup(destinations: destinations)
                    var retention: [JobReport.RetentionResult] = []
                    if outcome.status == .stored {
                        for destination in configuration.destinations {
                            if Task.isCancelled { break }
                            do {
                                let kept = try await jobs.applyRetention(destination: destination)
                                retention.append(.init(destination: destination, outcome: kept, problem: nil))
                            } catch {
                                retention.append(.init(destination: destination, outcome: nil, problem: "\(error)"))
                            }
                        }
                    }
                    result = .backup(outcome, retention: retention)
                case "verify":
                    result = .verify(try await jobs.runVerify(destinations: configuration.verifyDestinations))
                default:
                    result = .drill(try await jobs.runDrill())
                }
            } catch {
                if error is CancellationError || Task.isCancelled {
                    result = .cancelled
                } else {
                    result = .failed(AgentFailureReason.classify(error), "\(error)")
                }
            }
            continuation.yield(.finished(JobReport(
                kind: kind, runs: runs, started: started, finished: clock.now(), result: result)))
        }
    }

    // MARK: Results

    private func finish(_ report: JobReport, loop: inout LoopState) {
        loop.inFlight.removeValue(forKey: report.kind)
        let duration = Duration.milliseconds(Int64((report.finished.timeIntervalSince(report.started) * 1000).rounded()))
        let groups = report.runs.keys.compactMap { job -> String? in
            if case .backup(let group) = job { return group }
            return nil
        }.sorted()
        let previousFailures = report.runs.keys.sorted().map { loop.state.jobs[$0.name]?.consecutiveFailures ?? 0 }
        let names = report.runs.keys.sorted().map(\.name).joined(separator: ",")

        func record(_ result: AgentJobResult, reason: AgentFailureReason? = nil, message: String) {
            for (job, runTime) in report.runs {
                var entry = loop.state.jobs[job.name] ?? AgentState.JobRecord()
                entry.lastRun = runTime
                entry.lastFinished = report.finished
                entry.lastResult = result
                entry.lastMessage = message
                switch result {
                case .success:
                    entry.lastSuccess = report.finished
                    entry.lastFailureReason = nil
                    entry.consecutiveFailures = 0
                case .failure:
                    entry.lastFailureReason = reason
                    entry.consecutiveFailures += 1
                case .skippedNotLeader:
                    entry.lastFailureReason = nil
                    entry.consecutiveFailures = 0
                }
                loop.state.jobs[job.name] = entry
            }
        }

        var notification: (succeeded: Bool, reason: AgentFailureReason?, message: String)?
        switch report.result {
        case .cancelled:
            logger.warning("\(report.kind) cancelled by shutdown; it will be taken again at the next start",
                           metadata: ["jobs": "\(names)"])
            publishPlans(loop)
            return
        case .backup(let outcome, let retention):
            if let leader = outcome.leader {
                loop.state.leader = AgentState.LeaderSighting(address: leader, seenAt: report.finished)
            }
            metrics.backupSucceeded(groups: groups, at: report.finished, duration: duration, outcome: outcome)
            if outcome.status == .skippedNotLeader {
                record(.skippedNotLeader, message: "not the leader; the leader's agent takes the backup")
                logger.info("backup skipped: this node is not the leader", metadata: ["jobs": "\(names)"])
            } else {
                let message = "stored \(outcome.storedBytes) bytes (snapshot \(outcome.originalBytes) bytes) on "
                    + outcome.destinations.joined(separator: ", ")
                record(.success, message: message)
                logger.info("backup stored", metadata: [
                    "jobs": "\(names)", "destinations": "\(outcome.destinations.joined(separator: ","))",
                    "snapshot_bytes": "\(outcome.originalBytes)", "stored_bytes": "\(outcome.storedBytes)",
                    "duration_seconds": "\(AgentMetrics.seconds(duration))",
                ])
                for warning in outcome.warnings {
                    logger.warning("\(warning)", metadata: ["jobs": "\(names)"])
                }
                notification = (true, nil, message)
                var stored: [String: Int] = [:]
                for item in retention {
                    if let kept = item.outcome {
                        metrics.retentionApplied(destination: item.destination, kept: kept.kept)
                        stored[item.destination] = kept.kept
                        if kept.removed > 0 {
                            logger.info("retention removed old backups", metadata: [
                                "destination": "\(item.destination)", "removed": "\(kept.removed)", "kept": "\(kept.kept)",
                            ])
                        }
                    } else {
                        metrics.retentionFailed(destination: item.destination)
                        logger.error("retention failed; the new backup is kept and nothing was removed there",
                                     metadata: ["destination": "\(item.destination)", "problem": "\(item.problem ?? "")"])
                    }
                }
                status.update { $0.backupsStored.merge(stored) { _, new in new } }
            }
        case .verify(let outcome):
            metrics.verifyFinished(passed: true, at: report.finished)
            record(.success, message: outcome.summary)
            logger.info("verification passed", metadata: ["checked": "\(outcome.backupsChecked)", "summary": "\(outcome.summary)"])
            notification = (true, nil, outcome.summary)
        case .drill(let outcome):
            metrics.drillFinished(passed: true, at: report.finished)
            record(.success, message: outcome.summary)
            logger.info("drill passed", metadata: ["summary": "\(outcome.summary)"])
            notification = (true, nil, outcome.summary)
        case .failed(let reason, let message):
            switch report.kind {
            case "backup": metrics.backupFailed(groups: groups, at: report.finished, duration: duration, reason: reason)
            case "verify": metrics.verifyFinished(passed: false, at: report.finished)
            default: metrics.drillFinished(passed: false, at: report.finished)
            }
            record(.failure, reason: reason, message: message)
            logger.error("\(report.kind) failed", metadata: ["jobs": "\(names)", "reason": "\(reason.rawValue)", "problem": "\(message)"])
            notification = (false, reason, message)
        }
        if report.kind == "backup" {
            status.update { $0.backupRunsFinished += 1 }
        }
        saveState(loop)
        publishPlans(loop)

        if let notification, !loop.configuration.webhooks.isEmpty {
            let anyWantsSuccess = loop.configuration.webhooks.contains(where: \.notifyOnSuccess)
            if let event = AgentNotification.decide(
                succeeded: notification.succeeded, previousFailures: previousFailures, notifyOnSuccess: anyWantsSuccess)
            {
                let message = AgentNotification(
                    event: event, job: report.kind, groups: groups, reason: notification.reason,
                    message: notification.message, timestamp: report.finished, host: hostName, cluster: metrics.cluster)
                let metrics = self.metrics
                let notifier = WebhookNotifier(
                    webhooks: loop.configuration.webhooks, transport: webhookTransport, sleep: webhookSleep,
                    logger: logger, onFailure: { metrics.webhookFailed() })
                loop.notifications?.yield(PendingNotification(notification: message, notifier: notifier))
            }
        }
    }

    private func saveState(_ loop: LoopState) {
        guard let path = loop.configuration.statePath else { return }
        do {
            try AgentStateFile(path: path).save(loop.state)
        } catch {
            logger.error("cannot save the agent state; missed-run detection after a restart may be wrong",
                         metadata: ["problem": "\(error.message)"])
        }
    }

    // MARK: Reload and shutdown

    private func reload(_ loop: inout LoopState) async {
        guard let loader else {
            logger.notice("reload requested, but this agent has no configuration loader; ignored")
            return
        }
        let candidate: AgentConfiguration
        do {
            candidate = try await loader()
            try candidate.validate()
        } catch {
            metrics.configReloaded(success: false)
            logger.error("configuration reload rejected; keeping the running configuration", metadata: [
                "problem": "\(error)",
            ])
            return
        }
        let old = loop.configuration
        if candidate.listen != old.listen || candidate.statePath != old.statePath {
            logger.warning("the listen address and the state path change only at the next start")
        }
        var applied = candidate
        applied.listen = old.listen
        applied.statePath = old.statePath
        loop.configuration = applied
        planAll(&loop, now: clock.now(), keepUnchanged: old)
        metrics.configReloaded(success: true)
        logger.notice("configuration reloaded", metadata: [
            "jobs": "\(applied.scheduledJobs.map(\.job.name).joined(separator: ","))",
        ])
    }

    private func beginShutdown(_ loop: inout LoopState, continuation: AsyncStream<Event>.Continuation) {
        loop.shuttingDown = true
        loop.timer?.cancel()
        loop.timer = nil
        loop.timerGeneration &+= 1
        status.update { $0.shuttingDown = true }
        guard !loop.inFlight.isEmpty else {
            logger.info("shutting down: nothing running")
            return
        }
        let grace = loop.configuration.shutdownGracePeriod
        let running = loop.inFlight.values.flatMap { $0 }.map(\.name).sorted()
        logger.notice("shutting down: waiting for the running job to finish", metadata: [
            "jobs": "\(running.joined(separator: ","))", "grace": "\(Schedule.format(grace))",
        ])
        let deadline = clock.now().addingTimeInterval(AgentMetrics.seconds(grace))
        let clock = self.clock
        loop.graceTimer = Task {
            do {
                try await clock.sleep(until: deadline)
                continuation.yield(.graceExpired)
            } catch {}
        }
    }
}
