// The agent's live picture of itself, shared by the scheduler (which writes it) and the HTTP listener (which
// reads it for /healthz and /status). Health is a pure function of this picture and the time.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// A snapshot of the agent: jobs, their last results and next runs, the leader last seen.
public struct AgentStatus: Sendable, Equatable {
    /// One scheduled job.
    public struct Job: Sendable, Equatable {
        /// `backup:<group>`, `verify` or `drill`.
        public var name: String
        /// `backup`, `verify` or `drill`.
        public var kind: String
        /// The schedule as text (`every 1h`, `cron "0 3 * * *" in Europe/Berlin`).
        public var schedule: String
        public var nextRun: Date?
        public var running: Bool
        public var record: AgentState.JobRecord

        public init(name: String, kind: String, schedule: String, nextRun: Date?, running: Bool, record: AgentState.JobRecord) {
            self.name = name
            self.kind = kind
            self.schedule = schedule
            self.nextRun = nextRun
            self.running = running
            self.record = record
        }
    }

    public var version: String = LifeboatVersion.current
    public var startedAt: Date?
    /// True from the scheduler's start until its `run()` returns.
    public var schedulerRunning = false
    public var shuttingDown = false
    /// Jobs, sorted by name.
    public var jobs: [Job] = []
    /// Backups kept per destination after the last retention pass.
    public var backupsStored: [String: Int] = [:]
    public var leader: AgentState.LeaderSighting?
    /// Ticks skipped because a run of the same kind was still going, per kind.
    public var ticksSkipped: [String: Int] = [:]
    /// Backup runs finished (any result) since start.
    public var backupRunsFinished = 0
    /// /healthz threshold.
    public var healthMaxAge: Duration?

    public init() {}

    /// The job named `name`.
    public func job(_ name: String) -> Job? { jobs.first { $0.name == name } }
}

/// The answer of /healthz.
public struct HealthVerdict: Sendable, Equatable {
    public var healthy: Bool
    /// One line: why.
    public var reason: String
}

extension AgentStatus {
    /// The newest moment the backups were known to be fine: a successful backup, or a run that found this node
    /// is not the leader (another node's agent is responsible then).
    public var lastGoodBackup: Date? {
        jobs.filter { $0.kind == "backup" }.compactMap { job -> Date? in
            let record = job.record
            let notLeader = record.lastResult == .skippedNotLeader ? record.lastFinished : nil
            return [record.lastSuccess, notLeader].compactMap { $0 }.max()
        }.max()
    }

    /// /healthz: healthy while the scheduler runs and, if a maximum age is configured, the last good backup (or,
    /// before the first one, the agent's start) is at most that old. The reason names the last good backup's age
    /// (`scheduler running, last good backup 12m ago`) or says there is none yet.
    public func health(now: Date) -> HealthVerdict {
        guard schedulerRunning else { return HealthVerdict(healthy: false, reason: "the scheduler is not running") }
        func ago(_ date: Date) -> String { Schedule.format(.seconds(Int64(max(now.timeIntervalSince(date), 0).rounded(.down)))) }
        let running = "scheduler running, " + (lastGoodBackup.map { "last good backup \(ago($0)) ago" } ?? "no good backup yet")
        guard let maxAge = healthMaxAge, let reference = lastGoodBackup ?? startedAt else {
            return HealthVerdict(healthy: true, reason: running)
        }
        let limit = TimeInterval(maxAge.components.seconds)
        let age = now.timeIntervalSince(reference)
        let ageText = ago(reference)
        if age > limit {
            let what = lastGoodBackup == nil ? "no successful backup since the agent started" : "last successful backup"
            return HealthVerdict(
                healthy: false, reason: "\(what) \(ageText) ago, older than the maximum age \(Schedule.format(maxAge))")
        }
        return HealthVerdict(healthy: true, reason: running)
    }

    /// The /status document as JSON.
    public func statusJSON(now: Date) -> [UInt8] {
        Self.encode(document(now: now))
    }

    /// /healthz and /status of a fleet agent: healthy when every cluster is; /status holds each cluster's document
    /// under `clusters`, keyed by name.
    public static func fleetHealth(_ clusters: [(name: String, status: AgentStatus)], now: Date) -> HealthVerdict {
        let verdicts = clusters.map { ($0.name, $0.status.health(now: now)) }
        let unhealthy = verdicts.filter { !$0.1.healthy }
        let shown = unhealthy.isEmpty ? verdicts : unhealthy
        return HealthVerdict(healthy: unhealthy.isEmpty, reason: shown.map { "cluster \($0.0): \($0.1.reason)" }.joined(separator: "; "))
    }

