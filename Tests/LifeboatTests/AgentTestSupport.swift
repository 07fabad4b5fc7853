// Fakes and a harness for the agent tests: scripted jobs that record when they ran, gates that hold a job
// "running" while fake hours pass, a scheduler driven by the manual clock, and time-limited waits so that a
// broken scheduler fails a test instead of hanging it.

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

struct AgentTestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing with `AgentTestTimeout` if it takes longer than `seconds` of real time. `body` must
/// honour cancellation.
func withAgentTimeout<T: Sendable>(
    _ seconds: Double = 20, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return nil
        }
        let first = try await group.next()!
        group.cancelAll()
        guard let value = first else { throw AgentTestTimeout(what: what) }
        return value
    }
}

func agentDate(_ text: String) -> Date {
    (try? Date(text, strategy: .iso8601)) ?? Date(timeIntervalSince1970: 0)
}

/// Opened by the test; jobs wait on it. Waiting honours cancellation.
final class AgentTestGate: Sendable {
    private struct State {
        var open = false
        var waiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var nextID: UInt64 = 0
    }

    private let state = PThreadLocked(State())

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.open = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Now { case go, cancelled }
                let now = state.withLock { state -> Now? in
                    if Task.isCancelled { return .cancelled }
                    if state.open { return .go }
                    state.waiters[id] = continuation
                    return nil
                }
                switch now {
                case .go: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}

/// Scripted jobs that record every call with the (manual) clock's time.
final class FakeAgentJobs: AgentJobs {
    enum Step: Sendable {
        case succeed
        case fail(AgentFailureReason)
        case notLeader
        /// Wait for the gate, then succeed; on cancellation, record it and throw.
        case block(AgentTestGate)
    }

    struct BackupCall: Sendable, Equatable {
        var time: Date
        var destinations: [String]
    }

    struct Record: Sendable {
        var backups: [BackupCall] = []
        var retention: [(time: Date, destination: String)] = []
        var verifies: [Date] = []
        var drills: [Date] = []
        var cancelledBackups = 0
        var backupScript: [Step] = []
        var verifyScript: [Step] = []
        var drillScript: [Step] = []
        var successfulBackups = 0
    }

    let clock: any AgentClock
    private let state = PThreadLocked(Record())

    init(clock: any AgentClock, backups: [Step] = [], verifies: [Step] = [], drills: [Step] = []) {
        self.clock = clock
        state.withLock {
            $0.backupScript = backups
            $0.verifyScript = verifies
            $0.drillScript = drills
        }
    }

    var record: Record { state.withLock { $0 } }
    var backupTimes: [Date] { record.backups.map(\.time) }

    /// Adds steps for the next backups (after the scripted ones; unscripted backups succeed).
    func script(backups steps: [Step]) { state.withLock { $0.backupScript += steps } }

    func runBackup(destinations: [String]) async throws -> BackupOutcome {
        let now = clock.now()
        let step = state.withLock { state -> Step in
            state.backups.append(BackupCall(time: now, destinations: destinations))
            return state.backupScript.isEmpty ? .succeed : state.backupScript.removeFirst()
        }
        switch step {
        case .succeed:
            break
        case .fail(let reason):
            throw AgentJobError(reason, "fake \(reason.rawValue) failure")
        case .notLeader:
            return .notLeader(leader: "10.0.0.2:8200")
        case .block(let gate):
            do {
                try await gate.wait()
            } catch {
                state.withLock { $0.cancelledBackups += 1 }
                throw error
            }
        }
        state.withLock { $0.successfulBackups += 1 }
        return BackupOutcome(
            status: .stored, leader: "10.0.0.1:8200", originalBytes: 1_000, storedBytes: 600, destinations: destinations,
            backupID: "20250106T010000Z-abcdef")
    }

    func applyRetention(destination: String) async throws -> RetentionOutcome {
        let now = clock.now()
        let kept = state.withLock { state -> Int in
            state.retention.append((now, destination))
            return min(state.successfulBackups, 5)
        }
        return RetentionOutcome(kept: kept, removed: 0)
    }

    func runVerify(destinations: [String]) async throws -> VerifyOutcome {
        let now = clock.now()
        let step = state.withLock { state -> Step in
            state.verifies.append(now)
            return state.verifyScript.isEmpty ? .succeed : state.verifyScript.removeFirst()
        }
        if case .fail(let reason) = step { throw AgentJobError(reason, "fake verification failure") }
        return VerifyOutcome(backupsChecked: destinations.count, summary: "newest backup verified on \(destinations.count) destination(s)")
    }

