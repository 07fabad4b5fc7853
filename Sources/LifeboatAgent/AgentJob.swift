// The jobs the agent schedules and how they are planned: one backup job per backup schedule (group), plus
// verification and drills. Planning is pure: which jobs are due at a given time, which runs were missed while
// the agent was down, and the next run of each job.

import Foundation
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// A scheduled job.
public enum AgentJob: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Backups of one backup schedule (group).
    case backup(group: String)
    case verify
    case drill

    /// The job's name in /status, logs, the state file and the `job` label: `backup:<group>`, `verify`, `drill`.
    public var name: String {
        switch self {
        case .backup(let group): "backup:\(group)"
        case .verify: "verify"
        case .drill: "drill"
        }
    }

    /// The kind: `backup`, `verify` or `drill`. Only one run of each kind is in flight at a time.
    public var kind: String {
        switch self {
        case .backup: "backup"
        case .verify: "verify"
        case .drill: "drill"
        }
    }

    public var description: String { name }

    public static func < (lhs: AgentJob, rhs: AgentJob) -> Bool { lhs.name < rhs.name }
}

extension AgentConfiguration {
    /// Every scheduled job with its schedule.
    public var scheduledJobs: [(job: AgentJob, schedule: Schedule)] {
        var jobs = backupGroups.map { (job: AgentJob.backup(group: $0.name), schedule: $0.schedule) }
        if let verify { jobs.append((.verify, verify.schedule)) }
        if let drill { jobs.append((.drill, drill)) }
        return jobs
    }

    /// The schedule of `job`, if it is configured.
    public func schedule(of job: AgentJob) -> Schedule? {
        scheduledJobs.first { $0.job == job }?.schedule
    }

    /// The destinations a backup covering `groups` writes to: their union, in configuration order.
    public func destinations(forBackupGroups groups: [String]) -> [String] {
        let wanted = Set(backupGroups.filter { groups.contains($0.name) }.flatMap(\.destinations))
        return destinations.filter { wanted.contains($0) }
    }
}

/// The pure part of the scheduler: start-up catch-up and due-job selection.
public enum AgentPlanner {
    /// The jobs whose run was missed while the agent was down (one catch-up each, whatever the number of missed
    /// slots), given the last recorded runs.
    public static func missedJobs(
        configuration: AgentConfiguration, lastRuns: [String: Date], now: Date
    ) -> [(job: AgentJob, missedSlot: Date)] {
        configuration.scheduledJobs.compactMap { entry in
            missedRun(lastRun: lastRuns[entry.job.name], schedule: entry.schedule, now: now).map { (entry.job, $0) }
        }
    }

    /// The jobs due at `now`: planned runs whose start (nominal time plus jitter) has come.
    public static func dueJobs(plans: [AgentJob: PlannedRun], now: Date) -> [AgentJob] {
        plans.filter { $0.value.startAt <= now }.map(\.key).sorted()
    }

    /// When the scheduler must next wake: the earliest planned start.
    public static func nextWake(plans: [AgentJob: PlannedRun]) -> Date? {
        plans.values.map(\.startAt).min()
    }
}