    /// The /status document of a fleet agent as JSON.
    public static func fleetStatusJSON(_ clusters: [(name: String, status: AgentStatus)], now: Date) -> [UInt8] {
        let verdict = fleetHealth(clusters, now: now)
        return encode(FleetStatusDocument(
            version: LifeboatVersion.current, now: now, healthy: verdict.healthy, health: verdict.reason,
            clusters: Dictionary(clusters.map { ($0.name, $0.status.document(now: now)) }, uniquingKeysWith: { first, _ in first })))
    }

    private static func encode(_ document: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return Array((try? encoder.encode(document)) ?? Data("{}".utf8)) + [0x0A]
    }

    fileprivate func document(now: Date) -> StatusDocument {
        let verdict = health(now: now)
        return StatusDocument(
            version: version,
            now: now,
            startedAt: startedAt,
            scheduler: schedulerRunning ? (shuttingDown ? "stopping" : "running") : "stopped",
            healthy: verdict.healthy,
            health: verdict.reason,
            leader: leader.map { StatusDocument.Leader(address: $0.address, seenAt: $0.seenAt) },
            jobs: jobs.map {
                StatusDocument.Job(
                    job: $0.name, kind: $0.kind, schedule: $0.schedule, running: $0.running, nextRun: $0.nextRun,
                    lastRun: $0.record.lastRun, lastFinished: $0.record.lastFinished, lastSuccess: $0.record.lastSuccess,
                    lastResult: $0.record.lastResult?.rawValue, lastFailureReason: $0.record.lastFailureReason?.rawValue,
                    lastMessage: $0.record.lastMessage, consecutiveFailures: $0.record.consecutiveFailures)
            },
            destinations: backupsStored.sorted { $0.key < $1.key }.map { StatusDocument.Destination(name: $0.key, backupsStored: $0.value) },
            ticksSkipped: ticksSkipped)
    }
}

private struct FleetStatusDocument: Encodable {
    var version: String
    var now: Date
    var healthy: Bool
    var health: String
    var clusters: [String: StatusDocument]
}

private struct StatusDocument: Encodable {
    struct Leader: Encodable {
        var address: String
        var seenAt: Date
    }

    struct Job: Encodable {
        var job: String
        var kind: String
        var schedule: String
        var running: Bool
        var nextRun: Date?
        var lastRun: Date?
        var lastFinished: Date?
        var lastSuccess: Date?
        var lastResult: String?
        var lastFailureReason: String?
        var lastMessage: String?
        var consecutiveFailures: Int
    }

    struct Destination: Encodable {
        var name: String
        var backupsStored: Int
    }

    var version: String
    var now: Date
    var startedAt: Date?
    var scheduler: String
    var healthy: Bool
    var health: String
    var leader: Leader?
    var jobs: [Job]
    var destinations: [Destination]
    var ticksSkipped: [String: Int]
}

/// The shared, thread-safe holder of the agent's status. Tests can wait for a condition on it.
public final class AgentStatusBoard: Sendable {
    private struct Waiter {
        var predicate: @Sendable (AgentStatus) -> Bool
        var continuation: CheckedContinuation<AgentStatus, Never>
    }

    private struct Box {
        var status = AgentStatus()
        var waiters: [UInt64: Waiter] = [:]
        var nextID: UInt64 = 0
    }

    private let box = PThreadLocked(Box())

    public init() {}

    /// The current status.
    public var current: AgentStatus { box.withLock { $0.status } }

    /// Changes the status and wakes waiters whose condition now holds.
    public func update(_ body: (inout AgentStatus) -> Void) {
        let ready = box.withLock { box -> [(CheckedContinuation<AgentStatus, Never>, AgentStatus)] in
            body(&box.status)
            let status = box.status
            let matched = box.waiters.filter { $0.value.predicate(status) }
            for key in matched.keys { box.waiters.removeValue(forKey: key) }
            return matched.values.map { ($0.continuation, status) }
        }
        for (continuation, status) in ready { continuation.resume(returning: status) }
    }

    /// Returns the first status (the current one or a later one) for which `predicate` holds. If the calling
    /// task is cancelled first, returns the status at that moment (check the predicate again if it matters).
    @discardableResult
    public func waitUntil(_ predicate: @escaping @Sendable (AgentStatus) -> Bool) async -> AgentStatus {
        let id = box.withLock { box -> UInt64 in
            box.nextID += 1
            return box.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<AgentStatus, Never>) in
                let immediate = box.withLock { box -> AgentStatus? in
                    if predicate(box.status) || Task.isCancelled { return box.status }
                    box.waiters[id] = Waiter(predicate: predicate, continuation: continuation)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let (waiter, status) = box.withLock { ($0.waiters.removeValue(forKey: id), $0.status) }
            waiter?.continuation.resume(returning: status)
        }
    }
}