    func runDrill() async throws -> DrillOutcome {
        let now = clock.now()
        let step = state.withLock { state -> Step in
            state.drills.append(now)
            return state.drillScript.isEmpty ? .succeed : state.drillScript.removeFirst()
        }
        if case .fail(let reason) = step { throw AgentJobError(reason, "fake drill failure") }
        return DrillOutcome(summary: "restored and unsealed", recoveryTime: .seconds(42))
    }
}

/// Records what the webhooks would have received.
final class RecordingWebhookTransport: WebhookTransport {
    private let bodies = PThreadLocked<[[UInt8]]>([])
    private let statuses: PThreadLocked<[Int]>

    init(statuses: [Int] = []) {
        self.statuses = PThreadLocked(statuses)
    }

    var received: [[UInt8]] { bodies.withLock { $0 } }

    func post(url: String, body: [UInt8], timeout: Duration) async throws -> Int {
        bodies.withLock { $0.append(body) }
        return statuses.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
    }
}

/// A scheduler under test, driven by a manual clock.
final class AgentHarness: Sendable {
    let clock: ManualAgentClock
    let jobs: FakeAgentJobs
    let scheduler: AgentScheduler
    let runTask: Task<Void, any Error>

    init(
        configuration: AgentConfiguration, start: Date, clock: ManualAgentClock? = nil, jobs: FakeAgentJobs? = nil,
        loader: AgentScheduler.ConfigurationLoader? = nil,
        transport: any WebhookTransport = RecordingWebhookTransport(),
        random: any RandomNumberGenerator & Sendable = SeededRandomNumberGenerator(seed: 1)
    ) {
        let clock = clock ?? ManualAgentClock(start: start)
        self.clock = clock
        self.jobs = jobs ?? FakeAgentJobs(clock: clock)
        var logger = Logger(label: "lifeboat.agent.test")
        logger.logLevel = .critical
        let scheduler = AgentScheduler(
            configuration: configuration, jobs: self.jobs, clock: clock, configurationLoader: loader,
            webhookTransport: transport, webhookSleep: { _ in }, random: random, hostName: "node-1", logger: logger)
        self.scheduler = scheduler
        runTask = Task { try await scheduler.run() }
    }

    var status: AgentStatusBoard { scheduler.status }

    /// Waits (at most 20 s of real time) until `predicate` holds.
    @discardableResult
    func wait(_ what: String, _ predicate: @escaping @Sendable (AgentStatus) -> Bool) async throws -> AgentStatus {
        let status = scheduler.status
        return try await withAgentTimeout(20, what) {
            let result = await status.waitUntil(predicate)
            guard predicate(result) else { throw AgentTestTimeout(what: what) }
            return result
        }
    }

    /// The next planned run of `job`, once the scheduler has published it.
    func nextRun(_ job: String) async throws -> Date {
        let status = try await wait("a next run for \(job)") { $0.schedulerRunning && $0.job(job)?.nextRun != nil }
        return status.job(job)!.nextRun!
    }

    /// The earliest next run of any job.
    func earliestNextRun() async throws -> Date {
        let status = try await wait("planned runs") { $0.schedulerRunning && !$0.jobs.isEmpty }
        return status.jobs.compactMap(\.nextRun).min()!
    }

    /// Asks for shutdown and waits for `run()` to return.
    func stop() async throws {
        scheduler.requestShutdown()
        let task = runTask
        try await withAgentTimeout(20, "the scheduler to stop") { try await task.value }
    }
}

extension AgentConfiguration {
    /// One destination `local` backed up by the group `local` on `schedule`.
    static func single(_ schedule: Schedule, statePath: String? = nil, healthMaxAge: Duration? = nil,
                       webhooks: [WebhookConfiguration] = []) -> AgentConfiguration {
        AgentConfiguration(
            destinations: ["local"], backupGroups: [.init(name: "local", schedule: schedule, destinations: ["local"])],
            statePath: statePath, healthMaxAge: healthMaxAge, webhooks: webhooks)
    }
}

/// A fresh temporary directory.
func agentTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lifeboat-agent-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
